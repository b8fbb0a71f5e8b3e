"""The one description of a run: data, model, training, contestants, seeds, and its one validation.

Every interface converts to and from :class:`RunConfig`; none keeps its own list of settings:

* the command line builds its options from :data:`SETTINGS` (``gru_core.cli.options``),
* the URL of the race page is :func:`to_query` / :func:`from_query`,
* a sweep's grid may range over any setting whose ``sweep`` is true (``gru_core.sweep.spec``),
* a model file records ``RunConfig.to_dict()`` (``gru_core.model.files``),
* the sweep form and the race page's widgets read and write the same field names.

A *setting* is one field of :class:`DataConfig`, :class:`GRUConfig` or :class:`TrainConfig`; its name is
the same everywhere (``hidden_size``, never ``hidden`` or ``units``: those are accepted as old spellings,
:data:`ALIASES`, and turned into the one name on the way in).  Its kind, choices, bounds, help text and
command-line spelling are declared once, next to its default, in the dataclass field (:func:`_setting`).

To add a training setting: add one field to :class:`TrainConfig` below (default, comment, ``_setting``);
the command line, the URL, the sweep grid, model files and the tests that enumerate :data:`SETTINGS`
pick it up.  Use it in ``gru_core.train.race``.

No NumPy arrays, no I/O here: plain values, text in and out.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from gru_core.optim import OPTIMIZERS

__all__ = [
    "ALIASES",
    "SETTINGS",
    "Contestant",
    "DataConfig",
    "GRUConfig",
    "RunConfig",
    "Setting",
    "TrainConfig",
    "canonical_name",
    "contestant_labels",
    "format_contestant",
    "format_interventions",
    "format_value",
    "from_query",
    "parse_contestant",
    "parse_interventions",
    "parse_params",
    "parse_seeds",
    "parse_value",
    "to_query",
]

SCALERS = ("minmax", "standard", "none")
SPLIT_BY = ("windows", "series")
FIT_SCALER_ON = ("train", "all")
VARIANTS = ("pytorch", "classic")
INITS = ("pytorch", "keras")
DTYPES = ("float64", "float32")
SCHEDULES = ("constant", "step", "cosine")
FLAVORS = ("pytorch", "keras")

MAX_SEEDS = 1000  # seeds a configuration may name
MAX_QUERY_CHARS = 300  # a longer URL value is ignored
MAX_CONTESTANTS = 6  # optimizers racing at once
MAX_INTERVENTIONS = 50  # learning-rate changes a link may replay
MAX_INTERVENTION_CHARS = 3000


def _setting(default: Any = MISSING, help: str = "", *, kind: str, factory: Any = MISSING, choices=(),
             low: float | None = None, high: float | None = None, limit: float | None = None,
             nullable: bool = False, cli: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
             sweep: bool = True, internal: bool = False) -> Any:  # fmt: skip
    """A dataclass field that is also a setting.

    ``kind``: int | float | bool | choice | split | str | params.  ``low``/``high``: what the engine
    accepts; ``limit``: the largest value a web page or a link may ask for (classroom-sized, so one visitor
    cannot take the server).  ``nullable``: ``None`` means off (text: "none", "off", or 0 when 0 is below
    ``low``).  ``cli``: extra command-line spellings; ``aliases``: old names accepted in URLs, grids and
    files.  ``sweep``: a sweep's grid may range over it.  ``internal``: set by the engine, not a choice of
    the user (no option, no URL parameter)."""
    meta = {"kind": kind, "help": help, "choices": tuple(choices), "low": low, "high": high, "limit": limit,
            "nullable": nullable, "cli": tuple(cli), "aliases": tuple(aliases), "sweep": sweep,
            "internal": internal}  # fmt: skip
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# ----------------------------------------------------------------------------------------------------------
# the three parts of a run
# ----------------------------------------------------------------------------------------------------------


@dataclass
class DataConfig:
    """Where the series comes from and how it is windowed, split and scaled (``gru_core.data.prepare``)."""

    # a dataset key (see `python -m gru_core datasets`) or a CSV path; the page uses "csv" for an upload
    source: str = _setting("noisy_sine", "dataset name or CSV path", kind="str", cli=("--data",),
                           aliases=("data",), sweep=False)  # fmt: skip
    # dataset parameters (dataset keys only), e.g. {"length": 500, "noise": 0.1}
    params: dict = _setting(help="dataset parameters", kind="params", factory=dict, sweep=False,
                            cli=("--data-param",))  # fmt: skip
    # CSV: the value column (None: the last numeric one) and the date column (None: detected)
    column: str | None = _setting(None, "CSV value column (default: the last numeric one)", kind="str",
                                  nullable=True, aliases=("col", "csv_value"), sweep=False)  # fmt: skip
    date_column: str | None = _setting(None, "CSV date column (default: detected)", kind="str", nullable=True,
                                       aliases=("date", "csv_date"), sweep=False)  # fmt: skip
    units: str = _setting("", "units of the values, for axis titles (CSV; a dataset knows its own)", kind="str",
                          sweep=False)  # fmt: skip
    lookback: int = _setting(20, "time steps the GRU reads per window", kind="int", low=1, limit=200)
    horizon: int = _setting(1, "values forecast per window (the model's outputs)", kind="int", low=1, limit=50)
    # train, validation, test fractions (chronological)
    split: tuple = _setting((0.8, 0.1, 0.1), "train,val,test fractions", kind="split")
    # "windows": cut the window list; "series": cut the rows first, then window each part (the study)
    split_by: str = _setting("windows", "'series' splits the rows first, then windows each part (the study)",
                             kind="choice", choices=SPLIT_BY, aliases=("splitby",))  # fmt: skip
    scaler: str = _setting("minmax", "how the values are scaled", kind="choice", choices=SCALERS)
    # "train": fit the scaler on the training part; "all" reproduces the study's leakage
    fit_scaler_on: str = _setting("train", "'all' reproduces the original study (leaks the test period's range)",
                                  kind="choice", choices=FIT_SCALER_ON, aliases=("fit", "fit_on"))  # fmt: skip

    def __post_init__(self):
        self.params = dict(self.params or {})
        self.split = tuple(self.split)


@dataclass(frozen=True)
class GRUConfig:
    """The model's configuration (what a saved model or a shared URL must carry)."""

    input_size: int = _setting(1, "features per time step", kind="int", low=1, internal=True)
    hidden_size: int = _setting(32, "GRU units per layer", kind="int", low=1, limit=256,
                                cli=("--hidden",), aliases=("hidden",))  # fmt: skip
    output_size: int = _setting(1, "values predicted (the horizon)", kind="int", low=1, internal=True)
    num_layers: int = _setting(1, "stacked GRU layers", kind="int", low=1, limit=3, cli=("--layers",),
                               aliases=("layers",))  # fmt: skip
    # "pytorch" (reset_after, cuDNN, Keras reset_after=True) or "classic" (Cho et al. 2014)
    variant: str = _setting("pytorch", "candidate-state equation", kind="choice", choices=VARIANTS)
    # "pytorch": uniform ±1/√H; "keras": glorot / orthogonal / zeros
    init: str = _setting("pytorch", "weight initialisation", kind="choice", choices=INITS)
    dropout: float = _setting(0.0, "inverted dropout on the last hidden state, training only", kind="float",
                              low=0.0, high=0.9)  # fmt: skip
    dtype: str = _setting("float64", "floating-point type", kind="choice", choices=DTYPES)
    seed: int = _setting(0, "initial weights and dropout masks", kind="int", internal=True)


