"""Sweeps from the browser: the form's values to a :class:`~gru_core.sweep.SweepSpec`, its limits and a
time estimate, a background runner, and the tables and sentences of the results and the run history.

No Streamlit here: the pages read their widgets into a :class:`SweepForm`, call these functions and draw.
Everything numerical is the engine's (``gru_core.sweep``, ``gru_core.stats``, ``gru_core.store``); the
command line's own parsing and summary (``gru_core.sweep.parse_grid``, ``gru_core.config.parse_params``,
``gru_core.stats.summarize``) are reused, so the page and ``python -m gru_core sweep`` give the same numbers.

The runner (:class:`SweepJob`) follows :mod:`gru_core.train.live`: a daemon thread calls
:func:`~gru_core.sweep.run_sweep` with a progress callback that writes plain Python objects under a lock;
the page polls :meth:`SweepJob.snapshot` from a fragment.  The thread never calls Streamlit.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gru_core.config import DataConfig
from gru_core.config import parse_params as parse_data_params
from gru_core.data import DataError
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.optim import OPTIMIZERS
from gru_core.stats import group_stats, summarize, to_frame
from gru_core.store import RunStore, StoreError, default_store_path  # noqa: F401
from gru_core.sweep import (
    GRID_FIELDS,
    SweepCancelled,
    SweepProgress,
    SweepSpec,
    cells,
    coerce_value,
    parse_grid,
    prepared_data,
    run_sweep,
)
from gru_core.train import Contestant, TrainConfig

from . import state as S
from .shell import STORE_ANY_PATH_ENV, default_path, open_store, resolve_store_choice, store_folder  # noqa: F401

__all__ = [
    "LIMITS",
    "MAIN_FIELDS",
    "Estimate",
    "JobSnapshot",
    "SweepForm",
    "SweepJob",
    "active_sweeps",
    "build_spec",
    "estimate",
    "export_runs",
    "filter_runs",
    "fmt_duration",
    "results_table",
    "study_form",
    "tiny_form",
    "verdict",
]

# Limits, stated on the page.
LIMITS: dict[str, Any] = {
    "confirm_cells": 500,  # a bigger grid needs a tick in "yes, run it"
    "max_cells": 5000,  # refused above this
    "max_values": 20,  # values per grid field
    "max_seeds": 50,
    "max_optimizers": S.LIMITS["optimizers"],
    "max_sweeps": int(os.environ.get("GRU_LAB_MAX_SWEEPS", 2)),  # sweeps running at once on the server
    "max_workers": max(1, os.cpu_count() or 1),
    "compare_runs": 12,  # runs overlaid on the history page
}

MAIN_FIELDS = ("batch_size", "epochs", "lr", "hidden_size")  # always offered; any other field: "add a field"
FIELD_LABELS: dict[str, str] = {
    "batch_size": "Batch size (windows per mini-batch)",
    "epochs": "Epochs (at most; early stopping may end sooner)",
    "lr": "Learning rate (every optimizer)",
    "hidden_size": "Hidden units (GRU size)",
    "num_layers": "GRU layers",
    "variant": "GRU variant (pytorch, classic)",
    "init": "Weight init (pytorch, keras)",
    "dropout": "Dropout on the last hidden state (0…0.9)",
    "dtype": "Float type (float64, float32)",
    "patience": "Early-stopping patience in epochs (none = off)",
    "restore_best": "Restore the best-validation weights (true, false)",
    "clip_norm": "Gradient-norm clipping (none = off)",
    "shuffle": "Shuffle windows every epoch (true, false)",
    "schedule": "Learning-rate schedule (constant, step, cosine)",
    "step_every": "Step schedule: epochs between lr cuts",
    "step_gamma": "Step schedule: lr factor per cut (0…1]",
    "divergence_factor": "Divergence: loss above this × the first loss",
    "lookback": "Lookback (past values per window)",
    "horizon": "Horizon (values predicted at once)",
    "split": "Split train,val,test fractions (separate sets with ;)",
    "split_by": "Split by (windows, series)",
    "scaler": "Scaler (minmax, standard, none)",
    "fit_scaler_on": "Fit the scaler on (train, all)",
}
SHORT_NAMES: dict[str, str] = {
    "batch_size": "batch size",
    "epochs": "epochs",
    "lr": "learning rate",
    "hidden_size": "hidden units",
    "num_layers": "layers",
    "dropout": "dropout",
    "lookback": "lookback",
    "patience": "patience",
}
EXTRA_FIELDS = tuple(f for f in GRID_FIELDS if f not in MAIN_FIELDS)
# The page's own limits, also for grid values (the race page states the same).
_RANGES: dict[str, tuple[float, float]] = {
    "hidden_size": (1, S.LIMITS["hidden"]),
    "num_layers": (1, S.LIMITS["layers"]),
    "epochs": (1, S.LIMITS["epochs"]),
    "batch_size": (1, S.LIMITS["batch"]),
    "lookback": (1, S.LIMITS["lookback"]),
    "horizon": (1, S.LIMITS["horizon"]),
    "patience": (1, S.LIMITS["patience"]),
    "lr": (1e-8, 10.0),
    "dropout": (0.0, 0.9),
    "step_every": (1, S.LIMITS["epochs"]),
}
STUDY_GRID = {
    "batch_size": "32, 64, 128",
    "epochs": "50, 100",
    "lr": "0.01, 0.001, 0.0001",
    "hidden_size": "16, 32, 64",
}

DEFAULT_GRID = {"batch_size": "32", "epochs": "30", "lr": "0.01, 0.001", "hidden_size": "16, 32"}

EXPORT_MIME = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# ----------------------------------------------------------------------------------------------------------
# the form -> a spec
# ----------------------------------------------------------------------------------------------------------


@dataclass
class SweepForm:
    """The sweep page's settings as plain values (what its widgets hold)."""

    source: str = "noisy_sine"  # a registry key or the path of a stored CSV upload
    data_params: str = ""  # registry datasets: "length=300, noise=0.1"
    column: str | None = None  # CSV value column
    date_column: str | None = None  # CSV date column (None: detected)
    lookback: int = 20
    horizon: int = 1
    train_pct: int = 80
    val_pct: int = 10  # test = 100 - train - val
    split_by: str = "windows"
    scaler: str = "minmax"
    fit_scaler_on: str = "train"
    num_layers: int = 1
    variant: str = "pytorch"
    init: str = "pytorch"
    dropout: float = 0.0
    dtype: str = "float64"
    patience: int = 0  # 0: no early stopping
    restore_best: bool = True
    clip_norm: float = 0.0  # 0: no clipping
    schedule: str = "constant"
    grid: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_GRID))  # field -> "v1, v2" ("": not swept)
    optimizers: list[str] = field(default_factory=lambda: ["adam", "rmsprop"])
    flavor: str = "pytorch"  # Adam and RMSprop; the others have one flavour
    n_seeds: int = 3
    first_seed: int = 0
    name: str = ""

    @property
    def split(self) -> tuple[float, float, float]:
        return (self.train_pct / 100, self.val_pct / 100, (100 - self.train_pct - self.val_pct) / 100)


