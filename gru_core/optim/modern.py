"""The modern family: Adafactor (2018) and Muon (2024), with PyTorch's names, defaults and update rules, and their
registry entries ``SPECS``.  This module owns both optimizers, the Newton–Schulz orthogonalisation Muon is built on
(:func:`newton_schulz`), the rule that decides which parameters Muon orthogonalises (:meth:`Muon.uses_muon`), and
:class:`PerTensorOptimizer`, the per-name stepping both need.

Both look at each parameter as a *matrix*, not as a bag of numbers: Adafactor keeps one running mean of g² per row
and per column instead of one per weight; Muon replaces a weight matrix's momentum by the nearest (semi-)orthogonal
matrix.  So neither can run on the concatenated ``ParamDict.flat`` vector the classic family updates in one go:
they always step name by name, through the ParamDict's views (still in place), with their state kept per name.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gru_core.optim.base import (
    Arrays,
    HyperParam,
    Optimizer,
    OptimizerSpec,
    check_nonneg,
    check_unit,
    lerp_,
    lr_param,
    maximize_param,
    wd_param,
)
from gru_core.optim.classic import AdamW

__all__ = ["NS_COEFFICIENTS", "SPECS", "Adafactor", "Muon", "PerTensorOptimizer", "newton_schulz"]


# --------------------------------------------------------------------------------------------------
# Per-name stepping (state buffers whose shapes are not the parameter's, different buffers per name)
# --------------------------------------------------------------------------------------------------


class PerTensorOptimizer(Optimizer):
    """An optimizer that needs each parameter's shape: always steps name by name.

    Subclasses implement :meth:`_buffers_for` (which state buffers a parameter gets, with their shapes, and
    whether it keeps a ``"step"``), ``_update(p, g, bufs, t, fresh)`` (as in :class:`Optimizer`, with ``bufs`` that
    parameter's buffers; it returns the scalars of that step that the state does not keep, for
    :meth:`effective_step_size`) and ``_effective(bufs, t, shape)`` (``bufs``: the parameter's buffers plus those
    scalars as 0-d arrays).

    ``step(params, grads)`` keeps :class:`Optimizer`'s contract: ``params`` updated in place (a ParamDict through
    its views, so its ``.flat`` changes too), ``grads`` untouched.  The state is always per name (never packed into
    ParamDicts), which is also what :meth:`state_dict` / :meth:`load_state_dict` save and restore.
    """

    def __init__(self, flavor: str, unknown: dict[str, Any]) -> None:
        super().__init__(flavor, unknown)
        # name -> scalars the last step used that the state does not keep (for effective_step_size)
        self._scalars: dict[str, dict[str, float]] = {}

    def _buffers_for(self, name: str, shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], bool]:
        """State buffers of one parameter (state name -> shape, all start at zero) and whether it keeps "step"."""
        raise NotImplementedError

    def state_shapes(self, name: str, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Shapes of the state arrays parameter ``name`` of ``shape`` gets (e.g. for checking a saved state)."""
        return dict(self._buffers_for(name, tuple(shape))[0])

    def reset(self) -> None:
        super().reset()
        self._scalars = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply one update to ``params`` in place (name by name), using ``grads`` (which are left untouched)."""
        if not self.lr >= 0.0:
            raise ValueError(f"Invalid lr value: {self.lr!r} (must be >= 0)")
        self._check_inputs(params, grads)
        if not self.state:
            self.state = {name: {} for name in params}
            self._shapes = {name: tuple(p.shape) for name, p in params.items()}
        self._flat = None  # per-name state only: the base class's flat path never applies
        self.steps += 1
        t = self.steps
        for name, p in params.items():  # a ParamDict's arrays are views into its .flat: updated in place
            st = self.state[name]
            shapes, has_step = self._buffers_for(name, p.shape)
            fresh = {key for key in shapes if key not in st}
            for key in fresh:
                st[key] = np.zeros(shapes[key], dtype=p.dtype)
            if has_step:
                st["step"] = t
            bufs = {key: st[key] for key in shapes}
            self._scalars[name] = self._update(p, np.asarray(grads[name]), bufs, t, fresh) or {}

    def effective_step_size(self, name: str | None = None) -> np.ndarray:
        """Per-element multiplier the optimizer applies to its gradient-like quantity (see the subclass).

        As :meth:`Optimizer.effective_step_size`: shaped like the parameter for a ``name``, else the flat vector
        over all parameters in ``params`` order.
        """
        if not self.state or self._shapes is None:
            raise RuntimeError("effective_step_size() needs the optimizer state: call step() first")
        if name is None:
            return np.concatenate([self.effective_step_size(n).ravel() for n in self.state])
        shape = self._shapes[name]
        keys, _ = self._buffers_for(name, shape)
        st = self.state[name]
        if any(key not in st for key in keys):
            raise RuntimeError("the state lacks buffers for the current hyperparameters: call step() first")
        bufs = {key: st[key] for key in keys}
        bufs.update({key: np.asarray(value) for key, value in self._scalars.get(name, {}).items()})
        t = max(self.steps, 1)
        return np.array(np.broadcast_to(self._effective(bufs, t, shape), shape), dtype=float)


# --------------------------------------------------------------------------------------------------
# Adafactor
# --------------------------------------------------------------------------------------------------


class Adafactor(PerTensorOptimizer):
    """Adafactor, as ``torch.optim.Adafactor`` (default) or ``keras.optimizers.Adafactor`` (``flavor="keras"``).

    Adam's second moment with sublinear memory: a matrix (any parameter with >= 2 dims; the last two are
    factored) keeps one running mean of g² per row, ``R``, and per column, ``C``, and rebuilds the full estimate as
    their outer product divided by the mean of ``R``; a vector keeps a full running mean ``V``.  There is no first
    moment.  The step is *relative*: its size is ``rho_t = min(lr, 1/sqrt(t))`` times the parameter's own RMS.

    PyTorch (defaults ``lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1, weight_decay=0``), per parameter::

        w     = t ** beta2_decay                            # 1 - beta2_t: 1 at t = 1, then decaying like t^-0.8
        rho   = min(lr, 1 / sqrt(t))
        alpha = max(eps2, RMS(p)) * rho                     (RMS of p *before* the weight decay)
        p    *= 1 - lr * weight_decay                       (decoupled)
        R = R + w * (mean_cols(g²) - R);  C = C + w * (mean_rows(g²) - C)     # "row_var", "col_var" (torch.lerp)
        Vhat = R C / max(mean(R), eps1)                      (matrices)
        V = V + w * (g² - V);  Vhat = V                      # "variance" (vectors)
        U = g / max(sqrt(Vhat), eps1)
        p -= alpha * U / max(1, RMS(U) / d)                 (update clipping at threshold d)

    ``eps1``: torch's ``eps=(None, eps2)`` means "the machine epsilon of the parameter's dtype".  The registry's
    hyperparameters are scalars, so here **``eps1 = 0.0`` stands for that None** (the default; 2.2e-16 in float64),
    in either flavour; a literal zero floor is not available.  The constructor takes torch's ``eps=(eps1, eps2)``
    (``None`` allowed) or the registry's ``eps1=``/``eps2=``.

    Keras 3.12 (defaults ``lr=1e-3, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold(=d)=1``)
    differs in one well-defined place: eps1 is *added to g²* before the running means (the paper's way) and
    nothing is clamped afterwards::

        b = 1 - t ** beta2_decay
        R = b R + (1 - b) mean_cols(g² + eps1);  C = b C + (1 - b) mean_rows(g² + eps1)
        Vhat = (R / mean(R)) C    (matrices)      V = b V + (1 - b) (g² + eps1)   (vectors)
        U = g / sqrt(Vhat);  p -= alpha * U / max(1, RMS(U) / d)

    Keras' ``relative_step`` is left out: with a constant lr, Keras computes ``rho_t = min(lr, 1/sqrt(t))``
    whether it is True or False.  Keras' own weight decay is decoupled and uses the raw lr after shrinking the
    weights *before* their RMS is taken; rather than a third variant, ``flavor="keras"`` has none (ValueError),
    as in the classic family.  The state uses torch's names and shapes in both flavours: ``"step"``,
    ``"row_var"`` (shape ``p.shape[:-1] + (1,)``) and ``"col_var"`` (``p.shape[:-2] + (1, p.shape[-1])``) for
    matrices, ``"variance"`` for vectors.
    """

    FLAVORS = ("pytorch", "keras")
    HYPER_NAMES = ("lr", "beta2_decay", "eps1", "eps2", "d", "weight_decay", "maximize")
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {
        "pytorch": {"lr": 1e-2, "eps1": 0.0},
        "keras": {"lr": 1e-3, "eps1": 1e-30},
    }

    def __init__(
        self,
        lr: float | None = None,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] | None = None,
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        eps1: float | None = None,
        eps2: float | None = None,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        if eps is not None:
            if eps1 is not None or eps2 is not None:
                raise ValueError("give either eps=(eps1, eps2) or eps1=/eps2=, not both")
            if len(eps) != 2:
                raise ValueError(f"Invalid eps value: {eps!r} (must be a pair (eps1, eps2))")
            eps1, eps2 = (0.0 if eps[0] is None else eps[0]), eps[1]
        self._set_or_default(lr=lr, eps1=eps1)
        self.eps2 = 1e-3 if eps2 is None else eps2
        self.beta2_decay = beta2_decay
        self.d = d
        self.weight_decay = weight_decay
        self.maximize = maximize
        check_nonneg("lr", self.lr)
        if not self.beta2_decay <= 0.0:
            raise ValueError(f"Invalid beta2_decay value: {self.beta2_decay!r} (must be <= 0)")
        check_nonneg("eps1 (eps[0])", self.eps1)
        check_nonneg("eps2 (eps[1])", self.eps2)
        if not self.d >= 1.0:
            raise ValueError(f"Invalid d value: {self.d!r} (the clipping threshold must be >= 1)")
        check_nonneg("weight_decay", self.weight_decay)
        self._check_keras_weight_decay()

    @property
    def eps(self) -> tuple[float | None, float]:
        """torch's ``eps=(eps1, eps2)``, with ``None`` for the machine epsilon (``eps1 == 0``)."""
        return (self.eps1 or None, self.eps2)

    def _eps1(self, dtype: np.dtype) -> float:
        return self.eps1 if self.eps1 > 0 else float(np.finfo(dtype).eps)  # 0: torch's None

    def _buffers_for(self, name: str, shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], bool]:
        if len(shape) > 1:  # factored along the last two dims
            return {"row_var": shape[:-1] + (1,), "col_var": shape[:-2] + (1, shape[-1])}, True
        return {"variance": shape}, True

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> dict[str, float]:
        if self.maximize:
            g = -g
        eps1 = self._eps1(p.dtype)
        rho = min(self.lr, 1 / t**0.5)  # relative step size: rho_t = min(lr, 1 / sqrt(t))
        rms = max(self.eps2, float(np.linalg.norm(p)) / p.size**0.5)  # RMS(p) before the decay, floored at eps2
        alpha = rms * rho  # alpha_t = max(eps2, RMS(p)) * rho_t
        if self.weight_decay != 0:
            p *= 1 - self.lr * self.weight_decay  # decoupled weight decay: p = p - lr * wd * p
        if self.flavor == "keras":
            beta2 = 1 - t**self.beta2_decay  # beta2_t = 1 - t^decay
            g2 = np.square(g) + eps1  # eps1 added to g² (the paper's way)
            if "row_var" in bufs:
                R, C = bufs["row_var"], bufs["col_var"]
                R[...] = beta2 * R + (1 - beta2) * np.mean(g2, axis=-1, keepdims=True)  # R = b R + (1-b) row means
                C[...] = beta2 * C + (1 - beta2) * np.mean(g2, axis=-2, keepdims=True)  # C = b C + (1-b) col means
                v = (R / np.mean(R, axis=-2, keepdims=True)) * C  # Vhat = (R / mean(R)) C
            else:
                V = bufs["variance"]
                V[...] = beta2 * V + (1 - beta2) * g2  # V = b V + (1-b) (g² + eps1)
                v = V
            u = g / np.sqrt(v)  # U = g / sqrt(Vhat), nothing clamped
            clip = max(1.0, float(np.sqrt(np.mean(np.square(u)))) / self.d)  # clip = max(1, RMS(U) / d)
            p -= alpha * (u / clip)  # p = p - alpha * U / clip
            return {"rms": rms, "clip": clip}
        # PyTorch
        w = t**self.beta2_decay  # 1 - beta2_t = t^decay
        if "row_var" in bufs:
            R, C = bufs["row_var"], bufs["col_var"]
            lerp_(R, np.linalg.norm(g, axis=-1, keepdims=True) ** 2 / g.shape[-1], w)  # R += w (mean_cols(g²) - R)
            lerp_(C, np.linalg.norm(g, axis=-2, keepdims=True) ** 2 / g.shape[-2], w)  # C += w (mean_rows(g²) - C)
            v = R @ C  # outer product: R_i C_j
            v /= np.maximum(np.mean(R, axis=-2, keepdims=True), eps1)  # Vhat = R C / max(mean(R), eps1)
        else:
            V = bufs["variance"]
            lerp_(V, g * g, w)  # V += w (g² - V)
            v = V.copy()  # Vhat = V (the state is not written below)
        u = 1 / np.sqrt(np.maximum(v, eps1 * eps1))  # 1 / max(sqrt(Vhat), eps1), as rsqrt(max(Vhat, eps1²))
        u *= g  # U = g / max(sqrt(Vhat), eps1)
        clip = max(1.0, float(np.linalg.norm(u)) / (u.size**0.5 * self.d))  # clip = max(1, RMS(U) / d)
        p += (-alpha / clip) * u  # p = p - alpha * U / clip
        return {"rms": rms, "clip": clip}

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        """``alpha_t / clip / max(sqrt(Vhat), eps1)`` (Keras: ``/ sqrt(Vhat)``): it multiplies the gradient.

        The gradient negated when maximizing; the decoupled weight decay comes on top.  ``alpha_t`` uses the
        current lr with the RMS(p) of the last step, ``clip`` is that step's clipping divisor, ``Vhat`` is rebuilt
        from the state.  Needs one step() after load_state_dict (RMS(p) and clip are not part of the state).
        """
        if "rms" not in bufs:
            raise RuntimeError("effective_step_size() needs a step() after load_state_dict (RMS(p), clip)")
        scale = float(bufs["rms"]) * min(self.lr, 1 / t**0.5) / float(bufs["clip"])
        dtype = next(v.dtype for k, v in bufs.items() if k in ("row_var", "variance"))
        eps1 = self._eps1(dtype)
        if self.flavor == "keras":
            if "row_var" in bufs:
                R = bufs["row_var"]
                v = (R / np.mean(R, axis=-2, keepdims=True)) * bufs["col_var"]
            else:
                v = bufs["variance"]
            return scale / np.sqrt(v)
        if "row_var" in bufs:
            R = bufs["row_var"]
            v = (R @ bufs["col_var"]) / np.maximum(np.mean(R, axis=-2, keepdims=True), eps1)
        else:
            v = bufs["variance"]
        return scale / np.sqrt(np.maximum(v, eps1 * eps1))