@dataclass
class TrainConfig:
    """How to train (shared by every contestant)."""

    epochs: int = _setting(100, "passes over the training windows", kind="int", low=1, limit=2000)
    batch_size: int = _setting(32, "windows per mini-batch", kind="int", low=1, limit=1024,
                               aliases=("batch",))  # fmt: skip
    # early stopping after this many epochs without a better validation loss; None: off
    patience: int | None = _setting(None, "early stopping patience (default: off)", kind="int", low=1, limit=500,
                                    nullable=True)  # fmt: skip
    # at the end, go back to the best-validation weights (Keras's default: False)
    restore_best: bool = _setting(True, "restore the best-validation weights at the end (the study did not)",
                                  kind="bool", aliases=("restore",))  # fmt: skip
    clip_norm: float | None = _setting(None, "global gradient-norm clipping (default: off)", kind="float",
                                       low=1e-12, limit=1000.0, nullable=True, cli=("--clip",),
                                       aliases=("clip",))  # fmt: skip
    shuffle: bool = _setting(True, "reshuffle the windows every epoch (same order for every contestant)",
                             kind="bool")  # fmt: skip
    seed: int = _setting(0, "batch order", kind="int", internal=True)
    schedule: str = _setting("constant", "learning-rate schedule", kind="choice", choices=SCHEDULES)
    step_every: int = _setting(30, "'step' schedule: multiply the lr by step_gamma every this many epochs",
                               kind="int", low=1, limit=2000)  # fmt: skip
    step_gamma: float = _setting(0.5, "'step' schedule: the factor", kind="float", low=1e-12, high=1.0)
    # also emit a "step" event every this many mini-batches; 0: epoch events only (no effect on the numbers)
    log_every: int = _setting(0, "step events every this many mini-batches", kind="int", low=0, internal=True)
    divergence_factor: float = _setting(1e4, "a loss above this × the first loss counts as diverged",
                                        kind="float", low=1.0)  # fmt: skip
    # which validation window the gate snapshots show (no effect on the numbers)
    gate_window: int = _setting(0, "validation window of the gate snapshots", kind="int", low=0, internal=True)

    def validate(self) -> None:
        for s in SETTINGS.values():
            if s.section == "train":
                check_value(s.name, getattr(self, s.name))
        if not self.divergence_factor > 1:
            raise ValueError(f"divergence_factor must be > 1, got {self.divergence_factor!r}")
        if self.step_gamma <= 0:
            raise ValueError(f"step_gamma must be in (0, 1], got {self.step_gamma!r}")


