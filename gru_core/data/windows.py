"""Turning a series into what the GRU trains on: sliding windows, a chronological split, fitted scalers.

:func:`make_windows`, the scalers and :func:`prepare` turn a series into scaled sliding windows split
chronologically into train / validation / test, keeping the unscaled windows and the target positions so
that forecasts can be drawn in time and baselines computed in the series' own units.  The scaler is fitted
on the training part only, unless ``fit_scaler_on="all"`` (the study's leakage, for reproducing it).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core.config import SCALERS
from gru_core.data.csv import DataError

__all__ = [
    "SCALERS", "SCALER_CLASSES", "IdentityScaler", "MinMaxScaler", "Prepared", "Scaler", "StandardScaler",
    "future_index", "make_scaler", "make_windows", "prepare", "scaler_from_dict",
]  # fmt: skip



def _as_1d(values: Any, what: str = "values") -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        raise DataError(f"{what} must be one series, not a table with {values.shape[1]} columns.")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers: {exc}") from exc
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise DataError(f"{what} must be 1-D, got shape {arr.shape}.")
    return arr


def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise DataError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def make_windows(values: Any, lookback: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over a 1-D series.

    Returns ``X`` of shape (N, lookback, 1) and ``y`` of shape (N, horizon) with
    ``N = n - lookback - horizon + 1``, ``X[i, j, 0] = values[i + j]`` and
    ``y[i, k] = values[i + lookback + k]``.
    Both are fresh float64 arrays (not views).
    """
    lookback = _check_int("lookback", lookback)
    horizon = _check_int("horizon", horizon)
    arr = _as_1d(values)
    n = len(arr)
    if n < lookback + horizon:
        raise DataError(
            f"The series has {n} values; lookback {lookback} + horizon {horizon} needs at least "
            f"{lookback + horizon}."
        )
    win = np.lib.stride_tricks.sliding_window_view(arr, lookback + horizon)
    X = np.ascontiguousarray(win[:, :lookback])[:, :, None]
    y = np.ascontiguousarray(win[:, lookback:])
    return X, y


class Scaler:
    """Base class: an element-wise affine map fitted on a univariate series."""

    name = "base"

    def fit(self, values: Any) -> Scaler:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.size == 0:
            raise DataError("Cannot fit a scaler on no values.")
        if not np.all(np.isfinite(arr)):
            raise DataError("Cannot fit a scaler on values with NaN or infinity; fill missing values first.")
        self._fit(arr)
        return self

    def _fit(self, arr: np.ndarray) -> None:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def _check(self) -> None:
        if not self.fitted:
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(values) first.")

    def transform(self, values: Any) -> np.ndarray:
        raise NotImplementedError

    def inverse_transform(self, values: Any) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, values: Any) -> np.ndarray:
        return self.fit(values).transform(values)

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return scaler_from_dict(d)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"


class MinMaxScaler(Scaler):
    """Maps [data_min, data_max] onto ``feature_range``.  A constant series maps to ``feature_range[0]``."""

    name = "minmax"

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)):
        lo, hi = (float(v) for v in feature_range)
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise ValueError(f"feature_range must be (low, high) with low < high, got {feature_range!r}")
        self.feature_range = (lo, hi)
        self.data_min: float | None = None
        self.data_max: float | None = None

    def _fit(self, arr: np.ndarray) -> None:
        self.data_min, self.data_max = float(arr.min()), float(arr.max())

    @property
    def fitted(self) -> bool:
        return self.data_min is not None

    def _span(self) -> float:
        span = self.data_max - self.data_min
        return span if span > 0 else 1.0

    def transform(self, values: Any) -> np.ndarray:
        self._check()
        lo, hi = self.feature_range
        return (np.asarray(values, dtype=np.float64) - self.data_min) / self._span() * (hi - lo) + lo

    def inverse_transform(self, values: Any) -> np.ndarray:
        self._check()
        lo, hi = self.feature_range
        return (np.asarray(values, dtype=np.float64) - lo) / (hi - lo) * self._span() + self.data_min

    def to_dict(self) -> dict:
        return {
            "type": self.name,
            "feature_range": list(self.feature_range),
            "data_min": self.data_min,
            "data_max": self.data_max,
        }


class StandardScaler(Scaler):
    """Subtracts the mean and divides by the (population) standard deviation; a constant series gets std 1."""

    name = "standard"

    def __init__(self):
        self.mean: float | None = None
        self.std: float | None = None

    def _fit(self, arr: np.ndarray) -> None:
        self.mean = float(arr.mean())
        std = float(arr.std())
        self.std = std if std > 0 else 1.0

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def transform(self, values: Any) -> np.ndarray:
        self._check()
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.std

    def inverse_transform(self, values: Any) -> np.ndarray:
        self._check()
        return np.asarray(values, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"type": self.name, "mean": self.mean, "std": self.std}


