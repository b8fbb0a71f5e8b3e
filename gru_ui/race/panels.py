"""The race page's main sections in Streamlit: the classroom scenarios, the series preview, the live views
of a race (status line, loss curves, one column per optimizer with its live learning-rate control, the
gate heatmaps), the forecasts and results with their downloads, and the model files.

Nothing here computes: numbers come from the engine through :mod:`gru_ui.race.session`,
:mod:`~gru_ui.race.results` and :mod:`~gru_ui.race.changes`, figures from :mod:`gru_ui.figures`
(the live ones through :mod:`~gru_ui.race.live`), every number is formatted by :mod:`gru_core.fmt`.
"""

from __future__ import annotations

import html
import time
from typing import Any

import pandas as pd
import streamlit as st

from gru_core.config import RunConfig, lr_bounds
from gru_core.fmt import num
from gru_core.train.live import Snapshot
from gru_ui import figures as F
from gru_ui.shell import chart, explain, presenting

from . import changes as C
from . import live as L
from . import live_route
from . import live_text as T
from . import models as M
from . import results as R
from . import settings as S
from .live_plot import live_html, live_plotly_chart
from .live_route import url_for
from .session import (
    RaceHandle,
    batches_per_epoch,
    configured_lr,
    heartbeat,
    queue_text,
    shown_seed_text,
    steps_per_second,
)
from .sidebar import DataChoice
from .upload import series_label, series_units

__all__ = ["GATES_LATER", "VIEW_KEYS", "forecast_section", "live_curves", "live_gates", "live_status",
           "loss_view_controls", "lr_controls", "lr_controls_stale", "lr_key", "models_section", "preset_note",
           "presets_section", "preview_section", "replay_note", "results_section", "run_data_section"]  # fmt: skip

VIEW_KEYS = {"log": "view.log", "smooth": "view.smooth", "layer": "view.layer", "hstep": "view.hstep",
             "every_seed": "view.every_seed", "seed": "view.seed"}  # fmt: skip
WINNER_ROW = "background-color: #fff3c4; font-weight: 700"  # the results table's ★ row


# ----------------------------------------------------------------------------------------------------------
# presets
# ----------------------------------------------------------------------------------------------------------


def _apply_preset(key: str) -> None:
    S.apply_preset(st.session_state, key)


def presets_section(expanded: bool) -> None:
    """The classroom scenarios, one click each."""
    with st.expander("Classroom scenarios: one click sets everything", icon=":material/school:", expanded=expanded):
        presets = list(S.PRESETS.values())
        for col, p in zip(st.columns(len(presets)), presets):
            with col:
                st.markdown(f"**{html.escape(p.title)}**")
                st.caption(p.watch)
                if p.config is not None:
                    st.button("Load", key=f"preset.{p.key}", on_click=_apply_preset, args=(p.key,))
                elif p.page:
                    try:
                        st.page_link(p.page, label="Open the page →")
                    except Exception:  # noqa: BLE001 - the page is not installed (yet): say so, never crash
                        st.caption("(the Vanishing gradients page is not part of this installation yet)")


def preset_note(cfg: RunConfig) -> None:
    """What to watch for, while the settings are still those of the preset last loaded."""
    pk = st.session_state.get(S.PRESET_KEY)
    preset = S.PRESETS.get(pk) if pk else None
    if preset is None or preset.config is None or S.config_key(preset.config) != S.config_key(cfg):
        return
    note = f"\n\n{preset.note}" if preset.note else ""
    st.info(f"**{preset.title}.** {preset.watch}{note}", icon=":material/school:")


