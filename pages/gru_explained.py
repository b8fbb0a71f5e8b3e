"""Page "How a GRU works": the equations of both variants, and one GRU cell to play with.

Layout only.  Every number comes from the engine: the cell's step is ``gru_core.model.reference.gru_cell`` (the
textbook GRU the fast one is tested against) on weights assembled from the sliders, with the shape of the
recurrent weights taken from ``GRURegressor``'s own (PyTorch) initialisation; the sliders, weights and table
are ``gru_ui.classroom.cell``, the charts ``gru_ui.figures.classroom``.
"""

from __future__ import annotations

import streamlit as st

from gru_core.classroom.cell import cell_step
from gru_ui.classroom import cell as C
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles


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
    c1.radio("Hidden units H", C.HIDDEN_CHOICES, key="cell.hidden", horizontal=True)
    c2.radio("Variant", C.VARIANTS, key="cell.variant", format_func=C.VARIANT_LABELS.get)
    H = int(ss["cell.hidden"])
    st.slider(
        C.SLIDERS["cell.x"][0],
        *C.SLIDERS["cell.x"][1:3],
        step=C.SLIDERS["cell.x"][3],
        key="cell.x",
        help=C.SLIDERS["cell.x"][5],
    )
    st.markdown("**Previous state $h_{t-1}$, per unit**")
    cols = st.columns(H)
    for j in range(H):
        cols[j].slider(f"unit {j + 1}", -1.0, 1.0, step=0.05, key=f"cell.h.{j}")
    b1, b2, b3 = st.columns(3)
    b1.button(
        "z → 1: copy",
        on_click=C.set_values,
        kwargs={"b_z": 6.0},
        key="cell.btn.copy",
        help="Sets the update-gate bias b_z to +6.",
        width="stretch",
    )
    b2.button(
        "z → 0: replace",
        on_click=C.set_values,
        kwargs={"b_z": -6.0},
        key="cell.btn.replace",
        help="Sets the update-gate bias b_z to −6.",
        width="stretch",
    )
    b3.button("Reset", on_click=C.reset, key="cell.btn.reset", help="All sliders back to their start.", width="stretch")
    for group, keys in (
        ("Update gate z", ("cell.w_iz", "cell.b_z")),
        ("Reset gate r", ("cell.w_ir", "cell.b_r")),
        ("Candidate n", ("cell.w_in", "cell.b_n")),
        ("Recurrent weights", ("cell.scale",)),
    ):
        with st.expander(group, expanded=group == "Update gate z"):
            for key in keys:
                label, lo, hi, step, _, help_text = C.SLIDERS[key]
                st.slider(label, lo, hi, step=step, key=key, help=help_text)
    return H, str(ss["cell.variant"])


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    C.init_state()
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
    h_prev = C.previous_state(H)
    try:
        weights = C.slider_weights(H)
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
        table = C.cell_table(h_prev, values)
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
        st.markdown("Rows: gate blocks r, z, n in PyTorch's order; recurrent columns: units of h_t−1.")
        st.dataframe(C.weights_table(weights), key="cell.weights")


if __name__ == "__main__":
    page()
