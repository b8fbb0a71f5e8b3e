"""The Sweep page's hold on its sweep: :class:`PageSweep`, a thin wrapper over the runner's
:class:`~gru_core.runner.SweepHandle` (plus what only the page cares about: its estimate and whether the end has
been drawn), and the page's rule on sweeps at once (:func:`active_sweeps` against ``LIMITS["max_sweeps"]``),
counted in the runner's one registry of background jobs (races and sweeps alike).

The sweep runs where :func:`gru_core.runner.get_runner` hosts it (by default in a worker process of the runner,
which writes the run store; the page only reads it).  Nothing here starts a thread or a process.
"""

from __future__ import annotations

import os
import threading

from gru_core.runner import SweepJob, SweepSnapshot, get_runner
from gru_core.store import RunStore
from gru_core.sweep import SweepSpec
from gru_ui.sweep.limits import LIMITS

__all__ = ["PageSweep", "active_sweeps", "sweep_handles"]

_SUBMIT = threading.Lock()  # one page at a time counts the sweeps and submits (the limit holds across sessions)


def sweep_handles(runner=None) -> list:
    """The runner's sweeps that are running or waiting in line (every browser session's)."""
    runner = runner or get_runner()
    return [h for h in runner.active() + runner.queued() if h.kind == "sweep" and h.running]


def active_sweeps(runner=None) -> int:
    """Sweeps running or waiting in line right now on this server: what ``LIMITS["max_sweeps"]`` limits."""
    return len(sweep_handles(runner))


class PageSweep:
    """One sweep launched from the page: :meth:`start` submits it to the runner; :meth:`snapshot`,
    :meth:`stop`, :meth:`join`, :attr:`running`, :attr:`sweep_id` are its handle's.  A stop asked before the
    start is kept: the sweep then stops before its first cell."""

    def __init__(self, spec: SweepSpec, store_path: str | os.PathLike, workers: int = 0, resume: bool = True,
                 estimate_seconds: float | None = None):  # fmt: skip
        self.spec = spec
        self.store_path = str(store_path)
        self.workers = int(workers)
        self.resume = bool(resume)
        self.estimate_seconds = estimate_seconds
        self.labels = [c.name for c in spec.contestants]
        self.final_drawn = False  # a full page run completed after the end (the poll timer is off)
        self.handle = None
        self._stop_asked = False

    def start(self, max_sweeps: int | None = None, runner=None) -> None:
        """Submit the sweep.  RuntimeError when the server already has ``max_sweeps`` sweeps running or waiting;
        StoreError (here, on the page's thread) for a store that cannot be opened."""
        if self.handle is not None:
            raise RuntimeError("this sweep has already been started")
        limit = LIMITS["max_sweeps"] if max_sweeps is None else max_sweeps
        store = RunStore(self.store_path)  # the sweep's host writes it; this only checks the path
        runner = runner or get_runner()
        job = SweepJob(self.spec, store=str(store.path), workers=self.workers, resume=self.resume,
                       estimate_seconds=self.estimate_seconds,
                       controls=[("stop", ())] if self._stop_asked else [])  # fmt: skip
        with _SUBMIT:
            busy = active_sweeps(runner)
            if busy >= limit:
                raise RuntimeError(f"The server is busy: {busy} sweep(s) running or waiting (limit {limit}). "
                                   "Try again later.")  # fmt: skip
            self.handle = runner.submit(job)

    def snapshot(self) -> SweepSnapshot:
        if self.handle is None:
            return SweepSnapshot(status="starting")
        return self.handle.snapshot()

    def stop(self) -> None:
        """End the sweep (a queued one is taken out of the line); finished cells stay stored."""
        if self.handle is None:
            self._stop_asked = True
        else:
            self.handle.stop()

    def join(self, timeout: float | None = None) -> bool:
        return True if self.handle is None else self.handle.join(timeout)

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    @property
    def sweep_id(self) -> int | None:
        return self.snapshot().sweep_id

    @property
    def wall_seconds(self) -> float | None:
        """How long it ran (None while it runs)."""
        snap = self.snapshot()
        return None if snap.live else snap.elapsed
