"""Tests for gru_core.optim.

* PyTorch flavour: compared step by step with ``torch.optim`` (float64, single-tensor path).
* Keras flavour: compared with a plain per-element re-implementation of the tf.keras 2.15 formulas written
  here (it does not call the module under test).
* State, lr changes, state_dict, validation, registry, effective_step_size.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
from _exact import assert_plain
from _optimref import ATOL, case_id, copy_arrays, initial_params, lockstep, on_path, set_lr
from _torchref import require_torch

from gru_core.model.params import ParamDict
from gru_core.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    HyperParam,
    Optimizer,
    OptimizerSpec,
    RMSprop,
    make_optimizer,
)

SHAPES = {"gru.weight_ih_l0": (6, 3), "gru.bias_ih_l0": (6,), "head.weight": (1, 2)}
N_STEPS = 220
CLASSES = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
TORCH_NAMES = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return require_torch()


def grad_sequence(n_steps: int = N_STEPS, seed: int = 1234) -> list[dict[str, np.ndarray]]:
    """A fixed gradient sequence: never zero, both signs, scales spanning 1e-3 .. 10, drifting mean."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(n_steps):
        drift = 0.7 * math.sin(0.05 * t)
        seq.append({k: 10.0 ** rng.uniform(-3, 1) * (rng.standard_normal(s) + drift) for k, s in SHAPES.items()})
    return seq


GRADS = grad_sequence()


# --------------------------------------------------------------------------------------------------
# PyTorch flavour against torch.optim
# --------------------------------------------------------------------------------------------------

