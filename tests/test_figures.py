"""Unit tests of the pure figure builders in gru_ui/figures.py (no Streamlit, no browser)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from _presentation import check_every_builder

from gru_ui import figures as F


@pytest.fixture(autouse=True)
def _every_figure_presentable(monkeypatch):
    """Every figure these tests build must also pass presentation mode (tests/_presentation.py)."""
    check_every_builder(monkeypatch, F)


def _hist(n_epochs=10, scale=1.0, start=1):
    return [
        {"epoch": e, "train_loss": scale / e, "val_loss": 1.2 * scale / e, "grad_norm": 0.1}
        for e in range(start, start + n_epochs)
    ]


def _names(fig):
    return [t.name for t in fig.data]


def _trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace named {name!r}; traces: {_names(fig)}"
    return found[0]


def _title(axis):
    return axis.title.text or ""


# ---- colours ----------------------------------------------------------------------------------------------


def test_okabe_ito_family_colours_are_fixed_and_distinct():
    assert F.color_for("Adam") == F.OPTIMIZER_COLORS["adam"] == "#0072B2"
    assert F.color_for("RMSprop") == F.OPTIMIZER_COLORS["rmsprop"] == "#D55E00"
    assert F.color_for("Adam", 5) == F.color_for("Adam", 0)  # the index only matters for extras
    assert len(set(F.OPTIMIZER_COLORS.values())) == len(F.OPTIMIZER_COLORS)
    assert F.color_for("RMSprop (keras)") == F.OPTIMIZER_COLORS["rmsprop"]
    assert F.color_for("Adam #2", 0) != F.color_for("Adam")


def test_assign_colors_distinct_and_independent_of_order():
    names = ["Adam", "RMSprop", "Adam #2", "Adam (keras)", "SGD", "AdamW"]
    a = F.assign_colors(names)
    b = F.assign_colors(list(reversed(names)))
    assert len(set(a.values())) == len(names)
    assert len(set(b.values())) == len(names)
    for plain in ("Adam", "RMSprop", "SGD", "AdamW"):
        assert a[plain] == b[plain] == F.color_for(plain)
    # a Keras twin alone keeps its family's colour
    assert F.assign_colors(["RMSprop (keras)", "Adam"])["RMSprop (keras)"] == F.OPTIMIZER_COLORS["rmsprop"]


def test_same_optimizer_same_colour_in_every_figure():
    hist = {"RMSprop": _hist(), "Adam": _hist(scale=2)}
    loss = F.loss_curves(hist)
    assert _trace(loss, "Adam · train").line.color == F.color_for("Adam")
    assert _trace(loss, "Adam · validation").line.color == F.color_for("Adam")
    assert _trace(loss, "RMSprop · train").line.color == F.color_for("RMSprop")
    fc = F.forecast_plot(np.arange(5), np.ones(5), {"Adam": np.ones(5), "RMSprop": np.zeros(5)})
    assert _trace(fc, "Adam (GRU forecast)").line.color == F.color_for("Adam")
    assert _trace(fc, "RMSprop (GRU forecast)").line.color == F.color_for("RMSprop")
    gates = [{k: np.zeros((4, 3)) for k in "zrnh"}]
    g = F.gate_heatmaps(gates, np.zeros(4), name="Adam", color=F.color_for("Adam"))
    assert _trace(g, "input window").line.color == F.color_for("Adam")
    # an explicit mapping wins over the automatic one
    custom = F.loss_curves(hist, colors={"Adam": "#123456"})
    assert _trace(custom, "Adam · train").line.color == "#123456"


# ---- loss curves ------------------------------------------------------------------------------------------


def test_loss_curves_traces_axes_and_dash_styles():
    fig = F.loss_curves({"Adam": _hist(), "RMSprop": _hist(scale=3)}, total_epochs=60)
    assert isinstance(fig, go.Figure)
    assert _names(fig) == ["Adam · train", "Adam · validation", "RMSprop · train", "RMSprop · validation"]
    for name in ("Adam", "RMSprop"):
        assert _trace(fig, f"{name} · train").line.dash == "solid"
        assert _trace(fig, f"{name} · validation").line.dash == "dash"
    assert _title(fig.layout.xaxis) == "epoch"
    assert _title(fig.layout.yaxis) == "MSE loss (scaled units)"
    assert fig.layout.title.text
    assert list(fig.layout.xaxis.range) == [0, 10.5]  # 10 epochs drawn of 60: the axis spans 10 for now
    longer = F.loss_curves({"Adam": _hist(25)}, total_epochs=60)
    assert list(longer.layout.xaxis.range) == [0, 40.5]  # doubled twice
    assert list(F.loss_curves({"Adam": _hist(50)}, total_epochs=60).layout.xaxis.range) == [0, 60.5]
    assert F.loss_curves({"Adam": _hist(10)}).layout.xaxis.range is None  # finished: the data decide
    np.testing.assert_allclose(_trace(fig, "RMSprop · train").y, [3 / e for e in range(1, 11)])


def test_loss_curves_log_scale():
    fig = F.loss_curves({"Adam": _hist(50)}, log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert "log scale" in _title(fig.layout.yaxis)
    assert set(fig.layout.yaxis.ticktext) >= {"0.1", "1"}  # readable labels, no clutter
    zero = [{"epoch": 1, "train_loss": 0.0, "val_loss": 0.1}]
    z = F.loss_curves({"Adam": zero}, log_y=True)
    assert math.isnan(_trace(z, "Adam · train").y[0])  # 0 cannot sit on a log axis


def test_loss_curves_markers_best_early_stop_and_divergence():
    hist = {"Adam": _hist(10), "RMSprop": _hist(2)}
    hist["RMSprop"][1]["val_loss"] = float("nan")
    markers = {
        "Adam": {"status": "early_stopped", "best_epoch": 7, "stopped_epoch": 10},
        "RMSprop": {"status": "diverged", "best_epoch": 1, "diverged_epoch": 2, "diverged_step": 37},
    }
    fig = F.loss_curves(hist, markers=markers)
    best = _trace(fig, "Adam · best epoch")
    assert list(best.x) == [7]
    assert best.y[0] == pytest.approx(1.2 / 7)  # on the validation curve
    assert best.marker.symbol == "star"
    stop = _trace(fig, "Adam · early stop")
    assert list(stop.x) == [10]
    assert any(s.x0 == 10 for s in fig.layout.shapes)
    div = _trace(fig, "RMSprop · diverged")
    assert list(div.x) == [2]
    assert div.y[0] == pytest.approx(1 / 2)  # the last finite training loss
    assert div.marker.symbol == "x"
    assert any("RMSprop diverged (step 37)" in a.text for a in fig.layout.annotations)
    assert _trace(fig, "RMSprop · best epoch").x[0] == 1
    # no marker for what did not happen
    plain = F.loss_curves(hist, markers={"Adam": {"status": "finished", "best_epoch": None}})
    assert not [n for n in _names(plain) if "·" in n and n.split(" · ")[1] in ("best epoch", "early stop")]


def test_loss_curves_smoothing_keeps_raw_curve_faint():
    noisy = [{"epoch": e, "train_loss": 1.0 + (e % 2), "val_loss": 1.0} for e in range(1, 41)]
    fig = F.loss_curves({"Adam": noisy}, smooth=0.8)
    raw = _trace(fig, "Adam · train (raw)")
    smooth = _trace(fig, "Adam · train")
    assert raw.opacity < 1 and raw.showlegend is False
    assert np.ptp(np.asarray(smooth.y)[10:]) < np.ptp(np.asarray(raw.y)[10:])


def test_loss_curves_thins_long_histories_for_drawing():
    fig = F.loss_curves({"Adam": _hist(2000)}, max_points=500)
    x = np.asarray(_trace(fig, "Adam · train").x)
    assert len(x) <= 500
    assert x[0] == 1 and x[-1] == 2000


def test_loss_curves_empty_history_explains_itself():
    fig = F.loss_curves({})
    assert len(fig.data) == 0
    assert "Train" in fig.layout.annotations[0].text


# ---- gates ------------------------------------------------------------------------------------------------


def _gates(T=6, H=5, layers=1):
    rng = np.random.default_rng(0)
    return [
        {
            "z": rng.random((T, H)),
            "r": rng.random((T, H)),
            "n": rng.random((T, H)) * 2 - 1,
            "h": rng.random((T, H)) * 2 - 1,
        }
        for _ in range(layers)
    ]


def test_gate_heatmaps_rows_axes_and_scales():
    gates = _gates()
    window = np.linspace(0, 1, 6)
    fig = F.gate_heatmaps(gates, window, name="Adam")
    assert [type(t).__name__ for t in fig.data] == ["Scatter", "Heatmap", "Heatmap", "Heatmap", "Heatmap"]
    assert _names(fig) == ["input window", "update gate z", "reset gate r", "candidate n", "hidden state h"]
    np.testing.assert_allclose(_trace(fig, "input window").y, window)
    z = np.asarray(_trace(fig, "update gate z").z)
    assert z.shape == (5, 6)  # units × time steps
    np.testing.assert_allclose(z, gates[0]["z"].T, rtol=1e-6)
    assert all(t.xaxis == "x" for t in fig.data)  # one shared time axis
    assert "time step" in _title(fig.layout.xaxis)
    assert "scaled" in _title(fig.layout.yaxis)
    for i, key in enumerate("zrnh"):
        assert _title(fig.layout[f"yaxis{i + 2}"]).startswith(f"{key}:")
        assert "unit" in _title(fig.layout[f"yaxis{i + 2}"])
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert (fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax) == (-1.0, 1.0)
    assert "Adam" in fig.layout.title.text


def test_gate_heatmaps_layer_choice_and_unit_thinning():
    gates = _gates(T=4, H=100, layers=2)
    fig = F.gate_heatmaps(gates, np.zeros(4), layer=0, max_units=10)
    z = np.asarray(_trace(fig, "hidden state h").z)
    assert z.shape[0] <= 10
    assert "layer 1 of 2" in fig.layout.title.text
    assert "of 100 units" in fig.layout.title.text
    last = F.gate_heatmaps(gates, np.zeros(4), max_units=100)
    np.testing.assert_allclose(np.asarray(_trace(last, "update gate z").z), gates[1]["z"].T, rtol=1e-6)
    assert "of 100 units" not in last.layout.title.text


def test_gate_heatmaps_without_snapshot():
    fig = F.gate_heatmaps(None, None, name="Adam")
    assert len(fig.data) == 0
    assert "No gate snapshot" in fig.layout.annotations[0].text


# ---- forecast and series ----------------------------------------------------------------------------------


def test_forecast_plot_traces_units_and_dates():
    dates = pd.date_range("2020-01-01", periods=8, freq="D")
    truth = np.arange(8.0)
    fig = F.forecast_plot(
        dates,
        truth,
        {"Adam": truth + 0.1, "RMSprop": None},
        {"persistence": truth - 1, "linear": truth},
        units="USD per tonne",
        series_name="tin price",
    )
    assert _names(fig) == [
        "truth (test data)",
        "persistence (tomorrow = today)",
        "linear autoregression",
        "Adam (GRU forecast)",
    ]
    assert _title(fig.layout.xaxis) == "date"
    assert "USD per tonne" in _title(fig.layout.yaxis)
    assert _trace(fig, "persistence (tomorrow = today)").line.dash == "dot"
    assert _trace(fig, "linear autoregression").line.dash == "dashdot"
    np.testing.assert_allclose(_trace(fig, "truth (test data)").y, truth)
    pos = F.forecast_plot(np.arange(8), truth, units="unitless")
    assert "position" in _title(pos.layout.xaxis)
    assert "unitless" in _title(pos.layout.yaxis)


def test_series_preview_regions_and_units():
    s = pd.Series(np.sin(np.arange(300) / 10.0), name="wave")
    fig = F.series_preview(s, units="metres", regions=[("train", 0, 200), ("validation", 200, 250), ("test", 250, 299)])
    assert len(fig.data) == 1 and len(fig.layout.shapes) == 3
    assert [a.text for a in fig.layout.annotations] == ["train", "validation", "test"]
    assert "metres" in _title(fig.layout.yaxis)
    assert "300 values" in fig.layout.title.text
    big = F.series_preview(pd.Series(np.arange(10_000.0)), max_points=1000)
    assert len(big.data[0].x) <= 1000
    assert "drawn" in big.layout.title.text
    assert "units not given" in _title(big.layout.yaxis)


# ---- helpers ----------------------------------------------------------------------------------------------


def test_helpers():
    assert F.thin_indices(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = F.thin_indices(10_001, 100)
    assert len(idx) <= 100 and idx[0] == 0 and idx[-1] == 10_000
    np.testing.assert_allclose(F.ema([1.0, 2.0, 3.0], 0.0), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(F.ema([2.0] * 5, 0.9), [2.0] * 5)  # bias-corrected: no start-up dip
    e = F.ema([1.0, float("nan"), 1.0], 0.5)
    assert math.isnan(e[1]) and e[2] == pytest.approx(1.0)
    cfg = F.chart_config("loss curves/Adam")
    assert cfg["toImageButtonOptions"]["format"] == "png"
    assert "/" not in cfg["toImageButtonOptions"]["filename"]
    assert F.value_axis_title("price", "") == "price (units not given)"
    assert F.value_axis_title("CO2", "ppm") == "CO2 (ppm)"


def test_ema_matches_the_plain_recurrence_on_long_curves():
    rng = np.random.default_rng(0)
    x = rng.random(5000) * 10
    x[rng.random(5000) < 0.05] = np.nan
    for w in (0.05, 0.5, 0.9, 0.999):
        acc, n, want = 0.0, 0, np.full(len(x), np.nan)
        for i, v in enumerate(x):
            if math.isfinite(v):
                acc = w * acc + (1 - w) * v
                n += 1
                want[i] = acc / (1 - w**n)
        np.testing.assert_allclose(F.ema(x, w), want, rtol=1e-9, atol=1e-12)


def test_update_gate_heatmaps_in_place():
    first, second = _gates(T=6, H=5), _gates(T=6, H=5)
    second[0]["z"] = second[0]["z"][::-1].copy()
    fig = F.gate_heatmaps(first, np.zeros(6), name="Adam")
    same = F.update_gate_heatmaps(fig, second, np.ones(6))
    assert same is fig
    np.testing.assert_allclose(np.asarray(_trace(fig, "update gate z").z), second[0]["z"].T, rtol=1e-6)
    np.testing.assert_allclose(_trace(fig, "input window").y, np.ones(6))
    rebuilt = F.gate_heatmaps(second, np.ones(6), name="Adam")
    assert json.loads(fig.to_json())["data"][1]["z"] == json.loads(rebuilt.to_json())["data"][1]["z"]
    assert F.update_gate_heatmaps(fig, _gates(T=7, H=5), np.zeros(7)) is None  # other shape: rebuild
    assert F.update_gate_heatmaps(fig, None, None) is None


# ---- classroom control: learning-rate changes, pauses, presentation mode --------------------------------


def _hist_steps(n_epochs=10, spe=25, scale=1.0):
    return [
        {"epoch": e, "step": e * spe, "train_loss": scale / e, "val_loss": 1.2 * scale / e}
        for e in range(1, n_epochs + 1)
    ]


def _shapes(fig, prefix):
    return [s for s in fig.layout.shapes if (s.name or "").startswith(prefix)]


def test_learning_rate_changes_are_marked_on_their_optimizers_curve():
    hist = {"Adam": _hist_steps(), "RMSprop": _hist_steps(scale=2)}
    ivs = [
        {"step": 101, "optimizer": "Adam", "field": "lr", "old": 0.001, "new": 0.05},  # first step of epoch 5
        {"step": 138, "optimizer": "RMSprop", "field": "lr", "old": 0.01, "new": 0.002},
        {"step": 201, "optimizer": "Ghost", "field": "lr", "old": 1, "new": 2},  # not in the race: ignored
    ]
    fig = F.loss_curves(hist, interventions=ivs, steps_per_epoch=25)
    adam = _trace(fig, "Adam · lr change")
    assert list(adam.x) == [4.0]  # 100 steps done = 4 epochs: the new rate starts right after epoch 4
    assert adam.y[0] == pytest.approx(1 / 4)  # on Adam's training curve
    assert adam.marker.color == F.color_for("Adam")
    rms = _trace(fig, "RMSprop · lr change")
    assert rms.x[0] == pytest.approx(137 / 25)  # a fractional epoch: mid-epoch change
    assert rms.y[0] == pytest.approx(np.interp(137 / 25, np.arange(1, 11), 2 / np.arange(1, 11)))
    lines = _shapes(fig, "lr change")
    assert {(s.name, s.x0, s.line.color) for s in lines} == {
        ("lr change Adam", 4.0, F.color_for("Adam")),
        ("lr change RMSprop", 137 / 25, F.color_for("RMSprop")),
    }
    labels = [a.text for a in fig.layout.annotations]
    assert any("Adam: lr 0.001 → 0.05" in t for t in labels)
    assert any("RMSprop: lr 0.01 → 0.002" in t for t in labels)
    assert not any("Ghost" in t for t in labels) and "Ghost · lr change" not in _names(fig)
    # steps per epoch read from the history when not given
    again = F.loss_curves(hist, interventions=ivs[:1])
    assert list(_trace(again, "Adam · lr change").x) == [4.0]
    # a change asked for but not applied yet is drawn dotted and says so
    pending = F.loss_curves(hist, interventions=[{**ivs[0], "pending": True}], steps_per_epoch=25)
    assert _shapes(pending, "lr change")[0].line.dash == "dot"
    assert any("from the next step" in a.text for a in pending.layout.annotations)


def test_only_pauses_that_changed_something_are_marked():
    hist = {"Adam": _hist_steps()}
    pauses = [
        {"step": 60, "epoch": 2, "changed": False},
        {"step": 100, "epoch": 4, "changed": True},
        {"step": 150, "epoch": 6, "changed": False},
    ]
    fig = F.loss_curves(hist, pauses=pauses, steps_per_epoch=25)
    marks = _shapes(fig, "pause")
    assert [s.x0 for s in marks] == [4.0]
    assert sum("paused" in a.text for a in fig.layout.annotations) == 1
    quiet = F.loss_curves(hist, pauses=[{**p, "changed": False} for p in pauses], steps_per_epoch=25)
    assert not _shapes(quiet, "pause") and not quiet.layout.annotations
    assert F.step_to_epoch(50, 25) == 2.0 and F.step_to_epoch(13, 25) == pytest.approx(0.52)


def test_many_learning_rate_changes_keep_their_lines_but_few_labels():
    hist = {"Adam": _hist_steps(40)}
    ivs = [{"step": 10 * i + 1, "optimizer": "Adam", "old": 0.001, "new": 0.002} for i in range(1, 30)]
    fig = F.loss_curves(hist, interventions=ivs, steps_per_epoch=25)
    assert len(_shapes(fig, "lr change")) == 29
    assert len(_trace(fig, "Adam · lr change").x) == 29
    assert sum("lr" in a.text for a in fig.layout.annotations) == F.MAX_MARK_LABELS


def test_loss_curves_with_every_marker_are_valid_plotly():
    """loss_curves skips Plotly's validation for speed: check its output against the validators here."""
    hist = {"Adam": _hist_steps(), "RMSprop": _hist_steps(scale=2)}
    markers = {
        "Adam": {"status": "early_stopped", "best_epoch": 7, "stopped_epoch": 10},
        "RMSprop": {"status": "diverged", "best_epoch": 1, "diverged_epoch": 10, "diverged_step": 240},
    }
    ivs = [{"step": 101, "optimizer": "Adam", "old": 0.001, "new": 0.05, "pending": True}]
    for log_y, smooth in ((False, 0.0), (True, 0.6)):
        fig = F.loss_curves(hist, log_y=log_y, smooth=smooth, markers=markers, interventions=ivs,
                            pauses=[{"step": 100, "epoch": 4, "changed": True}], total_epochs=50)  # fmt: skip
        checked = go.Figure(json.loads(fig.to_json()))  # raises ValueError on any invalid property
        assert len(checked.data) == len(fig.data)
        big = F.presentation(fig)
        go.Figure(json.loads(big.to_json()))


