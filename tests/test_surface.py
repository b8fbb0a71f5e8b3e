"""The loss surface of the race (gru_core.surface): recorder bounds, planes, projections, and losses that equal
the model's own forward pass and the race's own numbers.  Every expected value here is computed independently
(NumPy's SVD and lstsq, the model's forward pass, the race's reported losses, or by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from gru_core import surface
from gru_core.data import prepare
from gru_core.data.datasets import load_dataset
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.surface import (
    TrajectoryRecorder,
    batch_losses,
    batched_predict,
    default_extent,
    filter_normalize,
    in_plane,
    line_losses,
    loss_grid,
    pca_plane,
    project,
    random_plane,
    residual_norms,
)
from gru_core.train import Contestant, Race, TrainConfig


@pytest.fixture(scope="module")
def prepared():
    return prepare(load_dataset("noisy_sine", length=160, seed=2), lookback=8, split=(0.7, 0.15, 0.15))


def model_mse(model: GRURegressor, flat, X, y) -> float:
    """The loss as the model computes it: its own forward pass on a copy with these weights."""
    m = GRURegressor.from_config(model.config)
    m.params.flat[:] = flat
    diff = m.predict(X) - np.asarray(y).reshape(len(X), -1)
    return float(np.mean(diff * diff))


def anisotropic_trajectories(n: int, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Three paths from one origin whose changes spread along a few directions with very different scales."""
    rng = np.random.default_rng(seed)
    origin = rng.standard_normal(n)
    basis = np.linalg.qr(rng.standard_normal((n, 4)))[0]
    trajs = {}
    for name, k in (("adam", 12), ("sgd", 7), ("rmsprop", 20)):
        c = rng.standard_normal((k, 4)) * np.array([5.0, 2.0, 0.5, 0.1])
        trajs[name] = np.concatenate([origin[None], origin + c @ basis.T])  # each path starts at the origin
    return origin, trajs


# --------------------------------------------------------------------------------------------------
# the recorder
# --------------------------------------------------------------------------------------------------


def test_recorder_stays_within_max_points_keeps_first_and_latest_and_thins_evenly():
    n, cap = 5, 10
    rec = TrajectoryRecorder(max_points=cap)
    bound = cap * n * np.dtype(np.float64).itemsize
    for i in range(1000):
        x = np.full(n, float(i))
        rec.record(i, x)
        x[:] = -1.0  # the recorder keeps a copy
        epochs, params = rec.points()
        assert 1 <= len(epochs) <= cap and rec.nbytes <= bound
        assert epochs[0] == 0 and epochs[-1] == i  # the first and the most recent are always there
        np.testing.assert_array_equal(params, np.repeat(epochs[:, None], n, axis=1))
        # the kept points are every s-th call (s a power of two, none missing) and the latest call
        s = rec.stride
        assert s >= 1 and s & (s - 1) == 0
        expected = list(range(0, i + 1, s))
        if expected[-1] != i:
            expected.append(i)
        assert list(epochs) == expected
        if i >= cap:
            assert len(epochs) >= cap // 2  # thinning halves, it does not empty the record
    assert rec.calls == 1000 and rec.stride == 128  # 1000 calls in ≤ 10 points: every 128th (0, 128, …, 896) + 999


def test_recorder_memory_does_not_grow_with_the_run_and_checks_sizes():
    rec = TrajectoryRecorder(max_points=7)
    x = np.zeros(1000)
    for i in range(5000):
        x[0] = i
        rec.record(i / 10, x)
        assert rec.nbytes <= 7 * x.nbytes
    assert len(rec) <= 7
    with pytest.raises(ValueError, match="earlier points had 1000"):
        rec.record(1.0, np.zeros(999))
    with pytest.raises(ValueError, match="max_points"):
        TrajectoryRecorder(max_points=1)


# --------------------------------------------------------------------------------------------------
# planes and projections
# --------------------------------------------------------------------------------------------------


def assert_orthonormal(plane):
    D = plane.basis
    np.testing.assert_allclose(D.T @ D, np.eye(2), atol=1e-12)


