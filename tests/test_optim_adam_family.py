"""Tests for gru_core.optim.adam_family (NAdam, RAdam, Adamax, Lion).

* NAdam, RAdam, Adamax: compared step by step with ``torch.optim`` (float64, single-tensor path) on the GRU's
  real parameter shapes, on the flat ParamDict path and the plain dict path, states included.
* Lion: compared with a plain per-element implementation of Algorithm 2 of Chen et al. (2023) written here.
* Keras flavours (NAdam, Adamax): compared with plain per-element re-implementations of the Keras 3.12 formulas
  written here (they do not call the module under test).
* Validation, state_dict round trips, effective_step_size, registry entries.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _optimref import ATOL, RTOL, case_id, copy_arrays, initial_params, lockstep, on_path, set_lr, torch_default_dtype
from _torchref import require_torch

from gru_core.model.params import ParamDict
from gru_core.optim import OPTIMIZERS, make_optimizer
from gru_core.optim.adam_family import SPECS, Adamax, Lion, NAdam, RAdam
from gru_core.optim.base import HyperParam, OptimizerSpec

H = 8
SHAPES = {
    "gru.weight_ih_l0": (3 * H, 1),
    "gru.weight_hh_l0": (3 * H, H),
    "gru.bias_ih_l0": (3 * H,),
    "gru.bias_hh_l0": (3 * H,),
    "head.weight": (1, H),
    "head.bias": (1,),
}
N_STEPS = 200
CLASSES = {"nadam": NAdam, "radam": RAdam, "adamax": Adamax, "lion": Lion}
TORCH_NAMES = {"nadam": "NAdam", "radam": "RAdam", "adamax": "Adamax"}
LR_SCHEDULE = {40: 3e-3, 90: 0.0, 100: 2e-2, 150: 1e-4}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    torch = require_torch()
    # torch keeps NAdam's mu_product in its scalar dtype, float32 under torch's own default dtype
    assert torch.get_default_dtype() == torch.float32, "another test left torch's default dtype changed"
    return torch


def grad_sequence(n_steps: int = N_STEPS, seed: int = 4321) -> list[dict[str, np.ndarray]]:
    """Fixed gradients: both signs, scales 1e-3 .. 10, a drifting mean, ~5% exact zeros, and head.bias exactly
    zero for the first 3 steps (so Lion sees c == 0 there)."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(n_steps):
        drift = 0.7 * math.sin(0.05 * t)
        step = {}
        for k, s in SHAPES.items():
            g = 10.0 ** rng.uniform(-3, 1) * (rng.standard_normal(s) + drift)
            g[rng.random(s) < 0.05] = 0.0
            step[k] = g
        if t < 3:
            step["head.bias"][...] = 0.0
        seq.append(step)
    return seq


GRADS = grad_sequence()


# --------------------------------------------------------------------------------------------------
# PyTorch flavour against torch.optim
# --------------------------------------------------------------------------------------------------