def study_form(source: str = "noisy_sine", column: str | None = None, date_column: str | None = None) -> SweepForm:
    """The original study's grid: 54 configurations × Adam and RMSprop (Keras flavour and init), lookback
    20, split 0.81/0.09/0.10 by series rows, MinMax fitted on the whole series, dropout 0.3, early stopping
    with patience 3 and no weight restoring, one seed (as the study; raise it to see the seed noise)."""
    return SweepForm(
        source=source,
        column=column,
        date_column=date_column,
        lookback=20,
        horizon=1,
        train_pct=81,
        val_pct=9,
        split_by="series",
        scaler="minmax",
        fit_scaler_on="all",
        init="keras",
        dropout=0.3,
        patience=3,
        restore_best=False,
        grid=dict(STUDY_GRID),
        optimizers=["adam", "rmsprop"],
        flavor="keras",
        n_seeds=1,
        first_seed=1,
        name="study grid",
    )


def tiny_form() -> SweepForm:
    """A grid that runs in seconds: 2 learning rates × Adam and RMSprop × 2 seeds, 4 units, 2 epochs."""
    return SweepForm(
        source="noisy_sine",
        data_params="length=200",
        grid={"batch_size": "32", "epochs": "2", "lr": "0.01, 0.001", "hidden_size": "4"},
        optimizers=["adam", "rmsprop"],
        n_seeds=2,
        name="tiny demo",
    )


_PARAM_SPLIT = re.compile(r"[,;\s]+(?=[A-Za-z_]\w*\s*=)")


def parse_values(name: str, text: str) -> list[Any]:
    """The values of one grid field from the text of its box ("32, 64, 128"; ``split`` sets with ";").

    Raises ValueError naming the field and the limit when a value is malformed or out of range.
    """
    text = (text or "").strip()
    if not text:
        return []
    raw = parse_grid([f"{name}={text}"])[name]
    values = []
    for v in raw:
        value = coerce_value(name, v)
        lo_hi = _RANGES.get(name)
        if lo_hi is not None and value is not None and not (lo_hi[0] <= value <= lo_hi[1]):
            raise ValueError(f"{name}: {v} is outside the page's limits {lo_hi[0]:g}…{lo_hi[1]:g}")
        if value not in values:
            values.append(value)
    if len(values) > LIMITS["max_values"]:
        raise ValueError(f"{name}: {len(values)} values; at most {LIMITS['max_values']} per field")
    return values


