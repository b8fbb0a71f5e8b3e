"""The fast GRU: forward pass and hand-written backpropagation through time in NumPy.

This is the engine the trainer uses.  It computes exactly what :mod:`gru_core.model.reference` computes
(the tests prove it, and prove both equal to PyTorch's ``nn.GRU``), but arranges the work so that
NumPy spends its time in BLAS and vectorised ufuncs instead of in the Python interpreter.
Read ``reference.py`` first: it is the same maths written the way a student writes it.

The equations (PyTorch / cuDNN / Keras ``reset_after=True``, ``variant="pytorch"``)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn)) candidate
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

``variant="classic"`` (Cho et al. 2014, Keras ``reset_after=False``) differs only in the candidate:
``n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)``.

The tricks, block by block (each one is named again where it is played):

1. *Feature-major layout.*  Inside a layer every per-step quantity is stored as ``(features, B)``
   in buffers of shape ``(T, features, B)``.  A gate's block ``rows [0:H]`` of a ``(3H, B)`` array is
   then a contiguous slice, so no ufunc ever runs on a strided view.
2. *Input projections once for all time steps.*  ``W_ih x_t + b`` for every ``t`` is one batched
   matmul before the loop; the loop only does the recurrent part.
3. *One fused matmul per step.*  ``W_hh h`` for all three gates at once, with the hidden biases
   riding along as an extra column of ``W_hh`` against a constant row of ones under ``h``.
4. *Gates from one exp.*  ``σ(a) = 1/(1+e^−a)`` and ``tanh(a) = 2/(1+e^−2a) − 1``, with the −1 and −2
   folded into scaled copies of the weights.  NumPy's float64 ``tanh`` costs ~15 ns an element here,
   ``exp`` ~6 ns, and the gates' transcendental functions dominate the forward pass.
5. *Backward gate factors in one pass.*  Everything the backward step multiplies ``∂L/∂h_t`` by
   (``(1−z)(1−n²)``, ``(h_{t-1}−n) z(1−z)``, …) depends only on the forward values, so it is computed
   for all ``t`` at once after the forward loop; the backward loop is then one broadcast multiply,
   one matmul and two adds per step.
6. *Weight gradients as one contraction over all T·B columns* after the backward loop, instead of an
   outer product per step.
7. *Preallocated buffers* per ``(B, T)`` written with ``out=``, and per-step views built once, so the
   hot loop allocates nothing and does no slicing.
8. *Flat parameters.*  ``params`` is a :class:`~gru_core.model.params.ParamDict`: the named arrays are views
   into one vector, so an optimizer updates every weight with a few vectorised operations.
9. *A second BLAS thread for big per-step products, only when a core is idle.*  BLAS runs one thread
   (see :mod:`gru_core._blas`); from ~1.5 MFLOP a step (H = 64 with B = 64, H = 128) a second thread
   makes the per-step product 1.6-1.9× faster on an idle 2-core machine (a training step at H = 128,
   B = 64: 13 % faster), so the loops ask for it and get it only while a core is idle right now.
   Tried and dropped: writing the backward gate gradients straight into the time-next-to-batch layout
   of trick 6 (saves the transposing copies, but the strided per-step writes cost as much: ±3 %).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gru_core._blas import STEP_PRODUCT_FLOPS, big_products
from gru_core.config import INITS, VARIANTS, GRUConfig
from gru_core.model.params import ParamDict

# --------------------------------------------------------------------------------------------------
# argument checking shared by both implementations
# --------------------------------------------------------------------------------------------------


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _sizes(input_size, hidden_size, output_size, num_layers) -> tuple[int, int, int, int]:
    """The four sizes every model here takes, each checked by :func:`_positive_int` (in this order)."""
    return (
        _positive_int("input_size", input_size),
        _positive_int("hidden_size", hidden_size),
        _positive_int("output_size", output_size),
        _positive_int("num_layers", num_layers),
    )


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _float_dtype(dtype) -> np.dtype:
    """``np.dtype(dtype)`` if that is float32 or float64."""
    try:
        value = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if value not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return value


def check_inputs(X, y, input_size: int, output_size: int, dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate a batch: X (B, T, D) finite, y (B, O) finite (or (B,) when O == 1)."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X must have shape (batch, time, features), got shape {X.shape}")
    B, T, D = X.shape
    if B < 1 or T < 1:
        raise ValueError(f"X must have at least one sample and one time step, got shape {X.shape}")
    if D != input_size:
        raise ValueError(f"X has {D} features per time step but the model's input_size is {input_size}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or inf")
    if y is None:
        return X, None
    y = np.asarray(y)
    if y.ndim == 1 and output_size == 1:
        y = y[:, None]
    if y.shape != (B, output_size):
        raise ValueError(f"y must have shape ({B}, {output_size}) to match X, got {y.shape}")
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or inf")
    return X, y


def param_shapes(input_size: int, hidden_size: int, output_size: int, num_layers: int) -> dict:
    """Names and shapes exactly as ``state_dict()`` of ``gru=nn.GRU(...)`` + ``head=nn.Linear(...)``."""
    H = hidden_size
    shapes = {}
    for k in range(num_layers):
        D = input_size if k == 0 else H
        shapes[f"gru.weight_ih_l{k}"] = (3 * H, D)
        shapes[f"gru.weight_hh_l{k}"] = (3 * H, H)
        shapes[f"gru.bias_ih_l{k}"] = (3 * H,)
        shapes[f"gru.bias_hh_l{k}"] = (3 * H,)
    shapes["head.weight"] = (output_size, H)
    shapes["head.bias"] = (output_size,)
    return shapes


def init_params(params: ParamDict, hidden_size: int, num_layers: int, init: str, rng) -> None:
    """Fill ``params`` in place.

    ``"pytorch"``: every GRU weight and bias ~ U(−1/√H, 1/√H) (``nn.GRU.reset_parameters``); the head as
    ``nn.Linear`` (kaiming-uniform with a=√5, which is also U(−1/√H, 1/√H), bias likewise).
    ``"keras"``: Glorot-uniform input kernels, orthogonal recurrent kernels, zero biases; Glorot-uniform
    dense kernel, zero bias.  Keras stores gates as (z, r, h) columns; we draw in Keras's layout and
    reorder into PyTorch's (r, z, n) rows so the same seed means the same thing as in Keras.
    """
    H = hidden_size
    if init == "pytorch":
        bound = 1.0 / np.sqrt(H)
        for p in params.values():
            p[...] = rng.uniform(-bound, bound, size=p.shape)
        return
    for k in range(num_layers):
        W_ih = params[f"gru.weight_ih_l{k}"]
        D = W_ih.shape[1]
        limit = np.sqrt(6.0 / (D + 3 * H))
        kernel = rng.uniform(-limit, limit, size=(D, 3 * H))  # Keras (D, 3H), columns z | r | h
        # orthogonal (H, 3H): QR of a (3H, H) normal matrix, sign-corrected, transposed
        a = rng.normal(size=(3 * H, H))
        q, rr = np.linalg.qr(a)
        q = q * np.sign(np.diag(rr))
        recurrent = q.T  # (H, 3H), orthonormal rows
        z_, r_, h_ = (slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H))
        W_ih[...] = np.concatenate([kernel[:, r_], kernel[:, z_], kernel[:, h_]], axis=1).T
        params[f"gru.weight_hh_l{k}"][...] = np.concatenate(
            [recurrent[:, r_], recurrent[:, z_], recurrent[:, h_]], axis=1
        ).T
        params[f"gru.bias_ih_l{k}"][...] = 0.0
        params[f"gru.bias_hh_l{k}"][...] = 0.0
    O = params["head.weight"].shape[0]
    limit = np.sqrt(6.0 / (H + O))
    params["head.weight"][...] = rng.uniform(-limit, limit, size=(H, O)).T
    params["head.bias"][...] = 0.0


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``; return the norm before.

    Same rule as ``torch.nn.utils.clip_grad_norm_``: coefficient ``max_norm / (norm + 1e-6)`` clamped to 1.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    if isinstance(grads, ParamDict):
        norm = float(np.sqrt(np.dot(grads.flat, grads.flat)))
    else:
        norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        if isinstance(grads, ParamDict):
            grads.flat *= coef
        else:
            for g in grads.values():
                g *= coef
    return norm


def grad_norm(grads: dict) -> float:
    """Global L2 norm of a gradient dict."""
    if isinstance(grads, ParamDict):
        return float(np.sqrt(np.dot(grads.flat, grads.flat)))
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


# --------------------------------------------------------------------------------------------------
# preallocated buffers
# --------------------------------------------------------------------------------------------------


class _LayerBuffers:
    """Everything one layer stores for one (B, T), plus per-step views into it (trick 7)."""

    def __init__(self, B: int, T: int, D: int, H: int, variant: str, dtype):
        e = np.empty
        H2, H3 = 2 * H, 3 * H
        self.gi = e((T, H3, B), dtype)  # −(W_i x + b) of all steps, n rows ×2 (trick 2, 4)    # (T, 3H, B)
        self.gh = e((T, H3, B), dtype)  # −(W_h h + b_h), n rows ×2                           # (T, 3H, B)
        self.rz = e((T, H2, B), dtype)  # reset and update gates                             # (T, 2H, B)
        self.n = e((T, H, B), dtype)  # candidate                                            # (T, H, B)
        self.hs = e((T + 1, H + 1, B), dtype)  # h_0..h_T, each with a row of ones (trick 3)   # (T+1, H+1, B)
        self.hs[:, H, :] = 1.0
        self.hs[0, :H, :] = 0.0
        self.tmp = e((H, B), dtype)
        self.tmp2 = e((H, B), dtype)
        # backward
        self.A = e((T, H, B), dtype)  # (1−z)(1−n²)
        self.S = e((T, H, B), dtype)  # scratch
        self.G = e((T, 3, H, B), dtype)  # per-step backward gate factors (trick 5)        # (T, 3, H, B)
        self.dgh = e((T, H3, B), dtype)  # ∂L/∂(recurrent pre-activations)                  # (T, 3H, B)
        self.dH = e((T, H, B), dtype)  # ∂L/∂h_t for t = 1..T                                # (T, H, B)
        # gate gradients and inputs with time moved next to batch, for trick 6               # (·, T, B)
        self.dT = e((4 * H, T, B), dtype)  # rows: n (recurrent), r, z, n (input)
        self.hsT = e((H + 1, T, B), dtype)  # h_0..h_{T-1} with the ones row
        self.inT = e((D + 1, T, B), dtype)  # the layer's input with the ones row
        if variant == "classic":
            self.rh = e((T, H, B), dtype)  # r ⊙ h_{t-1}, input of W_hn
            self.rhT = e((H, T, B), dtype)
            self.m = e((H, B), dtype)
        # per-step views, built once (slicing costs Python time in the hot loop)
        self.v_gi_rz = [self.gi[t, :H2] for t in range(T)]
        self.v_gi_n = [self.gi[t, H2:] for t in range(T)]
        self.v_gh = list(self.gh)
        self.v_gh_rz = [self.gh[t, :H2] for t in range(T)]
        self.v_gh_n = [self.gh[t, H2:] for t in range(T)]
        self.v_rz = list(self.rz)
        self.v_r = [self.rz[t, :H] for t in range(T)]
        self.v_z = [self.rz[t, H:] for t in range(T)]
        self.v_n = list(self.n)
        self.v_hs = list(self.hs)  # h_t with the ones row
        self.v_h = [self.hs[t, :H] for t in range(T + 1)]
        self.v_G = list(self.G)
        self.v_G_zn = [self.G[t, 1:] for t in range(T)]
        self.v_dgh = list(self.dgh)
        self.v_dgh3 = [a.reshape(3, H, B) for a in self.dgh]
        self.v_dgh_rz = [self.dgh[t, :H2] for t in range(T)]
        self.v_dgh_zn = [self.dgh[t, H:].reshape(2, H, B) for t in range(T)]
        self.v_dgh_r = [self.dgh[t, :H] for t in range(T)]
        self.v_dgh_n = [self.dgh[t, H2:] for t in range(T)]
        self.v_dH = list(self.dH)
        if variant == "classic":
            self.v_rh = list(self.rh)


class _Workspace:
    def __init__(self, B, T, input_size, H, num_layers, variant, dtype):
        self.layers = [
            _LayerBuffers(B, T, input_size if k == 0 else H, H, variant, dtype) for k in range(num_layers)
        ]
        self.Xt = np.empty((T, input_size + 1, B), dtype)  # input, feature-major, ones row   # (T, D+1, B)
        self.Xt[:, input_size, :] = 1.0



class GRURegressor:
    """A stacked GRU whose last hidden state feeds a dense head: sequence → value(s).

    ``params`` holds every weight under PyTorch's names (see :func:`param_shapes`); arrays are views into
    ``params.flat``.  Writing into them in place changes the model.  See the module docstring for the
    equations and tricks, and :mod:`gru_core.model.reference` for the textbook version.
    """

    _MAX_WORKSPACES = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        num_layers: int = 1,
        variant: str = "pytorch",
        init: str = "pytorch",
        dropout: float = 0.0,
        dtype=np.float64,
        seed: int = 0,
    ):
        self.input_size, self.hidden_size, self.output_size, self.num_layers = _sizes(
            input_size, hidden_size, output_size, num_layers
        )
        self.variant = _choice("variant", variant, VARIANTS)
        self.init = _choice("init", init, INITS)
        try:
            dropout = float(dropout)
        except (TypeError, ValueError):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}") from None
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = dropout
        self.dtype = _float_dtype(dtype)
        self.seed = _integer("seed", seed)
        self.params = ParamDict(
            param_shapes(self.input_size, self.hidden_size, self.output_size, self.num_layers), self.dtype
        )
        init_params(self.params, self.hidden_size, self.num_layers, self.init, np.random.default_rng(seed))
        self._dropout_rng = np.random.default_rng([self.seed, 1])
        self._workspaces: OrderedDict = OrderedDict()

    # ---- conveniences --------------------------------------------------------------------------

    @property
    def config(self) -> GRUConfig:
        return GRUConfig(
            self.input_size, self.hidden_size, self.output_size, self.num_layers,
            self.variant, self.init, self.dropout, self.dtype.name, self.seed,
        )  # fmt: skip

    @classmethod
    def from_config(cls, config: GRUConfig) -> GRURegressor:
        return cls(**{**config.__dict__, "dtype": np.dtype(config.dtype)})

    @property
    def num_params(self) -> int:
        return int(self.params.flat.size)

    def load_params(self, arrays: dict) -> None:
        """Copy weights in (for example a PyTorch ``state_dict`` converted to NumPy): :meth:`ParamDict.load`."""
        self.params.load(arrays)

    def _workspace(self, B: int, T: int) -> _Workspace:
        key = (B, T)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = _Workspace(B, T, self.input_size, self.hidden_size, self.num_layers, self.variant, self.dtype)
            self._workspaces[key] = ws
            while len(self._workspaces) > self._MAX_WORKSPACES:
                self._workspaces.popitem(last=False)
        else:
            self._workspaces.move_to_end(key)
        return ws

    # ---- forward ------------------------------------------------------------------------------
    # ---- forward ------------------------------------------------------------------------------

    def _layer_input(self, ws: _Workspace, k: int) -> np.ndarray:
        """Layer k's input with a trailing row of ones: the series, or h_1..h_T of the layer below."""
        return ws.Xt if k == 0 else ws.layers[k - 1].hs[1:]  # (T, D+1, B)

    def _run_forward(self, X: np.ndarray) -> _Workspace:
        """Run all layers over X (B, T, D); leave every intermediate in the workspace."""
        B, T, D = X.shape
        ws = self._workspace(B, T)
        np.copyto(ws.Xt[:, :D], X.transpose(1, 2, 0))  # (B, T, D) -> (T, D, B)
        H = self.hidden_size
        # trick 4: σ(a) = 1/(1+exp(−a)) and tanh(a) = 2/(1+exp(−2a)) − 1, with the −1 and −2 folded
        # into scaled copies of the weights, so each gate costs one exp and two cheap ufuncs.
        scale = np.full((3 * H, 1), -1.0, self.dtype)
        scale[2 * H :] = -2.0
        with np.errstate(over="ignore"):  # exp(+large) = inf gives σ = 0, tanh = −1: the right limits
            for k, buf in enumerate(ws.layers):
                W_ih = self.params[f"gru.weight_ih_l{k}"]
                W_hh = self.params[f"gru.weight_hh_l{k}"]
                b_ih = self.params[f"gru.bias_ih_l{k}"]
                b_hh = self.params[f"gru.bias_hh_l{k}"]
                # trick 2: input projections of every step in one batched matmul, biases as a column
                W_i = np.empty((3 * H, W_ih.shape[1] + 1), self.dtype)
                W_i[:, :-1] = W_ih
                W_i[:, -1] = b_ih
                if self.variant == "pytorch":
                    W_i[: 2 * H, -1] += b_hh[: 2 * H]  # b_hr, b_hz are additive; b_hn is multiplied by r
                else:
                    W_i[:, -1] += b_hh  # classic: every hidden bias is additive
                W_i *= scale
                np.matmul(W_i, self._layer_input(ws, k), out=buf.gi)  # (T, 3H, B)
                with big_products(2.0 * 3 * H * (H + 1) * B, STEP_PRODUCT_FLOPS):  # trick 9
                    if self.variant == "pytorch":
                        # trick 3: one matmul per step against [W_hh | (0, 0, b_hn)] and h with a ones row
                        W_h = np.zeros((3 * H, H + 1), self.dtype)
                        W_h[:, :H] = W_hh
                        W_h[2 * H :, H] = b_hh[2 * H :]
                        W_h *= scale
                        self._forward_loop_pytorch(buf, W_h, T)
                    else:
                        self._forward_loop_classic(buf, -W_hh[: 2 * H], -2.0 * W_hh[2 * H :], T)
        return ws

    @staticmethod
    def _forward_loop_pytorch(buf: _LayerBuffers, W_h: np.ndarray, T: int) -> None:
        matmul, add, mul, sub, exp, div = np.matmul, np.add, np.multiply, np.subtract, np.exp, np.divide
        for t in range(T):
            matmul(W_h, buf.v_hs[t], out=buf.v_gh[t])  # −(W_hr h + b_hr), −(W_hz h + b_hz), −2(W_hn h + b_hn)
            rz = add(buf.v_gi_rz[t], buf.v_gh_rz[t], out=buf.v_rz[t])  # −(pre-activations of r, z)
            exp(rz, out=rz)
            rz += 1.0
            div(1.0, rz, out=rz)  # rz = σ(pre) = 1 / (1 + exp(−pre))   # (2H, B)
            n = mul(buf.v_r[t], buf.v_gh_n[t], out=buf.v_n[t])  # −2 r ⊙ (W_hn h + b_hn)   # (H, B)
            n += buf.v_gi_n[t]  # −2 (W_in x + b_in + r ⊙ (W_hn h + b_hn))
            exp(n, out=n)
            n += 1.0
            div(2.0, n, out=n)
            n -= 1.0  # n = tanh(pre) = 2 / (1 + exp(−2 pre)) − 1
            h_new = sub(buf.v_h[t], n, out=buf.v_h[t + 1])  # h_{t-1} − n
            h_new *= buf.v_z[t]
            h_new += n  # h_t = n + z ⊙ (h_{t-1} − n) = (1 − z) ⊙ n + z ⊙ h_{t-1}

    @staticmethod
    def _forward_loop_classic(buf: _LayerBuffers, W_rz: np.ndarray, W_hn: np.ndarray, T: int) -> None:
        matmul, mul, sub, exp, div = np.matmul, np.multiply, np.subtract, np.exp, np.divide
        for t in range(T):
            h = buf.v_h[t]
            rz = matmul(W_rz, h, out=buf.v_rz[t])  # −(W_hr h, W_hz h)   # (2H, B)
            rz += buf.v_gi_rz[t]
            exp(rz, out=rz)
            rz += 1.0
            div(1.0, rz, out=rz)  # σ
            rh = mul(buf.v_r[t], h, out=buf.v_rh[t])  # r ⊙ h_{t-1}
            n = matmul(W_hn, rh, out=buf.v_n[t])  # −2 W_hn (r ⊙ h_{t-1})
            n += buf.v_gi_n[t]
            exp(n, out=n)
            n += 1.0
            div(2.0, n, out=n)
            n -= 1.0  # tanh
            h_new = sub(h, n, out=buf.v_h[t + 1])
            h_new *= buf.v_z[t]
            h_new += n

    def _head(self, ws: _Workspace, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        h_last = ws.layers[-1].v_h[-1]  # (H, B)
        if mask is not None:
            h_last = h_last * mask
        y_hat = self.params["head.weight"] @ h_last + self.params["head.bias"][:, None]  # (O, B)
        return y_hat, h_last

    def predict(self, X) -> np.ndarray:
        """y_hat (B, O) for X (B, T, D), evaluation mode (no dropout), without copying the trace."""
        X, _ = check_inputs(X, None, self.input_size, self.output_size, self.dtype)
        ws = self._run_forward(X)
        y_hat, _ = self._head(ws, None)
        return np.ascontiguousarray(y_hat.T)

    def forward(self, X) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Evaluation-mode forward pass.

        Returns ``(y_hat, trace)``: y_hat (B, O) and, for each layer, a dict with the update gate ``z``,
        reset gate ``r``, candidate ``n`` and hidden state ``h``, each (B, T, H) (copies).
        """
        X, _ = check_inputs(X, None, self.input_size, self.output_size, self.dtype)
        ws = self._run_forward(X)
        y_hat, _ = self._head(ws, None)
        H = self.hidden_size
        trace = []
        for buf in ws.layers:
            trace.append(
                {
                    "z": buf.rz[:, H:].transpose(2, 0, 1).copy(),  # (B, T, H)
                    "r": buf.rz[:, :H].transpose(2, 0, 1).copy(),
                    "n": buf.n.transpose(2, 0, 1).copy(),
                    "h": buf.hs[1:, :H].transpose(2, 0, 1).copy(),
                }
            )
        return np.ascontiguousarray(y_hat.T), trace

    # ---- loss and backward ---------------------------------------------------------------------

    def loss_and_grads(self, X, y, training: bool = True, dropout_mask=None) -> tuple[float, ParamDict]:
        """Mean squared error over all elements (as ``torch.nn.MSELoss()``) and its gradient.

        ``training=True`` applies inverted dropout to the last hidden state (if ``dropout > 0``), with a
        mask drawn from the model's seeded generator; ``dropout_mask`` (B, H) overrides it (tests use it to
        compare against PyTorch with the same mask).  Returns ``(loss, grads)`` where grads is a new
        :class:`ParamDict` with the same names and shapes as ``params``.
        """
        X, y = check_inputs(X, y, self.input_size, self.output_size, self.dtype)
        B, T, _ = X.shape
        H = self.hidden_size
        mask = None
        if dropout_mask is not None:
            dropout_mask = np.asarray(dropout_mask, dtype=self.dtype)
            if dropout_mask.shape != (B, H):
                raise ValueError(f"dropout_mask must have shape ({B}, {H}), got {dropout_mask.shape}")
            mask = np.ascontiguousarray(dropout_mask.T)  # (H, B)
        elif training and self.dropout > 0:
            keep = self._dropout_rng.random((H, B)) >= self.dropout
            mask = keep.astype(self.dtype) / self.dtype.type(1.0 - self.dropout)

        ws = self._run_forward(X)
        y_hat, h_last = self._head(ws, mask)  # (O, B), (H, B)
        diff = y_hat - y.T  # (O, B)
        loss = float(np.mean(diff * diff))
        grads = self.params.zeros_like()

        # head: y_hat = W h + b
        dy = diff * self.dtype.type(2.0 / diff.size)  # ∂L/∂y_hat   # (O, B)
        grads["head.weight"][...] = dy @ h_last.T
        grads["head.bias"][...] = dy.sum(axis=1)
        dh_last = self.params["head.weight"].T @ dy  # (H, B)
        if mask is not None:
            dh_last *= mask

        # layers, top to bottom; each one writes ∂L/∂(its input) into the dH of the layer below
        top = ws.layers[-1]
        top.dH.fill(0.0)
        top.dH[-1] = dh_last
        for k in reversed(range(self.num_layers)):
            self._backward_layer(ws, k, grads, T)
        return loss, grads

    def _backward_layer(self, ws: _Workspace, k: int, grads: ParamDict, T: int) -> None:
        buf = ws.layers[k]
        H, H2, H3 = self.hidden_size, 2 * self.hidden_size, 3 * self.hidden_size
        W_ih = self.params[f"gru.weight_ih_l{k}"]
        W_hh = self.params[f"gru.weight_hh_l{k}"]
        r, z, n = buf.rz[:, :H], buf.rz[:, H:], buf.n  # (T, H, B) each
        h_prev = buf.hs[:-1, :H]  # h_0..h_{T-1}   # (T, H, B)
        A, S, G = buf.A, buf.S, buf.G
        sub, mul = np.subtract, np.multiply
        # trick 5: the factors that turn ∂L/∂h_t into gate gradients, for all t at once
        mul(n, n, out=A)
        sub(1.0, A, out=A)  # tanh' = 1 − n²
        sub(1.0, z, out=S)  # 1 − z
        A *= S  # ∂h/∂n · tanh' = (1 − z)(1 − n²)
        Gz = sub(h_prev, n, out=G[:, 1])
        Gz *= z
        Gz *= S  # ∂h/∂z · σ' = (h_{t-1} − n) z (1 − z)
        sub(1.0, r, out=S)  # 1 − r
        Gr = G[:, 0]
        step_flops = 2.0 * H3 * H * buf.dgh.shape[2]  # W_hhᵀ (H, 3H) against one step's (3H, B)
        if self.variant == "pytorch":
            mul(A, r, out=G[:, 2])  # ∂h/∂(W_hn h + b_hn) = (1 − z)(1 − n²) r
            mul(G[:, 2], S, out=Gr)
            Gr *= buf.gh[:, H2:]
            Gr *= -0.5  # the stored recurrent n rows hold −2 (W_hn h + b_hn)
            with big_products(step_flops, STEP_PRODUCT_FLOPS):  # trick 9
                self._backward_loop_pytorch(buf, np.ascontiguousarray(W_hh.T), T)
        else:
            G[:, 2] = A
            mul(h_prev, r, out=Gr)
            Gr *= S  # ∂(r ⊙ h)/∂r · σ' = h_{t-1} r (1 − r); the loop multiplies by W_hnᵀ ∂L/∂(n pre)
            with big_products(step_flops, STEP_PRODUCT_FLOPS):
                self._backward_loop_classic(
                    buf, np.ascontiguousarray(W_hh[:H2].T), np.ascontiguousarray(W_hh[H2:].T), T
                )
        # trick 6: weight gradients as contractions over all (t, b) at once: move time next to batch,
        # then each is one matmul over T·B columns.  dT rows: [n (recurrent), r, z, n (input)].
        dT = buf.dT
        TB = T * buf.dgh.shape[2]
        if self.variant == "pytorch":
            np.copyto(dT[:H], buf.dgh[:, H2:].transpose(1, 0, 2))
            np.copyto(dT[H:H3], buf.dgh[:, :H2].transpose(1, 0, 2))
            mul(buf.dH.transpose(1, 0, 2), A.transpose(1, 0, 2), out=dT[H3:])  # dh (1−z)(1−n²)
        else:  # input and recurrent pre-activation gradients coincide
            np.copyto(dT[H:], buf.dgh.transpose(1, 0, 2))
        d_in = dT[H:].reshape(H3, TB)  # ∂L/∂(input pre-activations) r, z, n   # (3H, T·B)
        np.copyto(buf.inT, self._layer_input(ws, k).transpose(1, 0, 2))
        np.copyto(buf.hsT, buf.hs[:-1].transpose(1, 0, 2))
        if self.variant == "classic":
            np.copyto(buf.rhT, buf.rh.transpose(1, 0, 2))
        inT = buf.inT.reshape(-1, TB)  # (D+1, T·B)
        hsT = buf.hsT.reshape(H + 1, TB)  # (H+1, T·B)
        with big_products(2.0 * H3 * (H + 1) * TB):  # the large products may use every core
            dW_i = d_in @ inT.T  # (3H, D+1): weights and the bias column
            grads[f"gru.weight_ih_l{k}"][...] = dW_i[:, :-1]
            grads[f"gru.bias_ih_l{k}"][...] = dW_i[:, -1]
            dW_hh, db_hh = grads[f"gru.weight_hh_l{k}"], grads[f"gru.bias_hh_l{k}"]
            dW_rz = dT[H:H3].reshape(H2, TB) @ hsT.T  # (2H, H+1)
            dW_hh[:H2] = dW_rz[:, :H]
            db_hh[:H2] = dW_rz[:, H]
            if self.variant == "pytorch":
                dW_n = dT[:H].reshape(H, TB) @ hsT.T  # (H, H+1)
                dW_hh[H2:] = dW_n[:, :H]
                db_hh[H2:] = dW_n[:, H]
            else:
                dW_hh[H2:] = dT[H3:].reshape(H, TB) @ buf.rhT.reshape(H, TB).T
                db_hh[H2:] = dW_i[H2:, -1]
            if k > 0:  # ∂L/∂(layer input) becomes the layer below's ∂L/∂h_t
                below = ws.layers[k - 1]
                d_x = W_ih.T @ d_in  # (H, T·B)
                np.copyto(below.dH, d_x.reshape(H, T, -1).transpose(1, 0, 2))

    @staticmethod
    def _backward_loop_pytorch(buf: _LayerBuffers, W_hhT: np.ndarray, T: int) -> None:
        matmul, mul = np.matmul, np.multiply
        tmp, tmp2 = buf.tmp, buf.tmp2
        for t in range(T - 1, -1, -1):
            dh = buf.v_dH[t]  # ∂L/∂h_t (from the future and from above)   # (H, B)
            mul(buf.v_G[t], dh, out=buf.v_dgh3[t])  # ∂L/∂(r pre, z pre, W_hn h + b_hn)   # (3, H, B)
            if t == 0:
                break  # h_0 is a constant zero state
            dh_prev = buf.v_dH[t - 1]
            mul(dh, buf.v_z[t], out=tmp)  # through h_t = … + z ⊙ h_{t-1}
            dh_prev += tmp
            dh_prev += matmul(W_hhT, buf.v_dgh[t], out=tmp2)  # through W_hh h_{t-1}

    @staticmethod
    def _backward_loop_classic(buf: _LayerBuffers, W_rzT: np.ndarray, W_hnT: np.ndarray, T: int) -> None:
        matmul, mul = np.matmul, np.multiply
        tmp, tmp2, m = buf.tmp, buf.tmp2, buf.m
        for t in range(T - 1, -1, -1):
            dh = buf.v_dH[t]
            mul(buf.v_G_zn[t], dh, out=buf.v_dgh_zn[t])  # ∂L/∂(z pre), ∂L/∂(n pre)
            matmul(W_hnT, buf.v_dgh_n[t], out=m)  # ∂L/∂(r ⊙ h_{t-1})
            mul(m, buf.v_G[t][0], out=buf.v_dgh_r[t])  # ∂L/∂(r pre) = m ⊙ h_{t-1} ⊙ r(1 − r)
            if t == 0:
                break
            dh_prev = buf.v_dH[t - 1]
            m *= buf.v_r[t]  # through r ⊙ h_{t-1}
            dh_prev += m
            mul(dh, buf.v_z[t], out=tmp)  # through z ⊙ h_{t-1}
            dh_prev += tmp
            dh_prev += matmul(W_rzT, buf.v_dgh_rz[t], out=tmp2)  # through W_hr h, W_hz h
