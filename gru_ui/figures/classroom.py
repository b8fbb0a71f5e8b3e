"""Pure Plotly figure builders for the classroom pages: data in, :class:`plotly.graph_objects.Figure` out.

No Streamlit here, and no numerical work beyond presentation (thinning long curves or animation frames,
ordering units for display, normalising a curve to its last value when asked, flooring values a log axis
cannot show).  Every number drawn comes from the engine (``gru_core``).

Pages and their builders:

* "How a GRU works": :func:`cell_diagram`, :func:`cell_bars`, :func:`cell_mixing`;
* "Gate inspector": :func:`inspector_heatmaps`, :func:`saturation_bars`, :func:`gate_lines`,
  :func:`grad_norm_chart` (with :func:`saturation` and :func:`saturation_order` to sort units);
* "Vanishing gradients": :func:`adding_loss_chart`, :func:`vanishing_grad_chart`;
* "Optimizer lab": :func:`landscape_animation`, :func:`step_size_chart`, :func:`value_chart`.

Every figure has a title, axis titles with units and named legend entries; optimizers keep the colours
of :func:`gru_ui.figures.color_for` / :func:`gru_ui.figures.assign_colors`.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gru_core.classroom.inspector import SATURATION, saturation, saturation_order  # noqa: F401 (re-exported)
from gru_ui.figures.race import gate_coloraxes
from gru_ui.figures.style import TRUTH_COLOR, base_layout, colors_for, input_window_trace, thin_indices, tint

__all__ = [
    "GATE_COLORS",
    "MAX_FRAMES",
    "MODEL_COLORS",
    "UNIT_COLORS",
    "adding_loss_chart",
    "cell_bars",
    "cell_diagram",
    "cell_mixing",
    "frame_steps",
    "gate_lines",
    "grad_norm_chart",
    "inspector_heatmaps",
    "landscape_animation",
    "saturation",
    "saturation_bars",
    "saturation_order",
    "step_size_chart",
    "value_chart",
    "vanishing_grad_chart",
]

# Gates and states (no optimizer on the cell page): Paul Tol's muted scheme, colour-blind safe.
GATE_COLORS: dict[str, str] = {
    "r": "#882255",  # wine
    "z": "#332288",  # indigo
    "n": "#117733",  # green
    "h_prev": "#999999",  # grey
    "h": TRUTH_COLOR,  # near-black
}
GATE_LABELS: dict[str, str] = {
    "h_prev": "previous state h<sub>t−1</sub>",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
    "h": "new state h<sub>t</sub>",
}
# The two models of the vanishing-gradient page (both trained with Adam: these are not optimizer colours).
MODEL_COLORS: dict[str, str] = {"gru": "#117733", "rnn": "#882255"}
MODEL_LABELS: dict[str, str] = {"gru": "GRU", "rnn": "tanh RNN"}
# Hidden units of the single cell (at most 4): Paul Tol's bright scheme.
UNIT_COLORS: tuple[str, ...] = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")
UNIT_DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
MAX_FRAMES = 100  # animation frames at most; longer runs are thinned evenly (first and last step kept)
VARIANT_NAMES = {"pytorch": "PyTorch", "classic": "classic"}
LOG_FLOOR = 1e-16  # smaller positive values are drawn at this height on log axes


# ----------------------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------------------


def _layout(title: str, height: int, **extra: Any) -> dict[str, Any]:
    """The look of gru_ui.figures (:func:`~gru_ui.figures.base_layout`), with more room and a bigger
    legend for the classroom, and hover on the nearest point."""
    defaults = {"margin": {"l": 90, "r": 30, "t": 80, "b": 70}, "hovermode": "closest", "legend_size": 15}
    return base_layout(title, height, **{**defaults, **extra})


def _arr(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _positive(values: Any, floor: float = LOG_FLOOR) -> np.ndarray:
    """Values for a log axis: non-finite -> NaN (a gap), 0 < v < floor -> floor, v <= 0 -> NaN."""
    v = _arr(values).copy()
    v[~np.isfinite(v)] = np.nan
    with np.errstate(invalid="ignore"):
        v[v <= 0] = np.nan
        v = np.where(v < floor, floor, v)
    return v


def _log_axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "type": "log", "exponentformat": "power", **extra}


def _legend_below(y: float = -0.22) -> dict[str, Any]:
    """A horizontal legend at the bottom of the figure (container coordinates: it never covers the x-axis
    title, whatever the height; the figure's bottom margin must leave room for it)."""
    return {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0, "font": {"size": 15}}


# ----------------------------------------------------------------------------------------------------------
# "How a GRU works": one cell
# ----------------------------------------------------------------------------------------------------------


def cell_diagram(
    x: float,
    h_prev: float,
    r: float,
    z: float,
    n: float,
    h: float,
    unit: int = 0,
    variant: str = "pytorch",
    height: int = 470,
    title: str | None = None,
) -> go.Figure:
    """A schematic of one GRU unit with the values of one step written on it.

    The top line is the state's "highway": h_{t−1} is multiplied by z and added to (1 − z)·n to give h_t.
    Below it, the three boxes compute z, r and n from x_t and h_{t−1}; a box is shaded by its value.
    All numbers are given (they come from the engine); nothing is computed here but the printed 1 − z
    and the two products on the arrows (shown to three decimals).
    """
    fig = go.Figure()
    shapes: list[dict] = []
    notes: list[dict] = []

    def text(xx, yy, s, size=17, color=TRUTH_COLOR, **kw):
        notes.append({"x": xx, "y": yy, "text": s, "showarrow": False, "font": {"size": size, "color": color}, **kw})

    def arrow(x0, y0, x1, y1, label=None, lx=None, ly=None, color="#555", anchor="center"):
        notes.append(
            {
                "x": x1,
                "y": y1,
                "ax": x0,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 3,
                "arrowsize": 1.3,
                "arrowwidth": 2.2,
                "arrowcolor": color,
                "text": "",
            }
        )
        if label:
            text(
                lx if lx is not None else (x0 + x1) / 2,
                ly if ly is not None else (y0 + y1) / 2,
                label,
                size=16,
                color=color,
                xanchor=anchor,
                bgcolor="rgba(255,255,255,0.9)",
            )

    def box(cx, cy, key, head, formula, value, lo=0.0, half=1.25):
        color = GATE_COLORS[key]
        alpha = 0.12 + 0.75 * (abs(value) if lo < 0 else value)
        shapes.append(
            {
                "type": "rect",
                "x0": cx - half,
                "x1": cx + half,
                "y0": cy - 1.0,
                "y1": cy + 1.0,
                "line": {"color": color, "width": 3},
                "fillcolor": tint(color, alpha),
                "layer": "below",
            }
        )
        ink = "white" if alpha > 0.5 else TRUTH_COLOR
        text(cx, cy + 0.7, f"<b>{head}</b>", size=16, color=ink)
        text(cx, cy + 0.08, formula, size=13, color=ink)
        text(cx, cy - 0.62, f"<b>{key} = {value:.3f}</b>", size=20, color=ink)

    def node(cx, cy, symbol):
        shapes.append(
            {
                "type": "circle",
                "x0": cx - 0.3,
                "x1": cx + 0.3,
                "y0": cy - 0.3,
                "y1": cy + 0.3,
                "line": {"color": "#333", "width": 2.5},
                "fillcolor": "white",
            }
        )
        text(cx, cy, f"<b>{symbol}</b>", size=20)

    top, mid, low = 6.0, 3.0, 1.3
    xz, xr, xn, xo = 2.5, 5.4, 8.4, 10.8
    hn = 1.45  # the candidate's box is wider: its formula is longer
    # the state's highway: h_{t-1} -> × z -> + -> h_t
    shapes.append(
        {"type": "line", "x0": 0.9, "x1": xz - 0.3, "y0": top, "y1": top, "line": {"color": "#555", "width": 3}}
    )
    arrow(xz + 0.3, top, xo - 0.32, top, f"z·h<sub>t−1</sub> = {z * h_prev:.3f}", (xz + xo) / 2, top + 0.42)
    arrow(xo + 0.3, top, 11.85, top)
    node(xz, top, "×")
    node(xo, top, "+")
    node(xo, mid, "×")
    text(0.45, top, f"h<sub>t−1</sub><br><b>{h_prev:.3f}</b>", size=18, color=GATE_COLORS["h_prev"])
    text(12.45, top, f"h<sub>t</sub><br><b>{h:.3f}</b>", size=20)
    text(0.45, mid, f"x<sub>t</sub><br><b>{x:.3f}</b>", size=18, color="#444")
    arrow(0.95, mid, xz - 1.25, mid, color="#888")  # x_t (and h_t−1) feed every box: see the formulas
    # the three boxes: what each computes from x_t and h_{t-1}, and its value
    h1 = "h<sub>t−1</sub>"
    if variant == "pytorch":
        cand = f"tanh(W<sub>in</sub>x + b +<br>r⊙(W<sub>hn</sub>{h1} + b))"
    else:
        cand = f"tanh(W<sub>in</sub>x + b +<br>W<sub>hn</sub>(r⊙{h1}) + b)"
    box(xz, mid, "z", "update gate", f"σ(W<sub>iz</sub>x +<br>W<sub>hz</sub>{h1} + b)", z)
    box(xr, mid, "r", "reset gate", f"σ(W<sub>ir</sub>x +<br>W<sub>hr</sub>{h1} + b)", r)
    box(xn, mid, "n", "candidate", cand, n, lo=-1.0, half=hn)
    arrow(xz, mid + 1.0, xz, top - 0.32, f"z = {z:.3f}", xz + 0.15, (mid + 1.0 + top) / 2, GATE_COLORS["z"], "left")
    arrow(xr + 1.25, mid, xn - hn, mid, "r", (xr + 1.25 + xn - hn) / 2, mid + 0.3, GATE_COLORS["r"])
    arrow(xn + hn, mid, xo - 0.3, mid, "n", (xn + hn + xo - 0.3) / 2, mid + 0.3, GATE_COLORS["n"])
    arrow(xo, mid + 0.3, xo, top - 0.32, f"(1−z)·n = {(1 - z) * n:.3f}", xo - 0.12, (mid + top) / 2, "#555", "right")
    # 1 − z travels under the boxes to the lower ×
    shapes.append(
        {
            "type": "path",
            "path": f"M {xz},{mid - 1.0} L {xz},{low} L {xo},{low}",
            "line": {"color": GATE_COLORS["z"], "width": 2.2, "dash": "dot"},
        }
    )
    arrow(xo, low, xo, mid - 0.3, color=GATE_COLORS["z"])
    text((xz + xo) / 2, low - 0.32, f"1 − z = {1 - z:.3f}", size=16, color=GATE_COLORS["z"])
    # the verdict a student should read off
    if z > 0.9:
        verdict = "z ≈ 1: the unit <b>copies the past</b> (h<sub>t</sub> ≈ h<sub>t−1</sub>)"
    elif z < 0.1:
        verdict = "z ≈ 0: the unit <b>replaces the past</b> with the candidate (h<sub>t</sub> ≈ n)"
    else:
        verdict = f"h<sub>t</sub> mixes {100 * z:.0f} % of the past with {100 * (1 - z):.0f} % of the candidate"
    text(6.6, 0.4, verdict, size=17)
    layout = _layout(
        title or f"One GRU unit (unit {unit + 1}) at one step, {VARIANT_NAMES.get(variant, variant)} variant",
        height,
        shapes=shapes,
        annotations=notes,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis={"range": [-0.1, 13.2], "visible": False, "fixedrange": True, "title": {"text": "(schematic)"}},
        yaxis={"range": [-0.1, 7.0], "visible": False, "fixedrange": True, "title": {"text": "(schematic)"}},
    )
    fig.update_layout(layout)
    return fig


def cell_bars(
    h_prev: Sequence[float],
    r: Sequence[float],
    z: Sequence[float],
    n: Sequence[float],
    h: Sequence[float],
    height: int = 420,
    title: str = "Every unit's gates and states at this step",
) -> go.Figure:
    """Grouped bars per hidden unit: h_{t−1}, r, z, n and h_t (gates in [0, 1], states in [−1, 1])."""
    values = {"h_prev": _arr(h_prev), "r": _arr(r), "z": _arr(z), "n": _arr(n), "h": _arr(h)}
    units = [f"unit {j + 1}" for j in range(len(values["h"]))]
    traces = []
    for key, vals in values.items():
        traces.append(
            go.Bar(
                x=units,
                y=vals,
                name=GATE_LABELS[key],
                marker={"color": GATE_COLORS[key], "line": {"color": "white", "width": 1}},
                text=[f"{v:.2f}" for v in vals],
                textposition="outside",
                textfont={"size": 13},
                hovertemplate=f"{GATE_LABELS[key]}, %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    layout = _layout(
        title,
        height,
        barmode="group",
        xaxis={"title": {"text": "hidden unit (number j)"}},
        yaxis={
            "title": {"text": "value (unitless)"},
            "range": [-1.25, 1.25],
            "zeroline": True,
            "zerolinecolor": "#888",
            "dtick": 0.5,
        },
        legend=_legend_below(-0.2),
        margin={"l": 90, "r": 30, "t": 70, "b": 120},
    )
    return go.Figure(data=traces, layout=layout)


def cell_mixing(
    h_prev: Sequence[float],
    z: Sequence[float],
    n: Sequence[float],
    h: Sequence[float],
    height: int = 420,
    title: str = "h<sub>t</sub> = (1 − z)·n + z·h<sub>t−1</sub>: each unit slides between n and h<sub>t−1</sub>",
) -> go.Figure:
    """For every unit a segment from its candidate n (at z = 0) to its previous state h_{t−1} (at z = 1),
    with the actual (z, h_t) on it: the update gate picks a point on the segment."""
    h_prev, z, n, h = _arr(h_prev), _arr(z), _arr(n), _arr(h)
    traces = []
    for j in range(len(h)):
        color = UNIT_COLORS[j % len(UNIT_COLORS)]
        traces.append(
            go.Scatter(
                x=[0.0, 1.0],
                y=[n[j], h_prev[j]],
                mode="lines+markers",
                name=f"unit {j + 1}: n → h<sub>t−1</sub>",
                line={"color": color, "width": 2, "dash": "dot"},
                marker={"size": 10, "symbol": ["square", "diamond"], "color": color},
                legendgroup=f"u{j}",
                showlegend=False,
                hovertemplate=f"unit {j + 1}: %{{y:.3f}}<extra></extra>",
            )
        )
        traces.append(
            go.Scatter(
                x=[z[j]],
                y=[h[j]],
                mode="markers",
                name=f"unit {j + 1}: h<sub>t</sub> at its z",
                marker={"size": 20, "color": color, "line": {"color": "white", "width": 2}},
                legendgroup=f"u{j}",
                hovertemplate=f"unit {j + 1}: z = %{{x:.3f}}, h_t = %{{y:.3f}}<extra></extra>",
            )
        )
    notes = [
        {"x": 0.0, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom", "xanchor": "left",
         "text": "z = 0: h<sub>t</sub> = n (replace)", "showarrow": False, "font": {"size": 14, "color": "#444"}},
        {"x": 1.0, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom", "xanchor": "right",
         "text": "z = 1: h<sub>t</sub> = h<sub>t−1</sub> (copy)", "showarrow": False,
         "font": {"size": 14, "color": "#444"}},
    ]  # fmt: skip
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": "update gate z (unitless, 0 … 1)"}, "range": [-0.05, 1.05], "dtick": 0.25},
        yaxis={"title": {"text": "state value (unitless)"}, "range": [-1.1, 1.1], "dtick": 0.5},
        annotations=notes,
        legend=_legend_below(-0.2),
        margin={"l": 90, "r": 30, "t": 70, "b": 120},
    )
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------------------------------------
# "Gate inspector"
# ----------------------------------------------------------------------------------------------------------


INSPECTOR_ROWS = (
    ("z", "z: update", "coloraxis"),
    ("r", "r: reset", "coloraxis"),
    ("n", "n: candidate", "coloraxis2"),
    ("h", "h: state", "coloraxis2"),
)


def inspector_heatmaps(
    gates: Mapping[str, Any],
    input_window: Sequence[float] | None,
    order: Sequence[int] | None = None,
    name: str = "model",
    color: str | None = None,
    max_units: int = 64,
    height: int = 680,
    title: str | None = None,
) -> go.Figure:
    """z, r, n and h of one layer on one input window as heatmaps (unit × time step), units in ``order``
    (e.g. :func:`saturation_order`: most saturated update gate on top), under the input window itself.

    ``gates``: {"z", "r", "n", "h"} -> (T, H).  Unit labels are the model's own unit numbers (1-based), so a
    sorted picture still tells which unit is which.  More than ``max_units`` units are thinned evenly.
    """
    first = _arr(gates["z"])
    T, H = first.shape
    order_arr = np.asarray(order if order is not None else np.arange(H), dtype=int)
    shown = order_arr[thin_indices(len(order_arr), max_units)]
    steps = np.arange(1, T + 1)
    top, gap = 0.83, 0.035
    row_h = (top - 0.03 - 3 * gap) / 4
    traces: list[Any] = []
    axes: dict[str, Any] = {}
    traces.append(input_window_trace(input_window, T, color, width=2.5, marker=6))
    axes["yaxis"] = {"domain": [top + 0.025, 1.0], "title": {"text": "input<br>(scaled)", "font": {"size": 14}}}
    labels = [str(int(u) + 1) for u in shown]
    for i, (key, text, caxis) in enumerate(INSPECTOR_ROWS):
        y1 = top - 0.02 - i * (row_h + gap)
        z = _arr(gates[key])[:, shown].T  # (units shown, T)
        traces.append(
            go.Heatmap(
                x=steps,
                y=np.arange(len(shown)),
                z=z,
                coloraxis=caxis,
                yaxis=f"y{i + 2}",
                name=text,
                customdata=np.repeat(np.array(labels, dtype=object)[:, None], T, axis=1),
                hovertemplate=f"{text}<br>step %{{x}}, unit %{{customdata}}: %{{z:.3f}}<extra></extra>",
            )
        )
        every = max(1, math.ceil(len(shown) / 6))  # a row is ~90 px high: at most 6 readable labels
        axes[f"yaxis{i + 2}"] = {
            "domain": [max(y1 - row_h, 0.0), y1],
            "anchor": "x",
            "title": {"text": f"{text}<br>(unit)", "font": {"size": 14}},
            "autorange": "reversed",
            "tickmode": "array",
            "tickvals": list(range(0, len(shown), every)),
            "ticktext": labels[::every],
            "tickfont": {"size": 13},
            "showgrid": False,
        }
    zr_mid = top - 0.02 - row_h - gap / 2
    nh_mid = top - 0.02 - 3 * row_h - 1.5 * gap
    more = f", {len(shown)} of {H} units" if len(shown) < H else ""
    layout = _layout(
        title or f"{name}: gates on this window (units sorted: most saturated z on top{more})",
        height,
        xaxis={"title": {"text": "time step of the input window (1 = oldest)"}, "anchor": "y5", "domain": [0.0, 0.88]},
        **gate_coloraxes(2 * row_h + gap, zr_mid, nh_mid, x=0.9),
        margin={"l": 90, "r": 20, "t": 60, "b": 60},
        **axes,
    )
    layout["title"]["font"] = {"size": 17, "weight": "bold", "color": color or TRUTH_COLOR}
    return go.Figure(data=traces, layout=layout)


def saturation_bars(
    sat: Mapping[str, Any],
    order: Sequence[int],
    name: str = "model",
    color: str | None = None,
    windows: int | None = None,
    max_units: int = 64,
    height: int = 360,
    title: str | None = None,
) -> go.Figure:
    """Per unit (in ``order``), the share of time steps where z (and r) is saturated, in percent."""
    order_arr = np.asarray(order, dtype=int)
    shown = order_arr[thin_indices(len(order_arr), max_units)]
    labels = [f"u{int(u) + 1}" for u in shown]
    color = color or TRUTH_COLOR
    styles = {"z": (color, "", "update gate z"), "r": ("#AAAAAA", "/", "reset gate r")}
    traces = []
    for key, (c, pattern, label) in styles.items():
        if key not in sat:
            continue
        v = 100.0 * _arr(sat[key])[shown]
        traces.append(
            go.Bar(
                x=labels,
                y=v,
                name=f"{label} saturated",
                marker={"color": c, "pattern": {"shape": pattern}, "line": {"color": "white", "width": 0.5}},
                hovertemplate=f"{label}, unit %{{x}}: %{{y:.0f}} % of steps saturated (|g − 0.5| > 0.4)<extra></extra>",
            )
        )
    over = f" over {windows} windows" if windows else ""
    layout = _layout(
        title or f"{name}: how often each unit's gates are saturated{over}",
        height,
        barmode="group",
        xaxis={
            "title": {"text": "hidden unit (sorted: most saturated z first)"},
            "type": "category",
            "tickfont": {"size": 12 if len(shown) <= 32 else 9},
        },
        # short enough for a projector's big letters (the long one ran into the title); the threshold is in the hover
        yaxis={"title": {"text": "steps saturated (%)"}, "range": [0, 105]},
        legend=_legend_below(-0.3),
        margin={"l": 90, "r": 20, "t": 80, "b": 130},
    )
    if all(not np.any(np.asarray(t.y) > 0) for t in traces):
        layout["annotations"] = [
            {"text": "No unit is ever saturated here:<br>every gate stays between 0.1 and 0.9 (it blends).",
             "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.55, "showarrow": False,
             "font": {"size": 16, "color": "#555"}}
        ]  # fmt: skip
    layout["title"]["font"] = {"size": 17, "weight": "bold", "color": color}
    return go.Figure(data=traces, layout=layout)


LINE_ROWS = (("z", "z (0…1)", [0, 1]), ("r", "r (0…1)", [0, 1]), ("n", "n (−1…1)", [-1, 1]), ("h", "h (−1…1)", [-1, 1]))


def gate_lines(
    gates: Mapping[str, Any],
    units: Sequence[int],
    name: str = "model",
    color: str | None = None,
    height: int = 620,
    title: str | None = None,
) -> go.Figure:
    """z, r, n and h over the window's time steps for a few ``units`` (0-based), one line style per unit,
    in the optimizer's colour: four stacked panels sharing the time axis."""
    T = _arr(gates["z"]).shape[0]
    steps = np.arange(1, T + 1)
    color = color or TRUTH_COLOR
    gap = 0.04
    row_h = (1.0 - 3 * gap) / 4
    traces = []
    axes: dict[str, Any] = {}
    for i, (key, label, rng) in enumerate(LINE_ROWS):
        ax = "y" if i == 0 else f"y{i + 1}"
        y1 = 1.0 - i * (row_h + gap)
        for k, u in enumerate(units):
            traces.append(
                go.Scatter(
                    x=steps,
                    y=_arr(gates[key])[:, int(u)],
                    mode="lines",
                    name=f"unit {int(u) + 1}",
                    yaxis=ax,
                    line={"color": color, "width": 3 if k == 0 else 2.2, "dash": UNIT_DASHES[k % len(UNIT_DASHES)]},
                    opacity=1.0 if k == 0 else 0.85,
                    legendgroup=f"u{u}",
                    showlegend=i == 0,
                    hovertemplate=f"unit {int(u) + 1}, step %{{x}}: {key} = %{{y:.3f}}<extra></extra>",
                )
            )
        axes["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "domain": [max(y1 - row_h, 0.0), y1],
            "anchor": "x",
            "title": {"text": label, "font": {"size": 14}},
            "range": [rng[0] - 0.05, rng[1] + 0.05],
        }
    layout = _layout(
        title or f"{name}: gates of selected units over the window",
        height,
        xaxis={"title": {"text": "time step of the input window (1 = oldest)"}, "anchor": f"y{len(LINE_ROWS)}"},
        legend=_legend_below(-0.12),
        margin={"l": 90, "r": 20, "t": 60, "b": 120},
        **axes,
    )
    layout["title"]["font"] = {"size": 17, "weight": "bold", "color": color}
    return go.Figure(data=traces, layout=layout)


def grad_norm_chart(
    lines: Sequence[Mapping[str, Any]],
    title: str = "How much gradient reaches each hidden state",
    x_title: str = "time step t (1 = oldest input)",
    y_title: str = "‖∂L/∂h<sub>t</sub>‖ (log scale)",
    relative: bool = False,
    height: int = 460,
) -> go.Figure:
    """Gradient norms per time step on a log axis, one line each.

    ``lines``: dicts with ``name``, ``values`` (T,) (entry t − 1 for h_t), optional ``color``, ``dash``,
    ``width``.  ``relative=True`` divides each line by its value at the last step (display only), so every
    line ends at 1 and its left end reads as "the fraction of the last step's gradient that reaches h_1".
    """
    traces = []
    for line in lines:
        v = _arr(line["values"])
        if relative and len(v) and np.isfinite(v[-1]) and v[-1] > 0:
            v = v / v[-1]
        steps = np.arange(1, len(v) + 1)
        traces.append(
            go.Scatter(
                x=steps,
                y=_positive(v, 1e-300),  # gradients really do fall below 1e-16: only 0 cannot be drawn
                mode="lines",
                name=str(line["name"]),
                line={
                    "color": line.get("color") or TRUTH_COLOR,
                    "dash": line.get("dash", "solid"),
                    "width": line.get("width", 3),
                },
                hovertemplate=f"{line['name']}<br>t = %{{x}}: %{{y:.3g}}<extra></extra>",
            )
        )
    if relative:
        y_title = y_title.split(" (")[0].strip() + " ÷ its last-step value (log)"
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": x_title}},
        yaxis=_log_axis(y_title),
        legend=_legend_below(-0.2),
        margin={"l": 90, "r": 30, "t": 70, "b": 140},
        hovermode="x unified",
    )
    return go.Figure(data=traces, layout=layout)