TORCH_CASES = [
    ("nadam", {}),
    ("nadam", {"weight_decay": 0.01}),
    ("nadam", {"weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("nadam", {"lr": 1e-2, "betas": (0.8, 0.99), "momentum_decay": 0.05}),
    ("nadam", {"momentum_decay": 0.0, "eps": 1e-6}),
    ("nadam", {"weight_decay": 0.01, "maximize": True}),
    ("nadam", {"weight_decay": 0.02, "decoupled_weight_decay": True, "maximize": True, "momentum_decay": 1.0}),
    ("radam", {}),
    ("radam", {"weight_decay": 0.01}),
    ("radam", {"weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("radam", {"lr": 1e-2, "betas": (0.8, 0.9), "eps": 1e-6}),  # rho_inf = 19: rectified from step 6 on
    ("radam", {"betas": (0.9, 0.6)}),  # rho_inf = 4: never rectified
    ("radam", {"weight_decay": 0.01, "maximize": True}),
    ("radam", {"weight_decay": 0.02, "decoupled_weight_decay": True, "maximize": True}),
    ("adamax", {}),
    ("adamax", {"weight_decay": 0.01}),
    ("adamax", {"lr": 1e-2, "betas": (0.5, 0.9), "eps": 1e-4}),
    ("adamax", {"weight_decay": 0.01, "maximize": True}),
]

LR_CASES = [
    ("nadam", {}),
    ("nadam", {"weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("radam", {"weight_decay": 0.01}),
    ("radam", {"weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("adamax", {"weight_decay": 0.01}),
]


def run_against_torch(torch, name, kw, path, lr_schedule=None, configure=None):
    """Step our optimizer (``configure``d first, if given) and torch's side by side (_optimref.lockstep): params every
    step, states at the end.  Returns (ours, torch's)."""

    def ours():
        opt = CLASSES[name](**kw)
        if configure is not None:
            configure(opt)
        return opt

    opt, _, topts, _ = lockstep(
        torch, ours, lambda tp: [getattr(torch.optim, TORCH_NAMES[name])(list(tp.values()), foreach=False, **kw)],
        initial_params(SHAPES, scale=0.5), GRADS, path, schedule=set_lr(lr_schedule) if lr_schedule else None,
        state_rtol=RTOL,
    )  # fmt: skip
    return opt, topts[0]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_matches_torch_every_step(torch, case, path):
    name, kw = case
    run_against_torch(torch, name, kw, path)


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", LR_CASES, ids=case_id)
def test_lr_schedule_matches_torch(torch, case, path):
    """lr changed between steps applies from the next step (decoupled decay uses the new lr too), as in torch."""
    name, kw = case
    run_against_torch(torch, name, kw, path, lr_schedule=LR_SCHEDULE)


@pytest.mark.parametrize("path", ["flat", "dict"])
def test_nadam_mu_product_follows_torch_scalar_dtype(torch, path):
    """torch keeps mu_product in float32 under its default dtype (it underflows to 0 after ~130 steps) and in
    float64 under ``torch.set_default_dtype(torch.float64)``; NAdam follows ``mu_product_dtype``."""
    _, topt = run_against_torch(torch, "nadam", {}, path)
    assert next(iter(topt.state.values()))["mu_product"].item() == 0.0  # float32 underflow, as mirrored

    def as_float64(opt):
        opt.mu_product_dtype = np.float64

    with torch_default_dtype(torch, torch.float64):
        opt, topt = run_against_torch(torch, "nadam", {"momentum_decay": 0.01}, path, configure=as_float64)
    assert 0.0 < opt.state["head.bias"]["mu_product"] < 1e-40

    # the emulation matters: float64 products against torch's float32 ones miss by far more than rounding
    with pytest.raises(AssertionError):
        run_against_torch(torch, "nadam", {}, path, configure=as_float64)


def test_torch_defaults_match_registry_and_classes(torch):
    p = [torch.zeros(2, dtype=torch.float64)]
    for key, tname in TORCH_NAMES.items():
        assert SPECS[key].torch == tname
        tdefaults = dict(getattr(torch.optim, tname)(p).defaults)
        tdefaults["beta1"], tdefaults["beta2"] = tdefaults.pop("betas")
        for hp_name, value in SPECS[key].defaults("pytorch").items():
            assert tdefaults[hp_name] == value, (key, hp_name, tdefaults[hp_name], value)
        for hp_name, value in CLASSES[key]().hyperparams().items():
            assert tdefaults[hp_name] == value, (key, hp_name)


def test_radam_cases_cover_both_branches():
    """rho_t (written out here) crosses 5 between steps 5 and 6 for b2 = 0.999 and 0.9, never for b2 = 0.6."""

    def rho(b2, t):
        rho_inf = 2 / (1 - b2) - 1
        return rho_inf - 2 * t * b2**t / (1 - b2**t)

    assert rho(0.999, 5) <= 5 < rho(0.999, 6)
    assert rho(0.9, 5) <= 5 < rho(0.9, 6)
    assert all(rho(0.6, t) <= 5 for t in range(1, N_STEPS + 1))


# --------------------------------------------------------------------------------------------------
# Lion against Algorithm 2 of the paper, per element
# --------------------------------------------------------------------------------------------------


def lion_reference(p0: float, gs: list[float], lrs: list[float], b1, b2, wd) -> tuple[list[float], int]:
    """Chen et al. (2023), Algorithm 2, for one weight; also counts the steps where c == 0."""
    p, m, out, zeros = p0, 0.0, [], 0
    for g, lr in zip(gs, lrs):
        c = b1 * m + (1 - b1) * g
        sign = 1.0 if c > 0 else (-1.0 if c < 0 else 0.0)
        zeros += c == 0
        p = p - lr * (sign + wd * p)
        m = b2 * m + (1 - b2) * g
        out.append(p)
    return out, zeros


LION_CASES = [
    {},
    {"weight_decay": 0.1},
    {"lr": 3e-3, "betas": (0.95, 0.98), "weight_decay": 1.0},
    {"lr": 1e-3, "betas": (0.0, 0.5)},
]


@pytest.mark.parametrize("schedule", [False, True], ids=["const-lr", "lr-changes"])
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", LION_CASES, ids=lambda kw: case_id(("lion", kw)))
def test_lion_matches_paper_algorithm(kw, path, schedule):
    hp = {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, **kw}  # the paper's defaults, written out
    b1, b2 = hp["betas"]
    lrs, lr = [], hp["lr"]
    for t in range(1, N_STEPS + 1):
        lr = LR_SCHEDULE.get(t, lr) if schedule else lr
        lrs.append(lr)
    init = initial_params(SHAPES, scale=0.5)
    expected, zero_cs = {}, 0
    for k in SHAPES:
        traj = np.empty((N_STEPS,) + SHAPES[k])
        for idx in np.ndindex(SHAPES[k]):
            ref, zeros = lion_reference(
                float(init[k][idx]), [float(g[k][idx]) for g in GRADS], lrs, b1, b2, hp["weight_decay"]
            )
            zero_cs += zeros
            traj[(slice(None), *idx)] = ref
        expected[k] = traj
    assert zero_cs >= 3  # sign(0) = 0 was exercised (head.bias: g = 0 and m = 0 for 3 steps)

    params = on_path(path, init)
    opt = Lion(**kw)
    for t, g in enumerate(GRADS):
        opt.lr = lrs[t]
        grads = on_path(path, g)
        opt.step(params, grads)
        for k in SHAPES:
            np.testing.assert_array_equal(grads[k], g[k])
            np.testing.assert_allclose(params[k], expected[k][t], rtol=RTOL, atol=ATOL, err_msg=f"step {t} {k}")
    assert set(opt.state["head.bias"]) == {"exp_avg"}


def test_lion_sign_zero_does_not_move_and_steps_are_exactly_lr():
    opt = Lion(lr=0.01)
    params = {"w": np.array([1.0, 2.0, 3.0])}
    opt.step(params, {"w": np.array([0.0, 5.0, -1e-12])})
    np.testing.assert_array_equal(params["w"], [1.0, 2.0 - 0.01, 3.0 + 0.01])
    np.testing.assert_array_equal(opt.state["w"]["exp_avg"], [0.0, (1 - 0.99) * 5.0, (1 - 0.99) * -1e-12])
    # with decay the zero-direction weight still shrinks: p -= lr * (0 + wd * p)
    opt = Lion(lr=0.01, weight_decay=0.5)
    params = {"w": np.array([2.0])}
    opt.step(params, {"w": np.array([0.0])})
    assert params["w"][0] == 2.0 - 0.01 * (0.0 + 0.5 * 2.0)


def test_lion_defaults_are_the_papers():
    assert Lion().hyperparams() == {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}
    assert SPECS["lion"].defaults() == {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0}
    assert SPECS["lion"].torch is None and SPECS["lion"].flavors == ("pytorch",)


# --------------------------------------------------------------------------------------------------
# Keras flavours against per-element re-implementations of Keras 3.12
# --------------------------------------------------------------------------------------------------


def keras_nadam_reference(p0: float, gs: list[float], lr, b1, b2, eps) -> list[float]:
    p, m, v, u_product, out = p0, 0.0, 0.0, 1.0, []
    for t, g in enumerate(gs, start=1):
        u_product = u_product * b1 * (1.0 - 0.5 * 0.96**t)  # _backend_update_step, before the update
        u_t = b1 * (1.0 - 0.5 * 0.96**t)
        u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        u_product_t_1 = u_product * u_t_1
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - b2**t)
        p -= m_hat * lr / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def keras_adamax_reference(p0: float, gs: list[float], lr, b1, b2, eps) -> list[float]:
    p, m, u, out = p0, 0.0, 0.0, []
    for t, g in enumerate(gs, start=1):
        m += (g - m) * (1 - b1)
        u = max(b2 * u, abs(g))
        p -= lr * m / ((1 - b1**t) * (u + eps))
        out.append(p)
    return out


# Keras 3.12's defaults, written out from keras/src/optimizers/{nadam,adamax}.py
KERAS_DEFAULTS = {
    "nadam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
    "adamax": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7},
}

KERAS_CASES = [
    ("nadam", {}),
    ("nadam", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-5}),
    ("nadam", {"maximize": True}),
    ("adamax", {}),
    ("adamax", {"lr": 1e-2, "betas": (0.5, 0.9), "eps": 1e-4}),
    ("adamax", {"maximize": True}),
]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_keras_flavor_matches_reference(case, path):
    name, kw = case
    hp = {**KERAS_DEFAULTS[name], **kw}
    b1, b2 = hp.get("betas", (hp["beta1"], hp["beta2"]))
    sign = -1.0 if hp.get("maximize") else 1.0
    reference = keras_nadam_reference if name == "nadam" else keras_adamax_reference
    init = initial_params(SHAPES, scale=0.5)
    expected = {}
    for k in SHAPES:
        traj = np.empty((N_STEPS,) + SHAPES[k])
        for idx in np.ndindex(SHAPES[k]):
            gs = [sign * float(g[k][idx]) for g in GRADS]
            traj[(slice(None), *idx)] = reference(float(init[k][idx]), gs, hp["lr"], b1, b2, hp["eps"])
        expected[k] = traj

    params = on_path(path, init)
    opt = CLASSES[name](flavor="keras", **kw)
    for t, g in enumerate(GRADS):
        grads = on_path(path, g)
        opt.step(params, grads)
        for k in SHAPES:
            np.testing.assert_array_equal(grads[k], g[k])
            np.testing.assert_allclose(params[k], expected[k][t], rtol=RTOL, atol=ATOL, err_msg=f"step {t} {k}")
    expected_state = {
        "nadam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
        "adamax": {"step", "exp_avg", "exp_inf"},
    }
    assert set(opt.state["head.weight"]) == expected_state[name]


def test_keras_defaults():
    assert NAdam(flavor="keras").hyperparams() == {
        **KERAS_DEFAULTS["nadam"], "weight_decay": 0.0, "momentum_decay": 1.0, "decoupled_weight_decay": False,
        "maximize": False,
    }  # fmt: skip
    assert Adamax(flavor="keras").hyperparams() == {**KERAS_DEFAULTS["adamax"], "weight_decay": 0.0, "maximize": False}
    assert SPECS["nadam"].defaults("keras") == KERAS_DEFAULTS["nadam"]
    assert SPECS["adamax"].defaults("keras") == KERAS_DEFAULTS["adamax"]
    assert NAdam().hyperparams()["lr"] == 2e-3 and NAdam().hyperparams()["eps"] == 1e-8
    assert Adamax(flavor="keras", betas=(0.5, 0.6), eps=1e-3).hyperparams()["eps"] == 1e-3


def test_keras_nadam_is_torch_nadam_with_momentum_decay_one(torch):
    """The docstring's claim: Keras' Nadam = torch's formula with momentum_decay=1 (its schedule 0.96^t) and
    eps at the same place; Keras keeps the product in the variables' dtype, so torch runs with float64 scalars."""
    init = initial_params(SHAPES, scale=0.5)
    with torch_default_dtype(torch, torch.float64):
        tparams = [torch.tensor(init[k], dtype=torch.float64) for k in SHAPES]
        topt = torch.optim.NAdam(tparams, lr=1e-3, eps=1e-7, momentum_decay=1.0, foreach=False)
        params = ParamDict.from_arrays(init)
        opt = NAdam(flavor="keras")
        for t, g in enumerate(GRADS, start=1):
            for tp, k in zip(tparams, SHAPES):
                tp.grad = torch.tensor(g[k], dtype=torch.float64)
            topt.step()
            opt.step(params, ParamDict.from_arrays(g))
            for k, tp in zip(SHAPES, tparams):
                np.testing.assert_allclose(params[k], tp.numpy(), rtol=1e-10, atol=1e-13, err_msg=f"{t} {k}")
    # while torch's default schedule is much slower: after 50 steps the parameters differ clearly
    slow = NAdam(lr=1e-3, eps=1e-7)
    fast = NAdam(flavor="keras")
    ps, pf = copy_arrays(init), copy_arrays(init)
    for g in GRADS[:50]:
        slow.step(ps, g)
        fast.step(pf, g)
    assert np.max(np.abs(ps["gru.weight_hh_l0"] - pf["gru.weight_hh_l0"])) > 1e-4


def test_adamax_eps_placement_differs_for_tiny_gradients():
    """A gradient of 1e-6, then zeros: torch's eps (inside the max) decays with the maximum, Keras' does not."""
    lr, b1, b2, eps, k = 1e-3, 0.9, 0.9, 1e-7, 10
    gs = [1e-6] + [0.0] * k
    u_torch = max(b2**k * (1e-6 + eps), eps)  # max_s b2^(t-s) (|g_s| + eps)
    u_keras = b2**k * 1e-6 + eps  # max_s b2^(t-s) |g_s|, then + eps
    runs = {}
    for flavor in ("pytorch", "keras"):
        opt = Adamax(lr=lr, betas=(b1, b2), eps=eps, flavor=flavor)
        params = {"w": np.array([1.0])}
        for g in gs:
            before = params["w"].copy()
            opt.step(params, {"w": np.array([g])})
        runs[flavor] = (opt.state["w"]["exp_inf"][0], float(before[0] - params["w"][0]))
    assert runs["pytorch"][0] == pytest.approx(u_torch, rel=1e-12)
    assert runs["keras"][0] == pytest.approx(b2**k * 1e-6, rel=1e-12)  # Keras' u has no eps in it
    m = (1 - b1) * 1e-6 * b1**k
    bc = 1 - b1 ** (k + 1)
    assert runs["pytorch"][1] == pytest.approx(lr / bc * m / u_torch, rel=1e-12)
    assert runs["keras"][1] == pytest.approx(lr * m / (bc * u_keras), rel=1e-12)
    assert runs["pytorch"][1] / runs["keras"][1] > 1.15  # torch's denominator is ~15% smaller here


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------

# (class, kwargs, word the message must contain, whether torch rejects it as well)
BAD_ARGS = [
    (NAdam, {"lr": -1e-3}, "lr", True),
    (NAdam, {"lr": float("nan")}, "lr", True),
    (NAdam, {"eps": -1e-8}, "eps", True),
    (NAdam, {"betas": (1.0, 0.999)}, "beta1", True),
    (NAdam, {"betas": (0.9, -0.1)}, "beta2", True),
    (NAdam, {"weight_decay": -0.1}, "weight_decay", True),
    (NAdam, {"momentum_decay": -0.1}, "momentum_decay", True),
    (NAdam, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", False),
    (NAdam, {"flavor": "keras", "momentum_decay": 4e-3}, "momentum_decay", False),
    (NAdam, {"flavor": "keras", "lr": -1.0}, "lr", False),
    (NAdam, {"flavor": "tensorflow"}, "flavor", False),
    (NAdam, {"amsgrad": True}, "amsgrad", False),
    (RAdam, {"lr": -1e-3}, "lr", True),
    (RAdam, {"eps": -1e-8}, "eps", True),
    (RAdam, {"betas": (-0.1, 0.999)}, "beta1", True),
    (RAdam, {"betas": (0.9, 1.0)}, "beta2", True),
    (RAdam, {"weight_decay": -1.0}, "weight_decay", True),
    (RAdam, {"flavor": "keras"}, "flavor", False),
    (RAdam, {"momentum_decay": 4e-3}, "momentum_decay", False),
    (Adamax, {"lr": -2e-3}, "lr", True),
    (Adamax, {"eps": -1e-8}, "eps", True),
    (Adamax, {"betas": (1.5, 0.999)}, "beta1", True),
    (Adamax, {"betas": (0.9, 1.0)}, "beta2", True),
    (Adamax, {"weight_decay": -0.1}, "weight_decay", True),
    (Adamax, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", False),
    (Adamax, {"flavor": "keras", "eps": -1.0}, "eps", False),
    (Lion, {"lr": -1e-4}, "lr", False),
    (Lion, {"betas": (1.0, 0.99)}, "beta1", False),
    (Lion, {"betas": (0.9, 1.0)}, "beta2", False),
    (Lion, {"betas": (-0.1, 0.99)}, "beta1", False),
    (Lion, {"weight_decay": -0.1}, "weight_decay", False),
    (Lion, {"flavor": "keras"}, "flavor", False),
    (Lion, {"eps": 1e-8}, "eps", False),
    (Lion, {"maximize": True}, "maximize", False),
]


def _bad_id(case) -> str:
    cls, kw, _word, _ = case
    return f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"


@pytest.mark.parametrize("case", BAD_ARGS, ids=_bad_id)
def test_validation_errors_name_the_argument(case):
    cls, kw, word, _ = case
    with pytest.raises(ValueError, match=re.escape(word)):
        cls(**kw)


@pytest.mark.parametrize("case", [c for c in BAD_ARGS if c[3]], ids=_bad_id)
def test_validation_matches_torch(torch, case):
    cls, kw, _, _ = case
    with pytest.raises(ValueError):
        getattr(torch.optim, cls.__name__)([torch.zeros(2, dtype=torch.float64)], **kw)


@pytest.mark.parametrize(
    "kw",
    [{"momentum_decay": 0.0}, {"weight_decay": 0.0, "betas": (0.0, 0.0), "eps": 0.0, "lr": 0.0}],
    ids=["momentum_decay=0", "zeros"],
)
def test_boundary_values_torch_accepts_are_accepted(torch, kw):
    for cls in (NAdam, RAdam, Adamax):
        args = {k: v for k, v in kw.items() if k in cls.HYPER_NAMES or k == "betas"}
        cls(**args)
        getattr(torch.optim, cls.__name__)([torch.zeros(2, dtype=torch.float64)], **args)


def test_negative_lr_set_later_is_rejected_at_step():
    for cls in (NAdam, RAdam, Adamax, Lion):
        opt = cls()
        opt.lr = -1.0
        with pytest.raises(ValueError, match="lr"):
            opt.step(copy_arrays(initial_params(SHAPES, scale=0.5)), GRADS[0])


# --------------------------------------------------------------------------------------------------
# state_dict
# --------------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("nadam", {"weight_decay": 0.01, "decoupled_weight_decay": True, "momentum_decay": 0.05}),
    ("nadam", {"flavor": "keras", "lr": 3e-3}),
    ("radam", {"weight_decay": 0.01, "betas": (0.9, 0.99)}),
    ("adamax", {"weight_decay": 0.01, "maximize": True}),
    ("adamax", {"flavor": "keras"}),
    ("lion", {"lr": 3e-4, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("loader", ["fresh", "used"])
@pytest.mark.parametrize("resume_path", ["flat", "dict"])
@pytest.mark.parametrize("case", ROUND_TRIP, ids=case_id)
def test_state_dict_round_trip_continues_identically(case, resume_path, loader):
    name, kw = case
    flavor = kw.get("flavor", "pytorch")
    opt = CLASSES[name](**kw)
    params = ParamDict.from_arrays(initial_params(SHAPES, scale=0.5))
    for g in GRADS[:30]:
        opt.step(params, ParamDict.from_arrays(g))
    sd = opt.state_dict()
    assert sd["steps"] == 30

    other = CLASSES[name](flavor=flavor)  # default hyperparameters: load_state_dict must restore them
    if loader == "used":  # an optimizer with its own history (31 steps) must forget it entirely
        scratch = copy_arrays(initial_params(SHAPES, scale=0.5))
        for g in GRADS[100:131]:
            other.step(scratch, g)
    other.load_state_dict(sd)
    assert other.hyperparams() == opt.hyperparams()
    for v in sd["state"].values():  # the load made a deep copy: scribbling on sd changes nothing
        for key, arr in v.items():
            if isinstance(arr, np.ndarray):
                arr.fill(123.0)
            else:
                v[key] = 0.5

    resumed = on_path(resume_path, dict(params))
    for g in GRADS[30:80]:
        opt.step(params, ParamDict.from_arrays(g))
        other.step(resumed, on_path(resume_path, g))
        for k in SHAPES:
            np.testing.assert_array_equal(resumed[k], params[k])
    assert other.steps == opt.steps == 80
    for k in SHAPES:
        assert set(other.state[k]) == set(opt.state[k])
        if name == "nadam":
            assert other.state[k]["mu_product"] == opt.state[k]["mu_product"]


def test_nadam_mu_product_is_one_number_mirrored_into_every_state_dict():
    for path in ("flat", "dict"):
        opt = NAdam(momentum_decay=0.5, betas=(0.9, 0.99))  # a product that stays well above float32's tiny
        params = on_path(path, initial_params(SHAPES, scale=0.5))
        expected = 1.0
        for t, g in enumerate(GRADS[:5], start=1):
            opt.step(params, on_path(path, g))
            mu_t = np.float32(0.9 * (1.0 - 0.5 * 0.96 ** (t * 0.5)))
            expected = float(np.float32(expected) * mu_t)  # torch: mu_product *= mu_t, in float32
            assert {st["mu_product"] for st in opt.state.values()} == {expected}
            assert all(st["step"] == t for st in opt.state.values())


# --------------------------------------------------------------------------------------------------
# effective_step_size
# --------------------------------------------------------------------------------------------------


def _nadam_m_hat(opt, st, g, t):
    """The bias-corrected Nesterov momentum that effective_step_size multiplies (written out here)."""
    b1 = opt.beta1
    psi = 1.0 if opt.flavor == "keras" else opt.momentum_decay
    mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod = st["mu_product"]
    return mu_next * st["exp_avg"] / (1 - prod * mu_next) + (1 - mu_t) * g / (1 - prod)


ESS_CASES = [
    ("nadam", {}, 25),
    ("nadam", {"momentum_decay": 0.1}, 25),
    ("nadam", {"flavor": "keras"}, 25),
    ("radam", {}, 3),  # un-rectified: uniform lr / (1 - b1^t)
    ("radam", {}, 25),  # rectified
    ("adamax", {}, 25),
    ("adamax", {"flavor": "keras"}, 25),
    ("lion", {"lr": 1e-3}, 25),
]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", ESS_CASES, ids=lambda c: f"{case_id(c[:2])}-t{c[2]}")
def test_effective_step_size_matches_the_step_taken(case, path):
    """After a step, step taken == effective_step_size * (the quantity the docstring says it multiplies)."""
    name, kw, n = case
    opt = CLASSES[name](**kw)
    params = on_path(path, initial_params(SHAPES, scale=0.5))
    for g in GRADS[:n]:
        before = copy_arrays(params)
        m_before = {k: np.array(opt.state[k]["exp_avg"], copy=True) for k in SHAPES} if opt.state else None
        opt.step(params, on_path(path, g))
    for k in SHAPES:
        st = opt.state[k]
        if name == "nadam":
            q = _nadam_m_hat(opt, st, g[k], n)
        elif name == "lion":
            q = np.sign(opt.beta1 * m_before[k] + (1 - opt.beta1) * g[k])
        else:
            q = st["exp_avg"]
        ess = opt.effective_step_size(k)
        assert ess.shape == SHAPES[k]
        assert np.all(ess > 0)
        np.testing.assert_allclose(before[k] - params[k], ess * q, rtol=1e-10, atol=1e-15)
    if name == "radam" and n == 3:
        np.testing.assert_array_equal(opt.effective_step_size(), 1e-3 / (1 - 0.9**3))
    if name == "lion":
        np.testing.assert_array_equal(opt.effective_step_size(), 1e-3)
    flat = opt.effective_step_size()
    assert flat.shape == (sum(math.prod(s) for s in SHAPES.values()),)
    np.testing.assert_array_equal(flat, np.concatenate([opt.effective_step_size(k).ravel() for k in SHAPES]))


def test_effective_step_size_before_any_step_raises():
    for cls in (NAdam, RAdam, Adamax, Lion):
        with pytest.raises(RuntimeError):
            cls().effective_step_size()


# --------------------------------------------------------------------------------------------------
# registry entries
# --------------------------------------------------------------------------------------------------


def test_specs_entries():
    assert list(SPECS) == ["nadam", "radam", "adamax", "lion"]
    assert [s.name for s in SPECS.values()] == ["NAdam", "RAdam", "Adamax", "Lion"]
    assert {k: s.torch for k, s in SPECS.items()} == {
        "nadam": "NAdam",
        "radam": "RAdam",
        "adamax": "Adamax",
        "lion": None,
    }
    assert {k: set(s.flavors) for k, s in SPECS.items()} == {
        "nadam": {"pytorch", "keras"}, "radam": {"pytorch"}, "adamax": {"pytorch", "keras"}, "lion": {"pytorch"},
    }  # fmt: skip
    for key, spec in SPECS.items():
        assert isinstance(spec, OptimizerSpec) and spec.cls is CLASSES[key]
        assert spec.flavors == spec.cls.FLAVORS
        for text in (spec.description, spec.paper, spec.idea):
            assert text and "\n" not in text
        assert spec.idea.endswith(".") and spec.idea.count(". ") == 0  # one sentence
    assert "Dozat" in SPECS["nadam"].paper and "Liu" in SPECS["radam"].paper
    assert "7.1" in SPECS["adamax"].paper and "Chen" in SPECS["lion"].paper


def test_specs_hyperparams_well_formed_and_equal_class_defaults():
    for key, spec in SPECS.items():
        names = [hp.name for hp in spec.hyperparams]
        assert len(names) == len(set(names))
        assert names == list(spec.cls.HYPER_NAMES), key
        for hp in spec.hyperparams:
            assert isinstance(hp, HyperParam) and hp.kind in {"float", "int", "bool"}
            assert hp.help and "\n" not in hp.help
            if hp.kind == "bool":
                assert isinstance(hp.default, bool) and not hp.log
            else:
                assert hp.low <= hp.default <= hp.high, (key, hp)
                if hp.keras_default is not None:
                    assert hp.low <= hp.keras_default <= hp.high, (key, hp)
            if hp.log:
                assert hp.low > 0
            if "keras" not in spec.flavors:
                assert hp.keras_default is None
        for flavor in spec.flavors:
            defaults = spec.defaults(flavor)
            from_cls = spec.cls(flavor=flavor).hyperparams()
            assert defaults == {k: from_cls[k] for k in defaults}, (key, flavor)
    # Keras has no momentum_decay, decoupled_weight_decay, weight_decay (coupled) or maximize
    assert set(SPECS["nadam"].defaults("keras")) == {"lr", "beta1", "beta2", "eps"}


def test_specs_work_through_make_optimizer(monkeypatch):
    """Registered (as gru_core/optim/__init__.py will), every hyperparameter goes through make_optimizer."""
    for key, spec in SPECS.items():
        monkeypatch.setitem(OPTIMIZERS, key, spec)
    checked = 0
    for key, spec in SPECS.items():
        for flavor in spec.flavors:
            assert make_optimizer(key, flavor=flavor).hyperparams() == spec.cls(flavor=flavor).hyperparams()
            for hp in spec.hyperparams:
                if flavor == "keras" and hp.keras_default is None:
                    continue
                default = hp.default if flavor == "pytorch" else hp.keras_default
                if hp.kind == "bool":
                    value = not default
                else:
                    value = math.sqrt(hp.low * hp.high) if hp.log else hp.low + 0.37 * (hp.high - hp.low)
                opt = make_optimizer(key.upper(), flavor=flavor, **{hp.name: value})
                assert type(opt) is spec.cls and opt.flavor == flavor
                assert opt.hyperparams()[hp.name] == value, (key, flavor, hp.name)
                checked += 1
    assert checked > 25
    assert make_optimizer("lion", beta2=0.95).betas == (0.9, 0.95)
    assert make_optimizer("nadam", flavor="keras", beta1=0.5).betas == (0.5, 0.999)
