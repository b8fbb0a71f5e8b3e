"""Command line: ``python -m gru_core compare …`` and ``python -m gru_core datasets``.

    python -m gru_core compare --data tin_price.csv --optimizers adam,rmsprop --flavor keras \\
        --hidden 64 --lookback 20 --epochs 100 --batch-size 64 --lr 0.01 --dropout 0.3 \\
        --split 0.81,0.09,0.10 --patience 3 --seed 123 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .checkpoint import CheckpointError, load_model, save_model
from .data import DataError, future_index, load_csv, prepare, scaler_from_dict
from .datasets import DATASETS, list_datasets, load_dataset
from .gru import GRUConfig
from .optim import OPTIMIZERS
from .train import Contestant, Race, TrainConfig, recursive_forecast


def to_jsonable(obj):
    """Plain JSON: NaN/inf become null, NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def load_series(data: str, value_column: str | None = None, date_column: str | None = None):
    """A registry key, or a path to a CSV file."""
    if data in DATASETS:
        return load_dataset(data)
    path = Path(data)
    if path.exists():
        return load_csv(path, value_column=value_column, date_column=date_column)
    raise DataError(
        f"--data {data!r} is neither a dataset name nor an existing file. "
        f"Datasets: {', '.join(k for k, s in DATASETS.items() if s.kind != 'task')}"
    )


def parse_split(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--split must be three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--split must be three numbers like 0.8,0.1,0.1, got {text!r}")
    return parts  # type: ignore[return-value]


class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal, unless forced)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.t0 = total, enabled, time.perf_counter()

    def update(self, done: int, text: str) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(self.total, 1))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (self.total - done) if done else 0.0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                         f"{elapsed:5.1f}s eta {eta:5.1f}s {text}\033[K")  # fmt: skip
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def format_table(result: dict, units: str = "") -> str:
    rows = [(r["name"], r["test"], r) for r in result["runs"]]
    rows += [(f"baseline: {k}", v, None) for k, v in result["baselines"].items()]
    head = f"{'model':28} {'MSE':>12} {'RMSE':>10} {'MAE':>10} {'MAPE %':>8} {'R²':>7}  {'best/stop':>9}  note"
    lines = [f"test metrics{' (' + units + ')' if units else ''}", head, "-" * len(head)]
    for name, m, run in rows:
        if m is None:
            nums = f"{'—':>12} {'—':>10} {'—':>10} {'—':>8} {'—':>7}"
        else:
            nums = (f"{m['mse']:12.4g} {m['rmse']:10.4g} {m['mae']:10.4g} {m['mape']:8.3f} {m['r2']:7.3f}")  # fmt: skip
        stops, note = "", ""
        if run is not None:
            stops = f"{run['best_epoch'] or '-'}/{run['stopped_epoch'] or '-'}"
            if run["diverged"]:
                note = f"DIVERGED at epoch {run['diverged_epoch']}, step {run['diverged_step']}"
            else:
                note = run["status"]
        lines.append(f"{name:28} {nums}  {stops:>9}  {note}")
    return "\n".join(lines)


