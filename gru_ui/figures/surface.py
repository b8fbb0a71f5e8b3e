"""The race page's loss-surface charts: the surface over a plane with every optimizer's projected path, and the two
1-D cuts (start → each end point; end point ↔ end point).

Pure Plotly builders: the dict of :func:`gru_core.surface.race_surface` in, :class:`plotly.graph_objects.Figure`
out.  The only arithmetic is presentation: the surface is drawn as log₁₀ of the loss (its values span orders of
magnitude), with the colour bar labelled in loss values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from gru_core.fmt import num
from gru_ui.figures.style import TRUTH_COLOR, base_layout, colors_for

__all__ = ["LOSS_NAMES", "SURFACE_SCALE", "axis_titles", "cut_ends_chart", "cut_start_chart", "surface_chart"]

SURFACE_SCALE = [[0.0, "#FFFFFF"], [0.45, "#D9D9D9"], [1.0, "#7F7F7F"]]  # low loss light: the paths' colours stand out
LOSS_NAMES = {"train": "training loss", "val": "validation loss"}
UNITS = "MSE, scaled units"  # every loss here: the race's own (mean squared error of the scaled series)
_DIVERGED = ("diverged",)


def _arr(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _log10(L: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.where(np.isfinite(L) & (L > 0), L, np.nan))
    return z


def axis_titles(result: Mapping[str, Any]) -> tuple[str, str]:
    """The two axes' titles: PCA axes with the share of the paths' movement each explains; random axes with Li
    et al.'s α = 1.  Both are distances in weight space from the start θ0 (same unit on both axes)."""
    if result.get("plane") == "pca":
        ex = [float(v) for v in result.get("explained") or (math.nan, math.nan)]
        return (f"PC1: {num(100 * ex[0], 3)} % of the movement", f"PC2: {num(100 * ex[1], 3)} %")
    sc = [float(v) for v in result.get("scales") or (math.nan, math.nan)]
    return (f"random direction 1 (α = 1 at {num(sc[0], 3)})", f"random direction 2 (α = 1 at {num(sc[1], 3)})")


def surface_chart(result: Mapping[str, Any], colors: Mapping[str, str] | None = None, height: int = 560,
                  title: str | None = None) -> go.Figure:  # fmt: skip
    """Contours of the loss over the plane (log scale), each optimizer's path projected onto it (hover: epoch, the
    real loss there, its distance from the plane), ● the shared start θ0, ◆ each end point (✖ a diverged run's last
    finite point)."""
    a, b, L = _arr(result["a"]), _arr(result["b"]), _arr(result["L"])
    z = _log10(L)
    loss_name = LOSS_NAMES.get(result.get("loss", "train"), "loss")
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    ticks = np.arange(math.floor(lo), math.ceil(hi) + 1)
    tickvals = [float(t) for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    if len(tickvals) < 2:  # less than a decade: a few values in between
        tickvals = list(np.linspace(lo, hi, 4))
    traces: list[Any] = [
        go.Contour(
            x=a, y=b, z=z, colorscale=SURFACE_SCALE, ncontours=24, name=loss_name, zmin=lo, zmax=hi,
            contours={"coloring": "heatmap", "showlines": True}, line={"width": 0.6, "color": "rgba(0,0,0,0.25)"},
            colorbar={"title": {"text": f"{loss_name} ({UNITS})", "side": "right"}, "thickness": 14,
                      "tickvals": tickvals, "ticktext": [num(10**t, 2) for t in tickvals]},
            customdata=L, hovertemplate=f"a = %{{x:.3g}}, b = %{{y:.3g}}<br>{loss_name} = %{{customdata:.4g}}"
            "<extra>surface</extra>", showlegend=False,
        )
    ]  # fmt: skip
    paths = result.get("paths") or {}
    cmap = colors_for(list(paths), colors)
    for name, p in paths.items():
        c = _arr(p["coords"]).reshape(-1, 2)
        if not len(c):
            continue
        info = np.stack([_arr(p["epochs"]), _arr(p["loss"]), _arr(p["off_plane"])], axis=1)
        traces.append(go.Scatter(
            x=c[:, 0], y=c[:, 1], mode="lines+markers", name=name, legendgroup=name,
            line={"color": cmap[name], "width": 2.5}, marker={"size": 5, "color": cmap[name]}, customdata=info,
            hovertemplate=f"<b>{name}</b> epoch %{{customdata[0]:.3g}}<br>{loss_name} there: %{{customdata[1]:.4g}}"
            "<br>off the plane by %{customdata[2]:.3g}<extra></extra>",
        ))  # fmt: skip
        diverged = p.get("status") in _DIVERGED
        traces.append(go.Scatter(
            x=c[-1:, 0], y=c[-1:, 1], mode="markers", name=f"{name} end", legendgroup=name, showlegend=False,
            marker={"symbol": "x" if diverged else "diamond", "size": 15, "color": cmap[name],
                    "line": {"color": "white" if not diverged else cmap[name], "width": 1.5}},
            hovertemplate=f"<b>{name}</b> {'last finite point (diverged)' if diverged else 'end point'}"
            f"<br>{loss_name}: {num(_arr(p['loss'])[-1], 4)}<extra></extra>",
        ))  # fmt: skip
    traces.append(go.Scatter(
        x=[0.0], y=[0.0], mode="markers", name="start θ0 (shared)",
        marker={"symbol": "circle", "size": 13, "color": TRUTH_COLOR, "line": {"color": "white", "width": 2}},
        hovertemplate=f"start θ0<br>{loss_name}: {num(result.get('origin_loss', math.nan), 4)}<extra></extra>",
    ))  # fmt: skip
    xt, yt = axis_titles(result)
    plane = "the paths' two principal directions" if result.get("plane") == "pca" else "two random directions"
    layout = base_layout(
        title or f"Where they went: {loss_name} on the plane of {plane}", height, hovermode="closest",
        margin={"l": 80, "r": 30, "t": 70, "b": 150},
        xaxis={"title": {"text": xt}, "range": [float(a[0]), float(a[-1])]},
        yaxis={"title": {"text": yt}, "range": [float(b[0]), float(b[-1])]},
        legend={"orientation": "h", "y": -0.28, "x": 0.0, "yanchor": "top", "font": {"size": 14}},
    )  # fmt: skip
    return go.Figure(traces, layout)


def _cut_layout(title: str, xtitle: str, loss_name: str, height: int, L: Sequence[np.ndarray]) -> dict[str, Any]:
    ok = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in L]) if L else np.zeros(0)
    log = ok.size > 0 and ok.max() / ok.min() > 20
    return base_layout(
        title, height, hovermode="x unified", margin={"l": 80, "r": 30, "t": 80, "b": 140},
        xaxis={"title": {"text": xtitle}, "zeroline": False},
        yaxis={"title": {"text": f"{loss_name} ({UNITS})"}, "type": "log" if log else "linear",
               **({"dtick": 1 if ok.max() / ok.min() > 300 else "D2"} if log else {})},
        legend={"orientation": "h", "y": -0.3, "x": 0.0, "yanchor": "top"},
        shapes=[{"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
                 "line": {"color": "#999", "dash": "dot", "width": 1}} for x in (0, 1)],
    )  # fmt: skip


