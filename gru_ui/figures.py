"""Pure Plotly figure builders: data in, :class:`plotly.graph_objects.Figure` out.

No Streamlit here and no numerical work beyond presentation: thinning long curves to at most
``max_points`` drawn points, and the optional exponential smoothing of a drawn loss curve (the same
display smoothing TensorBoard offers; the raw curve stays visible, faint, underneath).  Every number
drawn comes from the engine (``gru_core``).

Every figure has a title, axis titles with units, named legend entries and a fixed colour per
optimizer: :data:`OPTIMIZER_COLORS` (the Okabe-Ito colour-blind-safe palette) by optimizer family, and
:func:`assign_colors` to give every contestant of one race its own colour, the same in every chart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "BASELINE_STYLES",
    "EXTRA_COLORS",
    "MAX_POINTS",
    "OPTIMIZER_COLORS",
    "TRUTH_COLOR",
    "assign_colors",
    "chart_config",
    "color_for",
    "ema",
    "forecast_plot",
    "gate_heatmaps",
    "loss_curves",
    "series_preview",
    "thin_indices",
    "update_gate_heatmaps",
    "value_axis_title",
]

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OPTIMIZER_COLORS: dict[str, str] = {
    "adam": "#0072B2",  # blue
    "rmsprop": "#D55E00",  # vermillion
    "sgd": "#009E73",  # bluish green
    "adagrad": "#CC79A7",  # reddish purple
    "adamw": "#E69F00",  # orange
}
# For a second Adam, a Keras-flavoured twin, …: Okabe-Ito sky blue, then Paul Tol's muted wine, green, indigo.
EXTRA_COLORS: tuple[str, ...] = ("#56B4E9", "#882255", "#117733", "#332288", "#000000")
TRUTH_COLOR = "#222222"
BASELINE_STYLES: dict[str, dict[str, str]] = {
    "persistence": {"color": "#8C8C8C", "dash": "dot", "label": "persistence (tomorrow = today)"},
    "linear": {"color": "#4D4D4D", "dash": "dashdot", "label": "linear autoregression"},
}
SPLIT_FILLS = {
    "train": "rgba(0,114,178,0.08)",
    "validation": "rgba(230,159,0,0.14)",
    "test": "rgba(0,158,115,0.14)",
}
MAX_POINTS = 1000  # drawn points per curve; longer curves are thinned evenly (first and last kept)
FONT = {
    "size": 15,
    "color": "#262730",
    "family": "'Source Sans Pro', 'Source Sans 3', 'Helvetica Neue', Arial, sans-serif",
}
TITLE_FONT = {"size": 19, "weight": "bold"}

_DUP = re.compile(r"\s*#\d+$")
_FLAVOR = re.compile(r"\s*\([^)]*\)$")


# ----------------------------------------------------------------------------------------------------------
# colours and small helpers
# ----------------------------------------------------------------------------------------------------------


def base_optimizer(name: str) -> str | None:
    """The registry family of a display label: "Adam #2" -> "adam", "RMSprop (keras)" -> "rmsprop"."""
    s = _FLAVOR.sub("", _DUP.sub("", str(name).strip())).strip().lower()
    return s if s in OPTIMIZER_COLORS else None


def color_for(name: str, index: int = 0) -> str:
    """The colour of one contestant: its family's colour (Adam blue, RMSprop vermillion, …) unless the
    label is a numbered duplicate ("Adam #2") or unknown, which take ``EXTRA_COLORS[index]``.

    Stateless; :func:`assign_colors` resolves clashes within one race (e.g. "Adam" and "Adam (keras)").
    """
    if base_optimizer(name) is not None and not _DUP.search(str(name)):
        return OPTIMIZER_COLORS[base_optimizer(name)]  # type: ignore[index]
    return EXTRA_COLORS[index % len(EXTRA_COLORS)]


def assign_colors(names: Sequence[str]) -> dict[str, str]:
    """Distinct colours for the contestants of one race, independent of their order where possible.

    A plain family name ("Adam") always gets its family colour; another member of the family
    ("Adam (keras)", "Adam #2") gets the family colour only if no plain name took it, else the first
    unused extra colour.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:  # pass 1: the plain family names
        base = base_optimizer(name)
        if base is not None and str(name).strip().lower() == base:
            out[name] = OPTIMIZER_COLORS[base]
            used.add(out[name])
    spare = [c for c in (*OPTIMIZER_COLORS.values(), *EXTRA_COLORS)]
    for name in names:  # pass 2: everyone else
        if name in out:
            continue
        base = base_optimizer(name)
        if base is not None and not _DUP.search(str(name)) and OPTIMIZER_COLORS[base] not in used:
            out[name] = OPTIMIZER_COLORS[base]
        else:
            free = [c for c in EXTRA_COLORS if c not in used] or [c for c in spare if c not in used] or spare
            out[name] = free[0]
        used.add(out[name])
    return out


