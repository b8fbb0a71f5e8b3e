"""``python -m gru_core``: the subcommands ``compare``, ``sweep``, ``forecast`` and ``datasets``.

    python -m gru_core compare --data tin --optimizers adam,rmsprop --flavor keras \\
        --hidden-size 64 --lookback 20 --epochs 100 --batch-size 64 --lr 0.01 --dropout 0.3 \\
        --split 0.81,0.09,0.10 --patience 3 --seed 123 --json out.json

Bad input never prints a traceback: every problem the user can fix (a setting, a file, a size that does
not fit in memory, a path that cannot be written, a scheduler that does not answer) is one line
``error: …`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd
from tqdm import tqdm

from gru_core.cli.options import add_contestant_options, add_run_options, run_config_from_args
from gru_core.cli.output import OutputError, check_writable, write_json
from gru_core.cli.report import compare_table, forecast_table, verdict_line
from gru_core.config import DataConfig
from gru_core.data import DataError, future_index, prepare_run, scaler_from_dict
from gru_core.data.datasets import list_datasets
from gru_core.data.source import load_source
from gru_core.model.files import CheckpointError, ModelInfo, load_model, save_model
from gru_core.train import MemoryBudgetError, Race, check_memory, recursive_forecast

__all__ = ["build_parser", "main"]

USER_ERRORS = (DataError, ValueError, CheckpointError, OutputError, MemoryBudgetError, OSError)


def _error(exc: BaseException) -> int:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"error: {text}", file=sys.stderr)
    return 2


def cmd_compare(args) -> int:
    try:
        cfg = run_config_from_args(args)
        if len(cfg.seeds) != 1:
            raise ValueError(f"compare races one seed, got {len(cfg.seeds)}; `sweep --seeds` races several")
        for path in (args.json, args.save_model and args.save_model + "_x.npz"):
            check_writable(path)
        series = load_source(cfg.data)
        check_memory(cfg, len(series))
        prepared = prepare_run(series, cfg.data)
        race = Race(prepared, cfg.model_config(), cfg.race_contestants(), cfg.train_config())
    except USER_ERRORS as exc:
        return _error(exc)
    bar = tqdm(total=cfg.train.epochs, unit="epoch", file=sys.stderr, disable=False if args.progress else None,
               dynamic_ncols=True, leave=True)  # fmt: skip
    t0 = time.perf_counter()
    try:
        for ev in race.run():
            if ev.kind == "epoch":
                bar.update(ev.epoch - bar.n)
                bar.set_postfix_str("  ".join(
                    f"{n}: {r['val_loss']:.4g}" if r["val_loss"] is not None else f"{n}: -" for n, r in ev.runs.items()
                ), refresh=False)  # fmt: skip
    except KeyboardInterrupt:
        race.stop()
        print("\ninterrupted: reporting what was trained so far", file=sys.stderr)
    bar.close()
    result = race.result()
    d = cfg.data
    units = d.units or series.attrs.get("units", "")  # --units names a CSV's units; a dataset knows its own
    result["data"] = {
        "source": d.source, "name": series.attrs.get("name", d.source), "units": units,
        "length": int(len(series)), "lookback": d.lookback, "horizon": d.horizon, "split": list(d.split),
        "scaler": d.scaler, "fit_scaler_on": d.fit_scaler_on, "split_by": d.split_by,
        "n_test": int(len(prepared.y_test_raw)),
    }  # fmt: skip
    result["wall_seconds"] = time.perf_counter() - t0
    print(compare_table(result, units))
    print(f"{len(prepared.y_test_raw)} test targets; {result['epochs_run']} epochs in {result['wall_seconds']:.1f} s")
    line = verdict_line(result)
    if line:
        print(line)
    try:
        if args.json:
            write_json(args.json, result)
            print(f"wrote {args.json}")
        if args.save_model:
            for name, run in race.runs.items():
                if run.status == "diverged":
                    print(f"not saving {name}: it diverged")
                    continue
                suffix = "_keras" if run.contestant.flavor == "keras" else ""
                path = f"{args.save_model}_{run.contestant.optimizer}{suffix}.npz"
                test = next(r["test"] for r in result["runs"] if r["name"] == name)
                info = ModelInfo(label=name, optimizer=run.contestant.optimizer, flavor=run.contestant.flavor,
                                 seed=cfg.seed, status=run.status, epochs_trained=len(run.history), step=race.step,
                                 metrics={"test": test}, series=result["data"])  # fmt: skip
                save_model(path, run.model, optimizer=run.opt, run=cfg, scaler=prepared.scaler, info=info)
                print(f"saved {name} to {path}")
    except USER_ERRORS as exc:
        return _error(exc)
    return 0


def cmd_forecast(args) -> int:
    try:
        check_writable(args.json)
        ck = load_model(args.model)
        lookback = ck.run.data.lookback if ck.run is not None else 0
        if lookback < 1 or ck.scaler is None:
            raise CheckpointError("the model file has no lookback or scaler in its data configuration")
        data = ck.run.data if args.data is None else DataConfig(args.data, column=args.column,
                                                                date_column=args.date_column)  # fmt: skip
        series = load_source(data)
        if len(series) < lookback:
            raise DataError(f"the series has {len(series)} values; the model needs the last {lookback}")
        scaler = scaler_from_dict(ck.scaler)
        values = recursive_forecast(ck.model, scaler, series.to_numpy()[-lookback:], args.steps)
        index = future_index(series.index, args.steps)
    except USER_ERRORS as exc:
        return _error(exc)
    units = series.attrs.get("units", "")
    labels = [d.strftime("%Y-%m-%d") if hasattr(d, "strftime") else str(d) for d in index]
    print(forecast_table(labels, values, units, dated=isinstance(index, pd.DatetimeIndex)))
    if args.json:
        out = {"model": args.model, "data": data.source, "units": units, "lookback": lookback,
               "forecast": [{"date": lab, "value": float(v)} for lab, v in zip(labels, values)]}  # fmt: skip
        try:
            write_json(args.json, out)
        except USER_ERRORS as exc:
            return _error(exc)
        print(f"wrote {args.json}")
    return 0


def cmd_datasets(args) -> int:
    for spec in list_datasets():
        units = f" [{spec.units}]" if spec.units else ""
        print(f"{spec.key:16} {spec.kind:9} {spec.name}{units}: {spec.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from gru_core.cli.sweep import add_sweep_parser

    ap = argparse.ArgumentParser(prog="python -m gru_core", description="GRU Optimizer Lab engine")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="race optimizers on one series and report test metrics with baselines")
    add_run_options(c)
    add_contestant_options(c, seeds_help="one seed: 5, (weights, dropout masks and batch order)")
    out = c.add_argument_group("output")
    out.add_argument("--json", default=None, help="write config, histories and metrics to this file")
    out.add_argument("--progress", action="store_true", help="show the progress bar even when not a terminal")
    out.add_argument("--save-model", default=None, metavar="PREFIX",
                     help="save each trained model (weights, optimizer state, scaler) as PREFIX_<optimizer>.npz")
    c.set_defaults(func=cmd_compare)
    f = sub.add_parser("forecast", help="recursive forecast past the end of a series with a saved model")
    f.add_argument("--model", required=True, help="a .npz file written by compare --save-model or the page")
    f.add_argument("--data", default=None, help="dataset name or CSV path (default: the model's own data); its "
                                                 "last lookback values are used")  # fmt: skip
    f.add_argument("--column", default=None)
    f.add_argument("--date-column", default=None)
    f.add_argument("--steps", type=int, default=30, help="how many values to forecast")
    f.add_argument("--json", default=None, help="also write the forecast to this file")
    f.set_defaults(func=cmd_forecast)
    add_sweep_parser(sub)
    d = sub.add_parser("datasets", help="list the dataset registry")
    d.set_defaults(func=cmd_datasets)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
