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

Compiling still costs seconds (the Gram kernels: about 2 s), where a small fit needs
milliseconds of compiled work. :class:`TieredKernel` runs such a kernel as Python (its
source, the same arithmetic in the same order) until running it so has cost the
process :data:`INTERPRETED_SECONDS`, unless numba already has it compiled (in the
process or in its cache): a first fit on diabetes then takes 0.1 s instead of 2.5 s,
and a process that goes on calling the kernel compiles it once the Python runs have
cost as much as half a compilation (at most twice the time of compiling at once).
"""

import gc
import threading
import time
import types

import numpy as np

from numba.core import event
from numba.core.registry import cpu_target
from numba.core import typed_passes as typed
from numba.core import untyped_passes as untyped
from numba.core.compiler import Compiler, CompilerBase
from numba.core.compiler_machinery import PassManager
from numba.core.dispatcher import Dispatcher

__all__ = ["INTERPRETED_SECONDS", "LEAN", "LeanPipeline", "TieredKernel", "always_compile",
           "set_up_numba"]

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


class _Declined(Exception):
    """The compilation of a kernel declined (see :class:`TieredKernel`)."""


class _DeclinedKernel(threading.local):
    """The kernel (a dispatcher) whose compilation this thread declines, if any."""

    kernel = None


_DECLINE = _DeclinedKernel()


class _GCPause(event.Listener):
    """Disables the garbage collector from the start of the outermost compilation of a
    skhypergrad kernel to its end (the kernels and numba overloads it calls compile
    inside it), when it was enabled. numba compiles under its global lock: the events
    of compilations nest.

    Also declines the compilation of the kernel this thread set in ``_DECLINE.kernel``
    (:class:`TieredKernel`): raises :class:`_Declined` at its start, before any other
    listener hears of it (numba then sends every listener the end of the event, which
    this one ignores at depth 0)."""

    def __init__(self):
        self.depth = 0
        self.paused = False

    def on_start(self, evt):
        declined = _DECLINE.kernel
        if declined is not None and isinstance(evt.data, dict) \
                and evt.data.get("dispatcher") is declined:
            raise _Declined()
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


#: CPU seconds a process spends running kernels as Python (:class:`TieredKernel`) before
#: it compiles them: about half the compilation of the Gram kernels
INTERPRETED_SECONDS = 1.0


class _Tiers:
    """This process's account of :class:`TieredKernel`: the CPU seconds its kernels ran as
    Python, and whether they always compile (:func:`always_compile`)."""

    interpreted = 0.0
    always_compile = False


def always_compile(enable=True):
    """Make every :class:`TieredKernel` of this process compile (or load from numba's cache)
    at its first call, never run as Python (``enable=False``: back to the default).

    For measurements of compiled speed (the benchmarks, the command line's comparison)
    and processes that will call the kernels for long.
    """
    _Tiers.always_compile = bool(enable)


def _python_version(kernel):
    """The Python function of a numba kernel, calling the Python functions of the kernels
    of its module (its globals' dispatchers replaced by their ``py_func``, in a copy of
    the module's namespace)."""
    namespace = dict(kernel.py_func.__globals__)
    for name, value in list(namespace.items()):
        if isinstance(value, Dispatcher):
            f = value.py_func
            namespace[name] = types.FunctionType(f.__code__, namespace, f.__name__,
                                                 f.__defaults__, f.__closure__)
    return namespace[kernel.py_func.__name__]


class TieredKernel:
    """A numba kernel run compiled when numba has it, else as Python while that is cheap.

    A call runs the kernel compiled when numba has it compiled, in this process or in its
    cache (loaded then, as any call of a numba kernel does). Else, when the caller
    deems the call ``small`` and this process has spent less than
    :data:`INTERPRETED_SECONDS` of CPU time running kernels as Python, it runs the
    kernel's Python source (and that of the kernels of its module it calls) with
    NumPy's floating-point errors silenced (numba's ``error_model="numpy"``); else it
    compiles the kernel (saved to numba's cache) and runs it. Once compiled, always
    compiled.

    The kernel must compute the same numbers either way: loops over arrays and scalars
    in a fixed order, no ``fastmath`` (a reassociated sum is another number), a NumPy
    scalar (not a Python ``float``) in every division or function that may meet 0 or a
    negative value (Python's raise where numba's return ``inf`` or ``nan``).

    Parameters
    ----------
    kernel : numba dispatcher
        An ``njit`` function, called with arguments of one signature.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        #: whether numba has the kernel (compiled or loaded by a call)
        self.compiled = False
        #: whether a call found neither a compiled kernel nor one in the cache
        self.missed = False
        self._python = None

    def __call__(self, *args, small=True):
        """``kernel(*args)``, compiled or as Python (see the class)."""
        if not self.compiled and small and not _Tiers.always_compile \
                and _Tiers.interpreted < INTERPRETED_SECONDS:
            if self.missed:
                return self._interpret(args)
            _DECLINE.kernel = self.kernel
            try:
                result = self.kernel(*args)  # compiled in the process or in the cache
            except _Declined:
                self.missed = True
                return self._interpret(args)
            finally:
                _DECLINE.kernel = None
        else:
            result = self.kernel(*args)  # compiled (or loaded) now, if not yet
        self.compiled = True
        return result

    def _interpret(self, args):
        """The kernel's Python function on ``args``, its CPU time counted."""
        if self._python is None:
            self._python = _python_version(self.kernel)
        start = time.process_time()
        try:
            with np.errstate(all="ignore"):
                return self._python(*args)
        finally:
            _Tiers.interpreted += time.process_time() - start


# every compilation of a skhypergrad kernel in this process, whatever module calls it
event.register("numba:compile", _GCPause())
