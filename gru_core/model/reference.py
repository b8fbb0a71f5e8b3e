"""The textbook GRU: one function per gate, backpropagation through time with a comment per line.

Read this beside the equations.  It is slow on purpose (a Python loop over time, plain ``@`` and ``*``,
no buffers, batch-major arrays) and it is the second oracle of the tests: the fast
:class:`gru_core.GRURegressor` must agree with it, and both with PyTorch.

Shapes: B = batch, T = time steps, D = input features, H = hidden units, O = outputs.
Weights use PyTorch's layout: ``W_ih`` is (3H, D) with the gate blocks stacked r, z, n.

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                      reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                      update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))   "pytorch" candidate
    n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)   "classic" candidate (Cho et al. 2014)
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}                                new state
    ŷ   = W_head h_T + b_head                                           forecast
    L   = mean((ŷ − y)²)                                                loss
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def split_gates(W):
    """Split a (3H, ...) PyTorch weight or bias into its r, z, n blocks."""
    H = W.shape[0] // 3
    return [W[:H], W[H : 2 * H], W[2 * H :]]


def reset_gate(x, h, W_ir, W_hr, b_ir, b_hr):
    return sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)  # (B, H)


def update_gate(x, h, W_iz, W_hz, b_iz, b_hz):
    return sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)  # (B, H)


def candidate(x, h, r, W_in, W_hn, b_in, b_hn, variant="pytorch"):
    if variant == "pytorch":
        return np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))  # reset applied after W_hn
    return np.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)  # reset applied before W_hn


def new_state(h, z, n):
    return (1.0 - z) * n + z * h  # z → 1 keeps the past, z → 0 replaces it


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh, variant="pytorch"):
    """One step for a batch: x (B, D), h (B, H) → r, z, n, h_new, each (B, H)."""
    W_ir, W_iz, W_in = split_gates(W_ih)
    W_hr, W_hz, W_hn = split_gates(W_hh)
    b_ir, b_iz, b_in = split_gates(b_ih)
    b_hr, b_hz, b_hn = split_gates(b_hh)
    r = reset_gate(x, h, W_ir, W_hr, b_ir, b_hr)
    z = update_gate(x, h, W_iz, W_hz, b_iz, b_hz)
    n = candidate(x, h, r, W_in, W_hn, b_in, b_hn, variant)
    return r, z, n, new_state(h, z, n)


def forward(params, X, num_layers, variant="pytorch", dropout_mask=None):
    """X (B, T, D) → ŷ (B, O) and a cache of every layer's r, z, n and h (lists over t of (B, H))."""
    B, T, _ = X.shape
    cache = []
    inputs = [X[:, t, :] for t in range(T)]  # the first layer reads the series
    for k in range(num_layers):
        W_ih, W_hh = params[f"gru.weight_ih_l{k}"], params[f"gru.weight_hh_l{k}"]
        b_ih, b_hh = params[f"gru.bias_ih_l{k}"], params[f"gru.bias_hh_l{k}"]
        H = W_hh.shape[1]
        h = np.zeros((B, H))  # h_0 = 0
        layer = {"x": inputs, "h": [h], "r": [], "z": [], "n": []}
        for t in range(T):
            r, z, n, h = gru_cell(inputs[t], h, W_ih, W_hh, b_ih, b_hh, variant)
            layer["r"].append(r)
            layer["z"].append(z)
            layer["n"].append(n)
            layer["h"].append(h)
        cache.append(layer)
        inputs = layer["h"][1:]  # the next layer reads this layer's states
    h_last = cache[-1]["h"][-1]
    if dropout_mask is not None:
        h_last = h_last * dropout_mask  # inverted dropout (the mask already holds 1/(1-p))
    y_hat = h_last @ params["head.weight"].T + params["head.bias"]  # (B, O)
    return y_hat, cache, h_last


