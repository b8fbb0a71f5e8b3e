"""Shared test helpers.

PyTorch is a test dependency: where it is missing, tests that need it FAIL under CI (``CI`` set) and are
skipped loudly (with the install command in the reason) on a developer's machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TORCH_HINT = "PyTorch is needed for this test: pip install torch==2.13.0 (a CPU build lies on disk)"


def import_torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{TORCH_HINT}; under CI a missing torch is a failure, not a skip")
        pytest.skip(f"SKIPPED, NOT PASSED: {TORCH_HINT}")
    return torch


@pytest.fixture(scope="session")
def torch():
    return import_torch()