# --------------------------------------------------------------------------------------------------
# Muon (+ AdamW for everything that is not a hidden weight matrix)
# --------------------------------------------------------------------------------------------------

#: torch.optim.Muon's (and Keller Jordan's) quintic Newton–Schulz coefficients (a, b, c)
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)


def newton_schulz(
    g: np.ndarray, coefficients: tuple[float, float, float] = NS_COEFFICIENTS, steps: int = 5, eps: float = 1e-7
) -> np.ndarray:
    """Approximately orthogonalise the matrix ``g``: ``U S' Vᵀ`` for its SVD ``U S Vᵀ``, with ``S'`` near 1.

    As torch.optim.Muon's ``_zeropower_via_newtonschulz``, in ``g``'s dtype (torch 2.13 first casts to bfloat16)::

        X = g / max(||g||_F, eps)                 (transposed first if g is tall, so X Xᵀ is the small Gram)
        repeat steps times:  A = X Xᵀ;  X = a X + (b A + c A²) X

    Each step maps every singular value ``s`` of X to ``a s + b s³ + c s⁵`` and keeps the singular vectors; the
    Frobenius normalisation puts every ``s`` in [0, 1], and with (3.4445, -4.775, 2.0315) five steps take every
    ``s >= 0.003`` into about [0.68, 1.21] (the iteration trades exact convergence for a steep slope at zero).
    ``g`` is not modified.
    """
    a, b, c = coefficients
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    x = x / max(float(np.linalg.norm(x)), eps)  # Frobenius norm >= spectral norm: all s <= 1
    for _ in range(steps):
        gram = x @ x.T  # A = X Xᵀ (the smaller side)
        poly = b * gram + c * (gram @ gram)  # b A + c A²  (torch.addmm(A, A, A, beta=b, alpha=c))
        x = a * x + poly @ x  # X = a X + (b A + c A²) X: s -> a s + b s³ + c s⁵
    return x.T if tall else x


