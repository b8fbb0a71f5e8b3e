"""The classroom pages, each run on its own with ``streamlit.testing.v1.AppTest.from_file("pages/…")``, plus
their helpers, imported from where they live (``gru_core.classroom.inspector``, ``gru_ui.classroom.*``); the
engine module of the gate inspector has its own tests in test_classroom_inspector.py.

Every number a page shows is checked against the engine computed independently here: the single cell
against ``GRURegressor.forward`` (and a hand-written step), the optimizer lab's paths against stepping the
optimizer by hand, the gate inspector against ``GRURegressor.forward`` and ``hidden_state_grad_norms``, and
the vanishing-gradient page against ``adding_problem_race``.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _presentation import check_page_presentation
from streamlit.testing.v1 import AppTest

from gru_core.classroom import inspector as CI
from gru_core.classroom.gradflow import adding_problem_race, hidden_state_grad_norms
from gru_core.classroom.landscapes import LANDSCAPES
from gru_core.config import Contestant, DataConfig, RunConfig
from gru_core.model.files import CheckpointError, ModelInfo, save_model, save_model_bytes
from gru_core.model.gru import GRURegressor
from gru_core.optim import Adam, RMSprop, make_optimizer
from gru_ui import figures as F
from gru_ui.classroom import inspector as UI_INSPECTOR
from gru_ui.classroom import lab as LAB
from gru_ui.classroom import vanishing as VANISHING
from gru_ui.figures import classroom as FC
from gru_ui.race import session as RACE_SESSION
from gru_ui.race import settings as RACE_SETTINGS
from gru_ui.race.upload import load_registry_series

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
TIMEOUT = 60


def page_app(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def spec_titled(at: AppTest, start: str) -> dict:
    found = [s for s in specs(at) if str(s["layout"]["title"]["text"]).startswith(start)]
    assert found, f"no chart titled {start!r}: {[s['layout']['title']['text'] for s in specs(at)]}"
    return found[0]


def arr(v) -> np.ndarray:
    """A data array from Plotly JSON: a list, or {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            a = a.reshape([int(s) for s in str(v["shape"]).split(",")])
        return a
    return np.asarray(v, dtype=float)


def trace(spec: dict, name: str) -> dict:
    found = [t for t in spec["data"] if t.get("name") == name]
    assert found, f"no trace {name!r}: {[t.get('name') for t in spec['data']]}"
    return found[0]


# ==========================================================================================================
# How a GRU works
# ==========================================================================================================


def shown_cell(at: AppTest) -> pd.DataFrame:
    """The numbers the page shows: its first table."""
    df = at.dataframe[0].value
    assert list(df.columns) == ["unit", "h_t−1", "r", "z", "n", "h_t"]
    return df


def set_cell(at: AppTest, **values) -> AppTest:
    for key, v in values.items():
        at.session_state[f"cell.{key}"] = v
    return at.run()


def engine_cell(H, x, w, b, scale, variant="pytorch") -> GRURegressor:
    """A GRURegressor carrying the page's weights, built here from the documented recipe."""
    m = GRURegressor(1, H, variant=variant, seed=0)
    base = GRURegressor(1, H, seed=0).params["gru.weight_hh_l0"].copy()
    m.params["gru.weight_ih_l0"] = np.repeat([w["r"], w["z"], w["n"]], H).reshape(3 * H, 1)
    m.params["gru.weight_hh_l0"] = scale * base
    m.params["gru.bias_ih_l0"] = np.repeat([b["r"], b["z"], b["n"]], H)
    m.params["gru.bias_hh_l0"] = np.zeros(3 * H)
    return m


def hand_step(x, h, m: GRURegressor, variant: str):
    """The GRU equations written out once more, independently of the engine."""
    W_ih, W_hh = m.params["gru.weight_ih_l0"], m.params["gru.weight_hh_l0"]
    b_ih, b_hh = m.params["gru.bias_ih_l0"], m.params["gru.bias_hh_l0"]
    H = len(h)
    gi = W_ih[:, 0] * x + b_ih
    gh = W_hh @ h + b_hh
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    r = sig(gi[:H] + gh[:H])
    z = sig(gi[H : 2 * H] + gh[H : 2 * H])
    if variant == "pytorch":
        n = np.tanh(gi[2 * H :] + r * gh[2 * H :])
    else:
        n = np.tanh(gi[2 * H :] + W_hh[2 * H :] @ (r * h) + b_hh[2 * H :])
    return r, z, n, (1 - z) * n + z * h


def test_cell_page_loads_with_equations_and_numbers():
    at = page_app("gru_explained").run()
    no_exception(at)
    assert at.title[0].value == "How a GRU works"
    latex = texts(at.latex)
    assert len(at.latex) >= 2 and "r_t \\odot \\left(W_{hn}" in latex and "W_{hn}\\left(r_t \\odot h_{t-1}" in latex
    df = shown_cell(at)
    assert list(df.columns) == ["unit", "h_t−1", "r", "z", "n", "h_t"] and len(df) == 3
    titles = [s["layout"]["title"]["text"] for s in specs(at)]
    assert any(t.startswith("One GRU unit") for t in titles) and len(titles) == 3
    check_page_presentation(at)


def test_cell_numbers_equal_the_engines_gru_on_the_same_weights():
    at = page_app("gru_explained").run()
    x, w, b, scale = 0.7, {"r": -1.3, "z": 2.1, "n": 0.9}, {"r": 0.4, "z": -0.5, "n": -0.2}, 1.7
    set_cell(at, hidden=4, x=x, w_ir=w["r"], w_iz=w["z"], w_in=w["n"], b_r=b["r"], b_z=b["z"], b_n=b["n"],
             scale=scale, **{f"h.{j}": 0.0 for j in range(4)})  # fmt: skip
    no_exception(at)
    df = shown_cell(at)
    assert len(df) == 4
    # h_{t-1} = 0 is the GRU's own initial state: one forward step of GRURegressor gives the same numbers
    m = engine_cell(4, x, w, b, scale)
    _, tr = m.forward(np.array([[[x]]]))
    for col, key in (("r", "r"), ("z", "z"), ("n", "n"), ("h_t", "h")):
        np.testing.assert_allclose(df[col].to_numpy(), tr[0][key][0, 0], rtol=1e-12, atol=1e-14)
    # the page's table must react: a different input changes every gate
    set_cell(at, x=-1.5)
    assert not np.allclose(shown_cell(at)["z"].to_numpy(), tr[0]["z"][0, 0])


@pytest.mark.parametrize("variant", ["pytorch", "classic"])
def test_cell_numbers_with_a_previous_state(variant):
    at = page_app("gru_explained").run()
    h_prev = np.array([0.85, -0.4, 0.15])
    x, w, b, scale = -0.6, {"r": 1.2, "z": -0.7, "n": 2.0}, {"r": 0.3, "z": 0.5, "n": -0.4}, 2.2
    set_cell(at, variant=variant, hidden=3, x=x, w_ir=w["r"], w_iz=w["z"], w_in=w["n"], b_r=b["r"], b_z=b["z"],
             b_n=b["n"], scale=scale, **{f"h.{j}": float(v) for j, v in enumerate(h_prev)})  # fmt: skip
    no_exception(at)
    df = shown_cell(at)
    np.testing.assert_allclose(df["h_t−1"].to_numpy(), h_prev)
    r, z, n, h = hand_step(x, h_prev, engine_cell(3, x, w, b, scale, variant), variant)
    for col, ref in (("r", r), ("z", z), ("n", n), ("h_t", h)):
        np.testing.assert_allclose(df[col].to_numpy(), ref, rtol=1e-12, atol=1e-14)
    diag = spec_titled(at, "One GRU unit (unit 1)")
    notes = " ".join(a["text"] for a in diag["layout"]["annotations"])
    assert f"z = {z[0]:.3f}" in notes and f"<b>{h[0]:.3f}</b>" in notes


def test_cell_matches_torch_gru_cell(torch):
    at = page_app("gru_explained").run()
    h_prev = np.array([0.5, -0.9])
    set_cell(at, hidden=2, x=1.3, w_ir=0.8, w_iz=-1.1, w_in=1.9, b_r=-0.3, b_z=0.7, b_n=0.1, scale=1.4,
             **{"h.0": 0.5, "h.1": -0.9})  # fmt: skip
    df = shown_cell(at)
    m = engine_cell(2, 1.3, {"r": 0.8, "z": -1.1, "n": 1.9}, {"r": -0.3, "z": 0.7, "n": 0.1}, 1.4)
    cell = torch.nn.GRUCell(1, 2).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.from_numpy(np.asarray(m.params[f"gru.{name}_l0"])))
        h = cell(torch.tensor([[1.3]], dtype=torch.float64), torch.from_numpy(h_prev[None, :])).numpy()[0]
    np.testing.assert_allclose(df["h_t"].to_numpy(), h, rtol=1e-12)