def replay_note(cfg: RunConfig, running: bool, prepared: Any) -> None:
    """Say so when the next Train replays recorded learning-rate changes (from a link or the last run)."""
    if not cfg.interventions or running:
        return
    spe = batches_per_epoch(prepared, cfg) if prepared is not None else None
    n = len(cfg.interventions)
    what = f"{n} learning-rate change{'s' if n != 1 else ''}"
    head = (
        f"This link replays {what}" if st.session_state.get("iv_from_link") else f"Train will replay {what}"
    )
    lines = C.describe_interventions(cfg.interventions, spe)
    c1, c2 = st.columns([5, 1], vertical_alignment="center")
    c1.info(
        f"⚙ **{head}** at the same mini-batches as recorded, so the run comes out the same: "
        + "; ".join(lines)
        + ".",
        icon=":material/replay:",
    )
    c2.button(
        "Forget them",
        key="btn.forget_iv",
        on_click=lambda: st.session_state.update({S.REPLAY_KEY: [], "iv_from_link": 0}),
        help="Train without these learning-rate changes.",
    )


# ----------------------------------------------------------------------------------------------------------
# the series
# ----------------------------------------------------------------------------------------------------------


def preview_section(choice: DataChoice, prepared: Any, key: str = "chart.preview") -> None:
    """The chosen series with its train / validation / test parts shaded."""
    s = choice.series
    if s is None:
        return
    regions = None
    if prepared is not None:
        idx = s.index
        regions = []
        for split, label in (("train", "train"), ("val", "validation"), ("test", "test")):
            pos = getattr(prepared, f"pos_{split}")
            if len(pos):
                regions.append((label, idx[int(pos[0, 0])], idx[int(pos[-1, -1])]))
    fig = F.series_preview(s, units=series_units(s), name=series_label(s), regions=regions)
    chart(fig, key=key, name="series")
    for note in choice.notes:
        st.caption(f"ℹ️ {note}")
    explain(
        "The whole series, oldest on the left. The GRU learns from the blue-shaded training part, "
        "early stopping watches the orange validation part, and the green test part (the most recent "
        "values) is kept for the final exam. Look for: does the test part look like what came before?"
    )


def run_data_section(handle: RaceHandle, snap: Snapshot) -> None:
    """The race's own series (its parts shaded), under the race; while it trains only a note: a chart mounted as
    training starts cost the browser's main thread a tenth of the race's first seconds (CPU profile), time the
    worker on the same machine lost."""
    if snap.status == "running":
        st.caption("The series of this run appears here when the race is paused or has ended.")
        return
    preview_section(DataChoice(series=handle.prepared.raw), handle.prepared, key="chart.preview.run")


# ----------------------------------------------------------------------------------------------------------
# live views
# ----------------------------------------------------------------------------------------------------------

def lr_key(handle: RaceHandle, index: int) -> str:
    """Session key of the live learning-rate control of contestant ``index`` of this race."""
    return f"live.lr.{handle.rid}.{index}"


def _session_race(rid: int | None = None) -> RaceHandle | None:
    """This session's race (``rid``: only if it is that race).  Widget callbacks look it up here rather than take it
    as an argument: Streamlit keeps a keyed widget's callback arguments as long as its key is in the session, so a
    handle passed there outlived its race (bench_browser.py --soak: every race's handle stayed in memory)."""
    handle = st.session_state.get("race")
    return handle if handle is not None and (rid is None or handle.rid == rid) else None


def _lr_changed(rid: int, name: str, key: str) -> None:
    """Callback of a live learning-rate control: tell the engine (it applies it before the next step)."""
    handle = _session_race(rid)
    value = st.session_state.get(key)
    if handle is None or handle.live.snapshot().status not in L.LIVE_STATUSES or value is None:
        return
    try:
        C.set_lr(handle, name, float(value))
    except ValueError as exc:
        st.session_state["lr_error"] = f"{name}: {exc}"


def lr_options(handle: RaceHandle, name: str) -> list[float]:
    """The learning rates the live control offers: a 1-2-3-5 log grid within the optimizer's range, plus
    the configured value and every value a replayed change sets (fixed for the race)."""
    contestant = handle.contestants[name]
    low, high = lr_bounds(contestant)
    replayed = [float(iv["new"]) for iv in handle.cfg.interventions if iv.get("optimizer") == name]
    return S.log_grid(low, high, configured_lr(contestant), *replayed)


