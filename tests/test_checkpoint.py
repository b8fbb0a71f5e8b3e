"""Saving and reloading a trained model as .npz: round trips, and every hostile file gets a clear error."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest

from gru_core import GRURegressor
from gru_core.cli import main
from gru_core.data import MinMaxScaler
from gru_core.model.files import FORMAT_VERSION, CheckpointError, load_model, save_model, save_model_bytes
from gru_core.optim import Adam, RMSprop


def trained(opt_cls=Adam, **kw):
    model = GRURegressor(1, 6, num_layers=2, seed=4, **kw)
    opt = opt_cls(lr=0.01)
    rng = np.random.default_rng(0)
    X, y = rng.random((16, 9, 1)), rng.random((16, 1))
    for _ in range(5):
        _, g = model.loss_and_grads(X, y)
        opt.step(model.params, g)
    return model, opt, X, y


def archive(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def entries(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob), allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


@pytest.mark.parametrize("opt_cls", [Adam, RMSprop])
def test_round_trip_is_exact_and_training_continues_identically(tmp_path, opt_cls):
    model, opt, X, y = trained(opt_cls)
    scaler = MinMaxScaler().fit(np.array([1.0, 5.0, 3.0]))
    path = tmp_path / "m.npz"
    save_model(path, model, optimizer=opt, data_config={"lookback": 9, "horizon": 1}, scaler=scaler)
    ck = load_model(path)
    np.testing.assert_array_equal(ck.model.params.flat, model.params.flat)
    assert ck.model.config == model.config
    assert ck.data_config == {"lookback": 9, "horizon": 1}
    assert ck.scaler == scaler.to_dict()
    assert ck.optimizer.steps == opt.steps == 5
    for name, st in opt.state.items():
        for k, v in st.items():
            np.testing.assert_array_equal(ck.optimizer.state[name][k], v)
    np.testing.assert_array_equal(ck.model.predict(X), model.predict(X))  # identical forecasts
    for m, o in ((model, opt), (ck.model, ck.optimizer)):  # three more steps each: still identical
        for _ in range(3):
            _, g = m.loss_and_grads(X, y)
            o.step(m.params, g)
    np.testing.assert_array_equal(ck.model.params.flat, model.params.flat)


def test_model_without_optimizer_and_float32(tmp_path):
    model, _, X, _ = trained(dtype=np.float32)
    ck = load_model(save_model_bytes(model))
    assert ck.optimizer is None and ck.model.dtype == np.float32
    np.testing.assert_array_equal(ck.model.predict(X), model.predict(X))


def good_entries():
    model, opt, _, _ = trained()
    return entries(save_model_bytes(model, optimizer=opt, data_config={"lookback": 9}))


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda e: e.pop("param/head.bias"), "missing key"),
        (lambda e: e.pop("meta"), "'meta'"),
        (lambda e: e.update({"param/gru.weight_hh_l0": np.zeros((4, 4))}), "shape"),
        (lambda e: e.update({"param/head.weight": e["param/head.weight"].astype(np.float32)}), "dtype"),
        (lambda e: e.update({"format_version": np.asarray(FORMAT_VERSION + 1)}), "newer"),
        (lambda e: e.update({"meta": np.asarray("{not json")}), "JSON"),
        (lambda e: e.update({"param/head.bias": np.array([np.nan])}), "NaN"),
        (lambda e: e.update({"opt/head.bias/exp_avg": np.zeros(3)}), "optimizer state"),
    ],
)
def test_malformed_files_get_clear_errors(mutate, message):
    e = good_entries()
    mutate(e)
    with pytest.raises(CheckpointError, match=message):
        load_model(archive(**e))


def test_pickled_content_is_refused():
    e = good_entries()
    e["param/head.bias"] = np.array([{"evil": 1}], dtype=object)  # only loadable by unpickling
    with pytest.raises(CheckpointError, match="pickle"):
        load_model(archive(**e))


def claiming(**model_config) -> bytes:
    """A small, good model file whose meta's model_config is changed to claim ``model_config``."""
    e = good_entries()
    meta = json.loads(str(e["meta"]))
    meta["model_config"].update(model_config)
    e["meta"] = np.asarray(json.dumps(meta))
    return archive(**e)


