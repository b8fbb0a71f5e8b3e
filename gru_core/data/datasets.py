"""A registry of series (and one task) the page can offer besides an uploaded CSV.

* ``kind="synthetic"``: generated with a seeded :class:`numpy.random.Generator`, deterministic for a given
  set of parameters; RangeIndex.  Sine, noisy sine, sum of sines, square wave, sawtooth, random walk,
  AR(2) and Mackey-Glass chaos.
* ``kind="real"``: data files that ship inside statsmodels (``statsmodels.datasets``), read from the
  installed package, and the original study's tin price CSV, bundled in ``gru_core/data/files/`` and read
  with :func:`~gru_core.data.csv.load_csv`; nothing is downloaded, ever.  DatetimeIndex (yearly series
  are dated 1 January).
* ``kind="task"``: the adding problem, a long-memory benchmark that is a set of (X, y) samples rather than
  one series.  :func:`load_dataset` refuses it; use :func:`load_task` (or :func:`adding_problem`).

Every series from :func:`load_dataset` is float64, named after the dataset, with ``attrs`` ``key``,
``name``, ``units``, ``source``, ``frequency``, ``kind``, ``params``, ``n_missing`` and ``notes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gru_core.data.csv import load_csv

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "describe_dataset",
    "series_datasets",
    "adding_problem",
    "list_datasets",
    "load_dataset",
    "load_task",
    "mackey_glass",
]


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of :data:`DATASETS`.  ``params`` are the loader's defaults (plain JSON-able values)."""

    key: str
    name: str
    description: str
    source: str
    units: str
    frequency: str
    kind: str  # "synthetic" | "real" | "task"
    params: dict[str, Any] = field(default_factory=dict)
    loader: Callable[..., Any] | None = field(default=None, repr=False, compare=False)


# ----------------------------------------------------------------------------------------------------------
# Parameter checks
# ----------------------------------------------------------------------------------------------------------


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"parameter {name!r} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"parameter {name!r} must be >= {minimum}, got {value}")
    return int(value)


