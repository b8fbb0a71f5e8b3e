"""Sweeps run by the runner, beside the races: what a sweep job is (:class:`SweepJob`, plain picklable data), the
progress a page polls (:class:`SweepSnapshot`), the one thing that hosts it (:class:`HostedSweep`:
:func:`gru_core.sweep.run_sweep` in a thread of the hosting process, with a progress callback and a stop event)
and its handle in the runner's queue (:class:`SweepHandle`).

Where a sweep runs, by backend (each sweep takes one of the runner's slots, in the same first-come queue as the
races):

* ``thread``: the driver thread in this process.  ``workers=0``: the cells one after another in that thread;
  ``workers=N``: run_sweep's own "spawn" process pool, started from this process (right for a script or the
  tests; a web server should use the ``process`` backend, its default, whose worker processes are plain Python
  programs: "spawn" would re-import a web server's ``__main__`` script into every pool process).
* ``process``: the driver in one of the runner's worker processes (``python -m gru_core.runner.worker``, not the
  web server): its cells in that process (``workers=0``) or in run_sweep's process pool started from there,
  safely, since the worker's ``__main__`` is the worker module.  A stop ends the pool's cells in flight.
* ``dask``: the driver in a thread of this process with ``scheduler=`` the runner's ``distributed.Client``: each
  cell is a Dask task on the cluster (``workers`` is the cluster's business and is ignored), its records come
  back here and are stored here.  Not an actor hosting the driver: the run store is a SQLite file on this
  machine (a cluster worker may not see it, and SQLite over a network file system is unsafe), a sweep in an
  actor would hold a worker thread only to wait on other tasks, and Dask's worker processes are daemonic, so
  they cannot start run_sweep's process pool.  The driver only waits on futures and writes finished cells: a
  thread here costs nothing, the training is on the cluster, and lost workers are retried by the scheduler as
  run_sweep already does.

One writer: the process hosting run_sweep finds or creates the sweep in the run store, writes every finished
cell (one transaction each) and marks the end; the page only reads the store (WAL mode: readers never wait for
the writer and never see half a cell).  A sweep that fails before run_sweep could mark it is marked "failed"
by its host, and one whose worker process dies is marked "failed" by the runner's process (the writer is gone
by then).

:meth:`SweepHandle.stop` ends the sweep as run_sweep's ``stop`` event does: cells not started are cancelled,
cells in flight in a process pool are ended (within a quarter of a second), a cell in the hosting process
(``workers=0``) or on Dask finishes first.  Finished cells stay stored: the same grid resumes.  No Streamlit.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gru_core.data import DataError
from gru_core.fmt import num
from gru_core.runner.queued import QueuedHandle
from gru_core.runner.threaded import ThreadHosted
from gru_core.store import RunStore, StoreError
from gru_core.sweep import SweepCancelled, SweepProgress, SweepSpec, cells, run_sweep

__all__ = ["SWEEP_CONTROLS", "SWEEP_TERMINAL", "SWEEP_WORKER_DIED", "HostedSweep", "SweepHandle", "SweepJob",
           "SweepSnapshot", "host_job", "sweep_seconds_left"]  # fmt: skip

SWEEP_TERMINAL = ("finished", "failed", "stopped", "error", "cancelled")  # a sweep in one of these is over
SWEEP_CONTROLS = ("stop",)  # the commands a sweep's host takes
SWEEP_WORKER_DIED = ("the worker process running this sweep stopped unexpectedly (killed or out of memory); the "
                     "cells finished before are stored: run the same grid again to resume")  # fmt: skip
MAX_FAILURES = 500  # failed cells listed in a live snapshot (the count is exact; the final list complete)


@dataclass
class SweepJob:
    """One sweep to run in the background: plain data, picklable (it travels to a worker process).

    ``spec``: ``SweepSpec.to_dict()`` (a SweepSpec is accepted and converted).  ``store``: the run store's path
    (made absolute here: a worker process has its own working folder; None: nothing stored).  ``workers``: the
    processes of its cells (0: in the hosting process, one after another; ignored on Dask).  ``resume``: reuse the
    cells already stored for this grid.  ``sweep_id``: resume this stored sweep (None: the one found by the
    spec's key, or a new one).  ``estimate_seconds``: how long it should take (the queue's estimate of the wait
    behind it).  ``controls``: commands ``(method, args)`` applied before its thread starts (``("stop", ())``:
    it stops before its first cell).
    """

    spec: dict
    store: str | None = None
    workers: int = 0
    resume: bool = True
    sweep_id: int | None = None
    estimate_seconds: float | None = None
    controls: list = field(default_factory=list)

    kind = "sweep"

    def __post_init__(self):
        if isinstance(self.spec, SweepSpec):
            self.spec = self.spec.to_dict()
        self.spec = dict(self.spec)
        if self.store is not None and str(self.store) != ":memory:":
            self.store = str(Path(self.store).expanduser().resolve())
        self.workers = int(self.workers)
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        for method, _ in self.controls:
            if method not in SWEEP_CONTROLS:
                raise ValueError(f"unknown control {method!r} for a sweep; known: {SWEEP_CONTROLS}")

    @property
    def sweep_spec(self) -> SweepSpec:
        return SweepSpec.from_dict(self.spec)

    @property
    def labels(self) -> list[str]:
        return [c.name for c in self.sweep_spec.contestants]


@dataclass
class SweepSnapshot:
    """A consistent copy of a sweep's progress (plain values)."""

    status: str = "starting"  # queued | starting | running | stopping | finished | failed | stopped | error | cancelled
    version: int = 0  # increases with every change; redraw only when it changed
    done: int = 0  # cells finished in this run (stored or failed)
    total: int = 0  # cells to run (the stored ones excluded)
    skipped: int = 0  # cells found in the store
    failed: int = 0
    elapsed: float = 0.0  # seconds since it started (0 while queued)
    eta: float | None = None  # seconds to go at the rate so far
    runs_stored: int = 0
    last: str = ""  # the last finished cell's results, in words
    message: str = ""  # how it ended, in words
    sweep_id: int | None = None  # in the run store (None until its host found or created it)
    failures: list = field(default_factory=list)  # {"cell_index", "seed", "params", "error"}
    error: str | None = None  # status "error": why it could not run
    backend: str = "thread"
    queue_position: int | None = None  # status "queued": place in the runner's line (1 = next)
    queue_wait: float | None = None  # status "queued": estimated seconds until it starts (None: unknown)
    kind: str = "sweep"

    @property
    def live(self) -> bool:
        return self.status in ("queued", "starting", "running", "stopping")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else (1.0 if not self.live else 0.0)


