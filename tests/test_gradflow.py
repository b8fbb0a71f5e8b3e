"""Gradient flow through time: ∂L/∂h_t against finite differences and torch autograd; the adding-problem race."""

from __future__ import annotations

import numpy as np
import pytest

from gru_core import GRURegressor
from gru_core.classroom.gradflow import (
    adding_problem_race,
    gru_hidden_grads,
    hidden_state_grad_norms,
    hidden_state_grads,
)
from gru_core.data.datasets import adding_problem
from gru_core.model import reference as ref
from gru_core.model.rnn import RNNRegressor


def batch(B=3, T=5, D=2, O=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, D)), rng.normal(size=(B, O))


def gru_for(variant, layers, D=2, H=3, O=2, seed=1):
    m = GRURegressor(D, H, output_size=O, num_layers=layers, variant=variant, seed=seed)
    m.params.flat[:] = np.random.default_rng(seed + 100).uniform(-0.9, 0.9, m.params.flat.size)
    return m


def gru_loss_with_offsets(params, X, y, layers, variant, offsets):
    """Textbook GRU cells, with ``offsets[k][t]`` (B, H) added to layer k's state after step t+1."""
    inputs = [X[:, t] for t in range(X.shape[1])]
    for k in range(layers):
        args = [params[f"gru.{n}_l{k}"] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = np.zeros((X.shape[0], args[1].shape[1]))
        states = []
        for t, x in enumerate(inputs):
            h = ref.gru_cell(x, h, *args, variant=variant)[3] + offsets[k][t]
            states.append(h)
        inputs = states
    y_hat = h @ params["head.weight"].T + params["head.bias"]
    return np.mean((y_hat - y) ** 2)


@pytest.mark.parametrize("variant,layers,layer", [("pytorch", 1, -1), ("classic", 1, -1), ("pytorch", 2, -1),
                                                  ("classic", 2, 0), ("pytorch", 2, 0)])  # fmt: skip
def test_gru_hidden_grads_match_finite_differences_on_the_states(variant, layers, layer):
    model = gru_for(variant, layers)
    X, y = batch(B=2, T=6)
    dh = gru_hidden_grads(model, X, y, layer=layer)
    assert dh.shape == (6, 2, 3)
    params = {k: v.copy() for k, v in model.params.items()}
    offsets = [np.zeros((6, 2, 3)) for _ in range(layers)]
    target = offsets[layer % layers]
    assert gru_loss_with_offsets(params, X, y, layers, variant, offsets) == pytest.approx(
        model.loss_and_grads(X, y)[0], rel=1e-12
    )
    num = np.zeros_like(dh)
    eps = 1e-6
    for i in np.ndindex(dh.shape):
        target[i] = eps
        lp = gru_loss_with_offsets(params, X, y, layers, variant, offsets)
        target[i] = -eps
        lm = gru_loss_with_offsets(params, X, y, layers, variant, offsets)
        target[i] = 0.0
        num[i] = (lp - lm) / (2 * eps)
    assert np.linalg.norm(dh - num) <= 1e-7 * np.linalg.norm(num)
    assert np.abs(dh[0]).max() > 0


def torch_gru_cells(torch, model):
    cells = []
    for k in range(model.num_layers):
        D = model.input_size if k == 0 else model.hidden_size
        cell = torch.nn.GRUCell(D, model.hidden_size, dtype=torch.float64)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(torch.from_numpy(model.params[f"gru.{name}_l{k}"].copy()))
        cells.append(cell)
    return cells


@pytest.mark.parametrize("layers", [1, 2])
def test_gru_hidden_grads_equal_torch_autograd(torch, layers):
    """nn.GRU's ``out.retain_grad()`` holds only the *direct* gradient (zero before T): unroll GRUCells."""
    model = GRURegressor(3, 6, output_size=2, num_layers=layers, seed=4)
    X, y = batch(B=5, T=25, D=3, O=2, seed=8)
    cells = torch_gru_cells(torch, model)
    inputs = [torch.from_numpy(X[:, t]) for t in range(25)]
    per_layer = []
    for cell in cells:
        h = torch.zeros(5, 6, dtype=torch.float64)
        states = []
        for x in inputs:
            h = cell(x, h)
            h.retain_grad()
            states.append(h)
        per_layer.append(states)
        inputs = states
    W, b = (torch.from_numpy(model.params[n].copy()) for n in ("head.weight", "head.bias"))
    loss = torch.nn.MSELoss()(h @ W.T + b, torch.from_numpy(y))
    loss.backward()
    assert loss.item() == pytest.approx(model.loss_and_grads(X, y)[0], rel=1e-10)
    for k in range(layers):
        expected = np.stack([s.grad.numpy() for s in per_layer[k]])  # (T, B, H)
        got = hidden_state_grads(model, X, y, layer=k)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-16, err_msg=f"layer {k}")
        if k == layers - 1:
            np.testing.assert_array_equal(got, gru_hidden_grads(model, X, y))  # default: the top layer
        norms = hidden_state_grad_norms(model, X, y, layer=k)
        np.testing.assert_allclose(norms, np.linalg.norm(expected, axis=2).sum(axis=1), rtol=1e-10)


