"""Page "Optimizer lab": the optimizers that train the GRU, let loose on 2-D test functions.

The paths are ``gru_core.classroom.landscapes.trajectory`` (the very optimizer classes of ``gru_core.optim``, stepped
on the parameter dict ``{"xy": …}``), the contours ``gru_core.classroom.landscapes.grid``; the page only chooses and
draws.  Hyperparameter widgets come from the optimizer registry ``gru_core.optim.OPTIMIZERS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import streamlit as st

from gru_core.classroom.landscapes import LANDSCAPES, grid, quadratic, trajectory
from gru_core.optim import OPTIMIZERS
from gru_ui import figures as F
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles

# Learning rates that make each optimizer move visibly in a few hundred steps on each landscape (the
# registry's defaults are tuned for the GRU and barely move here).  Any value can be chosen on the page.
SUGGESTED_LR: dict[str, dict[str, float]] = {
    "quadratic": {"sgd": 0.03, "adagrad": 0.5, "rmsprop": 0.05, "adam": 0.1, "adamw": 0.1},
    "rosenbrock": {"sgd": 1e-3, "adagrad": 0.5, "rmsprop": 0.01, "adam": 0.1, "adamw": 0.1},
    "beale": {"sgd": 0.01, "adagrad": 0.5, "rmsprop": 0.03, "adam": 0.1, "adamw": 0.1},
    "saddle": {"sgd": 0.01, "adagrad": 0.1, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05},
    "himmelblau": {"sgd": 0.01, "adagrad": 0.5, "rmsprop": 0.03, "adam": 0.1, "adamw": 0.1},
}
DEFAULT_OPTIMIZERS = ["sgd", "rmsprop", "adam"]
MAX_STEPS = 1000
GRID_N = 300  # resolution of the landscape picture (a 300 × 300 PNG, ~15 kB)
FLAVOURED = ("adam", "rmsprop")  # the optimizers with a Keras flavour


@dataclass
class Contestant:
    """One path to draw: a registry key, a flavour and its hyperparameters."""

    key: str
    flavor: str
    hyper: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        name = OPTIMIZERS[self.key].name
        return name if self.flavor == "pytorch" else f"{name} ({self.flavor})"


# ---- helpers -------------------------------------------------------------------------------------------------


def make_landscape(key: str, condition: float = 50.0, angle: float = 0.0):
    """The registry landscape, or for "quadratic" the engine's quadratic with this conditioning/rotation."""
    if key == "quadratic" and (condition != 50.0 or angle != 0.0):
        return quadratic(condition=condition, angle=angle)
    return LANDSCAPES[key]


@st.cache_data(show_spinner=False, max_entries=256)
def run_path(
    land_key: str, condition: float, angle: float, key: str, flavor: str, hyper: tuple, start: tuple, steps: int
) -> dict:
    """The engine's trajectory (cached: deterministic)."""
    land = make_landscape(land_key, condition, angle)
    return trajectory(land, key, flavor=flavor, start=start, steps=steps, **dict(hyper))


@st.cache_data(show_spinner=False, max_entries=64)
def contour_grid(land_key: str, condition: float, angle: float, log: bool, n: int = GRID_N):
    return grid(make_landscape(land_key, condition, angle), n=n, log=log)


