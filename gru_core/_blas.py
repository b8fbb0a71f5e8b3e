"""BLAS threads: one for the many small per-step products, all cores for the few large ones.

The GRU's per-step products are small ((3H, H+1) @ (H+1, B)).  Multi-threaded OpenBLAS gains little on
them and, when the cores are busy (a Streamlit server training for several sessions, a sweep running one
process per core, a test suite), its spinning threads make each of the thousands of small products many
times slower: measured here, a 3-epoch tin-price run took 11.3 s with OpenBLAS's 2 threads on a loaded
2-core machine and 1.0 s with one.  So importing :mod:`gru_core` limits BLAS to one thread per process.

The weight gradients, though, are a handful of large products over all T·B columns after the backward
loop (at H = 128, B = 64, T = 30: 127 MFLOP in one product), where a second thread halves the time
(4.5 ms → 2.2 ms measured here) on an idle machine, and so do the per-step products from ~1.5 MFLOP
on (1.6-1.9× at H = 128).  On a busy machine it hurts even there (a training step at H = 64 took
28 ms with two threads for those products against 9 ms with one, load average 5 on 2 cores), so
:func:`big_products` raises the limit only while a core is idle right now (:func:`_busy`).

Environment: ``GRU_LAB_BLAS_THREADS`` (small products, default 1) and ``GRU_LAB_BIG_BLAS_THREADS``
(large products, default: the number of cores; set it to 1 in a process pool that already uses every core).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

BLAS_THREADS_ENV = "GRU_LAB_BLAS_THREADS"
BIG_BLAS_THREADS_ENV = "GRU_LAB_BIG_BLAS_THREADS"
BIG_PRODUCT_FLOPS = 16e6  # products at least this large use the big-product thread count
STEP_PRODUCT_FLOPS = 1.5e6  # per-step products from this size on gain from a second thread (idle machine)

_libs: list = []  # threadpoolctl LibControllers for BLAS, or empty when they cannot be controlled
_small = 1
_big = 1


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def limit_blas_threads() -> int | None:
    """Set BLAS to ``GRU_LAB_BLAS_THREADS`` threads (default 1); return it, or None if the pools could not
    be controlled (threadpoolctl missing: the environment variable still acts if NumPy is not loaded yet).

    NumPy is imported here first: threadpoolctl only finds a BLAS library that is already loaded, and with
    none found :func:`big_products` could never raise the thread count (``import gru_core`` before NumPy,
    as in ``python -m gru_core``).  ``OPENBLAS_NUM_THREADS`` is set only after that, for child processes.
    """
    global _libs, _small, _big
    _small = _env_int(BLAS_THREADS_ENV, 1)
    _big = _env_int(BIG_BLAS_THREADS_ENV, os.cpu_count() or 1)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_small))  # acts only if NumPy is not loaded yet
        _libs = []
        return None
    import numpy  # noqa: F401  (loads BLAS, so that threadpoolctl can find and control it)

    _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    for lib in _libs:
        lib.set_num_threads(_small)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(_small))  # for child processes started later
    return _small


_loadavg_fd: int | None = None


def _runnable() -> int | None:
    """Threads runnable on the whole machine right now (the 4th field of /proc/loadavg), or None.
    The file stays open and is re-read with ``pread`` (a few µs; opening it each time costs ~50 µs)."""
    global _loadavg_fd
    try:
        if _loadavg_fd is None:
            _loadavg_fd = os.open("/proc/loadavg", os.O_RDONLY)
        return int(os.pread(_loadavg_fd, 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError, AttributeError):  # no /proc, or no os.pread (Windows)
        return None


_last_big = -1.0  # time.monotonic() when the last multi-threaded block ended
SPIN_SECONDS = 0.2  # OpenBLAS's idle workers keep spinning (runnable) about this long after a product


def _busy() -> bool:
    """True when no core is idle for extra BLAS threads.

    Asked right now, not averaged: the number of runnable threads on the machine, minus this one and
    minus this process's own BLAS workers if they may still be spinning from the last block.  (The
    1-minute load average, used before, counts our own work too: a benchmark that ran a few minutes
    switched its second thread off by itself.)  Where /proc/loadavg is missing, the load average.
    """
    running = _runnable()
    if running is None:
        try:
            return os.getloadavg()[0] > _big - 0.5
        except OSError:  # not available on this platform: assume busy, stay single-threaded
            return True
    others = running - 1
    if time.monotonic() - _last_big < SPIN_SECONDS:
        others -= _big - 1
    return others > (os.cpu_count() or 1) - _big


@contextmanager
def big_products(flops: float, threshold: float = BIG_PRODUCT_FLOPS):
    """Within this block, use the big-product thread count if the product has at least ``threshold`` flops
    and a core is idle.  The recurrent loops pass each step's product and :data:`STEP_PRODUCT_FLOPS`."""
    if not _libs or _big == _small or flops < threshold or _busy():
        yield
        return
    global _last_big
    for lib in _libs:
        lib.set_num_threads(_big)
    try:
        yield
    finally:
        for lib in _libs:
            lib.set_num_threads(_small)
        _last_big = time.monotonic()
