"""Pure Plotly figure builders: data in, :class:`plotly.graph_objects.Figure` out.

No Streamlit here and no numerical work beyond presentation: thinning long curves to at most
``max_points`` drawn points, and the optional exponential smoothing of a drawn loss curve (the same
display smoothing TensorBoard offers; the raw curve stays visible, faint, underneath).  Every number
drawn comes from the engine (``gru_core``).

Every figure has a title, axis titles with units, named legend entries and a fixed colour per
optimizer: :data:`OPTIMIZER_COLORS` (the Okabe-Ito colour-blind-safe palette) by optimizer family, and
:func:`assign_colors` to give every contestant of one race its own colour, the same in every chart.

Presentation mode (projectors)
    :func:`presentation` returns a copy of any figure with larger fonts, thicker lines and bigger
    markers; data and colours are untouched.  The page applies it at render time when the sidebar
    toggle "Presentation mode" is on.  The toggle's value lives in ``st.session_state["presentation"]``
    (:data:`PRESENTATION_KEY`, a plain key set up by ``widgets.init_session``, so it survives page
    changes); every page can use the same helper::

        fig = F.presentation(fig) if st.session_state.get(F.PRESENTATION_KEY) else fig
        # or: fig = F.present(fig, st.session_state.get(F.PRESENTATION_KEY, False))
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
    "PRESENTATION_KEY",
    "TRUTH_COLOR",
    "assign_colors",
    "base_layout",
    "chart_config",
    "color_for",
    "ema",
    "forecast_plot",
    "gate_coloraxes",
    "gate_heatmaps",
    "loss_curves",
    "present",
    "presentation",
    "step_to_epoch",
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
    ok = np.isfinite(x)
    v = x[ok]
    if len(v):
        # acc_n = w·acc_(n-1) + (1-w)·v_n over the finite values, vectorised (no Python loop per value: a
        # live chart smooths thousands of epochs at every redraw), then the bias correction 1 - w^n
        out[ok] = _ema_filter(v, w) / (1.0 - w ** np.arange(1, len(v) + 1))
    return out


def _ema_filter(v: np.ndarray, w: float) -> np.ndarray:
    """acc_n = w·acc_(n-1) + (1-w)·v_n with acc_0 = 0, in blocks: within a block of length B,
    acc_(s+j) = w^j·(acc_s + (1-w)·Σ_(i≤j) w^(-i)·v_(s+i)), a cumulative sum; B keeps w^(-B) below ~1e100."""
    out = np.empty(len(v))
    block = max(1, int(230.0 / max(-math.log(w), 1e-12)))
    acc = 0.0
    for s in range(0, len(v), block):
        chunk = v[s : s + block]
        wp = w ** np.arange(1, len(chunk) + 1)
        out[s : s + len(chunk)] = wp * (acc + (1.0 - w) * np.cumsum(chunk / wp))
        acc = out[s + len(chunk) - 1]
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


def base_layout(
    title: str,
    height: int,
    margin: dict[str, int] | None = None,
    hovermode: str | None = "x unified",
    legend_size: int = 14,
    **extra: Any,
) -> dict[str, Any]:
    """The layout every figure of this package starts from (here, figures_classroom, figures_sweep): white
    background, readable fonts, the title on the left, every axis styled alike.  ``margin`` defaults to
    l 80, r 30, t 70, b 60; ``hovermode=None`` leaves Plotly's; ``extra`` goes in last (it may replace
    anything, e.g. the legend).

    The look is set here rather than through a Plotly template (``template="plotly_white"`` costs
    ~25 ms of validation per figure, which a live redraw cannot afford)."""
    layout: dict[str, Any] = {
        "title": {"text": title, "font": TITLE_FONT, "x": 0.0, "xanchor": "left"},
        "font": FONT,
        "height": height,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": margin or {"l": 80, "r": 30, "t": 70, "b": 60},
        "legend": {"font": {"size": legend_size}},
    }
    if hovermode is not None:
        layout["hovermode"] = hovermode
    layout.update(extra)
    for name, value in layout.items():
        if (name.startswith("xaxis") or name.startswith("yaxis")) and isinstance(value, dict):
            layout[name] = {**AXIS_STYLE, **value}
    return layout


def _scatter(**props: Any) -> dict[str, Any]:
    """A scatter trace as a plain dict.  The live loss chart is rebuilt at every redraw, and Plotly's
    property validation costs more than everything else in building it, so :func:`loss_curves` builds
    dicts and skips validation (the tests check the result against Plotly's validators)."""
    return {"type": "scatter", **props}


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
    interventions: Sequence[Mapping[str, Any]] | None = None,
    pauses: Sequence[Mapping[str, Any]] | None = None,
    steps_per_epoch: int | None = None,
) -> go.Figure:
    """Training (solid) and validation (dashed) MSE per epoch for every optimizer, overlaid.

    ``history``: name -> per-epoch records (dicts with ``epoch``, ``train_loss``, ``val_loss``), as in
    ``Snapshot.history`` or ``result["runs"][i]["history"]``.  ``markers``: name -> a run summary with any
    of ``best_epoch``, ``status``, ``stopped_epoch`` (or ``epoch``), ``diverged_epoch``,
    ``diverged_step``; drawn as a star (best validation epoch), a vertical bar (early stop) and a cross
    (divergence).  ``smooth`` in [0, 1) smooths the drawn curves (display only; the raw curve stays faint).
    ``total_epochs`` (while training) fixes the x range so a live curve grows from left to right: the axis
    spans 10, 20, 40, … epochs (at most ``total_epochs``) and doubles when the curves reach its end.

    ``interventions``: learning rates changed mid-race, as in ``race.interventions`` (dicts with
    ``step`` — the first mini-batch trained with the new value —, ``optimizer``, ``old``, ``new``, and
    optionally ``pending: True`` for a change asked for but not applied yet).  Each is drawn on its
    optimizer's curve, in its colour: a vertical dash-dot line where the new value starts (the fractional
    epoch ``(step - 1) / steps_per_epoch``), a diamond on the training curve and a label "Adam: lr 0.001 →
    0.05".  ``pauses``: as in ``race.pauses`` (``step``, ``epoch``, ``changed``); only pauses during which
    something changed are drawn (a grey dotted line labelled "‖ paused").  ``steps_per_epoch``: mini-batches
    per epoch, to place steps on the epoch axis (without it, it is read from the history).
    """
    names = list(history)
    cmap = _colors(names, colors)
    markers = markers or {}
    traces: list[dict[str, Any]] = []
    annotations: list[dict] = []
    shapes: list[dict] = []
    lo_hi = [math.inf, 0.0]  # smallest and largest positive loss drawn
    last_epoch = 0.0
    drawn_train: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (epochs, drawn training loss)
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
                    _scatter(
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
            if kind == "train":
                drawn_train[name] = (epochs, drawn)
            traces.append(
                _scatter(
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
                _scatter(
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
                    _scatter(
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
                _scatter(
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
    spe = steps_per_epoch or _steps_per_epoch(history)
    if spe and (interventions or pauses):
        _intervention_marks(interventions or (), pauses or (), spe, cmap, drawn_train, traces, shapes, annotations)
        marks_x = [s["x0"] for s in shapes if s.get("name", "").startswith(("lr change", "pause"))]
        if marks_x:
            last_epoch = max(last_epoch, max(marks_x))
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
    x_end = xaxis["range"][1] if "range" in xaxis else last_epoch
    for a in annotations:  # a label in the right half of the chart extends to the left of its line
        if a.get("name") in ("lr label", "pause label") and x_end and a["x"] > 0.55 * x_end:
            a["xanchor"] = "right" if a.get("name") == "lr label" else a["xanchor"]
    layout = base_layout(title, height, xaxis=xaxis, yaxis=yaxis, annotations=annotations, shapes=shapes)
    if not traces:
        layout["annotations"] = [_empty_note("Press Train: the curves appear here after the first epoch.")]
    return go.Figure(data=traces, layout=layout, _validate=False)  # see _scatter


def step_to_epoch(step: float, steps_per_epoch: int) -> float:
    """Where a global mini-batch count sits on the epoch axis: after ``step`` steps, ``step / spe``
    epochs are done (the epoch-``e`` point of a loss curve is drawn at ``e``, after ``e × spe`` steps)."""
    return float(step) / max(1, int(steps_per_epoch))


def _steps_per_epoch(history: Mapping[str, Sequence[Mapping[str, Any]]]) -> int | None:
    """Mini-batches per epoch, read from a history's records (``step`` / ``epoch`` of the first one)."""
    for recs in history.values():
        for r in recs:
            e, s = r.get("epoch"), r.get("step")
            if e and s:
                return max(1, round(float(s) / float(e)))
    return None


def _fmt_lr(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "?"
    return f"{f:.3g}" if math.isfinite(f) else "?"


MAX_MARK_LABELS = 8  # at most this many lr-change labels are written on a chart (every change keeps its line)


def _intervention_marks(
    interventions: Sequence[Mapping[str, Any]],
    pauses: Sequence[Mapping[str, Any]],
    spe: int,
    cmap: Mapping[str, str],
    drawn_train: Mapping[str, tuple[np.ndarray, np.ndarray]],
    traces: list,
    shapes: list,
    annotations: list,
) -> None:
    """Learning-rate changes (per optimizer, in its colour) and the pauses in which something changed."""
    by_name: dict[str, list[tuple[float, Mapping[str, Any]]]] = {}
    for iv in interventions:
        name = iv.get("optimizer")
        if name not in cmap or iv.get("step") is None:
            continue
        by_name.setdefault(name, []).append((step_to_epoch(float(iv["step"]) - 1, spe), iv))
    labelled = sorted((x, str(iv.get("optimizer")), i) for i, (x, iv) in
                      enumerate(p for lst in by_name.values() for p in lst))[-MAX_MARK_LABELS:]  # fmt: skip
    keep = {(n, i) for _, n, i in labelled}
    n_labels = 0
    flat_index = 0
    for name, items in by_name.items():
        color = cmap[name]
        xs, ys, texts = [], [], []
        ex, ey = drawn_train.get(name, (np.array([]), np.array([])))
        ok = np.isfinite(ex) & np.isfinite(ey)
        for x, iv in items:
            pending = bool(iv.get("pending"))
            y = float(np.interp(x, ex[ok], ey[ok])) if ok.any() else None
            label = f"{name}: lr {_fmt_lr(iv.get('old'))} → {_fmt_lr(iv.get('new'))}"
            if pending:
                label += " (from the next step)"
            xs.append(x)
            ys.append(y)
            texts.append(f"{label}, from step {int(iv['step'])} (epoch {x:.2f})")
            shapes.append(
                {
                    "type": "line",
                    "name": f"lr change {name}",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": color, "width": 2.5, "dash": "dot" if pending else "dashdot"},
                }
            )
            if (name, flat_index) in keep:
                row = n_labels % 4  # consecutive labels one under the other: close changes stay readable
                n_labels += 1
                annotations.append(
                    {
                        "x": x,
                        "y": 1.0 - 0.08 * row,
                        "xref": "x",
                        "yref": "paper",
                        "xanchor": "left",
                        "yanchor": "top",
                        "name": "lr label",
                        "text": f"⚙ {label}",
                        "showarrow": False,
                        "font": {"color": color, "size": 14},
                        "bgcolor": "rgba(255,255,255,0.85)",
                        "bordercolor": color,
                        "borderpad": 3,
                    }
                )
            flat_index += 1
        if any(y is not None for y in ys):
            traces.append(
                _scatter(
                    x=xs,
                    y=[y if y is not None else np.nan for y in ys],
                    mode="markers",
                    name=f"{name} · lr change",
                    marker={"symbol": "diamond", "size": 14, "color": color, "line": {"color": "white", "width": 1.5}},
                    text=texts,
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate="%{text}<extra></extra>",
                )
            )
    drawn_pauses = set()
    for p in pauses:
        if not p.get("changed") or p.get("step") is None:
            continue
        x = step_to_epoch(float(p["step"]), spe)
        if round(x, 6) in drawn_pauses:
            continue
        drawn_pauses.add(round(x, 6))
        shapes.append(
            {
                "type": "line",
                "name": "pause (changed)",
                "xref": "x",
                "yref": "paper",
                "x0": x,
                "x1": x,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#555555", "width": 1.5, "dash": "dot"},
            }
        )
        annotations.append(
            {
                "x": x,
                "y": 0.0,
                "xref": "x",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "name": "pause label",
                "text": "‖ paused here",
                "showarrow": False,
                "font": {"color": "#444444", "size": 12},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )


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


def gate_coloraxes(length: float, zr_mid: float, nh_mid: float, x: float) -> dict[str, Any]:
    """The two colour axes of a gate heatmap figure: ``coloraxis`` for the gates z, r (Viridis, 0…1) and
    ``coloraxis2`` for n, h (RdBu, −1…1), each with a colour bar of ``length`` (paper units) centred at
    ``zr_mid`` / ``nh_mid`` beside its two rows, at ``x``."""

    def axis(scale: str, lo: float, title: str, mid: float) -> dict[str, Any]:
        bar = {"title": {"text": title}, "len": length, "y": mid, "yanchor": "middle", "thickness": 14, "x": x}
        return {"colorscale": scale, "cmin": lo, "cmax": 1.0, "colorbar": bar}

    return {
        "coloraxis": axis("Viridis", 0.0, "z, r<br>0…1", zr_mid),
        "coloraxis2": axis("RdBu", -1.0, "n, h<br>−1…1", nh_mid),
    }


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
            layout=base_layout(
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
    layout = base_layout(
        title or f"{label}: gates on one validation window{layer_txt}{shown}",
        height,
        hovermode="closest",
        xaxis={
            "title": {"text": "time step of the input window (1 = oldest)"},
            "anchor": bottom_axis,
            "domain": [0.0, 0.9],
        },
        **gate_coloraxes(2 * row_h + gap, zr_mid, nh_mid, x=0.92),
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
    layout = base_layout(
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
    layout = base_layout(
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


# ----------------------------------------------------------------------------------------------------------
# presentation mode
# ----------------------------------------------------------------------------------------------------------

PRESENTATION_KEY = "presentation"  # st.session_state key of the "Presentation mode" toggle (bool)
PRESENT_FONT = 1.4  # font sizes × this
PRESENT_LINE = 1.8  # line widths × this
PRESENT_MARKER = 1.5  # marker sizes × this
PRESENT_WRAP = 44  # titles longer than this (characters) go on two lines in presentation mode
PRESENT_HEIGHT = 1.35  # figure height × this: text and margins grow ×1.4, the plot area must not shrink


def _scale(d: dict, key: str, factor: float, default: float | None = None) -> None:
    """``d[key] *= factor`` for a number or an array of numbers (per-point marker sizes); a missing value
    becomes ``default * factor``.  A new value is stored: shared arrays are never written."""
    v = d.get(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        d[key] = round(v * factor, 2)
    elif isinstance(v, (list, tuple, np.ndarray)) and len(v) and not isinstance(v, str):
        a = np.asarray(v)
        if a.dtype.kind in "iuf":
            d[key] = np.round(a * factor, 2)
    elif v is None and default is not None:
        d[key] = round(default * factor, 2)


def _font(d: dict | None, key: str, default: float | None = None) -> None:
    """Scale ``d[key]["size"]`` (a font), creating it from ``default`` when missing."""
    if not isinstance(d, dict):
        return
    f = d.get(key)
    if f is None and default is not None:
        f = d[key] = {}
    if isinstance(f, dict):
        _scale(f, "size", PRESENT_FONT, default)


def _copy_tree(v: Any) -> Any:
    """A copy of nested dicts and lists; anything else (arrays, numbers, strings) is shared."""
    if isinstance(v, dict):
        return {k: _copy_tree(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy_tree(x) for x in v]
    return v


def _wrap_title(text: str) -> str:
    """``text`` on two lines, broken at the space nearest its middle (outside any HTML tag)."""
    middle = len(text) // 2
    spaces = [i for i, c in enumerate(text) if c == " " and text.rfind("<", 0, i) <= text.rfind(">", 0, i)]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - middle))
    return text[:cut] + "<br>" + text[cut + 1 :]


def _present_trace(trace: dict, base: float) -> None:
    """Scale one trace's line widths, marker sizes, text fonts and colour bar in place."""
    kind = trace.get("type", "scatter")
    if kind in ("scatter", "scattergl", "scatterpolar"):
        mode = str(trace.get("mode") or "lines")
        if "lines" in mode or "line" in trace:
            _scale(trace.setdefault("line", {}), "width", PRESENT_LINE, 2)
        if "markers" in mode or "marker" in trace:
            marker = trace.setdefault("marker", {})
            _scale(marker, "size", PRESENT_MARKER, 6)
            if isinstance(marker.get("line"), dict):
                _scale(marker["line"], "width", PRESENT_LINE)
        if "text" in mode:
            _font(trace, "textfont", base)
    elif kind == "contour" and isinstance(trace.get("line"), dict):
        _scale(trace["line"], "width", PRESENT_LINE)
    elif kind == "bar":
        _font(trace, "textfont", base)
        _font(trace, "insidetextfont")
        _font(trace, "outsidetextfont")
        if isinstance(trace.get("marker"), dict) and isinstance(trace["marker"].get("line"), dict):
            _scale(trace["marker"]["line"], "width", PRESENT_LINE)
    elif kind == "parcoords":
        _font(trace, "labelfont", base)
        _font(trace, "tickfont", base * 0.85)
        _font(trace, "rangefont", base * 0.85)
    if kind in ("contour", "parcoords"):
        if isinstance(trace.get("contours"), dict) and trace["contours"].get("showlabels"):
            _font(trace["contours"], "labelfont", base * 0.85)
    if "texttemplate" in trace or "text" in trace and kind in ("heatmap", "contour"):
        _font(trace, "textfont", base * 0.85)
    cb = trace.get("colorbar")
    if cb is None and isinstance(trace.get("marker"), dict):
        cb = trace["marker"].get("colorbar")
    if isinstance(cb, dict):
        _present_colorbar(cb)


def _present_colorbar(cb: dict) -> None:
    _font(cb, "tickfont")
    if isinstance(cb.get("title"), dict):
        _font(cb["title"], "font")
    _scale(cb, "thickness", 1.3)


def presentation(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` for a projector: fonts × 1.4, lines × 1.8, markers × 1.5, a little taller.

    Pure: ``fig`` is not changed, and neither are the data, the colours or the dash styles.  Animation
    frames are carried over (their traces scaled like the figure's own, so a frame never shrinks a line
    back); play buttons and sliders get the larger font too.  Works on any figure of this package (and on
    most Plotly figures); see the module docstring for the session toggle.
    """
    # Plotly's own copies (go.Figure(fig), to_plotly_json) re-validate or re-encode every data array; the
    # raw property trees are copied instead, sharing the (never modified) data arrays.
    d: dict[str, Any] = {"data": _copy_tree(list(fig._data)), "layout": _copy_tree(dict(fig._layout))}
    if fig.frames:
        d["frames"] = [_copy_tree(dict(f._props)) for f in fig.frames]
    layout = d["layout"]
    base = (layout.get("font") or {}).get("size") or 12
    _font(layout, "font", 12)
    title = layout.get("title")
    if isinstance(title, dict):
        _font(title, "font", base * 1.25)
        text = title.get("text")
        if isinstance(text, str) and len(text) > PRESENT_WRAP and "<br>" not in text:
            title["text"] = _wrap_title(text)  # Plotly never wraps: a long title would be cut off
            margin = layout.setdefault("margin", {})
            size = (title.get("font") or {}).get("size") or base * 1.25 * PRESENT_FONT
            margin["t"] = (margin.get("t") or 80) + round(1.3 * size)
    legend = layout.setdefault("legend", {})
    _font(legend, "font", base)
    if isinstance(legend.get("title"), dict):
        _font(legend["title"], "font")
    hover = layout.setdefault("hoverlabel", {})
    _font(hover, "font", 13)
    for name, axis in list(layout.items()):
        if not isinstance(axis, dict):
            continue
        if name.startswith(("xaxis", "yaxis")):
            if isinstance(axis.get("title"), dict):
                _font(axis["title"], "font")
            _font(axis, "tickfont")
            _scale(axis, "linewidth", PRESENT_LINE)
            axis.setdefault("automargin", True)  # bigger tick labels and titles push the margins out
        if name.startswith("coloraxis") and isinstance(axis.get("colorbar"), dict):
            _present_colorbar(axis["colorbar"])
    for ann in layout.get("annotations") or []:
        _font(ann, "font", base)
    for shape in layout.get("shapes") or []:
        if isinstance(shape.get("line"), dict):
            _scale(shape["line"], "width", PRESENT_LINE, 2)
    for menu in layout.get("updatemenus") or []:  # ▶ / ❚❚ buttons of an animation
        _font(menu, "font", base)
    for slider in layout.get("sliders") or []:
        _font(slider, "font", base)
        if isinstance(slider.get("currentvalue"), dict):
            _font(slider["currentvalue"], "font", base)
    for trace in d["data"]:
        _present_trace(trace, base)
    for frame in d.get("frames") or []:
        for trace in frame.get("data") or []:
            _present_trace(trace, base)
    _scale(layout, "height", PRESENT_HEIGHT, 450)
    margin = layout.get("margin")
    if isinstance(margin, dict):
        for side in ("l", "r", "t", "b"):
            _scale(margin, side, 1.25)
    return go.Figure(d, _validate=False)  # only sizes changed, all valid: skip Plotly's slow re-validation


def present(fig: go.Figure, on: bool) -> go.Figure:
    """``presentation(fig)`` when ``on`` (the session toggle), else ``fig`` itself."""
    return presentation(fig) if on else fig