def test_cell_buttons_show_copy_and_replace():
    at = page_app("gru_explained").run()
    at.button(key="cell.btn.copy").click().run()
    no_exception(at)
    df = shown_cell(at)
    assert at.session_state["cell.b_z"] == 6.0
    assert (df["z"] > 0.99).all()
    np.testing.assert_allclose(df["h_t"], df["h_t−1"], atol=0.02)  # z → 1 copies the past
    assert "copies the past" in " ".join(a["text"] for a in spec_titled(at, "One GRU unit")["layout"]["annotations"])
    at.button(key="cell.btn.replace").click().run()
    df = shown_cell(at)
    assert (df["z"] < 0.01).all()
    np.testing.assert_allclose(df["h_t"], df["n"], atol=0.02)  # z → 0 replaces it with the candidate
    at.button(key="cell.btn.reset").click().run()
    assert at.session_state["cell.b_z"] == 0.0
    no_exception(at)


def test_cell_hidden_size_and_unit_choice():
    at = page_app("gru_explained").run()
    at.radio(key="cell.hidden").set_value(4).run()
    at.radio(key="cell.unit").set_value(3).run()
    no_exception(at)
    assert len(shown_cell(at)) == 4
    assert spec_titled(at, "One GRU unit (unit 4)")
    at.radio(key="cell.hidden").set_value(2).run()  # the unit drawn no longer exists: back to unit 1
    no_exception(at)
    assert len(shown_cell(at)) == 2 and spec_titled(at, "One GRU unit (unit 1)")