def lr_control(handle: RaceHandle, snap: Snapshot, name: str, index: int, base: float) -> None:
    """The contestant's learning rate as a live control (a select slider on a log grid)."""
    key = lr_key(handle, index)
    options = lr_options(handle, name)
    if base not in options:  # e.g. a change made in another tab of the same session: show it anyway
        options = sorted({*options, base})
    if handle.lr_shown.get(name) != base or key not in st.session_state:
        st.session_state[key] = base  # follow the engine (first draw, replayed change)
        handle.lr_shown[name] = base
    run = snap.runs.get(name) or {}
    active = snap.status in L.LIVE_STATUSES and run.get("status") in (None, "running")
    st.select_slider(
        "learning rate (change it live)", options=options, key=key, format_func=lambda v: f"{v:g}",
        on_change=_lr_changed, args=(handle.rid, name, key), disabled=not active,
        help="Applies from the next mini-batch, is marked ⚙ on the loss chart and is recorded in the run "
        "(the link and the JSON export replay it). Pause first to change it at an exact point.",
    )  # fmt: skip


STATUS_HELP = (
    "**train / validation loss**: the mean squared error (MSE) of the forecasts on the *scaled* series (the values "
    "after the chosen scaling, so runs on the same data compare; not the data's own units).  \n"
    "**best validation**: the lowest validation loss so far and its epoch (early stopping watches it).  \n"
    "**gradient norm** ‖∇L‖: how steep the loss is at the current weights (the length of the gradient of all "
    "weights together).  \n"
    "**update size** ‖Δθ‖: how far the last optimizer step moved all weights together, and that as a share of the "
    "weights' own size ‖θ‖.  \n"
    "**learning rate**: the optimizer's step size now (a schedule or a live change moves it)."
)


def status_columns(handle: RaceHandle, snap: Snapshot) -> None:
    """Side by side, one column per optimizer: state, epoch, losses, gradient norm, update size, learning rate,
    progress.  The learning-rate controls under them are drawn by the full page run (:func:`lr_controls`)."""
    names = handle.labels
    per_row = T.per_row(handle)
    for start in range(0, len(names), per_row):
        for j, (col, name) in enumerate(zip(st.columns(per_row), names[start : start + per_row])):
            col.markdown(T.status_column(handle, snap, name, T.color(handle, start + j)), unsafe_allow_html=True,
                         help=STATUS_HELP)  # fmt: skip


def lr_controls_stale(handle: RaceHandle, snap: Snapshot) -> bool:
    """True when the learning-rate controls drawn by the last full run no longer match the race (a replayed
    change, a diverged contestant, the race paused or ended): the page must run again to redraw them."""
    return T.lr_state(handle, snap) != handle.lr_drawn


def lr_controls(handle: RaceHandle, snap: Snapshot) -> None:
    """The learning-rate controls under the status columns, while the race goes on.  Drawn by the full page
    run only: a widget redrawn with the live figures at every refresh costs the browser more than the chart."""
    state = T.lr_state(handle, snap)
    handle.lr_drawn = state
    mine = f"live.lr.{handle.rid}."
    for old in [k for k in st.session_state if str(k).startswith("live.lr.") and not str(k).startswith(mine)]:
        del st.session_state[old]  # an earlier race's controls (their keys would stay in the session for ever)
    names = [n for n in handle.labels if n in state]
    per_row = T.per_row(handle)
    for start in range(0, len(names), per_row):
        for j, (col, name) in enumerate(zip(st.columns(per_row), names[start : start + per_row])):
            with col:
                lr_control(handle, snap, name, start + j, state[name][0])
    if st.session_state.get("lr_error"):
        st.error(st.session_state.pop("lr_error"))


def _show_seed() -> None:
    handle = _session_race()
    if handle is not None:
        handle.live.shown = int(st.session_state.get(VIEW_KEYS["seed"]) or 0)


