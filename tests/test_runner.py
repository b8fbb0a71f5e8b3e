"""Races in the background (gru_core.runner): the speed limit, and the same numbers on every backend.

Tiny races (a clean sine of 300 points, 4 hidden units, 3-6 epochs) so the file runs in well under a minute.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from _exact import bits

from gru_core.config import RunConfig
from gru_core.data.source import load_source, prepare_run
from gru_core.train import Race
from gru_core.train.live import LiveRace


def tiny_config(epochs: int = 4, **train) -> RunConfig:
    return RunConfig.from_dict({"data": {"source": "sine", "params": {"length": 300}, "lookback": 12},
                                "model": {"hidden_size": 4},
                                "train": {"epochs": epochs, "batch_size": 16, **train}})  # fmt: skip


def tiny_race(cfg: RunConfig, log_every: int = 0) -> Race:
    prepared = prepare_run(load_source(cfg.data), cfg.data)
    return Race(prepared, cfg.model_config(), cfg.race_contestants(), cfg.train_config(log_every=log_every))


def wait_for(pred, timeout: float = 30.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ---- the speed limit (gru_core.train.live) -------------------------------------------------------------------


def test_the_after_batch_hook_runs_once_per_step_and_changes_no_number():
    cfg = tiny_config(epochs=3)
    plain = tiny_race(cfg).train()
    race = tiny_race(cfg)
    calls = []
    race.after_batch = lambda: calls.append(race.step)
    hooked = race.train()
    assert calls == list(range(1, race.step + 1))
    assert bits(hooked) == bits(plain)


def test_speed_limit_holds_the_rate_and_changes_no_number():
    cfg = tiny_config(epochs=40)
    live = LiveRace(tiny_race(cfg, log_every=1), speed=20)
    live.start()
    try:
        time.sleep(0.3)
        t1, s1 = time.perf_counter(), live.snapshot().step
        time.sleep(1.5)
        t2, s2 = time.perf_counter(), live.snapshot().step
        rate = (s2 - s1) / (t2 - t1)
        # the limit is a ceiling (never above it, but for the snapshot's granularity); below it, a loaded machine
        # (a niced worker among others) falls short, so the lower bound only catches a limit that sleeps far too long
        assert 5 <= rate <= 24, f"{rate:.1f} steps/s with a limit of 20"
        live.set_speed(None)  # lifted: it runs to the end at full speed
        assert live.join(60)
    finally:
        live.stop()
    limited = live.snapshot()
    assert limited.status == "finished"
    assert bits(limited.result) == bits(tiny_race(cfg, log_every=1).train())
    with pytest.raises(ValueError):
        live.set_speed(-1)
    with pytest.raises(ValueError):
        live.set_speed("fast")


def test_a_stop_ends_a_slow_race_at_once():
    live = LiveRace(tiny_race(tiny_config(epochs=5)), speed=0.2)  # one step every 5 s
    live.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    live.stop()
    assert live.join(2)
    assert time.perf_counter() - t0 < 1.0
    assert live.snapshot().status == "stopped"


# ---- the runner: one job, three backends ------------------------------------------------------------------------

from gru_core.model.files import load_model  # noqa: E402
from gru_core.runner import RaceJob, Runner  # noqa: E402
from gru_core.runner.process import WORKER_DIED  # noqa: E402


def scripted_race(runner: Runner, cfg: RunConfig):
    """Start halted, train 5 mini-batches, change Adam's learning rate while paused, resume to the end.
    Returns (final snapshot, models while paused, models at the end, gate_input, backend of the snapshots)."""
    handle = runner.submit(RaceJob(cfg, log_every=3, controls=[("pause", ())]))
    wait_for(lambda: handle.snapshot().status == "paused", what="the first pause")
    handle.step_batches(5)
    wait_for(lambda: (s := handle.snapshot()).status == "paused" and s.step == 5, what="the pause at step 5")
    paused_models = handle.models()
    with pytest.raises(ValueError):
        handle.set_lr("no such optimizer", 0.1)
    handle.set_lr("Adam", 0.02)
    handle.resume()
    assert handle.join(60), "the race did not end"
    snap = handle.snapshot()
    assert snap.status == "finished", snap.error
    return snap, paused_models, handle.models(), handle.gate_input


def test_the_servers_options_set_what_get_runner_reads(monkeypatch):
    from gru_core.runner import SERVER_OPTIONS, apply_server_args

    for var in SERVER_OPTIONS.values():
        monkeypatch.delenv(var, raising=False)
    got = apply_server_args(["--backend", "dask", "--scheduler", "tcp://10.0.0.1:8786", "--workers", "6",
                             "--max-races", "40", "--something-else", "x"])  # fmt: skip
    expected = {"GRU_LAB_BACKEND": "dask", "GRU_LAB_SCHEDULER": "tcp://10.0.0.1:8786", "GRU_LAB_WORKERS": "6",
                "GRU_LAB_MAX_RACES": "40"}  # fmt: skip
    assert got == expected
    assert {k: os.environ[k] for k in expected} == expected
    monkeypatch.delenv("GRU_LAB_WORKERS")
    assert apply_server_args([]) == {} and "GRU_LAB_WORKERS" not in os.environ


def test_the_default_pool_has_two_workers_per_core(monkeypatch):
    from gru_core.runner import process

    monkeypatch.setattr(process.os, "cpu_count", lambda: 3)
    assert process.default_workers() == 6
    monkeypatch.setattr(process.os, "cpu_count", lambda: None)
    assert process.default_workers() == 2


def test_a_job_never_reads_as_ended_while_its_thread_is_being_started(monkeypatch, tmp_path):
    """The worker publishes "ended" as soon as its job reads ``ended``: a race or sweep must not read as ended
    between ``start()`` and its thread running (that window made a class's race show "epoch 0" for ever while
    its worker took the next visitor's race).  Every ``ended`` seen while a thread is being started is False."""
    import threading

    from gru_core.runner.job import HostedRace
    from gru_core.runner.sweep import HostedSweep, SweepJob
    from gru_core.sweep.spec import SweepSpec

    jobs = [HostedRace(RaceJob(config=tiny_config(epochs=2))),
            HostedSweep(SweepJob(spec=SweepSpec.from_run(tiny_config(epochs=1), grid={}).to_dict(),
                                 store=str(tmp_path / "runs.sqlite")))]  # fmt: skip
    seen: list[tuple[str, bool]] = []
    real_start = threading.Thread.start

    def observed_start(thread):
        for job in jobs:
            seen.append((type(job).__name__, job.ended))
        return real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", observed_start)
    for job in jobs:
        job.start()
    monkeypatch.setattr(threading.Thread, "start", real_start)
    for job in jobs:
        assert job.join(60), type(job).__name__
        assert job.ended, type(job).__name__
    assert {name for name, _ in seen} == {"HostedRace", "HostedSweep"}
    assert [name for name, ended in seen if ended] == [], seen


def test_a_stored_race_links_to_its_live_learning_rate_changes(tmp_path):
    """The run store's link replays the race as it happened: a change made while it ran joins the link's "iv"."""
    from urllib.parse import parse_qs

    from gru_core.config import from_query, to_query
    from gru_core.store import RunStore

    cfg = tiny_config(epochs=3)
    store = tmp_path / "runs.sqlite"
    runner = Runner("thread", workers=1)
    try:
        handle = runner.submit(RaceJob(cfg, controls=[("pause", ())], store=str(store),
                                       model_info={"query": to_query(cfg)}))  # fmt: skip
        wait_for(lambda: handle.snapshot().status == "paused", what="the first pause")
        handle.step_batches(4)
        wait_for(lambda: (s := handle.snapshot()).status == "paused" and s.step == 4, what="the pause at step 4")
        handle.set_lr("Adam", 0.02)
        handle.resume()
        assert handle.join(60)
    finally:
        runner.shutdown()
    runs = RunStore(store).runs()
    assert set(runs["kind"]) == {"race"} and runs["link"].nunique() == 1
    query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(runs["link"].iloc[0].lstrip("?")).items()}
    replayed, notes = from_query(query)
    assert not notes, notes
    # applied from the 5th mini-batch on (steps count from 1), as the race recorded it
    assert [(iv["step"], iv["optimizer"], iv["new"]) for iv in replayed.interventions] == [(5, "Adam", 0.02)]
    assert "iv" not in to_query(cfg)  # the change came from the live race, not from the configuration


