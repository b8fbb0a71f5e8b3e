"""Unit tests of the classroom pages' pure figure builders (gru_ui/figures_classroom.py): no Streamlit."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from _presentation import check_every_builder

from gru_core.classroom.landscapes import LANDSCAPES, grid, trajectory
from gru_ui import figures as F
from gru_ui.figures import classroom as FC


@pytest.fixture(autouse=True)
def _every_figure_presentable(monkeypatch):
    """Every figure these tests build must also pass presentation mode (tests/_presentation.py)."""
    check_every_builder(monkeypatch, FC)


def _names(fig):
    return [t.name for t in fig.data]


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace named {name!r}; traces: {_names(fig)}"
    return found[0]


def _title(axis) -> str:
    return axis.title.text or ""


def _has_units(text: str) -> bool:
    """An axis title states its units (or says there are none) in parentheses."""
    return "(" in text and ")" in text


def _check_common(fig, *axes):
    assert fig.layout.title.text, "every figure has a title"
    for ax in axes:
        t = _title(getattr(fig.layout, ax))
        assert t and _has_units(t), f"{ax} title without units: {t!r}"
    json.loads(fig.to_json())  # serialisable, as Streamlit needs


def _gates(T=6, H=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "z": rng.uniform(0, 1, (T, H)),
        "r": rng.uniform(0, 1, (T, H)),
        "n": rng.uniform(-1, 1, (T, H)),
        "h": rng.uniform(-1, 1, (T, H)),
    }


# ---- the single cell -------------------------------------------------------------------------------------


def test_cell_diagram_writes_the_engine_values_and_the_verdict():
    fig = FC.cell_diagram(0.5, 0.8, r=0.25, z=0.97, n=-0.4, h=0.764, unit=1, variant="classic")
    assert fig.layout.title.text.startswith("One GRU unit (unit 2)")
    assert "classic" in fig.layout.title.text
    texts = " ".join(a.text for a in fig.layout.annotations)
    for expected in ("z = 0.970", "r = 0.250", "n = -0.400", "<b>0.764</b>", "<b>0.800</b>", "1 − z = 0.030"):
        assert expected in texts, expected
    assert "copies the past" in texts
    low = " ".join(a.text for a in FC.cell_diagram(0.5, 0.8, 0.2, 0.03, 0.1, 0.12).layout.annotations)
    assert "replaces the past" in low and "copies" not in low
    # boxes are shaded by the gate value: z ≈ 1 is darker than r = 0.25
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 3
    alphas = [float(s.fillcolor.rsplit(",", 1)[1].rstrip(")")) for s in rects]
    assert alphas[0] > alphas[1]  # z box (first) darker than r box
    json.loads(fig.to_json())


def test_cell_bars_one_trace_per_quantity_one_bar_per_unit():
    h_prev, r, z, n, h = [0.8, -0.6, 0.3], [0.1, 0.5, 0.9], [0.2, 0.4, 0.6], [0.5, -0.5, 0.0], [0.56, -0.54, 0.18]
    fig = FC.cell_bars(h_prev, r, z, n, h)
    assert _names(fig) == [
        "previous state h<sub>t−1</sub>",
        "reset gate r",
        "update gate z",
        "candidate n",
        "new state h<sub>t</sub>",
    ]
    assert all(isinstance(t, go.Bar) and len(t.y) == 3 for t in fig.data)
    np.testing.assert_array_equal(_trace(fig, "update gate z").y, z)
    assert list(fig.data[0].x) == ["unit 1", "unit 2", "unit 3"]
    assert _trace(fig, "update gate z").marker.color == FC.GATE_COLORS["z"]
    assert fig.layout.barmode == "group"
    _check_common(fig, "xaxis", "yaxis")
    assert "unit" in _title(fig.layout.xaxis)


def test_cell_mixing_puts_h_on_the_segment_between_n_and_h_prev():
    h_prev, z, n = np.array([0.8, -0.6]), np.array([0.9, 0.2]), np.array([-0.5, 0.4])
    h = (1 - z) * n + z * h_prev
    fig = FC.cell_mixing(h_prev, z, n, h)
    seg = _trace(fig, "unit 1: n → h<sub>t−1</sub>")
    assert list(seg.x) == [0.0, 1.0] and list(seg.y) == [-0.5, 0.8]
    dot = _trace(fig, "unit 2: h<sub>t</sub> at its z")
    assert dot.x[0] == pytest.approx(0.2) and dot.y[0] == pytest.approx(h[1])
    assert dot.marker.color == FC.UNIT_COLORS[1]
    assert len(fig.data) == 4
    _check_common(fig, "xaxis", "yaxis")


# ---- gate inspector --------------------------------------------------------------------------------------


def test_saturation_and_order():
    z = np.array([[0.95, 0.5, 0.02], [0.97, 0.6, 0.5], [0.05, 0.45, 0.99]])  # (T=3, H=3)
    sat = FC.saturation(z)
    np.testing.assert_allclose(sat, [1.0, 0.0, 2 / 3])
    assert list(FC.saturation_order(sat)) == [0, 2, 1]
    # ties broken by r, then by unit number; batched (B, T, H) input works too
    assert list(FC.saturation_order([0.5, 0.5, 0.5], [0.1, 0.9, 0.1])) == [1, 0, 2]
    np.testing.assert_allclose(FC.saturation(np.stack([z, z])), sat)


def test_inspector_heatmaps_sorted_units_keep_their_labels():
    g = _gates(T=5, H=4)
    order = [2, 0, 3, 1]
    fig = FC.inspector_heatmaps(g, np.linspace(0, 1, 5), order, name="Adam", color=F.color_for("Adam"))
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert [t.name for t in heat] == ["z: update", "r: reset", "n: candidate", "h: state"]
    np.testing.assert_allclose(np.asarray(heat[0].z), g["z"][:, order].T)  # rows = units in display order
    np.testing.assert_allclose(np.asarray(heat[3].z), g["h"][:, order].T)
    assert list(fig.layout.yaxis2.ticktext) == ["3", "1", "4", "2"]  # 1-based unit numbers of the model
    assert list(np.asarray(heat[0].customdata)[:, 0]) == ["3", "1", "4", "2"]  # and in the hover text
    ten = FC.inspector_heatmaps(_gates(T=3, H=10), None, list(range(9, -1, -1)))
    assert list(ten.layout.yaxis2.ticktext) == ["10", "8", "6", "4", "2"]  # at most 6 labels per row
    assert _trace(fig, "input window").line.color == F.color_for("Adam")
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1
    assert fig.layout.coloraxis2.cmin == -1 and fig.layout.coloraxis2.cmax == 1
    assert "Adam" in fig.layout.title.text and "sorted" in fig.layout.title.text
    assert "time step" in _title(fig.layout.xaxis)
    for ax in ("yaxis", "yaxis2", "yaxis3", "yaxis4", "yaxis5"):
        assert _has_units(_title(getattr(fig.layout, ax)).replace("<br>", " "))
    many = FC.inspector_heatmaps(_gates(T=3, H=100), None, max_units=20)
    assert np.asarray(many.data[1].z).shape == (20, 3) and "20 of 100 units" in many.layout.title.text


def test_saturation_bars_in_percent_in_display_order():
    sat = {"z": np.array([0.1, 0.9, 0.5]), "r": np.array([0.0, 0.2, 0.4])}
    fig = FC.saturation_bars(sat, [1, 2, 0], name="RMSprop", color=F.color_for("RMSprop"), windows=40)
    z = _trace(fig, "update gate z saturated")
    assert list(z.x) == ["u2", "u3", "u1"]
    np.testing.assert_allclose(z.y, [90, 50, 10])
    assert z.marker.color == F.color_for("RMSprop")
    assert "40 windows" in fig.layout.title.text
    _check_common(fig, "xaxis", "yaxis")
    assert "%" in _title(fig.layout.yaxis)
    assert not fig.layout.annotations
    none = FC.saturation_bars({"z": np.zeros(3), "r": np.zeros(3)}, [0, 1, 2])
    assert "No unit is ever saturated" in none.layout.annotations[0].text


def test_gate_lines_one_line_per_unit_and_gate():
    g = _gates(T=7, H=5)
    fig = FC.gate_lines(g, [4, 0], name="Adam", color=F.color_for("Adam"))
    assert len(fig.data) == 4 * 2
    assert sum(t.showlegend for t in fig.data) == 2  # one legend entry per unit
    first = fig.data[0]
    assert first.name == "unit 5" and first.line.color == F.color_for("Adam")
    np.testing.assert_allclose(first.y, g["z"][:, 4])
    np.testing.assert_allclose(fig.data[-1].y, g["h"][:, 0])
    assert {t.line.dash for t in fig.data} == {"solid", "dash"}
    _check_common(fig, "xaxis", "yaxis", "yaxis2", "yaxis3", "yaxis4")


def test_grad_norm_chart_log_axis_relative_and_floor():
    a = np.array([1e-12, 1e-6, 1e-3, 1.0]) * 4.0
    fig = FC.grad_norm_chart([{"name": "Adam · mean", "values": a, "color": F.color_for("Adam")},
                              {"name": "zero", "values": [0.0, 1e-30, np.nan, 2.0], "dash": "dot"}])  # fmt: skip
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(_trace(fig, "Adam · mean").y, a)
    assert list(_trace(fig, "Adam · mean").x) == [1, 2, 3, 4]  # entry t − 1 is h_t
    y = np.asarray(_trace(fig, "zero").y, dtype=float)
    assert np.isnan(y[0]) and y[1] == 1e-30 and np.isnan(y[2]) and y[3] == 2.0  # tiny gradients are drawn as they are
    _check_common(fig, "xaxis", "yaxis")
    rel = FC.grad_norm_chart([{"name": "Adam", "values": a}], relative=True)
    assert rel.data[0].y[-1] == pytest.approx(1.0) and rel.data[0].y[0] == pytest.approx(1e-12)
    assert "÷" in _title(rel.layout.yaxis) and "(log)" in _title(rel.layout.yaxis)


# ---- vanishing gradients ---------------------------------------------------------------------------------


def _adding_result(steps=40, T=12):
    rng = np.random.default_rng(0)
    return {
        "train_loss": {"gru": rng.uniform(0.01, 0.2, steps), "rnn": rng.uniform(0.1, 0.2, steps)},
        "eval_steps": np.array([0, 20, 40]),
        "test_curve": {"gru": np.array([0.17, 0.05, 0.01]), "rnn": np.array([0.17, 0.16, 0.16])},
        "baseline_mse": 1 / 6,
        "grad_norms": {
            "init": {"gru": np.logspace(-9, 0, T), "rnn": np.logspace(-12, 0, T)},
            "final": {"gru": np.logspace(-1, 0, T), "rnn": np.logspace(-10, 0, T)},
        },
    }


def test_adding_loss_chart_both_models_baseline_and_log_axis():
    r = _adding_result()
    fig = FC.adding_loss_chart(r["train_loss"], r["eval_steps"], r["test_curve"], r["baseline_mse"])
    assert _names(fig) == [
        "GRU · training mini-batches",
        "GRU · test set",
        "tanh RNN · training mini-batches",
        "tanh RNN · test set",
        "predict the mean (always 1.0): MSE 0.167",
    ]
    assert fig.layout.yaxis.type == "log"
    base = fig.data[-1]
    assert list(base.y) == [pytest.approx(1 / 6)] * 2 and base.x[-1] == 40
    assert _trace(fig, "GRU · test set").line.color == FC.MODEL_COLORS["gru"]
    assert _trace(fig, "tanh RNN · test set").line.color == FC.MODEL_COLORS["rnn"]
    np.testing.assert_allclose(_trace(fig, "GRU · test set").y, r["test_curve"]["gru"])
    assert list(_trace(fig, "GRU · training mini-batches").x)[:2] == [1, 2]  # loss before step 1, 2, …
    _check_common(fig, "xaxis", "yaxis")


def test_vanishing_grad_chart_four_lines_on_one_log_chart():
    r = _adding_result()
    fig = FC.vanishing_grad_chart(r["grad_norms"], relative=False)
    assert _names(fig) == [
        "GRU · at initialisation",
        "tanh RNN · at initialisation",
        "GRU · after training",
        "tanh RNN · after training",
    ]
    assert fig.layout.yaxis.type == "log"
    assert _trace(fig, "GRU · after training").line.dash == "solid"
    assert _trace(fig, "GRU · at initialisation").line.dash == "dash"
    np.testing.assert_allclose(_trace(fig, "tanh RNN · after training").y, r["grad_norms"]["final"]["rnn"])
    assert len(fig.data[0].x) == 12
    _check_common(fig, "xaxis", "yaxis")
    rel = FC.vanishing_grad_chart(r["grad_norms"], relative=True)
    assert all(t.y[-1] == pytest.approx(1.0) for t in rel.data)


# ---- optimizer lab ---------------------------------------------------------------------------------------


def _lab(steps=30, lrs=(("SGD", "sgd", 1e-3), ("Adam", "adam", 0.1)), key="rosenbrock"):
    land = LANDSCAPES[key]
    paths = {label: trajectory(land, k, steps=steps, lr=lr) for label, k, lr in lrs}
    xs, ys, Z = grid(land, n=40, log=land.log_scale)
    return land, paths, xs, ys, Z


def test_landscape_animation_frames_paths_and_colours():
    land, paths, xs, ys, Z = _lab(steps=30)
    fig = FC.landscape_animation(xs, ys, Z, paths, 30, minima=land.minima, name="Rosenbrock")
    assert len(fig.frames) == 31  # steps + 1
    assert [f.name for f in fig.frames][:3] == ["0", "1", "2"]
    # the landscape: a picture below the plot (animations leave layout images alone) ...
    img = fig.layout.images[0]
    assert img.source.startswith("data:image/png;base64,") and img.layer == "below"
    assert (img.x, img.y, img.sizex, img.sizey) == (xs[0], ys[-1], xs[-1] - xs[0], ys[-1] - ys[0])
    # ... and an invisible grid of points carrying f for hover and the colour bar
    hover = fig.data[0]
    assert hover.name == "f(x, y)" and hover.marker.opacity == 0 and hover.marker.showscale
    np.testing.assert_allclose(np.asarray(hover.marker.color, dtype=float), Z.ravel())  # 40 × 40: every point
    assert "log₁₀" in hover.marker.colorbar.title.text
    for label in ("SGD", "Adam"):
        full = _trace(fig, f"{label} · full path")
        np.testing.assert_array_equal(np.column_stack([full.x, full.y]), paths[label]["points"])
        anim = _trace(fig, label)
        assert anim.line.color == F.color_for(label) and full.line.color == F.color_for(label)
        # the animated path is newest-first: its point 0 (big marker) is the current position
        assert (anim.x[0], anim.y[0]) == tuple(paths[label]["points"][-1])
        assert anim.marker.size[0] > anim.marker.size[1]
    # frame k shows the path up to step k
    idx = [i for i, t in enumerate(fig.data) if t.name in ("SGD", "Adam")]
    assert list(fig.frames[5].traces) == idx
    f5 = fig.frames[5].data[1]  # Adam
    np.testing.assert_array_equal(np.column_stack([f5.x, f5.y]), paths["Adam"]["points"][:6][::-1])
    assert _trace(fig, "minimum").marker.symbol == "star" and _trace(fig, "start").x[0] == land.start[0]
    # play / pause buttons and a slider over the frames, opening on the last frame
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["▶ Play", "❚❚ Pause"]
    assert len(fig.layout.sliders[0].steps) == 31 and fig.layout.sliders[0].active == 30
    _check_common(fig, "xaxis", "yaxis")


def test_landscape_animation_downsamples_long_runs():
    land, paths, xs, ys, Z = _lab(steps=500)
    fig = FC.landscape_animation(xs, ys, Z, paths, 500, max_frames=50)
    assert len(fig.frames) == 50 == len(FC.frame_steps(500, 50))
    assert fig.frames[0].name == "0" and fig.frames[-1].name == "500"
    assert "50 frames for 500 steps" in fig.layout.title.text
    # the exact path is still there in full
    assert len(_trace(fig, "Adam · full path").x) == 501


def test_landscape_animation_marks_divergence():
    land, paths, xs, ys, Z = _lab(steps=60, lrs=(("SGD", "sgd", 0.5), ("Adam", "adam", 0.05)), key="quadratic")
    assert paths["SGD"]["diverged_at"] is not None
    fig = FC.landscape_animation(xs, ys, Z, paths, 60, log_scale=land.log_scale)
    div = paths["SGD"]["diverged_at"]
    assert _trace(fig, f"SGD (diverged at step {div})").line.color == F.color_for("SGD")
    mark = _trace(fig, "SGD · diverged")
    assert mark.marker.symbol == "x"
    full = _trace(fig, "SGD · full path")
    assert len(full.x) == div and np.isfinite(np.asarray(full.x, dtype=float)).all()  # offending point dropped
    assert any("SGD diverged at step" in a.text for a in fig.layout.annotations)
    assert len(fig.frames) == 61


def test_saddle_landscape_is_linear_and_marks_the_saddle():
    land, paths, xs, ys, Z = _lab(steps=10, lrs=(("RMSprop", "rmsprop", 0.01),), key="saddle")
    fig = FC.landscape_animation(xs, ys, Z, paths, 10, log_scale=False, minima=land.minima, saddles=land.saddles)
    assert _trace(fig, "saddle point").x[0] == 0.0
    assert _trace(fig, "minima").x is not None and len(_trace(fig, "minima").x) == 2
    assert fig.data[0].marker.colorbar.title.text == "f(x, y)"


def test_step_size_chart_per_coordinate_log_axis():
    _, paths, *_ = _lab(steps=25)
    fig = FC.step_size_chart({k: p["step_sizes"] for k, p in paths.items()})
    assert _names(fig) == ["SGD · x", "SGD · y", "Adam · x", "Adam · y"]
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(_trace(fig, "SGD · x").y, 1e-3)  # SGD: the learning rate
    np.testing.assert_allclose(_trace(fig, "Adam · y").y, paths["Adam"]["step_sizes"][:, 1])
    assert list(_trace(fig, "Adam · x").x) == list(range(1, 26))
    assert _trace(fig, "Adam · x").line.color == F.color_for("Adam")
    assert _trace(fig, "Adam · y").line.dash == "dot"
    _check_common(fig, "xaxis", "yaxis")


def test_value_chart_log_distance_to_minimum_and_divergence():
    land, paths, *_ = _lab(steps=40, lrs=(("SGD", "sgd", 0.5), ("RMSprop", "rmsprop", 0.05)), key="quadratic")
    div = {k: p["diverged_at"] for k, p in paths.items()}
    fig = FC.value_chart({k: p["values"] for k, p in paths.items()}, land.f_min, diverged=div)
    assert fig.layout.yaxis.type == "log"
    rms = _trace(fig, "RMSprop")
    np.testing.assert_allclose(rms.y, np.maximum(paths["RMSprop"]["values"] - land.f_min, FC.LOG_FLOOR))
    assert rms.line.color == F.color_for("RMSprop")
    assert _trace(fig, f"SGD (diverged at step {div['SGD']})")
    assert _trace(fig, "SGD · diverged").marker.symbol == "x"
    _check_common(fig, "xaxis", "yaxis")


def test_landscape_image_is_a_png_of_grey_bands():
    import base64
    import struct
    import zlib

    y, x = np.mgrid[0:1:20j, 0:1:30j]
    uri = FC.landscape_image(x + 2 * y)  # lowest at bottom left, highest at top right
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", raw[16:24])
    assert (w, h) == (30, 20)
    data = zlib.decompress(raw[raw.index(b"IDAT") + 4 : raw.index(b"IEND") - 8])
    rows = np.frombuffer(data, dtype=np.uint8).reshape(h, 1 + 3 * w)[:, 1:].reshape(h, w, 3)
    assert rows[-1, 0, 0] > 240 and rows[0, -1, 0] < 175  # image rows run top-down: bottom left is white
    assert len(np.unique(rows[..., 0])) > 10  # banded, with darker lines between bands
