"""The page's configuration: defaults, limits, widget keys and the URL query-parameter round trip.

No Streamlit import: everything here is a pure function of plain values, so it is tested directly.

A configuration (:class:`LabConfig`) lives in three places that must agree:

* the widgets, through ``st.session_state`` under the keys :func:`widget_state` returns;
* the URL, through :func:`encode_query` / :func:`decode_query` (a shared link reproduces a run exactly:
  the seed is in it, and so is every setting);
* the engine, through :mod:`gru_ui.runs` which turns it into a ``Race``.

Learning rates changed mid-race (``race.interventions``) are part of a run too: they travel in the URL as
one compact parameter, ``iv=Adam@123:0.05;RMSprop@400:0.002`` (contestant label, first step trained with
the new value, the value), and a link carrying them replays them exactly (``Race(..., interventions=)``).

:data:`PRESETS` are named classroom scenarios: plain :class:`LabConfig` values with a two-line "what to
watch for".

:func:`decode_query` never raises: every malformed, out-of-range, unknown or oversized value is dropped
(the default is used) and reported in the returned list of notices, which the page shows as a warning.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from gru_core.data.datasets import DATASETS
from gru_core.optim import OPTIMIZERS

__all__ = [
    "CSV_KEY",
    "LIMITS",
    "PRESETS",
    "LabConfig",
    "OptEntry",
    "Preset",
    "config_from_state",
    "contestant_labels",
    "decode_interventions",
    "decode_query",
    "default_config",
    "encode_interventions",
    "encode_query",
    "series_datasets",
    "widget_state",
]

CSV_KEY = "csv"  # the dataset choice "upload a CSV"

# Limits, stated in the page and enforced by the widgets and by decode_query.
LIMITS: dict[str, Any] = {
    "hidden": 256,
    "layers": 3,
    "epochs": 2000,
    "lookback": 200,
    "horizon": 50,
    "batch": 1024,
    "patience": 500,
    "seed": 2**31 - 1,
    "optimizers": 6,
    "upload_mb": 5,
    "rows": 200_000,
    "window_values": 4_000_000,  # series length × lookback: the windows are held in memory several times
    "max_races": 4,  # races training at once on the whole server (each browser session: one)
    "query_value_chars": 300,  # longer query values are ignored
    "interventions": 50,  # learning-rate changes a link may replay
    "iv_chars": 3000,  # … in at most this many characters
    "orphan_seconds": float(os.environ.get("GRU_LAB_ORPHAN_SECONDS", 180)),  # unwatched race: stopped
}

CHOICES: dict[str, tuple[str, ...]] = {
    "scaler": ("minmax", "standard", "none"),
    "fit_on": ("train", "all"),
    "variant": ("pytorch", "classic"),
    "init": ("pytorch", "keras"),
    "dtype": ("float64", "float32"),
    "schedule": ("constant", "step", "cosine"),
    "split_by": ("windows", "series"),
}

# name -> (kind, low, high) for the plain numeric fields; kind "int" | "float" | "bool"
NUMBERS: dict[str, tuple[str, float, float]] = {
    "lookback": ("int", 1, LIMITS["lookback"]),
    "horizon": ("int", 1, LIMITS["horizon"]),
    "train_pct": ("int", 10, 95),
    "val_pct": ("int", 0, 45),
    "hidden": ("int", 1, LIMITS["hidden"]),
    "layers": ("int", 1, LIMITS["layers"]),
    "dropout": ("float", 0.0, 0.9),
    "epochs": ("int", 1, LIMITS["epochs"]),
    "batch": ("int", 1, LIMITS["batch"]),
    "patience": ("int", 0, LIMITS["patience"]),  # 0: off
    "clip": ("float", 0.0, 1000.0),  # 0: off
    "seed": ("int", 0, LIMITS["seed"]),
    "restore_best": ("bool", 0, 1),
}

# query parameter name -> config field (short, readable URLs)
QUERY_NAMES: dict[str, str] = {
    "data": "data",
    "col": "csv_value",
    "date": "csv_date",
    "units": "units",
    "lookback": "lookback",
    "horizon": "horizon",
    "split": "split",
    "splitby": "split_by",
    "scaler": "scaler",
    "fit": "fit_on",
    "hidden": "hidden",
    "layers": "layers",
    "variant": "variant",
    "init": "init",
    "dropout": "dropout",
    "dtype": "dtype",
    "epochs": "epochs",
    "batch": "batch",
    "patience": "patience",
    "restore": "restore_best",
    "clip": "clip",
    "schedule": "schedule",
    "seed": "seed",
    "opt": "optimizers",
    "iv": "interventions",
}


@dataclass
class OptEntry:
    """One contestant as the page edits it: registry key, flavour and hyperparameters."""

    key: str = "adam"
    flavor: str = "pytorch"
    hyper: dict[str, Any] = field(default_factory=dict)

    def full_hyper(self) -> dict[str, Any]:
        """The registry defaults of the flavour, overridden by ``hyper`` (only the flavour's own names)."""
        defaults = OPTIMIZERS[self.key].defaults(self.flavor)
        return {k: self.hyper.get(k, v) for k, v in defaults.items()}


def _default_optimizers() -> list[OptEntry]:
    return [
        OptEntry("adam", "pytorch", OPTIMIZERS["adam"].defaults("pytorch")),
        OptEntry("rmsprop", "pytorch", OPTIMIZERS["rmsprop"].defaults("pytorch")),
    ]


@dataclass
class LabConfig:
    """Everything that decides a run.  Same configuration ⇒ same numbers (the engine is seeded)."""

    data: str = "noisy_sine"  # a registry key (synthetic or real series) or CSV_KEY
    csv_value: str | None = None  # CSV: value column (None: the loader's guess)
    csv_date: str | None = None  # CSV: date column (None: the loader's guess; "" : no date column)
    units: str = ""  # CSV: units of the values, for the axis titles ("" : not given)
    lookback: int = 20
    horizon: int = 1
    train_pct: int = 80
    val_pct: int = 10  # test = 100 - train - val
    split_by: str = "windows"  # "windows" (default) or "series" (cut the series first, as the study did)
    scaler: str = "minmax"
    fit_on: str = "train"
    hidden: int = 32
    layers: int = 1
    variant: str = "pytorch"
    init: str = "pytorch"
    dropout: float = 0.0
    dtype: str = "float64"
    epochs: int = 60
    batch: int = 32
    patience: int = 0  # 0: no early stopping
    restore_best: bool = True
    clip: float = 0.0  # 0: no clipping
    schedule: str = "constant"
    seed: int = 0
    optimizers: list[OptEntry] = field(default_factory=_default_optimizers)
    # learning rates to change mid-race (replayed exactly): {"step", "optimizer" (a contestant label), "new"}
    interventions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def split(self) -> tuple[float, float, float]:
        test = 100 - self.train_pct - self.val_pct
        return (self.train_pct / 100, self.val_pct / 100, test / 100)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["split"] = list(self.split)
        return d


def default_config() -> LabConfig:
    return LabConfig()


def series_datasets() -> dict[str, str]:
    """Registry series the page offers (tasks such as the adding problem are not series): key -> name."""
    return {k: s.name for k, s in DATASETS.items() if s.kind in ("synthetic", "real")}


def contestant_labels(entries: list[OptEntry]) -> list[str]:
    """Distinct display labels: "Adam", "RMSprop (keras)", and "Adam #2" for a second Adam."""
    from gru_core.train import Contestant

    labels: list[str] = []
    seen: dict[str, int] = {}
    for e in entries:
        base = Contestant(e.key, flavor=e.flavor).name
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base} #{seen[base]}"
        while label in labels:  # "Adam #2" given by hand elsewhere cannot happen, but stay safe
            seen[base] += 1
            label = f"{base} #{seen[base]}"
        labels.append(label)
    return labels


