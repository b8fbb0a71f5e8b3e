"""The gate inspector's engine, ``gru_core.classroom.inspector``, checked against independent computations: the
textbook GRU (``gru_core.model.reference``) for the gates and forecasts, ``hidden_state_grad_norms`` for the
gradients, the data pipeline (``prepare_run``) for the windows, and the model file's own records for labels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gru_core.classroom import inspector as CI
from gru_core.classroom.gradflow import hidden_state_grad_norms
from gru_core.config import DataConfig, RunConfig
from gru_core.data import prepare_run
from gru_core.model import reference
from gru_core.model.files import ModelInfo, load_model, save_model_bytes
from gru_core.model.gru import GRURegressor
from gru_core.optim import RMSprop
from gru_ui.figures import classroom as FC

SERIES = pd.Series(np.sin(np.arange(400) / 7.0) + 0.1 * np.random.default_rng(3).standard_normal(400))


def params_of(model: GRURegressor) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=np.float64) for k, v in model.params.items()}


@pytest.fixture(scope="module")
def prepared():
    return prepare_run(SERIES, DataConfig(lookback=12, scaler="standard"))


@pytest.mark.parametrize("layers,layer", [(1, 0), (2, 0), (2, 1), (2, 3)])
def test_inspect_window_is_the_textbook_gru(prepared, layers, layer):
    model = GRURegressor(1, 6, num_layers=layers, seed=4)
    X, y = prepared.arrays("val")
    win = CI.inspect_window(model, prepared, "val", 5, layer)
    k = layer % layers
    y_ref, cache, _ = reference.forward(params_of(model), X[5:6].astype(np.float64), layers)
    for g in ("z", "r", "n"):
        np.testing.assert_allclose(win["gates"][g], np.stack(cache[k][g])[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(win["gates"]["h"], np.stack(cache[k]["h"][1:])[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(win["input"], X[5, :, 0])
    np.testing.assert_allclose(win["grad"], hidden_state_grad_norms(model, X[5:6], y[5:6], k), rtol=1e-12)
    assert win["forecast"] == pytest.approx(float(prepared.scaler.inverse_transform(y_ref)[0, 0]), rel=1e-12)
    assert win["truth"] == pytest.approx(float(prepared.arrays("val", raw=True)[1][5, 0]))
    assert win["target"] == prepared.target_index("val")[5]
    with pytest.raises(CI.InspectorError, match="does not exist"):
        CI.inspect_window(model, prepared, "val", len(X), layer)


def test_inspect_split_sorts_units_by_saturation(prepared):
    model = GRURegressor(1, 8, seed=1)
    model.params["gru.bias_ih_l0"][8:16] = np.linspace(-5, 5, 8)  # z biases: from open to shut, unit by unit
    X, y = prepared.arrays("test")
    stats = CI.inspect_split(model, prepared, "test", 0)
    _, cache, _ = reference.forward(params_of(model), X.astype(np.float64), 1)
    z, r = np.stack(cache[0]["z"]), np.stack(cache[0]["r"])  # (T, B, H)
    np.testing.assert_allclose(stats["saturation"]["z"], np.mean(np.abs(z - 0.5) > 0.4, axis=(0, 1)))
    np.testing.assert_allclose(stats["saturation"]["r"], np.mean(np.abs(r - 0.5) > 0.4, axis=(0, 1)))
    sat = stats["saturation"]["z"][stats["order"]]
    assert sorted(stats["order"]) == list(range(8)) and np.all(np.diff(sat) <= 0)
    assert stats["order"][-1] in (3, 4)  # the units with a z bias near 0 saturate least
    np.testing.assert_allclose(stats["grad"], hidden_state_grad_norms(model, X, y), rtol=1e-12)
    assert stats["windows"] == len(X)
    # the figures sort the same way (they draw what the engine ordered)
    np.testing.assert_array_equal(stats["order"], FC.saturation_order(FC.saturation(z), FC.saturation(r)))
    # a sample of the windows: evenly spread, first and last kept
    few = CI.inspect_split(model, prepared, "test", 0, max_windows=5)
    idx = CI.window_sample(len(X), 5)
    assert few["windows"] == 5 and idx[0] == 0 and idx[-1] == len(X) - 1
    np.testing.assert_allclose(few["grad"], hidden_state_grad_norms(model, X[idx], y[idx]), rtol=1e-12)


def test_saturation_order_breaks_ties_by_r_then_unit():
    assert list(CI.saturation_order([0.5, 0.9, 0.5, 0.5], [0.1, 0.0, 0.3, 0.1])) == [1, 2, 0, 3]
    np.testing.assert_array_equal(CI.saturation([[0.05, 0.5], [0.95, 0.89]]), [1.0, 0.0])


def test_split_windows_lists_only_splits_with_windows():
    p = prepare_run(SERIES, DataConfig(lookback=10, split=(0.9, 0.0, 0.1)))
    assert CI.split_windows(p) == {"test": len(p.arrays("test")[0])}


def file_of(model, info=None, **data) -> bytes:
    return save_model_bytes(model, run=RunConfig(data=DataConfig(source="noisy_sine", **data)), info=info)


def test_model_from_bytes_makes_the_windows_of_its_run():
    model = GRURegressor(1, 4, output_size=2, seed=0)
    data = file_of(model, ModelInfo(label="Adam #2"), lookback=9, horizon=2, scaler="standard", split_by="series")
    m = CI.model_from_bytes(data, "m.npz", SERIES, "noisy_sine")
    ref = prepare_run(SERIES, DataConfig(lookback=9, horizon=2, scaler="standard", split_by="series"))
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(m.prepared.arrays(s)[0], ref.arrays(s)[0])
    assert m.label == "Adam #2" and m.source == "m.npz" and m.notes == [] and m.layers == 1
    assert CI.window_config(load_model(data)).lookback == 9
    # the dataset's name for people, not its source key
    assert CI.model_from_bytes(data, "m.npz", SERIES, "sunspots").notes == ["trained on “Noisy sine wave”"]
    named = file_of(model, ModelInfo(label="x", series={"name": "tin price, daily"}), lookback=9, horizon=2)
    assert CI.model_from_bytes(named, "m.npz", SERIES, "sunspots").notes == ["trained on “tin price, daily”"]
    assert CI.model_from_bytes(data, "m.npz", SERIES).notes == []  # a CSV: nothing to compare with


def test_model_label_falls_back_to_the_optimizer_then_the_file():
    model = GRURegressor(1, 3, seed=0)
    opt = RMSprop(flavor="keras")
    opt.step(model.params, {k: np.zeros_like(v) for k, v in model.params.items()})
    bare = save_model_bytes(model, optimizer=opt, data_config={"lookback": 5})  # a file without info
    assert CI.model_label(load_model(bare), "f.npz") == "RMSprop (keras)"
    assert CI.model_label(load_model(file_of(model, ModelInfo(label="  "))), "f.npz") == "f.npz"
    assert CI.model_label(load_model(file_of(model, ModelInfo(label="x" * 60))), "f.npz") == "x" * 40


def test_files_the_inspector_refuses_say_why():
    def refused(data, match, **kwargs):
        with pytest.raises(CI.InspectorError, match=match):
            CI.model_from_bytes(data, "f.npz", SERIES, **kwargs)

    refused(save_model_bytes(GRURegressor(1, 3, seed=0)), "no lookback")  # no data configuration at all
    refused(file_of(GRURegressor(2, 3, seed=0)), "2 features")
    refused(file_of(GRURegressor(1, 3, seed=0), horizon=2), "horizon 2, the model predicts 1")
    refused(file_of(GRURegressor(1, 3, seed=0), lookback=201), "lookback must be in 1…200")  # the pages' limit
    refused(save_model_bytes(GRURegressor(1, 3, seed=0), data_config={"lookback": 20, "scaler": "log"}), "scaler")
    refused(file_of(GRURegressor(1, 3, seed=0), lookback=30), "more than this page handles", max_window_values=10_000)
