"""The 2-D optimizer lab: gradients, minima, and trajectories that are the real optimizers' steps."""

from __future__ import annotations

import numpy as np
import pytest

from gru_core.classroom.landscapes import (
    DIVERGENCE_RADIUS,
    LANDSCAPES,
    LOG_OFFSET,
    Landscape,
    grid,
    log_values,
    quadratic,
    trajectory,
)
from gru_core.optim import SGD, Adagrad, Adam, AdamW, RMSprop

ALL = {**LANDSCAPES, "quadratic_rotated": quadratic(condition=20, angle=30), "quadratic_k1": quadratic(1.0)}


def test_registry():
    assert set(LANDSCAPES) == {"quadratic", "rosenbrock", "beale", "saddle", "himmelblau"}
    for key, land in LANDSCAPES.items():
        assert isinstance(land, Landscape) and land.key == key
        assert land.name and land.formula and land.description
        assert land.x_range[0] < land.start[0] < land.x_range[1]
        assert land.y_range[0] < land.start[1] < land.y_range[1]
        for m in land.minima:
            assert land.x_range[0] <= m[0] <= land.x_range[1] and land.y_range[0] <= m[1] <= land.y_range[1]


@pytest.mark.parametrize("key", list(ALL))
def test_analytic_gradient_matches_finite_differences(key):
    land = ALL[key]
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(*land.x_range, 25), rng.uniform(*land.y_range, 25)])
    g = land.gradient(pts)  # vectorised: (25, 2)
    assert g.shape == (25, 2)
    h = 1e-6
    for p, gp in zip(pts, g):
        num = np.array(
            [(land.value(p + h * e) - land.value(p - h * e)) / (2 * h) for e in np.eye(2)]
        )  # central differences
        np.testing.assert_allclose(gp, num, rtol=1e-6, atol=1e-6 * max(1.0, abs(land.value(p))))
        np.testing.assert_array_equal(land.gradient(p), gp)  # one point alone gives the same numbers


@pytest.mark.parametrize("key", list(ALL))
def test_known_minima_are_minima(key):
    land = ALL[key]
    rng = np.random.default_rng(1)
    for m in land.minima:
        m = np.array(m)
        assert land.value(m) == pytest.approx(land.f_min, abs=1e-12)
        assert np.abs(land.gradient(m)).max() <= 1e-12
        # a strict local minimum: every nearby point is higher, and the Hessian (by differences) is
        # positive definite
        for d in rng.normal(size=(20, 2)) * 1e-3:
            assert land.value(m + d) > land.f_min
        hess = np.array([(land.gradient(m + 1e-5 * e) - land.gradient(m - 1e-5 * e)) / 2e-5 for e in np.eye(2)])
        assert np.linalg.eigvalsh(0.5 * (hess + hess.T)).min() > 0
    # … and global: nothing on a dense grid over the window is lower
    _, _, Z = grid(land, n=301)
    assert Z.min() >= land.f_min - 1e-12
    for s in land.saddles:
        assert np.abs(land.gradient(s)).max() == 0
        hess = np.array([(land.gradient(np.array(s) + 1e-5 * e) - land.gradient(np.array(s) - 1e-5 * e)) / 2e-5
                         for e in np.eye(2)])  # fmt: skip
        ev = np.linalg.eigvalsh(0.5 * (hess + hess.T))
        assert ev.min() < 0 < ev.max()


def test_formulas_by_hand():
    q, r, b, s, h = (LANDSCAPES[k] for k in ("quadratic", "rosenbrock", "beale", "saddle", "himmelblau"))
    assert q.value([2.0, 1.0]) == 0.5 * (4 + 50)
    np.testing.assert_array_equal(q.gradient([2.0, 1.0]), [2.0, 50.0])
    assert r.value([0.0, 0.0]) == 1.0 and r.value([-1.0, 2.0]) == 4 + 100
    assert b.value([0.0, 0.0]) == 1.5**2 + 2.25**2 + 2.625**2
    assert s.value([1.0, 2.0]) == 1 - 4 + 4 and h.value([0.0, 0.0]) == 121 + 49
    # rotation by 90° swaps the axes' curvatures
    rot = quadratic(condition=10, angle=90)
    assert rot.value([0.0, 1.0]) == pytest.approx(0.5) and rot.value([1.0, 0.0]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="condition"):
        quadratic(condition=0.5)


CONFIGS = [
    ("sgd", "pytorch", {"lr": 1e-3}, lambda: SGD(lr=1e-3)),
    ("sgd", "pytorch", {"lr": 1e-3, "momentum": 0.9, "nesterov": True},
     lambda: SGD(lr=1e-3, momentum=0.9, nesterov=True)),
    ("adagrad", "pytorch", {"lr": 0.3}, lambda: Adagrad(lr=0.3)),
    ("rmsprop", "pytorch", {"lr": 1e-2, "centered": True}, lambda: RMSprop(lr=1e-2, centered=True)),
    ("rmsprop", "keras", {"lr": 1e-2, "momentum": 0.5}, lambda: RMSprop(lr=1e-2, momentum=0.5, flavor="keras")),
    ("adam", "pytorch", {"lr": 0.05, "amsgrad": True}, lambda: Adam(lr=0.05, amsgrad=True)),
    ("adam", "keras", {"lr": 0.05, "beta1": 0.8}, lambda: Adam(lr=0.05, betas=(0.8, 0.999), flavor="keras")),
    ("adamw", "pytorch", {"lr": 0.05, "weight_decay": 0.1}, lambda: AdamW(lr=0.05, weight_decay=0.1)),
]  # fmt: skip


