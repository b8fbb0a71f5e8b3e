"""A class on one server: N visitors racing at once through the runner, as the race page starts them.

    python bench/bench_class.py                 # throughput, first event, redraw time (about 2 minutes)
    python bench/bench_class.py --soak 600      # … and memory after 1 and 10 minutes of 4 races
    python bench/bench_class.py --quick         # a smoke run (the test suite uses it)

Every figure is a ratio against a reference measured in the same run, never an absolute target:

* aggregate training steps/s of N races at once (N = cores and 2 × cores) ÷ one race alone, on the process
  backend (the default) and, for comparison, the thread backend (today's: every race in the server process);
* seconds from submit to each race's first event (a free worker: target ≤ 1 s; queued races wait);
* the server's time to redraw one live loss chart (the page's figure builder + JSON) while 4 races train,
  ÷ the same while 1 race trains (target ≤ 1.2: training in workers does not slow the server's redraws);
* with ``--soak S``: server and worker resident memory after 60 s and after S s of 4 races (growth < 20 %).

The races are the race page's classroom size: noisy sine, lookback 20, hidden 32, batch 32, Adam and
RMSprop in lockstep, submitted with the page's own job builder when it is importable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gru_core.config import Contestant, RunConfig  # noqa: E402
from gru_core.runner import RaceJob, Runner  # noqa: E402


def race_job(seed: int, epochs: int) -> RaceJob:
    contestants = [Contestant("adam", hyper={"lr": 0.01}), Contestant("rmsprop", hyper={"lr": 0.001})]
    cfg = RunConfig(contestants=contestants, seeds=[seed]).replace(source="noisy_sine", epochs=epochs, hidden_size=32,
                                                                   batch_size=32)  # fmt: skip
    return RaceJob(config=cfg, log_every=3)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def wait_first_events(handles, t0: float, timeout: float = 60) -> list[float]:
    firsts = [None] * len(handles)
    end = time.perf_counter() + timeout
    while any(f is None for f in firsts) and time.perf_counter() < end:
        for i, h in enumerate(handles):
            snap = h.snapshot()
            if firsts[i] is None and (snap.step > 0 or snap.epoch > 0):  # a trained mini-batch reported
                firsts[i] = time.perf_counter() - t0
        time.sleep(0.01)
    return [f if f is not None else float("nan") for f in firsts]


def throughput(runner: Runner, n: int, seconds: float, epochs: int) -> tuple[float, list[float]]:
    """Aggregate steps/s of n races over ``seconds`` (after all have started), and their first-event times."""
    t0 = time.perf_counter()
    handles = [runner.submit(race_job(seed, epochs)) for seed in range(n)]
    firsts = wait_first_events(handles, t0)
    start = {id(h): h.snapshot().step for h in handles}
    t1 = time.perf_counter()
    time.sleep(seconds)
    done = sum(h.snapshot().step - start[id(h)] for h in handles)
    rate = done / (time.perf_counter() - t1)
    for h in handles:
        h.stop()
    for h in handles:
        h.join(30)
    return rate, firsts


def redraw_seconds(runner: Runner, n: int, seconds: float, epochs: int) -> float:
    """Median time the server takes to build and serialise one live loss chart while n races train."""
    from gru_ui import figures as F

    handles = [runner.submit(race_job(seed, epochs)) for seed in range(n)]
    wait_first_events(handles, time.perf_counter())
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        snap = handles[0].snapshot()
        t = time.perf_counter()
        fig = F.loss_curves(snap.history, log_y=True, smooth=0.0, markers=snap.runs, total_epochs=snap.total_epochs,
                            interventions=snap.interventions, pauses=snap.pauses)  # fmt: skip
        fig.to_json()
        times.append(time.perf_counter() - t)
        time.sleep(0.2)  # the page's redraw interval
    for h in handles:
        h.stop()
    for h in handles:
        h.join(30)
    return statistics.median(times)


def soak(runner: Runner, seconds: float) -> None:
    handles = [runner.submit(race_job(seed, 100_000)) for seed in range(4)]
    wait_first_events(handles, time.perf_counter())
    pids = sorted({h.pid for h in handles if h.pid})
    time.sleep(60)
    first = (rss_mb(os.getpid()), [rss_mb(p) for p in pids])
    time.sleep(max(0.0, seconds - 60))
    last = (rss_mb(os.getpid()), [rss_mb(p) for p in pids])
    for h in handles:
        h.stop()
    for h in handles:
        h.join(30)
    print(f"memory (MiB) after 60 s: server {first[0]:.0f}, workers {', '.join(f'{m:.0f}' for m in first[1])}")
    print(f"memory (MiB) after {seconds:.0f} s: server {last[0]:.0f}, workers {', '.join(f'{m:.0f}' for m in last[1])}")
    growth = [b / a for a, b in zip([first[0], *first[1]], [last[0], *last[1]])]
    print(f"memory growth ratio (target < 1.2): server {growth[0]:.3f}, workers max {max(growth[1:]):.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="measuring window per configuration")
    ap.add_argument("--soak", type=float, default=0.0, help="also measure memory over this many seconds (≥ 60)")
    ap.add_argument("--quick", action="store_true", help="tiny windows: a smoke run")
    args = ap.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    cores = os.cpu_count() or 1
    counts = [1, cores] if args.quick else [1, cores, 2 * cores]
    epochs = 100_000  # the races are stopped when measured
    print(f"{cores} cores; races: noisy sine, lookback 20, hidden 32, batch 32, Adam + RMSprop")
    for backend in ("process",) if args.quick else ("process", "thread"):
        runner = Runner(backend=backend, workers=2 * cores)
        runner.wait_ready(60)
        base = None
        for n in counts:
            rate, firsts = throughput(runner, n, seconds, epochs)
            base = base or max(rate, 1e-9)
            print(f"{backend:8} {n} race(s): {rate:7.1f} steps/s aggregate, ratio to one race {rate / base:.2f}; "
                  f"first event after {', '.join(f'{f:.2f}' for f in firsts)} s")  # fmt: skip
        if backend == "process":
            one = redraw_seconds(runner, 1, seconds, epochs)
            four = redraw_seconds(runner, 4, seconds, epochs)
            print(f"redraw of one live loss chart: {one * 1e3:.1f} ms with 1 race training, {four * 1e3:.1f} ms with "
                  f"4; ratio {four / one:.2f} (target ≤ 1.2)")  # fmt: skip
            if args.soak:
                soak(runner, max(60.0, args.soak))
        runner.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
