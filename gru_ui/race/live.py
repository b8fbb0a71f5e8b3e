"""The live race's redraw path without Streamlit: how often the page redraws, and the loss chart and gate
heatmaps built only when what they show has changed (:func:`cached_figure`), serialised once per figure.

Shared with ``bench/bench_longrun.py``, which measures the page's own code path without a browser.  The
figures themselves are :mod:`gru_ui.figures`'; the Streamlit side is :mod:`gru_ui.race.panels`.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from gru_core.runner.job import TERMINAL
from gru_core.stats import seed_bands
from gru_core.train.live import Snapshot
from gru_ui import figures as F

from .changes import changes
from .session import RaceHandle

__all__ = ["GATES_INTERVAL", "LIVE_INTERVAL", "LIVE_STATUSES", "PAUSED_INTERVAL", "POLL_INTERVAL", "QUEUED_INTERVAL",
           "REBUILD_FACTOR", "ROUTED_INTERVAL", "STATUS_INTERVAL", "STATUS_POLL", "GATES_POLL", "WAITING_STATUSES",
           "cached_figure", "figure_json", "figure_json_version", "gate_figure", "gate_key", "gate_spec",
           "gates_interval", "interval", "loss_figure", "loss_key", "loss_spec", "seeds_diverged", "status_interval",
           "text_version"]  # fmt: skip

REBUILD_FACTOR = 5.0  # a live figure is rebuilt at most once per 5× its building time
# seconds between redraws of the loss curves and status columns while a race runs (GRU_LAB_LIVE_INTERVAL: a
# slower rate where many pages share one machine's CPU with the browser, e.g. a test of five visitors)
LIVE_INTERVAL = float(os.environ.get("GRU_LAB_LIVE_INTERVAL", 0.18))
SHOW_TIMINGS = os.environ.get("GRU_LAB_SHOW_TIMINGS", "") not in ("", "0")  # redraw timings under the curves
STATUS_INTERVAL = 0.6  # seconds between redraws of the status columns (their widgets cost the browser most)
GATES_INTERVAL = 1.5  # seconds between redraws of the gate heatmaps (they change once per epoch)
PAUSED_INTERVAL = 2.0  # while paused nothing trains: the curves are looked at (and kept alive) less often
QUEUED_INTERVAL = 0.5  # seconds between looks at a race waiting in line (its place, its wait, its start)
LIVE_STATUSES = ("running", "paused")  # a race in these states is still going: keep redrawing
WAITING_STATUSES = ("queued", "idle")  # submitted, not training yet: keep looking until it starts


POLL_INTERVAL = 0.17  # seconds between the live chart's own requests for a newer figure (gru_ui.race.live_route)
STATUS_POLL = 1.0  # … the status columns' (they change once per epoch and carry the elapsed time)
GATES_POLL = 2.0  # … the gate heatmaps' (they change once per epoch)
# With the live route every part that changes while a race trains fetches its own updates (the chart and its heading,
# the status columns, the gate heatmaps) and Streamlit's reruns stop: each fragment run made the browser re-render
# Streamlit's whole page (bench/bench_browser.py: page-open ÷ headless steps/s 0.75 with the fragments at 0.18 / 0.6
# / 1.5 s, 0.86-0.87 with the chart polling and fragments at 1 / 2 s).  The chart asks for a rerun when the race's
# status changes (gru_ui.race.live_text.stamp); the curves fragment also looks every ROUTED_INTERVAL, as a fallback.
ROUTED_INTERVAL = float(os.environ.get("GRU_LAB_ROUTED_INTERVAL", 5.0))  # (tests: longer, the stamp alone)


def interval(status: str | None, routed: bool = False) -> float | None:
    """Seconds between redraws of the curves fragment for a race in ``status`` (None: it no longer changes);
    ``routed``: the live elements fetch their own updates (gru_ui.race.live_route), the fragment only looks."""
    if status == "paused":
        return PAUSED_INTERVAL
    if status in LIVE_STATUSES:
        return max(LIVE_INTERVAL, ROUTED_INTERVAL) if routed else LIVE_INTERVAL
    if status in WAITING_STATUSES:
        return QUEUED_INTERVAL
    return None


def status_interval(status: str | None, routed: bool = False) -> float | None:
    """Seconds between redraws of the status columns (None: the race no longer changes, or, ``routed``, the
    columns fetch their own updates)."""
    every = interval(status, routed)
    return None if every is None or routed else max(every, STATUS_INTERVAL)


def gates_interval(status: str | None, routed: bool = False) -> float | None:
    """Seconds between redraws of the gate heatmaps: only while the race trains (and not ``routed``: then the
    heatmaps fetch their own updates)."""
    return GATES_INTERVAL if status == "running" and not routed else None


def cached_figure(
    handle: RaceHandle, slot: str, key: Any, build: Any, live: bool = True, update: Any = None, style: Any = None
) -> Any:
    """The figure for ``slot``, rebuilt only when ``key`` (what it shows) changed.

    An unchanged figure is sent again as it was: no building, and the browser has nothing to redraw.
    ``update(old_figure)`` may refresh the old figure in place instead of building a new one (it returns
    None when it cannot); only while ``style`` (how it is drawn: layer, presentation mode, …; part of
    ``key`` too) is the one the old figure was built with.  While the race runs, a figure is also not
    rebuilt sooner than ``REBUILD_FACTOR`` times its own building time after the last build, so on a slow
    machine drawing never takes more than a fifth of the time and the training thread keeps the CPU.
    """
    now = time.perf_counter()
    hit = handle.fig_cache.get(slot)
    if hit is not None:
        old_key, fig, built_at, cost, old_style = hit
        if old_key == key or (live and old_style == style and now - built_at < REBUILD_FACTOR * cost):
            return fig
        if update is not None and old_style == style and update(fig) is not None:
            handle.fig_cache[slot] = (key, fig, now, time.perf_counter() - now, style)
            serialised = handle.fig_cache.get(f"{slot}.json")
            if serialised is not None:  # the same object, new content: its JSON is made again (the next version)
                handle.fig_cache[f"{slot}.json"] = (None, None, serialised[2])
            return fig
    fig = build()
    handle.fig_cache[slot] = (key, fig, now, time.perf_counter() - now, style)
    return fig


def figure_json(handle: RaceHandle, slot: str, fig: Any) -> str:
    """``fig.to_json()``, computed once per figure of ``slot`` (a live chart is re-sent at every redraw;
    an unchanged figure is not serialised again)."""
    return figure_json_version(handle, slot, fig)[1]


def figure_json_version(handle: RaceHandle, slot: str, fig: Any) -> tuple[int, str]:
    """``(version, fig.to_json())``: the version counts the figures of ``slot`` serialised so far (1, 2, …), so a
    browser that has drawn version k needs nothing while it is still k."""
    hit = handle.fig_cache.get(f"{slot}.json")
    if hit is not None and hit[0] is fig:
        return hit[2], hit[1]
    text = fig.to_json()
    version = (hit[2] if hit is not None else 0) + 1
    handle.fig_cache[f"{slot}.json"] = (fig, text, version)
    return version, text


def loss_spec(handle: RaceHandle, snap: Snapshot) -> tuple[Any, int, str]:
    """The live loss chart as the page last asked for it (``handle.view``: log scale, smoothing, presentation,
    every seed): ``(figure, version, JSON)``, built and serialised only when what it shows changed.  Used by the
    page's fragment and by the chart's own address (``gru_ui.race.live_route``), from different threads."""
    log_y, smooth, present, every = handle.view
    every = every and bool(snap.per_seed)
    with handle.fig_lock:  # the page's fragment and the live route build it from different threads
        return _loss_spec(handle, snap, log_y, smooth, present, every)


def _loss_spec(handle: RaceHandle, snap: Snapshot, log_y: bool, smooth: float, present: bool, every: bool):
    fig = cached_figure(
        handle, "loss", loss_key(handle, snap, log_y, smooth, present, every),
        # throttled only while training: a paused race shows its last epoch at once (on a loaded machine the
        # throttle left a paused chart several epochs behind, which then "grew while paused")
        lambda: loss_figure(handle, snap, log_y, smooth, present, every), live=snap.status == "running",
        style=(log_y, smooth, present, every),  # a new view is drawn at once, even mid-race
    )  # fmt: skip
    version, text = figure_json_version(handle, "loss", fig)
    return fig, version, text


def loss_key(handle: RaceHandle, snap: Snapshot, log_y: bool, smooth: float, present: bool,
             every_seed: bool = False) -> tuple:  # fmt: skip
    """Everything the loss chart shows: it is rebuilt only when this changes."""
    return (
        snap.status,
        tuple((n, len(h)) for n, h in snap.history.items()),
        tuple(tuple(len(h) for h in s.history.values()) for s in snap.per_seed or ()),
        tuple(tuple(r.get("status") for r in s.runs.values()) for s in snap.per_seed or ()),
        every_seed,
        tuple((n, r.get("status"), r.get("best_epoch"), r.get("diverged_step")) for n, r in snap.runs.items()),
        tuple((iv["optimizer"], iv["step"], iv["new"], bool(iv.get("pending"))) for iv in changes(handle, snap)),
        tuple((p["step"], p["changed"]) for p in snap.pauses if p.get("changed")),
        log_y,
        smooth,
        present,
    )


def loss_figure(handle: RaceHandle, snap: Snapshot, log_y: bool, smooth: float, present: bool = False,
                every_seed: bool = False):  # fmt: skip
    """The live loss chart of the page: curves (thinned to ``F.MAX_POINTS``), best / early-stop /
    divergence markers, learning-rate changes (applied and pending) and the pauses that changed something.
    A race over several seeds: the median and the spread of the seeds (:func:`gru_core.stats.seed_bands`), and
    with ``every_seed`` each seed's own curves."""
    if snap.per_seed:
        fig = F.loss_bands(
            seed_bands([s.history for s in snap.per_seed], ended=[s.status in TERMINAL for s in snap.per_seed]),
            len(snap.per_seed), log_y=log_y, colors=handle.colors,
            seed_histories=list(zip(snap.seeds or [], (s.history for s in snap.per_seed))) if every_seed else None,
            total_epochs=snap.total_epochs if snap.status in LIVE_STATUSES else None,
            interventions=changes(handle, snap), pauses=snap.pauses, steps_per_epoch=handle.n_batches,
            diverged=seeds_diverged(snap),
        )  # fmt: skip
        return _presented(fig, present)
    fig = F.loss_curves(
        snap.history,
        log_y=log_y,
        smooth=smooth,
        markers=snap.runs,
        colors=handle.colors,
        total_epochs=snap.total_epochs if snap.status in LIVE_STATUSES else None,
        interventions=changes(handle, snap),
        pauses=snap.pauses,
        steps_per_epoch=handle.n_batches,
    )
    return _presented(fig, present)