def test_rnn_dispatch_and_norms_equal_torch_autograd(torch):
    model = RNNRegressor(2, 4, output_size=1, seed=5)
    X, y = batch(B=3, T=15, D=2, O=1, seed=9)
    cell = torch.nn.RNNCell(2, 4, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.from_numpy(model.params[f"rnn.{name}_l0"].copy()))
    h = torch.zeros(3, 4, dtype=torch.float64)
    states = []
    for t in range(15):
        h = cell(torch.from_numpy(X[:, t]), h)
        h.retain_grad()
        states.append(h)
    W, b = (torch.from_numpy(model.params[n].copy()) for n in ("head.weight", "head.bias"))
    torch.nn.MSELoss()(h @ W.T + b, torch.from_numpy(y)).backward()
    expected = np.stack([s.grad.numpy() for s in states])
    np.testing.assert_allclose(hidden_state_grads(model, X, y), expected, rtol=1e-10, atol=1e-16)
    norms = hidden_state_grad_norms(model, X, y)
    np.testing.assert_allclose(norms, np.linalg.norm(expected, axis=2).sum(axis=1), rtol=1e-10)


@pytest.mark.parametrize("make", [lambda: GRURegressor(2, 4, seed=3), lambda: RNNRegressor(2, 4, seed=3)])
def test_norms_are_per_sample_means_independent_of_batch_size(make):
    model = make()
    X, y = batch(B=3, T=10, D=2, O=1)
    one = hidden_state_grad_norms(model, X, y)
    assert one.shape == (10,) and np.all(one > 0)
    # each sample's norm on its own (a batch of one) …
    singles = np.array([hidden_state_grad_norms(model, X[b : b + 1], y[b : b + 1]) for b in range(3)])
    np.testing.assert_allclose(one, singles.mean(axis=0), rtol=1e-12)
    # … so repeating the batch changes nothing, although ∂L/∂h_t per sample halves
    np.testing.assert_allclose(hidden_state_grad_norms(model, np.concatenate([X, X]), np.concatenate([y, y])), one,
                               rtol=1e-12)  # fmt: skip


def test_rnn_gradient_decays_exactly_geometrically_when_tanh_is_linear():
    """h stays 0 (no input weights, no biases), so tanh' = 1 and ∂L/∂h_t = w^(T−t) ∂L/∂h_T exactly."""
    model = RNNRegressor(1, 1, seed=0)
    model.params.flat[:] = 0.0
    model.params["rnn.weight_hh_l0"][...] = 0.5
    model.params["head.weight"][...] = 2.0
    X, y = np.ones((1, 20, 1)), np.array([[3.0]])
    norms = hidden_state_grad_norms(model, X, y)
    # L = (2 h_T − 3)², h_T = 0  ⇒  ∂L/∂h_T = 2 · (0 − 3) · 2 = −12
    np.testing.assert_allclose(norms, 12.0 * 0.5 ** np.arange(19, -1, -1), rtol=1e-14)


