"""Sweeps: a grid (or a random search) of configurations × optimizers × seeds, run in parallel, resumable.

    spec = SweepSpec(
        data=DataSpec("tin_price.csv", lookback=20, split=(0.81, 0.09, 0.10), split_by="series",
                      fit_scaler_on="all"),
        model=GRUConfig(init="keras", dropout=0.3),
        train=TrainConfig(patience=3, restore_best=False),
        optimizers=[Contestant("adam", "keras"), Contestant("rmsprop", "keras")],
        grid={"batch_size": [32, 64, 128], "epochs": [50, 100], "lr": [1e-2, 1e-3, 1e-4],
              "hidden_size": [16, 32, 64]},
        seeds=[0, 1, 2],
    )
    result = run_sweep(spec, store=RunStore())      # all cores; resumable
    result.frame()                                  # one row per (configuration, seed, optimizer)

The spec
    ``data`` (:class:`DataSpec`: a dataset key or CSV path and the options of :func:`gru_core.data.prepare`),
    a base ``model`` (:class:`~gru_core.gru.GRUConfig`) and ``train`` (:class:`~gru_core.train.TrainConfig`)
    configuration, the ``optimizers`` (:class:`~gru_core.train.Contestant`: name, flavour, hyperparameters),
    a ``grid`` ``{field: [values]}`` over any GRUConfig, TrainConfig or data field (:data:`GRID_FIELDS`) plus
    ``lr`` (every optimizer's learning rate), the ``seeds``, and optionally a :class:`RandomSearch` (``n``
    samples from ranges, log-uniform for ``lr``, seeded; crossed with the grid when both are given).  The
    seed of a cell sets both the model's seed (initial weights, dropout masks) and the batch order; the
    base configurations' own seeds are ignored.  A spec is plain data: :meth:`SweepSpec.to_dict` /
    :meth:`SweepSpec.from_dict` round-trip through JSON.

Cells: one per (configuration, seed), all optimizers racing in lockstep
    :func:`cells` expands a spec, configuration by configuration in grid order, seeds innermost.  A cell
    trains every optimizer of the spec in one :class:`~gru_core.train.Race`: they start from identical
    weights and see identical mini-batches and dropout masks, which is exactly what the paired comparison
    of :mod:`gru_core.stats` needs, and the data are prepared once for all of them.  Nothing is lost by
    racing them together: each contestant's numbers are the same, bit for bit, as in a race of its own
    (the batch order depends on the seed only, each model has its own dropout stream), and a diverged or
    early-stopped optimizer simply drops out while the others carry on.  So a sweep of C configurations,
    S seeds and K optimizers has C·S cells and C·S·K *runs* (records).

    A cell's ``key`` is the SHA-256 (first 20 hex digits) of its canonical JSON (sorted keys, no spaces):
    its data options, model, training and optimizer settings, seed included.  Equal keys mean the same
    computation, in any process, on any day; results are stored and resumed by it.  ``config_key`` is the
    same hash without the seeds: the runs of one configuration over seeds share it.  A CSV source enters
    the key by its path as written, not by its content.

Running
    :func:`run_sweep` runs the cells that are not stored yet on a standard executor:

    * ``workers=None`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with one process per
      core ("spawn" start method: safe from threaded callers such as the Streamlit server; a script calling
      it needs the usual ``if __name__ == "__main__":`` guard).  ``workers=N``: N processes.  ``workers=0``:
      in the calling process, one cell after another (debugging).
    * ``scheduler="tcp://host:8786"`` (or a ``dask.distributed.Client``): a Dask cluster.  Its workers need
      gru_core (same version) installed, and a CSV source must be readable at the same path there.
    * ``scheduler="local-dask"``: an embedded Dask ``LocalCluster`` of ``workers`` single-threaded processes;
      ``scheduler="local-dask-threads"``: one in-process Dask worker with ``workers`` threads
      (``processes=False``; starts in about a second, so the tests use it; the GIL serialises much of the
      work, so it is not faster than one process).

    Worker processes keep BLAS to one thread for small *and* large products (``GRU_LAB_BLAS_THREADS=1``,
    ``GRU_LAB_BIG_BLAS_THREADS=1``: each process already has a core; see :mod:`gru_core._blas`), set
    before NumPy is imported where the executor allows it and re-applied before the first cell otherwise.
    Same seeds ⇒ same numbers: a cell's records are identical, bit for bit, whichever executor ran it (only
    timings differ).

Storing and resuming
    With a ``store`` (a :class:`~gru_core.store.RunStore` or a path), only the parent process writes: each
    finished cell's runs are inserted in one transaction as the cell's result arrives, so the store holds
    whole cells only, whatever happens to a worker.  The sweep is found again by its spec's key (or
    ``sweep_id``); with ``resume=True`` (default) the cells already stored in it are not run again and their
    stored records are returned with the new ones.

Failures
    A cell that raises (bad data options, …) is reported in ``result.failures`` with its traceback and the
    other cells go on.  A worker process that dies (killed, out of memory, ``os._exit``) breaks a process
    pool: the cells finished before it stay stored and returned, the unfinished ones are reported as lost,
    the sweep is marked "failed" in the store, and running the sweep again resumes it.  (On Dask, the
    scheduler retries a cell whose worker died on another worker and reports it lost after repeated deaths,
    the other cells carrying on.)
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import platform
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._blas import BIG_BLAS_THREADS_ENV, BLAS_THREADS_ENV, limit_blas_threads
from .data import DataError, load_csv, prepare
from .datasets import DATASETS, load_dataset
from .gru import GRUConfig, GRURegressor
from .metrics import regression_metrics
from .optim import OPTIMIZERS, make_optimizer
from .train import Contestant, Race, TrainConfig

__all__ = [
    "GRID_FIELDS",
    "Cell",
    "DataSpec",
    "RandomSearch",
    "SweepProgress",
    "SweepResult",
    "SweepSpec",
    "cells",
    "library_versions",
    "run_cell",
    "run_sweep",
    "sample_space",
]

DATA_FIELDS = ("lookback", "horizon", "split", "split_by", "scaler", "fit_scaler_on")
MODEL_FIELDS = tuple(f.name for f in fields(GRUConfig) if f.name not in ("input_size", "output_size", "seed"))
_TRAIN_IGNORED = ("seed", "log_every", "gate_window")  # per cell / no effect on the numbers
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.name not in _TRAIN_IGNORED)
GRID_FIELDS = (*MODEL_FIELDS, *TRAIN_FIELDS, *DATA_FIELDS, "lr")
ALIASES = {"hidden": "hidden_size", "units": "hidden_size", "layers": "num_layers", "batch": "batch_size",
           "learning_rate": "lr", "clip": "clip_norm"}  # fmt: skip
_INT_FIELDS = {"hidden_size", "num_layers", "epochs", "batch_size", "patience", "step_every", "lookback", "horizon"}
_FLOAT_FIELDS = {"dropout", "lr", "clip_norm", "step_gamma", "divergence_factor"}
_BOOL_FIELDS = {"restore_best", "shuffle"}
_NULLABLE = {"patience", "clip_norm"}
LOCAL_DASK = ("local-dask", "local-dask-threads")
WORKER_ENV = {BLAS_THREADS_ENV: "1", BIG_BLAS_THREADS_ENV: "1"}
_PROCESS_TOKEN = uuid.uuid4().hex  # differs in every process that imports this module


# --------------------------------------------------------------------------------------------------
# the spec
# --------------------------------------------------------------------------------------------------


def canonical_json(obj: Any) -> str:
    """The JSON that keys hash: sorted keys, no spaces, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _hash(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:20]