@pytest.mark.parametrize("center", [False, True])
def test_pca_plane_is_orthonormal_and_explains_what_numpys_svd_says(center):
    origin, trajs = anisotropic_trajectories(60)
    plane = pca_plane(origin, trajs, center=center)
    assert_orthonormal(plane)
    assert plane.kind == "pca" and plane.note == ""
    C = np.concatenate(list(trajs.values())) - origin
    if center:
        C = C - C.mean(axis=0)
    _, s, Vt = np.linalg.svd(C, full_matrices=False)
    np.testing.assert_allclose(plane.explained, s[:2] ** 2 / np.sum(s**2), rtol=1e-10)
    assert abs(plane.d1 @ Vt[0]) == pytest.approx(1.0, abs=1e-10)
    assert abs(plane.d2 @ Vt[1]) == pytest.approx(1.0, abs=1e-10)
    ends = np.stack([t[-1] for t in trajs.values()]) - origin
    assert (ends @ plane.d1).mean() >= 0 and (ends @ plane.d2).mean() >= 0  # the documented orientation


def test_pca_plane_with_more_points_than_parameters_agrees_with_numpys_svd():
    origin, trajs = anisotropic_trajectories(6, seed=3)  # 42 points in 6 dimensions
    plane = pca_plane(origin, trajs)
    _, s, Vt = np.linalg.svd(np.concatenate(list(trajs.values())) - origin)
    assert_orthonormal(plane)
    np.testing.assert_allclose(plane.explained, s[:2] ** 2 / np.sum(s**2), rtol=1e-10)
    assert abs(plane.d1 @ Vt[0]) == pytest.approx(1.0, abs=1e-10)


def test_pca_plane_degenerate_cases_still_give_an_orthonormal_plane_and_say_so():
    rng = np.random.default_rng(1)
    origin, v = rng.standard_normal(40), rng.standard_normal(40)
    line = {"a": origin + np.outer([0.0, 1.0, 2.5], v), "b": origin + np.outer([0.0, -0.5], v)}
    plane = pca_plane(origin, line)
    assert_orthonormal(plane)
    assert abs(plane.d1 @ v) / np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    assert "one line" in plane.note
    np.testing.assert_allclose(plane.explained, [1.0, 0.0], atol=1e-12)
    still = pca_plane(origin, {"a": np.stack([origin, origin]), "b": origin[None]})
    assert_orthonormal(still)
    assert "no recorded point differs" in still.note and list(still.explained) == [0.0, 0.0]
    one = pca_plane(origin, {"a": (origin + v)[None]})  # a single point
    assert_orthonormal(one)
    assert "one line" in one.note
    with_nan = dict(line, c=np.stack([origin + v, np.full(40, np.nan)]))
    assert "1 point(s) with NaN" in pca_plane(origin, with_nan).note


def test_filter_normalize_gives_every_row_and_bias_the_norm_of_theta0s():
    model = GRURegressor(2, 5, 3, num_layers=2, seed=4)
    model.params["gru.bias_hh_l1"][...] = 0.0  # a zero filter of θ0 (Keras-style zero biases)
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(model.num_params)
    out = filter_normalize(direction, model.params.flat, model.params.shapes)
    got = GRURegressor.from_config(model.config).params
    got.flat[:] = out
    for name, theta in model.params.items():
        if theta.ndim == 2:
            for row, row0 in zip(got[name], theta):
                assert np.linalg.norm(row) == pytest.approx(np.linalg.norm(row0), rel=1e-12)
        else:
            assert np.linalg.norm(got[name]) == pytest.approx(np.linalg.norm(theta), rel=1e-12, abs=0)
    # each filter is a positive multiple of the direction's own filter
    d = GRURegressor.from_config(model.config).params
    d.flat[:] = direction
    w = got["gru.weight_hh_l0"][3] / d["gru.weight_hh_l0"][3]
    assert np.all(w > 0) and np.ptp(w) < 1e-12 * w[0]
    assert not got["gru.bias_hh_l1"].any()


def test_random_plane_is_orthonormal_filter_normalised_and_seeded():
    model = GRURegressor(1, 6, seed=2)
    theta = model.params.flat
    plane = random_plane(theta, model.params.shapes, seed=7)
    assert_orthonormal(plane)
    assert plane.kind == "random" and np.isnan(plane.explained).all()
    assert plane.scales[0] == pytest.approx(np.linalg.norm(theta), rel=1e-12)  # every filter of θ0 is nonzero
    u = GRURegressor.from_config(model.config).params
    u.flat[:] = plane.d1 * plane.scales[0]  # the filter-normalised direction before it was made a unit vector
    for name, p in model.params.items():
        rows = p if p.ndim == 2 else p[None]
        urows = u[name] if p.ndim == 2 else u[name][None]
        np.testing.assert_allclose(np.linalg.norm(urows, axis=1), np.linalg.norm(rows, axis=1), rtol=1e-12)
    again = random_plane(theta, model.params.shapes, seed=7)
    np.testing.assert_array_equal(again.d2, plane.d2)
    assert abs(random_plane(theta, model.params.shapes, seed=8).d1 @ plane.d1) < 0.9


