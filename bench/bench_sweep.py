"""Sweep throughput: runs per minute with one worker process and with every core, and the study's full grid.

    python bench/bench_sweep.py                         # throughput on a small synthetic grid, 1 vs all workers
    python bench/bench_sweep.py --quick                 # a smaller grid (a smoke test)
    python bench/bench_sweep.py --study tin_price.csv   # the original study's 2 × 54 runs, one seed: wall time

A *cell* is one (configuration, seed) in which every optimizer trains in lockstep; a *run* is one optimizer's
training, so a cell of Adam and RMSprop is two runs.  Throughput counts the whole sweep's wall time, pool start
included, as a user waits for it.  The scaling ratio is throughput(all cores) / throughput(1 worker); on an
idle machine its ceiling is the number of cores.  Both sweeps must produce identical numbers (checked).

The study grid (``--study``): batch size 32/64/128 × epochs 50/100 × lr 0.01/0.001/0.0001 × units 16/32/64,
Adam and RMSprop (Keras flavour and init), lookback 20, split 0.81/0.09/0.10 by series rows, MinMax fitted on
the whole series, dropout 0.3, early stopping with patience 3 and no weight restoring, seed 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.cli.report import summary_text  # noqa: E402
from gru_core.config import DataConfig  # noqa: E402
from gru_core.jsonio import to_jsonable  # noqa: E402
from gru_core.stats import summarize  # noqa: E402
from gru_core.sweep import SweepSpec, cells, run_sweep  # noqa: E402
from gru_core.train import Contestant  # noqa: E402


def small_spec(quick: bool) -> SweepSpec:
    return SweepSpec(
        data=DataConfig("noisy_sine", params={"length": 400 if quick else 800}, lookback=20),
        model={"hidden_size": 16},
        train={"epochs": 3 if quick else 8, "batch_size": 32},
        contestants=[Contestant("adam"), Contestant("rmsprop")],
        grid={"lr": [0.01, 0.001], "hidden_size": [8, 16]} if quick
        else {"lr": [0.01, 0.003, 0.001], "hidden_size": [8, 16], "batch_size": [16, 32]},
        seeds=[0, 1],
        name="bench",
    )


def study_spec(csv: str, seed: int) -> SweepSpec:
    return SweepSpec(
        data=DataConfig(csv, lookback=20, split=(0.81, 0.09, 0.10), split_by="series", fit_scaler_on="all"),
        model={"init": "keras", "dropout": 0.3},
        train={"patience": 3, "restore_best": False},
        contestants=[Contestant("adam", "keras"), Contestant("rmsprop", "keras")],
        grid={"batch_size": [32, 64, 128], "epochs": [50, 100], "lr": [0.01, 0.001, 0.0001],
              "hidden_size": [16, 32, 64]},
        seeds=[seed],
        name="study grid",
    )


def comparable(records):
    out = []
    for r in to_jsonable(records):
        r = {k: v for k, v in r.items() if k != "timings"}
        r["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]]
        out.append(r)
    return out


def throughput(quick: bool) -> None:
    spec = small_spec(quick)
    n_cells = len(cells(spec))
    n_runs = n_cells * len(spec.contestants)
    cores = os.cpu_count() or 1
    print(f"grid: {n_cells} cells × {len(spec.contestants)} optimizers = {n_runs} runs "
          f"(noisy_sine, {spec.train.epochs} epochs, no early stopping); {cores} cores")  # fmt: skip
    rates, records = {}, {}
    for workers in sorted({1, cores}):
        t0 = time.perf_counter()
        result = run_sweep(spec, workers=workers)
        wall = time.perf_counter() - t0
        assert result.ok, result.message
        rates[workers] = n_runs / wall * 60
        records[workers] = comparable(result.records)
        print(f"workers={workers}: {wall:6.2f} s wall, {n_cells / wall * 60:7.1f} cells/min, "
              f"{rates[workers]:7.1f} runs/min")  # fmt: skip
    if cores > 1:
        print(f"scaling ratio ({cores} workers / 1 worker): {rates[cores] / rates[1]:.2f} (ideal {cores})")
        same = records[1] == records[cores]
        print(f"identical numbers with 1 and {cores} workers: {same}")
        if not same:
            raise SystemExit("results differ between worker counts")


def study(csv: str, seed: int, workers: int | None, verbose: bool) -> None:
    spec = study_spec(csv, seed)
    n = len(cells(spec))
    print(f"study grid on {csv}: {n} cells × 2 optimizers = {2 * n} runs, seed {seed}, "
          f"workers {workers or os.cpu_count()}")  # fmt: skip
    done = []

    def progress(p):
        if p.cell is not None:
            done.append(p.done)
            if verbose:
                print(f"\r{p.done}/{p.total} cells, {p.elapsed:5.0f} s, eta {p.eta or 0:5.0f} s", end="",
                      file=sys.stderr, flush=True)  # fmt: skip

    t0 = time.perf_counter()
    result = run_sweep(spec, workers=workers, progress=progress)
    wall = time.perf_counter() - t0
    if verbose:
        print(file=sys.stderr)
    assert result.ok, result.message
    print(summary_text(summarize(result.records)))
    train = sum(r["timings"]["train_seconds"] for r in result.records)
    print(f"\nstudy grid: {2 * n} runs in {wall:.1f} s wall ({wall / 60:.2f} min) on {result.executor}; "
          f"{2 * n / wall * 60:.1f} runs/min; summed per-run training time {train:.1f} s")  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller throughput grid")
    ap.add_argument("--study", metavar="CSV", default=None, help="run the study's 2 × 54 grid on this CSV")
    ap.add_argument("--seed", type=int, default=1, help="the study grid's seed")
    ap.add_argument("--workers", type=int, default=None, help="the study grid's workers (default: all cores)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.study:
        study(args.study, args.seed, args.workers, args.progress)
    else:
        throughput(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