def test_a_race_gives_the_same_numbers_on_thread_process_and_dask(dask_client):
    cfg = tiny_config(epochs=4)
    runs = {}
    for backend in ("thread", "process", "dask"):
        t0 = time.perf_counter()
        runner = Runner(backend, workers=1, scheduler=dask_client if backend == "dask" else None)
        try:
            runs[backend] = scripted_race(runner, cfg)
        finally:
            runner.shutdown()
        print(f"{backend}: {time.perf_counter() - t0:.2f} s")
    ref_snap, ref_paused, ref_end, ref_gate = runs["thread"]
    assert ref_snap.interventions == [{"step": 6, "optimizer": "Adam", "field": "lr", "old": 0.001, "new": 0.02}]
    assert [p["step"] for p in ref_snap.pauses] == [0, 5]
    for backend, (snap, paused, end, gate) in runs.items():
        assert snap.backend == backend
        assert bits(snap.history) == bits(ref_snap.history), backend
        assert bits(snap.result) == bits(ref_snap.result), backend
        assert bits(snap.runs) == bits(ref_snap.runs), backend
        assert bits(snap.forecasts) == bits(ref_snap.forecasts), backend
        assert snap.interventions == ref_snap.interventions and snap.pauses == ref_snap.pauses, backend
        assert np.array_equal(gate, ref_gate), backend
        for models, ref in ((paused, ref_paused), (end, ref_end)):
            assert set(models) == {"Adam", "RMSprop"}
            for name, data in models.items():
                ck, ck_ref = load_model(data), load_model(ref[name])
                assert np.array_equal(ck.model.params.flat, ck_ref.model.params.flat), (backend, name)
                assert ck.info.label == name and ck.info.step == ck_ref.info.step
    # the paused models are those of step 5, the final ones those of the end (the best epoch's weights)
    assert load_model(ref_paused["Adam"]).info.step == 5
    assert load_model(ref_end["Adam"]).info.status == "finished"
    assert load_model(ref_end["Adam"]).info.interventions[0]["new"] == 0.02


