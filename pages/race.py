"""Page "Optimizer race": Adam and RMSprop (or up to six optimizers) train the same GRU, live.

The page only configures, listens and draws.  Training runs outside the web server, in a worker of the
server's runner (:func:`gru_core.runner.get_runner`, started on the first visit so its workers are ready by
the first Train); this browser session keeps the job's handle in ``st.session_state["race"]``.  A race
beyond the free workers waits in line: the page shows its place and the estimated wait (looked at every
``QUEUED_INTERVAL`` seconds), a Cancel button, and starts drawing by itself when it begins.  While it runs,
the parts that change fetch their own updates from the server, outside Streamlit's reruns
(:mod:`gru_ui.race.live_route`): the loss chart and its heading five times a second, the status columns every
second, the gate heatmaps every two; Streamlit runs the page again only when something the full run draws changes
(the chart notices the race's stamp change and asks; the curves fragment also looks every ``ROUTED_INTERVAL``).
Where the server has no such address (AppTest), fragments redraw on timers instead: the curves every
``LIVE_INTERVAL`` seconds, the status columns every ``STATUS_INTERVAL``, the gates every ``GATES_INTERVAL``.
While it is paused only the curves fragment polls, slowly (``PAUSED_INTERVAL``).  Whenever the race's status
differs from the one the buttons were drawn for (started after waiting, paused after a Step, resumed, ended, failed)
the curves fragment asks for a full rerun, which draws the buttons, forecasts and results again and sets the timers
for the new status (none once the race has ended, so polling stops).  Train starts the race before the buttons are
drawn, so one run of the page draws the running race.  A race whose worker died shows the runner's message; Train
works again.

Classroom control: Pause / Resume / Step / Stop, speed and "start paused" (gru_ui.race.steer), a live learning-rate
control per optimizer (recorded, marked, in the link), model files to save and continue from, one-click scenarios.
Once the race is paused or has ended: the race on the GRU's own loss surface (gru_ui.race.surface).
"""

from __future__ import annotations

import streamlit as st

from gru_ui import figures as F
from gru_ui.race import changes as C
from gru_ui.race import live as L
from gru_ui.race import live_route
from gru_ui.race import models as M
from gru_ui.race import panels as P
from gru_ui.race import session as R
from gru_ui.race import settings as S
from gru_ui.race import surface as SF
from gru_ui.race.live_plot import preload_live_charts
from gru_ui.race.sidebar import DataChoice, sidebar_config, sync_url
from gru_ui.race.steer import control_buttons, job_controls, paused_note, steering, store_path, stored_note
from gru_ui.shell import app_frame, presenting, show_query_notices

IN_FULL_RUN = "_page_full_run"  # True while the whole page script runs (False in a fragment's own rerun)


# ---- the two live fragments ------------------------------------------------------------------------------


def curves_panel() -> None:
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is None:
        return
    snap = h.live.snapshot()
    if not st.session_state.get(IN_FULL_RUN) and (snap.status != h.drawn_status or P.lr_controls_stale(h, snap)):
        st.rerun()  # paused, resumed or ended since the buttons were drawn, a replayed change or a divergence since
        # the learning-rate controls were: a full run redraws them
    P.live_curves(h, snap)


def status_panel() -> None:
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is None:
        return
    P.live_status(h, h.live.snapshot())


def gates_panel() -> None:
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is None:
        return
    snap = h.live.snapshot()
    later = bool(st.session_state.get(IN_FULL_RUN)) and snap.status == "running" and not h.gates_drawn
    if later and not live_route.enabled:
        st.caption(P.GATES_LATER)  # the curves first (browser: 1.2 → 0.9 s)
        return
    h.gates_drawn = True
    P.live_gates(h, snap, later=later)  # with the live route they draw themselves a moment later


# ---- the page --------------------------------------------------------------------------------------------


def check(cfg, choice: DataChoice, key: str) -> tuple:
    """prepare() and the optimizer checks, once per configuration (not on every rerun)."""
    memo = st.session_state.get("_check")
    if memo is None or memo[0] != key:
        st.session_state["_check"] = memo = (key, *R.check_config(cfg, choice.series))
    prepared, problems = memo[1], list(memo[2])
    if choice.error:
        problems.insert(0, choice.error)
    if choice.series is None and not choice.error:
        if choice.info:  # a normal step (upload a file), not an error: Train waits for the series
            st.info(choice.info, icon=":material/upload_file:")
        else:
            problems.insert(0, "Choose a dataset.")
    return prepared, problems


def train_pressed() -> bool:
    """Train was pressed for this run (its button, its key, or "↻ Repeat over 5 seeds")."""
    return bool(st.session_state.get("btn.train")) or bool(st.session_state.get("train_now"))


