"""Page "How a GRU works": the equations of both variants, and one GRU cell to play with.

Every number on this page comes from the engine: the cell's step is ``gru_core.model.reference.gru_cell`` (the
textbook GRU the fast one is tested against) on weights assembled from the sliders, with the shape of the
recurrent weights taken from ``GRURegressor``'s own (PyTorch) initialisation.  The pure helpers
(:func:`cell_weights`, :func:`cell_step`) are importable without running the page; Streamlit runs the page
as ``__main__``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.model.gru import GRURegressor
from gru_core.model.reference import gru_cell
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles

HIDDEN_CHOICES = (2, 3, 4)
H_PREV_DEFAULTS = (0.8, -0.6, 0.3, -0.9)
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


# ---- pure helpers (tested without a browser) --------------------------------------------------------------


def cell_weights(
    hidden: int,
    w_ir: float,
    w_iz: float,
    w_in: float,
    b_r: float,
    b_z: float,
    b_n: float,
    scale: float,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The weights of a one-input cell in PyTorch's layout and names (gate blocks r, z, n).

    Input weights and biases: the slider values, the same for every unit.  Recurrent weights: ``scale``
    times the ``gru.weight_hh_l0`` of ``GRURegressor(1, hidden, seed=seed)`` (PyTorch's initialisation).
    Hidden biases: zero (``b_ih`` carries the biases).
    """
    H = int(hidden)
    base = GRURegressor(1, H, seed=seed).params["gru.weight_hh_l0"]
    return {
        "gru.weight_ih_l0": np.repeat([w_ir, w_iz, w_in], H).astype(np.float64).reshape(3 * H, 1),
        "gru.weight_hh_l0": float(scale) * np.array(base, dtype=np.float64),
        "gru.bias_ih_l0": np.repeat([b_r, b_z, b_n], H).astype(np.float64),
        "gru.bias_hh_l0": np.zeros(3 * H),
    }


def cell_step(x: float, h_prev, weights: dict[str, np.ndarray], variant: str = "pytorch") -> dict[str, np.ndarray]:
    """One step of the engine's textbook cell: {"r", "z", "n", "h"}, each (H,)."""
    h0 = np.asarray(h_prev, dtype=np.float64).reshape(1, -1)
    r, z, n, h = gru_cell(
        np.array([[float(x)]]),
        h0,
        weights["gru.weight_ih_l0"],
        weights["gru.weight_hh_l0"],
        weights["gru.bias_ih_l0"],
        weights["gru.bias_hh_l0"],
        variant,
    )
    return {"r": r[0], "z": z[0], "n": n[0], "h": h[0]}


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


# ---- the page ----------------------------------------------------------------------------------------------


def init_state() -> None:
    ss = st.session_state
    ss.setdefault("cell.variant", "pytorch")
    ss.setdefault("cell.hidden", 3)
    for key, spec in SLIDERS.items():
        ss.setdefault(key, spec[4])
    for j, v in enumerate(H_PREV_DEFAULTS):
        ss.setdefault(f"cell.h.{j}", v)
    ss.setdefault("cell.unit", 0)


def _set(**values: float) -> None:
    for k, v in values.items():
        st.session_state[f"cell.{k}"] = v


def _reset() -> None:
    for key, spec in SLIDERS.items():
        st.session_state[key] = spec[4]
    for j, v in enumerate(H_PREV_DEFAULTS):
        st.session_state[f"cell.h.{j}"] = v