@dataclass
class Contestant:
    """One optimizer in the race: a registry name, a flavour and hyperparameters."""

    optimizer: str  # registry key: sgd, adagrad, rmsprop, adam, adamw, …
    flavor: str = "pytorch"  # "pytorch" or "keras" (where Keras's formulas differ)
    hyper: dict = field(default_factory=dict)  # e.g. {"lr": 0.01}; missing ones take the flavour's defaults
    label: str | None = None  # shown on the page; default "Adam", "RMSprop (keras)", …

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        spec = OPTIMIZERS.get(self.optimizer.lower())
        base = spec.name if spec else self.optimizer
        return base if self.flavor == "pytorch" else f"{base} ({self.flavor})"

    def full_hyper(self) -> dict[str, Any]:
        """The flavour's registry defaults, overridden by ``hyper`` (only the flavour's own names)."""
        defaults = OPTIMIZERS[self.optimizer].defaults(self.flavor)
        return {k: self.hyper.get(k, v) for k, v in defaults.items()}

    @classmethod
    def coerce(cls, o: Any) -> Contestant:
        """A Contestant from a Contestant, a name, a dict or ``(name, flavor, hyper, label)``; checked."""
        if isinstance(o, Contestant):
            c = Contestant(o.optimizer, o.flavor, dict(o.hyper), o.label)
        elif isinstance(o, str):
            c = Contestant(o)
        elif isinstance(o, Mapping):
            c = Contestant(**o)
        elif isinstance(o, (list, tuple)) and 1 <= len(o) <= 4:
            c = Contestant(*o)
        else:
            raise ValueError(f"an optimizer is a Contestant, a name, a dict or (name, flavor, hyper), got {o!r}")
        c.optimizer = str(c.optimizer).strip().lower()
        c.hyper = dict(c.hyper or {})
        if c.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {c.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        if c.flavor not in OPTIMIZERS[c.optimizer].flavors:
            raise ValueError(f"{c.optimizer} has no {c.flavor!r} flavour; it has {OPTIMIZERS[c.optimizer].flavors}")
        return c


def contestant_labels(contestants: list[Contestant]) -> list[str]:
    """Distinct display labels: "Adam", "RMSprop (keras)", and "Adam #2" for a second Adam."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for c in contestants:
        base = Contestant(c.optimizer, flavor=c.flavor, label=c.label).name
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base} #{seen[base]}"
        while label in labels:
            seen[base] += 1
            label = f"{base} #{seen[base]}"
        labels.append(label)
    return labels


# ----------------------------------------------------------------------------------------------------------
# the settings table
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting of a run, as every interface sees it (read from the dataclass field)."""

    name: str
    section: str  # "data" | "model" | "train"
    default: Any
    kind: str
    help: str
    choices: tuple
    low: float | None
    high: float | None
    limit: float | None
    nullable: bool
    cli: tuple[str, ...]
    aliases: tuple[str, ...]
    sweep: bool
    internal: bool

    @property
    def flag(self) -> str:
        """The command-line option: ``--hidden-size``."""
        return "--" + self.name.replace("_", "-")


SECTIONS = {"data": DataConfig, "model": GRUConfig, "train": TrainConfig}


def _settings() -> dict[str, Setting]:
    out: dict[str, Setting] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if f.name in out and not f.metadata.get("internal"):
                raise RuntimeError(f"setting {f.name!r} is declared twice")
            if f.name in out:  # "seed" lives in the model and in training: one user-facing value, the run's
                continue
            default = f.default_factory() if f.default is MISSING else f.default
            out[f.name] = Setting(name=f.name, section=section, default=default, **dict(f.metadata))
    return out


SETTINGS: dict[str, Setting] = _settings()
assert not {a for s in SETTINGS.values() for a in s.aliases} & set(SETTINGS), "an alias is a setting's name"
USER_SETTINGS = tuple(n for n, s in SETTINGS.items() if not s.internal)
SWEEP_SETTINGS = tuple(n for n in USER_SETTINGS if SETTINGS[n].sweep)
ALIASES: dict[str, str] = {a: s.name for s in SETTINGS.values() for a in s.aliases}
ALIASES.update({"learning_rate": "lr"})


def canonical_name(name: str) -> str:
    """The one name of a setting (``hidden`` → ``hidden_size``); unknown names come back unchanged."""
    name = str(name).strip()
    return ALIASES.get(name, name)


# ----------------------------------------------------------------------------------------------------------
# values as text: one parser for URLs, grids, forms and command-line options
# ----------------------------------------------------------------------------------------------------------


def format_value(v: Any) -> str:
    """A value as the shortest exact text (``0.001``, ``32``, ``1``/``0`` for booleans, ``none``)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(float(v)) if not v.is_integer() else str(int(v)) if abs(v) < 1e15 else repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join(format_value(x) for x in v)
    return str(v)


def _number(kind: str, value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        t = value.strip()
        if len(t) > 32:
            raise ValueError
        value = float(t) if kind == "float" or any(c in t for c in ".eE") else int(t)
    f = float(value)
    if not math.isfinite(f):
        raise ValueError
    if kind == "int":
        if not f.is_integer():
            raise ValueError
        return int(f)
    return f


def _bounds_text(s: Setting, high: float | None) -> str:
    lo = "" if s.low is None else format_value(s.low)
    hi = "" if high is None else format_value(high)
    return f"in {lo}…{hi}" if hi else f"≥ {lo}"


def parse_value(name: str, value: Any, limit: bool = False) -> Any:
    """A setting's value from text or from a Python value, checked; ValueError saying what is wrong.

    ``limit=True`` also applies the page's classroom limits (for values coming from a URL or a form)."""
    s = SETTINGS[name]
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "off", "")):
        if s.nullable:
            return None
        if value is not None and s.kind == "str":
            return ""
        raise ValueError(f"{name} cannot be empty")
    try:
        if s.kind in ("int", "float"):
            v = _number(s.kind, value)
            if s.nullable and s.low is not None and v == 0 and 0 < s.low:
                return None  # "0: off", as the page's sliders say
        elif s.kind == "bool":
            if isinstance(value, str):
                t = value.strip().lower()
                if t not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError
                return t in ("1", "true", "yes", "on")
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise ValueError
            return bool(value)
        elif s.kind == "split":
            parts = value.split(",") if isinstance(value, str) else list(value)
            if len(parts) != 3:
                raise ValueError
            v = tuple(_number("float", p) for p in parts)
            if abs(sum(v) - 100) < 1e-9 and max(v) > 1:  # percentages, as older links wrote them
                v = tuple(p / 100 for p in v)
            if any(p < 0 for p in v) or v[0] <= 0 or v[2] <= 0 or abs(sum(v) - 1) > 1e-6:
                raise ValueError
            return v
        elif s.kind == "choice":
            v = str(value).strip().lower()
            if v not in s.choices:
                raise ValueError
            return v
        elif s.kind == "params":
            if not isinstance(value, Mapping):
                raise ValueError
            return dict(value)
        else:
            v = str(value)
            if not v.isprintable() or len(v) > 500:
                raise ValueError
            return v
    except (TypeError, ValueError, OverflowError):
        what = {"int": "a whole number", "float": "a number", "bool": "true/false (1/0)",
                "split": "three fractions that sum to 1, like 0.8,0.1,0.1 (train and test > 0)",
                "choice": "one of " + "/".join(s.choices), "params": "a dict",
                "str": "printable text"}[s.kind]  # fmt: skip
        raise ValueError(f"{name} must be {what}, got {_short(value)}") from None
    high = s.limit if limit and s.limit is not None else s.high
    if (s.low is not None and v < s.low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {_bounds_text(s, high)}, got {format_value(v)}")
    return v


def check_value(name: str, value: Any) -> None:
    """Raise ValueError if ``value`` (a Python value, not text) is not valid for the setting."""
    s = SETTINGS[name]
    if s.kind in ("int", "float") and value is not None:
        ok = numbers.Integral if s.kind == "int" else numbers.Real
        if isinstance(value, bool) or not isinstance(value, ok):
            what = "an integer" if s.kind == "int" else "a number"
            raise ValueError(f"{name} must be {what}, got {value!r}")
        if s.nullable and value == 0:
            raise ValueError(f"{name} must be {_bounds_text(s, s.high)} or None (off), got {value!r}")
    parse_value(name, value)


def _short(v: Any, n: int = 40) -> str:
    s = "".join(ch if ch.isprintable() else "?" for ch in str(v))
    return repr(s if len(s) <= n else s[:n] + "…")


def parse_seeds(text: Any) -> list[int]:
    """``"3"`` → seeds 0, 1, 2; ``"1-5"`` → 1…5; ``"1,7,9"`` → those; a list or an int count as such."""
    if isinstance(text, (list, tuple)):
        seeds = [_number("int", s) for s in text]
    else:
        t = str(text).strip()
        try:
            if "," in t:
                seeds = [int(x) for x in t.split(",") if x.strip()]
            elif "-" in t.lstrip("-"):
                a, b = t.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo >= MAX_SEEDS:
                    raise ValueError
                seeds = list(range(lo, hi + 1))
            else:
                n = int(t)
                if not 1 <= n <= MAX_SEEDS:
                    raise ValueError
                seeds = list(range(n))
        except ValueError:
            raise ValueError(f"seeds: a count (3), a range (1-5) or a list (1,7,9), got {_short(text)}") from None
    if not seeds or len(set(seeds)) != len(seeds) or len(seeds) > MAX_SEEDS or any(s < 0 for s in seeds):
        raise ValueError(f"seeds: give distinct integers ≥ 0 (at most {MAX_SEEDS}), got {_short(text)}")
    return seeds


def parse_params(items: list[str] | None, option: str = "--data-param") -> dict:
    """Dataset parameters ``["length=500", "noise=0.1"]`` → ``{"length": 500, "noise": 0.1}`` (JSON values,
    else strings)."""
    out: dict = {}
    for item in items or []:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{option} takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def format_seeds(seeds: list[int]) -> str:
    """The shortest text :func:`parse_seeds` reads back: ``3`` for 0..2, ``1-5``, or ``1,7,9``."""
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds) + ("," if len(seeds) == 1 else "")