def cell_text(p: SweepProgress) -> str:
    """The finished cell's results in words: "cell 3, seed 1 (lr=0.01): Adam: MAPE 12.3 %, RMSE 0.1; …"."""
    parts = []
    for r in p.records:
        t = r.get("test") or {}
        mape, rmse = t.get("mape"), t.get("rmse")
        parts.append(f"{r.get('label')}: diverged" if r.get("diverged") or mape is None
                     else f"{r.get('label')}: MAPE {num(mape, 3)} %, RMSE {num(rmse, 3)}")  # fmt: skip
    c = p.cell
    where = (", ".join(f"{k}={v}" for k, v in (c.params or {}).items()) or "base") if c else "?"
    cell_txt = f"cell {c.index + 1}, seed {c.seed}" if c else "cell"
    return f"{cell_txt} ({where}): " + "; ".join(parts)


def sweep_seconds_left(snap: SweepSnapshot, estimate: float | None) -> float:
    """Seconds until a running sweep ends: its rate so far, else its estimate; NaN when unknown."""
    if snap.status in SWEEP_TERMINAL:
        return 0.0
    if snap.eta is not None and snap.done > 0:
        return max(0.0, float(snap.eta))
    if estimate is not None:
        return max(0.0, float(estimate) - snap.elapsed)
    return math.nan


