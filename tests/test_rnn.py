"""The tanh RNN against finite differences and PyTorch's nn.RNN."""

from __future__ import annotations

import numpy as np
import pytest

from gru_core.model.rnn import RNNRegressor
from gru_core.optim import make_optimizer

CASES = [(1, 1), (1, 30), (2, 1), (2, 30)]  # (num_layers, T)


def batch(B=3, T=5, D=2, O=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, D)), rng.normal(size=(B, O))


def model_for(layers, D=2, H=3, O=2, seed=1, **kw):
    m = RNNRegressor(D, H, output_size=O, num_layers=layers, seed=seed, **kw)
    # weights larger than the default init, so that tanh is neither linear nor saturated everywhere
    m.params.flat[:] = np.random.default_rng(seed + 100).uniform(-0.9, 0.9, m.params.flat.size)
    return m


def numeric_grads(model, X, y, eps=1e-6):
    out = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            lp, _ = model.loss_and_grads(X, y)
            p[i] = old - eps
            lm, _ = model.loss_and_grads(X, y)
            p[i] = old
            g[i] = (lp - lm) / (2 * eps)
        out[name] = g
    return out


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("layers,T", CASES)
def test_gradients_match_finite_differences(layers, T):
    model = model_for(layers)
    X, y = batch(T=T)
    _, grads = model.loss_and_grads(X, y)
    num = numeric_grads(model, X, y)
    assert list(grads) == list(model.params)
    for name in model.params:
        assert grads[name].shape == model.params[name].shape
        if np.linalg.norm(num[name]) == 0:  # weight_hh when T = 1 (h_0 = 0): both must be exactly 0
            assert np.all(grads[name] == 0), name
            continue
        assert rel_err(grads[name], num[name]) <= 1e-6, (name, rel_err(grads[name], num[name]))


