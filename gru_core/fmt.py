"""Numbers and durations as people read them, the same on the command line and on every page.

``num(0.012345)`` → ``"0.01235"``, ``num(None)`` → ``"—"`` (also for NaN/inf and anything that is not a
number), ``signed``, ``plus_minus`` (mean ± std (n)), ``duration`` ("3 min 20 s").  No other module
formats a metric: a change of style is made here once.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DASH", "duration", "num", "plus_minus", "signed"]

DASH = "—"  # what a missing, diverged or non-finite value shows


def _finite(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def num(v: Any, spec: str | int = ".4g") -> str:
    """``v`` with the format ``spec`` (an int n means ``.{n}g``); whole integers as they are; "—" if missing."""
    if isinstance(spec, int):
        spec = f".{spec}g"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu":
        return str(int(v))
    f = _finite(v)
    return DASH if f is None else format(f, spec)


def signed(v: Any, spec: str = "+.3g") -> str:
    """A difference with its sign: ``+0.012``, ``-3.4``; "—" if missing."""
    f = _finite(v)
    return DASH if f is None else format(f, spec)


def plus_minus(mean: Any, std: Any, n: int) -> str:
    """``"1.23 ± 0.45 (5)"`` over n seeds, ``"1.23 (1)"`` for one, "—" for none."""
    if not n:
        return DASH
    return f"{num(mean)} ± {num(std, '.2g')} ({n})" if n > 1 else f"{num(mean)} ({n})"


def duration(seconds: Any) -> str:
    """A duration in words: "12 s", "3 min 20 s", "2 h 05 min"; "—" if unknown."""
    f = _finite(seconds)
    if f is None:
        return DASH
    s = max(0, int(round(f)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