def _data_params(text: str) -> dict:
    items = [p.strip().strip(",;") for p in _PARAM_SPLIT.split((text or "").strip()) if p.strip().strip(",;")]
    return parse_data_params(items)


def build_spec(form: SweepForm) -> tuple[SweepSpec | None, list, list[str]]:
    """``(spec, cells, problems)`` for a form: the spec and its cells (every setting checked by the engine),
    or None and what is wrong, in words for the page."""
    problems: list[str] = []
    grid: dict[str, list] = {}
    for name, text in form.grid.items():
        try:
            values = parse_values(name, text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if values:
            grid[name] = values
    if not form.optimizers:
        problems.append("Choose at least one optimizer.")
    if len(form.optimizers) > LIMITS["max_optimizers"]:
        problems.append(f"At most {LIMITS['max_optimizers']} optimizers per sweep.")
    if not 1 <= int(form.n_seeds) <= LIMITS["max_seeds"]:
        problems.append(f"Seeds: between 1 and {LIMITS['max_seeds']}.")
    if form.train_pct + form.val_pct > 95:
        problems.append("The test part must keep at least 5 % of the series: lower the train or validation share.")
    params: dict = {}
    if form.data_params.strip():
        if form.source not in S.series_datasets():
            problems.append("Dataset parameters apply to the built-in datasets only, not to a CSV file.")
        else:
            try:
                params = _data_params(form.data_params)
            except ValueError as exc:
                problems.append(f"Dataset parameters: {exc}")
    if problems:
        return None, [], problems
    try:
        optimizers = [
            Contestant(k, flavor=form.flavor if form.flavor in OPTIMIZERS[k].flavors else "pytorch")
            for k in form.optimizers
        ]
        spec = SweepSpec(
            data=DataConfig(
                form.source,
                params=params,
                column=form.column,
                date_column=form.date_column,
                lookback=form.lookback,
                horizon=form.horizon,
                split=form.split,
                split_by=form.split_by,
                scaler=form.scaler,
                fit_scaler_on=form.fit_scaler_on,
            ),
            model=GRUConfig(
                num_layers=form.num_layers,
                variant=form.variant,
                init=form.init,
                dropout=float(form.dropout),
                dtype=form.dtype,
                output_size=form.horizon,
            ),
            train=TrainConfig(
                patience=int(form.patience) or None,
                restore_best=bool(form.restore_best),
                clip_norm=float(form.clip_norm) or None,
                schedule=form.schedule,
            ),
            contestants=optimizers,
            grid=grid,
            seeds=list(range(int(form.first_seed), int(form.first_seed) + int(form.n_seeds))),
            name=form.name.strip(),
        )
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


def check_data(cell_list: Sequence) -> tuple[dict | None, list[str]]:
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
    first = next(iter(seen.values()), None)
    return first, problems


# ----------------------------------------------------------------------------------------------------------
# how long will it take?
# ----------------------------------------------------------------------------------------------------------

_STEP_COST: dict[tuple, float] = {}
_CALIBRATE_MAX = 16  # distinct model shapes timed per estimate; more borrow the nearest
OVERHEAD = 1.35  # optimizer update, norms and bookkeeping on top of forward + backward


def step_seconds(model: dict, batch: int, lookback: int) -> float:
    """Seconds for one forward + backward pass of this model on one mini-batch, timed here once per shape."""
    key = (
        int(model["hidden_size"]),
        int(model.get("num_layers", 1)),
        str(model.get("variant", "pytorch")),
        str(model.get("dtype", "float64")),
        int(model.get("output_size", 1)),
        int(batch),
        int(lookback),
    )
    hit = _STEP_COST.get(key)
    if hit is not None:
        return hit
    cfg = GRUConfig(
        input_size=1, hidden_size=key[0], num_layers=key[1], variant=key[2], dtype=key[3], output_size=key[4]
    )
    net = GRURegressor.from_config(cfg)
    rng = np.random.default_rng(0)
    X = rng.random((key[5], key[6], 1))
    y = rng.random((key[5], key[4]))
    net.loss_and_grads(X, y)  # warm-up (workspaces)
    reps = 3
    t0 = time.perf_counter()
    for _ in range(reps):
        net.loss_and_grads(X, y)
    cost = (time.perf_counter() - t0) / reps
    _STEP_COST[key] = cost
    return cost


@dataclass
class Estimate:
    """What a sweep will cost, before it runs."""

    n_configs: int
    n_seeds: int
    n_cells: int
    n_optimizers: int
    n_runs: int
    n_stored: int  # cells already in the store (resumed, not run again)
    steps: int  # mini-batch steps of every run, at most (every epoch run)
    seconds: float  # wall time, at most (every epoch run), on the workers used
    workers: int
    needs_confirm: bool
    refused: bool


def estimate(spec: SweepSpec, cell_list: Sequence, workers: int, stored: Iterable[str] = ()) -> Estimate:
    """Cell count and an upper estimate of the wall time: every epoch run (early stopping only shortens it),
    one mini-batch timed on this machine per model shape, cells spread over the workers."""
    stored = set(stored)
    todo = [c for c in cell_list if c.key not in stored]
    k = len(spec.contestants)
    total_steps, total_seconds = 0, 0.0
    timed: dict[tuple, float] = {}
    for c in todo:
        info = prepared_data(c.data)[1]
        n_train, n_val = int(info.get("n_train", 0)), int(info.get("n_val", 0))
        batch, epochs = int(c.train["batch_size"]), int(c.train["epochs"])
        lookback = int(c.data["lookback"])
        shape = (
            c.model["hidden_size"],
            c.model["num_layers"],
            c.model["variant"],
            c.model["dtype"],
            c.model["output_size"],
            batch,
            lookback,
        )
        if shape not in timed:
            if len(timed) < _CALIBRATE_MAX:
                timed[shape] = step_seconds(c.model, batch, lookback)
            else:  # borrow the closest timed shape, scaled by the work
                work = batch * lookback * (shape[0] + 1) ** 2 * shape[1]
                ref = min(timed, key=lambda s: abs(math.log((s[5] * s[6] * (s[0] + 1) ** 2 * s[1]) / work)))
                timed[shape] = timed[ref] * work / (ref[5] * ref[6] * (ref[0] + 1) ** 2 * ref[1])
        t_step = timed[shape]
        steps = math.ceil(n_train / batch) * epochs
        val_passes = epochs * (n_val / batch) * 0.4  # a forward pass only, per epoch
        total_steps += steps * k
        total_seconds += k * (steps * OVERHEAD + val_passes) * t_step + 0.02
    n_workers = max(1, min(int(workers) or 1, LIMITS["max_workers"], len(todo) or 1))
    wall = total_seconds / n_workers + (3.0 if workers and todo else 0.0)  # process start
    n_configs = len({c.config_key for c in cell_list})
    n_cells = len(cell_list)
    return Estimate(
        n_configs=n_configs,
        n_seeds=len(spec.seeds),
        n_cells=n_cells,
        n_optimizers=k,
        n_runs=n_cells * k,
        n_stored=n_cells - len(todo),
        steps=total_steps,
        seconds=wall if todo else 0.0,
        workers=n_workers,
        needs_confirm=n_cells > LIMITS["confirm_cells"],
        refused=n_cells > LIMITS["max_cells"],
    )


def fmt_duration(seconds: float | None) -> str:
    """A duration in words: "12 s", "3 min 20 s", "2 h 05 min"."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def stored_cells(store_path: str | os.PathLike, spec: SweepSpec) -> tuple[int | None, set[str]]:
    """The stored sweep this spec resumes (its id, or None) and the keys of its stored cells."""
    store = RunStore(store_path)
    sweep_id = store.find_sweep(spec.key)
    return sweep_id, (store.cell_keys(sweep_id) if sweep_id is not None else set())


# ----------------------------------------------------------------------------------------------------------
# CSV uploads: kept next to the store (a sweep reads its CSV by path, and resuming needs it again)
# ----------------------------------------------------------------------------------------------------------


def save_upload(data: bytes, name: str, store_path: str | os.PathLike) -> Path:
    """Write an uploaded CSV to ``<store folder>/uploads/<content hash>-<name>`` (same content: same file,
    hence the same cell keys, so a sweep on it resumes) and return the path."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name).strip("-.") or "upload.csv"
    folder = Path(store_path).expanduser().resolve().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}-{safe[:60]}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