def equations() -> None:
    st.markdown(
        "A GRU reads a sequence one step at a time. At step *t* it combines the new input $x_t$ with its "
        "memory $h_{t-1}$ through two **gates** (numbers between 0 and 1, one per hidden unit) and "
        "writes a new memory $h_t$. Two variants are in use; they differ only in where the reset gate acts."
    )
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**PyTorch, cuDNN and Keras (`reset_after=True`)** — what this app trains")
        st.latex(
            r"""\begin{aligned}
            r_t &= \sigma\!\left(W_{ir}\,x_t + b_{ir} + W_{hr}\,h_{t-1} + b_{hr}\right)\\
            z_t &= \sigma\!\left(W_{iz}\,x_t + b_{iz} + W_{hz}\,h_{t-1} + b_{hz}\right)\\
            n_t &= \tanh\!\left(W_{in}\,x_t + b_{in} + r_t \odot \left(W_{hn}\,h_{t-1} + b_{hn}\right)\right)\\
            h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
            \end{aligned}"""
        )
    with c2:
        st.markdown("**Classic (Cho et al. 2014, Keras `reset_after=False`)**")
        st.latex(
            r"""\begin{aligned}
            r_t &= \sigma\!\left(W_{ir}\,x_t + b_{ir} + W_{hr}\,h_{t-1} + b_{hr}\right)\\
            z_t &= \sigma\!\left(W_{iz}\,x_t + b_{iz} + W_{hz}\,h_{t-1} + b_{hz}\right)\\
            n_t &= \tanh\!\left(W_{in}\,x_t + b_{in} + W_{hn}\left(r_t \odot h_{t-1}\right) + b_{hn}\right)\\
            h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
            \end{aligned}"""
        )
    with st.expander("What every symbol means", expanded=True):
        st.markdown(
            r"""
| symbol | meaning | size / range |
|---|---|---|
| $x_t$ | the input at time step $t$ (here: one value of the series) | $D$ numbers (here $D = 1$) |
| $h_{t-1}$ | the hidden state: the GRU's memory after the previous step ($h_0 = 0$) | $H$ in $(-1, 1)$ |
| $r_t$ | **reset gate**: how much of the memory the candidate may look at (0 = ignore it) | $H$ in $(0, 1)$ |
| $z_t$ | **update gate**: how much memory is *kept* (1 = copy $h_{t-1}$, 0 = replace by $n_t$) | $H$ in $(0, 1)$ |
| $n_t$ | **candidate**: the new memory proposed from the input and the (reset) memory | $H$ in $(-1, 1)$ |
| $h_t$ | the new hidden state, a per-unit mix of $n_t$ and $h_{t-1}$ (the last feeds the forecast) | $H$ in $(-1, 1)$ |
| $W_{i\cdot}$ | input weights of a gate ($W_{ir}, W_{iz}, W_{in}$): learned | $H \times D$ each |
| $W_{h\cdot}$ | recurrent weights of a gate ($W_{hr}, W_{hz}, W_{hn}$): learned | $H \times H$ each |
| $b_{i\cdot}, b_{h\cdot}$ | biases (two per gate, as in PyTorch; for $r$ and $z$ only their sum counts) | $H$ each |
| $\sigma$ | logistic sigmoid $1/(1+e^{-a})$: squashes any number into $(0, 1)$ | |
| $\tanh$ | hyperbolic tangent: squashes any number into $(-1, 1)$ | |
| $\odot$ | element-wise product: unit $j$ of one vector times unit $j$ of the other | |
"""
        )
        st.caption(
            "Careful when comparing texts: some (for example Wikipedia's “fully gated unit”) write "
            "h_t = (1 − z)⊙h_t−1 + z⊙n, which swaps the roles of z and 1 − z. PyTorch, Keras, Cho et al. "
            "and this app use the form above: z → 1 keeps the past."
        )


