"""Gradient flow back through time: vanishing gradients, shown.

The loss of a sequence model reads only the last hidden state h_T; every earlier h_t receives gradient
only through the chain h_t → h_{t+1} → … → h_T.  Each link multiplies ∂L/∂h by the step's Jacobian:

* tanh RNN:  ``∂h_t/∂h_{t-1} = diag(1 − h_t²) W_hh``.  With tanh' ≤ 1 and a small ``W_hh`` its norm is
  below one, so ‖∂L/∂h_t‖ decays geometrically going back in time, and the early inputs are not learned.
* GRU:  ``∂h_t/∂h_{t-1} = diag(z_t) + (terms through the gates and the candidate)``.  Where the update
  gate z_t is near 1 the state is copied forward, and so is its gradient, almost undamped.  A freshly
  initialised GRU has z ≈ 0.5 and loses its gradient too; a trained one has learned to keep it.

:func:`hidden_state_grad_norms` measures ‖∂L/∂h_t‖ for t = 1..T for either model, and
:func:`adding_problem_race` trains a GRU and a tanh RNN side by side on the adding problem, the classic
long-memory task, and reports both the losses and these norms (for one log-scale chart).

The GRU's ∂L/∂h_t are computed here from the textbook forward pass of :mod:`gru_core.model.reference` and a
backward recursion that mirrors :func:`gru_core.model.reference.loss_and_grads` (only the ∂L/∂h part of it, since
no weight gradients are needed).  The fast GRU keeps the same numbers in private buffers, but those are an
implementation detail; this version is slower (about a millisecond per time step at B = 64, H = 32) and
written to be read.
"""

from __future__ import annotations

import time

import numpy as np

from gru_core.data.datasets import adding_problem
from gru_core.model import reference as ref
from gru_core.model.gru import GRURegressor, check_inputs, clip_grad_norm
from gru_core.model.rnn import RNNRegressor
from gru_core.optim import make_optimizer

__all__ = ["adding_problem_race", "gru_hidden_grads", "hidden_state_grad_norms", "hidden_state_grads"]


def _check_layer(layer, num_layers: int) -> int:
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise ValueError(f"layer must be an integer, got {layer!r}")
    if not -num_layers <= layer < num_layers:
        raise ValueError(f"layer must be in [{-num_layers}, {num_layers}), got {layer}")
    return int(layer) % num_layers


def gru_hidden_grads(model: GRURegressor, X, y, layer: int = -1) -> np.ndarray:
    """∂L/∂h_t for t = 1..T of one GRU layer (default: the top one), shape (T, B, H), in float64.

    L is the model's batch-mean MSE in evaluation mode (no dropout mask, whatever ``model.dropout``), and
    the derivative is the total one: through h_{t+1}, …, the layers above and the head.  Both variants.
    """
    k_target = _check_layer(layer, model.num_layers)
    X, y = check_inputs(X, y, model.input_size, model.output_size, np.float64)
    params = {name: np.asarray(p, dtype=np.float64) for name, p in model.params.items()}
    y_hat, cache, _ = ref.forward(params, X, model.num_layers, model.variant)  # the textbook forward pass
    dy = 2.0 * (y_hat - y) / y.size  # ∂L/∂ŷ of the mean over all elements
    T = X.shape[1]
    dh_from_above = [np.zeros_like(cache[-1]["h"][1])] * T  # only h_T of the top layer feeds the head
    dh_from_above[T - 1] = dy @ params["head.weight"]  # ŷ = h W_headᵀ + b  ⇒  ∂L/∂h_T = dy W_head
    for k in reversed(range(k_target, model.num_layers)):
        layer_cache = cache[k]
        W_ir, W_iz, W_in = ref.split_gates(params[f"gru.weight_ih_l{k}"])
        W_hr, W_hz, W_hn = ref.split_gates(params[f"gru.weight_hh_l{k}"])
        b_hn = ref.split_gates(params[f"gru.bias_hh_l{k}"])[2]
        dh_total = [None] * T  # what we are after: total ∂L/∂h_t of this layer
        dx = [None] * T  # ∂L/∂x_t, which the layer below receives from above
        dh_next = np.zeros_like(dh_from_above[T - 1])  # ∂L/∂h_t coming back from step t+1 (none after T)
        for t in reversed(range(T)):  # list index t is step t+1: h[t] = h_t-1 is its h_prev
            h_prev = layer_cache["h"][t]
            r, z, n = layer_cache["r"][t], layer_cache["z"][t], layer_cache["n"][t]
            dh = dh_next + dh_from_above[t]  # total ∂L/∂h at this step
            dh_total[t] = dh
            dn_pre = dh * (1.0 - z) * (1.0 - n**2)  # h = (1−z) n + z h_prev, n = tanh(·)
            dz_pre = dh * (h_prev - n) * z * (1.0 - z)  # ∂h/∂z = h_prev − n, σ' = z(1−z)
            dh_prev = dh * z  # the direct path: h = … + z ⊙ h_prev
            if model.variant == "pytorch":
                hn = h_prev @ W_hn.T + b_hn  # n = tanh(… + r ⊙ hn)
                dr_pre = dn_pre * hn * r * (1.0 - r)  # ∂/∂r = hn, σ'
                dh_prev = dh_prev + (dn_pre * r) @ W_hn  # through hn = W_hn h_prev + b_hn
            else:
                drh = dn_pre @ W_hn  # n = tanh(… + W_hn (r ⊙ h_prev) + b_hn)  ⇒  ∂L/∂(r ⊙ h_prev)
                dr_pre = drh * h_prev * r * (1.0 - r)  # ∂(r ⊙ h)/∂r = h, σ'
                dh_prev = dh_prev + drh * r  # ∂(r ⊙ h)/∂h = r
            dh_prev = dh_prev + dr_pre @ W_hr + dz_pre @ W_hz  # through the gates' recurrent weights
            dx[t] = dr_pre @ W_ir + dz_pre @ W_iz + dn_pre @ W_in  # ∂L/∂x_t
            dh_next = dh_prev  # hand ∂L/∂h_prev to the previous step
        if k == k_target:
            return np.stack(dh_total, axis=0)  # (T, B, H)
        dh_from_above = dx  # this layer's inputs are the states of the layer below
    raise AssertionError("unreachable")  # pragma: no cover


