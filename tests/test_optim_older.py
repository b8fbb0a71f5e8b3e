"""Tests for gru_core.optim.older (Rprop, ASGD, Adadelta).

* PyTorch flavour: compared step by step with ``torch.optim`` (float64, single-tensor path) on the GRU's real
  parameter shapes (H = 8), through the flat ParamDict path and the plain dict path, with the learning rate
  changed mid-run; the state (including ASGD's ``ax``, ``eta``, ``mu``) is compared at every step.
* Keras flavour of Adadelta: compared with a plain per-element re-implementation of Keras 3.12's
  ``keras/src/optimizers/adadelta.py`` written here (it does not call the module under test).
* Hand-computed Rprop steps, ASGD's average as the mean of the weights, validation (against torch's
  rejections), state_dict round trips, effective_step_size, registry entries.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _exact import assert_plain
from _optimref import (
    ATOL,
    assert_state_like_torch,
    case_id,
    copy_arrays,
    initial_params,
    lockstep,
    on_path,
    set_lr,
    torch_default_dtype,
)
from _torchref import require_torch

import gru_core.optim as optim_pkg
from gru_core.model.params import ParamDict
from gru_core.optim.base import HyperParam, OptimizerSpec
from gru_core.optim.older import ASGD, SPECS, Adadelta, Rprop

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
CLASSES = {"adadelta": Adadelta, "asgd": ASGD, "rprop": Rprop}
TORCH_NAMES = {"adadelta": "Adadelta", "asgd": "ASGD", "rprop": "Rprop"}
LR_SCHEDULES = {
    "adadelta": {60: 0.3, 100: 0.0, 110: 2.0, 160: 0.05},
    "asgd": {60: 3e-3, 100: 0.0, 110: 0.05, 160: 1e-3},
    "rprop": {60: 0.5, 100: 0.0, 110: 1e-4},  # torch's Rprop ignores lr after the first step: so must we
}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return require_torch()


def grad_sequence(n_steps: int = N_STEPS, seed: int = 4321) -> list[dict[str, np.ndarray]]:
    """Gradients whose sign holds for a while and then flips (a slow per-element wave plus noise), with
    scales spanning 1e-3 .. 10 and about 4% exact zeros, so every Rprop branch occurs."""
    rng = np.random.default_rng(seed)
    phase = {k: rng.uniform(0, 2 * math.pi, s) for k, s in SHAPES.items()}
    speed = {k: rng.uniform(0.03, 0.3, s) for k, s in SHAPES.items()}
    seq = []
    for t in range(n_steps):
        step = {}
        for k, s in SHAPES.items():
            g = np.sin(speed[k] * t + phase[k]) + 0.4 * rng.standard_normal(s)
            g[rng.uniform(size=s) < 0.04] = 0.0
            step[k] = 10.0 ** rng.uniform(-3, 1) * g
        seq.append(step)
    return seq


GRADS = grad_sequence()


# --------------------------------------------------------------------------------------------------
# PyTorch flavour against torch.optim
# --------------------------------------------------------------------------------------------------

TORCH_CASES = [
    ("adadelta", {}),
    ("adadelta", {"rho": 0.5}),
    ("adadelta", {"rho": 0.0}),
    ("adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-4, "weight_decay": 0.01}),
    ("adadelta", {"weight_decay": 0.1, "maximize": True}),
    ("asgd", {}),  # t0 = 1e6: ax is just the weights
    ("asgd", {"t0": 100.0}),
    ("asgd", {"lr": 0.05, "lambd": 1e-2, "alpha": 0.6, "t0": 50.5}),
    ("asgd", {"lambd": 0.0, "t0": 0.0}),
    ("asgd", {"weight_decay": 0.01, "maximize": True, "t0": 20.0, "alpha": 1.0}),
    ("rprop", {}),
    ("rprop", {"etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05)}),  # both bounds clip
    ("rprop", {"lr": 0.1, "etas": (0.7, 1.1), "maximize": True}),
    ("rprop", {"maximize": True, "step_sizes": (2e-3, 0.02)}),
]


def torch_effective(name: str, kw: dict, lr: float, tstate: dict) -> np.ndarray:
    """Effective step size from torch's state (the formula written out here)."""
    if name == "adadelta":
        eps = kw.get("eps", 1e-6)
        return lr * np.sqrt(tstate["acc_delta"].numpy() + eps) / np.sqrt(tstate["square_avg"].numpy() + eps)
    if name == "asgd":
        return np.full(tstate["ax"].shape, tstate["eta"].item())
    return tstate["step_size"].numpy()