def _field_name(name: str) -> str:
    name = ALIASES.get(str(name).strip(), str(name).strip())
    if name not in GRID_FIELDS:
        hint = " (seeds are given by `seeds`)" if name == "seed" else ""
        raise ValueError(f"cannot sweep over {name!r}{hint}; choose from: {', '.join(GRID_FIELDS)}")
    return name


def coerce_value(name: str, value: Any) -> Any:
    """A grid value as the type its field wants (so 32, 32.0 and "32" make the same cell)."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if name in _NULLABLE:
            return None
        raise ValueError(f"{name} cannot be None")
    try:
        if name in _INT_FIELDS:
            if isinstance(value, bool):
                raise ValueError
            f = float(value)
            if not f.is_integer():
                raise ValueError
            return int(f)
        if name in _FLOAT_FIELDS:
            if isinstance(value, bool):
                raise ValueError
            f = float(value)
            if not math.isfinite(f):
                raise ValueError
            return f
        if name in _BOOL_FIELDS:
            if isinstance(value, str):
                low = value.lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return low in ("true", "1", "yes")
            return bool(value)
        if name == "split":
            parts = value.split(",") if isinstance(value, str) else list(value)
            if len(parts) != 3:
                raise ValueError
            return [float(p) for p in parts]
    except (TypeError, ValueError):
        kind = ("an integer" if name in _INT_FIELDS else "a number" if name in _FLOAT_FIELDS
                else "true/false" if name in _BOOL_FIELDS else "three fractions")  # fmt: skip
        raise ValueError(f"{name} must be {kind}, got {value!r}") from None
    return str(value)


@dataclass
class DataSpec:
    """Where the series comes from and how it is windowed, split and scaled (see :func:`gru_core.data.prepare`)."""

    source: str = "noisy_sine"  # a dataset key (see `python -m gru_core datasets`) or a CSV path
    params: dict = field(default_factory=dict)  # dataset parameters (dataset keys only), e.g. {"length": 500}
    column: str | None = None  # CSV value column (default: the last numeric one)
    date_column: str | None = None  # CSV date column (default: detected)
    lookback: int = 20
    horizon: int = 1
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_by: str = "windows"  # "series": split the rows first, as the original study did
    scaler: str = "minmax"
    fit_scaler_on: str = "train"  # "all" reproduces the study's leakage

    def __post_init__(self):
        self.source = str(self.source)
        self.params = dict(self.params or {})
        for name in DATA_FIELDS:
            setattr(self, name, coerce_value(name, getattr(self, name)))
        self.split = tuple(self.split)


@dataclass
class RandomSearch:
    """``n`` configurations drawn from ``space`` with a seeded generator.

    ``space`` maps a grid field to ``{"low": a, "high": b}`` (uniform; ``"log": true`` for log-uniform, the
    default for ``lr``; ``"int": true`` rounds to an integer) or to ``{"choices": [...]}``.  Drawn floats
    are rounded to 4 significant digits (readable, and the same in every run).
    """

    n: int
    space: dict
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.n, bool) or int(self.n) != self.n or self.n < 1:
            raise ValueError(f"random search: n must be a positive integer, got {self.n!r}")
        self.n, self.seed = int(self.n), int(self.seed)
        space = {}
        for key, dim in dict(self.space).items():
            name = _field_name(key)
            if not isinstance(dim, dict):
                raise ValueError(f"random search: {name} needs {{'low', 'high'}} or {{'choices'}}, got {dim!r}")
            if "choices" in dim:
                choices = [coerce_value(name, v) for v in dim["choices"]]
                if not choices:
                    raise ValueError(f"random search: {name} has no choices")
                space[name] = {"choices": choices}
                continue
            try:
                low, high = float(dim["low"]), float(dim["high"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"random search: {name} needs numeric 'low' and 'high', got {dim!r}") from None
            log = bool(dim.get("log", name == "lr"))
            if not low <= high or (log and low <= 0):
                raise ValueError(f"random search: {name} needs 0 < low <= high for a log range, low <= high "
                                 f"otherwise; got {low}, {high}")  # fmt: skip
            space[name] = {"low": low, "high": high, "log": log, "int": bool(dim.get("int", name in _INT_FIELDS))}
        if not space:
            raise ValueError("random search: the space is empty")
        self.space = space


def sample_space(search: RandomSearch) -> list[dict]:
    """The ``n`` parameter dicts of a random search (same seed ⇒ same samples)."""
    rng = np.random.default_rng(search.seed)
    out = []
    for _ in range(search.n):
        params = {}
        for name, dim in search.space.items():
            if "choices" in dim:
                params[name] = dim["choices"][int(rng.integers(len(dim["choices"])))]
                continue
            lo, hi = dim["low"], dim["high"]
            u = rng.random()
            v = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if dim["log"] else lo + u * (hi - lo)
            v = min(max(v, lo), hi)
            params[name] = coerce_value(name, round(v) if dim["int"] else float(f"{v:.4g}"))
        out.append(params)
    return out


def _as_contestant(o: Any) -> Contestant:
    if isinstance(o, Contestant):
        c = Contestant(o.optimizer, o.flavor, dict(o.hyper), o.label)
    elif isinstance(o, str):
        c = Contestant(o)
    elif isinstance(o, dict):
        c = Contestant(**o)
    elif isinstance(o, (list, tuple)) and 1 <= len(o) <= 4:
        c = Contestant(*o)
    else:
        raise ValueError(f"an optimizer is a Contestant, a name, a dict or (name, flavor, hyper), got {o!r}")
    c.optimizer = c.optimizer.lower()
    c.hyper = dict(c.hyper or {})
    if c.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {c.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    if c.flavor not in OPTIMIZERS[c.optimizer].flavors:
        raise ValueError(f"{c.optimizer} has no {c.flavor!r} flavour; it has {OPTIMIZERS[c.optimizer].flavors}")
    return c


@dataclass
class SweepSpec:
    """What to sweep (see the module docstring).  ``seeds`` may be an int n, meaning seeds 0..n-1."""

    data: DataSpec = field(default_factory=DataSpec)
    model: GRUConfig = field(default_factory=GRUConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optimizers: list = field(default_factory=lambda: [Contestant("adam"), Contestant("rmsprop")])
    grid: dict = field(default_factory=dict)
    seeds: Any = field(default_factory=lambda: [0])
    search: RandomSearch | None = None
    name: str = ""

    def __post_init__(self):
        if isinstance(self.data, str):
            self.data = DataSpec(self.data)
        elif isinstance(self.data, dict):
            self.data = DataSpec(**self.data)
        if isinstance(self.model, dict):
            self.model = GRUConfig(**self.model)
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        if isinstance(self.search, dict):
            self.search = RandomSearch(**self.search)
        self.optimizers = [_as_contestant(o) for o in self.optimizers]
        if not self.optimizers:
            raise ValueError("optimizers: give at least one")
        labels = [c.name for c in self.optimizers]
        if len(set(labels)) != len(labels):
            raise ValueError(f"optimizers need distinct labels (set `label`), got {labels}")
        if isinstance(self.seeds, (int, np.integer)) and not isinstance(self.seeds, bool):
            if self.seeds < 1:
                raise ValueError(f"seeds: give a positive count or a list, got {self.seeds!r}")
            self.seeds = list(range(int(self.seeds)))
        seeds = [int(s) for s in self.seeds]
        if not seeds or len(set(seeds)) != len(seeds) or any(s != t for s, t in zip(seeds, self.seeds)):
            raise ValueError(f"seeds: give distinct integers, got {self.seeds!r}")
        self.seeds = seeds
        grid = {}
        for key, values in dict(self.grid).items():
            name = _field_name(key)
            if name in grid:
                raise ValueError(f"grid: {name!r} given twice")
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                values = [values]
            vals = [coerce_value(name, v) for v in values]
            if not vals:
                raise ValueError(f"grid: {name!r} has no values")
            if len({canonical_json(v) for v in vals}) != len(vals):
                raise ValueError(f"grid: {name!r} has repeated values {vals}")
            grid[name] = vals
        self.grid = grid
        if self.search is not None:
            both = set(self.search.space) & set(grid)
            if both:
                raise ValueError(f"{sorted(both)} are both in the grid and in the random search")
        self.name = str(self.name or "")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "data": {**asdict(self.data), "split": list(self.data.split)},
            "model": asdict(self.model),
            "train": asdict(self.train),
            "optimizers": [asdict(c) for c in self.optimizers],
            "grid": {k: list(v) for k, v in self.grid.items()},
            "seeds": list(self.seeds),
            "search": None if self.search is None else asdict(self.search),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"key"}
        if unknown:
            raise ValueError(f"unknown sweep spec field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_json(cls, text: str) -> SweepSpec:
        return cls.from_dict(json.loads(text))

    @property
    def key(self) -> str:
        """Hash of the spec (its name excluded): a re-run of the same spec finds its stored sweep by it."""
        d = self.to_dict()
        d.pop("name")
        return _hash(d)

    def configurations(self) -> list[dict]:
        """The swept parameter dicts, in order: the grid's product (crossed with the random samples)."""
        keys = list(self.grid)
        points = [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]
        if self.search is not None:
            points = [{**p, **s} for p in points for s in sample_space(self.search)]
        return points


