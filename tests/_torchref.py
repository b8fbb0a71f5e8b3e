"""PyTorch as the reference of the optimizer and model tests: imported where a test needs it.  A missing torch
FAILS under CI (``CI`` set: the comparisons are what these tests are for) and is a loud skip on a machine
without it (``pip install torch==2.13.0``, the CPU build)."""

from __future__ import annotations

import os

import pytest


def require_torch():
    """Import torch; a missing torch FAILS under CI and is a loud skip locally."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            pytest.fail(f"torch is required in CI (torch.optim reference tests) but cannot be imported: {exc}")
        pytest.skip(
            f"!!! TORCH NOT INSTALLED ({exc}): the exact torch.optim comparison tests were SKIPPED; "
            "install torch==2.13.0 (CPU) to run them !!!"
        )
    return torch
