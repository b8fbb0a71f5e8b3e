"""Tests for gru_core.data.datasets: every registry entry, determinism, real series, the adding problem."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gru_core.data.csv import load_csv
from gru_core.data.datasets import (
    DATASETS,
    TIN_CSV,
    DatasetSpec,
    adding_problem,
    describe_dataset,
    list_datasets,
    load_dataset,
    load_task,
    mackey_glass,
)

SERIES = [s.key for s in list_datasets() if s.kind != "task"]
SYNTHETIC = [s.key for s in list_datasets("synthetic")]
REAL = [s.key for s in list_datasets("real")]
TIN_FILE = Path(__file__).resolve().parents[1] / "gru_core" / "data" / "files" / "tin_price.csv"
STUDY_REPO = "Gated-Recurrent-Unit-GRU-with-Adam-and-RMSProp-Optimization"


def test_registry_shape():
    assert (
        len(SYNTHETIC) >= 8
        and len(REAL) >= 3
        and [s.key for s in list_datasets("task")] == ["adding_problem"]
    )
    for key, spec in DATASETS.items():
        assert isinstance(spec, DatasetSpec) and spec.key == key
        assert spec.name and spec.description and spec.source and spec.units
        assert spec.kind in ("synthetic", "real", "task")
        assert callable(spec.loader)
        json.dumps(spec.params)  # plain JSON-able defaults for the page
    with pytest.raises(ValueError, match="kind"):
        list_datasets("fake")


@pytest.mark.parametrize("key", SERIES)
def test_every_series_loads(key):
    s = load_dataset(key)
    spec = DATASETS[key]
    assert isinstance(s, pd.Series)
    assert s.dtype == np.float64
    assert np.all(np.isfinite(s.to_numpy()))
    assert s.name == spec.name
    for attr in ("units", "name", "source", "n_missing", "notes"):
        assert attr in s.attrs
    assert s.attrs["units"] == spec.units
    if spec.kind == "synthetic":
        assert isinstance(s.index, pd.RangeIndex)
        assert len(s) == 1000
    else:
        assert isinstance(s.index, pd.DatetimeIndex)
        assert s.index.is_monotonic_increasing and not s.index.has_duplicates


@pytest.mark.parametrize("key", SYNTHETIC)
def test_synthetic_deterministic_and_seed_matters(key):
    spec = DATASETS[key]
    extra = {"noise": 0.1} if spec.params.get("noise", 1) == 0 else {}
    a = load_dataset(key, seed=1, length=200, **extra)
    b = load_dataset(key, seed=1, length=200, **extra)
    c = load_dataset(key, seed=2, length=200, **extra)
    assert len(a) == 200
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_clean_sine_by_hand():
    s = load_dataset("sine", length=8, period=4.0)
    np.testing.assert_allclose(s.to_numpy(), [0, 1, 0, -1, 0, 1, 0, -1], atol=1e-12)


def test_square_and_sawtooth_by_hand():
    sq = load_dataset("square_wave", length=8, period=4.0)
    np.testing.assert_array_equal(sq.to_numpy(), [1, 1, -1, -1, 1, 1, -1, -1])
    saw = load_dataset("sawtooth", length=5, period=4.0)
    np.testing.assert_allclose(saw.to_numpy(), [-1, -0.5, 0, 0.5, -1])


def test_random_walk_steps():
    s = load_dataset("random_walk", length=5000, step_std=2.0, start=10.0, seed=3).to_numpy()
    assert s[0] == 10.0
    assert np.std(np.diff(s)) == pytest.approx(2.0, rel=0.05)


def test_ar2_is_recovered_by_least_squares():
    x = load_dataset("ar2", length=20000, phi1=1.2, phi2=-0.5, noise=1.0, seed=5).to_numpy()
    A = np.column_stack([x[1:-1], x[:-2]])
    coef, *_ = np.linalg.lstsq(A, x[2:], rcond=None)
    np.testing.assert_allclose(coef, [1.2, -0.5], atol=0.02)


def test_mackey_glass_converges_with_step_and_stays_in_known_range():
    coarse = mackey_glass(length=60, dt=0.1, burn_in=0.0)
    fine = mackey_glass(length=60, dt=0.05, burn_in=0.0)
    np.testing.assert_allclose(coarse, fine, atol=1e-3)
    assert coarse[0] == 1.2  # the constant history x0
    x = load_dataset("mackey_glass").to_numpy()
    assert 0.2 < x.min() < 0.6 and 1.1 < x.max() < 1.45  # tau=17 attractor range
    assert np.std(x) > 0.15  # chaotic, not a fixed point


def test_real_series_facts():
    sun = load_dataset("sunspots")
    assert len(sun) == 309 and sun.index[0] == pd.Timestamp("1700-01-01") and sun.index[-1].year == 2008
    assert sun.attrs["frequency"] == "yearly"
    co2 = load_dataset("co2")
    assert co2.index[0] == pd.Timestamp("1958-03-29") and co2.index[-1] == pd.Timestamp("2001-12-29")
    assert co2.attrs["n_missing"] > 0 and "interpolation" in co2.attrs["notes"][0]
    assert len(co2) == 2284
    assert 300 < co2.min() and co2.max() < 400  # ppm
    dropped = load_dataset("co2", missing="drop")
    assert len(dropped) == 2284 - co2.attrs["n_missing"]
    nile = load_dataset("nile")
    assert len(nile) == 100 and nile.index[0].year == 1871 and nile.index[-1].year == 1970
    assert nile.iloc[0] == 1120.0  # first value in Cobb (1978)
    nino = load_dataset("elnino")
    assert len(nino) == 61 * 12 and nino.index[0] == pd.Timestamp("1950-01-01")
    assert nino.index[1] == pd.Timestamp("1950-02-01")
    assert nino.iloc[0] == 23.11 and nino.iloc[1] == 24.20  # Jan and Feb 1950 in the shipped table
    assert 15 < nino.min() and nino.max() < 32  # degrees Celsius


def test_tin_bundled_file_is_the_study_csv_as_published():
    raw = TIN_FILE.read_bytes()
    assert TIN_CSV == TIN_FILE  # the loader reads the file that ships in the package folder
    assert raw.startswith(b"\xef\xbb\xbfDate;Close\r\n")  # UTF-8 BOM, ';', CRLF: kept as published
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == raw.count(b"\n") == 1263  # header + 1,262 rows


def test_tin_series_facts():
    tin = load_dataset("tin")
    assert len(tin) == 1262 and tin.dtype == np.float64 and not tin.isna().any()
    assert isinstance(tin.index, pd.DatetimeIndex) and tin.index.name == "date"
    assert tin.index[0] == pd.Timestamp("2019-01-02") and tin.index[-1] == pd.Timestamp("2023-12-29")
    assert tin.index[1] == pd.Timestamp("2019-01-03")  # "03/01/2019" is day-first (not 1 March)
    assert (np.diff(tin.index.asi8) > 0).all()  # strictly increasing dates
    assert tin.iloc[0] == 19482.5
    last = TIN_FILE.read_bytes().decode("utf-8").strip().split("\r\n")[-1]  # "dd/mm/yyyy;value"
    day, value = last.split(";")
    d, m, y = (int(p) for p in day.split("/"))
    assert tin.index[-1] == pd.Timestamp(year=y, month=m, day=d) and tin.iloc[-1] == float(value)
    assert 10_000 < tin.min() and tin.max() < 60_000  # USD per tonne
    assert tin.attrs["units"] == "USD per tonne" and tin.attrs["frequency"] == "daily (trading days)"
    assert tin.attrs["n_missing"] == 0 and tin.attrs["notes"] == []


def test_tin_matches_the_csv_reader_with_detection():
    tin = load_dataset("tin")
    detected = load_csv(TIN_FILE)  # separator, BOM, CRLF and day-first dates all detected
    assert detected.attrs["dayfirst"] is True and detected.attrs["separator"] == ";"
    np.testing.assert_array_equal(tin.to_numpy(), detected.to_numpy())
    assert (tin.index == detected.index).all()


def test_tin_names_the_study_repository():
    spec = DATASETS["tin"]
    assert spec.kind == "real" and spec.params == {}
    assert STUDY_REPO in spec.source and "London Metal Exchange" in spec.source
    assert "study" in spec.description and "London Metal Exchange" in spec.description
    assert STUDY_REPO in describe_dataset("tin")


def test_real_series_need_no_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    for key in REAL:
        assert len(load_dataset(key)) > 50


def test_unknown_key_and_bad_params():
    with pytest.raises(ValueError, match="Unknown dataset 'nope'.*sine.*sunspots"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="'wavelength'.*period"):
        load_dataset("sine", wavelength=3)
    with pytest.raises(ValueError, match="'length'"):
        load_dataset("sine", length=0)
    with pytest.raises(ValueError, match="'noise'"):
        load_dataset("noisy_sine", noise=-1)
    with pytest.raises(ValueError, match="non-stationary"):
        load_dataset("ar2", phi1=1.0, phi2=0.5)
    with pytest.raises(ValueError, match="'missing'"):
        load_dataset("co2", missing="zero")


def test_adding_problem_shapes_markers_and_targets():
    X, y = adding_problem(n_samples=300, T=40, seed=7)
    assert X.shape == (300, 40, 2) and y.shape == (300, 1)
    assert X[:, :, 0].min() >= 0 and X[:, :, 0].max() < 1
    markers = X[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :20].sum(axis=1) == 1) and np.all(markers[:, 20:].sum(axis=1) == 1)
    for i in range(300):
        marked = [X[i, t, 0] for t in range(40) if X[i, t, 1] == 1.0]
        assert y[i, 0] == pytest.approx(marked[0] + marked[1])
    X2, _y2 = adding_problem(n_samples=300, T=40, seed=7)
    np.testing.assert_array_equal(X, X2)
    X3, _ = adding_problem(n_samples=300, T=40, seed=8)
    assert not np.array_equal(X, X3)


def test_adding_problem_through_registry():
    with pytest.raises(ValueError, match="load_task"):
        load_dataset("adding_problem")
    X, y = load_task("adding_problem", n_samples=10, T=6)
    assert X.shape == (10, 6, 2) and y.shape == (10, 1)
    with pytest.raises(ValueError, match="load_dataset"):
        load_task("sine")
    with pytest.raises(ValueError, match="'T'"):
        load_task("adding_problem", T=1)
