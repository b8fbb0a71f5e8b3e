"""The "Vanishing gradients" page's settings and runs: its limits and defaults, the cached adding-problem race,
a time estimate for the spinner, and this session's last result (keys ``van.*``).

The race itself is ``gru_core.classroom.gradflow.adding_problem_race`` (training, test MSE, the baseline and the
per-time-step gradient norms).  A run is cached by its parameters (``st.cache_data``): pressing Train again
with the same settings, in any session, is instant.
"""

from __future__ import annotations

import time

import streamlit as st

from gru_core.classroom import gradflow
from gru_core.fmt import num
from gru_ui.shell import init_settings

# The page's limits: the slowest allowed run (T = 200, 600 steps, 32 units) takes about half a minute on one core.
LIMITS = {"T": (50, 200), "hidden": (4, 8, 16, 32), "steps": (50, 600), "seed": (0, 99)}
DEFAULTS = {"T": 50, "hidden": 16, "steps": 300, "seed": 0, "lr": 1e-2}
LR_CHOICES = (3e-3, 1e-2, 3e-2)
SECONDS_PER_UNIT = 4.5 / (50 * 300)  # measured: the default race (T = 50, 300 steps, 16 units) ≈ 4.5 s


def estimate_seconds(T: int, steps: int, hidden: int) -> float:
    """A rough wall-time estimate for the spinner (T × steps, a little more for wide models)."""
    return SECONDS_PER_UNIT * T * steps * (0.8 + 0.2 * hidden / 16)


@st.cache_data(show_spinner=False, max_entries=64)
def run_race(T: int, hidden: int, steps: int, seed: int, lr: float) -> dict:
    """The engine's adding-problem race for these parameters (deterministic: cached for everyone)."""
    t0 = time.perf_counter()
    out = gradflow.adding_problem_race(T=T, hidden=hidden, steps=steps, seed=seed, lr=lr)
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def init_state() -> None:
    ss = st.session_state
    init_settings({**{f"van.{k}": v for k, v in DEFAULTS.items()}, "van.relative": True})
    ss.setdefault("van.result", None)  # (params, result) of this session's last run
    ss.setdefault("van.error", None)


def params() -> dict:
    """The race's parameters as the widgets hold them now."""
    ss = st.session_state
    return {k: ss[f"van.{k}"] for k in ("T", "hidden", "steps", "seed", "lr")}


def train(p: dict) -> None:
    """Run (or fetch from the cache) the race for ``p`` under a spinner; keep the result, or why it failed."""
    est = num(estimate_seconds(p["T"], p["steps"], p["hidden"]), ".0f")
    with st.spinner(f"Training the GRU and the tanh RNN ({p['steps']} steps, T = {p['T']}; about {est} s)…"):
        try:
            result = run_race(**p)
        except ValueError as exc:
            st.session_state["van.error"] = f"The engine refused these settings: {exc}"
            return
    st.session_state["van.error"] = None
    st.session_state["van.result"] = (dict(p), result)
