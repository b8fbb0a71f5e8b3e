"""The race page's loss-surface section: "where did they go?" after a race (or while it is paused).

Owns the section's settings (session keys ``surf.*``, kept across pages, and their place in the URL: the
address bar carries them as ``surf.<field>`` parameters, see :class:`gru_core.surface.SurfaceSettings`), the
request to the server's runner (a :class:`gru_core.runner.surface.SurfaceJob` built from the shown seed's
recorded paths and the run's windows), its progress (a fragment polling the job), and drawing the result
(``gru_ui.figures.surface``) with its captions and downloads.  No arithmetic here: the engine computes, the
figure builders draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from gru_core.fmt import num
from gru_core.runner.surface import SurfaceJob
from gru_core.surface import SURFACE_QUERY_PREFIX, SurfaceSettings, surface_csv, surface_json
from gru_core.train.live import Snapshot
from gru_ui.figures import surface as FS
from gru_ui.shell import chart, explain, init_settings, presenting

from .session import RaceHandle, runner, shown_seed_text

__all__ = ["KEYS", "init_from_query", "settings_from_session", "surface_query", "surface_section"]

KEYS = {name: SURFACE_QUERY_PREFIX + name for name in ("plane", "loss", "n", "zoom", "seed", "pair", "precision")}
STATE = "surface.run"  # session key: this session's SurfaceRun
POLL = 0.3  # seconds between looks at a surface being computed
HALTED = ("paused", "finished", "stopped")
PLANES = {"pca": "PCA of the paths", "random": "random directions (filter-normalised)"}
LOSSES = {"train": "training loss", "val": "validation loss"}


@dataclass
class SurfaceRun:
    """One requested surface: for which race, seed and moment (``at``), with which settings, and its handle."""

    at: tuple  # (race id, seed index, step): the picture belongs to this race at this point
    settings: SurfaceSettings
    handle: Any
    meta: dict = field(default_factory=dict)


# ---- settings: session <-> SurfaceSettings <-> URL ---------------------------------------------------------------


def _session_values(s: SurfaceSettings) -> dict[str, Any]:
    return {KEYS["plane"]: s.plane, KEYS["loss"]: s.loss, KEYS["n"]: int(s.n),
            KEYS["zoom"]: round(s.zoom * 4) / 4, KEYS["seed"]: int(s.seed),  # the slider's steps of 0.25
            KEYS["pair"]: list(s.pair), KEYS["precision"]: s.precision == "exact"}  # fmt: skip


def init_from_query(params: dict) -> list[str]:
    """Once per session (with the run's settings): the ``surf.*`` settings of the link into the session; what
    was ignored, in words."""
    s, notes = SurfaceSettings.from_query(params)
    init_settings(_session_values(s))
    return notes


def settings_from_session() -> SurfaceSettings:
    """The section's settings as the widgets (or the link) left them; defaults for what is missing or bad."""
    ss, d = st.session_state, _session_values(SurfaceSettings())
    get = {k: ss.get(v, d[v]) for k, v in KEYS.items()}
    try:
        return SurfaceSettings(plane=get["plane"], loss=get["loss"], n=int(get["n"]), zoom=float(get["zoom"]),
                               seed=int(get["seed"]), pair=tuple(get["pair"] or ()) if len(get["pair"] or ()) == 2
                               else (), precision="exact" if get["precision"] else "fast").validate()  # fmt: skip
    except (ValueError, TypeError):
        return SurfaceSettings()


def surface_query() -> dict[str, str]:
    """The URL parameters of the section's settings (only those that differ from the defaults)."""
    return settings_from_session().to_query()


# ---- the section -----------------------------------------------------------------------------------------------


def _settings_widgets(handle: RaceHandle) -> None:
    ss = st.session_state
    rows = [st.columns(2), st.columns(2)] if presenting() else [st.columns([1.3, 1.1, 1, 1])]
    cells = [c for row in rows for c in row]
    cells[0].radio("plane", list(PLANES), key=KEYS["plane"], format_func=PLANES.get,
                   help="PCA: the plane through the start that the recorded paths stay closest to (their first two "
                   "principal directions; the axes say how much of the movement each holds). Random: two "
                   "filter-normalised Gaussian directions (Li et al. 2018): the paths then lie mostly off the "
                   "plane, but the surface is an unbiased slice.")  # fmt: skip
    cells[1].radio("loss", list(LOSSES), key=KEYS["loss"], format_func=LOSSES.get,
                   help="Training: the windows the optimizers trained on; validation: the ones they never saw.")
    cells[2].slider("grid points per side", *SurfaceSettings.N_RANGE, key=KEYS["n"],
                    help="n × n forward passes over the data: 31 takes 2-4 s on one core at hidden size 32.")
    cells[3].slider("window (× around the paths)", *SurfaceSettings.ZOOM_RANGE, step=0.25, key=KEYS["zoom"],
                    help="1: the paths and a quarter of their span on each side; 2: twice as wide.")
    more = [st.container()] * 3 if presenting() else st.columns(3)
    if ss.get(KEYS["plane"]) == "random":
        more[0].number_input("random directions' seed", 0, 2**31 - 1, step=1, key=KEYS["seed"])
    if len(handle.labels) > 2:
        if len(ss.get(KEYS["pair"]) or []) != 2 or not set(ss[KEYS["pair"]]) <= set(handle.labels):
            ss[KEYS["pair"]] = list(handle.labels[:2])
        more[1].multiselect("the cut between the end points of", handle.labels, key=KEYS["pair"], max_selections=2,
                            help="Two optimizers whose end points the second cut joins.")  # fmt: skip
    more[2].toggle("exact grid (float64)", key=KEYS["precision"],
                   help="On: the grid in float64, twice the time. Off: in float32 (agrees to a few parts in "
                   "100,000: invisible here); the numbers printed and the cuts are float64 either way.")  # fmt: skip


def _paths(handle: RaceHandle) -> dict:
    live = handle.live
    shown = int(getattr(live, "shown", 0))
    if hasattr(live, "seed_trajectories"):
        return live.seed_trajectories(shown)
    return live.trajectories()


def _request(handle: RaceHandle, snap: Snapshot, settings: SurfaceSettings) -> None:
    p = handle.prepared
    windows = {"train": (p.X_train, p.y_train), "val": (p.X_val, p.y_val)}
    try:
        paths = _paths(handle)
        job = SurfaceJob(model=handle.cfg.model_config(), windows=windows, paths=paths, settings=settings)
        h = runner().submit(job)
    except (RuntimeError, ValueError, TimeoutError) as exc:
        st.session_state["surface.error"] = f"The surface cannot be computed now: {exc}"
        return
    st.session_state.pop("surface.error", None)
    seed = handle.cfg.seeds[min(int(getattr(handle.live, "shown", 0)), len(handle.cfg.seeds) - 1)]
    link = "?" + urlencode({**handle.query, **settings.to_query()}, doseq=True)
    st.session_state[STATE] = SurfaceRun(at=_moment(handle, snap), settings=settings, handle=h,
                                         meta={"seed": seed, "link": link, "epoch": snap.epoch, "step": snap.step,
                                               "status": snap.status})  # fmt: skip


def _moment(handle: RaceHandle, snap: Snapshot) -> tuple:
    return (handle.rid, int(getattr(handle.live, "shown", 0)), snap.step, snap.status in HALTED)


def _progress() -> None:
    run: SurfaceRun | None = st.session_state.get(STATE)
    if run is None:
        return
    s = run.handle.snapshot()
    if not s.live:
        st.rerun()  # finished, stopped or failed: the full page draws it
    if s.status == "queued":
        wait = f", about {num(s.queue_wait, 2)} s" if s.queue_wait is not None else ""
        text = f"Waiting for a free worker of this server: place {s.queue_position} in line{wait}."
    else:
        left = f", about {num(s.eta, 2)} s left" if s.eta is not None else ""
        text = (f"Computing the surface: {s.done:,} of {s.total:,} forward passes over the data "
                f"({s.elapsed:.1f} s{left}).")  # fmt: skip
    st.progress(s.fraction, text=text)
    if st.button("Cancel", key="surface.cancel", icon=":material/close:"):
        run.handle.stop()
        st.rerun()


def surface_section(handle: RaceHandle, snap: Snapshot) -> None:
    """The section: settings, the Draw button, progress, then the three charts with their captions and downloads."""
    st.subheader("Where did they go? The race on the GRU's own loss surface" + shown_seed_text(handle))
    if snap.status not in HALTED:
        st.caption("Appears when the race is paused or has ended: each optimizer's path from the shared start, "
                   "drawn on the loss surface of this GRU.")  # fmt: skip
        return
    explain("Every optimizer started at the same weights θ0 (●) and moved through the space of all the GRU's "
            "weights. This picture slices that space with a plane through θ0 and shows the loss "
            "on it: light is low, dark is high. The coloured lines are the paths seen from above (projected onto "
            "the plane), ◆ where each ended. Look for: do they end in the same valley, or in different ones with a "
            "ridge between?")  # fmt: skip
    _settings_widgets(handle)
    settings = settings_from_session()
    run: SurfaceRun | None = st.session_state.get(STATE)
    current = run is not None and run.at == _moment(handle, snap)
    same = current and run.settings == settings
    label = "Draw the loss surface" if not current else "Draw again with these settings" if not same else "Redraw"
    busy = current and run.handle.snapshot().live
    if st.button(label, key="surface.draw", type="primary" if not same else "secondary", disabled=busy,
                 icon=":material/landscape:"):  # fmt: skip
        _request(handle, snap, settings)
        st.rerun()
    if st.session_state.get("surface.error"):
        st.error(st.session_state["surface.error"])
    if run is None or not current:
        if run is not None:
            st.caption("The surface drawn before belongs to another race, seed or moment: draw it again.")
        return
    s = run.handle.snapshot()
    if s.live:
        st.fragment(_progress, run_every=POLL)()
        return
    if s.status in ("stopped", "cancelled"):
        st.info("The surface was cancelled: nothing drawn.", icon=":material/close:")
        return
    if s.status == "error" or s.result is None:
        st.error(f"The surface could not be computed: {s.error or s.message}")
        return
    _draw(handle, run, s.result, stale=not same)


def _draw(handle: RaceHandle, run: SurfaceRun, res: dict, stale: bool) -> None:
    if stale:
        st.caption("Drawn with the settings before your last change: press **Draw again with these settings**.")
    chart(FS.surface_chart(res, handle.colors), key="chart.surface", name="gru-lab-loss-surface")
    off = {n: max(p["off_plane"]) / max(max(p["dist"]), 1e-300) for n, p in res["paths"].items()}
    worst = max(off.values()) if off else 0.0
    plane_text = ("the two directions along which the paths moved most" if res["plane"] == "pca" else
                  "two random directions, scaled filter by filter to the weights (Li et al. 2018)")  # fmt: skip
    explain(f"The plane: {plane_text}. Axes are distances in weight space from θ0 (the same unit on both). The paths "
            f"lie off this plane by up to {num(100 * worst, 2)} % of how far they went: where that is large, the "
            "surface under a path is not the loss the optimizer saw; hover a point for the real loss there.")
    st.caption(f"{res['windows']:,} {'training' if res['loss'] == 'train' else 'validation'} windows · "
               f"{len(res['a'])} × {len(res['b'])} grid ({'float64' if res['precision'] == 'exact' else 'float32'}) · "
               f"loss at θ0 {num(res['origin_loss'], 4)} · computed in {res['seconds']:.1f} s"
               + "".join(f" · note: {n}" for n in res.get("notes") or []))  # fmt: skip
    cols = [st.container(), st.container()] if presenting() else st.columns(2)
    with cols[0]:
        chart(FS.cut_start_chart(res, handle.colors), key="chart.surface.start", name="gru-lab-cut-start")
        explain("The straight line from θ0 to each end point (not the path taken): a smooth fall means the "
                "optimizer could have gone straight; bumps mean it went around something.")
    with cols[1]:
        chart(FS.cut_ends_chart(res, handle.colors), key="chart.surface.ends", name="gru-lab-cut-ends")
        explain("The straight line between two end points: a hump between t = 0 and t = 1 is a barrier, so the "
                "two optimizers found different solutions; a flat or sagging line means one wide valley.")
    d = st.columns(2)
    d[0].download_button("Download the grid (CSV)", surface_csv(res), file_name="gru-lab-loss-surface.csv",
                         mime="text/csv", on_click="ignore", key="dl.surface.csv",
                         help="a, b (plane coordinates) and the loss at every grid point.")  # fmt: skip
    d[1].download_button("Download everything (JSON)", surface_json(res, run.meta), mime="application/json",
                         file_name="gru-lab-loss-surface.json", on_click="ignore", key="dl.surface.json",
                         help="The grid, the projected paths with their real losses, both cuts, the settings.")