def test_gru_copies_its_gradient_unchanged_when_the_update_gate_is_shut():
    """z = σ(60) = 1 in float64: h_t = h_{t-1} and every ∂L/∂h_t equals ∂L/∂h_T."""
    model = GRURegressor(1, 3, seed=0)
    model.params["gru.bias_ih_l0"][3:6] = 60.0  # the z block of b_ih (rows r | z | n)
    X, y = batch(B=4, T=30, D=1, O=1)
    dh = hidden_state_grads(model, X, y)
    np.testing.assert_array_equal(dh, np.broadcast_to(dh[-1], dh.shape))
    assert np.abs(dh[-1]).min() > 0


def test_bad_models_and_layers():
    X, y = batch(B=2, T=4, D=2, O=1)
    with pytest.raises(TypeError, match="GRURegressor or an RNNRegressor"):
        hidden_state_grad_norms(object(), X, y)
    for model in (GRURegressor(2, 3, num_layers=2), RNNRegressor(2, 3, num_layers=2)):
        for bad in (2, -3, 0.5):
            with pytest.raises(ValueError, match="layer"):
                hidden_state_grads(model, X, y, layer=bad)
        with pytest.raises(ValueError, match="y must have shape"):
            hidden_state_grad_norms(model, X, y[:1])


# --------------------------------------------------------------------------------------------------
# the adding problem: a GRU learns it, a tanh RNN of the same size does not
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_gru_beats_rnn_on_the_adding_problem(seed):
    r = adding_problem_race(seed=seed)  # the defaults: T=50, 1000 sequences, hidden 16, 300 Adam steps
    cfg = r["config"]
    assert (cfg["T"], cfg["steps"], cfg["hidden"]) == (50, 300, 16)
    _, y = adding_problem(cfg["n_train"] + cfg["n_test"], cfg["T"], seed)
    baseline = float(np.mean((y[cfg["n_train"] :] - 1.0) ** 2))
    assert r["baseline_mse"] == pytest.approx(baseline, rel=1e-12)
    assert 0.13 < baseline < 0.2  # ≈ 1/6: the variance of a sum of two U(0, 1)
    gru, rnn = r["test_mse"]["gru"], r["test_mse"]["rnn"]
    assert gru < 0.05 and gru < 0.5 * rnn, (gru, rnn)
    assert rnn > 0.8 * baseline, (rnn, baseline)  # the RNN learned (next to) nothing
    for name in ("gru", "rnn"):
        assert r["train_loss"][name].shape == (300,)
        assert r["test_curve"][name].shape == r["eval_steps"].shape
        assert r["test_curve"][name][-1] == r["test_mse"][name]
        assert r["seconds"][name] > 0
    # after training, gradient still reaches h_1 of the GRU; the RNN's vanishes on the way back
    g, n = r["grad_norms"]["final"]["gru"], r["grad_norms"]["final"]["rnn"]
    assert g.shape == n.shape == (50,)
    assert g[0] / g[-1] > 1e-2 and n[0] / n[-1] < 1e-2
    assert g[0] / g[-1] > 100 * (n[0] / n[-1])


def test_race_is_deterministic_and_checks_its_arguments():
    kw = dict(T=8, n_train=40, n_test=10, steps=7, hidden=3, batch_size=16, eval_every=3, seed=5)
    a, b = adding_problem_race(**kw), adding_problem_race(**kw)
    np.testing.assert_array_equal(a["eval_steps"], [0, 3, 6, 7])
    for name in ("gru", "rnn"):
        np.testing.assert_array_equal(a["train_loss"][name], b["train_loss"][name])
        np.testing.assert_array_equal(a["grad_norms"]["final"][name], b["grad_norms"]["final"][name])
        assert a["grad_norms"]["init"][name].shape == (8,)
        assert not np.array_equal(a["grad_norms"]["init"][name], a["grad_norms"]["final"][name])  # it trained
    assert a["test_mse"] == b["test_mse"]
    with pytest.raises(ValueError, match="steps"):
        adding_problem_race(steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        adding_problem_race(n_train=10, batch_size=32)
    with pytest.raises(ValueError, match="T"):
        adding_problem_race(T=1)