def cmd_compare(args) -> int:
    try:
        series = load_series(args.data, args.column, args.date_column)
        prepared = prepare(series, lookback=args.lookback, horizon=args.horizon, split=args.split,
                           scaler=args.scaler, fit_scaler_on=args.fit_scaler_on,
                           split_by=args.split_by)  # fmt: skip
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = [n.strip().lower() for n in args.optimizers.split(",") if n.strip()]
    try:
        contestants = []
        for n in names:
            if n not in OPTIMIZERS:
                raise ValueError(f"unknown optimizer {n!r}; choose from {', '.join(OPTIMIZERS)}")
            hyper = {"lr": args.lr} if args.lr is not None else {}
            flavor = args.flavor if args.flavor in OPTIMIZERS[n].flavors else "pytorch"
            contestants.append(Contestant(n, flavor=flavor, hyper=hyper))
        model_cfg = GRUConfig(input_size=1, hidden_size=args.hidden, output_size=args.horizon,
                              num_layers=args.layers, variant=args.variant, init=args.init,
                              dropout=args.dropout, dtype=args.dtype, seed=args.seed)  # fmt: skip
        train_cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                                restore_best=args.restore_best, clip_norm=args.clip, seed=args.seed,
                                schedule=args.schedule)  # fmt: skip
        race = Race(prepared, model_cfg, contestants, train_cfg)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(args.epochs, enabled=sys.stderr.isatty() or args.progress)
    t0 = time.perf_counter()
    try:
        for ev in race.run():
            if ev.kind == "epoch":
                text = "  ".join(
                    f"{n}: {r['val_loss']:.4g}" if r["val_loss"] is not None else f"{n}: -"
                    for n, r in ev.runs.items()
                )
                bar.update(ev.epoch, text)
    except KeyboardInterrupt:
        race.stop()
        print("\ninterrupted: reporting what was trained so far", file=sys.stderr)
    bar.close()
    result = race.result()
    result["data"] = {
        "source": args.data,
        "name": series.attrs.get("name", args.data),
        "units": series.attrs.get("units", ""),
        "length": int(len(series)),
        "lookback": args.lookback,
        "horizon": args.horizon,
        "split": list(args.split),
        "scaler": args.scaler,
        "fit_scaler_on": args.fit_scaler_on,
        "split_by": args.split_by,
        "n_test": int(len(prepared.y_test_raw)),
    }
    result["wall_seconds"] = time.perf_counter() - t0
    print(format_table(result, series.attrs.get("units", "")))
    print(f"{len(prepared.y_test_raw)} test targets; {result['epochs_run']} epochs in {result['wall_seconds']:.1f} s")
    best = min((r for r in result["runs"] if r["test"]), key=lambda r: r["test"]["mse"], default=None)
    pers = result["baselines"]["persistence"]
    if best is not None:
        verdict = "beats" if best["test"]["mse"] < pers["mse"] else "does NOT beat"
        print(f"verdict: the best optimizer ({best['name']}, MAPE {best['test']['mape']:.3f}%) {verdict} "
              f"the naive forecast 'tomorrow = today' (MAPE {pers['mape']:.3f}%) on test MSE")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(to_jsonable(result), indent=1))
        print(f"wrote {args.json}")
    if args.save_model:
        for name, run in race.runs.items():
            if run.status == "diverged":
                print(f"not saving {name}: it diverged")
                continue
            suffix = "_keras" if run.contestant.flavor == "keras" else ""
            path = f"{args.save_model}_{run.contestant.optimizer}{suffix}.npz"
            test = next(r["test"] for r in result["runs"] if r["name"] == name)
            save_model(path, run.model, optimizer=run.opt, data_config=result["data"], scaler=prepared.scaler,
                       extra={"optimizer_name": name, "test": test})  # fmt: skip
            print(f"saved {name} to {path}")
    return 0