def _as_spec(spec: SweepSpec | dict) -> SweepSpec:
    return spec if isinstance(spec, SweepSpec) else SweepSpec.from_dict(spec)


# --------------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One training run of every optimizer on one configuration and seed (see the module docstring)."""

    index: int  # position in the sweep
    seed: int
    params: dict  # the swept values of this cell, in grid order
    data: dict  # DataSpec fields
    model: dict  # GRUConfig fields (seed = the cell's seed)
    train: dict  # TrainConfig fields (seed = the cell's seed)
    optimizers: list  # Contestant fields, labels filled in, the swept lr applied
    key: str = ""
    config_key: str = ""

    def identity(self, seed: bool = True) -> dict:
        """What the keys hash (``seed=False``: without the seeds, for ``config_key``)."""
        model, train = dict(self.model), dict(self.train)
        if not seed:
            model.pop("seed")
            train.pop("seed")
        return {"data": self.data, "model": model, "train": train, "optimizers": self.optimizers}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Cell:
        return cls(**d)


def _cell(index: int, seed: int, params: dict, spec: SweepSpec) -> Cell:
    data = {**asdict(spec.data), "split": list(spec.data.split)}
    model = asdict(spec.model)
    train = {k: v for k, v in asdict(spec.train).items() if k not in _TRAIN_IGNORED}
    lr = None
    for name, value in params.items():
        if name == "lr":
            lr = value
        elif name in DATA_FIELDS:
            data[name] = value
        elif name in MODEL_FIELDS:
            model[name] = value
        else:
            train[name] = value
    model.update(input_size=1, output_size=int(data["horizon"]), seed=int(seed))
    train["seed"] = int(seed)
    opts = []
    for c in spec.optimizers:
        hyper = dict(c.hyper) if lr is None else {**c.hyper, "lr": lr}
        opts.append({"optimizer": c.optimizer, "flavor": c.flavor, "hyper": hyper, "label": c.name})
    cell = Cell(index, int(seed), dict(params), data, model, train, opts)
    cell.key = _hash(cell.identity())
    cell.config_key = _hash(cell.identity(seed=False))
    return cell


