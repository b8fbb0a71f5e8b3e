"""A race of the page, from the sidebar's :class:`~gru_core.config.RunConfig` to the server's runner: the
checks before Train, the :class:`~gru_core.runner.RaceJob` it submits to :func:`gru_core.runner.get_runner`
(training happens in a worker, never in the web server's threads; a race beyond the free workers waits in
line), the server-wide registry of this page's races (the cap ``GRU_LAB_MAX_RACES``, and a watchdog that
stops races and cancels queued ones nobody watches) and :class:`RaceHandle`, what one browser session keeps
of its race.

No Streamlit import.  Everything numerical is the engine's: the job carries the RunConfig, and the worker's
race gets ``cfg.model_config()``, ``cfg.train_config(log_every=…)`` and ``cfg.race_contestants()``, nothing
rebuilt by hand; :func:`build_race` builds the very same race here (the reference the tests compare with).
"""

from __future__ import annotations

import itertools
import math
import os
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from gru_core.config import RunConfig, to_query
from gru_core.data import DataError, Prepared, prepare_run
from gru_core.model.files import Checkpoint
from gru_core.optim import OPTIMIZERS, make_optimizer
from gru_core.runner import JobHandle, RaceJob, Runner, get_runner
from gru_core.runner.seeds import SeedRaces
from gru_core.train import Race
from gru_core.train.live import Snapshot

from .settings import PAGE_LIMITS, config_key
from .upload import series_label, series_units

__all__ = [
    "MAX_RACES_ENV",
    "RaceHandle",
    "active_races",
    "batches_per_epoch",
    "build_race",
    "check_config",
    "configured_lr",
    "contestants",
    "handle_by_token",
    "FIRST_CURVE_WAIT",
    "has_a_curve",
    "has_started",
    "heartbeat",
    "initial_state",
    "is_training",
    "log_every",
    "progress",
    "queue_text",
    "queued_races",
    "race_job",
    "seeds_text",
    "shown_seed_text",
    "race_limit",
    "race_limit_text",
    "runner",
    "start_race",
    "start_runner",
    "stop_orphans",
]


# ----------------------------------------------------------------------------------------------------------
# before Train
# ----------------------------------------------------------------------------------------------------------