def run_against_torch(torch, name: str, kw: dict, path: str, lr_schedule: dict[int, float] | None):
    """Step our optimizer and torch's side by side (_optimref.lockstep); compare params, state and effective step
    size every step.

    Returns per-step records for branch checks: (torch's prev before the step, grads, torch's step_size after)."""
    schedule = lr_schedule or {}
    default_lr = kw.get("lr", CLASSES[name]().lr)
    records, prev = [], [None]  # torch's Rprop "prev" after the last step: before this one

    def after_step(t, opt, topts, tparams):
        lr = schedule[max(s for s in schedule if s <= t)] if any(s <= t for s in schedule) else default_lr
        assert_state_like_torch(opt, topts, tparams, t, where=f"step {t}")
        for k, tp in tparams.items():
            np.testing.assert_allclose(opt.effective_step_size(k), torch_effective(name, kw, lr, topts[0].state[tp]),
                                       rtol=1e-11, atol=1e-300)  # fmt: skip
        if name == "rprop":
            state = {k: topts[0].state[tp] for k, tp in tparams.items()}
            records.append((prev[0], GRADS[t - 1], {k: st["step_size"].numpy().copy() for k, st in state.items()}))
            prev[0] = {k: st["prev"].numpy().copy() for k, st in state.items()}

    lockstep(torch, lambda: CLASSES[name](**kw),
             lambda tp: [getattr(torch.optim, TORCH_NAMES[name])(list(tp.values()), foreach=False, **kw)],
             initial_params(SHAPES), GRADS, path, schedule=set_lr(schedule), after_step=after_step)  # fmt: skip
    return records


@pytest.mark.parametrize("schedule", ["constant-lr", "lr-changed"])
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_matches_torch_every_step(torch, case, path, schedule):
    name, kw = case
    lr_schedule = LR_SCHEDULES[name] if schedule == "lr-changed" else None
    with torch_default_dtype(torch, torch.float64):  # torch keeps ASGD's eta and mu in its default dtype
        records = run_against_torch(torch, name, kw, path, lr_schedule)
    if name != "rprop":
        return
    # every branch of Rprop's sign logic occurred: same sign, flipped, and no information (a zero)
    signs = np.concatenate(
        [np.sign(g[k] * (-1.0 if kw.get("maximize") else 1.0) * prev[k]).ravel() for prev, g, _ in records[1:]
         for k in SHAPES]
    )  # fmt: skip
    assert (signs > 0).sum() > 1000 and (signs < 0).sum() > 300 and (signs == 0).sum() > 300
    if "step_sizes" in kw:  # and the step sizes reached both bounds
        lo, hi = kw["step_sizes"]
        sizes = np.concatenate([ss[k].ravel() for _, _, ss in records for k in SHAPES])
        assert (sizes == lo).sum() > 50 and (sizes == hi).sum() > 50


def test_asgd_averaging_starts_within_the_run():
    """The t0 cases above really average: ax differs from the weights once t > t0 + 2."""
    opt = ASGD(t0=100.0)
    params = ParamDict.from_arrays(initial_params(SHAPES))
    for t, g in enumerate(GRADS, start=1):
        opt.step(params, ParamDict.from_arrays(g))
        ax = opt.state["head.weight"]["ax"]
        if t <= 102:
            np.testing.assert_array_equal(ax, params["head.weight"])
        else:
            assert not np.array_equal(ax, params["head.weight"])
    assert opt.state["head.bias"]["mu"] == 1 / (N_STEPS - 100)


