"""What a sweep is: a base run, a grid (or a seeded random search) over its settings, seeds; and its cells.

    spec = SweepSpec.from_run(RunConfig(...), grid={"lr": [1e-2, 1e-3], "hidden_size": [16, 32]})
    cells(spec)        # one Cell per (configuration, seed), every contestant racing in it

The spec
    ``data``, ``model``, ``train`` and ``contestants`` are the parts of a :class:`~gru_core.config.RunConfig`
    (the base configuration); ``grid`` ``{setting: [values]}`` ranges over any setting of
    :data:`GRID_FIELDS` (every run setting whose ``sweep`` is true, plus ``lr``: every contestant's
    learning rate), ``seeds`` and optionally a :class:`RandomSearch` (``n`` samples from ranges,
    log-uniform for ``lr``, seeded; crossed with the grid).  The seed of a cell sets both the model's seed
    (initial weights, dropout masks) and the batch order.  A spec is plain data:
    :meth:`SweepSpec.to_dict` / :meth:`SweepSpec.from_dict` round-trip through JSON.

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
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from gru_core.config import (
    SETTINGS,
    SWEEP_SETTINGS,
    Contestant,
    DataConfig,
    GRUConfig,
    RunConfig,
    TrainConfig,
    canonical_name,
    check_value,
    parse_value,
)  # fmt: skip
from gru_core.jsonio import canonical_json, short_hash
from gru_core.optim import make_optimizer

__all__ = ["GRID_FIELDS", "Cell", "RandomSearch", "SweepSpec", "cells", "coerce_value", "parse_grid",
           "parse_space", "sample_space"]  # fmt: skip

GRID_FIELDS = (*SWEEP_SETTINGS, "lr")  # what a grid or a random search may range over
_TRAIN_IGNORED = ("seed", "log_every", "gate_window")  # per cell / no effect on the numbers
_HIDDEN_DATA = ("units",)  # display-only data settings: in a cell's identity only when set


def _hash(obj: Any) -> str:
    return short_hash(obj)


def _data_dict(data: DataConfig) -> dict:
    """A data configuration as plain data (``units`` only when given: it names, it does not compute)."""
    d = {**asdict(data), "split": list(data.split)}
    for k in _HIDDEN_DATA:
        if not d.get(k):
            d.pop(k, None)
    return d


def _is_int(name: str) -> bool:
    return name in SETTINGS and SETTINGS[name].kind == "int"


def _field_name(name: str) -> str:
    name = canonical_name(name)
    if name not in GRID_FIELDS:
        hint = " (seeds are given by `seeds`)" if name == "seed" else ""
        raise ValueError(f"cannot sweep over {name!r}{hint}; choose from: {', '.join(GRID_FIELDS)}")
    return name


def coerce_value(name: str, value: Any) -> Any:
    """A grid value as its setting wants it (so 32, 32.0 and "32" make the same cell); ValueError if wrong."""
    if name == "lr":
        try:
            f = float(value)
        except (TypeError, ValueError):
            f = math.nan
        if isinstance(value, bool) or not math.isfinite(f) or f <= 0:
            raise ValueError(f"lr must be a positive number, got {value!r}")
        return f
    v = parse_value(name, value)
    return list(v) if isinstance(v, tuple) else v


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``["lr=0.01,0.001", "split=0.8,0.1,0.1;0.7,0.15,0.15"]`` → ``{"lr": [...], "split": [...]}``.

    Values are separated by commas, or by semicolons when there is one (for ``split``)."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--grid takes KEY=V1,V2,…, got {item!r}")
        parts = values.split(";") if ";" in values else values.split(",")
        key = key.strip()
        if key in grid:
            raise ValueError(f"--grid {key} given twice")
        grid[key] = [p.strip() for p in parts if p.strip()]
    return grid


def parse_space(items: list[str] | None) -> dict[str, dict]:
    """``KEY=LOW:HIGH[:log][:lin][:int]`` (a range) or ``KEY=A|B|C`` (choices) → a RandomSearch space."""
    space: dict[str, dict] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ValueError(f"--space takes KEY=LOW:HIGH[:log][:int] or KEY=A|B|C, got {item!r}")
        if "|" in text:
            space[key] = {"choices": [t.strip() for t in text.split("|") if t.strip()]}
            continue
        parts = [p.strip() for p in text.split(":")]
        if len(parts) < 2:
            raise ValueError(f"--space {key}: give LOW:HIGH, got {text!r}")
        dim: dict = {"low": parts[0], "high": parts[1]}
        for flag in parts[2:]:
            if flag == "log":
                dim["log"] = True
            elif flag in ("lin", "linear"):
                dim["log"] = False
            elif flag == "int":
                dim["int"] = True
            else:
                raise ValueError(f"--space {key}: unknown flag {flag!r} (log, lin, int)")
        space[key] = dim
    return space


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
            space[name] = {"low": low, "high": high, "log": log, "int": bool(dim.get("int", _is_int(name)))}
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


@dataclass
class SweepSpec:
    """What to sweep (see the module docstring).  ``seeds`` may be an int n, meaning seeds 0..n-1."""

    data: DataConfig = field(default_factory=DataConfig)
    model: GRUConfig = field(default_factory=GRUConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    contestants: list = field(default_factory=lambda: [Contestant("adam"), Contestant("rmsprop")])
    grid: dict = field(default_factory=dict)
    seeds: Any = field(default_factory=lambda: [0])
    search: RandomSearch | None = None
    name: str = ""

    def __post_init__(self):
        if isinstance(self.data, str):
            self.data = DataConfig(self.data)
        elif isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        for name in SETTINGS:
            if SETTINGS[name].section == "data" and name not in ("source", "params"):
                setattr(self.data, name, parse_value(name, getattr(self.data, name)))
        if isinstance(self.model, dict):
            self.model = GRUConfig(**self.model)
        if isinstance(self.train, dict):
            self.train = TrainConfig(**self.train)
        if isinstance(self.search, dict):
            self.search = RandomSearch(**self.search)
        self.contestants = [Contestant.coerce(o) for o in self.contestants]
        if not self.contestants:
            raise ValueError("optimizers: give at least one")
        labels = [c.name for c in self.contestants]
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
            "data": _data_dict(self.data),
            "model": asdict(self.model),
            "train": asdict(self.train),
            "contestants": [asdict(c) for c in self.contestants],
            "grid": {k: list(v) for k, v in self.grid.items()},
            "seeds": list(self.seeds),
            "search": None if self.search is None else asdict(self.search),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        d = dict(d)
        if "optimizers" in d and "contestants" not in d:  # the name before the one run configuration
            d["contestants"] = d.pop("optimizers")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"key"}
        if unknown:
            raise ValueError(f"unknown sweep spec field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_run(cls, base: RunConfig, grid: dict | None = None, search: RandomSearch | dict | None = None,
                 name: str = "") -> SweepSpec:  # fmt: skip
        """A sweep around one run configuration: its settings are the base, its seeds the seeds."""
        model = replace(base.model, output_size=base.data.horizon)  # as the model will be built
        return cls(data=base.data, model=model, train=base.train, contestants=list(base.contestants),
                   grid=dict(grid or {}), seeds=list(base.seeds), search=search, name=name)  # fmt: skip

    @property
    def base(self) -> RunConfig:
        """The base configuration as a :class:`RunConfig` (the grid's first point is not applied)."""
        return RunConfig(data=self.data, model=self.model, train=self.train, contestants=list(self.contestants),
                         seeds=list(self.seeds))  # fmt: skip

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
        d["optimizers"] = d.pop("contestants")  # hashed as before the rename, so stored sweeps resume
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
    data: dict  # DataConfig fields
    model: dict  # GRUConfig fields (seed = the cell's seed)
    train: dict  # TrainConfig fields (seed = the cell's seed)
    contestants: list  # Contestant fields, labels filled in, the swept lr applied
    key: str = ""
    config_key: str = ""

    def identity(self, seed: bool = True) -> dict:
        """What the keys hash (``seed=False``: without the seeds, for ``config_key``)."""
        model, train = dict(self.model), dict(self.train)
        if not seed:
            model.pop("seed")
            train.pop("seed")
        return {"data": self.data, "model": model, "train": train, "optimizers": self.contestants}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Cell:
        return cls(**d)


def _cell(index: int, seed: int, params: dict, spec: SweepSpec) -> Cell:
    data = _data_dict(spec.data)
    model = asdict(spec.model)
    train = {k: v for k, v in asdict(spec.train).items() if k not in _TRAIN_IGNORED}
    lr = None
    for name, value in params.items():
        if name == "lr":
            lr = value
        elif SETTINGS[name].section == "data":
            data[name] = value
        elif SETTINGS[name].section == "model":
            model[name] = value
        else:
            train[name] = value
    model.update(input_size=1, output_size=int(data["horizon"]), seed=int(seed))
    train["seed"] = int(seed)
    opts = []
    for c in spec.contestants:
        hyper = dict(c.hyper) if lr is None else {**c.hyper, "lr": lr}
        opts.append({"optimizer": c.optimizer, "flavor": c.flavor, "hyper": hyper, "label": c.name})
    cell = Cell(index, int(seed), dict(params), data, model, train, opts)
    cell.key = _hash(cell.identity())
    cell.config_key = _hash(cell.identity(seed=False))
    return cell


def _validate_cell(cell: Cell, checked: set) -> None:
    model_sig = canonical_json(cell.model)
    if model_sig not in checked:  # the settings only: building the model could allocate gigabytes
        for name, value in cell.model.items():
            if name in SETTINGS and not SETTINGS[name].internal:
                check_value(name, value)
        checked.add(model_sig)
    TrainConfig(**cell.train).validate()
    for o in cell.contestants:
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
