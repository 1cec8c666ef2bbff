r"""The linearization of a :class:`~skhypergrad.fixed_point.ProxGradMap` at one point:
its four products with the conservative Jacobians :math:`A = \partial_w \Phi` and
:math:`B = \partial_\lambda \Phi` sharing the forward step, the prox's mask and the
predictions, and the Hessian's restrictions to column subsets the engines solve on
(from a least-squares design's cached Gram matrix when it has one,
:mod:`skhypergrad._hessian_blocks`).
"""

import math

import numpy as np

from ._design import cached_gram
from ._fixed_point_map import Linearization
from ._hessian_blocks import (gram_gradient, gram_subset, least_squares_rows_gram,
                              softmax_hessian_subset)

#: float64 machine epsilon
_EPS = float(np.finfo(np.float64).eps)


def linearize(pgmap, w, lam, at_solution=False):
    """:meth:`ProxGradMap.linearize <skhypergrad.fixed_point.ProxGradMap.linearize>` of
    ``pgmap`` at ``(w, lam)``: a :class:`~skhypergrad.fixed_point.Linearization`."""
    design, datafit, y, g = pgmap.design, pgmap.datafit_at(lam), pgmap.y, pgmap.step
    lam_pen = pgmap.split(lam)[0]
    columns = {}  # the designs of column subsets, built once per subset

    def take_columns(idx):
        key = idx.tobytes()
        if key not in columns:
            columns[key] = design.take_columns(idx)
        return columns[key]

    def least_squares_gram():
        """The solver's cached Gram matrix of a least-squares design, or None."""
        return cached_gram(design) if datafit.least_squares else None

    block = not pgmap.penalty.diagonal_jacobian
    if at_solution and design.n_outputs == 1 and not block:
        k = design.n_coefs
        support = w[:k].nonzero()[0]
        w_s = w[support]
        # the mask is 1 on S (|z_j| = |w_j| (1 + g l2_j) + g l1_j > g l1_j) and 0 off S
        diag = np.zeros(w.shape)
        diag[support] = pgmap.penalty.prox_jac_on_support(g, lam_pen, support,
                                                          *pgmap._coef_args())
        diag[k:] = 1.0

        def z_of():  # read by value and jvp_lam only, which AID does not call
            z = np.zeros(w.shape)
            z[support] = w_s + g * pgmap.penalty.gradient_on_support(
                w_s, support, lam_pen, *pgmap._coef_args())
            z[k:] = w[k:]
            return z

        def prox_vjp_lam(u):  # D = 1, sign(z) = sign(w) and prox(z) = w on the support
            return pgmap._with_theta_zeros(pgmap.penalty.prox_vjp_lam_on_support(
                w_s, support, g, lam_pen, u[support], *pgmap._coef_args()))
        predictions = []  # Xw + b, from the columns S, once

        def zpred_of():
            if not predictions:
                params = np.concatenate([support, np.arange(k, design.n_params)])
                predictions.append(take_columns(params).matvec(w[params]))
            return predictions[0]

        def rounding():
            zp = zpred_of()
            raw = datafit.raw_grad(y, zp)
            return step_rounding(pgmap, w, zp, raw, _norm(design.rmatvec(raw)))
    else:
        grad = gram_gradient(design, datafit, y, w) if block else None
        if grad is None:
            zpred = design.matvec(w)
            raw = datafit.raw_grad(y, zpred)
            grad = design.rmatvec(raw)
        else:  # least squares: the predictions are never read (constant Hessian)
            zpred = raw = None
        z = w - g * grad
        grad_norm = _norm(grad)
        del grad
        if block:
            jacobian, diag = pgmap.prox_jacobian(z, lam), None
        else:
            diag = pgmap.prox_jac_diag(z, lam)

        def z_of():
            return z

        def prox_vjp_lam(u):
            return pgmap.prox_vjp_lam(z, lam, u)

        def zpred_of():
            return zpred

        def rounding():
            zp = design.matvec(w) if zpred is None else zpred
            return step_rounding(pgmap, w, zp, datafit.raw_grad(y, zp) if raw is None
                                 else raw, grad_norm)
    if block:  # Delta as its blocks (it is not diagonal)
        apply_jac = jacobian.apply
        any_active = jacobian.idx.shape[0] > 0
    else:
        def apply_jac(x):
            return diag * x
        any_active = bool((diag != 0.0).any())
    n_theta = pgmap.n_datafit_hyper

    def vjp_lam(u):  # the prox's block, then the datafit's through the forward step
        out = prox_vjp_lam(u)
        if n_theta:
            out[out.shape[0] - n_theta:] = -g * datafit.raw_grad_vjp_param(
                y, zpred_of(), design.matvec(apply_jac(u)))
        return out

    def jvp_lam(e):
        out = pgmap.prox_jvp_lam(z_of(), lam, e)
        if n_theta:
            out = out + apply_jac(pgmap._forward_step_jvp_theta(datafit, zpred_of(),
                                                                pgmap.split(e)[1]))
        return out

    constant_hessian = datafit.constant_hessian
    raw_hessp = []  # raw_hessp_at the predictions, made at the first product

    def hessian_weights_at(dz):
        """``raw_hessp`` at the predictions (not computed when ``H`` is constant)."""
        if not raw_hessp:
            raw_hessp.append(datafit.raw_hessp_at(
                y, None if constant_hessian else zpred_of()))
        return raw_hessp[0](dz)

    def hessp(v):
        return design.rmatvec(hessian_weights_at(design.matvec(v)))

    def jvp_w(v):
        return apply_jac(v - g * hessp(v))

    def vjp_w(u):
        du = apply_jac(u)
        if not any_active:
            return du
        return du - g * hessp(du)

    def hessp_subset(idx):
        if design.n_outputs != 1:
            G_s = least_squares_rows_gram(design, datafit, np.asarray(idx))
            if G_s is not None:  # H_SS = G_SS kron I: |S|^2 / K per product
                K = design.n_outputs
                return lambda u: (G_s @ u.reshape(-1, K)).ravel()
            return None
        gram = least_squares_gram()
        if gram is not None:  # |S|^2 per product instead of 2 n |S|
            return gram_subset(*gram, np.asarray(idx), design.n_features).__matmul__
        sub = take_columns(idx)
        if constant_hessian:
            return lambda u: sub.rmatvec(hessian_weights_at(sub.matvec(u)))
        # one output: the curvatures are a diagonal (as hessian_subset reads them), and
        # each product reads the rows once for both of its halves
        weights = hessian_weights_at(np.ones(design.n_samples))
        return lambda u: sub.weighted_gram_matvec(weights, u)

    def hessian_subset(idx):
        if design.n_outputs != 1:
            if datafit.newton_model == "softmax":
                return softmax_hessian_subset(design, zpred_of(),
                                               datafit.sample_weight, np.asarray(idx))
            G_s = least_squares_rows_gram(design, datafit, np.asarray(idx))
            return None if G_s is None else np.kron(G_s, np.eye(design.n_outputs))
        gram = least_squares_gram()
        if gram is not None:  # least squares: [X, 1]^T [X, 1] / n from the solver's Gram
            return gram_subset(*gram, np.asarray(idx), design.n_features)
        # a number when the Hessian is constant (least squares: 1 / n)
        weights = hessian_weights_at(1.0 if constant_hessian
                                     else np.ones(design.n_samples))
        return take_columns(idx).weighted_gram(weights)

    def hessian_factor(idx):
        if design.n_outputs == 1:
            return None
        return least_squares_rows_gram(design, datafit, np.asarray(idx))

    return Linearization(
        value=lambda: pgmap.prox(z_of(), lam),
        jvp_w=jvp_w,
        vjp_w=vjp_w,
        jvp_lam=jvp_lam,
        vjp_lam=vjp_lam,
        jac_diag=diag,
        step=g,
        hessp_subset=hessp_subset,
        hessian_subset=hessian_subset,
        hessian_factor=hessian_factor,
        jacobian=jacobian if block else None,
        rounding=rounding,
    )