def test_presentation_enlarges_fonts_lines_markers_and_keeps_data_and_colours():
    hist = {"Adam": _hist_steps(), "RMSprop": _hist_steps(scale=2)}
    markers = {"Adam": {"status": "early_stopped", "best_epoch": 7, "stopped_epoch": 10}}
    ivs = [{"step": 101, "optimizer": "Adam", "old": 0.001, "new": 0.05}]
    figures = [
        F.loss_curves(hist, markers=markers, interventions=ivs, steps_per_epoch=25),
        F.forecast_plot(np.arange(5), np.ones(5), {"Adam": np.ones(5)}, {"persistence": np.zeros(5)}),
        F.gate_heatmaps(_gates(), np.zeros(6), name="Adam", color=F.color_for("Adam")),
        F.series_preview(pd.Series(np.arange(50.0)), regions=[("train", 0, 30)]),
    ]
    for fig in figures:
        before = fig.to_json()
        big = F.presentation(fig)
        assert fig.to_json() == before, "presentation() must not change its input"
        assert big is not fig
        assert big.layout.font.size > fig.layout.font.size
        assert big.layout.title.font.size > fig.layout.title.font.size
        assert big.layout.height > fig.layout.height
        assert len(big.data) == len(fig.data)
        for a, b in zip(fig.data, big.data):
            assert a.name == b.name and a.type == b.type
            for attr in ("x", "y", "z"):
                va, vb = getattr(a, attr, None), getattr(b, attr, None)
                if va is not None:
                    np.testing.assert_array_equal(np.asarray(va, dtype=object), np.asarray(vb, dtype=object))
            if a.type == "scatter":
                if a.line.width is not None or "lines" in (a.mode or ""):
                    assert b.line.width > (a.line.width or 2)
                assert a.line.color == b.line.color and a.line.dash == b.line.dash
                if "markers" in (a.mode or "") and a.marker.size is not None:
                    assert b.marker.size > a.marker.size
                assert a.marker.color == b.marker.color
        for sa, sb in zip(fig.layout.shapes, big.layout.shapes):
            assert sa.line.color == sb.line.color and sa.fillcolor == sb.fillcolor
            assert sb.line.width > sa.line.width if sa.line.width else sb.line.width == sa.line.width
            assert (sa.x0, sa.x1) == (sb.x0, sb.x1)
        for aa, ab in zip(fig.layout.annotations, big.layout.annotations):
            assert aa.text == ab.text and (ab.font.size or 0) > (aa.font.size or 0)
    assert F.present(figures[0], False) is figures[0]
    assert F.present(figures[0], True).layout.font.size > figures[0].layout.font.size