def start_if_pressed(cfg, choice, key, names, prepared, problems, handle: R.RaceHandle | None, initial):
    """Train (its button, its key, or "↻ Repeat over 5 seeds"): the race starts before the buttons are drawn, so this
    same run draws them and the race for a running race (one run of the page, not two: in the browser each whole
    run costs about half a core-second, taken from the race's first second).  Returns this session's race."""
    pressed = train_pressed()
    st.session_state.pop("train_now", None)
    if not pressed or problems or prepared is None or (handle is not None and handle.live.running):
        return handle
    speed, ctl, halt = job_controls(cfg)
    try:
        handle = R.start_race(prepared, cfg, key, choice.series, F.assign_colors(names), initial=initial, speed=speed,
                              controls=ctl, halt=halt, store=store_path())  # fmt: skip
    except (RuntimeError, ValueError) as exc:
        st.session_state["train_error"] = str(exc)
        return handle
    st.session_state["race"] = handle
    st.session_state.pop("train_error", None)
    st.session_state["qp_notices"] = []
    st.session_state["iv_from_link"] = 0
    # the page below then draws the first curves; where the chart fetches its own, only the buttons must be right
    R.wait_for(handle, R.has_started if live_route.enabled else R.has_a_curve, timeout=R.FIRST_CURVE_WAIT)
    return handle


def controls(cfg, choice, key, names, prepared, problems, handle: R.RaceHandle | None, initial) -> str | None:
    """Train, Pause, Resume, Step (one epoch / k mini-batches) and Stop; returns the status drawn."""
    snap = handle.live.snapshot() if handle is not None else None
    status = snap.status if snap is not None else None
    running = handle is not None and handle.live.running
    paused = status == "paused"
    waiting = status in L.WAITING_STATUSES
    clicked, k = control_buttons(problems=bool(problems) or prepared is None, running=running, paused=paused,
                                 waiting=waiting)  # fmt: skip
    pause_clicked, resume_clicked = clicked["pause"], clicked["resume"]
    epoch_clicked, batches_clicked, stop_clicked = clicked["step_epoch"], clicked["step_batches"], clicked["stop"]
    if handle is not None and running:
        version = snap.version if snap is not None else 0
        if stop_clicked:
            if handle.live.cancel():  # still waiting in line: it leaves the line, nothing to show
                st.session_state["race_notice"] = "Your race left the line before it started: nothing was trained."
                st.rerun()
            handle.live.stop()
            handle.live.join(timeout=2.0)  # a mini-batch or two; then the results below are final
            st.rerun()  # draw the buttons again: Train enabled, Stop disabled
        if pause_clicked:
            handle.live.pause()
            R.wait_for(handle, lambda s: s.status == "paused")
            st.rerun()
        if resume_clicked:
            handle.live.resume()
            R.wait_for(handle, lambda s: s.status != "paused")  # the buttons drawn next are a running race's
            st.rerun()
        if epoch_clicked or batches_clicked:
            if epoch_clicked:
                handle.live.step_epoch()
            else:
                handle.live.step_batches(int(k))
            R.wait_for(handle, R.paused_after(version))
            st.rerun()
    steering()
    if running and waiting:
        st.caption(
            "Your race waits in line for a free worker of this server (first come, first served) and starts by "
            "itself. ■ Stop cancels it."
        )
    elif running and paused and paused_note(handle.halt, snap):
        st.info(paused_note(handle.halt, snap), icon=":material/pause_circle:")
    elif running and paused:
        st.caption(
            "Paused. Change a learning rate below (it applies from the next mini-batch), step through one "
            "epoch or a few mini-batches, save the models, or Resume."
        )
    elif running:
        st.caption(
            "Training in the background, in a worker of this server: change any setting, the race goes on. One "
            "race at a time. Pause to look closely or to change a learning rate at an exact point."
        )
    elif not problems:
        busy = R.active_races()
        if busy:
            waiting_now = R.queued_races()
            line = f", {waiting_now} of them waiting for a free worker" if waiting_now else ""
            st.caption(f"{busy} race(s) training or waiting on this server now{line} (limit {R.race_limit_text()}).")
        st.caption(
            f"{len(cfg.contestants)} optimizers · {cfg.train.epochs} epochs · hidden {cfg.model.hidden_size} · "
            f"lookback {cfg.data.lookback} · batch {cfg.train.batch_size} · {R.seeds_text(cfg.seeds)}. The address bar "
            "holds these settings: copy it to share this exact run."
        )
    for problem in problems:
        st.error(problem)
    if st.session_state.get("train_error"):
        st.error(st.session_state["train_error"])
    return status