# ----------------------------------------------------------------------------------------------------------
# the background runner
# ----------------------------------------------------------------------------------------------------------


SweepStopped = SweepCancelled  # what run_sweep raises when the page's Stop sets the job's event


@dataclass
class JobSnapshot:
    """A consistent copy of a running sweep's progress (plain values)."""

    status: str  # starting | running | stopping | finished | failed | stopped | error
    done: int  # cells finished in this run (stored or failed)
    total: int  # cells to run (the stored ones excluded)
    skipped: int  # cells found in the store
    failed: int
    elapsed: float
    eta: float | None
    runs_stored: int
    last: str  # the last cell's results, in words
    message: str
    sweep_id: int | None
    failures: list = field(default_factory=list)  # {"cell_index", "seed", "params", "error"}

    @property
    def live(self) -> bool:
        return self.status in ("starting", "running", "stopping")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else (1.0 if not self.live else 0.0)


_JOBS: weakref.WeakSet[SweepJob] = weakref.WeakSet()
_JOBS_LOCK = threading.Lock()


def active_sweeps() -> int:
    """Sweeps running right now on this server (every browser session)."""
    with _JOBS_LOCK:
        return sum(1 for j in list(_JOBS) if j.running)


_SPAWN_PATCHED = False


def keep_app_out_of_workers() -> None:
    """Keep a Streamlit app's script out of the sweep's worker processes (installed once, process-wide).

    Streamlit runs the app as a fake ``__main__`` module whose ``__file__`` is the app script, and the
    "spawn" start method re-runs ``__main__.__file__`` in every new process (as ``__mp_main__``): each
    worker would execute the whole app (its pages, in bare mode, with warnings) before its first cell,
    seconds of start-up per worker.  The workers need nothing from ``__main__`` (they run
    ``gru_core.sweep.run_cell``, pickled by reference), so while a Streamlit runtime exists in this process,
    new processes skip that step.  Elsewhere (a script, the tests) nothing changes.
    """
    global _SPAWN_PATCHED
    with _JOBS_LOCK:
        if _SPAWN_PATCHED:
            return
        from multiprocessing import spawn

        original = spawn.get_preparation_data

        def get_preparation_data(name):
            data = original(name)
            runtime = sys.modules.get("streamlit.runtime")
            if runtime is not None and getattr(runtime, "exists", lambda: False)():
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = get_preparation_data
        _SPAWN_PATCHED = True