# ----------------------------------------------------------------------------------------------------------
# "Vanishing gradients, shown"
# ----------------------------------------------------------------------------------------------------------


def adding_loss_chart(
    train_loss: Mapping[str, Any],
    eval_steps: Sequence[int],
    test_curve: Mapping[str, Any],
    baseline: float,
    max_points: int = 600,
    height: int = 480,
    title: str = "Adding problem: loss of the GRU and the tanh RNN while training",
) -> go.Figure:
    """Per model: the mini-batch training loss (thin, faint) and the test MSE (thick, markers), plus the
    "predict the mean" baseline as a dashed black line; log y axis."""
    traces = []
    last = 0
    for key, losses in train_loss.items():
        color = MODEL_COLORS.get(key, TRUTH_COLOR)
        label = MODEL_LABELS.get(key, key)
        y = _arr(losses)
        idx = thin_indices(len(y), max_points)
        last = max(last, len(y))
        traces.append(
            go.Scatter(
                x=idx + 1,
                y=_positive(y[idx]),
                mode="lines",
                name=f"{label} · training mini-batches",
                line={"color": color, "width": 1.2},
                opacity=0.45,
                legendgroup=key,
                hovertemplate=f"{label} mini-batch loss at step %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
        traces.append(
            go.Scatter(
                x=np.asarray(eval_steps),
                y=_positive(test_curve[key]),
                mode="lines+markers",
                name=f"{label} · test set",
                line={"color": color, "width": 4},
                marker={"size": 8},
                legendgroup=key,
                hovertemplate=f"{label} test MSE after %{{x}} steps: %{{y:.4f}}<extra></extra>",
            )
        )
    x_end = max(last, int(np.max(eval_steps)) if len(eval_steps) else 0)
    traces.append(
        go.Scatter(
            x=[0, x_end],
            y=[baseline, baseline],
            mode="lines",
            name=f"predict the mean (always 1.0): MSE {baseline:.3f}",
            line={"color": TRUTH_COLOR, "width": 2.5, "dash": "dash"},
            hovertemplate="predict-the-mean baseline: %{y:.4f}<extra></extra>",
        )
    )
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": "training step (Adam updates)"}, "rangemode": "tozero"},
        yaxis=_log_axis("test / batch MSE (unitless; log)"),
        legend=_legend_below(-0.2),
        margin={"l": 90, "r": 30, "t": 70, "b": 150},
    )
    return go.Figure(data=traces, layout=layout)


def vanishing_grad_chart(
    grad_norms: Mapping[str, Mapping[str, Any]],
    relative: bool = True,
    height: int = 500,
    title: str = "Gradient reaching each time step: GRU vs tanh RNN, before and after training",
) -> go.Figure:
    """``grad_norms``: {"init", "final"} -> {"gru", "rnn"} -> (T,) (``adding_problem_race``'s ``grad_norms``).
    One log-scale chart: dashed at initialisation, solid after training, one colour per model."""
    lines = []
    for stage, dash, width, when in (
        ("init", "dash", 2.5, "at initialisation"),
        ("final", "solid", 4, "after training"),
    ):
        for key, values in (grad_norms.get(stage) or {}).items():
            lines.append(
                {
                    "name": f"{MODEL_LABELS.get(key, key)} · {when}",
                    "values": values,
                    "color": MODEL_COLORS.get(key),
                    "dash": dash,
                    "width": width,
                }
            )
    return grad_norm_chart(
        lines,
        title=title,
        x_title="time step t of the sequence (1 = first input, T = last)",
        y_title="‖∂L/∂h<sub>t</sub>‖ (unitless; log scale)",
        relative=relative,
        height=height,
    )


# ----------------------------------------------------------------------------------------------------------
# "Optimizer lab"
# ----------------------------------------------------------------------------------------------------------


LANDSCAPE_SCALE = [[0.0, "#FFFFFF"], [0.5, "#DCDCDC"], [1.0, "#A4A4A4"]]
LANDSCAPE_LEVELS = 28


def _png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB image (h, w, 3) as PNG bytes (zlib only: no imaging library needed)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def landscape_image(Z: Any, levels: int = LANDSCAPE_LEVELS) -> str:
    """Filled contours of ``Z`` (rows follow y upwards) as a PNG data URI: ``levels`` grey bands from white
    (lowest) to dark grey (highest, :data:`LANDSCAPE_SCALE`) with a darker line where the band changes."""
    z = _arr(Z)
    finite = np.isfinite(z)
    lo, hi = (float(z[finite].min()), float(z[finite].max())) if finite.any() else (0.0, 1.0)
    t = np.where(finite, (z - lo) / ((hi - lo) or 1.0), 1.0)
    band = np.clip(np.floor(t * levels), 0, levels - 1)
    stops = [(float(p), int(c[1:3], 16)) for p, c in LANDSCAPE_SCALE]
    grey = np.interp((band + 0.5) / levels, [p for p, _ in stops], [c for _, c in stops])
    edge = np.zeros(band.shape, dtype=bool)
    edge[:, 1:] |= band[:, 1:] != band[:, :-1]
    edge[1:, :] |= band[1:, :] != band[:-1, :]
    grey = np.where(edge, grey * 0.72, grey)
    rgb = np.repeat(grey[::-1, :, None], 3, axis=2).round().astype(np.uint8)  # image rows run top-down
    return "data:image/png;base64," + base64.b64encode(_png(rgb)).decode("ascii")


def frame_steps(steps: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """The steps an animation of ``steps`` optimizer steps shows: 0..steps, thinned to ``max_frames``."""
    return thin_indices(int(steps) + 1, max_frames)


def _finite_path(path: Mapping[str, Any]) -> np.ndarray:
    """The points to draw: a diverged run's last point (NaN, inf or far away) is dropped."""
    pts = _arr(path["points"]).reshape(-1, 2)
    if path.get("diverged_at") is not None:
        pts = pts[:-1]
    ok = np.isfinite(pts).all(axis=1)
    return pts[: int(np.argmin(ok))] if not ok.all() else pts


def landscape_animation(
    xs: Sequence[float],
    ys: Sequence[float],
    Z: Any,
    paths: Mapping[str, Mapping[str, Any]],
    steps: int,
    log_scale: bool = True,
    minima: Sequence[Sequence[float]] = (),
    saddles: Sequence[Sequence[float]] = (),
    colors: Mapping[str, str] | None = None,
    name: str = "landscape",
    max_frames: int = MAX_FRAMES,
    frame_ms: int = 80,
    height: int = 780,
    title: str | None = None,
) -> go.Figure:
    """Contours of f with every optimizer's path, animated with Plotly frames (▶ / ❚❚ buttons, a slider).

    ``xs`` (n,), ``ys`` (m,), ``Z`` (m, n) as returned by ``gru_core.classroom.landscapes.grid`` (log values when
    ``log_scale``); ``paths``: label -> a ``gru_core.classroom.landscapes.trajectory`` result (``points``,
    ``diverged_at``).  Per optimizer: the exact full path (``"<label> · full path"``, faint), the animated
    path (``"<label>"``: the points at the frame steps so far, *newest first*, so the big marker of point 0
    is always the current position and a frame only replaces x and y), and for a diverged run a ✖ at its
    last finite point with a note.  Frames: :func:`frame_steps` (``steps`` + 1 of them, or ``max_frames``
    when longer), named by their step; the figure opens on the last one.
    """
    xs_a, ys_a = _arr(xs), _arr(ys)
    labels = list(paths)
    cmap = colors_for(labels, colors)
    fsteps = frame_steps(steps, max_frames)
    z_title = "log₁₀(f − f_min + 0.001)" if log_scale else "f(x, y)"
    Zf = _arr(Z)
    lo, hi = float(np.nanmin(Zf)), float(np.nanmax(Zf))
    # Plotly.js drops contour and heatmap traces from the plot when it animates other traces without a full
    # redraw (plotly.js#4491), and a full redraw costs ~250 ms a frame.  So the landscape is a picture
    # (layout image: animations leave it alone), with an invisible grid of points for hover and the scale.
    k = max(1, math.ceil(max(Zf.shape) / 50))
    gx, gy = np.meshgrid(xs_a[::k], ys_a[::k])
    traces: list[Any] = [
        go.Scatter(
            x=gx.ravel(),
            y=gy.ravel(),
            mode="markers",
            name="f(x, y)",
            marker={
                "size": 10,
                "opacity": 0,
                "color": Zf[::k, ::k].ravel(),
                "colorscale": LANDSCAPE_SCALE,
                "cmin": lo,
                "cmax": hi,
                "showscale": True,
                "colorbar": {"title": {"text": z_title, "side": "right"}, "thickness": 14, "x": 1.0},
            },
            hovertemplate=f"x = %{{x:.3f}}, y = %{{y:.3f}}<br>{z_title} = %{{marker.color:.3g}}<extra></extra>",
            showlegend=False,
        )
    ]
    image = {
        "source": landscape_image(Zf),
        "xref": "x",
        "yref": "y",
        "x": float(xs_a[0]),
        "y": float(ys_a[-1]),
        "sizex": float(xs_a[-1] - xs_a[0]),
        "sizey": float(ys_a[-1] - ys_a[0]),
        "xanchor": "left",
        "yanchor": "top",
        "sizing": "stretch",
        "layer": "below",
    }
    if len(minima):
        m = _arr(minima).reshape(-1, 2)
        traces.append(
            go.Scatter(
                x=m[:, 0],
                y=m[:, 1],
                mode="markers",
                name="minimum" if len(m) == 1 else "minima",
                marker={"symbol": "star", "size": 20, "color": "white", "line": {"color": "black", "width": 2}},
                hovertemplate="minimum (%{x:.3f}, %{y:.3f})<extra></extra>",
            )
        )
    if len(saddles):
        s = _arr(saddles).reshape(-1, 2)
        traces.append(
            go.Scatter(
                x=s[:, 0],
                y=s[:, 1],
                mode="markers",
                name="saddle point",
                marker={"symbol": "hourglass", "size": 16, "color": "white", "line": {"color": "black", "width": 2}},
                hovertemplate="saddle point (%{x:.3f}, %{y:.3f})<extra></extra>",
            )
        )
    if labels:
        p0 = _arr(paths[labels[0]]["points"]).reshape(-1, 2)[0]
        traces.append(
            go.Scatter(
                x=[p0[0]],
                y=[p0[1]],
                mode="markers",
                name="start",
                marker={"symbol": "circle-open", "size": 18, "color": "black", "line": {"width": 3}},
                hovertemplate="start (%{x:.3f}, %{y:.3f})<extra></extra>",
            )
        )
    animated: list[int] = []  # the trace each frame updates, one per optimizer
    finite: dict[str, np.ndarray] = {}
    notes: list[dict] = []
    sizes = np.full(len(fsteps), 6.0)
    sizes[0] = 17.0  # point 0 of an animated path is its newest point: the current position
    for label in labels:
        path = paths[label]
        color = cmap[label]
        pts = _finite_path(path)
        finite[label] = pts
        div = path.get("diverged_at")
        legend = f"{label} (diverged at step {div})" if div is not None else label
        traces.append(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="lines",
                name=f"{label} · full path",
                line={"color": color, "width": 1.5},
                opacity=0.4,
                showlegend=False,
                legendgroup=label,
                hoverinfo="skip",
            )
        )
        k = _visible_upto(pts, fsteps, fsteps[-1])
        traces.append(
            go.Scatter(
                x=k[:, 0],
                y=k[:, 1],
                mode="lines+markers",
                name=legend,
                line={"color": color, "width": 3.5},
                marker={"size": sizes, "color": color, "line": {"color": "white", "width": 1}},
                legendgroup=label,
                hovertemplate=f"{label}: (%{{x:.3f}}, %{{y:.3f}})<extra></extra>",
            )
        )
        animated.append(len(traces) - 1)
        if div is not None and len(pts):
            traces.append(
                go.Scatter(
                    x=pts[-1:, 0],
                    y=pts[-1:, 1],
                    mode="markers",
                    name=f"{label} · diverged",
                    marker={"symbol": "x", "size": 24, "color": color, "line": {"color": "black", "width": 1.5}},
                    showlegend=False,
                    legendgroup=label,
                    hovertemplate=f"{label} diverged at step {div}<extra></extra>",
                )
            )
            notes.append(
                {
                    "x": float(np.clip(pts[-1, 0], xs_a[0], xs_a[-1])),
                    "y": float(np.clip(pts[-1, 1], ys_a[0], ys_a[-1])),
                    "text": f"✖ {label} diverged at step {div}",
                    "showarrow": True,
                    "arrowhead": 2,
                    "ax": 50,
                    "ay": -40,
                    "font": {"size": 16, "color": color},
                    "bgcolor": "rgba(255,255,255,0.9)",
                    "bordercolor": color,
                }
            )
    frames = []
    for s in fsteps:
        data = []
        for label in labels:
            k = _visible_upto(finite[label], fsteps, s)
            data.append({"x": k[:, 0], "y": k[:, 1]})
        frames.append({"data": data, "traces": animated, "name": str(int(s))})
    slider = {
        "active": len(fsteps) - 1,
        "x": 0.0,
        "len": 1.0,
        "y": 0,
        "yanchor": "top",
        "pad": {"t": 100, "r": 10},
        "currentvalue": {"prefix": "step ", "font": {"size": 16}, "xanchor": "right"},
        "steps": [
            {
                "label": str(int(s)),
                "method": "animate",
                "args": [
                    [str(int(s))],
                    {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}},
                ],
            }
            for s in fsteps
        ],
    }
    play = {
        "frame": {"duration": frame_ms, "redraw": True},
        "fromcurrent": False,
        "transition": {"duration": 0},
        "mode": "immediate",
    }
    pause = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    buttons = {
        "type": "buttons",
        "direction": "left",
        "x": 0.0,
        "y": 0,
        "xanchor": "left",
        "yanchor": "top",
        "pad": {"t": 52, "r": 10},
        "showactive": False,
        "font": {"size": 16},
        "buttons": [
            {"label": "▶ Play", "method": "animate", "args": [None, play]},
            {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]},
        ],
    }
    n_frames = len(fsteps)
    thinned = f", {n_frames} frames for {steps} steps" if n_frames < steps + 1 else ""
    layout = _layout(
        title or f"{name}: paths from the same start{thinned}",
        height,
        xaxis={
            "title": {"text": "x (first parameter, unitless)"},
            "range": [float(xs_a[0]), float(xs_a[-1])],
            "showgrid": False,
            "zeroline": False,
            "constrain": "domain",
        },
        yaxis={
            "title": {"text": "y (second parameter, unitless)"},
            "range": [float(ys_a[0]), float(ys_a[-1])],
            "showgrid": False,
            "zeroline": False,
            "scaleanchor": "x",
            "scaleratio": 1,
            "constrain": "domain",
        },
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom", "font": {"size": 16}},
        annotations=notes,
        images=[image],
        sliders=[slider],
        updatemenus=[buttons],
        margin={"l": 80, "r": 20, "t": 120, "b": 210},
    )
    layout["title"].update({"y": 0.99, "yanchor": "top", "yref": "container"})  # above the legend
    return go.Figure(data=traces, layout=layout, frames=frames)


