"""One check of presentation mode, run on every figure the figure tests build (see the autouse fixtures in
test_figures*.py): ``figures.presentation(fig)`` must leave ``fig`` alone, stay a valid Plotly figure, keep
the data, colours and animation frames, and make text, lines and markers bigger."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from gru_ui import figures as F


def _size(v) -> np.ndarray | None:
    return None if v is None else np.atleast_1d(np.asarray(v, dtype=float))


def _same(a, b) -> None:
    if a is None or isinstance(a, str):
        assert a == b
        return
    if b is None:
        raise AssertionError(f"{a!r} became None")
    try:  # numbers (NaN equal to NaN) ...
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):  # ... or labels and dates
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    np.testing.assert_array_equal(a, b)


def check_presentation(fig: go.Figure) -> go.Figure:
    before = fig.to_json()
    big = F.presentation(fig)
    assert fig.to_json() == before, "presentation() must not change its input"
    go.Figure(json.loads(big.to_json()))  # valid: raises on any invalid property
    assert big.layout.font.size > (fig.layout.font.size or 12)
    if fig.layout.title.text:
        assert big.layout.title.font.size > (fig.layout.title.font.size or fig.layout.font.size or 12)
        assert big.layout.title.text.replace("<br>", " ") == fig.layout.title.text.replace("<br>", " ")
        if len(fig.layout.title.text) > F.PRESENT_WRAP and "<br>" not in fig.layout.title.text:
            assert big.layout.title.text.count("<br>") == 1, "a long title must be wrapped, not cut off"
    assert big.layout.height > (fig.layout.height or 0)
    ytitle = fig.layout.yaxis.title.text
    if ytitle and len(ytitle) > F.PRESENT_WRAP_Y and "<br>" not in ytitle:
        assert big.layout.yaxis.title.text.count("<br>") == 1, "a long y-axis title must go on two lines"
    assert len(big.data) == len(fig.data)
    for a, b in zip(fig.data, big.data):
        assert (a.type, a.name) == (b.type, b.name)
        for attr in ("x", "y", "z"):
            _same(getattr(a, attr, None), getattr(b, attr, None))
        if a.type != "scatter":
            continue
        assert (a.line.color, a.line.dash) == (b.line.color, b.line.dash)
        _same(a.marker.color, b.marker.color)
        if "lines" in (a.mode or "lines"):
            assert b.line.width > (a.line.width or 2), (a.name, a.line.width, b.line.width)
        if "markers" in (a.mode or "") and a.marker.size is not None:
            assert (_size(b.marker.size) > _size(a.marker.size)).all(), a.name
    # an animation keeps every frame, its data untouched
    assert len(big.frames) == len(fig.frames)
    for fa, fb in zip(fig.frames, big.frames):
        assert fa.name == fb.name and list(fa.traces or []) == list(fb.traces or [])
        for a, b in zip(fa.data, fb.data):
            _same(a.x, b.x)
            _same(a.y, b.y)
    for ma, mb in zip(fig.layout.updatemenus, big.layout.updatemenus):
        assert mb.font.size > (ma.font.size or 12)
    for sa, sb in zip(fig.layout.sliders, big.layout.sliders):
        assert sb.font.size > (sa.font.size or 12)
    return big


def check_every_builder(monkeypatch, module) -> None:
    """Make every public function of ``module`` that returns a figure run :func:`check_presentation` on it."""
    import functools
    import inspect

    for name, fn in list(vars(module).items()):
        if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            continue
        if name in ("presentation", "present"):
            continue  # the function under test itself

        @functools.wraps(fn)
        def checked(*args, __fn=fn, **kwargs):
            out = __fn(*args, **kwargs)
            if isinstance(out, go.Figure):
                check_presentation(out)
            return out

        monkeypatch.setattr(module, name, checked)


def check_page_presentation(at) -> None:
    """On a page run by AppTest: the sidebar's "Presentation mode" toggle enlarges every chart on it (the
    same charts, bigger fonts and thicker lines), and turning it off brings them back."""

    def charts() -> list[dict]:
        return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]

    def widths(spec: dict) -> list[float]:
        return [t["line"]["width"] for t in spec["data"] if isinstance(t.get("line"), dict) and "width" in t["line"]]

    normal = charts()
    assert normal, "the page draws no chart to check"
    at.toggle(key="_w.presentation").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["presentation"] is True
    big = charts()
    def titles(charts: list[dict]) -> list[str | None]:  # long titles are wrapped in presentation mode
        return [(c["layout"]["title"].get("text") or "").replace("<br>", " ") or None for c in charts]

    assert titles(big) == titles(normal)
    for a, b in zip(normal, big):
        title = a["layout"]["title"].get("text")
        assert b["layout"]["font"]["size"] > a["layout"]["font"]["size"], title
        assert all(wb > wa for wa, wb in zip(widths(a), widths(b))), title
        assert len(b.get("frames") or []) == len(a.get("frames") or []), f"{title}: animation frames lost"
    at.toggle(key="_w.presentation").set_value(False).run()
    assert [c["layout"]["font"]["size"] for c in charts()] == [c["layout"]["font"]["size"] for c in normal]
