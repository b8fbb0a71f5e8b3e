"""What every optimizer of :mod:`gru_core.optim` shares: the :class:`Optimizer` base class (state buffers, the
flat / per-name dispatch, ``state_dict``), torch's argument checks, and the registry's entry types
(:class:`HyperParam`, :class:`OptimizerSpec`) with the hyperparameters several optimizers have in common.

A new optimizer is a subclass of :class:`Optimizer` (``_required_buffers``, ``_update``, ``_effective``) in a
module of this package, plus one :class:`OptimizerSpec` in that module's ``SPECS``; ``gru_core/optim/__init__.py``
collects them into ``OPTIMIZERS``, and every page, the CLI, sweeps and model files find it there.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gru_core.model.params import ParamDict

__all__ = ["AMSGRAD", "BETA1", "BETA2", "Arrays", "Betas", "HyperParam", "Optimizer", "OptimizerSpec", "check_nonneg",
           "check_unit", "eps_param", "lerp_", "lr_param", "maximize_param", "wd_param"]  # fmt: skip

Arrays = dict[str, np.ndarray]


# --------------------------------------------------------------------------------------------------
# Validation helpers (the same checks as torch.optim, with messages that name the argument)
# --------------------------------------------------------------------------------------------------


def check_nonneg(name: str, value: float) -> None:
    # ``not x >= 0`` (rather than ``x < 0``) also rejects NaN, as most torch.optim checks do
    # (torch.optim.SGD uses ``lr < 0`` and so lets a NaN lr through; we don't).
    if not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be >= 0)")


def check_unit(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be in [0, 1))")


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
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

    def state_shapes(self, name: str, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shapes of the state arrays parameter ``name`` (of ``shape``) gets: here every buffer has the
        parameter's shape; an optimizer that keeps others (Adafactor's factored moments) says so (model files
        check a saved state against this)."""
        return {key: tuple(shape) for key in self._required_buffers()}

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
# Registry: everything a page needs to build its widgets
# --------------------------------------------------------------------------------------------------


class Betas:
    """``betas=(beta1, beta2)`` as in torch, stored as ``beta1``/``beta2`` (the registry's names)."""

    beta1: float
    beta2: float

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    @betas.setter
    def betas(self, value: tuple[float, float]) -> None:
        self.beta1, self.beta2 = value

    def _check_betas(self) -> None:
        check_unit("betas[0] (beta1)", self.beta1)
        check_unit("betas[1] (beta2)", self.beta2)


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
    paper: str = ""  # where the idea comes from: "Kingma & Ba (2015), Adam: A Method for Stochastic Optimization"
    torch: str | None = None  # the torch.optim class it reproduces exactly ("Adam"); None: not in torch.optim
    idea: str = ""  # one sentence on the idea, for the README's table and the race page's help

    def defaults(self, flavor: str = "pytorch") -> dict[str, float | int | bool]:
        """Hyperparameter defaults for ``flavor`` (Keras: only the hyperparameters Keras has)."""
        if flavor not in self.flavors:
            raise ValueError(
                f"Invalid flavor {flavor!r} for {self.name}; supported: {', '.join(self.flavors)}"
            )
        if flavor == "keras":
            return {hp.name: hp.keras_default for hp in self.hyperparams if hp.keras_default is not None}
        return {hp.name: hp.default for hp in self.hyperparams}


def lr_param(default: float, keras: float | None = None) -> HyperParam:
    return HyperParam("lr", default, keras, 1e-5, 1.0, "float", True, "learning rate: the size of each step")


def eps_param(default: float, keras: float | None = None) -> HyperParam:
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


def wd_param(
    default: float, keras: float | None = None, text: str = "L2 penalty added to the gradient"
) -> HyperParam:
    return HyperParam("weight_decay", default, keras, 0.0, 0.1, "float", False, text)


def maximize_param() -> HyperParam:
    return HyperParam(
        "maximize", False, None, False, True, "bool", False, "climb the objective instead (torch)"
    )


BETA1 = HyperParam("beta1", 0.9, 0.9, 0.0, 0.999, "float", False, "decay of the first-moment (mean) average")
BETA2 = HyperParam(
    "beta2", 0.999, 0.999, 0.0, 0.9999, "float", False, "decay of the second-moment (squared) average"
)
AMSGRAD = HyperParam(
    "amsgrad", False, False, False, True, "bool", False, "divide by the largest second moment seen so far"
)
