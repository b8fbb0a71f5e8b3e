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


@pytest.fixture(scope="session", autouse=True)
def _no_user_run_store(tmp_path_factory):
    """No test writes to the user's run store (~/.gru_lab): races keep their runs in Run history by default, so
    the whole session (and every server it starts) gets a temporary ``GRU_LAB_STORE`` unless a test sets its own."""
    old = os.environ.get("GRU_LAB_STORE")
    os.environ["GRU_LAB_STORE"] = str(tmp_path_factory.mktemp("user-store") / "runs.sqlite")
    yield
    if old is None:
        os.environ.pop("GRU_LAB_STORE", None)
    else:
        os.environ["GRU_LAB_STORE"] = old


@pytest.fixture(scope="module")
def dask_client():
    """A one-worker Dask LocalCluster in its own process (processes=True: the real thing; it starts in ~1 s here),
    one per test module that asks for it (the Dask backend's tests: runner, sweeps, loss surfaces)."""
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.ERROR)  # fmt: skip
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