TORCH_CASES = [
    ("sgd", {}),  # torch's default lr (1e-3)
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.02, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "weight_decay": 0.05, "maximize": True}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("adagrad", {"eps": 1e-6, "maximize": True}),
    ("rmsprop", {}),
    ("rmsprop", {"alpha": 0.9, "momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.5, "weight_decay": 0.01, "eps": 1e-6}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"lr": 1e-2, "betas": (0.8, 0.99), "weight_decay": 0.01}),
    ("adam", {"weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.1, "amsgrad": True}),
    ("adamw", {"lr": 1e-2, "betas": (0.5, 0.9), "eps": 1e-6}),
]


def run_against_torch(torch, name: str, kw: dict, path: str, lr_schedule: dict[int, float] | None = None):
    """Step our optimizer and torch's side by side (_optimref.lockstep): params every step, state at the end."""
    lockstep(torch, lambda: CLASSES[name](**kw),
             lambda tp: [getattr(torch.optim, TORCH_NAMES[name])(list(tp.values()), foreach=False, **kw)],
             initial_params(SHAPES), GRADS, path, schedule=set_lr(lr_schedule) if lr_schedule else None)  # fmt: skip


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=case_id)
def test_matches_torch_every_step(torch, case, path):
    name, kw = case
    run_against_torch(torch, name, kw, path)


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize(
    "case",
    [
        ("sgd", {"lr": 0.05, "momentum": 0.9}),
        ("adagrad", {"lr_decay": 0.01}),
        ("rmsprop", {"momentum": 0.9, "centered": True}),
        ("adam", {"amsgrad": True}),
        ("adamw", {}),
    ],
    ids=case_id,
)
def test_lr_schedule_matches_torch(torch, case, path):
    """lr changed between steps (as a scheduler or a slider would) applies from the next step, as in torch."""
    name, kw = case
    run_against_torch(torch, name, kw, path, lr_schedule={40: 3e-3, 90: 0.0, 100: 2e-2, 150: 1e-4})


# torch's tuple arguments and the registry's scalar hyperparameters they become
TORCH_TUPLES = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"),
                "step_sizes": ("step_size_min", "step_size_max"), "eps": ("eps1", "eps2")}  # fmt: skip


def test_torch_defaults_match_registry(torch):
    """Every registry optimizer that names a torch.optim class has that class's defaults (its own extra
    hyperparameters, e.g. Muon's AdamW partner's, aside)."""
    p = [torch.zeros(2, 2, dtype=torch.float64)]
    checked = 0
    for key, spec in OPTIMIZERS.items():
        if spec.torch is None:
            continue
        assert spec.torch == TORCH_NAMES.get(key, spec.torch) and hasattr(torch.optim, spec.torch), key
        tdefaults = dict(getattr(torch.optim, spec.torch)(p).defaults)
        for name, (a, b) in TORCH_TUPLES.items():
            if isinstance(tdefaults.get(name), tuple):
                tdefaults[a], tdefaults[b] = tdefaults.pop(name)
        ours = spec.defaults("pytorch")
        shared = set(ours) & set(tdefaults)
        assert "lr" in shared, key
        for hp_name in shared:
            if tdefaults[hp_name] is None:  # torch's "the dtype's own" (Adafactor's eps1): said in our help
                continue
            assert tdefaults[hp_name] == ours[hp_name], (key, hp_name, tdefaults[hp_name], ours[hp_name])
        checked += 1
    assert checked >= 5


# validation cases: (class, kwargs, word the message must contain, whether torch rejects it as well)
BAD_ARGS = [
    (SGD, {"lr": -0.1}, "lr", True),
    (SGD, {"lr": float("nan")}, "lr", False),  # torch.optim.SGD checks `lr < 0`, which lets NaN through
    (SGD, {"momentum": -0.5}, "momentum", True),
    (SGD, {"weight_decay": -1.0}, "weight_decay", True),
    (SGD, {"nesterov": True}, "nesterov", True),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov", True),
    (SGD, {"flavor": "keras"}, "flavor", False),
    (SGD, {"betas": (0.9, 0.99)}, "betas", False),
    (Adagrad, {"lr": -1e-3}, "lr", True),
    (Adagrad, {"lr_decay": -0.1}, "lr_decay", True),
    (Adagrad, {"weight_decay": -0.1}, "weight_decay", True),
    (Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value", True),
    (Adagrad, {"eps": -1e-10}, "eps", True),
    (RMSprop, {"lr": -1e-3}, "lr", True),
    (RMSprop, {"eps": -1e-8}, "eps", True),
    (RMSprop, {"alpha": -0.1}, "alpha", True),
    (RMSprop, {"alpha": 1.0}, "alpha", False),  # torch only checks alpha >= 0
    (RMSprop, {"momentum": -0.1}, "momentum", True),
    (RMSprop, {"weight_decay": -0.1}, "weight_decay", True),
    (RMSprop, {"flavor": "tensorflow"}, "flavor", False),
    (RMSprop, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", False),
    (RMSprop, {"rho": 0.9}, "rho", False),
    (RMSprop, {"flavor": "keras", "lr": -1.0}, "lr", False),
    (Adam, {"lr": -1e-3}, "lr", True),
    (Adam, {"eps": -1e-8}, "eps", True),
    (Adam, {"betas": (1.0, 0.999)}, "beta", True),
    (Adam, {"betas": (-0.1, 0.999)}, "beta", True),
    (Adam, {"betas": (0.9, 1.0)}, "beta", True),
    (Adam, {"weight_decay": -0.1}, "weight_decay", True),
    (Adam, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", False),
    (Adam, {"momentum": 0.9}, "momentum", False),
    (Adam, {"flavor": "Keras"}, "flavor", False),
    (AdamW, {"lr": -1e-3}, "lr", True),
    (AdamW, {"betas": (0.9, 1.5)}, "beta", True),
    (AdamW, {"flavor": "keras"}, "flavor", False),
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
    """Where torch rejects an argument, so do we (checked above); and torch does reject it."""
    cls, kw, _, _ = case
    with pytest.raises(ValueError):
        getattr(torch.optim, cls.__name__)([torch.zeros(2, dtype=torch.float64)], **kw)


# --------------------------------------------------------------------------------------------------
# Keras flavour against a straightforward per-element reference
# --------------------------------------------------------------------------------------------------


def keras_rmsprop_reference(p0: float, gs: list[float], lr, rho, eps, momentum, centered) -> list[float]:
    p, v, a, m, out = p0, 0.0, 0.0, 0.0, []
    for g in gs:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            denom = v - a * a + eps
        else:
            denom = v + eps
        inc = lr * g / math.sqrt(denom)
        if momentum > 0:
            m = momentum * m + inc
            p -= m
        else:
            p -= inc
        out.append(p)
    return out


def keras_adam_reference(p0: float, gs: list[float], lr, b1, b2, eps, amsgrad) -> list[float]:
    p, m, v, vhat, out = p0, 0.0, 0.0, 0.0, []
    for t, g in enumerate(gs, start=1):
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        if amsgrad:
            vhat = max(vhat, v)
        p -= alpha * m / (math.sqrt(vhat if amsgrad else v) + eps)
        out.append(p)
    return out


KERAS_DEFAULTS = {
    "rmsprop": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7, "amsgrad": False},
}

KERAS_CASES = [
    ("rmsprop", {}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"lr": 1e-2, "alpha": 0.95, "centered": True, "momentum": 0.5, "eps": 1e-5}),
    ("adam", {}),
    ("adam", {"amsgrad": True}),
    ("adam", {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-4, "amsgrad": True}),
]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", KERAS_CASES, ids=case_id)
def test_keras_flavor_matches_reference(case, path):
    name, kw = case
    hp = {**KERAS_DEFAULTS[name], **kw}  # the reference uses Keras' documented defaults, written out above
    init = initial_params(SHAPES)
    expected = {}
    for k in SHAPES:
        traj = np.empty((len(GRADS),) + SHAPES[k])
        for idx in np.ndindex(SHAPES[k]):
            gs = [float(g[k][idx]) for g in GRADS]
            if name == "rmsprop":
                ref = keras_rmsprop_reference(
                    float(init[k][idx]), gs, hp["lr"], hp["alpha"], hp["eps"], hp["momentum"], hp["centered"]
                )
            else:
                b1, b2 = hp.get("betas", (hp["beta1"], hp["beta2"]))
                ref = keras_adam_reference(float(init[k][idx]), gs, hp["lr"], b1, b2, hp["eps"], hp["amsgrad"])
            traj[(slice(None), *idx)] = ref
        expected[k] = traj

    params = on_path(path, init)
    opt = CLASSES[name](flavor="keras", **kw)
    for t, g in enumerate(GRADS):
        grads = on_path(path, g)
        opt.step(params, grads)
        for k in SHAPES:
            np.testing.assert_array_equal(grads[k], g[k])
            np.testing.assert_allclose(params[k], expected[k][t], rtol=1e-12, atol=ATOL, err_msg=f"step {t} {k}")


def test_keras_defaults_differ_from_pytorch():
    k = RMSprop(flavor="keras").hyperparams()
    p = RMSprop().hyperparams()
    assert (k["lr"], k["alpha"], k["eps"]) == (1e-3, 0.9, 1e-7)
    assert (p["lr"], p["alpha"], p["eps"]) == (1e-2, 0.99, 1e-8)
    ka, pa = Adam(flavor="keras").hyperparams(), Adam().hyperparams()
    assert (ka["lr"], ka["beta1"], ka["beta2"], ka["eps"]) == (1e-3, 0.9, 0.999, 1e-7)
    assert pa["eps"] == 1e-8
    # explicitly given values win over either flavour's defaults
    assert RMSprop(flavor="keras", alpha=0.5, eps=1e-3).hyperparams()["alpha"] == 0.5
    assert RMSprop(flavor="keras", alpha=0.5, eps=1e-3).hyperparams()["eps"] == 1e-3
    assert Adam(flavor="keras", betas=(0.5, 0.6)).betas == (0.5, 0.6)


def _one_step_delta(opt: Optimizer, g: float) -> float:
    params = {"w": np.array([1.0])}
    opt.step(params, {"w": np.array([g])})
    return 1.0 - float(params["w"][0])


def test_rmsprop_eps_placement_differs_measurably_for_tiny_gradients():
    lr, rho, eps, g = 1e-3, 0.9, 1e-7, 1e-6  # identical hyperparameters in both flavours
    d_torch = _one_step_delta(RMSprop(lr=lr, alpha=rho, eps=eps), g)
    d_keras = _one_step_delta(RMSprop(lr=lr, alpha=rho, eps=eps, flavor="keras"), g)
    v = (1 - rho) * g * g
    assert d_torch == pytest.approx(lr * g / (math.sqrt(v) + eps), rel=1e-12)  # eps outside the sqrt
    assert d_keras == pytest.approx(lr * g / math.sqrt(v + eps), rel=1e-12)  # eps inside the sqrt
    assert d_torch / d_keras > 100
    # for large gradients the two agree closely
    big_t = _one_step_delta(RMSprop(lr=lr, alpha=rho, eps=eps), 10.0)
    big_k = _one_step_delta(RMSprop(lr=lr, alpha=rho, eps=eps, flavor="keras"), 10.0)
    assert big_t == pytest.approx(big_k, rel=1e-6)


def test_adam_eps_hat_differs_measurably_for_tiny_gradients():
    lr, b1, b2, eps, g = 1e-3, 0.9, 0.999, 1e-7, 1e-8
    d_torch = _one_step_delta(Adam(lr=lr, betas=(b1, b2), eps=eps), g)
    d_keras = _one_step_delta(Adam(lr=lr, betas=(b1, b2), eps=eps, flavor="keras"), g)
    # first step: m = (1-b1) g, v = (1-b2) g²
    assert d_torch == pytest.approx(lr * g / (g + eps), rel=1e-12)
    alpha1 = lr * math.sqrt(1 - b2) / (1 - b1)
    assert d_keras == pytest.approx(alpha1 * (1 - b1) * g / (math.sqrt(1 - b2) * g + eps), rel=1e-12)
    assert d_torch / d_keras > 10
    # Keras' eps is PyTorch's eps * sqrt(1 - b2^t): at t=1 a rescaled torch eps reproduces the Keras step
    d_rescaled = _one_step_delta(Adam(lr=lr, betas=(b1, b2), eps=eps / math.sqrt(1 - b2)), g)
    assert d_rescaled == pytest.approx(d_keras, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# state, lr, state_dict
# --------------------------------------------------------------------------------------------------


def test_state_is_lazy_named_like_torch_and_views_into_paramdicts():
    opt = Adam(amsgrad=True)
    params = ParamDict.from_arrays(initial_params(SHAPES))
    assert opt.state == {}
    g = GRADS[0]
    opt.step(params, ParamDict.from_arrays(g))
    assert opt.steps == 1
    for k, shape in SHAPES.items():
        st = opt.state[k]
        assert set(st) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
        assert st["step"] == 1
        assert st["exp_avg"].shape == shape and st["exp_avg"].dtype == np.float64
        np.testing.assert_allclose(st["exp_avg"], 0.1 * g[k], rtol=1e-15)
        np.testing.assert_allclose(st["exp_avg_sq"], 0.001 * g[k] ** 2, rtol=1e-12)
        np.testing.assert_array_equal(st["max_exp_avg_sq"], st["exp_avg_sq"])
    # all names' buffers are views into one contiguous buffer per state key
    bases = {id(opt.state[k]["exp_avg"].base) for k in SHAPES}
    assert len(bases) == 1 and opt.state["head.weight"]["exp_avg"].base is not None
    # and they are live: the next step updates them in place
    before = opt.state["head.weight"]["exp_avg"]
    opt.step(params, ParamDict.from_arrays(GRADS[1]))
    assert opt.state["head.weight"]["exp_avg"] is before
    np.testing.assert_allclose(before, 0.9 * 0.1 * GRADS[0]["head.weight"] + 0.1 * GRADS[1]["head.weight"])


def test_state_names_per_optimizer():
    expected = {
        "sgd": {"momentum_buffer"},
        "adagrad": {"step", "sum"},
        "rmsprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
        "adam": {"step", "exp_avg", "exp_avg_sq"},
    }
    opts = {
        "sgd": SGD(momentum=0.9),
        "adagrad": Adagrad(initial_accumulator_value=0.5),
        "rmsprop": RMSprop(momentum=0.9, centered=True),
        "adam": Adam(),
    }
    for key, opt in opts.items():
        opt.step(copy_arrays(initial_params(SHAPES)), GRADS[0])
        for k in SHAPES:
            assert set(opt.state[k]) == expected[key], key
    np.testing.assert_allclose(opts["adagrad"].state["head.weight"]["sum"], 0.5 + GRADS[0]["head.weight"] ** 2)
    np.testing.assert_array_equal(opts["sgd"].state["gru.bias_ih_l0"]["momentum_buffer"], GRADS[0]["gru.bias_ih_l0"])
    plain = SGD()
    plain.step(copy_arrays(initial_params(SHAPES)), GRADS[0])
    assert plain.state == {k: {} for k in SHAPES}


@pytest.mark.parametrize("path", ["flat", "dict"])
def test_lr_change_applies_from_next_step(path):
    opt = SGD(lr=0.1)
    params = on_path(path, initial_params(SHAPES))
    opt.step(params, on_path(path, GRADS[0]))
    opt.lr = 0.25
    assert opt.hyperparams()["lr"] == 0.25
    before = copy_arrays(params)
    opt.step(params, on_path(path, GRADS[1]))
    for k in SHAPES:
        np.testing.assert_allclose(before[k] - params[k], 0.25 * GRADS[1][k], rtol=1e-12, atol=1e-15)


def test_negative_lr_set_later_is_rejected_at_step():
    opt = Adam()
    opt.lr = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step(copy_arrays(initial_params(SHAPES)), GRADS[0])


ROUND_TRIP = [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"momentum": 0.9, "centered": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {"lr": 3e-3}),
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

    fresh = CLASSES[name]()  # default hyperparameters: load_state_dict must restore them
    fresh.load_state_dict(sd)
    assert fresh.hyperparams() == opt.hyperparams()
    for v in sd["state"].values():  # the load made a deep copy: scribbling on sd changes nothing
        for arr in v.values():
            if isinstance(arr, np.ndarray):
                arr.fill(123.0)

    resumed = on_path(resume_path, dict(params))
    for g in GRADS[30:80]:
        opt.step(params, ParamDict.from_arrays(g))
        fresh.step(resumed, on_path(resume_path, g))
        for k in SHAPES:
            np.testing.assert_array_equal(resumed[k], params[k])
    assert fresh.steps == opt.steps == 80


def test_state_dict_is_a_copy_and_rejects_other_optimizers():
    opt = Adam()
    params = copy_arrays(initial_params(SHAPES))
    opt.step(params, GRADS[0])
    sd = opt.state_dict()
    saved = sd["state"]["head.weight"]["exp_avg"].copy()
    opt.step(params, GRADS[1])
    np.testing.assert_array_equal(sd["state"]["head.weight"]["exp_avg"], saved)
    with pytest.raises(ValueError, match="Adam"):
        RMSprop().load_state_dict(sd)
    with pytest.raises(ValueError, match="flavor"):
        Adam(flavor="keras").load_state_dict(sd)


def test_plain_dict_then_paramdict_steps_agree_with_plain_only():
    a, b = RMSprop(momentum=0.5), RMSprop(momentum=0.5)
    pa = copy_arrays(initial_params(SHAPES))
    pb = copy_arrays(initial_params(SHAPES))
    for i, g in enumerate(GRADS[:20]):
        a.step(pa, g)
        if i == 10:
            pb = ParamDict.from_arrays(pb)
        b.step(pb, ParamDict.from_arrays(g) if i >= 10 else g)
    for k in SHAPES:
        np.testing.assert_array_equal(pa[k], pb[k])


def test_float32_params_keep_their_dtype():
    init32 = {k: v.astype(np.float32) for k, v in initial_params(SHAPES).items()}
    params = ParamDict.from_arrays(init32)
    opt = Adam(lr=1e-2)
    opt.step(params, ParamDict.from_arrays({k: v.astype(np.float32) for k, v in GRADS[0].items()}))
    assert params.flat.dtype == np.float32
    assert opt.state["head.weight"]["exp_avg"].dtype == np.float32
    assert not np.array_equal(params["head.weight"], init32["head.weight"])


def test_nan_gradient_propagates_without_error():
    opt = Adam()
    params = {"w": np.array([1.0, 2.0])}
    opt.step(params, {"w": np.array([np.nan, 1.0])})
    assert np.isnan(params["w"][0]) and np.isfinite(params["w"][1])


def test_mismatched_inputs_are_rejected():
    opt = SGD()
    with pytest.raises(ValueError, match=re.escape("head.weight")):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(2), "head.weight": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros(2)}, {"w": np.zeros(3)})
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match="state"):
        opt.step({"v": np.zeros(2)}, {"v": np.ones(2)})


# --------------------------------------------------------------------------------------------------
# effective_step_size
# --------------------------------------------------------------------------------------------------


def test_effective_step_size_sgd_predicts_the_next_step():
    opt = SGD(lr=0.07)
    params = ParamDict.from_arrays(initial_params(SHAPES))
    opt.step(params, ParamDict.from_arrays(GRADS[0]))
    ess = opt.effective_step_size()
    before = params.flat.copy()
    g = ParamDict.from_arrays(GRADS[1])
    opt.step(params, g)
    np.testing.assert_allclose(before - params.flat, ess * g.flat, rtol=1e-12, atol=1e-16)
    assert opt.effective_step_size("gru.weight_ih_l0").shape == (6, 3)


ESS_CASES = [
    ("sgd", {"lr": 0.05, "momentum": 0.9}, "momentum_buffer"),
    ("adagrad", {"lr": 0.05, "lr_decay": 0.02}, None),
    ("rmsprop", {}, None),
    ("rmsprop", {"centered": True}, None),
    ("rmsprop", {"flavor": "keras"}, None),
    ("rmsprop", {"flavor": "keras", "centered": True}, None),
    ("adam", {}, "exp_avg"),
    ("adam", {"amsgrad": True}, "exp_avg"),
    ("adam", {"flavor": "keras"}, "exp_avg"),
    ("adam", {"flavor": "keras", "amsgrad": True}, "exp_avg"),
    ("adamw", {"weight_decay": 0.0}, "exp_avg"),
]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", ESS_CASES, ids=lambda c: case_id(c[:2]))
def test_effective_step_size_matches_the_step_taken(case, path):
    """After a step, step taken == effective_step_size * (gradient, or the buffer it multiplies)."""
    name, kw, quantity = case
    opt = CLASSES[name](**kw)
    params = on_path(path, initial_params(SHAPES))
    for g in GRADS[:25]:
        before = copy_arrays(params)
        opt.step(params, on_path(path, g))
    for k in SHAPES:
        q = g[k] if quantity is None else opt.state[k][quantity]
        ess = opt.effective_step_size(k)
        assert ess.shape == SHAPES[k]
        assert np.all(ess > 0)
        np.testing.assert_allclose(before[k] - params[k], ess * q, rtol=1e-10, atol=1e-15)
    flat = opt.effective_step_size()
    assert flat.shape == (sum(int(np.prod(s)) for s in SHAPES.values()),)
    np.testing.assert_array_equal(flat, np.concatenate([opt.effective_step_size(k).ravel() for k in SHAPES]))


def test_effective_step_size_before_any_step_raises():
    with pytest.raises(RuntimeError):
        Adam().effective_step_size()


# --------------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------------


def test_registry_lists_the_classic_five_first_and_every_entry_is_complete():
    assert list(OPTIMIZERS)[:5] == ["sgd", "adagrad", "rmsprop", "adam", "adamw"]
    assert [OPTIMIZERS[k].name for k in CLASSES] == ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]
    assert len({s.name for s in OPTIMIZERS.values()}) == len(OPTIMIZERS)
    for key, spec in OPTIMIZERS.items():
        assert isinstance(spec, OptimizerSpec) and issubclass(spec.cls, Optimizer)
        if key in CLASSES:
            assert spec.cls is CLASSES[key]
        assert key == key.lower() and spec.name.lower() == key, key
        for text in (spec.description, spec.idea, spec.paper):
            assert text and "\n" not in text, key
        assert "pytorch" in spec.flavors
    assert set(OPTIMIZERS["rmsprop"].flavors) == set(OPTIMIZERS["adam"].flavors) == {"pytorch", "keras"}
    assert OPTIMIZERS["sgd"].flavors == ("pytorch",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        OPTIMIZERS["sgd"].name = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        OPTIMIZERS["sgd"].hyperparams[0].default = 1.0  # type: ignore[misc]


def test_registry_hyperparams_are_well_formed():
    for key, spec in OPTIMIZERS.items():
        names = [hp.name for hp in spec.hyperparams]
        assert len(names) == len(set(names))
        assert set(names) == set(spec.cls().hyperparams()), key  # every hyperparameter is in the registry
        for hp in spec.hyperparams:
            assert isinstance(hp, HyperParam)
            assert hp.kind in {"float", "int", "bool"}
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


def test_registry_defaults_equal_class_defaults():
    for key, spec in OPTIMIZERS.items():
        for flavor in spec.flavors:
            defaults = spec.defaults(flavor)
            from_cls = spec.cls(flavor=flavor).hyperparams()
            from_make = make_optimizer(key, flavor=flavor).hyperparams()
            assert defaults == {k: from_cls[k] for k in defaults}, (key, flavor)
            assert defaults == {k: from_make[k] for k in defaults}, (key, flavor)
    assert OPTIMIZERS["rmsprop"].defaults("keras") == KERAS_DEFAULTS["rmsprop"]
    assert OPTIMIZERS["adam"].defaults("keras") == KERAS_DEFAULTS["adam"]
    assert OPTIMIZERS["adamw"].defaults()["weight_decay"] == 0.01
    assert OPTIMIZERS["sgd"].defaults()["lr"] == 1e-3
    with pytest.raises(ValueError, match="flavor"):
        OPTIMIZERS["sgd"].defaults("keras")


def _other_value(hp: HyperParam, flavor: str):
    default = hp.default if flavor == "pytorch" else hp.keras_default
    if hp.kind == "bool":
        return not default
    value = math.sqrt(hp.low * hp.high) if hp.log else hp.low + 0.37 * (hp.high - hp.low)
    return int(value) if hp.kind == "int" else value


def test_every_registry_hyperparam_is_accepted_by_make_optimizer():
    checked = 0
    for key, spec in OPTIMIZERS.items():
        for flavor in spec.flavors:
            for hp in spec.hyperparams:
                if flavor == "keras" and hp.keras_default is None:
                    continue
                value = _other_value(hp, flavor)
                extra = {"momentum": 0.5} if hp.name == "nesterov" else {}
                opt = make_optimizer(key.upper(), flavor=flavor, **{hp.name: value}, **extra)
                assert type(opt) is spec.cls and opt.flavor == flavor
                assert opt.hyperparams()[hp.name] == value, (key, flavor, hp.name)
                checked += 1
    assert checked > 30


def test_make_optimizer_names_betas_and_errors():
    assert isinstance(make_optimizer("AdamW"), AdamW)
    opt = make_optimizer("adam", beta2=0.95)
    assert opt.betas == (0.9, 0.95)
    opt = make_optimizer("adam", flavor="keras", beta1=0.5)
    assert opt.betas == (0.5, 0.999) and opt.eps == 1e-7
    assert make_optimizer("adam", betas=(0.7, 0.8)).betas == (0.7, 0.8)
    with pytest.raises(ValueError, match="betas"):
        make_optimizer("adam", betas=(0.7, 0.8), beta1=0.5)
    with pytest.raises(ValueError) as exc:
        make_optimizer("adamz")  # no such optimizer
    for known in OPTIMIZERS:
        assert known in str(exc.value)
    with pytest.raises(ValueError, match="flavor"):
        make_optimizer("sgd", flavor="keras")
    with pytest.raises(ValueError, match="rho"):
        make_optimizer("rmsprop", rho=0.9)
    for key in ("sgd", "adagrad", "rmsprop"):  # a beta where there is none: the usual message, not a KeyError
        with pytest.raises(ValueError, match="unknown hyperparameter.*beta1"):
            make_optimizer(key, beta1=0.9)
    with pytest.raises(ValueError, match="beta"):
        make_optimizer("adam", beta1=1.0)
