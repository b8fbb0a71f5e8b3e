"""Gradient-descent optimizers in NumPy, with PyTorch's names, defaults and exact update rules.

The family, in the order it grew (each step fixes a weakness of the previous one):

* **SGD**      ``p -= lr * g``.  One learning rate for every parameter, no memory.
* **momentum** keep a running sum ``buf = momentum * buf + g`` and step along it: noise averages out,
  consistent directions accelerate (Nesterov: look ahead along ``buf`` before stepping).
* **Adagrad**  divide by the root of the *sum* of all squared gradients seen so far: rarely-updated
  parameters get big steps, frequent ones small steps; but the sum only grows, so the steps die out.
* **RMSprop**  replace that sum by an exponential moving *average* (``alpha``), so the step size stays
  alive and tracks the recent gradient scale.
* **Adam**     RMSprop's denominator + momentum's numerator, both as moving averages, each corrected for
  its zero initialisation ("bias correction").  **AdamW** decays the weights directly instead of adding
  ``weight_decay * p`` to the gradient (where Adam's denominator would rescale it).

Every optimizer here reproduces ``torch.optim`` (2.x, single-tensor code path) to rounding error, and
RMSprop/Adam also offer ``flavor="keras"``: the formulas and defaults of tf.keras 2.15, whose small
differences (epsilon inside the square root, "epsilon hat", ``rho=0.9``) are a teaching point.

Usage::

    opt = make_optimizer("adam", lr=3e-3)
    opt.step(params, grads)          # updates params in place
    opt.state["head.bias"]["exp_avg"]
    opt.lr = 1e-3                    # applies from the next step

``params`` and ``grads`` are dicts ``name -> np.ndarray``.  When both are :class:`ParamDict` objects with
the same layout, the whole update runs on their contiguous ``.flat`` buffers (a handful of vectorised
operations instead of a loop over parameters); the optimizer's state buffers are then ParamDicts too, so
``opt.state[name][key]`` are views into them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from gru_core.model.params import ParamDict

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "HyperParam",
    "Optimizer",
    "OptimizerSpec",
    "RMSprop",
    "make_optimizer",
]

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------------------------------
# Validation helpers (the same checks as torch.optim, with messages that name the argument)
# --------------------------------------------------------------------------------------------------


def _check_nonneg(name: str, value: float) -> None:
    # ``not x >= 0`` (rather than ``x < 0``) also rejects NaN, as most torch.optim checks do
    # (torch.optim.SGD uses ``lr < 0`` and so lets a NaN lr through; we don't).
    if not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be >= 0)")


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be in [0, 1))")


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with torch.lerp's choice of formula.

    For ``weight >= 0.5`` torch computes ``end - (end - start) * (1 - weight)``, which is more accurate there.
    """
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)


# --------------------------------------------------------------------------------------------------
# Base class: state bookkeeping, the flat / per-name dispatch, state_dict
# --------------------------------------------------------------------------------------------------


