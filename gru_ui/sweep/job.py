"""A sweep running in the background: :class:`SweepJob` (a daemon thread calling
:func:`gru_core.sweep.run_sweep`), its progress as plain values (:class:`JobSnapshot`), and the server-wide
registry of running sweeps (:func:`active_sweeps`, the limit ``LIMITS["max_sweeps"]``).

It follows :mod:`gru_core.train.live`: the thread passes a progress callback that writes plain Python objects
under a lock; the page polls :meth:`SweepJob.snapshot` from a fragment.  The thread never calls Streamlit.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field, replace

from gru_core.data import DataError
from gru_core.fmt import num
from gru_core.store import RunStore, StoreError
from gru_core.sweep import SweepCancelled, SweepProgress, SweepSpec, cells, run_sweep
from gru_ui.sweep.limits import LIMITS

__all__ = ["JobSnapshot", "SweepJob", "SweepStopped", "active_sweeps", "keep_app_out_of_workers"]

SweepStopped = SweepCancelled  # what run_sweep raises when the page's Stop sets the job's event


@dataclass
class JobSnapshot:
    """A consistent copy of a running sweep's progress (plain values)."""

    status: str  # starting | running | stopping | finished | failed | stopped | error
    done: int  # cells finished in this run (stored or failed)
    total: int  # cells to run (the stored ones excluded)
    skipped: int  # cells found in the store
    failed: int
    elapsed: float
    eta: float | None
    runs_stored: int
    last: str  # the last cell's results, in words
    message: str
    sweep_id: int | None
    failures: list = field(default_factory=list)  # {"cell_index", "seed", "params", "error"}

    @property
    def live(self) -> bool:
        return self.status in ("starting", "running", "stopping")

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else (1.0 if not self.live else 0.0)


_JOBS: weakref.WeakSet[SweepJob] = weakref.WeakSet()
_JOBS_LOCK = threading.Lock()


def active_sweeps() -> int:
    """Sweeps running right now on this server (every browser session)."""
    with _JOBS_LOCK:
        return sum(1 for j in list(_JOBS) if j.running)


# A process-wide patch of multiprocessing, installed while a Streamlit app runs sweeps on worker processes.
# It stays here for now; another issue replaces it (the engine starting its workers without __main__).
_SPAWN_PATCHED = False


def keep_app_out_of_workers() -> None:
    """Keep a Streamlit app's script out of the sweep's worker processes (installed once, process-wide).

    Streamlit runs the app as a fake ``__main__`` module whose ``__file__`` is the app script, and the
    "spawn" start method re-runs ``__main__.__file__`` in every new process (as ``__mp_main__``): each
    worker would execute the whole app (its pages, in bare mode, with warnings) before its first cell,
    seconds of start-up per worker.  The workers need nothing from ``__main__`` (they run
    ``gru_core.sweep.run_cell``, pickled by reference), so while a Streamlit runtime exists in this process,
    new processes skip that step.  Elsewhere (a script, the tests) nothing changes.
    """
    global _SPAWN_PATCHED
    with _JOBS_LOCK:
        if _SPAWN_PATCHED:
            return
        from multiprocessing import spawn

        original = spawn.get_preparation_data

        def get_preparation_data(name):
            data = original(name)
            runtime = sys.modules.get("streamlit.runtime")
            if runtime is not None and getattr(runtime, "exists", lambda: False)():
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = get_preparation_data
        _SPAWN_PATCHED = True


def _cell_text(p: SweepProgress) -> str:
    """The last cell's results in words: "cell 3, seed 1 (lr=0.01): Adam: MAPE 12.3 %, RMSE 0.1; …"."""
    parts = []
    for r in p.records:
        t = r.get("test") or {}
        mape, rmse = t.get("mape"), t.get("rmse")
        parts.append(f"{r.get('label')}: diverged" if r.get("diverged") or mape is None
                     else f"{r.get('label')}: MAPE {num(mape, 3)} %, RMSE {num(rmse, 3)}")  # fmt: skip
    c = p.cell
    where = ", ".join(f"{k}={v}" for k, v in (c.params or {}).items()) or "base" if c else "?"
    cell_txt = f"cell {c.index + 1}, seed {c.seed}" if c else "cell"
    return f"{cell_txt} ({where}): " + "; ".join(parts)


