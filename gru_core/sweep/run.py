"""Running a sweep: its cells on local processes or a Dask cluster, stored as they finish, resumable.

Running
    :func:`run_sweep` runs the cells that are not stored yet on a standard executor:

    * ``workers=None`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with one process per
      core ("spawn" start method: safe from threaded callers such as the Streamlit server; a script calling
      it needs the usual ``if __name__ == "__main__":`` guard).  ``workers=N``: N processes.  ``workers=0``:
      in the calling process, one cell after another (debugging).
    * ``scheduler="tcp://host:8786"`` (or a ``dask.distributed.Client``): a Dask cluster.  Its workers need
      gru_core (same version) installed, and a CSV source must be readable at the same path there.
    * ``scheduler="local-dask"``: an embedded Dask ``LocalCluster`` of ``workers`` single-threaded processes;
      ``scheduler="local-dask-threads"``: one in-process Dask worker with ``workers`` threads
      (``processes=False``; starts in about a second, so the tests use it; the GIL serialises much of the
      work, so it is not faster than one process).

    Worker processes keep BLAS to one thread for small *and* large products (``GRU_LAB_BLAS_THREADS=1``,
    ``GRU_LAB_BIG_BLAS_THREADS=1``: each process already has a core; see :mod:`gru_core._blas`), set
    before NumPy is imported where the executor allows it and re-applied before the first cell otherwise.
    Same seeds ⇒ same numbers: a cell's records are identical, bit for bit, whichever executor ran it (only
    timings differ).

Storing and resuming
    With a ``store`` (a :class:`~gru_core.store.RunStore` or a path), only the parent process writes: each
    finished cell's runs are inserted in one transaction as the cell's result arrives, so the store holds
    whole cells only, whatever happens to a worker.  The sweep is found again by its spec's key (or
    ``sweep_id``); with ``resume=True`` (default) the cells already stored in it are not run again and their
    stored records are returned with the new ones.

Failures
    A cell that raises (bad data options, …) is reported in ``result.failures`` with its traceback and the
    other cells go on.  A worker process that dies (killed, out of memory, ``os._exit``) breaks a process
    pool: the cells finished before it stay stored and returned, the unfinished ones are reported as lost,
    the sweep is marked "failed" in the store, and running the sweep again resumes it.  (On Dask, the
    scheduler retries a cell whose worker died on another worker and reports it lost after repeated deaths,
    the other cells carrying on.)
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import platform
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core._blas import BIG_BLAS_THREADS_ENV, BLAS_THREADS_ENV, limit_blas_threads
from gru_core.config import SETTINGS, SWEEP_SETTINGS, Contestant, GRUConfig, RunConfig, TrainConfig
from gru_core.data import DataError, load_source, prepare_run
from gru_core.data.metrics import regression_metrics
from gru_core.jsonio import canonical_json, to_jsonable
from gru_core.sweep.spec import Cell, SweepSpec, _as_spec, cells
from gru_core.train import Race, check_memory

__all__ = ["LOCAL_DASK", "SchedulerError", "SweepCancelled", "SweepProgress", "SweepResult", "library_versions",
           "prepared_data", "run_cell", "run_sweep"]  # fmt: skip

LOCAL_DASK = ("local-dask", "local-dask-threads")
WORKER_ENV = {BLAS_THREADS_ENV: "1", BIG_BLAS_THREADS_ENV: "1"}
SCHEDULER_TIMEOUT = float(os.environ.get("GRU_LAB_SCHEDULER_TIMEOUT", 10))  # seconds to reach a Dask scheduler
DATA_OPTIONS = tuple(n for n in SWEEP_SETTINGS if SETTINGS[n].section == "data")  # named in a data error
_PROCESS_TOKEN = uuid.uuid4().hex  # differs in every process that imports this module


class SchedulerError(RuntimeError):
    """A Dask scheduler could not be reached (the message names it)."""


# --------------------------------------------------------------------------------------------------
# one cell
# --------------------------------------------------------------------------------------------------

_DATA_CACHE: dict[str, tuple] = {}


def prepared_data(data: dict):
    """``(prepared, info)`` for a DataConfig dict, cached per process (a worker reuses it across cells)."""
    sig = canonical_json(data)
    hit = _DATA_CACHE.get(sig)
    if hit is not None:
        return hit
    series = load_source(data)
    prepared = prepare_run(series, data)
    values = np.ascontiguousarray(series.to_numpy(dtype=np.float64))
    info = {"name": series.attrs.get("name", data["source"]), "units": series.attrs.get("units", ""),
            "length": int(len(series)), "sha256": hashlib.sha256(values.tobytes()).hexdigest()[:20],
            **{f"n_{k}": v for k, v in prepared.sizes.items()}}  # fmt: skip
    if len(_DATA_CACHE) >= 8:
        _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
    _DATA_CACHE[sig] = (prepared, info)
    return prepared, info


_VERSIONS: dict | None = None


def library_versions() -> dict[str, str]:
    """Python, NumPy, pandas and gru_core versions (stored with every run)."""
    global _VERSIONS
    if _VERSIONS is None:
        import gru_core

        _VERSIONS = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
                     "gru_core": gru_core.__version__, "machine": platform.machine()}  # fmt: skip
    return dict(_VERSIONS)


def run_cell(cell: Cell | dict) -> dict:
    """Train one cell (every optimizer, lockstep) and return ``{"cell_key", "cell_index", "seconds",
    "records"}`` with one record per optimizer:

    identity (``cell_key``, ``config_key``, ``cell_index``, ``seed``, ``params``, ``label``, ``optimizer``,
    ``flavor``, ``hyperparams``), ``status``, ``diverged`` (+ ``diverged_epoch``/``_step``/``_reason``),
    ``best_epoch``, ``stopped_epoch``, ``test`` and ``val`` metrics in the series' units (mse, rmse, mae,
    mape %, r2, …; None for a diverged run), ``baselines`` (persistence and linear on test), ``history``
    (per epoch), ``config`` (data/model/train/optimizer), ``data_info``, ``timings`` (``train_seconds``: this
    optimizer's own compute; ``prep_seconds``, ``cell_seconds``: the cell's) and ``versions``.
    """
    if isinstance(cell, dict):
        cell = Cell.from_dict(cell)
    t0 = time.perf_counter()
    prepared, info = prepared_data(cell.data)
    t_prep = time.perf_counter() - t0
    contestants = [Contestant(**o) for o in cell.contestants]
    race = Race(prepared, GRUConfig(**cell.model), contestants, TrainConfig(**cell.train))
    result = race.train()
    wall = time.perf_counter() - t0
    identity = {"cell_key": cell.key, "config_key": cell.config_key, "cell_index": cell.index, "seed": cell.seed,
                "params": dict(cell.params)}  # fmt: skip
    config = {"data": cell.data, "model": cell.model, "train": cell.train}
    records = race_records(race, result, config, cell.contestants, info, identity,
                           {"prep_seconds": t_prep, "cell_seconds": wall})  # fmt: skip
    return {"cell_key": cell.key, "cell_index": cell.index, "seconds": wall, "records": records}


def race_records(race: Race, result: dict, config: dict, optimizers: list[dict], data_info: dict,
                 identity: dict, timings: dict | None = None) -> list[dict]:
    """One run-store record per contestant of a trained race (see :func:`run_cell`): ``config`` holds the data,
    model and train dicts, ``optimizers`` each contestant's dict, ``identity`` what names the run (cell key,
    seed, params; a live race: its link and interventions too), ``timings`` extra seconds."""
    versions = library_versions()
    prepared = race.prepared
    has_val = len(prepared.y_val_raw) > 0
    records = []
    for run, opt in zip(result["runs"], optimizers):
        val = None
        if has_val and not run["diverged"] and run["history"]:
            val = regression_metrics(prepared.y_val_raw, race.predict_raw(run["name"], prepared.X_val))
        records.append({
            **identity, "label": run["name"], "optimizer": run["optimizer"],
            "flavor": run["flavor"], "hyperparams": run["hyperparams"], "status": run["status"],
            "diverged": run["diverged"], "diverged_epoch": run["diverged_epoch"],
            "diverged_step": run["diverged_step"], "diverged_reason": run["diverged_reason"],
            "best_epoch": run["best_epoch"], "stopped_epoch": run["stopped_epoch"],
            "epochs_run": len(run["history"]), "test": run["test"], "val": val,
            "baselines": result["baselines"], "history": run["history"],
            "config": {**config, "optimizer": opt}, "data_info": data_info,
            "timings": {"train_seconds": run["seconds"], **(timings or {})},
            "versions": versions,
        })  # fmt: skip
    return records


# --------------------------------------------------------------------------------------------------
# running a sweep
# --------------------------------------------------------------------------------------------------


def _single_thread_blas() -> None:
    """In a worker process: one BLAS thread for small and large products (each process has its core)."""
    if os.environ.get(BIG_BLAS_THREADS_ENV) == "1" and os.environ.get(BLAS_THREADS_ENV) == "1":
        from gru_core import _blas

        if _blas._big == 1 and _blas._small == 1:
            return
    os.environ.update(WORKER_ENV)
    limit_blas_threads()


def _execute(runner: Callable[[Cell], dict], cell: Cell, parent_token: str) -> dict:
    """What a worker runs: the cell, with errors caught and returned (they must not break the pool)."""
    if parent_token != _PROCESS_TOKEN:  # another process: apply the worker BLAS policy
        _single_thread_blas()
    try:
        return {"ok": True, "result": runner(cell)}
    except Exception as exc:  # reported per cell
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


@dataclass
class SweepProgress:
    """What the ``progress`` callback receives: once at the start (``cell`` None), then after every cell."""

    done: int  # cells finished in this call (stored or failed)
    total: int  # cells to run in this call (the stored ones excluded)
    skipped: int  # cells found in the store and not run again
    failed: int
    elapsed: float  # seconds since the start
    eta: float | None  # seconds to go at the rate so far (None before the first cell)
    cell: Cell | None = None
    records: list = field(default_factory=list)  # the finished cell's runs
    error: str | None = None  # why the finished cell failed


@dataclass
class SweepResult:
    """The outcome of :func:`run_sweep`: every record of the sweep (stored ones included when resuming)."""

    spec: SweepSpec
    cells: list
    records: list  # JSON-ready run records, by cell then optimizer order
    failures: list  # {"cell_key", "cell_index", "params", "seed", "error", "traceback", "lost"}
    status: str  # "finished" | "failed"
    message: str
    ran: int  # cells run now
    skipped: int  # cells taken from the store
    wall_seconds: float
    executor: str
    sweep_id: int | None = None
    store_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def frame(self) -> pd.DataFrame:
        """One flat row per run (see :func:`gru_core.stats.to_frame`)."""
        from gru_core.stats import to_frame

        return to_frame(self.records)


def _open_store(store):
    if store is None:
        return None
    from gru_core.store import RunStore

    return store if isinstance(store, RunStore) else RunStore(store)


def _check_data(cell_list: list[Cell]) -> None:
    """Prepare each distinct data option set once here, and check each configuration's memory against this
    machine's, so a bad one fails before the pool starts."""
    seen: dict[str, int] = {}
    sized = set()
    for c in cell_list:
        sig = canonical_json(c.data)
        if sig not in seen:
            try:
                seen[sig] = prepared_data(c.data)[1]["length"]
            except (DataError, ValueError) as exc:
                raise DataError(f"data options {({k: c.data[k] for k in DATA_OPTIONS})}: {exc}") from None
        size_sig = canonical_json([c.data, c.model, c.train, len(c.contestants)])
        if size_sig not in sized:
            sized.add(size_sig)
            run = RunConfig(data=c.data, model=c.model, train=c.train, contestants=list(c.contestants))
            check_memory(run, seen[sig])


