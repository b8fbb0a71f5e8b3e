"""The single GRU cell of "How a GRU works": its sliders, the weights they make, one step, the table shown.

* :data:`SLIDERS`, :data:`H_PREV_DEFAULTS`, :func:`init_state`, :func:`set_values`, :func:`reset`: the
  widgets' specs and session state (keys ``cell.*``);
* :func:`previous_state`, :func:`slider_weights`: the session's slider values as the engine's cell wants them
  (:func:`gru_core.classroom.cell.cell_weights`; one step is :func:`gru_core.classroom.cell.cell_step`);
* :func:`cell_table`, :func:`weights_table`: the numbers shown, one row per unit / per gate row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.classroom.cell import cell_weights
from gru_core.config import SETTINGS
from gru_ui.shell import init_settings

HIDDEN_CHOICES = (2, 3, 4)
H_PREV_DEFAULTS = (0.8, -0.6, 0.3, -0.9)
VARIANTS = SETTINGS["variant"].choices  # the GRU variants (the run settings' own list)
VARIANT_LABELS = {"pytorch": "PyTorch / cuDNN / Keras (reset after)", "classic": "classic (Cho et al. 2014)"}
# session-state key -> (label, low, high, step, default, help)
SLIDERS: dict[str, tuple[str, float, float, float, float, str]] = {
    "cell.x": ("input $x_t$", -2.0, 2.0, 0.05, 1.0, "The input at this time step (one number: input size 1)."),
    "cell.w_iz": ("$W_{iz}$: input → update gate", -4.0, 4.0, 0.1, 1.0, "How strongly the input opens z."),
    "cell.b_z": ("$b_z$: update-gate bias", -6.0, 6.0, 0.1, 0.0, "Large positive: z → 1 (copy). Negative: z → 0."),
    "cell.w_ir": ("$W_{ir}$: input → reset gate", -4.0, 4.0, 0.1, 1.0, "How strongly the input opens r."),
    "cell.b_r": ("$b_r$: reset-gate bias", -6.0, 6.0, 0.1, 0.0, "Negative: r → 0, the candidate ignores $h_{t-1}$."),
    "cell.w_in": ("$W_{in}$: input → candidate", -4.0, 4.0, 0.1, 1.0, "How the input shapes the candidate n."),
    "cell.b_n": ("$b_n$: candidate bias", -3.0, 3.0, 0.1, 0.0, "Shifts the candidate before tanh."),
    "cell.scale": (
        "scale of the recurrent weights $W_{h\\cdot}$",
        0.0,
        3.0,
        0.1,
        1.0,
        "Multiplies W_hr, W_hz, W_hn (their pattern is PyTorch's random initialisation, seed 0).",
    ),
}


def cell_table(h_prev, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """The displayed numbers: one row per unit."""
    return pd.DataFrame(
        {
            "unit": [f"unit {j + 1}" for j in range(len(values["h"]))],
            "h_t−1": np.asarray(h_prev, dtype=np.float64),
            "r": values["r"],
            "z": values["z"],
            "n": values["n"],
            "h_t": values["h"],
        }
    )


def init_state() -> None:
    """The cell's defaults in the session (idempotent)."""
    init_settings({"cell.variant": "pytorch", "cell.hidden": 3, **{key: spec[4] for key, spec in SLIDERS.items()},
                   **{f"cell.h.{j}": v for j, v in enumerate(H_PREV_DEFAULTS)}, "cell.unit": 0})


def set_values(**values: float) -> None:
    """Set sliders by name (``b_z=6.0`` → ``cell.b_z``): the buttons "z → 1: copy" and "z → 0: replace"."""
    for k, v in values.items():
        st.session_state[f"cell.{k}"] = v


def reset() -> None:
    """Every slider back to its start (the "Reset" button)."""
    for key, spec in SLIDERS.items():
        st.session_state[key] = spec[4]
    for j, v in enumerate(H_PREV_DEFAULTS):
        st.session_state[f"cell.h.{j}"] = v


def previous_state(hidden: int) -> np.ndarray:
    """h_{t-1} of the first ``hidden`` units, from their sliders."""
    return np.array([st.session_state[f"cell.h.{j}"] for j in range(hidden)], dtype=np.float64)


def slider_weights(hidden: int) -> dict[str, np.ndarray]:
    """:func:`cell_weights` of the session's slider values."""
    ss = st.session_state
    return cell_weights(hidden, ss["cell.w_ir"], ss["cell.w_iz"], ss["cell.w_in"], ss["cell.b_r"], ss["cell.b_z"],
                        ss["cell.b_n"], ss["cell.scale"])  # fmt: skip


def weights_table(weights: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every weight of the step: one row per gate row (r, z, n blocks), input weight, bias, recurrent weights."""
    H = weights["gru.weight_hh_l0"].shape[1]
    names = [f"{g}, unit {j + 1}" for g in ("r", "z", "n") for j in range(H)]
    w = pd.DataFrame(weights["gru.weight_hh_l0"], index=names, columns=[f"h unit {j + 1}" for j in range(H)])
    w.insert(0, "W_i (input)", weights["gru.weight_ih_l0"][:, 0])
    w.insert(1, "b (bias)", weights["gru.bias_ih_l0"])
    return w