@pytest.mark.parametrize(
    "claim, message",
    [
        ({"hidden_size": 4000, "num_layers": 1}, "gru.weight_ih_l0 has shape"),  # 48 M: allowed, not in the file
        ({"hidden_size": 4000}, "million parameters"),  # 2 layers: 144 M parameters
        ({"hidden_size": 100_000}, "million parameters"),  # 90 G parameters: a MemoryError before
        ({"num_layers": 10**9}, "num_layers"),
        ({"input_size": 10**8}, "million parameters"),
        ({"output_size": 10**8}, "million parameters"),
    ],
)
def test_a_small_file_claiming_a_huge_model_is_refused_before_allocating(claim, message):
    blob = claiming(**claim)
    assert len(blob) < 30_000  # a small file
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=message):
        load_model(blob)
    assert time.perf_counter() - start < 0.5  # generous: building the claimed model takes seconds and GBs


def test_an_entry_declaring_a_huge_array_is_refused_before_reading():
    """An optimizer entry whose .npy header declares 800 GB (and holds none of it): refused from the header."""
    e = good_entries()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in e.items():
            arr = io.BytesIO()
            np.save(arr, v)
            z.writestr(f"{k}.npy", header.getvalue() if k == "opt/head.bias/exp_avg" else arr.getvalue())
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="opt/head.bias/exp_avg"):
        load_model(buf.getvalue())
    assert time.perf_counter() - start < 0.5


def test_truncated_and_foreign_bytes_are_refused(tmp_path):
    model, opt, _, _ = trained()
    blob = save_model_bytes(model, optimizer=opt)
    with pytest.raises(CheckpointError, match="truncated|not a readable"):
        load_model(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model(b"\x89PNG\r\n\x1a\n" + bytes(100))
    npy = io.BytesIO()
    np.save(npy, np.arange(3))
    with pytest.raises(CheckpointError, match="single .npy"):
        load_model(npy.getvalue())
    with pytest.raises(CheckpointError, match="no model file"):
        load_model(tmp_path / "absent.npz")


def test_compare_saves_models_and_forecast_prints_dates(tmp_path, capsys):
    prefix = tmp_path / "tin"
    csv = tmp_path / "series.csv"
    dates = np.arange("2024-01-01", "2024-04-01", dtype="datetime64[D]")
    vals = 100 + np.sin(np.arange(len(dates)) / 5.0)
    csv.write_text("date,value\n" + "\n".join(f"{d},{v:.4f}" for d, v in zip(dates, vals)))
    assert main(["compare", "--data", str(csv), "--optimizers", "adam", "--epochs", "2", "--hidden", "4",
                 "--lookback", "10", "--save-model", str(prefix)]) == 0  # fmt: skip
    model_path = tmp_path / "tin_adam.npz"
    assert model_path.exists()
    out_json = tmp_path / "f.json"
    capsys.readouterr()
    assert main(["forecast", "--model", str(model_path), "--data", str(csv), "--steps", "3",
                 "--json", str(out_json)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "2024-04-01" in printed and "2024-04-03" in printed  # daily series: the next three days
    fc = json.loads(out_json.read_text())["forecast"]
    assert [f["date"] for f in fc] == ["2024-04-01", "2024-04-02", "2024-04-03"]
    assert all(90 < f["value"] < 110 for f in fc)
    # the forecast equals feeding the saved model by hand
    ck = load_model(model_path)
    assert ck.scaler["type"] == "minmax"
    lo, hi = ck.scaler["data_min"], ck.scaler["data_max"]
    first = ck.model.predict(((vals[-10:] - lo) / (hi - lo))[None, :, None])[0, 0]
    assert fc[0]["value"] == pytest.approx(first * (hi - lo) + lo, rel=1e-9)


def test_forecast_with_a_bad_model_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert main(["forecast", "--model", str(bad), "--data", "sine", "--steps", "2"]) == 2
    assert "not a readable .npz" in capsys.readouterr().err
