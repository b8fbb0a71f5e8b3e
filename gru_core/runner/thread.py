"""The ``thread`` backend: each race trains in a thread of this process (today's LiveRace, behind the runner),
each sweep's driver runs in one (:class:`~gru_core.runner.sweep.HostedSweep`).

The simplest backend and the reference for the others: no process, no network.  A :class:`ThreadBackend`
has ``workers`` slots (jobs running at once); the :class:`~gru_core.runner.runner.Runner` queues the rest.
Its handles are :class:`~gru_core.runner.job.HostedRace` and :class:`~gru_core.runner.sweep.HostedSweep`
objects themselves.
"""

from __future__ import annotations

import threading

from gru_core.runner.job import RaceJob
from gru_core.runner.sweep import SweepJob, host_job

__all__ = ["ThreadBackend"]


class ThreadBackend:
    """Races and sweeps in threads of this process, at most ``workers`` at once."""

    name = "thread"

    def __init__(self, workers: int, on_change=None):
        self.workers = max(1, int(workers))
        self._lock = threading.Lock()
        self._races: list = []  # HostedRace | HostedSweep

    def free_slots(self) -> int:
        with self._lock:
            self._races = [h for h in self._races if not h.ended]
            return self.workers - len(self._races)

    def launch(self, job: RaceJob | SweepJob):
        """Build the job's race here (loading and windowing its data) or its sweep, and start its thread."""
        hosted = host_job(job, backend=self.name)
        with self._lock:
            self._races.append(hosted)
        hosted.start()
        return hosted

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            races, self._races = list(self._races), []
        for h in races:
            h.stop()
        for h in races:
            h.join(timeout)