def test_asgd_with_torch_default_float32_differs_only_by_float32_eta(torch):
    """Under torch's usual default dtype (float32) torch rounds eta and mu to float32; we keep float64."""
    init, kw = initial_params(SHAPES), {"lr": 0.01, "t0": 10.0}
    tparams = [torch.tensor(init[k], dtype=torch.float64) for k in SHAPES]
    with torch_default_dtype(torch, torch.float32):
        topt = torch.optim.ASGD(tparams, foreach=False, **kw)
        params = copy_arrays(init)
        opt = ASGD(**kw)
        for g in GRADS[:50]:
            for tp, k in zip(tparams, SHAPES, strict=True):
                tp.grad = torch.tensor(g[k], dtype=torch.float64)
            topt.step()
            opt.step(params, g)
    diff = max(float(np.max(np.abs(params[k] - tp.numpy()))) for k, tp in zip(SHAPES, tparams))
    assert 0 < diff < 1e-6
    assert topt.state[tparams[0]]["eta"].dtype == torch.float32


def test_torch_defaults_match_the_registry_and_the_classes(torch):
    p = [torch.zeros(2, dtype=torch.float64)]
    for key, spec in SPECS.items():
        assert spec.torch == TORCH_NAMES[key] == spec.cls.__name__
        tdefaults = dict(getattr(torch.optim, spec.torch)(p).defaults)
        if "etas" in tdefaults:
            tdefaults["etaminus"], tdefaults["etaplus"] = tdefaults.pop("etas")
            tdefaults["step_size_min"], tdefaults["step_size_max"] = tdefaults.pop("step_sizes")
        ours = spec.defaults("pytorch")
        assert set(ours) <= set(tdefaults), (key, set(ours) - set(tdefaults))
        for hp_name, value in ours.items():
            assert tdefaults[hp_name] == value, (key, hp_name, tdefaults[hp_name], value)
            assert getattr(spec.cls(), hp_name) == value, (key, hp_name)


# --------------------------------------------------------------------------------------------------
# Rprop and ASGD by hand
# --------------------------------------------------------------------------------------------------


def test_rprop_hand_computed_steps():
    """lr 0.1, etas (0.5, 1.2): grow while the sign holds, shrink and stand still on a flip, keep on a zero."""
    opt = Rprop(lr=0.1)
    params = {"w": np.array([0.0])}
    expected = [  # (gradient, weight after the step, step size after the step)
        (1.0, -0.1, 0.1),  # prev = 0: no information, step size stays lr
        (1.0, -0.22, 0.12),  # same sign: * 1.2
        (-1.0, -0.22, 0.06),  # flipped: * 0.5 and no move (the gradient is zeroed, prev = 0)
        (-1.0, -0.16, 0.06),  # prev = 0 after the flip: keep the step size, move
        (0.0, -0.16, 0.06),  # zero gradient: no move, prev = 0
        (2.0, -0.22, 0.06),  # prev = 0: keep; the gradient's size is ignored
        (3.0, -0.292, 0.072),  # same sign
    ]
    for g, w, s in expected:
        opt.step(params, {"w": np.array([g])})
        assert params["w"][0] == pytest.approx(w, rel=1e-14)
        assert opt.state["w"]["step_size"][0] == pytest.approx(s, rel=1e-14)
        assert opt.effective_step_size("w")[0] == pytest.approx(s, rel=1e-14)
    assert opt.state["w"]["prev"][0] == 3.0


def test_rprop_step_size_bounds_and_lr_only_sets_the_start():
    opt = Rprop(lr=1.0, etas=(0.5, 2.0), step_sizes=(0.3, 3.0))
    params = {"w": np.array([0.0])}
    sizes = []
    for g in [1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0]:
        opt.step(params, {"w": np.array([g])})
        opt.lr = 123.0  # ignored after the first step, as in torch
        sizes.append(float(opt.state["w"]["step_size"][0]))
    # 1 (no info), 2, 3 (clipped from 4), 3 (clipped from 6), then alternating signs: each flip halves (1.5),
    # the step after a flip sees prev = 0 and keeps it (1.5), ... down to 0.3 (clipped from 0.1875)
    assert sizes == [1.0, 2.0, 3.0, 3.0, 1.5, 1.5, 0.75, 0.75, 0.375, 0.375, 0.3]


