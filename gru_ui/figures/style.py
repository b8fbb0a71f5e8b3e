"""The look every chart shares: the optimizer colours, axis and font styles, the base layout, thinning.

Every figure has a title, axis titles with units, named legend entries and a fixed colour per
optimizer: :data:`OPTIMIZER_COLORS` (the Okabe-Ito colour-blind-safe palette) by optimizer family, and
:func:`assign_colors` to give every contestant of one race its own colour, the same in every chart.
A new chart takes :func:`base_layout` and :func:`assign_colors` from here; its own module is its page
family's (``race``, ``classroom``, ``sweep``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "AXIS_STYLE", "BASELINE_STYLES", "EXTRA_COLORS", "FAMILY_COLORS", "FONT", "MAX_POINTS", "OPTIMIZER_COLORS",
    "SPLIT_FILLS", "TITLE_FONT", "TRUTH_COLOR", "assign_colors", "base_layout", "base_optimizer", "chart_config",
    "color_for", "colors_for", "ema", "empty_note", "family_colors", "input_window_trace", "thin_indices", "tint",
    "value_axis_title",
]  # fmt: skip


# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OPTIMIZER_COLORS: dict[str, str] = {
    "adam": "#0072B2",  # blue
    "rmsprop": "#D55E00",  # vermillion
    "sgd": "#009E73",  # bluish green
    "adagrad": "#CC79A7",  # reddish purple
    "adamw": "#E69F00",  # orange
}
# Every other optimizer of the registry, in registry order (so a new registry entry gets a colour of its own,
# the same on every page): Paul Tol's muted scheme, chosen to stay apart from the five above.
FAMILY_COLORS: tuple[str, ...] = ("#332288", "#88CCEE", "#44AA99", "#AA4499", "#999933", "#DDCC77", "#CC6677",
                                  "#882255", "#117733", "#6699CC")  # fmt: skip
# For a second Adam, a Keras-flavoured twin, …: Okabe-Ito sky blue, then black and greys.
EXTRA_COLORS: tuple[str, ...] = ("#56B4E9", "#000000", "#5E5E5E", "#A0A0A0", "#3B3B3B")
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


def family_colors() -> dict[str, str]:
    """Every registry optimizer's colour: the five classic ones fixed above, the others from FAMILY_COLORS in
    registry order (``gru_core.optim.OPTIMIZERS``)."""
    from gru_core.optim import OPTIMIZERS

    out = dict(OPTIMIZER_COLORS)
    others = [k for k in OPTIMIZERS if k not in out]
    for i, key in enumerate(others):
        out[key] = FAMILY_COLORS[i % len(FAMILY_COLORS)]
    return out


def base_optimizer(name: str) -> str | None:
    """The registry family of a display label: "Adam #2" -> "adam", "RMSprop (keras)" -> "rmsprop"."""
    s = _FLAVOR.sub("", _DUP.sub("", str(name).strip())).strip().lower()
    return s if s in family_colors() else None


def color_for(name: str, index: int = 0) -> str:
    """The colour of one contestant: its family's colour (Adam blue, RMSprop vermillion, …) unless the
    label is a numbered duplicate ("Adam #2") or unknown, which take ``EXTRA_COLORS[index]``.

    Stateless; :func:`assign_colors` resolves clashes within one race (e.g. "Adam" and "Adam (keras)").
    """
    if base_optimizer(name) is not None and not _DUP.search(str(name)):
        return family_colors()[base_optimizer(name)]  # type: ignore[index]
    return EXTRA_COLORS[index % len(EXTRA_COLORS)]


def assign_colors(names: Sequence[str]) -> dict[str, str]:
    """Distinct colours for the contestants of one race, independent of their order where possible.

    A plain family name ("Adam") always gets its family colour; another member of the family
    ("Adam (keras)", "Adam #2") gets the family colour only if no plain name took it, else the first
    unused extra colour.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    colors = family_colors()
    for name in names:  # pass 1: the plain family names
        base = base_optimizer(name)
        if base is not None and str(name).strip().lower() == base:
            out[name] = colors[base]
            used.add(out[name])
    spare = [c for c in (*colors.values(), *EXTRA_COLORS)]
    for name in names:  # pass 2: everyone else
        if name in out:
            continue
        base = base_optimizer(name)
        if base is not None and not _DUP.search(str(name)) and colors[base] not in used:
            out[name] = colors[base]
        else:
            free = [c for c in EXTRA_COLORS if c not in used] or [c for c in spare if c not in used] or spare
            out[name] = free[0]
        used.add(out[name])
    return out


def colors_for(names: Sequence[str], colors: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each name's colour: the one given in ``colors``, else :func:`assign_colors`'s (every chart uses this)."""
    auto = assign_colors(list(names))
    return {n: (colors or {}).get(n, auto[n]) for n in names}


def chart_config(filename: str) -> dict[str, Any]:
    """``config=`` for ``st.plotly_chart``: the toolbar's camera button saves a 2× PNG named ``filename``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename).strip("-") or "chart"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": safe, "scale": 2},
    }


def tint(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` as ``rgba(r,g,b,alpha)`` (a band or a fill in a trace's own colour)."""
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{min(max(alpha, 0.0), 1.0):.3f})"


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


def empty_note(text: str) -> dict[str, Any]:
    """A grey note in the middle of an empty chart ("no data yet", "every run diverged")."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
        "font": {"size": 16, "color": "#666"},
    }


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




def input_window_trace(input_window: Any, n_steps: int, color: str | None = None, width: float = 2.0,
                       marker: float = 5.0) -> Any:
    """The input window drawn above gate heatmaps (time step 1..T against the scaled input; NaN when unknown),
    on the axes ``x``/``y``: the race page's live gates and the gate inspector share it."""
    import plotly.graph_objects as go

    win = _floats(input_window) if input_window is not None else np.full(n_steps, np.nan)
    steps = np.arange(1, n_steps + 1)
    return go.Scatter(x=steps[: len(win)], y=win, mode="lines+markers", name="input window", xaxis="x", yaxis="y",
                      line={"color": color or TRUTH_COLOR, "width": width}, marker={"size": marker},
                      hovertemplate="step %{x}: input %{y:.3f}<extra></extra>", showlegend=False)  # fmt: skip
