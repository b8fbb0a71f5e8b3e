"""BLAS threading (gru_core/_blas.py): one thread for small products, a second one for big products only
while a core is idle right now, and the same numbers either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gru_core import GRURegressor, _blas
from gru_core.model import reference as ref


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(_blas.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(_blas, "_big", 2)
    monkeypatch.setattr(_blas, "_last_big", -1.0)


@pytest.mark.parametrize(
    "runnable, busy",
    [(1, False), (2, True), (3, True)],  # 1 = this thread alone; 2 = someone else wants the other core
)
def test_busy_counts_other_runnable_threads_right_now(monkeypatch, two_cores, runnable, busy):
    monkeypatch.setattr(_blas, "_runnable", lambda: runnable)
    assert _blas._busy() is busy


def test_busy_discounts_our_own_spinning_blas_worker(monkeypatch, two_cores):
    monkeypatch.setattr(_blas, "_runnable", lambda: 2)  # this thread + a worker still spinning from a block
    monkeypatch.setattr(_blas, "_last_big", _blas.time.monotonic())
    assert _blas._busy() is False
    monkeypatch.setattr(_blas, "_last_big", _blas.time.monotonic() - 10 * _blas.SPIN_SECONDS)
    assert _blas._busy() is True  # long after our last block: the runnable thread is someone else's


def test_busy_falls_back_to_the_load_average(monkeypatch, two_cores):
    monkeypatch.setattr(_blas, "_runnable", lambda: None)
    monkeypatch.setattr(_blas.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert _blas._busy() is False
    monkeypatch.setattr(_blas.os, "getloadavg", lambda: (3.0, 0.0, 0.0))
    assert _blas._busy() is True


def test_runnable_reads_a_positive_count():
    n = _blas._runnable()
    if n is None:
        pytest.skip("SKIPPED, NOT PASSED: no /proc/loadavg on this platform (the load average is used)")
    assert n >= 1  # at least this thread


class _Recorder:
    def __init__(self):
        self.calls: list[int] = []

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)


def test_big_products_raises_threads_only_for_big_products_on_an_idle_machine(monkeypatch, two_cores):
    lib = _Recorder()
    monkeypatch.setattr(_blas, "_libs", [lib])
    monkeypatch.setattr(_blas, "_small", 1)
    monkeypatch.setattr(_blas, "_busy", lambda: False)
    with _blas.big_products(1e6, _blas.STEP_PRODUCT_FLOPS):  # too small
        pass
    assert lib.calls == []
    with _blas.big_products(2e6, _blas.STEP_PRODUCT_FLOPS):
        assert lib.calls == [2]
    assert lib.calls == [2, 1]  # back to one thread after the block
    monkeypatch.setattr(_blas, "_busy", lambda: True)
    with _blas.big_products(1e9):
        pass
    assert lib.calls == [2, 1]  # busy: untouched


@pytest.mark.parametrize("variant", ["pytorch", "classic"])
def test_threaded_per_step_products_give_the_same_gradients(monkeypatch, variant):
    """H = 64, B = 64: each step's product is above STEP_PRODUCT_FLOPS, so the loops ask for 2 threads."""
    B, T, H = 64, 6, 64
    assert 2.0 * 3 * H * (H + 1) * B >= _blas.STEP_PRODUCT_FLOPS
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((B, T, 2)), rng.standard_normal((B, 1))
    model = GRURegressor(2, H, variant=variant, seed=4)
    monkeypatch.setattr(_blas, "_busy", lambda: True)
    loss1, g1 = model.loss_and_grads(X, y)
    monkeypatch.setattr(_blas, "_big", 2)
    monkeypatch.setattr(_blas, "_busy", lambda: False)
    loss2, g2 = model.loss_and_grads(X, y)
    loss_ref, g_ref = ref.loss_and_grads(dict(model.params), X, y, 1, variant)
    assert loss2 == pytest.approx(loss1, rel=1e-13) and loss2 == pytest.approx(loss_ref, rel=1e-12)
    for k in g_ref:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-14, err_msg=k)
        np.testing.assert_allclose(g2[k], g_ref[k], rtol=1e-9, atol=1e-13, err_msg=k)


_IMPORT_FIRST_PROBE = """
import json

import gru_core  # before NumPy, as `python -m gru_core` does
from threadpoolctl import threadpool_info
from gru_core import _blas

def blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})

_blas._busy = lambda: False  # the machine may be loaded: ask for the second thread regardless
before = blas_threads()
with _blas.big_products(1e9):
    inside = blas_threads()
print(json.dumps({"before": before, "inside": inside, "after": blas_threads(), "libs": len(_blas._libs)}))
"""


@pytest.mark.parametrize("inherited", [None, "1"], ids=["clean-env", "env-from-a-gru_core-parent"])
def test_big_products_get_a_second_thread_when_gru_core_is_imported_before_numpy(inherited):
    """``python -m gru_core`` imports gru_core before NumPy: the BLAS pool must still be raisable for big
    products (it was not: the library was not loaded yet when threadpoolctl looked, so no handles)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("SKIPPED, NOT PASSED: one core here, there is no second BLAS thread to turn on")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update({_blas.BLAS_THREADS_ENV: "1", _blas.BIG_BLAS_THREADS_ENV: "2"})
    if inherited is not None:  # what a process that imported gru_core hands to its children
        env["OPENBLAS_NUM_THREADS"] = inherited
    out = subprocess.run([sys.executable, "-c", _IMPORT_FIRST_PROBE], env=env, capture_output=True, text=True,
                         timeout=120, cwd=str(Path(__file__).resolve().parents[1]), check=True).stdout  # fmt: skip
    probe = json.loads(out)
    assert probe["libs"] >= 1, probe  # threadpoolctl found the BLAS library
    assert (probe["before"], probe["inside"], probe["after"]) == ([1], [2], [1]), probe
