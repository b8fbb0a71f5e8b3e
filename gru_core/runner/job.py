"""What a background race is (:class:`RaceJob`, plain picklable data) and the one thing that hosts it
(:class:`HostedRace`: the job's Race in a :class:`~gru_core.train.live.LiveRace`, plus its model files).

Every backend builds the race the same way, from the same job, with :class:`HostedRace`: the thread backend in
the server's process, a pool worker in its own process, a Dask actor on a cluster worker.  So the same job gives
the same numbers, bit for bit, wherever it runs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from gru_core.config import QUERY_INTERVENTIONS, RunConfig, format_interventions
from gru_core.data.source import load_source, prepare_run
from gru_core.jsonio import to_jsonable
from gru_core.model.files import ModelInfo, save_model_bytes
from gru_core.train import Race
from gru_core.train.live import LiveRace, Snapshot

__all__ = ["CONTROLS", "HostedRace", "RaceJob", "RemoteControls", "TERMINAL"]

TERMINAL = ("finished", "stopped", "error", "cancelled")  # a race in one of these will not change again
# the handle's commands
CONTROLS = ("pause", "resume", "step_epoch", "step_batches", "pause_before", "set_lr", "set_speed", "stop")


@dataclass
class RaceJob:
    """One race to run in the background: plain data, picklable (it travels to a worker process or a Dask worker).

    ``config``: ``RunConfig.to_dict()`` (a RunConfig is accepted and converted).  ``series``: the pandas Series to
    train on (an uploaded CSV the worker cannot read); None: the worker loads ``config["data"]`` itself with
    :func:`~gru_core.data.source.load_source`.  ``interventions``: learning-rate changes replayed exactly (None:
    the configuration's own).  ``speed``: steps per second (None: as fast as possible).  ``controls``: commands
    ``(method, args)`` applied before the race's thread starts (what was asked while it waited in the queue).
    ``model_info``: extra :class:`~gru_core.model.files.ModelInfo` fields for its model files (query, series, …).
    ``store``: a run store's path: the finished or stopped race's runs are stored there like a sweep's (one record
    per optimizer with its settings, interventions, history, metrics and link), by whatever hosts it.
    """

    config: dict
    series: Any = None
    log_every: int = 0
    initial_params: Any = None
    initial_optimizer_states: dict | None = None
    interventions: list | None = None
    speed: float | None = None
    controls: list = field(default_factory=list)
    model_info: dict = field(default_factory=dict)
    store: str | None = None  # run store (SQLite path) that keeps the race's runs once it ends; None: not kept

    def __post_init__(self):
        if self.store is not None:
            self.store = str(Path(self.store).expanduser().resolve())  # a worker has its own working folder
        if isinstance(self.config, RunConfig):
            self.config = self.config.to_dict()
        self.config = dict(self.config)

    @property
    def run_config(self) -> RunConfig:
        return RunConfig.from_dict(self.config)

    @property
    def labels(self) -> list[str]:
        return self.run_config.labels

    @property
    def epochs(self) -> int:
        return int(self.run_config.train.epochs)


class HostedRace:
    """A job's race in a LiveRace: the same API (``start``, ``snapshot``, ``pause``, …, ``set_speed``), plus
    :meth:`models`, ``labels``, ``gate_input`` and ``ended``.  ``backend`` is written into every snapshot."""

    def __init__(self, job: RaceJob, backend: str = "thread"):
        self.job = job
        self.backend = backend
        self.cfg = cfg = job.run_config
        series = job.series if job.series is not None else load_source(cfg.data)
        self.series = series
        self.prepared = prepare_run(series, cfg.data)
        interventions = job.interventions if job.interventions is not None else cfg.interventions
        self.race = Race(self.prepared, cfg.model_config(), cfg.race_contestants(),
                         cfg.train_config(log_every=int(job.log_every or 0)),
                         interventions=[dict(iv) for iv in interventions] or None,
                         initial_params=job.initial_params,
                         initial_optimizer_states=job.initial_optimizer_states)  # fmt: skip
        self.live = LiveRace(self.race, speed=job.speed)
        self.labels = list(self.race.runs)
        self.gate_input = self.race.gate_input
        if job.store is not None:
            self.live.on_end = self._store_runs
        for method, args in job.controls:
            if method not in CONTROLS:
                raise ValueError(f"unknown control {method!r}; known: {CONTROLS}")
            getattr(self, method)(*args)
        self._started = False

    def _store_runs(self, result: dict) -> None:
        """The race's runs into the job's run store (training thread, at the end): ``result["stored"]`` = their
        ids."""
        import uuid
        from urllib.parse import urlencode

        from gru_core.store import RunStore
        from gru_core.sweep.run import race_records

        cfg, info = self.cfg, dict(self.job.model_info or {})
        query = dict(info.get("query") or {})
        query.pop(QUERY_INTERVENTIONS, None)  # the link replays the changes that happened (live ones too)
        applied = [dict(iv) for iv in self.race.interventions if iv.get("field", "lr") == "lr"]
        if applied:
            query[QUERY_INTERVENTIONS] = format_interventions(applied)
        series = info.get("series") or {}
        identity = {"seed": cfg.seed, "params": {}, "kind": "race",
                    "race_id": info.get("race_id") or uuid.uuid4().hex[:12], "link": "?" + urlencode(query, doseq=True),
                    "interventions": [dict(iv) for iv in self.race.interventions]}  # fmt: skip
        sizes = {f"n_{k}": v for k, v in self.prepared.sizes.items()}
        data_info = {"name": series.get("name") or self.series.attrs.get("name", cfg.data.source),
                     "units": series.get("units") or self.series.attrs.get("units", ""),
                     "length": int(len(self.series)), **sizes}  # fmt: skip
        d = cfg.to_dict()
        records = race_records(self.race, result, {"data": d["data"], "model": d["model"], "train": d["train"]},
                               d["contestants"], data_info, identity)  # fmt: skip
        result["stored"] = RunStore(self.job.store).add_runs(records)

    # the LiveRace API
    def start(self) -> None:
        self.live.start()
        self._started = True  # only now: "started and not running" must never be true before the thread runs

    def snapshot(self) -> Snapshot:
        snap = self.live.snapshot()
        snap.backend = self.backend
        return snap

    def pause(self) -> None:
        self.live.pause()

    def resume(self) -> None:
        self.live.resume()

    def step_epoch(self) -> None:
        self.live.step_epoch()

    def step_batches(self, k: int = 1) -> None:
        self.live.step_batches(k)

    def pause_before(self, step: int) -> None:
        self.live.pause_before(step)

    def set_lr(self, name: str, value: float) -> None:
        self.live.set_lr(name, value)

    def set_speed(self, steps_per_s: float | None) -> None:
        self.live.set_speed(steps_per_s)

    def stop(self) -> None:
        self.live.stop()

    def join(self, timeout: float | None = None) -> bool:
        return self.live.join(timeout)

    @property
    def running(self) -> bool:
        return self.live.running

    @property
    def ended(self) -> bool:
        """Started and its thread has ended (finished, stopped or failed)."""
        return self._started and not self.live.running

    def _check_halted(self, what: str) -> Snapshot:
        snap = self.snapshot()
        if snap.status not in ("paused", "finished", "stopped") or (snap.status == "paused" and not self.race.paused):
            raise RuntimeError(f"{what} only while the race is paused or after it ended (it is {snap.status})")
        return snap

    def trajectories(self) -> dict:
        """Every contestant's recorded path through parameter space (:meth:`Race.trajectory`), for the loss
        surface: ``{"origin": θ0 (n,), "epochs": {name: (k,)}, "params": {name: (k, n)}, "status": {name: str},
        "shapes": {param: shape}}``; only while the race is halted in a pause or has ended."""
        self._check_halted("the paths can be read")
        race = self.race
        paths = {name: race.trajectory(name) for name in race.runs}
        first = next(iter(race.runs.values())).model
        return {"origin": race.initial_flat.copy(), "epochs": {k: v[0] for k, v in paths.items()},
                "params": {k: v[1] for k, v in paths.items()},
                "status": {k: r.status for k, r in race.runs.items()},
                "shapes": {k: tuple(v) for k, v in first.params.shapes.items()}}  # fmt: skip

    def models(self) -> dict[str, bytes]:
        """Every contestant's model as model-file bytes (weights, optimizer state, run, scaler, ModelInfo);
        only while the race is halted in a pause or has ended (finished or stopped)."""
        snap = self._check_halted("the models can be saved")
        tests = {r["name"]: r["test"] for r in (snap.result or {}).get("runs", []) if r.get("test")}
        out = {}
        for name, run in self.race.runs.items():
            extra = dict(self.job.model_info)
            series = {"name": str(self.series.name or ""), "units": str(self.series.attrs.get("units", "")),
                      "source": str(self.series.attrs.get("source") or self.cfg.data.source),
                      "length": int(len(self.series))}  # fmt: skip
            series.update(extra.pop("series", None) or {})
            info = ModelInfo(
                label=name, optimizer=run.contestant.optimizer, flavor=run.contestant.flavor, seed=self.cfg.seed,
                status=snap.status, epochs_trained=snap.epoch, step=snap.step,
                metrics={"test": to_jsonable(tests[name])} if name in tests else {}, series=series,
                interventions=[dict(iv) for iv in snap.interventions if iv.get("optimizer") == name],
                **{k: v for k, v in extra.items() if k in ModelInfo.__dataclass_fields__},
            )  # fmt: skip
            out[name] = save_model_bytes(run.model, optimizer=run.opt, run=self.cfg, scaler=self.prepared.scaler,
                                         info=ModelInfo(**to_jsonable(asdict(info))))  # fmt: skip
        return out


class RemoteControls:
    """What a handle whose race trains elsewhere (a worker process, a Dask actor) shares: the last snapshot
    received (``_snap`` at ``_recv``; :meth:`snapshot` extrapolates its elapsed time while it runs), the end
    (``_ended``; :meth:`_fail` ends it with status "error") and LiveRace's classroom controls, each one message,
    ``self._call(method, *args)``, which the subclass delivers.  The subclass sets ``_lock``, ``_snap``,
    ``_recv``, ``_t0`` and ``_ended``."""

    _terminal = TERMINAL

    def _call(self, method: str, *args):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _error_fields(self, message: str) -> dict:
        """The snapshot's fields once the job failed with ``message``."""
        return {"status": "error", "error": message}

    def _lost(self) -> None:
        """Drop what refers to the job's worker (called under the lock when the job fails)."""

    def _fail(self, message: str) -> None:
        """End the job with status "error" and ``message`` (its worker or its cluster is gone)."""
        with self._lock:
            if self._ended.is_set():
                return
            s = self._snap
            self._snap = replace(s, **self._error_fields(message), version=s.version + 1,
                                 elapsed=time.perf_counter() - self._t0)  # fmt: skip
            self._recv = time.perf_counter()
            self._lost()
            self._ended.set()

    def snapshot(self):
        with self._lock:
            snap, recv = self._snap, self._recv
        if snap.status == "running":  # training time goes on between two messages; a pause's does not
            return replace(snap, elapsed=snap.elapsed + (time.perf_counter() - recv))
        return replace(snap)

    def start(self) -> None:
        """Started when launched (kept for LiveRace's API)."""

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    def join(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def step_epoch(self) -> None:
        self._call("step_epoch")

    def step_batches(self, k: int = 1) -> None:
        self._call("step_batches", k)

    def pause_before(self, step: int) -> None:
        self._call("pause_before", step)

    def set_lr(self, name: str, value: float) -> None:
        self._call("set_lr", name, value)

    def set_speed(self, steps_per_s: float | None) -> None:
        self._call("set_speed", steps_per_s)