def loss_view_controls(handle: RaceHandle) -> None:
    """How the loss chart is drawn (log scale, smoothing; with several seeds: every seed's own curves too) and
    which seed the columns, forecasts and gates below show; and how to read the chart.  Drawn by the full page
    run, not by the fast live fragment (widgets redrawn five times a second cost the browser more than the
    chart)."""
    st.session_state.setdefault(VIEW_KEYS["log"], True)
    seeds = handle.cfg.seeds
    if len(seeds) > 1:
        if presenting():  # big type: two rows, every label whole at 1024 px
            (c1, c3), (c2, c4) = st.columns(2), st.columns(2)
        else:
            c1, c2, c3, c4 = st.columns([1, 1.6, 1.2, 1.6])
        c3.toggle("every seed", key=VIEW_KEYS["every_seed"],
                  help="Each seed's own curves as thin lines under the median and the band.")  # fmt: skip
        if st.session_state.get(VIEW_KEYS["seed"]) not in range(len(seeds)):
            st.session_state[VIEW_KEYS["seed"]] = 0
        c4.selectbox("seed shown below", range(len(seeds)), key=VIEW_KEYS["seed"], on_change=_show_seed,
                     format_func=lambda i: f"seed {seeds[i]}",
                     help="The status columns, the forecasts, the gate heatmaps and the model files show this "
                     "seed; the chart above and the verdict use them all.")  # fmt: skip
        handle.live.shown = int(st.session_state[VIEW_KEYS["seed"]])
    else:
        c1, c2, _ = st.columns([1.6, 2, 1.4] if presenting() else [1, 2, 3])
    c1.toggle("log scale", key=VIEW_KEYS["log"],
              help="Loss on a logarithmic axis: late progress and small differences stay visible.")  # fmt: skip
    c2.slider("smoothing (display only)", 0.0, 0.95, key=VIEW_KEYS["smooth"], step=0.05,
              help="Exponential moving average of the drawn curves; the raw curves stay faint underneath. "
              "(One seed only: with several, the median is drawn as it is.)")  # fmt: skip
    explain(
        "Solid: training loss (mean over each epoch's mini-batches). Dashed: validation loss on data the "
        "optimizer never trains on. ★ best validation epoch · ┃ early stop · ✖ divergence · ⚙ a learning rate "
        "changed by hand · ‖ a pause in which something changed. Look for: which colour falls faster, and "
        "whether a dashed curve turns back up while its solid one keeps falling (the model has started to "
        "memorise the training data)."
    )


def loss_chart(handle: RaceHandle, snap: Snapshot) -> None:
    """The live loss chart, drawn as :func:`loss_view_controls` (their values in the session) ask."""
    handle.view = (bool(st.session_state.get(VIEW_KEYS["log"], True)),
                   float(st.session_state.get(VIEW_KEYS["smooth"], 0.0)), presenting(),
                   bool(st.session_state.get(VIEW_KEYS["every_seed"], False)))  # fmt: skip
    fig, version, spec = L.loss_spec(handle, snap)
    poll = url_for(handle.token) if snap.status == "running" else None  # the chart fetches its own updates
    head, stamp = (T.heading(handle, snap), T.stamp(handle, snap)) if live_route.enabled else (None, None)
    live_plotly_chart(fig, key="live-loss", config=F.chart_config("loss-curves"), spec=spec, version=version,
                      poll=poll, every=L.POLL_INTERVAL, head=head, stamp=stamp, soon=snap.epoch < 1)  # fmt: skip