def forward_with_offsets(params, X, layers, offsets):
    """An independent forward pass in which ``offsets[k][t]`` (B, H) is added to layer k's h_{t+1}."""
    inputs = X
    for k in range(layers):
        W_ih, W_hh = params[f"rnn.weight_ih_l{k}"], params[f"rnn.weight_hh_l{k}"]
        b_ih, b_hh = params[f"rnn.bias_ih_l{k}"], params[f"rnn.bias_hh_l{k}"]
        h = np.zeros((X.shape[0], W_hh.shape[0]))
        states = []
        for t in range(X.shape[1]):
            h = np.tanh(inputs[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh) + offsets[k][t]
            states.append(h)
        inputs = np.stack(states, axis=1)
    return h @ params["head.weight"].T + params["head.bias"]


@pytest.mark.parametrize("layers,layer", [(1, -1), (2, -1), (2, 0)])
def test_hidden_grads_match_finite_differences_on_the_states(layers, layer):
    model = model_for(layers)
    X, y = batch(B=2, T=6)
    dh = model.hidden_grads(X, y, layer=layer)  # (T, B, H)
    assert dh.shape == (6, 2, 3)
    params = {k: v.copy() for k, v in model.params.items()}
    k_target = layer % layers
    offsets = [np.zeros((6, 2, 3)) for _ in range(layers)]

    def loss():
        return np.mean((forward_with_offsets(params, X, layers, offsets) - y) ** 2)

    assert loss() == pytest.approx(model.loss_and_grads(X, y)[0], rel=1e-12)
    num = np.zeros_like(dh)
    eps = 1e-6
    for i in np.ndindex(dh.shape):
        offsets[k_target][i] = eps
        lp = loss()
        offsets[k_target][i] = -eps
        lm = loss()
        offsets[k_target][i] = 0.0
        num[i] = (lp - lm) / (2 * eps)
    assert rel_err(dh, num) <= 1e-7
    assert np.abs(dh[0]).max() > 0  # the gradient really reaches the first step


def torch_net(torch, model):
    rnn = torch.nn.RNN(model.input_size, model.hidden_size, model.num_layers, nonlinearity="tanh",
                       batch_first=True, dtype=torch.float64)  # fmt: skip
    head = torch.nn.Linear(model.hidden_size, model.output_size, dtype=torch.float64)
    net = torch.nn.ModuleDict({"rnn": rnn, "head": head})
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    return net


def test_parameter_names_and_shapes_are_pytorch_state_dict(torch):
    for layers in (1, 3):
        model = RNNRegressor(4, 6, output_size=3, num_layers=layers)
        rnn = torch.nn.RNN(4, 6, layers, batch_first=True)
        sd = torch.nn.ModuleDict({"rnn": rnn, "head": torch.nn.Linear(6, 3)}).state_dict()
        assert list(model.params) == list(sd)
        for k, v in sd.items():
            assert model.params[k].shape == tuple(v.shape), k


@pytest.mark.parametrize("layers,T", [(1, 1), (1, 35), (2, 1), (2, 35), (3, 8)])
def test_equals_pytorch_forward_and_gradients(torch, layers, T):
    model = RNNRegressor(3, 7, output_size=2, num_layers=layers, seed=3)
    X, y = batch(B=6, T=T, D=3, O=2, seed=4)
    net = torch_net(torch, model)
    out, h_n = net["rnn"](torch.from_numpy(X))
    y_t = net["head"](out[:, -1])
    loss_t = torch.nn.MSELoss()(y_t, torch.from_numpy(y))
    loss_t.backward()

    loss, grads = model.loss_and_grads(X, y)
    assert abs(loss - loss_t.item()) <= 1e-10 * abs(loss_t.item())
    for name, p in net.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    y_hat, trace = model.forward(X)
    np.testing.assert_allclose(y_hat, y_t.detach().numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(model.predict(X), y_hat, rtol=0, atol=0)
    assert len(trace) == layers
    np.testing.assert_allclose(trace[-1]["h"], out.detach().numpy(), rtol=1e-10, atol=1e-13)
    for k in range(layers):
        assert trace[k]["h"].shape == (6, T, 7)
        np.testing.assert_allclose(trace[k]["h"][:, -1], h_n[k].detach().numpy(), rtol=1e-10, atol=1e-13)


def test_hidden_grads_equal_pytorch_unrolled_cells(torch):
    """∂L/∂h_t from torch autograd: unroll nn.RNNCell (nn.RNN's `out` only sees the *direct* gradient)."""
    model = RNNRegressor(2, 5, output_size=1, num_layers=1, seed=2)
    X, y = batch(B=4, T=12, D=2, O=1, seed=6)
    cell = torch.nn.RNNCell(2, 5, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.from_numpy(model.params[f"rnn.{name}_l0"].copy()))
    h = torch.zeros(4, 5, dtype=torch.float64)
    states = []
    for t in range(12):
        h = cell(torch.from_numpy(X[:, t]), h)
        h.retain_grad()
        states.append(h)
    W, b = (torch.from_numpy(model.params[n].copy()) for n in ("head.weight", "head.bias"))
    torch.nn.MSELoss()(h @ W.T + b, torch.from_numpy(y)).backward()
    expected = np.stack([s.grad.numpy() for s in states])  # (T, B, H)
    np.testing.assert_allclose(model.hidden_grads(X, y), expected, rtol=1e-10, atol=1e-16)


def test_pytorch_init_bounds_and_determinism():
    a = RNNRegressor(1, 25, seed=42)
    b = RNNRegressor(1, 25, seed=42)
    c = RNNRegressor(1, 25, seed=43)
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert not np.array_equal(a.params.flat, c.params.flat)
    assert np.abs(a.params.flat).max() <= 1 / 5
    assert np.abs(a.params.flat).max() > 0.9 / 5
    X, y = batch(B=4, T=9, D=1, O=1)
    la, ga = a.loss_and_grads(X, y)
    la2, ga2 = a.loss_and_grads(X, y)  # no hidden state carried between calls
    lb, gb = b.loss_and_grads(X, y)
    assert la == la2 == lb
    np.testing.assert_array_equal(ga.flat, gb.flat)
    np.testing.assert_array_equal(ga.flat, ga2.flat)


def test_keras_init_is_glorot_orthogonal_zero():
    m = RNNRegressor(3, 16, init="keras", seed=0)
    W_hh = m.params["rnn.weight_hh_l0"]
    np.testing.assert_allclose(W_hh @ W_hh.T, np.eye(16), atol=1e-12)
    assert np.all(m.params["rnn.bias_ih_l0"] == 0) and np.all(m.params["rnn.bias_hh_l0"] == 0)
    limit = np.sqrt(6 / (3 + 16))
    assert 0.5 * limit < np.abs(m.params["rnn.weight_ih_l0"]).max() <= limit


def test_an_optimizer_trains_it_in_place():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5, 1))
    y = X[:, -1] * 0.5 + X[:, -2] * 0.3  # a short memory: easy for an RNN
    m = RNNRegressor(1, 8, seed=0)
    opt = make_optimizer("adam", lr=1e-2)
    first, _ = m.loss_and_grads(X, y)
    for _ in range(200):
        _, g = m.loss_and_grads(X, y)
        opt.step(m.params, g)
    last, _ = m.loss_and_grads(X, y)
    assert last < 0.05 * first
    assert np.shares_memory(m.params["rnn.weight_hh_l0"], m.params.flat)


