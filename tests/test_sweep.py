"""Sweeps: cell expansion and keys, equality with sequential runs on every executor, resume, dead workers, CLI.

The grids are tiny (hidden 4, 2 epochs, a 160-point series) so the module runs in seconds on 2 cores.
Worker-side helpers (runners) are top-level functions here: the worker processes import this module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT

from gru_core.config import DataConfig
from gru_core.jsonio import to_jsonable
from gru_core.store import RunStore
from gru_core.sweep import (
    Cell,
    RandomSearch,
    SweepCancelled,
    SweepSpec,
    cells,
    run_cell,
    run_sweep,
    sample_space,
)
from gru_core.train import Contestant


def need(module: str, pip: str):
    """Import an optional dependency: missing, it FAILS under CI (``CI`` set) and skips loudly elsewhere."""
    import importlib
    import os

    try:
        return importlib.import_module(module)
    except ImportError:
        hint = f"{module} is needed for this test: pip install {pip} (see requirements.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"{hint}; under CI a missing dependency is a failure, not a skip")
        pytest.skip(f"SKIPPED, NOT PASSED: {hint}")


def tiny_spec(**kw) -> SweepSpec:
    base = dict(
        data=DataConfig("noisy_sine", params={"length": 160, "seed": 3}, lookback=6, split=(0.7, 0.15, 0.15)),
        model={"hidden_size": 4, "dropout": 0.1},
        train={"epochs": 2, "batch_size": 16},
        contestants=[Contestant("adam", "keras"), Contestant("rmsprop")],
        grid={"lr": [0.02, 0.005], "batch_size": [16, 32]},
        seeds=[0, 1],
    )
    return SweepSpec(**{**base, **kw})


def comparable(record: dict) -> dict:
    """A record without what legitimately differs between two runs of the same cell: wall-clock times and the
    store's own fields."""
    r = to_jsonable(record)
    r = {k: v for k, v in r.items() if k not in ("timings", "id", "sweep_id", "created")}
    r["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]]
    return r


@pytest.fixture(scope="module")
def spec():
    return tiny_spec()


@pytest.fixture(scope="module")
def sequential(spec):
    """Every cell run one after the other in this process: the reference."""
    return [comparable(r) for c in cells(spec) for r in run_cell(c)["records"]]


# ---- worker-side helpers ------------------------------------------------------------------------------------


def failing_runner(cell: Cell) -> dict:
    if cell.seed == 1 and cell.params.get("batch_size") == 32:
        raise RuntimeError(f"boom in cell {cell.index}")
    return run_cell(cell)


def crashing_runner(cell: Cell) -> dict:
    if cell.index == 0:
        time.sleep(3.0)  # let the other worker finish the rest first
        os._exit(3)  # the worker process dies without a word
    return run_cell(cell)


def slow_runner(cell: Cell) -> dict:
    """Cell 0 trains for real; every other cell 'trains' for a minute (a stop must not wait for it)."""
    if cell.index != 0:
        time.sleep(60.0)
    return run_cell(cell)


def blas_runner(cell: Cell) -> dict:
    from threadpoolctl import threadpool_info

    from gru_core import _blas

    threads = sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
    env = [os.environ.get("GRU_LAB_BLAS_THREADS"), os.environ.get("GRU_LAB_BIG_BLAS_THREADS")]
    return {"records": [{"cell_key": cell.key, "label": "probe", "pid": os.getpid(), "small": _blas._small,
                         "big": _blas._big, "blas_threads": threads, "env": env}]}  # fmt: skip


# ---- cells ----------------------------------------------------------------------------------------------------


def test_cells_count_order_and_content(spec):
    cs = cells(spec)
    assert len(cs) == 2 * 2 * 2  # lr × batch_size × seeds
    assert [c.index for c in cs] == list(range(8))
    assert [(c.params["lr"], c.params["batch_size"], c.seed) for c in cs[:4]] == [
        (0.02, 16, 0), (0.02, 16, 1), (0.02, 32, 0), (0.02, 32, 1)]  # fmt: skip
    c = cs[2]
    assert c.train["batch_size"] == 32 and c.train["seed"] == 0 and c.model["seed"] == 0
    assert c.model["hidden_size"] == 4 and c.model["output_size"] == 1
    assert [o["hyper"]["lr"] for o in c.contestants] == [0.02, 0.02]
    assert [o["label"] for o in c.contestants] == ["Adam (keras)", "RMSprop"]
    assert len({c.key for c in cs}) == 8
    assert len({c.config_key for c in cs}) == 4
    assert cs[0].config_key == cs[1].config_key and cs[0].key != cs[1].key


def test_cell_keys_are_stable_hashes_of_the_canonical_json(spec):
    cs = cells(spec)
    assert [c.key for c in cs] == [c.key for c in cells(spec)]
    assert [c.key for c in cells(SweepSpec.from_json(spec.to_json()))] == [c.key for c in cs]
    for c in cs[:2]:
        ident = {"data": c.data, "model": c.model, "train": c.train, "optimizers": c.contestants}
        text = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        assert c.key == hashlib.sha256(text.encode()).hexdigest()[:20]
    # the grid's order changes the cells' order, not their keys; equal values of other types are the same cell
    swapped = tiny_spec(grid={"batch_size": ["16", 32.0], "learning_rate": [0.02, "5e-3"]})
    assert sorted(c.key for c in cells(swapped)) == sorted(c.key for c in cs)
    # any change of setting changes the key
    assert cells(tiny_spec(grid={"lr": [0.021]}, seeds=[0]))[0].key not in {c.key for c in cs}
    assert cells(tiny_spec(model={"hidden_size": 4, "dropout": 0.2}))[0].key != cs[0].key


def test_cell_keys_are_the_same_in_a_fresh_interpreter(spec):
    code = ("from test_sweep import tiny_spec; from gru_core.sweep import cells; "
            "print(' '.join(c.key for c in cells(tiny_spec())))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]), "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [c.key for c in cells(spec)]


def test_spec_validation_names_the_problem():
    with pytest.raises(ValueError, match="cannot sweep over 'colour'"):
        tiny_spec(grid={"colour": ["red"]})
    with pytest.raises(ValueError, match="seeds"):
        tiny_spec(grid={"seed": [1, 2]})
    with pytest.raises(ValueError, match="repeated"):
        tiny_spec(grid={"batch_size": [16, "16"]})
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        tiny_spec(grid={"batch_size": [16.5]})
    with pytest.raises(ValueError, match="distinct labels"):
        tiny_spec(contestants=["adam", "adam"])
    with pytest.raises(ValueError, match="hidden_size"):
        cells(tiny_spec(grid={"hidden_size": [4, 0]}))
    with pytest.raises(ValueError, match="unknown optimizer"):
        tiny_spec(contestants=["adamz"])  # no such optimizer
    assert tiny_spec(seeds=3).seeds == [0, 1, 2]


def test_random_search_is_seeded_log_uniform_and_crossed_with_the_grid():
    search = RandomSearch(n=300, space={"lr": {"low": 1e-4, "high": 1e-1}, "hidden_size": {"choices": [4, 8]},
                                        "dropout": {"low": 0.0, "high": 0.5}}, seed=7)  # fmt: skip
    a, b = sample_space(search), sample_space(RandomSearch(**json.loads(json.dumps(search.__dict__))))
    assert a == b and len(a) == 300
    assert sample_space(RandomSearch(n=300, space=search.space, seed=8)) != a
    lrs = [p["lr"] for p in a]
    assert all(1e-4 <= v <= 1e-1 for v in lrs)
    # log-uniform over three decades: about a third below 1e-3 (uniform would put 0.9% there)
    below = sum(v < 1e-3 for v in lrs) / len(lrs)
    assert 0.23 < below < 0.44
    assert {p["hidden_size"] for p in a} == {4, 8}
    assert all(0 <= p["dropout"] <= 0.5 for p in a)
    spec = tiny_spec(grid={"batch_size": [16, 32]}, search=RandomSearch(3, {"lr": {"low": 1e-3, "high": 1e-1}}),
                     seeds=[0])  # fmt: skip
    cs = cells(spec)
    assert len(cs) == 6 and [set(c.params) for c in cs] == [{"batch_size", "lr"}] * 6
    assert SweepSpec.from_dict(json.loads(spec.to_json())).key == spec.key


# ---- one cell: lockstep is free --------------------------------------------------------------------------


def test_a_lockstep_cell_gives_each_optimizer_the_numbers_of_a_race_of_its_own(spec):
    cell = cells(spec)[1]
    both = run_cell(cell)["records"]
    for k, opt in enumerate(spec.contestants):
        alone = cells(tiny_spec(contestants=[opt]))[1]
        (solo,) = run_cell(alone)["records"]
        a, b = comparable(both[k]), comparable(solo)
        for key in ("cell_key", "config_key", "config"):
            a.pop(key), b.pop(key)
        assert a == b


def test_run_cell_reports_metrics_on_test_and_validation(spec):
    out = run_cell(cells(spec)[0])
    assert out["cell_key"] == cells(spec)[0].key and len(out["records"]) == 2
    for r in out["records"]:
        assert set(r["test"]) >= {"mse", "rmse", "mae", "mape", "r2"} and set(r["val"]) >= {"mse", "mape"}
        # 160 points, lookback 6: 154 windows; train floor(0.7·154) = 107, val floor(0.15·154) = 23, test the rest
        assert r["test"]["n"] == 24 and r["val"]["n"] == 23
        assert r["test"]["rmse"] == pytest.approx(math.sqrt(r["test"]["mse"]))
        assert len(r["history"]) == 2 and r["stopped_epoch"] == 2 and r["diverged"] is False
        assert set(r["timings"]) == {"train_seconds", "prep_seconds", "cell_seconds"}
        assert {"python", "numpy", "pandas", "gru_core"} <= set(r["versions"])
        assert r["params"] == {"lr": 0.02, "batch_size": 16} and r["hyperparams"]["lr"] == 0.02


# ---- executors: the same numbers, bit for bit ------------------------------------------------------------------


def test_process_pool_results_equal_sequential_runs_exactly(spec, sequential):
    seen = []
    result = run_sweep(spec, workers=2, progress=seen.append)
    assert result.ok and result.ran == 8 and result.executor == "process pool (2 workers)"
    assert [comparable(r) for r in result.records] == sequential
    assert [p.done for p in seen] == list(range(9)) and seen[-1].eta == 0 and seen[0].cell is None
    assert all(p.total == 8 for p in seen)


def test_embedded_dask_results_equal_sequential_runs_exactly(spec, sequential):
    need("dask.distributed", '"dask[distributed]"')
    result = run_sweep(spec, workers=2, scheduler="local-dask-threads")
    assert result.ok and result.executor.startswith("dask")
    assert [comparable(r) for r in result.records] == sequential


def test_dask_worker_processes_give_the_same_numbers(spec, sequential):
    need("dask.distributed", '"dask[distributed]"')
    result = run_sweep(spec, workers=2, scheduler="local-dask")  # real worker processes (LocalCluster)
    assert result.ok
    assert [comparable(r) for r in result.records] == sequential


def test_in_process_results_equal_sequential_runs(spec, sequential):
    result = run_sweep(spec, workers=0)
    assert result.executor == "in-process" and [comparable(r) for r in result.records] == sequential


def test_worker_processes_use_one_blas_thread(spec):
    result = run_sweep(tiny_spec(grid={"lr": [0.1, 0.2]}, seeds=[0]), workers=2, runner=blas_runner)
    assert result.ok and len(result.records) == 2
    for probe in result.records:
        assert probe["pid"] != os.getpid()
        assert probe["env"] == ["1", "1"] and probe["small"] == 1 and probe["big"] == 1
        assert set(probe["blas_threads"]) <= {1}


# ---- store, resume, failures ---------------------------------------------------------------------------------


def test_resume_runs_only_the_missing_cells(spec, sequential, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    first = run_sweep(spec, workers=0, store=store, runner=failing_runner)
    assert first.status == "failed" and first.ran == 6 and len(first.failures) == 2
    assert all("boom in cell" in f["error"] and "RuntimeError" in f["traceback"] for f in first.failures)
    assert not any(f["lost"] for f in first.failures) and "2 of 8 cells failed" in first.message
    assert store.get_sweep(first.sweep_id)["status"] == "failed"
    assert store.count_runs(sweep_id=first.sweep_id) == 12

    ran = []
    second = run_sweep(spec, workers=0, store=store, progress=lambda p: p.cell and ran.append(p.cell.key))
    assert second.sweep_id == first.sweep_id and second.skipped == 6 and second.ran == 2
    assert sorted(ran) == sorted(f["cell_key"] for f in first.failures)
    assert second.ok and store.get_sweep(second.sweep_id)["status"] == "finished"
    assert [comparable(r) for r in second.records] == sequential  # stored and fresh records, in grid order
    assert store.count_runs(sweep_id=first.sweep_id) == 16

    third = run_sweep(spec, workers=2, store=store)
    assert third.ran == 0 and third.skipped == 8 and third.executor == "nothing to run"
    fresh = run_sweep(tiny_spec(seeds=[0]), workers=0, store=store, resume=False)
    assert fresh.sweep_id != first.sweep_id and fresh.ran == 4


def test_a_killed_worker_leaves_the_store_consistent_and_the_sweep_resumable(spec, sequential, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    result = run_sweep(spec, workers=2, store=store, runner=crashing_runner)
    assert result.status == "failed" and "worker died" in result.message
    lost = [f for f in result.failures if f["lost"]]
    assert lost and 0 in [f["cell_index"] for f in lost]
    assert all("worker process died" in f["error"] for f in lost)
    done = {r["cell_key"] for r in result.records}
    assert cells(spec)[0].key not in done
    assert len(done) + len(result.failures) == 8
    assert len(done) == 7  # the other worker finished every other cell while cell 0 slept
    # whole cells only, and exactly the sequential numbers
    stored = store.runs(sweep_id=result.sweep_id)
    assert stored.groupby("cell_key").size().eq(2).all() and set(stored["cell_key"]) == done
    by_key = {r["cell_key"]: comparable(r) for r in store.records(sweep_id=result.sweep_id) if r["label"] == "RMSprop"}
    expect = {r["cell_key"]: r for r in sequential if r["label"] == "RMSprop"}
    assert by_key == {k: expect[k] for k in by_key}
    assert store.get_sweep(result.sweep_id)["status"] == "failed"

    again = run_sweep(spec, workers=2, store=store)
    assert again.ok and again.ran == 8 - len(done)
    assert [comparable(r) for r in again.records] == sequential


@pytest.mark.parametrize("workers", [0, 2])
def test_an_interrupted_sweep_keeps_whole_cells_and_says_so(spec, sequential, tmp_path, workers):
    store = RunStore(tmp_path / "runs.sqlite")

    def stop_after_two(p):
        if p.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, workers=workers, store=store, progress=stop_after_two)
    (sweep,) = store.sweeps().to_dict("records")
    assert sweep["status"] == "interrupted" and sweep["n_runs"] == 4 and "2 cells stored" in sweep["message"]
    again = run_sweep(spec, workers=workers, store=store)
    assert again.ok and again.skipped == 2 and again.ran == 6
    assert [comparable(r) for r in again.records] == sequential


def test_a_stop_event_ends_cells_in_flight_in_worker_processes(spec, sequential, tmp_path):
    import multiprocessing
    import threading

    store = RunStore(tmp_path / "runs.sqlite")
    stop = threading.Event()

    def stop_after_the_first(p):
        if p.done == 1:
            stop.set()  # the other worker is 1 s into a 60 s cell

    t0 = time.perf_counter()
    with pytest.raises(SweepCancelled):
        run_sweep(spec, workers=2, store=store, runner=slow_runner, progress=stop_after_the_first, stop=stop)
    seconds = time.perf_counter() - t0
    assert seconds < 40, f"the stop waited for the cell in flight ({seconds:.0f} s)"
    assert not [p for p in multiprocessing.active_children() if p.is_alive()], "worker processes left running"
    (sweep,) = store.sweeps().to_dict("records")
    assert sweep["status"] == "interrupted" and sweep["n_runs"] == 2  # cell 0 only, whole
    again = run_sweep(spec, workers=0, store=store)  # resumes: cell 0 from the store
    assert again.ok and again.skipped == 1 and again.ran == 7
    assert [comparable(r) for r in again.records] == sequential


def test_a_stop_event_in_this_process_acts_between_cells(spec, tmp_path):
    import threading

    store = RunStore(tmp_path / "runs.sqlite")
    stop = threading.Event()

    def stop_after_two(p):
        if p.done == 2:
            stop.set()

    with pytest.raises(SweepCancelled):
        run_sweep(spec, workers=0, store=store, progress=stop_after_two, stop=stop)
    assert store.count_runs() == 4  # two whole cells, nothing of the third


def test_bad_data_options_fail_before_anything_runs(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    with pytest.raises(ValueError, match="lookback"):
        run_sweep(tiny_spec(grid={"lookback": [6, 500]}), workers=2, store=store)
    assert store.sweeps().empty and store.count_runs() == 0


# ---- command line ---------------------------------------------------------------------------------------------


def sweep_main(argv):
    from gru_core.cli.sweep import add_sweep_parser

    ap = argparse.ArgumentParser(prog="python -m gru_core")
    add_sweep_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


def test_sweep_command_prints_the_summary_and_writes_json_csv(tmp_path, capsys):
    out_json, out_csv, db = tmp_path / "s.json", tmp_path / "s.csv", tmp_path / "runs.sqlite"
    argv = ["sweep", "--data", "noisy_sine", "--data-param", "length=160", "--data-param", "seed=3", "--hidden", "4",
            "--dropout", "0.1", "--lookback", "6", "--epochs", "2", "--optimizers",
            "adam,rmsprop", "--flavor", "keras", "--grid", "lr=0.02,0.005", "--grid", "batch_size=16,32",
            "--seeds", "3", "--workers", "2", "--store", str(db), "--json", str(out_json), "--csv", str(out_csv),
            "--split", "0.7,0.15,0.15"]  # fmt: skip
    assert sweep_main(argv) == 0
    text = capsys.readouterr().out
    assert "4 configurations × 3 seeds = 12 cells" in text
    assert "paired: Adam (keras) − RMSprop (keras)" in text and "best configuration per optimizer" in text
    assert "persistence" in text and "lr=0.02, batch_size=16" in text
    payload = json.loads(out_json.read_text())
    assert payload["status"] == "finished" and len(payload["records"]) == 24
    assert {"groups", "paired", "lr", "best"} <= set(payload["summary"])
    assert payload["summary"]["paired"][0]["n"] == 12
    df = pd.read_csv(out_csv)
    assert len(df) == 24 and {"test_mape", "val_mse", "lr", "batch_size", "seed", "label"} <= set(df.columns)
    assert RunStore(db).count_runs() == 24

    assert sweep_main(argv) == 0  # again: everything comes from the store
    assert "0 cells run now, 12 from the store" in capsys.readouterr().out

    assert sweep_main([*argv[:-2], "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert listing.count(" seed ") == 12


def test_sweep_command_reports_bad_options(capsys):
    assert sweep_main(["sweep", "--data", "noisy_sine", "--grid", "colour=red", "--no-store"]) == 2
    assert "cannot sweep over 'colour'" in capsys.readouterr().err
    assert sweep_main(["sweep", "--data", "no_such_thing.csv", "--no-store", "--workers", "0"]) == 2
    assert "neither a dataset name nor an existing file" in capsys.readouterr().err
    assert sweep_main(["sweep", "--data", "noisy_sine", "--seeds", "zero", "--no-store"]) == 2
    assert "seeds: a count (3), a range (1-5) or a list" in capsys.readouterr().err


def test_sweep_command_runs_a_spec_file_and_a_random_search(tmp_path, capsys):
    spec = tiny_spec(grid={}, search=RandomSearch(2, {"lr": {"low": 1e-3, "high": 1e-1}}, seed=1), seeds=[0])
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    out = tmp_path / "o.json"
    assert sweep_main(["sweep", "--spec", str(path), "--no-store", "--workers", "0", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["spec_key"] == spec.key and len(payload["records"]) == 4
    lrs = sorted({r["params"]["lr"] for r in payload["records"]})
    assert lrs == sorted(p["lr"] for p in sample_space(spec.search))
    capsys.readouterr()


def test_sweep_benchmark_quick_mode_runs_and_checks_identical_numbers():
    proc = subprocess.run([sys.executable, "bench/bench_sweep.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "runs/min" in proc.stdout
    if (os.cpu_count() or 1) > 1:
        assert "identical numbers with 1 and" in proc.stdout and ": True" in proc.stdout, proc.stdout
        assert "scaling ratio" in proc.stdout
