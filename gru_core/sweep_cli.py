"""``python -m gru_core sweep``: a grid (or random search) × optimizers × seeds, in parallel, stored, summarised.

    python -m gru_core sweep --data tin_price.csv --optimizers adam,rmsprop --flavor keras --init keras \\
        --lookback 20 --split 0.81,0.09,0.10 --split-by series --fit-scaler-on all --dropout 0.3 \\
        --patience 3 --no-restore-best --grid batch_size=32,64,128 --grid epochs=50,100 \\
        --grid lr=0.01,0.001,0.0001 --grid hidden_size=16,32,64 --seeds 3 --json sweep.json --csv sweep.csv

Prints a progress bar with ETA on stderr, then: the metric per configuration and optimizer (mean ± std over
seeds), the paired comparison of every two optimizers (same configuration, same seed), the metric against
the learning rate, and the best configuration of each optimizer chosen on validation and reported on test,
next to the persistence and linear baselines.  Runs are kept in the run store (``--store``, default
``~/.gru_lab/runs.sqlite`` or ``$GRU_LAB_STORE``); the same command run again resumes an unfinished sweep.

The command line's own module imports :mod:`gru_core.cli` lazily, so ``cli.py`` may import this one at any
point: :func:`add_sweep_parser` is what ``cli.build_parser`` calls.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

__all__ = ["add_sweep_parser", "cmd_sweep", "parse_data_params", "parse_grid", "parse_seeds", "parse_space",
           "spec_from_args"]


# --------------------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------------------


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``["lr=0.01,0.001", "split=0.8,0.1,0.1;0.7,0.15,0.15"]`` → ``{"lr": [...], "split": [...]}``.

    Values are separated by commas, or by semicolons when there is one (for ``split``)."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--grid takes KEY=V1,V2,…, got {item!r}")
        parts = values.split(";") if ";" in values else values.split(",")
        key = key.strip()
        if key in grid:
            raise ValueError(f"--grid {key} given twice")
        grid[key] = [p.strip() for p in parts if p.strip()]
    return grid


def parse_space(items: list[str] | None) -> dict[str, dict]:
    """``KEY=LOW:HIGH[:log][:lin][:int]`` (a range) or ``KEY=A|B|C`` (choices) → a RandomSearch space."""
    space: dict[str, dict] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ValueError(f"--space takes KEY=LOW:HIGH[:log][:int] or KEY=A|B|C, got {item!r}")
        if "|" in text:
            space[key] = {"choices": [t.strip() for t in text.split("|") if t.strip()]}
            continue
        parts = [p.strip() for p in text.split(":")]
        if len(parts) < 2:
            raise ValueError(f"--space {key}: give LOW:HIGH, got {text!r}")
        dim: dict = {"low": parts[0], "high": parts[1]}
        for flag in parts[2:]:
            if flag == "log":
                dim["log"] = True
            elif flag in ("lin", "linear"):
                dim["log"] = False
            elif flag == "int":
                dim["int"] = True
            else:
                raise ValueError(f"--space {key}: unknown flag {flag!r} (log, lin, int)")
        space[key] = dim
    return space


def parse_data_params(items: list[str] | None) -> dict:
    """``["length=500", "noise=0.1"]`` → ``{"length": 500, "noise": 0.1}`` (JSON values, else strings)."""
    params: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--data-param takes KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def parse_seeds(text: str) -> list[int]:
    """``"3"`` → seeds 0, 1, 2; ``"1-5"`` → 1…5; ``"1,7,9"`` → those."""
    text = str(text).strip()
    try:
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        if "-" in text.lstrip("-"):
            a, b = text.split("-", 1)
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError
            return list(range(lo, hi + 1))
        n = int(text)
    except ValueError:
        msg = f"--seeds takes a count (3), a range (1-5) or a list (1,7,9), got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--seeds: a count must be >= 1, got {n}")
    return list(range(n))


def add_sweep_parser(sub) -> argparse.ArgumentParser:
    """Add the ``sweep`` subcommand to ``sub`` (the subparsers of ``python -m gru_core``)."""
    from .cli import parse_split
    from .optim import OPTIMIZERS

    s = sub.add_parser(
        "sweep", help="grid × optimizers × seeds in parallel: mean ± CI over seeds, paired test, best on val",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    d = s.add_argument_group("data (as in `compare`)")
    d.add_argument("--data", default=None, help="dataset name (see `datasets`) or a CSV path")
    d.add_argument("--data-param", action="append", metavar="KEY=VALUE", default=None,
                   help="a dataset parameter (repeatable; dataset names only), e.g. length=500 noise=0.1")
    d.add_argument("--column", default=None, help="CSV value column (default: the last numeric one)")
    d.add_argument("--date-column", default=None, help="CSV date column (default: detected)")
    d.add_argument("--lookback", type=int, default=20)
    d.add_argument("--horizon", type=int, default=1)
    d.add_argument("--split", type=parse_split, default=(0.8, 0.1, 0.1), help="train,val,test fractions")
    d.add_argument("--split-by", choices=["windows", "series"], default="windows",
                   help="'series' splits the rows first, then windows each part (the original study)")
    d.add_argument("--scaler", choices=["minmax", "standard", "none"], default="minmax")
    d.add_argument("--fit-scaler-on", choices=["train", "all"], default="train",
                   help="'all' reproduces the original study (leaks the test period's range)")
    m = s.add_argument_group("base model and training (a --grid over a field overrides it)")
    m.add_argument("--hidden", type=int, default=32, help="GRU units")
    m.add_argument("--layers", type=int, default=1)
    m.add_argument("--variant", choices=["pytorch", "classic"], default="pytorch")
    m.add_argument("--init", choices=["pytorch", "keras"], default="pytorch")
    m.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    m.add_argument("--dropout", type=float, default=0.0)
    m.add_argument("--epochs", type=int, default=100)
    m.add_argument("--batch-size", type=int, default=32)
    m.add_argument("--patience", type=int, default=None, help="early stopping patience (default: off)")
    m.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=True,
                   help="restore the best-validation weights at the end (the study did not: --no-restore-best)")
    m.add_argument("--clip", type=float, default=None, help="global gradient-norm clipping")
    m.add_argument("--schedule", choices=["constant", "step", "cosine"], default="constant")
    o = s.add_argument_group("optimizers, grid, seeds")
    o.add_argument("--optimizers", default="adam,rmsprop", help="comma-separated: " + ",".join(OPTIMIZERS))
    o.add_argument("--flavor", choices=["pytorch", "keras"], default="pytorch",
                   help="update rules and defaults of Adam/RMSprop (keras: eps 1e-7, RMSprop rho 0.9)")
    o.add_argument("--lr", type=float, default=None, help="learning rate of every optimizer (default: each one's)")
    o.add_argument("--grid", action="append", metavar="KEY=V1,V2", default=None,
                   help="sweep a field over values (repeatable): batch_size, epochs, lr, hidden_size, dropout, "
                        "lookback, …; values split on ',' (on ';' when present, e.g. split=0.8,0.1,0.1;0.7,0.2,0.1)")
    o.add_argument("--search", type=int, default=None, metavar="N",
                   help="random search: N configurations drawn from --space (crossed with --grid)")
    o.add_argument("--space", action="append", metavar="KEY=LOW:HIGH[:log][:int]|A|B", default=None,
                   help="a random-search dimension (repeatable); lr is log-uniform by default")
    o.add_argument("--search-seed", type=int, default=0)
    o.add_argument("--seeds", type=parse_seeds, default=[0], help="a count (3: seeds 0-2), a range (1-5) or a list")
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


def spec_from_args(args):
    """The :class:`~gru_core.sweep.SweepSpec` the options describe."""
    from .gru import GRUConfig
    from .optim import OPTIMIZERS
    from .sweep import DataSpec, RandomSearch, SweepSpec
    from .train import Contestant, TrainConfig

    if args.spec:
        spec = SweepSpec.from_json(Path(args.spec).read_text(encoding="utf-8"))
        if args.name:
            spec.name = args.name
        return spec
    if not args.data:
        raise ValueError("give --data (a dataset name or a CSV path) or --spec")
    names = [n.strip().lower() for n in args.optimizers.split(",") if n.strip()]
    optimizers = []
    for n in names:
        if n not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {n!r}; choose from {', '.join(OPTIMIZERS)}")
        flavor = args.flavor if args.flavor in OPTIMIZERS[n].flavors else "pytorch"
        optimizers.append(Contestant(n, flavor=flavor, hyper={"lr": args.lr} if args.lr is not None else {}))
    data = DataSpec(args.data, params=parse_data_params(args.data_param), column=args.column,
                    date_column=args.date_column, lookback=args.lookback, horizon=args.horizon, split=args.split,
                    split_by=args.split_by, scaler=args.scaler, fit_scaler_on=args.fit_scaler_on)  # fmt: skip
    model = GRUConfig(hidden_size=args.hidden, num_layers=args.layers, variant=args.variant, init=args.init,
                      dropout=args.dropout, dtype=args.dtype, output_size=args.horizon)  # fmt: skip
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                        restore_best=args.restore_best, clip_norm=args.clip, schedule=args.schedule)  # fmt: skip
    search = None
    if args.search is not None:
        if not args.space:
            raise ValueError("--search N needs at least one --space KEY=…")
        search = RandomSearch(args.search, parse_space(args.space), seed=args.search_seed)
    elif args.space:
        raise ValueError("--space needs --search N")
    return SweepSpec(data=data, model=model, train=train, optimizers=optimizers, grid=parse_grid(args.grid),
                     seeds=args.seeds, search=search, name=args.name)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# the summary
# --------------------------------------------------------------------------------------------------


def _fmt(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}g}"


def _pm(mean, std, n) -> str:
    if n == 0:
        return "—"
    return f"{_fmt(mean)} ± {_fmt(std, 2)} ({n})" if n > 1 else f"{_fmt(mean)} ({n})"


def summarize(records, metric: str = "test_mape", select: str = "val_mse") -> dict:
    """The tables of the summary as JSON-ready lists of dicts."""
    from .stats import best_config, group_stats, lr_sensitivity, paired_by_config, paired_comparison, to_frame

    df = to_frame(records)
    out: dict = {"metric": metric, "select": select, "groups": [], "paired": [], "lr": [], "best": []}
    if df.empty:
        return out
    labels = list(dict.fromkeys(df["label"]))
    out["groups"] = group_stats(df, metric).to_dict("records")
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            pc = paired_comparison(df, a, b, metric)
            per = paired_by_config(df, a, b, metric)
            if len(per):
                sig = per[(per["n"] >= 2) & ((per["ci_high"] < 0) | (per["ci_low"] > 0))]
                pc["configs"] = int(len(per))
                pc["configs_tested"] = int((per["n"] >= 2).sum())
                pc["configs_significant"] = int(len(sig))
                pc["configs_a_better"] = int((sig["mean_diff"] < 0).sum() if metric[-2:] != "r2"
                                             else (sig["mean_diff"] > 0).sum())  # fmt: skip
            out["paired"].append(pc)
    out["lr"] = lr_sensitivity(df, metric).to_dict("records")
    best = best_config(df, select=select)
    rows = best.to_dict("records")
    for row in rows:  # the baselines on that configuration's test split
        rec = next((r for r in records if r.get("config_key") == row["config_key"] and r.get("baselines")), None)
        row["baselines"] = rec["baselines"] if rec else None
    out["best"] = rows
    return out


def format_summary(result, summary: dict) -> str:
    import pandas as pd

    metric, select = summary["metric"], summary["select"]
    mname = metric.split("_", 1)[1].upper() + (" %" if metric.endswith("mape") else "")
    lines = []
    groups = pd.DataFrame(summary["groups"])
    if not groups.empty:
        labels = list(dict.fromkeys(groups["label"]))
        lines.append(f"test {mname} per configuration: mean ± std over seeds (n)")
        width = max(len("configuration"), *(len(str(c)) for c in groups["config"]))
        head = f"{'configuration':{width}}  " + "  ".join(f"{lab:>24}" for lab in labels)
        lines += [head, "-" * len(head)]
        for _, g in groups.groupby("config_key", sort=False):
            cells = []
            for lab in labels:
                row = g[g["label"] == lab]
                if row.empty:
                    cells.append(f"{'':>24}")
                    continue
                r = row.iloc[0]
                text = _pm(r["mean"], r["std"], int(r["n"]))
                if r["n_diverged"]:
                    text += f" [{int(r['n_diverged'])} div]"
                cells.append(f"{text:>24}")
            lines.append(f"{g['config'].iloc[0]:{width}}  " + "  ".join(cells))
    for pc in summary["paired"]:
        lines.append("")
        lines.append(f"paired: {pc['a']} − {pc['b']}, test {mname}, {pc['n']} (configuration, seed) pairs"
                     + (f" ({pc['n_excluded']} left out: diverged)" if pc["n_excluded"] else ""))  # fmt: skip
        if pc["n"] >= 2:
            wil = "" if pc["wilcoxon_p"] is None else f", Wilcoxon p = {pc['wilcoxon_p']:.3g}"
            lines.append(f"  mean difference {_fmt(pc['mean_diff'])} (95% CI {_fmt(pc['ci_low'])} to "
                         f"{_fmt(pc['ci_high'])}), paired t p = {_fmt(pc['p_value'], 3)}{wil}")  # fmt: skip
        lines.append(f"  {pc['a']} better in {pc['wins_a']:.0%} of pairs, {pc['b']} in {pc['wins_b']:.0%}"
                     + (f", ties {pc['ties']:.0%}" if pc["ties"] else ""))  # fmt: skip
        if pc.get("configs"):
            if pc["configs_tested"]:
                lines.append(f"  within a configuration (over seeds) the 95% CI excludes 0 in "
                             f"{pc['configs_significant']} of {pc['configs_tested']} configurations "
                             f"({pc['configs_a_better']} for {pc['a']})")  # fmt: skip
            else:
                lines.append("  one seed per configuration: whether a difference exceeds seed noise cannot be "
                             "told (use --seeds 3 or more)")  # fmt: skip
    lr = pd.DataFrame(summary["lr"])
    if not lr.empty and lr["lr"].notna().any() and lr["lr"].nunique() > 1:
        lines.append("")
        lines.append(f"test {mname} against the learning rate (other settings and seeds pooled): mean [95% CI] (n)")
        for lab, g in lr.groupby("label", sort=False):
            parts = [f"lr {_fmt(r['lr'])}: {_fmt(r['mean'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] ({r['n']})"
                     for _, r in g.iterrows()]  # fmt: skip
            lines.append(f"  {lab}: " + "; ".join(parts))
    if summary["best"]:
        sname = select.split("_", 1)[1].upper()
        lines.append("")
        lines.append(f"best configuration per optimizer, chosen on validation {sname} (mean over seeds), "
                     f"reported on test:")  # fmt: skip
        for b in summary["best"]:
            t = metric
            ci = (f" [{_fmt(b.get(f'{t}_ci_low'))}, {_fmt(b.get(f'{t}_ci_high'))}]"
                  if b["n_seeds"] > 1 else "")  # fmt: skip
            div = f", {b['n_diverged']} diverged" if b["n_diverged"] else ""
            spread = f" ± {_fmt(b.get(f'{t}_std'), 2)}{ci}" if b["n_seeds"] > 1 else ""
            lines.append(f"  {b['label']}: {b['config']} (n={b['n_seeds']}{div}): val {sname} "
                         f"{_fmt(b['select_mean'])}; test {mname} {_fmt(b.get(f'{t}_mean'))}{spread}, "
                         f"test RMSE {_fmt(b.get('test_rmse_mean'))}")  # fmt: skip
            base = b.get("baselines") or {}
            key = metric.split("_", 1)[1]
            if base:
                lines.append(f"    same test split: persistence {mname} {_fmt(base['persistence'].get(key))}, "
                             f"linear {_fmt(base['linear'].get(key))}")  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------------


def cmd_sweep(args) -> int:
    from .cli import ProgressBar, to_jsonable
    from .data import DataError
    from .store import RunStore, StoreError
    from .sweep import cells, run_sweep

    try:
        spec = spec_from_args(args)
        cell_list = cells(spec)
    except (DataError, ValueError, OSError, argparse.ArgumentTypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_conf = len({c.config_key for c in cell_list})
    labels = [c.name for c in spec.optimizers]
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
    bar: list = []
    metric = f"test_{args.metric}"

    def progress(p):
        if not bar:
            bar.append(ProgressBar(p.total, enabled=sys.stderr.isatty() or args.progress))
            if p.skipped:
                print(f"resuming: {p.skipped} cells are stored already, {p.total} to run", file=sys.stderr)
            return
        if p.error:
            text = f"cell {p.cell.index} FAILED: {p.error[:60]}"
        else:
            key = metric.split("_", 1)[1]
            text = "  ".join(f"{r['label']}: {_fmt((r.get('test') or {}).get(key), 3)}" for r in p.records)
        bar[0].update(p.done, text)

    try:
        result = run_sweep(spec, workers=args.workers, scheduler=args.scheduler, store=store, progress=progress,
                           resume=not args.no_resume)  # fmt: skip
    except KeyboardInterrupt:
        if bar:
            bar[0].close()
        where = f" in {store.path}; run the same command again to resume" if store else ""
        print("interrupted: the finished cells are stored" + where, file=sys.stderr)
        return 130
    except (DataError, ValueError) as exc:
        if bar:
            bar[0].close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bar:
        bar[0].close()
    summary = summarize(result.records, metric=metric, select=f"val_{args.select}")
    print(format_summary(result, summary))
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
    if args.json:
        payload = {"spec": spec.to_dict(), "spec_key": spec.key, "sweep_id": result.sweep_id,
                   "store": result.store_path, "status": result.status, "message": result.message,
                   "executor": result.executor, "wall_seconds": result.wall_seconds, "n_cells": len(result.cells),
                   "records": result.records, "failures": result.failures, "summary": summary}  # fmt: skip
        Path(args.json).write_text(json.dumps(to_jsonable(payload), indent=1))
        print(f"wrote {args.json}")
    if args.csv:
        result.frame().to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0 if result.ok else 1