class Muon(PerTensorOptimizer):
    """Muon for the hidden weight matrices, AdamW for the rest: ``torch.optim.Muon`` + ``torch.optim.AdamW``.

    **Which parameters get Muon**: 2-D parameters named ``gru.weight_*`` (``weight_ih_l{k}``, ``weight_hh_l{k}``;
    likewise ``rnn.weight_*`` of the plain RNN, the same role), see :meth:`uses_muon`.  Everything else (the biases
    ``gru.bias_*``, the output head ``head.weight`` / ``head.bias``, any other name or shape) gets AdamW, as
    PyTorch's documentation recommends (Muon is for hidden layers: not for biases, embeddings or the output layer).
    A parameter dict without such names, e.g. the test-function lab's single ``{"xy": (2,)}``, is therefore
    *all AdamW*: this optimizer is then exactly ``torch.optim.AdamW`` with the ``adamw_*`` hyperparameters, and
    ``lr`` (Muon's) has no effect.

    Muon (``torch.optim.Muon``, defaults ``lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None``), per matrix::

        B = B + (1 - momentum) * (g - B)                    # "momentum_buffer" (torch.lerp: an average, not a sum)
        M = g + momentum * (B - g)   (nesterov)   else   B
        O = newton_schulz(M, (a, b, c), ns_steps, eps)       # ≈ U Vᵀ of M's SVD
        p *= 1 - lr * weight_decay                          (decoupled, with the unadjusted lr)
        p -= lr * ratio * O,   ratio = sqrt(max(1, rows / cols))         ("original", Keller Jordan's)
                               ratio = 0.2 * sqrt(max(rows, cols))       (match_rms_adamw: Moonshot's, Liu et al.)

    The orthogonalised update has every singular value near 1, whatever the gradient's scale or conditioning:
    all directions of the matrix move at the same rate.  ``match_rms_adamw`` scales it to the RMS (0.2) of a
    typical AdamW update, so the same lr and weight decay suit both halves.

    **Newton–Schulz precision**: torch 2.13 casts the matrix to *bfloat16* before the iteration on every device,
    CPU included (``_zeropower_via_newtonschulz``: ``grad.bfloat16()``), so even a float64 torch run takes
    bfloat16-rounded steps, and how its bfloat16 matmuls round depends on the CPU kernel.  Here the iteration runs
    in the parameter's dtype: the same algorithm, with the rounding left out.  (The tests compare with torch's own
    code with that cast turned into a copy, and with stock torch at bfloat16 tolerance.)

    **The AdamW half** has its own hyperparameters, ``torch.optim.AdamW``'s defaults (betas (0.9, 0.999),
    eps 1e-8, weight_decay 1e-2) except the learning rate: ``adamw_lr = 1e-3``, the same number as Muon's default
    ``lr``.  AdamW's per-element step is about lr; Muon's RMS step (original scaling) is lr / sqrt(cols) for a tall
    matrix, as all the GRU's are (0.35 lr for the 24 x 8 of H = 8), and 0.2 lr with ``match_rms_adamw``, so with one
    number both halves move at comparable rates, as Moonshot's scaling intends.  (PyTorch's documentation example pairs
    Muon lr 0.02 with AdamW 3e-4; Keras derives AdamW's lr as 0.1 * lr.)
    A learning-rate schedule that sets ``lr`` leaves ``adamw_lr`` alone: set both to scale both.

    No Keras flavour: ``keras.optimizers.Muon`` (3.12) differs in many places at once: ``ns_steps`` 6, ``+ 1e-7``
    instead of a clamp, a momentum *sum* ``B = momentum B + g`` instead of torch's average, Adam's epsilon-hat
    (1e-7) in its AdamW half with lr ``0.1 * lr``, Keras' weight decay 0.1 on every variable including the AdamW
    ones, and Muon for every 2-D to 3-D variable not excluded by name (the output layer included by default).

    State: ``"momentum_buffer"`` for the Muon matrices (torch's Muon keeps no step), ``"step"``, ``"exp_avg"``,
    ``"exp_avg_sq"`` for the AdamW parameters.  The constructor takes torch's ``ns_coefficients=(a, b, c)`` and
    ``adjust_lr_fn`` (None, "original", "match_rms_adamw") or the registry's ``ns_a``/``ns_b``/``ns_c`` and
    ``match_rms_adamw``.
    """

    HYPER_NAMES = (
        "lr", "weight_decay", "momentum", "nesterov", "ns_a", "ns_b", "ns_c", "eps", "ns_steps", "match_rms_adamw",
        "adamw_lr", "adamw_beta1", "adamw_beta2", "adamw_eps", "adamw_weight_decay",
    )  # fmt: skip
    HAS_STEP = False  # the Muon matrices keep none; the AdamW parameters keep AdamW's "step"
    #: name prefixes of the hidden weight matrices (PyTorch's nn.GRU / nn.RNN names)
    MUON_PREFIXES: ClassVar[tuple[str, ...]] = ("gru.weight_", "rnn.weight_")

    def __init__(
        self,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] | None = None,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        ns_a: float | None = None,
        ns_b: float | None = None,
        ns_c: float | None = None,
        match_rms_adamw: bool | None = None,
        adamw_lr: float = 1e-3,
        adamw_beta1: float = 0.9,
        adamw_beta2: float = 0.999,
        adamw_eps: float = 1e-8,
        adamw_weight_decay: float = 1e-2,
        flavor: str = "pytorch",
        **unknown: Any,
    ) -> None:
        super().__init__(flavor, unknown)
        given = (ns_a, ns_b, ns_c)
        if ns_coefficients is not None:
            if any(v is not None for v in given):
                raise ValueError("give either ns_coefficients=(a, b, c) or ns_a=/ns_b=/ns_c=, not both")
            if len(ns_coefficients) != 3:
                raise ValueError(f"Invalid ns_coefficients value: {ns_coefficients!r} (must be 3 numbers (a, b, c))")
            given = tuple(ns_coefficients)
        self.ns_a, self.ns_b, self.ns_c = (d if v is None else v for v, d in zip(given, NS_COEFFICIENTS))
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(
                f"Invalid adjust_lr_fn value: {adjust_lr_fn!r} (must be None, 'original' or 'match_rms_adamw')"
            )
        if match_rms_adamw is not None and adjust_lr_fn is not None:
            raise ValueError("give either adjust_lr_fn= or match_rms_adamw=, not both")
        if match_rms_adamw is None:
            match_rms_adamw = adjust_lr_fn == "match_rms_adamw"
        self.match_rms_adamw = bool(match_rms_adamw)
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.nesterov = nesterov
        self.eps = eps
        self.ns_steps = ns_steps
        self.adamw_lr = adamw_lr
        self.adamw_beta1 = adamw_beta1
        self.adamw_beta2 = adamw_beta2
        self.adamw_eps = adamw_eps
        self.adamw_weight_decay = adamw_weight_decay
        check_nonneg("lr", lr)
        check_nonneg("momentum", momentum)
        check_nonneg("weight_decay", weight_decay)
        check_nonneg("eps", eps)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, (int, np.integer)) or not 0 <= ns_steps < 100:
            raise ValueError(f"Invalid ns_steps value: {ns_steps!r} (must be an integer in [0, 100))")
        check_nonneg("adamw_lr", adamw_lr)
        check_unit("adamw_beta1", adamw_beta1)
        check_unit("adamw_beta2", adamw_beta2)
        check_nonneg("adamw_eps", adamw_eps)
        check_nonneg("adamw_weight_decay", adamw_weight_decay)
        self._adamw = AdamW()  # the AdamW half's update rule; its hyperparameters are synced before each use

    @property
    def ns_coefficients(self) -> tuple[float, float, float]:
        return (self.ns_a, self.ns_b, self.ns_c)

    @property
    def adjust_lr_fn(self) -> str:
        """torch's name of the lr adjustment in use ("original" is also torch's None)."""
        return "match_rms_adamw" if self.match_rms_adamw else "original"

    @classmethod
    def uses_muon(cls, name: str, shape: tuple[int, ...]) -> bool:
        """Whether parameter ``name`` of ``shape`` gets Muon (a hidden weight matrix) rather than AdamW."""
        return len(shape) == 2 and name.startswith(cls.MUON_PREFIXES)

    def adjusted_lr(self, shape: tuple[int, ...]) -> float:
        """Muon's lr for a matrix of ``shape``: lr * sqrt(max(1, rows/cols)), or lr * 0.2 * sqrt(max(rows, cols))."""
        rows, cols = shape[:2]
        ratio = 0.2 * math.sqrt(max(rows, cols)) if self.match_rms_adamw else math.sqrt(max(1, rows / cols))
        return self.lr * ratio

    def _partner(self) -> AdamW:
        a = self._adamw
        a.lr, a.betas, a.eps, a.weight_decay = (
            self.adamw_lr, (self.adamw_beta1, self.adamw_beta2), self.adamw_eps, self.adamw_weight_decay
        )  # fmt: skip
        return a

    def _buffers_for(self, name: str, shape: tuple[int, ...]) -> tuple[dict[str, tuple[int, ...]], bool]:
        if self.uses_muon(name, shape):
            return {"momentum_buffer": shape}, False
        return {"exp_avg": shape, "exp_avg_sq": shape}, True

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: Arrays, t: int, fresh: set[str]) -> None:
        if "momentum_buffer" not in bufs:
            self._partner()._update(p, g, bufs, t, fresh)  # AdamW, exactly torch.optim.AdamW's step
            return
        buf = bufs["momentum_buffer"]
        lerp_(buf, g, 1 - self.momentum)  # B = momentum * B + (1 - momentum) * g
        if self.nesterov:
            m = np.array(g, copy=True)
            lerp_(m, buf, self.momentum)  # M = g + momentum * (B - g): look ahead along the momentum
        else:
            m = buf  # M = B
        o = newton_schulz(m, self.ns_coefficients, self.ns_steps, self.eps)  # O ≈ U Vᵀ: all singular values ~1
        p *= 1 - self.lr * self.weight_decay  # decoupled weight decay: p = p - lr * wd * p
        p += -self.adjusted_lr(p.shape) * o  # p = p - lr * ratio * O

    def _effective(self, bufs: Arrays, t: int, shape: tuple[int, ...]) -> np.ndarray:
        """Muon matrices: the scalar ``lr * ratio`` (filled to the shape); it multiplies the orthogonalised
        momentum ``O`` (which the state does not keep).  AdamW parameters: as AdamW, it multiplies ``exp_avg``.
        The decoupled weight decay comes on top in both."""
        if "momentum_buffer" in bufs:
            return np.full(shape, self.adjusted_lr(shape), dtype=float)
        return self._partner()._effective(bufs, t, shape)


