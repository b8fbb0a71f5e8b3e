"""The race page's settings: its default run, its own limits, the classroom presets, and the session-state
keys of the sidebar widgets with the conversion between them and a :class:`~gru_core.config.RunConfig`.

No Streamlit import: pure functions of plain values, tested directly.

A run is a :class:`~gru_core.config.RunConfig` everywhere on the page; its settings keep their one name
(``hidden_size``, ``batch_size``, ``clip_norm``, …) in the widgets' keys too (:func:`wkey`).  Three widgets
show another unit and convert at this boundary (:func:`widget_state` / :func:`config_from_state`):

* the split: two percentages (train, validation; test is the rest) under :data:`SPLIT_KEYS`;
* ``patience`` and ``clip_norm``: 0 means off (``None`` in the run);
* the seeds: the page races consecutive seeds, a first seed (``wkey("seed")``) and how many
  (``wkey("n_seeds")``, at most ``PAGE_LIMITS["seeds"]``).

The URL is :func:`gru_core.config.to_query` / :func:`~gru_core.config.from_query` (old links keep working);
:func:`page_query` adds what only this page refuses (dataset parameters, several seeds, a split its
percentage widgets cannot show).  Settings without a widget (``shuffle``, ``step_every``, …) ride along in
session state under their keys, so a link carrying them keeps them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Any

from gru_core.config import (
    SETTINGS,
    USER_SETTINGS,
    Contestant,
    RunConfig,
    TrainConfig,
    contestant_labels,
    format_seeds,
    format_value,
    from_query,
    to_query,
)
from gru_core.data.datasets import DATASETS, series_datasets  # noqa: F401 (the page's offer of series)
from gru_core.optim import OPTIMIZERS
from gru_ui.limits import MAX_SEED, MIN_TEST_PCT, TRAIN_PCT, UPLOAD_MB, UPLOAD_ROWS, VAL_PCT  # noqa: F401

__all__ = [
    "CSV_SOURCE",
    "apply_config",
    "reset_settings",
    "scenario_pause",
    "PAGE_DEFAULT",
    "PAGE_LIMITS",
    "PRESETS",
    "REPLAY_KEY",
    "SPLIT_KEYS",
    "Preset",
    "apply_preset",
    "config_from_state",
    "config_key",
    "log_grid",
    "okey",
    "page_query",
    "series_datasets",
    "sources",
    "widget_state",
    "wkey",
]

CSV_SOURCE = "csv"  # the data source "upload a CSV" (DataConfig.source)

# The page's limits that are not run settings (those are SETTINGS[name].limit).
PAGE_LIMITS: dict[str, Any] = {
    "upload_mb": UPLOAD_MB,
    "rows": UPLOAD_ROWS,
    "window_values": 4_000_000,  # series length × lookback: the windows are held in memory several times
    "max_seed": MAX_SEED,
    "seeds": 10,  # seeds one race may have (each is a job on the runner)
    "orphan_seconds": float(os.environ.get("GRU_LAB_ORPHAN_SECONDS", 180)),  # unwatched race: stopped
}


# The page's default run: the engine's defaults, with fewer epochs (a lesson has an hour), over 3 seeds: one seed
# is one draw.  Measured on 2 cores with the background runner (bench/bench_seeds.py: 4 workers): the default
# race takes 3.4 s with 1 seed, 4.1 s with 2, 7.2 s with 3, 13.9 s with 5 and 23.4 s with 10.  Three is the most
# that leaves room below the 15 s target for the visitor's browser and a busy server; 5 is one click away.
PAGE_DEFAULT = RunConfig(train=TrainConfig(epochs=60), seeds=[0, 1, 2])


def sources() -> list[str]:
    """The data sources a link may name: the registry series and the CSV upload."""
    return [*series_datasets(), CSV_SOURCE]


def default_config() -> RunConfig:
    """A fresh copy of :data:`PAGE_DEFAULT`."""
    return PAGE_DEFAULT.replace()


def log_grid(low: float, high: float, *extra: float) -> list[float]:
    """A 1-2-3-5 logarithmic grid within [low, high], plus the ``extra`` values in range (learning rates)."""
    vals = {float(f"{m}e{e}") for e in range(-15, 4) for m in (1, 2, 3, 5)}
    vals = {v for v in vals if low <= v <= high}
    vals.update(float(x) for x in extra if x is not None and low <= float(x) <= high)
    return sorted(vals)


# ----------------------------------------------------------------------------------------------------------
# the URL
# ----------------------------------------------------------------------------------------------------------


def split_percent(split: tuple) -> tuple[int, int] | None:
    """(train %, validation %) when the page's widgets can show ``split`` exactly, else None."""
    pct = [100 * float(x) for x in split]
    whole = [round(p) for p in pct]
    if any(abs(p - w) > 1e-9 for p, w in zip(pct, whole)) or sum(whole) != 100:
        return None
    tr, va, te = whole
    if not (TRAIN_PCT[0] <= tr <= TRAIN_PCT[1] and VAL_PCT[0] <= va <= VAL_PCT[1] and te >= MIN_TEST_PCT):
        return None
    return tr, va