def _validate_cell(cell: Cell, checked: set) -> None:
    model_sig = canonical_json(cell.model)
    if model_sig not in checked:
        GRURegressor.from_config(GRUConfig(**cell.model))  # raises ValueError on a bad setting
        checked.add(model_sig)
    TrainConfig(**cell.train).validate()
    for o in cell.optimizers:
        sig = canonical_json(o)
        if sig not in checked:
            make_optimizer(o["optimizer"], flavor=o["flavor"], **o["hyper"])
            checked.add(sig)


def cells(spec: SweepSpec | dict, validate: bool = True) -> list[Cell]:
    """Expand a spec into its cells: configurations in grid order, seeds innermost; duplicates (equal keys,
    e.g. a random search drawing the same choices twice) kept once.  ``validate`` checks every model,
    training and optimizer setting here, before anything runs (ValueError naming the setting)."""
    spec = _as_spec(spec)
    out: list[Cell] = []
    seen: set[str] = set()
    checked: set[str] = set()
    for params in spec.configurations():
        for seed in spec.seeds:
            cell = _cell(len(out), seed, params, spec)
            if cell.key in seen:
                continue
            if validate:
                try:
                    _validate_cell(cell, checked)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"configuration {params or '(base)'}: {exc}") from None
            seen.add(cell.key)
            out.append(cell)
    return out


