"""Sweeps run by the runner (gru_core.runner.sweep): the same stored records as run_sweep called directly on the
thread, process and Dask backends; stop through the handle; a sweep waiting in line behind a race; the store read
while a worker process writes it.

Tiny grids (a sine of 200 points, 4 hidden units, 2-3 epochs) so the file runs in well under a minute.
"""

from __future__ import annotations

import time

import pytest
from test_runner import bits, tiny_config, wait_for

from gru_core.config import RunConfig
from gru_core.runner import RaceJob, Runner, SweepHandle, SweepJob, SweepSnapshot
from gru_core.runner.sweep import SWEEP_TERMINAL
from gru_core.store import RunStore
from gru_core.sweep import SweepSpec, run_sweep

NOT_COMPARED = ("id", "created", "sweep_id", "timings", "versions")  # differ between two runs of the same cells


def tiny_spec(epochs: int = 2, lrs=(0.01, 0.001), seeds=(0, 1), name: str = "tiny", grid=None) -> SweepSpec:
    """2 learning rates × Adam and RMSprop × 2 seeds = 4 cells, 8 runs (``grid``: another grid)."""
    base = RunConfig.from_dict({"data": {"source": "sine", "params": {"length": 200}, "lookback": 12},
                                "model": {"hidden_size": 4}, "train": {"epochs": epochs, "batch_size": 32},
                                "seeds": list(seeds)})  # fmt: skip
    return SweepSpec.from_run(base, grid=grid or {"lr": list(lrs)}, name=name)