@pytest.mark.parametrize("name,flavor,hyper,build", CONFIGS)
@pytest.mark.parametrize("key", ["rosenbrock", "beale"])
def test_trajectory_is_the_optimizer_stepped_by_hand(key, name, flavor, hyper, build):
    land = LANDSCAPES[key]
    r = trajectory(key, name, flavor=flavor, steps=60, **hyper)
    opt = build()  # built by its class, not through the registry
    xy = np.array(land.start, dtype=float)
    points, grads, sizes = [xy.copy()], [], []
    for _ in range(60):
        g = land.gradient(xy)
        opt.step({"xy": xy}, {"xy": g})
        points.append(xy.copy())
        grads.append(g)
        sizes.append(opt.effective_step_size("xy"))
    np.testing.assert_array_equal(r["points"], np.array(points))
    np.testing.assert_array_equal(r["grads"], np.array(grads))
    np.testing.assert_array_equal(r["step_sizes"], np.array(sizes))
    np.testing.assert_array_equal(r["values"], [land.value(p) for p in points])
    assert r["diverged_at"] is None
    assert (r["landscape"], r["optimizer"], r["flavor"]) == (key, name, flavor)
    assert r["hyperparams"]["lr"] == hyper["lr"]
    assert not np.array_equal(r["points"][0], r["points"][-1])  # it moved


@pytest.mark.parametrize("key", list(LANDSCAPES))
def test_adam_first_step_moves_every_coordinate_by_lr(key):
    """Bias-corrected first step: m = (1−β₁)g, v = (1−β₂)g², so Δ = −lr · g / (|g| + eps) ≈ −lr · sign(g)."""
    lr, eps = 0.01, 1e-8
    land = LANDSCAPES[key]
    r = trajectory(key, "adam", steps=3, lr=lr, eps=eps)
    g0 = land.gradient(land.start)
    step = r["points"][1] - r["points"][0]
    assert np.all(np.abs(g0) > 1e-4)  # every start has a gradient in both coordinates
    np.testing.assert_allclose(step, -lr * np.sign(g0), rtol=eps / np.abs(g0).min() + 1e-12)
    # the effective step size multiplies exp_avg = (1 − β₁) g: lr / (1 − β₁) / (|g| + eps)
    np.testing.assert_allclose(r["step_sizes"][0], lr / 0.1 / (np.abs(g0) + eps), rtol=1e-12)
    np.testing.assert_allclose(r["step_sizes"][0] * 0.1 * np.abs(g0), lr, rtol=eps / np.abs(g0).min() + 1e-12)


def test_sgd_with_too_large_a_lr_diverges_on_the_ill_conditioned_quadratic():
    # gradient (x, 50y): one step multiplies x by (1 − lr) and y by (1 − 50 lr); lr = 0.05 gives −1.5
    x0, y0 = LANDSCAPES["quadratic"].start
    r = trajectory("quadratic", "sgd", steps=200, lr=0.05)
    k = np.arange(200)
    radius = np.hypot(x0 * 0.95**k, y0 * 1.5**k)
    expected = int(np.argmax(radius > DIVERGENCE_RADIUS))
    assert 20 < expected < 200
    assert r["diverged_at"] == expected
    assert r["points"].shape == (expected + 1, 2) and r["grads"].shape == (expected, 2)
    assert np.hypot(*r["points"][-1]) > DIVERGENCE_RADIUS >= np.hypot(*r["points"][-2])
    np.testing.assert_allclose(r["points"][:, 1], y0 * (-1.5) ** k[: expected + 1], rtol=1e-12)
    # below 2/κ = 0.04 it converges, however slowly along x
    ok = trajectory("quadratic", "sgd", steps=200, lr=0.039)
    assert ok["diverged_at"] is None and ok["points"].shape == (201, 2)
    assert ok["values"][-1] < 1e-3 * ok["values"][0]


def test_nan_and_overflow_stop_the_run():
    nan_land = Landscape(key="nan", name="NaN beyond the start", formula="f", start=(0.0, 0.0),
                         f=lambda x, y: np.where((x == 0) & (y == 0), 0.0, np.nan),
                         df=lambda x, y: (np.ones_like(x), np.ones_like(y)),
                         x_range=(-1, 1), y_range=(-1, 1), minima=((0.0, 0.0),), f_min=0.0)  # fmt: skip
    r = trajectory(nan_land, "sgd", steps=10, lr=0.1)
    assert r["diverged_at"] == 1 and len(r["points"]) == 2
    r = trajectory("rosenbrock", "sgd", steps=100, lr=0.01)  # far too large for Rosenbrock's 1e3 curvature
    assert r["diverged_at"] is not None and r["diverged_at"] < 100


