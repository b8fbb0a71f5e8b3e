"""What every optimizer test against ``torch.optim`` shares: the lockstep driver and its helpers.

:func:`lockstep` steps one of our optimizers and torch's (float64, ``foreach=False``) side by side on the same
initial weights and the same gradient sequence, through either of our two parameter paths (``"flat"``: a
:class:`~gru_core.model.params.ParamDict`, ``"dict"``: plain arrays), and checks after every step that every
parameter agrees, that our step left the gradients alone and re-bound no array; at the end, that the flat buffer
is still the one the views share and that the state agrees under torch's names (:func:`assert_state_like_torch`).
Each test file keeps its own cases and gradient sequence (each is built to reach its optimizers' branches).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from gru_core.model.params import ParamDict

PATHS = ["flat", "dict"]
RTOL, ATOL = 1e-12, 1e-14


def initial_params(shapes: dict[str, tuple[int, ...]], seed: int = 7, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: scale * rng.standard_normal(s) for k, s in shapes.items()}


def copy_arrays(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in d.items()}


def on_path(path: str, arrays: dict[str, np.ndarray]):
    """Fresh copies of ``arrays`` as the optimizer meets them on ``path``: one flat ParamDict, or plain arrays."""
    return ParamDict.from_arrays(arrays) if path == "flat" else copy_arrays(arrays)


def case_id(case) -> str:
    """A readable test id for a ``(name, kwargs)`` case."""
    name, kw = case
    return name + ("-" + "-".join(f"{k}={v}" for k, v in kw.items()) if kw else "-defaults")


@contextlib.contextmanager
def torch_default_dtype(torch, dtype):
    """torch's default dtype set for a block (some optimizers keep scalars in it: ASGD's eta and mu)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def set_lr(values: dict[int, float]) -> dict[int, Callable]:
    """A learning-rate schedule (step → lr, applied before that step) as :func:`lockstep`'s ``schedule``."""

    def setter(lr: float) -> Callable:
        def apply(opt, topts) -> None:
            opt.lr = lr
            for topt in topts:
                for group in topt.param_groups:
                    group["lr"] = lr

        return apply

    return {t: setter(lr) for t, lr in values.items()}


def torch_state(topts: Sequence, tp) -> dict:
    """torch's state for tensor ``tp`` in whichever optimizer holds it ({} where none keeps any: plain SGD)."""
    return next((o.state[tp] for o in topts if tp in o.state), {})


def assert_state_like_torch(opt, topts: Sequence, tparams: dict, steps: int, rtol: float = 1e-11,
                            atol: float = ATOL, scalar_rtol: float = RTOL, where: str = "") -> None:  # fmt: skip
    """Our state holds torch's keys with torch's values: ``step`` as an int, torch's 0-d tensors (NAdam's
    ``mu_product``, ASGD's ``eta`` and ``mu``) as floats, every other entry as an array of torch's shape."""
    for k, tp in tparams.items():
        tstate = torch_state(topts, tp)
        assert set(opt.state[k]) == set(tstate), (k, set(opt.state[k]), set(tstate))
        for key, tval in tstate.items():
            ours = opt.state[k][key]
            if key == "step":
                assert ours == int(tval.item()) == steps, (where, k)
            elif tval.dim() == 0 and not isinstance(ours, np.ndarray):
                assert isinstance(ours, float), (k, key, type(ours))
                assert ours == pytest.approx(tval.item(), rel=scalar_rtol, abs=0.0), (where, k, key)
            else:
                assert ours.shape == tuple(tval.shape), (k, key)
                np.testing.assert_allclose(ours, tval.numpy(), rtol=rtol, atol=atol, err_msg=f"{where} {k} {key}")


def lockstep(torch, make_ours: Callable, make_torch: Callable, init: dict[str, np.ndarray],
             grads: Sequence[dict[str, np.ndarray]], path: str, schedule: dict[int, Callable] | None = None,
             context: Callable | None = None, after_step: Callable | None = None, state_rtol: float = 1e-11,
             rtol: float = RTOL, atol: float = ATOL):  # fmt: skip
    """Step ``make_ours()`` and the torch optimizers ``make_torch(named_tensors)`` (a list, stepped in order)
    side by side over ``grads``; compare as the module docstring says.

    ``schedule`` maps a step number to ``f(ours, torch_optimizers)``, applied before that step (:func:`set_lr`);
    ``context`` wraps torch's steps; ``after_step(t, ours, torch_optimizers, named_tensors)`` runs after each step.
    Returns (ours, our parameters, torch's optimizers, torch's named tensors)."""
    tparams = {k: torch.tensor(v, dtype=torch.float64) for k, v in init.items()}
    topts = make_torch(tparams)
    params = on_path(path, init)
    refs = {k: params[k] for k in init}  # the arrays must never be re-bound
    flat_before = params.flat if path == "flat" else None
    opt = make_ours()
    assert opt.state == {} and opt.steps == 0  # lazily initialised
    for t, g in enumerate(grads, start=1):
        if schedule and t in schedule:
            schedule[t](opt, topts)
        for k, tp in tparams.items():
            tp.grad = torch.tensor(g[k], dtype=torch.float64)
        with context() if context else contextlib.nullcontext():
            for topt in topts:
                topt.step()
        gin = on_path(path, g)
        before = copy_arrays(gin)
        assert opt.step(params, gin) is None
        for k, tp in tparams.items():
            np.testing.assert_allclose(params[k], tp.numpy(), rtol=rtol, atol=atol, err_msg=f"step {t} {k}")
            np.testing.assert_array_equal(gin[k], before[k], err_msg="grads were modified")
            assert params[k] is refs[k]
        if after_step is not None:
            after_step(t, opt, topts, tparams)
    assert opt.steps == len(grads)
    if flat_before is not None:
        assert params.flat is flat_before and all(np.shares_memory(params[k], params.flat) for k in init)
    assert_state_like_torch(opt, topts, tparams, len(grads), rtol=state_rtol, atol=atol)
    return opt, params, topts, tparams