def test_rprop_accepts_torch_tuples_or_scalar_names():
    a = Rprop(etas=(0.3, 1.4), step_sizes=(1e-4, 2.0))
    b = Rprop(etaminus=0.3, etaplus=1.4, step_size_min=1e-4, step_size_max=2.0)
    assert a.hyperparams() == b.hyperparams()
    assert (a.etas, a.step_sizes) == ((0.3, 1.4), (1e-4, 2.0))
    c = Rprop(etaplus=1.5)  # the other one keeps its default
    assert c.etas == (0.5, 1.5) and c.step_sizes == (1e-6, 50.0)


def test_asgd_ax_is_the_mean_of_the_weights_since_t0_plus_2():
    t0 = 5
    opt = ASGD(lr=0.05, lambd=0.0, t0=t0)
    params = copy_arrays(initial_params(SHAPES))
    history = []
    for t, g in enumerate(GRADS[:40], start=1):
        opt.step(params, g)
        history.append(copy_arrays(params))
        for k in SHAPES:
            window = history[t0 + 1 :] if t > t0 + 2 else history[-1:]
            np.testing.assert_allclose(
                opt.state[k]["ax"], np.mean([h[k] for h in window], axis=0), rtol=1e-12, atol=1e-14
            )


def test_asgd_eta_and_mu_follow_torch_formulas_and_lag_one_step():
    lr, lambd, alpha, t0 = 0.1, 0.5, 0.75, 3.0
    opt = ASGD(lr=lr, lambd=lambd, alpha=alpha, t0=t0)
    params = {"w": np.array([1.0, -2.0])}
    for t in range(1, 8):
        opt.step(params, {"w": np.array([0.5, 0.25])})
        for st in opt.state.values():
            assert st["eta"] == lr / (1 + lambd * lr * t) ** alpha
            assert st["mu"] == 1 / max(1, t - t0)
    # a changed lr applies only from the step after next: the next step still uses the eta computed above
    eta_next = opt.state["w"]["eta"]
    opt.lr = 0.0
    before = params["w"].copy()
    opt.step(params, {"w": np.array([0.5, 0.25])})
    np.testing.assert_allclose(before - params["w"], eta_next * (np.array([0.5, 0.25]) + lambd * before), rtol=1e-12)
    assert opt.state["w"]["eta"] == 0.0
    before = params["w"].copy()
    opt.step(params, {"w": np.array([0.5, 0.25])})
    np.testing.assert_array_equal(params["w"], before)


# --------------------------------------------------------------------------------------------------
# Keras flavour of Adadelta against a per-element reference
# --------------------------------------------------------------------------------------------------

KERAS_ADADELTA_DEFAULTS = {"lr": 1e-3, "rho": 0.95, "eps": 1e-7}  # keras 3.12 Adadelta.__init__


def keras_adadelta_reference(p0: float, gs: list[float], lr, rho, eps) -> list[float]:
    """Keras 3.12 Adadelta.update_step, one element at a time."""
    p, acc_grad, acc_delta, out = p0, 0.0, 0.0, []
    for g in gs:
        acc_grad = rho * acc_grad + (1 - rho) * g * g
        delta_var = -(math.sqrt(acc_delta + eps) * g) / math.sqrt(acc_grad + eps)
        acc_delta = rho * acc_delta + (1 - rho) * delta_var * delta_var
        p += lr * delta_var
        out.append(p)
    return out