def frames_for(n_paths: int) -> int:
    """Animation frames: fewer when many paths are drawn (each frame costs ~1 ms per path to build)."""
    return min(FC.MAX_FRAMES, max(40, 300 // max(n_paths, 1)))


def lr_key(land: str, key: str, flavor: str) -> str:
    return f"lab.lr.{land}.{key}.{flavor}"


def hp_key(key: str, flavor: str, name: str) -> str:
    return f"lab.hp.{key}.{flavor}.{name}"


def lr_options(current: float) -> list[float]:
    vals = {float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2, 3, 5)} | {1.0, float(current)}
    return sorted(v for v in vals if 1e-5 <= v <= 1.0)


# ---- widgets -------------------------------------------------------------------------------------------------


def init_state() -> None:
    ss = st.session_state
    ss.setdefault("lab.landscape", "rosenbrock")
    ss.setdefault("lab.optimizers", list(DEFAULT_OPTIMIZERS))
    ss.setdefault("lab.steps", 300)
    ss.setdefault("lab.keras", False)
    ss.setdefault("lab.both", False)
    ss.setdefault("lab.condition", 50.0)
    ss.setdefault("lab.angle", 0.0)


def _hyper_widget(key: str, flavor: str, hp, default) -> None:
    k = hp_key(key, flavor, hp.name)
    st.session_state.setdefault(k, default)
    if hp.kind == "bool":
        st.checkbox(hp.name, key=k, help=hp.help)
    elif hp.kind == "int":
        st.number_input(hp.name, int(hp.low), int(hp.high), step=1, key=k, help=hp.help)
    elif hp.log:
        opts = sorted(
            {float(f"{m}e{e}") for e in range(-12, 1) for m in (1, 3)} | {float(default), float(st.session_state[k])}
        )
        opts = [v for v in opts if float(hp.low) <= v <= float(hp.high)]
        st.select_slider(hp.name, opts, key=k, format_func=lambda v: f"{v:g}", help=hp.help)
    else:
        span = float(hp.high) - float(hp.low)
        step = 10 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.01
        st.number_input(hp.name, float(hp.low), float(hp.high), step=float(step), key=k, format="%g", help=hp.help)


def optimizer_widgets(land: str, keys: list[str], keras: bool, both: bool) -> list[Contestant]:
    """The lr slider (and the other hyperparameters in an expander) of every chosen optimizer."""
    out = []
    shown = [Contestant(k, "keras" if keras and k in FLAVOURED else "pytorch") for k in keys]
    colors = F.assign_colors([c.label for c in (with_twins(shown) if both else shown)])  # as in the charts
    for key in keys:
        spec = OPTIMIZERS[key]
        flavor = "keras" if keras and "keras" in spec.flavors else "pytorch"
        c = Contestant(key, flavor)
        defaults = spec.defaults(flavor)
        color = colors.get(c.label, F.color_for(c.label))
        st.markdown(f"<span style='color:{color};font-size:1.4em'>■</span> **{c.label}**", unsafe_allow_html=True)
        k = lr_key(land, key, flavor)
        st.session_state.setdefault(k, SUGGESTED_LR.get(land, {}).get(key, defaults["lr"]))
        st.select_slider(
            "learning rate (lr)",
            lr_options(st.session_state[k]),
            key=k,
            format_func=lambda v: f"{v:g}",
            help=f"Suggested here: {SUGGESTED_LR.get(land, {}).get(key, defaults['lr']):g}; the "
            f"registry default (for the GRU) is {defaults['lr']:g}.",
        )
        hyper = {"lr": float(st.session_state[k])}
        with st.expander(f"more {c.label} hyperparameters"):
            for hp in spec.hyperparams:
                if hp.name in defaults and hp.name != "lr":
                    _hyper_widget(key, flavor, hp, defaults[hp.name])
                    hyper[hp.name] = st.session_state[hp_key(key, flavor, hp.name)]
        c.hyper = hyper
        out.append(c)
    return out


def sidebar() -> tuple[str, float, float, tuple[float, float], int, list[Contestant], bool]:
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
                [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0],
                key="lab.condition",
                format_func=lambda v: f"{v:g}",
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
        st.slider("Steps", 10, MAX_STEPS, step=10, key="lab.steps")
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
        contestants = optimizer_widgets(land, list(ss["lab.optimizers"]), bool(ss["lab.keras"]), bool(ss["lab.both"]))
    return (
        land,
        condition,
        angle,
        (float(ss[kx]), float(ss[ky])),
        int(ss["lab.steps"]),
        contestants,
        bool(ss["lab.both"]),
    )


def with_twins(contestants: list[Contestant]) -> list[Contestant]:
    out = []
    for c in contestants:
        out.append(c)
        if c.key in FLAVOURED:
            other = "pytorch" if c.flavor == "keras" else "keras"
            out.append(Contestant(c.key, other, dict(c.hyper)))
    return out


# ---- the page ------------------------------------------------------------------------------------------------


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    init_state()
    land_key, condition, angle, start, steps, contestants, both = sidebar()
    land = make_landscape(land_key, condition, angle)
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
        contestants = with_twins(contestants)
    paths: dict[str, dict] = {}
    for c in contestants:
        try:
            paths[c.label] = run_path(
                land_key, condition, angle, c.key, c.flavor, tuple(sorted(c.hyper.items())), start, steps
            )
        except ValueError as exc:  # e.g. a Keras twin with weight decay: say so, draw the others
            st.error(f"{c.label}: {exc}")
    if not paths:
        return
    colors = F.assign_colors(list(paths))
    xs, ys, Z = contour_grid(land_key, condition, angle, land.log_scale)
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
        max_frames=frames_for(len(paths)),
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
