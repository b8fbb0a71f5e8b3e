"""Page "Optimizer race": Adam and RMSprop (or up to six optimizers) train the same GRU, live.

The page only configures, listens and draws.  Training runs in a LiveRace thread stored in this browser
session's ``st.session_state["race"]``.  While it runs, two fragments redraw in place on timers: the loss
curves and status columns every ``LIVE_INTERVAL`` seconds, the gate heatmaps every ``GATES_INTERVAL``.
When the race has ended, the curves fragment asks for a full rerun until one has completed (a timer tick
can pre-empt a full run): that run draws the forecasts and results and defines the fragments without
timers, so polling stops.
"""

from __future__ import annotations

import streamlit as st

from gru_ui import figures as F
from gru_ui import runs as R
from gru_ui import state as S
from gru_ui import widgets as W

IN_FULL_RUN = "_page_full_run"  # True while the whole page script runs (False in a fragment's own rerun)


# ---- the two live fragments ------------------------------------------------------------------------------


def curves_panel() -> None:
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is None:
        return
    snap = h.live.snapshot()
    if snap.status not in W.LIVE_STATUSES and not h.final_drawn and not st.session_state.get(IN_FULL_RUN):
        st.rerun()  # the race has ended: a full run draws the results and stops the timers
    W.live_curves(h, snap)


def gates_panel() -> None:
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is not None:
        W.live_gates(h, h.live.snapshot())


# ---- the page --------------------------------------------------------------------------------------------


def check(cfg: S.LabConfig, choice: W.DataChoice, key: str) -> tuple:
    """prepare() and the optimizer checks, once per configuration (not on every rerun)."""
    memo = st.session_state.get("_check")
    if memo is None or memo[0] != key:
        st.session_state["_check"] = memo = (key, *R.check_config(cfg, choice.series))
    prepared, problems = memo[1], list(memo[2])
    if choice.error:
        problems.insert(0, choice.error)
    if choice.series is None and not choice.error:
        problems.insert(0, choice.info or "Choose a dataset.")
    return prepared, problems


def controls(cfg, choice, key, names, prepared, problems, handle: R.RaceHandle | None) -> None:
    running = handle is not None and handle.live.running
    c_train, c_stop, c_info = st.columns([1.2, 1, 5], vertical_alignment="center")
    train_clicked = c_train.button(
        "▶ Train",
        type="primary",
        width="stretch",
        key="btn.train",
        disabled=bool(problems) or running or prepared is None,
        help="A race is already running." if running else "Start the race with the settings in the sidebar.",
    )
    stop_clicked = c_stop.button(
        "■ Stop",
        width="stretch",
        key="btn.stop",
        disabled=not running,
        help="Stop now: everything trained so far stays on screen.",
    )
    if stop_clicked and handle is not None:
        handle.live.stop()
        handle.live.join(timeout=2.0)  # a mini-batch or two; then the results below are final
        st.rerun()  # draw the buttons again: Train enabled, Stop disabled
    if train_clicked and not problems and prepared is not None and not running:
        try:
            st.session_state["race"] = R.start_race(prepared, cfg, key, choice.series, F.assign_colors(names))
        except (RuntimeError, ValueError) as exc:
            st.session_state["train_error"] = str(exc)
        else:
            st.session_state.pop("train_error", None)
            st.session_state["qp_notices"] = []
            st.rerun()  # draw the buttons again: Train disabled while this race runs, Stop enabled
    with c_info:
        if running:
            st.caption(
                "Training in the background: change any setting, the race goes on. One race at a time."
            )
        elif not problems:
            busy = R.active_races()
            if busy:
                st.caption(f"{busy} race(s) training on this server now (limit {S.LIMITS['max_races']}).")
            st.caption(
                f"{len(cfg.optimizers)} optimizers · {cfg.epochs} epochs · hidden {cfg.hidden} · lookback "
                f"{cfg.lookback} · batch {cfg.batch} · seed {cfg.seed}. The address bar holds these "
                "settings: copy it to share this exact run."
            )
    for problem in problems:
        st.error(problem)
    if st.session_state.get("train_error"):
        st.error(st.session_state["train_error"])


def race_view(handle: R.RaceHandle, key: str, choice: W.DataChoice, prepared) -> None:
    if handle.key != key:
        st.info(
            "Settings changed since this run: the charts below show the last run with its own settings. "
            "Press **Train** to race with the new ones.",
            icon="ℹ️",
        )
        if choice.series is not None:
            with st.expander("The data you chose now (not trained yet)", expanded=choice.upload is not None):
                W.preview_section(choice, prepared, key="chart.preview.next")
    live = handle.live.snapshot().status in W.LIVE_STATUSES
    st.fragment(curves_panel, run_every=W.LIVE_INTERVAL if live else None)()
    st.subheader("Inside the GRU: gate activations")
    st.fragment(gates_panel, run_every=W.GATES_INTERVAL if live else None)()
    snap = handle.live.snapshot()
    st.subheader("Forecasts on the test part")
    W.forecast_section(handle, snap)
    W.results_section(handle, snap)
    with st.expander("The data of this run"):
        W.preview_section(W.DataChoice(series=handle.prepared.raw), handle.prepared, key="chart.preview.run")
    if not live:
        handle.final_drawn = True  # this full run got to the end with the race over: timers are off


def page() -> None:
    cfg, choice = W.sidebar_config()
    W.sync_url(cfg)
    handle: R.RaceHandle | None = st.session_state.get("race")
    names = S.contestant_labels(cfg.optimizers) if cfg.optimizers else ["…"]
    st.title("Optimizer race: " + " vs ".join(names))
    st.markdown(
        "**Same GRU, same starting weights, same mini-batches, same seed** — the only difference between "
        "the curves below is the optimizer. Press **Train** and watch them learn."
    )
    W.show_query_notices()
    key = S.config_key(cfg, choice.digest)
    prepared, problems = check(cfg, choice, key)
    controls(cfg, choice, key, names, prepared, problems, handle)
    if handle is None:
        if choice.series is not None:
            st.subheader("The data")
        W.preview_section(choice, prepared)
        if prepared is not None:
            sizes = prepared.sizes
            st.caption(
                f"{sizes['train']:,} training, {sizes['val']:,} validation and {sizes['test']:,} test "
                f"windows of {cfg.lookback} values each; the GRU predicts the next {cfg.horizon} value(s)."
            )
        return
    race_view(handle, key, choice, prepared)


st.session_state[IN_FULL_RUN] = True
try:
    page()
finally:  # also when Streamlit interrupts this run (a rerun, a stop): fragments must not think it goes on
    st.session_state[IN_FULL_RUN] = False
