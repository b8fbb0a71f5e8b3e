"""Pure Plotly figure builders for sweeps and the run history: tables of numbers in, figures out.

No Streamlit and no statistics here: every number drawn was computed by the engine (``gru_core.stats``
through :mod:`gru_ui.sweep`).  The builders only lay it out: heatmaps of a metric over two swept
settings, a parallel-coordinates plot, the paired comparison as a forest plot, learning-rate curves, the best
configurations next to the baselines, and overlaid loss curves of stored runs.

Every figure has a title, axis titles with units and named legend entries; an optimizer keeps its colour
from :func:`gru_ui.figures.assign_colors` / :func:`~gru_ui.figures.color_for` (Okabe-Ito, colour-blind safe)
in every chart, as on the race page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gru_core.fmt import num
from gru_ui.figures.style import (
    AXIS_STYLE,
    BASELINE_STYLES,
    base_layout,
    colors_for,
    empty_note,
)

__all__ = [
    "FIELD_AXIS",
    "best_vs_baselines",
    "field_title",
    "lr_curves",
    "metric_heatmaps",
    "metric_title",
    "paired_forest",
    "parallel_coordinates",
    "runs_overlay",
]

# Axis titles of swept settings, with their units.
FIELD_AXIS: dict[str, str] = {
    "lr": "learning rate (step size, unitless)",
    "hidden_size": "hidden units (GRU size)",
    "batch_size": "batch size (windows per mini-batch)",
    "epochs": "epochs (at most; passes over the training data)",
    "num_layers": "GRU layers (count)",
    "dropout": "dropout (fraction of units)",
    "lookback": "lookback (time steps)",
    "horizon": "horizon (time steps)",
    "patience": "early-stopping patience (epochs)",
    "clip_norm": "gradient clipping (max norm)",
    "step_every": "lr step every (epochs)",
    "step_gamma": "lr step factor (unitless)",
    "divergence_factor": "divergence threshold (× first loss)",
}
# Short axis labels for the parallel-coordinates plot (its labels sit side by side above the axes).
SHORT_AXIS: dict[str, str] = {
    "lr": "learning rate (log)",
    "hidden_size": "hidden units",
    "batch_size": "batch (windows)",
    "epochs": "epochs (max)",
    "num_layers": "GRU layers",
    "dropout": "dropout (fraction)",
    "lookback": "lookback (steps)",
    "horizon": "horizon (steps)",
    "patience": "patience (epochs)",
}
GOOD_SCALE = "Viridis"  # reversed below: bright yellow = low error = good, dark = high error
NOISE_GREY = "#9E9E9E"
NO_CI_GREY = "#CFCFCF"
MAX_FOREST_ROWS = 60


def metric_title(metric: str, units: str = "") -> str:
    """ "test_mape" -> "test MAPE (%)", "test_rmse" with units "USD" -> "test RMSE (USD)"."""
    split, _, name = metric.partition("_")
    split = {"val": "validation"}.get(split, split)
    if name == "mape":
        return f"{split} MAPE (%)"
    if name == "r2":
        return f"{split} R² (unitless)"
    unit = units.strip() if units and units.strip() else "series units"
    if name == "mse":
        return f"{split} MSE ({unit}²)" if unit not in ("series units", "unitless") else f"{split} MSE ({unit})"
    return f"{split} {name.upper()} ({unit})"


def field_title(name: str) -> str:
    return FIELD_AXIS.get(name, f"{name} (as set)")


def _layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """:func:`gru_ui.figures.base_layout` with a taller top margin and Plotly's own hover mode."""
    return base_layout(title, height, **{"margin": {"l": 80, "r": 30, "t": 80, "b": 70}, "hovermode": None, **extra})


def _empty(title: str, text: str, x_title: str, y_title: str, height: int = 360) -> go.Figure:
    return go.Figure(
        layout=_layout(
            title,
            height,
            annotations=[empty_note(text)],
            xaxis={"title": {"text": x_title}, "showticklabels": False},
            yaxis={"title": {"text": y_title}, "showticklabels": False},
        )
    )


