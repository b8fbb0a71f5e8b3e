"""``python -m gru_core sweep``: a grid (or random search) × optimizers × seeds, in parallel, stored, summarised.

    python -m gru_core sweep --data tin --optimizers adam,rmsprop --flavor keras --init keras \\
        --lookback 20 --split 0.81,0.09,0.10 --split-by series --fit-scaler-on all --dropout 0.3 \\
        --patience 3 --no-restore-best --grid batch_size=32,64,128 --grid epochs=50,100 \\
        --grid lr=0.01,0.001,0.0001 --grid hidden_size=16,32,64 --seeds 3 --json sweep.json --csv sweep.csv

Prints a progress bar with ETA on stderr, then: the metric per configuration and optimizer (mean ± std over
seeds), the paired comparison of every two optimizers (same configuration, same seed), the metric against
the learning rate, and the best configuration of each optimizer chosen on validation and reported on test,
next to the persistence and linear baselines.  Runs are kept in the run store (``--store``, default
``~/.gru_lab/runs.sqlite`` or ``$GRU_LAB_STORE``); the same command run again resumes an unfinished sweep.
The base configuration's options are those of ``compare`` (:mod:`gru_core.cli.options`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from gru_core.cli.options import add_contestant_options, add_run_options, run_config_from_args
from gru_core.cli.output import OutputError, check_writable, write_json
from gru_core.cli.report import summary_text
from gru_core.data import DataError
from gru_core.fmt import num
from gru_core.stats import summarize
from gru_core.store import RunStore, StoreError
from gru_core.sweep import SchedulerError, SweepSpec, cells, parse_grid, parse_space, run_sweep

__all__ = ["add_sweep_parser", "cmd_sweep", "spec_from_args"]


def add_sweep_parser(sub) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``sub`` (the subparsers of ``python -m gru_core``)."""
    s = sub.add_parser(
        "sweep", help="grid × optimizers × seeds in parallel: mean ± CI over seeds, paired test, best on val",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_run_options(s, title=" (the base configuration: a --grid over a setting overrides it)")
    add_contestant_options(s, seeds_help="a count (3: seeds 0-2), a range (1-5) or a list (1,7,9)")
    o = s.add_argument_group("grid and random search")
    o.add_argument("--grid", action="append", metavar="KEY=V1,V2", default=None,
                   help="sweep a setting over values (repeatable): batch_size, epochs, lr, hidden_size, dropout, "
                        "lookback, …; values split on ',' (on ';' when present, e.g. split=0.8,0.1,0.1;0.7,0.2,0.1)")
    o.add_argument("--search", type=int, default=None, metavar="N",
                   help="random search: N configurations drawn from --space (crossed with --grid)")
    o.add_argument("--space", action="append", metavar="KEY=LOW:HIGH[:log][:int]|A|B", default=None,
                   help="a random-search dimension (repeatable); lr is log-uniform by default")
    o.add_argument("--search-seed", type=int, default=0)
    o.add_argument("--spec", default=None, help="run the sweep spec in this JSON file (the 'spec' of a --json "
                                                  "output); the data, model and grid options are then ignored")
    r = s.add_argument_group("running, storing, output")
    r.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores; 0: this one)")
    r.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786), or local-dask / "
                                                      "local-dask-threads for an embedded cluster")
    r.add_argument("--store", default=None, help="run store (SQLite) path (default: $GRU_LAB_STORE or "
                                                  "~/.gru_lab/runs.sqlite)")
    r.add_argument("--no-store", action="store_true", help="keep nothing (no store, no resume)")
    r.add_argument("--no-resume", action="store_true", help="run every cell again (a new sweep in the store)")
    r.add_argument("--name", default="", help="a name for the sweep in the store")
    r.add_argument("--metric", choices=["mape", "rmse", "mae", "mse", "r2"], default="mape",
                   help="test metric of the tables and the paired comparison (default: mape)")
    r.add_argument("--select", choices=["mse", "rmse", "mae", "mape", "r2"], default="mse",
                   help="validation metric the best configuration is chosen on (default: mse)")
    r.add_argument("--json", default=None, help="write spec, every run (with histories), failures and summary")
    r.add_argument("--csv", default=None, help="write one row per run")
    r.add_argument("--dry-run", action="store_true", help="print the cells and exit")
    r.add_argument("--progress", action="store_true", help="show the progress bar even when not a terminal")
    s.set_defaults(func=cmd_sweep)
    return s


