"""Bit-for-bit comparison of training results and the plain-values check of optimizer states, shared by the
test modules (like ``_browser.py``)."""

from __future__ import annotations

import numpy as np


def bits(o):
    """Every number exactly (float.hex), timings ("seconds", "elapsed") left out: bit-for-bit comparisons."""
    if isinstance(o, dict):
        return {k: bits(v) for k, v in o.items() if k not in ("seconds", "elapsed")}
    if isinstance(o, (list, tuple)):
        return [bits(v) for v in o]
    if isinstance(o, np.ndarray):
        return bits(o.tolist())
    if isinstance(o, (float, np.floating)):
        return float(o).hex()
    return o


def assert_plain(obj) -> None:
    """``obj`` (an optimizer's ``state_dict``) holds only plain values: str keys, arrays, numbers, strings, tuples."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str)
            assert_plain(v)
    elif isinstance(obj, tuple):
        for v in obj:
            assert_plain(v)
    else:
        assert isinstance(obj, (np.ndarray, int, float, bool, str)), type(obj)
