"""The fast GRU against finite differences, the textbook reference and PyTorch's nn.GRU."""

from __future__ import annotations

import numpy as np
import pytest

from gru_core import GRURegressor, ParamDict, clip_grad_norm, grad_norm
from gru_core.model import reference as ref

CASES = [
    # (variant, num_layers, T)
    ("pytorch", 1, 1),
    ("pytorch", 1, 30),
    ("pytorch", 2, 1),
    ("pytorch", 2, 30),
    ("classic", 1, 1),
    ("classic", 1, 30),
    ("classic", 2, 1),
    ("classic", 2, 30),
]


def batch(B=3, T=5, D=2, O=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, D)), rng.normal(size=(B, O))


def model_for(variant, layers, D=2, H=3, O=2, seed=1, **kw):
    m = GRURegressor(D, H, output_size=O, num_layers=layers, variant=variant, seed=seed, **kw)
    # make biases clearly non-zero and weights large enough that gates are not all ~0.5
    m.params.flat[:] = np.random.default_rng(seed + 100).uniform(-0.9, 0.9, m.params.flat.size)
    return m


def numeric_grads(model, X, y, mask=None, eps=1e-6):
    out = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = p[i]
            p[i] = old + eps
            lp, _ = model.loss_and_grads(X, y, dropout_mask=mask)
            p[i] = old - eps
            lm, _ = model.loss_and_grads(X, y, dropout_mask=mask)
            p[i] = old
            g[i] = (lp - lm) / (2 * eps)
        out[name] = g
    return out


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("variant,layers,T", CASES)
def test_gradients_match_finite_differences(variant, layers, T):
    model = model_for(variant, layers)
    X, y = batch(T=T)
    mask = None
    if layers == 2:  # exercise the dropout path too, with a fixed mask
        mask = (np.random.default_rng(5).random((3, 3)) > 0.3) / 0.7
    _, grads = model.loss_and_grads(X, y, dropout_mask=mask)
    num = numeric_grads(model, X, y, mask)
    assert set(grads) == set(model.params)
    for name in model.params:
        assert grads[name].shape == model.params[name].shape
        if np.linalg.norm(num[name]) == 0:  # e.g. weight_hh when T = 1 (h_0 = 0): both must be 0
            assert np.all(grads[name] == 0), name
            continue
        assert rel_err(grads[name], num[name]) <= 1e-6, (name, rel_err(grads[name], num[name]))


