"""Numba's on-disk cache, shared by every process of one machine: the first process that
needs a kernel compiles it, the others wait for it and load it.

Each kernel module ends with ``share(globals())``. That wraps the module's cached
dispatchers so that compiling a signature (which Numba does on a kernel's first call in a
process: it loads the signature from the cache, or compiles and saves it) holds an
exclusive file lock, one per module, in the cache directory:

    executor 1: call ─► lock ─► cache miss ─► one line on stderr ─► compile ─► save ─► unlock
    executor 2: call ─► lock (waits) ──────────────────────────────────────────────► load ─► unlock

So a cold cache costs one compilation per kernel and machine, not one per process, and
only the kernels that a job calls are compiled. The line says what is compiling, that it
happens on the first run only, and where the cache is; it goes to stderr and, when
``RXGRID_NOTICES`` names a FIFO (``rxgrid.local()`` makes one), to the user's program too.
"""

from __future__ import annotations

import contextlib
import os
import sys

try:
    import fcntl
except ImportError:  # not POSIX: no lock, each process compiles what it needs
    fcntl = None

NOTICES_ENV = "RXGRID_NOTICES"

_depth: dict[str, int] = {}  # module -> nesting of its lock in this process
_announced: set[str] = set()  # modules whose compilation this process has announced


def read_only(array):
    """``array`` as a read-only view, without a copy (as is when it already is one).

    Numba compiles one signature per writeability of each array argument. Data blocks
    come memory-mapped read-only, arrays made in memory are writable, and the mixes
    multiplied the signatures: the cell kernels had 14 for 7 combinations of dtypes,
    each compiled in seconds. A wrapper passes its inputs through this, so one compiled
    signature serves both.
    """
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def share(namespace: dict) -> None:
    """Make the cached dispatchers defined in ``namespace`` (a module's globals) compile
    under their module's lock and announce a compilation."""
    from numba.core.caching import FunctionCache
    from numba.core.registry import CPUDispatcher
    module = namespace["__name__"]
    for value in list(namespace.values()):
        if (isinstance(value, CPUDispatcher) and isinstance(value._cache, FunctionCache)
                and value.py_func.__module__ == module):
            _wrap(value, module)


def _wrap(dispatcher, module: str) -> None:
    from numba.core.compiler_lock import global_compiler_lock
    compile_signature, cache = dispatcher.compile, dispatcher._cache

    def compile(sig):
        # Numba's own lock first: it is what every thread of this process takes to compile,
        # so taking ours inside it cannot deadlock two threads.
        with global_compiler_lock, _module_lock(module, cache.cache_path):
            return compile_signature(sig)

    dispatcher.compile = compile
    dispatcher._cache = _NoticingCache(cache, module)


class _NoticingCache:
    """A dispatcher's FunctionCache that announces the first miss of its module."""

    def __init__(self, cache, module: str):
        self._cache, self._module = cache, module

    def __getattr__(self, name):
        return getattr(self._cache, name)

    def load_overload(self, sig, target_context):
        data = self._cache.load_overload(sig, target_context)
        if data is None and self._cache._enabled:
            announce_compilation(self._module, self._cache.cache_path)
        return data


@contextlib.contextmanager
def _module_lock(module: str, cache_path: str):
    """An exclusive lock on ``module``'s kernels for this process, re-entrant (compiling a
    kernel compiles the kernels it calls)."""
    if _depth.get(module):
        _depth[module] += 1
        try:
            yield
        finally:
            _depth[module] -= 1
        return
    lock = None
    if fcntl is not None:
        try:
            os.makedirs(cache_path, exist_ok=True)
            lock = open(os.path.join(cache_path, f"{module}.lock"), "a")
            fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process compiles
        except OSError:  # a read-only cache: Numba itself will compile without saving
            lock = None
    _depth[module] = 1
    try:
        yield
    finally:
        _depth[module] = 0
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()


def announce_compilation(module: str, cache_path: str) -> None:
    """Say once per process and module that its kernels are compiling, and where to."""
    if module in _announced:
        return
    _announced.add(module)
    if any(_depth.get(outer) for outer in _announced if outer != module):
        return  # a kernel that another one calls (the random streams): its line said it
    name = module.rpartition(".")[2].lstrip("_")
    notice(f"rxgrid: compiling the {name} kernels with Numba (first run on this machine only; "
           f"cached in {cache_path})")


def notice(line: str) -> None:
    """Print ``line`` on stderr, and send it to the FIFO named by ``RXGRID_NOTICES``."""
    print(line, file=sys.stderr, flush=True)
    path = os.environ.get(NOTICES_ENV)
    if not path:
        return
    try:  # non-blocking: with nobody reading (the program ended) the line is dropped
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, (line + "\n").encode()[:4096])  # up to PIPE_BUF: one atomic write
    except OSError:
        pass
    finally:
        os.close(fd)
