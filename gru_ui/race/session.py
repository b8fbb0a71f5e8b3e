"""A race of the page, from the sidebar's :class:`~gru_core.config.RunConfig` to a training thread: the
checks before Train, the engine's ``Race`` it starts, the server-wide registry of running races (with a
watchdog that stops races nobody watches) and :class:`RaceHandle`, what one browser session keeps of its race.

No Streamlit import.  Everything numerical is the engine's: the race gets ``cfg.model_config()``,
``cfg.train_config(log_every=…)`` and ``cfg.race_contestants()``, nothing rebuilt by hand.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core.config import RunConfig, to_query
from gru_core.data import DataError, Prepared, prepare_run
from gru_core.model.files import Checkpoint
from gru_core.optim import OPTIMIZERS, make_optimizer
from gru_core.train import Race
from gru_core.train.live import LiveRace, Snapshot

from .settings import PAGE_LIMITS, config_key
from .upload import series_label, series_units

__all__ = [
    "RaceHandle",
    "active_races",
    "build_race",
    "check_config",
    "heartbeat",
    "initial_state",
    "is_training",
    "log_every",
    "progress",
    "start_race",
    "batches_per_epoch",
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
# the server's races
# ----------------------------------------------------------------------------------------------------------

_ACTIVE: weakref.WeakSet[LiveRace] = weakref.WeakSet()
_LAST_SEEN: weakref.WeakKeyDictionary[LiveRace, float] = weakref.WeakKeyDictionary()
_ACTIVE_LOCK = threading.Lock()
_WATCHDOG: threading.Thread | None = None


def active_races() -> int:
    """Races training right now on this server (all sessions)."""
    with _ACTIVE_LOCK:
        return sum(1 for live in list(_ACTIVE) if live.running)


def all_races() -> list[LiveRace]:
    """Every race of this server still referenced (tests stop leftovers with it)."""
    with _ACTIVE_LOCK:
        return list(_ACTIVE)


def heartbeat(live: LiveRace) -> None:
    """The page is still watching this race (called by every live redraw)."""
    with _ACTIVE_LOCK:
        _LAST_SEEN[live] = time.monotonic()


def stop_orphans(max_silence: float | None = None) -> int:
    """Stop races nobody has looked at for ``max_silence`` seconds (a closed tab); return how many.

    A visible tab redraws every half second and even a hidden one (throttled by the browser) at least
    once a minute, so the default, ``PAGE_LIMITS["orphan_seconds"]``, only catches tabs that are gone.
    """
    limit = PAGE_LIMITS["orphan_seconds"] if max_silence is None else max_silence
    now = time.monotonic()
    stopped = 0
    with _ACTIVE_LOCK:
        for live in list(_ACTIVE):
            if live.running and now - _LAST_SEEN.get(live, now) > limit:
                live.stop()
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
    """One browser session's race: the LiveRace plus what the page needs to draw and export it.

    Stored in ``st.session_state``; when the session ends and the handle is garbage-collected, a
    finalizer stops the worker thread (a closed tab does not train on).
    """

    live: LiveRace
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
    final_drawn: bool = False  # a full page run completed after the race ended (the timers are off)
    drawn_status: str | None = None  # the race's status when the last full page run drew the controls
    asked: list[dict] = field(default_factory=list)  # learning rates changed on the page (see changes.set_lr)
    iv_seen: int = 0  # interventions already copied into the page's replay list
    lr_shown: dict[str, float] = field(default_factory=dict)  # name -> lr the live control was synced to
    models: dict[str, Any] | None = None  # copies of the trained models, taken while nothing trains
    redraw_ms: float | None = None  # smoothed wall time of one redraw of the live curves
    gates_ms: float | None = None  # … and of the gate heatmaps
    fig_cache: dict[str, Any] = field(default_factory=dict)  # slot -> (key, figure, built at, cost, style)
    exports: dict[str, Any] | None = None  # built once when the race has ended

    @property
    def race(self) -> Race:
        return self.live.race


def start_race(
    prepared: Prepared,
    cfg: RunConfig,
    key: str | None,
    series: pd.Series,
    colors: dict[str, str],
    max_races: int | None = None,
    initial: Any = None,
) -> RaceHandle:
    """Build and start a race in its own thread.  Raises RuntimeError when the server is at its limit.

    ``key``: :func:`~gru_ui.race.settings.config_key` of ``cfg`` (None: computed).  ``initial``: an
    uploaded model to continue from (a :class:`~gru_ui.race.models.ModelUpload`)."""
    limit = PAGE_LIMITS["max_races"] if max_races is None else max_races
    race = build_race(prepared, cfg, initial.checkpoint if initial is not None else None)
    live = LiveRace(race)
    with _ACTIVE_LOCK:
        running = sum(1 for lv in list(_ACTIVE) if lv.running)
        if running >= limit:
            raise RuntimeError(
                f"The server is busy: {running} races are training right now (limit {limit}). "
                "Try again in a minute."
            )
        live.start()
        _ACTIVE.add(live)
        _LAST_SEEN[live] = time.monotonic()
    _ensure_watchdog()
    handle = RaceHandle(
        live=live,
        cfg=cfg,
        key=key if key is not None else config_key(cfg),
        query=to_query(cfg),
        labels=list(race.runs),
        colors=colors,
        prepared=prepared,
        series_name=series_label(series),
        units=series_units(series),
        n_batches=batches_per_epoch(prepared, cfg),
        series_source=str(series.attrs.get("source") or cfg.data.source),
        initial_from=initial.name if initial is not None else None,
    )
    weakref.finalize(handle, live.stop)  # the session is gone: stop training for nobody
    return handle


def is_training(snap: Snapshot) -> bool:
    """True while the worker may be updating the models (running and not halted in a pause)."""
    return snap.status in ("running", "idle")


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


def paused_after(version: int):
    """A pause reached after the snapshot ``version`` (a new "paused" event, not the previous one)."""
    return lambda snap: snap.status == "paused" and snap.version > version