@pytest.mark.parametrize("variant,layers,T", CASES + [("pytorch", 3, 7), ("classic", 3, 7)])
def test_fast_equals_reference(variant, layers, T):
    model = model_for(variant, layers, D=2, H=4, O=2)
    X, y = batch(B=5, T=T)
    mask = (np.random.default_rng(7).random((5, 4)) > 0.25) / 0.75
    loss, grads = model.loss_and_grads(X, y, dropout_mask=mask)
    params = {k: v.copy() for k, v in model.params.items()}
    loss_ref, grads_ref = ref.loss_and_grads(params, X, y, layers, variant, dropout_mask=mask)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], grads_ref[name], rtol=1e-10, atol=1e-14, err_msg=name)
    # the trace the dashboard draws equals the reference's gates
    y_hat, trace = model.forward(X)
    y_ref, cache, _ = ref.forward(params, X, layers, variant)
    np.testing.assert_allclose(y_hat, y_ref, rtol=1e-12, atol=1e-14)
    for k in range(layers):
        for gate in ("r", "z", "n"):
            expected = np.stack(cache[k][gate], axis=1)  # (B, T, H)
            np.testing.assert_allclose(trace[k][gate], expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(trace[k]["h"], np.stack(cache[k]["h"][1:], axis=1), rtol=1e-12, atol=1e-15)


def torch_net(torch, model):
    gru = torch.nn.GRU(model.input_size, model.hidden_size, model.num_layers, batch_first=True,
                       dtype=torch.float64)  # fmt: skip
    head = torch.nn.Linear(model.hidden_size, model.output_size, dtype=torch.float64)
    net = torch.nn.ModuleDict({"gru": gru, "head": head})
    return net


def test_parameter_names_and_shapes_are_pytorch_state_dict(torch):
    for layers in (1, 3):
        model = GRURegressor(4, 6, output_size=3, num_layers=layers)
        sd = torch_net(torch, model).state_dict()
        assert list(model.params) == list(sd)
        for k, v in sd.items():
            assert model.params[k].shape == tuple(v.shape), k


@pytest.mark.parametrize("layers,T", [(1, 1), (1, 35), (2, 1), (2, 35), (3, 8)])
def test_equals_pytorch_forward_and_gradients(torch, layers, T):
    model = GRURegressor(3, 7, output_size=2, num_layers=layers, seed=3)
    X, y = batch(B=6, T=T, D=3, O=2, seed=4)
    mask = (np.random.default_rng(9).random((6, 7)) > 0.3) / 0.7
    net = torch_net(torch, model)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.params.items()})
    out, _ = net["gru"](torch.from_numpy(X))
    y_t = net["head"](out[:, -1] * torch.from_numpy(mask))
    loss_t = torch.nn.MSELoss()(y_t, torch.from_numpy(y))
    loss_t.backward()

    loss, grads = model.loss_and_grads(X, y, dropout_mask=mask)
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
    # evaluation forward and every layer's hidden states
    y_hat, trace = model.forward(X)
    with torch.no_grad():
        out, h_n = net["gru"](torch.from_numpy(X))
        y_eval = net["head"](out[:, -1]).numpy()
    np.testing.assert_allclose(y_hat, y_eval, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(trace[-1]["h"], out.numpy(), rtol=1e-10, atol=1e-13)
    for k in range(layers):
        np.testing.assert_allclose(trace[k]["h"][:, -1], h_n[k].numpy(), rtol=1e-10, atol=1e-13)


def test_keras_init_is_glorot_orthogonal_zero():
    model = GRURegressor(1, 16, init="keras", seed=0)
    W_hh = model.params["gru.weight_hh_l0"]  # (3H, H): the Keras (H, 3H) recurrent kernel, transposed
    np.testing.assert_allclose(W_hh.T @ W_hh, np.eye(16), atol=1e-12)  # orthonormal columns of W_hhᵀ…
    assert np.all(model.params["gru.bias_ih_l0"] == 0) and np.all(model.params["gru.bias_hh_l0"] == 0)
    limit = np.sqrt(6 / (1 + 48))
    assert np.abs(model.params["gru.weight_ih_l0"]).max() <= limit
    assert np.abs(model.params["gru.weight_ih_l0"]).max() > 0.5 * limit


def test_pytorch_init_bounds_and_seed():
    a = GRURegressor(1, 25, seed=42)
    b = GRURegressor(1, 25, seed=42)
    c = GRURegressor(1, 25, seed=43)
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    assert not np.array_equal(a.params.flat, c.params.flat)
    assert np.abs(a.params.flat).max() <= 1 / 5
    assert np.abs(a.params.flat).max() > 0.9 / 5


def test_determinism_including_dropout():
    X, y = batch(B=8, T=10, D=1, O=1)
    runs = []
    for _ in range(2):
        m = GRURegressor(1, 5, dropout=0.3, seed=11)
        losses = [m.loss_and_grads(X, y)[0] for _ in range(3)]  # dropout masks drawn from the seed
        runs.append(losses)
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3  # masks differ from call to call


def test_dropout_is_inverted_and_training_only():
    X, y = batch(B=200, T=4, D=1, O=1)
    m = GRURegressor(1, 8, dropout=0.5, seed=2)
    eval_loss, _ = m.loss_and_grads(X, y, training=False)
    y_hat = m.predict(X)
    np.testing.assert_allclose(eval_loss, np.mean((y_hat - y) ** 2), rtol=1e-12)
    # with the mask forced to all ones/(1-p)... a mask of ones reproduces evaluation mode
    ones_loss, _ = m.loss_and_grads(X, y, dropout_mask=np.ones((200, 8)))
    assert ones_loss == pytest.approx(eval_loss, rel=1e-12)
    train_loss, _ = m.loss_and_grads(X, y, training=True)
    assert train_loss != eval_loss


def _record_masks(model) -> list:
    """Make ``model`` record the (H, B) dropout mask its head applies in each call (None: no dropout)."""
    masks, head = [], model._head

    def recording_head(ws, mask):
        masks.append(None if mask is None else mask.copy())
        return head(ws, mask)

    model._head = recording_head
    return masks


@pytest.mark.parametrize("p", [0.2, 0.7])  # not 0.5: keeping with probability p instead of 1 - p must show
def test_drawn_dropout_masks_keep_one_minus_p_and_scale_by_its_inverse(p):
    B, H = 500, 64
    X, y = batch(B=B, T=2, D=1, O=1)
    m = GRURegressor(1, H, dropout=p, seed=3)
    masks = _record_masks(m)
    m.loss_and_grads(X, y)
    m.loss_and_grads(X, y, training=False)
    assert len(masks) == 2 and masks[1] is None  # evaluation: no mask at all
    mask = masks[0]
    assert mask.shape == (H, B)
    kept = mask != 0.0
    assert np.all(mask[kept] == 1.0 / (1.0 - p))  # inverted dropout: kept units scaled by exactly 1/(1-p)
    n = mask.size
    six_sigma = 6.0 * np.sqrt(p * (1.0 - p) / n)  # kept ~ Binomial(n, 1-p)/n
    assert abs(kept.mean() - (1.0 - p)) < six_sigma, kept.mean()
    assert abs(mask.mean() - 1.0) < 6.0 * np.sqrt(p / (1.0 - p) / n)  # E[mask] = 1: the expectation is kept


def test_training_loss_uses_the_mask_drawn_from_the_model_generator():
    """loss_and_grads(training=True) equals the explicit-mask call with the mask the generator gives:
    keep = U >= p over an (H, B) draw, scaled by 1/(1-p)."""
    B, H, p = 40, 6, 0.3
    X, y = batch(B=B, T=5, D=2, O=2)
    m = model_for("pytorch", 2, H=H, dropout=p)
    twin = np.random.default_rng()
    twin.bit_generator.state = m._dropout_rng.bit_generator.state
    mask = ((twin.random((H, B)) >= p) / (1.0 - p)).T  # (B, H)
    loss, grads = m.loss_and_grads(X, y)
    loss_explicit, grads_explicit = m.loss_and_grads(X, y, dropout_mask=mask)
    assert loss == loss_explicit
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads_explicit[k], err_msg=k)
    assert loss != m.loss_and_grads(X, y, training=False)[0]