def _tick(v: Any) -> str:
    """A grid value as an axis label: 0.0001 -> "0.0001", 64 -> "64", "keras" -> "keras"."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return str(int(f)) if f.is_integer() and abs(f) < 1e6 else f"{f:g}"
    if isinstance(v, (list, tuple)):
        return "/".join(_tick(x) for x in v)
    return str(v)


def _ordered(values: Sequence[Any]) -> list[Any]:
    """Distinct values, numbers in numeric order, anything else in order of appearance."""
    distinct = list(dict.fromkeys(v for v in values if not (isinstance(v, float) and math.isnan(v))))
    try:
        return sorted(distinct, key=float)
    except (TypeError, ValueError):
        return distinct


# ----------------------------------------------------------------------------------------------------------
# heatmaps over two swept settings
# ----------------------------------------------------------------------------------------------------------


def metric_heatmaps(
    cells: pd.DataFrame,
    x_field: str = "lr",
    y_field: str = "hidden_size",
    metric: str = "test_mape",
    units: str = "",
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    height: int = 430,
) -> go.Figure:
    """One heatmap per optimizer of ``metric`` over two swept settings (mean over seeds and any other setting).

    ``cells``: one row per (``label``, x value, y value) with columns ``label``, ``x_field``, ``y_field``
    (or only ``x_field`` when ``y_field`` is None), ``mean``, ``n`` and ``n_diverged`` (as
    ``gru_core.stats.group_stats(..., by=("label", x_field, y_field))`` returns).  Every heatmap has the same
    axes (every value of either setting) and one shared colour scale: bright = low error.  A value far above
    the rest (more than 5× the median) would wash the scale out, so colours are capped there (the cells'
    text always shows the real number).
    """
    mname = metric_title(metric, units)
    title = (
        title
        or f"{mname} by {field_title(x_field).split(' (')[0]}"
        + (f" and {field_title(y_field).split(' (')[0]}" if y_field else "")
        + " (mean over seeds and the other settings)"
    )
    if cells is None or cells.empty or x_field not in cells:
        return _empty(title, "No finished runs to draw.", field_title(x_field), field_title(y_field or ""))
    labels = list(dict.fromkeys(cells["label"]))
    cmap = colors_for(labels, colors)
    xs = _ordered(cells[x_field].tolist())
    ys = _ordered(cells[y_field].tolist()) if y_field else ["all"]
    xt, yt = [_tick(v) for v in xs], [_tick(v) for v in ys]
    finite = cells["mean"].astype(float)
    finite = finite[np.isfinite(finite)]
    zmin = float(finite.min()) if len(finite) else 0.0
    zmax = float(finite.max()) if len(finite) else 1.0
    capped = False
    if len(finite) >= 3:
        med = float(finite.median())
        if med > 0 and zmax > 5 * med:
            zmax, capped = 5 * med, True
    fig = make_subplots(
        rows=1,
        cols=len(labels),
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[f"<span style='color:{cmap[lab]}'><b>{lab}</b></span>" for lab in labels],
    )
    for j, lab in enumerate(labels):
        part = cells[cells["label"] == lab]
        z = np.full((len(ys), len(xs)), np.nan)
        text = [["" for _ in xs] for _ in ys]
        for _, r in part.iterrows():
            ix = xs.index(r[x_field]) if r[x_field] in xs else None
            iy = ys.index(r[y_field]) if y_field else 0
            if ix is None:
                continue
            mean = float(r["mean"]) if r["mean"] is not None else math.nan
            z[iy, ix] = mean
            div = int(r.get("n_diverged", 0) or 0)
            text[iy][ix] = (num(mean, 3) if math.isfinite(mean) else "✖ all diverged") + (
                f"<br>({div} diverged)" if div and math.isfinite(mean) else ""
            )
        fig.add_trace(
            go.Heatmap(
                x=xt,
                y=yt,
                z=z,
                text=text,
                texttemplate="%{text}",
                textfont={"size": 13},
                coloraxis="coloraxis",
                name=lab,
                xgap=2,
                ygap=2,
                hovertemplate=f"{lab}<br>{field_title(x_field).split(' (')[0]} %{{x}}"
                + (f", {field_title(y_field).split(' (')[0]} %{{y}}" if y_field else "")
                + f"<br>{mname}: %{{z:.4g}}<extra></extra>",
            ),
            row=1,
            col=j + 1,
        )
        fig.update_xaxes(title_text=field_title(x_field), type="category", row=1, col=j + 1, **AXIS_STYLE)
        fig.update_yaxes(type="category", row=1, col=j + 1, **AXIS_STYLE)
    fig.update_yaxes(title_text=field_title(y_field) if y_field else "other settings (pooled)", row=1, col=1)
    if not y_field:
        height = min(height, 320)
    bar_title = mname.replace(" (", "<br>(") + "<br>lower is better" + ("<br>(colours capped)" if capped else "")
    fig.update_layout(
        **_layout(title, height, margin={"l": 90, "r": 30, "t": 100, "b": 80}),
        coloraxis={
            "colorscale": GOOD_SCALE,
            "reversescale": True,
            "cmin": zmin,
            "cmax": zmax,
            "colorbar": {"title": {"text": bar_title}, "thickness": 16},
        },
    )
    return fig


# ----------------------------------------------------------------------------------------------------------
# parallel coordinates
# ----------------------------------------------------------------------------------------------------------


def parallel_coordinates(
    groups: pd.DataFrame,
    fields: Sequence[str],
    metric: str = "test_mape",
    units: str = "",
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    height: int = 480,
) -> go.Figure:
    """One line per configuration × optimizer through every swept setting to its mean ``metric`` over seeds.

    ``groups``: columns ``label``, the ``fields`` and ``mean`` (``gru_core.stats.group_stats`` by
    configuration and optimizer).  The learning rate is drawn on a log axis; lines take their optimizer's
    colour.  Configurations whose every seed diverged have no mean and are left out (the title says how many).
    """
    mname = metric_title(metric, units)
    title = title or f"Every configuration at a glance: settings → {mname}"
    if groups is None or groups.empty:
        return _empty(title, "No finished runs to draw.", "setting", mname)
    df = groups[np.isfinite(groups["mean"].astype(float))]
    dropped = len(groups) - len(df)
    if df.empty:
        return _empty(title, "Every run diverged: no metric to draw.", "setting", mname)
    labels = list(dict.fromkeys(groups["label"]))
    cmap = colors_for(labels, colors)
    dims = []
    for f in fields:
        if f not in df:
            continue
        vals = df[f].tolist()
        order = _ordered(vals)
        if len(order) < 2:
            continue  # a setting that never changes separates nothing
        label = SHORT_AXIS.get(f, f)
        if f == "lr" and all(isinstance(v, (int, float)) and v > 0 for v in order):
            dims.append(
                {
                    "label": label,
                    "values": [math.log10(v) for v in vals],
                    "tickvals": [math.log10(v) for v in order],
                    "ticktext": [_tick(v) for v in order],
                }
            )
        elif all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in order):
            dims.append(
                {
                    "label": label,
                    "values": [float(v) for v in vals],
                    "tickvals": [float(v) for v in order],
                    "ticktext": [_tick(v) for v in order],
                }
            )
        else:
            codes = {_tick(v): i for i, v in enumerate(order)}
            dims.append(
                {
                    "label": label,
                    "values": [codes[_tick(v)] for v in vals],
                    "tickvals": list(codes.values()),
                    "ticktext": list(codes),
                }
            )
    code = {lab: i for i, lab in enumerate(labels)}
    dims.append(
        {
            "label": "optimizer",
            "values": [code[v] for v in df["label"]],
            "tickvals": list(code.values()),
            "ticktext": labels,
        }
    )
    dims.append({"label": mname, "values": df["mean"].astype(float).tolist()})
    k = len(labels)
    if k == 1:
        scale = [[0.0, cmap[labels[0]]], [1.0, cmap[labels[0]]]]
    else:  # a stepped scale: each optimizer's code gets exactly its colour
        scale = []
        for i, lab in enumerate(labels):
            scale += [[i / k, cmap[lab]], [(i + 1) / k, cmap[lab]]]
    trace = go.Parcoords(
        line={"color": [code[v] for v in df["label"]], "colorscale": scale, "cmin": -0.5, "cmax": k - 0.5},
        dimensions=dims,
        labelfont={"size": 14},
        tickfont={"size": 12},
        name="configurations",
    )
    note = f" ({dropped} left out: every seed diverged)" if dropped else ""
    legend_traces = [
        go.Scatter(x=[None], y=[None], mode="lines", name=lab, line={"color": cmap[lab], "width": 4}) for lab in labels
    ]  # legend entries: a Parcoords trace has none of its own
    fig = go.Figure(
        data=[trace, *legend_traces],
        layout=_layout(
            title + note,
            height,
            margin={"l": 80, "r": 80, "t": 110, "b": 60},
            xaxis={"visible": False, "title": {"text": "setting"}},
            yaxis={"visible": False, "title": {"text": mname}},
            legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0, "font": {"size": 14}},
        ),
    )
    return fig


def _unit_suffix(f: str) -> str:
    text = field_title(f)
    return f" ({text.split(' (', 1)[1]}" if " (" in text else ""


# ----------------------------------------------------------------------------------------------------------
# the paired comparison: a forest plot
# ----------------------------------------------------------------------------------------------------------


def paired_forest(
    per_config: pd.DataFrame,
    overall: Mapping[str, Any],
    metric: str = "test_mape",
    units: str = "",
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Optimizer a − b, paired on (configuration, seed): the mean difference with its 95 % confidence
    interval over all pairs (top row) and within each configuration (over its seeds), sorted.

    ``overall``: :func:`gru_core.stats.paired_comparison`'s dict (``a``, ``b``, ``mean_diff``, ``ci_low``,
    ``ci_high``, ``n``, ``p_value``, ``wins_a``, ``wins_b``); ``per_config``: :func:`~gru_core.stats.
    paired_by_config`'s rows (``config``, ``mean_diff``, ``ci_low``, ``ci_high``, ``n``).  A row whose
    interval excludes 0 takes the colour of the optimizer that is better there; an interval across 0 (within
    the seed noise) is grey; a configuration with one seed has no interval (light grey dot).
    """
    a, b = str(overall.get("a")), str(overall.get("b"))
    mname = metric_title(metric, units)
    lower = not metric.endswith("r2")
    title = title or f"Paired comparison: {a} − {b}, {mname}"
    x_title = f"difference in {mname}: {a} − {b}"
    rows: list[dict[str, Any]] = []
    if per_config is not None and not per_config.empty:
        pc = per_config.copy()
        pc = pc[np.isfinite(pc["mean_diff"].astype(float))]
        pc = pc.sort_values("mean_diff", kind="stable")
        shown = len(pc)
        if len(pc) > MAX_FOREST_ROWS:  # keep the most extreme at both ends
            half = MAX_FOREST_ROWS // 2
            pc = pd.concat([pc.head(half), pc.tail(half)])
            title += f" ({MAX_FOREST_ROWS} of {shown} configurations: the most extreme)"
        for _, r in pc.iterrows():
            rows.append(
                {
                    "name": str(r.get("config", r.get("config_key"))),
                    "mean": float(r["mean_diff"]),
                    "lo": float(r["ci_low"]),
                    "hi": float(r["ci_high"]),
                    "n": int(r["n"]),
                }
            )
    n_all = int(overall.get("n") or 0)
    if n_all:
        rows.append(
            {
                "name": f"<b>all {n_all} pairs</b>",
                "mean": float(overall["mean_diff"]),
                "lo": float(overall["ci_low"]),
                "hi": float(overall["ci_high"]),
                "n": n_all,
            }
        )
    if not rows:
        return _empty(title, "No pair of finished runs to compare.", x_title, "configuration")
    cmap = colors_for([a, b], colors)
    groups: dict[str, list[dict]] = {"a": [], "b": [], "noise": [], "no_ci": []}
    for r in rows:
        if not (math.isfinite(r["lo"]) and math.isfinite(r["hi"])):
            groups["no_ci"].append(r)
        elif r["hi"] < 0:
            groups["a" if lower else "b"].append(r)
        elif r["lo"] > 0:
            groups["b" if lower else "a"].append(r)
        else:
            groups["noise"].append(r)
    names = {
        "a": f"{a} better (interval excludes 0)",
        "b": f"{b} better (interval excludes 0)",
        "noise": "within seed noise (interval includes 0)",
        "no_ci": "one seed: no interval",
    }
    color = {"a": cmap[a], "b": cmap[b], "noise": NOISE_GREY, "no_ci": NO_CI_GREY}
    traces = []
    for key, members in groups.items():
        if not members:
            continue
        traces.append(
            go.Scatter(
                x=[r["mean"] for r in members],
                y=[r["name"] for r in members],
                mode="markers",
                name=names[key],
                marker={
                    "color": color[key],
                    "size": [14 if r["name"].startswith("<b>") else 9 for r in members],
                    "symbol": ["diamond" if r["name"].startswith("<b>") else "circle" for r in members],
                    "line": {"color": "#333", "width": 0.5},
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "color": color[key],
                    "thickness": 2,
                    "array": [r["hi"] - r["mean"] if math.isfinite(r["hi"]) else 0 for r in members],
                    "arrayminus": [r["mean"] - r["lo"] if math.isfinite(r["lo"]) else 0 for r in members],
                },
                customdata=[[r["n"], num(r["lo"], 3), num(r["hi"], 3)] for r in members],
                hovertemplate="%{y}<br>mean difference %{x:.4g}<br>95% CI %{customdata[1]} to %{customdata[2]}"
                "<br>%{customdata[0]} pair(s)<extra></extra>",
            )
        )
    order = [r["name"] for r in rows]
    better_left, better_right = (a, b) if lower else (b, a)
    height = min(160 + 24 * len(rows), 1700)
    layout = _layout(
        title,
        max(height, 360),
        xaxis={
            "title": {"text": x_title, "standoff": 34},
            "zeroline": True,
            "zerolinecolor": "#333",
            "zerolinewidth": 2,
        },
        yaxis={
            "title": {"text": "configuration (pairs = seeds)"},
            "categoryorder": "array",
            "categoryarray": order,
            "automargin": True,
            "type": "category",
        },
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "font": {"size": 13}},
        margin={"l": 80, "r": 30, "t": 110, "b": 110},
        annotations=[  # just under the tick labels, above the axis title, whatever the figure's height
            {
                "text": f"← {better_left} better",
                "xref": "paper",
                "yref": "paper",
                "x": 0.0,
                "y": 0.0,
                "yanchor": "top",
                "xanchor": "left",
                "showarrow": False,
                "font": {"color": cmap[better_left]},
                "yshift": -26,
            },
            {
                "text": f"{better_right} better →",
                "xref": "paper",
                "yref": "paper",
                "x": 1.0,
                "y": 0.0,
                "yanchor": "top",
                "xanchor": "right",
                "showarrow": False,
                "font": {"color": cmap[better_right]},
                "yshift": -26,
            },
        ],
    )
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------------------------------------
# learning-rate sensitivity
# ----------------------------------------------------------------------------------------------------------