KERAS_CASES = [{}, {"lr": 1.0}, {"lr": 0.1, "rho": 0.5, "eps": 1e-4}, {"rho": 0.0}]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", KERAS_CASES, ids=lambda kw: case_id(("adadelta", kw)))
def test_keras_flavor_matches_reference(kw, path):
    hp = {**KERAS_ADADELTA_DEFAULTS, **kw}
    init = initial_params(SHAPES)
    expected = {}
    for k in SHAPES:
        traj = np.empty((len(GRADS),) + SHAPES[k])
        for idx in np.ndindex(SHAPES[k]):
            gs = [float(g[k][idx]) for g in GRADS]
            traj[(slice(None), *idx)] = keras_adadelta_reference(
                float(init[k][idx]), gs, hp["lr"], hp["rho"], hp["eps"]
            )
        expected[k] = traj
    params = on_path(path, init)
    opt = Adadelta(flavor="keras", **kw)
    for t, g in enumerate(GRADS):
        grads = on_path(path, g)
        opt.step(params, grads)
        for k in SHAPES:
            np.testing.assert_array_equal(grads[k], g[k])
            np.testing.assert_allclose(params[k], expected[k][t], rtol=1e-12, atol=ATOL, err_msg=f"step {t} {k}")


def test_keras_adadelta_differs_from_torch_only_by_defaults():
    k, p = Adadelta(flavor="keras"), Adadelta()
    assert {n: k.hyperparams()[n] for n in KERAS_ADADELTA_DEFAULTS} == KERAS_ADADELTA_DEFAULTS
    assert (p.lr, p.rho, p.eps) == (1.0, 0.9, 1e-6)
    assert SPECS["adadelta"].defaults("keras") == KERAS_ADADELTA_DEFAULTS
    # with the same hyperparameters both flavours take the same steps (up to rounding)
    same = {"lr": 0.5, "rho": 0.8, "eps": 1e-5}
    pk, pt = copy_arrays(initial_params(SHAPES)), copy_arrays(initial_params(SHAPES))
    ok, ot = Adadelta(flavor="keras", **same), Adadelta(**same)
    for g in GRADS[:100]:
        ok.step(pk, g)
        ot.step(pt, g)
    for key in SHAPES:
        np.testing.assert_allclose(pk[key], pt[key], rtol=1e-12, atol=ATOL)
    # explicitly given values win over the flavour's defaults
    assert Adadelta(flavor="keras", rho=0.5).rho == 0.5 and Adadelta(flavor="keras", rho=0.5).eps == 1e-7


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------