class SweepCancelled(KeyboardInterrupt):
    """Raised by :func:`run_sweep` when its ``stop`` event is set (a KeyboardInterrupt, so the sweep is
    marked "interrupted" like after Ctrl-C; the finished cells stay stored)."""


STOP_POLL = 0.25  # seconds between looks at the stop event while cells run in worker processes


def _check_stop(stop) -> None:
    if stop is not None and stop.is_set():
        raise SweepCancelled("stopped")


def _end_pool(pool: cf.ProcessPoolExecutor, futures) -> None:
    """Cancel what has not started and end the worker processes now, cells in flight included (their
    partial work is lost; the parent stores finished cells only, so nothing half-written remains)."""
    for f in futures:
        f.cancel()
    procs = list((getattr(pool, "_processes", None) or {}).values())  # private, but stable since 3.2
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)


class _Collector:
    """Turns finished cells into stored records, failures and progress reports (parent process only)."""

    def __init__(self, todo, skipped, store, sweep_id, progress):
        self.total, self.skipped = len(todo), skipped
        self.store, self.sweep_id, self.progress = store, sweep_id, progress
        self.records: dict[str, list] = {}
        self.failures: list[dict] = []
        self.done = 0
        self.t0 = time.perf_counter()
        self._report(None, [], None)

    def _report(self, cell, records, error):
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        self.progress(SweepProgress(self.done, self.total, self.skipped, len(self.failures), elapsed, eta, cell,
                                    records, error))  # fmt: skip

    def fail(self, cell: Cell, error: str, tb: str = "", lost: bool = False) -> None:
        self.failures.append({"cell_key": cell.key, "cell_index": cell.index, "params": cell.params,
                              "seed": cell.seed, "error": error, "traceback": tb, "lost": lost})  # fmt: skip
        self.done += 1
        self._report(cell, [], error)

    def add(self, cell: Cell, outcome: dict) -> None:
        if not outcome["ok"]:
            self.fail(cell, outcome["error"], outcome.get("traceback", ""))
            return

        recs = [to_jsonable(r) for r in outcome["result"]["records"]]
        if self.store is not None:
            self.store.add_runs(recs, self.sweep_id)  # the cell's runs: one transaction
        self.records[cell.key] = recs
        self.done += 1
        self._report(cell, recs, None)