def live_status(handle: RaceHandle, snap: Snapshot) -> None:
    """The slower-moving part of a live race: the learning-rate changes so far and the per-optimizer columns
    (with their learning-rate controls)."""
    if snap.status in L.WAITING_STATUSES and snap.status != "idle":
        return
    if live_route.enabled:  # one live element that fetches its own updates while the race trains
        text = T.status_block(handle, snap)
        poll = url_for(handle.token, "status") if snap.status == "running" else None
        live_html(text, key="live-status", version=L.text_version(handle, "status", text), poll=poll,
                  every=L.STATUS_POLL)  # fmt: skip
        st.caption("What these figures mean", help=STATUS_HELP)
        return
    if snap.per_seed:
        st.markdown(f"**Each optimizer now{shown_seed_text(handle)}**")
    line = T.changes_line(handle, snap)
    if line:
        st.markdown(line, unsafe_allow_html=True)
    status_columns(handle, snap)


def _cancel() -> None:
    handle = _session_race()
    if handle is not None:
        handle.live.cancel()
    st.session_state["race_notice"] = "Your race left the line before it started: nothing was trained."


def waiting_view(handle: RaceHandle, snap: Snapshot) -> None:
    """A race waiting in line for a free worker: its place, the estimated wait, and Cancel."""
    st.markdown(f"#### ⏳ {queue_text(snap)}")
    st.caption(f"Every worker of this server is training another race ({handle.live.backend} backend); yours "
               "starts by itself, first come first served, and its curves appear here as soon as it does.")  # fmt: skip
    st.button("✕ Cancel (leave the line)", key="btn.cancel", on_click=_cancel,
              help="Leave the line: nothing has been trained yet. (■ Stop does the same while waiting.)")  # fmt: skip


def live_curves(handle: RaceHandle, snap: Snapshot) -> None:
    """The fast-moving part of a live race: status line and loss curves (or, while it waits in line for a worker,
    its place and wait).  Nothing else: each element here is redrawn by the browser five times a second."""
    t0 = time.perf_counter()
    heartbeat(handle.live)
    if snap.status in L.WAITING_STATUSES and snap.status != "idle":
        waiting_view(handle, snap)
        return
    if not live_route.enabled:  # else the chart draws it above itself and keeps it current
        st.markdown(f"#### {T.heading(handle, snap)}")
    if snap.status == "error":
        st.error(f"Training failed: {snap.error or 'the race ended with an error'}. Press ▶ Train to start "
                 "again.")  # fmt: skip
    loss_chart(handle, snap)
    ms = (time.perf_counter() - t0) * 1000
    handle.redraw_ms = ms if handle.redraw_ms is None else 0.7 * handle.redraw_ms + 0.3 * ms
    if snap.status in L.LIVE_STATUSES and L.SHOW_TIMINGS:  # for developers: GRU_LAB_SHOW_TIMINGS=1
        every = L.interval(snap.status)
        gates = ""
        if handle.gates_ms:
            gates = f", gates {num(handle.gates_ms, '.0f')} ms every {num(L.GATES_INTERVAL, 'g')} s"
        done = steps_per_second(snap)
        speed = f" · {num(done, ',.0f')} training steps/s" if done else ""
        where = f" · trained by a {handle.live.backend} worker"
        st.caption(f"redraw: curves {num(handle.redraw_ms, '.0f')} ms every {num(every, 'g')} s{gates}{speed}{where}",
                   help="Wall time to build and send the charts at each refresh (the race trains in a worker "
                   "of the server's runner meanwhile).")  # fmt: skip


GATES_LATER = "The gate heatmaps appear with the next refresh."


