"""Adam's relatives: NAdam (Nesterov momentum), RAdam (rectified warm-up), Adamax (infinity norm) and Lion
(the sign of an interpolated momentum).  NAdam, RAdam and Adamax reproduce ``torch.optim`` (2.13, single-tensor
code path) to rounding error; NAdam and Adamax also offer ``flavor="keras"`` with the formulas and defaults of
Keras 3.12; Lion is Algorithm 2 of Chen et al. (2023), which Keras 3 implements unchanged.  ``SPECS`` are their
registry entries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from gru_core.optim.base import (
    BETA1,
    BETA2,
    Arrays,
    Betas,
    HyperParam,
    Optimizer,
    OptimizerSpec,
    check_nonneg,
    eps_param,
    lerp_,
    lr_param,
    maximize_param,
    wd_param,
)

__all__ = ["SPECS", "Adamax", "Lion", "NAdam", "RAdam"]


def _decay_or_l2(opt: Any, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """torch's weight decay for NAdam/RAdam: shrink ``p`` in place (decoupled) or add the L2 term to ``g``."""
    if opt.weight_decay != 0:
        if opt.decoupled_weight_decay:
            p *= 1 - opt.lr * opt.weight_decay  # decoupled (AdamW-like): shrink the weights directly
        else:
            g = g + opt.weight_decay * p  # L2 penalty into the gradient
    return g


# --------------------------------------------------------------------------------------------------
# NAdam
# --------------------------------------------------------------------------------------------------


