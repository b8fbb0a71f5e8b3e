"""The race page's charts: loss curves with learning-rate marks, gate heatmaps, forecasts, the series preview.

Pure Plotly figure builders: data in, :class:`plotly.graph_objects.Figure` out.  No Streamlit here and no
numerical work beyond presentation: thinning long curves to at most ``max_points`` drawn points, and the
optional exponential smoothing of a drawn loss curve (the same display smoothing TensorBoard offers; the
raw curve stays visible, faint, underneath).  Every number drawn comes from the engine (``gru_core``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gru_core.fmt import num
from gru_ui.figures.style import (  # noqa: F401
    AXIS_STYLE,
    BASELINE_STYLES,
    FONT,
    MAX_POINTS,
    SPLIT_FILLS,
    TITLE_FONT,
    TRUTH_COLOR,
    _floats,
    _is_dates,
    _scatter,
    base_layout,
    chart_config,
    colors_for,
    ema,
    empty_note,
    input_window_trace,
    thin_indices,
    tint,
    value_axis_title,
)  # fmt: skip

__all__ = [
    "BAND_TEXT", "MAX_MARK_LABELS", "forecast_plot", "gate_coloraxes", "gate_heatmaps", "loss_bands", "loss_curves",
    "series_preview",
    "step_to_epoch", "update_gate_heatmaps",
]  # fmt: skip


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
    cmap = colors_for(names, colors)
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
                    # below the point: a divergence sits high, under the ⚙ labels at the top (they hid it)
                    "ay": 45,
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
        layout["annotations"] = [empty_note("Press Train: the curves appear here after the first epoch.")]
    return go.Figure(data=traces, layout=layout, _validate=False)  # see _scatter


BAND_TEXT = "min–max over seeds"  # what the band shows (said on the chart)


def loss_bands(
    bands: Mapping[str, Mapping[str, Mapping[str, Any]]],
    n_seeds: int,
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
    seed_histories: Sequence[tuple[int, Mapping[str, Sequence[Mapping[str, Any]]]]] | None = None,
    total_epochs: int | None = None,
    height: int = 460,
    interventions: Sequence[Mapping[str, Any]] | None = None,
    pauses: Sequence[Mapping[str, Any]] | None = None,
    steps_per_epoch: int | None = None,
    diverged: Mapping[str, Sequence[tuple[int, float, float, int | None]]] | None = None,
) -> go.Figure:
    """A race over several seeds: per optimizer the median training (solid) and validation (dashed) loss over the
    seeds as lines, and the spread between seeds as a band (:data:`BAND_TEXT`, said in the title and legend).

    ``bands``: name -> ``"train"`` / ``"val"`` -> ``{"epoch", "median", "low", "high", "n"}`` arrays, as
    :func:`gru_core.stats.seed_bands` computes them.  ``seed_histories``: ``(seed, history)`` pairs: every seed's
    own curves drawn as thin faint lines too (the page's "every seed" switch).  The learning-rate changes and
    pauses (the same in every seed) are marked as :func:`loss_curves` marks them, on the median curve.
    ``diverged``: name -> ``(seed, epoch, loss, step)`` of each seed in which it diverged: a cross at each, and one
    label "✖ RMSprop diverged in 2 of 5 seeds"."""
    names = list(bands)
    cmap = colors_for(names, colors)
    median = {
        name: [{"epoch": float(e), "train_loss": float(t), "val_loss": float(v)} for e, t, v in
               zip(bands[name]["train"]["epoch"], bands[name]["train"]["median"], bands[name]["val"]["median"])]
        for name in names
    }  # fmt: skip
    title = f"Loss per epoch: median of {n_seeds} seeds (lines), {BAND_TEXT} (bands)"
    fig = loss_curves(median, log_y=log_y, colors=cmap, total_epochs=total_epochs, title=title, height=height,
                      interventions=interventions, pauses=pauses, steps_per_epoch=steps_per_epoch)  # fmt: skip
    under: list[dict[str, Any]] = []
    for name in names:
        color = cmap[name]
        for kind, alpha in (("train", 0.18), ("val", 0.10)):
            b = bands[name][kind]
            x, lo, hi = _floats(b["epoch"]), _floats(b["low"]), _floats(b["high"])
            if log_y:
                lo, hi = np.where(lo > 0, lo, np.nan), np.where(hi > 0, hi, np.nan)
            idx = thin_indices(len(x), MAX_POINTS)
            label = "train" if kind == "train" else "validation"
            under.append(_scatter(x=x[idx], y=lo[idx], mode="lines", line={"width": 0, "color": color},
                                  name=f"{name} · {label} band low", showlegend=False, legendgroup=name,
                                  hoverinfo="skip"))  # fmt: skip
            under.append(_scatter(
                x=x[idx], y=hi[idx], mode="lines", line={"width": 0, "color": color}, fill="tonexty",
                fillcolor=tint(color, alpha), name=f"{name} · {label}: {BAND_TEXT}", legendgroup=name,
                showlegend=kind == "train", customdata=np.stack([lo[idx], _floats(b["n"])[idx]], axis=-1),
                hovertemplate=f"{name} {label}: %{{customdata[0]:.4g}} to %{{y:.4g}} over %{{customdata[1]}} "
                "seeds<extra></extra>",
            ))  # fmt: skip
    for seed, history in seed_histories or ():
        for name in names:
            recs = list(history.get(name) or [])
            e = _floats([r.get("epoch") for r in recs])
            for key, dash in (("train_loss", "solid"), ("val_loss", "dash")):
                y = _floats([r.get(key) for r in recs])
                if log_y:
                    y = np.where(y > 0, y, np.nan)
                idx = thin_indices(len(e), MAX_POINTS)
                under.append(_scatter(x=e[idx], y=y[idx], mode="lines", opacity=0.45, showlegend=False,
                                      line={"width": 1, "color": cmap[name], "dash": dash}, legendgroup=name,
                                      name=f"{name} · seed {seed} · {key[:-5]}",
                                      hovertemplate=f"{name}, seed {seed}: %{{y:.4g}}<extra></extra>"))  # fmt: skip
    lines = [t.to_plotly_json() for t in fig.data]  # the medians and marks, drawn over the bands
    notes = list(fig.layout.annotations or [])
    for name, points in (diverged or {}).items():
        if not points or name not in cmap:
            continue
        ys = [y if (y is not None and math.isfinite(y) and (y > 0 or not log_y)) else None for _, _, y, _ in points]
        lines.append(_scatter(
            x=[e for _, e, _, _ in points], y=[y if y is not None else 1.0 for y in ys], mode="markers",
            name=f"{name} · diverged", showlegend=False, legendgroup=name,
            marker={"symbol": "x", "size": 18, "color": cmap[name], "line": {"color": "black", "width": 1.5}},
            customdata=[[seed, step] for seed, _, _, step in points],
            hovertemplate=f"{name} diverged in seed %{{customdata[0]}} (step %{{customdata[1]}}), epoch %{{x}}"
            "<extra></extra>",
        ))  # fmt: skip
        seed, x, _, _ = points[0]
        y = ys[0] if ys[0] is not None else 1.0
        notes.append({
            "x": x, "y": math.log10(y) if log_y and y > 0 else y, "xref": "x", "yref": "y",
            "text": f"✖ {name} diverged in {len(points)} of {n_seeds} seeds", "showarrow": True, "arrowhead": 2,
            "ax": 40, "ay": 45, "font": {"color": cmap[name], "size": 15}, "bgcolor": "rgba(255,255,255,0.85)",
            "bordercolor": cmap[name],
        })  # fmt: skip
    layout = fig.layout.to_plotly_json()
    layout["annotations"] = [a.to_plotly_json() if hasattr(a, "to_plotly_json") else a for a in notes]
    return go.Figure(data=[*under, *lines], layout=layout, _validate=False)


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
            label = f"{name}: lr {num(iv.get('old'), 3)} → {num(iv.get('new'), 3)}"
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
                annotations=[empty_note("No gate snapshot yet (it needs validation windows).")],
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
    traces.append(input_window_trace(input_window, T, color))
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
    cmap = colors_for(list(preds), colors)
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
