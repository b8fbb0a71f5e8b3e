"""Page "Optimizer lab": the optimizers that train the GRU, let loose on 2-D test functions.

The paths are ``gru_core.classroom.landscapes.trajectory`` (the very optimizer classes of ``gru_core.optim``, stepped
on the parameter dict ``{"xy": …}``), the contours ``gru_core.classroom.landscapes.grid``; the page only chooses and
draws.  Layout only: the contestants' widgets and the cached paths are ``gru_ui.classroom.lab`` (hyperparameters
from the optimizer registry ``gru_core.optim.OPTIMIZERS``), the charts ``gru_ui.figures.classroom``.
"""

from __future__ import annotations

import streamlit as st

from gru_core.classroom.landscapes import LANDSCAPES
from gru_core.config import Contestant
from gru_core.fmt import num
from gru_core.optim import OPTIMIZERS
from gru_ui.classroom import lab as L
from gru_ui.figures import classroom as FC
from gru_ui.figures.style import assign_colors
from gru_ui.shell import app_frame, chart, display_toggles


def sidebar() -> tuple[str, float, float, tuple[float, float], int, list[Contestant], bool]:
    """The landscape, the start, the steps and the contestants, chosen in the sidebar."""
    ss = st.session_state
    with st.sidebar:
        st.header("1 · Landscape")
        land = st.selectbox(
            "Test function",
            list(LANDSCAPES),
            key="lab.landscape",
            format_func=lambda k: LANDSCAPES[k].name.split(" (")[0],
        )
        condition, angle = 50.0, 0.0
        if land == "quadratic":
            st.select_slider(
                "condition number κ",
                L.CONDITIONS,
                key="lab.condition",
                format_func=lambda v: num(v, "g"),
                help="Curvature along y divided by curvature along x.",
            )
            st.slider(
                "rotation (degrees)",
                0.0,
                90.0,
                step=5.0,
                key="lab.angle",
                help="Rotating the bowl defeats per-coordinate step sizes (Adagrad, RMSprop, Adam).",
            )
            condition, angle = float(ss["lab.condition"]), float(ss["lab.angle"])
        base = LANDSCAPES[land]
        kx, ky = f"lab.x0.{land}", f"lab.y0.{land}"
        ss.setdefault(kx, float(base.start[0]))
        ss.setdefault(ky, float(base.start[1]))
        c1, c2 = st.columns(2)
        c1.number_input("start x", float(base.x_range[0]), float(base.x_range[1]), step=0.1, key=kx, format="%g")
        c2.number_input("start y", float(base.y_range[0]), float(base.y_range[1]), step=0.1, key=ky, format="%g")
        st.slider("Steps", 10, L.MAX_STEPS, step=10, key="lab.steps")
        st.header("2 · Optimizers")
        st.multiselect(
            "Optimizers",
            list(OPTIMIZERS),
            key="lab.optimizers",
            format_func=lambda k: OPTIMIZERS[k].name,
            max_selections=len(OPTIMIZERS),
        )
        st.toggle(
            "Keras formulas for Adam and RMSprop",
            key="lab.keras",
            help="Keras puts epsilon inside the square root (RMSprop) or before the bias correction "
            "(Adam), and has other defaults (RMSprop rho 0.9, eps 1e-7).",
        )
        st.checkbox(
            "…and draw the other flavour too (same hyperparameters)",
            key="lab.both",
            help="Adds a twin of Adam and RMSprop that differs only in where epsilon sits.",
        )
        contestants = L.optimizer_widgets(land, list(ss["lab.optimizers"]), bool(ss["lab.keras"]), bool(ss["lab.both"]))
    return (
        land,
        condition,
        angle,
        (float(ss[kx]), float(ss[ky])),
        int(ss["lab.steps"]),
        contestants,
        bool(ss["lab.both"]),
    )


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    L.init_state()
    land_key, condition, angle, start, steps, contestants, both = sidebar()
    land = L.make_landscape(land_key, condition, angle)
    st.title("Optimizer lab: " + land.name)
    st.latex(land.formula)
    st.markdown(
        f"{land.description} The paths below are the **same optimizer classes that train the GRU**, stepped "
        "on two parameters (x, y) with the exact gradient, all from the same start."
    )
    if not contestants:
        st.info("Choose at least one optimizer in the sidebar.", icon="ℹ️")
        return
    if both:
        contestants = L.with_twins(contestants)
    paths: dict[str, dict] = {}
    for c in contestants:
        try:
            paths[c.name] = L.run_path(
                land_key, condition, angle, c.optimizer, c.flavor, tuple(sorted(c.hyper.items())), start, steps
            )
        except ValueError as exc:  # e.g. a Keras twin with weight decay: say so, draw the others
            st.error(f"{c.name}: {exc}")
    if not paths:
        return
    colors = assign_colors(list(paths))
    xs, ys, Z = L.contour_grid(land_key, condition, angle, land.log_scale)
    diverged = {k: p["diverged_at"] for k, p in paths.items()}
    fig = FC.landscape_animation(
        xs,
        ys,
        Z,
        paths,
        steps,
        log_scale=land.log_scale,
        minima=land.minima,
        saddles=land.saddles,
        colors=colors,
        name=land.name.split(" (")[0],
        max_frames=L.frames_for(len(paths)),
    )
    for label, at in diverged.items():
        if at is not None:
            st.warning(
                f"✖ {label} diverged at step {at}: its point left every bound (or became NaN). Lower its learning rate."
            )
    left, right = st.columns([1.15, 1], gap="medium")
    with left:
        chart(fig, key="chart.lab.paths", name=f"paths-{land_key}")
        st.caption(
            "Press ▶ Play to watch the optimizers step (the slider picks any step). Lighter ground is lower; "
            "white stars mark the minima. Look for: who zig-zags across the valley, who creeps along its floor, "
            "who overshoots."
        )
    with right:
        fig = FC.step_size_chart(
            {k: p["step_sizes"] for k, p in paths.items()}, colors=colors, diverged=diverged, height=420
        )
        chart(fig, key="chart.lab.steps", name=f"step-sizes-{land_key}")
        st.caption(
            "What each step multiplies its gradient by (Adam: its momentum), per coordinate. SGD: flat at lr. "
            "Adam starts high and settles as its bias correction fades; RMSprop's follows its running "
            "average; Adagrad's only shrinks."
        )
        fig = FC.value_chart(
            {k: p["values"] for k, p in paths.items()}, land.f_min, colors=colors, diverged=diverged, height=380
        )
        chart(fig, key="chart.lab.values", name=f"values-{land_key}")
        st.caption(
            "Height above the lowest point, on a log scale: each grid line down is 10× closer. "
            "A curve that stops falling is stuck (or circling)."
        )
    with st.expander(f"Every optimizer of this lab ({len(L.optimizer_table())}): defaults, idea, paper"):
        st.dataframe(L.optimizer_table(), hide_index=True, width="stretch")
        st.caption("The same classes train the GRU on the race page, in sweeps and on the command line. \"Exact "
                   "copy\": the update rule agrees with that torch.optim class to rounding error (tests compare "
                   "200 steps in float64).")  # fmt: skip
    with st.expander("What the Keras flavour changes"):
        st.markdown("RMSprop, with v the running average of g²:")
        st.latex(
            r"\text{PyTorch: } \Delta = -\frac{\mathrm{lr}\; g}{\sqrt{v} + \varepsilon}"
            r"\qquad\qquad \text{Keras: } \Delta = -\frac{\mathrm{lr}\; g}{\sqrt{v + \varepsilon}}"
        )
        st.markdown(
            "When gradients become tiny (near a minimum), PyTorch's multiplier can grow to lr/ε (10⁸ × lr), "
            "Keras's stops at lr/√ε (≈ 3,000 × lr with ε = 10⁻⁷): turn on the twin above and compare the "
            "step-size curves near the end. Adam in Keras adds ε before the bias correction (Kingma & Ba's "
            "ε̂), which matters only in the first steps."
        )


if __name__ == "__main__":
    page()
