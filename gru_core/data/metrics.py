"""Forecast error metrics and the two baselines every model should be compared with.

All functions work in the series' own units (e.g. USD per tonne): pass unscaled targets and predictions.

MAPE and zeros
    ``mape`` is in percent, ``100 * mean(|y_true - y_pred| / |y_true|)``, taken over the targets that are
    not exactly zero.  The number of zero targets left out is returned as ``mape_excluded`` (normally 0);
    if every target is zero ``mape`` is nan.  Targets close to (but not) zero still make MAPE explode: it
    is meant for series that stay away from zero, such as prices.

R²
    ``1 - SS_res / SS_tot`` with ``SS_tot`` around the mean of ``y_true``; nan when ``y_true`` is constant.

Several horizon steps
    Metrics are over all elements (every window and every horizon step pooled).

Non-finite predictions
    If any prediction is NaN or infinite (a diverged model) every metric is nan and ``n_nonfinite`` says how
    many; nothing raises.  Targets must be finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "METRIC_NAMES",
    "baseline_metrics",
    "fit_linear_ar",
    "linear_ar_forecast",
    "persistence_forecast",
    "regression_metrics",
]

METRIC_NAMES = ("mse", "rmse", "mae", "mape", "r2")


def _array(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """``{"mse", "rmse", "mae", "mape" (percent), "r2", "n", "mape_excluded", "n_nonfinite"}``.

    ``y_true`` and ``y_pred`` must have the same shape (ValueError naming ``y_pred`` otherwise) and hold at
    least one value; see the module docstring for zeros in ``y_true`` and NaN predictions.
    """
    t = _array(y_true, "y_true")
    p = _array(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_pred has shape {p.shape} but y_true has shape {t.shape}; they must match.")
    if t.size == 0:
        raise ValueError("y_true is empty; need at least one target.")
    if not np.all(np.isfinite(t)):
        raise ValueError(
            f"y_true has {int((~np.isfinite(t)).sum())} NaN or infinite value(s); targets must be finite."
        )
    t, p = t.reshape(-1), p.reshape(-1)
    nonzero = t != 0
    out: dict[str, float] = {
        "n": int(t.size),
        "mape_excluded": int((~nonzero).sum()),
        "n_nonfinite": int((~np.isfinite(p)).sum()),
    }
    if out["n_nonfinite"]:
        out.update({k: float("nan") for k in METRIC_NAMES})
        return out
    err = p - t
    mse = float(np.mean(err**2))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    out.update(
        mse=mse,
        rmse=float(np.sqrt(mse)),
        mae=float(np.mean(np.abs(err))),
        mape=float(100.0 * np.mean(np.abs(err[nonzero]) / np.abs(t[nonzero])))
        if nonzero.any()
        else float("nan"),
        r2=float(1.0 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
    )
    return out


def _windows(X: Any, name: str) -> np.ndarray:
    x = _array(X, name)
    if x.ndim == 3:
        if x.shape[2] != 1:
            raise ValueError(f"{name} must have one feature (shape (N, lookback, 1)), got shape {x.shape}.")
        x = x[:, :, 0]
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, lookback, 1) or (N, lookback), got {x.shape}.")
    return x


def persistence_forecast(X_raw: Any, horizon: int = 1) -> np.ndarray:
    """Naive forecast "every future step = the last value seen": shape (N, horizon)."""
    if int(horizon) < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}.")
    x = _windows(X_raw, "X_raw")
    return np.repeat(x[:, -1:], int(horizon), axis=1)


def fit_linear_ar(X_train_raw: Any, y_train_raw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares linear autoregression ``y = intercept + X @ coef`` (direct multi-output for horizon > 1).

    Returns ``intercept`` of shape (horizon,) and ``coef`` of shape (lookback, horizon); ``coef[j]``
    multiplies ``X[:, j]`` (oldest value first).  Solved with :func:`numpy.linalg.lstsq`, so a
    rank-deficient design gives the minimum-norm solution instead of failing.
    """
    x = _windows(X_train_raw, "X_train_raw")
    y = _array(y_train_raw, "y_train_raw")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y_train_raw has shape {y.shape}; expected ({x.shape[0]}, horizon) to match X_train_raw."
        )
    if x.shape[0] == 0:
        raise ValueError("X_train_raw is empty; need at least one training window.")
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    return beta[0], beta[1:]


def linear_ar_forecast(X_train_raw: Any, y_train_raw: Any, X_raw: Any) -> np.ndarray:
    """Fit :func:`fit_linear_ar` on the training windows and forecast the windows ``X_raw``: (N, horizon)."""
    intercept, coef = fit_linear_ar(X_train_raw, y_train_raw)
    x = _windows(X_raw, "X_raw")
    if x.shape[1] != coef.shape[0]:
        raise ValueError(f"X_raw has lookback {x.shape[1]} but the training windows have {coef.shape[0]}.")
    return intercept[None, :] + x @ coef


def baseline_metrics(prepared: Any, split: str = "test") -> dict[str, dict[str, float]]:
    """Persistence and linear-AR metrics on one split of a :class:`gru_core.data.Prepared`, in raw units.

    The linear model is fitted on the training windows only.
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"Unknown split {split!r}; choose train, val or test.")
    X = getattr(prepared, f"X_{split}_raw")
    y = getattr(prepared, f"y_{split}_raw")
    if len(y) == 0:
        raise ValueError(f"The {split} split has no windows.")
    return {
        "persistence": regression_metrics(y, persistence_forecast(X, y.shape[1])),
        "linear": regression_metrics(y, linear_ar_forecast(prepared.X_train_raw, prepared.y_train_raw, X)),
    }
