"""The ``process`` backend: a pool of persistent worker processes, each running one job at a time (a race, a
sweep's driver: :class:`ProcessSweepHandle`, see :mod:`gru_core.runner.sweep`; or a loss surface:
:class:`ProcessSurfaceHandle`).

Workers are started with ``subprocess.Popen([sys.executable, "-m", "gru_core.runner.worker", ...])``, not
with :mod:`multiprocessing` (under Streamlit the "spawn" start method re-runs the app script in the child, and
"fork" copies a threaded server).  They are started when the backend is made, so a race starts within a second
while a worker is free.  Each connects back to a :class:`multiprocessing.connection.Listener` on 127.0.0.1
with a random authkey (sent on the worker's stdin) and speaks the protocol of :mod:`gru_core.runner.worker`.
Every worker keeps BLAS to one thread (``GRU_LAB_BLAS_THREADS=1``, ``GRU_LAB_BIG_BLAS_THREADS=1``): one core each.

Threads here: one accepts connections, one reads each worker's messages (snapshots land in the race's
:class:`ProcessRaceHandle`), one sends each worker's queued messages in order, and a supervisor checks every
:data:`SUPERVISE_EVERY` s that the processes live.  A worker that dies (killed, out of memory) ends its race with
status "error" and :data:`WORKER_DIED` and is replaced by a new process; the other races go on.  Every wait has a
timeout (:data:`CALL_TIMEOUT`, :data:`MODELS_TIMEOUT`, :data:`CONNECT_TIMEOUT`).
"""

from __future__ import annotations

import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from multiprocessing.connection import Listener
from pathlib import Path

from gru_core._blas import BIG_BLAS_THREADS_ENV, BLAS_THREADS_ENV
from gru_core.runner.job import TERMINAL, RaceJob, RemoteControls
from gru_core.runner.surface import SURFACE_TERMINAL, SurfaceJob, SurfaceSnapshot, remote_surface_fields
from gru_core.runner.sweep import SWEEP_TERMINAL, SWEEP_WORKER_DIED, SweepJob, SweepSnapshot
from gru_core.train.live import Snapshot

__all__ = ["RACES_PER_CORE", "WORKER_DIED", "ProcessBackend", "ProcessRaceHandle", "ProcessSurfaceHandle",
           "ProcessSweepHandle", "default_workers"]  # fmt: skip

WORKER_DIED = ("the worker process training this race stopped unexpectedly (killed or out of memory); "
               "the other races go on")  # fmt: skip
