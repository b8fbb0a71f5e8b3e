"""Plain JSON for everything the lab writes or hashes: NaN/inf as null, NumPy values as Python numbers.

:func:`to_jsonable` makes any result (histories, metrics, configurations) safe for ``json.dumps``;
:func:`canonical_json` is the one spelling that keys hash (sorted keys, no spaces, no NaN), and
:func:`short_hash` its SHA-256 prefix.  No other module converts NumPy values for JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

__all__ = ["canonical_json", "short_hash", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON: NaN/inf become null, NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def canonical_json(obj: Any) -> str:
    """The JSON that keys hash: sorted keys, no spaces, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def short_hash(obj: Any, n: int = 20) -> str:
    """The first ``n`` hex digits of the SHA-256 of :func:`canonical_json` (a sweep cell's key)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]