# --------------------------------------------------------------------------------------------------
# one cell
# --------------------------------------------------------------------------------------------------

_DATA_CACHE: dict[str, tuple] = {}


def load_source(data: dict) -> pd.Series:
    """The series of a DataSpec dict: a registry key (with its params) or a CSV path."""
    source = data["source"]
    if source in DATASETS:
        return load_dataset(source, **(data.get("params") or {}))
    path = Path(source).expanduser()
    if path.exists():
        return load_csv(path, value_column=data.get("column"), date_column=data.get("date_column"))
    raise DataError(f"data source {source!r} is neither a dataset name nor an existing file")


def prepared_data(data: dict):
    """``(prepared, info)`` for a DataSpec dict, cached per process (a worker reuses it across cells)."""
    sig = canonical_json(data)
    hit = _DATA_CACHE.get(sig)
    if hit is not None:
        return hit
    series = load_source(data)
    opts = {k: data[k] for k in ("lookback", "horizon", "scaler", "fit_scaler_on", "split_by")}
    prepared = prepare(series, split=tuple(data["split"]), **opts)
    values = np.ascontiguousarray(series.to_numpy(dtype=np.float64))
    info = {"name": series.attrs.get("name", data["source"]), "units": series.attrs.get("units", ""),
            "length": int(len(series)), "sha256": hashlib.sha256(values.tobytes()).hexdigest()[:20],
            **{f"n_{k}": v for k, v in prepared.sizes.items()}}  # fmt: skip
    if len(_DATA_CACHE) >= 8:
        _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
    _DATA_CACHE[sig] = (prepared, info)
    return prepared, info


_VERSIONS: dict | None = None


def library_versions() -> dict[str, str]:
    """Python, NumPy, pandas and gru_core versions (stored with every run)."""
    global _VERSIONS
    if _VERSIONS is None:
        import gru_core

        _VERSIONS = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
                     "gru_core": gru_core.__version__, "machine": platform.machine()}  # fmt: skip
    return dict(_VERSIONS)


