"""Run a :class:`~gru_core.train.Race` in a background thread and read it safely from another.

The page's script thread must never train (a widget click would rerun the script and kill the loop),
and a worker thread must never call Streamlit.  So the worker only trains and writes plain Python
objects into a :class:`LiveRace` under a lock; the page polls :meth:`LiveRace.snapshot` from a
fragment and draws.  No Streamlit here: this is ordinary threading, testable without a browser.

The thread is a daemon and checks the stop flag after every mini-batch, so a closed tab (whose session
the page stops) or a Stop click ends it within one step.

A speed limit (:meth:`LiveRace.set_speed`, steps per second) paces the worker: after each mini-batch it
waits until ``1/limit`` seconds have passed since the previous step was let through, so no second holds more
than ``limit`` steps (a slow step is not made up for).  The wait ends at once on a stop or a new limit; the
numbers are the same at any speed.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from gru_core.train import Event, Race


@dataclass
class Snapshot:
    """A consistent copy of a live race's state, safe to read while training goes on."""

    status: str  # idle | running | paused | finished | stopped | error
    version: int  # increases with every event; redraw only when it changed
    epoch: int
    total_epochs: int
    step: int
    elapsed: float  # seconds of training since start (time halted in pauses left out)
    runs: dict[str, dict] = field(default_factory=dict)  # name -> latest summary (see Race._summary)
    history: dict[str, list[dict]] = field(default_factory=dict)  # name -> per-epoch records
    gates: dict[str, list[dict]] | None = None  # name -> per layer {z, r, n, h}: (T, H) arrays
    result: dict | None = None  # Race.result() once the race has ended
    error: str | None = None
    forecasts: dict | None = None  # name -> test predictions in the series' units, as of the last epoch
    interventions: list[dict] = field(default_factory=list)  # learning rates changed mid-race
    pauses: list[dict] = field(default_factory=list)  # where training halted ({"step", "epoch", "changed"})
    queue_position: int | None = None  # status "queued": place in the runner's line (1 = next)
    queue_wait: float | None = None  # status "queued": estimated seconds until it starts (None: unknown)
    backend: str = "thread"  # where it trains: thread | process | dask (gru_core.runner)
    seeds: list[int] | None = None  # a race over several seeds (gru_core.runner.seeds): the seeds, in order
    per_seed: list[Snapshot] | None = None  # ... and each seed's own snapshot (this one is the shown seed's)