def _colors(names: Sequence[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    auto = assign_colors(list(names))
    return {n: (colors or {}).get(n, auto[n]) for n in names}


def chart_config(filename: str) -> dict[str, Any]:
    """``config=`` for ``st.plotly_chart``: the toolbar's camera button saves a 2× PNG named ``filename``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename).strip("-") or "chart"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": safe, "scale": 2},
    }


def thin_indices(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """At most ``max_points`` evenly spread indices into ``range(n)``, always keeping the first and last."""
    if n <= max_points or max_points < 2:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def ema(values: Sequence[float], weight: float) -> np.ndarray:
    """Display smoothing of a drawn curve: bias-corrected exponential moving average (as TensorBoard).

    ``weight`` in [0, 1): 0 returns the values unchanged.  Non-finite values stay NaN and are skipped.
    """
    x = _floats(values)
    if not weight > 0:
        return x
    w = min(float(weight), 0.999)
    out = np.full(len(x), np.nan)
    acc, n = 0.0, 0
    for i, v in enumerate(x.tolist()):
        if math.isfinite(v):
            acc = w * acc + (1.0 - w) * v
            n += 1
            out[i] = acc / (1.0 - w**n)
    return out


def _floats(values: Any) -> np.ndarray:
    """A float64 array with None -> NaN."""
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False).reshape(-1)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def value_axis_title(name: str | None, units: str | None) -> str:
    """An axis title for a series' values that always states the units (or says they are unknown)."""
    units = (units or "").strip()
    label = (name or "value").strip() or "value"
    if not units:
        return f"{label} (units not given)"
    if units == "unitless":
        return f"{label} (unitless)"
    return f"{label} ({units})" if len(label) + len(units) < 45 else units


AXIS_STYLE = {
    "gridcolor": "#EBEBEB",
    "linecolor": "#BDBDBD",
    "zerolinecolor": "#D6D6D6",
    "showline": True,
    "ticks": "outside",
    "tickcolor": "#BDBDBD",
}


def _base_layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """Shared layout: white background, readable fonts, every axis styled alike.

    The look is set here rather than through a Plotly template (``template="plotly_white"`` costs
    ~25 ms of validation per figure, which a live redraw cannot afford)."""
    layout: dict[str, Any] = {
        "title": {"text": title, "font": TITLE_FONT, "x": 0.0, "xanchor": "left"},
        "font": FONT,
        "height": height,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 80, "r": 30, "t": 70, "b": 60},
        "hovermode": "x unified",
        "legend": {"font": {"size": 14}},
    }
    layout.update(extra)
    for name, value in layout.items():
        if (name.startswith("xaxis") or name.startswith("yaxis")) and isinstance(value, dict):
            layout[name] = {**AXIS_STYLE, **value}
    return layout


def _is_dates(x: Any) -> bool:
    try:
        return np.issubdtype(np.asarray(x).dtype, np.datetime64)
    except TypeError:  # pragma: no cover - exotic index types
        return False


# ----------------------------------------------------------------------------------------------------------
# loss curves
# ----------------------------------------------------------------------------------------------------------


def loss_curves(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    log_y: bool = False,
    smooth: float = 0.0,
    markers: Mapping[str, Mapping[str, Any]] | None = None,
    colors: Mapping[str, str] | None = None,
    total_epochs: int | None = None,
    max_points: int = MAX_POINTS,
    title: str = "Loss per epoch: training (solid) and validation (dashed)",
    height: int = 460,
) -> go.Figure:
    """Training (solid) and validation (dashed) MSE per epoch for every optimizer, overlaid.

    ``history``: name -> per-epoch records (dicts with ``epoch``, ``train_loss``, ``val_loss``), as in
    ``Snapshot.history`` or ``result["runs"][i]["history"]``.  ``markers``: name -> a run summary with any
    of ``best_epoch``, ``status``, ``stopped_epoch`` (or ``epoch``), ``diverged_epoch``,
    ``diverged_step``; drawn as a star (best validation epoch), a vertical bar (early stop) and a cross
    (divergence).  ``smooth`` in [0, 1) smooths the drawn curves (display only; the raw curve stays faint).
    ``total_epochs`` (while training) fixes the x range so a live curve grows from left to right: the axis
    spans 10, 20, 40, … epochs (at most ``total_epochs``) and doubles when the curves reach its end.
    """
    names = list(history)
    cmap = _colors(names, colors)
    markers = markers or {}
    traces: list[go.Scatter] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    lo_hi = [math.inf, 0.0]  # smallest and largest positive loss drawn
    last_epoch = 0.0
    for name in names:
        recs = list(history[name])
        color = cmap[name]
        epochs = _floats([r.get("epoch") for r in recs])
        train = _floats([r.get("train_loss") for r in recs])
        val = _floats([r.get("val_loss") for r in recs])
        if log_y:  # a log axis cannot show 0 or negatives
            train = np.where(train > 0, train, np.nan)
            val = np.where(val > 0, val, np.nan)
        idx = thin_indices(len(recs), max_points)
        if len(epochs) and np.isfinite(epochs).any():
            last_epoch = max(last_epoch, float(np.nanmax(epochs)))
        for arr in (train, val):
            ok = arr[np.isfinite(arr) & (arr > 0)]
            if len(ok):
                lo_hi[0], lo_hi[1] = min(lo_hi[0], float(ok.min())), max(lo_hi[1], float(ok.max()))
        for series, kind, dash in ((train, "train", "solid"), (val, "validation", "dash")):
            if smooth > 0:
                traces.append(
                    go.Scatter(
                        x=epochs[idx],
                        y=series[idx],
                        mode="lines",
                        name=f"{name} · {kind} (raw)",
                        line={"color": color, "width": 1, "dash": dash},
                        opacity=0.3,
                        showlegend=False,
                        legendgroup=name,
                        hoverinfo="skip",
                    )
                )
                drawn = ema(series, smooth)
            else:
                drawn = series
            traces.append(
                go.Scatter(
                    x=epochs[idx],
                    y=drawn[idx],
                    mode="lines" if len(idx) > 1 else "lines+markers",
                    name=f"{name} · {kind}",
                    line={"color": color, "width": 3, "dash": dash},
                    legendgroup=name,
                    hovertemplate=f"{name} {kind}: %{{y:.4g}}<extra></extra>",
                )
            )
        m = markers.get(name) or {}
        by_epoch = {int(e): i for i, e in enumerate(epochs.tolist()) if math.isfinite(e)}
        best = m.get("best_epoch")
        if best is not None and int(best) in by_epoch and math.isfinite(val[by_epoch[int(best)]]):
            traces.append(
                go.Scatter(
                    x=[best],
                    y=[val[by_epoch[int(best)]]],
                    mode="markers",
                    name=f"{name} · best epoch",
                    marker={
                        "symbol": "star",
                        "size": 20,
                        "color": color,
                        "line": {"color": "white", "width": 1.5},
                    },
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate=f"{name}: best validation loss %{{y:.4g}} at epoch %{{x}}<extra></extra>",
                )
            )
        status = m.get("status")
        if status == "early_stopped":
            stop = m.get("stopped_epoch") or m.get("epoch") or (epochs[-1] if len(epochs) else None)
            if stop is not None and int(stop) in by_epoch:
                i = by_epoch[int(stop)]
                y = val[i] if math.isfinite(val[i]) else train[i]
                traces.append(
                    go.Scatter(
                        x=[stop],
                        y=[y],
                        mode="markers+text",
                        name=f"{name} · early stop",
                        marker={
                            "symbol": "line-ns",
                            "size": 30,
                            "color": color,
                            "line": {"color": color, "width": 4},
                        },
                        text=["early stop"],
                        textposition="top center",
                        textfont={"color": color, "size": 13},
                        legendgroup=name,
                        showlegend=False,
                        hovertemplate=f"{name}: early stop at epoch %{{x}}<extra></extra>",
                    )
                )
                shapes.append(
                    {
                        "type": "line",
                        "xref": "x",
                        "yref": "paper",
                        "x0": stop,
                        "x1": stop,
                        "y0": 0,
                        "y1": 1,
                        "line": {"color": color, "width": 1.5, "dash": "dot"},
                    }
                )
        div_epoch = m.get("diverged_epoch")
        if div_epoch is not None or status == "diverged":
            finite = np.flatnonzero(np.isfinite(train))
            y = float(train[finite[-1]]) if len(finite) else None
            x = div_epoch if div_epoch is not None else (float(epochs[-1]) if len(epochs) else 0)
            step = m.get("diverged_step")
            label = f"{name} diverged" + (f" (step {step})" if step is not None else "")
            traces.append(
                go.Scatter(
                    x=[x],
                    y=[y if y is not None else 1.0],
                    mode="markers",
                    name=f"{name} · diverged",
                    marker={
                        "symbol": "x",
                        "size": 22,
                        "color": color,
                        "line": {"color": "black", "width": 1.5},
                    },
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate=f"{label} in epoch %{{x}}<extra></extra>",
                )
            )
            annotations.append(
                {
                    "x": x,
                    "y": (math.log10(y) if (log_y and y and y > 0) else y) if y is not None else 1.0,
                    "xref": "x",
                    "yref": "y",
                    "text": f"✖ {label}",
                    "showarrow": True,
                    "arrowhead": 2,
                    "ax": 40,
                    "ay": -40,
                    "font": {"color": color, "size": 15},
                    "bgcolor": "rgba(255,255,255,0.85)",
                    "bordercolor": color,
                }
            )
    xaxis: dict[str, Any] = {"title": {"text": "epoch"}, "rangemode": "tozero"}
    if total_epochs:  # live: a fixed axis, doubled when the curves reach its end (few rescales)
        upper = 10
        while upper < last_epoch:
            upper *= 2
        xaxis["range"] = [0, min(max(int(total_epochs), 1), upper) + 0.5]
    yaxis: dict[str, Any] = {
        "title": {"text": "MSE loss (scaled units)" + (", log scale" if log_y else "")},
        "type": "log" if log_y else "linear",
    }
    if not log_y:
        yaxis["rangemode"] = "tozero"
    elif lo_hi[0] < math.inf:
        yaxis.update(_log_ticks(lo_hi[0], lo_hi[1]))
    layout = _base_layout(title, height, xaxis=xaxis, yaxis=yaxis, annotations=annotations, shapes=shapes)
    if not traces:
        layout["annotations"] = [_empty_note("Press Train: the curves appear here after the first epoch.")]
    return go.Figure(data=traces, layout=layout)


def _log_ticks(lo: float, hi: float) -> dict[str, Any]:
    """Readable labels on a log axis: 1-2-5 steps over up to three decades, else powers of ten only."""
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    mantissas = (1, 2, 5) if e1 - e0 <= 3 else (1,)
    vals = [m * 10.0**e for e in range(e0, e1 + 1) for m in mantissas]
    vals = [v for v in vals if lo / 1.5 <= v <= hi * 1.5] or [10.0**e0]
    return {"tickvals": vals, "ticktext": [f"{v:g}" for v in vals]}


def _empty_note(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
        "font": {"size": 16, "color": "#666"},
    }


# ----------------------------------------------------------------------------------------------------------
# gates
# ----------------------------------------------------------------------------------------------------------

GATE_ROWS = (
    ("z", "update gate z", "coloraxis"),
    ("r", "reset gate r", "coloraxis"),
    ("n", "candidate n", "coloraxis2"),
    ("h", "hidden state h", "coloraxis2"),
)


def gate_heatmaps(
    gates: Sequence[Mapping[str, Any]] | None,
    input_window: Sequence[float] | None,
    layer: int = -1,
    name: str | None = None,
    color: str | None = None,
    max_units: int = 64,
    height: int = 640,
    title: str | None = None,
) -> go.Figure:
    """The gates of one optimizer's model on one input window: z, r, n, h heatmaps (time step × unit)
    stacked under the input window itself, all on one shared time axis.

    ``gates``: per layer a dict ``{"z", "r", "n", "h"}`` of (T, H) arrays (``Snapshot.gates[name]``);
    ``input_window``: the T scaled input values (``race.gate_input``).  z and r are in [0, 1] (one colour
    scale), n and h in [-1, 1] (a diverging scale); the scales are fixed so colours mean the same in every
    epoch.  More than ``max_units`` units are thinned evenly for drawing (the title says so).
    """
    label = name or "model"
    if not gates:
        return go.Figure(
            layout=_base_layout(
                title or f"{label}: gates",
                height,
                annotations=[_empty_note("No gate snapshot yet (it needs validation windows).")],
                xaxis={"title": {"text": "time step in the input window"}, "visible": False},
                yaxis={"title": {"text": "hidden unit"}, "visible": False},
            )
        )
    n_layers = len(gates)
    k = layer if layer >= 0 else n_layers + layer
    k = min(max(k, 0), n_layers - 1)
    snap = gates[k]
    first = np.asarray(snap["z"])
    T, H = first.shape
    units = thin_indices(H, max_units)
    steps = np.arange(1, T + 1)
    top = 0.84  # the input window sits above this
    gap = 0.035
    row_h = (top - 0.04 - 3 * gap) / 4
    traces: list[Any] = []
    layout_axes: dict[str, Any] = {}
    win = _floats(input_window) if input_window is not None else np.full(T, np.nan)
    traces.append(
        go.Scatter(
            x=steps[: len(win)],
            y=win,
            mode="lines+markers",
            name="input window",
            xaxis="x",
            yaxis="y",
            line={"color": color or TRUTH_COLOR, "width": 2},
            marker={"size": 5},
            hovertemplate="step %{x}: input %{y:.3f}<extra></extra>",
            showlegend=False,
        )
    )
    layout_axes["yaxis"] = {
        "domain": [top + 0.02, 1.0],
        "title": {"text": "input<br>(scaled)", "font": {"size": 13}},
        "anchor": "x",
    }
    for i, (key, text, caxis) in enumerate(GATE_ROWS):
        ax = f"y{i + 2}"
        y1 = top - 0.02 - i * (row_h + gap)
        z = np.asarray(snap[key], dtype=np.float32)[:, units].T  # (units, T)
        traces.append(
            go.Heatmap(
                x=steps,
                y=units,
                z=z,
                coloraxis=caxis,
                xaxis="x",
                yaxis=ax,
                name=text,
                hovertemplate=f"{text}<br>step %{{x}}, unit %{{y}}: %{{z:.2f}}<extra></extra>",
            )
        )
        layout_axes[f"yaxis{i + 2}"] = {
            "domain": [max(y1 - row_h, 0.0), y1],
            "anchor": "x",
            "title": {"text": f"{key}: {text.split()[0]}<br>(unit)", "font": {"size": 13}},
            "showticklabels": H <= 64,
            "autorange": "reversed",
        }
    bottom_axis = f"y{len(GATE_ROWS) + 1}"
    zr_mid = top - 0.02 - row_h - gap / 2
    nh_mid = top - 0.02 - 3 * row_h - 1.5 * gap
    shown = f", {len(units)} of {H} units shown" if len(units) < H else ""
    layer_txt = f", layer {k + 1} of {n_layers}" if n_layers > 1 else ""
    layout = _base_layout(
        title or f"{label}: gates on one validation window{layer_txt}{shown}",
        height,
        hovermode="closest",
        xaxis={
            "title": {"text": "time step of the input window (1 = oldest)"},
            "anchor": bottom_axis,
            "domain": [0.0, 0.9],
        },
        coloraxis={
            "colorscale": "Viridis",
            "cmin": 0.0,
            "cmax": 1.0,
            "colorbar": {
                "title": {"text": "z, r<br>0…1"},
                "len": 2 * row_h + gap,
                "y": zr_mid,
                "yanchor": "middle",
                "thickness": 14,
                "x": 0.92,
            },
        },
        coloraxis2={
            "colorscale": "RdBu",
            "cmin": -1.0,
            "cmax": 1.0,
            "colorbar": {
                "title": {"text": "n, h<br>−1…1"},
                "len": 2 * row_h + gap,
                "y": nh_mid,
                "yanchor": "middle",
                "thickness": 14,
                "x": 0.92,
            },
        },
        margin={"l": 80, "r": 20, "t": 60, "b": 60},
        **layout_axes,
    )
    if title is None:
        layout["title"]["font"] = {"size": 16, "color": color or TRUTH_COLOR}
    return go.Figure(data=traces, layout=layout)


def update_gate_heatmaps(
    fig: go.Figure,
    gates: Sequence[Mapping[str, Any]] | None,
    input_window: Sequence[float] | None,
    layer: int = -1,
    max_units: int = 64,
) -> go.Figure | None:
    """Put new gate values into a figure made by :func:`gate_heatmaps` with the same shapes, in place
    (about 1 ms instead of about 20 for a new figure).  Returns the figure, or None when it does not fit
    (no gates, other shapes): then build a new one."""
    if not gates or len(fig.data) != 1 + len(GATE_ROWS):
        return None
    k = layer if layer >= 0 else len(gates) + layer
    if not 0 <= k < len(gates):
        return None
    snap = gates[k]
    T, H = np.asarray(snap["z"]).shape
    units = thin_indices(H, max_units)
    heat = fig.data[1:]
    if np.asarray(heat[0].z).shape != (len(units), T):
        return None
    with fig.batch_update():
        if input_window is not None:
            fig.data[0].y = _floats(input_window)
        for trace, (key, _, _) in zip(heat, GATE_ROWS):
            trace.z = np.asarray(snap[key], dtype=np.float32)[:, units].T
    return fig


# ----------------------------------------------------------------------------------------------------------
# forecasts and the series
# ----------------------------------------------------------------------------------------------------------


def forecast_plot(
    x: Sequence[Any],
    truth: Sequence[float],
    predictions: Mapping[str, Sequence[float]] | None = None,
    baselines: Mapping[str, Sequence[float]] | None = None,
    units: str | None = None,
    series_name: str | None = None,
    colors: Mapping[str, str] | None = None,
    max_points: int = 2000,
    title: str = "Forecast vs truth on the test part",
    height: int = 500,
) -> go.Figure:
    """Truth (black), each optimizer's one-step forecast (its colour) and the baselines (grey, dotted and
    dash-dotted) over the test targets, in the series' own units.

    ``x``: the test targets' dates or positions; ``predictions``: name -> forecasts (same length as
    ``truth``; None for a diverged run, which is skipped); ``baselines``: "persistence" / "linear" ->
    forecasts.
    """
    x = np.asarray(x)
    truth_arr = _floats(truth)
    idx = thin_indices(len(truth_arr), max_points)
    xs = x[idx]
    traces: list[go.Scatter] = [
        go.Scatter(
            x=xs,
            y=truth_arr[idx],
            mode="lines",
            name="truth (test data)",
            line={"color": TRUTH_COLOR, "width": 3},
            hovertemplate="truth: %{y:.4g}<extra></extra>",
        )
    ]
    for key, pred in (baselines or {}).items():
        style = BASELINE_STYLES.get(key, {"color": "#777777", "dash": "dot", "label": key})
        traces.append(
            go.Scatter(
                x=xs,
                y=_floats(pred)[idx],
                mode="lines",
                name=style["label"],
                line={"color": style["color"], "width": 2, "dash": style["dash"]},
                hovertemplate=f"{style['label']}: %{{y:.4g}}<extra></extra>",
            )
        )
    preds = {k: v for k, v in (predictions or {}).items() if v is not None}
    cmap = _colors(list(preds), colors)
    for name, pred in preds.items():
        traces.append(
            go.Scatter(
                x=xs,
                y=_floats(pred)[idx],
                mode="lines",
                name=f"{name} (GRU forecast)",
                line={"color": cmap[name], "width": 2.5},
                hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>",
            )
        )
    layout = _base_layout(
        title,
        height,
        xaxis={"title": {"text": "date" if _is_dates(x) else "time step (position in the series)"}},
        yaxis={"title": {"text": value_axis_title(series_name, units)}},
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0, "font": {"size": 14}},
        margin={"l": 80, "r": 30, "t": 70, "b": 140},
    )
    return go.Figure(data=traces, layout=layout)