# ----------------------------------------------------------------------------------------------------------
# URL query parameters
# ----------------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(float(v)) if not v.is_integer() else str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


def encode_optimizer(e: OptEntry) -> str:
    """``adam``, ``rmsprop:keras``, ``adam:lr=0.003,amsgrad=1``: registry key, flavour if not pytorch, and
    every hyperparameter that differs from the flavour's registry default, plus ``lr`` always."""
    defaults = OPTIMIZERS[e.key].defaults(e.flavor)
    parts = [e.key] + ([e.flavor] if e.flavor != "pytorch" else [])
    hyper = []
    for name, default in defaults.items():
        v = e.hyper.get(name, default)
        if name == "lr" or v != default:
            hyper.append(f"{name}={_fmt(v)}")
    if hyper:
        parts.append(",".join(hyper))
    return ":".join(parts)


def encode_interventions(interventions: list[Mapping[str, Any]]) -> str:
    """``Adam@123:0.05;RMSprop (keras)@400:0.002``: label, first step with the new value, the value (exact)."""
    return ";".join(f"{iv['optimizer']}@{int(iv['step'])}:{_fmt(float(iv['new']))}" for iv in interventions)


def lr_bounds(entry: OptEntry) -> tuple[float, float]:
    """The learning rate's allowed range for this optimizer (the registry's)."""
    hp = next((h for h in OPTIMIZERS[entry.key].hyperparams if h.name == "lr"), None)
    return (float(hp.low), float(hp.high)) if hp is not None else (0.0, math.inf)