def _presented(fig, present: bool):
    if present:  # a projector: the legend in rows under the chart (clear of the axis title), the chart full width
        fig.update_layout(legend={"orientation": "h", "x": 0, "xanchor": "left", "y": -0.36, "yanchor": "top"},
                          margin={"b": 185})  # fmt: skip
        fig.for_each_trace(lambda t: t.update(showlegend=False), selector=lambda t: F.BAND_TEXT in (t.name or ""))
    return F.present(fig, present)


def seeds_diverged(snap: Snapshot) -> dict[str, list[tuple[int, float, float, int | None]]]:
    """name -> ``(seed, epoch, last finite training loss, step)`` for each seed in which it diverged."""
    out: dict[str, list] = {}
    for seed, s in zip(snap.seeds or [], snap.per_seed or []):
        for name, run in s.runs.items():
            if run.get("status") != "diverged" and run.get("diverged_epoch") is None:
                continue
            losses = [r.get("train_loss") for r in s.history.get(name) or []]
            finite = [v for v in losses if v is not None and math.isfinite(v)]
            epoch = run.get("diverged_epoch") or len(losses)
            out.setdefault(name, []).append((seed, epoch, finite[-1] if finite else math.nan, run.get("diverged_step")))
    return out


def gate_key(snap: Snapshot, layer: int, present: bool) -> tuple:
    return (snap.status, snap.step if snap.status == "paused" else None,
            tuple(len(h) for h in snap.history.values()), layer, present)  # fmt: skip


