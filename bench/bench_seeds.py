"""How many seeds the race page can race by default: wall time of the page's default race over 1…N seeds on the
background runner (process backend, its default workers), as the race page starts it (one job per seed).

    python bench/bench_seeds.py              # 1, 2, 3, 5 and 10 seeds of the default race, then the tin study
    python bench/bench_seeds.py --quick      # 1 and 3 seeds of a short race (a smoke run)

Prints, measured in this run: seconds from submit to the last seed's end for each number of seeds, and that
÷ one seed alone (ideal on W workers: ⌈N / W⌉ when a worker is as fast as one race alone; it is not, two workers
share a core by default).  The race page's default (``PAGE_DEFAULT.seeds``) is chosen from these: the largest
count whose race ends within 15 s on 2 cores.  Then the "tin-price study, re-run" scenario (10 seeds, early
stopping) end to end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gru_core.data.source import load_source, prepare_run  # noqa: E402
from gru_core.runner import Runner  # noqa: E402
from gru_core.runner.seeds import SeedRaces  # noqa: E402
from gru_ui.race.session import race_job  # noqa: E402
from gru_ui.race.settings import PAGE_DEFAULT, PRESETS  # noqa: E402


def wall(runner: Runner, cfg) -> float:
    series = load_source(cfg.data)
    prepared = prepare_run(series, cfg.data)
    t0 = time.perf_counter()
    group = SeedRaces(runner, race_job(prepared, cfg, series))
    if not group.join(600):
        raise RuntimeError("the race did not end within 10 minutes")
    seconds = time.perf_counter() - t0
    bad = [s.status for s in group.seed_snapshots() if s.status != "finished"]
    if bad:
        raise RuntimeError(f"seeds ended {bad}")
    return seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    base = PAGE_DEFAULT.replace(epochs=10) if args.quick else PAGE_DEFAULT
    counts = (1, 3) if args.quick else (1, 2, 3, 5, 10)
    runner = Runner("process")
    runner.wait_ready(60)
    try:
        wall(runner, base.replace(epochs=2))  # warm-up: imports and data in every worker
        print(f"runner: process backend, {runner.workers} workers; the page's default race: "
              f"{base.train.epochs} epochs, hidden {base.model.hidden_size}, {base.data.source}")  # fmt: skip
        one = None
        for n in counts:
            cfg = base.replace()
            cfg.seeds = list(range(n))
            seconds = wall(runner, cfg)
            one = one or seconds
            print(f"{n:2d} seed(s): {seconds:5.1f} s  ({seconds / one:.2f}× one seed; target for the default ≤ 15 s)")
        if not args.quick:
            tin = PRESETS["tin_study"].config
            seconds = wall(runner, tin)
            print(f"tin-price study, re-run ({len(tin.seeds)} seeds, early stopping): {seconds:.1f} s "
                  f"({seconds / one:.2f}× one seed of the default race)")  # fmt: skip
    finally:
        runner.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