def lr_curves(
    lr_table: pd.DataFrame,
    metric: str = "test_mape",
    units: str = "",
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    height: int = 430,
) -> go.Figure:
    """``metric`` against the learning rate per optimizer: the mean over every run with that learning rate
    (other settings and seeds pooled) with its 95 % confidence interval as error bars.

    ``lr_table``: :func:`gru_core.stats.lr_sensitivity`'s rows (``label``, ``lr``, ``mean``, ``ci_low``,
    ``ci_high``, ``n``, ``n_diverged``).
    """
    mname = metric_title(metric, units)
    title = title or f"{mname} against the learning rate (other settings and seeds pooled)"
    x_title = "learning rate (log scale)"
    if lr_table is None or lr_table.empty or lr_table["lr"].isna().all():
        return _empty(title, "No learning rate to draw.", x_title, mname)
    labels = list(dict.fromkeys(lr_table["label"]))
    cmap = colors_for(labels, colors)
    traces = []
    for lab in labels:
        g = lr_table[lr_table["label"] == lab].sort_values("lr")
        mean = g["mean"].astype(float).to_numpy()
        lo = g["ci_low"].astype(float).to_numpy()
        hi = g["ci_high"].astype(float).to_numpy()
        traces.append(
            go.Scatter(
                x=g["lr"].astype(float),
                y=mean,
                mode="lines+markers",
                name=lab,
                line={"color": cmap[lab], "width": 3},
                marker={"size": 10, "color": cmap[lab]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "color": cmap[lab],
                    "thickness": 1.5,
                    "array": np.where(np.isfinite(hi), hi - mean, 0),
                    "arrayminus": np.where(np.isfinite(lo), mean - lo, 0),
                },
                customdata=np.stack([g["n"].to_numpy(), g["n_diverged"].to_numpy()], axis=1),
                hovertemplate=f"{lab}, lr %{{x:g}}: mean %{{y:.4g}}<br>%{{customdata[0]}} runs, "
                f"%{{customdata[1]}} diverged<extra></extra>",
            )
        )
    lrs = _ordered(lr_table["lr"].dropna().tolist())
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": x_title}, "type": "log", "tickvals": lrs, "ticktext": [_tick(v) for v in lrs]},
        yaxis={"title": {"text": mname}},
        hovermode="closest",
    )
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------------------------------------
# the best configurations and the baselines
# ----------------------------------------------------------------------------------------------------------


