"""Tests for gru_core.optim.modern: Adafactor and Muon (with its AdamW partner).

* PyTorch flavour: compared step by step with ``torch.optim.Adafactor`` and with ``torch.optim.Muon`` on the
  ``gru.weight_*`` matrices + ``torch.optim.AdamW`` on the rest, both stepped together (float64, single-tensor
  path), on the GRU's real parameter shapes (H = 8, one and two layers), flat ParamDict and plain dict.
  torch 2.13's Muon casts its Newton–Schulz input to bfloat16 on every device; the exact comparison runs torch's
  own Muon code with that one cast turned into a float64 copy (a TorchFunctionMode), and a separate test checks
  that stock torch differs from us by bfloat16 rounding only.
* Newton–Schulz: independent properties (same singular vectors, singular values = the scalar quintic iterated on
  s / ||G||_F, inside the known band of five quintic steps; the cubic iteration converges to U Vᵀ from numpy's SVD).
* Keras flavour of Adafactor: compared with a plain-Python per-element re-implementation of the Keras 3.12
  formulas written here (it does not call the module under test).
* Validation, state_dict, effective_step_size, registry entries, and a rough step-time report at H = 64.
"""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from _exact import assert_plain
from _optimref import ATOL, RTOL, copy_arrays, initial_params, lockstep, on_path
from _torchref import require_torch

from gru_core.model.gru import param_shapes
from gru_core.model.params import ParamDict
from gru_core.optim import Adam
from gru_core.optim.base import HyperParam, OptimizerSpec
from gru_core.optim.modern import SPECS, Adafactor, Muon, newton_schulz

H = 8
N_STEPS = 200


def gru_shapes(layers: int, hidden: int = H, inputs: int = 1, outputs: int = 1) -> dict[str, tuple[int, ...]]:
    """PyTorch's names and shapes of nn.GRU(inputs, hidden, layers) + nn.Linear(hidden, outputs), written out."""
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(layers):
        shapes[f"gru.weight_ih_l{k}"] = (3 * hidden, inputs if k == 0 else hidden)
        shapes[f"gru.weight_hh_l{k}"] = (3 * hidden, hidden)
        shapes[f"gru.bias_ih_l{k}"] = (3 * hidden,)
        shapes[f"gru.bias_hh_l{k}"] = (3 * hidden,)
    shapes["head.weight"] = (outputs, hidden)
    shapes["head.bias"] = (outputs,)
    return shapes


LAYOUTS = {"1layer": gru_shapes(1), "2layers": gru_shapes(2)}


def _is_muon_matrix(name: str) -> bool:  # the rule, as the brief states it
    return name.startswith("gru.weight_")


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return require_torch()