# ----------------------------------------------------------------------------------------------------------
# contestants and learning-rate changes as text
# ----------------------------------------------------------------------------------------------------------


def format_contestant(c: Contestant) -> str:
    """``adam``, ``rmsprop:keras``, ``adam:lr=0.003,amsgrad=1``: registry key, flavour if not pytorch, and
    every hyperparameter that differs from the flavour's registry default, plus ``lr`` always."""
    defaults = OPTIMIZERS[c.optimizer].defaults(c.flavor)
    parts = [c.optimizer] + ([c.flavor] if c.flavor != "pytorch" else [])
    hyper = []
    for name, default in defaults.items():
        v = c.hyper.get(name, default)
        if name == "lr" or v != default:
            hyper.append(f"{name}={format_value(v)}")
    if hyper:
        parts.append(",".join(hyper))
    return ":".join(parts)


def _hyper_value(hp: Any, text: str) -> Any:
    t = text.strip()
    if hp.kind == "bool":
        low = t.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("not 0/1")
    try:
        v = _number(hp.kind, t)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("not a whole number" if hp.kind == "int" else "not a finite number") from None
    if not hp.low <= v <= hp.high:
        raise ValueError(f"outside {format_value(hp.low)}…{format_value(hp.high)}")
    return v


def parse_contestant(text: str) -> tuple[Contestant | None, list[str]]:
    """One contestant from :func:`format_contestant`'s text; unknown parts are dropped and reported."""
    notes: list[str] = []
    parts = str(text).strip().split(":")
    key = parts[0].strip().lower()
    if key not in OPTIMIZERS:
        return None, [f"opt={_short(text)[1:-1]} (unknown optimizer; known: {', '.join(OPTIMIZERS)})"]
    spec = OPTIMIZERS[key]
    flavor = "pytorch"
    rest = parts[1:]
    if rest and "=" not in rest[0]:
        fl = rest.pop(0).strip().lower()
        if fl in spec.flavors:
            flavor = fl
        else:
            notes.append(f"opt={_short(text)[1:-1]}: flavour {_short(fl, 20)} (using pytorch)")
    defaults = spec.defaults(flavor)
    hp_specs = {hp.name: hp for hp in spec.hyperparams}
    hyper = dict(defaults)
    for item in (",".join(rest).split(",") if rest else []):
        if not item.strip():
            continue
        name, sep, val = item.partition("=")
        name = name.strip()
        if not sep or name not in defaults:
            notes.append(f"opt={key}: {_short(item, 30)[1:-1]} (unknown hyperparameter for {spec.name} {flavor})")
            continue
        try:
            hyper[name] = _hyper_value(hp_specs[name], val)
        except ValueError as exc:
            notes.append(f"opt={key}: {name}={_short(val, 20)[1:-1]} ({exc})")
    return Contestant(key, flavor, hyper), notes