def test_queue_order_positions_and_cancel_with_one_worker():
    runner = Runner("process", workers=1)
    try:
        cfg = tiny_config(epochs=3)
        first = runner.submit(RaceJob(cfg, controls=[("pause", ())]))  # holds the only worker until resumed
        wait_for(lambda: first.snapshot().status == "paused", what="the first race to start")
        jobs = [runner.submit(RaceJob(tiny_config(epochs=3, seed=0))) for _ in range(3)]
        assert [j.snapshot().status for j in jobs] == ["queued"] * 3
        assert [j.snapshot().queue_position for j in jobs] == [1, 2, 3]
        assert jobs[0].snapshot().queue_wait is None  # the running race has not finished an epoch yet
        assert jobs[0].cancel() and not jobs[0].cancel()
        jobs[1].stop()  # stop on a queued race removes it too
        assert [j.snapshot().status for j in jobs] == ["cancelled", "cancelled", "queued"]
        assert jobs[2].snapshot().queue_position == 1
        assert jobs[0].join(0) and not jobs[0].running
        later = runner.submit(RaceJob(cfg))
        assert later.snapshot().queue_position == 2
        first.set_speed(60)  # ~0.25 s an epoch: long enough to see an estimate of the wait
        first.resume()
        wait_for(lambda: first.snapshot().epoch >= 1, what="the first epoch")
        wait = later.snapshot().queue_wait
        assert wait is not None and 0 < wait < 30, wait
        seen: dict[str, list] = {"start": [], "end": []}
        order = [first, jobs[2], later]

        def watch():
            for i, h in enumerate(order):
                s = h.snapshot().status
                if s != "queued" and i not in seen["start"]:
                    seen["start"].append(i)
                if not h.running and i not in seen["end"]:
                    seen["end"].append(i)
            return len(seen["end"]) == 3

        wait_for(watch, timeout=60, what="the three races to run")
        assert seen["start"] == [0, 1, 2] and seen["end"] == [0, 1, 2]
        assert all(h.snapshot().status == "finished" for h in order)
        assert bits(jobs[2].snapshot().history) == bits(later.snapshot().history)  # same config, same numbers
    finally:
        runner.shutdown()


