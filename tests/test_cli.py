"""The command line, and the original study's experiment re-run on a CSV shaped like its data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from gru_core import GRUConfig
from gru_core.cli import main
from gru_core.jsonio import to_jsonable
from gru_core.model.files import load_model


@pytest.fixture(scope="module")
def study_csv(tmp_path_factory):
    """1,262 business days of a tin-like price: UTF-8 BOM, CRLF, ';' separator, dd/mm/yyyy, Date;Close."""
    dates = pd.bdate_range("2019-01-02", periods=1262)
    rng = np.random.default_rng(2019)
    price = np.round(20000 * np.exp(np.cumsum(rng.normal(0, 0.012, len(dates)))), 2)  # as written below
    lines = ["Date;Close"] + [f"{d:%d/%m/%Y};{p:.2f}" for d, p in zip(dates, price)]
    path = tmp_path_factory.mktemp("study") / "tin_like.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    return path, dates, price


def test_study_protocol_end_to_end(study_csv, tmp_path, capsys):
    path, dates, price = study_csv
    out = tmp_path / "out.json"
    code = main([
        "compare", "--data", str(path), "--optimizers", "adam,rmsprop", "--flavor", "keras", "--hidden", "16",
        "--lookback", "20", "--epochs", "4", "--batch-size", "64", "--lr", "0.01", "--dropout", "0.3",
        "--split", "0.81,0.09,0.10", "--split-by", "series", "--fit-scaler-on", "all", "--patience", "3",
        "--no-restore-best", "--init", "keras", "--seed", "123", "--json", str(out),
        "--save-model", str(tmp_path / "tin"),
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline: persistence" in printed and "baseline: linear" in printed and "verdict" in printed
    res = json.loads(out.read_text())
    assert res["data"]["n_test"] == 107  # the study's 107 test targets: last 10% of rows, minus the lookback
    assert [r["optimizer"] for r in res["runs"]] == ["adam", "rmsprop"]
    for r in res["runs"]:
        assert set(r["test"]) >= {"mse", "rmse", "mae", "mape", "r2"}
        assert {"best_epoch", "stopped_epoch", "diverged", "history"} <= set(r)
        assert r["hyperparams"]["eps"] == 1e-7  # Keras flavour
        assert 1 <= len(r["history"]) <= 4
    # persistence computed here, independently: the last 107 closes against the day before each
    truth, prev = price[-107:], price[-108:-1]
    mape = 100 * np.mean(np.abs((truth - prev) / truth))
    assert res["baselines"]["persistence"]["mape"] == pytest.approx(mape, rel=1e-9)
    assert res["model"]["hidden_size"] == 16 and res["train"]["patience"] == 3
    for name in ("adam", "rmsprop"):  # what the trained models really were built with, from the saved files
        ck = load_model(tmp_path / f"tin_{name}_keras.npz")  # Keras flavour: the _keras suffix
        assert (ck.model.dropout, ck.model.init, ck.model.hidden_size, ck.model.seed) == (0.3, "keras", 16, 123)
        assert ck.model.config == GRUConfig(**res["model"])  # the --json report says what the model got


def test_datasets_command_lists_the_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for key in ("sine", "mackey_glass", "sunspots", "adding_problem"):
        assert key in out


def test_unknown_data_is_a_clear_error(capsys):
    assert main(["compare", "--data", "no-such-thing.csv", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "neither a dataset name nor an existing file" in err


def test_unknown_optimizer_is_a_clear_error(capsys):
    assert main(["compare", "--data", "sine", "--optimizers", "adam,adamz", "--epochs", "1"]) == 2
    assert "unknown optimizer 'adamz'" in capsys.readouterr().err


def test_bad_split_is_refused():
    with pytest.raises(SystemExit):
        main(["compare", "--data", "sine", "--split", "0.5,0.5"])


def test_diverging_learning_rate_is_reported(capsys):
    code = main(["compare", "--data", "sine", "--optimizers", "sgd,adam", "--lr", "1e6", "--epochs", "2",
                 "--hidden", "4"])  # fmt: skip
    assert code == 0
    assert "DIVERGED at epoch 1" in capsys.readouterr().out


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "gru_core", "datasets"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "noisy_sine" in proc.stdout


def test_to_jsonable_makes_strict_json():
    obj = {"a": np.float32(1.5), "b": float("nan"), "c": np.arange(3), "d": (np.int64(2), np.bool_(True))}
    out = to_jsonable(obj)
    assert out == {"a": 1.5, "b": None, "c": [0, 1, 2], "d": [2, True]}
    json.dumps(out, allow_nan=False)


def run_cli(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "gru_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_a_run_too_big_for_memory_is_refused_before_allocating():
    import time

    t0 = time.perf_counter()
    line = one_line_error(run_cli("compare", "--data", "sine", "--hidden-size", "100000", "--epochs", "1"))
    assert "needs about" in line and "hidden_size 100000" in line and "GB" in line
    assert time.perf_counter() - t0 < 60  # nothing of the ~240 GB was allocated
    line = one_line_error(run_cli("sweep", "--data", "sine", "--grid", "hidden_size=8,100000", "--epochs", "1",
                                  "--no-store", "--workers", "0"))  # fmt: skip
    assert "needs about" in line or "parameters" in line


def test_an_output_path_that_cannot_be_written_is_refused_before_training(tmp_path):
    missing = str(tmp_path / "no" / "x.json")
    line = one_line_error(run_cli("compare", "--data", "sine", "--epochs", "1", "--json", missing))
    assert "does not exist" in line and "x.json" in line
    line = one_line_error(run_cli("compare", "--data", "sine", "--epochs", "1", "--json", str(tmp_path)))
    assert "is a folder" in line
    line = one_line_error(run_cli("compare", "--data", "sine", "--epochs", "1", "--save-model",
                                  str(tmp_path / "no" / "m")))  # fmt: skip
    assert "does not exist" in line
    line = one_line_error(run_cli("sweep", "--data", "sine", "--epochs", "1", "--no-store", "--csv",
                                  str(tmp_path / "no" / "x.csv")))  # fmt: skip
    assert "does not exist" in line


def test_a_dask_scheduler_that_does_not_answer_is_a_one_line_error():
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("sweep", "--data", "sine", "--epochs", "1", "--no-store", "--scheduler", f"tcp://127.0.0.1:{port}",
                   env={"GRU_LAB_SCHEDULER_TIMEOUT": "2"}, timeout=120)  # fmt: skip
    line = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert line.startswith("error: ") and "did not answer" in line and str(port) in line


def test_the_progress_bar_is_quiet_off_a_terminal_unless_asked():
    quiet = run_cli("compare", "--data", "sine", "--epochs", "3", "--hidden-size", "4")
    assert quiet.returncode == 0 and "3/3" not in quiet.stderr
    loud = run_cli("compare", "--data", "sine", "--epochs", "3", "--hidden-size", "4", "--progress")
    assert loud.returncode == 0 and "3/3" in loud.stderr and "epoch" in loud.stderr
