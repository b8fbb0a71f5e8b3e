"""The optimizer lab's settings and cached engine calls: suggested learning rates, the contestants' widgets
(learning rate and the registry's other hyperparameters, keys ``lab.*``), the Keras twins, and the cached paths
(``gru_core.classroom.landscapes.trajectory``) and contour grids (``…landscapes.grid``).

A contestant is the run configuration's own :class:`gru_core.config.Contestant` (registry key, flavour,
hyperparameters; its ``name`` is the label drawn); the hyperparameters on offer come from
``gru_core.optim.OPTIMIZERS``.
"""

from __future__ import annotations

import math

import streamlit as st

from gru_core.classroom.landscapes import LANDSCAPES, grid, quadratic, suggest_lr, trajectory
from gru_core.config import Contestant
from gru_core.fmt import num
from gru_core.optim import OPTIMIZERS
from gru_ui.figures import classroom as FC
from gru_ui.figures.style import assign_colors, color_for
from gru_ui.shell import init_settings

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
FLAVOURED = tuple(k for k, s in OPTIMIZERS.items() if "keras" in s.flavors)  # the optimizers with a Keras flavour
CONDITIONS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)  # the quadratic's condition numbers on offer


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


@st.cache_data(show_spinner=False, max_entries=256)
def suggested_lr(land_key: str, key: str, flavor: str) -> float:
    """The learning rate this landscape starts an optimizer with: the hand-tuned one of SUGGESTED_LR for the
    classic five, else the engine's :func:`~gru_core.classroom.landscapes.suggest_lr` (the best of a small log
    grid), so a new optimizer of the registry moves visibly here without a line in this file."""
    hand = SUGGESTED_LR.get(land_key, {}).get(key)
    return float(hand) if hand is not None else suggest_lr(land_key, key, flavor=flavor)


@st.cache_data(show_spinner=False, max_entries=64)
def contour_grid(land_key: str, condition: float, angle: float, log: bool, n: int = GRID_N):
    """The landscape's contour grid (cached)."""
    return grid(make_landscape(land_key, condition, angle), n=n, log=log)


def frames_for(n_paths: int) -> int:
    """Animation frames: fewer when many paths are drawn (each frame costs ~1 ms per path to build)."""
    return min(FC.MAX_FRAMES, max(40, 300 // max(n_paths, 1)))


def lr_key(land: str, key: str, flavor: str) -> str:
    """Session key of an optimizer's learning rate on a landscape (each landscape has its own)."""
    return f"lab.lr.{land}.{key}.{flavor}"


def hp_key(key: str, flavor: str, name: str) -> str:
    """Session key of one of an optimizer's other hyperparameters."""
    return f"lab.hp.{key}.{flavor}.{name}"


def lr_options(current: float) -> list[float]:
    """The learning rates on offer: 1, 2, 3, 5 × 10^k from 1e-5 to 1, and the current value."""
    vals = {float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2, 3, 5)} | {1.0, float(current)}
    return sorted(v for v in vals if 1e-5 <= v <= 1.0)


def init_state() -> None:
    """The lab's defaults in the session (idempotent)."""
    init_settings({"lab.landscape": "rosenbrock", "lab.optimizers": list(DEFAULT_OPTIMIZERS), "lab.steps": 300,
                   "lab.keras": False, "lab.both": False, "lab.condition": 50.0, "lab.angle": 0.0})


def _hyper_widget(key: str, flavor: str, hp, default) -> None:
    k = hp_key(key, flavor, hp.name)
    init_settings({k: default})
    if hp.kind == "bool":
        st.checkbox(hp.name, key=k, help=hp.help)
    elif hp.kind == "int":
        st.number_input(hp.name, int(hp.low), int(hp.high), step=1, key=k, help=hp.help)
    elif hp.log:
        opts = sorted(
            {float(f"{m}e{e}") for e in range(-12, 1) for m in (1, 3)} | {float(default), float(st.session_state[k])}
        )
        opts = [v for v in opts if float(hp.low) <= v <= float(hp.high)]
        st.select_slider(hp.name, opts, key=k, format_func=lambda v: num(v, "g"), help=hp.help)
    else:
        span = float(hp.high) - float(hp.low)
        step = 10 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.01
        st.number_input(hp.name, float(hp.low), float(hp.high), step=float(step), key=k, format="%g", help=hp.help)


def optimizer_widgets(land: str, keys: list[str], keras: bool, both: bool) -> list[Contestant]:
    """The lr slider (and the other hyperparameters in an expander) of every chosen optimizer."""
    out = []
    shown = [Contestant(k, "keras" if keras and k in FLAVOURED else "pytorch") for k in keys]
    colors = assign_colors([c.name for c in (with_twins(shown) if both else shown)])  # as in the charts
    for key in keys:
        spec = OPTIMIZERS[key]
        flavor = "keras" if keras and "keras" in spec.flavors else "pytorch"
        c = Contestant(key, flavor)
        defaults = spec.defaults(flavor)
        color = colors.get(c.name, color_for(c.name))
        st.markdown(f"<span style='color:{color};font-size:1.4em'>■</span> **{c.name}**", unsafe_allow_html=True)
        k = lr_key(land, key, flavor)
        suggested = suggested_lr(land, key, flavor)
        st.session_state.setdefault(k, suggested)
        st.select_slider(
            "learning rate (lr)",
            lr_options(st.session_state[k]),
            key=k,
            format_func=lambda v: num(v, "g"),
            help=f"Suggested here: {num(suggested, 'g')}; the registry default (for the GRU) is "
            f"{num(defaults['lr'], 'g')}.",
        )
        hyper = {"lr": float(st.session_state[k])}
        with st.expander(f"more {c.name} hyperparameters"):
            for hp in spec.hyperparams:
                if hp.name in defaults and hp.name != "lr":
                    _hyper_widget(key, flavor, hp, defaults[hp.name])
                    hyper[hp.name] = st.session_state[hp_key(key, flavor, hp.name)]
        c.hyper = hyper
        out.append(c)
    return out


def optimizer_table() -> list[dict[str, str]]:
    """One row per optimizer of the registry: name, flavours, the torch.optim class it reproduces exactly (or
    "—"), its PyTorch-flavour defaults, the idea in a sentence and the paper (the lab page's table; the README's
    is the same)."""
    rows = []
    for spec in OPTIMIZERS.values():
        defaults = ", ".join(f"{k}={num(v, 'g') if isinstance(v, float) else v}" for k, v in spec.defaults().items()
                             if k != "maximize")  # fmt: skip
        rows.append({"optimizer": spec.name, "flavours": ", ".join(spec.flavors),
                     "exact copy of": f"torch.optim.{spec.torch}" if spec.torch else "— (the paper's algorithm)",
                     "defaults": defaults, "idea": spec.idea, "paper": spec.paper})  # fmt: skip
    return rows


def with_twins(contestants: list[Contestant]) -> list[Contestant]:
    """Each Adam and RMSprop followed by its twin of the other flavour, with the same hyperparameters."""
    out = []
    for c in contestants:
        out.append(c)
        if c.optimizer in FLAVOURED:
            other = "pytorch" if c.flavor == "keras" else "keras"
            out.append(Contestant(c.optimizer, other, dict(c.hyper)))
    return out