def check_config(cfg: RunConfig, series: pd.Series | None) -> tuple[Prepared | None, list[str]]:
    """Everything that would make the race fail, found before training: (prepared data, problems).

    Calls the engine's ``prepare_run`` (which explains a too-short series) and builds every optimizer once.
    """
    problems: list[str] = []
    for label, c in zip(cfg.labels, cfg.contestants):
        try:
            make_optimizer(c.optimizer, flavor=c.flavor, **c.full_hyper())
        except (ValueError, TypeError) as exc:
            problems.append(f"{label}: {exc}")
    no_test = cfg.data.split[2] < 0.05 - 1e-9
    if no_test:
        problems.append("The test part must keep at least 5 % of the series: lower the train or validation share.")
    else:
        try:
            cfg.validate(limit=True)
        except ValueError as exc:
            problems.append(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    if series is None or no_test:
        return None, problems
    n, lookback, limit = len(series), cfg.data.lookback, PAGE_LIMITS["window_values"]
    if n * lookback > limit:
        problems.append(
            f"{n:,} values × lookback {lookback} = {n * lookback:,} window values; the limit is {limit:,}. Use a "
            f"smaller lookback (at most {limit // n}) or a shorter series."
        )
        return None, problems
    try:
        prepared = prepare_run(series, cfg.data)
    except DataError as exc:
        problems.append(str(exc))
        return None, problems
    if cfg.data.split[1] > 0 and len(prepared.y_val) == 0:
        problems.append("The validation part is empty: raise its share or use a longer series.")
    return prepared, problems


# ----------------------------------------------------------------------------------------------------------
# the engine's race
# ----------------------------------------------------------------------------------------------------------


def batches_per_epoch(prepared: Prepared, cfg: RunConfig) -> int:
    """Mini-batches per epoch."""
    return math.ceil(len(prepared.X_train) / cfg.train.batch_size)


def log_every(prepared: Prepared, cfg: RunConfig) -> int:
    """Long epochs also report every few mini-batches, so the status columns move within an epoch."""
    n_batches = batches_per_epoch(prepared, cfg)
    return max(1, n_batches // 8) if n_batches >= 40 else 0


def initial_state(ck: Checkpoint, cfg: RunConfig) -> tuple[np.ndarray, dict[str, dict]]:
    """A saved model's weights (flat) and, for each contestant of the same optimizer and flavour as the
    saved one, the saved optimizer state (the contestant's own hyperparameters still apply)."""
    params = ck.model.params.flat.copy()
    states: dict[str, dict] = {}
    opt = ck.optimizer
    if opt is not None:
        for label, c in zip(cfg.labels, cfg.contestants):
            if type(opt) is OPTIMIZERS[c.optimizer].cls and opt.flavor == c.flavor:
                states[label] = opt.state_dict()
    return params, states


def build_race(prepared: Prepared, cfg: RunConfig, initial: Checkpoint | None = None) -> Race:
    """The engine's Race for a configuration (raises ValueError for what check_config could not see).

    ``cfg.interventions`` are replayed exactly.  ``initial`` (an uploaded model that fits the configuration,
    see :func:`gru_ui.race.models.model_fits`) gives every contestant its weights, and its optimizer state to
    the contestants of the same optimizer and flavour."""
    extra: dict[str, Any] = {}
    if initial is not None:
        params, states = initial_state(initial, cfg)
        extra = {"initial_params": params, "initial_optimizer_states": states}
    interventions = [dict(iv) for iv in cfg.interventions] or None
    return Race(prepared, cfg.model_config(), cfg.race_contestants(),
                cfg.train_config(log_every=log_every(prepared, cfg)), interventions=interventions,
                **extra)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# the job the runner trains
# ----------------------------------------------------------------------------------------------------------


def race_job(prepared: Prepared, cfg: RunConfig, series: pd.Series, initial: Any = None,
             model_info: dict[str, Any] | None = None) -> RaceJob:
    """The :class:`~gru_core.runner.RaceJob` of a configuration: the same race :func:`build_race` makes (same
    RunConfig, :func:`log_every` rule, interventions, initial weights and optimizer states), as plain data
    for the runner.  The series itself travels with the job (an uploaded CSV exists only in this session)."""
    extra: dict[str, Any] = {}
    if initial is not None:
        params, states = initial_state(initial.checkpoint, cfg)
        extra = {"initial_params": params, "initial_optimizer_states": states}
    return RaceJob(config=cfg, series=series, log_every=log_every(prepared, cfg),
                   interventions=[dict(iv) for iv in cfg.interventions], model_info=dict(model_info or {}),
                   **extra)  # fmt: skip


def contestants(cfg: RunConfig) -> dict[str, Any]:
    """label -> the engine's contestant (full hyperparameters), as the race builds them."""
    return dict(zip(cfg.labels, cfg.race_contestants()))


def configured_lr(contestant: Any) -> float:
    """A contestant's configured learning rate (its flavour's default if the configuration sets none)."""
    if "lr" in contestant.hyper:
        return float(contestant.hyper["lr"])
    return float(make_optimizer(contestant.optimizer, flavor=contestant.flavor, **contestant.hyper).lr)


# ----------------------------------------------------------------------------------------------------------
# the server's races
# ----------------------------------------------------------------------------------------------------------

_ACTIVE: weakref.WeakSet[JobHandle] = weakref.WeakSet()
_LAST_SEEN: weakref.WeakKeyDictionary[JobHandle, float] = weakref.WeakKeyDictionary()
_ACTIVE_LOCK = threading.Lock()
_WATCHDOG: threading.Thread | None = None
MAX_RACES_ENV = "GRU_LAB_MAX_RACES"
RACES_PER_WORKER = 4  # default cap: races training or waiting per worker of the runner


def runner() -> Runner:
    """The server's runner (:func:`gru_core.runner.get_runner`): made, and its workers started, on first use."""
    return get_runner()


def start_runner() -> str | None:
    """Make the server's runner (its workers start now, ready by the first Train); why it cannot, if so."""
    try:
        runner()
    except Exception as exc:  # noqa: BLE001 - a misconfigured runner (GRU_LAB_BACKEND, …) is shown, not raised
        return (f"The training runner cannot start ({type(exc).__name__}: {exc}). Check GRU_LAB_BACKEND, "
                "GRU_LAB_WORKERS and GRU_LAB_SCHEDULER.")  # fmt: skip
    return None


def race_limit(run: Runner | None = None) -> int:
    """Races training or waiting in line on this server at most: ``GRU_LAB_MAX_RACES`` if set, else the
    runner's workers × :data:`RACES_PER_WORKER`.  Raises ValueError for a setting that is not a whole number ≥ 1."""
    raw = os.environ.get(MAX_RACES_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{MAX_RACES_ENV} must be a whole number, got {raw!r}") from None
        if value < 1:
            raise ValueError(f"{MAX_RACES_ENV} must be at least 1, got {value}")
        return value
    return (run or runner()).workers * RACES_PER_WORKER


def race_limit_text() -> str:
    """:func:`race_limit` for people (never raises: a bad setting is named)."""
    try:
        return f"{race_limit():,}"
    except Exception as exc:  # noqa: BLE001 - a bad GRU_LAB_MAX_RACES or runner setting is shown, not raised
        return f"unknown ({exc})"


def active_races() -> int:
    """Races training or waiting in line right now on this server (all sessions)."""
    with _ACTIVE_LOCK:
        return sum(1 for live in list(_ACTIVE) if live.running)


def queued_races() -> int:
    """Races of this server waiting in line for a free worker."""
    with _ACTIVE_LOCK:
        return sum(1 for live in list(_ACTIVE) if live.running and live.queued)


def all_races() -> list[JobHandle]:
    """Every race of this server still referenced (tests stop leftovers with it)."""
    with _ACTIVE_LOCK:
        return list(_ACTIVE)


def heartbeat(live: JobHandle) -> None:
    """The page is still watching this race (called by every live redraw)."""
    with _ACTIVE_LOCK:
        _LAST_SEEN[live] = time.monotonic()


def stop_orphans(max_silence: float | None = None) -> int:
    """Stop races nobody has looked at for ``max_silence`` seconds (a closed tab) and cancel such races
    still waiting in line, freeing their place and worker; return how many.

    A visible tab redraws several times a second and even a hidden one (throttled by the browser) at least
    once a minute, so the default, ``PAGE_LIMITS["orphan_seconds"]``, only catches tabs that are gone.
    """
    limit = PAGE_LIMITS["orphan_seconds"] if max_silence is None else max_silence
    now = time.monotonic()
    stopped = 0
    with _ACTIVE_LOCK:
        orphans = [live for live in list(_ACTIVE) if live.running and now - _LAST_SEEN.get(live, now) > limit]
    for live in orphans:
        live.stop()  # a queued race is cancelled
        stopped += 1
    return stopped


def _watchdog() -> None:
    while True:
        time.sleep(5.0)
        try:
            stop_orphans()
        except Exception:  # noqa: BLE001 - the watchdog must never die
            pass


def _ensure_watchdog() -> None:
    global _WATCHDOG
    with _ACTIVE_LOCK:
        if _WATCHDOG is None or not _WATCHDOG.is_alive():
            _WATCHDOG = threading.Thread(target=_watchdog, name="gru-lab-watchdog", daemon=True)
            _WATCHDOG.start()


# ----------------------------------------------------------------------------------------------------------
# one session's race
# ----------------------------------------------------------------------------------------------------------


@dataclass
class RaceHandle:
    """One browser session's race: the runner's job handle plus what the page needs to draw and export it.

    ``live`` is a :class:`gru_core.runner.JobHandle` (LiveRace's API; the race itself trains in a worker).
    Stored in ``st.session_state``; when the session ends and the handle is garbage-collected, a
    finalizer stops the race (a closed tab does not train on, nor wait in line).
    """

    live: JobHandle
    cfg: RunConfig
    key: str  # settings.config_key of the configuration that started it
    query: dict[str, Any]  # the configuration as URL query parameters
    labels: list[str]
    colors: dict[str, str]
    prepared: Prepared
    series_name: str
    units: str
    n_batches: int
    series_source: str = ""  # the registry key or the uploaded file's name
    started: float = field(default_factory=time.time)
    rid: int = field(default_factory=itertools.count(1).__next__)  # distinct per race: widget keys
    initial_from: str | None = None  # the uploaded model file this race continued from
    halt: int | None = None  # the step its scenario halts before (gru_ui.race.steer)
    gates_drawn: bool = False  # the gate heatmaps have been drawn (the first full run after Train leaves them out)
    final_drawn: bool = False  # a full page run completed after the race ended (the timers are off)
    drawn_status: str | None = None  # the race's status when the last full page run drew the controls
    asked: list[dict] = field(default_factory=list)  # learning rates changed on the page (see changes.set_lr)
    iv_seen: int = 0  # interventions already copied into the page's replay list
    lr_shown: dict[str, float] = field(default_factory=dict)  # name -> lr the live control was synced to
    lr_drawn: dict = field(default_factory=dict)  # name -> (lr, changeable) as the last full run drew the controls
    models: dict[str, Any] | None = None  # the trained models (read from the runner's files) while nothing trains
    redraw_ms: float | None = None  # smoothed wall time of one redraw of the live curves
    gates_ms: float | None = None  # … and of the gate heatmaps
    fig_cache: dict[str, Any] = field(default_factory=dict)  # slot -> (key, figure, built at, cost, style)
    exports: dict[str, Any] | None = None  # built once when the race has ended
    # the live loss chart's own address on this server (gru_ui.race.live_route): an unguessable token, and how the
    # page last asked the chart to be drawn (log scale, smoothing, presentation, every seed)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    view: tuple = (True, 0.0, False, False)
    gates_view: tuple = (-1, False)  # … and the gate heatmaps (layer, presentation)
    fig_lock: Any = field(default_factory=threading.RLock, repr=False, compare=False)  # fig_cache: page and route

    @cached_property
    def contestants(self) -> dict[str, Any]:
        """label -> the engine's contestant, from the run's configuration."""
        return contestants(self.cfg)

    @property
    def gate_input(self) -> Any:
        """The scaled validation window the gate heatmaps read (None until the race has started)."""
        return self.live.gate_input


def busy_message(running: int, limit: int, run: Runner | None = None) -> str:
    why = f"{MAX_RACES_ENV}={limit}" if os.environ.get(MAX_RACES_ENV, "").strip() else (
        f"{run.workers} worker(s) × {RACES_PER_WORKER}" if run is not None else str(limit))  # fmt: skip
    return (f"The server is full: {running} races are training or waiting in line right now, and it takes at "
            f"most {limit} ({why}). Your race was not started: try again in a minute, when one has ended.")  # fmt: skip


def start_race(
    prepared: Prepared,
    cfg: RunConfig,
    key: str | None,
    series: pd.Series,
    colors: dict[str, str],
    max_races: int | None = None,
    initial: Any = None,
    speed: float | None = None,
    controls: list | None = None,
    halt: int | None = None,
    store: str | None = None,
) -> RaceHandle:
    """Submit the race to the server's runner (it trains in a worker, or waits in line for one).  Raises
    RuntimeError, with a message for the visitor, when the server already holds its limit of races.

    ``key``: :func:`~gru_ui.race.settings.config_key` of ``cfg`` (None: computed).  ``max_races``: the limit
    (None: :func:`race_limit`).  ``initial``: an uploaded model to continue from (a
    :class:`~gru_ui.race.models.ModelUpload`).  ``speed``: steps per second (None: as fast as possible);
    ``controls``: commands applied before the first step (``("pause", ())``: start halted); ``halt``: the step
    a scenario halts before (kept on the handle, for the page's note); ``store``: the run store that keeps the
    race's runs once it ends (None: not kept)."""
    run = runner()
    limit = race_limit(run) if max_races is None else max_races
    key = key if key is not None else config_key(cfg)
    query = to_query(cfg)
    series_name, units = series_label(series), series_units(series)
    source = str(series.attrs.get("source") or cfg.data.source)
    initial_from = initial.name if initial is not None else None
    info = {"query": dict(query), "continued_from": initial_from,
            "series": {"name": series_name, "units": units, "source": source, "length": int(len(prepared.raw))}}
    job = race_job(prepared, cfg, series, initial, model_info=info)
    job.speed, job.controls, job.store = speed, list(controls or []), store
    with _ACTIVE_LOCK:
        busy = sum(1 for lv in list(_ACTIVE) if lv.running)
        if busy >= limit:
            raise RuntimeError(busy_message(busy, limit, run))
        live = SeedRaces(run, job)  # one job per seed, in parallel on the runner's workers
        _ACTIVE.add(live)
        _LAST_SEEN[live] = time.monotonic()
    _ensure_watchdog()
    handle = RaceHandle(
        live=live,
        cfg=cfg,
        key=key,
        query=query,
        labels=list(live.labels),
        colors=colors,
        prepared=prepared,
        series_name=series_name,
        units=units,
        n_batches=batches_per_epoch(prepared, cfg),
        series_source=source,
        initial_from=initial_from,
        halt=halt,
    )
    weakref.finalize(handle, live.stop)  # the session is gone: stop training (or waiting) for nobody
    _BY_TOKEN[handle.token] = handle
    return handle


_BY_TOKEN: weakref.WeakValueDictionary[str, RaceHandle] = weakref.WeakValueDictionary()


def handle_by_token(token: str) -> RaceHandle | None:
    """The race whose live chart has this token (None: unknown, or its session has ended)."""
    return _BY_TOKEN.get(token)


def seeds_text(seeds: list[int]) -> str:
    """"seed 0" or "5 seeds (0–4)"."""
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    return f"{len(seeds)} seeds ({seeds[0]}–{seeds[-1]})"


def shown_seed_text(handle: RaceHandle) -> str:
    """" (seed 3 of 5)" for the sections that show one seed of a race over several; "" for a one-seed race."""
    seeds = handle.cfg.seeds
    if len(seeds) < 2:
        return ""
    i = min(max(0, int(getattr(handle.live, "shown", 0))), len(seeds) - 1)
    return f" (seed {seeds[i]}, {i + 1} of {len(seeds)}: pick another under the loss chart)"


def is_training(snap: Snapshot) -> bool:
    """True while the worker may be updating the models (running and not halted in a pause)."""
    return snap.status in ("running", "idle")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, …, 11th, 12th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_text(snap: Snapshot) -> str:
    """Where a queued race stands: "Waiting for a free worker: you are 2nd in line, about 40 s"."""
    where = f"you are {ordinal(snap.queue_position)} in line" if snap.queue_position else "you are in line"
    wait = snap.queue_wait
    if wait is None:
        about = "the wait is estimated once the races ahead have trained an epoch"
    elif wait < 1:
        about = "starting any moment"
    elif wait < 90:
        about = f"about {max(1, round(wait))} s"
    else:
        about = f"about {max(2, round(wait / 60))} min"
    return f"Waiting for a free worker: {where}, {about}"


def progress(handle: RaceHandle, snap: Snapshot, name: str) -> float:
    """Fraction of one contestant's planned training done: steps while it runs, epochs once it stopped."""
    run = snap.runs.get(name) or {}
    total = max(1, snap.total_epochs)
    if run.get("status") == "finished":
        return 1.0
    if run.get("status") in (None, "running"):
        return min(1.0, snap.step / max(1, handle.n_batches * total))
    return min(1.0, (run.get("epoch") or 0) / total)


def steps_per_second(snap: Snapshot) -> float | None:
    return snap.step / snap.elapsed if snap.elapsed > 0 and snap.step else None


def wait_for(handle: RaceHandle, done, timeout: float = 3.0) -> None:
    """Wait (briefly) until ``done(snapshot)`` or the race has ended, so the rerun draws the new state."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        snap = handle.live.snapshot()
        if done(snap) or not handle.live.running:
            return
        handle.live.join(0.01)


FIRST_CURVE_WAIT = 0.8  # seconds the Train click waits for the first epoch, so its redraw already shows curves


def has_started(snap: Snapshot) -> bool:
    """The race's worker has taken it (or it waits in line, or has ended): the buttons drawn now are right.  Where the
    live chart fetches its own updates, Train waits only for this: the first curve comes by itself."""
    return snap.status != "idle"


def has_a_curve(snap: Snapshot) -> bool:
    """The race has a first epoch to draw, or will not have one soon (waiting in line, paused, ended): the page
    redraws after Train as soon as this holds (the next timed redraw came 0.6-0.7 s later: the first curve
    appeared 1.2 s after the click instead of under a second)."""
    return snap.status != "running" or snap.epoch >= 1


def paused_after(version: int):
    """A pause reached after the snapshot ``version`` (a new "paused" event, not the previous one)."""
    return lambda snap: snap.status == "paused" and snap.version > version