def live_gates(handle: RaceHandle, snap: Snapshot, later: bool = False) -> None:
    """The gate heatmaps of every optimizer (they change once per epoch: refreshed less often).  Where the server
    has the live route they fetch their own updates while the race trains; ``later``: they draw themselves only
    then (the first run after Train: the curves first)."""
    t0 = time.perf_counter()
    n_layers = handle.cfg.model.num_layers
    layer = -1
    if n_layers > 1:
        layer = st.radio("Layer", list(range(n_layers)), index=n_layers - 1, key=VIEW_KEYS["layer"],
                         format_func=lambda i: f"layer {i + 1}", horizontal=True)  # fmt: skip
    names = handle.labels
    present = presenting()
    per_row = 1 if present else min(len(names), 3)  # a projector: one under the other, titles and axes whole
    handle.gates_view = (layer, present)
    for start in range(0, len(names), per_row):
        for j, (col, name) in enumerate(zip(st.columns(per_row), names[start : start + per_row])):
            fig, version, spec = L.gate_spec(handle, snap, start + j)
            poll = url_for(handle.token, f"gates/{start + j}") if snap.status == "running" else None
            with col:
                live_plotly_chart(fig, key=f"live-gates-{start + j}", config=F.chart_config(f"gates-{name}"),
                                  spec=spec, version=version, poll=poll, every=L.GATES_POLL,
                                  placeholder=GATES_LATER if later and poll else None)  # fmt: skip
    explain(
        "Each optimizer's GRU reading the same validation window (top line, oldest value left). Rows: "
        "update gate z (1 = keep the old state), reset gate r (0 = forget it), candidate n and hidden "
        "state h, one row per hidden unit. Same starting weights, so the pictures begin identical; look for "
        "how they drift apart as the optimizers train."
    )
    ms = (time.perf_counter() - t0) * 1000
    handle.gates_ms = ms if handle.gates_ms is None else 0.7 * handle.gates_ms + 0.3 * ms


# ----------------------------------------------------------------------------------------------------------
# forecast and results
# ----------------------------------------------------------------------------------------------------------


def forecast_section(handle: RaceHandle, snap: Snapshot) -> None:
    """The forecasts against the truth on the test part, and their errors; while the race trains, only a note (the
    GRU's forecasts exist when it is paused or has ended, and a chart and table of the baselines alone, drawn as
    training starts, cost the browser a third of a core in the race's first seconds)."""
    if snap.status == "running":
        st.caption("The GRU's forecasts appear here when the race is paused or has ended (press ‖ Pause to see "
                   "them now), beside persistence (tomorrow = today) and a linear autoregression.")  # fmt: skip
        return
    p = handle.prepared
    step = 0
    if p.horizon > 1:
        step = st.slider("Horizon step shown", 1, p.horizon, key=VIEW_KEYS["hstep"]) - 1
    paused = snap.result is None and snap.status == "paused" and bool(snap.forecasts)
    data = R.forecast_data(p, snap.result, step, forecasts=snap.forecasts if paused else None)
    c1, c2 = st.columns([3, 1])
    with c1:
        title = "Forecast vs truth on the test part"
        if p.horizon > 1:
            title += f" ({step + 1} step{'s' if step else ''} ahead)"
        if paused:
            title += f", as of the pause (epoch {snap.epoch})"
        fig = F.forecast_plot(data["x"], data["truth"], data["predictions"], data["baselines"], units=handle.units,
                              series_name=handle.series_name, colors=handle.colors, title=title)  # fmt: skip
        chart(fig, key="chart.forecast", name="forecast")
        if snap.result is None and not paused:
            explain(
                "The GRU forecasts appear here when training ends or is paused (press Pause or Stop to see "
                "them now). Black: the real values; grey dotted: persistence (tomorrow = today); dash-dot: "
                "linear autoregression on the same window."
            )
        else:
            explain(
                "Black: the real test values. Each colour: one optimizer's GRU, one step ahead. Look for a "
                "coloured line that merely repeats the black one shifted right: that forecast copies the "
                "previous value and is no better than the grey dotted persistence line."
            )
    with c2:
        st.markdown(f"**Test error** ({html.escape(handle.units or 'series units')})")
        st.dataframe(R.error_summary(p, snap.result, snap.forecasts if paused else None), hide_index=True)
        st.caption(f"{len(p.y_test_raw):,} test targets, in the series' own units. Lower is better.")


def _highlight_winner(row: pd.Series) -> list[str]:
    return [WINNER_ROW if row.get("winner") else ""] * len(row)