class NAdam(Betas, Optimizer):
    """NAdam, as ``torch.optim.NAdam`` (default) or ``keras.optimizers.Nadam`` (``flavor="keras"``).

    Adam whose momentum looks ahead (Nesterov): the step mixes the *next* momentum with the current gradient,
    and the momentum coefficient ``mu_t`` warms up over time.

    PyTorch (defaults ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False``)::

        g = g + weight_decay * p          (or p *= 1 - lr * weight_decay when decoupled_weight_decay)
        mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay))       # momentum schedule
        P_t = P_{t-1} * mu_t                                    # "mu_product" (P_0 = 1)
        m = m + (1 - b1) * (g - m)                              # "exp_avg"  (torch.lerp)
        v = b2 * v + (1 - b2) * g²                              # "exp_avg_sq"
        d = sqrt(v / (1 - b2^t)) + eps
        p -= lr * (1 - mu_t) / (1 - P_t) * g / d  +  lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / d

    Keras 3.12 (defaults ``lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7``)::

        u_t = b1 * (1 - 0.5 * 0.96^t);   P_t = P_{t-1} * b1 * (1 - 0.5 * 0.96^t)
        m += (g - m) * (1 - b1);   v += (g² - v) * (1 - b2)
        m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)
        p -= m_hat * lr / (sqrt(v / (1 - b2^t)) + eps)

    The bias corrections and the place of eps are the same in both (Keras' docstring calls its epsilon
    "epsilon hat", but the code adds it to the *corrected* ``sqrt(v_hat)``, as torch does).  What differs is
    the **momentum schedule**: Keras uses ``0.96^t``, i.e. torch's formula with ``momentum_decay=1`` fixed,
    where torch's default ``momentum_decay=0.004`` (``0.96^(t/250)``) makes the warm-up 250 times
    slower: Keras' ``mu_t`` rises from 0.47 to 0.84 within 50 steps, torch's is still 0.52 after 1000 steps.
    So with ``flavor="keras"``, ``momentum_decay`` is 1 and any other value raises ValueError (Keras has no such
    hyperparameter); ``weight_decay != 0`` raises too (Keras' own is decoupled, AdamW-like); plus the defaults
    (lr 1e-3 vs 2e-3, eps 1e-7 vs 1e-8).

    ``mu_product`` is one number per step that torch stores (identically) in every parameter's state; here it
    is kept in each state dict too, advanced once per :meth:`step` (on the flat or the per-name path alike)
    and read back from the state, so ``state_dict``/``load_state_dict`` resume exactly.  torch keeps it in its
    *scalar dtype*, float32 unless ``torch.set_default_dtype(torch.float64)``: so it is rounded to
    ``mu_product_dtype`` (float32, as torch's default) after each multiplication, which changes steps by about
    1e-9 relative and lets the product underflow to 0 after ~130 steps, exactly as in torch.  Set the
    instance's ``mu_product_dtype = np.float64`` to reproduce torch under a float64 default dtype.  Keras keeps
    its product in the variables' dtype, float64 here.

    :meth:`effective_step_size` is ``lr / (sqrt(v / (1 - b2^t)) + eps)`` (both flavours), the multiplier of the
    bias-corrected Nesterov momentum ``m_hat = mu_{t+1} m / (1 - P_{t+1}) + (1 - mu_t) g / (1 - P_t)``.

    State: ``"step"``, ``"mu_product"`` (a float), ``"exp_avg"``, ``"exp_avg_sq"`` (Keras' m, v).
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay",
                   "maximize")  # fmt: skip
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "momentum_decay": 4e-3},
        "keras": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0, "momentum_decay": 1.0},
    }
    #: dtype torch keeps ``mu_product`` in (its scalar dtype: float32 unless the default dtype is float64)
    mu_product_dtype: type[np.floating] = np.float32

    def __init__(
        self,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
        weight_decay: float | None = None,
        momentum_decay: float | None = None,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        self._set_or_default(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay)
        self.decoupled_weight_decay = decoupled_weight_decay
        self.maximize = maximize
        check_nonneg("lr", self.lr)
        check_nonneg("eps", self.eps)
        self._check_betas()
        check_nonneg("weight_decay", self.weight_decay)
        check_nonneg("momentum_decay", self.momentum_decay)
        self._check_keras_weight_decay()
        if self.flavor == "keras" and self.momentum_decay != 1.0:
            raise ValueError(
                "momentum_decay is fixed at 1 with flavor='keras' (Keras' schedule 0.96^t; use flavor='pytorch')"
            )
        self._advance_pending = False

    def _required_buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        # mu_product advances once per step: at the first _update call, whichever path runs
        self._advance_pending = True
        try:
            super().step(params, grads)
        finally:
            self._advance_pending = False

    def _momentum_cache(self, t: int) -> float:
        return self.beta1 * (1.0 - 0.5 * (0.96 ** (t * self.momentum_decay)))  # mu_t

    def _mu_product(self, t: int) -> float:
        """P_t: on the step's first call advance P_{t-1} (read from the state) and store it in every state dict."""
        if self._advance_pending:
            prev = next(iter(self.state.values())).get("mu_product", 1.0)  # torch initialises it to 1
            if self.flavor == "keras":
                new = prev * self.beta1 * (1.0 - 0.5 * 0.96**t)  # u_product = u_product * b1 * (1 - 0.5 * 0.96^t)
            else:
                dtype = self.mu_product_dtype  # mu_product *= mu, in torch's scalar dtype
                new = float(dtype(prev) * dtype(self._momentum_cache(t)))
            for st in self.state.values():
                st["mu_product"] = new
            self._advance_pending = False
        return next(iter(self.state.values()))["mu_product"]

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        if self.maximize:
            g = -g
        b1, b2, lr = self.beta1, self.beta2, self.lr
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        mu_product = self._mu_product(t)  # P_t
        if self.flavor == "keras":
            u_t = b1 * (1.0 - 0.5 * 0.96**t)  # momentum this step
            u_t_1 = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))  # momentum next step (the Nesterov look-ahead)
            u_product_t_1 = mu_product * u_t_1  # P_{t+1}
            m += (g - m) * (1 - b1)  # m = b1 * m + (1 - b1) * g
            v += (np.square(g) - v) * (1 - b2)  # v = b2 * v + (1 - b2) * g²
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - mu_product)
            v_hat = v / (1 - b2**t)  # bias-corrected second moment
            p -= (m_hat * lr) / (np.sqrt(v_hat) + self.eps)  # eps outside the corrected sqrt, as torch
            return
        # PyTorch
        bias_correction2 = 1 - b2**t
        g = _decay_or_l2(self, p, g)
        mu = self._momentum_cache(t)  # mu_t
        mu_next = self._momentum_cache(t + 1)  # mu_{t+1}
        lerp_(m, g, 1 - b1)  # m = b1 * m + (1 - b1) * g
        v *= b2  # v = b2 * v + (1 - b2) * g * g
        v += (1 - b2) * g * g
        denom = np.sqrt(v / bias_correction2)  # sqrt(v_hat)
        denom += self.eps
        mu_product_next = mu_product * mu_next  # P_{t+1}
        p += ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom  # the current gradient's share
        p += (((-lr * mu_next) / (1.0 - mu_product_next)) * m) / denom  # the look-ahead momentum's share

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        return self.lr / (np.sqrt(bufs["exp_avg_sq"] / (1 - self.beta2**t)) + self.eps)


