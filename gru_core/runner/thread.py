"""The ``thread`` backend: each race trains in a thread of this process (today's LiveRace, behind the runner).

The simplest backend and the reference for the others: no process, no network.  A :class:`ThreadBackend`
has ``workers`` slots (races training at once); the :class:`~gru_core.runner.runner.Runner` queues the rest.
Its handles are :class:`~gru_core.runner.job.HostedRace` objects themselves.
"""

from __future__ import annotations

import threading

from gru_core.runner.job import HostedRace, RaceJob

__all__ = ["ThreadBackend"]


class ThreadBackend:
    """Races in threads of this process, at most ``workers`` at once."""

    name = "thread"

    def __init__(self, workers: int, on_change=None):
        self.workers = max(1, int(workers))
        self._lock = threading.Lock()
        self._races: list[HostedRace] = []

    def free_slots(self) -> int:
        with self._lock:
            self._races = [h for h in self._races if not h.ended]
            return self.workers - len(self._races)

    def launch(self, job: RaceJob) -> HostedRace:
        """Build the job's race here (loading and windowing its data) and start its thread."""
        hosted = HostedRace(job, backend=self.name)
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