def grad_sequence(shapes, n_steps: int = N_STEPS, seed: int = 1234) -> list[dict[str, np.ndarray]]:
    """Both signs, scales 1e-3 .. 10, drifting mean; at step 1 a zero matrix, zero rows and a zero bias."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(n_steps):
        drift = 0.7 * math.sin(0.05 * t)
        seq.append({k: 10.0 ** rng.uniform(-3, 1) * (rng.standard_normal(s) + drift) for k, s in shapes.items()})
    seq[0]["gru.weight_ih_l0"][...] = 0.0  # Newton–Schulz of 0, Adafactor's eps1 floors
    seq[0]["gru.weight_hh_l0"][:3] = 0.0
    seq[0]["gru.bias_hh_l0"][...] = 0.0
    return seq


def run_against_torch(torch, make_ours, make_torch, shapes, path, schedule=None, context=None, n_steps=N_STEPS):
    """Step ours and torch's side by side (_optimref.lockstep); compare every parameter after every step and the
    state at the end.

    ``make_torch(named_tensors)`` returns torch optimizers (all stepped, in order); ``schedule`` maps a step number
    to ``f(ours, torch_optimizers)`` applied before that step; ``context`` wraps torch's steps.
    """
    opt, params, _, _ = lockstep(torch, make_ours, make_torch, initial_params(shapes, scale=0.5),
                                 grad_sequence(shapes, n_steps), path, schedule=schedule, context=context)  # fmt: skip
    return opt, params


def test_shapes_are_the_models():
    for layers in (1, 2):
        assert gru_shapes(layers) == {k: tuple(s) for k, s in param_shapes(1, H, 1, layers).items()}


# --------------------------------------------------------------------------------------------------
# Adafactor against torch.optim.Adafactor
# --------------------------------------------------------------------------------------------------


def torch_adafactor_kwargs(kw: dict) -> dict:
    """Our registry names -> torch's: eps1/eps2 -> eps=(eps1, eps2), with eps1 = 0.0 meaning torch's None."""
    kw = dict(kw)
    if "eps1" in kw or "eps2" in kw:
        eps1 = kw.pop("eps1", 0.0)
        kw["eps"] = (None if eps1 == 0.0 else eps1, kw.pop("eps2", 1e-3))
    return kw


ADAFACTOR_CASES = [
    {},
    {"weight_decay": 0.05},
    {"maximize": True},
    {"beta2_decay": -0.5},
    {"beta2_decay": -1.0, "d": 1.5},
    {"d": 3.0, "weight_decay": 0.1, "lr": 0.05},
    {"eps1": 1e-3},  # the floor binds for the small gradients
    {"eps2": 2.0},  # the RMS floor binds (parameters have RMS ~0.5)
    {"eps": (1e-2, 0.8)},  # torch's own tuple
    {"eps": (None, 1e-3), "lr": 0.5},  # rho_t = 1/sqrt(t) binds
]


def _id(kw: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in kw.items()) or "defaults"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", ADAFACTOR_CASES, ids=_id)
def test_adafactor_matches_torch_every_step(torch, kw, path, layout):
    run_against_torch(
        torch,
        lambda: Adafactor(**kw),
        lambda tp: [torch.optim.Adafactor(list(tp.values()), foreach=False, **torch_adafactor_kwargs(kw))],
        LAYOUTS[layout],
        path,
    )


def _set_lr(values: dict[str, float]):
    """Schedule entry: set our attributes and the matching torch param groups' lr (group 0 Muon / Adafactor,
    group of optimizer 1 the AdamW partner)."""

    def apply(opt, topts):
        for name, value in values.items():
            setattr(opt, name, value)
            topts[0 if name == "lr" else 1].param_groups[0]["lr"] = value

    return apply


LR_SCHEDULE = {40: {"lr": 3e-3}, 90: {"lr": 0.0}, 100: {"lr": 0.5}, 150: {"lr": 1e-4}}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", [{}, {"weight_decay": 0.05, "d": 2.0}], ids=_id)
def test_adafactor_lr_schedule_matches_torch(torch, kw, path, layout):
    """lr changed between steps applies from the next step (it caps rho_t and scales the weight decay)."""
    run_against_torch(
        torch,
        lambda: Adafactor(**kw),
        lambda tp: [torch.optim.Adafactor(list(tp.values()), foreach=False, **kw)],
        LAYOUTS[layout],
        path,
        schedule={t: _set_lr(v) for t, v in LR_SCHEDULE.items()},
    )


def test_adafactor_state_shapes_are_factored():
    shapes = LAYOUTS["2layers"]
    opt = Adafactor()
    opt.step(
        ParamDict.from_arrays(initial_params(shapes, scale=0.5)), ParamDict.from_arrays(grad_sequence(shapes, 1)[0])
    )
    assert set(opt.state["gru.weight_hh_l1"]) == {"step", "row_var", "col_var"}
    assert opt.state["gru.weight_hh_l1"]["row_var"].shape == (24, 1)
    assert opt.state["gru.weight_hh_l1"]["col_var"].shape == (1, 8)
    assert opt.state["gru.weight_ih_l0"]["col_var"].shape == (1, 1)
    assert opt.state["head.weight"]["row_var"].shape == (1, 1)
    assert set(opt.state["gru.bias_ih_l0"]) == {"step", "variance"}
    assert opt.state["gru.bias_ih_l0"]["variance"].shape == (24,)
    g = grad_sequence(shapes, 1)[0]["gru.weight_hh_l1"]  # t = 1: 1 - beta2_1 = 1, so R, C are the plain means
    np.testing.assert_allclose(opt.state["gru.weight_hh_l1"]["row_var"][:, 0], (g**2).mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(opt.state["gru.weight_hh_l1"]["col_var"][0], (g**2).mean(axis=0), rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_adafactor_eps1_zero_is_the_dtype_machine_epsilon(torch, dtype):
    """eps1 = 0.0 (our default) behaves as torch's eps1=None: the parameters' dtype's machine epsilon."""
    p0 = np.array([0.3, -0.2, 0.5], dtype=dtype)
    g = np.array([1e-9, -2e-9, 3e-9], dtype=dtype)  # sqrt(V) ~ 1e-9: below float32's eps, above float64's
    params = {"w": p0.copy()}
    Adafactor().step(params, {"w": g})
    tp = torch.tensor(p0)
    topt = torch.optim.Adafactor([tp], foreach=False)
    tp.grad = torch.tensor(g)
    topt.step()
    assert params["w"].dtype == np.dtype(dtype)
    np.testing.assert_allclose(params["w"], tp.numpy(), rtol=1e-6 if dtype == "float32" else 1e-14)
    eps = float(np.finfo(dtype).eps)
    rms = math.sqrt(float(np.mean(p0.astype(float) ** 2)))
    u = g.astype(float) / np.maximum(np.abs(g.astype(float)), eps)  # V = g² at t = 1
    expected = p0.astype(float) - rms * 1e-2 * u / max(1.0, math.sqrt(float(np.mean(u**2))))
    np.testing.assert_allclose(params["w"], expected, rtol=1e-6 if dtype == "float32" else 1e-14)


# --------------------------------------------------------------------------------------------------
# Adafactor, Keras flavour, against a plain-Python reference of keras/src/optimizers/adafactor.py (3.12)
# --------------------------------------------------------------------------------------------------