def _visible_upto(pts: np.ndarray, fsteps: np.ndarray, s: int) -> np.ndarray:
    """The animated path at frame step ``s``, newest point first: the path's points at the frame steps up
    to ``s`` (a run that stopped earlier stays at its last point)."""
    if not len(pts):
        return pts
    idx = np.unique(np.minimum(fsteps[fsteps <= s], len(pts) - 1))
    return pts[idx[::-1]]


def step_size_chart(
    step_sizes: Mapping[str, Any],
    colors: Mapping[str, str] | None = None,
    diverged: Mapping[str, int | None] | None = None,
    max_points: int = 1000,
    height: int = 460,
    title: str = "Effective step size per coordinate",
) -> go.Figure:
    """``step_sizes``: label -> (n, 2), the trajectory's ``step_sizes`` (what each step multiplied its
    gradient, momentum or first moment by), per coordinate x (solid) and y (dotted), log y axis."""
    labels = list(step_sizes)
    cmap = colors_for(labels, colors)
    traces = []
    for label in labels:
        ss = _arr(step_sizes[label]).reshape(-1, 2)
        idx = thin_indices(len(ss), max_points)
        div = (diverged or {}).get(label)
        tag = f" (diverged at step {div})" if div is not None else ""
        for c, (coord, dash) in enumerate((("x", "solid"), ("y", "dot"))):
            traces.append(
                go.Scatter(
                    x=idx + 1,
                    y=_positive(ss[idx, c], 1e-300),
                    mode="lines",
                    name=f"{label} · {coord}{tag}",
                    line={"color": cmap[label], "width": 3 if c == 0 else 2.5, "dash": dash},
                    legendgroup=label,
                    hovertemplate=f"{label}, {coord}: %{{y:.3g}} at step %{{x}}<extra></extra>",
                )
            )
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": "optimizer step (count)"}, "rangemode": "tozero"},
        yaxis=_log_axis("step size (per gradient unit; log)"),
        legend=_legend_below(-0.22),
        margin={"l": 90, "r": 30, "t": 70, "b": 150},
        hovermode="x unified",
    )
    return go.Figure(data=traces, layout=layout)