def test_cell_helpers_use_the_engine():
    from gru_core.classroom import cell as mod

    wts = mod.cell_weights(3, 1.0, 2.0, 3.0, 0.1, 0.2, 0.3, 0.5)
    base = GRURegressor(1, 3, seed=0).params["gru.weight_hh_l0"]
    np.testing.assert_array_equal(wts["gru.weight_hh_l0"], 0.5 * base)
    assert wts["gru.weight_ih_l0"].shape == (9, 1) and list(wts["gru.bias_ih_l0"][3:6]) == [0.2] * 3
    v = mod.cell_step(0.4, np.zeros(3), wts)
    m = GRURegressor(1, 3, seed=0)
    m.load_params({**wts, "head.weight": np.zeros((1, 3)), "head.bias": np.zeros(1)})
    _, tr = m.forward(np.array([[[0.4]]]))
    np.testing.assert_allclose(v["h"], tr[0]["h"][0, 0], rtol=1e-12)


# ==========================================================================================================
# Vanishing gradients
# ==========================================================================================================


def test_vanishing_page_waits_for_the_button():
    at = page_app("vanishing").run()
    no_exception(at)
    assert "Press **▶ Train both models**" in texts(at.info)
    assert not at.get("plotly_chart")
    assert "about" in texts(at.caption)