def split_from_percent(train_pct: int, val_pct: int) -> tuple[float, float, float]:
    """The split the percentage widgets stand for (test: the rest)."""
    return (train_pct / 100, val_pct / 100, (100 - train_pct - val_pct) / 100)


def page_query(params: Mapping[str, Any]) -> tuple[RunConfig, list[str]]:
    """The run a link describes, plus what was ignored and why; never raises.

    :func:`gru_core.config.from_query` (old parameter names and percent splits included) from the page's
    defaults, then what only this page refuses: dataset parameters, more than one seed, a split the
    percentage widgets cannot show.  The CSV columns and units only count for an uploaded CSV."""
    cfg, notes = from_query(params, base=PAGE_DEFAULT, sources=sources())
    values: dict[str, Any] = {}
    if cfg.data.params:
        notes.append("params (dataset parameters cannot be set on this page: its defaults are used)")
        values["params"] = {}
    if split_percent(cfg.data.split) is None:
        notes.append(f"split={format_value(cfg.data.split)} (train {TRAIN_PCT[0]}–{TRAIN_PCT[1]} %, validation "
                     f"{VAL_PCT[0]}–{VAL_PCT[1]} %, test ≥ {MIN_TEST_PCT} %, in whole percent)")  # fmt: skip
        values["split"] = PAGE_DEFAULT.data.split
    if cfg.data.source != CSV_SOURCE:
        values.update(column=None, date_column=None, units="")
    if values:
        cfg = cfg.replace(**values)
    most = PAGE_LIMITS["seeds"]
    wanted = list(range(cfg.seeds[0], cfg.seeds[0] + min(len(cfg.seeds), most)))
    if cfg.seeds != wanted:
        notes.append(f"seeds={format_seeds(cfg.seeds)} (this page races up to {most} consecutive seeds: "
                     f"{format_seeds(wanted)} instead)")  # fmt: skip
        cfg.seeds = wanted
    return cfg, notes


def config_key(cfg: RunConfig, upload_digest: str | None = None) -> str:
    """A string that changes whenever a setting that decides the run's numbers changes.

    Learning-rate changes (``interventions``) are left out: they are compared on their own (a change made
    live during a run is added to the replay list without making the run look outdated)."""
    bare = cfg.replace()
    bare.interventions = []
    parts = [f"{k}={v}" for k, v in sorted(to_query(bare).items())]
    if cfg.data.source == CSV_SOURCE:
        parts.append(f"upload={upload_digest}")
    return "&".join(parts)


# ----------------------------------------------------------------------------------------------------------
# widgets <-> run configuration (session-state keys)
# ----------------------------------------------------------------------------------------------------------

SPLIT_KEYS = ("cfg.split.train_pct", "cfg.split.val_pct")  # the split's two percentage widgets
REPLAY_KEY = "replay_iv"  # session-state key: the learning-rate changes the next Train replays
OFF_AT_ZERO = ("patience", "clip_norm")  # widgets where 0 means off (None in the run)
# settings held in session state: every user setting but the split (two widgets) and dataset parameters
STATE_SETTINGS = tuple(n for n in USER_SETTINGS if n not in ("split", "params"))


def wkey(name: str) -> str:
    """The session-state key of a setting's widget: ``cfg.hidden_size``; ``cfg.seed`` for the seed."""
    return f"cfg.{name}"


def okey(oid: int, what: str) -> str:
    """The session-state key of a contestant's widget: ``what`` is "optimizer", "flavor" or "hyper.<name>"."""
    return f"opt.{oid}.{what}"


def contestant_state(oid: int, c: Contestant) -> dict[str, Any]:
    """Session-state values for one contestant's editor (the hyperparameters of its flavour only)."""
    out: dict[str, Any] = {okey(oid, "optimizer"): c.optimizer, okey(oid, "flavor"): c.flavor}
    for name, v in c.full_hyper().items():
        out[okey(oid, f"hyper.{name}")] = v
    return out


