"""The run store: round trips, filters, deletion, exports, concurrent writers, transactions that hold."""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from gru_core.config import DataConfig
from gru_core.store import RunStore, StoreError, default_store_path
from gru_core.sweep import SweepSpec


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


def make_record(label="Adam (keras)", optimizer="adam", seed=0, cell="cell-a", config="conf-a", mape=1.25,
                lr=0.01, diverged=False, epochs=3, **params):  # fmt: skip
    history = [{"epoch": e, "step": 10 * e, "train_loss": 1.0 / e, "val_loss": 0.5 / e, "grad_norm": 0.1,
                "update_norm": 0.01, "update_ratio": 1e-3, "lr": lr, "seconds": 0.01 * e}
               for e in range(1, epochs + 1)]  # fmt: skip
    return {
        "cell_key": cell, "config_key": config, "cell_index": 0, "seed": seed,
        "params": {"lr": lr, "batch_size": 32, **params}, "label": label, "optimizer": optimizer, "flavor": "keras",
        "hyperparams": {"lr": lr, "eps": 1e-7}, "status": "diverged" if diverged else "early_stopped",
        "diverged": diverged, "diverged_epoch": 2 if diverged else None, "best_epoch": None if diverged else 2,
        "stopped_epoch": epochs,
        "test": None if diverged else {"mse": 4.0, "rmse": 2.0, "mae": 1.5, "mape": mape, "r2": float("nan"),
                                       "n": 107},
        "val": None if diverged else {"mse": 3.0, "rmse": math.sqrt(3), "mae": 1.2, "mape": 0.9, "r2": 0.4, "n": 93},
        "baselines": {"persistence": {"mape": 1.168}, "linear": {"mape": 1.145}},
        "history": history,
        "config": {"data": {"source": "tin.csv", "lookback": 20}, "model": {"hidden_size": 16}, "train": {}},
        "timings": {"train_seconds": 0.5, "cell_seconds": 0.7},
        "versions": {"numpy": "2.x", "gru_core": "0.1.0"},
        "data_info": {"sha256": "abc"},
    }  # fmt: skip


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def test_a_run_comes_back_as_it_was_stored(store):
    rec = make_record()
    run_id = store.add_run(rec)
    back = store.get_run(run_id)
    assert back["id"] == run_id and back["sweep_id"] is None and back["created"]
    for key, value in rec.items():
        if key == "test":
            assert back["test"] == {**value, "r2": None}  # NaN is stored as JSON null
        else:
            assert back[key] == value, key
    with pytest.raises(KeyError):
        store.get_run(run_id + 100)


def test_the_store_file_is_wal_with_every_table(store):
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "sweeps", "meta"} <= tables
    con.close()
    RunStore(store.path)  # opening an existing store again is fine


def test_sweeps_round_trip_and_finish(store):
    spec = SweepSpec(data=DataConfig("noisy_sine", lookback=8), grid={"lr": [0.1, 0.01]}, seeds=2, name="demo")
    sid = store.add_sweep(spec, n_cells=4)
    got = store.get_sweep(sid)
    assert got["spec"] == spec.to_dict() and got["spec_key"] == spec.key and got["name"] == "demo"
    assert got["status"] == "running" and got["n_cells"] == 4 and got["finished"] is None
    assert SweepSpec.from_dict(got["spec"]).key == spec.key  # the stored spec rebuilds the same sweep
    assert store.find_sweep(spec.key) == sid and store.find_sweep("nope") is None
    store.add_runs([make_record(cell="c1"), make_record(cell="c2")], sweep_id=sid)
    store.finish_sweep(sid, "finished", "2 cells")
    got = store.get_sweep(sid)
    assert got["status"] == "finished" and got["message"] == "2 cells" and got["finished"]
    table = store.sweeps()
    assert table.loc[table["id"] == sid, "n_runs"].item() == 2
    assert store.has_cell(sid, "c1") and not store.has_cell(sid, "c3") and store.has_cell(None, "c2")
    assert store.cell_keys(sid) == {"c1", "c2"}
    with pytest.raises(KeyError):
        store.finish_sweep(sid + 1)


