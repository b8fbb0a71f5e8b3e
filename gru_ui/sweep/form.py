"""The sweep form: a base run (a :class:`~gru_core.config.RunConfig`), a grid ``{setting name: text}`` over
settings of :data:`gru_core.sweep.GRID_FIELDS`, a name; its widget values; and the
:class:`~gru_core.sweep.SweepSpec` it makes (``SweepSpec.from_run(form.run, grid=…)``).

One name per setting: the form, its widget keys (:func:`to_widgets`, :func:`from_widgets`) and the grid use
the setting names of :mod:`gru_core.config`; kinds, choices, limits and help come from
:data:`gru_core.config.SETTINGS`.  A few values need two widgets each; their keys are the run's field name
and the part: ``split.train_pct`` / ``split.val_pct``, ``seeds.count`` / ``seeds.first``,
``contestants.optimizers`` / ``contestants.flavor``.

No Streamlit here: the page reads its widgets into a dict and calls :func:`from_widgets`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gru_core.config import (
    SETTINGS,
    SWEEP_SETTINGS,
    Contestant,
    DataConfig,
    GRUConfig,
    RunConfig,
    TrainConfig,
    format_value,
    lr_bounds,
    parse_value,
)  # fmt: skip
from gru_core.data import DataError
from gru_core.optim import OPTIMIZERS
from gru_core.sweep import GRID_FIELDS, SweepSpec, cells, coerce_value, parse_grid, prepared_data
from gru_ui.limits import MIN_TEST_PCT
from gru_ui.sweep.data import CSV, format_params, parse_params_text, series_datasets
from gru_ui.sweep.limits import LIMITS

__all__ = ["DATA_SETTINGS", "EXTRA_FIELDS", "FIXED_SETTINGS", "MAIN_FIELDS", "STUDY_GRID", "SweepForm",
           "build_spec", "check_data", "from_widgets", "grid_label", "grid_values", "study_form", "tiny_form",
           "to_widgets"]  # fmt: skip

MAIN_FIELDS = ("batch_size", "epochs", "lr", "hidden_size")  # always offered; any other field: "add a field"
EXTRA_FIELDS = tuple(f for f in GRID_FIELDS if f not in MAIN_FIELDS)
# the base run's settings the form shows one widget each for: every sweepable setting, data ones in the data
# section (split as two percentages), the others in "fixed settings" (MAIN_FIELDS are set by the grid)
DATA_SETTINGS = tuple(n for n in SWEEP_SETTINGS if SETTINGS[n].section == "data")
FIXED_SETTINGS = tuple(n for n in SWEEP_SETTINGS if SETTINGS[n].section != "data" and n not in MAIN_FIELDS)

DEFAULT_GRID = {"batch_size": "32", "epochs": "30", "lr": "0.01, 0.001", "hidden_size": "16, 32"}
STUDY_GRID = {"batch_size": "32, 64, 128", "epochs": "50, 100", "lr": "0.01, 0.001, 0.0001",
              "hidden_size": "16, 32, 64"}  # fmt: skip
MIN_TEST = MIN_TEST_PCT / 100  # the test part keeps at least this fraction of the series


@dataclass
class SweepForm:
    """What the sweep page holds: the base run (every setting not swept, the contestants, the seeds), the
    grid's text per setting ("" or missing: not swept), the sweep's name, and what the widgets held that
    could not be read (``problems``)."""

    run: RunConfig = field(default_factory=lambda: RunConfig(seeds=[0, 1, 2]))
    grid: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_GRID))
    name: str = ""
    problems: list[str] = field(default_factory=list)


def study_form(source: str = "noisy_sine", column: str | None = None, date_column: str | None = None) -> SweepForm:
    """The original study's grid: 54 configurations × Adam and RMSprop (Keras flavour and init), lookback
    20, split 0.81/0.09/0.10 by series rows, MinMax fitted on the whole series, dropout 0.3, early stopping
    with patience 3 and no weight restoring, one seed (as the study; raise it to see the seed noise)."""
    run = RunConfig(
        data=DataConfig(source, column=column, date_column=date_column, lookback=20, horizon=1,
                        split=(0.81, 0.09, 0.1), split_by="series", scaler="minmax", fit_scaler_on="all"),
        model=GRUConfig(init="keras", dropout=0.3),
        train=TrainConfig(patience=3, restore_best=False),
        contestants=[Contestant("adam", "keras"), Contestant("rmsprop", "keras")],
        seeds=[1],
    )  # fmt: skip
    return SweepForm(run, dict(STUDY_GRID), "study grid")


def tiny_form() -> SweepForm:
    """A grid that runs in seconds: 2 learning rates × Adam and RMSprop × 2 seeds, 4 units, 2 epochs."""
    run = RunConfig(data=DataConfig(params={"length": 200}), seeds=[0, 1])
    grid = {"batch_size": "32", "epochs": "2", "lr": "0.01, 0.001", "hidden_size": "4"}
    return SweepForm(run, grid, "tiny demo")


# ----------------------------------------------------------------------------------------------------------
# the grid
# ----------------------------------------------------------------------------------------------------------


def _bounds(name: str) -> str:
    s = SETTINGS[name]
    high = s.limit if s.limit is not None else s.high
    lo = "" if s.low is None else format_value(s.low)
    return f"{lo}…{format_value(high)}" if high is not None else f"≥ {lo}"


def grid_label(name: str) -> str:
    """The grid box of a setting: its name, what it is, its choices or the page's bounds."""
    if name == "lr":
        return "lr: every optimizer's learning rate"
    s = SETTINGS[name]
    if s.kind == "choice":
        what = "/".join(s.choices)
    elif s.kind == "bool":
        what = "true/false"
    elif s.kind == "split":
        what = "train,val,test; separate sets with ;"
    else:
        what = _bounds(name) + ("; none = off" if s.nullable else "")
    return f"{name}: {s.help} ({what})"