def pool_processes(pid: int) -> list[int]:
    """Live (not zombie) process-pool children of ``pid``, from /proc (not multiprocessing's resource tracker)."""
    import os

    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[-1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
                out.append(int(entry))
    return out


def stored(path, sweep_id: int) -> list[dict]:
    """The sweep's stored records, timings and versions left out, in (cell, optimizer) order."""
    recs = RunStore(path).records(sweep_id=sweep_id)
    recs.sort(key=lambda r: (r["cell_key"], r["label"]))
    return [{k: v for k, v in r.items() if k not in NOT_COMPARED} for r in recs]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """run_sweep called directly, in this process: the numbers every backend must store."""
    path = tmp_path_factory.mktemp("ref") / "runs.sqlite"
    t0 = time.perf_counter()
    res = run_sweep(tiny_spec(), workers=0, store=path)
    print(f"run_sweep directly: {time.perf_counter() - t0:.2f} s")
    assert res.ok and len(res.records) == 8
    return stored(path, res.sweep_id)


@pytest.mark.parametrize("backend, workers", [("thread", 0), ("process", 0), ("process", 2), ("dask", 0)])
def test_a_sweep_through_the_runner_stores_what_run_sweep_stores(backend, workers, reference, tmp_path, request):
    scheduler = request.getfixturevalue("dask_client") if backend == "dask" else None
    path = tmp_path / "runs.sqlite"
    t0 = time.perf_counter()
    runner = Runner(backend, workers=1, scheduler=scheduler)
    try:
        h = runner.submit(SweepJob(tiny_spec(), store=str(path), workers=workers))
        assert isinstance(h, SweepHandle) and h.kind == "sweep" and h in runner.active()
        assert h.join(120), "the sweep did not end"
        snap = h.snapshot()
    finally:
        runner.shutdown()
    print(f"{backend} backend, {workers} cell workers: {time.perf_counter() - t0:.2f} s")
    assert isinstance(snap, SweepSnapshot) and snap.backend == backend
    assert (snap.status, snap.done, snap.total, snap.skipped, snap.failed) == ("finished", 4, 4, 0, 0), snap
    assert snap.runs_stored == 8 and snap.last.startswith("cell ") and "MAPE" in snap.last
    assert not snap.live and snap.fraction == 1.0 and snap.elapsed > 0 and snap.error is None
    assert "4 cells run" in snap.message
    store = RunStore(path)
    assert store.get_sweep(snap.sweep_id)["status"] == "finished"
    assert bits(stored(path, snap.sweep_id)) == bits(reference)
    if backend == "process":
        assert h.pid is None  # the job ended: no worker holds it


def test_stop_a_running_sweep_through_the_handle_while_the_page_reads_the_store(tmp_path):
    """A process pool inside a worker process: the stop ends the cell in flight; the store is read meanwhile."""
    path = tmp_path / "runs.sqlite"
    # 2 quick cells (30 epochs) first, then 2 of 2000 epochs (about a minute each): the stop comes during one
    spec = tiny_spec(grid={"epochs": [30, 2000], "lr": [0.01, 0.001]}, seeds=(0,))
    runner = Runner("process", workers=1)
    try:
        h = runner.submit(SweepJob(spec, store=str(path), workers=1))
        sid = wait_for(lambda: h.snapshot().sweep_id, timeout=60, what="the sweep to be registered")
        counts = []

        def first_cell_read():  # the page reads while the worker process writes (WAL: no waiting, whole cells)
            counts.append(RunStore(path).count_runs(sweep_id=sid))
            return h.snapshot().done >= 2

        wait_for(first_cell_read, timeout=120, what="the quick cells")
        assert all(c % 2 == 0 for c in counts) and counts == sorted(counts) and len(counts) > 3
        running = h.snapshot()
        assert running.status == "running" and running.live and running.fraction == 0.5 and running.total == 4
        assert "epochs=30" in running.last
        time.sleep(0.5)  # the long cell is training in the pool
        worker = h.pid
        assert worker and pool_processes(worker), "the sweep's process pool should run inside the worker process"
        t0 = time.perf_counter()
        h.stop()
        assert h.snapshot().status in ("stopping", "stopped")
        assert h.join(30)
        print(f"stop took effect after {time.perf_counter() - t0:.2f} s")
        wait_for(lambda: not pool_processes(worker), timeout=10, what="the pool's processes to end")
        assert time.perf_counter() - t0 < 5  # the cell in flight was ended, not trained to its end
        snap = h.snapshot()
        assert snap.status == "stopped" and snap.done == 2 and snap.message.startswith("Stopped: 2 of 4"), snap
        store = RunStore(path)
        assert store.get_sweep(sid)["status"] == "interrupted"
        assert store.count_runs(sweep_id=sid) == 2 * snap.done == snap.runs_stored
        # the same grid again resumes: the stored cells are skipped
        again = runner.submit(SweepJob(spec, store=str(path), workers=0, controls=[("stop", ())]))
        assert again.join(30)
        s2 = again.snapshot()
        assert (s2.status, s2.sweep_id, s2.skipped, s2.done) == ("stopped", sid, snap.done, 0), s2
    finally:
        runner.shutdown()


def test_a_sweep_waits_in_line_behind_a_race_with_one_worker(tmp_path):
    path = tmp_path / "runs.sqlite"
    runner = Runner("process", workers=1)
    try:
        race = runner.submit(RaceJob(tiny_config(epochs=3), controls=[("pause", ())]))  # holds the only worker
        wait_for(lambda: race.snapshot().status == "paused", what="the race to start")
        sweep = runner.submit(SweepJob(tiny_spec(), store=str(path), estimate_seconds=5.0))
        later = runner.submit(RaceJob(tiny_config(epochs=3)))
        snap = sweep.snapshot()
        assert (snap.status, snap.queue_position, snap.sweep_id) == ("queued", 1, None) and snap.live
        assert snap.queue_wait is None  # the running race has not finished an epoch yet
        assert later.snapshot().queue_position == 2
        assert [h.kind for h in runner.queued()] == ["sweep", "race"] and runner.active() == [race]
        assert RunStore(path).sweeps().empty  # nothing written while it waits
        race.set_speed(60)
        race.resume()
        wait_for(lambda: race.snapshot().epoch >= 1, what="the race's first epoch")
        wait = later.snapshot().queue_wait  # the race's end + the sweep's estimate
        assert wait is not None and 5.0 <= wait < 40, wait
        seen = []

        def watch():
            for name, h in (("race", race), ("sweep", sweep), ("later", later)):
                s = h.snapshot().status
                if s not in ("queued", "paused") and ("start", name) not in seen:
                    seen.append(("start", name))
                if not h.running and ("end", name) not in seen:
                    seen.append(("end", name))
            return not later.running

        wait_for(watch, timeout=120, what="the three jobs to run")
        starts = [n for e, n in seen if e == "start"]
        assert starts == ["race", "sweep", "later"], seen
        assert seen.index(("end", "race")) < seen.index(("start", "sweep"))
        assert seen.index(("end", "sweep")) < seen.index(("start", "later"))
        s = sweep.snapshot()
        assert s.status == "finished" and s.done == 4 and RunStore(path).count_runs(sweep_id=s.sweep_id) == 8
        assert later.snapshot().status == "finished"
        # a queued sweep is cancelled by stop() or cancel(): it never writes the store
        blocker = runner.submit(RaceJob(tiny_config(epochs=3), controls=[("pause", ())]))
        wait_for(lambda: blocker.snapshot().status == "paused", what="the blocker to start")
        queued = runner.submit(SweepJob(tiny_spec(name="never"), store=str(path)))
        queued.stop()
        assert queued.join(0) and queued.snapshot().status == "cancelled" and not queued.cancel()
        assert queued.snapshot().status in SWEEP_TERMINAL and not queued.snapshot().live
        assert len(RunStore(path).sweeps()) == 1
        blocker.stop()
    finally:
        runner.shutdown()


def test_bad_sweep_jobs_are_refused_or_fail_alone(tmp_path):
    with pytest.raises(ValueError, match="unknown control"):
        SweepJob(tiny_spec(), controls=[("pause", ())])
    with pytest.raises(ValueError, match="workers"):
        SweepJob(tiny_spec(), workers=-1)
    runner = Runner("thread", workers=1)
    try:
        with pytest.raises(ValueError):
            runner.submit(SweepJob({"no such field": 1}))
        path = tmp_path / "runs.sqlite"
        bad = tiny_spec().to_dict()
        bad["data"]["params"] = {"lenght": 300}
        h = runner.submit(SweepJob(bad, store=str(path)))
        assert h.join(30)
        snap = h.snapshot()
        assert snap.status == "error" and "lenght" in snap.error and snap.error == snap.message
        assert RunStore(path).get_sweep(snap.sweep_id)["status"] == "failed"  # marked by its host, the writer
        good = runner.submit(SweepJob(tiny_spec(), store=None))  # nothing stored: fine too
        assert good.join(60) and good.snapshot().status == "finished" and good.snapshot().sweep_id is None
    finally:
        runner.shutdown()
