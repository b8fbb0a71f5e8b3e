"""Bit-for-bit comparison of training results, shared by the test modules (like ``_browser.py``)."""

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