def loss_and_grads(params, X, y, num_layers, variant="pytorch", dropout_mask=None):
    """Mean squared error and the gradient of every parameter, by backpropagation through time."""
    y_hat, cache, h_last = forward(params, X, num_layers, variant, dropout_mask)
    loss = np.mean((y_hat - y) ** 2)
    grads = {name: np.zeros_like(p) for name, p in params.items()}

    dy = 2.0 * (y_hat - y) / y.size  # ∂L/∂ŷ of the mean over all elements
    grads["head.weight"] = dy.T @ h_last  # ŷ = h W^T + b  ⇒  ∂L/∂W = dyᵀ h
    grads["head.bias"] = dy.sum(axis=0)  # ∂L/∂b = Σ_batch dy
    dh_last = dy @ params["head.weight"]  # ∂L/∂h_T (after dropout)
    if dropout_mask is not None:
        dh_last = dh_last * dropout_mask  # dropout passes gradient only where it kept the unit

    T = len(cache[0]["r"])
    # ∂L/∂h_t arriving from above: only the top layer's last state feeds the head
    dh_from_above = [np.zeros_like(cache[-1]["h"][1])] * T
    dh_from_above[T - 1] = dh_last
    for k in reversed(range(num_layers)):
        layer = cache[k]
        W_ih, W_hh = params[f"gru.weight_ih_l{k}"], params[f"gru.weight_hh_l{k}"]
        b_hh = params[f"gru.bias_hh_l{k}"]
        W_ir, W_iz, W_in = split_gates(W_ih)
        W_hr, W_hz, W_hn = split_gates(W_hh)
        b_hn = split_gates(b_hh)[2]
        dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
        db_ih, db_hh = np.zeros(W_ih.shape[0]), np.zeros(W_hh.shape[0])
        dWi = split_gates(dW_ih)  # views: writing into them fills dW_ih
        dWh = split_gates(dW_hh)
        dbi = split_gates(db_ih)
        dbh = split_gates(db_hh)
        dx = [None] * T  # ∂L/∂x_t, handed to the layer below
        dh_next = np.zeros_like(dh_last)  # ∂L/∂h_t coming back from step t+1
        for t in reversed(range(T)):
            x, h_prev = layer["x"][t], layer["h"][t]  # input and previous state of step t
            r, z, n = layer["r"][t], layer["z"][t], layer["n"][t]  # the gates of step t
            dh = dh_next + dh_from_above[t]  # total ∂L/∂h_t
            dn = dh * (1.0 - z)  # h_t = (1−z) n + z h_{t-1}  ⇒  ∂h_t/∂n = 1−z
            dz = dh * (h_prev - n)  # ∂h_t/∂z = h_{t-1} − n
            dh_prev = dh * z  # ∂h_t/∂h_{t-1} through the direct path
            dn_pre = dn * (1.0 - n**2)  # tanh' = 1 − tanh²
            dz_pre = dz * z * (1.0 - z)  # σ' = σ(1−σ)
            if variant == "pytorch":
                hn = h_prev @ W_hn.T + b_hn  # W_hn h + b_hn, which r multiplies
                dr = dn_pre * hn  # n = tanh(… + r ⊙ hn)  ⇒  ∂/∂r = hn
                dhn = dn_pre * r  # ∂/∂hn = r
                dWh[2] += dhn.T @ h_prev  # hn = h W_hnᵀ + b_hn
                dbh[2] += dhn.sum(axis=0)
                dh_prev += dhn @ W_hn  # ∂hn/∂h_{t-1} = W_hn
            else:
                drh = dn_pre @ W_hn  # n = tanh(… + (r ⊙ h) W_hnᵀ + b_hn)  ⇒  ∂/∂(r ⊙ h)
                dr = drh * h_prev  # ∂(r ⊙ h)/∂r = h
                dh_prev += drh * r  # ∂(r ⊙ h)/∂h = r
                dWh[2] += dn_pre.T @ (r * h_prev)
                dbh[2] += dn_pre.sum(axis=0)
            dr_pre = dr * r * (1.0 - r)  # σ'
            dWi[0] += dr_pre.T @ x  # r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
            dWi[1] += dz_pre.T @ x  # z likewise
            dWi[2] += dn_pre.T @ x  # n: x W_inᵀ + b_in
            dbi[0] += dr_pre.sum(axis=0)
            dbi[1] += dz_pre.sum(axis=0)
            dbi[2] += dn_pre.sum(axis=0)
            dWh[0] += dr_pre.T @ h_prev
            dWh[1] += dz_pre.T @ h_prev
            dbh[0] += dr_pre.sum(axis=0)
            dbh[1] += dz_pre.sum(axis=0)
            dh_prev += dr_pre @ W_hr + dz_pre @ W_hz  # through the gates' recurrent weights
            dx[t] = dr_pre @ W_ir + dz_pre @ W_iz + dn_pre @ W_in  # ∂L/∂x_t
            dh_next = dh_prev  # hand ∂L/∂h_{t-1} to the previous step
        grads[f"gru.weight_ih_l{k}"] = dW_ih
        grads[f"gru.weight_hh_l{k}"] = dW_hh
        grads[f"gru.bias_ih_l{k}"] = db_ih
        grads[f"gru.bias_hh_l{k}"] = db_hh
        dh_from_above = dx  # the layer below produced this layer's inputs
    return float(loss), grads