def test_float32_works_and_stays_float32():
    m64 = RNNRegressor(1, 8, seed=0)
    m32 = RNNRegressor(1, 8, seed=0, dtype=np.float32)
    X, y = batch(B=4, T=12, D=1, O=1)
    loss32, g32 = m32.loss_and_grads(X, y)
    loss64, g64 = m64.loss_and_grads(X, y)
    assert m32.params.flat.dtype == np.float32 and g32.flat.dtype == np.float32
    assert m32.predict(X).dtype == np.float32 and m32.hidden_grads(X, y).dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    np.testing.assert_allclose(g32.flat, g64.flat, rtol=1e-3, atol=1e-5)


def test_extreme_inputs_saturate_without_nan():
    m = RNNRegressor(1, 4, seed=0)
    X = np.full((2, 6, 1), 1e4)
    X[1] = -1e4
    loss, grads = m.loss_and_grads(X, np.zeros((2, 1)))
    assert np.isfinite(loss) and np.all(np.isfinite(grads.flat))


def test_load_params_checks_names():
    a, b = RNNRegressor(2, 3, seed=0), RNNRegressor(2, 3, seed=1)
    b.load_params({k: v.copy() for k, v in a.params.items()})
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    with pytest.raises(ValueError, match="missing"):
        b.load_params({"head.bias": np.zeros(1)})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"input_size": True}, "input_size"),
        ({"num_layers": -1}, "num_layers"),
        ({"output_size": 0}, "output_size"),
        ({"init": "xavier"}, "init"),
        ({"dtype": np.int32}, "dtype"),
        ({"dtype": "nonsense"}, "dtype"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    args = {"input_size": 1, "hidden_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        RNNRegressor(**args)


def test_bad_batches_are_refused_not_broadcast():
    m = RNNRegressor(2, 4, output_size=1, num_layers=2)
    X, y = batch(B=3, T=5, D=2, O=1)
    with pytest.raises(ValueError, match="shape"):
        m.loss_and_grads(X[0], y)  # 2-D X
    with pytest.raises(ValueError, match="shape"):
        m.predict(X[:, :0])  # no time steps
    with pytest.raises(ValueError, match="input_size"):
        m.forward(X[:, :, :1])
    with pytest.raises(ValueError, match="y must have shape"):
        m.loss_and_grads(X, np.zeros((1, 1)))  # would broadcast silently
    with pytest.raises(ValueError, match="y must have shape"):
        m.hidden_grads(X, np.zeros((3, 2)))
    Xn = X.copy()
    Xn[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.loss_and_grads(Xn, y)
    with pytest.raises(ValueError, match="NaN"):
        m.loss_and_grads(X, np.full((3, 1), np.inf))
    with pytest.raises(ValueError, match="numeric"):
        m.predict(np.full((3, 5, 2), "a"))
    for bad in (2, -3, 1.0, True):
        with pytest.raises(ValueError, match="layer"):
            m.hidden_grads(X, y, layer=bad)
    assert m.loss_and_grads(X, y[:, 0])[0] == m.loss_and_grads(X, y)[0]  # (B,) y accepted when O == 1