def test_rmsprop_flavours_differ_on_small_gradients():
    """Same lr, alpha, eps: only where eps sits differs.  PyTorch: lr·g / (√v + eps); Keras: lr·g / √(v + eps).

    On ½(x² + y²) started 1e-5 from the minimum, |g| = 1e-5 and at step 1 v = (1−α)g² = 1e-11 ≪ eps = 1e-7.
    PyTorch's step is ≈ lr/√(1−α) = 3.2e-4 whatever |g| (it normalises the gradient away): thirty times the
    distance to the minimum.  Keras's is ≈ lr·g/√eps = 0.32·g: a cautious third of the way.
    """
    land = quadratic(condition=1.0)
    start = (1e-5, -1e-5)
    hyper = dict(lr=1e-4, alpha=0.9, eps=1e-7)
    torch_r = trajectory(land, "rmsprop", flavor="pytorch", start=start, steps=20, **hyper)
    keras_r = trajectory(land, "rmsprop", flavor="keras", start=start, steps=20, **hyper)
    g = np.array(start)
    v = 0.1 * g * g
    np.testing.assert_allclose(torch_r["points"][1] - start, -1e-4 * g / (np.sqrt(v) + 1e-7), rtol=1e-12)
    np.testing.assert_allclose(keras_r["points"][1] - start, -1e-4 * g / np.sqrt(v + 1e-7), rtol=1e-12)
    assert np.all(np.abs(torch_r["points"][1]) > 25 * np.abs(g))  # overshot far past the minimum
    assert np.all(np.abs(keras_r["points"][1]) < 0.7 * np.abs(g))  # a cautious step towards it
    assert np.all(np.sign(keras_r["points"][1]) == np.sign(g))
    assert np.all(np.abs(keras_r["points"][1:]) < np.abs(g))  # Keras never leaves the 1e-5 box
    assert np.abs(torch_r["points"] - keras_r["points"]).max() > 2e-4
    # with large gradients the two flavours nearly agree: eps is negligible either way
    big_t = trajectory(land, "rmsprop", flavor="pytorch", start=(3.0, -2.0), steps=1, **hyper)
    big_k = trajectory(land, "rmsprop", flavor="keras", start=(3.0, -2.0), steps=1, **hyper)
    np.testing.assert_allclose(big_t["points"], big_k["points"], rtol=1e-6)


def test_grid_layout_and_log_scale():
    land = LANDSCAPES["rosenbrock"]
    xs, ys, Z = grid(land, n=50)
    assert xs.shape == ys.shape == (50,) and Z.shape == (50, 50)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (*land.x_range, *land.y_range)
    i, j = 7, 31
    assert Z[i, j] == land.value([xs[j], ys[i]])  # rows follow y
    xs2, ys2, L = grid(land, n=50, log=True, x_range=(0, 2), y_range=(0, 2))
    assert xs2[0] == 0 and ys2[-1] == 2
    Z2 = grid(land, n=50, x_range=(0, 2), y_range=(0, 2))[2]
    np.testing.assert_allclose(L, np.log10(Z2 - land.f_min + LOG_OFFSET), rtol=1e-12)
    assert log_values("saddle", -1.0) == pytest.approx(-3.0)  # the minimum of the saddle sits at −3
    assert log_values("rosenbrock", [0.0, 999.999]).tolist() == pytest.approx([-3.0, 3.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown landscape"):
        trajectory("nope", "adam")
    with pytest.raises(ValueError, match="Unknown optimizer"):
        trajectory("beale", "lbfgs")
    with pytest.raises(ValueError, match="start"):
        trajectory("beale", "adam", start=(1.0, np.nan))
    with pytest.raises(ValueError, match="start"):
        trajectory("beale", "adam", start=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="steps"):
        trajectory("beale", "adam", steps=-1)
    with pytest.raises(ValueError, match="flavor"):
        trajectory("beale", "sgd", flavor="keras")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        trajectory("beale", "sgd", betas=(0.9, 0.9))
    with pytest.raises(ValueError, match="n must be"):
        grid("beale", n=1)
    r = trajectory("beale", "adam", steps=0)
    assert r["points"].shape == (1, 2) and r["grads"].shape == (0, 2) and r["diverged_at"] is None


def test_suggest_lr_picks_the_grid_rate_whose_path_ends_lowest_without_diverging():
    from gru_core.classroom.landscapes import SUGGEST_GRID, suggest_lr

    lr = suggest_lr("quadratic", "sgd", steps=100)
    assert lr in SUGGEST_GRID
    ends = {g: trajectory("quadratic", "sgd", steps=100, lr=g) for g in SUGGEST_GRID}
    ok = {g: r["values"][-1] for g, r in ends.items() if r["diverged_at"] is None}
    assert ends[lr]["diverged_at"] is None and ok[lr] == min(ok.values())
    assert any(r["diverged_at"] for r in ends.values())  # the grid reaches rates that diverge: they were skipped
