"""A race over several seeds: one runner job per seed (they train in parallel on the runner's workers), steered
together as one race.

Seed ``s`` races every contestant in lockstep from its own initial weights and mini-batches: its job is exactly
the single-seed race with ``seeds=[s]`` (:func:`seed_jobs`), so its numbers are that race's, bit for bit.

:class:`SeedRaces` has a race handle's API (``snapshot``, ``pause``, ``resume``, ``step_epoch``, ``step_batches``,
``pause_before``, ``set_lr``, ``set_speed``, ``stop``, ``cancel``, ``join``, ``running``, ``queued``, ``models``,
``labels``, ``gate_input``, ``backend``): every command goes to every seed.  Its snapshot is the *shown* seed's
(:attr:`SeedRaces.shown`, the page's seed picker) with the race's overall status, and ``per_seed``/``seeds`` hold
every seed's snapshot.  A learning-rate change is applied at the same mini-batch in every seed (the seeds are
halted, the ones behind brought up to the one furthest on, then the change is made and the race resumes), so the
recorded changes are the same for all seeds and one link replays every seed exactly.  No Streamlit.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

from gru_core.runner.job import TERMINAL, RaceJob
from gru_core.train.live import Snapshot

__all__ = ["ALIGN_TIMEOUT", "SeedRaces", "group_status", "seed_jobs"]

ALIGN_TIMEOUT = 30.0  # seconds a learning-rate change may wait for the seeds to halt at the same mini-batch


def seed_jobs(job: RaceJob) -> list[RaceJob]:
    """One job per seed of ``job``'s configuration: the same job with ``seeds=[s]`` (the race that seed alone
    would be); its model files and stored runs say which seed they are, and the stored runs of all the seeds share
    one ``race_id`` and the link of the whole race."""
    seeds = list(job.run_config.seeds)
    race_id = uuid.uuid4().hex[:12]  # the seeds' stored runs are one race in the run store
    out = []
    for s in seeds:
        cfg = dict(job.config, seeds=[s])
        info = dict(job.model_info or {}, race_id=race_id)  # the model files record their seed (the config's)
        out.append(replace(job, config=cfg, controls=list(job.controls), model_info=info,
                           interventions=None if job.interventions is None else [dict(iv) for iv in job.interventions]))
    return out


def group_status(statuses: list[str]) -> str:
    """The race's status from its seeds': running while any seed trains; paused when every seed still going is
    halted; queued while none has started; once all have ended: error, stopped or cancelled if any seed was,
    else finished."""
    live = [s for s in statuses if s not in TERMINAL]
    if not live:
        for worst in ("error", "stopped", "cancelled"):
            if worst in statuses:
                return worst
        return "finished"
    if "running" in live:
        return "running"
    if all(s == "paused" for s in live):
        return "paused"
    if all(s == "queued" for s in live):
        return "queued"
    if "idle" in live:
        return "idle"
    return "paused" if "paused" in live else live[0]


class SeedRaces:
    """Several seeds of one race on a runner, steered as one (see the module docstring).

    ``runner.submit`` is called once per seed.  ``shown``: the index (into ``seeds``) of the seed whose snapshot,
    models and gate input :meth:`snapshot`, :meth:`models` and :attr:`gate_input` give."""

    kind = "race"

    def __init__(self, runner: Any, job: RaceJob):
        self.job = job
        self.seeds: list[int] = list(job.run_config.seeds)
        self.jobs = seed_jobs(job)
        self.handles = [runner.submit(j) for j in self.jobs]
        self.labels = list(self.handles[0].labels)
        self.backend = self.handles[0].backend
        self.shown = 0

    def __getattr__(self, name: str) -> Any:  # anything else of a race handle: the shown seed's
        if name.startswith("__") or name in ("handles", "shown"):
            raise AttributeError(name)
        return getattr(self.handle, name)

    # ---- state ----------------------------------------------------------------------------------------------

    @property
    def n_seeds(self) -> int:
        return len(self.handles)

    @property
    def handle(self) -> Any:
        """The shown seed's job handle."""
        return self.handles[min(max(0, self.shown), len(self.handles) - 1)]

    @property
    def gate_input(self) -> Any:
        return self.handle.gate_input

    @property
    def pid(self) -> int | None:
        return self.handle.pid

    @property
    def running(self) -> bool:
        return any(h.running for h in self.handles)

    @property
    def queued(self) -> bool:
        return all(h.queued for h in self.handles)

    @property
    def training_jobs(self) -> int:
        """Seeds still training or waiting for a worker."""
        return sum(1 for h in self.handles if h.running)

    def join(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        for h in self.handles:
            left = None if end is None else max(0.0, end - time.monotonic())
            if not h.join(left):
                return False
        return True

    def seed_snapshots(self) -> list[Snapshot]:
        return [h.snapshot() for h in self.handles]

    def snapshot(self) -> Snapshot:
        """The shown seed's snapshot with the race's status; with several seeds, ``per_seed`` has them all."""
        snaps = self.seed_snapshots()
        if len(snaps) == 1:
            return snaps[0]
        i = min(max(0, self.shown), len(snaps) - 1)
        mine = snaps[i]
        status = group_status([s.status for s in snaps])
        waiting = [s for s in snaps if s.status == "queued"]
        return replace(
            mine, status=status, version=sum(s.version for s in snaps),
            elapsed=max(s.elapsed for s in snaps), seeds=list(self.seeds), per_seed=snaps,
            error=next((f"seed {seed}: {s.error}" for seed, s in zip(self.seeds, snaps) if s.error), None),
            queue_position=min((s.queue_position for s in waiting if s.queue_position), default=None),
            queue_wait=mine.queue_wait if mine.status == "queued" else None,
        )  # fmt: skip

    # ---- commands: to every seed ----------------------------------------------------------------------------

    def _each(self, method: str, *args) -> None:
        for h in self.handles:
            getattr(h, method)(*args)

    def pause(self) -> None:
        """Halt every seed at the same mini-batch: each halts where it is, then the ones behind train on to the one
        furthest on (blocks until they are there, at most :data:`ALIGN_TIMEOUT` s).  Stepping from there keeps
        them together; a learning-rate change then applies at one mini-batch in all of them."""
        self._each("pause")
        if len(self.handles) > 1:
            self._align()

    def resume(self) -> None:
        self._each("resume")

    def step_epoch(self) -> None:
        self._step("step_epoch")

    def step_batches(self, k: int = 1) -> None:
        self._step("step_batches", k)

    def _step(self, method: str, *args) -> None:
        """Every paused seed takes the step; returns once each has started it (its snapshot moved on), so a
        "paused" read afterwards means every seed has finished the step, not that one has not begun it."""
        before = self.seed_snapshots()
        self._each(method, *args)
        if len(self.handles) == 1:
            return
        waiting = [i for i, s in enumerate(before) if s.status == "paused"]
        end = time.monotonic() + ALIGN_TIMEOUT
        while waiting and time.monotonic() < end:
            now = self.seed_snapshots()
            waiting = [i for i in waiting if now[i].version == before[i].version and now[i].status == "paused"]
            if waiting:
                time.sleep(0.01)

    def pause_before(self, step: int) -> None:
        self._each("pause_before", step)

    def set_speed(self, steps_per_s: float | None) -> None:
        self._each("set_speed", steps_per_s)

    def stop(self) -> None:
        self._each("stop")

    def cancel(self) -> bool:
        """Take every seed still waiting out of the line; True when none had started (nothing was trained)."""
        return all([h.cancel() for h in self.handles])

    def models(self) -> dict[str, bytes]:
        """The shown seed's model files (only while paused or once ended)."""
        return self.handle.models()

    def seed_trajectories(self, index: int) -> dict:
        """Seed ``index``'s recorded paths (only while paused or once ended)."""
        return self.handles[index].trajectories()

    def seed_models(self, index: int) -> dict[str, bytes]:
        return self.handles[index].models()

    def _align(self) -> tuple[list[Snapshot], int, list[int]]:
        """Halt the started seeds and bring the ones behind up to the one furthest on: ``(snapshots, that step,
        the seeds still going)``."""
        snaps = self.seed_snapshots()
        going = [i for i, s in enumerate(snaps) if s.status not in TERMINAL]
        started = [i for i in going if snaps[i].status != "queued"]
        for i in started:
            if snaps[i].status != "paused":
                self.handles[i].pause()
        snaps = self._wait(started, lambda s: s.status != "running")
        target = max((snaps[i].step for i in started if snaps[i].status == "paused"), default=0)
        behind = [i for i in started if snaps[i].status == "paused" and snaps[i].step < target]
        for i in behind:
            self.handles[i].step_batches(target - snaps[i].step)
        snaps = self._wait(behind, lambda s: s.status != "running" and (s.status != "paused" or s.step >= target))
        return snaps, target, going

    def set_lr(self, name: str, value: float) -> int | None:
        """Change ``name``'s learning rate from the same mini-batch on in every seed (see the module docstring);
        returns that mini-batch (steps count from 1; None with one seed: its next one)."""
        if len(self.handles) == 1:
            self.handles[0].set_lr(name, value)
            return None
        if name not in self.labels:
            raise ValueError(f"unknown contestant {name!r}; known: {self.labels}")
        was_running = any(s.status == "running" for s in self.seed_snapshots())
        snaps, target, going = self._align()
        for i in going:
            h = self.handles[i]
            if snaps[i].status == "paused":
                h.set_lr(name, value)
            elif h.queued:  # not started yet: the change is replayed at the same mini-batch as in the others
                with h._runner._lock:
                    if h.queued:
                        own = h.job.interventions
                        ivs = [dict(iv) for iv in (own if own is not None else h.job.run_config.interventions)]
                        ivs.append({"step": target + 1, "optimizer": name, "field": "lr", "new": float(value)})
                        h.job.interventions = ivs
                        continue
                h.set_lr(name, value)
        if was_running:
            for i in going:
                self.handles[i].resume()
        return target + 1

    def _wait(self, indices: list[int], done) -> list[Snapshot]:
        end = time.monotonic() + ALIGN_TIMEOUT
        while True:
            snaps = self.seed_snapshots()
            if all(done(snaps[i]) or snaps[i].status in TERMINAL for i in indices) or time.monotonic() > end:
                return snaps
            time.sleep(0.01)