def series_preview(
    series: Any,
    units: str | None = None,
    name: str | None = None,
    regions: Sequence[tuple[str, Any, Any]] | None = None,
    max_points: int = 2000,
    title: str | None = None,
    height: int = 300,
) -> go.Figure:
    """The whole series as a line, with the train / validation / test parts shaded when ``regions``
    (label, x0, x1) are given.  ``series`` is a pandas Series (its index gives dates or positions)."""
    index = np.asarray(getattr(series, "index", np.arange(len(series))))
    values = _floats(np.asarray(series, dtype=np.float64))
    idx = thin_indices(len(values), max_points)
    label = name or str(getattr(series, "name", None) or "series")
    traces = [
        go.Scatter(
            x=index[idx],
            y=values[idx],
            mode="lines",
            name=label,
            line={"color": TRUTH_COLOR, "width": 1.5},
            hovertemplate="%{x}: %{y:.4g}<extra></extra>",
        )
    ]
    shapes, annotations = [], []
    for region, x0, x1 in regions or ():
        fill = SPLIT_FILLS.get(region, "rgba(128,128,128,0.1)")
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": x0,
                "x1": x1,
                "y0": 0,
                "y1": 1,
                "fillcolor": fill,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        annotations.append(
            {
                "x": x0,
                "y": 1.0,
                "xref": "x",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "text": region,
                "showarrow": False,
                "font": {"size": 13, "color": "#444"},
            }
        )
    shown = f" ({len(idx):,} of {len(values):,} points drawn)" if len(idx) < len(values) else ""
    layout = _base_layout(
        title or f"{label}: {len(values):,} values{shown}",
        height,
        xaxis={"title": {"text": "date" if _is_dates(index) else "time step (position in the series)"}},
        yaxis={"title": {"text": value_axis_title(label if len(label) < 30 else "value", units)}},
        shapes=shapes,
        annotations=annotations,
        showlegend=False,
        margin={"l": 80, "r": 30, "t": 60, "b": 50},
    )
    return go.Figure(data=traces, layout=layout)