def widget_state(cfg: RunConfig) -> dict[str, Any]:
    """Everything to put into ``st.session_state`` so the widgets show ``cfg`` (contestant ids 0..n-1)."""
    out: dict[str, Any] = {}
    for name in STATE_SETTINGS:
        v = cfg.get(name)
        if name in OFF_AT_ZERO and v is None:
            v = 0.0 if SETTINGS[name].kind == "float" else 0
        out[wkey(name)] = v
    out[wkey("seed")] = cfg.seed
    out[wkey("n_seeds")] = len(cfg.seeds)
    pct = split_percent(cfg.data.split) or split_percent(PAGE_DEFAULT.data.split)
    out.update(zip(SPLIT_KEYS, pct))
    out[REPLAY_KEY] = [dict(iv) for iv in cfg.interventions]
    out["opt_ids"] = list(range(len(cfg.contestants)))
    out["opt_next_id"] = len(cfg.contestants)
    for oid, c in enumerate(cfg.contestants):
        out.update(contestant_state(oid, c))
    return out


def contestants_from_state(ss: Mapping[str, Any]) -> list[Contestant]:
    """The contestants the optimizer editors show (missing keys: registry defaults)."""
    out = []
    for oid in ss.get("opt_ids", []):
        key = ss.get(okey(oid, "optimizer"), "adam")
        if key not in OPTIMIZERS:
            continue
        flavor = ss.get(okey(oid, "flavor"), "pytorch")
        if flavor not in OPTIMIZERS[key].flavors:
            flavor = "pytorch"
        defaults = OPTIMIZERS[key].defaults(flavor)
        out.append(Contestant(key, flavor, {n: ss.get(okey(oid, f"hyper.{n}"), d) for n, d in defaults.items()}))
    return out


def config_from_state(ss: Mapping[str, Any]) -> RunConfig:
    """The run the widgets show (missing keys: :data:`PAGE_DEFAULT`'s values).

    The split is taken as the widgets say, even when it leaves no test part: ``check_config`` explains
    that one, rather than this function raising."""
    values: dict[str, Any] = {}
    for name in STATE_SETTINGS:
        if wkey(name) in ss:
            v = ss[wkey(name)]
            values[name] = None if name in OFF_AT_ZERO and v == 0 else v
    if values.get("source", PAGE_DEFAULT.data.source) != CSV_SOURCE:
        values.update(column=None, date_column=None, units="")
    cfg = PAGE_DEFAULT.replace(**values)
    if wkey("seed") in ss or wkey("n_seeds") in ss:
        first = int(ss.get(wkey("seed"), cfg.seed))
        cfg.seeds = list(range(first, first + max(1, int(ss.get(wkey("n_seeds"), len(cfg.seeds))))))
    if all(k in ss for k in SPLIT_KEYS):
        cfg.data = dc_replace(cfg.data, split=split_from_percent(*(int(ss[k]) for k in SPLIT_KEYS)))
    if "opt_ids" in ss:
        cfg.contestants = contestants_from_state(ss)
    labels = set(contestant_labels(cfg.contestants))
    cfg.interventions = [dict(iv) for iv in ss.get(REPLAY_KEY) or [] if iv.get("optimizer") in labels]
    return cfg


# ----------------------------------------------------------------------------------------------------------
# classroom presets
# ----------------------------------------------------------------------------------------------------------

PRESET_KEY = "preset"  # session key: the preset last applied (its key)


@dataclass(frozen=True)
class Preset:
    """A named classroom scenario: one click sets every widget (and so the URL) to ``config``.

    ``watch`` is the two-line "what to look for"; ``note`` an extra remark (e.g. "the tin CSV is not
    shipped"); a scenario without ``config`` points to another page (``page``) instead."""

    key: str
    title: str
    watch: str
    config: RunConfig | None = None
    note: str = ""
    page: str | None = None  # e.g. "pages/vanishing.py"
    pause_before: int | None = None  # the race halts by itself just before this mini-batch step (the moment shown)

    def fresh_config(self) -> RunConfig | None:
        """A copy of the configuration (widgets may then change it freely)."""
        return None if self.config is None else self.config.replace()


def _run(contestants: list[Contestant], interventions: list | None = None, seeds: list[int] | None = None,
         **settings: Any) -> RunConfig:  # fmt: skip
    cfg = PAGE_DEFAULT.replace(**settings)
    cfg.contestants = contestants
    cfg.interventions = list(interventions or [])
    if seeds is not None:
        cfg.seeds = list(seeds)
    return cfg


