"""A plain tanh RNN (Elman network) regressor: the model that shows *why* gates were invented.

Same interface as :class:`gru_core.GRURegressor` (``params``, ``forward``, ``predict``, ``loss_and_grads``),
same parameter names as PyTorch's ``nn.RNN(nonlinearity="tanh", batch_first=True)`` under ``rnn.`` plus an
``nn.Linear`` under ``head.``, and backpropagation through time written out the way
:mod:`gru_core.model.reference` writes it: batch-major arrays, a Python loop over time, a comment per line.

Shapes: B = batch, T = time steps, D = input features, H = hidden units, O = outputs.  For layer k::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      h_0 = 0, x_t = the layer below's h_t for k > 0
    ŷ   = W_head h_T + b_head
    L   = mean((ŷ − y)²)                                  (torch.nn.MSELoss)

Vanishing gradients, in one line: going back one step multiplies ∂L/∂h_t by
``∂h_t/∂h_{t-1} = diag(1 − h_t²) W_hh``.  Unless that matrix has norm ≈ 1 (it rarely does: tanh' ≤ 1 and
the initial ``W_hh`` is small) the product of T such factors shrinks geometrically, so the first inputs
of a long sequence barely receive any gradient.  :meth:`RNNRegressor.hidden_grads` returns every
``∂L/∂h_t`` so that the decay can be plotted (see :mod:`gru_core.classroom.gradflow`).

Speed is secondary here, but the obvious waste is avoided: the input projections of all time steps are
one matmul, the loop is vectorised over the batch, and the weight gradients are one contraction over all
(batch, time) pairs after the backward loop.
"""

from __future__ import annotations

import numpy as np

from gru_core.model.gru import _choice, _float_dtype, _integer, _sizes, check_inputs
from gru_core.model.params import ParamDict

INITS = ("pytorch", "keras")


def param_shapes(input_size: int, hidden_size: int, output_size: int, num_layers: int) -> dict:
    """Names and shapes exactly as ``state_dict()`` of ``rnn=nn.RNN(...)`` + ``head=nn.Linear(...)``."""
    H = hidden_size
    shapes = {}
    for k in range(num_layers):
        D = input_size if k == 0 else H
        shapes[f"rnn.weight_ih_l{k}"] = (H, D)
        shapes[f"rnn.weight_hh_l{k}"] = (H, H)
        shapes[f"rnn.bias_ih_l{k}"] = (H,)
        shapes[f"rnn.bias_hh_l{k}"] = (H,)
    shapes["head.weight"] = (output_size, H)
    shapes["head.bias"] = (output_size,)
    return shapes


def init_params(params: ParamDict, hidden_size: int, num_layers: int, init: str, rng) -> None:
    """Fill ``params`` in place.

    ``"pytorch"``: every weight and bias ~ U(−1/√H, 1/√H) (``nn.RNN.reset_parameters``; the head as
    ``nn.Linear``, which for fan-in H is the same bound).  ``"keras"`` (``SimpleRNN`` + ``Dense``):
    Glorot-uniform input kernel, orthogonal recurrent kernel, zero biases, Glorot-uniform head, zero bias.
    """
    H = hidden_size
    if init == "pytorch":
        bound = 1.0 / np.sqrt(H)
        for p in params.values():
            p[...] = rng.uniform(-bound, bound, size=p.shape)
        return
    for k in range(num_layers):
        W_ih = params[f"rnn.weight_ih_l{k}"]
        D = W_ih.shape[1]
        limit = np.sqrt(6.0 / (D + H))
        W_ih[...] = rng.uniform(-limit, limit, size=(D, H)).T  # Keras kernel (D, H), transposed
        q, rr = np.linalg.qr(rng.normal(size=(H, H)))
        params[f"rnn.weight_hh_l{k}"][...] = (q * np.sign(np.diag(rr))).T  # orthogonal
        params[f"rnn.bias_ih_l{k}"][...] = 0.0
        params[f"rnn.bias_hh_l{k}"][...] = 0.0
    O = params["head.weight"].shape[0]
    limit = np.sqrt(6.0 / (H + O))
    params["head.weight"][...] = rng.uniform(-limit, limit, size=(H, O)).T
    params["head.bias"][...] = 0.0