# --------------------------------------------------------------------------------------------------
# RAdam
# --------------------------------------------------------------------------------------------------


class RAdam(Betas, Optimizer):
    """RAdam, as ``torch.optim.RAdam``: Adam that stays plain momentum SGD until ``v`` is trustworthy.

    Defaults: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False``::

        g = g + weight_decay * p          (or p *= 1 - lr * weight_decay when decoupled_weight_decay)
        m = m + (1 - b1) * (g - m)                      # "exp_avg"  (torch.lerp)
        v = b2 * v + (1 - b2) * g²                      # "exp_avg_sq"
        rho_inf = 2 / (1 - b2) - 1                      # length of the SMA that v approximates, in the limit
        rho_t = rho_inf - 2 t b2^t / (1 - b2^t)         # ... and at step t
        rho_t > 5:  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                    p -= lr * m / (1 - b1^t) * sqrt(1 - b2^t) / (sqrt(v) + eps) * r_t
        otherwise:  p -= lr * m / (1 - b1^t)            (un-rectified: no division by sqrt(v) at all)

    With b2 = 0.999 the first 5 steps are momentum SGD and the rectifier ``r_t`` then grows from ~0.03 towards 1,
    a built-in warm-up.  torch's threshold is ``rho_t > 5`` (the paper's Algorithm 2 writes ``rho_t > 4``).
    There is no Keras RAdam, so no keras flavour.

    :meth:`effective_step_size` multiplies the first moment ``exp_avg``: ``lr / (1 - b1^t) * sqrt(1 - b2^t)
    / (sqrt(v) + eps) * r_t`` when rectified, else the uniform ``lr / (1 - b1^t)``.

    State: ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``.
    """

    HYPER_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay", "decoupled_weight_decay", "maximize")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        check_nonneg("lr", lr)
        check_nonneg("eps", eps)
        self.betas = betas
        self._check_betas()
        check_nonneg("weight_decay", weight_decay)
        self.lr = lr
        self.eps = eps
        self.weight_decay = weight_decay
        self.decoupled_weight_decay = decoupled_weight_decay
        self.maximize = maximize

    def _required_buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _rho(self, t: int) -> tuple[float, float]:
        b2 = self.beta2
        rho_inf = 2 / (1 - b2) - 1  # maximum length of the approximated SMA
        rho_t = rho_inf - 2 * t * (b2**t) / (1 - b2**t)  # its length at step t
        return rho_inf, rho_t

    @staticmethod
    def _rect(rho_inf: float, rho_t: float) -> float:
        return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        if self.maximize:
            g = -g
        b1, b2, lr = self.beta1, self.beta2, self.lr
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        g = _decay_or_l2(self, p, g)
        lerp_(m, g, 1 - b1)  # m = b1 * m + (1 - b1) * g
        v *= b2  # v = b2 * v + (1 - b2) * g * g
        v += (1 - b2) * g * g
        bias_correction1 = 1 - b1**t
        bias_correction2 = 1 - b2**t
        bias_corrected_exp_avg = m / bias_correction1  # m_hat
        rho_inf, rho_t = self._rho(t)
        if rho_t > 5.0:  # variance tractable: Adam's step, scaled by the rectifier
            denom = np.sqrt(v)
            denom += self.eps
            adaptive_lr = np.reciprocal(denom) * bias_correction2**0.5  # sqrt(1 - b2^t) / (sqrt(v) + eps)
            p -= bias_corrected_exp_avg * lr * adaptive_lr * self._rect(rho_inf, rho_t)
        else:
            p -= bias_corrected_exp_avg * lr  # early steps: momentum SGD, p = p - lr * m_hat

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        step_size = self.lr / (1 - self.beta1**t)
        rho_inf, rho_t = self._rho(t)
        if rho_t > 5.0:
            adaptive = (1 - self.beta2**t) ** 0.5 / (np.sqrt(bufs["exp_avg_sq"]) + self.eps)
            return step_size * adaptive * self._rect(rho_inf, rho_t)
        return np.full(shape, step_size, dtype=float)


