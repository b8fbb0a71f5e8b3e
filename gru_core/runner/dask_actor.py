"""The ``dask`` backend: each race trains in a Dask **actor** (:class:`RaceActor`) on a cluster worker; a sweep's
driver runs in a thread here and its cells are Dask tasks (why: :mod:`gru_core.runner.sweep`); a loss surface is
computed in an actor too (:class:`DaskSurfaceHandle`: the same progress polling as a race).

Why an actor.  A live race is a long-lived, stateful object that must answer small requests while it trains
(snapshot, pause, resume, step, set_lr, set_speed, models) and keep its models in memory between them.  A Dask
task is a function that returns once: it cannot be paused or asked for a snapshot, and its state is lost when it
returns.  Queues and pub/sub (``distributed.Queue``, ``Pub``/``Sub``) could carry the snapshots out and the
commands in, but the training would still need a task that never returns (holding a worker thread for the
whole race), a hand-written request/reply protocol on top of fire-and-forget messages (set_lr must raise on an
unknown name; models() must return bytes), and every message would go through the scheduler.  An actor is
exactly "an object living on one worker whose methods we call remotely": each call is a direct worker-to-client
request with a reply (exceptions included), the state stays put, and the actor occupies no task slot while its
LiveRace thread trains.  The handle polls ``snapshot()`` at most every :data:`POLL_EVERY` s, the cost of one
small round trip, instead of a stream of pushed events.

A scheduler or worker that goes away mid-race makes the next call fail or time out (every call has a timeout):
the race ends with status "error" and :data:`DASK_LOST`; the other races carry on.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid

from gru_core.runner.job import RaceJob, RemoteControls
from gru_core.runner.surface import SURFACE_TERMINAL, SurfaceJob, SurfaceSnapshot, remote_surface_fields
from gru_core.runner.sweep import HostedSweep, SweepJob, host_job
from gru_core.train.live import Snapshot

__all__ = ["DASK_LOST", "DaskBackend", "DaskRaceHandle", "DaskSurfaceHandle", "RaceActor"]

DASK_LOST = "the Dask worker or scheduler training this race went away ({}); the other races go on"
POLL_EVERY = 0.1  # seconds between snapshot polls
CALL_TIMEOUT = 10.0  # seconds for the actor to answer
START_TIMEOUT = 60.0  # … to be created (data loaded and windowed) on a worker
MODELS_TIMEOUT = 60.0
SCHEDULER_TIMEOUT = float(os.environ.get("GRU_LAB_SCHEDULER_TIMEOUT", 10))


class RaceActor:
    """Lives on a Dask worker: one job's :class:`~gru_core.runner.job.HostedRace` (or a loss surface's
    :class:`~gru_core.runner.surface.HostedSurface`).  The constructor never raises (a bad job is reported by
    :meth:`info`), so any failed call means the cluster lost the actor."""

    def __init__(self, job: RaceJob | SurfaceJob):
        from gru_core._blas import limit_blas_threads

        # one core per race, as in the process pool (a worker's own setting wins); see gru_core._blas
        os.environ.setdefault("GRU_LAB_BIG_BLAS_THREADS", "1")
        limit_blas_threads()
        self.error = None
        self.hosted = None
        try:
            self.hosted = host_job(job, backend="dask")
        except Exception as exc:
            traceback.print_exc()
            self.error = f"{type(exc).__name__}: {exc}"

    def info(self):
        if self.hosted is None:
            return None, None, self.error
        return self.hosted.labels, self.hosted.gate_input, None

    def start(self) -> None:
        self.hosted.start()

    def poll(self):
        """(snapshot, ended); the snapshot taken after checking ``ended``, so an ended race's is final."""
        ended = self.hosted.ended
        return self.hosted.snapshot(), ended

    def call(self, method: str, args: tuple):
        return getattr(self.hosted, method)(*args)

    def final_models(self):
        try:
            return self.hosted.models()
        except RuntimeError:
            return {}

    def final_trajectories(self):
        try:
            return self.hosted.trajectories()
        except (RuntimeError, AttributeError):  # AttributeError: a surface has no paths of its own
            return None