def test_runs_frame_and_filters(store):
    s1 = store.add_sweep({"grid": {}}, n_cells=2)
    s2 = store.add_sweep({"grid": {"x": [1]}}, n_cells=1)
    ids = store.add_runs([make_record(seed=0, mape=1.0), make_record("RMSprop (keras)", "rmsprop", seed=0, mape=2.0),
                          make_record(seed=1, cell="cell-b", mape=3.0)], sweep_id=s1)  # fmt: skip
    other = store.add_run(make_record("RMSprop (keras)", "rmsprop", cell="z", diverged=True), sweep_id=s2)
    df = store.runs()
    assert list(df["id"]) == [*ids, other]
    assert list(df["test_mape"].iloc[:3]) == [1.0, 2.0, 3.0] and math.isnan(df["test_mape"].iloc[3])
    assert df["val_rmse"].iloc[0] == pytest.approx(math.sqrt(3)) and math.isnan(df["test_r2"].iloc[0])
    assert list(df["batch_size"]) == [32] * 4 and df["config"].iloc[0] == "lr=0.01, batch_size=32"
    assert df["dataset"].iloc[0] == "tin.csv" and df["train_seconds"].iloc[0] == 0.5
    assert list(store.runs(sweep_id=s1)["id"]) == ids
    assert list(store.runs(optimizer="RMSPROP")["id"]) == [ids[1], other]
    assert list(store.runs(label="Adam (keras)", seed=1)["id"]) == [ids[2]]
    assert list(store.runs(diverged=True)["id"]) == [other]
    assert list(store.runs(status="early_stopped", sweep_id=s1, cell_key="cell-a")["id"]) == ids[:2]
    assert list(store.runs(ids=[ids[2], other])["id"]) == [ids[2], other]
    assert store.runs(ids=[]).empty and store.runs(sweep_id=999).empty
    assert store.runs(since="2000-01-01").shape[0] == 4 and store.runs(until="2000-01-01").empty
    hist = store.runs(ids=[ids[0]], include_history=True)["history"].iloc[0]
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert store.count_runs(sweep_id=s1) == 3


def test_store_frames_feed_the_statistics(store):
    from gru_core.stats import paired_comparison

    for seed, (a, b) in enumerate([(1.0, 2.0), (1.5, 1.0), (1.0, 3.0)]):
        store.add_runs([make_record(seed=seed, cell=f"c{seed}", mape=a),
                        make_record("RMSprop (keras)", "rmsprop", seed=seed, cell=f"c{seed}", mape=b)])  # fmt: skip
    pc = paired_comparison(store.runs(), "adam", "rmsprop")
    assert pc["n"] == 3 and pc["mean_diff"] == pytest.approx((-1.0 + 0.5 - 2.0) / 3)
    assert pc["wins_a"] == pytest.approx(2 / 3)


def test_delete_runs_and_sweeps(store):
    sid = store.add_sweep({"x": 1})
    ids = store.add_runs([make_record(cell=f"c{i}") for i in range(4)], sweep_id=sid)
    assert store.delete_runs([ids[0], ids[2], 12345]) == 2
    assert list(store.runs()["id"]) == [ids[1], ids[3]]
    with pytest.raises(KeyError):
        store.get_run(ids[0])
    assert store.delete_runs([]) == 0
    store.delete_sweep(sid)
    assert store.runs().empty and store.sweeps().empty


def test_the_same_run_stored_twice_in_a_sweep_is_kept_once(store):
    sid = store.add_sweep({"x": 1})
    first = store.add_run(make_record(mape=1.0), sweep_id=sid)
    again = store.add_run(make_record(mape=9.0), sweep_id=sid)
    assert again == first and store.count_runs() == 1 and store.get_run(first)["test"]["mape"] == 1.0
    store.add_run(make_record(), sweep_id=None)
    store.add_run(make_record(), sweep_id=None)  # outside a sweep nothing is deduplicated
    assert store.count_runs() == 3