def _opt(key: str, flavor: str = "pytorch", **hyper: Any) -> Contestant:
    return Contestant(key, flavor, {**OPTIMIZERS[key].defaults(flavor), **hyper})


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            "adam_vs_rmsprop",
            "Adam vs RMSprop on a noisy sine",
            "Both start from the same weights and see the same batches: only the optimizer differs. "
            "Watch which solid curve falls faster, and whether the dashed (validation) curves flatten out "
            "at the noise level that no model can predict.",
            _run([_opt("adam", lr=0.01), _opt("rmsprop", lr=0.001)], source="noisy_sine", epochs=40,
                 hidden_size=32),  # fmt: skip
        ),
        Preset(
            "lr_too_high",
            "Learning rate too high: watch RMSprop diverge",
            "RMSprop trains nicely for 10 epochs; then its learning rate jumps from 0.01 to 1.0 (the ⚙ "
            "marker). Watch its loss explode and the ✖ mark where it diverges, while Adam carries on.",
            _run([_opt("adam", lr=0.01), _opt("rmsprop", lr=0.01)],
                 [{"step": 251, "optimizer": "RMSprop", "field": "lr", "new": 1.0}],
                 source="noisy_sine", epochs=30, hidden_size=32, seeds=[0]),  # fmt: skip
            note="The jump is a recorded learning-rate change replayed at step 251 (the start of epoch 11 with "
            "25 mini-batches per epoch). The race halts by itself just before it: press ▶ Resume to see it "
            "happen, or first set RMSprop's learning rate back to 0.01 below and see it survive.",
            pause_before=251,
        ),
        Preset(
            "beat_persistence",
            "Does the GRU beat tomorrow = today?",
            "On a random walk the best possible forecast is the last value (persistence). Watch the verdict "
            "above the results table and the grey dotted line in the forecast chart: the GRU does not beat it.",
            _run([_opt("adam", lr=0.01), _opt("rmsprop", lr=0.001)], source="random_walk", epochs=30,
                 hidden_size=32),  # fmt: skip
        ),
        Preset(
            "tin_study",
            "The tin-price study, re-run",
            "The study's own data (LME tin, daily 2019–2023) and protocol: lookback 20, 64 units, dropout 0.3, "
            "batch 64, lr 0.01, Keras flavour and initialisation, early stopping after 3 epochs without restoring "
            "the best weights, an 81/9/10 split of the series, min-max scaling fitted on all of it; 10 seeds "
            "instead of its one. What it shows: neither optimizer beats tomorrow = today, and the spread between "
            "seeds is larger than the difference the study reported.",
            _run([_opt("adam", "keras", lr=0.01), _opt("rmsprop", "keras", lr=0.01)], source="tin",
                 lookback=20, split=split_from_percent(81, 9), split_by="series", scaler="minmax",
                 fit_scaler_on="all", hidden_size=64, init="keras", dropout=0.3, epochs=100, batch_size=64,
                 patience=3, restore_best=False, seeds=list(range(10))),  # fmt: skip
            note="The study reported one seed each: Adam 1.29 % and RMSprop 1.34 % test MAPE (tomorrow = today: "
            "1.17 %). Its grid found RMSprop's best at batch 32; a race trains both on the same mini-batches, so "
            "both use Adam's batch 64 here. Look at the spread of each optimizer's test error over the 10 seeds "
            "in the table, and at how many seeds each one won.",
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


def scenario_pause(ss: Mapping[str, Any], cfg: RunConfig) -> int | None:
    """The step before which the race of ``cfg`` halts by itself: the loaded scenario's, while the settings are
    still the scenario's (None otherwise)."""
    preset = PRESETS.get(ss.get(PRESET_KEY) or "")
    if preset is None or preset.config is None or preset.pause_before is None:
        return None
    return preset.pause_before if config_key(preset.config) == config_key(cfg) else None


def apply_config(ss: MutableMapping[str, Any], cfg: RunConfig) -> None:
    """Set every settings widget (and so the URL, on the next run) to ``cfg``."""
    for k in [k for k in list(ss.keys()) if str(k).startswith("opt.") and ".hyper." in str(k)]:
        del ss[k]
    for k, v in widget_state(cfg).items():
        ss[k] = v
    ss["iv_from_link"] = 0
    ss["qp_notices"] = []


def apply_preset(ss: MutableMapping[str, Any], key: str) -> RunConfig | None:
    """Set every settings widget (and so the URL, on the next run) to a preset's configuration."""
    preset = PRESETS.get(key)
    cfg = preset.fresh_config() if preset is not None else None
    if cfg is None:
        return None
    apply_config(ss, cfg)
    ss[PRESET_KEY] = key
    return cfg


def reset_settings(ss: MutableMapping[str, Any]) -> RunConfig:
    """Every setting back to the page's defaults (:data:`PAGE_DEFAULT`): no scenario, nothing to replay."""
    cfg = PAGE_DEFAULT.replace()
    apply_config(ss, cfg)
    ss.pop(PRESET_KEY, None)
    return cfg

