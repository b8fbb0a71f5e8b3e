"""Presentation mode for projectors: a copy of any figure with larger fonts, thicker lines, bigger markers.

Data and colours are untouched.  Pages apply it at render time (the shared ``chart`` widget) when the
sidebar toggle "Presentation mode" is on; its value lives in ``st.session_state["presentation"]``
(:data:`PRESENTATION_KEY`, a plain key, so it survives page changes)::

    fig = present(fig, st.session_state.get(PRESENTATION_KEY, False))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = ["PRESENTATION_KEY", "PRESENT_WRAP", "PRESENT_WRAP_Y", "present", "presentation"]

PRESENTATION_KEY = "presentation"  # st.session_state key of the "Presentation mode" toggle (bool)
PRESENT_FONT = 1.4  # font sizes × this
PRESENT_LINE = 1.8  # line widths × this
PRESENT_MARKER = 1.5  # marker sizes × this
PRESENT_WRAP = 44  # titles longer than this (characters) go on two lines in presentation mode
PRESENT_HEIGHT = 1.35  # figure height × this: text and margins grow ×1.4, the plot area must not shrink
PRESENT_WRAP_Y = 26  # y-axis titles longer than this go on two lines (at 1.4× they outgrew a chart's height)


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
                text = axis["title"].get("text")
                if name.startswith("yaxis") and isinstance(text, str) and len(text) > PRESENT_WRAP_Y and (
                        "<br>" not in text):  # fmt: skip
                    axis["title"]["text"] = _wrap_title(text)  # else it ran past the plot into the chart's title
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