class IdentityScaler(Scaler):
    """No scaling ("none")."""

    name = "none"

    def __init__(self):
        self._fitted = False

    def _fit(self, arr: np.ndarray) -> None:
        self._fitted = True

    @property
    def fitted(self) -> bool:
        return self._fitted

    def transform(self, values: Any) -> np.ndarray:
        return np.array(values, dtype=np.float64)

    def inverse_transform(self, values: Any) -> np.ndarray:
        return np.array(values, dtype=np.float64)

    def to_dict(self) -> dict:
        return {"type": self.name, "fitted": self._fitted}


# the scaler of each name in gru_core.config.SCALERS (the names are listed there, once)
SCALER_CLASSES: dict[str, type[Scaler]] = {cls.name: cls for cls in (MinMaxScaler, StandardScaler, IdentityScaler)}
assert tuple(SCALER_CLASSES) == SCALERS, "gru_core.config.SCALERS and the scaler classes disagree"


def make_scaler(name: str | None) -> Scaler:
    """A new unfitted scaler: ``"minmax"`` (to [0, 1]), ``"standard"`` or ``"none"`` (None means "none")."""
    key = "none" if name is None else str(name).strip().lower()
    if key not in SCALER_CLASSES:
        raise ValueError(f"Unknown scaler {name!r}; choose one of {', '.join(SCALERS)}.")
    return SCALER_CLASSES[key]()


def scaler_from_dict(d: dict) -> Scaler:
    """Rebuild a scaler from :meth:`Scaler.to_dict` output."""
    kind = d.get("type")
    if kind == "minmax":
        s: Scaler = MinMaxScaler(tuple(d.get("feature_range", (0.0, 1.0))))
        s.data_min = None if d.get("data_min") is None else float(d["data_min"])
        s.data_max = None if d.get("data_max") is None else float(d["data_max"])
    elif kind == "standard":
        s = StandardScaler()
        s.mean = None if d.get("mean") is None else float(d["mean"])
        s.std = None if d.get("std") is None else float(d["std"])
    elif kind == "none":
        s = IdentityScaler()
        s._fitted = bool(d.get("fitted", True))
    else:
        raise ValueError(f"Unknown scaler type {kind!r}; expected one of {', '.join(SCALERS)}.")
    return s


# ----------------------------------------------------------------------------------------------------------
# prepare
# ----------------------------------------------------------------------------------------------------------

SPLITS = ("train", "val", "test")


@dataclass
class Prepared:
    """Windows for the three chronological splits, scaled and unscaled, plus where their targets are.

    ``X_*`` have shape (N, lookback, 1) and ``y_*`` (N, horizon), scaled with ``scaler``; ``X_*_raw`` and
    ``y_*_raw`` are the same windows in the series' own units.  ``pos_*`` (N, horizon) are the integer
    positions in ``raw`` of each target, so ``raw.index[pos_test[:, 0]]`` are the dates of the one-step
    test targets (see :meth:`target_index`).  ``scaler_fit_range`` is the half-open range of positions
    of ``raw`` the scaler was fitted on.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_train_raw: np.ndarray
    y_train_raw: np.ndarray
    X_val_raw: np.ndarray
    y_val_raw: np.ndarray
    X_test_raw: np.ndarray
    y_test_raw: np.ndarray
    pos_train: np.ndarray
    pos_val: np.ndarray
    pos_test: np.ndarray
    scaler: Scaler
    raw: pd.Series
    lookback: int
    horizon: int
    split: tuple[float, float, float]
    split_by: str
    fit_scaler_on: str
    scaler_fit_range: tuple[int, int]
    notes: list[str] = field(default_factory=list)

    def arrays(self, split: str, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of one split ("train", "val" or "test"), scaled or in raw units."""
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
        suffix = "_raw" if raw else ""
        return getattr(self, f"X_{split}{suffix}"), getattr(self, f"y_{split}{suffix}")

    def target_index(self, split: str, step: int = 0) -> pd.Index:
        """Index labels (dates or positions) of the targets of one split at horizon step ``step``."""
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
        if not 0 <= step < self.horizon:
            raise ValueError(f"step must be in [0, {self.horizon}), got {step}.")
        return self.raw.index[getattr(self, f"pos_{split}")[:, step]]

    @property
    def sizes(self) -> dict[str, int]:
        return {s: int(getattr(self, f"y_{s}").shape[0]) for s in SPLITS}