def _run_local(todo, runner, col: _Collector, stop=None) -> None:
    for cell in todo:  # in this process a cell cannot be interrupted: the stop acts between cells
        _check_stop(stop)
        col.add(cell, _execute(runner, cell, _PROCESS_TOKEN))


def _run_pool(todo, runner, workers: int, col: _Collector, stop=None) -> None:
    ctx = multiprocessing.get_context("spawn")
    # The initializer runs before the worker unpickles its first task, i.e. before it imports gru_core and
    # NumPy: exec of a literal sets the worker BLAS policy in the environment in time.
    init = f"import os; os.environ.update({WORKER_ENV!r})"
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=exec, initargs=(init,))
    futures = {}
    try:
        futures = {pool.submit(_execute, runner, c, _PROCESS_TOKEN): c for c in todo}
        pending = set(futures)
        while pending:
            _check_stop(stop)
            done, pending = cf.wait(pending, timeout=STOP_POLL, return_when=cf.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f].index):
                cell = futures[fut]
                try:
                    outcome = fut.result()
                except BrokenProcessPool as exc:
                    col.fail(cell, f"not finished: a worker process died ({exc})", lost=True)
                    continue
                col.add(cell, outcome)
    except BaseException:  # a stop, Ctrl-C or an error: the workers must not train on for nothing
        _end_pool(pool, futures)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, runner, workers: int, scheduler, col: _Collector, stop=None) -> None:
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError('a Dask scheduler needs dask.distributed: pip install "dask[distributed]"') from exc
    import logging

    own = None
    if isinstance(scheduler, str):
        if scheduler == "local-dask":
            own = Client(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR, env=dict(WORKER_ENV))  # fmt: skip
        elif scheduler == "local-dask-threads":
            own = Client(n_workers=1, threads_per_worker=workers, processes=False, dashboard_address=None,
                         silence_logs=logging.ERROR)  # fmt: skip
        else:
            try:
                own = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerError(f"the Dask scheduler {scheduler} did not answer within {SCHEDULER_TIMEOUT:g} s "
                                     f"({type(exc).__name__}); is it running, and is the address right?") from None
        client = own
    else:
        client = scheduler
    futures = {}
    try:
        for c in todo:
            fut = client.submit(_execute, runner, c, _PROCESS_TOKEN, key=f"gru-cell-{c.key}-{uuid.uuid4().hex[:8]}")
            futures[fut.key] = (fut, c)
        for fut in as_completed([f for f, _ in futures.values()]):
            cell = futures[fut.key][1]
            try:
                outcome = fut.result()
            except Exception as exc:  # KilledWorker, CancelledError, …
                col.fail(cell, f"not finished: {type(exc).__name__}: {exc}", lost=True)
                continue
            col.add(cell, outcome)
            _check_stop(stop)  # on a cluster the stop acts as cells finish
    except BaseException:
        client.cancel([f for f, _ in futures.values()])
        raise
    finally:
        if own is not None:
            own.close()