def _page_value(name: str, text: str, contestants: Sequence[Contestant]) -> Any:
    value = coerce_value(name, text)  # the engine's check: ValueError naming the setting
    if name == "lr":
        for c in contestants:
            lo, hi = lr_bounds(c)
            if not lo <= value <= hi:
                raise ValueError(f"lr: {text} is outside the page's limits {format_value(lo)}…{format_value(hi)} "
                                 f"({c.name})")  # fmt: skip
        return value
    try:
        parse_value(name, value, limit=True)
    except ValueError:
        raise ValueError(f"{name}: {text} is outside the page's limits {_bounds(name)}") from None
    return value


def grid_values(name: str, text: str, contestants: Sequence[Contestant] = ()) -> list[Any]:
    """The values of one grid field from the text of its box ("32, 64, 128"; ``split`` sets with ";").

    Raises ValueError naming the field (and the page's limit) when a value is malformed or out of range."""
    text = (text or "").strip()
    if not text:
        return []
    values: list[Any] = []
    for v in parse_grid([f"{name}={text}"])[name]:
        value = _page_value(name, v, contestants)
        if value not in values:
            values.append(value)
    if len(values) > LIMITS["max_values"]:
        raise ValueError(f"{name}: {len(values)} values; at most {LIMITS['max_values']} per field")
    return values


# ----------------------------------------------------------------------------------------------------------
# the form -> a spec
# ----------------------------------------------------------------------------------------------------------


def build_spec(form: SweepForm) -> tuple[SweepSpec | None, list, list[str]]:
    """``(spec, cells, problems)`` for a form: the spec and its cells (every setting checked by the engine),
    or None and what is wrong, in words for the page."""
    run = form.run
    problems = list(form.problems)
    grid: dict[str, list] = {}
    for name, text in form.grid.items():
        try:
            values = grid_values(name, text, run.contestants)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if values:
            grid[name] = values
    if not run.contestants:
        problems.append("Choose at least one optimizer.")
    if len(run.contestants) > LIMITS["max_optimizers"]:
        problems.append(f"At most {LIMITS['max_optimizers']} optimizers per sweep.")
    if not 1 <= len(run.seeds) <= LIMITS["max_seeds"]:
        problems.append(f"Seeds: between 1 and {LIMITS['max_seeds']}.")
    if run.data.split[2] < MIN_TEST - 1e-9:
        problems.append("The test part must keep at least 5 % of the series: lower the train or validation share.")
    if run.data.params and run.data.source not in series_datasets():
        problems.append("Dataset parameters apply to the built-in datasets only, not to a CSV file.")
    if not run.data.source:
        problems.append("Upload a CSV file first.")
    if problems:
        return None, [], problems
    try:
        run.validate(limit=True)
        spec = SweepSpec.from_run(run, grid=grid, name=form.name.strip())
        n_configs = math.prod(len(v) for v in grid.values()) if grid else 1
        if n_configs * len(spec.seeds) > LIMITS["max_cells"]:
            raise ValueError(
                f"{n_configs:,} configurations × {len(spec.seeds)} seeds = {n_configs * len(spec.seeds):,} cells; "
                f"the limit is {LIMITS['max_cells']:,}. Remove some values or seeds."
            )
        cell_list = cells(spec)
    except (ValueError, TypeError, KeyError) as exc:
        return None, [], [str(exc)]
    return spec, cell_list, []