def test_exports_read_back_with_pandas(store, tmp_path):
    need("openpyxl", "openpyxl")
    ids = store.add_runs([make_record(seed=0, mape=1.0), make_record("SGD", "sgd", seed=1, mape=2.5, epochs=2)])
    store.add_run(make_record(cell="not-exported"))
    csv_path = store.export(ids, "csv", tmp_path / "runs.csv")
    df = pd.read_csv(csv_path)
    assert list(df["id"]) == ids and list(df["test_mape"]) == [1.0, 2.5]
    assert list(df["label"]) == ["Adam (keras)", "SGD"]
    assert pd.read_csv(io.StringIO(store.export(ids, "csv")))["seed"].tolist() == [0, 1]

    text = store.export(ids, "json")
    records = json.loads(text)
    assert [r["id"] for r in records] == ids and len(records[1]["history"]) == 2
    assert records[0]["test"]["mape"] == 1.0 and records[0]["test"]["r2"] is None
    buf = io.StringIO()
    store.export(ids, "json", buf)
    assert json.loads(buf.getvalue()) == records
    frame = pd.read_json(io.StringIO(text))
    assert list(frame["label"]) == ["Adam (keras)", "SGD"]

    xlsx = tmp_path / "runs.xlsx"
    store.export(ids, "xlsx", xlsx)
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert list(sheets["runs"]["id"]) == ids and list(sheets["runs"]["test_mape"]) == [1.0, 2.5]
    hist = sheets["history"]
    assert list(hist["run_id"]) == [ids[0]] * 3 + [ids[1]] * 2 and list(hist["epoch"]) == [1, 2, 3, 1, 2]
    raw = store.export(None, "xlsx", optimizer="sgd")
    assert list(pd.read_excel(io.BytesIO(raw), sheet_name="runs")["label"]) == ["SGD"]
    with pytest.raises(ValueError, match="fmt"):
        store.export(ids, "parquet")


def test_an_exception_inside_a_transaction_leaves_no_partial_run(store):
    bad = make_record(cell="b")
    bad["extra"] = object()  # not JSON: fails after the first record's INSERT has run
    with pytest.raises(TypeError):
        store.add_runs([make_record(cell="a"), bad])
    assert store.count_runs() == 0
    with pytest.raises(RuntimeError):
        with store.transaction() as con:
            store._insert_run(con, make_record(cell="c"), None)
            raise RuntimeError("stopped mid-way")
    assert store.count_runs() == 0
    store.add_run(make_record(cell="d"))  # and the store is not left locked
    assert store.count_runs() == 1


def _die_mid_transaction(path):
    store = RunStore(path)
    original = store._insert_run

    def insert_then_die(con, record, sweep_id):
        out = original(con, record, sweep_id)
        os._exit(7)  # killed after the INSERT, before COMMIT
        return out

    store._insert_run = insert_then_die
    store.add_runs([make_record(cell="x"), make_record(cell="y")])


def test_a_process_killed_mid_transaction_leaves_the_store_consistent(store):
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_die_mid_transaction, args=(str(store.path),))
    p.start()
    p.join(60)
    assert p.exitcode == 7
    assert store.count_runs() == 0
    store.add_run(make_record(cell="after"))  # no lock left behind
    assert store.runs()["cell_key"].tolist() == ["after"]


def _writer(path, worker, n, barrier, timeout=60.0):
    store = RunStore(path, timeout=timeout)
    barrier.wait(60)  # everyone writes at once
    for i in range(n):
        # each call is one transaction of two runs (a sweep cell's optimizers)
        cell = f"w{worker}-{i}"
        store.add_runs([make_record(cell=cell, seed=i, mape=worker + i / 100),
                        make_record("RMSprop (keras)", "rmsprop", cell=cell, seed=i)], sweep_id=None)  # fmt: skip


def test_concurrent_writers_from_several_processes_lose_nothing(store):
    n_workers, n_each = 4, 30
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n_workers)
    procs = [ctx.Process(target=_writer, args=(str(store.path), w, n_each, barrier)) for w in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * n_workers
    df = store.runs()
    assert len(df) == 2 * n_workers * n_each
    assert df["id"].is_unique
    cells = df.groupby("cell_key")["label"].apply(sorted)
    assert set(cells.index) == {f"w{w}-{i}" for w in range(n_workers) for i in range(n_each)}
    assert all(labels == ["Adam (keras)", "RMSprop (keras)"] for labels in cells)


def test_default_path_and_bad_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_LAB_STORE", str(tmp_path / "env" / "mine.sqlite"))
    assert default_store_path() == tmp_path / "env" / "mine.sqlite"
    assert RunStore().path == tmp_path / "env" / "mine.sqlite" and (tmp_path / "env" / "mine.sqlite").exists()
    monkeypatch.delenv("GRU_LAB_STORE")
    assert default_store_path() == Path.home() / ".gru_lab" / "runs.sqlite"
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError):
        RunStore(junk)