def cmd_forecast(args) -> int:
    try:
        ck = load_model(args.model)
        lookback = int(ck.data_config.get("lookback", 0))
        if lookback < 1 or ck.scaler is None:
            raise CheckpointError("the model file has no lookback or scaler in its data configuration")
        series = load_series(args.data, args.column, args.date_column)
        if len(series) < lookback:
            raise DataError(f"the series has {len(series)} values; the model needs the last {lookback}")
        scaler = scaler_from_dict(ck.scaler)
        values = recursive_forecast(ck.model, scaler, series.to_numpy()[-lookback:], args.steps)
        index = future_index(series.index, args.steps)
    except (CheckpointError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    units = series.attrs.get("units", "")
    labels = [d.strftime("%Y-%m-%d") if hasattr(d, "strftime") else str(d) for d in index]
    head = "date" if isinstance(index, pd.DatetimeIndex) else "position"
    print(f"{head:12} forecast{' (' + units + ')' if units else ''}")
    for lab, v in zip(labels, values):
        print(f"{lab:12} {v:.6g}")
    if args.json:
        out = {"model": args.model, "data": args.data, "units": units, "lookback": lookback,
               "forecast": [{"date": lab, "value": float(v)} for lab, v in zip(labels, values)]}  # fmt: skip
        Path(args.json).write_text(json.dumps(to_jsonable(out), indent=1))
        print(f"wrote {args.json}")
    return 0


def cmd_datasets(args) -> int:
    for spec in list_datasets():
        units = f" [{spec.units}]" if spec.units else ""
        print(f"{spec.key:16} {spec.kind:9} {spec.name}{units}: {spec.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m gru_core", description="GRU Optimizer Lab engine")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="race optimizers on one series and report test metrics with baselines")
    c.add_argument("--data", required=True, help="dataset name (see `datasets`) or a CSV path")
    c.add_argument("--column", default=None, help="CSV value column (default: the last numeric one)")
    c.add_argument("--date-column", default=None, help="CSV date column (default: detected)")
    c.add_argument("--optimizers", default="adam,rmsprop", help="comma-separated: " + ",".join(OPTIMIZERS))
    c.add_argument("--flavor", choices=["pytorch", "keras"], default="pytorch",
                   help="update rules and defaults of Adam/RMSprop (keras: eps 1e-7, RMSprop rho 0.9)")
    c.add_argument("--hidden", type=int, default=32, help="GRU units")
    c.add_argument("--layers", type=int, default=1)
    c.add_argument("--variant", choices=["pytorch", "classic"], default="pytorch")
    c.add_argument("--init", choices=["pytorch", "keras"], default="pytorch")
    c.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    c.add_argument("--lookback", type=int, default=20)
    c.add_argument("--horizon", type=int, default=1)
    c.add_argument("--split", type=parse_split, default=(0.8, 0.1, 0.1), help="train,val,test fractions")
    c.add_argument("--split-by", choices=["windows", "series"], default="windows",
                   help="'series' splits the rows first, then windows each part (the original study)")
    c.add_argument("--scaler", choices=["minmax", "standard", "none"], default="minmax")
    c.add_argument("--fit-scaler-on", choices=["train", "all"], default="train",
                   help="'all' reproduces the original study (leaks the test period's range)")
    c.add_argument("--epochs", type=int, default=100)
    c.add_argument("--batch-size", type=int, default=32)
    c.add_argument("--lr", type=float, default=None, help="learning rate for every optimizer (default: each one's)")
    c.add_argument("--dropout", type=float, default=0.0)
    c.add_argument("--patience", type=int, default=None, help="early stopping patience (default: off)")
    c.add_argument("--restore-best", action=argparse.BooleanOptionalAction, default=True,
                   help="restore the best-validation weights at the end (the study did not: --no-restore-best)")
    c.add_argument("--clip", type=float, default=None, help="global gradient-norm clipping")
    c.add_argument("--schedule", choices=["constant", "step", "cosine"], default="constant")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", default=None, help="write config, histories and metrics to this file")
    c.add_argument("--progress", action="store_true", help="show the progress bar even when not a terminal")
    c.add_argument("--save-model", default=None, metavar="PREFIX",
                   help="save each trained model (weights, optimizer state, scaler) as PREFIX_<optimizer>.npz")
    c.set_defaults(func=cmd_compare)
    f = sub.add_parser("forecast", help="recursive forecast past the end of a series with a saved model")
    f.add_argument("--model", required=True, help="a .npz file written by compare --save-model or the page")
    f.add_argument("--data", required=True, help="dataset name or CSV path (its last lookback values are used)")
    f.add_argument("--column", default=None)
    f.add_argument("--date-column", default=None)
    f.add_argument("--steps", type=int, default=30, help="how many values to forecast")
    f.add_argument("--json", default=None, help="also write the forecast to this file")
    f.set_defaults(func=cmd_forecast)
    from .sweep_cli import add_sweep_parser

    add_sweep_parser(sub)
    d = sub.add_parser("datasets", help="list the dataset registry")
    d.set_defaults(func=cmd_datasets)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