# --------------------------------------------------------------------------------------------------
# Registry entries
# --------------------------------------------------------------------------------------------------

SPECS: dict[str, OptimizerSpec] = {
    "adafactor": OptimizerSpec(
        name="Adafactor",
        cls=Adafactor,
        flavors=Adafactor.FLAVORS,
        description="Relative steps scaled by the weight's RMS, with a factored (row x column) second moment.",
        torch="Adafactor",
        paper=(
            'Shazeer & Stern (2018), "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML'
        ),
        idea=(
            "Keep only row and column averages of the squared gradient (memory n + m instead of n x m), drop the "
            "first moment, and step by a fraction of each weight matrix's own RMS, clipped when the update is too big."
        ),
        hyperparams=(
            lr_param(1e-2, 1e-3),
            HyperParam(
                "beta2_decay", -0.8, -0.8, -1.0, 0.0, "float", False,
                "1 - beta2_t = t^beta2_decay: -1 averages all steps equally, 0 keeps only the last",
            ),
            HyperParam(
                "eps1", 0.0, 1e-30, 0.0, 1e-3, "float", False,
                "floor of sqrt(second moment) (Keras: added to g²); 0 = the dtype's machine epsilon, torch's None",
            ),
            HyperParam(
                "eps2", 1e-3, 1e-3, 1e-6, 1e-1, "float", True,
                "floor of the weights' RMS in the relative step (so zero weights still move)",
            ),
            HyperParam(
                "d", 1.0, 1.0, 1.0, 10.0, "float", False,
                "clipping threshold: the update is scaled down when its RMS exceeds d",
            ),
            wd_param(0.0, text="decoupled decay: p *= 1 - lr * weight_decay each step"),
            maximize_param(),
        ),
    ),
    "muon": OptimizerSpec(
        name="Muon",
        cls=Muon,
        flavors=Muon.FLAVORS,
        description="Orthogonalised momentum for the GRU's weight matrices, AdamW for biases and the head.",
        torch="Muon",
        paper=(
            'Jordan et al. (2024), "Muon: An optimizer for hidden layers in neural networks" (blog); '
            'match_rms_adamw: Liu et al. (2025), "Muon is Scalable for LLM Training"'
        ),
        idea=(
            "Replace each hidden weight matrix's momentum by the nearest orthogonal matrix (five Newton-Schulz "
            "steps), so every direction of the matrix moves at the same rate; AdamW handles the rest."
        ),
        hyperparams=(
            lr_param(1e-3),
            wd_param(0.1, text="decoupled decay of the Muon matrices: p *= 1 - lr * weight_decay each step"),
            HyperParam("momentum", 0.95, None, 0.0, 0.99, "float", False, "decay of the momentum average"),
            HyperParam("nesterov", True, None, False, True, "bool", False, "orthogonalise g + momentum * (B - g)"),
            HyperParam("ns_a", NS_COEFFICIENTS[0], None, 0.0, 5.0, "float", False,
                       "Newton-Schulz coefficient a of s -> a s + b s³ + c s⁵ (its slope at 0)"),
            HyperParam("ns_b", NS_COEFFICIENTS[1], None, -6.0, 0.0, "float", False,
                       "Newton-Schulz coefficient b of s -> a s + b s³ + c s⁵"),
            HyperParam("ns_c", NS_COEFFICIENTS[2], None, 0.0, 3.0, "float", False,
                       "Newton-Schulz coefficient c of s -> a s + b s³ + c s⁵"),
            HyperParam("eps", 1e-7, None, 1e-12, 1e-2, "float", True,
                       "floor of the Frobenius norm the matrix is divided by"),
            HyperParam("ns_steps", 5, None, 0, 10, "int", False, "Newton-Schulz iterations"),
            HyperParam("match_rms_adamw", False, None, False, True, "bool", False,
                       "scale by 0.2 sqrt(max(rows, cols)) (Moonshot) instead of sqrt(max(1, rows/cols))"),
            HyperParam("adamw_lr", 1e-3, None, 1e-5, 1.0, "float", True,
                       "AdamW's lr for biases and head (our default: 1e-3, the same number as Muon's lr)"),
            HyperParam("adamw_beta1", 0.9, None, 0.0, 0.999, "float", False, "AdamW's first-moment decay"),
            HyperParam("adamw_beta2", 0.999, None, 0.0, 0.9999, "float", False, "AdamW's second-moment decay"),
            HyperParam("adamw_eps", 1e-8, None, 1e-12, 1e-2, "float", True, "AdamW's eps in the denominator"),
            HyperParam("adamw_weight_decay", 1e-2, None, 0.0, 0.1, "float", False,
                       "AdamW's decoupled decay of biases and head"),
        ),
    ),
}