# (class, kwargs, word the message must contain, torch: True rejects too / False accepts it / None not torch's)
BAD_ARGS = [
    (Adadelta, {"lr": -1.0}, "lr", True),
    (Adadelta, {"lr": float("nan")}, "lr", True),
    (Adadelta, {"rho": -0.1}, "rho", True),
    (Adadelta, {"rho": 1.1}, "rho", True),
    (Adadelta, {"rho": float("nan")}, "rho", True),
    (Adadelta, {"eps": -1e-6}, "eps", True),
    (Adadelta, {"weight_decay": -0.1}, "weight_decay", True),
    (Adadelta, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", None),
    (Adadelta, {"flavor": "keras", "lr": -1.0}, "lr", None),
    (Adadelta, {"flavor": "keras", "rho": 1.5}, "rho", None),
    (Adadelta, {"flavor": "tensorflow"}, "flavor", None),
    (Adadelta, {"momentum": 0.9}, "momentum", None),
    (ASGD, {"lr": -1e-2}, "lr", True),
    (ASGD, {"lr": float("nan")}, "lr", True),
    (ASGD, {"weight_decay": -0.1}, "weight_decay", True),
    (ASGD, {"lambd": -1e-4}, "lambd", False),  # torch only checks lr and weight_decay
    (ASGD, {"alpha": -0.5}, "alpha", False),
    (ASGD, {"t0": -1.0}, "t0", False),
    (ASGD, {"flavor": "keras"}, "flavor", None),
    (ASGD, {"lambda": 1e-4}, "lambda", None),
    (Rprop, {"lr": -1e-2}, "lr", True),
    (Rprop, {"etas": (0.0, 1.2)}, "etaminus", True),
    (Rprop, {"etas": (1.0, 1.2)}, "etaminus", True),
    (Rprop, {"etas": (0.5, 1.0)}, "etaplus", True),
    (Rprop, {"etas": (0.5, 0.9)}, "etaplus", True),
    (Rprop, {"step_sizes": (-1e-6, 50.0)}, "step_size_min", False),  # torch does not check step_sizes
    (Rprop, {"step_sizes": (1.0, 0.5)}, "step_size_max", False),
    (Rprop, {"etaminus": 1.5}, "etaminus", None),
    (Rprop, {"etaplus": 0.8}, "etaplus", None),
    (Rprop, {"step_size_max": 1e-9}, "step_size_max", None),
    (Rprop, {"etas": (0.5, 1.2), "etaplus": 1.3}, "etas", None),
    (Rprop, {"step_sizes": (1e-6, 50.0), "step_size_min": 0.0}, "step_sizes", None),
    (Rprop, {"flavor": "keras"}, "flavor", None),
    (Rprop, {"weight_decay": 0.01}, "weight_decay", None),
]


def _bad_id(case) -> str:
    cls, kw, _word, _ = case
    return f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"


@pytest.mark.parametrize("case", BAD_ARGS, ids=_bad_id)
def test_validation_errors_name_the_argument(case):
    cls, kw, word, _ = case
    with pytest.raises(ValueError, match=re.escape(word)):
        cls(**kw)


@pytest.mark.parametrize("case", [c for c in BAD_ARGS if c[3] is not None], ids=_bad_id)
def test_validation_against_torch(torch, case):
    """Where torch rejects an argument, so do we; where we are stricter, torch really accepts it."""
    cls, kw, _, torch_rejects = case

    def build():
        return getattr(torch.optim, cls.__name__)([torch.zeros(2, dtype=torch.float64)], **kw)

    if torch_rejects:
        with pytest.raises(ValueError):
            build()
    else:
        build()


def test_negative_lr_set_later_is_rejected_at_step():
    for cls in CLASSES.values():
        opt = cls()
        opt.lr = -1.0
        with pytest.raises(ValueError, match="lr"):
            opt.step(copy_arrays(initial_params(SHAPES)), GRADS[0])


def test_rho_one_is_accepted_as_in_torch_and_is_sgd():
    opt = Adadelta(lr=0.1, rho=1.0)
    params = copy_arrays(initial_params(SHAPES))
    before = copy_arrays(params)
    opt.step(params, GRADS[0])
    for k in SHAPES:
        np.testing.assert_allclose(params[k], before[k] - 0.1 * GRADS[0][k], rtol=1e-15, atol=1e-17)


# --------------------------------------------------------------------------------------------------
# state_dict, effective_step_size
# --------------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("adadelta", {"rho": 0.8, "weight_decay": 0.01}),
    ("adadelta", {"flavor": "keras", "lr": 0.5}),
    ("asgd", {"lr": 0.05, "lambd": 1e-2, "t0": 20.0}),  # averaging starts before the save
    ("asgd", {"t0": 40.0, "maximize": True}),  # ... and after it
    ("rprop", {"lr": 0.05, "etas": (0.4, 1.3), "step_sizes": (1e-3, 0.1)}),
]


@pytest.mark.parametrize("resume_path", ["flat", "dict"])
@pytest.mark.parametrize("case", ROUND_TRIP, ids=case_id)
def test_state_dict_round_trip_continues_identically(case, resume_path):
    name, kw = case
    opt = CLASSES[name](**kw)
    params = ParamDict.from_arrays(initial_params(SHAPES))
    for g in GRADS[:30]:
        opt.step(params, ParamDict.from_arrays(g))
    sd = opt.state_dict()
    assert_plain(sd)
    assert sd["steps"] == 30

    fresh = CLASSES[name](flavor=kw.get("flavor", "pytorch"))  # default hyperparameters: the load restores them
    fresh.load_state_dict(sd)
    assert fresh.hyperparams() == opt.hyperparams()
    for v in sd["state"].values():  # the load made a deep copy: scribbling on sd changes nothing
        for key in v:
            if isinstance(v[key], np.ndarray):
                v[key].fill(123.0)
            else:
                v[key] = 456.0

    resumed = on_path(resume_path, dict(params))
    for g in GRADS[30:80]:
        opt.step(params, ParamDict.from_arrays(g))
        fresh.step(resumed, on_path(resume_path, g))
        for k in SHAPES:
            np.testing.assert_array_equal(resumed[k], params[k])
            for key, val in opt.state[k].items():
                np.testing.assert_array_equal(fresh.state[k][key], val)
    assert fresh.steps == opt.steps == 80