def _check_split(split: Any) -> tuple[float, float, float]:
    try:
        fr = tuple(float(f) for f in split)
    except (TypeError, ValueError) as exc:
        raise DataError(f"split must be three fractions (train, val, test), got {split!r}.") from exc
    if len(fr) != 3 or not all(math.isfinite(f) for f in fr):
        raise DataError(f"split must be three finite fractions (train, val, test), got {split!r}.")
    train, val, test = fr
    if train <= 0 or test <= 0 or val < 0:
        raise DataError(f"split fractions must be train > 0, val >= 0, test > 0; got {fr}.")
    if abs(train + val + test - 1.0) > 1e-9:
        raise DataError(f"split fractions must sum to 1; got {fr} (sum {train + val + test:.6g}).")
    return fr  # type: ignore[return-value]


def _split_bounds(n: int, lookback: int, horizon: int, fr: tuple[float, float, float], split_by: str):
    """Window ranges per split as (start_window, stop_window) for windows mode or value ranges for series."""
    f_train, f_val, _ = fr
    if split_by == "windows":
        n_win = max(n - lookback - horizon + 1, 0)
        n_tr = math.floor(n_win * f_train + 1e-9)
        n_va = math.floor(n_win * f_val + 1e-9)
        purge = horizon - 1
        return {
            "train": (0, n_tr - purge),
            "val": (n_tr, n_tr + n_va - purge),
            "test": (n_tr + n_va, n_win),
        }
    n_tr = math.floor(n * f_train + 1e-9)
    n_va = math.floor(n * f_val + 1e-9)
    need = lookback + horizon - 1
    return {  # value ranges; windows = length - need
        "train": (0, n_tr, n_tr - need),
        "val": (n_tr, n_tr + n_va, n_va - need),
        "test": (n_tr + n_va, n, n - n_tr - n_va - need),
    }


def _counts(n: int, lookback: int, horizon: int, fr, split_by: str) -> dict[str, int]:
    b = _split_bounds(n, lookback, horizon, fr, split_by)
    if split_by == "windows":
        return {s: b[s][1] - b[s][0] for s in SPLITS}
    return {s: b[s][2] for s in SPLITS}


def _rows_needed(lookback: int, horizon: int, fr, split_by: str, start: int) -> int | None:
    """Smallest series length >= start that gives every split its windows (None if not found)."""

    def ok(m: int) -> bool:
        c = _counts(m, lookback, horizon, fr, split_by)
        return c["train"] >= 1 and c["test"] >= 1 and (fr[1] == 0 or c["val"] >= 1)

    smallest = min(f for f in fr if f > 0)
    if split_by == "windows":
        bound = horizon / smallest + lookback + horizon - 1
    else:
        bound = (lookback + horizon) / smallest
    first = max(start, int(bound) - 2)
    for m in range(first, first + 10_000):
        if ok(m):
            return m
    return None


