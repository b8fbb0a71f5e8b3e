"""A pool worker process: ``python -m gru_core.runner.worker --address HOST:PORT --slot K``, started by
:class:`~gru_core.runner.process.ProcessBackend`; it hosts one job at a time (a race:
:class:`~gru_core.runner.job.HostedRace`; a sweep: :class:`~gru_core.runner.sweep.HostedSweep`, whose
run_sweep may start its own process pool from here: this is a plain Python program) for as long as its parent
lives.

Protocol (pickles over one authenticated :mod:`multiprocessing.connection`; the authkey comes as one hex line
on stdin, never on the command line):

* worker → parent: ``("hello", slot, pid)``; ``("started", job_id, labels, gate_input)`` or
  ``("failed", job_id, message)``; ``("snap", job_id, Snapshot)`` whenever the snapshot's version or status
  changed (at most every :data:`PUBLISH_EVERY` s); ``("ended", job_id, Snapshot, models)`` once the race is
  over, with every contestant's model file (so the models outlive the worker's next job);
  ``("reply", request_id, ok, value_or_exception)`` for every call.
  A sweep's snapshot is a :class:`~gru_core.runner.sweep.SweepSnapshot` and its models ``{}``.
* parent → worker: ``("start", job_id, RaceJob | SweepJob)``, ``("call", request_id, job_id, method, args)``,
  ``("exit",)``.

The worker exits when its parent dies: stdin reaches EOF (the parent held the pipe's other end), the
connection closes, or ``os.getppid()`` changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Client

PUBLISH_EVERY = 0.1  # seconds between checks for a new snapshot
PARENT_POLL = 1.0  # seconds between checks that the parent is alive
EXIT_JOIN = 3.0  # seconds a stopped job may take to end before the worker exits (a sweep ends its pool)


class _Host:
    def __init__(self, conn):
        self.conn = conn
        self.send_lock = threading.Lock()
        self.lock = threading.Lock()
        self.job_id = None
        self.hosted = None
        self.final_sent = True

    def send(self, msg) -> None:
        with self.send_lock:
            self.conn.send(msg)

    def start(self, job_id, job) -> None:
        from gru_core.runner.sweep import host_job

        with self.lock:
            self.job_id, self.hosted, self.final_sent = job_id, None, True
        try:
            hosted = host_job(job, backend="process")
        except Exception as exc:  # bad data or configuration: this job fails, the worker serves on
            traceback.print_exc()
            self.send(("failed", job_id, f"{type(exc).__name__}: {exc}"))
            return
        self.send(("started", job_id, hosted.labels, hosted.gate_input))
        hosted.start()
        with self.lock:  # published only once its thread runs: before, "not running" would read as ended
            self.hosted, self.final_sent = hosted, False

    def call(self, req, job_id, method, args) -> None:
        try:
            with self.lock:
                hosted = self.hosted if job_id == self.job_id else None
                over = job_id == self.job_id and self.final_sent  # ended: its "ended" message is on its way
            if hosted is None and over and method != "models":
                self.send(("reply", req, True, None))  # a control that arrives as the job ends does nothing
                return
            if hosted is None:
                raise RuntimeError("this job is no longer hosted by the worker")
            value = getattr(hosted, method)(*args)
            self.send(("reply", req, True, value))
        except Exception as exc:  # raised again in the parent: keep it a plain, picklable exception
            plain = exc
            if type(exc) not in (ValueError, RuntimeError, TypeError):
                plain = RuntimeError(f"{type(exc).__name__}: {exc}")
            self.send(("reply", req, False, plain))

    def publish(self) -> None:
        seen = None
        while True:
            time.sleep(PUBLISH_EVERY)
            with self.lock:
                hosted, job_id, final_sent = self.hosted, self.job_id, self.final_sent
            if hosted is None or final_sent:
                seen = None
                continue
            ended = hosted.ended
            snap = hosted.snapshot()
            if ended:
                try:
                    models = hosted.models()
                except Exception:  # an error status has no models
                    models = {}
                try:  # a race's paths for its loss surface (bounded: gru_core.train.race.TRAJECTORY_FLOATS)
                    paths = hosted.trajectories() if hasattr(hosted, "trajectories") else None
                except Exception:
                    paths = None
                with self.lock:
                    if self.hosted is hosted:
                        self.final_sent = True
                        self.hosted = None  # the parent keeps the final snapshot and the models from here on
                self.send(("ended", job_id, snap, models, paths))
                del hosted, snap, models, paths
                _release_memory()
                continue
            key = (job_id, snap.version, snap.status)
            if key != seen:
                seen = key
                self.send(("snap", job_id, snap))


def _release_memory() -> None:
    """After a job: collect its cycles and give freed heap pages back to the system (glibc's malloc_trim), so a
    worker that trains race after race for a whole class does not keep the high-water mark of each."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused by the next job instead
        pass


def _exit_with_parent(ppid: int) -> None:
    def stdin_eof():
        try:
            while sys.stdin.buffer.read(1 << 16):
                pass
        except (OSError, ValueError):
            pass
        os._exit(0)

    def poll():
        while os.getppid() == ppid:
            time.sleep(PARENT_POLL)
        os._exit(0)

    threading.Thread(target=stdin_eof, daemon=True, name="gru-worker-stdin").start()
    threading.Thread(target=poll, daemon=True, name="gru-worker-ppid").start()


WORKER_NICE = int(os.environ.get("GRU_LAB_WORKER_NICE", 10))  # how much lower a worker's CPU priority is


def _lower_priority() -> None:
    """Training yields the CPU to the server (and a browser on the same machine): a visitor's race must never
    slow another's redraws.  On a busy machine the workers share what the server leaves; on an idle one nice
    changes nothing."""
    try:
        os.nice(WORKER_NICE)
    except (AttributeError, OSError):  # not on this platform, or not allowed: train at normal priority
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gru_core.runner.worker")
    ap.add_argument("--address", required=True, help="HOST:PORT of the parent's listener")
    ap.add_argument("--slot", type=int, default=0)
    args = ap.parse_args(argv)
    ppid = os.getppid()
    authkey = bytes.fromhex(sys.stdin.readline().strip())
    host, port = args.address.rsplit(":", 1)
    conn = Client((host, int(port)), authkey=authkey)
    _exit_with_parent(ppid)
    import gru_core.runner.job  # noqa: F401  (numpy, the engine: loaded before the first job arrives)
    import gru_core.runner.sweep  # noqa: F401

    worker = _Host(conn)
    _lower_priority()  # after the imports: a worker must start (and connect) quickly even on a busy machine
    worker.send(("hello", args.slot, os.getpid()))
    threading.Thread(target=worker.publish, daemon=True, name="gru-worker-publish").start()
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        kind = msg[0]
        if kind == "start":
            worker.start(msg[1], msg[2])
        elif kind == "call":
            worker.call(*msg[1:])
        elif kind == "exit":
            break
    with worker.lock:
        hosted = worker.hosted
    if hosted is not None:
        hosted.stop()
        hosted.join(EXIT_JOIN)  # a sweep's process pool is ended, not left behind
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