def hidden_state_grads(model, X, y, layer: int = -1) -> np.ndarray:
    """∂L/∂h_t for t = 1..T, shape (T, B, H), for a :class:`GRURegressor` or an :class:`RNNRegressor`."""
    if isinstance(model, RNNRegressor):
        return model.hidden_grads(X, y, layer)
    if isinstance(model, GRURegressor):
        return gru_hidden_grads(model, X, y, layer)
    raise TypeError(f"model must be a GRURegressor or an RNNRegressor, got {type(model).__name__}")


def hidden_state_grad_norms(model, X, y, layer: int = -1) -> np.ndarray:
    """How much gradient reaches each hidden state: an array (T,), entry ``t - 1`` for h_t.

    The number is the **batch mean of the per-sample gradient norms**, ``mean_b ‖∂ℓ_b/∂h_t[b]‖₂``, where
    ℓ_b is sample b's own squared error (averaged over the outputs).  Since the training loss is
    L = mean_b ℓ_b, this equals ``Σ_b ‖∂L/∂h_t[b]‖₂``: per-sample norms *summed* over the batch of the batch
    loss's gradient.  It does not depend on the batch size, and gradients of different samples do not
    cancel.  Default layer: the top one (the one the head reads).
    """
    dh = hidden_state_grads(model, X, y, layer)  # (T, B, H)
    return np.linalg.norm(dh, axis=2).sum(axis=1)


# --------------------------------------------------------------------------------------------------
# GRU vs tanh RNN on the adding problem
# --------------------------------------------------------------------------------------------------


def _mse(model, X, y) -> float:
    return float(np.mean((model.predict(X) - y) ** 2))


