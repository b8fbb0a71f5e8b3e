"""Loss surfaces computed by the runner, beside races and sweeps: what a surface job is (:class:`SurfaceJob`, plain
picklable data: the model's configuration, the windows, a race's recorded paths, the settings), its progress and
result as a page polls them (:class:`SurfaceSnapshot`), what hosts it (:class:`HostedSurface`:
:func:`gru_core.surface.race_surface` in a thread of the hosting process, with progress and stop) and its handle in
the runner's queue (:class:`SurfaceHandle`).

Where it runs, by backend: ``thread``, a thread of this process; ``process``, one of the runner's worker processes
(the web server only relays its snapshots); ``dask``, an actor on a cluster worker, like a race.  A surface takes
one slot in the runner's first-come line, like a race: a class asking for surfaces at once waits in the same line.
The grid is about 1,000 forward passes over the data (2-4 s on one core at the page's default sizes), so a surface
never holds a slot for long.  No Streamlit.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from gru_core.model.gru import GRUConfig
from gru_core.runner.queued import QueuedHandle
from gru_core.runner.threaded import ThreadHosted
from gru_core.surface import SurfaceCancelled, SurfaceSettings, race_surface, surface_work

__all__ = ["SURFACE_TERMINAL", "HostedSurface", "SurfaceHandle", "SurfaceJob", "SurfaceSnapshot"]

SURFACE_TERMINAL = ("finished", "stopped", "error", "cancelled")  # a surface in one of these will not change
SURFACE_WORKER_DIED = "the worker process computing this loss surface stopped unexpectedly (killed or out of memory)"


@dataclass
class SurfaceJob:
    """One loss surface to compute: ``model``: the race's :class:`GRUConfig`; ``windows``: ``{"train": (X, y),
    "val": (X, y)}`` in scaled units; ``paths``: the race's recorded paths (``handle.trajectories()``);
    ``settings``: :class:`SurfaceSettings` as a dict; ``estimate_seconds``: the queue's estimate of the wait
    behind it; ``controls``: commands ``(method, args)`` given while it waited (``("stop", ())``)."""

    model: GRUConfig
    windows: dict
    paths: dict
    settings: dict = field(default_factory=dict)
    estimate_seconds: float | None = 5.0
    controls: list = field(default_factory=list)
    epochs = 0  # a race's field the queue reads; a surface has none

    def __post_init__(self):
        if isinstance(self.settings, SurfaceSettings):
            self.settings = self.settings.to_dict()
        self.surface_settings  # noqa: B018 - bad settings are refused when the job is made, not in a worker

    @property
    def surface_settings(self) -> SurfaceSettings:
        return SurfaceSettings.from_dict(self.settings)

    @property
    def labels(self) -> list[str]:
        return list(self.paths.get("params", {}))


@dataclass
class SurfaceSnapshot:
    """A consistent copy of a surface job's progress; ``result`` (the :func:`race_surface` dict) once finished."""

    status: str = "starting"  # queued | starting | running | finished | stopped | error | cancelled
    version: int = 0
    done: int = 0  # forward passes over the data so far
    total: int = 0
    elapsed: float = 0.0
    eta: float | None = None  # seconds to go at the rate so far
    result: dict | None = None
    error: str | None = None
    message: str = ""
    backend: str = "thread"
    queue_position: int | None = None
    queue_wait: float | None = None
    kind: str = "surface"

    @property
    def live(self) -> bool:
        return self.status in ("queued", "starting", "running")

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else (0.0 if self.live else 1.0)


class HostedSurface(ThreadHosted):
    """A job's surface in a thread of this process: ``start``, ``snapshot``, ``stop``, ``join``, ``running``,
    ``ended``, ``labels`` (the API every host offers)."""

    THREAD_NAME = "gru-runner-surface"

    def __init__(self, job: SurfaceJob, backend: str = "thread"):
        self.job = job
        self.backend = backend
        self.settings = job.surface_settings
        self.labels = job.labels
        self.gate_input = None  # a race's; kept so every host answers the same questions
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._snap = SurfaceSnapshot(status="starting", total=surface_work(self.settings, job.paths), backend=backend)
        self._t0 = time.perf_counter()
        for method, args in job.controls:
            getattr(self, method)(*args)

    def snapshot(self) -> SurfaceSnapshot:
        with self._lock:
            s = replace(self._snap)
        if s.status not in SURFACE_TERMINAL and self._thread is not None:
            s.elapsed = time.perf_counter() - self._t0
        return s

    def stop(self) -> None:
        self._stop.set()

    def models(self) -> dict[str, bytes]:
        raise RuntimeError("a loss surface has no models to save")

    def _progress(self, done: int, total: int) -> None:
        with self._lock:
            s = self._snap
            s.done, s.total, s.status = done, total, "running"
            elapsed = time.perf_counter() - self._t0
            s.eta = elapsed * (total - done) / done if done else None
            s.version += 1

    def _run(self) -> None:
        status, result, message = "error", None, ""
        try:
            if self._stop.is_set():
                raise SurfaceCancelled("stopped")
            job = self.job
            result = race_surface(job.model, job.windows, job.paths, self.settings, progress=self._progress,
                                  stop=self._stop.is_set)  # fmt: skip
            status = "finished"
            message = f"Computed in {result['seconds']:.1f} s."
        except SurfaceCancelled:
            status, message = "stopped", "Stopped: no surface drawn."
        except (ValueError, RuntimeError, MemoryError) as exc:
            message = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - the snapshot has the message; the traceback goes to the log
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                s = self._snap
                s.status, s.result, s.message, s.eta = status, result, message, None
                s.error = message if status == "error" else None
                s.elapsed = time.perf_counter() - self._t0
                if status == "finished":
                    s.done = s.total
                s.version += 1


class SurfaceHandle(QueuedHandle):
    """One submitted surface: queued, then hosted by a backend.  ``snapshot`` (a :class:`SurfaceSnapshot`), ``stop``
    (a queued one is cancelled), ``cancel``, ``join``, ``running``, ``pid``, ``backend``, ``kind`` ("surface")."""

    kind = "surface"

    def snapshot(self) -> SurfaceSnapshot:
        inner = self._inner
        if inner is not None:
            snap = inner.snapshot()
            return replace(snap, version=snap.version + self._qversion, backend=self.backend)
        base = SurfaceSnapshot(status="queued", version=self._qversion, backend=self.backend)
        return self._queued_snapshot(base, cancelled={"status": "cancelled", "message": "Cancelled while it waited."},
                                     error={"status": "error", "error": self._error, "message": self._error or ""})

    def stop(self) -> None:
        with self._runner._lock:
            if self._state == "queued":
                self._runner._cancel(self)
                return
            inner = self._inner
        if inner is not None:
            inner.stop()


def remote_surface_fields(message: str) -> dict[str, Any]:
    """A failed remote surface's snapshot fields (its worker or cluster is gone)."""
    if message.startswith("the worker process"):
        message = SURFACE_WORKER_DIED
    return {"status": "error", "error": message, "message": message, "eta": None}