def check_data(cell_list: Iterable) -> tuple[dict | None, list[str]]:
    """Prepare each distinct data option set once (the engine caches it): ``(info of the first, problems)``."""
    seen: dict[str, dict] = {}
    problems: list[str] = []
    for c in cell_list:
        sig = repr(sorted((k, repr(v)) for k, v in c.data.items()))
        if sig in seen:
            continue
        try:
            seen[sig] = prepared_data(c.data)[1]
        except (DataError, ValueError, TypeError, OSError) as exc:
            problems.append(str(exc))
            seen[sig] = {}
    return next(iter(seen.values()), None), problems


# ----------------------------------------------------------------------------------------------------------
# the form <-> its widgets' values
# ----------------------------------------------------------------------------------------------------------


def widget_value(name: str, value: Any) -> Any:
    """A setting's value as its widget holds it (a number box shows "off" as 0)."""
    s = SETTINGS[name]
    if value is None and s.nullable and s.kind in ("int", "float"):
        return 0 if s.kind == "int" else 0.0
    return value


def to_widgets(form: SweepForm) -> dict[str, Any]:
    """Every widget value of a form, by widget name (a setting name, ``grid.<setting>``, or ``<field>.<part>``).

    A run source that is not a registry dataset (a stored upload) shows as :data:`~gru_ui.sweep.data.CSV`."""
    run = form.run
    out: dict[str, Any] = {n: widget_value(n, run.get(n)) for n in (*DATA_SETTINGS, *FIXED_SETTINGS) if n != "split"}
    out["source"] = run.data.source if run.data.source in series_datasets() else CSV
    out["params"] = format_params(run.data.params)
    out["column"], out["date_column"] = run.data.column, run.data.date_column or ""
    train, val, _ = run.data.split
    out["split.train_pct"], out["split.val_pct"] = round(train * 100), round(val * 100)
    out["contestants.optimizers"] = [c.optimizer for c in run.contestants]
    out["contestants.flavor"] = next((c.flavor for c in run.contestants if c.flavor != "pytorch"), "pytorch")
    out["seeds.count"], out["seeds.first"] = len(run.seeds), run.seeds[0]
    out["name"] = form.name
    grid = dict(form.grid)
    for name in MAIN_FIELDS:  # a main setting not swept: its box holds the run's value unless it is the default
        if not grid.get(name) and name != "lr" and run.get(name) != SETTINGS[name].default:
            grid[name] = format_value(run.get(name))
    out.update({f"grid.{name}": text for name, text in grid.items()})
    return out


def contestants_of(optimizers: Iterable[str], flavor: str) -> list[Contestant]:
    """The page's optimizer picks, each in ``flavor`` where it has it (else PyTorch's)."""
    return [Contestant(k, flavor=flavor if flavor in OPTIMIZERS[k].flavors else "pytorch") for k in optimizers]


def from_widgets(values: Mapping[str, Any], grid_fields: Iterable[str] = MAIN_FIELDS,
                 upload_path: str | None = None) -> SweepForm:  # fmt: skip
    """A form from widget values (as :func:`to_widgets` names them; missing ones: the defaults).
    ``upload_path``: the stored CSV when the source is :data:`~gru_ui.sweep.data.CSV`.  Values that cannot be
    read are left at their default and reported in ``form.problems``."""
    problems: list[str] = []
    base = RunConfig()
    settings: dict[str, Any] = {}
    for name in (*DATA_SETTINGS, *FIXED_SETTINGS):
        if name != "split" and values.get(name) is not None:
            settings[name] = values[name]
    source = values.get("source") or base.data.source
    if source == CSV:
        settings.update(source=upload_path or "", column=values.get("column") or None,
                        date_column=values.get("date_column") or None)  # fmt: skip
    else:
        settings["source"] = source
        try:
            settings["params"] = parse_params_text(str(values.get("params") or ""))
        except ValueError as exc:
            problems.append(f"Dataset parameters: {exc}")
    train_pct = int(values.get("split.train_pct", round(base.data.split[0] * 100)))
    val_pct = int(values.get("split.val_pct", round(base.data.split[1] * 100)))
    count, first = int(values.get("seeds.count", 3)), int(values.get("seeds.first", 0))
    optimizers = values.get("contestants.optimizers")
    if optimizers is None:
        optimizers = [c.optimizer for c in base.contestants]
    run = RunConfig(contestants=contestants_of(optimizers, str(values.get("contestants.flavor") or "pytorch")))
    try:
        run = run.replace(**settings)
    except ValueError as exc:
        problems.append(str(exc))
    run.seeds = list(range(first, first + max(count, 0)))
    run.data.split = (train_pct / 100, val_pct / 100, (100 - train_pct - val_pct) / 100)  # checked by build_spec
    grid = {name: str(values.get(f"grid.{name}", "") or "") for name in grid_fields}
    return SweepForm(run, grid, str(values.get("name") or ""), problems)