def test_vanishing_page_trains_both_models_and_shows_the_engines_numbers():
    at = page_app("vanishing").run()
    at.slider(key="van.T").set_value(50)
    at.select_slider(key="van.hidden").set_value(4)
    at.slider(key="van.steps").set_value(50).run()
    at.button(key="van.train").click().run()
    no_exception(at)
    ref = adding_problem_race(T=50, hidden=4, steps=50, seed=0, lr=1e-2)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["GRU test MSE"] == f"{ref['test_mse']['gru']:.4f}"
    assert metrics["tanh RNN test MSE"] == f"{ref['test_mse']['rnn']:.4f}"
    assert metrics["“predict the mean” baseline"] == f"{ref['baseline_mse']:.4f}"
    loss = spec_titled(at, "Adding problem")
    assert loss["layout"]["yaxis"]["type"] == "log"
    np.testing.assert_allclose(arr(trace(loss, "GRU · test set")["y"]), ref["test_curve"]["gru"], rtol=1e-12)
    base = trace(loss, f"predict the mean (always 1.0): MSE {ref['baseline_mse']:.3f}")
    assert arr(base["y"])[0] == pytest.approx(ref["baseline_mse"])
    grads = spec_titled(at, "Gradient reaching each time step")
    assert grads["layout"]["yaxis"]["type"] == "log"
    names = [t["name"] for t in grads["data"]]
    assert names == ["GRU · at initialisation", "tanh RNN · at initialisation", "GRU · after training",
                     "tanh RNN · after training"]  # fmt: skip
    g = ref["grad_norms"]["final"]["rnn"]
    np.testing.assert_allclose(arr(trace(grads, "tanh RNN · after training")["y"]), g / g[-1], rtol=1e-9)
    # absolute norms when the toggle is off
    at.toggle(key="van.relative").set_value(False).run()
    grads = spec_titled(at, "Gradient reaching each time step")
    np.testing.assert_allclose(arr(trace(grads, "tanh RNN · after training")["y"]), g, rtol=1e-9)
    # changing a setting keeps the last run on screen and says so
    at.slider(key="van.T").set_value(60).run()
    no_exception(at)
    assert "Settings changed" in texts(at.info)
    assert spec_titled(at, "Adding problem")
    assert "T = 50" in at.subheader[0].value
    check_page_presentation(at)


def test_vanishing_engine_error_is_shown_not_raised(monkeypatch):
    mod = VANISHING
    assert mod.estimate_seconds(50, 300, 16) == pytest.approx(4.5, rel=0.01)
    assert mod.estimate_seconds(200, 600, 32) > 20

    def refuse(**kwargs):
        raise ValueError("T must be at least 2")

    monkeypatch.setattr("gru_core.classroom.gradflow.adding_problem_race", refuse)
    at = page_app("vanishing").run()
    at.number_input(key="van.seed").set_value(97).run()  # parameters no other test caches
    at.button(key="van.train").click().run()
    no_exception(at)
    assert "The engine refused these settings: T must be at least 2" in texts(at.error)
    assert not at.get("plotly_chart")


# ==========================================================================================================
# Optimizer lab
# ==========================================================================================================


def by_hand(landscape, opt, start, steps):
    """Step an optimizer on a landscape without gru_core.classroom.landscapes.trajectory."""
    xy = np.array(start, dtype=float)
    pts = [xy.copy()]
    for _ in range(steps):
        opt.step({"xy": xy}, {"xy": landscape.gradient(xy)})
        pts.append(xy.copy())
    return np.array(pts)


def test_lab_default_paths_are_the_optimizers_own_steps():
    mod = LAB
    at = page_app("optimizer_lab").run()
    no_exception(at)
    assert at.title[0].value == "Optimizer lab: Rosenbrock"
    assert at.latex and "100" in at.latex[0].value
    spec = spec_titled(at, "Rosenbrock: paths")
    land = LANDSCAPES["rosenbrock"]
    lr = mod.SUGGESTED_LR["rosenbrock"]
    for label, opt in (("Adam", Adam(lr=lr["adam"])), ("RMSprop", RMSprop(lr=lr["rmsprop"])),
                       ("SGD", make_optimizer("sgd", lr=lr["sgd"]))):  # fmt: skip
        t = trace(spec, f"{label} · full path")
        shown = np.column_stack([arr(t["x"]), arr(t["y"])])
        np.testing.assert_allclose(shown, by_hand(land, opt, land.start, 300), rtol=1e-12, atol=1e-15)
        assert trace(spec, label)["line"]["color"] == F.color_for(label)
    assert len(spec["frames"]) == len(FC.frame_steps(300, mod.frames_for(3))) == 100
    assert [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "❚❚ Pause"]
    steps = spec_titled(at, "Effective step size")
    assert steps["layout"]["yaxis"]["type"] == "log"
    np.testing.assert_allclose(arr(trace(steps, "SGD · x")["y"]), lr["sgd"])
    assert spec_titled(at, "How far above the minimum")["layout"]["yaxis"]["type"] == "log"
    check_page_presentation(at)  # the animation keeps its 100 frames in presentation mode