def test_a_killed_worker_fails_its_race_only_and_is_replaced():
    import os
    import signal

    runner = Runner("process", workers=2)
    try:
        victim = runner.submit(RaceJob(tiny_config(epochs=3), controls=[("pause", ())]))
        other = runner.submit(RaceJob(tiny_config(epochs=6), speed=100))
        wait_for(lambda: victim.snapshot().status == "paused", what="the victim to start")
        pid = victim.pid
        assert pid and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        assert victim.join(10)
        snap = victim.snapshot()
        assert snap.status == "error" and snap.error == WORKER_DIED
        assert "killed or out of memory" in snap.error
        with pytest.raises(RuntimeError):
            victim.models()
        victim.pause()  # commands on a dead race do nothing, and do not hang
        assert other.join(60) and other.snapshot().status == "finished"  # the other race went on
        wait_for(lambda: runner.backend.replaced >= 1, what="a new worker process")
        assert pid not in runner.backend.pids()
        after = runner.submit(RaceJob(tiny_config(epochs=3)))
        assert after.join(60) and after.snapshot().status == "finished"
    finally:
        runner.shutdown()


def test_speed_limit_through_a_worker_process():
    runner = Runner("process", workers=1)
    try:
        h = runner.submit(RaceJob(tiny_config(epochs=40), log_every=1, speed=20))
        wait_for(lambda: h.snapshot().step >= 3, what="the race to start")
        t1, s1 = time.perf_counter(), h.snapshot().step
        time.sleep(1.5)
        t2, s2 = time.perf_counter(), h.snapshot().step
        rate = (s2 - s1) / (t2 - t1)
        # the limit is a ceiling (never above it, but for the snapshot's granularity); below it, a loaded machine
        # (a niced worker among others) falls short, so the lower bound only catches a limit that sleeps far too long
        assert 5 <= rate <= 24, f"{rate:.1f} steps/s with a limit of 20"
        h.stop()
        assert h.join(10) and h.snapshot().status == "stopped"
    finally:
        runner.shutdown()


def test_a_bad_job_fails_alone_and_get_runner_reads_the_environment(monkeypatch):
    from gru_core.runner import runner as runner_module

    runner = Runner("thread", workers=1)
    try:
        bad = runner.submit(RaceJob(RunConfig.from_dict({"data": {"source": "no-such-dataset"}})))
        assert bad.join(5) and bad.snapshot().status == "error" and "no-such-dataset" in bad.snapshot().error
        good = runner.submit(RaceJob(tiny_config(epochs=3)))
        assert good.join(30) and good.snapshot().status == "finished"
    finally:
        runner.shutdown()
    monkeypatch.setenv("GRU_LAB_BACKEND", "thread")
    monkeypatch.setenv("GRU_LAB_WORKERS", "3")
    monkeypatch.setattr(runner_module, "_RUNNER", None)
    r = runner_module.get_runner()
    try:
        assert r is runner_module.get_runner() and r.backend_name == "thread" and r.workers == 3
    finally:
        r.shutdown()
    monkeypatch.setenv("GRU_LAB_BACKEND", "nope")
    monkeypatch.setattr(runner_module, "_RUNNER", None)
    with pytest.raises(ValueError, match="unknown backend"):
        runner_module.get_runner()