def gate_figure(handle: RaceHandle, snap: Snapshot, name: str, layer: int, present: bool = False):
    """One contestant's live gate heatmaps, from the cache when nothing changed (updated in place when
    only the values did)."""
    gates = (snap.gates or {}).get(name)
    live = snap.status in LIVE_STATUSES

    def build():
        fig = F.gate_heatmaps(gates, handle.gate_input, layer=layer, name=name, color=handle.colors.get(name))
        return F.present(fig, present)

    def update(fig):
        return F.update_gate_heatmaps(fig, gates, handle.gate_input, layer)

    key = gate_key(snap, layer, present)
    return cached_figure(handle, f"gates.{name}", key, build, live=live, update=update, style=(layer, present))


def gate_spec(handle: RaceHandle, snap: Snapshot, index: int) -> tuple[Any, int, str] | None:
    """``(figure, version, JSON)`` of contestant ``index``'s gate heatmaps as the page last asked for them
    (``handle.gates_view``: layer, presentation); None for no such contestant.  Used by the page and by the live
    route, from different threads."""
    if not 0 <= index < len(handle.labels):
        return None
    name = handle.labels[index]
    layer, present = handle.gates_view
    with handle.fig_lock:
        fig = gate_figure(handle, snap, name, layer, present)
        return (fig, *figure_json_version(handle, f"gates.{name}", fig))


def text_version(handle: RaceHandle, slot: str, text: str) -> int:
    """The version of ``slot``'s text (1, 2, …: counts the texts that differed from the one before), so the page's
    live element asks for nothing new while it shows the newest."""
    with handle.fig_lock:
        old = handle.fig_cache.get(f"{slot}.text")
        if old is not None and old[0] == text:
            return old[1]
        version = (old[1] if old is not None else 0) + 1
        handle.fig_cache[f"{slot}.text"] = (text, version)
        return version