# --------------------------------------------------------------------------------------------------
# Adamax
# --------------------------------------------------------------------------------------------------


class Adamax(Betas, Optimizer):
    """Adamax, as ``torch.optim.Adamax`` (default) or ``keras.optimizers.Adamax`` (``flavor="keras"``).

    Adam with the L2 norm of past gradients replaced by the infinity norm (Kingma & Ba, Section 7.1): the
    denominator is a decaying *maximum* of ``|g|``, which needs no bias correction.

    PyTorch (defaults ``lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0``)::

        g = g + weight_decay * p
        m = m + (1 - b1) * (g - m)                      # "exp_avg"  (torch.lerp)
        u = max(b2 * u, |g| + eps)                      # "exp_inf"
        p -= lr / (1 - b1^t) * m / u

    Keras 3.12 (defaults ``lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7``)::

        m += (g - m) * (1 - b1)
        u = max(b2 * u, |g|)
        p -= lr * m / ((1 - b1^t) * (u + eps))

    The difference is where eps sits (the paper has none): torch puts it **inside the max**, Keras adds it
    **after the max**.  Unrolled, torch's ``u_t = max_s b2^(t-s) (|g_s| + eps)`` and Keras' denominator
    ``max_s b2^(t-s) |g_s| + eps``: in torch the eps decays together with the gradient that set the maximum, so
    its denominator is smaller by up to ``eps * (1 - b2^(t-s))``.  That is a relative difference of about
    ``eps / u``, visible only for gradients within a few orders of magnitude of eps (e.g. a weight whose
    gradient has fallen to zero).  Plus the defaults (lr 1e-3 vs 2e-3, eps 1e-7 vs 1e-8).  Keras' own weight
    decay is decoupled, so ``flavor="keras"`` with ``weight_decay != 0`` raises ValueError.

    :meth:`effective_step_size` multiplies the first moment ``exp_avg``: ``lr / (1 - b1^t) / u`` (torch),
    ``lr / ((1 - b1^t) * (u + eps))`` (Keras).

    State: ``"step"``, ``"exp_avg"``, ``"exp_inf"`` (Keras' m, u).
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "beta1", "beta2", "eps", "weight_decay", "maximize")
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
        "keras": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.0},
    }

    def __init__(
        self,
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
        eps: float | None = None,
        weight_decay: float | None = None,
        *,
        maximize: bool = False,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        self._set_or_default(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        self.maximize = maximize
        check_nonneg("lr", self.lr)
        check_nonneg("eps", self.eps)
        self._check_betas()
        check_nonneg("weight_decay", self.weight_decay)
        self._check_keras_weight_decay()

    def _required_buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        g = self._l2_gradient(p, g)
        b1, b2, lr = self.beta1, self.beta2, self.lr
        m, u = bufs["exp_avg"], bufs["exp_inf"]
        if self.flavor == "keras":
            m += (g - m) * (1 - b1)  # m = b1 * m + (1 - b1) * g
            np.maximum(b2 * u, np.abs(g), out=u)  # u = max(b2 * u, |g|)
            p -= (lr * m) / ((1 - b1**t) * (u + self.eps))  # eps added after the max
            return
        # PyTorch
        lerp_(m, g, 1 - b1)  # m = b1 * m + (1 - b1) * g
        u *= b2  # u = max(b2 * u, |g| + eps): eps inside the max
        np.maximum(u, np.abs(g) + self.eps, out=u)
        clr = lr / (1 - b1**t)  # bias correction of m only: the max needs none
        p += (-clr * m) / u  # p = p - clr * m / u

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        u = bufs["exp_inf"]
        if self.flavor == "keras":
            return self.lr / ((1 - self.beta1**t) * (u + self.eps))
        return (self.lr / (1 - self.beta1**t)) / u


# --------------------------------------------------------------------------------------------------
# Lion
# --------------------------------------------------------------------------------------------------


class Lion(Betas, Optimizer):
    """Lion ("EvoLved Sign Momentum"), Algorithm 2 of Chen et al. (2023); not in ``torch.optim``.

    Defaults ``lr=1e-4, betas=(0.9, 0.99), weight_decay=0`` (the paper's and its authors' implementation)::

        c = b1 * m + (1 - b1) * g                       # interpolation: the direction of this step
        p -= lr * (sign(c) + weight_decay * p)          # every weight moves by exactly lr (plus decay)
        m = b2 * m + (1 - b2) * g                       # "exp_avg": the momentum, with a longer memory

    Only the sign of ``c`` is used, so every weight takes a step of the same size ``lr`` (``sign(0) = 0``:
    an element with ``c == 0`` does not move, as ``torch.sign``/``np.sign``); ``b1`` decides how much the
    current gradient can flip that sign, ``b2`` how long the momentum remembers.  The weight decay is
    decoupled (the paper's ``lambda``); since the steps are larger than Adam's, the paper uses a 3-10x smaller
    lr and a correspondingly larger weight decay than for AdamW.

    Keras 3.12's ``keras.optimizers.Lion`` computes exactly this (its weight decay, applied by the base
    optimizer before the step as ``p -= p * weight_decay * lr``, is the paper's decoupled term), so there is no
    keras flavour; only its default ``lr`` differs (1e-3), and it requires ``0 < beta_1 <= 1``.

    :meth:`effective_step_size` is ``lr`` everywhere: the multiplier of ``sign(c)``.

    State: ``"exp_avg"`` (no ``"step"``: Lion does not use one).
    """

    HYPER_NAMES = ("lr", "beta1", "beta2", "weight_decay")
    HAS_STEP = False

    def __init__(
        self,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        *,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        check_nonneg("lr", lr)
        self.betas = betas
        self._check_betas()
        check_nonneg("weight_decay", weight_decay)
        self.lr = lr
        self.weight_decay = weight_decay

    def _required_buffers(self) -> dict[str, float]:
        return {"exp_avg": 0.0}

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        b1, b2, lr = self.beta1, self.beta2, self.lr
        m = bufs["exp_avg"]
        c = b1 * m + (1 - b1) * g  # c = b1 * m + (1 - b1) * g
        if self.weight_decay != 0:
            p -= lr * (np.sign(c) + self.weight_decay * p)  # p = p - lr * (sign(c) + wd * p)
        else:
            p -= lr * np.sign(c)  # p = p - lr * sign(c)
        m *= b2  # m = b2 * m + (1 - b2) * g
        m += (1 - b2) * g

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, self.lr, dtype=float)


# --------------------------------------------------------------------------------------------------
# Registry entries
# --------------------------------------------------------------------------------------------------

_DECOUPLED = HyperParam(
    "decoupled_weight_decay",
    False,
    None,
    False,
    True,
    "bool",
    False,
    "AdamW-style decay: p *= 1 - lr * weight_decay instead of an L2 term in the gradient",
)

SPECS: dict[str, OptimizerSpec] = {
    "nadam": OptimizerSpec(
        name="NAdam",
        cls=NAdam,
        flavors=NAdam.FLAVORS,
        description="Adam with Nesterov momentum: the step looks ahead along the next momentum.",
        torch="NAdam",
        paper="Dozat (2016), Incorporating Nesterov Momentum into Adam, ICLR workshop",
        idea=(
            "Adam whose momentum step already includes the next step's momentum (Nesterov's look-ahead), with a "
            "momentum coefficient that warms up over time."
        ),
        hyperparams=(
            lr_param(2e-3, 1e-3),
            BETA1,
            BETA2,
            eps_param(1e-8, 1e-7),
            wd_param(0.0),
            HyperParam(
                "momentum_decay",
                4e-3,
                None,
                1e-4,
                1.0,
                "float",
                True,
                "speed of the momentum warm-up: mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras: 1",
            ),
            _DECOUPLED,
            maximize_param(),
        ),
    ),
    "radam": OptimizerSpec(
        name="RAdam",
        cls=RAdam,
        flavors=RAdam.FLAVORS,
        description="Adam with a rectified, automatic warm-up of its adaptive step size.",
        torch="RAdam",
        paper="Liu et al. (2020), On the Variance of the Adaptive Learning Rate and Beyond, ICLR",
        idea=(
            "While too few gradients have been seen for the squared-gradient average to be reliable, take plain "
            "momentum steps, then phase Adam's scaling in by a variance-rectifying factor."
        ),
        hyperparams=(
            lr_param(1e-3),
            replace(BETA1, keras_default=None),  # RAdam has no keras flavour
            replace(BETA2, keras_default=None),
            eps_param(1e-8),
            wd_param(0.0),
            _DECOUPLED,
            maximize_param(),
        ),
    ),
    "adamax": OptimizerSpec(
        name="Adamax",
        cls=Adamax,
        flavors=Adamax.FLAVORS,
        description="Adam with a decaying maximum of |gradient| instead of the squared-gradient average.",
        torch="Adamax",
        paper="Kingma & Ba (2015), Adam: A Method for Stochastic Optimization, ICLR, Section 7.1 (AdaMax)",
        idea="Adam with the infinity norm: divide the momentum by a slowly decaying maximum of past |gradients|.",
        hyperparams=(
            lr_param(2e-3, 1e-3),
            BETA1,
            replace(BETA2, help="decay of the running maximum of |gradient| (the infinity norm)"),
            eps_param(1e-8, 1e-7),
            wd_param(0.0),
            maximize_param(),
        ),
    ),
    "lion": OptimizerSpec(
        name="Lion",
        cls=Lion,
        flavors=Lion.FLAVORS,
        description="Steps by the sign of an interpolated momentum: every weight moves by exactly lr.",
        torch=None,
        paper="Chen et al. (2023), Symbolic Discovery of Optimization Algorithms, NeurIPS",
        idea=(
            "Found by a program search: step every weight by the same amount lr in the direction of the sign of a "
            "blend of momentum and gradient, keeping only the momentum as state."
        ),
        hyperparams=(
            lr_param(1e-4),
            HyperParam("beta1", 0.9, None, 0.0, 0.999, "float", False, "weight of the momentum in the direction c"),
            HyperParam("beta2", 0.99, None, 0.0, 0.9999, "float", False, "decay of the momentum average"),
            replace(wd_param(0.0, text="decoupled decay: p -= lr * weight_decay * p each step"), high=1.0),
        ),
    ),
}