def best_vs_baselines(
    best: Sequence[Mapping[str, Any]],
    baselines: Mapping[str, float | None] | None,
    metric: str = "test_mape",
    units: str = "",
    colors: Mapping[str, str] | None = None,
    select: str = "validation MSE",
    title: str | None = None,
    height: int = 440,
) -> go.Figure:
    """Each optimizer's best configuration (chosen on ``select``, a validation metric), its test ``metric``
    (mean over seeds, 95 % CI as error bars) as a bar, and the persistence and linear baselines on the same
    test split as dashed horizontal lines.

    ``best``: :func:`gru_core.stats.best_config` rows (``label``, ``config``, ``n_seeds``, ``<metric>_mean``,
    ``_ci_low``, ``_ci_high``); ``baselines``: ``{"persistence": value, "linear": value}``.
    """
    mname = metric_title(metric, units)
    title = title or f"Best configuration per optimizer (chosen on {select}), reported on test"
    x_title = "optimizer: its best configuration"
    if not best:
        return _empty(title, "No finished runs to draw.", x_title, mname)
    labels = [str(r["label"]) for r in best]
    cmap = colors_for(labels, colors)
    traces: list[Any] = []
    for r in best:
        lab = str(r["label"])
        mean = float(r.get(f"{metric}_mean", math.nan))
        lo, hi = float(r.get(f"{metric}_ci_low", math.nan)), float(r.get(f"{metric}_ci_high", math.nan))
        has_ci = math.isfinite(lo) and math.isfinite(hi)
        n = int(r.get("n_seeds", 0) or 0)
        tick = f"{lab}<br><span style='font-size:12px'>{_wrap(str(r.get('config', '')))}</span>"
        traces.append(
            go.Bar(
                x=[tick],
                y=[mean],
                name=f"{lab} (best configuration, {n} seed{'s' if n != 1 else ''})",
                marker={"color": cmap[lab]},
                width=0.5,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - mean if has_ci else 0],
                    "arrayminus": [mean - lo if has_ci else 0],
                    "visible": has_ci,
                    "color": "#333",
                    "thickness": 2,
                },
                text=[num(mean, 4)],
                textposition="inside",
                insidetextanchor="end",
                textfont={"color": "white", "size": 14},
                hovertemplate=f"{lab}: {num(mean, 4)}"
                + (f" (95% CI {num(lo, 3)} to {num(hi, 3)})" if has_ci else "")
                + f"<br>{r.get('config', '')}<extra></extra>",
            )
        )
    shapes, values = [], [float(r.get(f"{metric}_mean", math.nan)) for r in best]
    for key in ("persistence", "linear"):
        v = (baselines or {}).get(key)
        if v is None or not math.isfinite(float(v)):
            continue
        style = BASELINE_STYLES[key]
        values.append(float(v))
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": v,
                "y1": v,
                "line": {"color": style["color"], "dash": style["dash"], "width": 3},
            }
        )
        traces.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name=f"{style['label']}: {num(v, 4)}",
                line={"color": style["color"], "dash": style["dash"], "width": 3},
            )
        )
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": x_title}, "type": "category"},
        yaxis={
            "title": {"text": mname + ", lower is better" if not metric.endswith("r2") else mname},
            "rangemode": "tozero",
        },
        shapes=shapes,
        bargap=0.4,
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.32, "x": 0, "font": {"size": 13}},
        margin={"l": 80, "r": 30, "t": 80, "b": 150},
    )
    return go.Figure(data=traces, layout=layout)