def _float(name: str, value: Any, minimum: float | None = None, positive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {name!r} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"parameter {name!r} must be finite, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"parameter {name!r} must be > 0, got {value!r}")
    if minimum is not None and v < minimum:
        raise ValueError(f"parameter {name!r} must be >= {minimum}, got {value!r}")
    return v


def _seed(value: Any) -> int:
    return _int("seed", value, 0)


def _noise(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    return noise * rng.standard_normal(n) if noise > 0 else np.zeros(n)


# ----------------------------------------------------------------------------------------------------------
# Synthetic generators (return float64 numpy arrays)
# ----------------------------------------------------------------------------------------------------------


def _sine(length=1000, period=50.0, amplitude=1.0, phase=0.0, noise=0.0, seed=0) -> np.ndarray:
    n = _int("length", length, 1)
    period = _float("period", period, positive=True)
    amplitude = _float("amplitude", amplitude)
    phase = _float("phase", phase)
    noise = _float("noise", noise, minimum=0.0)
    rng = np.random.default_rng(_seed(seed))
    t = np.arange(n)
    return amplitude * np.sin(2 * np.pi * t / period + phase) + _noise(rng, n, noise)


def _sum_of_sines(length=1000, periods=(50.0, 23.0, 7.0), amplitudes=(1.0, 0.5, 0.25), noise=0.05, seed=0):
    n = _int("length", length, 1)
    try:
        per = [_float("periods", p, positive=True) for p in periods]
        amp = [_float("amplitudes", a) for a in amplitudes]
    except TypeError:
        raise ValueError("parameters 'periods' and 'amplitudes' must be lists of numbers") from None
    if len(per) != len(amp) or not per:
        raise ValueError(
            f"parameters 'periods' and 'amplitudes' must be non-empty and equally long, got {len(per)} and "
            f"{len(amp)}"
        )
    noise = _float("noise", noise, minimum=0.0)
    rng = np.random.default_rng(_seed(seed))
    t = np.arange(n)
    x = sum(a * np.sin(2 * np.pi * t / p) for p, a in zip(per, amp, strict=True))
    return np.asarray(x, dtype=np.float64) + _noise(rng, n, noise)


def _square_wave(length=1000, period=50.0, amplitude=1.0, duty=0.5, noise=0.0, seed=0):
    n = _int("length", length, 1)
    period = _float("period", period, positive=True)
    amplitude = _float("amplitude", amplitude)
    duty = _float("duty", duty)
    if not 0 < duty < 1:
        raise ValueError(f"parameter 'duty' must be between 0 and 1 (exclusive), got {duty}")
    noise = _float("noise", noise, minimum=0.0)
    rng = np.random.default_rng(_seed(seed))
    frac = (np.arange(n) / period) % 1.0
    return amplitude * np.where(frac < duty, 1.0, -1.0) + _noise(rng, n, noise)


def _sawtooth(length=1000, period=50.0, amplitude=1.0, noise=0.0, seed=0):
    n = _int("length", length, 1)
    period = _float("period", period, positive=True)
    amplitude = _float("amplitude", amplitude)
    noise = _float("noise", noise, minimum=0.0)
    rng = np.random.default_rng(_seed(seed))
    frac = (np.arange(n) / period) % 1.0
    return amplitude * (2.0 * frac - 1.0) + _noise(rng, n, noise)


def _random_walk(length=1000, step_std=1.0, drift=0.0, start=0.0, seed=0):
    n = _int("length", length, 1)
    step_std = _float("step_std", step_std, minimum=0.0)
    drift = _float("drift", drift)
    start = _float("start", start)
    rng = np.random.default_rng(_seed(seed))
    steps = drift + step_std * rng.standard_normal(n)
    steps[0] = 0.0
    return start + np.cumsum(steps)


def _ar2(length=1000, phi1=1.2, phi2=-0.5, const=0.0, noise=1.0, burn_in=200, seed=0):
    n = _int("length", length, 1)
    phi1, phi2 = _float("phi1", phi1), _float("phi2", phi2)
    if not (phi1 + phi2 < 1 and phi2 - phi1 < 1 and abs(phi2) < 1):
        raise ValueError(
            f"parameters 'phi1'={phi1}, 'phi2'={phi2} give a non-stationary AR(2); need phi1 + phi2 < 1, "
            "phi2 - phi1 < 1 and |phi2| < 1"
        )
    const = _float("const", const)
    noise = _float("noise", noise, minimum=0.0)
    burn = _int("burn_in", burn_in, 0)
    rng = np.random.default_rng(_seed(seed))
    eps = _noise(rng, n + burn, noise)
    x = np.zeros(n + burn)
    mean = const / (1 - phi1 - phi2)
    x[:2] = mean
    for t in range(2, n + burn):
        x[t] = const + phi1 * x[t - 1] + phi2 * x[t - 2] + eps[t]
    return x[burn:]


def mackey_glass(
    length=1000,
    tau=17.0,
    beta=0.2,
    gamma=0.1,
    n=10.0,
    x0=1.2,
    dt=0.1,
    sample_step=1.0,
    burn_in=500.0,
    noise=0.0,
    seed=0,
) -> np.ndarray:
    """Mackey-Glass delay differential equation ``dx/dt = beta x(t-tau) / (1 + x(t-tau)^n) - gamma x(t)``.

    Integrated with classical RK4 at step ``dt`` (the delayed value at half steps is the mean of the two
    neighbouring stored values), with constant history ``x0`` for t <= 0; the first ``burn_in`` time units
    are discarded and the rest sampled every ``sample_step`` time units.  tau = 17 is the standard chaotic
    regime.  Deterministic; ``seed`` only drives the optional observation ``noise``.
    """
    length = _int("length", length, 1)
    tau = _float("tau", tau, positive=True)
    beta, gamma, n_exp = _float("beta", beta), _float("gamma", gamma), _float("n", n)
    x0 = _float("x0", x0, positive=True)
    dt = _float("dt", dt, positive=True)
    sample_step = _float("sample_step", sample_step, positive=True)
    burn_in = _float("burn_in", burn_in, minimum=0.0)
    noise = _float("noise", noise, minimum=0.0)
    every = round(sample_step / dt)
    delay = round(tau / dt)
    if every < 1 or abs(every * dt - sample_step) > 1e-9 * max(1.0, sample_step):
        raise ValueError(f"parameter 'sample_step'={sample_step} must be a whole multiple of 'dt'={dt}")
    if delay < 1 or abs(delay * dt - tau) > 1e-9 * max(1.0, tau):
        raise ValueError(f"parameter 'tau'={tau} must be a whole multiple of 'dt'={dt}")
    burn_steps = round(burn_in / dt)
    total = burn_steps + (length - 1) * every + 1
    hist = np.empty(delay + total)
    hist[: delay + 1] = x0  # hist[delay + k] = x(k dt)

    def f(x: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**n_exp) - gamma * x

    for k in range(total - 1):
        i = delay + k
        x = hist[i]
        xd0, xd1 = hist[i - delay], hist[i - delay + 1]
        xdh = 0.5 * (xd0 + xd1)
        k1 = f(x, xd0)
        k2 = f(x + 0.5 * dt * k1, xdh)
        k3 = f(x + 0.5 * dt * k2, xdh)
        k4 = f(x + dt * k3, xd1)
        hist[i + 1] = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    series = hist[delay + burn_steps :: every][:length].copy()
    rng = np.random.default_rng(_seed(seed))
    return series + _noise(rng, length, noise)


def adding_problem(n_samples: int = 1000, T: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997): a test of long memory.

    Returns ``X`` of shape (n_samples, T, 2) and ``y`` of shape (n_samples, 1).  Channel 0 holds values
    uniform in [0, 1); channel 1 is a marker with exactly two 1s, one at a step in the first half
    (``[0, T // 2)``) and one in the second half (``[T // 2, T)``); ``y`` is the sum of the two marked
    values.  Always predicting 1 gives MSE ~ 1/6, the level a model must beat.
    """
    n = _int("n_samples", n_samples, 1)
    T = _int("T", T, 2)
    rng = np.random.default_rng(_seed(seed))
    X = np.zeros((n, T, 2))
    X[:, :, 0] = rng.random((n, T))
    half = T // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, T, size=n)
    rows = np.arange(n)
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = (X[rows, first, 0] + X[rows, second, 0])[:, None]
    return X, y


# ----------------------------------------------------------------------------------------------------------
# Real series shipped with statsmodels (package files, no network)
# ----------------------------------------------------------------------------------------------------------


def _statsmodels_dataset(name: str):
    try:
        import importlib

        return importlib.import_module(f"statsmodels.datasets.{name}")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The real datasets are read from files shipped with statsmodels; "
            f"install it (pip install statsmodels) to load '{name}'."
        ) from exc


def _yearly_index(years: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(years.astype(int).astype(str), format="%Y"), name="date")


def _sunspots() -> pd.Series:
    data = _statsmodels_dataset("sunspots").load_pandas().data
    return pd.Series(data["SUNACTIVITY"].to_numpy(np.float64), index=_yearly_index(data["YEAR"]))


def _nile() -> pd.Series:
    data = _statsmodels_dataset("nile").load_pandas().data
    return pd.Series(data["volume"].to_numpy(np.float64), index=_yearly_index(data["year"]))


def _co2(missing="interpolate") -> pd.Series:
    if missing not in ("interpolate", "drop"):
        raise ValueError(f"parameter 'missing' must be 'interpolate' or 'drop', got {missing!r}")
    data = _statsmodels_dataset("co2").load_pandas().data
    s = pd.Series(data["co2"].to_numpy(np.float64), index=pd.DatetimeIndex(data.index, name="date"))
    n_missing = int(s.isna().sum())
    if missing == "interpolate":
        s = s.interpolate(method="linear", limit_area="inside").dropna()
        note = f"{n_missing} missing weekly values filled by linear interpolation."
    else:
        s = s.dropna()
        note = f"{n_missing} missing weekly values dropped."
    s.attrs["n_missing"] = n_missing
    s.attrs["notes"] = [note] if n_missing else []
    return s


def _elnino() -> pd.Series:
    data = _statsmodels_dataset("elnino").load_pandas().data
    months = [c for c in data.columns if c != "YEAR"]
    if len(months) != 12:  # pragma: no cover - guards against a changed file
        raise ValueError(f"unexpected elnino columns: {list(data.columns)}")
    values = data[months].to_numpy(np.float64).reshape(-1)  # row = year, columns JAN..DEC
    start = f"{int(data['YEAR'].iloc[0])}-01-01"
    index = pd.date_range(start, periods=len(values), freq="MS", name="date")
    return pd.Series(values, index=index)


# ----------------------------------------------------------------------------------------------------------
# Real series shipped with this project (files next to this module, no network)
# ----------------------------------------------------------------------------------------------------------

_FILES = Path(__file__).parent / "files"
TIN_CSV = _FILES / "tin_price.csv"


def _tin() -> pd.Series:
    """The study's CSV exactly as published (UTF-8 BOM, CRLF, ``Date;Close``, dd/mm/yyyy), via :func:`load_csv`."""
    raw = load_csv(TIN_CSV, value_column="Close", date_column="Date", dayfirst=True)
    s = pd.Series(raw.to_numpy(np.float64), index=pd.DatetimeIndex(raw.index, name="date"))
    s.attrs["n_missing"] = int(raw.attrs.get("n_missing", 0))
    s.attrs["notes"] = list(raw.attrs.get("notes", []))
    return s


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------

_SYN = "synthetic (generated with numpy)"

DATASETS: dict[str, DatasetSpec] = {
    spec.key: spec
    for spec in [
        DatasetSpec(
            "sine",
            "Sine wave",
            "A clean sine wave: the easiest case, a sanity check.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {"length": 1000, "period": 50.0, "amplitude": 1.0, "phase": 0.0, "noise": 0.0, "seed": 0},
            _sine,
        ),
        DatasetSpec(
            "noisy_sine",
            "Noisy sine wave",
            "A sine wave plus Gaussian noise: signal and unpredictable noise.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {"length": 1000, "period": 50.0, "amplitude": 1.0, "phase": 0.0, "noise": 0.2, "seed": 0},
            _sine,
        ),
        DatasetSpec(
            "sum_of_sines",
            "Sum of sines",
            "Three sines with different periods plus a little noise.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {
                "length": 1000,
                "periods": [50.0, 23.0, 7.0],
                "amplitudes": [1.0, 0.5, 0.25],
                "noise": 0.05,
                "seed": 0,
            },
            _sum_of_sines,
        ),
        DatasetSpec(
            "square_wave",
            "Square wave",
            "Jumps between +amplitude and -amplitude: hard to predict at the edges.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {"length": 1000, "period": 50.0, "amplitude": 1.0, "duty": 0.5, "noise": 0.0, "seed": 0},
            _square_wave,
        ),
        DatasetSpec(
            "sawtooth",
            "Sawtooth wave",
            "Linear ramps with a sudden drop each period.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {"length": 1000, "period": 50.0, "amplitude": 1.0, "noise": 0.0, "seed": 0},
            _sawtooth,
        ),
        DatasetSpec(
            "random_walk",
            "Random walk",
            "Cumulative Gaussian steps: the best forecast is the last value (persistence).",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {"length": 1000, "step_std": 1.0, "drift": 0.0, "start": 0.0, "seed": 0},
            _random_walk,
        ),
        DatasetSpec(
            "ar2",
            "AR(2) process",
            "x[t] = const + phi1 x[t-1] + phi2 x[t-2] + noise: a linear model is optimal here.",
            _SYN,
            "unitless",
            "",
            "synthetic",
            {
                "length": 1000,
                "phi1": 1.2,
                "phi2": -0.5,
                "const": 0.0,
                "noise": 1.0,
                "burn_in": 200,
                "seed": 0,
            },
            _ar2,
        ),
        DatasetSpec(
            "mackey_glass",
            "Mackey-Glass chaos",
            "Chaotic delay differential equation (tau=17), RK4 with dt=0.1, sampled every time unit.",
            "Mackey & Glass (1977), Science 197:287; generated with numpy",
            "unitless",
            "",
            "synthetic",
            {
                "length": 1000,
                "tau": 17.0,
                "beta": 0.2,
                "gamma": 0.1,
                "n": 10.0,
                "x0": 1.2,
                "dt": 0.1,
                "sample_step": 1.0,
                "burn_in": 500.0,
                "noise": 0.0,
                "seed": 0,
            },
            mackey_glass,
        ),
        DatasetSpec(
            "tin",
            "Tin price, LME daily close (2019–2023)",
            "Daily closing price of tin on the London Metal Exchange, 2019-01-02 to 2023-12-29 (1,262 trading "
            "days): the series the original GRU study (Adam vs RMSprop) forecast.",
            "the study's own CSV, published with its code in the repository "
            "'Gated-Recurrent-Unit-GRU-with-Adam-and-RMSProp-Optimization'; London Metal Exchange daily closing "
            "prices",
            "USD per tonne",
            "daily (trading days)",
            "real",
            {},
            _tin,
        ),
        DatasetSpec(
            "sunspots",
            "Sunspots (yearly)",
            "Yearly mean sunspot number, 1700-2008 (309 years), ~11-year cycle.",
            "statsmodels.datasets.sunspots (NOAA NGDC); Wolf/Zurich sunspot number",
            "sunspot number",
            "yearly",
            "real",
            {},
            _sunspots,
        ),
        DatasetSpec(
            "co2",
            "Mauna Loa CO2 (weekly)",
            "Atmospheric CO2 at Mauna Loa, weekly 1958-03-29 to 2001-12-29; trend plus yearly cycle.",
            "statsmodels.datasets.co2; Keeling & Whorf (2004), SIO flask samples, CDIAC",
            "ppm (parts per million by volume)",
            "weekly",
            "real",
            {"missing": "interpolate"},
            _co2,
        ),
        DatasetSpec(
            "nile",
            "Nile river flow (yearly)",
            "Annual flow of the Nile at Aswan, 1871-1970 (100 years).",
            "statsmodels.datasets.nile; Cobb (1978), Biometrika 65(2):243-251",
            "10^8 cubic metres per year",
            "yearly",
            "real",
            {},
            _nile,
        ),
        DatasetSpec(
            "elnino",
            "El Niño sea surface temperature (monthly)",
            "Monthly mean sea surface temperature, Niño 1+2 region, 1950-2010.",
            "statsmodels.datasets.elnino; NOAA NWS ERSST.V3B (CPC)",
            "degrees Celsius",
            "monthly",
            "real",
            {},
            _elnino,
        ),
        DatasetSpec(
            "adding_problem",
            "Adding problem (long-memory task)",
            "Sum the two values marked in a sequence of T random numbers; tests memory over T steps.",
            "Hochreiter & Schmidhuber (1997), Neural Computation 9(8); generated with numpy",
            "unitless",
            "",
            "task",
            {"n_samples": 1000, "T": 50, "seed": 0},
            adding_problem,
        ),
    ]
}


def series_datasets() -> dict[str, str]:
    """The registry's series (not tasks such as the adding problem): key -> display name, in registry order."""
    return {k: s.name for k, s in DATASETS.items() if s.kind in ("synthetic", "real")}


def describe_dataset(key: str) -> str:
    """One line about a registry dataset: what it is, its units, where it comes from ("" for anything else)."""
    spec = DATASETS.get(key)
    if spec is None:
        return ""
    units = f" Units: {spec.units}." if spec.units else ""
    return f"{spec.description}{units} Source: {spec.source}."


def list_datasets(kind: str | None = None) -> list[DatasetSpec]:
    """The registered datasets in registry order, optionally only one kind ("synthetic", "real", "task")."""
    kinds = {"synthetic", "real", "task"}
    if kind is not None and kind not in kinds:
        raise ValueError(f"Unknown kind {kind!r}; choose one of {', '.join(sorted(kinds))}.")
    return [s for s in DATASETS.values() if kind is None or s.kind == kind]


def _spec(key: str) -> DatasetSpec:
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {key!r}; choose one of {', '.join(DATASETS)}.")
    return DATASETS[key]


def _merged_params(spec: DatasetSpec, params: dict[str, Any]) -> dict[str, Any]:
    unknown = [p for p in params if p not in spec.params]
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise ValueError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))} for dataset '{spec.key}'; "
            f"its parameters are: {allowed}."
        )
    return {**spec.params, **params}