def decode_interventions(text: str, optimizers: list[OptEntry]) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse an ``iv`` value (see :func:`encode_interventions`) for these contestants.

    Never raises: an item with an unknown label, a step that is not a whole number ≥ 1, or a value that is
    not a learning rate the optimizer accepts is dropped and reported.
    """
    notes: list[str] = []
    out: list[dict[str, Any]] = []
    if len(text) > LIMITS["iv_chars"]:
        return [], [f"iv={_short(text)} (too long)"]
    labels = contestant_labels(optimizers)
    bounds = {label: lr_bounds(e) for label, e in zip(labels, optimizers)}
    for item in text.split(";"):
        if not item.strip():
            continue
        label, at, rest = item.rpartition("@")
        label = label.strip()
        step_txt, colon, value_txt = rest.partition(":")
        if not at or not colon:
            notes.append(f"iv={_short(item)} (expected optimizer@step:learning-rate, e.g. Adam@120:0.05)")
            continue
        if label not in bounds:
            known = ", ".join(labels)
            notes.append(f"iv={_short(item)} (no contestant called {_short(label, 20)!r} here; known: {known})")
            continue
        if len(out) >= LIMITS["interventions"]:
            notes.append(f"iv={_short(item)} (more than {LIMITS['interventions']} changes)")
            continue
        try:
            step = _parse_number("int", step_txt, 1, 10**9)
            low, high = bounds[label]
            value = _parse_number("float", value_txt, low, high)
        except ValueError as exc:
            notes.append(f"iv={_short(item)} ({exc})")
            continue
        out.append({"step": int(step), "optimizer": label, "field": "lr", "new": float(value)})
    return out, notes


def encode_query(cfg: LabConfig) -> dict[str, str | list[str]]:
    """The configuration as query parameters (every field, so a link does not depend on defaults)."""
    out: dict[str, str | list[str]] = {}
    for q, f in QUERY_NAMES.items():
        if f == "optimizers":
            out[q] = [encode_optimizer(e) for e in cfg.optimizers]
        elif f == "interventions":
            if cfg.interventions:
                out[q] = encode_interventions(cfg.interventions)
        elif f == "split":
            out[q] = f"{cfg.train_pct},{cfg.val_pct},{100 - cfg.train_pct - cfg.val_pct}"
        elif f in ("csv_value", "csv_date", "units"):
            v = getattr(cfg, f)
            if cfg.data == CSV_KEY and v:
                out[q] = v
        else:
            out[q] = _fmt(getattr(cfg, f))
    return out


def _short(v: Any, n: int = 40) -> str:
    s = str(v)
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    return s if len(s) <= n else s[:n] + "…"


def _parse_number(kind: str, text: str, low: float, high: float) -> Any:
    """A number in [low, high] from text, or raise ValueError with a short reason."""
    t = text.strip()
    if kind == "bool":
        low_t = t.lower()
        if low_t in ("1", "true", "yes", "on"):
            return True
        if low_t in ("0", "false", "no", "off"):
            return False
        raise ValueError("not 0/1")
    if kind == "int":
        if not t.lstrip("+-").isdigit() or len(t) > 12:
            raise ValueError("not a whole number")
        v: Any = int(t)
    else:
        if len(t) > 32:
            raise ValueError("not a number")
        v = float(t)  # ValueError for junk
        if not math.isfinite(v):
            raise ValueError("not a finite number")
    if not low <= v <= high:
        raise ValueError(f"outside {_fmt(low)}…{_fmt(high)}")
    return v


def decode_optimizer(text: str) -> tuple[OptEntry | None, list[str]]:
    """Parse one ``opt`` value (see :func:`encode_optimizer`); unknown parts are dropped and reported."""
    notes: list[str] = []
    parts = text.strip().split(":")
    key = parts[0].strip().lower()
    if key not in OPTIMIZERS:
        return None, [f"opt={_short(text)} (unknown optimizer; known: {', '.join(OPTIMIZERS)})"]
    spec = OPTIMIZERS[key]
    flavor = "pytorch"
    rest = parts[1:]
    if rest and "=" not in rest[0]:
        fl = rest.pop(0).strip().lower()
        if fl in spec.flavors:
            flavor = fl
        else:
            notes.append(f"opt={_short(text)}: flavour {_short(fl, 20)!r} (using pytorch)")
    defaults = spec.defaults(flavor)
    hp_specs = {hp.name: hp for hp in spec.hyperparams}
    hyper = dict(defaults)
    items = ",".join(rest).split(",") if rest else []
    for item in items:
        if not item.strip():
            continue
        name, sep, val = item.partition("=")
        name = name.strip()
        if not sep or name not in defaults:
            notes.append(f"opt={key}: {_short(item, 30)} (unknown hyperparameter for {spec.name} {flavor})")
            continue
        hp = hp_specs[name]
        try:
            hyper[name] = _parse_number(hp.kind, val, hp.low, hp.high)
        except ValueError as exc:
            notes.append(f"opt={key}: {name}={_short(val, 20)} ({exc})")
    return OptEntry(key, flavor, hyper), notes


def decode_query(params: Mapping[str, Any]) -> tuple[LabConfig, list[str]]:
    """A configuration from query parameters (values: str or list of str), plus what was ignored.

    Never raises.  Missing parameters take the defaults silently; bad ones take the defaults and are
    listed in the notices.
    """
    cfg = default_config()
    notes: list[str] = []
    max_chars = LIMITS["query_value_chars"]
    try:
        items = list(params.items())
    except Exception:  # noqa: BLE001 - hostile input must never crash the page
        return cfg, ["the query string could not be read"]
    iv_text: str | None = None
    for raw_name, raw_value in items[:100]:
        name = str(raw_name)
        values = raw_value if isinstance(raw_value, (list, tuple)) else [raw_value]
        values = [str(v) for v in values]
        if name not in QUERY_NAMES:
            notes.append(f"{_short(name, 30)} (unknown parameter)")
            continue
        f = QUERY_NAMES[name]
        if f == "optimizers":
            entries = []
            for v in values:
                if len(v) > max_chars:
                    notes.append(f"opt={_short(v)} (too long)")
                    continue
                if len(entries) >= LIMITS["optimizers"]:
                    notes.append(f"opt={_short(v)} (more than {LIMITS['optimizers']} optimizers)")
                    continue
                entry, more = decode_optimizer(v)
                notes.extend(more)
                if entry is not None:
                    entries.append(entry)
            if entries:
                cfg.optimizers = entries
            elif values:
                notes.append("no usable optimizer in the link (using Adam and RMSprop)")
            continue
        value = values[-1]
        if f == "interventions":  # read once the optimizers are known (the labels refer to them)
            iv_text = value
            continue
        if len(value) > max_chars:
            notes.append(f"{name}={_short(value)} (too long)")
            continue
        try:
            if f == "data":
                key = value.strip()
                if key != CSV_KEY and key not in series_datasets():
                    raise ValueError("unknown dataset")
                cfg.data = key
            elif f in ("csv_value", "csv_date"):
                if len(value) > 200:
                    raise ValueError("too long")
                setattr(cfg, f, value)
            elif f == "units":
                if len(value) > 60 or not value.isprintable():
                    raise ValueError("at most 60 printable characters")
                cfg.units = value.strip()
            elif f == "split":
                parts = value.split(",")
                if len(parts) != 3:
                    raise ValueError("needs three percentages like 80,10,10")
                tr, va, te = (_parse_number("int", p, 0, 100) for p in parts)
                if tr + va + te != 100 or not (10 <= tr <= 95 and 0 <= va <= 45 and te >= 5):
                    raise ValueError("train 10–95 %, validation 0–45 %, test ≥ 5 %, summing to 100")
                cfg.train_pct, cfg.val_pct = tr, va
            elif f in CHOICES:
                v = value.strip().lower()
                if v not in CHOICES[f]:
                    raise ValueError(f"choose {'/'.join(CHOICES[f])}")
                setattr(cfg, f, v)
            else:
                kind, low, high = NUMBERS[f]
                setattr(cfg, f, _parse_number(kind, value, low, high))
        except ValueError as exc:
            notes.append(f"{name}={_short(value)} ({exc})")
    if len(items) > 100:
        notes.append(f"{len(items) - 100} more parameters (too many)")
    if iv_text is not None:
        cfg.interventions, more = decode_interventions(iv_text, cfg.optimizers)
        notes.extend(more)
    if cfg.data != CSV_KEY:
        cfg.csv_value = cfg.csv_date = None
        cfg.units = ""
    return cfg, notes


# ----------------------------------------------------------------------------------------------------------
# widgets <-> configuration (session-state keys)
# ----------------------------------------------------------------------------------------------------------

SCALAR_FIELDS = tuple(
    f.name for f in fields(LabConfig) if f.name not in ("optimizers", "csv_value", "csv_date", "interventions")
)
REPLAY_KEY = "replay_iv"  # session-state key: the learning-rate changes the next Train replays


def wkey(name: str) -> str:
    """The session-state key of a configuration widget."""
    return f"cfg.{name}"


def okey(oid: int, what: str) -> str:
    """The session-state key of an optimizer widget: ``what`` is "key", "flavor" or "hp.<name>"."""
    return f"opt.{oid}.{what}"


def optimizer_state(oid: int, entry: OptEntry) -> dict[str, Any]:
    """Session-state values for one optimizer editor (hyperparameters of its flavour only)."""
    out: dict[str, Any] = {okey(oid, "key"): entry.key, okey(oid, "flavor"): entry.flavor}
    for name, v in entry.full_hyper().items():
        out[okey(oid, f"hp.{name}")] = v
    return out


def widget_state(cfg: LabConfig) -> dict[str, Any]:
    """Everything to put into ``st.session_state`` so the widgets show ``cfg`` (optimizer ids 0..n-1)."""
    out: dict[str, Any] = {wkey(n): getattr(cfg, n) for n in SCALAR_FIELDS}
    out[wkey("csv_value")] = cfg.csv_value
    out[wkey("csv_date")] = cfg.csv_date
    out[REPLAY_KEY] = [dict(iv) for iv in cfg.interventions]
    out["opt_ids"] = list(range(len(cfg.optimizers)))
    out["opt_next_id"] = len(cfg.optimizers)
    for oid, e in enumerate(cfg.optimizers):
        out.update(optimizer_state(oid, e))
    return out


def config_from_state(ss: Mapping[str, Any]) -> LabConfig:
    """Read the configuration back from session state (missing keys: defaults)."""
    cfg = default_config()
    values = {n: ss[wkey(n)] for n in SCALAR_FIELDS if wkey(n) in ss}
    cfg = replace(cfg, **values)
    cfg.csv_value = ss.get(wkey("csv_value"))
    cfg.csv_date = ss.get(wkey("csv_date"))
    entries = []
    for oid in ss.get("opt_ids", []):
        key = ss.get(okey(oid, "key"), "adam")
        flavor = ss.get(okey(oid, "flavor"), "pytorch")
        if key not in OPTIMIZERS:
            continue
        if flavor not in OPTIMIZERS[key].flavors:
            flavor = "pytorch"
        defaults = OPTIMIZERS[key].defaults(flavor)
        hyper = {n: ss.get(okey(oid, f"hp.{n}"), d) for n, d in defaults.items()}
        entries.append(OptEntry(key, flavor, hyper))
    if "opt_ids" in ss:
        cfg.optimizers = entries
    labels = set(contestant_labels(cfg.optimizers))
    cfg.interventions = [dict(iv) for iv in ss.get(REPLAY_KEY) or [] if iv.get("optimizer") in labels]
    for n in (
        "lookback",
        "horizon",
        "train_pct",
        "val_pct",
        "hidden",
        "layers",
        "epochs",
        "batch",
        "patience",
        "seed",
    ):
        setattr(cfg, n, int(getattr(cfg, n)))
    cfg.dropout, cfg.clip, cfg.restore_best = float(cfg.dropout), float(cfg.clip), bool(cfg.restore_best)
    return cfg


def config_key(cfg: LabConfig, upload_digest: str | None = None) -> str:
    """A string that changes whenever a setting that decides the run's numbers changes.

    Learning-rate changes (``interventions``) are left out: they are compared on their own (a change made
    live during a run is added to the replay list without making the run look outdated)."""
    q = encode_query(replace(cfg, interventions=[]))
    parts = [f"{k}={v}" for k, v in sorted(q.items())]
    if cfg.data == CSV_KEY:
        parts.append(f"upload={upload_digest}")
    return "&".join(parts)


# ----------------------------------------------------------------------------------------------------------
# classroom presets
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A named classroom scenario: one click sets every widget (and so the URL) to ``config``.

    ``watch`` is the two-line "what to look for"; ``note`` an extra remark (e.g. "the tin CSV is not
    shipped"); a scenario without ``config`` points to another page (``page``) instead."""

    key: str
    title: str
    watch: str
    config: LabConfig | None = None
    note: str = ""
    page: str | None = None  # e.g. "pages/vanishing.py"

    def fresh_config(self) -> LabConfig | None:
        """A copy of the configuration (widgets may then change it freely)."""
        if self.config is None:
            return None
        cfg = replace(self.config)
        cfg.optimizers = [OptEntry(e.key, e.flavor, dict(e.hyper)) for e in self.config.optimizers]
        cfg.interventions = [dict(iv) for iv in self.config.interventions]
        return cfg


