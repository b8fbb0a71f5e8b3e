"""Tests for gru_core.data.metrics: hand-computed metrics and the two baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gru_core.data import make_windows, prepare
from gru_core.data.metrics import (
    baseline_metrics,
    fit_linear_ar,
    linear_ar_forecast,
    persistence_forecast,
    regression_metrics,
)


def test_metrics_by_hand():
    # errors 0, 1, -1, 2
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 6.0])
    assert m["mse"] == pytest.approx(6.0 / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(1.5))
    assert m["mae"] == pytest.approx(1.0)
    assert m["mape"] == pytest.approx(100 * (0 + 1 / 2 + 1 / 3 + 2 / 4) / 4)
    # mean 2.5, SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5, SS_res = 6
    assert m["r2"] == pytest.approx(1 - 6 / 5)
    assert m["n"] == 4 and m["mape_excluded"] == 0


def test_metrics_pool_all_horizon_steps():
    t = np.array([[10.0, 20.0], [30.0, 40.0]])
    p = np.array([[11.0, 18.0], [30.0, 44.0]])
    m = regression_metrics(t, p)
    assert m["mae"] == pytest.approx((1 + 2 + 0 + 4) / 4)
    assert m["mape"] == pytest.approx(100 * (0.1 + 0.1 + 0 + 0.1) / 4)


def test_perfect_prediction():
    m = regression_metrics([3.0, 5.0, 9.0], [3.0, 5.0, 9.0])
    assert m["mse"] == 0 and m["mape"] == 0 and m["r2"] == 1.0


def test_mape_skips_zero_targets_and_says_so():
    m = regression_metrics([0.0, 2.0, 4.0], [1.0, 1.0, 5.0])
    assert m["mape"] == pytest.approx(100 * (0.5 + 0.25) / 2)
    assert m["mape_excluded"] == 1
    assert m["mae"] == pytest.approx(1.0)  # other metrics use every target
    allzero = regression_metrics([0.0, 0.0], [1.0, 2.0])
    assert math.isnan(allzero["mape"]) and allzero["mape_excluded"] == 2
    assert math.isnan(allzero["r2"])  # constant target


def test_nan_prediction_gives_nan_metrics_not_a_crash():
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, np.nan, 3.0])
    for k in ("mse", "rmse", "mae", "mape", "r2"):
        assert math.isnan(m[k])
    assert m["n_nonfinite"] == 1


def test_shape_mismatch_names_argument():
    with pytest.raises(ValueError, match="y_pred has shape \\(3, 1\\) but y_true has shape \\(3,\\)"):
        regression_metrics([1.0, 2.0, 3.0], [[1.0], [2.0], [3.0]])
    with pytest.raises(ValueError, match="y_true"):
        regression_metrics([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        regression_metrics([], [])


def test_persistence_by_hand():
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])[:, :, None]
    np.testing.assert_array_equal(persistence_forecast(X), [[3.0], [6.0]])
    np.testing.assert_array_equal(persistence_forecast(X, horizon=2), [[3.0, 3.0], [6.0, 6.0]])
    np.testing.assert_array_equal(persistence_forecast(X[:, :, 0]), [[3.0], [6.0]])


def ar2_series(n: int = 80) -> np.ndarray:
    x = np.zeros(n)
    x[0], x[1] = 1.0, 2.0
    for t in range(2, n):
        x[t] = 0.5 + 1.6 * x[t - 1] - 0.9 * x[t - 2]
    return x


def test_linear_ar_recovers_ar2_coefficients():
    X, y = make_windows(ar2_series(), lookback=2)
    intercept, coef = fit_linear_ar(X, y)
    assert intercept.shape == (1,) and coef.shape == (2, 1)
    assert intercept[0] == pytest.approx(0.5, abs=1e-8)
    # coef[0] multiplies the older value x[t-2], coef[1] the newer x[t-1]
    np.testing.assert_allclose(coef[:, 0], [-0.9, 1.6], atol=1e-8)


def test_linear_ar_forecasts_new_windows_exactly_even_with_longer_lookback():
    x = ar2_series(120)
    X, y = make_windows(x, lookback=6)
    pred = linear_ar_forecast(X[:80], y[:80], X[80:])
    np.testing.assert_allclose(pred, y[80:], atol=1e-6)


def test_linear_ar_direct_multi_output():
    x = ar2_series(100)
    X, y = make_windows(x, lookback=2, horizon=2)
    intercept, coef = fit_linear_ar(X, y)
    # two steps ahead: x[t+1] = 0.5 + 1.6 x[t] - 0.9 x[t-1], substituted into itself
    # = 0.5 + 1.6 * 0.5 + (1.6 * 1.6 - 0.9) x[t-1] + (-0.9 * 1.6) x[t-2]
    assert intercept[1] == pytest.approx(1.3, abs=1e-7)
    np.testing.assert_allclose(coef[:, 1], [-1.44, 1.66], atol=1e-7)


def test_baseline_metrics_on_prepared_by_hand():
    values = np.arange(1.0, 101.0)  # 1..100, a straight line
    p = prepare(values, lookback=3, split=(0.8, 0.1, 0.1))
    b = baseline_metrics(p)
    targets = p.y_test_raw[:, 0]
    # persistence is always exactly 1 below the target
    assert b["persistence"]["mae"] == pytest.approx(1.0)
    assert b["persistence"]["mape"] == pytest.approx(100 * np.mean(1.0 / targets))
    assert b["persistence"]["n"] == p.sizes["test"]
    # the linear model extrapolates a line exactly
    assert b["linear"]["mae"] == pytest.approx(0.0, abs=1e-8)
    val = baseline_metrics(p, split="val")
    assert val["persistence"]["n"] == p.sizes["val"]


def test_baselines_use_raw_units_whatever_the_scaler():
    rng = np.random.default_rng(0)
    values = 1000 + np.cumsum(rng.standard_normal(300))
    a = baseline_metrics(prepare(values, lookback=5, scaler="minmax"))
    b = baseline_metrics(prepare(values, lookback=5, scaler="standard"))
    assert a["persistence"]["mae"] == pytest.approx(b["persistence"]["mae"])
    assert a["persistence"]["mae"] > 0.1  # raw units: steps of size ~1, not ~0.01