def test_lab_widgets_change_the_paths():
    at = page_app("optimizer_lab").run()
    at.slider(key="lab.steps").set_value(20).run()
    at.multiselect(key="lab.optimizers").set_value(["adam"]).run()
    at.select_slider(key="lab.lr.rosenbrock.adam.pytorch").set_value(0.02).run()
    at.number_input(key="lab.x0.rosenbrock").set_value(0.5).run()
    no_exception(at)
    spec = spec_titled(at, "Rosenbrock: paths")
    assert len(spec["frames"]) == 21  # steps + 1
    t = trace(spec, "Adam · full path")
    expect = by_hand(LANDSCAPES["rosenbrock"], Adam(lr=0.02), (0.5, 1.0), 20)
    np.testing.assert_allclose(np.column_stack([arr(t["x"]), arr(t["y"])]), expect, rtol=1e-12)
    # a hyperparameter from the expander reaches the optimizer
    at.select_slider(key="lab.hp.adam.pytorch.eps").set_value(1e-3).run()
    t = trace(spec_titled(at, "Rosenbrock: paths"), "Adam · full path")
    expect = by_hand(LANDSCAPES["rosenbrock"], Adam(lr=0.02, eps=1e-3), (0.5, 1.0), 20)
    np.testing.assert_allclose(np.column_stack([arr(t["x"]), arr(t["y"])]), expect, rtol=1e-12)


def test_lab_marks_a_diverging_optimizer():
    at = page_app("optimizer_lab").run()
    at.selectbox(key="lab.landscape").set_value("quadratic").run()
    at.select_slider(key="lab.lr.quadratic.sgd.pytorch").set_value(0.05).run()  # > 2/κ = 0.04
    no_exception(at)
    warn = texts(at.warning)
    assert "SGD diverged at step" in warn
    spec = spec_titled(at, "Ill-conditioned quadratic: paths")
    assert any(t.get("name", "").startswith("SGD (diverged at step") for t in spec["data"])
    assert trace(spec, "SGD · diverged")["marker"]["symbol"] == "x"
    assert any("SGD diverged" in a["text"] for a in spec["layout"]["annotations"])


def test_lab_keras_flavour_and_twins():
    at = page_app("optimizer_lab").run()
    at.multiselect(key="lab.optimizers").set_value(["rmsprop"]).run()
    at.slider(key="lab.steps").set_value(30).run()
    at.toggle(key="lab.keras").set_value(True).run()
    no_exception(at)
    spec = spec_titled(at, "Rosenbrock: paths")
    assert trace(spec, "RMSprop (keras)")["line"]["color"] == F.color_for("RMSprop")  # alone: family colour
    lr = at.session_state["lab.lr.rosenbrock.rmsprop.keras"]
    hand = by_hand(LANDSCAPES["rosenbrock"], RMSprop(lr=lr, flavor="keras"), LANDSCAPES["rosenbrock"].start, 30)
    t = trace(spec, "RMSprop (keras) · full path")
    np.testing.assert_allclose(np.column_stack([arr(t["x"]), arr(t["y"])]), hand, rtol=1e-12)
    at.checkbox(key="lab.both").check().run()
    no_exception(at)
    spec = spec_titled(at, "Rosenbrock: paths")
    keras, torch_ = trace(spec, "RMSprop (keras)"), trace(spec, "RMSprop")
    assert keras["line"]["color"] != torch_["line"]["color"]
    assert torch_["line"]["color"] == F.color_for("RMSprop")
    # the twin has the same hyperparameters and only the formula differs
    twin = by_hand(LANDSCAPES["rosenbrock"], RMSprop(lr=lr, alpha=0.9, eps=1e-7), LANDSCAPES["rosenbrock"].start, 30)
    t = trace(spec, "RMSprop · full path")
    np.testing.assert_allclose(np.column_stack([arr(t["x"]), arr(t["y"])]), twin, rtol=1e-12)