def run_cell(cell: Cell | dict) -> dict:
    """Train one cell (every optimizer, lockstep) and return ``{"cell_key", "cell_index", "seconds",
    "records"}`` with one record per optimizer:

    identity (``cell_key``, ``config_key``, ``cell_index``, ``seed``, ``params``, ``label``, ``optimizer``,
    ``flavor``, ``hyperparams``), ``status``, ``diverged`` (+ ``diverged_epoch``/``_step``/``_reason``),
    ``best_epoch``, ``stopped_epoch``, ``test`` and ``val`` metrics in the series' units (mse, rmse, mae,
    mape %, r2, …; None for a diverged run), ``baselines`` (persistence and linear on test), ``history``
    (per epoch), ``config`` (data/model/train/optimizer), ``data_info``, ``timings`` (``train_seconds``: this
    optimizer's own compute; ``prep_seconds``, ``cell_seconds``: the cell's) and ``versions``.
    """
    if isinstance(cell, dict):
        cell = Cell.from_dict(cell)
    t0 = time.perf_counter()
    prepared, info = prepared_data(cell.data)
    t_prep = time.perf_counter() - t0
    contestants = [Contestant(**o) for o in cell.optimizers]
    race = Race(prepared, GRUConfig(**cell.model), contestants, TrainConfig(**cell.train))
    result = race.train()
    wall = time.perf_counter() - t0
    versions = library_versions()
    has_val = len(prepared.y_val_raw) > 0
    records = []
    for run, opt in zip(result["runs"], cell.optimizers):
        val = None
        if has_val and not run["diverged"] and run["history"]:
            val = regression_metrics(prepared.y_val_raw, race.predict_raw(run["name"], prepared.X_val))
        records.append({
            "cell_key": cell.key, "config_key": cell.config_key, "cell_index": cell.index, "seed": cell.seed,
            "params": dict(cell.params), "label": run["name"], "optimizer": run["optimizer"],
            "flavor": run["flavor"], "hyperparams": run["hyperparams"], "status": run["status"],
            "diverged": run["diverged"], "diverged_epoch": run["diverged_epoch"],
            "diverged_step": run["diverged_step"], "diverged_reason": run["diverged_reason"],
            "best_epoch": run["best_epoch"], "stopped_epoch": run["stopped_epoch"],
            "epochs_run": len(run["history"]), "test": run["test"], "val": val,
            "baselines": result["baselines"], "history": run["history"],
            "config": {"data": cell.data, "model": cell.model, "train": cell.train, "optimizer": opt},
            "data_info": info,
            "timings": {"train_seconds": run["seconds"], "prep_seconds": t_prep, "cell_seconds": wall},
            "versions": versions,
        })  # fmt: skip
    return {"cell_key": cell.key, "cell_index": cell.index, "seconds": wall, "records": records}


# --------------------------------------------------------------------------------------------------
# running a sweep
# --------------------------------------------------------------------------------------------------


def _single_thread_blas() -> None:
    """In a worker process: one BLAS thread for small and large products (each process has its core)."""
    if os.environ.get(BIG_BLAS_THREADS_ENV) == "1" and os.environ.get(BLAS_THREADS_ENV) == "1":
        from . import _blas

        if _blas._big == 1 and _blas._small == 1:
            return
    os.environ.update(WORKER_ENV)
    limit_blas_threads()


def _execute(runner: Callable[[Cell], dict], cell: Cell, parent_token: str) -> dict:
    """What a worker runs: the cell, with errors caught and returned (they must not break the pool)."""
    if parent_token != _PROCESS_TOKEN:  # another process: apply the worker BLAS policy
        _single_thread_blas()
    try:
        return {"ok": True, "result": runner(cell)}
    except Exception as exc:  # reported per cell
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


@dataclass
class SweepProgress:
    """What the ``progress`` callback receives: once at the start (``cell`` None), then after every cell."""

    done: int  # cells finished in this call (stored or failed)
    total: int  # cells to run in this call (the stored ones excluded)
    skipped: int  # cells found in the store and not run again
    failed: int
    elapsed: float  # seconds since the start
    eta: float | None  # seconds to go at the rate so far (None before the first cell)
    cell: Cell | None = None
    records: list = field(default_factory=list)  # the finished cell's runs
    error: str | None = None  # why the finished cell failed


@dataclass
class SweepResult:
    """The outcome of :func:`run_sweep`: every record of the sweep (stored ones included when resuming)."""

    spec: SweepSpec
    cells: list
    records: list  # JSON-ready run records, by cell then optimizer order
    failures: list  # {"cell_key", "cell_index", "params", "seed", "error", "traceback", "lost"}
    status: str  # "finished" | "failed"
    message: str
    ran: int  # cells run now
    skipped: int  # cells taken from the store
    wall_seconds: float
    executor: str
    sweep_id: int | None = None
    store_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def frame(self) -> pd.DataFrame:
        """One flat row per run (see :func:`gru_core.stats.to_frame`)."""
        from .stats import to_frame

        return to_frame(self.records)


def _open_store(store):
    if store is None:
        return None
    from .store import RunStore

    return store if isinstance(store, RunStore) else RunStore(store)


def _check_data(cell_list: list[Cell]) -> None:
    """Prepare each distinct data option set once here, so a bad one fails before the pool starts."""
    seen = set()
    for c in cell_list:
        sig = canonical_json(c.data)
        if sig in seen:
            continue
        seen.add(sig)
        try:
            prepared_data(c.data)
        except (DataError, ValueError) as exc:
            raise DataError(f"data options {({k: c.data[k] for k in DATA_FIELDS})}: {exc}") from None


class SweepCancelled(KeyboardInterrupt):
    """Raised by :func:`run_sweep` when its ``stop`` event is set (a KeyboardInterrupt, so the sweep is
    marked "interrupted" like after Ctrl-C; the finished cells stay stored)."""