class HostedSweep(ThreadHosted):
    """A job's sweep in a thread of this process: ``start``, ``snapshot``, ``stop``, ``join``, ``running``,
    ``ended``, ``labels``; ``scheduler``: a ``distributed.Client`` for the cells (the dask backend)."""

    THREAD_NAME = "gru-runner-sweep"

    def __init__(self, job: SweepJob, backend: str = "thread", scheduler: Any = None):
        self.job = job
        self.backend = backend
        self.scheduler = scheduler
        self.spec = job.sweep_spec  # a bad spec fails the job here
        self.labels = [c.name for c in self.spec.contestants]
        self.gate_input = None  # a race's; kept so every host answers the same questions
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._snap = SweepSnapshot(status="starting", sweep_id=job.sweep_id, backend=backend)
        self._t0 = time.perf_counter()
        for method, args in job.controls:
            getattr(self, method)(*args)

    # ---- the API ------------------------------------------------------------------------------------------

    def snapshot(self) -> SweepSnapshot:
        with self._lock:
            s = replace(self._snap, failures=list(self._snap.failures))
        if s.status not in SWEEP_TERMINAL and self._thread is not None:
            s.elapsed = time.perf_counter() - self._t0
        return s

    def stop(self) -> None:
        """End the sweep (see the module docstring); finished cells stay stored."""
        self._stop.set()
        with self._lock:
            if self._snap.status in ("starting", "running"):
                self._snap.status = "stopping"
                self._snap.version += 1

    def models(self) -> dict[str, bytes]:
        raise RuntimeError("a sweep has no models to save: its runs are in the run store")

    # ---- the thread ---------------------------------------------------------------------------------------

    def _progress(self, p: SweepProgress) -> None:
        with self._lock:
            s = self._snap
            s.done, s.total, s.skipped, s.failed, s.eta = p.done, p.total, p.skipped, p.failed, p.eta
            if s.status == "starting":
                s.status = "running"
            if p.records:
                s.runs_stored += len(p.records)
                s.last = cell_text(p)
            if p.error and p.cell is not None and len(s.failures) < MAX_FAILURES:
                s.failures.append({"cell_index": p.cell.index, "seed": p.cell.seed, "params": dict(p.cell.params),
                                   "error": p.error[:500]})  # fmt: skip
            s.version += 1
        if self._stop.is_set() and p.cell is not None:
            raise SweepCancelled("stopped")  # right after a cell, not at the next look at the event

    def _run(self) -> None:
        job = self.job
        status, message, failures = "error", "", None
        store, sweep_id = None, job.sweep_id
        try:
            if job.store is not None:
                store = RunStore(job.store)
                if sweep_id is None and job.resume:
                    sweep_id = store.find_sweep(self.spec.key)
                if sweep_id is None:
                    sweep_id = store.add_sweep(self.spec, n_cells=len(cells(self.spec, validate=False)))
                with self._lock:
                    self._snap.sweep_id = sweep_id
                    self._snap.version += 1
            res = run_sweep(self.spec, workers=job.workers, scheduler=self.scheduler, store=store,
                            progress=self._progress, resume=job.resume, sweep_id=sweep_id, stop=self._stop)  # fmt: skip
            status = "finished" if res.ok else "failed"
            message = res.message
            failures = [{k: f.get(k) for k in ("cell_index", "seed", "params", "error")} for f in res.failures]
        except SweepCancelled:
            status = "stopped"
            with self._lock:
                done, total = self._snap.done, self._snap.total
            message = f"Stopped: {done} of {total} cells finished" + (" and stored." if store is not None else ".")
        except (DataError, ValueError, StoreError, OSError, RuntimeError) as exc:
            message = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - the snapshot has the message; the traceback goes to the log
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
        finally:
            if status == "error" and store is not None and sweep_id is not None:
                try:  # run_sweep failed before it could mark the sweep: this host, its writer, does it
                    if store.get_sweep(sweep_id)["status"] == "running":
                        store.finish_sweep(sweep_id, "failed", message or "failed before the first cell")
                except Exception:  # noqa: BLE001 - the store itself may be the problem; the snapshot has the message
                    pass
            end = time.perf_counter()
            with self._lock:
                s = self._snap
                s.status, s.message, s.eta = status, message, None
                s.error = message if status == "error" else None
                s.elapsed = end - self._t0
                if failures is not None:
                    s.failures = failures
                s.version += 1


def host_job(job, backend: str = "thread", scheduler: Any = None):
    """What hosts a job in this process: a :class:`HostedSweep`, a :class:`~gru_core.runner.surface.HostedSurface`
    or a :class:`~gru_core.runner.job.HostedRace` (built, not started)."""
    if isinstance(job, SweepJob):
        return HostedSweep(job, backend=backend, scheduler=scheduler)
    from gru_core.runner.surface import HostedSurface, SurfaceJob

    if isinstance(job, SurfaceJob):
        return HostedSurface(job, backend=backend)
    from gru_core.runner.job import HostedRace

    return HostedRace(job, backend=backend)


class SweepHandle(QueuedHandle):
    """One submitted sweep: queued, then hosted by a backend.  ``snapshot`` (a :class:`SweepSnapshot`), ``stop``,
    ``cancel``, ``join``, ``running`` (true until it has ended, also while queued), ``sweep_id``, ``pid`` (the
    worker process, process backend), ``backend``, ``kind`` ("sweep")."""

    kind = "sweep"

    @property
    def sweep_id(self) -> int | None:
        return self.snapshot().sweep_id

    def snapshot(self) -> SweepSnapshot:
        inner = self._inner
        if inner is not None:
            snap = inner.snapshot()
            return replace(snap, version=snap.version + self._qversion, backend=self.backend)
        base = SweepSnapshot(status="queued", version=self._qversion, sweep_id=self.job.sweep_id,
                             backend=self.backend)  # fmt: skip
        return self._queued_snapshot(
            base, cancelled={"status": "cancelled", "message": "Cancelled while it waited in line: no cell ran."},
            error={"status": "error", "error": self._error, "message": self._error or ""})  # fmt: skip

    def stop(self) -> None:
        """End the sweep (cells in flight in a process pool are ended; see the module docstring); a queued sweep
        is cancelled."""
        with self._runner._lock:
            if self._state == "queued":  # cancel() takes the same lock (an RLock)
                self._runner._cancel(self)
                return
            inner = self._inner
        if inner is not None:
            inner.stop()