class SweepJob:
    """One sweep running in a daemon thread; read it with :meth:`snapshot`, end it with :meth:`stop`."""

    def __init__(
        self,
        spec: SweepSpec,
        store_path: str | os.PathLike,
        workers: int = 0,
        resume: bool = True,
        estimate_seconds: float | None = None,
    ):
        self.spec = spec
        self.store_path = str(store_path)
        self.workers = int(workers)
        self.resume = bool(resume)
        self.estimate_seconds = estimate_seconds
        self.labels = [c.name for c in spec.contestants]
        self.started = time.time()
        self.final_drawn = False  # a full page run completed after the end (the poll timer is off)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snap = JobSnapshot("starting", 0, 0, 0, 0, 0.0, None, 0, "", "", None)
        self._t0 = time.perf_counter()
        self._t_end: float | None = None
        self.wall_seconds: float | None = None

    # ---- control ---------------------------------------------------------------------------------------

    def start(self, max_sweeps: int | None = None) -> None:
        """Start the thread.  RuntimeError when the server already runs ``max_sweeps`` sweeps."""
        limit = LIMITS["max_sweeps"] if max_sweeps is None else max_sweeps
        if self._thread is not None:
            raise RuntimeError("this sweep has already been started")
        store = RunStore(self.store_path)  # StoreError here, on the page's thread, for a bad path
        sweep_id = store.find_sweep(self.spec.key) if self.resume else None
        with _JOBS_LOCK:
            running = sum(1 for j in list(_JOBS) if j.running)
            if running >= limit:
                raise RuntimeError(f"The server is busy: {running} sweep(s) running (limit {limit}). Try again later.")
            if sweep_id is None:
                sweep_id = store.add_sweep(self.spec, n_cells=len(cells(self.spec, validate=False)))
            self._snap.sweep_id = sweep_id
            self._t0 = time.perf_counter()
            self._thread = threading.Thread(target=self._work, args=(sweep_id,), name="gru-lab-sweep", daemon=True)
            self._thread.start()
            _JOBS.add(self)

    def stop(self) -> None:
        """End the sweep: cells not started are cancelled, and with worker processes the cells training now
        are ended too (within a quarter of a second); in this process (0 workers) the current cell finishes
        first.  Finished cells stay stored, so running the same grid again resumes."""
        self._stop.set()
        with self._lock:
            if self._snap.live:
                self._snap.status = "stopping"

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def sweep_id(self) -> int | None:
        return self._snap.sweep_id

    # ---- the thread ------------------------------------------------------------------------------------

    def _progress(self, p: SweepProgress) -> None:
        with self._lock:
            s = self._snap
            s.done, s.total, s.skipped, s.failed = p.done, p.total, p.skipped, p.failed
            s.elapsed, s.eta = p.elapsed, p.eta
            if s.status == "starting":
                s.status = "running"
            if p.records:
                s.runs_stored += len(p.records)
                parts = []
                for r in p.records:
                    t = r.get("test") or {}
                    mape, rmse = t.get("mape"), t.get("rmse")
                    parts.append(
                        f"{r.get('label')}: diverged"
                        if r.get("diverged") or mape is None
                        else f"{r.get('label')}: MAPE {mape:.3g} %, RMSE {rmse:.3g}"
                    )
                c = p.cell
                where = ", ".join(f"{k}={v}" for k, v in (c.params or {}).items()) or "base" if c else "?"
                cell_txt = f"cell {c.index + 1}, seed {c.seed}" if c else "cell"
                s.last = f"{cell_txt} ({where}): " + "; ".join(parts)
            if p.error and p.cell is not None:
                s.failures.append(
                    {
                        "cell_index": p.cell.index,
                        "seed": p.cell.seed,
                        "params": dict(p.cell.params),
                        "error": p.error[:500],
                    }
                )
        if self._stop.is_set() and p.cell is not None:
            raise SweepStopped("stopped from the page")

    def _work(self, sweep_id: int) -> None:
        status, message = "error", ""
        try:
            if self.workers:
                keep_app_out_of_workers()
            res = run_sweep(
                self.spec,
                workers=self.workers,
                store=self.store_path,
                progress=self._progress,
                resume=self.resume,
                sweep_id=sweep_id,
                stop=self._stop,
            )
            status = "finished" if res.ok else "failed"
            message = res.message
            if res.failures:
                with self._lock:
                    self._snap.failures = [
                        {k: f.get(k) for k in ("cell_index", "seed", "params", "error")} for f in res.failures
                    ]
        except SweepStopped:
            status = "stopped"
            with self._lock:
                message = f"Stopped: {self._snap.done} of {self._snap.total} cells finished and stored."
        except (DataError, ValueError, StoreError, OSError, RuntimeError) as exc:
            message = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - the page shows the message; the traceback goes to the log
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
        finally:
            if status == "error":  # run_sweep failed before it could mark the sweep: do it here
                try:
                    store = RunStore(self.store_path)
                    if store.get_sweep(sweep_id)["status"] == "running":
                        store.finish_sweep(sweep_id, "failed", message or "failed before the first cell")
                except Exception:  # noqa: BLE001 - the store itself may be the problem; the page has the message
                    pass
            end = time.perf_counter()
            with self._lock:
                self._snap.status = status
                self._snap.message = message
                self._snap.elapsed = end - self._t0
                self._snap.eta = None
                self.wall_seconds = end - self._t0
                self._t_end = end

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = replace(self._snap, failures=list(self._snap.failures))
            if s.live:
                s.elapsed = time.perf_counter() - self._t0
            return s