CALL_TIMEOUT = 10.0  # seconds for a worker to answer a command
MODELS_TIMEOUT = 60.0  # … to write every contestant's model file
CONNECT_TIMEOUT = 30.0  # … for a new worker process to connect back
SUPERVISE_EVERY = 0.25  # seconds between checks that the worker processes live
WORKER_ENV = {BLAS_THREADS_ENV: "1", BIG_BLAS_THREADS_ENV: "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}  # fmt: skip
# races training at once per core by default: two races share a core at about half speed each (4 races on 2 cores
# train 1.70x one race in aggregate, 2 races 1.97x: bench/bench_class.py), but every visitor of a class sees
# their curves grow at once instead of waiting in line for the race ahead to end; beyond that, the queue
RACES_PER_CORE = 2


def default_workers() -> int:
    """Worker processes when none is asked for: :data:`RACES_PER_CORE` × the machine's cores."""
    return RACES_PER_CORE * (os.cpu_count() or 1)


_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding gru_core, for the worker's imports


class ProcessRaceHandle(RemoteControls):
    """A race trained by a pool worker: LiveRace's API, answered from the last snapshot the worker sent (reads)
    or by the worker (commands, raising what the race raises).  ``pid``: the worker process's id."""

    _terminal = TERMINAL

    def __init__(self, worker: _Worker, job_id: str, job: RaceJob):
        self._worker: _Worker | None = worker
        self.job_id = job_id
        self.labels = job.labels
        self.gate_input = None
        self._lock = threading.Lock()
        self._snap = self._first_snapshot(job)
        self._t0 = self._recv = time.perf_counter()
        self._models: dict[str, bytes] | None = None
        self._paths: dict | None = None  # the race's trajectories, sent with its end
        self._ended = threading.Event()

    def _first_snapshot(self, job: RaceJob) -> Snapshot:
        return Snapshot(status="running", version=0, epoch=0, total_epochs=job.epochs, step=0, elapsed=0.0,
                        history={name: [] for name in self.labels}, backend="process")  # fmt: skip

    # ---- what the worker sends (reader thread) -------------------------------------------------------------

    def _on_started(self, labels, gate_input) -> None:
        self.labels, self.gate_input = list(labels), gate_input

    def _on_snap(self, snap: Snapshot) -> None:
        with self._lock:
            if not self._ended.is_set():
                self._snap, self._recv = snap, time.perf_counter()

    def _on_end(self, snap: Snapshot, models: dict | None, paths: dict | None = None) -> None:
        with self._lock:
            if self._ended.is_set():
                return
            self._snap, self._recv, self._models = snap, time.perf_counter(), dict(models or {})
            self._paths = paths
            self._worker = None
            self._ended.set()

    def _lost(self) -> None:
        self._worker = None

    # ---- LiveRace's API (snapshot, ended, running, join, the controls: RemoteControls) ----------------------

    @property
    def pid(self) -> int | None:
        w = self._worker
        return w.pid if w is not None else None

    def _call(self, method: str, *args, timeout: float = CALL_TIMEOUT, quiet: bool = True):
        w = self._worker
        if w is None or self._ended.is_set():
            if quiet:
                return None
            raise RuntimeError("this race has ended")
        return w.call(self.job_id, method, args, timeout)

    def stop(self) -> None:
        try:
            self._call("stop")
        except (RuntimeError, TimeoutError):  # the worker is gone or stuck: the supervisor ends the race
            pass

    def models(self) -> dict[str, bytes]:
        """Every contestant's model file (bytes), while paused (asked of the worker) or once ended (kept here)."""
        if self._ended.is_set():
            if self._snap.status == "error" or not self._models:
                raise RuntimeError(f"this race ended with status {self._snap.status}: it has no models to save")
            return dict(self._models)
        return self._call("models", timeout=MODELS_TIMEOUT, quiet=False)

    def trajectories(self) -> dict:
        """The race's recorded paths (HostedRace.trajectories): asked of the worker while paused, kept here once
        ended."""
        if self._ended.is_set():
            if not self._paths:
                raise RuntimeError(f"this race ended with status {self._snap.status}: it has no recorded paths")
            return self._paths
        out = self._call("trajectories", timeout=MODELS_TIMEOUT, quiet=False)
        if out is None:
            raise RuntimeError("this race was ending: ask again")
        return out


class ProcessSweepHandle(ProcessRaceHandle):
    """A sweep whose driver runs in a pool worker: ``snapshot`` (a :class:`~gru_core.runner.sweep.SweepSnapshot`,
    the last the worker sent), ``stop``, ``join``, ``running``, ``pid``.  A worker that dies fails the sweep with
    :data:`~gru_core.runner.sweep.SWEEP_WORKER_DIED` and marks it "failed" in the run store (its writer is gone)."""

    _terminal = SWEEP_TERMINAL

    def __init__(self, worker: _Worker, job_id: str, job: SweepJob):
        self._job = job
        super().__init__(worker, job_id, job)

    def _first_snapshot(self, job: SweepJob) -> SweepSnapshot:
        return SweepSnapshot(status="starting", sweep_id=job.sweep_id, backend="process")

    def _error_fields(self, message: str) -> dict:
        return {"status": "error", "error": message, "message": message, "eta": None}

    def _fail(self, message: str) -> None:
        message = SWEEP_WORKER_DIED if message == WORKER_DIED else message
        with self._lock:
            if self._ended.is_set():
                return
        super()._fail(message)
        sweep_id = self._snap.sweep_id
        if sweep_id is not None and self._job.store is not None:
            try:
                from gru_core.store import RunStore

                store = RunStore(self._job.store)
                if store.get_sweep(sweep_id)["status"] == "running":
                    store.finish_sweep(sweep_id, "failed", message)
            except Exception:  # noqa: BLE001 - best effort: the snapshot has the message
                pass

    def stop(self) -> None:
        """Ask the worker to stop the sweep; the snapshot says "stopping" at once (the worker's next one agrees)."""
        super().stop()
        with self._lock:
            s = self._snap
            if not self._ended.is_set() and s.status in ("starting", "running"):
                self._snap = replace(s, status="stopping", version=s.version + 1)

    def models(self) -> dict[str, bytes]:
        raise RuntimeError("a sweep has no models to save: its runs are in the run store")


class ProcessSurfaceHandle(ProcessRaceHandle):
    """A loss surface computed by a pool worker: ``snapshot`` (a :class:`~gru_core.runner.surface.SurfaceSnapshot`,
    the last the worker sent; its ``result`` once finished), ``stop``, ``join``, ``running``, ``pid``."""

    _terminal = SURFACE_TERMINAL

    def _first_snapshot(self, job: SurfaceJob) -> SurfaceSnapshot:
        return SurfaceSnapshot(status="starting", backend="process")

    def _error_fields(self, message: str) -> dict:
        return remote_surface_fields(message)

    def models(self) -> dict[str, bytes]:
        raise RuntimeError("a loss surface has no models to save")


class _Worker:
    """One worker process's lifetime (a replacement is a new _Worker in the same slot)."""

    def __init__(self, backend: ProcessBackend, slot: int):
        self.backend = backend
        self.slot = slot
        self.conn = None
        self.connected = threading.Event()
        self.dead = False  # killed: sends nothing more
        self.reaped = False  # its death has been handled (race failed, slot refilled)
        self.handle: ProcessRaceHandle | None = None
        self.outbox: queue.Queue = queue.Queue()
        self._pending: dict[int, list] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        env = {**os.environ, **WORKER_ENV}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
        host, port = backend.address
        self.proc = subprocess.Popen([sys.executable, "-m", "gru_core.runner.worker", "--address", f"{host}:{port}",
                                      "--slot", str(slot)], stdin=subprocess.PIPE, env=env, cwd=_ROOT)  # fmt: skip
        self.pid = self.proc.pid
        self.born = time.monotonic()
        self.proc.stdin.write(backend._authkey.hex().encode() + b"\n")
        self.proc.stdin.flush()  # the pipe stays open: the worker exits when it reaches EOF (this process died)
        threading.Thread(target=self._send_loop, daemon=True, name=f"gru-runner-send-{slot}").start()

    def _send_loop(self) -> None:
        while not self.connected.wait(SUPERVISE_EVERY):
            if self.dead:
                return
        while True:
            msg = self.outbox.get()
            if msg is None or self.dead:
                return
            try:
                self.conn.send(msg)
            except (OSError, ValueError):
                self.backend._died(self)
                return

    def read_loop(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            except Exception:  # an unreadable message: the protocol is broken, treat it as a dead worker
                break
            kind = msg[0]
            if kind == "reply":
                with self._lock:
                    box = self._pending.pop(msg[1], None)
                if box is not None:
                    box[1] = (msg[2], msg[3])
                    box[0].set()
                continue
            h = self.handle
            if h is None or h.job_id != msg[1]:
                continue
            if kind == "started":
                h._on_started(msg[2], msg[3])
            elif kind == "snap":
                h._on_snap(msg[2])
            elif kind in ("ended", "failed"):
                if kind == "ended":
                    h._on_end(msg[2], msg[3], msg[4] if len(msg) > 4 else None)
                else:
                    h._fail(msg[2])
                with self.backend._lock:
                    if self.handle is h:
                        self.handle = None
                self.backend._changed()
        self.backend._died(self)

    def call(self, job_id: str, method: str, args: tuple, timeout: float):
        req = next(self._ids)
        box: list = [threading.Event(), None]
        with self._lock:
            if self.dead:
                raise RuntimeError(WORKER_DIED)
            self._pending[req] = box
        self.outbox.put(("call", req, job_id, method, args))
        if not box[0].wait(timeout):
            with self._lock:
                self._pending.pop(req, None)
            raise TimeoutError(f"the worker process did not answer {method!r} within {timeout:g} s")
        ok, value = box[1]
        if ok:
            return value
        raise value

    def kill(self) -> None:
        with self._lock:
            self.dead = True
            pending, self._pending = list(self._pending.values()), {}
        for box in pending:
            box[1] = (False, RuntimeError(WORKER_DIED))
            box[0].set()
        self.outbox.put(None)
        if self.proc.poll() is None:
            self.proc.kill()
        for f in (self.proc.stdin, self.conn):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


class ProcessBackend:
    """A pool of ``workers`` persistent worker processes (default: :data:`RACES_PER_CORE` per core)."""

    name = "process"

    def __init__(self, workers: int | None = None, on_change=None):
        self.workers = max(1, int(workers or default_workers()))
        self._on_change = on_change
        self._lock = threading.RLock()
        self._closed = False
        self._authkey = os.urandom(32)
        self._listener = Listener(("127.0.0.1", 0), authkey=self._authkey)
        self.address = self._listener.address
        self.replaced = 0  # workers started again after one died
        threading.Thread(target=self._accept_loop, daemon=True, name="gru-runner-accept").start()
        self._slots: list[_Worker] = [_Worker(self, k) for k in range(self.workers)]
        threading.Thread(target=self._supervise, daemon=True, name="gru-runner-supervise").start()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except Exception:  # a failed handshake or the listener closed
                continue
            if self._closed:
                conn.close()
                return
            try:
                if not conn.poll(CONNECT_TIMEOUT):
                    raise OSError("no hello")
                kind, slot, pid = conn.recv()
            except Exception:
                conn.close()
                continue
            with self._lock:
                w = self._slots[slot] if kind == "hello" and 0 <= slot < len(self._slots) else None
                if w is None or w.pid != pid or w.dead:
                    conn.close()
                    continue
                w.conn = conn
            threading.Thread(target=w.read_loop, daemon=True, name=f"gru-runner-read-{slot}").start()
            w.connected.set()

    def _supervise(self) -> None:
        while not self._closed:
            time.sleep(SUPERVISE_EVERY)
            for w in list(self._slots):
                if w.proc.poll() is not None or (not w.connected.is_set()
                                                 and time.monotonic() - w.born > CONNECT_TIMEOUT):  # fmt: skip
                    self._died(w)

    def _died(self, w: _Worker) -> None:
        """A worker process ended or its connection broke: fail its race, start a new process in its slot."""
        with self._lock:
            if w.reaped:
                return
            w.reaped = True
            handle, w.handle = w.handle, None
            replace_it = not self._closed and self._slots[w.slot] is w
        w.kill()
        if handle is not None:
            handle._fail(WORKER_DIED)
        if replace_it:
            with self._lock:
                if not self._closed:
                    self._slots[w.slot] = _Worker(self, w.slot)
                    self.replaced += 1
        self._changed()

    def wait_ready(self, timeout: float = CONNECT_TIMEOUT) -> bool:
        """Wait until every worker process has connected; True if they all did within ``timeout``."""
        end = time.monotonic() + timeout
        for w in list(self._slots):
            if not w.connected.wait(max(0.0, end - time.monotonic())):
                return False
        return True

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._slots]

    def free_slots(self) -> int:
        with self._lock:
            return sum(1 for w in self._slots if w.handle is None and not (w.dead or w.reaped))

    def launch(self, job: RaceJob | SweepJob) -> ProcessRaceHandle:
        """Give the job to a free worker (the start message is sent in order, without blocking here)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner has been shut down")
            free = [w for w in self._slots if w.handle is None and not (w.dead or w.reaped)]
            if not free:
                raise RuntimeError("no free worker process")
            # a worker that has connected first: one still starting (a fresh server's first race) waits for
            # its imports, a second or more on a busy machine
            w = next((w for w in free if w.connected.is_set()), free[0])
            cls = (ProcessSweepHandle if isinstance(job, SweepJob) else ProcessSurfaceHandle
                   if isinstance(job, SurfaceJob) else ProcessRaceHandle)  # fmt: skip
            handle = cls(w, uuid.uuid4().hex, job)
            w.handle = handle
            w.outbox.put(("start", handle.job_id, job))
        return handle

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            slots = list(self._slots)
        for w in slots:
            w.outbox.put(("exit",))
        deadline = time.monotonic() + timeout
        for w in slots:
            try:
                w.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with self._lock:
                handle, w.handle, w.reaped = w.handle, None, True
            w.kill()
            if handle is not None:
                handle._fail("the runner was shut down")
        try:  # wake the accept loop, then close the listener
            socket.create_connection(self.address, timeout=1).close()
        except OSError:
            pass
        self._listener.close()