def test_lab_with_no_optimizer_and_other_landscapes():
    at = page_app("optimizer_lab").run()
    for key in ("beale", "saddle", "himmelblau"):
        at.selectbox(key="lab.landscape").set_value(key).run()
        no_exception(at)
        assert at.title[0].value.startswith("Optimizer lab: " + LANDSCAPES[key].name.split(" (")[0])
    at.selectbox(key="lab.landscape").set_value("quadratic").run()
    at.slider(key="lab.angle").set_value(45.0).run()
    no_exception(at)
    assert "rotated 45°" in at.title[0].value
    at.multiselect(key="lab.optimizers").set_value([]).run()
    no_exception(at)
    assert "Choose at least one optimizer" in texts(at.info)


# ==========================================================================================================
# Gate inspector
# ==========================================================================================================

DATA_CONFIG = {"source": "noisy_sine", "lookback": 20, "horizon": 1, "split": [0.8, 0.1, 0.1], "scaler": "minmax",
               "fit_scaler_on": "train", "split_by": "windows"}  # fmt: skip


@pytest.fixture(scope="module")
def finished_race():
    """A small finished race (2 epochs, 8 units) as the race page leaves it in session_state["race"]."""
    cfg = RACE_SETTINGS.PAGE_DEFAULT.replace(epochs=2, hidden_size=8)
    cfg.seeds = [0]  # one seed (the page's default races three; the inspector shows one seed's models)
    series = load_registry_series(cfg.data.source)
    prepared, problems = RACE_SESSION.check_config(cfg, series)
    assert not problems
    handle = RACE_SESSION.start_race(prepared, cfg, "test", series, F.assign_colors(cfg.labels))
    assert handle.live.join(60)
    assert handle.live.snapshot().status == "finished"
    # the race trained in a runner worker: the tests read the engine's trained models from its model files
    # (``handle.live.models()``), kept here as ``handle.race.runs[name].model / .opt`` for them
    from types import SimpleNamespace

    from gru_core.model.files import load_model

    checkpoints = {name: load_model(data) for name, data in handle.live.models().items()}
    handle.race = SimpleNamespace(runs={name: SimpleNamespace(model=ck.model, opt=ck.optimizer)
                                        for name, ck in checkpoints.items()})  # fmt: skip
    yield handle
    handle.live.stop()


def model_bytes(handle, name: str) -> bytes:
    run = handle.race.runs[name]
    return save_model_bytes(run.model, optimizer=run.opt, data_config=DATA_CONFIG, scaler=handle.prepared.scaler,
                            info=ModelInfo(label=name))  # fmt: skip


def test_inspector_without_models_says_what_to_do():
    at = page_app("gate_inspector").run()
    no_exception(at)
    assert "No race in this session yet" in texts(at.info)
    at.radio(key="insp.source").set_value("upload").run()
    no_exception(at)
    assert len(at.get("file_uploader")) == 2 and not at.get("plotly_chart")