def test_params_are_views_updating_the_model():
    m = GRURegressor(1, 4, seed=0)
    X, _ = batch(B=2, T=3, D=1, O=1)
    before = m.predict(X)
    m.params["head.bias"] += 1.0  # in place, through the dict
    np.testing.assert_allclose(m.predict(X), before + 1.0, rtol=1e-12)
    m.params.flat[-1] -= 1.0  # and through the flat vector (head.bias is last)
    np.testing.assert_allclose(m.predict(X), before, rtol=1e-12)
    assert np.shares_memory(m.params["gru.weight_ih_l0"], m.params.flat)


def test_float32_works_and_stays_float32():
    m64 = GRURegressor(1, 8, seed=0)
    m32 = GRURegressor(1, 8, seed=0, dtype=np.float32)
    X, y = batch(B=4, T=12, D=1, O=1)
    loss32, g32 = m32.loss_and_grads(X, y)
    loss64, g64 = m64.loss_and_grads(X, y)
    assert m32.params.flat.dtype == np.float32 and g32.flat.dtype == np.float32
    assert m32.predict(X).dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    np.testing.assert_allclose(g32.flat, g64.flat, rtol=1e-3, atol=1e-5)


def test_extreme_inputs_saturate_without_nan():
    m = GRURegressor(1, 4, seed=0)
    X = np.full((2, 6, 1), 1e4)
    X[1] = -1e4
    loss, grads = m.loss_and_grads(X, np.zeros((2, 1)))
    assert np.isfinite(loss) and np.all(np.isfinite(grads.flat))


def test_clip_grad_norm_matches_torch_rule():
    g = ParamDict.from_arrays({"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])})
    norm = clip_grad_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    assert grad_norm(g) == pytest.approx(5.0 * 1.0 / (5.0 + 1e-6))
    plain = {"a": np.array([0.3]), "b": np.array([0.4])}
    assert clip_grad_norm(plain, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(plain["a"], [0.3])  # below the limit: untouched
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(plain, 0.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"num_layers": -1}, "num_layers"),
        ({"variant": "lstm"}, "variant"),
        ({"init": "xavier"}, "init"),
        ({"dropout": 1.0}, "dropout"),
        ({"dtype": np.int32}, "dtype"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    args = {"input_size": 1, "hidden_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        GRURegressor(**args)


def test_bad_batches_are_refused_not_broadcast():
    m = GRURegressor(2, 4, output_size=1)
    X, y = batch(B=3, T=5, D=2, O=1)
    with pytest.raises(ValueError, match="shape"):
        m.loss_and_grads(X[0], y)  # 2-D X
    with pytest.raises(ValueError, match="input_size"):
        m.loss_and_grads(X[:, :, :1], y)
    with pytest.raises(ValueError, match="y must have shape"):
        m.loss_and_grads(X, np.zeros((1, 1)))  # would broadcast silently
    with pytest.raises(ValueError, match="y must have shape"):
        m.loss_and_grads(X, np.zeros((3, 2)))
    Xn = X.copy()
    Xn[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.loss_and_grads(Xn, y)
    with pytest.raises(ValueError, match="NaN"):
        m.loss_and_grads(X, np.full((3, 1), np.inf))
    with pytest.raises(ValueError, match="dropout_mask"):
        m.loss_and_grads(X, y, dropout_mask=np.ones((4, 3)))


def test_load_params_checks_names_and_shapes_and_converts_dtype():
    a = GRURegressor(1, 3, seed=1)
    b = GRURegressor(1, 3, seed=2, dtype=np.float32)
    b.load_params({k: v.copy() for k, v in a.params.items()})  # float64 in, float32 kept
    assert b.params.dtype == np.float32
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=1e-6)
    with pytest.raises(ValueError, match="missing"):
        b.load_params({"head.bias": np.zeros(1)})
    with pytest.raises(ValueError, match="unexpected"):
        b.load_params({**a.params, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        b.load_params({**a.params, "head.bias": np.zeros(2)})
