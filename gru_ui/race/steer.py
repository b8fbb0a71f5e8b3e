"""Steering a race in front of a class: its speed (mini-batch steps per second, from as fast as possible down to
slow motion), "start paused", and the halt a scenario asks for just before the moment it shows.

Widgets and the commands they send; the race itself is the engine's (``LiveRace.set_speed``,
``Race.pause_before``: pauses and the speed change no number).  The values live in the session under plain
keys kept across pages (:func:`gru_ui.shell.init_settings`).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from gru_core.config import RunConfig
from gru_ui.shell import init_settings

from . import settings as S

__all__ = ["SPEEDS", "SPEED_KEY", "START_PAUSED_KEY", "job_controls", "paused_note", "speed_label", "steering"]

SPEED_KEY = "ctl.speed"  # steps per second; 0 = as fast as possible
START_PAUSED_KEY = "ctl.start_paused"  # Train submits the race halted before its first step
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 0)  # slow motion on the left, as fast as possible on the right


def speed_label(value: float) -> str:
    return "as fast as possible" if not value else f"{value:g} steps/s"


def _on_speed() -> None:
    handle = st.session_state.get("race")
    if handle is not None and handle.live.running:
        handle.live.set_speed(st.session_state[SPEED_KEY] or None)


def steering() -> None:
    """The speed slider (applied at once to a running race) and the "start paused" box."""
    init_settings({SPEED_KEY: 0, START_PAUSED_KEY: False})
    c_speed, c_paused = st.columns([3, 1.3], vertical_alignment="bottom")
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