# ----------------------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------------------

METRIC_NAMES = {"test_mape": "MAPE", "test_rmse": "RMSE", "test_mae": "MAE", "test_mse": "MSE", "val_mse": "MSE"}


def load_records(store_path: str | os.PathLike, sweep_id: int) -> list[dict]:
    """Every stored run record of one sweep (with histories), oldest first."""
    return RunStore(store_path).records(sweep_id=int(sweep_id))


def swept_fields(records: Sequence[dict]) -> list[str]:
    """The swept parameters of a sweep's run records, in grid order."""
    seen: list[str] = []
    for r in records:
        for k in r.get("params") or {}:
            if k not in seen:
                seen.append(k)
    return seen


def varying_fields(records: Sequence[dict]) -> list[str]:
    """The swept parameters that take at least two values in these runs, in grid order."""
    out = []
    for f in swept_fields(records):
        values = {repr((r.get("params") or {}).get(f)) for r in records}
        if len(values) > 1:
            out.append(f)
    return out


def config_label(row: Any, fields: Sequence[str]) -> str:
    """A configuration named by the settings that vary only, e.g. "lr=0.01, hidden_size=16"."""
    parts = [f"{f}={row[f]}" for f in fields if f in row and row[f] is not None]
    return ", ".join(parts) or "(one configuration)"


def units_of(records: Sequence[dict]) -> str:
    for r in records:
        info = r.get("data_info") or {}
        if info.get("units"):
            return str(info["units"])
    return ""


def results_table(
    records: Sequence[dict], metrics: Sequence[str] = ("test_mape", "test_rmse"), units: str = ""
) -> pd.DataFrame:
    """The study's table, with the spread over seeds: one row per configuration × optimizer, the swept
    parameters, the optimizer, ``seeds`` (runs), ``diverged`` (of them; left out of the statistics), then for
    each metric its mean, std and 95 % confidence interval over seeds (numbers, so the table sorts by any
    column; NaN where one finished seed leaves no spread)."""
    df = to_frame(records)
    if df.empty:
        return pd.DataFrame()
    fields_ = [f for f in swept_fields(records) if f in df.columns]
    out: pd.DataFrame | None = None
    for metric in metrics:
        g = group_stats(df, metric, by=("config_key", "label"))
        name = METRIC_NAMES.get(metric, metric) + (" %" if metric.endswith("mape") else "")
        if metric.endswith(("rmse", "mae")) and units and units != "unitless":
            name += f" ({units})"
        cols = {"mean": f"{name} mean", "std": f"{name} std", "ci_low": f"{name} CI low", "ci_high": f"{name} CI high"}
        part = g[
            ["config_key", "label", *[f for f in fields_ if f in g.columns], "n_runs", "n_diverged", *cols]
        ].rename(columns=cols)
        if out is None:
            out = part
        else:
            out = out.merge(part[["config_key", "label", *cols.values()]], on=["config_key", "label"], how="left")
    assert out is not None
    out = out.rename(columns={"label": "optimizer", "n_diverged": "diverged", "n_runs": "seeds"})
    out = out.rename(columns={f: SHORT_NAMES.get(f, f) for f in fields_})
    return out.drop(columns=["config_key"]).reset_index(drop=True)