STOP_POLL = 0.25  # seconds between looks at the stop event while cells run in worker processes


def _check_stop(stop) -> None:
    if stop is not None and stop.is_set():
        raise SweepCancelled("stopped")


def _end_pool(pool: cf.ProcessPoolExecutor, futures) -> None:
    """Cancel what has not started and end the worker processes now, cells in flight included (their
    partial work is lost; the parent stores finished cells only, so nothing half-written remains)."""
    for f in futures:
        f.cancel()
    procs = list((getattr(pool, "_processes", None) or {}).values())  # private, but stable since 3.2
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)


class _Collector:
    """Turns finished cells into stored records, failures and progress reports (parent process only)."""

    def __init__(self, todo, skipped, store, sweep_id, progress):
        self.total, self.skipped = len(todo), skipped
        self.store, self.sweep_id, self.progress = store, sweep_id, progress
        self.records: dict[str, list] = {}
        self.failures: list[dict] = []
        self.done = 0
        self.t0 = time.perf_counter()
        self._report(None, [], None)

    def _report(self, cell, records, error):
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        self.progress(SweepProgress(self.done, self.total, self.skipped, len(self.failures), elapsed, eta, cell,
                                    records, error))  # fmt: skip

    def fail(self, cell: Cell, error: str, tb: str = "", lost: bool = False) -> None:
        self.failures.append({"cell_key": cell.key, "cell_index": cell.index, "params": cell.params,
                              "seed": cell.seed, "error": error, "traceback": tb, "lost": lost})  # fmt: skip
        self.done += 1
        self._report(cell, [], error)

    def add(self, cell: Cell, outcome: dict) -> None:
        if not outcome["ok"]:
            self.fail(cell, outcome["error"], outcome.get("traceback", ""))
            return
        from .cli import to_jsonable  # lazy: cli may import this module

        recs = [to_jsonable(r) for r in outcome["result"]["records"]]
        if self.store is not None:
            self.store.add_runs(recs, self.sweep_id)  # the cell's runs: one transaction
        self.records[cell.key] = recs
        self.done += 1
        self._report(cell, recs, None)


def _run_local(todo, runner, col: _Collector, stop=None) -> None:
    for cell in todo:  # in this process a cell cannot be interrupted: the stop acts between cells
        _check_stop(stop)
        col.add(cell, _execute(runner, cell, _PROCESS_TOKEN))


def _run_pool(todo, runner, workers: int, col: _Collector, stop=None) -> None:
    ctx = multiprocessing.get_context("spawn")
    # The initializer runs before the worker unpickles its first task, i.e. before it imports gru_core and
    # NumPy: exec of a literal sets the worker BLAS policy in the environment in time.
    init = f"import os; os.environ.update({WORKER_ENV!r})"
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=exec, initargs=(init,))
    futures = {}
    try:
        futures = {pool.submit(_execute, runner, c, _PROCESS_TOKEN): c for c in todo}
        pending = set(futures)
        while pending:
            _check_stop(stop)
            done, pending = cf.wait(pending, timeout=STOP_POLL, return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f].index):
                cell = futures[fut]
                try:
                    outcome = fut.result()
                except BrokenProcessPool as exc:
                    col.fail(cell, f"not finished: a worker process died ({exc})", lost=True)
                    continue
                col.add(cell, outcome)
    except BaseException:  # a stop, Ctrl-C or an error: the workers must not train on for nothing
        _end_pool(pool, futures)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, runner, workers: int, scheduler, col: _Collector, stop=None) -> None:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError('a Dask scheduler needs dask.distributed: pip install "dask[distributed]"') from exc
    import logging

    own = None
    if isinstance(scheduler, str):
        if scheduler == "local-dask":
            own = Client(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR, env=dict(WORKER_ENV))  # fmt: skip
        elif scheduler == "local-dask-threads":
            own = Client(n_workers=1, threads_per_worker=workers, processes=False, dashboard_address=None,
                         silence_logs=logging.ERROR)  # fmt: skip
        else:
            own = Client(scheduler)
        client = own
    else:
        client = scheduler
    futures = {}
    try:
        for c in todo:
            fut = client.submit(_execute, runner, c, _PROCESS_TOKEN, key=f"gru-cell-{c.key}-{uuid.uuid4().hex[:8]}")
            futures[fut.key] = (fut, c)
        for fut in as_completed([f for f, _ in futures.values()]):
            cell = futures[fut.key][1]
            try:
                outcome = fut.result()
            except Exception as exc:  # KilledWorker, CancelledError, …
                col.fail(cell, f"not finished: {type(exc).__name__}: {exc}", lost=True)
                continue
            col.add(cell, outcome)
            _check_stop(stop)  # on a cluster the stop acts as cells finish
    except BaseException:
        client.cancel([f for f, _ in futures.values()])
        raise
    finally:
        if own is not None:
            own.close()


