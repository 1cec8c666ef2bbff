"""How the kernels compile (:mod:`skhypergrad._jit`): the lean pipeline compiles a kernel
to the same numbers as numba's default one, and the garbage collector is paused during a
skhypergrad compilation only, then left as it was (and while numba sets up its target)."""

import gc

import numpy as np
import pytest
from numba import njit
from numba.core import event

import skhypergrad._jit
from skhypergrad._jit import LEAN, LeanPipeline, _GCPause, set_up_numba


def _kernel(A, x, out, m):
    """A loop nest of the Gram kernels' kind: ``out[:m] = A[:m, :m] x[:m]``, with the
    number of nonzero products."""
    count = 0
    for i in range(m):
        s = 0.0
        for j in range(m):
            if A[i, j] != 0.0:
                s += A[i, j] * x[j]
                count += 1
        out[i] = s
    return count


def test_lean_pipeline_compiles_the_same_numbers():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((7, 7))
    A[A < -1.0] = 0.0
    x = rng.standard_normal(7)
    outs = []
    for options in ({}, {"pipeline_class": LeanPipeline}):
        out = np.zeros(7)
        count = njit(error_model="numpy", **options)(_kernel)(A, x, out, 6)
        outs.append((count, out))
    assert outs[0][0] == outs[1][0] == np.count_nonzero(A[:6, :6])
    assert outs[0][1].tobytes() == outs[1][1].tobytes()


_ONE, _ZERO = 1, 0


@pytest.mark.skipif(not LEAN, reason="this numba compiles through its default pipeline")
def test_lean_pipeline_refuses_module_constants_of_two_values_in_one_variable():
    """Without the SSA form a variable has one type, and a module constant is typed as
    its literal: two of them in one variable are a type error at compile time, and
    compile once cast."""
    from numba.core.errors import TypingError

    def literals(flag):
        st = _ONE
        if flag:
            st = _ZERO
        return st

    def cast(flag):
        st = np.int64(_ONE)
        if flag:
            st = np.int64(_ZERO)
        return st

    with pytest.raises(TypingError):
        njit(pipeline_class=LeanPipeline)(literals)(True)
    lean = njit(pipeline_class=LeanPipeline)(cast)
    assert (lean(True), lean(False)) == (0, 1)


def _event(module, status):
    class Dispatcher:
        py_func = staticmethod(lambda: None)

    Dispatcher.py_func.__module__ = module
    return event.Event("numba:compile", status, data={"dispatcher": Dispatcher()})


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_during_a_skhypergrad_compilation_only(enabled):
    pause = _GCPause()
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        pause.on_start(event.Event("numba:compile", event.EventStatus.START, data=None))
        pause.on_end(event.Event("numba:compile", event.EventStatus.END, data=None))
        assert gc.isenabled() == enabled          # a payload of another form: not ours
        pause.on_start(_event("other_package", event.EventStatus.START))
        assert gc.isenabled() == enabled          # another package's compilation
        pause.on_start(_event("skhypergrad._gram_cv_kernel", event.EventStatus.START))
        assert not gc.isenabled()
        pause.on_start(_event("numba.cpython.tupleobj", event.EventStatus.START))
        pause.on_end(_event("numba.cpython.tupleobj", event.EventStatus.END))
        assert not gc.isenabled()                 # a nested compilation: still paused
        pause.on_end(_event("skhypergrad._gram_cv_kernel", event.EventStatus.END))
        assert gc.isenabled() == enabled          # as it was
        pause.on_end(_event("other_package", event.EventStatus.END))
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_numba_set_up_with_the_gc_paused_once_then_left_as_it_was(enabled, monkeypatch):
    seen = []  # whether the collector ran during each refresh
    fail = [True]

    def refresh():
        seen.append(gc.isenabled())
        if fail.pop():
            raise RuntimeError("refresh failed")

    monkeypatch.setattr(skhypergrad._jit.cpu_target.target_context, "refresh", refresh)
    monkeypatch.setattr(skhypergrad._jit, "_NUMBA_SET_UP", False)
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with pytest.raises(RuntimeError, match="refresh failed"):
            set_up_numba()
        assert seen == [False] and gc.isenabled() == enabled
        fail.append(False)
        set_up_numba()  # tried again after the failure
        assert seen == [False, False] and gc.isenabled() == enabled
        set_up_numba()  # set up: not again
        assert seen == [False, False] and gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()