def race_view(handle: R.RaceHandle, key: str, choice: DataChoice, prepared, status: str | None) -> None:
    if handle.key != key:
        st.info(
            "Settings changed since this run: the charts below show the last run with its own settings. "
            "Press **Train** to race with the new ones.",
            icon="ℹ️",
        )
        if choice.series is not None:
            with st.expander("The data you chose now (not trained yet)", expanded=choice.upload is not None):
                P.preview_section(choice, prepared, key="chart.preview.next")
    if handle.initial_from:
        st.caption(
            f"This race continued from the uploaded model {handle.initial_from}: the link alone does not "
            "reproduce it (upload the same file)."
        )
    # the loss chart fetches its own updates where the server has its address (gru_ui.race.live_route): the fragment
    # then only redraws the heading and notices a new status
    st.fragment(curves_panel, run_every=L.interval(status, routed=live_route.enabled))()
    if status in L.WAITING_STATUSES:
        return  # nothing trained yet: the sections below appear when the race starts
    P.loss_view_controls(handle)
    st.fragment(status_panel, run_every=L.status_interval(status, routed=live_route.enabled))()
    P.lr_controls(handle, handle.live.snapshot())
    shown = R.shown_seed_text(handle)
    st.subheader("Inside the GRU: gate activations" + shown)
    st.fragment(gates_panel, run_every=L.gates_interval(status, routed=live_route.enabled))()
    snap = handle.live.snapshot()
    st.subheader("Forecasts on the test part" + shown)
    P.forecast_section(handle, snap)
    P.results_section(handle, snap)
    if stored_note(snap):
        st.caption(stored_note(snap))
    SF.surface_section(handle, snap)
    with st.expander("The data of this run"):
        P.run_data_section(handle, snap)


def sync_replay(handle: R.RaceHandle | None) -> None:
    """Learning rates changed during the last run join the replay list (and so the URL): Train or the
    link then replays that run exactly."""
    if handle is None:
        return
    snap = handle.live.snapshot()
    if len(snap.interventions) > handle.iv_seen:
        st.session_state[S.REPLAY_KEY] = C.share_config(handle, snap).interventions
        handle.iv_seen = len(snap.interventions)


def current_race() -> R.RaceHandle | None:
    """This session's race; a race cancelled while it waited in line (Cancel, or the watchdog) is dropped."""
    handle: R.RaceHandle | None = st.session_state.get("race")
    if handle is not None and handle.live.snapshot().status == "cancelled":
        st.session_state.pop("race", None)
        st.session_state.setdefault("race_notice", "Your race was cancelled while it waited in line for a worker.")
        return None
    return handle


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    runner_error = R.start_runner()  # on the first visit: its workers are ready by the first Train
    handle = current_race()
    sync_replay(handle)
    cfg, choice = sidebar_config()
    sync_url(cfg)
    names = cfg.labels if cfg.contestants else ["…"]
    st.title("Optimizer race: " + " vs ".join(names))
    st.markdown(
        "**Same GRU, same starting weights, same mini-batches** — within each seed the only difference between "
        "the curves below is the optimizer, and several seeds show what is luck. Press **Train** and watch them "
        "learn."
    )
    show_query_notices()
    P.presets_section(expanded=handle is None and not presenting() and not train_pressed())  # a projector: Train on
    # the first screen; a race: its chart
    key = S.config_key(cfg, choice.digest)
    initial, _ = M.loaded_model(st.session_state, cfg)
    if initial is not None:
        key += f"&init={initial.digest}"
    P.preset_note(cfg)
    prepared, problems = check(cfg, choice, key)
    if runner_error:
        problems.append(runner_error)
    notice = st.session_state.pop("race_notice", None)
    if notice:
        st.info(notice, icon="ℹ️")
    handle = start_if_pressed(cfg, choice, key, names, prepared, problems, handle, initial)
    running = handle is not None and handle.live.running
    P.replay_note(cfg, running, prepared)
    status = controls(cfg, choice, key, names, prepared, problems, handle, initial)
    if handle is None:
        if choice.series is not None:
            st.subheader("The data")
        P.preview_section(choice, prepared)
        if prepared is not None:
            sizes = prepared.sizes
            st.caption(
                f"{sizes['train']:,} training, {sizes['val']:,} validation and {sizes['test']:,} test "
                f"windows of {cfg.data.lookback} values each; the GRU predicts the next {cfg.data.horizon} value(s)."
            )
        P.models_section(None, None, cfg)
        preload_live_charts()  # the live chart's code is loaded now: the first curve appears at once after Train
        return
    race_view(handle, key, choice, prepared, status)
    P.models_section(handle, handle.live.snapshot(), cfg)
    handle.drawn_status = status  # this full run got to the end: the fragments compare against it
    handle.final_drawn = status not in L.LIVE_STATUSES


st.session_state[IN_FULL_RUN] = True
try:
    page()
finally:  # also when Streamlit interrupts this run (a rerun, a stop): fragments must not think it goes on
    st.session_state[IN_FULL_RUN] = False