def summary(records, metric: str = "test_mape", select: str = "val_mse") -> dict:
    """The command line's summary (:func:`gru_core.stats.summarize`): groups, paired comparisons, the
    learning-rate table and the best configuration per optimizer with the baselines."""
    return summarize(records, metric=metric, select=select)


def seeds_per_config(records) -> int:
    """The most seeds any (configuration, optimizer) has: 1 means seed noise cannot be judged."""
    df = to_frame(records)
    if df.empty:
        return 0
    return int(df.groupby(["config_key", "label"]).size().max())


def _num(v: Any, digits: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:.{digits}g}" if math.isfinite(f) else "—"


def _signed(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:+.3g}" if math.isfinite(f) else "—"


def verdict(summ: dict, n_seeds: int, metric: str = "test_mape", units: str = "") -> tuple[str, str]:
    """``(level, sentences)`` for the top of the results.

    The first two optimizers' paired comparison: a winner only when the 95 % confidence interval of the mean
    difference excludes 0; with one seed per configuration it says that seed noise cannot be judged.  Then
    the best configuration (chosen on validation, reported on test) against persistence and the linear
    baseline.  ``level``: "success" (a difference beyond the seed noise and a GRU that beats persistence),
    "warning" (anything a teacher should not read as a win), "info" otherwise.
    """
    mname = METRIC_NAMES.get(metric, metric)
    mape = metric.endswith("mape")
    lower = not metric.endswith("r2")
    val_unit = " %" if mape else (f" {units}" if units and units != "unitless" else "")
    diff_unit = " percentage points" if mape else val_unit
    key = metric.split("_", 1)[1]
    if not summ.get("groups"):
        return "warning", "No finished runs yet: nothing to compare."
    parts: list[str] = []
    level = "info"
    paired = summ.get("paired") or []
    if paired:
        pc = paired[0]
        a, b = pc["a"], pc["b"]
        if not pc["n"]:
            parts.append(f"{a} and {b} have no pair of finished runs to compare (diverged runs are left out).")
            level = "warning"
        else:
            diff, lo, hi = pc["mean_diff"], pc["ci_low"], pc["ci_high"]
            better = a if (diff < 0) == lower else b
            wins = pc["wins_a"] if better == a else pc["wins_b"]
            d_txt = f"{a} − {b} = {_signed(diff)}{diff_unit} of test {mname}"
            if n_seeds < 2:
                parts.append(
                    "Only one seed per configuration: whether a difference at any single configuration (such as "
                    "the best one) is larger than the seed noise cannot be judged. Run 3 or more seeds."
                )
                parts.append(
                    f"Averaged over all {pc['n']} configurations, {d_txt} (95 % CI {_num(lo)} to {_num(hi)}); "
                    f"{better} is better in {wins:.0%} of them."
                )
                level = "warning"
            else:
                ci = f"95 % CI {_num(lo)} to {_num(hi)}, p = {_num(pc['p_value'], 2)}"
                if lo > 0 or hi < 0:
                    parts.append(
                        f"{better} is better: {d_txt} on average over {pc['n']} paired runs ({ci}), more than "
                        f"the seed noise; {better} wins {wins:.0%} of the pairs."
                    )
                    level = "success"
                else:
                    parts.append(
                        f"No winner: {d_txt} on average over {pc['n']} paired runs, but the confidence interval "
                        f"({ci}) includes 0: the difference is within the seed noise."
                    )
                    level = "warning"
                tested, sig = pc.get("configs_tested", 0), pc.get("configs_significant", 0)
                if tested:
                    parts.append(
                        f"Configuration by configuration (over seeds), the difference exceeds the seed noise in "
                        f"{sig} of {tested}."
                    )
    best = [r for r in summ.get("best") or [] if math.isfinite(float(r.get("select_mean", math.nan)))]
    if best:
        b = min(best, key=lambda r: float(r["select_mean"]))  # chosen on validation, never on test
        base = b.get("baselines") or {}
        pers = (base.get("persistence") or {}).get(key)
        lin = (base.get("linear") or {}).get(key)
        val = b.get(f"{metric}_mean")
        if pers is not None and val is not None and math.isfinite(val):
            beats = val < pers if lower else val > pers
            seeds_txt = f"{b['n_seeds']} seed{'s' if b['n_seeds'] != 1 else ''}"
            parts.append(
                f"The best configuration, chosen on validation loss ({b['label']}, {b['config']}), has test "
                f"{mname} {_num(val)}{val_unit} ({seeds_txt}); persistence (tomorrow = today) has "
                f"{_num(pers)}{val_unit}"
                + (f" and the linear baseline {_num(lin)}{val_unit}" if lin is not None else "")
                + (": the GRU beats persistence." if beats else ": the GRU does NOT beat persistence.")
            )
            if not beats:
                level = "warning"
    return level, " ".join(parts)