def controls() -> tuple[int, str]:
    ss = st.session_state
    c1, c2 = st.columns(2)
    c1.radio("Hidden units H", HIDDEN_CHOICES, key="cell.hidden", horizontal=True)
    c2.radio("Variant", list(VARIANT_LABELS), key="cell.variant", format_func=VARIANT_LABELS.get)
    H = int(ss["cell.hidden"])
    st.slider(
        SLIDERS["cell.x"][0],
        *SLIDERS["cell.x"][1:3],
        step=SLIDERS["cell.x"][3],
        key="cell.x",
        help=SLIDERS["cell.x"][5],
    )
    st.markdown("**Previous state $h_{t-1}$, per unit**")
    cols = st.columns(H)
    for j in range(H):
        cols[j].slider(f"unit {j + 1}", -1.0, 1.0, step=0.05, key=f"cell.h.{j}")
    b1, b2, b3 = st.columns(3)
    b1.button(
        "z → 1: copy",
        on_click=_set,
        kwargs={"b_z": 6.0},
        key="cell.btn.copy",
        help="Sets the update-gate bias b_z to +6.",
        width="stretch",
    )
    b2.button(
        "z → 0: replace",
        on_click=_set,
        kwargs={"b_z": -6.0},
        key="cell.btn.replace",
        help="Sets the update-gate bias b_z to −6.",
        width="stretch",
    )
    b3.button("Reset", on_click=_reset, key="cell.btn.reset", help="All sliders back to their start.", width="stretch")
    for group, keys in (
        ("Update gate z", ("cell.w_iz", "cell.b_z")),
        ("Reset gate r", ("cell.w_ir", "cell.b_r")),
        ("Candidate n", ("cell.w_in", "cell.b_n")),
        ("Recurrent weights", ("cell.scale",)),
    ):
        with st.expander(group, expanded=group == "Update gate z"):
            for key in keys:
                label, lo, hi, step, _, help_text = SLIDERS[key]
                st.slider(label, lo, hi, step=step, key=key, help=help_text)
    return H, str(ss["cell.variant"])


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    init_state()
    st.title("How a GRU works")
    equations()
    st.header("Try one cell")
    st.markdown(
        "One time step of a GRU with one input and **H** hidden units. Move the sliders: the gates, the "
        "candidate and the new state are recomputed by the app's own GRU code. Watch the **update gate z**: "
        "near 1 the unit copies its past, near 0 it replaces it."
    )
    left, right = st.columns([1, 2], gap="large")
    with left:
        H, variant = controls()
    ss = st.session_state
    h_prev = np.array([ss[f"cell.h.{j}"] for j in range(H)], dtype=np.float64)
    try:
        weights = cell_weights(
            H,
            ss["cell.w_ir"],
            ss["cell.w_iz"],
            ss["cell.w_in"],
            ss["cell.b_r"],
            ss["cell.b_z"],
            ss["cell.b_n"],
            ss["cell.scale"],
        )
        values = cell_step(ss["cell.x"], h_prev, weights, variant)
    except ValueError as exc:  # the engine refused the inputs: say so, never a traceback
        st.error(f"The cell could not be computed: {exc}")
        return
    with right:
        if int(ss.get("cell.unit", 0)) >= H:
            ss["cell.unit"] = 0
        unit = st.radio(
            "Unit drawn in the diagram",
            list(range(H)),
            key="cell.unit",
            horizontal=True,
            format_func=lambda j: f"unit {j + 1}",
        )
        fig = FC.cell_diagram(
            ss["cell.x"],
            h_prev[unit],
            values["r"][unit],
            values["z"][unit],
            values["n"][unit],
            values["h"][unit],
            unit=unit,
            variant=variant,
        )
        chart(fig, key="chart.cell.diagram", name="gru-cell")
        st.caption(
            "Read it left to right: the memory $h_{t-1}$ runs along the top, is multiplied by $z$ and added to "
            "$(1 - z)\\,n$. A darker box means a gate value closer to 1 (for n: closer to ±1)."
        )
        st.markdown("**The numbers** (from the app's GRU code, every unit)")
        table = cell_table(h_prev, values)
        fmt = {c: st.column_config.NumberColumn(c, format="%.4f") for c in ("h_t−1", "r", "z", "n", "h_t")}
        st.dataframe(table, hide_index=True, column_config=fmt, key="cell.table")
    c1, c2 = st.columns(2)
    with c1:
        chart(
            FC.cell_bars(h_prev, values["r"], values["z"], values["n"], values["h"]),
            key="chart.cell.bars",
            name="gru-cell-bars",
        )
        st.caption(
            "Gates (wine $r$, indigo $z$) live in 0…1; states (grey $h_{t-1}$, green $n$, black $h_t$) in −1…1. "
            "Compare each unit's black bar with its grey and green ones."
        )
    with c2:
        chart(
            FC.cell_mixing(h_prev, values["z"], values["n"], values["h"]),
            key="chart.cell.mixing",
            name="gru-cell-mixing",
        )
        st.caption(
            "Each dotted segment joins a unit's candidate n (left, z = 0) to its previous state (right, "
            "z = 1); the big dot is where its update gate put $h_t$. Press “z → 1: copy” and watch "
            "every dot slide to the right."
        )
    with st.expander("All the weights used in this step"):
        names = [f"{g}, unit {j + 1}" for g in ("r", "z", "n") for j in range(H)]
        st.markdown("Rows: gate blocks r, z, n in PyTorch's order; recurrent columns: units of h_t−1.")
        w = pd.DataFrame(weights["gru.weight_hh_l0"], index=names, columns=[f"h unit {j + 1}" for j in range(H)])
        w.insert(0, "W_i (input)", weights["gru.weight_ih_l0"][:, 0])
        w.insert(1, "b (bias)", weights["gru.bias_ih_l0"])
        st.dataframe(w, key="cell.weights")


if __name__ == "__main__":
    page()