def test_prestarted_workers_give_the_first_event_within_a_second_and_exit_with_their_parent(tmp_path):
    import os
    import subprocess
    import sys

    runner = Runner("process", workers=1)
    try:
        assert runner.wait_ready(30)
        t0 = time.perf_counter()
        h = runner.submit(RaceJob(tiny_config(epochs=3)))
        wait_for(lambda: h.snapshot().runs, what="the first event")
        latency = time.perf_counter() - t0
        print(f"first event after {latency:.2f} s")
        assert latency < 1.5  # ~0.2 s measured; some slack for a loaded 2-core machine
        assert h.join(30)
    finally:
        runner.shutdown()
    # a parent that dies without shutting down (SIGKILL): its workers notice and exit
    pids_file = tmp_path / "pids"
    code = ("import os, sys, time; from gru_core.runner import Runner; r = Runner('process', workers=2); "
            f"r.wait_ready(30); open({str(pids_file)!r}, 'w').write(' '.join(map(str, r.backend.pids()))); "
            "time.sleep(60)")  # fmt: skip
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": root})
    try:
        wait_for(lambda: pids_file.exists() and pids_file.read_text().strip(), what="the workers' pids")
        pids = [int(p) for p in pids_file.read_text().split()]
    finally:
        parent.kill()
        parent.wait(10)

    def gone():
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            with open(f"/proc/{pid}/stat") as fh:  # a zombie (exited, reaped by init later) counts as gone
                if fh.read().split(")")[-1].split()[0] != "Z":
                    return False
        return True

    wait_for(gone, timeout=10, what="the orphaned workers to exit")


def test_a_lost_dask_worker_fails_its_race_and_the_cluster_serves_on(dask_client):
    import os
    import signal

    runner = Runner("dask", scheduler=dask_client)
    try:
        h = runner.submit(RaceJob(tiny_config(epochs=3), controls=[("pause", ())]))
        wait_for(lambda: h.snapshot().status == "paused", what="the race to start on the Dask worker")
        (pid,) = dask_client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker process
        assert h.join(30)
        snap = h.snapshot()
        assert snap.status == "error" and "Dask worker or scheduler" in snap.error and "other races go on" in snap.error
        after = runner.submit(RaceJob(tiny_config(epochs=3)))
        assert after.join(60) and after.snapshot().status == "finished", after.snapshot().error
    finally:
        runner.shutdown()


def test_a_race_over_seeds_pauses_and_changes_a_learning_rate_at_one_mini_batch_in_every_seed():
    """Seeds train at their own pace; Pause halts them all at one mini-batch, a live learning-rate change is
    applied at one mini-batch in every seed, and that recorded change replays each seed exactly on its own."""
    from gru_core.runner.seeds import SeedRaces

    cfg = tiny_config(epochs=6)
    cfg.seeds = [0, 1, 2]
    runner = Runner("thread", workers=3)
    try:
        group = SeedRaces(runner, RaceJob(cfg))
        assert [h.job.run_config.seeds for h in group.handles] == [[0], [1], [2]]
        wait_for(lambda: all(s.step >= 3 for s in group.seed_snapshots()), what="every seed training")
        group.pause()
        snaps = group.seed_snapshots()
        assert {s.status for s in snaps} == {"paused"} and len({s.step for s in snaps}) == 1, [s.step for s in snaps]
        assert group.snapshot().status == "paused"
        version = group.snapshot().version
        group.step_batches(3)  # every seed steps; "paused" is read again only once all of them have done so
        wait_for(lambda: (g := group.snapshot()).status == "paused" and g.version > version, what="the step")
        assert [s.step for s in group.seed_snapshots()] == [snaps[0].step + 3] * 3
        group.resume()
        at = group.set_lr("Adam", 0.02)  # while running
        assert isinstance(at, int) and at > snaps[0].step
        assert group.join(60)
    finally:
        runner.shutdown()
    ends = group.seed_snapshots()
    assert {s.status for s in ends} == {"finished"} and group.snapshot().status == "finished"
    changes = [[(iv["step"], iv["optimizer"], iv["new"]) for iv in s.interventions] for s in ends]
    assert changes == [[(at, "Adam", 0.02)]] * 3, changes
    for seed, seed_snap in zip((0, 1, 2), ends):  # the recorded change replays that seed on its own, exactly
        alone = cfg.replace()
        alone.seeds = [seed]
        prepared = prepare_run(load_source(alone.data), alone.data)
        race = Race(prepared, alone.model_config(), alone.race_contestants(), alone.train_config(),
                    interventions=[dict(iv) for iv in seed_snap.interventions])  # fmt: skip
        result = race.train()
        for run in result["runs"]:
            assert bits([r["train_loss"] for r in seed_snap.history[run["name"]]]) == bits(
                [r["train_loss"] for r in run["history"]]), (seed, run["name"])
        assert len(result["runs"]) == 2