def prepare(
    series_or_array: Any,
    lookback: int,
    horizon: int = 1,
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    scaler: str | Scaler | None = "minmax",
    fit_scaler_on: str = "train",
    split_by: str = "windows",
) -> Prepared:
    """Window, split chronologically and scale a series.

    ``split`` = (train, val, test) fractions: train > 0, test > 0, val >= 0 (val = 0 gives empty validation
    arrays of shape (0, lookback, 1) / (0, horizon)), summing to 1 within 1e-9.  Each split must get at
    least one window (val too when its fraction is > 0), otherwise :class:`DataError` says how many rows
    are needed.  See the module docstring for ``split_by`` ("windows" default, "series" = the study).

    ``fit_scaler_on="train"`` fits the scaler only on the values the training windows see (inputs and
    targets), so nothing from validation or test leaks into the scaling.  ``fit_scaler_on="all"`` fits it on
    the whole series as the original study did; that leaks the future range of the series into training
    (mild for min-max on prices, but it is leakage) and exists to reproduce the study.

    ``scaler`` is "minmax", "standard", "none" (or None), or an unfitted :class:`Scaler` instance.
    """
    lookback = _check_int("lookback", lookback)
    horizon = _check_int("horizon", horizon)
    fr = _check_split(split)
    if fit_scaler_on not in ("train", "all"):
        raise DataError(f"fit_scaler_on must be 'train' or 'all', not {fit_scaler_on!r}.")
    if split_by not in ("windows", "series"):
        raise DataError(f"split_by must be 'windows' or 'series', not {split_by!r}.")
    if isinstance(series_or_array, pd.Series):
        raw = series_or_array.astype(np.float64).copy()
    else:
        raw = pd.Series(_as_1d(series_or_array, "series"), dtype=np.float64)
    values = _as_1d(raw.to_numpy(), "series")
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        raise DataError(
            f"The series has {n_bad} missing or infinite value(s); fill or drop them first "
            "(load_csv(missing='interpolate') does)."
        )
    n = len(values)
    counts = _counts(n, lookback, horizon, fr, split_by)
    for name in SPLITS:
        if counts[name] < 1 and not (name == "val" and fr[1] == 0):
            need = _rows_needed(lookback, horizon, fr, split_by, n + 1)
            need_txt = f"at least {need:,} rows" if need else "more rows"
            raise DataError(
                f"The {name} split gets {max(counts[name], 0)} windows with {n} rows, lookback {lookback}, "
                f"horizon {horizon} and split {fr}; this needs {need_txt} (or a smaller lookback or a larger "
                f"{name} fraction)."
            )

    bounds = _split_bounds(n, lookback, horizon, fr, split_by)
    X_all, y_all = (None, None)
    parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    steps = np.arange(horizon)
    if split_by == "windows":
        X_all, y_all = make_windows(values, lookback, horizon)
        for name in SPLITS:
            a, b = bounds[name]
            b = max(a, b)
            pos = (np.arange(a, b) + lookback)[:, None] + steps[None, :]
            parts[name] = (X_all[a:b], y_all[a:b], pos)
        last_train_pos = int(parts["train"][2][-1, -1])
        fit_range = (0, last_train_pos + 1)
    else:
        for name in SPLITS:
            start, stop, n_win = bounds[name]
            if n_win >= 1:
                Xs, ys = make_windows(values[start:stop], lookback, horizon)
                pos = (np.arange(n_win) + start + lookback)[:, None] + steps[None, :]
            else:
                Xs = np.zeros((0, lookback, 1))
                ys = np.zeros((0, horizon))
                pos = np.zeros((0, horizon), dtype=np.int64)
            parts[name] = (Xs, ys, pos)
        fit_range = (0, bounds["train"][1])
    if fit_scaler_on == "all":
        fit_range = (0, n)

    sc = make_scaler(scaler) if scaler is None or isinstance(scaler, str) else scaler
    if not isinstance(sc, Scaler):
        raise DataError(f"scaler must be a name ({', '.join(SCALERS)}) or a Scaler, got {scaler!r}.")
    sc.fit(values[fit_range[0] : fit_range[1]])

    out: dict[str, Any] = {}
    for name in SPLITS:
        Xr, yr, pos = parts[name]
        Xr = np.array(Xr, dtype=np.float64)
        yr = np.array(yr, dtype=np.float64)
        out[f"X_{name}_raw"], out[f"y_{name}_raw"] = Xr, yr
        out[f"X_{name}"], out[f"y_{name}"] = sc.transform(Xr), sc.transform(yr)
        out[f"pos_{name}"] = np.asarray(pos, dtype=np.int64).reshape(-1, horizon)
    notes = []
    if fit_scaler_on == "all":
        notes.append(
            "Scaler fitted on the whole series (as in the original study): the future leaks into scaling."
        )
    if split_by == "windows" and horizon > 1:
        notes.append(
            f"The last {horizon - 1} windows of train and of val were dropped so that no target is shared "
            "across splits."
        )
    return Prepared(
        **out,
        scaler=sc,
        raw=raw,
        lookback=lookback,
        horizon=horizon,
        split=fr,
        split_by=split_by,
        fit_scaler_on=fit_scaler_on,
        scaler_fit_range=fit_range,
        notes=notes,
    )


def future_index(index: pd.Index, steps: int) -> pd.Index:
    """The ``steps`` positions after the end of ``index``: dates at the series' own frequency for a
    DatetimeIndex (business days when the series skips weekends, otherwise the inferred frequency or the
    median spacing), integer positions otherwise."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise DataError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 3:
        tail = index[-min(len(index), 200) :]
        with warnings.catch_warnings():  # pandas 3 announces an offset instead of a string: both work below
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(tail)
        if freq is None:
            gaps = np.diff(tail.values.astype("datetime64[ns]").astype(np.int64))  # ns, whatever the unit
            day = 86_400 * 10**9
            if np.median(gaps) == day and not (tail.dayofweek >= 5).any():
                freq = pd.offsets.BDay()
            else:
                freq = pd.Timedelta(int(np.median(gaps)), unit="ns")
        start = index[-1]
        return pd.date_range(start, periods=steps + 1, freq=freq)[1:]
    n = len(index)
    return pd.RangeIndex(n, n + steps)