def keras_adafactor_reference(p0: np.ndarray, gs: list[np.ndarray], lr, decay, eps1, eps2, d, maximize):
    """Keras 3.12's update_step, element by element in Python floats (matrix: 2-D, vector: 1-D)."""
    matrix = p0.ndim == 2
    rows, cols = p0.shape if matrix else (p0.shape[0], 1)
    P = [[float(p0[i, j]) if matrix else float(p0[i]) for j in range(cols)] for i in range(rows)]
    r, c = [0.0] * rows, [0.0] * cols
    v = [0.0] * rows
    out = []
    for t, garr in enumerate(gs, start=1):
        G = [[float(garr[i, j]) if matrix else float(garr[i]) for j in range(cols)] for i in range(rows)]
        if maximize:
            G = [[-x for x in row] for row in G]
        n = rows * cols
        rho = min(lr, 1 / math.sqrt(t))
        alpha = max(eps2, math.sqrt(sum(x * x for row in P for x in row) / n)) * rho
        b2 = 1 - t**decay
        if matrix:
            r = [b2 * r[i] + (1 - b2) * sum(G[i][j] ** 2 + eps1 for j in range(cols)) / cols for i in range(rows)]
            c = [b2 * c[j] + (1 - b2) * sum(G[i][j] ** 2 + eps1 for i in range(rows)) / rows for j in range(cols)]
            rmean = sum(r) / rows
            V = [[r[i] / rmean * c[j] for j in range(cols)] for i in range(rows)]
        else:
            v = [b2 * v[i] + (1 - b2) * (G[i][0] ** 2 + eps1) for i in range(rows)]
            V = [[v[i]] for i in range(rows)]
        U = [[G[i][j] / math.sqrt(V[i][j]) for j in range(cols)] for i in range(rows)]
        clip = max(1.0, math.sqrt(sum(x * x for row in U for x in row) / n) / d)
        P = [[P[i][j] - alpha * (U[i][j] / clip) for j in range(cols)] for i in range(rows)]
        out.append(np.array(P) if matrix else np.array([row[0] for row in P]))
    return out


KERAS_DEFAULTS = {"lr": 1e-3, "beta2_decay": -0.8, "eps1": 1e-30, "eps2": 1e-3, "d": 1.0, "maximize": False}

KERAS_CASES = [
    {},
    {"lr": 0.5},
    {"eps1": 1e-3},
    {"eps2": 2.0, "d": 1.5},
    {"beta2_decay": -0.5, "maximize": True},
]


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", KERAS_CASES, ids=_id)
def test_adafactor_keras_flavor_matches_reference(kw, path):
    shapes = LAYOUTS["1layer"]
    hp = {**KERAS_DEFAULTS, **kw}
    init = initial_params(shapes, scale=0.5)
    grads = grad_sequence(shapes)
    expected = {
        k: keras_adafactor_reference(
            init[k], [g[k] for g in grads], hp["lr"], hp["beta2_decay"], hp["eps1"], hp["eps2"], hp["d"], hp["maximize"]
        )  # fmt: skip
        for k in shapes
    }
    params = on_path(path, init)
    opt = Adafactor(flavor="keras", **kw)
    for t, g in enumerate(grads):
        opt.step(params, on_path(path, g))
        for k in shapes:
            np.testing.assert_allclose(params[k], expected[k][t], rtol=1e-12, atol=ATOL, err_msg=f"step {t} {k}")


