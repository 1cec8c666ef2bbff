"""Matrix-free linear solvers: solutions against dense solves, iteration counts, warm
starts, the shared signature and its edge cases."""

import numpy as np
import pytest

from skhypergrad.linalg import solve_cg, solve_fixed_point, solve_gmres

SOLVERS = [solve_cg, solve_fixed_point, solve_gmres]


def _spd(n=30, cond=100.0, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (Q * np.geomspace(1.0, cond, n)) @ Q.T, rng.standard_normal(n)


def _contraction(n=30, rho=0.8, seed=0):
    """A nonsymmetric matrix of spectral norm ``rho`` and a right-hand side."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    return rho * M / np.linalg.norm(M, 2), rng.standard_normal(n)


def _system(solver):
    """``(matvec, b, x_star)`` for the equation each solver solves."""
    if solver is solve_cg:
        M, b = _spd()
        return M.__matmul__, b, np.linalg.solve(M, b)
    M, b = _contraction()
    if solver is solve_fixed_point:  # x = M x + b
        return M.__matmul__, b, np.linalg.solve(np.eye(len(b)) - M, b)
    K = np.eye(len(b)) - M  # nonsymmetric, nonsingular
    return K.__matmul__, b, np.linalg.solve(K, b)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_solution_matches_dense_solve(solver):
    matvec, b, x_star = _system(solver)
    x, n_iter, residual = solver(matvec, b, tol=1e-12, max_iter=5000)
    np.testing.assert_allclose(x, x_star, rtol=1e-9, atol=1e-10)
    assert residual <= 1e-12
    assert 0 < n_iter < 5000


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_warm_start_at_solution_stops_at_once(solver):
    matvec, b, x_star = _system(solver)
    x, n_iter, residual = solver(matvec, b, x0=x_star, tol=1e-8)
    assert n_iter <= 2
    np.testing.assert_allclose(x, x_star, rtol=1e-9)


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: s.__name__)
def test_zero_right_hand_side_and_bad_shape(solver):
    calls = []

    def matvec(u):
        calls.append(1)
        return u

    x, n_iter, residual = solver(matvec, np.zeros(4), x0=np.ones(4))
    assert np.all(x == 0.0) and n_iter == 0 and residual == 0.0 and not calls
    with pytest.raises(ValueError, match="x0 has shape"):
        solver(matvec, np.ones(4), x0=np.ones(3))


def test_cg_converges_in_at_most_n_iterations_and_counts_products():
    """Exact arithmetic: n steps; here 30 distinct eigenvalues, condition 100."""
    M, b = _spd(n=30, cond=100.0)
    calls = []

    def matvec(u):
        calls.append(1)
        return M @ u

    x, n_iter, residual = solve_cg(matvec, b, tol=1e-10, max_iter=1000)
    assert n_iter == len(calls)
    # CG bound: 2 ((sqrt(k) - 1) / (sqrt(k) + 1))^t in the M-norm; k = 100 -> 0.818^t
    assert n_iter <= 40
    assert np.linalg.norm(M @ x - b) <= 1e-10 * np.linalg.norm(b) * 1.0001


def test_fixed_point_rate_is_the_spectral_radius():
    """Error of x_k = M x_{k-1} + b decays like rho(M)^k (symmetric M: exactly)."""
    M, b = _spd(n=20, cond=10.0, seed=1)
    M = 0.9 * M / np.linalg.norm(M, 2)  # eigenvalues in [0.09, 0.9]
    x_star = np.linalg.solve(np.eye(20) - M, b)
    errors = [np.linalg.norm(solve_fixed_point(M.__matmul__, b, tol=0.0, max_iter=k)[0] - x_star)
              for k in range(20, 120, 10)]
    slope = np.polyfit(np.arange(20, 120, 10), np.log(errors), 1)[0]
    assert abs(slope - np.log(0.9)) < 0.01 * abs(np.log(0.9))


def test_fixed_point_reports_non_convergence():
    M, b = _contraction(rho=0.99)
    x, n_iter, residual = solve_fixed_point(M.__matmul__, b, tol=1e-14, max_iter=7)
    assert n_iter == 7 and residual > 1e-3
    x, n_iter, residual = solve_fixed_point(M.__matmul__, b, max_iter=0)
    assert n_iter == 0 and np.isnan(residual) and np.all(x == 0.0)


def test_gmres_handles_nonsymmetric_systems_cg_cannot():
    """On a nonsymmetric system CG does not reach the tolerance; GMRES does."""
    M, b = _contraction(n=30, rho=0.95, seed=2)
    K = np.eye(30) - M
    x_cg, _, res_cg = solve_cg(K.__matmul__, b, tol=1e-10, max_iter=200)
    x_gm, n_gm, res_gm = solve_gmres(K.__matmul__, b, tol=1e-10, max_iter=200)
    assert res_gm <= 1e-10 and n_gm <= 60
    assert np.linalg.norm(K @ x_cg - b) > 1e3 * np.linalg.norm(K @ x_gm - b)