def run_sweep(spec: SweepSpec | dict, workers: int | None = None, scheduler: Any = None, store: Any = None,
              progress: Callable[[SweepProgress], None] | None = None, resume: bool = True, *,
              runner: Callable[[Cell], dict] | None = None, sweep_id: int | None = None,
              stop: Any = None) -> SweepResult:  # fmt: skip
    """Run a sweep's cells in parallel (see the module docstring for executors, storing, resuming, failures).

    ``workers``: processes (default: all cores; 0 = in this process).  ``scheduler``: None (process pool),
    a Dask address, ``"local-dask"``, ``"local-dask-threads"`` or a ``dask.distributed.Client``.  ``store``:
    a RunStore or a path (None: nothing stored).  ``progress(SweepProgress)`` is called in this process.
    ``runner``: what trains a cell (default :func:`run_cell`; a top-level function, so workers can import
    it).  ``sweep_id``: resume this stored sweep instead of the one found by the spec's key.

    Returns a :class:`SweepResult`; failed cells are reported in it (``status="failed"``), not raised.
    KeyboardInterrupt stops the sweep (pending cells cancelled; the stored ones kept, sweep marked
    "interrupted") and is re-raised.  ``stop`` (a ``threading.Event``) does the same from another thread,
    raising :class:`SweepCancelled`: with worker processes at once (cells in flight are ended, within
    :data:`STOP_POLL` seconds), in this process (``workers=0``) and on Dask as the current cell finishes.
    """
    spec = _as_spec(spec)
    runner = runner or run_cell
    t0 = time.perf_counter()
    all_cells = cells(spec)
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if n_workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers!r}")
    if scheduler is None or not isinstance(scheduler, str) or scheduler in LOCAL_DASK:
        _check_data(all_cells)  # fail before anything starts (a remote cluster may see files this machine does not)
    st = _open_store(store)
    stored: dict[str, list] = {}
    if st is not None:
        if sweep_id is None and resume:
            sweep_id = st.find_sweep(spec.key)
        if sweep_id is None:
            sweep_id = st.add_sweep(spec, n_cells=len(all_cells))
        else:
            st.get_sweep(sweep_id)  # KeyError if absent
            st.reopen_sweep(sweep_id)
        if resume:
            for rec in st.records(sweep_id=sweep_id):
                stored.setdefault(rec["cell_key"], []).append(rec)
    todo = [c for c in all_cells if c.key not in stored]
    n_workers = max(1, min(n_workers, len(todo)))
    if not todo:
        executor = "nothing to run"
    elif scheduler is not None:
        executor = f"dask ({scheduler if isinstance(scheduler, str) else 'client'})"
    else:
        executor = "in-process" if workers == 0 else f"process pool ({n_workers} workers)"
    col = _Collector(todo, len(all_cells) - len(todo), st, sweep_id, progress)
    try:
        if todo and scheduler is not None:
            _run_dask(todo, runner, n_workers, scheduler, col, stop)
        elif todo and workers == 0:
            _run_local(todo, runner, col, stop)
        elif todo:
            _run_pool(todo, runner, n_workers, col, stop)
    except BaseException as exc:
        if st is not None:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            st.finish_sweep(sweep_id, status, f"{type(exc).__name__}: {exc}; {len(col.records)} cells stored")
        raise
    records_by_cell = {**stored, **col.records}
    records = [r for c in all_cells for r in records_by_cell.get(c.key, [])]
    n_lost = sum(f["lost"] for f in col.failures)
    if col.failures:
        status = "failed"
        parts = [f"{len(col.failures)} of {len(todo)} cells failed"]
        if n_lost:
            parts.append(f"{n_lost} were not finished because a worker died")
        errors = [f["error"] for f in col.failures if not f["lost"]]
        if errors:
            parts.append(f"first error: {errors[0]}")
        parts.append(f"{len(col.records)} cells finished" + (" and stored; run the sweep again to resume"
                                                             if st is not None else ""))  # fmt: skip
        message = "; ".join(parts)
    else:
        status = "finished"
        message = f"{len(col.records)} cells run, {len(all_cells) - len(todo)} taken from the store"
    if st is not None:
        st.finish_sweep(sweep_id, status, message)
    failures = sorted(col.failures, key=lambda f: f["cell_index"])
    return SweepResult(spec=spec, cells=all_cells, records=records, failures=failures, status=status,
                       message=message, ran=len(col.records), skipped=len(all_cells) - len(todo),
                       wall_seconds=time.perf_counter() - t0, executor=executor, sweep_id=sweep_id,
                       store_path=None if st is None else str(st.path))  # fmt: skip