def spec_from_args(args) -> SweepSpec:
    """The :class:`~gru_core.sweep.SweepSpec` the options describe."""
    if args.spec:
        try:
            text = Path(args.spec).read_text(encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot read {args.spec!r}: {exc.strerror or exc}") from None
        spec = SweepSpec.from_json(text)
        if args.name:
            spec.name = args.name
        return spec
    base = run_config_from_args(args)
    search = None
    if args.search is not None:
        if not args.space:
            raise ValueError("--search N needs at least one --space KEY=…")
        search = {"n": args.search, "space": parse_space(args.space), "seed": args.search_seed}
    elif args.space:
        raise ValueError("--space needs --search N")
    return SweepSpec.from_run(base, grid=parse_grid(args.grid), search=search, name=args.name)


def cmd_sweep(args) -> int:
    try:
        for path in (args.json, args.csv):
            check_writable(path)
        spec = spec_from_args(args)
        cell_list = cells(spec)
    except (DataError, ValueError, OSError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_conf = len({c.config_key for c in cell_list})
    labels = [c.name for c in spec.contestants]
    print(f"sweep{' ' + repr(spec.name) if spec.name else ''} on {spec.data.source}: {n_conf} configurations × "
          f"{len(spec.seeds)} seeds = {len(cell_list)} cells, each racing {', '.join(labels)} "
          f"({len(cell_list) * len(labels)} runs)")  # fmt: skip
    if args.dry_run:
        for c in cell_list:
            print(f"  {c.index:4d}  {c.key}  seed {c.seed}  {c.params or '(base)'}")
        return 0
    store = None
    if not args.no_store:
        try:
            store = RunStore(args.store) if args.store else RunStore()
        except (StoreError, OSError) as exc:
            print(f"error: run store: {exc}", file=sys.stderr)
            return 2
    bar: list[tqdm] = []
    key = args.metric

    def progress(p):
        if not bar:
            bar.append(tqdm(total=p.total, unit="cell", file=sys.stderr, disable=False if args.progress else None,
                            dynamic_ncols=True))  # fmt: skip
            if p.skipped:
                bar[0].write(f"resuming: {p.skipped} cells are stored already, {p.total} to run", file=sys.stderr)
            return
        if p.error:
            text = f"cell {p.cell.index} FAILED: {p.error[:60]}"
        else:
            text = "  ".join(f"{r['label']}: {num((r.get('test') or {}).get(key), 3)}" for r in p.records)
        bar[0].update(p.done - bar[0].n)
        bar[0].set_postfix_str(text, refresh=False)

    try:
        result = run_sweep(spec, workers=args.workers, scheduler=args.scheduler, store=store, progress=progress,
                           resume=not args.no_resume)  # fmt: skip
    except KeyboardInterrupt:
        if bar:
            bar[0].close()
        where = f" in {store.path}; run the same command again to resume" if store else ""
        print("interrupted: the finished cells are stored" + where, file=sys.stderr)
        return 130
    except (DataError, ValueError, SchedulerError, MemoryError) as exc:
        if bar:
            bar[0].close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bar:
        bar[0].close()
    summary = summarize(result.records, metric=f"test_{args.metric}", select=f"val_{args.select}")
    print(summary_text(summary))
    n_div = sum(bool(r.get("diverged")) for r in result.records)
    print(f"\n{len(result.records)} runs ({result.ran} cells run now, {result.skipped} from the store), "
          f"{n_div} diverged, {len(result.failures)} cells failed; "
          f"{result.wall_seconds:.1f} s on {result.executor}")  # fmt: skip
    if store is not None:
        print(f"stored in {store.path} as sweep #{result.sweep_id}")
    for f in result.failures[:10]:
        print(f"FAILED cell {f['cell_index']} (seed {f['seed']}, {f['params'] or 'base'}): {f['error']}",
              file=sys.stderr)  # fmt: skip
    if result.failures:
        print(f"sweep {result.status}: {result.message}", file=sys.stderr)
    try:
        if args.json:
            payload = {"spec": spec.to_dict(), "spec_key": spec.key, "sweep_id": result.sweep_id,
                       "store": result.store_path, "status": result.status, "message": result.message,
                       "executor": result.executor, "wall_seconds": result.wall_seconds,
                       "n_cells": len(result.cells), "records": result.records, "failures": result.failures,
                       "summary": summary}  # fmt: skip
            write_json(args.json, payload)
            print(f"wrote {args.json}")
        if args.csv:
            try:
                result.frame().to_csv(args.csv, index=False)
            except OSError as exc:
                raise OutputError(f"cannot write {args.csv!r}: {exc.strerror or exc}") from None
            print(f"wrote {args.csv}")
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1