def test_inspector_shows_the_session_race_with_the_engines_numbers(finished_race):
    at = page_app("gate_inspector")
    at.session_state["race"] = finished_race
    at.run()
    no_exception(at)
    for name in ("Adam", "RMSprop"):
        spec_titled(at, f"{name}: gates on this window")
        spec_titled(at, f"{name}: how often")
        spec_titled(at, f"{name}: gates of selected units")
    at.slider(key="insp.window").set_value(7).run()
    no_exception(at)
    model = finished_race.race.runs["Adam"].model
    X, y = finished_race.prepared.arrays("val")
    _, tr = model.forward(X[6:7])
    heat = spec_titled(at, "Adam: gates on this window")
    assert heat["data"][0]["line"]["color"] == F.color_for("Adam")
    labels = [row[0] for row in heat["data"][1]["customdata"]]  # each row's unit number (1-based)
    order = [int(u) - 1 for u in labels]
    assert heat["layout"]["yaxis2"]["ticktext"] == labels[::2]  # 8 rows: every other one labelled
    assert sorted(order) == list(range(8))
    z_shown = arr(heat["data"][1]["z"]).astype(float)
    np.testing.assert_allclose(z_shown, tr[0]["z"][0][:, order].T, rtol=1e-6)  # float32 in the chart
    np.testing.assert_allclose(arr(heat["data"][4]["z"]).astype(float), tr[0]["h"][0][:, order].T, rtol=1e-6)
    np.testing.assert_allclose(arr(heat["data"][0]["y"]), X[6, :, 0])
    # units sorted by saturation of z over the validation windows
    sat = FC.saturation(model.forward(X)[1][0]["z"])
    assert list(np.diff(sat[order]) <= 1e-12) == [True] * 7
    grads = spec_titled(at, "How much of the loss's gradient")
    assert grads["layout"]["yaxis"]["type"] == "log"
    np.testing.assert_allclose(arr(trace(grads, "Adam · this window")["y"]),
                               hidden_state_grad_norms(model, X[6:7], y[6:7]), rtol=1e-12)  # fmt: skip
    rms = finished_race.race.runs["RMSprop"].model
    mean_shown = arr(trace(grads, f"RMSprop · mean over {len(X)} windows")["y"])
    np.testing.assert_allclose(mean_shown, hidden_state_grad_norms(rms, X, y), rtol=1e-12)
    assert trace(grads, "RMSprop · this window")["line"]["color"] == F.color_for("RMSprop")
    # another window, the test split, another line choice: the page follows
    at.radio(key="insp.split").set_value("test").run()
    at.selectbox(key="insp.lines.a").set_value("most").run()
    no_exception(at)
    Xt = finished_race.prepared.arrays("test")[0]
    heat = spec_titled(at, "Adam: gates on this window")
    np.testing.assert_allclose(arr(heat["data"][0]["y"]), Xt[min(6, len(Xt) - 1), :, 0])
    lines = spec_titled(at, "Adam: gates of selected units")
    assert [t["name"] for t in lines["data"] if t.get("showlegend")] == [f"unit {u}" for u in labels[:3]]
    check_page_presentation(at)


def test_inspector_waits_for_a_running_race(finished_race):
    class Running:
        live = type("L", (), {"snapshot": lambda self: type("S", (), {"status": "running"})()})()

    at = page_app("gate_inspector")
    at.session_state["race"] = Running()
    at.run()
    no_exception(at)
    assert "still" in texts(at.info) or "running" in texts(at.info)
    assert not at.get("plotly_chart")


def test_inspector_upload_path_and_a_hostile_file(finished_race):
    at = page_app("gate_inspector")
    at.session_state["race"] = finished_race
    at.run()
    at.radio(key="insp.source").set_value("upload").run()
    at.file_uploader(key="insp.upload.a").set_value(("adam.npz", model_bytes(finished_race, "Adam"), "application/zip"))
    at.file_uploader(key="insp.upload.b").set_value(
        ("evil.npz", np.random.default_rng(0).bytes(4000), "application/zip")
    )
    at.run()
    no_exception(at)
    assert "evil.npz could not be opened" in texts(at.error)
    heat = spec_titled(at, "Adam: gates on this window")
    X = finished_race.prepared.arrays("val")[0]
    np.testing.assert_allclose(arr(heat["data"][0]["y"]), X[0, :, 0])  # same windows as in the race
    assert at.session_state["race"] is finished_race  # nothing of the session lost
    # a second good file: two panels side by side, both named from the files
    at.file_uploader(key="insp.upload.b").set_value(
        ("rms.npz", model_bytes(finished_race, "RMSprop"), "application/zip")
    )
    at.run()
    no_exception(at)
    assert not at.error
    spec_titled(at, "RMSprop: gates on this window")
    assert at.session_state["insp.data"] == "noisy_sine"