def _log_ticks(lo: float, hi: float) -> dict[str, Any]:
    """Readable labels on a log axis: 1-2-5 steps over up to three decades, else powers of ten only."""
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1, 2, 5) if e1 - e0 <= 3 else (1,)
    vals = [m * 10.0**e for e in range(e0, e1 + 1) for m in mantissas]
    vals = [v for v in vals if lo / 1.5 <= v <= hi * 1.5] or [10.0**e0]
    return {"tickvals": vals, "ticktext": [f"{v:g}" for v in vals]}


def _wrap(text: str, width: int = 34) -> str:
    parts, line = [], ""
    for piece in text.split(", "):
        if line and len(line) + len(piece) + 2 > width:
            parts.append(line)
            line = piece
        else:
            line = f"{line}, {piece}" if line else piece
    parts.append(line)
    return "<br>".join(parts)


# ----------------------------------------------------------------------------------------------------------
# stored runs' loss curves, overlaid
# ----------------------------------------------------------------------------------------------------------

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def runs_overlay(
    runs: Sequence[Mapping[str, Any]],
    log_y: bool = True,
    colors: Mapping[str, str] | None = None,
    title: str | None = None,
    height: int = 470,
) -> go.Figure:
    """Training loss (left) and validation loss (right) per epoch of several stored runs, overlaid.

    ``runs``: dicts with ``name`` (the legend entry, unique), ``label`` (the optimizer: sets the colour) and
    ``history`` (per-epoch dicts with ``epoch``, ``train_loss``, ``val_loss``).  Runs of the same optimizer
    share its colour and differ by dash pattern.
    """
    title = title or f"Loss curves of {len(runs)} stored run{'s' if len(runs) != 1 else ''}"
    y_title = "MSE loss (scaled units)" + (", log scale" if log_y else "")
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05, subplot_titles=["training loss", "validation loss"]
    )
    labels = list(dict.fromkeys(str(r["label"]) for r in runs))
    cmap = colors_for(labels, colors)
    seen: dict[str, int] = {}
    for r in runs:
        lab = str(r["label"])
        i = seen.get(lab, 0)
        seen[lab] = i + 1
        hist = list(r.get("history") or [])
        ep = [h.get("epoch") for h in hist]
        for col, key in ((1, "train_loss"), (2, "val_loss")):
            y = np.array([np.nan if h.get(key) is None else float(h[key]) for h in hist], dtype=float)
            if log_y:
                y = np.where(y > 0, y, np.nan)
            fig.add_trace(
                go.Scatter(
                    x=ep,
                    y=y,
                    mode="lines" if len(ep) > 1 else "lines+markers",
                    name=str(r["name"]),
                    legendgroup=str(r["name"]),
                    showlegend=col == 1,
                    line={"color": cmap[lab], "width": 2.5, "dash": DASHES[i % len(DASHES)]},
                    hovertemplate=f"{r['name']}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    all_y = [float(h[k]) for r in runs for h in (r.get("history") or []) for k in ("train_loss", "val_loss")
             if h.get(k) is not None and math.isfinite(float(h[k])) and float(h[k]) > 0]  # fmt: skip
    last_epoch = max((h.get("epoch") or 0 for r in runs for h in (r.get("history") or [])), default=0)
    for col in (1, 2):
        x_extra = {"dtick": 1} if last_epoch <= 20 else {}
        fig.update_xaxes(title_text="epoch", row=1, col=col, **AXIS_STYLE, **x_extra)
        y_extra = _log_ticks(min(all_y), max(all_y)) if (log_y and all_y) else {}
        fig.update_yaxes(type="log" if log_y else "linear", row=1, col=col, **AXIS_STYLE, **y_extra)
    fig.update_yaxes(title_text=y_title, row=1, col=1)
    legend_rows = math.ceil(len(runs) / 2)
    fig.update_layout(
        **_layout(
            title,
            height + 24 * legend_rows,
            hovermode="closest",
            legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0,
                    "font": {"size": 13}},
            margin={"l": 80, "r": 30, "t": 80, "b": 80 + 24 * legend_rows},
        )
    )  # fmt: skip
    if not runs:
        fig.add_annotation(empty_note("Select runs in the table to overlay their loss curves."))
    return fig