REPEAT_SEEDS = 5  # the one-seed verdict's offer: the same race over this many seeds


def _repeat_over_seeds(n: int) -> None:
    """The one-seed verdict's button: the same settings over ``n`` seeds, started at once."""
    st.session_state[S.wkey("n_seeds")] = n
    st.session_state["train_now"] = True


def seeds_results(handle: RaceHandle, snap: Snapshot) -> None:
    """A race over several seeds: the paired verdict and the table of medians and ranges."""
    results = [s.result for s in snap.per_seed or []]
    level, text = R.seeds_verdict(results, snap.seeds or [], handle.units)
    (st.success if level == "success" else st.warning)(text)
    table = R.seed_results_table(results, snap.seeds or [])
    st.dataframe(table.drop(columns=["kind"]).style.apply(_highlight_winner, axis=1), hide_index=True,
                 width="stretch")  # fmt: skip


def results_section(handle: RaceHandle, snap: Snapshot) -> None:
    result = snap.result
    if snap.per_seed:
        if snap.status in L.LIVE_STATUSES or any(s.result is None for s in snap.per_seed):
            return
        st.subheader(f"Results on the test part: {len(snap.per_seed)} seeds")
        seeds_results(handle, snap)
        table = R.results_table(result) if result is not None else None
    elif result is None:
        return
    else:
        st.subheader("Results on the test part")
        table = R.results_table(result)
        text = R.verdict(result, handle.units)
        best_beats = "does NOT" not in text and "No optimizer" not in text
        # a projector: the button under the verdict (a fifth of 1024 px cut its label)
        c1, c2 = (st.container(), st.container()) if presenting() else st.columns([4, 1], vertical_alignment="center")
        (c1.success if best_beats else c1.warning)(
            text + " This is one seed, one draw: another seed may rank the optimizers differently.")
        c2.button(f"↻ Repeat over {REPEAT_SEEDS} seeds", key="btn.repeat_seeds", on_click=_repeat_over_seeds,
                  args=(REPEAT_SEEDS,), type="primary",
                  help=f"The same race from {REPEAT_SEEDS} seeds (each its own initial weights and batches), "
                  "in parallel: the chart shows their spread and the verdict how many seeds each optimizer "
                  "won.")  # fmt: skip
        shown = R.format_table(table.drop(columns=["kind"]))
        st.dataframe(shown.style.apply(_highlight_winner, axis=1), hide_index=True, width="stretch")
    if handle.units in ("", "unitless"):
        units_txt = "RMSE and MAE in the series' own units (MSE in their square)"
    else:
        units_txt = f"RMSE and MAE in {handle.units} (MSE in its square)"
    st.caption(
        f"{units_txt}, MAPE in percent, R² without units; lower is "
        "better except R² (1 = perfect). MAPE means little when values come close to 0. ★ best: the "
        "optimizer with the lowest test MSE. Train time: this optimizer's own seconds of computation."
    )
    if handle.exports is None or handle.exports.get("version") != snap.version:
        seeds = list(zip(snap.seeds or [], snap.per_seed or []))
        handle.exports = {
            "version": snap.version,
            "curves": R.curves_csv(snap.history, [(k, s.history) for k, s in seeds] or None),
            "metrics": R.metrics_csv(table, handle.units, [(k, s.result) for k, s in seeds] or None),
            "json": R.run_json(handle, snap),
        }
    if presenting():  # big type: one under the other, every label whole at 1024 px
        c1 = c2 = c3 = st.container()
    else:
        c1, c2, c3, _ = st.columns([1.1, 1.1, 1.4, 0.6])
    c1.download_button("Download curves (CSV)", handle.exports["curves"], file_name="gru-lab-curves.csv",
                       mime="text/csv", on_click="ignore", key="dl.curves")  # fmt: skip
    c2.download_button("Download metrics (CSV)", handle.exports["metrics"], file_name="gru-lab-metrics.csv",
                       mime="text/csv", on_click="ignore", key="dl.metrics")  # fmt: skip
    c3.download_button(
        "Download the whole run (JSON)", handle.exports["json"], file_name="gru-lab-run.json",
        mime="application/json", on_click="ignore", key="dl.json",
        help="Settings, learning-rate changes and pauses, every epoch's numbers and the test metrics.",
    )  # fmt: skip
    st.caption("Charts: the camera icon in each chart's toolbar saves a PNG.")