def format_interventions(interventions: list[Mapping[str, Any]]) -> str:
    """``Adam@123:0.05;RMSprop (keras)@400:0.002``: label, first step with the new value, the value (exact)."""
    return ";".join(f"{iv['optimizer']}@{int(iv['step'])}:{format_value(float(iv['new']))}" for iv in interventions)


def lr_bounds(c: Contestant) -> tuple[float, float]:
    """The learning rate's allowed range for this optimizer (the registry's)."""
    hp = next((h for h in OPTIMIZERS[c.optimizer].hyperparams if h.name == "lr"), None)
    return (float(hp.low), float(hp.high)) if hp is not None else (0.0, math.inf)


def parse_interventions(text: str, contestants: list[Contestant]) -> tuple[list[dict[str, Any]], list[str]]:
    """Learning-rate changes from :func:`format_interventions`'s text, for these contestants.

    Never raises: an item with an unknown label, a step that is not a whole number ≥ 1, or a value that is
    not a learning rate the optimizer accepts is dropped and reported."""
    notes: list[str] = []
    out: list[dict[str, Any]] = []
    if len(text) > MAX_INTERVENTION_CHARS:
        return [], [f"iv={_short(text)[1:-1]} (too long)"]
    labels = contestant_labels(contestants)
    bounds = {label: lr_bounds(c) for label, c in zip(labels, contestants)}
    for item in text.split(";"):
        if not item.strip():
            continue
        label, at, rest = item.rpartition("@")
        label = label.strip()
        step_txt, colon, value_txt = rest.partition(":")
        if not at or not colon:
            notes.append(f"iv={_short(item)[1:-1]} (expected optimizer@step:learning-rate, e.g. Adam@120:0.05)")
            continue
        if label not in bounds:
            known = ", ".join(labels)
            notes.append(f"iv={_short(item)[1:-1]} (no contestant called {_short(label, 20)} here; known: {known})")
            continue
        if len(out) >= MAX_INTERVENTIONS:
            notes.append(f"iv={_short(item)[1:-1]} (more than {MAX_INTERVENTIONS} changes)")
            continue
        try:
            t = step_txt.strip()
            if not t.isdigit() or len(t) > 10 or int(t) < 1:
                raise ValueError("not a whole number ≥ 1")
            low, high = bounds[label]
            value = _number("float", value_txt)
            if not low <= value <= high:
                raise ValueError(f"outside {format_value(low)}…{format_value(high)}")
        except ValueError as exc:
            notes.append(f"iv={_short(item)[1:-1]} ({exc or 'not a finite number'})")
            continue
        out.append({"step": int(t), "optimizer": label, "field": "lr", "new": float(value)})
    return out, notes