def test_loss_bands_draw_the_engines_median_and_spread_and_every_seed_on_request():
    from gru_core.stats import seed_bands

    histories = [{"Adam": _hist(scale=s), "RMSprop": _hist(scale=2 * s)} for s in (1.0, 1.5, 3.0)]
    bands = seed_bands(histories)
    ivs = [{"step": 101, "optimizer": "Adam", "old": 0.001, "new": 0.05}]
    diverged = {"RMSprop": [(2, 10, 0.5, 240)]}
    for log_y in (False, True):
        fig = F.loss_bands(bands, 3, log_y=log_y, interventions=ivs, pauses=[], steps_per_epoch=10,
                           diverged=diverged, total_epochs=40)  # fmt: skip
        go.Figure(json.loads(fig.to_json()))  # built unvalidated: every property must be valid
        assert "median of 3 seeds" in fig.layout.title.text and F.BAND_TEXT in fig.layout.title.text
        band = _trace(fig, f"Adam · train: {F.BAND_TEXT}")
        low = _trace(fig, "Adam · train band low")
        np.testing.assert_array_equal(np.asarray(band.y, float), [3.0 / e for e in range(1, 11)])  # max over seeds
        np.testing.assert_array_equal(np.asarray(low.y, float), [1.0 / e for e in range(1, 11)])  # min
        median = _trace(fig, "Adam · train")
        np.testing.assert_array_equal(np.asarray(median.y, float), [1.5 / e for e in range(1, 11)])
        assert band.fill == "tonexty" and fig.data.index(low) == fig.data.index(band) - 1
        assert any("RMSprop diverged in 1 of 3 seeds" in (a.text or "") for a in fig.layout.annotations)
        assert not [t for t in fig.data if "seed 0" in (t.name or "")]
    every = F.loss_bands(bands, 3, seed_histories=list(zip((0, 1, 2), histories)))
    assert len([t for t in every.data if " · seed " in (t.name or "")]) == 3 * 2 * 2  # seeds × optimizers × kinds