@pytest.mark.parametrize("kind", ["pca", "random"])
def test_projection_and_back_is_the_orthogonal_projection_numpys_lstsq_finds(kind):
    model = GRURegressor(1, 4, seed=0)
    n = model.num_params
    origin, trajs = anisotropic_trajectories(n, seed=5)
    plane = pca_plane(origin, trajs) if kind == "pca" else random_plane(origin, model.params.shapes, seed=1)
    points = np.concatenate(list(trajs.values())) + np.random.default_rng(9).standard_normal((42, n))
    coords = project(plane, points)
    assert coords.shape == (len(points), 2)
    D = np.stack([plane.d1, plane.d2], axis=1)
    coef, *_ = np.linalg.lstsq(D, (points - origin).T, rcond=None)
    expected = origin + (D @ coef).T
    np.testing.assert_allclose(coords, coef.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(in_plane(plane, coords), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(residual_norms(plane, points), np.linalg.norm(points - expected, axis=1), rtol=1e-10)


def test_default_extent_by_hand():
    # a from 0 to 2 (span 2); b all 0, widened to 0.2 × 2 = 0.4 about its centre; then 25 % more each side
    assert default_extent(np.array([[0.0, 0.0], [2.0, 0.0]])) == pytest.approx((-0.5, 2.5, -0.3, 0.3))
    paths = {"a": np.array([[0.0, 0.0], [1.0, 3.0]]), "b": np.array([[np.nan, 1.0], [-1.0, -1.0]])}
    # a: −1 … 1 (span 2), b: −1 … 3 (span 4); NaN rows ignored
    assert default_extent(paths, margin=0.5) == pytest.approx((-2.0, 2.0, -3.0, 5.0))
    assert default_extent([np.zeros((3, 2))]) == (-1.0, 1.0, -1.0, 1.0)


# --------------------------------------------------------------------------------------------------
# many forward passes at once
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "layers", "D", "O", "B", "columns"),
    [
        ("pytorch", 1, 1, 1, 50, 16),  # windows in chunks of ~16, one parameter set per block
        ("pytorch", 1, 1, 1, 7, 30),  # 4 parameter sets per block
        ("pytorch", 2, 3, 2, 23, 60),
        ("classic", 1, 1, 1, 50, 16),
        ("classic", 2, 2, 3, 9, 40),
    ],
)
def test_batched_forward_equals_the_models_forward(monkeypatch, variant, layers, D, O, B, columns):
    monkeypatch.setattr(surface, "BLOCK_COLUMNS", columns)
    model = GRURegressor(D, 7, O, layers, variant=variant, seed=3)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((B, 6, D))
    flats = model.params.flat + 0.4 * rng.standard_normal((6, model.num_params))
    got = batched_predict(model, flats, X, workers=1)
    expected = []
    for f in flats:
        m = GRURegressor.from_config(model.config)
        m.params.flat[:] = f
        expected.append(m.predict(X))
    # rtol 1e-12; the tiny atol only covers outputs that happen to be near zero (rounding is absolute there)
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(batched_predict(model, flats, X, workers=3), got)  # threads change nothing
    y = rng.standard_normal((B, O))
    mse = [np.mean((e - y) ** 2) for e in expected]
    np.testing.assert_allclose(batch_losses(model, X, y, flats, workers=2), mse, rtol=1e-12)