class DaskRaceHandle(RemoteControls):
    """A race trained by a :class:`RaceActor`: LiveRace's API; snapshots polled by a thread of this handle."""

    def __init__(self, backend: DaskBackend, job: RaceJob, worker: str | None):
        self._backend = backend
        self.job = job
        self.worker = worker  # the Dask worker's address it was placed on
        self.labels = job.labels
        self.gate_input = None
        self._lock = threading.Lock()
        self._snap = self._first_snapshot(job)
        self._t0 = self._recv = time.perf_counter()
        self._actor = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._models: dict[str, bytes] | None = None
        self._paths: dict | None = None  # the race's trajectories, fetched at its end
        self._stop_asked = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="gru-runner-dask")
        self._thread.start()

    def _run(self) -> None:
        client = self._backend.client
        fut = None
        try:
            where = {"workers": [self.worker], "allow_other_workers": True} if self.worker else {}
            fut = client.submit(RaceActor, self.job, actor=True, pure=False, key=f"gru-race-{uuid.uuid4().hex}",
                                **where)  # fmt: skip
            actor = fut.result(timeout=START_TIMEOUT)
            labels, gate_input, error = actor.info().result(timeout=CALL_TIMEOUT)
            if error is not None:
                self._fail(error)
                return
            self.labels, self.gate_input = list(labels), gate_input
            actor.start().result(timeout=CALL_TIMEOUT)
            self._actor = actor
            self._ready.set()
            if self._stop_asked:
                actor.call("stop", ()).result(timeout=CALL_TIMEOUT)
            while True:
                snap, ended = actor.poll().result(timeout=CALL_TIMEOUT)
                if ended:
                    models = actor.final_models().result(timeout=MODELS_TIMEOUT)
                    paths = actor.final_trajectories().result(timeout=MODELS_TIMEOUT)
                    with self._lock:
                        self._snap, self._recv, self._models, self._paths = snap, time.perf_counter(), models, paths
                        self._ended.set()
                    break
                with self._lock:
                    self._snap, self._recv = snap, time.perf_counter()
                time.sleep(POLL_EVERY)
        except Exception as exc:  # KilledWorker, CommClosedError, TimeoutError, CancelledError, …
            self._fail(DASK_LOST.format(f"{type(exc).__name__}: {exc}".rstrip(": ")))
        finally:
            self._actor = None
            self._ready.set()
            if fut is not None:
                try:
                    fut.release()
                except Exception:
                    pass
            self._backend._changed()

    def _first_snapshot(self, job: RaceJob) -> Snapshot:
        return Snapshot(status="running", version=0, epoch=0, total_epochs=job.epochs, step=0, elapsed=0.0,
                        history={name: [] for name in self.labels}, backend="dask")  # fmt: skip

    # ---- LiveRace's API (snapshot, ended, running, join, the controls: RemoteControls) ----------------------

    def _call(self, method: str, *args, timeout: float = CALL_TIMEOUT):
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"the race's Dask actor was not ready within {START_TIMEOUT:g} s")
        actor = self._actor
        if actor is None or self._ended.is_set():
            return None
        return actor.call(method, args).result(timeout=timeout)

    def stop(self) -> None:
        self._stop_asked = True
        if not self._ready.is_set():
            return  # the starting thread stops it as soon as it is up
        try:
            self._call("stop")
        except Exception:  # the cluster is gone: the polling thread ends the race
            pass

    def models(self) -> dict[str, bytes]:
        if self._ended.is_set():
            if self._snap.status == "error" or not self._models:
                raise RuntimeError(f"this race ended with status {self._snap.status}: it has no models to save")
            return dict(self._models)
        if not self._ready.is_set():
            raise RuntimeError("the models can be saved only while the race is paused or after it ended")
        out = self._call("models", timeout=MODELS_TIMEOUT)
        if out is None:
            raise RuntimeError("this race has ended")
        return out

    def trajectories(self) -> dict:
        """The race's recorded paths: asked of the actor while paused, kept here once ended."""
        if self._ended.is_set():
            if not self._paths:
                raise RuntimeError(f"this race ended with status {self._snap.status}: it has no recorded paths")
            return self._paths
        if not self._ready.is_set():
            raise RuntimeError("the paths can be read only while the race is paused or after it ended")
        out = self._call("trajectories", timeout=MODELS_TIMEOUT)
        if out is None:
            raise RuntimeError("this race was ending: ask again")
        return out


class DaskSurfaceHandle(DaskRaceHandle):
    """A loss surface computed by an actor on a cluster worker: ``snapshot`` (a
    :class:`~gru_core.runner.surface.SurfaceSnapshot`, polled; its ``result`` once finished), ``stop``, ``join``."""

    _terminal = SURFACE_TERMINAL

    def _first_snapshot(self, job: SurfaceJob) -> SurfaceSnapshot:
        return SurfaceSnapshot(status="starting", backend="dask")

    def _error_fields(self, message: str) -> dict:
        return remote_surface_fields(message)

    def models(self) -> dict[str, bytes]:
        raise RuntimeError("a loss surface has no models to save")

    def trajectories(self) -> dict:
        raise RuntimeError("a loss surface has no recorded paths")


class DaskBackend:
    """Races as actors on a Dask cluster: ``scheduler`` is an address ("tcp://host:8786") or a
    ``distributed.Client``; ``workers``: races at once (default: the cluster's worker threads)."""

    name = "dask"

    def __init__(self, scheduler=None, workers: int | None = None, on_change=None):
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError('the dask backend needs dask.distributed: pip install "dask[distributed]"') from exc
        self._on_change = on_change
        self._own = False
        if scheduler is None:
            raise ValueError("the dask backend needs a scheduler address (GRU_LAB_SCHEDULER) or a distributed.Client")
        if isinstance(scheduler, str):
            self.client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
            self._own = True
        else:
            self.client = scheduler
        self._lock = threading.Lock()
        self._handles: list[DaskRaceHandle] = []
        self.workers = max(1, int(workers or sum(self.client.nthreads().values()) or 1))

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def free_slots(self) -> int:
        with self._lock:
            self._handles = [h for h in self._handles if not h.ended]
            return self.workers - len(self._handles)

    def _place(self) -> str | None:
        """The worker with the most free threads for one more race (None: let the scheduler choose)."""
        try:
            nthreads = self.client.nthreads()
        except Exception:
            return None
        load = {addr: 0 for addr in nthreads}
        for h in self._handles:
            worker = getattr(h, "worker", None)  # a sweep's driver is here, its cells anywhere
            if worker in load:
                load[worker] += 1
        return max(nthreads, key=lambda a: (nthreads[a] - load[a], a), default=None)

    def launch(self, job: RaceJob | SweepJob):
        if isinstance(job, SweepJob):  # the driver in a thread here, the cells on the cluster
            hosted = HostedSweep(job, backend=self.name, scheduler=self.client)
            with self._lock:
                self._handles.append(hosted)
            hosted.start()
            return hosted
        with self._lock:
            worker = self._place()
            handle = (DaskSurfaceHandle if isinstance(job, SurfaceJob) else DaskRaceHandle)(self, job, worker)
            self._handles.append(handle)
        return handle

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            handles, self._handles = list(self._handles), []
        for h in handles:
            h.stop()
        for h in handles:
            h.join(timeout)
        if self._own:
            self.client.close()