def _opt(key: str, flavor: str = "pytorch", **hyper: Any) -> OptEntry:
    return OptEntry(key, flavor, {**OPTIMIZERS[key].defaults(flavor), **hyper})


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            "adam_vs_rmsprop",
            "Adam vs RMSprop on a noisy sine",
            "Both start from the same weights and see the same batches: only the optimizer differs. "
            "Watch which solid curve falls faster, and whether the dashed (validation) curves flatten out "
            "at the noise level that no model can predict.",
            LabConfig(
                data="noisy_sine",
                epochs=40,
                hidden=32,
                optimizers=[_opt("adam", lr=0.01), _opt("rmsprop", lr=0.001)],
            ),
        ),
        Preset(
            "lr_too_high",
            "Learning rate too high: watch RMSprop diverge",
            "RMSprop trains nicely for 10 epochs; then its learning rate jumps from 0.01 to 1.0 (the ⚙ "
            "marker). Watch its loss explode and the ✖ mark where it diverges, while Adam carries on.",
            LabConfig(
                data="noisy_sine",
                epochs=30,
                hidden=32,
                optimizers=[_opt("adam", lr=0.01), _opt("rmsprop", lr=0.01)],
                interventions=[{"step": 251, "optimizer": "RMSprop", "field": "lr", "new": 1.0}],
            ),
            note="The jump is a recorded learning-rate change replayed at step 251 (the start of epoch 11 with "
            "25 mini-batches per epoch). Try it live: Pause, set RMSprop's learning rate, Resume.",
        ),
        Preset(
            "beat_persistence",
            "Does the GRU beat tomorrow = today?",
            "On a random walk the best possible forecast is the last value (persistence). Watch the verdict "
            "above the results table and the grey dotted line in the forecast chart: the GRU does not beat it.",
            LabConfig(
                data="random_walk",
                epochs=30,
                hidden=32,
                optimizers=[_opt("adam", lr=0.01), _opt("rmsprop", lr=0.001)],
            ),
        ),
        Preset(
            "tin_study",
            "The tin-price study, re-run",
            "The study's settings: lookback 20, 64 units, dropout 0.3, batch 64, lr 0.01, Keras flavour and "
            "initialisation, early stopping after 3 epochs without restoring the best weights, an 81/9/10 "
            "split of the series, min-max scaling fitted on all of it. Watch how early both stop. (On El Niño "
            "data: the tin CSV is not shipped.)",
            LabConfig(
                data="elnino",
                lookback=20,
                train_pct=81,
                val_pct=9,
                split_by="series",
                scaler="minmax",
                fit_on="all",
                hidden=64,
                init="keras",
                dropout=0.3,
                epochs=100,
                batch=64,
                patience=3,
                restore_best=False,
                optimizers=[_opt("adam", "keras", lr=0.01), _opt("rmsprop", "keras", lr=0.01)],
            ),
            note="The tin price CSV is not shipped with the app, so this runs on a bundled real series (El Niño "
            "sea temperatures). Have the tin data? Choose “Upload a CSV file…” under Data: every other setting "
            "stays as in the study.",
        ),
        Preset(
            "adding_problem",
            "Why gates: the adding problem",
            "A sequence of random numbers with two of them marked: the answer is their sum. A plain RNN "
            "forgets the first mark when the sequence is long; the GRU's gates keep it.",
            None,
            note="This is not a single series, so it lives on its own page.",
            page="pages/vanishing.py",
        ),
    )
}