class LiveRace:
    """Own a Race and the thread that runs it."""

    def __init__(self, race: Race, speed: float | None = None):
        self.race = race
        self._speed: float | None = None
        self._mark: float | None = None  # when the last step was let through (speed limit)
        self.set_speed(speed)
        race.after_batch = self._pace
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._status = "idle"
        self._version = 0
        self._t0 = None
        self._t_end = None
        self._last: Event | None = None
        self._gates: dict | None = None
        self._forecasts: dict | None = None
        self._interventions: list[dict] = []
        self._pauses: list[dict] = []
        self._history: dict[str, list[dict]] = {name: [] for name in race.runs}
        self._result: dict | None = None
        self._error: str | None = None
        # called in the training thread with the result of a race that finished or was stopped, before the
        # snapshot says so (e.g. storing its runs; it may add keys to the result); its exception is reported there
        self.on_end: Callable[[dict], None] | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("this race has already been started")
        self._t0 = time.perf_counter()
        self._status = "running"
        thread = threading.Thread(target=self._work, name="gru-lab-race", daemon=True)
        thread.start()
        self._thread = thread  # set once alive: a thread made but not yet started must not read as ended

    def stop(self) -> None:
        """Ask the worker to end after the current mini-batch; everything trained so far is kept."""
        self.race.stop()

    # classroom control, passed to the race (each acts after the current mini-batch)
    def pause(self) -> None:
        self.race.pause()

    def resume(self) -> None:
        self.race.resume()

    def step_batches(self, k: int = 1) -> None:
        self.race.step_batches(k)

    def step_epoch(self) -> None:
        self.race.step_epoch()

    def pause_before(self, step: int) -> None:
        self.race.pause_before(step)

    def set_lr(self, name: str, value: float) -> None:
        self.race.set_lr(name, value)

    def set_speed(self, steps_per_s: float | None) -> None:
        """Limit training to ``steps_per_s`` mini-batch steps per second (None or 0: as fast as possible)."""
        if steps_per_s is not None:
            try:
                steps_per_s = float(steps_per_s)
            except (TypeError, ValueError):
                raise ValueError(f"speed must be a number of steps per second, got {steps_per_s!r}") from None
            if steps_per_s != steps_per_s or steps_per_s < 0:
                raise ValueError(f"speed must be a positive number of steps per second, got {steps_per_s!r}")
            steps_per_s = steps_per_s or None
        with self.race._cond:
            self._speed = steps_per_s
            self.race._cond.notify_all()  # a waiting step re-reads the limit

    @property
    def speed(self) -> float | None:
        return self._speed

    def _pace(self) -> None:
        """After a mini-batch (training thread): wait so that steps are at least ``1/speed`` s apart."""
        now = time.perf_counter()
        cond = self.race._cond
        with cond:
            while self._speed and not self.race._stop and self._mark is not None:
                left = self._mark + 1.0 / self._speed - now
                if left <= 0:
                    break
                cond.wait(left)
                now = time.perf_counter()
        self._mark = now

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True if it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _work(self) -> None:
        try:
            for event in self.race.run():
                with self._lock:
                    self._last = event
                    if event.gates is not None:
                        self._gates = event.gates
                    if event.forecasts is not None:
                        self._forecasts = event.forecasts
                    self._interventions = [dict(iv) for iv in self.race.interventions]
                    self._pauses = [dict(p) for p in self.race.pauses]
                    if event.kind == "epoch":
                        for name, run in self.race.runs.items():
                            hist = self._history[name]
                            for rec in run.history[len(hist) :]:
                                hist.append(asdict(rec))
                    self._version += 1
            # training is over: the test metrics and a run store's write (on_end) below are not training time
            self._t_end = time.perf_counter()
            result = self.race.result()
            if self.on_end is not None:
                try:
                    self.on_end(result)
                except Exception as exc:  # noqa: BLE001 - the race itself is fine: say what failed beside it
                    traceback.print_exc()
                    result["on_end_error"] = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._result = result
                self._status = "stopped" if self.race._stop else "finished"
                self._version += 1
        except Exception as exc:  # the page shows the message; the traceback goes to the server log
            traceback.print_exc()
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._status = "error"
                self._version += 1
        finally:
            if self._t_end is None:
                self._t_end = time.perf_counter()

    def snapshot(self) -> Snapshot:
        with self._lock:
            ev = self._last
            end = self._t_end if self._t_end is not None else time.perf_counter()
            status = self._status
            # paused: asked to, and halted since the last event (a "paused" event from before a Resume does not count:
            # paused again at once, the worker may still be finishing the mini-batches it took in between)
            halted = self.race.paused and ev is not None and ev.kind == "paused" and self.race.halted()
            if status == "running" and halted:
                status = "paused"
            return Snapshot(
                status=status,
                version=self._version,
                epoch=ev.epoch if ev else 0,
                total_epochs=self.race.train_config.epochs,
                step=ev.step if ev else 0,
                elapsed=(end - self._t0 - self.race.halted_seconds()) if self._t0 is not None else 0.0,
                runs={k: dict(v) for k, v in ev.runs.items()} if ev else {},
                history={k: list(v) for k, v in self._history.items()},
                gates=self._gates,
                forecasts=self._forecasts,
                result=self._result,
                error=self._error,
                interventions=list(self._interventions),
                pauses=[dict(p) for p in self._pauses],
            )