def run_sweep(spec: SweepSpec | dict, workers: int | None = None, scheduler: Any = None, store: Any = None,
              progress: Callable[[SweepProgress], None] | None = None, resume: bool = True, *,
              runner: Callable[[Cell], dict] | None = None, sweep_id: int | None = None,
              stop: Any = None) -> SweepResult:  # fmt: skip
    """Run a sweep's cells in parallel (see the module docstring for executors, storing, resuming, failures).

    ``workers``: processes (default: all cores; 0 = in this process).  ``scheduler``: None (process pool),
    a Dask address, ``"local-dask"``, ``"local-dask-threads"`` or a ``dask.distributed.Client``.  ``store``:
    a RunStore or a path (None: nothing stored).  ``progress(SweepProgress)`` is called in this process.
    ``runner``: what trains a cell (default :func:`run_cell`; a top-level function, so workers can import
    it).  ``sweep_id``: resume this stored sweep instead of the one found by the spec's key.

    Returns a :class:`SweepResult`; failed cells are reported in it (``status="failed"``), not raised.
    KeyboardInterrupt stops the sweep (pending cells cancelled; the stored ones kept, sweep marked
    "interrupted") and is re-raised.  ``stop`` (a ``threading.Event``) does the same from another thread,
    raising :class:`SweepCancelled`: with worker processes at once (cells in flight are ended, within
    :data:`STOP_POLL` seconds), in this process (``workers=0``) and on Dask as the current cell finishes.
    """
    spec = _as_spec(spec)
    runner = runner or run_cell
    t0 = time.perf_counter()
    all_cells = cells(spec)
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if n_workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers!r}")
    if scheduler is None or not isinstance(scheduler, str) or scheduler in LOCAL_DASK:
        _check_data(all_cells)  # fail before anything starts (a remote cluster may see files this machine does not)
    st = _open_store(store)
    stored: dict[str, list] = {}
    if st is not None:
        if sweep_id is None and resume:
            sweep_id = st.find_sweep(spec.key)
        if sweep_id is None:
            sweep_id = st.add_sweep(spec, n_cells=len(all_cells))
        else:
            st.get_sweep(sweep_id)  # KeyError if absent
            st.reopen_sweep(sweep_id)
        if resume:
            for rec in st.records(sweep_id=sweep_id):
                stored.setdefault(rec["cell_key"], []).append(rec)
    todo = [c for c in all_cells if c.key not in stored]
    n_workers = max(1, min(n_workers, len(todo)))
    if not todo:
        executor = "nothing to run"
    elif scheduler is not None:
        executor = f"dask ({scheduler if isinstance(scheduler, str) else 'client'})"
    else:
        executor = "in-process" if workers == 0 else f"process pool ({n_workers} workers)"
    col = _Collector(todo, len(all_cells) - len(todo), st, sweep_id, progress)
    try:
        if todo and scheduler is not None:
            _run_dask(todo, runner, n_workers, scheduler, col, stop)
        elif todo and workers == 0:
            _run_local(todo, runner, col, stop)
        elif todo:
            _run_pool(todo, runner, n_workers, col, stop)
    except BaseException as exc:
        if st is not None:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            st.finish_sweep(sweep_id, status, f"{type(exc).__name__}: {exc}; {len(col.records)} cells stored")
        raise
    records_by_cell = {**stored, **col.records}
    records = [r for c in all_cells for r in records_by_cell.get(c.key, [])]
    n_lost = sum(f["lost"] for f in col.failures)
    if col.failures:
        status = "failed"
        parts = [f"{len(col.failures)} of {len(todo)} cells failed"]
        if n_lost:
            parts.append(f"{n_lost} were not finished because a worker died")
        errors = [f["error"] for f in col.failures if not f["lost"]]
        if errors:
            parts.append(f"first error: {errors[0]}")
        parts.append(f"{len(col.records)} cells finished" + (" and stored; run the sweep again to resume"
                                                             if st is not None else ""))  # fmt: skip
        message = "; ".join(parts)
    else:
        status = "finished"
        message = f"{len(col.records)} cells run, {len(all_cells) - len(todo)} taken from the store"
    if st is not None:
        st.finish_sweep(sweep_id, status, message)
    failures = sorted(col.failures, key=lambda f: f["cell_index"])
    return SweepResult(spec=spec, cells=all_cells, records=records, failures=failures, status=status,
                       message=message, ran=len(col.records), skipped=len(all_cells) - len(todo),
                       wall_seconds=time.perf_counter() - t0, executor=executor, sweep_id=sweep_id,
                       store_path=None if st is None else str(st.path))  # fmt: skip