def test_inspector_helpers_turn_bytes_into_inspector_data(finished_race):
    mod = CI
    series = load_registry_series("noisy_sine")
    m = mod.model_from_bytes(model_bytes(finished_race, "RMSprop"), "r.npz", series, "noisy_sine")
    assert m.label == "RMSprop" and m.prepared.lookback == 20 and not m.notes
    ref = finished_race.race.runs["RMSprop"].model
    X, y = finished_race.prepared.arrays("val")
    np.testing.assert_array_equal(m.prepared.arrays("val")[0], X)
    win = mod.inspect_window(m.model, m.prepared, "val", 3, 0)
    _, tr = ref.forward(X[3:4])
    for g in "zrnh":
        np.testing.assert_allclose(win["gates"][g], tr[0][g][0], rtol=1e-12)
    np.testing.assert_allclose(win["grad"], hidden_state_grad_norms(ref, X[3:4], y[3:4]), rtol=1e-12)
    expect = finished_race.prepared.scaler.inverse_transform(ref.predict(X[3:4]))
    assert win["forecast"] == pytest.approx(float(np.asarray(expect).ravel()[0]))
    stats = mod.inspect_split(m.model, m.prepared, "val", 0)
    assert stats["windows"] == len(X) and sorted(stats["order"]) == list(range(8))
    # on another series the model is still inspectable, and the page notes where it was trained
    other = mod.model_from_bytes(model_bytes(finished_race, "RMSprop"), "r.npz", load_registry_series("sunspots"),
                                 "sunspots")  # fmt: skip
    assert other.notes == ["trained on “Noisy sine wave”"]  # the dataset's name, not its source key
    # hostile and incomplete files raise the errors the page turns into st.error
    with pytest.raises(CheckpointError):
        mod.model_from_bytes(b"\x00" * 100, "x.npz", series)
    with pytest.raises(CheckpointError):
        mod.model_from_bytes(np.random.default_rng(1).bytes(5000), "x.npz", series)
    bare = save_model_bytes(ref)  # no data configuration
    with pytest.raises(mod.InspectorError, match="lookback"):
        mod.model_from_bytes(bare, "bare.npz", series)
    bad = save_model_bytes(ref, data_config={**DATA_CONFIG, "lookback": "twenty"})
    with pytest.raises(mod.InspectorError, match="lookback"):
        mod.model_from_bytes(bad, "bad.npz", series)
    short = pd.Series(np.arange(15.0))
    with pytest.raises(ValueError):
        mod.model_from_bytes(model_bytes(finished_race, "Adam"), "a.npz", short)
    assert UI_INSPECTOR.line_units(np.array([4, 2, 0, 1, 3]), "spread") == [4, 0, 3]
    assert UI_INSPECTOR.line_units(np.array([4, 2, 0, 1, 3]), "least") == [3, 1, 0]


def run_model_file(model, info: ModelInfo, **data) -> bytes:
    """A model file as ``compare --save-model`` writes one: the run configuration, no hand-made data dict."""
    run = RunConfig(data=DataConfig(source="noisy_sine", **data), contestants=[Contestant("rmsprop", "keras")])
    buf = io.BytesIO()
    save_model(buf, model, run=run, info=info)
    return buf.getvalue()


def test_inspector_shows_the_label_a_model_file_records(finished_race):
    """A file written with a RunConfig and ModelInfo (the race page, ``compare --save-model``) opens under its
    own label, its windows made from its run configuration."""
    model = finished_race.race.runs["RMSprop"].model
    at = page_app("gate_inspector").run()
    at.radio(key="insp.source").set_value("upload").run()
    data = run_model_file(model, ModelInfo(label="RMSprop (keras)", optimizer="rmsprop", flavor="keras"), lookback=20)
    at.file_uploader(key="insp.upload.a").set_value(("lab_rmsprop_keras.npz", data, "application/zip")).run()
    no_exception(at)
    assert not at.error
    heat = spec_titled(at, "RMSprop (keras): gates on this window")
    np.testing.assert_allclose(arr(heat["data"][0]["y"]), finished_race.prepared.arrays("val")[0][0, :, 0])
    assert "RMSprop (keras)" in texts(at.markdown)
    # no label recorded: the optimizer's name, then the file's name
    series = load_registry_series("noisy_sine")
    m = CI.model_from_bytes(run_model_file(model, ModelInfo(optimizer="adam", flavor="keras")), "x.npz", series)
    assert m.label == "Adam (keras)"
    assert CI.model_from_bytes(run_model_file(model, ModelInfo()), "teacher.npz", series).label == "teacher.npz"
