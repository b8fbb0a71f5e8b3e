"""The long-lived web server's heap: freed memory goes back to the operating system (glibc's malloc only).

Measured in the soak (``bench/bench_browser.py --soak``: 4 visitors racing for 7-10 minutes, each page polling
its live parts; a temporary debug route reporting ``mallinfo2`` and the process's memory map by kind): the
server's live allocations stayed flat (~45 MB in use throughout), yet its resident size grew +22-25 % in 7
minutes.  The growth was all in malloc's *thread arenas* (4 → 56 MB resident; the main heap and Python's own
arenas flat), and it was free memory: glibc gives every new thread an arena of its own, up to 8 per core (16
here), the live routes answer on the threads of Starlette's pool, each builds and drops figures and JSON strings
of a few hundred kB, and each arena kept what its thread freed.  ``malloc_trim`` every 30 s alone barely helped
(+22 %); our reading: the free memory sat at the arenas' tops, under a trim threshold that glibc raises by itself
(to twice the mmap threshold, which it raises each time a large block is freed).

So :func:`keep_heap_small`, called once as the server starts (``app.py``): at most :data:`ARENA_MAX` arenas,
fixed mmap and trim thresholds (no raising), and a ``malloc_trim`` every ``GRU_LAB_TRIM_EVERY`` s.  The 10-minute
soaks after it: +16.6 % and +11.2 % (thread arenas 4 → 11-13 MB).  Environment: ``GRU_LAB_TRIM_EVERY`` (seconds, default
:data:`TRIM_EVERY`; 0 leaves malloc as it is).  Elsewhere than glibc (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time

__all__ = ["TRIM_EVERY", "TRIM_EVERY_ENV", "keep_heap_small", "trim"]

TRIM_EVERY_ENV = "GRU_LAB_TRIM_EVERY"
TRIM_EVERY = 30.0  # seconds between two trims in the server process
ARENA_MAX = 2  # malloc arenas (glibc gives each new thread one of its own, up to 8 per core)
MMAP_THRESHOLD = 256 * 1024  # bytes: larger blocks get their own mapping, unmapped when freed
TRIM_THRESHOLD = 1024 * 1024  # bytes: free memory at an arena's top beyond this goes back at once
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt's parameter numbers (malloc.h)

_lock = threading.Lock()
_started = False


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _libc()


def trim() -> bool:
    """Give the heap's free pages back to the operating system now; False where malloc cannot (not glibc)."""
    if _LIBC is None:
        return False
    _LIBC.malloc_trim(0)
    return True


def _every() -> float:
    raw = os.environ.get(TRIM_EVERY_ENV, "").strip()
    try:
        return float(raw) if raw else TRIM_EVERY
    except ValueError:
        raise ValueError(f"{TRIM_EVERY_ENV} must be a number of seconds, got {raw!r}") from None


def _trim_loop(every: float) -> None:
    while True:  # a daemon thread: it ends with the process
        time.sleep(every)
        trim()


def keep_heap_small() -> bool:
    """For the rest of this (long-lived) process: at most :data:`ARENA_MAX` malloc arenas, fixed mmap and trim
    thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`), and a trim every ``GRU_LAB_TRIM_EVERY`` s (a daemon
    thread, once per process).  False where malloc is not glibc's or ``GRU_LAB_TRIM_EVERY`` is 0."""
    global _started
    every = _every()
    if every <= 0 or _LIBC is None:
        return False
    with _lock:
        if not _started:
            _started = True
            _LIBC.mallopt(M_ARENA_MAX, ARENA_MAX)
            _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            _LIBC.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            threading.Thread(target=_trim_loop, args=(every,), daemon=True, name="gru-malloc-trim").start()
    return True