def test_loss_grid_points_are_the_models_losses_at_those_weights(prepared):
    model = GRURegressor(1, 5, seed=1)
    plane = random_plane(model.params.flat, model.params.shapes, seed=3)
    extent = (-0.5, 1.5, -2.0, 2.0)
    a, b, L = loss_grid(model, prepared.X_train, prepared.y_train, plane, extent, n=5)
    np.testing.assert_array_equal(a, [-0.5, 0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(b, [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert L.shape == (5, 5)
    for i in range(5):
        for j in range(5):  # L[i, j] is at a[j], b[i]
            theta = model.params.flat + a[j] * plane.d1 + b[i] * plane.d2
            assert L[i, j] == pytest.approx(model_mse(model, theta, prepared.X_train, prepared.y_train), rel=1e-12)
    # at the plane's origin: the loss at the starting weights, from the model itself (not a copy)
    diff = model.predict(prepared.X_train) - prepared.y_train
    assert L[2, 1] == pytest.approx(float(np.mean(diff * diff)), rel=1e-12)
    a32, b32, L32 = loss_grid(model, prepared.X_train, prepared.y_train, plane, extent, n=5, dtype=np.float32)
    np.testing.assert_allclose(L32, L, rtol=1e-5)
    with pytest.raises(ValueError, match="amin < amax"):
        loss_grid(model, prepared.X_train, prepared.y_train, plane, (1, 0, 0, 1), n=5)


def test_line_losses_covers_zero_to_one_exactly_and_extends_by_the_same_spacing(prepared):
    model = GRURegressor(1, 4, seed=2)
    p0 = model.params.flat.copy()
    p1 = p0 + np.random.default_rng(0).standard_normal(p0.size) * 0.3
    t, L = line_losses(model, prepared.X_train, prepared.y_train, p0, p1)  # n = 41, extend = 0.25
    assert len(t) == 61 and t[10] == 0.0 and t[50] == 1.0  # 10 = 0.25 × 40 steps of 1/40 each side
    np.testing.assert_allclose(np.diff(t), 1 / 40, rtol=1e-12)
    assert t[0] == pytest.approx(-0.25) and t[-1] == pytest.approx(1.25)
    k = 37
    assert L[k] == pytest.approx(model_mse(model, (1 - t[k]) * p0 + t[k] * p1, prepared.X_train, prepared.y_train),
                                 rel=1e-12)  # fmt: skip
    t2, _ = line_losses(model, prepared.X_train, prepared.y_train, p0, p1, n=5, extend=0.0)
    np.testing.assert_array_equal(t2, [0.0, 0.25, 0.5, 0.75, 1.0])


# --------------------------------------------------------------------------------------------------
# against the race's own numbers
# --------------------------------------------------------------------------------------------------


def test_the_surface_and_the_cuts_agree_with_the_race(prepared):
    N = len(prepared.X_train)
    cfg = TrainConfig(epochs=4, batch_size=N, shuffle=False, restore_best=False, seed=1)  # one batch: every window
    race = Race(prepared, GRUConfig(hidden_size=6, seed=5),
                [Contestant("adam", hyper={"lr": 0.05}), Contestant("sgd", hyper={"lr": 0.5})], cfg)  # fmt: skip
    recorders = {name: TrajectoryRecorder() for name in race.runs}
    for ev in race.run():
        if ev.kind == "epoch":
            for name, run in race.runs.items():
                recorders[name].record(ev.epoch, run.model.params.flat)
    theta0 = race.initial_flat
    trajs = {}
    for name, rec in recorders.items():
        epochs, params = rec.points()
        np.testing.assert_array_equal(epochs, [0, 1, 2, 3, 4])
        np.testing.assert_array_equal(params[0], theta0)
        trajs[name] = params
    plane = pca_plane(theta0, trajs)
    template = race.runs["Adam"].model
    coords = {name: project(plane, p) for name, p in trajs.items()}
    r = max(abs(v) for v in default_extent(coords))
    a, b, L = loss_grid(template, prepared.X_train, prepared.y_train, plane, (-r, r, -r, r), n=5)  # 0 is on it
    i, j = int(np.flatnonzero(b == 0)[0]), int(np.flatnonzero(a == 0)[0])
    for run in race.runs.values():
        # the race's first mini-batch (all windows, in order) was trained at θ0: its loss is the surface's there
        assert L[i, j] == pytest.approx(run.first_loss, rel=1e-12)
    for name, run in race.runs.items():
        end = trajs[name][-1]
        t, Lval = line_losses(template, prepared.X_val, prepared.y_val, theta0, end, n=9)
        assert Lval[t == 1.0][0] == pytest.approx(run.history[-1].val_loss, rel=1e-12)  # the race's reported val
        assert Lval[t == 0.0][0] == pytest.approx(model_mse(template, theta0, prepared.X_val, prepared.y_val),
                                                  rel=1e-12)  # fmt: skip
    # between the two end points: the ends are the end points' training losses
    pa, ps = trajs["Adam"][-1], trajs["SGD"][-1]
    t, Lab = line_losses(template, prepared.X_train, prepared.y_train, pa, ps, n=11, extend=0.1)
    assert Lab[t == 0.0][0] == pytest.approx(model_mse(template, pa, prepared.X_train, prepared.y_train), rel=1e-12)
    assert Lab[t == 1.0][0] == pytest.approx(model_mse(template, ps, prepared.X_train, prepared.y_train), rel=1e-12)
    # the path's own losses along its recorded points
    path = batch_losses(template, prepared.X_train, prepared.y_train, trajs["Adam"])
    assert path[0] == pytest.approx(race.runs["Adam"].first_loss, rel=1e-12)
    assert path[-1] < path[0]