class Optimizer:
    """Common machinery.  Subclasses implement :meth:`_update` on plain arrays.

    ``_update(p, g, bufs, t, fresh)`` receives one parameter array ``p`` (updated in place), its gradient
    ``g`` (must not be modified), the state buffers it asked for in :meth:`_required_buffers` (same shape as
    ``p``, updated in place), the step number ``t`` (1 for the first step) and the set of buffer names that
    were just created.  It is called once with the flat buffers, or once per parameter name.
    """

    FLAVORS: ClassVar[tuple[str, ...]] = ("pytorch",)
    #: names of the hyperparameters, in registry order (``beta1``/``beta2`` stand for ``betas``)
    HYPER_NAMES: ClassVar[tuple[str, ...]] = ()
    #: whether torch keeps a per-parameter ``"step"`` in the state
    HAS_STEP: ClassVar[bool] = True
    #: flavour -> defaults of the hyperparameters whose default depends on the flavour (see _set_or_default)
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, flavor: str, unknown: dict[str, Any]) -> None:
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(
                f"{type(self).__name__} got unknown hyperparameter(s): {names}; "
                f"known: {', '.join(self.HYPER_NAMES)}, flavor"
            )
        if flavor not in self.FLAVORS:
            raise ValueError(
                f"Invalid flavor {flavor!r} for {type(self).__name__}; supported: {', '.join(self.FLAVORS)}"
            )
        self.flavor = flavor
        self.lr: float = 0.0
        self.steps = 0
        self.state: dict[str, dict[str, Any]] = {}
        # When the state was created from a ParamDict: buffer name -> ParamDict holding that buffer for all
        # parameters (``self.state[name][key]`` are views into it).  None while the state is per name.
        self._flat: dict[str, ParamDict] | None = None
        self._shapes: dict[str, tuple[int, ...]] | None = None

    # ---- helpers for subclasses ----------------------------------------------------------------------

    def _set_or_default(self, **given: Any) -> None:
        """Set each hyperparameter to its given value, or to the flavour's default (``DEFAULTS``) when None."""
        defaults = self.DEFAULTS[self.flavor]
        for name, value in given.items():
            setattr(self, name, defaults[name] if value is None else value)

    def _l2_gradient(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g`` negated when maximizing, then with the L2 penalty ``weight_decay * p`` added (torch's order).

        Either step makes a new array, so the caller's gradient is never modified.
        """
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            g = g + self.weight_decay * p  # L2 penalty folded into the gradient
        return g

    def _check_keras_weight_decay(self) -> None:
        # Keras' own weight decay is decoupled (AdamW-like), so the keras flavours have none.
        if self.flavor == "keras" and self.weight_decay != 0:
            raise ValueError("weight_decay is not supported with flavor='keras' (use flavor='pytorch')")

    # ---- to be provided by subclasses ------------------------------------------------------------

    def _required_buffers(self) -> dict[str, float]:
        """Buffers the next update needs: state name -> initial fill value (created when missing)."""
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        raise NotImplementedError

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    # ---- public API ----------------------------------------------------------------------------------

    def hyperparams(self) -> dict[str, float | bool]:
        """The current hyperparameters, keyed like the registry (``beta1``, ``beta2`` instead of betas)."""
        return {name: getattr(self, name) for name in self.HYPER_NAMES}

    def reset(self) -> None:
        """Forget all state (moments, accumulators, step count); hyperparameters are kept."""
        self.steps = 0
        self.state = {}
        self._flat = None
        self._shapes = None

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply one update to ``params`` in place, using ``grads`` (which are left untouched)."""
        if not self.lr >= 0.0:
            raise ValueError(f"Invalid lr value: {self.lr!r} (must be >= 0)")
        self._check_inputs(params, grads)
        if not self.state:
            self._init_state(params)
        elif self._flat is None and isinstance(params, ParamDict):
            self._pack_state(params)

        need = self._required_buffers()
        fresh = {key for key in need if any(key not in st for st in self.state.values())}
        for key in fresh:
            self._create_buffer(key, need[key], params)

        self.steps += 1
        t = self.steps
        if self.HAS_STEP:
            for st in self.state.values():
                st["step"] = t

        if self._flat is not None and self._is_flat_layout(params) and self._is_flat_layout(grads):
            bufs = {key: self._flat[key].flat for key in need}
            self._update(params.flat, grads.flat, bufs, t, fresh)
        else:
            for name, p in params.items():
                bufs = {key: self.state[name][key] for key in need}
                self._update(p, np.asarray(grads[name]), bufs, t, fresh)

    def effective_step_size(self, name: str | None = None) -> np.ndarray:
        """Per-element multiplier the optimizer applies to its gradient-like quantity.

        Computed from the current state and hyperparameters, i.e. the multiplier that the most recent
        :meth:`step` applied (with the new ``lr`` if it was changed since).  What it multiplies:
        SGD the (momentum) gradient, Adagrad and RMSprop the gradient, Adam the first moment ``exp_avg``.
        Returns the flat vector over all parameters (in ``params`` order) when ``name`` is None, else an
        array shaped like that parameter.
        """
        if not self.state or self._shapes is None:
            raise RuntimeError("effective_step_size() needs the optimizer state: call step() first")
        t = max(self.steps, 1)
        need = list(self._required_buffers())
        if any(key not in st for st in self.state.values() for key in need):
            raise RuntimeError("the state lacks buffers for the current hyperparameters: call step() first")
        if name is not None:
            st = self.state[name]
            return self._effective({k: st[k] for k in need}, t, self._shapes[name])
        if self._flat is not None and need:
            return self._effective({k: self._flat[k].flat for k in need}, t, self._flat[need[0]].flat.shape)
        parts = [self.effective_step_size(n).ravel() for n in self.state]
        return np.concatenate(parts)

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of everything needed to resume: plain dicts, numpy arrays, numbers and strings."""
        return {
            "optimizer": type(self).__name__,
            "flavor": self.flavor,
            "steps": int(self.steps),
            "hyperparams": dict(self.hyperparams()),
            "shapes": {name: tuple(shape) for name, shape in (self._shapes or {}).items()},
            "state": {
                name: {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                for name, st in self.state.items()
            },
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state from :meth:`state_dict` output (values are copied)."""
        kind = state_dict.get("optimizer")
        if kind != type(self).__name__:
            raise ValueError(f"state_dict is for optimizer {kind!r}, not {type(self).__name__}")
        if state_dict.get("flavor") != self.flavor:
            raise ValueError(
                f"state_dict has flavor {state_dict.get('flavor')!r}, optimizer has {self.flavor!r}"
            )
        hyper = state_dict["hyperparams"]
        unknown = set(hyper) - set(self.HYPER_NAMES)
        if unknown:
            raise ValueError(f"state_dict has unknown hyperparameter(s): {sorted(unknown)}")
        for k, v in hyper.items():
            setattr(self, k, v)
        self.reset()
        self.steps = int(state_dict["steps"])
        self.state = copy.deepcopy(state_dict["state"])
        if self.state:
            self._shapes = {name: tuple(shape) for name, shape in state_dict["shapes"].items()}

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams().items())
        flavor = f", flavor={self.flavor!r}" if self.flavor != "pytorch" else ""
        return f"{type(self).__name__}({hp}{flavor})"

    # ---- internals -------------------------------------------------------------------------------

    def _check_inputs(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        if params.keys() != grads.keys():
            raise ValueError(
                f"params and grads have different names: only in params {sorted(set(params) - set(grads))}, "
                f"only in grads {sorted(set(grads) - set(params))}"
            )
        for name, p in params.items():
            if not isinstance(p, np.ndarray):
                raise TypeError(f"params[{name!r}] must be a numpy array (updated in place), got {type(p)}")
            if np.shape(grads[name]) != p.shape:
                raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])}, param has {p.shape}")
        if self.state:
            if params.keys() != self.state.keys():
                raise ValueError("params do not match the optimizer state (call reset() to start afresh)")
            if self._shapes is not None and any(self._shapes[n] != p.shape for n, p in params.items()):
                raise ValueError("parameter shapes do not match the optimizer state")

    def _is_flat_layout(self, arrays: dict[str, np.ndarray]) -> bool:
        # Same names, shapes *and order* as the state's ParamDicts, so the flat buffers line up element-wise.
        return (
            isinstance(arrays, ParamDict)
            and self._shapes is not None
            and list(arrays.shapes.items()) == list(self._shapes.items())
        )

    def _init_state(self, params: dict[str, np.ndarray]) -> None:
        self.state = {name: {} for name in params}
        self._shapes = {name: tuple(p.shape) for name, p in params.items()}
        self._flat = {} if isinstance(params, ParamDict) else None

    def _create_buffer(self, key: str, fill: float, params: dict[str, np.ndarray]) -> None:
        if self._flat is not None and self._is_flat_layout(params):
            buf = params.zeros_like()
            buf.flat.fill(fill)
            self._flat[key] = buf
            for name in self.state:
                self.state[name][key] = buf[name]
        else:
            self._flat = None  # a per-name buffer: the flat path is no longer available
            for name, p in params.items():
                self.state[name][key] = np.full_like(p, fill)

    def _pack_state(self, params: ParamDict) -> None:
        """Move per-name state (e.g. after load_state_dict) into ParamDict buffers so the flat path works."""
        keys = {k for st in self.state.values() for k, v in st.items() if isinstance(v, np.ndarray)}
        if any(not isinstance(st.get(k), np.ndarray) for st in self.state.values() for k in keys):
            return
        flat: dict[str, ParamDict] = {}
        for key in keys:
            buf = params.zeros_like()
            for name in self.state:
                buf[name] = self.state[name][key]
                self.state[name][key] = buf[name]
            flat[key] = buf
        self._flat = flat
        self._shapes = dict(params.shapes)