def test_state_names_like_torch():
    expected = {"adadelta": {"step", "square_avg", "acc_delta"}, "asgd": {"step", "eta", "mu", "ax"},
                "rprop": {"step", "prev", "step_size"}}  # fmt: skip
    for name, cls in CLASSES.items():
        opt = cls()
        opt.step(ParamDict.from_arrays(initial_params(SHAPES)), ParamDict.from_arrays(GRADS[0]))
        for k in SHAPES:
            assert set(opt.state[k]) == expected[name], name
    # Rprop's step size starts at lr; ASGD's first step used eta = lr and mu = 1
    opt = Rprop(lr=0.03)
    opt.step(copy_arrays(initial_params(SHAPES)), {k: np.zeros(s) for k, s in SHAPES.items()})
    np.testing.assert_array_equal(opt.state["head.weight"]["step_size"], np.full((1, H), 0.03))


def test_asgd_eta_and_mu_are_shared_by_every_parameter():
    opt = ASGD(t0=3.0)
    params = ParamDict.from_arrays(initial_params(SHAPES))
    for g in GRADS[:10]:
        opt.step(params, ParamDict.from_arrays(g))
    assert len({st["eta"] for st in opt.state.values()}) == 1
    assert len({st["mu"] for st in opt.state.values()}) == 1
    assert opt.state["head.bias"]["mu"] == 1 / 7


ESS_PATHS = ["flat", "dict"]


@pytest.mark.parametrize("path", ESS_PATHS)
def test_effective_step_size_rprop_is_the_step_taken(path):
    """The last step moved each weight by step_size along the sign of the (flip-zeroed) gradient."""
    opt = Rprop(lr=0.02, step_sizes=(1e-4, 0.2))
    params = on_path(path, initial_params(SHAPES))
    prev = {k: np.zeros(s) for k, s in SHAPES.items()}
    for g in GRADS[:40]:
        before = copy_arrays(params)
        opt.step(params, on_path(path, g))
        for k in SHAPES:
            flipped = g[k] * prev[k] < 0
            taken = np.where(flipped, 0.0, np.sign(g[k]))  # the gradient's sign, zero after a flip
            np.testing.assert_allclose(before[k] - params[k], opt.effective_step_size(k) * taken, rtol=1e-9,
                                       atol=1e-15)  # fmt: skip
            prev[k] = np.where(flipped, 0.0, g[k])
    flat = opt.effective_step_size()
    np.testing.assert_array_equal(flat, np.concatenate([opt.effective_step_size(k).ravel() for k in SHAPES]))


@pytest.mark.parametrize("path", ESS_PATHS)
@pytest.mark.parametrize("kw", [{}, {"lambd": 1e-2, "weight_decay": 0.01, "t0": 5.0}, {"maximize": True}])
def test_effective_step_size_asgd_predicts_the_next_step(kw, path):
    """eta from the state multiplies the next step's g + lambd * p (g with weight decay, negated to maximize)."""
    opt = ASGD(lr=0.05, **kw)
    params = on_path(path, initial_params(SHAPES))
    lambd, wd, sgn = kw.get("lambd", 1e-4), kw.get("weight_decay", 0.0), -1.0 if kw.get("maximize") else 1.0
    for i, g in enumerate(GRADS[:30]):
        if i:
            ess = {k: opt.effective_step_size(k) for k in SHAPES}
        before = copy_arrays(params)
        opt.step(params, on_path(path, g))
        if i:
            for k in SHAPES:
                q = sgn * g[k] + wd * before[k] + lambd * before[k]
                np.testing.assert_allclose(before[k] - params[k], ess[k] * q, rtol=1e-9, atol=1e-15)
    assert np.all(opt.effective_step_size() == 0.05 / (1 + lambd * 0.05 * 30) ** 0.75)


