"""What every job's handle in the runner's first-come line shares, whatever the job (race, sweep, loss surface):
its state in the queue, the backend's handle once launched, its end, ``cancel`` and ``pid``
(:class:`QueuedHandle`).  The runner (:mod:`gru_core.runner.runner`) moves handles through the line."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

__all__ = ["QueuedHandle"]


class QueuedHandle:
    """What a submitted job's handle shares, race or sweep: its place in the runner's queue (``_state``: queued |
    launched | cancelled | error), the backend's handle once launched (``_inner``), the end (``join``,
    ``running``: true until it has ended, also while queued), ``cancel`` and ``pid``.  ``_qversion`` counts
    changes while queued (added to the snapshot's version, so a page sees its place move)."""

    kind = "job"

    def __init__(self, runner, job):
        self._runner = runner
        self.job = job
        self.backend = runner.backend_name
        self.labels = job.labels
        self._inner = None
        self._state = "queued"  # queued | launched | cancelled | error
        self._error: str | None = None
        self._ended = threading.Event()
        self._submitted = time.perf_counter()
        self._qversion = 0

    @property
    def queued(self) -> bool:
        return self._state == "queued"

    @property
    def pid(self) -> int | None:
        """The worker process hosting the job (process backend), else None."""
        return getattr(self._inner, "pid", None)

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended (or was cancelled); True if it has."""
        return self._ended.wait(timeout)

    def start(self) -> None:
        """Submitted jobs start by themselves (kept for the handles' common API)."""

    def cancel(self) -> bool:
        """Remove a queued job from the queue (status "cancelled"); True if it was queued."""
        return self._runner._cancel(self)

    def _queued_snapshot(self, base, cancelled: dict, error: dict):
        """The snapshot of a job not launched: ``base`` with its place and wait, or ``cancelled``/``error``."""
        if self._state == "cancelled":
            return replace(base, **cancelled)
        if self._state == "error":
            return replace(base, **error)
        position, wait = self._runner._queue_info(self)
        return replace(base, queue_position=position, queue_wait=wait)