def adding_problem_race(
    T: int = 50,
    n_train: int = 1000,
    n_test: int = 500,
    steps: int = 300,
    hidden: int = 16,
    batch_size: int = 32,
    lr: float = 1e-2,
    clip_norm: float | None = 1.0,
    eval_every: int = 25,
    seed: int = 0,
) -> dict:
    """Train a GRU and a tanh RNN (same hidden size, same Adam, same batches) on the adding problem.

    Data: :func:`gru_core.data.datasets.adding_problem` with ``n_train + n_test`` sequences of length ``T``
    (seeded by ``seed``), the last ``n_test`` held out.  Both models start from ``seed``, take ``steps``
    Adam steps (PyTorch defaults, learning rate ``lr``, gradients clipped to global norm ``clip_norm``
    unless None) on the same mini-batches of ``batch_size`` (drawn by epochs of shuffled indices).

    Returns a dict with

    * ``"train_loss"``: {"gru", "rnn"} → (steps,) mini-batch loss before each step;
    * ``"eval_steps"`` (k,) and ``"test_curve"``: {"gru", "rnn"} → (k,) test MSE after those many steps
      (every ``eval_every`` steps, starting at 0 and ending at ``steps``);
    * ``"test_mse"``: {"gru", "rnn"} → final test MSE; ``"baseline_mse"``: test MSE of always predicting
      1.0 (the target's mean; ≈ 1/6 ≈ 0.167): a model that learned nothing sits there;
    * ``"grad_norms"``: {"init", "final"} → {"gru", "rnn"} → (T,) :func:`hidden_state_grad_norms` on the
      same batch (the first ``batch_size`` test sequences), before and after training: one log-scale chart;
    * ``"seconds"``: {"gru", "rnn"} wall time of the training steps (without the test evaluations);
      ``"config"``: the arguments.

    The defaults were checked on seeds 0-11: the GRU ends below 0.007 test MSE on every one of them (its
    loss drops sharply after 150-250 steps, once it has learned to hold the marked values), while the RNN
    stays at the baseline (≥ 0.159).  About 2.5 s in all on one core.

    Read the gradient norms with care: *at initialisation* both models lose gradient geometrically
    (h_1 receives 1e-9 to 1e-15 of what h_T receives, for the GRU too: its update gates start near 0.5,
    and 0.5⁵⁰ ≈ 1e-15).  The difference appears with training: the GRU learns gates that carry its state,
    and with it the gradient (ratio ≈ 0.3-0.5 after 300 steps), while the RNN's stays vanishingly small.
    """
    config = dict(T=T, n_train=n_train, n_test=n_test, steps=steps, hidden=hidden, batch_size=batch_size,
                  lr=lr, clip_norm=clip_norm, eval_every=eval_every, seed=seed)  # fmt: skip
    for name in ("n_train", "n_test", "steps", "hidden", "batch_size", "eval_every"):
        v = config[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if batch_size > n_train:
        raise ValueError(f"batch_size ({batch_size}) must not exceed n_train ({n_train})")

    X, y = adding_problem(n_train + n_test, T, seed)  # validates T and seed
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    X_probe, y_probe = X_test[:batch_size], y_test[:batch_size]  # the batch the gradient norms are measured on

    # the mini-batch order, shared by both models: whole epochs of shuffled indices
    rng = np.random.default_rng([seed, 7])
    batches = []
    while len(batches) < steps:
        perm = rng.permutation(n_train)  # one epoch; a last incomplete batch is dropped
        batches += [perm[i : i + batch_size] for i in range(0, n_train - batch_size + 1, batch_size)]
    batches = batches[:steps]

    models = {"gru": GRURegressor(2, hidden, seed=seed), "rnn": RNNRegressor(2, hidden, seed=seed)}
    eval_steps = sorted({*range(0, steps, eval_every), steps})
    out = {
        "config": config,
        "train_loss": {},
        "eval_steps": np.array(eval_steps),
        "test_curve": {},
        "test_mse": {},
        "baseline_mse": float(np.mean((1.0 - y_test) ** 2)),
        "grad_norms": {"init": {}, "final": {}},
        "seconds": {},
    }
    for name, model in models.items():
        out["grad_norms"]["init"][name] = hidden_state_grad_norms(model, X_probe, y_probe)
        opt = make_optimizer("adam", lr=lr)
        losses = np.empty(steps)
        curve = [_mse(model, X_test, y_test)] if eval_steps[0] == 0 else []
        seconds = 0.0
        for i, idx in enumerate(batches):
            start = time.perf_counter()
            losses[i], grads = model.loss_and_grads(X_train[idx], y_train[idx])
            if clip_norm is not None:
                clip_grad_norm(grads, clip_norm)
            opt.step(model.params, grads)
            seconds += time.perf_counter() - start
            if i + 1 in eval_steps:
                curve.append(_mse(model, X_test, y_test))
        out["seconds"][name] = seconds
        out["train_loss"][name] = losses
        out["test_curve"][name] = np.array(curve)
        out["test_mse"][name] = curve[-1]
        out["grad_norms"]["final"][name] = hidden_state_grad_norms(model, X_probe, y_probe)
    return out