class RNNRegressor:
    """A stacked tanh RNN whose last hidden state feeds a dense head: sequence → value(s).

    ``params`` holds every weight under PyTorch's names (see :func:`param_shapes`); arrays are views into
    ``params.flat``, so optimizers from :mod:`gru_core.optim` update it in place exactly as they update a
    :class:`~gru_core.GRURegressor`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        num_layers: int = 1,
        init: str = "pytorch",
        dtype=np.float64,
        seed: int = 0,
    ):
        self.input_size, self.hidden_size, self.output_size, self.num_layers = _sizes(
            input_size, hidden_size, output_size, num_layers
        )
        self.init = _choice("init", init, INITS)
        self.dtype = _float_dtype(dtype)
        self.seed = _integer("seed", seed)
        self.params = ParamDict(
            param_shapes(self.input_size, self.hidden_size, self.output_size, self.num_layers), self.dtype
        )
        init_params(self.params, self.hidden_size, self.num_layers, self.init, np.random.default_rng(seed))

    # ---- conveniences --------------------------------------------------------------------------

    @property
    def num_params(self) -> int:
        return int(self.params.flat.size)

    def load_params(self, arrays: dict) -> None:
        """Copy weights in (for example a PyTorch ``state_dict`` converted to NumPy): :meth:`ParamDict.load`."""
        self.params.load(arrays)

    # ---- forward ------------------------------------------------------------------------------

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """X (B, T, D), already checked → ŷ (B, O) and per layer its input ``x`` (B, T, D_k) and ``h`` (B, T+1, H)."""
        B, T, _ = X.shape
        H = self.hidden_size
        cache = []
        inputs = X  # the first layer reads the series
        for k in range(self.num_layers):
            W_ih, W_hh = self.params[f"rnn.weight_ih_l{k}"], self.params[f"rnn.weight_hh_l{k}"]
            b = self.params[f"rnn.bias_ih_l{k}"] + self.params[f"rnn.bias_hh_l{k}"]  # both biases just add
            a_in = inputs @ W_ih.T + b  # W_ih x_t + b_ih + b_hh for every t in one matmul   # (B, T, H)
            h = np.zeros((B, T + 1, H), self.dtype)  # h[:, 0] = h_0 = 0; h[:, t] = h_t
            for t in range(T):
                h[:, t + 1] = np.tanh(a_in[:, t] + h[:, t] @ W_hh.T)  # h_t = tanh(… + W_hh h_{t-1})
            cache.append({"x": inputs, "h": h})
            inputs = h[:, 1:]  # the next layer reads h_1..h_T of this one
        h_last = cache[-1]["h"][:, -1]  # h_T of the top layer   # (B, H)
        y_hat = h_last @ self.params["head.weight"].T + self.params["head.bias"]  # (B, O)
        return y_hat, cache

    def predict(self, X) -> np.ndarray:
        """y_hat (B, O) for X (B, T, D)."""
        X, _ = check_inputs(X, None, self.input_size, self.output_size, self.dtype)
        y_hat, _ = self._forward(X)
        return y_hat

    def forward(self, X) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Returns ``(y_hat, trace)``: y_hat (B, O) and, per layer, ``{"h": (B, T, H)}`` (h_1..h_T, a copy)."""
        X, _ = check_inputs(X, None, self.input_size, self.output_size, self.dtype)
        y_hat, cache = self._forward(X)
        return y_hat, [{"h": layer["h"][:, 1:].copy()} for layer in cache]

    # ---- loss and backward ---------------------------------------------------------------------

    def _backprop(self, X, y) -> tuple[float, ParamDict, list[np.ndarray]]:
        """Loss, gradients and, for every layer, ∂L/∂h_t for t = 1..T as (B, T, H)."""
        X, y = check_inputs(X, y, self.input_size, self.output_size, self.dtype)
        y_hat, cache = self._forward(X)
        diff = y_hat - y  # (B, O)
        loss = float(np.mean(diff * diff))  # mean over every element, as nn.MSELoss()
        grads = self.params.zeros_like()

        dy = diff * self.dtype.type(2.0 / diff.size)  # ∂L/∂ŷ of the mean over all elements   # (B, O)
        h_last = cache[-1]["h"][:, -1]
        grads["head.weight"][...] = dy.T @ h_last  # ŷ = h Wᵀ + b  ⇒  ∂L/∂W = dyᵀ h
        grads["head.bias"][...] = dy.sum(axis=0)  # ∂L/∂b = Σ_batch dy

        B, T, _ = X.shape
        H = self.hidden_size
        dh_from_above = np.zeros((B, T, H), self.dtype)  # ∂L/∂h_t arriving from outside the recurrence
        dh_from_above[:, -1] = dy @ self.params["head.weight"]  # only h_T of the top layer feeds the head
        dh_all: list[np.ndarray] = [None] * self.num_layers  # type: ignore[list-item]
        for k in reversed(range(self.num_layers)):
            x, h = cache[k]["x"], cache[k]["h"]  # the layer's input (B, T, D_k) and h_0..h_T (B, T+1, H)
            W_ih, W_hh = self.params[f"rnn.weight_ih_l{k}"], self.params[f"rnn.weight_hh_l{k}"]
            dh_total = np.empty((B, T, H), self.dtype)  # total ∂L/∂h_t, kept for hidden_grads
            da = np.empty((B, T, H), self.dtype)  # ∂L/∂a_t, a_t = the pre-activation inside tanh
            dh_next = np.zeros((B, H), self.dtype)  # ∂L/∂h_t coming back from step t+1 (none after T)
            for t in reversed(range(T)):  # array index t holds step t+1: h[:, t+1] = h_{t+1}
                dh = dh_from_above[:, t] + dh_next  # total ∂L/∂h: from above (or the head) + from the future
                dh_total[:, t] = dh
                da[:, t] = dh * (1.0 - h[:, t + 1] ** 2)  # h = tanh(a)  ⇒  ∂h/∂a = 1 − h²
                dh_next = da[:, t] @ W_hh  # a = … + W_hh h_prev  ⇒  ∂L/∂h_prev = W_hhᵀ ∂L/∂a
            dh_all[k] = dh_total
            # weight gradients: sum over every (batch, time) pair of an outer product, as one matmul each
            da2 = da.reshape(B * T, H)  # (B·T, H)
            grads[f"rnn.weight_ih_l{k}"][...] = da2.T @ x.reshape(B * T, -1)  # ∂a/∂W_ih = x_tᵀ
            grads[f"rnn.weight_hh_l{k}"][...] = da2.T @ h[:, :-1].reshape(B * T, H)  # ∂a/∂W_hh = h_{t-1}ᵀ
            grads[f"rnn.bias_ih_l{k}"][...] = da2.sum(axis=0)  # ∂a/∂b_ih = 1
            grads[f"rnn.bias_hh_l{k}"][...] = da2.sum(axis=0)  # ∂a/∂b_hh = 1 (same gradient as b_ih)
            dh_from_above = da @ W_ih  # ∂L/∂x_t: the layer below's ∂L/∂h_t from above   # (B, T, D_k)
        return loss, grads, dh_all

    def loss_and_grads(self, X, y, training: bool = True) -> tuple[float, ParamDict]:
        """Mean squared error over all elements (as ``torch.nn.MSELoss()``) and its gradient.

        Returns ``(loss, grads)``, grads a new :class:`ParamDict` laid out like ``params``.  ``training`` is
        accepted so that code written for :class:`~gru_core.GRURegressor` runs unchanged; a plain RNN has no
        dropout, so it changes nothing.
        """
        loss, grads, _ = self._backprop(X, y)
        return loss, grads

    def hidden_grads(self, X, y, layer: int = -1) -> np.ndarray:
        """∂L/∂h_t for t = 1..T of one layer (default: the top one), shape (T, B, H).

        L is the same batch-mean loss as :meth:`loss_and_grads`, and the derivative is the *total* one:
        everything h_t influences (h_{t+1}, …, the layer above, the head).  Row ``t - 1`` is ∂L/∂h_t.
        """
        _integer("layer", layer)
        if not -self.num_layers <= layer < self.num_layers:
            raise ValueError(f"layer must be in [{-self.num_layers}, {self.num_layers}), got {layer}")
        _, _, dh_all = self._backprop(X, y)
        return np.ascontiguousarray(dh_all[layer].transpose(1, 0, 2))