class SweepJob:
    """One sweep running in a daemon thread; read it with :meth:`snapshot`, end it with :meth:`stop`."""

    def __init__(self, spec: SweepSpec, store_path: str | os.PathLike, workers: int = 0, resume: bool = True,
                 estimate_seconds: float | None = None):  # fmt: skip
        self.spec = spec
        self.store_path = str(store_path)
        self.workers = int(workers)
        self.resume = bool(resume)
        self.estimate_seconds = estimate_seconds
        self.labels = [c.name for c in spec.contestants]
        self.started = time.time()
        self.final_drawn = False  # a full page run completed after the end (the poll timer is off)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snap = JobSnapshot("starting", 0, 0, 0, 0, 0.0, None, 0, "", "", None)
        self._t0 = time.perf_counter()
        self.wall_seconds: float | None = None

    # ---- control ---------------------------------------------------------------------------------------

    def start(self, max_sweeps: int | None = None) -> None:
        """Start the thread.  RuntimeError when the server already runs ``max_sweeps`` sweeps."""
        limit = LIMITS["max_sweeps"] if max_sweeps is None else max_sweeps
        if self._thread is not None:
            raise RuntimeError("this sweep has already been started")
        store = RunStore(self.store_path)  # StoreError here, on the page's thread, for a bad path
        sweep_id = store.find_sweep(self.spec.key) if self.resume else None
        with _JOBS_LOCK:
            running = sum(1 for j in list(_JOBS) if j.running)
            if running >= limit:
                raise RuntimeError(f"The server is busy: {running} sweep(s) running (limit {limit}). Try again later.")
            if sweep_id is None:
                sweep_id = store.add_sweep(self.spec, n_cells=len(cells(self.spec, validate=False)))
            self._snap.sweep_id = sweep_id
            self._t0 = time.perf_counter()
            self._thread = threading.Thread(target=self._work, args=(sweep_id,), name="gru-lab-sweep", daemon=True)
            self._thread.start()
            _JOBS.add(self)

    def stop(self) -> None:
        """End the sweep: cells not started are cancelled, and with worker processes the cells training now
        are ended too (within a quarter of a second); in this process (0 workers) the current cell finishes
        first.  Finished cells stay stored, so running the same grid again resumes."""
        self._stop.set()
        with self._lock:
            if self._snap.live:
                self._snap.status = "stopping"

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def sweep_id(self) -> int | None:
        return self._snap.sweep_id

    # ---- the thread ------------------------------------------------------------------------------------

    def _progress(self, p: SweepProgress) -> None:
        with self._lock:
            s = self._snap
            s.done, s.total, s.skipped, s.failed = p.done, p.total, p.skipped, p.failed
            s.elapsed, s.eta = p.elapsed, p.eta
            if s.status == "starting":
                s.status = "running"
            if p.records:
                s.runs_stored += len(p.records)
                s.last = _cell_text(p)
            if p.error and p.cell is not None:
                s.failures.append({"cell_index": p.cell.index, "seed": p.cell.seed, "params": dict(p.cell.params),
                                   "error": p.error[:500]})  # fmt: skip
        if self._stop.is_set() and p.cell is not None:
            raise SweepStopped("stopped from the page")

    def _work(self, sweep_id: int) -> None:
        status, message = "error", ""
        try:
            if self.workers:
                keep_app_out_of_workers()
            res = run_sweep(self.spec, workers=self.workers, store=self.store_path, progress=self._progress,
                            resume=self.resume, sweep_id=sweep_id, stop=self._stop)  # fmt: skip
            status = "finished" if res.ok else "failed"
            message = res.message
            if res.failures:
                with self._lock:
                    self._snap.failures = [{k: f.get(k) for k in ("cell_index", "seed", "params", "error")}
                                           for f in res.failures]  # fmt: skip
        except SweepStopped:
            status = "stopped"
            with self._lock:
                message = f"Stopped: {self._snap.done} of {self._snap.total} cells finished and stored."
        except (DataError, ValueError, StoreError, OSError, RuntimeError) as exc:
            message = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - the page shows the message; the traceback goes to the log
            traceback.print_exc()
            message = f"{type(exc).__name__}: {exc}"
        finally:
            if status == "error":  # run_sweep failed before it could mark the sweep: do it here
                try:
                    store = RunStore(self.store_path)
                    if store.get_sweep(sweep_id)["status"] == "running":
                        store.finish_sweep(sweep_id, "failed", message or "failed before the first cell")
                except Exception:  # noqa: BLE001 - the store itself may be the problem; the page has the message
                    pass
            end = time.perf_counter()
            with self._lock:
                self._snap.status = status
                self._snap.message = message
                self._snap.elapsed = end - self._t0
                self._snap.eta = None
                self.wall_seconds = end - self._t0

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = replace(self._snap, failures=list(self._snap.failures))
            if s.live:
                s.elapsed = time.perf_counter() - self._t0
            return s
