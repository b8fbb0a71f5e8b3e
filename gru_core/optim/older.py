"""Three older ideas, each still in ``torch.optim``: Rprop (1993) steps by the gradient's *sign* only, with a
step size per weight that grows while the sign holds and shrinks when it flips; ASGD (1992) is SGD with a slowly
decaying rate plus a running *average* of the weights (Polyak-Ruppert averaging); Adadelta (2012) is RMSprop
whose numerator is a second running average (of the squared updates), so the units of the step match the weights'.

Each reproduces ``torch.optim`` (2.13, single-tensor code path) with PyTorch's names and defaults; Adadelta also
offers ``flavor="keras"`` (Keras 3's defaults).  ``SPECS`` are their registry entries.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gru_core.optim.base import (
    Arrays,
    HyperParam,
    Optimizer,
    OptimizerSpec,
    check_nonneg,
    eps_param,
    lr_param,
    maximize_param,
    wd_param,
)

__all__ = ["ASGD", "SPECS", "Adadelta", "Rprop"]


# --------------------------------------------------------------------------------------------------
# Rprop
# --------------------------------------------------------------------------------------------------


class Rprop(Optimizer):
    """Resilient backpropagation, as ``torch.optim.Rprop``: move each weight by its own step size, in the
    direction of the gradient's sign only (the gradient's size is ignored)::

        s = sign(g * prev)                      # +1: same sign as last step, -1: flipped, 0: either is zero
        step_size *= etaplus (s > 0),  etaminus (s < 0),  1 (s == 0)
        step_size = clamp(step_size, step_size_min, step_size_max)
        g = 0 where s < 0                       # after a flip: no move this step, and no flip test next step
        p -= sign(g) * step_size
        prev = g

    Defaults: ``lr=1e-2``, ``etas=(0.5, 1.2)``, ``step_sizes=(1e-6, 50)``, ``maximize=False``.  ``lr`` is only
    the *initial* step size (the state's ``"step_size"`` starts at it); as in torch, changing ``lr`` after the
    first step has no effect.  Meant for full-batch training: with noisy mini-batch gradients the signs flip
    at random and the step sizes shrink.

    Constructors take ``etas=(etaminus, etaplus)`` and ``step_sizes=(step_size_min, step_size_max)`` as in
    torch; the registry/``make_optimizer`` use the scalar names ``etaminus=``, ``etaplus=``,
    ``step_size_min=``, ``step_size_max=`` (either form, not both).  Torch checks
    ``0 < etaminus < 1 < etaplus``; we also require ``0 <= step_size_min <= step_size_max`` (torch accepts any).

    State: ``"step"``, ``"prev"`` (the last gradient, zeroed where its sign flipped), ``"step_size"``.
    """

    HYPER_NAMES = ("lr", "etaminus", "etaplus", "step_size_min", "step_size_max", "maximize")

    def __init__(
        self,
        lr: float = 1e-2,
        etas: tuple[float, float] | None = None,
        step_sizes: tuple[float, float] | None = None,
        *,
        etaminus: float | None = None,
        etaplus: float | None = None,
        step_size_min: float | None = None,
        step_size_max: float | None = None,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        if etas is not None and (etaminus is not None or etaplus is not None):
            raise ValueError("give either etas=(etaminus, etaplus) or etaminus=/etaplus=, not both")
        if step_sizes is not None and (step_size_min is not None or step_size_max is not None):
            raise ValueError(
                "give either step_sizes=(step_size_min, step_size_max) or step_size_min=/step_size_max=, not both"
            )
        self.etas = etas if etas is not None else (0.5, 1.2)  # the property: sets etaminus, etaplus
        self.step_sizes = step_sizes if step_sizes is not None else (1e-6, 50.0)
        if etaminus is not None:
            self.etaminus = etaminus
        if etaplus is not None:
            self.etaplus = etaplus
        if step_size_min is not None:
            self.step_size_min = step_size_min
        if step_size_max is not None:
            self.step_size_max = step_size_max
        self.lr = lr
        self.maximize = maximize
        check_nonneg("lr", self.lr)
        if not 0.0 < self.etaminus < 1.0:
            raise ValueError(f"Invalid etaminus (etas[0]) value: {self.etaminus!r} (must be in (0, 1))")
        if not self.etaplus > 1.0:
            raise ValueError(f"Invalid etaplus (etas[1]) value: {self.etaplus!r} (must be > 1)")
        check_nonneg("step_size_min (step_sizes[0])", self.step_size_min)
        if not self.step_size_max >= self.step_size_min:
            raise ValueError(
                f"Invalid step_size_max (step_sizes[1]) value: {self.step_size_max!r} "
                f"(must be >= step_size_min = {self.step_size_min!r})"
            )

    @property
    def etas(self) -> tuple[float, float]:
        return (self.etaminus, self.etaplus)

    @etas.setter
    def etas(self, value: tuple[float, float]) -> None:
        self.etaminus, self.etaplus = value

    @property
    def step_sizes(self) -> tuple[float, float]:
        return (self.step_size_min, self.step_size_max)

    @step_sizes.setter
    def step_sizes(self, value: tuple[float, float]) -> None:
        self.step_size_min, self.step_size_max = value

    def _required_buffers(self) -> dict[str, float]:
        return {"prev": 0.0, "step_size": self.lr}  # step_size starts at lr (only when the state is created)

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        if self.maximize:
            g = -g
        prev, step_size = bufs["prev"], bufs["step_size"]
        factor = np.sign(g * prev)  # +1 same sign as last step, -1 flipped, 0 either is zero
        factor[factor > 0] = self.etaplus  # same sign: grow the step
        factor[factor < 0] = self.etaminus  # flipped: we jumped over a minimum, shrink the step
        factor[factor == 0] = 1.0  # no information: keep it
        step_size *= factor  # step_size = clamp(step_size * factor, min, max)
        np.clip(step_size, self.step_size_min, self.step_size_max, out=step_size)
        g = np.where(factor == self.etaminus, 0.0, g)  # after a flip: no move now, and no flip test next time
        p -= np.sign(g) * step_size  # p = p - sign(g) * step_size  (the gradient's size is ignored)
        prev[...] = g  # prev = g

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        """The step sizes: the last step moved each weight by ``step_size * sign(prev)``."""
        return np.array(bufs["step_size"], dtype=float).reshape(shape)


# --------------------------------------------------------------------------------------------------
# ASGD
# --------------------------------------------------------------------------------------------------


class ASGD(Optimizer):
    """Averaged stochastic gradient descent, as ``torch.optim.ASGD``::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g          # SGD with a weight decay of its own (lambd)
        ax = p                        (mu == 1)      # the running average of the weights
        ax = ax + mu * (p - ax)       (otherwise)
        eta = lr / (1 + lambd * lr * t) ** alpha     # the next step's rate
        mu = 1 / max(1, t - t0)                      # the next step's averaging weight

    Defaults: ``lr=1e-2``, ``lambd=1e-4``, ``alpha=0.75``, ``t0=1e6``, ``weight_decay=0``, ``maximize=False``.
    Up to step ``t0 + 2`` the average is simply the current weights; after step ``t > t0 + 2`` (integer
    ``t0``) ``ax`` is the plain mean of the weights after steps ``t0 + 2 .. t`` (Polyak-Juditsky averaging).
    The parameters themselves follow plain SGD: ``ax`` is only kept in the state (torch does not swap it in;
    evaluate with it yourself).

    As in torch, ``eta`` and ``mu`` are computed at the *end* of a step for the next one (the first step
    uses ``eta = lr``, ``mu = 1``), so a changed ``lr`` applies from the step after next.  Torch keeps them
    per parameter; they are equal for every parameter and stored as floats in each parameter's state,
    like ``"step"``.  Torch stores them in its default dtype: the float64 match needs
    ``torch.set_default_dtype(torch.float64)`` (with float32 torch rounds eta and mu to float32).

    Torch checks only ``lr >= 0`` and ``weight_decay >= 0``; we also require ``lambd``, ``alpha``, ``t0``
    ``>= 0`` (a negative ``lambd`` can make ``eta`` complex).

    State: ``"step"``, ``"eta"``, ``"mu"``, ``"ax"``.
    """

    HYPER_NAMES = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")

    def __init__(
        self,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        check_nonneg("lr", lr)
        check_nonneg("lambd", lambd)
        check_nonneg("alpha", alpha)
        check_nonneg("t0", t0)
        check_nonneg("weight_decay", weight_decay)
        self.lr = lr
        self.lambd = lambd
        self.alpha = alpha
        self.t0 = t0
        self.weight_decay = weight_decay
        self.maximize = maximize
        self._eta = lr
        self._mu = 1.0

    def _required_buffers(self) -> dict[str, float]:
        return {"ax": 0.0}

    def _scalar(self, key: str) -> float:
        return next(iter(self.state.values()))[key]

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """One ASGD step; ``eta`` and ``mu`` for the next step are then mirrored into each parameter's state."""
        # torch creates eta = lr and mu = 1 with the state; after that each step leaves the next ones there
        first = next(iter(self.state.values()), {})
        self._eta = first.get("eta", self.lr)
        self._mu = first.get("mu", 1.0)
        super().step(params, grads)
        t = self.steps
        eta = self.lr / ((1 + self.lambd * self.lr * t) ** self.alpha)  # eta = lr / (1 + lambd * lr * t)^alpha
        mu = 1 / max(1, t - self.t0)  # mu = 1 / max(1, t - t0)
        for st in self.state.values():
            st["eta"] = eta
            st["mu"] = mu

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        eta, mu = self._eta, self._mu
        p *= 1 - self.lambd * eta  # decay term: p = p * (1 - lambd * eta)
        p += -eta * g  # p = p - eta * g
        ax = bufs["ax"]
        if mu != 1:
            ax += (p - ax) * mu  # ax = ax + mu * (p - ax): running mean of the weights since t0
        else:
            ax[...] = p  # before t0: the average is the weights themselves

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        """``eta`` from the state: the rate the *next* step multiplies ``g + lambd * p`` by (``g`` with the
        weight decay folded in), since ``p_next = p - eta * (g + lambd * p)``."""
        return np.full(shape, self._scalar("eta"), dtype=float)


# --------------------------------------------------------------------------------------------------
# Adadelta
# --------------------------------------------------------------------------------------------------


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta`` (default) or ``keras.optimizers.Adadelta`` (``flavor="keras"``)::

        g = g + weight_decay * p                          (PyTorch only)
        v = rho * v + (1 - rho) * g²                      # "square_avg"
        delta = sqrt(u + eps) / sqrt(v + eps) * g         # RMS of past updates / RMS of gradients
        u = rho * u + (1 - rho) * delta²                  # "acc_delta"
        p -= lr * delta

    PyTorch defaults: ``lr=1.0, rho=0.9, eps=1e-6, weight_decay=0``.  Keras 3 (3.12) computes the same
    formula (eps inside both square roots, the same order of updates) with other defaults:
    ``lr=1e-3, rho=0.95, eps=1e-7`` -- so the keras flavour differs from the PyTorch one *only* by its
    defaults (and by rounding: Keras multiplies by ``g`` before dividing).  Zeiler's paper has no learning
    rate (``lr=1``, as torch's default); Keras' ``lr=1e-3`` makes its Adadelta about 1000x slower.  Keras'
    own weight decay is decoupled (AdamW-like); ``flavor="keras"`` with ``weight_decay != 0`` raises
    ValueError.  Torch checks ``0 <= rho <= 1`` (``rho=1`` freezes both averages at zero: SGD with ``lr``).

    Keras names map to torch's: ``learning_rate -> lr``, ``epsilon -> eps``, ``accumulated_grad ->
    square_avg``, ``accumulated_delta_var -> acc_delta``.

    State: ``"step"``, ``"square_avg"``, ``"acc_delta"``.
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "rho", "eps", "weight_decay", "maximize")
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 1.0, "rho": 0.9, "eps": 1e-6},
        "keras": {"lr": 1e-3, "rho": 0.95, "eps": 1e-7},
    }

    def __init__(
        self,
        lr: float | None = None,
        rho: float | None = None,
        eps: float | None = None,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        self._set_or_default(lr=lr, rho=rho, eps=eps)
        self.weight_decay = weight_decay
        self.maximize = maximize
        check_nonneg("lr", self.lr)
        if not 0.0 <= self.rho <= 1.0:
            raise ValueError(f"Invalid rho value: {self.rho!r} (must be in [0, 1])")
        check_nonneg("eps", self.eps)
        check_nonneg("weight_decay", self.weight_decay)
        self._check_keras_weight_decay()

    def _required_buffers(self) -> dict[str, float]:
        return {"square_avg": 0.0, "acc_delta": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        rho, eps, lr = self.rho, self.eps, self.lr
        v, u = bufs["square_avg"], bufs["acc_delta"]
        if self.flavor == "keras":
            v *= rho  # v = rho * v + (1 - rho) * g²
            v += (1 - rho) * np.square(g)
            delta = np.sqrt(u + eps) * g / np.sqrt(v + eps)  # delta = rms(u) * g / rms(v)
            u *= rho  # u = rho * u + (1 - rho) * delta²
            u += (1 - rho) * np.square(delta)
            p -= lr * delta  # p = p - lr * delta
            return
        # PyTorch
        v *= rho  # v = rho * v + (1 - rho) * g * g
        v += (1 - rho) * g * g
        std = np.sqrt(v + eps)  # RMS of the gradients
        delta = np.sqrt(u + eps)  # RMS of the past updates (before this one)
        delta /= std
        delta *= g  # delta = sqrt(u + eps) / sqrt(v + eps) * g
        u *= rho  # u = rho * u + (1 - rho) * delta * delta
        u += (1 - rho) * delta * delta
        p += -lr * delta  # p = p - lr * delta

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        """``lr * sqrt(acc_delta + eps) / sqrt(square_avg + eps)`` from the state as the last step left it: the
        multiplier of the (weight-decayed) gradient.  The last step used ``acc_delta`` *before* its update, so
        this is exactly the multiplier of the next step for a gradient that leaves ``square_avg`` unchanged."""
        return self.lr * np.sqrt(bufs["acc_delta"] + self.eps) / np.sqrt(bufs["square_avg"] + self.eps)


# --------------------------------------------------------------------------------------------------
# Registry entries
# --------------------------------------------------------------------------------------------------


SPECS: dict[str, OptimizerSpec] = {
    "adadelta": OptimizerSpec(
        name="Adadelta",
        cls=Adadelta,
        flavors=Adadelta.FLAVORS,
        description="RMSprop whose numerator is the RMS of past updates: steps in the weights' own units.",
        torch="Adadelta",
        paper='Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701',
        idea=(
            "Divide by the RMS of recent gradients as RMSprop does, but multiply by the RMS of recent updates "
            "instead of a learning rate, so the step has the units of the weights."
        ),
        hyperparams=(
            lr_param(1.0, 1e-3),
            HyperParam(
                "rho", 0.9, 0.95, 0.0, 0.999, "float", False, "decay of both running averages (gradients, updates)"
            ),
            eps_param(1e-6, 1e-7),
            wd_param(0.0),
            maximize_param(),
        ),
    ),
    "asgd": OptimizerSpec(
        name="ASGD",
        cls=ASGD,
        flavors=ASGD.FLAVORS,
        description="SGD with a decaying rate that also keeps the running average of the weights.",
        torch="ASGD",
        paper=(
            'Polyak & Juditsky (1992), "Acceleration of Stochastic Approximation by Averaging", '
            "SIAM J. Control Optim. 30(4)"
        ),
        idea=(
            "Take noisy SGD steps but average the weights visited since step t0: the average converges as fast "
            "as the best step-size schedule would, without knowing it."
        ),
        hyperparams=(
            lr_param(1e-2),
            HyperParam("lambd", 1e-4, None, 1e-8, 1e-1, "float", True, "decay term: shrinks the weights and the rate"),
            HyperParam(
                "alpha", 0.75, None, 0.0, 1.0, "float", False, "power of the rate decay lr / (1 + lambd lr t)^alpha"
            ),
            HyperParam("t0", 1e6, None, 1.0, 1e6, "float", True, "step after which the weights are averaged"),
            wd_param(0.0),
            maximize_param(),
        ),
    ),
    "rprop": OptimizerSpec(
        name="Rprop",
        cls=Rprop,
        flavors=Rprop.FLAVORS,
        description="Moves each weight by its own step size along the gradient's sign (full-batch).",
        torch="Rprop",
        paper=(
            'Riedmiller & Braun (1993), "A direct adaptive method for faster backpropagation learning: '
            'the RPROP algorithm", IEEE ICNN'
        ),
        idea=(
            "Ignore the gradient's size and use only its sign: each weight's step grows while the sign holds "
            "and shrinks when it flips (a minimum was jumped over)."
        ),
        hyperparams=(
            lr_param(1e-2),
            HyperParam("etaminus", 0.5, None, 0.05, 0.95, "float", False, "step-size factor after a sign flip"),
            HyperParam("etaplus", 1.2, None, 1.01, 3.0, "float", False, "step-size factor while the sign holds"),
            HyperParam("step_size_min", 1e-6, None, 1e-9, 1e-2, "float", True, "smallest step size"),
            HyperParam("step_size_max", 50.0, None, 1e-3, 100.0, "float", True, "largest step size"),
            maximize_param(),
        ),
    ),
}
