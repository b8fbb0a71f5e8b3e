"""The classic family, in the order it grew: SGD (with momentum and Nesterov), Adagrad, RMSprop, Adam and AdamW,
with PyTorch's names, defaults and exact update rules (RMSprop and Adam also as tf.keras 2.15 computes them,
``flavor="keras"``).  See :mod:`gru_core.optim` for the family's story; ``SPECS`` are their registry entries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from gru_core.optim.base import (
    AMSGRAD,
    BETA1,
    BETA2,
    Arrays,
    Betas,
    HyperParam,
    Optimizer,
    OptimizerSpec,
    check_nonneg,
    check_unit,
    eps_param,
    lerp_,
    lr_param,
    maximize_param,
    wd_param,
)

__all__ = ["SGD", "SPECS", "Adagrad", "Adam", "AdamW", "RMSprop"]


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
        check_nonneg("lr", lr)
        check_nonneg("momentum", momentum)
        check_nonneg("weight_decay", weight_decay)
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
        check_nonneg("lr", lr)
        check_nonneg("lr_decay", lr_decay)
        check_nonneg("weight_decay", weight_decay)
        check_nonneg("initial_accumulator_value", initial_accumulator_value)
        check_nonneg("eps", eps)
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
        check_nonneg("lr", self.lr)
        check_nonneg("eps", self.eps)
        check_nonneg("momentum", self.momentum)
        check_nonneg("weight_decay", self.weight_decay)
        check_unit("alpha", self.alpha)
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
            lerp_(a, g, 1 - alpha)  # a = alpha * a + (1 - alpha) * g
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


class Adam(Betas, Optimizer):
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
        check_nonneg("lr", self.lr)
        check_nonneg("eps", self.eps)
        self._check_betas()
        check_nonneg("weight_decay", self.weight_decay)
        self._check_keras_weight_decay()

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
        lerp_(m, g, 1 - b1)  # m = b1 * m + (1 - b1) * g
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


SPECS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        name="SGD",
        cls=SGD,
        flavors=SGD.FLAVORS,
        description="Plain gradient descent, optionally with (Nesterov) momentum.",
        torch="SGD",
        paper='Robbins & Monro (1951); momentum: Polyak (1964); Nesterov (1983), as in Sutskever et al. (2013)',
        idea=(
            'Step against the gradient; momentum keeps a running direction so noise averages out and steady slopes '
            'accelerate.'
        ),
        hyperparams=(
            lr_param(1e-3),
            HyperParam(
                "momentum", 0.0, None, 0.0, 0.99, "float", False, "fraction of the last step carried on"
            ),
            HyperParam(
                "dampening", 0.0, None, 0.0, 1.0, "float", False, "scales down new gradients in momentum"
            ),
            wd_param(0.0),
            HyperParam("nesterov", False, None, False, True, "bool", False, "look ahead along the momentum"),
            maximize_param(),
        ),
    ),
    "adagrad": OptimizerSpec(
        name="Adagrad",
        cls=Adagrad,
        flavors=Adagrad.FLAVORS,
        description="Per-parameter step sizes from the running sum of squared gradients.",
        torch="Adagrad",
        paper='Duchi, Hazan & Singer (2011), Adaptive Subgradient Methods, JMLR 12',
        idea=(
            "Each weight's step is divided by the root of the sum of all its squared gradients: rare features keep "
            'large steps, but all steps shrink for ever.'
        ),
        hyperparams=(
            lr_param(1e-2),
            HyperParam("lr_decay", 0.0, None, 0.0, 0.1, "float", False, "lr / (1 + (t - 1) * lr_decay)"),
            wd_param(0.0),
            HyperParam(
                "initial_accumulator_value", 0.0, None, 0.0, 1.0, "float", False, "starting value of the sum"
            ),
            eps_param(1e-10),
            maximize_param(),
        ),
    ),
    "rmsprop": OptimizerSpec(
        name="RMSprop",
        cls=RMSprop,
        flavors=RMSprop.FLAVORS,
        description="Divides by a moving average of squared gradients (Adagrad that forgets).",
        torch="RMSprop",
        paper='Tieleman & Hinton (2012), Coursera lecture 6.5',
        idea=(
            'Adagrad with a moving average instead of a sum, so the step size tracks the recent gradient scale and '
            'never dies out.'
        ),
        hyperparams=(
            lr_param(1e-2, 1e-3),
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
            eps_param(1e-8, 1e-7),
            wd_param(0.0),
            HyperParam("momentum", 0.0, 0.0, 0.0, 0.99, "float", False, "momentum on the normalised step"),
            HyperParam(
                "centered", False, False, False, True, "bool", False, "divide by the variance, not g²"
            ),
            maximize_param(),
        ),
    ),
    "adam": OptimizerSpec(
        name="Adam",
        cls=Adam,
        flavors=Adam.FLAVORS,
        description="Momentum over RMSprop-normalised gradients, with bias correction.",
        torch="Adam",
        paper='Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, ICLR',
        idea="Momentum on top of RMSprop's per-weight scaling, both averages corrected for starting at zero.",
        hyperparams=(lr_param(1e-3, 1e-3), BETA1, BETA2, eps_param(1e-8, 1e-7), wd_param(0.0), AMSGRAD,
                     maximize_param()),
    ),
    "adamw": OptimizerSpec(
        name="AdamW",
        cls=AdamW,
        flavors=AdamW.FLAVORS,
        description="Adam with decoupled weight decay (weights shrink directly).",
        torch="AdamW",
        paper='Loshchilov & Hutter (2019), Decoupled Weight Decay Regularization, ICLR',
        idea="Adam whose weight decay shrinks the weights directly instead of passing through Adam's scaling.",
        hyperparams=(
            lr_param(1e-3),
            replace(BETA1, keras_default=None),  # AdamW has no keras flavour
            replace(BETA2, keras_default=None),
            eps_param(1e-8),
            wd_param(1e-2, text="decoupled decay: p *= 1 - lr * weight_decay each step"),
            replace(AMSGRAD, keras_default=None),
            maximize_param(),
        ),
    ),
}
