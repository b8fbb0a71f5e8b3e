"""The server's one :class:`Runner`: takes race and sweep jobs, runs them on the configured backend, queues the rest.

``get_runner()`` gives the process's runner, configured by the environment: ``GRU_LAB_BACKEND`` = ``process``
(default; :mod:`gru_core.runner.process`), ``thread`` (:mod:`gru_core.runner.thread`) or ``dask``
(:mod:`gru_core.runner.dask_actor`, with ``GRU_LAB_SCHEDULER`` = the scheduler's address); ``GRU_LAB_WORKERS``
= races training at once (default: two per core, see :data:`~gru_core.runner.process.RACES_PER_CORE`; on
Dask, the cluster's worker threads).

:meth:`Runner.submit` returns a :class:`JobHandle` at once, with LiveRace's API.  While every slot is busy the
job waits in a first-come queue: its snapshot has ``status="queued"``, its place in line (``queue_position``,
1 = next) and an estimate of the wait (``queue_wait``, seconds, from the running races' progress: epochs done /
total and time elapsed; None while no running race has finished an epoch).  Commands given while queued are kept
and applied before the race's first step (``pause`` makes it start halted); ``cancel()`` or ``stop()`` removes
it from the queue (status "cancelled").  When a race ends (finished, stopped, error) the next queued job takes
its slot: a monitor thread checks every :data:`MONITOR_EVERY` s, and at once when a backend reports a change.

Sweeps: :meth:`Runner.submit` also takes a :class:`~gru_core.runner.sweep.SweepJob` and returns a
:class:`~gru_core.runner.sweep.SweepHandle` (``snapshot``, ``stop``, ``cancel``, ``join``, ``running``).  A sweep
takes one slot and waits in the same line as the races; the wait behind it is estimated from its
``estimate_seconds`` (None: unknown).  Loss surfaces likewise: a :class:`~gru_core.runner.surface.SurfaceJob`
gives a :class:`~gru_core.runner.surface.SurfaceHandle`.  :meth:`Runner.active` and :meth:`Runner.queued` list
every kind (a handle's ``kind`` is "race", "sweep" or "surface"): one registry of all background work.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
from collections import deque
from dataclasses import replace

from gru_core.runner.job import CONTROLS, TERMINAL, RaceJob
from gru_core.runner.queued import QueuedHandle
from gru_core.runner.surface import SurfaceHandle, SurfaceJob
from gru_core.runner.sweep import SWEEP_TERMINAL, SweepHandle, SweepJob, sweep_seconds_left
from gru_core.train.live import Snapshot
from gru_core.train.race import check_count, check_lr

__all__ = ["BACKENDS", "SERVER_OPTIONS", "JobHandle", "Runner", "apply_server_args", "get_runner", "make_backend"]

BACKENDS = ("process", "thread", "dask")
MONITOR_EVERY = 0.05  # seconds between checks for ended races


# the web server's command-line options (``streamlit run app.py -- --backend dask --scheduler tcp://host:8786``):
# each sets the environment variable get_runner (and the page's race cap) reads
SERVER_OPTIONS = {"--backend": "GRU_LAB_BACKEND", "--workers": "GRU_LAB_WORKERS", "--scheduler": "GRU_LAB_SCHEDULER",
                  "--max-races": "GRU_LAB_MAX_RACES"}  # fmt: skip


def apply_server_args(argv: list[str]) -> dict[str, str]:
    """Read the server's options (:data:`SERVER_OPTIONS`) from ``argv`` into the environment, before the runner is
    made; returns what was set.  Unknown arguments are left alone; a bad value is reported by
    :func:`get_runner` (the race page shows it)."""
    import argparse

    ap = argparse.ArgumentParser(add_help=False)
    for option in SERVER_OPTIONS:
        ap.add_argument(option, default=None)
    known, _ = ap.parse_known_args(argv)
    chosen = {SERVER_OPTIONS[o]: str(v) for o, v in
              ((o, getattr(known, o[2:].replace("-", "_"))) for o in SERVER_OPTIONS) if v is not None}  # fmt: skip
    os.environ.update(chosen)
    return chosen


def make_backend(backend: str, workers: int | None = None, scheduler=None, on_change=None):
    """A backend by name (see the module docstring)."""
    if backend == "thread":
        from gru_core.runner.thread import ThreadBackend

        return ThreadBackend(workers or os.cpu_count() or 1, on_change=on_change)
    if backend == "process":
        from gru_core.runner.process import ProcessBackend

        return ProcessBackend(workers, on_change=on_change)
    if backend == "dask":
        from gru_core.runner.dask_actor import DaskBackend

        return DaskBackend(scheduler, workers, on_change=on_change)
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


class JobHandle(QueuedHandle):
    """One submitted race: queued, then handled by a backend.  LiveRace's API plus ``cancel``, ``models``,
    ``labels``, ``gate_input`` (None until it starts), ``pid`` (the worker process, process backend) and
    ``backend``.  ``running`` is true until the race has ended (also while queued)."""

    kind = "race"

    # ---- state (queued, pid, running, join, cancel: QueuedHandle) -------------------------------------------

    @property
    def gate_input(self):
        return getattr(self._inner, "gate_input", None)

    def snapshot(self) -> Snapshot:
        inner = self._inner
        if inner is not None:
            snap = inner.snapshot()
            return replace(snap, version=snap.version + self._qversion, backend=self.backend)
        total = self.job.epochs
        base = Snapshot(status="queued", version=self._qversion, epoch=0, total_epochs=total, step=0, elapsed=0.0,
                        history={name: [] for name in self.labels}, backend=self.backend)  # fmt: skip
        return self._queued_snapshot(base, cancelled={"status": "cancelled"},
                                     error={"status": "error", "error": self._error})  # fmt: skip

    # ---- commands -------------------------------------------------------------------------------------------

    def _command(self, method: str, *args) -> None:
        with self._runner._lock:
            if self._state == "queued":
                self.job.controls.append((method, args))
                return
            inner = self._inner
        if inner is not None:
            getattr(inner, method)(*args)

    def pause(self) -> None:
        self._command("pause")

    def resume(self) -> None:
        self._command("resume")

    def step_epoch(self) -> None:
        self._command("step_epoch")

    def step_batches(self, k: int = 1) -> None:
        self._command("step_batches", check_count("k", k))

    def pause_before(self, step: int) -> None:
        """Halt just before mini-batch ``step`` trains (e.g. a scenario's learning-rate jump)."""
        self._command("pause_before", check_count("step", step))

    def set_lr(self, name: str, value: float) -> None:
        if name not in self.labels:
            raise ValueError(f"unknown contestant {name!r}; known: {self.labels}")
        self._command("set_lr", name, check_lr(value))

    def set_speed(self, steps_per_s: float | None) -> None:
        with self._runner._lock:
            if self._state == "queued":
                self.job.speed = steps_per_s
                return
        self._command("set_speed", steps_per_s)

    def stop(self) -> None:
        """End the race after the current mini-batch (everything trained so far is kept); a queued race is
        cancelled."""
        if not self.cancel():
            inner = self._inner
            if inner is not None:
                inner.stop()

    def models(self) -> dict[str, bytes]:
        """Every contestant's current model as model-file bytes (only while paused or once ended)."""
        inner = self._inner
        if inner is None:
            raise RuntimeError("this race has not started: it has no models yet")
        return inner.models()

    def trajectories(self) -> dict:
        """The race's recorded paths through parameter space (only while paused or once ended)."""
        inner = self._inner
        if inner is None:
            raise RuntimeError("this race has not started: it has no recorded paths yet")
        return inner.trajectories()


class Runner:
    """Runs race and sweep jobs on one backend (see the module docstring)."""

    def __init__(self, backend: str = "process", workers: int | None = None, scheduler=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        self.backend_name = backend
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._queue: deque[JobHandle] = deque()
        self._active: list[JobHandle] = []
        self._closed = False
        self.backend = make_backend(backend, workers, scheduler, on_change=self._wake.set)
        self._monitor = threading.Thread(target=self._monitor_loop, daemon=True, name="gru-runner-monitor")
        self._monitor.start()

    @property
    def workers(self) -> int:
        return self.backend.workers

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the backend's workers are up (process backend: every worker process connected)."""
        ready = getattr(self.backend, "wait_ready", None)
        return True if ready is None else bool(ready(timeout))

    def submit(self, job: RaceJob | SweepJob | SurfaceJob) -> JobHandle | SweepHandle | SurfaceHandle:
        """Queue the job; it starts at once if a slot is free.  Returns its handle (a SweepHandle for a
        SweepJob, whose spec is checked here: ValueError; a SurfaceHandle for a SurfaceJob)."""
        if isinstance(job, SweepJob):
            job.sweep_spec  # noqa: B018 - a spec that cannot be read is refused now, not in a worker
            handle = SweepHandle(self, job)
        elif isinstance(job, SurfaceJob):
            handle = SurfaceHandle(self, job)
        elif isinstance(job, RaceJob):
            for method, _ in job.controls:
                if method not in CONTROLS:
                    raise ValueError(f"unknown control {method!r}; known: {CONTROLS}")
            handle = JobHandle(self, job)
        else:
            raise TypeError(f"submit takes a RaceJob, a SweepJob or a SurfaceJob, got {type(job).__name__}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner has been shut down")
            self._queue.append(handle)
            self._dispatch()
        return handle

    def queued(self) -> list[JobHandle | SweepHandle]:
        """The jobs waiting for a slot, first in line first (races and sweeps)."""
        with self._lock:
            return list(self._queue)

    def active(self) -> list[JobHandle | SweepHandle]:
        """The jobs holding a slot now (races and sweeps)."""
        with self._lock:
            return list(self._active)

    # ---- the queue ------------------------------------------------------------------------------------------

    def _bump(self) -> None:
        for h in self._queue:
            h._qversion += 1

    def _cancel(self, handle: JobHandle) -> bool:
        with self._lock:
            if handle._state != "queued":
                return False
            self._queue.remove(handle)
            handle._state = "cancelled"
            handle._qversion += 1
            handle._ended.set()
            self._bump()
            return True

    def _dispatch(self) -> None:
        """Start queued jobs while the backend has free slots (under the lock)."""
        while self._queue and not self._closed and self.backend.free_slots() > 0:
            handle = self._queue.popleft()
            self._bump()
            try:
                inner = self.backend.launch(handle.job)
            except Exception as exc:  # a job that cannot be built: this job fails, the queue goes on
                handle._state, handle._error = "error", f"{type(exc).__name__}: {exc}"
                handle._qversion += 1
                handle._ended.set()
                continue
            handle._qversion += 1
            handle._inner, handle._state = inner, "launched"
            self._active.append(handle)

    def _reap(self) -> None:
        for h in list(self._active):
            if h._inner.ended:
                self._active.remove(h)
                h._ended.set()

    def _monitor_loop(self) -> None:
        while not self._closed:
            self._wake.wait(MONITOR_EVERY)
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                self._reap()
                self._dispatch()

    def _queue_info(self, handle) -> tuple[int | None, float | None]:
        """(place in line, estimated seconds until it starts) of a queued handle.  A running race's end is
        extrapolated from its epochs, a running sweep's from its cells (or its estimate); a race ahead in line
        takes its epochs × the running races' mean seconds per epoch, a sweep ahead its ``estimate_seconds``."""
        with self._lock:
            try:
                position = list(self._queue).index(handle) + 1
            except ValueError:
                return None, None
            running = list(self._active)
            ahead = list(self._queue)[: position - 1]
        free = [0.0] * max(0, self.workers - len(running))
        durations = []  # seconds per epoch of the running races
        known = 0  # running sweeps whose end can be estimated
        for h in running:
            snap = h._inner.snapshot()
            if snap.status in TERMINAL or snap.status in SWEEP_TERMINAL:
                free.append(0.0)
                continue
            if h.kind != "race":  # a sweep or a surface: its progress so far, else its estimate
                left = sweep_seconds_left(snap, h.job.estimate_seconds)
                known += not math.isnan(left)
                free.append(left)
                continue
            done = snap.epoch / max(1, snap.total_epochs)
            if done <= 0:
                free.append(math.nan)
                continue
            full = snap.elapsed / done
            durations.append(full / max(1, snap.total_epochs))  # seconds per epoch
            free.append(max(0.0, full - snap.elapsed))
        if not durations and not known:
            return position, None
        per_epoch = sum(durations) / len(durations) if durations else None
        slots = sorted(free, key=lambda t: (math.isnan(t), t))
        for h in ahead:  # each job ahead takes the slot that frees first
            t = slots.pop(0)
            need = h.job.estimate_seconds if h.kind != "race" else (
                None if per_epoch is None else per_epoch * h.job.epochs)  # fmt: skip
            if math.isnan(t) or need is None:
                return position, None
            slots.append(t + need)
            slots.sort(key=lambda t: (math.isnan(t), t))
        wait = slots[0]
        return position, None if math.isnan(wait) else float(wait)

    # ---- the end --------------------------------------------------------------------------------------------

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel the queued jobs, stop the running ones and the backend's workers."""
        with self._lock:
            if self._closed:
                return
            queued = list(self._queue)
        for h in queued:
            h.cancel()
        with self._lock:
            self._closed = True
            active, self._active = list(self._active), []
        self._wake.set()
        for h in active:
            try:
                h._inner.stop()
            except Exception:
                pass
        self.backend.shutdown(timeout)
        for h in active:
            h._ended.set()


_RUNNER: Runner | None = None
_RUNNER_LOCK = threading.Lock()


def get_runner() -> Runner:
    """This process's runner, made on first use from ``GRU_LAB_BACKEND``, ``GRU_LAB_WORKERS`` and
    ``GRU_LAB_SCHEDULER``; shut down when the process exits."""
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None or _RUNNER._closed:
            backend = os.environ.get("GRU_LAB_BACKEND", "process").strip().lower() or "process"
            raw = os.environ.get("GRU_LAB_WORKERS", "").strip()
            try:
                workers = int(raw) if raw else None
            except ValueError:
                raise ValueError(f"GRU_LAB_WORKERS must be a whole number, got {raw!r}") from None
            scheduler = os.environ.get("GRU_LAB_SCHEDULER") or None
            _RUNNER = Runner(backend, workers=workers, scheduler=scheduler)
            atexit.register(_RUNNER.shutdown)
        return _RUNNER
