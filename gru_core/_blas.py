"""Keep BLAS single-threaded for this engine's small matrix products.

The GRU's per-step products are small ((3H, H+1) @ (H+1, B)).  Multi-threaded OpenBLAS gains little on
them and, when the cores are busy (a Streamlit server training for several sessions, a sweep running one
process per core, a test suite), its spinning threads make every product many times slower: measured
here, a 3-epoch tin-price run took 11.3 s with OpenBLAS's 2 threads on a loaded 2-core machine and 1.0 s
with one.  So importing :mod:`gru_core` limits BLAS to one thread per process (override with the
environment variable ``GRU_LAB_BLAS_THREADS``).  Parallelism comes from running several trainings at
once instead (sweeps use one process per core).
"""

from __future__ import annotations

import os

BLAS_THREADS_ENV = "GRU_LAB_BLAS_THREADS"


def limit_blas_threads(default: int = 1) -> int | None:
    """Limit BLAS thread pools to ``GRU_LAB_BLAS_THREADS`` (default 1); return the limit, or None if the
    pools could not be controlled (threadpoolctl missing)."""
    try:
        n = int(os.environ.get(BLAS_THREADS_ENV, default))
    except ValueError:
        n = default
    n = max(1, n)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(n))  # for child processes started later
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables above still act if NumPy is not loaded yet
        return None
    threadpool_limits(n, user_api="blas")
    return n