# ----------------------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------------------


def _default_contestants() -> list[Contestant]:
    return [Contestant("adam"), Contestant("rmsprop")]


@dataclass
class RunConfig:
    """Everything that decides a run.  Same configuration ⇒ same numbers, bit for bit (everything is seeded).

    ``seeds``: each seed races every contestant in lockstep from its own initial weights and batches.
    ``interventions``: learning-rate changes replayed at a given step ``{"step", "optimizer", "field", "new"}``.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: GRUConfig = field(default_factory=GRUConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    contestants: list = field(default_factory=_default_contestants)
    seeds: list = field(default_factory=lambda: [0])
    interventions: list = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.data, Mapping):
            self.data = DataConfig(**_known(DataConfig, self.data))
        if isinstance(self.model, Mapping):
            self.model = GRUConfig(**_known(GRUConfig, self.model))
        if isinstance(self.train, Mapping):
            self.train = TrainConfig(**_known(TrainConfig, self.train))
        self.contestants = [Contestant.coerce(c) for c in self.contestants]
        self.seeds = parse_seeds(self.seeds) if not isinstance(self.seeds, int) else list(range(self.seeds))
        self.interventions = [dict(iv) for iv in self.interventions]

    # ---- settings by name --------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The first seed (the one a single race uses)."""
        return self.seeds[0]

    @property
    def labels(self) -> list[str]:
        return contestant_labels(self.contestants)

    def get(self, name: str) -> Any:
        s = SETTINGS[canonical_name(name)]
        return getattr(getattr(self, s.section), s.name)

    def values(self, internal: bool = False) -> dict[str, Any]:
        """``{setting name: value}`` of every user setting (``internal``: and the engine's own)."""
        return {n: self.get(n) for n, s in SETTINGS.items() if internal or not s.internal}

    def replace(self, **values: Any) -> RunConfig:
        """A copy with settings changed by name (old names accepted), each value parsed and checked."""
        parts: dict[str, dict] = {"data": {}, "model": {}, "train": {}}
        for raw, v in values.items():
            name = canonical_name(raw)
            if name not in SETTINGS:
                raise ValueError(f"unknown setting {raw!r}; known: {', '.join(USER_SETTINGS)}")
            parts[SETTINGS[name].section][name] = parse_value(name, v)
        return RunConfig(
            data=replace(self.data, **parts["data"]), model=replace(self.model, **parts["model"]),
            train=replace(self.train, **parts["train"]), contestants=[Contestant.coerce(c) for c in self.contestants],
            seeds=list(self.seeds), interventions=[dict(iv) for iv in self.interventions],
        )  # fmt: skip

    def validate(self, limit: bool = False) -> None:
        """Raise ValueError naming the first setting that is wrong (``limit``: also the page's limits)."""
        for name in SETTINGS:
            parse_value(name, self.get(name), limit=limit and not SETTINGS[name].internal)
        self.train.validate()
        if not self.contestants:
            raise ValueError("give at least one optimizer")
        if limit and len(self.contestants) > MAX_CONTESTANTS:
            raise ValueError(f"at most {MAX_CONTESTANTS} optimizers race at once")
        labels = self.labels
        if len(set(labels)) != len(labels):
            raise ValueError(f"optimizers need distinct labels, got {labels}")

    # ---- what the engine builds ----------------------------------------------------------------------

    def model_config(self, seed: int | None = None, input_size: int = 1) -> GRUConfig:
        """The GRU's configuration for one seed (output size = the horizon)."""
        return replace(self.model, input_size=input_size, output_size=self.data.horizon,
                       seed=self.seed if seed is None else int(seed))  # fmt: skip

    def train_config(self, seed: int | None = None, **engine: Any) -> TrainConfig:
        """How to train with one seed (``engine``: log_every, gate_window)."""
        return replace(self.train, seed=self.seed if seed is None else int(seed), **engine)

    def race_contestants(self) -> list[Contestant]:
        """The contestants with their full hyperparameters and distinct labels."""
        return [Contestant(c.optimizer, c.flavor, c.full_hyper(), label)
                for c, label in zip(self.contestants, self.labels)]  # fmt: skip

    # ---- plain data --------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": {**asdict(self.data), "split": list(self.data.split)},
            "model": asdict(self.model),
            "train": asdict(self.train),
            "contestants": [asdict(c) for c in self.contestants],
            "seeds": list(self.seeds),
            "interventions": [dict(iv) for iv in self.interventions],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        """The inverse of :meth:`to_dict`; old names inside the sections are accepted."""
        def section(name, cls_):
            raw = {canonical_name(k): v for k, v in dict(d.get(name) or {}).items()}
            return cls_(**_known(cls_, raw))

        return cls(
            data=section("data", DataConfig), model=section("model", GRUConfig), train=section("train", TrainConfig),
            contestants=list(d.get("contestants") or _default_contestants()), seeds=d.get("seeds", [0]),
            interventions=list(d.get("interventions") or []),
        )  # fmt: skip


