"""How skhypergrad's numba kernels are compiled: a shorter pipeline, no garbage collection.

A fit's first run on a machine is mostly numba compiling the kernels it calls (seconds;
later runs load them from numba's cache). Two things shorten a compilation without
changing the arithmetic it produces:

* :data:`LeanPipeline`, numba's nopython pipeline without the passes that have nothing
  to do on kernels written as the Gram kernels are (loops over arrays and scalars,
  calls of other kernels, every variable of one type): no SSA form, closures, ``with``
  blocks, functions inlined by numba, ``literal_unroll``, ``literally``, raises or
  array expressions. A kernel that needs one of those keeps numba's default pipeline.
  The passes are numba's own classes: with a numba that no longer has one of them,
  :data:`LeanPipeline` is numba's default compiler (:data:`LEAN`: False), which
  compiles the same kernels to the same numbers, more slowly.
* the cyclic garbage collector paused while numba compiles a skhypergrad kernel (a
  listener of numba's ``"numba:compile"`` events, registered when this module is
  imported): a compilation allocates millions of short-lived objects, and every
  collection they trigger walks the objects of the whole process (NumPy, SciPy,
  scikit-learn and numba's own), about a tenth of the compilation. The garbage is
  collected as usual once the collector runs again.

The first kernel a process calls, compiled or loaded from the cache, also sets up numba's
CPU target (its typing and lowering registries, its runtime): about 0.1 s of allocations
that the collector would walk the whole process for as often.
:func:`set_up_numba` does it with the collector paused; the fits call it first.
"""

import gc

from numba.core import event
from numba.core.registry import cpu_target
from numba.core import typed_passes as typed
from numba.core import untyped_passes as untyped
from numba.core.compiler import Compiler, CompilerBase
from numba.core.compiler_machinery import PassManager

__all__ = ["LEAN", "LeanPipeline", "set_up_numba"]

#: the lean pipeline's passes and their names, in numba's order (None: a numba without
#: one of them)
try:
    _LEAN_PASSES = (
        (untyped.TranslateByteCode, "analyzing bytecode"),
        (untyped.FixupArgs, "fix up args"),
        (untyped.IRProcessing, "processing IR"),
        (untyped.GenericRewrites, "nopython rewrites"),
        (typed.NopythonTypeInference, "nopython frontend"),
        (typed.IRLegalization, "ensure IR is legal prior to lowering"),
        (typed.AnnotateTypes, "annotate types"),
        (typed.NativeLowering, "native lowering"),
        (typed.NoPythonBackend, "nopython mode backend"),
    )
except AttributeError:  # a numba whose passes moved
    _LEAN_PASSES = None


class _LeanPipeline(CompilerBase):
    """numba's nopython pipeline (``DefaultPassBuilder.define_nopython_pipeline``) with
    only the passes a kernel of plain loops needs, in numba's order: bytecode to IR,
    the rewrites of constant indices to static ones (a tuple unpacked by constant
    indices compiles no overload of its own), type inference, lowering.

    Without the SSA form (numba's ``enable_ssa``), type inference gives a variable one
    type over the whole kernel, the unification of the values it is assigned; a module
    constant is typed as its literal value, to which no other value converts: a variable
    assigned module constants (``st = OK``, ``st = NOT_CONVERGED``) gets them cast
    (``np.int64(OK)``), else the kernel fails to compile (a type error). Also left
    out: with-lifting, the inlining of closures and of ``inline=`` functions, the
    rewrites of dynamic raises and of ``make_function``, ``literally`` and
    ``literal_unroll``, the typed rewrites (array expressions, printing), the
    validation of unsupported features and the parfor diagnostics (of
    ``parallel=True``)."""

    def define_pipelines(self):
        """The one pipeline (nopython mode)."""
        pm = PassManager("nopython")  # its name in errors and in the timings numba records
        for compiler_pass, name in _LEAN_PASSES:
            pm.add_pass(compiler_pass, name)
        pm.finalize()
        return [pm]


#: whether the kernels compile through the lean pipeline (False: numba's default)
LEAN = _LEAN_PASSES is not None
#: the ``pipeline_class`` of the kernels written for the lean pipeline
LeanPipeline = _LeanPipeline if LEAN else Compiler


def _compiles_ours(evt):
    """Whether a ``"numba:compile"`` event is the compilation of a skhypergrad kernel: its
    dispatcher's Python function defined in skhypergrad. The event is numba's (any
    package's compilation, of any target): a payload of another form is not ours, and
    never an error (a listener that raises would break every compilation)."""
    try:
        module = evt.data["dispatcher"].py_func.__module__
    except (AttributeError, KeyError, TypeError):
        return False
    return isinstance(module, str) and module.split(".", 1)[0] == "skhypergrad"


class _GCPause(event.Listener):
    """Disables the garbage collector from the start of the outermost compilation of a
    skhypergrad kernel to its end (the kernels and numba overloads it calls compile
    inside it), when it was enabled. numba compiles under its global lock: the events
    of compilations nest."""

    def __init__(self):
        self.depth = 0
        self.paused = False

    def on_start(self, evt):
        if self.depth == 0:
            if not _compiles_ours(evt):
                return
            self.paused = gc.isenabled()
            gc.disable()
        self.depth += 1

    def on_end(self, evt):
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0 and self.paused:
            self.paused = False
            gc.enable()


#: whether :func:`set_up_numba` has run in this process
_NUMBA_SET_UP = False


def set_up_numba():
    """Set up numba's CPU target with the garbage collector paused (when it was enabled),
    once per process.

    The set-up is numba's refresh of its target context (:meth:`refresh`: the typing and
    lowering registries loaded, the runtime compiled), which numba also runs at every
    compilation and cache load and which does its work once per process; later calls
    return at once (a refresh with nothing new still costs ~50 us, 1% of a small fit).
    Nothing is compiled or changed for other packages: the collector runs again as
    before on return, or on an exception (then the set-up is tried again next time).
    """
    global _NUMBA_SET_UP
    if _NUMBA_SET_UP:
        return
    paused = gc.isenabled()
    gc.disable()
    try:
        cpu_target.target_context.refresh()
        _NUMBA_SET_UP = True
    finally:
        if paused:
            gc.enable()


# every compilation of a skhypergrad kernel in this process, whatever module calls it
event.register("numba:compile", _GCPause())