# ----------------------------------------------------------------------------------------------------------
# the run history
# ----------------------------------------------------------------------------------------------------------


def created_dates(df: pd.DataFrame) -> pd.Series:
    """The UTC date of each run's ``created`` timestamp."""
    if df.empty:
        return pd.Series([], dtype=object)
    ts = pd.to_datetime(df["created"], utc=True, errors="coerce", format="ISO8601")
    return ts.dt.date


def filter_runs(
    df: pd.DataFrame,
    sweeps: Sequence | None = None,
    optimizers: Sequence | None = None,
    datasets: Sequence | None = None,
    since: date | None = None,
    until: date | None = None,
    diverged: str = "all",
) -> pd.DataFrame:
    """The rows of ``RunStore.runs()`` matching every filter given (empty or None: no filter).

    ``sweeps``: sweep ids (None in the list: runs outside any sweep); ``optimizers``: run labels;
    ``datasets``: data sources; ``since``/``until``: UTC dates, inclusive; ``diverged``: "all", "yes", "no".
    """
    if df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    if sweeps:
        ids = {int(s) for s in sweeps if s is not None}
        sid = df["sweep_id"]
        keep &= sid.isin(ids) | (sid.isna() & (None in sweeps))
    if optimizers:
        keep &= df["label"].isin(list(optimizers))
    if datasets:
        keep &= df["dataset"].isin(list(datasets))
    if since is not None or until is not None:
        days = created_dates(df)
        if since is not None:
            keep &= days.map(lambda d: d is not None and not pd.isna(d) and d >= since)
        if until is not None:
            keep &= days.map(lambda d: d is not None and not pd.isna(d) and d <= until)
    if diverged in ("yes", "no"):
        keep &= df["diverged"].astype(bool) == (diverged == "yes")
    return df[keep]


def dataset_label(source: Any) -> str:
    """A dataset key's name, or a stored upload's file name without its hash."""
    s = str(source)
    if s in S.series_datasets():
        return S.series_datasets()[s]
    name = Path(s).name
    return re.sub(r"^[0-9a-f]{16}-", "", name) or s


def export_runs(store_path: str | os.PathLike, ids: Sequence[int], fmt: str) -> bytes:
    """The runs ``ids`` as a CSV (flat table), JSON (full records with histories) or XLSX file's bytes."""
    store = RunStore(store_path)
    out = store.export(list(ids), fmt=fmt)
    return out.encode("utf-8") if isinstance(out, str) else bytes(out)


def export_name(fmt: str, n: int) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return f"gru-lab-runs-{n}-{stamp}.{fmt}"


def delete_runs(store_path: str | os.PathLike, ids: Sequence[int]) -> tuple[int, list[int]]:
    """Delete runs; then delete the sweeps left without runs (unless running).  ``(runs, sweep ids)``."""
    store = RunStore(store_path)
    n = store.delete_runs(ids)
    gone = []
    sw = store.sweeps()
    for _, row in sw.iterrows():
        if int(row["n_runs"]) == 0 and row["status"] != "running":
            store.delete_sweep(int(row["id"]), runs=False)
            gone.append(int(row["id"]))
    return n, gone


def run_label(row: Any) -> str:
    """One run in a legend or a picker: "#12 Adam · seed 0 · lr=0.01, hidden_size=4"."""
    cfg = row.get("config") if hasattr(row, "get") else None
    return f"#{int(row['id'])} {row['label']} · seed {row['seed']}" + (f" · {cfg}" if cfg and cfg != "(base)" else "")


def local_time(iso: Any) -> str:
    """A stored UTC timestamp as "2024-05-01 14:03 UTC"."""
    try:
        ts = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def default_date_range(df: pd.DataFrame) -> tuple[date, date]:
    days = [d for d in created_dates(df) if d is not None and not pd.isna(d)]
    today = datetime.now(timezone.utc).date()
    if not days:
        return today - timedelta(days=30), today
    return min(days), max(max(days), today)


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")
