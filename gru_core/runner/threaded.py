"""What a job hosted in one thread of this process shares, sweep or loss surface (:class:`ThreadHosted`): its
thread's start, ``join``, ``running`` and ``ended`` (started, and its thread has ended).  A race is hosted by a
:class:`~gru_core.train.live.LiveRace` instead (it has its own thread and controls)."""

from __future__ import annotations

import threading
import time

__all__ = ["ThreadHosted"]


class ThreadHosted:
    """Mixin: the subclass defines ``_run`` (the thread's work) and may set ``THREAD_NAME``; ``_t0`` is the start."""

    THREAD_NAME = "gru-runner-job"
    _thread: threading.Thread | None = None
    _t0: float = 0.0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._t0 = time.perf_counter()
        thread = threading.Thread(target=self._run, daemon=True, name=self.THREAD_NAME)
        thread.start()
        self._thread = thread  # set once alive: a started-but-not-yet-running thread must not read as ended

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ended(self) -> bool:
        """Started, and its thread has ended."""
        return self._thread is not None and not self._thread.is_alive()

    def _run(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError
