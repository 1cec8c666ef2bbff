"""Whether the numba kernels of skhypergrad come from the on-disk cache or are compiled now.

The kernels are ``@njit(cache=True)``: the first process that runs one compiles it
(seconds) and writes it to numba's cache, later processes load it (milliseconds).
The command line uses this to say why a first run is slow:

* :func:`kernels_cached` looks, before a run, for numba's cache index files
  (``*.nbi``) of the loaded skhypergrad modules in their cache directories;
* :func:`compiled_count` counts, after a run, the kernels compiled in this process (the
  signatures numba's dispatchers hold that were not loaded from the cache).
"""

import os
import sys

__all__ = ["kernels_cached", "compiled_count"]


def _dispatchers():
    """The numba dispatchers defined at module level in the loaded skhypergrad modules."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:                     # numba without its usual layout: nothing known
        return []
    found = []
    for name, module in list(sys.modules.items()):
        if name == "skhypergrad" or name.startswith("skhypergrad."):
            found += [obj for obj in vars(module).values() if isinstance(obj, Dispatcher)]
    return found


def kernels_cached():
    """Whether numba's cache holds compiled skhypergrad kernels.

    Returns
    -------
    bool
        False when no cache index file of any loaded skhypergrad kernel module
        exists (a new environment, or a cleared cache): the first run compiles.
    """
    stems = {}
    for dispatcher in _dispatchers():
        module = sys.modules.get(dispatcher.py_func.__module__)
        source = module.__file__ or ""
        stem = os.path.splitext(os.path.basename(source))[0]
        stems.setdefault(dispatcher.stats.cache_path, set()).add(stem + ".")
    for directory, prefixes in stems.items():
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        if any(n.endswith(".nbi") and n.startswith(tuple(prefixes)) for n in names):
            return True
    return False


def compiled_count():
    """Kernel compilations done by this process so far: the signatures numba's dispatchers
    hold that did not come from the cache (a cache miss alone may be a compilation
    declined, :class:`~skhypergrad._jit.TieredKernel`)."""
    return sum(len(d.overloads) - sum(d.stats.cache_hits.values()) for d in _dispatchers())