def test_adafactor_keras_defaults_and_difference():
    assert Adafactor(flavor="keras").hyperparams() == {**KERAS_DEFAULTS, "weight_decay": 0.0}
    assert Adafactor().hyperparams() == {"lr": 1e-2, "beta2_decay": -0.8, "eps1": 0.0, "eps2": 1e-3, "d": 1.0,
                                         "weight_decay": 0.0, "maximize": False}  # fmt: skip
    # the flavours differ where eps1 sits: with a large eps1 and small gradients the steps differ clearly
    p = {"w": np.array([1.0, -1.0])}
    q = {"w": np.array([1.0, -1.0])}
    g = {"w": np.array([1e-3, 2e-3])}
    Adafactor(lr=1e-2, eps1=1e-2).step(p, g)  # |U| = g / max(|g|, 1e-2): 0.1, 0.2
    Adafactor(lr=1e-2, eps1=1e-2, flavor="keras").step(q, g)  # |U| = g / sqrt(g² + 1e-2): ~0.01, ~0.02
    np.testing.assert_allclose(1.0 - p["w"][0], 1e-2 * 0.1 / 1.0, rtol=1e-12)
    np.testing.assert_allclose(1.0 - q["w"][0], 1e-2 * 1e-3 / math.sqrt(1e-6 + 1e-2), rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Muon (+ AdamW) against torch.optim.Muon + torch.optim.AdamW
# --------------------------------------------------------------------------------------------------


def no_bfloat16(torch):
    """A TorchFunctionMode under which ``Tensor.bfloat16()`` returns a copy in the tensor's own dtype.

    torch 2.13's ``_zeropower_via_newtonschulz`` starts with ``grad.bfloat16()`` on every device (CPU included);
    inside this mode torch's own Newton–Schulz code runs in float64.  A copy, not the tensor itself: the iteration
    divides it in place and without Nesterov it is the momentum buffer.
    """
    from torch.overrides import TorchFunctionMode

    class NoBFloat16(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is torch.Tensor.bfloat16:
                type(self).calls += 1
                return args[0].clone()
            return func(*args, **(kwargs or {}))

    return NoBFloat16


def float64_newton_schulz(torch):
    """A context manager: torch.optim.Muon's step with its own ``_zeropower_via_newtonschulz`` run under
    :func:`no_bfloat16` (the only change; the rest of torch's step runs as shipped)."""
    import contextlib

    import torch.optim._muon as muon_module

    mode = no_bfloat16(torch)

    @contextlib.contextmanager
    def patched():
        original = muon_module._zeropower_via_newtonschulz

        def in_float64(grad, *args, **kwargs):
            with mode():
                return original(grad, *args, **kwargs)

        muon_module._zeropower_via_newtonschulz = in_float64
        try:
            yield
        finally:
            muon_module._zeropower_via_newtonschulz = original
        assert mode.calls > 0, "torch.optim.Muon no longer calls _zeropower_via_newtonschulz / .bfloat16()"

    return patched


def torch_muon_pair(torch, muon_kw: dict, adamw_kw: dict):
    def build(tp):
        muon = [p for k, p in tp.items() if _is_muon_matrix(k)]
        rest = [p for k, p in tp.items() if not _is_muon_matrix(k)]
        return [torch.optim.Muon(muon, **muon_kw), torch.optim.AdamW(rest, foreach=False, **adamw_kw)]

    return build


# (ours, torch.optim.Muon kwargs, torch.optim.AdamW kwargs)
MUON_CASES = [
    ({}, {}, {}),
    ({"nesterov": False}, {"nesterov": False}, {}),
    ({"weight_decay": 0.0, "adamw_weight_decay": 0.0}, {"weight_decay": 0.0}, {"weight_decay": 0.0}),
    ({"adjust_lr_fn": "original"}, {"adjust_lr_fn": "original"}, {}),
    ({"adjust_lr_fn": "match_rms_adamw"}, {"adjust_lr_fn": "match_rms_adamw"}, {}),
    (
        {"match_rms_adamw": True, "lr": 2e-2, "nesterov": False},
        {"adjust_lr_fn": "match_rms_adamw", "lr": 2e-2, "nesterov": False},
        {},
    ),  # fmt: skip
    ({"momentum": 0.0, "nesterov": False}, {"momentum": 0.0, "nesterov": False}, {}),
    (
        {"momentum": 0.8, "ns_a": 2.0, "ns_b": -1.5, "ns_c": 0.5, "ns_steps": 3, "eps": 0.5},
        {"momentum": 0.8, "ns_coefficients": (2.0, -1.5, 0.5), "ns_steps": 3, "eps": 0.5},
        {},
    ),  # fmt: skip
    (
        {"ns_coefficients": (1.5, -0.5, 0.0), "ns_steps": 12},
        {"ns_coefficients": (1.5, -0.5, 0.0), "ns_steps": 12},
        {},
    ),  # fmt: skip
    (
        {"adamw_lr": 3e-3, "adamw_beta1": 0.8, "adamw_beta2": 0.99, "adamw_eps": 1e-6, "adamw_weight_decay": 0.1},
        {},
        {"lr": 3e-3, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
    ),  # fmt: skip
]


def _muon_id(case) -> str:
    return _id(case[0])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("case", MUON_CASES, ids=_muon_id)
def test_muon_matches_torch_every_step(torch, case, path, layout):
    ours, muon_kw, adamw_kw = case
    opt, _ = run_against_torch(
        torch, lambda: Muon(**ours), torch_muon_pair(torch, muon_kw, adamw_kw), LAYOUTS[layout], path,
        context=float64_newton_schulz(torch),
    )  # fmt: skip
    for name, st in opt.state.items():
        assert set(st) == ({"momentum_buffer"} if _is_muon_matrix(name) else {"step", "exp_avg", "exp_avg_sq"})


MUON_SCHEDULES = {
    "lr": {40: {"lr": 3e-3}, 90: {"lr": 0.0}, 100: {"lr": 2e-2}, 150: {"lr": 1e-4}},
    "both": {40: {"lr": 3e-3, "adamw_lr": 1e-2}, 90: {"adamw_lr": 0.0}, 120: {"lr": 2e-2, "adamw_lr": 1e-4}},
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("which", MUON_SCHEDULES)
@pytest.mark.parametrize("case", [MUON_CASES[0], MUON_CASES[4]], ids=_muon_id)
def test_muon_lr_schedule_matches_torch(torch, case, which, path, layout):
    """lr (Muon's: scales the weight decay and, adjusted, the update) and adamw_lr changed between steps."""
    ours, muon_kw, adamw_kw = case
    run_against_torch(
        torch, lambda: Muon(**ours), torch_muon_pair(torch, muon_kw, adamw_kw), LAYOUTS[layout], path,
        schedule={t: _set_lr(v) for t, v in MUON_SCHEDULES[which].items()},
        context=float64_newton_schulz(torch),
    )  # fmt: skip


def test_stock_torch_muon_runs_newton_schulz_in_bfloat16(torch):
    """Why the comparison above neutralises one cast: stock torch 2.13 takes bfloat16 steps even in float64."""
    rng = np.random.default_rng(3)
    g = rng.standard_normal((8, 24))
    steps = {}
    for label in ("stock", "float64"):
        p = torch.zeros(8, 24, dtype=torch.float64)  # wide: adjusted lr = lr = 1, so -p is the update itself
        opt = torch.optim.Muon([p], lr=1.0, weight_decay=0.0)
        p.grad = torch.tensor(g)
        mode = no_bfloat16(torch)
        if label == "stock":
            opt.step()
        else:
            with mode():
                opt.step()
            assert mode.calls == 1
        steps[label] = -p.numpy()
    as_bf16 = torch.tensor(steps["stock"]).bfloat16().double().numpy()
    np.testing.assert_array_equal(steps["stock"], as_bf16)  # every entry a bfloat16 number
    assert not np.array_equal(steps["float64"], torch.tensor(steps["float64"]).bfloat16().double().numpy())
    ours = {"gru.weight_hh_l0": np.zeros((8, 24))}
    Muon(lr=1.0, weight_decay=0.0).step(ours, {"gru.weight_hh_l0": g})
    np.testing.assert_allclose(-ours["gru.weight_hh_l0"], steps["float64"], rtol=1e-12, atol=1e-14)


def test_muon_differs_from_stock_torch_by_bfloat16_rounding_only(torch):
    shapes = LAYOUTS["2layers"]
    init, grads = initial_params(shapes, scale=0.5), grad_sequence(shapes, 60)
    tp = {k: torch.tensor(init[k]) for k in shapes}
    topts = torch_muon_pair(torch, {}, {})(tp)
    params, opt = copy_arrays(init), Muon()
    worst = 0.0
    for g in grads:
        tbefore = {k: tp[k].numpy().copy() for k in shapes}
        before = copy_arrays(params)
        for k in shapes:
            tp[k].grad = torch.tensor(g[k])
        for o in topts:
            o.step()
        opt.step(params, g)
        for k in shapes:
            ours_step, torch_step = before[k] - params[k], tbefore[k] - tp[k].numpy()
            if _is_muon_matrix(k):
                if np.linalg.norm(torch_step) > 0:
                    worst = max(worst, np.linalg.norm(ours_step - torch_step) / np.linalg.norm(torch_step))
            else:  # the AdamW half is not affected
                np.testing.assert_allclose(params[k], tp[k].numpy(), rtol=RTOL, atol=ATOL)
    assert 1e-4 < worst < 0.06, worst  # bfloat16 has 8 significant bits: ~0.4% per rounding, a few % in all


def test_muon_without_hidden_matrices_is_adamw(torch):
    """The test-function lab's {"xy": (2,)}: everything is AdamW's, Muon's lr plays no part."""
    rng = np.random.default_rng(5)
    xy0 = np.array([-1.5, 2.0])
    gs = [rng.standard_normal(2) * 10 ** rng.uniform(-2, 1) for _ in range(N_STEPS)]
    tp = torch.tensor(xy0)
    topt = torch.optim.AdamW([tp], foreach=False, lr=2e-2, weight_decay=0.05)
    a, b = {"xy": xy0.copy()}, {"xy": xy0.copy()}
    oa, ob = Muon(adamw_lr=2e-2, adamw_weight_decay=0.05), Muon(adamw_lr=2e-2, adamw_weight_decay=0.05, lr=0.7)
    for t, g in enumerate(gs):
        tp.grad = torch.tensor(g)
        topt.step()
        oa.step(a, {"xy": g})
        ob.step(b, {"xy": g})
        if t == 50:
            oa.lr = 0.3
        np.testing.assert_allclose(a["xy"], tp.numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_array_equal(a["xy"], b["xy"])
    assert set(oa.state["xy"]) == {"step", "exp_avg", "exp_avg_sq"}


def test_muon_split_rule():
    assert Muon.uses_muon("gru.weight_hh_l0", (24, 8)) and Muon.uses_muon("gru.weight_ih_l1", (24, 8))
    assert Muon.uses_muon("rnn.weight_hh_l0", (8, 8))  # the plain RNN's hidden matrices too
    assert not Muon.uses_muon("head.weight", (1, 8))
    assert not Muon.uses_muon("gru.bias_ih_l0", (24,))
    assert not Muon.uses_muon("gru.weight_hh_l0", (24,))  # only matrices
    assert not Muon.uses_muon("xy", (2,)) and not Muon.uses_muon("w", (3, 3))


# --------------------------------------------------------------------------------------------------
# Newton–Schulz: independent properties
# --------------------------------------------------------------------------------------------------

NS_SHAPES = [(24, 1), (24, 8), (8, 24), (1, 8), (192, 1), (192, 64), (64, 192)]
A, B, C = 3.4445, -4.775, 2.0315


def _quintic(s: np.ndarray, steps: int = 5) -> np.ndarray:
    for _ in range(steps):
        s = A * s + B * s**3 + C * s**5
    return s


@pytest.mark.parametrize("shape", NS_SHAPES, ids=str)
def test_newton_schulz_is_near_orthogonal(shape):
    rng = np.random.default_rng(11)
    for trial in range(5):
        G = rng.standard_normal(shape) * 10.0 ** rng.uniform(-4, 2)
        G_before = G.copy()
        O = newton_schulz(G)
        np.testing.assert_array_equal(G, G_before)
        assert O.shape == shape
        U, s, Vt = np.linalg.svd(G, full_matrices=False)
        x = s / np.linalg.norm(G)
        assert x.min() >= 3e-3, (shape, trial, x.min())  # where five quintic steps reach the band below
        # same singular vectors: Uᵀ O V is diagonal, with the scalar iteration applied to s / ||G||_F on it
        D = U.T @ O @ Vt.T
        np.testing.assert_allclose(D - np.diag(np.diag(D)), 0.0, atol=1e-12)
        np.testing.assert_allclose(np.diag(D), _quintic(x), rtol=1e-10)
        # the known tolerance of five quintic steps: singular values in about [0.68, 1.21], not exactly 1
        so = np.linalg.svd(O, compute_uv=False)
        assert 0.68 <= so.min() and so.max() <= 1.21, (shape, so)
        k = min(shape)
        gram = O.T @ O if shape[0] >= shape[1] else O @ O.T
        assert np.linalg.norm(gram - np.eye(k), 2) <= max(1.21**2 - 1, 1 - 0.68**2) + 1e-12


def test_newton_schulz_cubic_converges_to_the_polar_factor():
    rng = np.random.default_rng(2)
    for shape in [(24, 8), (8, 24), (24, 1)]:
        G = rng.standard_normal(shape)
        U, _, Vt = np.linalg.svd(G, full_matrices=False)
        O = newton_schulz(G, (1.5, -0.5, 0.0), steps=40)  # the classic cubic iteration converges all the way
        np.testing.assert_allclose(O, U @ Vt, atol=1e-10)


def test_newton_schulz_of_zero_is_zero():
    np.testing.assert_array_equal(newton_schulz(np.zeros((24, 8))), np.zeros((24, 8)))


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------


def _p(torch):
    return [torch.zeros(2, 2, dtype=torch.float64)]


# (class, kwargs, word the message must contain, how torch rejects the same thing, or None when it does not)
BAD_ARGS = [
    (Adafactor, {"lr": -1e-3}, "lr", lambda t: t.optim.Adafactor(_p(t), lr=-1e-3)),
    (Adafactor, {"lr": float("nan")}, "lr", lambda t: t.optim.Adafactor(_p(t), lr=float("nan"))),
    (Adafactor, {"beta2_decay": 0.5}, "beta2_decay", lambda t: t.optim.Adafactor(_p(t), beta2_decay=0.5)),
    (Adafactor, {"eps": (-1e-3, 1e-3)}, "eps1", lambda t: t.optim.Adafactor(_p(t), eps=(-1e-3, 1e-3))),
    (Adafactor, {"eps1": -1.0}, "eps1", lambda t: t.optim.Adafactor(_p(t), eps=(-1.0, 1e-3))),
    (Adafactor, {"eps": (None, -1.0)}, "eps2", lambda t: t.optim.Adafactor(_p(t), eps=(None, -1.0))),
    (Adafactor, {"d": 0.5}, "d value", lambda t: t.optim.Adafactor(_p(t), d=0.5)),
    (Adafactor, {"weight_decay": -0.1}, "weight_decay", lambda t: t.optim.Adafactor(_p(t), weight_decay=-0.1)),
    (Adafactor, {"eps": (None, 1e-3), "eps1": 1e-3}, "eps", None),
    (Adafactor, {"flavor": "keras", "weight_decay": 0.01}, "weight_decay", None),
    (Adafactor, {"beta2": 0.9}, "beta2", None),
    (Adafactor, {"flavor": "tensorflow"}, "flavor", None),
    (Muon, {"lr": -1e-3}, "lr", lambda t: t.optim.Muon(_p(t), lr=-1e-3)),
    (Muon, {"momentum": -0.5}, "momentum", lambda t: t.optim.Muon(_p(t), momentum=-0.5)),
    (Muon, {"weight_decay": -0.1}, "weight_decay", lambda t: t.optim.Muon(_p(t), weight_decay=-0.1)),
    (Muon, {"adjust_lr_fn": "spectral"}, "adjust_lr_fn", lambda t: t.optim.Muon(_p(t), adjust_lr_fn="spectral")),
    (Muon, {"ns_steps": 100}, "ns_steps", None),  # torch: at the first step ("Number of steps must be less ...")
    (Muon, {"ns_steps": 2.5}, "ns_steps", None),
    (Muon, {"eps": -1.0}, "eps", None),
    (Muon, {"ns_coefficients": (1.0, 2.0)}, "ns_coefficients", None),
    (Muon, {"ns_coefficients": (3.4445, -4.775, 2.0315), "ns_a": 3.0}, "ns_coefficients", None),
    (Muon, {"adjust_lr_fn": "original", "match_rms_adamw": True}, "adjust_lr_fn", None),
    (Muon, {"adamw_lr": -1.0}, "adamw_lr", lambda t: t.optim.AdamW(_p(t), lr=-1.0)),
    (Muon, {"adamw_beta1": 1.0}, "adamw_beta1", lambda t: t.optim.AdamW(_p(t), betas=(1.0, 0.999))),
    (Muon, {"adamw_beta2": -0.1}, "adamw_beta2", lambda t: t.optim.AdamW(_p(t), betas=(0.9, -0.1))),
    (Muon, {"adamw_eps": -1e-8}, "adamw_eps", lambda t: t.optim.AdamW(_p(t), eps=-1e-8)),
    (Muon, {"adamw_weight_decay": -0.1}, "adamw_weight_decay", lambda t: t.optim.AdamW(_p(t), weight_decay=-0.1)),
    (Muon, {"flavor": "keras"}, "flavor", None),
    (Muon, {"betas": (0.9, 0.99)}, "betas", None),
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
def test_validation_matches_torch(torch, case):
    """Where torch rejects an argument at construction, so do we (checked above); and torch does reject it."""
    with pytest.raises(ValueError):
        case[3](torch)


def test_torch_rejects_100_ns_steps_at_its_first_step(torch):
    p = torch.zeros(2, 2, dtype=torch.float64)
    opt = torch.optim.Muon([p], ns_steps=100)
    p.grad = torch.ones(2, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="less than 100"):
        opt.step()
    assert Muon(ns_steps=99).ns_steps == 99


def test_negative_lr_set_later_is_rejected_at_step():
    for opt in (Adafactor(), Muon()):
        opt.lr = -1.0
        with pytest.raises(ValueError, match="lr"):
            opt.step({"w": np.ones(2)}, {"w": np.ones(2)})


def test_mismatched_inputs_are_rejected():
    opt = Adafactor()
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros((2, 2))}, {"w": np.zeros(2)})
    opt.step({"w": np.zeros((2, 2))}, {"w": np.ones((2, 2))})
    with pytest.raises(ValueError, match="state"):
        opt.step({"v": np.zeros((2, 2))}, {"v": np.ones((2, 2))})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"w": np.zeros((4,))}, {"w": np.ones((4,))})


# --------------------------------------------------------------------------------------------------
# state_dict
# --------------------------------------------------------------------------------------------------


ROUND_TRIP = [
    (Adafactor, {"weight_decay": 0.05, "eps1": 1e-3, "d": 2.0}),
    (Adafactor, {"flavor": "keras", "lr": 0.05, "beta2_decay": -0.6}),
    (Muon, {"adjust_lr_fn": "match_rms_adamw", "nesterov": False, "ns_steps": 4, "adamw_lr": 3e-3}),
    (Muon, {"momentum": 0.9, "ns_a": 2.0, "adamw_beta1": 0.8, "adamw_weight_decay": 0.0}),
]


@pytest.mark.parametrize("resume_path", ["flat", "dict"])
@pytest.mark.parametrize("case", ROUND_TRIP, ids=lambda c: f"{c[0].__name__}-{_id(c[1])}")
def test_state_dict_round_trip_continues_identically(case, resume_path):
    cls, kw = case
    shapes = LAYOUTS["2layers"]
    grads = grad_sequence(shapes, 80)
    opt = cls(**kw)
    params = ParamDict.from_arrays(initial_params(shapes, scale=0.5))
    for g in grads[:30]:
        opt.step(params, ParamDict.from_arrays(g))
    sd = opt.state_dict()
    assert_plain(sd)
    assert sd["steps"] == 30 and sd["optimizer"] == cls.__name__

    fresh = cls(flavor=kw.get("flavor", "pytorch"))  # default hyperparameters: load_state_dict restores them
    fresh.load_state_dict(sd)
    assert fresh.hyperparams() == opt.hyperparams()
    for v in sd["state"].values():  # a deep copy was loaded: scribbling on sd changes nothing
        for arr in v.values():
            if isinstance(arr, np.ndarray):
                arr.fill(123.0)
    resumed = on_path(resume_path, dict(params))
    for g in grads[30:]:
        opt.step(params, ParamDict.from_arrays(g))
        fresh.step(resumed, on_path(resume_path, g))
        for k in shapes:
            np.testing.assert_array_equal(resumed[k], params[k])
    assert fresh.steps == opt.steps == 80


def test_state_dict_rejects_the_other_optimizer():
    a = Adafactor()
    a.step({"w": np.ones(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match="Adafactor"):
        Muon().load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="flavor"):
        Adafactor(flavor="keras").load_state_dict(a.state_dict())


# --------------------------------------------------------------------------------------------------
# effective_step_size
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", [{}, {"flavor": "keras"}, {"maximize": True, "eps1": 1e-3, "d": 1.2}], ids=_id)
def test_adafactor_effective_step_size_matches_the_step_taken(kw, path):
    """step taken == effective_step_size * gradient (negated when maximizing), without weight decay."""
    shapes = LAYOUTS["2layers"]
    grads = grad_sequence(shapes, 25)
    opt = Adafactor(**kw)
    params = on_path(path, initial_params(shapes, scale=0.5))
    for g in grads:
        before = copy_arrays(params)
        opt.step(params, on_path(path, g))
    sign = -1.0 if kw.get("maximize") else 1.0
    for k, shape in shapes.items():
        ess = opt.effective_step_size(k)
        assert ess.shape == shape and np.all(ess > 0)
        np.testing.assert_allclose(before[k] - params[k], ess * sign * g[k], rtol=1e-10, atol=1e-15)
    flat = opt.effective_step_size()
    assert flat.shape == (sum(math.prod(s) for s in shapes.values()),)
    np.testing.assert_array_equal(flat, np.concatenate([opt.effective_step_size(k).ravel() for k in shapes]))
    last = opt.effective_step_size("head.bias")
    opt.lr = opt.lr / 4  # rho_t = min(lr, 1/sqrt(t)) = lr here: the multiplier follows the new lr
    np.testing.assert_allclose(opt.effective_step_size("head.bias") * 4, last, rtol=1e-14)


def test_adafactor_effective_step_size_needs_a_step_after_loading():
    opt = Adafactor()
    params = {"w": np.ones(3)}
    opt.step(params, {"w": np.ones(3)})
    fresh = Adafactor()
    fresh.load_state_dict(opt.state_dict())
    with pytest.raises(RuntimeError, match="step"):
        fresh.effective_step_size("w")
    fresh.step(params, {"w": np.ones(3)})
    assert fresh.effective_step_size("w").shape == (3,)
    with pytest.raises(RuntimeError):
        Adafactor().effective_step_size()


@pytest.mark.parametrize("path", ["flat", "dict"])
@pytest.mark.parametrize("kw", [{}, {"adjust_lr_fn": "match_rms_adamw", "nesterov": False}], ids=_id)
def test_muon_effective_step_size_matches_the_step_taken(kw, path):
    """AdamW parameters: step == ess * exp_avg.  Muon matrices: ess is lr * ratio everywhere and step / ess is the
    orthogonalised momentum: the singular vectors of the (Nesterov) momentum, singular values in the NS band."""
    shapes = LAYOUTS["2layers"]
    grads = grad_sequence(shapes, 25)
    opt = Muon(weight_decay=0.0, adamw_weight_decay=0.0, **kw)
    params = on_path(path, initial_params(shapes, scale=0.5))
    for g in grads:
        before = copy_arrays(params)
        opt.step(params, on_path(path, g))
    for k, shape in shapes.items():
        ess = opt.effective_step_size(k)
        assert ess.shape == shape and np.all(ess > 0)
        if not _is_muon_matrix(k):
            np.testing.assert_allclose(before[k] - params[k], ess * opt.state[k]["exp_avg"], rtol=1e-10, atol=1e-15)
            continue
        rows, cols = shape
        ratio = 0.2 * math.sqrt(max(rows, cols)) if kw else math.sqrt(max(1.0, rows / cols))
        np.testing.assert_allclose(ess, 1e-3 * ratio, rtol=1e-15)
        O = (before[k] - params[k]) / ess
        buf = opt.state[k]["momentum_buffer"]
        M = buf if kw else g[k] + 0.95 * (buf - g[k])
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        D = U.T @ O @ Vt.T
        np.testing.assert_allclose(D - np.diag(np.diag(D)), 0.0, atol=1e-9)
        assert np.all((np.diag(D) > 0.68) & (np.diag(D) < 1.21)), np.diag(D)


# --------------------------------------------------------------------------------------------------
# registry entries
# --------------------------------------------------------------------------------------------------


def test_specs_are_complete():
    assert list(SPECS) == ["adafactor", "muon"]
    assert (SPECS["adafactor"].name, SPECS["muon"].name) == ("Adafactor", "Muon")
    assert (SPECS["adafactor"].cls, SPECS["muon"].cls) == (Adafactor, Muon)
    assert (SPECS["adafactor"].torch, SPECS["muon"].torch) == ("Adafactor", "Muon")
    assert SPECS["adafactor"].flavors == ("pytorch", "keras") and SPECS["muon"].flavors == ("pytorch",)
    assert "Shazeer" in SPECS["adafactor"].paper and "Jordan" in SPECS["muon"].paper
    assert "Liu" in SPECS["muon"].paper
    for spec in SPECS.values():
        assert isinstance(spec, OptimizerSpec)
        for text in (spec.description, spec.paper, spec.idea):
            assert text and "\n" not in text
        names = [hp.name for hp in spec.hyperparams]
        assert names == list(spec.cls.HYPER_NAMES)
        for hp in spec.hyperparams:
            assert isinstance(hp, HyperParam) and hp.kind in {"float", "int", "bool"}
            assert hp.help and "\n" not in hp.help
            if hp.kind != "bool":
                assert hp.low <= hp.default <= hp.high, hp
            assert not hp.log or hp.low > 0
    assert "machine epsilon" in next(hp.help for hp in SPECS["adafactor"].hyperparams if hp.name == "eps1")


def test_registry_defaults_are_torchs(torch):
    p = [torch.zeros(2, 2, dtype=torch.float64)]
    ta = torch.optim.Adafactor(p).defaults
    ours = SPECS["adafactor"].defaults()
    assert ta["eps"] == (None, ours["eps2"]) and ours["eps1"] == 0.0  # 0.0 stands for torch's None
    for name in ("lr", "beta2_decay", "d", "weight_decay", "maximize"):
        assert ta[name] == ours[name], name
    tm = torch.optim.Muon(p).defaults
    ours = SPECS["muon"].defaults()
    assert tm["ns_coefficients"] == (ours["ns_a"], ours["ns_b"], ours["ns_c"])
    assert tm["adjust_lr_fn"] is None and ours["match_rms_adamw"] is False
    for name in ("lr", "weight_decay", "momentum", "nesterov", "eps", "ns_steps"):
        assert tm[name] == ours[name], name
    tw = torch.optim.AdamW(p).defaults
    assert tw["betas"] == (ours["adamw_beta1"], ours["adamw_beta2"])
    assert (tw["eps"], tw["weight_decay"]) == (ours["adamw_eps"], ours["adamw_weight_decay"])
    assert ours["adamw_lr"] == 1e-3  # our choice (= Muon's lr), documented


# --------------------------------------------------------------------------------------------------
# rough timing (reported, not asserted)
# --------------------------------------------------------------------------------------------------


def test_step_time_report(capsys):
    shapes = gru_shapes(1, hidden=64)
    rng = np.random.default_rng(0)
    grads = [ParamDict.from_arrays({k: rng.standard_normal(s) for k, s in shapes.items()}) for _ in range(20)]
    times = {}
    for label, opt in (("Adam", Adam()), ("Adafactor", Adafactor()), ("Muon", Muon())):
        params = ParamDict.from_arrays(initial_params(shapes, scale=0.5))
        opt.step(params, grads[0])
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 0.3:
            opt.step(params, grads[n % len(grads)])
            n += 1
        times[label] = (time.perf_counter() - t0) / n
        assert np.all(np.isfinite(params.flat))
    with capsys.disabled():
        print(f"\nstep time, GRU H=64 ({sum(math.prod(s) for s in shapes.values())} params): "
              + ", ".join(f"{k} {v * 1e6:.0f} us ({v / times['Adam']:.1f}x)" for k, v in times.items()))  # fmt: skip


def test_state_shapes_describe_the_state():
    shapes = LAYOUTS["1layer"]
    for opt in (Adafactor(), Muon()):
        opt.step(
            ParamDict.from_arrays(initial_params(shapes, scale=0.5)), ParamDict.from_arrays(grad_sequence(shapes, 1)[0])
        )
        for k, s in shapes.items():
            arrays = {key: v.shape for key, v in opt.state[k].items() if isinstance(v, np.ndarray)}
            assert opt.state_shapes(k, s) == arrays
    assert Adafactor().state_shapes("gru.weight_hh_l0", (24, 8)) == {"row_var": (24, 1), "col_var": (1, 8)}
    assert Muon().state_shapes("gru.weight_hh_l0", (24, 8)) == {"momentum_buffer": (24, 8)}
    assert Muon().state_shapes("head.weight", (1, 8)) == {"exp_avg": (1, 8), "exp_avg_sq": (1, 8)}