def cut_start_chart(result: Mapping[str, Any], colors: Mapping[str, str] | None = None,
                    height: int = 460) -> go.Figure:  # fmt: skip
    """The loss along the straight line from the start θ0 (t = 0) to each optimizer's end point (t = 1), a
    quarter further on each side."""
    cuts = (result.get("cuts") or {}).get("start") or {}
    loss_name = LOSS_NAMES.get(result.get("loss", "train"), "loss")
    cmap = colors_for(list(cuts), colors)
    traces, Ls = [], []
    for name, cut in cuts.items():
        t, L = _arr(cut["t"]), _arr(cut["L"])
        Ls.append(L)
        traces.append(go.Scatter(x=t, y=L, mode="lines", name=f"θ0 → {name}'s end", line={"color": cmap[name],
                                 "width": 2.5}, hovertemplate=f"{name}: %{{y:.4g}}<extra></extra>"))  # fmt: skip
        ends = np.isin(t, (0.0, 1.0))
        traces.append(go.Scatter(x=t[ends], y=L[ends], mode="markers", showlegend=False, name=f"{name} ends",
                                 marker={"size": 10, "color": cmap[name], "symbol": ["circle", "diamond"]},
                                 hoverinfo="skip"))  # fmt: skip
    return go.Figure(traces, _cut_layout("Start → each end point", "t (0 = start θ0, 1 = the optimizer's end)",
                                         loss_name, height, Ls))  # fmt: skip


def cut_ends_chart(result: Mapping[str, Any], colors: Mapping[str, str] | None = None,
                   height: int = 460) -> go.Figure:  # fmt: skip
    """The loss along the straight line between two optimizers' end points: a bump between t = 0 and t = 1 is a
    barrier between the two solutions."""
    cut = (result.get("cuts") or {}).get("ends")
    loss_name = LOSS_NAMES.get(result.get("loss", "train"), "loss")
    if not cut:
        fig = go.Figure(layout=base_layout("Between the end points", height))
        fig.add_annotation(text="Only one optimizer has an end point: nothing to join.", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)  # fmt: skip
        return fig
    first, second = cut["pair"]
    t, L = _arr(cut["t"]), _arr(cut["L"])
    cmap = colors_for([first, second], colors)
    barrier = float(cut.get("barrier", math.nan))
    said = (f"a barrier {num(barrier, 3)} above the higher end" if barrier > 0 else "no barrier (never above the "
            "higher end)")  # fmt: skip
    traces = [
        go.Scatter(x=t, y=L, mode="lines", name="loss on the line", line={"color": TRUTH_COLOR, "width": 2.5},
                   hovertemplate="%{y:.4g}<extra></extra>", showlegend=False),
        go.Scatter(x=[0.0], y=L[t == 0], mode="markers", name=f"{first}'s end (t = 0)",
                   marker={"size": 13, "symbol": "diamond", "color": cmap[first]}, hoverinfo="skip"),
        go.Scatter(x=[1.0], y=L[t == 1], mode="markers", name=f"{second}'s end (t = 1)",
                   marker={"size": 13, "symbol": "diamond", "color": cmap[second]}, hoverinfo="skip"),
    ]  # fmt: skip
    return go.Figure(traces, _cut_layout(f"End point ↔ end point<br><sup>{said}</sup>", f"t (0 = {first}'s end, "
                                         f"1 = {second}'s end)", loss_name, height, [L]))  # fmt: skip