# --------------------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------------------


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    Defaults: ``lr=1e-3`` (torch 2.x), ``momentum=0``, ``dampening=0``, ``weight_decay=0``,
    ``nesterov=False``, ``maximize=False``.

    Note torch's first momentum step: the buffer starts as a *copy of the gradient* (not zeros, and without
    the ``1 - dampening`` factor), so dampening only acts from the second step on.

    State: ``"momentum_buffer"`` (only when ``momentum != 0``; SGD keeps no ``"step"``).
    """

    HYPER_NAMES = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
    HAS_STEP = False

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        _check_nonneg("lr", lr)
        _check_nonneg("momentum", momentum)
        _check_nonneg("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening == 0")
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.maximize = maximize

    def _required_buffers(self) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if self.momentum != 0 else {}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        if self.momentum != 0:
            buf = bufs["momentum_buffer"]
            if "momentum_buffer" in fresh:
                buf[...] = g  # first step: buf = g
            else:
                buf *= self.momentum  # buf = momentum * buf + (1 - dampening) * g
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g  # p = p - lr * g

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.lr, dtype=float)


# --------------------------------------------------------------------------------------------------
# Adagrad
# --------------------------------------------------------------------------------------------------


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: divide by the root of the running *sum* of squared gradients.

    Defaults: ``lr=1e-2``, ``lr_decay=0``, ``weight_decay=0``, ``initial_accumulator_value=0``,
    ``eps=1e-10``, ``maximize=False``.  ``lr_decay`` shrinks the rate as ``lr / (1 + (t - 1) * lr_decay)``.

    State: ``"step"``, ``"sum"`` (starts at ``initial_accumulator_value``).
    """

    HYPER_NAMES = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")

    def __init__(
        self,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        _check_nonneg("lr", lr)
        _check_nonneg("lr_decay", lr_decay)
        _check_nonneg("weight_decay", weight_decay)
        _check_nonneg("initial_accumulator_value", initial_accumulator_value)
        _check_nonneg("eps", eps)
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.eps = eps
        self.maximize = maximize

    def _required_buffers(self) -> dict[str, float]:
        return {"sum": self.initial_accumulator_value}

    def _clr(self, t: int) -> float:
        return self.lr / (1 + (t - 1) * self.lr_decay)

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        clr = self._clr(t)  # decayed learning rate
        state_sum = bufs["sum"]
        state_sum += g * g  # sum = sum + g^2
        std = np.sqrt(state_sum)
        std += self.eps  # std = sqrt(sum) + eps
        p += (-clr * g) / std  # p = p - clr * g / std

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        return self._clr(t) / (np.sqrt(bufs["sum"]) + self.eps)


# --------------------------------------------------------------------------------------------------
# RMSprop
# --------------------------------------------------------------------------------------------------


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` (default) or ``tf.keras.optimizers.RMSprop`` (``flavor="keras"``).

    PyTorch (defaults ``lr=1e-2, alpha=0.99, eps=1e-8, momentum=0, centered=False, weight_decay=0``)::

        v = alpha * v + (1 - alpha) * g²                     # "square_avg"
        a = alpha * a + (1 - alpha) * g      (centered)      # "grad_avg"
        d = sqrt(v - a²) + eps   (centered)   else   sqrt(v) + eps
        buf = momentum * buf + g / d;  p -= lr * buf     (momentum > 0)
        p -= lr * g / d                                    (otherwise)

    Keras 2.15 (defaults ``lr=1e-3, rho(=alpha)=0.9, eps=1e-7, momentum=0, centered=False``)::

        v = rho * v + (1 - rho) * g²
        a = rho * a + (1 - rho) * g          (centered)
        inc = lr * g / sqrt(v - a² + eps)   (centered)   else   lr * g / sqrt(v + eps)
        m = momentum * m + inc;  p -= m    (momentum > 0)     else   p -= inc

    Differences worth teaching:

    * **eps inside the square root** in Keras, outside in PyTorch.  With eps=1e-7 inside, gradients whose
      RMS is below ~3e-4 get a denominator of ~sqrt(eps) instead of their own scale, so tiny gradients are
      *not* blown up to full-size steps as they are in PyTorch (where the floor is eps=1e-8 itself).
    * **rho 0.9 vs alpha 0.99**: Keras averages over ~10 steps, PyTorch over ~100.
    * **default lr 1e-3 vs 1e-2**.
    * Keras multiplies ``lr`` into the momentum buffer (so a changed lr only affects new increments);
      PyTorch applies ``lr`` after the buffer.  Keras has no ``weight_decay`` here: with
      ``flavor="keras"`` a non-zero ``weight_decay`` raises ValueError (Keras' own is decoupled, AdamW-like).

    Keras names map to torch's: ``rho -> alpha``, ``epsilon -> eps``, ``learning_rate -> lr``; the state uses
    torch's names (``square_avg`` = Keras "velocity", ``grad_avg`` = "average_gradient",
    ``momentum_buffer`` = "momentum").  ``alpha`` must lie in [0, 1) (torch only checks ``alpha >= 0``).
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False},
        "keras": {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7, "momentum": 0.0, "centered": False},
    }

    def __init__(
        self,
        lr: float | None = None,
        alpha: float | None = None,
        eps: float | None = None,
        weight_decay: float = 0.0,
        momentum: float | None = None,
        centered: bool | None = None,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        self._set_or_default(lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered)
        self.weight_decay = weight_decay
        self.maximize = maximize
        _check_nonneg("lr", self.lr)
        _check_nonneg("eps", self.eps)
        _check_nonneg("momentum", self.momentum)
        _check_nonneg("weight_decay", self.weight_decay)
        _check_unit("alpha", self.alpha)
        self._check_keras_weight_decay()

    def _required_buffers(self) -> dict[str, float]:
        need = {"square_avg": 0.0}
        if self.momentum > 0:
            need["momentum_buffer"] = 0.0
        if self.centered:
            need["grad_avg"] = 0.0
        return need

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        alpha, lr = self.alpha, self.lr
        v = bufs["square_avg"]
        if self.flavor == "keras":
            v *= alpha  # v = rho * v + (1 - rho) * g²
            v += (1 - alpha) * np.square(g)
            if self.centered:
                a = bufs["grad_avg"]
                a *= alpha  # a = rho * a + (1 - rho) * g
                a += (1 - alpha) * g
                denom = v - np.square(a) + self.eps
            else:
                denom = v + self.eps
            inc = lr * g / np.sqrt(denom)  # eps *inside* the square root
            if self.momentum > 0:
                m = bufs["momentum_buffer"]
                m *= self.momentum  # m = momentum * m + inc
                m += inc
                p -= m
            else:
                p -= inc
            return
        # PyTorch
        v *= alpha  # v = alpha * v + (1 - alpha) * g * g
        v += (1 - alpha) * g * g
        if self.centered:
            a = bufs["grad_avg"]
            _lerp_(a, g, 1 - alpha)  # a = alpha * a + (1 - alpha) * g
            avg = np.sqrt(v - a * a)
        else:
            avg = np.sqrt(v)
        avg += self.eps  # eps *outside* the square root
        if self.momentum > 0:
            buf = bufs["momentum_buffer"]
            buf *= self.momentum  # buf = momentum * buf + g / avg
            buf += g / avg
            p -= lr * buf
        else:
            p += (-lr * g) / avg

    def _denominator_sq(self, bufs: Arrays) -> np.ndarray:
        v = bufs["square_avg"]
        return v - np.square(bufs["grad_avg"]) if self.centered else v

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        var = self._denominator_sq(bufs)
        if self.flavor == "keras":
            return self.lr / np.sqrt(var + self.eps)
        return self.lr / (np.sqrt(var) + self.eps)


# --------------------------------------------------------------------------------------------------
# Adam / AdamW
# --------------------------------------------------------------------------------------------------


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (default) or ``tf.keras.optimizers.Adam`` (``flavor="keras"``).

    PyTorch (defaults ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False``)::

        g = g + weight_decay * p                       (L2 penalty in the gradient; AdamW differs)
        m = m + (1 - b1) * (g - m)                     # "exp_avg"  (torch.lerp)
        v = b2 * v + (1 - b2) * g²                     # "exp_avg_sq"
        vmax = max(vmax, v)   (amsgrad, used instead of v)   # "max_exp_avg_sq"
        p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Keras 2.15 (defaults ``lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7, amsgrad=False``)::

        alpha_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
        m += (g - m) * (1 - b1);   v += (g² - v) * (1 - b2);   vhat = max(vhat, v) (amsgrad)
        p -= alpha_t * m / (sqrt(v) + eps)

    The difference is where eps sits relative to the bias correction: Keras adds eps to the *uncorrected*
    ``sqrt(v)`` ("epsilon hat" of Kingma & Ba, just before their Section 2.1), so in PyTorch terms its eps
    is ``eps * sqrt(1 - b2^t)``: about 30x smaller at t=1 and growing towards eps as t grows.  Together
    with eps 1e-7 vs 1e-8 this changes early steps on tiny gradients.  Keras' own weight decay is
    decoupled (AdamW-like); here ``flavor="keras"`` with ``weight_decay != 0`` raises ValueError.

    Constructors take ``betas=(beta1, beta2)`` as in torch; the registry/``make_optimizer`` also accept
    ``beta1=``/``beta2=``.  State: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``, ``"max_exp_avg_sq"``
    (amsgrad); Keras' m, v, vhat are stored under the same names.
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize")
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        "keras": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0},
    }
    _decoupled: ClassVar[bool] = False

    def __init__(
        self,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
        weight_decay: float | None = None,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        self._set_or_default(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)  # betas: the property
        self.amsgrad = amsgrad
        self.maximize = maximize
        _check_nonneg("lr", self.lr)
        _check_nonneg("eps", self.eps)
        _check_unit("betas[0] (beta1)", self.beta1)
        _check_unit("betas[1] (beta2)", self.beta2)
        _check_nonneg("weight_decay", self.weight_decay)
        self._check_keras_weight_decay()

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    @betas.setter
    def betas(self, value: tuple[float, float]) -> None:
        self.beta1, self.beta2 = value

    def _required_buffers(self) -> dict[str, float]:
        need = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if self.amsgrad:
            need["max_exp_avg_sq"] = 0.0
        return need

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        if self.maximize:
            g = -g
        b1, b2, lr = self.beta1, self.beta2, self.lr
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        if self.weight_decay != 0:
            if self._decoupled:
                p *= 1 - lr * self.weight_decay  # AdamW: shrink the weights directly
            else:
                g = g + self.weight_decay * p  # Adam: L2 penalty into the gradient
        if self.flavor == "keras":
            alpha_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            m += (g - m) * (1 - b1)  # m = b1 * m + (1 - b1) * g
            v += (np.square(g) - v) * (1 - b2)  # v = b2 * v + (1 - b2) * g²
            if self.amsgrad:
                v = np.maximum(bufs["max_exp_avg_sq"], v, out=bufs["max_exp_avg_sq"])  # vhat
            p -= (m * alpha_t) / (np.sqrt(v) + self.eps)  # eps-hat: added to the uncorrected sqrt(v)
            return
        # PyTorch
        _lerp_(m, g, 1 - b1)  # m = b1 * m + (1 - b1) * g
        v *= b2  # v = b2 * v + (1 - b2) * g * g
        v += (1 - b2) * g * g
        bias_correction1 = 1 - b1**t
        bias_correction2 = 1 - b2**t
        step_size = lr / bias_correction1
        if self.amsgrad:
            v = np.maximum(bufs["max_exp_avg_sq"], v, out=bufs["max_exp_avg_sq"])
        denom = np.sqrt(v)
        denom /= bias_correction2**0.5  # sqrt(v_hat) = sqrt(v / (1 - b2^t))
        denom += self.eps
        p += (-step_size * m) / denom

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        b1, b2 = self.beta1, self.beta2
        v = bufs["max_exp_avg_sq"] if self.amsgrad else bufs["exp_avg_sq"]
        if self.flavor == "keras":
            alpha_t = self.lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            return alpha_t / (np.sqrt(v) + self.eps)
        return (self.lr / (1 - b1**t)) / (np.sqrt(v) / (1 - b2**t) ** 0.5 + self.eps)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with *decoupled* weight decay.

    Defaults as Adam except ``weight_decay=1e-2``.  Before the Adam step the weights shrink directly,
    ``p *= 1 - lr * weight_decay``, instead of ``weight_decay * p`` being added to the gradient (where it
    would be divided by ``sqrt(v)`` and so decay large-gradient weights less).  PyTorch flavour only.
    """

    FLAVORS = ("pytorch",)
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    }
    _decoupled = True
    # __init__, the update rules, effective_step_size and state_dict are Adam's: only the defaults, the
    # flavours (FLAVORS, checked in Optimizer.__init__ before any default is looked up) and _decoupled differ.


# --------------------------------------------------------------------------------------------------
# Registry: everything a page needs to build its widgets
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter as a UI widget sees it."""

    name: str
    default: float | int | bool  # pytorch flavour
    keras_default: float | int | bool | None  # None: not a hyperparameter of the Keras flavour
    low: float | int | bool
    high: float | int | bool
    kind: str  # "float" | "int" | "bool"
    log: bool  # log-scale slider
    help: str


@dataclass(frozen=True)
class OptimizerSpec:
    """Registry entry: display name, class, flavours, one-line description and hyperparameters."""

    name: str
    cls: type[Optimizer]
    flavors: tuple[str, ...]
    description: str
    hyperparams: tuple[HyperParam, ...]

    def defaults(self, flavor: str = "pytorch") -> dict[str, float | int | bool]:
        """Hyperparameter defaults for ``flavor`` (Keras: only the hyperparameters Keras has)."""
        if flavor not in self.flavors:
            raise ValueError(
                f"Invalid flavor {flavor!r} for {self.name}; supported: {', '.join(self.flavors)}"
            )
        if flavor == "keras":
            return {hp.name: hp.keras_default for hp in self.hyperparams if hp.keras_default is not None}
        return {hp.name: hp.default for hp in self.hyperparams}


def _lr(default: float, keras: float | None = None) -> HyperParam:
    return HyperParam("lr", default, keras, 1e-5, 1.0, "float", True, "learning rate: the size of each step")


def _eps(default: float, keras: float | None = None) -> HyperParam:
    return HyperParam(
        "eps",
        default,
        keras,
        1e-12,
        1e-2,
        "float",
        True,
        "added to the denominator to avoid division by zero",
    )


def _wd(
    default: float, keras: float | None = None, text: str = "L2 penalty added to the gradient"
) -> HyperParam:
    return HyperParam("weight_decay", default, keras, 0.0, 0.1, "float", False, text)


def _maximize() -> HyperParam:
    return HyperParam(
        "maximize", False, None, False, True, "bool", False, "climb the objective instead (torch)"
    )


_BETA1 = HyperParam("beta1", 0.9, 0.9, 0.0, 0.999, "float", False, "decay of the first-moment (mean) average")
_BETA2 = HyperParam(
    "beta2", 0.999, 0.999, 0.0, 0.9999, "float", False, "decay of the second-moment (squared) average"
)
_AMSGRAD = HyperParam(
    "amsgrad", False, False, False, True, "bool", False, "divide by the largest second moment seen so far"
)

OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        name="SGD",
        cls=SGD,
        flavors=SGD.FLAVORS,
        description="Plain gradient descent, optionally with (Nesterov) momentum.",
        hyperparams=(
            _lr(1e-3),
            HyperParam(
                "momentum", 0.0, None, 0.0, 0.99, "float", False, "fraction of the last step carried on"
            ),
            HyperParam(
                "dampening", 0.0, None, 0.0, 1.0, "float", False, "scales down new gradients in momentum"
            ),
            _wd(0.0),
            HyperParam("nesterov", False, None, False, True, "bool", False, "look ahead along the momentum"),
            _maximize(),
        ),
    ),
    "adagrad": OptimizerSpec(
        name="Adagrad",
        cls=Adagrad,
        flavors=Adagrad.FLAVORS,
        description="Per-parameter step sizes from the running sum of squared gradients.",
        hyperparams=(
            _lr(1e-2),
            HyperParam("lr_decay", 0.0, None, 0.0, 0.1, "float", False, "lr / (1 + (t - 1) * lr_decay)"),
            _wd(0.0),
            HyperParam(
                "initial_accumulator_value", 0.0, None, 0.0, 1.0, "float", False, "starting value of the sum"
            ),
            _eps(1e-10),
            _maximize(),
        ),
    ),
    "rmsprop": OptimizerSpec(
        name="RMSprop",
        cls=RMSprop,
        flavors=RMSprop.FLAVORS,
        description="Divides by a moving average of squared gradients (Adagrad that forgets).",
        hyperparams=(
            _lr(1e-2, 1e-3),
            HyperParam(
                "alpha",
                0.99,
                0.9,
                0.0,
                0.999,
                "float",
                False,
                "decay of the squared-gradient average (Keras rho)",
            ),
            _eps(1e-8, 1e-7),
            _wd(0.0),
            HyperParam("momentum", 0.0, 0.0, 0.0, 0.99, "float", False, "momentum on the normalised step"),
            HyperParam(
                "centered", False, False, False, True, "bool", False, "divide by the variance, not g²"
            ),
            _maximize(),
        ),
    ),
    "adam": OptimizerSpec(
        name="Adam",
        cls=Adam,
        flavors=Adam.FLAVORS,
        description="Momentum over RMSprop-normalised gradients, with bias correction.",
        hyperparams=(_lr(1e-3, 1e-3), _BETA1, _BETA2, _eps(1e-8, 1e-7), _wd(0.0), _AMSGRAD, _maximize()),
    ),
    "adamw": OptimizerSpec(
        name="AdamW",
        cls=AdamW,
        flavors=AdamW.FLAVORS,
        description="Adam with decoupled weight decay (weights shrink directly).",
        hyperparams=(
            _lr(1e-3),
            replace(_BETA1, keras_default=None),  # AdamW has no keras flavour
            replace(_BETA2, keras_default=None),
            _eps(1e-8),
            _wd(1e-2, text="decoupled decay: p *= 1 - lr * weight_decay each step"),
            replace(_AMSGRAD, keras_default=None),
            _maximize(),
        ),
    ),
}


def make_optimizer(name: str, flavor: str = "pytorch", **hyper: Any) -> Optimizer:
    """Build an optimizer by registry name (case-insensitive); ``beta1``/``beta2`` are folded into betas.

    Hyperparameters not given take the defaults of ``flavor``.
    """
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    spec = OPTIMIZERS[key]
    if flavor not in spec.flavors:
        raise ValueError(f"Invalid flavor {flavor!r} for {spec.name}; supported: {', '.join(spec.flavors)}")
    if ("beta1" in hyper or "beta2" in hyper) and "beta1" in spec.cls.HYPER_NAMES:  # else: unknown, below
        if "betas" in hyper:
            raise ValueError("give either betas=(b1, b2) or beta1=/beta2=, not both")
        defaults = spec.defaults(flavor)
        hyper["betas"] = (hyper.pop("beta1", defaults["beta1"]), hyper.pop("beta2", defaults["beta2"]))
    return spec.cls(flavor=flavor, **hyper)