# ----------------------------------------------------------------------------------------------------------
# saving and reloading trained models
# ----------------------------------------------------------------------------------------------------------


def _on_model_upload() -> None:
    f = st.session_state.get("model_upload")
    if f is None:  # the file was removed from the uploader: keep what was loaded (Forget drops it)
        return
    try:
        data = f.getvalue()
    except Exception as exc:  # noqa: BLE001 - a broken upload is reported, never raised
        st.session_state[M.MODEL_ERROR_KEY] = f"{getattr(f, 'name', 'the file')} could not be read: {exc}"
        return
    M.handle_model_upload(st.session_state, data, f.name)


def _forget_model() -> None:
    st.session_state.pop(M.MODEL_KEY, None)
    st.session_state.pop(M.MODEL_ERROR_KEY, None)


def models_section(handle: RaceHandle | None, snap: Snapshot | None, cfg: RunConfig) -> None:
    """Save each trained model (while paused or after the race) and upload one to continue training."""
    st.subheader("Save or continue a trained model")
    if handle is not None and snap is not None:
        models = M.snapshot_models(handle, snap)
        if models is None:
            st.caption("The trained models can be saved while the race is paused or after it has ended.")
        else:
            if len(handle.cfg.seeds) > 1:
                st.caption(f"The models of one seed: {shown_seed_text(handle).strip(' ()')}. Each file records "
                           "its seed.")  # fmt: skip
            cols = [st.container()] if presenting() else st.columns(min(len(handle.labels), 3) or 1)
            for i, name in enumerate(handle.labels):
                cols[i % len(cols)].download_button(
                    f"Download {name} model (.npz)",
                    data=lambda name=name, models=models: M.model_file(handle, name, models),
                    file_name=M.model_file_name(handle, name, models["epoch"]),
                    mime="application/octet-stream", on_click="ignore", key=f"dl.model.{i}",
                    help=f"{name}'s weights after epoch {models['epoch']} (step {models['step']:,}), its "
                    "optimizer state, the run's settings and the fitted scaler, in one NumPy .npz file (no "
                    "pickles). Upload it below to continue training.",
                )  # fmt: skip
            explain(
                "One file per optimizer: what it learned so far, ready to continue training here later, "
                "to open in the Gate inspector or to forecast with `python -m gru_core forecast`."
            )
    st.file_uploader(
        "Continue training: upload a model saved here (.npz)", type=["npz"], key="model_upload",
        on_change=_on_model_upload, max_upload_size=M.MODEL_UPLOAD_MB,
        help="The model settings (size, layers, variant, precision, lookback) are set to match the file; the "
        "next Train starts from its weights, and from its optimizer state for the same optimizer.",
    )  # fmt: skip
    if st.session_state.get(M.MODEL_ERROR_KEY):
        st.error(st.session_state[M.MODEL_ERROR_KEY], icon=":material/block:")
    up: M.ModelUpload | None = st.session_state.get(M.MODEL_KEY)
    if up is not None:
        usable, problems = M.loaded_model(st.session_state, cfg)
        if usable is not None:
            st.success(f"The next Train continues from {up.summary()}.", icon=":material/save:")
        else:
            st.warning(f"Loaded {up.summary()}, but it does not fit the current settings ({'; '.join(problems)}): "
                       "Train starts from fresh weights.", icon="⚠️")  # fmt: skip
        for note in up.notes:
            st.caption(f"ℹ️ {note}")
        st.button("Forget the uploaded model", key="btn.forget_model", on_click=_forget_model)
