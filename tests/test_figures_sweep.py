"""The sweep and run-history figure builders (gru_ui.figures.sweep): traces, axis titles with units, heatmap
axes and cells, and every optimizer in its colour.  Pure functions: no Streamlit, no training."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _presentation import check_every_builder

from gru_ui.figures import BASELINE_STYLES, EXTRA_COLORS, OPTIMIZER_COLORS, color_for
from gru_ui.figures import sweep as FS

ADAM, RMS = OPTIMIZER_COLORS["adam"], OPTIMIZER_COLORS["rmsprop"]


@pytest.fixture(autouse=True)
def _every_figure_presentable(monkeypatch):
    """Every figure these tests build must also pass presentation mode (tests/_presentation.py)."""
    check_every_builder(monkeypatch, FS)


def heat_cells() -> pd.DataFrame:
    rows = []
    for label, shift in (("Adam", 0.0), ("RMSprop", 1.0)):
        for lr in (0.01, 0.0001, 0.001):  # out of order on purpose
            for hidden in (32, 16):
                if label == "RMSprop" and lr == 0.0001 and hidden == 32:
                    continue  # a missing combination
                mean = 1.0 + shift + 10 * lr + hidden / 100
                rows.append({"label": label, "lr": lr, "hidden_size": hidden, "mean": mean, "n": 3, "n_diverged": 0})
    rows.append({"label": "Adam", "lr": 0.01, "hidden_size": 64, "mean": math.nan, "n": 0, "n_diverged": 3})
    return pd.DataFrame(rows)


def test_metric_titles_carry_units():
    assert FS.metric_title("test_mape") == "test MAPE (%)"
    assert FS.metric_title("test_rmse", "USD per tonne") == "test RMSE (USD per tonne)"
    assert FS.metric_title("test_rmse") == "test RMSE (series units)"
    assert FS.metric_title("val_mse", "ppm") == "validation MSE (ppm²)"
    assert "(" in FS.field_title("lr") and "(" in FS.field_title("hidden_size") and "(" in FS.field_title("whatever")


def test_heatmaps_one_per_optimizer_with_sorted_axes_and_values():
    cells = heat_cells()
    fig = FS.metric_heatmaps(cells, "lr", "hidden_size", "test_mape", colors={"Adam": ADAM, "RMSprop": RMS})
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert [t.name for t in heat] == ["Adam", "RMSprop"]
    for t in heat:
        assert list(t.x) == ["0.0001", "0.001", "0.01"]  # numeric order, readable labels
        assert list(t.y) == ["16", "32", "64"]
        assert t.coloraxis == "coloraxis"  # one shared scale: colours compare across optimizers
    adam = np.asarray(heat[0].z, dtype=float)
    assert adam[0, 2] == pytest.approx(1.0 + 0.1 + 0.16)  # hidden 16 (row 0), lr 0.01 (column 2)
    assert math.isnan(adam[2, 2]) and heat[0].text[2][2] == "✖ all diverged"
    rms = np.asarray(heat[1].z, dtype=float)
    assert math.isnan(rms[1, 0])  # the missing combination stays empty
    layout = fig.layout
    assert "learning rate" in layout.xaxis.title.text and "(" in layout.xaxis.title.text
    assert "hidden units" in layout.yaxis.title.text
    assert "MAPE (%)" in layout.title.text
    assert layout.coloraxis.reversescale is True and "lower is better" in layout.coloraxis.colorbar.title.text
    titles = [a.text for a in layout.annotations]
    assert any("Adam" in t and ADAM in t for t in titles) and any("RMSprop" in t and RMS in t for t in titles)


def test_heatmap_caps_an_outlier_and_handles_one_axis():
    cells = heat_cells()
    cells.loc[0, "mean"] = 1e6  # one exploding configuration
    fig = FS.metric_heatmaps(cells, "lr", "hidden_size")
    assert fig.layout.coloraxis.cmax < 1e3 and "capped" in fig.layout.coloraxis.colorbar.title.text
    one = cells[cells["hidden_size"] == 16].drop(columns="hidden_size")
    fig1 = FS.metric_heatmaps(one, "lr", None, "test_rmse", units="ppm")
    heat = [t for t in fig1.data if t.type == "heatmap"]
    assert list(heat[0].y) == ["all"] and np.asarray(heat[0].z).shape == (1, 3)
    assert "pooled" in fig1.layout.yaxis.title.text and fig1.layout.height <= 320
    assert "RMSE (ppm)" in fig1.layout.title.text


def test_heatmap_empty_input_says_so():
    fig = FS.metric_heatmaps(pd.DataFrame(columns=["label", "lr", "hidden_size", "mean"]))
    assert not fig.data and "No finished runs" in fig.layout.annotations[0].text
    assert fig.layout.title.text and fig.layout.xaxis.title.text


def test_parallel_coordinates_dimensions_and_optimizer_colours():
    groups = heat_cells().assign(batch_size=32)  # a setting that never changes: no axis
    fields = ["batch_size", "lr", "hidden_size"]
    fig = FS.parallel_coordinates(groups, fields, "test_mape", colors={"Adam": ADAM, "RMSprop": RMS})
    par = [t for t in fig.data if t.type == "parcoords"][0]
    labels = [d.label for d in par.dimensions]
    assert labels == ["learning rate (log)", "hidden units", "optimizer", "test MAPE (%)"]
    lr_dim = par.dimensions[0]
    assert list(lr_dim.ticktext) == ["0.0001", "0.001", "0.01"]
    assert list(lr_dim.tickvals) == pytest.approx([-4, -3, -2])
    assert list(par.dimensions[2].ticktext) == ["Adam", "RMSprop"]
    colours = {c for _, c in par.line.colorscale}
    assert colours == {ADAM, RMS}
    legend = {t.name: t.line.color for t in fig.data if t.type == "scatter"}
    assert legend == {"Adam": ADAM, "RMSprop": RMS}
    assert len(par.dimensions[0].values) == len(groups) - 1  # the all-diverged row has no mean
    assert "1 left out" in fig.layout.title.text


def forest_inputs(one_seed: bool = False):
    per = pd.DataFrame(
        {
            "config": ["lr=0.01", "lr=0.001", "lr=0.0001"],
            "mean_diff": [-0.5, 0.4, 0.05],
            "ci_low": [-0.8, 0.1, -0.2] if not one_seed else [math.nan] * 3,
            "ci_high": [-0.2, 0.7, 0.3] if not one_seed else [math.nan] * 3,
            "n": [3, 3, 3] if not one_seed else [1, 1, 1],
        }
    )
    overall = {"a": "Adam", "b": "RMSprop", "n": 9, "mean_diff": -0.02, "ci_low": -0.3, "ci_high": 0.26}
    return per, overall


def test_paired_forest_colours_rows_by_the_better_optimizer():
    per, overall = forest_inputs()
    fig = FS.paired_forest(per, overall, "test_mape")
    by_name = {t.name: t for t in fig.data}
    assert by_name["Adam better (interval excludes 0)"].marker.color == ADAM
    assert list(by_name["Adam better (interval excludes 0)"].y) == ["lr=0.01"]
    assert by_name["RMSprop better (interval excludes 0)"].marker.color == RMS
    noise = by_name["within seed noise (interval includes 0)"]
    assert set(noise.y) == {"lr=0.0001", "<b>all 9 pairs</b>"}
    i = list(noise.y).index("lr=0.0001")
    assert noise.error_x.array[i] == pytest.approx(0.25) and noise.error_x.arrayminus[i] == pytest.approx(0.25)
    assert "Adam − RMSprop" in fig.layout.xaxis.title.text and "MAPE (%)" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.title.text
    assert fig.layout.yaxis.categoryarray[-1] == "<b>all 9 pairs</b>"  # sorted rows, overall last (on top)
    texts = [a.text for a in fig.layout.annotations]
    assert "← Adam better" in texts and "RMSprop better →" in texts


def test_paired_forest_with_one_seed_has_no_intervals():
    per, overall = forest_inputs(one_seed=True)
    fig = FS.paired_forest(per, overall)
    names = {t.name for t in fig.data}
    assert "one seed: no interval" in names
    no_ci = next(t for t in fig.data if t.name == "one seed: no interval")
    assert no_ci.marker.color == FS.NO_CI_GREY and len(no_ci.y) == 3


def test_paired_forest_empty():
    fig = FS.paired_forest(pd.DataFrame(), {"a": "Adam", "b": "RMSprop", "n": 0})
    assert not fig.data and "No pair" in fig.layout.annotations[0].text


def test_lr_curves_log_axis_error_bars_and_colours():
    lr = pd.DataFrame(
        {
            "label": ["Adam"] * 3 + ["RMSprop"] * 3,
            "lr": [0.0001, 0.001, 0.01] * 2,
            "mean": [3.0, 2.0, 1.5, 4.0, 2.5, 9.0],
            "ci_low": [2.5, 1.8, 1.0, 3.0, 2.0, math.nan],
            "ci_high": [3.5, 2.2, 2.0, 5.0, 3.0, math.nan],
            "n": [6] * 6,
            "n_diverged": [0, 0, 0, 0, 0, 2],
        }
    )
    fig = FS.lr_curves(lr, "test_rmse", units="USD")
    assert [t.name for t in fig.data] == ["Adam", "RMSprop"]
    assert [t.line.color for t in fig.data] == [ADAM, RMS]
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ["0.0001", "0.001", "0.01"]
    assert "learning rate" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.title.text == "test RMSE (USD)"
    assert list(fig.data[0].error_y.array) == pytest.approx([0.5, 0.2, 0.5])
    assert fig.data[1].error_y.array[2] == 0  # no interval: no bar
    assert fig.data[1].customdata[2][1] == 2  # diverged count in the hover


def test_best_vs_baselines_bars_lines_and_legend():
    best = [
        {
            "label": "Adam",
            "config": "batch_size=64, lr=0.01, hidden_size=64",
            "n_seeds": 5,
            "test_mape_mean": 1.7,
            "test_mape_ci_low": 1.3,
            "test_mape_ci_high": 2.1,
        },
        {
            "label": "RMSprop",
            "config": "batch_size=32, lr=0.01",
            "n_seeds": 1,
            "test_mape_mean": 1.34,
            "test_mape_ci_low": math.nan,
            "test_mape_ci_high": math.nan,
        },
    ]
    fig = FS.best_vs_baselines(best, {"persistence": 1.168, "linear": 1.145}, "test_mape")
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.marker.color for b in bars] == [ADAM, RMS]
    assert bars[0].y[0] == pytest.approx(1.7) and bars[0].error_y.array[0] == pytest.approx(0.4)
    assert bars[1].error_y.visible is False  # one seed: no interval drawn
    assert "5 seeds" in bars[0].name and "1 seed)" in bars[1].name
    lines = {s.y0: s.line for s in fig.layout.shapes}
    assert set(lines) == {1.168, 1.145}
    assert lines[1.168].color == BASELINE_STYLES["persistence"]["color"] and lines[1.168].dash == "dot"
    legend = [t.name for t in fig.data if t.type == "scatter"]
    assert any("tomorrow = today" in n for n in legend) and any("linear" in n for n in legend)
    assert "MAPE (%)" in fig.layout.yaxis.title.text and fig.layout.xaxis.title.text
    assert "chosen on validation" in fig.layout.title.text


def test_runs_overlay_colour_by_optimizer_dash_by_run():
    hist = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    runs = [
        {"name": "#1 Adam · seed 0", "label": "Adam", "history": hist},
        {"name": "#2 Adam · seed 1", "label": "Adam", "history": hist},
        {"name": "#3 RMSprop (keras) · seed 0", "label": "RMSprop (keras)", "history": hist[:2]},
    ]
    fig = FS.runs_overlay(runs, log_y=True)
    assert len(fig.data) == 6  # training and validation per run
    first = [t for t in fig.data if t.showlegend]
    assert [t.name for t in first] == [r["name"] for r in runs]
    assert first[0].line.color == first[1].line.color == ADAM
    assert first[0].line.dash != first[1].line.dash
    assert first[2].line.color == RMS == color_for("RMSprop (keras)")
    assert fig.layout.yaxis.type == "log" and "MSE loss" in fig.layout.yaxis.title.text
    assert list(fig.layout.yaxis.ticktext) == ["0.5", "1"]  # 1-2-5 ticks within the losses 0.333…1.2
    assert fig.layout.xaxis.dtick == 1  # few epochs: whole numbers only
    assert fig.layout.xaxis.title.text == "epoch" and fig.layout.xaxis2.title.text == "epoch"
    empty = FS.runs_overlay([], log_y=False)
    assert not empty.data and "Select runs" in empty.layout.annotations[-1].text


def test_unknown_optimizer_labels_get_distinct_spare_colours():
    cells = heat_cells()
    cells["label"] = cells["label"].map({"Adam": "Mystery", "RMSprop": "Other"})
    fig = FS.parallel_coordinates(cells, ["lr"])
    legend = [t.line.color for t in fig.data if t.type == "scatter"]
    assert len(set(legend)) == 2 and set(legend) <= set(EXTRA_COLORS) | set(OPTIMIZER_COLORS.values())