def _known(cls: type, d: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(names)}")
    return dict(d)


# ----------------------------------------------------------------------------------------------------------
# the run as URL query parameters
# ----------------------------------------------------------------------------------------------------------

QUERY_CONTESTANTS = "opt"  # one value per contestant, see format_contestant
QUERY_INTERVENTIONS = "iv"  # see format_interventions
QUERY_SEEDS = "seeds"  # see format_seeds
_QUERY_OLD = {"seed": QUERY_SEEDS}  # a single seed, as older links wrote it


def to_query(cfg: RunConfig, skip: tuple[str, ...] = ()) -> dict[str, str | list[str]]:
    """Every user setting as ``{name: text}`` (so a link does not depend on defaults), plus the contestants,
    the seeds and the learning-rate changes.  Empty text settings are left out."""
    out: dict[str, str | list[str]] = {}
    for name in USER_SETTINGS:
        if name in skip:
            continue
        v = cfg.get(name)
        if SETTINGS[name].kind == "params":
            out.update({f"{name}.{k}": format_value(x) for k, x in sorted(v.items())})
            continue
        if SETTINGS[name].kind == "str" and not v:
            continue
        out[name] = format_value(v)
    out[QUERY_CONTESTANTS] = [format_contestant(c) for c in cfg.contestants]
    out[QUERY_SEEDS] = format_seeds(cfg.seeds)
    if cfg.interventions:
        out[QUERY_INTERVENTIONS] = format_interventions(cfg.interventions)
    return out