def value_chart(
    values: Mapping[str, Any],
    f_min: float = 0.0,
    colors: Mapping[str, str] | None = None,
    diverged: Mapping[str, int | None] | None = None,
    max_points: int = 1000,
    height: int = 420,
    title: str = "How far above the minimum: f(x_t, y_t) − f_min",
) -> go.Figure:
    """``values``: label -> (n + 1,) f along the path (trajectory ``values``); drawn as f − f_min on a log
    axis (values below 1e-16 at 1e-16: a log axis cannot show 0).  A diverged run ends in a ✖."""
    labels = list(values)
    cmap = colors_for(labels, colors)
    traces = []
    for label in labels:
        v = _arr(values[label])
        div = (diverged or {}).get(label)
        if div is not None:
            v = v[:-1]  # the offending point
        idx = thin_indices(len(v), max_points)
        y = _positive(v[idx] - f_min)
        traces.append(
            go.Scatter(
                x=idx,
                y=y,
                mode="lines",
                name=label if div is None else f"{label} (diverged at step {div})",
                line={"color": cmap[label], "width": 3},
                legendgroup=label,
                hovertemplate=f"{label}: %{{y:.3g}} after %{{x}} steps<extra></extra>",
            )
        )
        if div is not None and len(y):
            traces.append(
                go.Scatter(
                    x=[idx[-1]],
                    y=[y[-1] if math.isfinite(y[-1]) else None],
                    mode="markers",
                    name=f"{label} · diverged",
                    marker={"symbol": "x", "size": 20, "color": cmap[label], "line": {"color": "black", "width": 1.5}},
                    legendgroup=label,
                    showlegend=False,
                    hovertemplate=f"{label} diverged at step {div}<extra></extra>",
                )
            )
    layout = _layout(
        title,
        height,
        xaxis={"title": {"text": "optimizer step (count)"}, "rangemode": "tozero"},
        yaxis=_log_axis("f − f_min (unitless; log scale)"),
        legend=_legend_below(-0.22),
        margin={"l": 90, "r": 30, "t": 70, "b": 130},
        hovermode="x unified",
    )
    return go.Figure(data=traces, layout=layout)
