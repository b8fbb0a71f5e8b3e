"""Steering a race in front of a class: its buttons (with keyboard shortcuts; short labels on a projector), its
speed (mini-batch steps per second, from as fast as possible down to slow motion), "start paused", the halt a
scenario asks for just before the moment it shows, and whether the race is kept in Run history.

Widgets and the commands they send; the race itself is the engine's (``LiveRace.set_speed``,
``Race.pause_before``: pauses and the speed change no number).  The values live in the session under plain
keys kept across pages (:func:`gru_ui.shell.init_settings`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from gru_core.config import RunConfig
from gru_ui.shell import init_settings, presenting

from . import settings as S

__all__ = ["BUTTONS", "KEEP_KEY", "SPEEDS", "SPEED_KEY", "START_PAUSED_KEY", "STEP_K_KEY", "control_buttons",
           "job_controls", "paused_note", "speed_label", "steering", "store_path", "stored_note"]  # fmt: skip

SPEED_KEY = "ctl.speed"  # steps per second; 0 = as fast as possible
START_PAUSED_KEY = "ctl.start_paused"  # Train submits the race halted before its first step
KEEP_KEY = "ctl.keep_runs"  # a finished or stopped race's runs go to the run store (Run history)
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 0)  # slow motion on the left, as fast as possible on the right
STEP_K_KEY = "ctl.step_k"  # the "k mini-batches" number input

# the race's buttons: (key, label, label in presentation mode, keyboard shortcut, width in the row)
BUTTONS = (
    ("train", "▶ Train", "▶ Train", "T", 1.15),
    ("pause", "‖ Pause", "‖ Pause", "P", 1.0),
    ("resume", "▶ Resume", "▶ Resume", "G", 1.05),
    ("step_epoch", "▷ Step 1 epoch", "▷ Epoch", "E", 1.2),
    ("step_batches", "▷ Step mini-batches", "▷ Steps", "B", 1.35),
    ("stop", "■ Stop", "■ Stop", "X", 1.0),
)
SHORTCUTS_TEXT = ("Keyboard: " + ", ".join(f"**{b[3]}** {b[1].split(' ', 1)[1].lower()}" for b in BUTTONS)
                  + " (with the page focused, not in a text box).")  # fmt: skip


def control_buttons(problems: bool, running: bool, paused: bool, waiting: bool) -> tuple[dict[str, bool], int]:
    """Train, Pause, Resume, Step (one epoch / k mini-batches) and Stop in one row, each with a keyboard shortcut;
    in presentation mode with short labels, so that no label is cut at 1024 px.  Returns (clicked by key, k)."""
    short = presenting()
    enabled = {"train": not (problems or running), "pause": running and not paused and not waiting,
               "resume": paused, "step_epoch": paused, "step_batches": paused, "stop": running}  # fmt: skip
    helps = {
        "train": "A race is already running (or paused): Stop it first." if running
        else "Start the race with the settings in the sidebar.",
        "pause": "Halt after the current mini-batch. Everything stays on screen; Resume continues exactly as if "
        "there had been no pause.",
        "resume": "Continue training from where it halted (the same numbers as without the pause).",
        "step_epoch": "Train one whole epoch's worth of mini-batches, then pause again (from an epoch's start: that "
        "epoch).",
        "step_batches": "Train the number of mini-batches on the right, then pause again.",
        "stop": "Cancel: leave the line (nothing trained yet)." if waiting
        else "Stop now: everything trained so far stays on screen.",
    }  # fmt: skip
    widths = [b[4] for b in BUTTONS]
    widths.insert(5, 0.8)  # the k box, before Stop
    if short:  # a projector's big letters: two rows (Train, Pause, Resume / Epoch, Steps, k, Stop), nothing cut
        cols = [*st.columns(widths[:3], vertical_alignment="center"),
                *st.columns(widths[3:], vertical_alignment="center")]  # fmt: skip
    else:
        cols = st.columns(widths, vertical_alignment="center")
    clicked: dict[str, bool] = {}
    slots = [c for i, c in enumerate(cols) if i != 5]
    for col, (key, label, short_label, keys, _) in zip(slots, BUTTONS):
        clicked[key] = col.button(
            short_label if short else label, type="primary" if key == "train" else "secondary", width="stretch",
            key=f"btn.{key}", disabled=not enabled[key], help=helps[key], shortcut=keys,
        )  # fmt: skip
    st.session_state.setdefault(STEP_K_KEY, 10)
    k = cols[5].number_input(
        "mini-batches per step", min_value=1, max_value=10_000, step=1, key=STEP_K_KEY, label_visibility="collapsed",
        help="How many mini-batches “Step mini-batches” trains before pausing again.",
    )  # fmt: skip
    return clicked, int(k)


def speed_label(value: float) -> str:
    return "as fast as possible" if not value else f"{value:g} steps/s"


def _on_speed() -> None:
    handle = st.session_state.get("race")
    if handle is not None and handle.live.running:
        handle.live.set_speed(st.session_state[SPEED_KEY] or None)


def steering() -> None:
    """The speed slider (applied at once to a running race) and the "start paused" box."""
    init_settings({SPEED_KEY: 0, START_PAUSED_KEY: False, KEEP_KEY: True})
    if presenting():  # big type: the two boxes on their own row, their labels whole at 1024 px
        c_speed = st.container()
        c_paused, c_keep, _ = st.columns([1, 1.3, 0.5], vertical_alignment="bottom")
    else:
        c_speed, c_paused, c_keep = st.columns([3, 1.3, 1.6], vertical_alignment="bottom")
    c_speed.select_slider(
        "Speed", SPEEDS, key=SPEED_KEY, format_func=speed_label, on_change=_on_speed,
        help="Mini-batch steps per second, for a class to follow: slow motion on the left. Applies at once to a "
        "running race and changes no number (only when each step happens).",
    )  # fmt: skip
    c_paused.checkbox(
        "Start paused", key=START_PAUSED_KEY,
        help="Train sets the race up (same weights for every optimizer) and halts before the first step: "
        "look at the starting point, then Resume or Step.",
    )  # fmt: skip
    c_keep.checkbox(
        "Keep in Run history", key=KEEP_KEY,
        help="When the race finishes or is stopped, its runs (settings, learning-rate changes, per-epoch history, "
        "metrics and the link that reproduces it) are stored in this server's run store, listed on the Run "
        "history page beside the sweeps. Off: nothing is kept when the tab closes.",
    )  # fmt: skip
    st.caption(SHORTCUTS_TEXT)


def store_path() -> str | None:
    """Where the next race's runs are kept (the session's run store, as Run history opens it); None: not kept."""
    from gru_ui.shell import STORE_KEY, default_path

    ss = st.session_state
    return (ss.get(STORE_KEY) or default_path()) if ss.get(KEEP_KEY, True) else None


def stored_note(snap: Any) -> str | None:
    """Where the ended race's runs were stored (or why not), for the page."""
    result = snap.result or {}
    if result.get("on_end_error"):
        return f"The race's runs could not be stored in Run history: {result['on_end_error']}"
    ids = result.get("stored")
    if not ids:
        return None
    return (f"Kept in Run history as runs {', '.join(f'#{i}' for i in ids)} (settings, learning-rate changes, "
            "history, metrics and the link that reproduces it).")  # fmt: skip


def job_controls(cfg: RunConfig) -> tuple[float | None, list[tuple[str, tuple[Any, ...]]], int | None]:
    """(speed, controls for the job before its first step, the scenario's halt step) for the next Train."""
    ss = st.session_state
    controls: list[tuple[str, tuple[Any, ...]]] = [("pause", ())] if ss.get(START_PAUSED_KEY) else []
    halt = S.scenario_pause(ss, cfg)
    if halt is not None:
        controls.append(("pause_before", (halt,)))
    return (ss.get(SPEED_KEY) or None), controls, halt


def paused_note(halt: int | None, snap: Any) -> str | None:
    """What to say while the race is halted by its scenario just before the moment it shows (None: not so)."""
    if halt is None or snap.status != "paused" or snap.step != halt - 1:
        return None
    return (f"⏸ Halted by the scenario at step {snap.step}, just before what it shows (step {halt}). Press ▶ Resume "
            "to watch it happen, or change a learning rate below first.")  # fmt: skip