def from_query(params: Mapping[str, Any], base: RunConfig | None = None, sources: Any = None,
               ignore: tuple[str, ...] = ()) -> tuple[RunConfig, list[str]]:  # fmt: skip
    """A configuration from query parameters (values: str or list of str), plus what was ignored and why.

    Never raises.  Missing parameters keep ``base``'s values (default: :class:`RunConfig`'s); malformed,
    unknown, out-of-limit or oversized ones are dropped and reported.  ``sources``: the data sources a
    link may name (default: any); ``ignore``: parameter names that belong to the page, not to the run."""
    cfg = base.replace() if base is not None else RunConfig()
    notes: list[str] = []
    try:
        items = list(params.items())
    except Exception:  # noqa: BLE001 - hostile input must never crash the page
        return cfg, ["the query string could not be read"]
    values: dict[str, Any] = {}
    data_params: dict[str, Any] = {}
    iv_text: str | None = None
    for raw_name, raw_value in items[:100]:
        name = str(raw_name)
        vals = [str(v) for v in (raw_value if isinstance(raw_value, (list, tuple)) else [raw_value])]
        if name in ignore:
            continue
        if name == QUERY_CONTESTANTS:
            entries = []
            for v in vals:
                if len(v) > MAX_QUERY_CHARS:
                    notes.append(f"opt={_short(v)[1:-1]} (too long)")
                elif len(entries) >= MAX_CONTESTANTS:
                    notes.append(f"opt={_short(v)[1:-1]} (more than {MAX_CONTESTANTS} optimizers)")
                else:
                    entry, more = parse_contestant(v)
                    notes.extend(more)
                    if entry is not None:
                        entries.append(entry)
            if entries:
                cfg.contestants = entries
            elif vals:
                notes.append("no usable optimizer in the link (using the defaults)")
            continue
        value = vals[-1]
        if name == QUERY_INTERVENTIONS:  # read once the contestants are known (the labels refer to them)
            iv_text = value
            continue
        if len(value) > MAX_QUERY_CHARS:
            notes.append(f"{_short(name, 30)[1:-1]}={_short(value)[1:-1]} (too long)")
            continue
        if name in (QUERY_SEEDS, *_QUERY_OLD):
            try:
                seeds = parse_seeds(value if name == QUERY_SEEDS else value + ",")
                if seeds[-1] > 2**31 - 1:
                    raise ValueError("a seed is above 2147483647")
                cfg.seeds = seeds
            except ValueError as exc:
                notes.append(f"{name}={_short(value)[1:-1]} ({exc})")
            continue
        if name.startswith("params."):
            key = name[len("params."):]
            if key.isidentifier() and len(data_params) < 20:
                try:
                    data_params[key] = _number("float", value) if any(c in value for c in ".eE") else int(value)
                except ValueError:
                    data_params[key] = value
            continue
        setting = canonical_name(name)
        if setting not in USER_SETTINGS or SETTINGS[setting].kind == "params":
            notes.append(f"{_short(name, 30)[1:-1]} (unknown parameter)")
            continue
        try:
            v = parse_value(setting, value, limit=True)
            if setting == "source" and sources is not None and v not in sources:
                raise ValueError("unknown dataset")
            if setting in ("column", "date_column", "units") and v is not None and len(v) > 200:
                raise ValueError("too long")
            values[setting] = v
        except ValueError as exc:
            notes.append(f"{_short(name, 30)[1:-1]}={_short(value)[1:-1]} ({exc})")
    if len(items) > 100:
        notes.append(f"{len(items) - 100} more parameters (too many)")
    if data_params:
        values["params"] = data_params
    try:
        cfg = cfg.replace(**values)
    except ValueError as exc:  # every value passed on its own; only a combination can fail here
        notes.append(str(exc))
    if iv_text is not None:
        cfg.interventions, more = parse_interventions(iv_text, cfg.contestants)
        notes.extend(more)
    return cfg, notes