def load_dataset(key: str, **params: Any) -> pd.Series:
    """Load a registered series (synthetic or real), overriding any of its default ``params``.

    Raises ValueError for an unknown key, an unknown parameter or a bad parameter value, and for a task
    (use :func:`load_task`).
    """
    spec = _spec(key)
    if spec.kind == "task":
        raise ValueError(
            f"'{key}' is a task of (X, y) samples, not a single series; use load_task('{key}', ...) instead."
        )
    merged = _merged_params(spec, params)
    result = spec.loader(**merged)
    if isinstance(result, pd.Series):
        series = result.astype(np.float64)
        series.attrs = dict(result.attrs)
    else:
        series = pd.Series(np.asarray(result, dtype=np.float64))
    series.name = spec.name
    notes = list(series.attrs.get("notes", []))
    series.attrs.update(
        key=spec.key,
        name=spec.name,
        units=spec.units,
        source=spec.source,
        frequency=spec.frequency,
        kind=spec.kind,
        params=merged,
        n_missing=int(series.attrs.get("n_missing", 0)),
        notes=notes,
    )
    return series


def load_task(key: str, **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Generate a registered task's ``(X, y)``.

    For "adding_problem" X is (n_samples, T, 2) and y (n_samples, 1).
    """
    spec = _spec(key)
    if spec.kind != "task":
        raise ValueError(
            f"'{key}' is a series, not a task; use load_dataset('{key}', ...) instead. "
            f"Tasks: {', '.join(s.key for s in list_datasets('task'))}."
        )
    return spec.loader(**_merged_params(spec, params))