@pytest.mark.parametrize("path", ESS_PATHS)
@pytest.mark.parametrize("flavor", ["pytorch", "keras"])
def test_effective_step_size_adadelta_predicts_a_step_that_keeps_square_avg(flavor, path):
    """After a step, a gradient with g² = square_avg leaves square_avg unchanged: it moves by exactly ess * g."""
    opt = Adadelta(flavor=flavor, lr=0.5)
    params = on_path(path, initial_params(SHAPES))
    for g in GRADS[:25]:
        opt.step(params, on_path(path, g))
    ess = {k: opt.effective_step_size(k) for k in SHAPES}
    signs = {k: np.where(np.arange(np.prod(s)).reshape(s) % 2 == 0, 1.0, -1.0) for k, s in SHAPES.items()}
    g_keep = {k: signs[k] * np.sqrt(opt.state[k]["square_avg"]) for k in SHAPES}
    before = copy_arrays(params)
    opt.step(params, on_path(path, g_keep))
    for k in SHAPES:
        assert ess[k].shape == SHAPES[k] and np.all(ess[k] > 0)
        np.testing.assert_allclose(before[k] - params[k], ess[k] * g_keep[k], rtol=1e-10, atol=1e-15)


def test_effective_step_size_before_any_step_raises():
    for cls in CLASSES.values():
        with pytest.raises(RuntimeError):
            cls().effective_step_size()


# --------------------------------------------------------------------------------------------------
# registry entries
# --------------------------------------------------------------------------------------------------


def test_specs_are_complete():
    assert list(SPECS) == ["adadelta", "asgd", "rprop"]
    assert [s.name for s in SPECS.values()] == ["Adadelta", "ASGD", "Rprop"]
    years = {"adadelta": ("Zeiler", "2012", "1212.5701"), "asgd": ("Polyak", "Juditsky", "1992", "30(4)"),
             "rprop": ("Riedmiller", "Braun", "1993", "RPROP")}  # fmt: skip
    for key, spec in SPECS.items():
        assert isinstance(spec, OptimizerSpec) and spec.cls is CLASSES[key]
        assert spec.flavors == spec.cls.FLAVORS
        for word in years[key]:
            assert word in spec.paper, (key, word)
        for text in (spec.description, spec.idea):
            assert text and "\n" not in text
        assert spec.idea.count(". ") == 0 and spec.idea.endswith(".")  # one sentence
        assert all(isinstance(hp, HyperParam) for hp in spec.hyperparams)
        assert [hp.name for hp in spec.hyperparams] == list(spec.cls.HYPER_NAMES)
    assert SPECS["adadelta"].flavors == ("pytorch", "keras")
    assert SPECS["asgd"].flavors == SPECS["rprop"].flavors == ("pytorch",)


def test_registry_generic_checks_pass_once_registered(monkeypatch):
    """tests/test_optim.py's registry tests, run with these entries added to OPTIMIZERS (restored afterwards)."""
    import test_optim as generic

    for key, spec in SPECS.items():
        monkeypatch.setitem(optim_pkg.OPTIMIZERS, key, spec)
    generic.test_registry_hyperparams_are_well_formed()
    generic.test_registry_defaults_equal_class_defaults()
    generic.test_every_registry_hyperparam_is_accepted_by_make_optimizer()
    opt = optim_pkg.make_optimizer("RPROP", etaminus=0.3, step_size_max=2.0)
    assert opt.etas == (0.3, 1.2) and opt.step_sizes == (1e-6, 2.0)
    assert optim_pkg.make_optimizer("adadelta", flavor="keras").hyperparams()["rho"] == 0.95
    with pytest.raises(ValueError, match="flavor"):
        optim_pkg.make_optimizer("asgd", flavor="keras")