def step_rounding(pgmap, w, zpred, raw, grad_norm):
    r"""The rounding error of :math:`\Phi(w) = T(w - g\nabla F(w))`, in the norm of ``w``.

    The gradient :math:`\nabla F(w) = [X, 1]^T r` sums the derivatives
    :math:`r_i = \ell'(y_i, z_i) / n` at the predictions ``zpred``; each is no more
    accurate than :math:`e_i = u\,(|r_i| + c\,|z_i| / n)` (its own rounding, and an ulp
    of :math:`z_i` through the curvature ``c`` of the map), ``u`` the float64 machine
    epsilon. With errors of that size and no sign pattern, the gradient is at
    :math:`\|[X, 1]\|_F \|e\| / \sqrt n`, so that

    .. math::

        \rho = u\,(\|w\| + g\,\|\nabla F(w)\|)
        + g\,\|[X, 1]\|_F\, u\,(\|r\| + c\,\|z\| / n) / \sqrt n .

    It stands for the gradient's cancellations (an intercept at a zero solution is
    the mean of derivatives that cancel, read to the rounding of each), which
    :math:`u\,g\,\|\nabla F(w)\|` would miss; the prox adds at most one ulp.
    """
    n = pgmap.design.n_samples
    g = pgmap.step
    spread = _norm(raw) + pgmap.curvature * _norm(zpred) / n
    return _EPS * (_norm(w) + g * grad_norm
                   + g * pgmap.design.frobenius_norm() * spread / math.sqrt(n))


def _norm(x):
    """Euclidean norm of a float array of any shape, as a float."""
    x = x.ravel()
    return math.sqrt(float(x @ x))
