"""A race's results for people and files: the forecast chart's data, the results table and its verdict,
the test-error summary, and the exports (curves and metrics as CSV, the whole run as JSON, and back).

No Streamlit import.  The numbers are the engine's (its result, its baselines and metrics); this module
only arranges them.  Every number shown is formatted by :mod:`gru_core.fmt`.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from gru_core.config import RunConfig
from gru_core.data import Prepared
from gru_core.data.metrics import baseline_metrics, linear_ar_forecast, persistence_forecast, regression_metrics
from gru_core.fmt import num, signed
from gru_core.jsonio import to_jsonable
from gru_core.stats import paired_seeds
from gru_core.train.live import Snapshot

from .changes import share_config, share_query
from .session import RaceHandle
from .settings import default_config, page_query

__all__ = ["METRIC_COLUMNS", "config_from_run_json", "curves_csv", "error_summary", "forecast_data",
           "format_table", "metrics_csv", "results_table", "run_json", "seed_results_table", "seeds_verdict",
           "verdict"]  # fmt: skip

METRIC_COLUMNS = {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "mape": "MAPE %", "r2": "R²"}


def forecast_data(
    prepared: Prepared, result: dict | None, step: int = 0, forecasts: dict | None = None
) -> dict[str, Any]:
    """What the forecast chart draws, in the series' units: x (dates or positions), truth, the baselines'
    forecasts (the engine's persistence and linear-AR functions) and each run's forecast (from the
    engine's result; None while training or for a diverged run), all at horizon step ``step``.

    Without a result, ``forecasts`` (a snapshot's: name -> (N, horizon) test predictions as of the last
    epoch or pause, computed by the engine) are drawn instead."""
    x = np.asarray(prepared.target_index("test", step))
    truth = np.asarray(prepared.y_test_raw)[:, step]
    baselines = {
        "persistence": persistence_forecast(prepared.X_test_raw, prepared.horizon)[:, step],
        "linear": linear_ar_forecast(prepared.X_train_raw, prepared.y_train_raw, prepared.X_test_raw)[:, step],
    }
    preds: dict[str, Any] = {}
    for run in (result or {}).get("runs", []):
        pred = run.get("test_pred")
        preds[run["name"]] = None if pred is None else np.asarray(pred, dtype=np.float64)[:, step]
    if result is None:
        for name, pred in (forecasts or {}).items():
            arr = None if pred is None else np.asarray(pred, dtype=np.float64).reshape(len(truth), -1)
            preds[name] = None if arr is None or not np.isfinite(arr).all() else arr[:, step]
    return {"x": x, "truth": truth, "baselines": baselines, "predictions": preds}


def _metric(m: dict | None, k: str) -> float:
    if not m:
        return float("nan")
    v = m.get(k)
    return float("nan") if v is None else float(v)


def results_table(result: dict, baselines: dict | None = None) -> pd.DataFrame:
    """One row per optimizer and per baseline: test metrics (series units), epochs, wall time, status.

    The ``winner`` column marks the row with the lowest test MSE among the optimizers.
    """
    rows = []
    for run in result.get("runs", []):
        m = run.get("test")
        if run.get("diverged"):
            note = f"diverged at step {run.get('diverged_step')} (epoch {run.get('diverged_epoch')})"
        else:
            note = {"early_stopped": "early stop", "finished": "finished", "stopped": "stopped by user"}.get(
                run.get("status"), str(run.get("status"))
            )
        rows.append({
            "model": run["name"], "kind": "optimizer", **{label: _metric(m, k) for k, label in METRIC_COLUMNS.items()},
            "best epoch": run.get("best_epoch"), "stopped at epoch": run.get("stopped_epoch"),
            "train time (s)": float(run.get("seconds") or 0.0), "status": note,
        })  # fmt: skip
    base = baselines if baselines is not None else result.get("baselines", {})
    names = {"persistence": "baseline: persistence (tomorrow = today)", "linear": "baseline: linear autoregression"}
    for k, m in (base or {}).items():
        rows.append({
            "model": names.get(k, f"baseline: {k}"), "kind": "baseline",
            **{label: _metric(m, key) for key, label in METRIC_COLUMNS.items()},
            "best epoch": None, "stopped at epoch": None, "train time (s)": None, "status": "",
        })  # fmt: skip
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    opt = df[(df["kind"] == "optimizer") & df["MSE"].notna()]
    df.insert(1, "winner", "")
    if len(opt):
        df.loc[opt["MSE"].idxmin(), "winner"] = "★ best"
    for c in ("best epoch", "stopped at epoch"):
        df[c] = df[c].astype("Int64")
    return df


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The results table as display strings: :func:`gru_core.fmt.num` (4 significant digits, seconds with
    two decimals, "—" where there is no value); text stays as it is."""
    out = table.copy()
    for col in out.columns:
        spec = ".2f" if col == "train time (s)" else ".4g"
        out[col] = [v if isinstance(v, str) else num(v, spec) for v in out[col].tolist()]
    return out


def error_summary(prepared: Prepared, result: dict | None, forecasts: dict | None = None) -> pd.DataFrame:
    """Test RMSE and MAE of every finished run and both baselines (the engine's numbers), as strings.

    Without a result, ``forecasts`` (a paused race's test predictions) are scored with the engine's
    ``regression_metrics``, so a pause shows where each optimizer stands."""
    base = (result or {}).get("baselines") or baseline_metrics(prepared)
    rows = [
        {"model": r["name"], "RMSE": _metric(r.get("test"), "rmse"), "MAE": _metric(r.get("test"), "mae")}
        for r in (result or {}).get("runs", [])
    ]
    if result is None:
        y = np.asarray(prepared.y_test_raw, dtype=np.float64)
        for name, pred in (forecasts or {}).items():
            arr = None if pred is None else np.asarray(pred, dtype=np.float64).reshape(y.shape)
            m = regression_metrics(y, arr) if arr is not None and np.isfinite(arr).all() else None
            rows.append({"model": name, "RMSE": _metric(m, "rmse"), "MAE": _metric(m, "mae")})
    for label, key in (("persistence", "persistence"), ("linear AR", "linear")):
        rows.append({"model": label, "RMSE": _metric(base[key], "rmse"), "MAE": _metric(base[key], "mae")})
    return format_table(pd.DataFrame(rows))


def verdict(result: dict, units: str = "") -> str:
    """One sentence: which optimizer won and whether it beats persistence ("tomorrow = today")."""
    runs = [r for r in result.get("runs", []) if r.get("test") and math.isfinite(_metric(r["test"], "mse"))]
    pers = (result.get("baselines") or {}).get("persistence")
    if not runs:
        return "No optimizer produced a usable model (every run diverged or trained no epoch)."
    best = min(runs, key=lambda r: r["test"]["mse"])
    u = f" {units}" if units and units != "unitless" else ""
    rmse = _metric(best["test"], "rmse")
    head = f"{best['name']} wins with test RMSE {num(rmse)}{u}"
    if not pers or not math.isfinite(_metric(pers, "rmse")):
        return head + "."
    p_rmse = _metric(pers, "rmse")
    if best["test"]["mse"] < pers["mse"]:
        gain = 100 * (1 - rmse / p_rmse) if p_rmse > 0 else float("nan")
        return (f"{head} and beats the naive forecast “tomorrow = today” (RMSE {num(p_rmse)}{u}) by "
                f"{num(gain, '.0f')} %.")  # fmt: skip
    return (
        f"{head}, but does NOT beat the naive forecast “tomorrow = today” (RMSE {num(p_rmse)}{u}): repeating "
        "the last value would have done at least as well."
    )


def _test_values(results: list[dict | None], name: str, key: str) -> np.ndarray:
    """``name``'s test ``key`` in every seed's result (NaN where it diverged, trained no epoch or has no result)."""
    out = []
    for res in results:
        run = next((r for r in (res or {}).get("runs", []) if r["name"] == name), None)
        ok = run is not None and run.get("test") and not run.get("diverged")
        out.append(_metric(run["test"], key) if ok else float("nan"))
    return np.asarray(out, dtype=np.float64)


def _names(results: list[dict | None]) -> list[str]:
    return list(dict.fromkeys(r["name"] for res in results for r in (res or {}).get("runs", [])))


def seed_results_table(results: list[dict | None], seeds: list[int]) -> pd.DataFrame:
    """A race over several seeds: one row per optimizer with every test metric as its median over the seeds and
    its range, "0.2151 (0.2034–0.2410)", and how many seeds finished, diverged or stopped early; then the
    baselines (the same in every seed: they do not train).  The ``winner`` column marks the lowest median MSE."""
    n = len(seeds)
    rows, medians = [], {}
    for name in _names(results):
        row: dict[str, Any] = {"model": name, "kind": "optimizer"}
        for key, label in METRIC_COLUMNS.items():
            v = _test_values(results, name, key)
            ok = v[np.isfinite(v)]
            row[label] = (f"{num(float(np.median(ok)))} ({num(float(ok.min()))}–{num(float(ok.max()))})"
                          if len(ok) else "—")  # fmt: skip
            if key == "mse":
                medians[name] = float(np.median(ok)) if len(ok) else math.inf
        states = []
        for res in results:
            run = next((r for r in (res or {}).get("runs", []) if r["name"] == name), None)
            said = {"early_stopped": "early stop", "stopped": "stopped by user"}
            states.append("no result" if run is None else "diverged" if run.get("diverged") else
                          said.get(run.get("status"), str(run.get("status"))))  # fmt: skip
        counts = pd.Series(states).value_counts(sort=False)
        row["seeds"] = f"{int(np.isfinite(_test_values(results, name, 'mse')).sum())} of {n}"
        row["status"] = ", ".join(f"{c} {st}" for st, c in counts.items())
        rows.append(row)
    base = next((res.get("baselines") for res in results if res and res.get("baselines")), None) or {}
    names = {"persistence": "baseline: persistence (tomorrow = today)", "linear": "baseline: linear autoregression"}
    for k, m in base.items():
        rows.append({"model": names.get(k, f"baseline: {k}"), "kind": "baseline",
                     **{label: num(_metric(m, key)) for key, label in METRIC_COLUMNS.items()},
                     "seeds": "", "status": "the same in every seed"})  # fmt: skip
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df.insert(1, "winner", "")
    if medians and min(medians.values()) < math.inf:
        best = min(medians, key=medians.get)
        df.loc[df["model"] == best, "winner"] = "★ best median"
    return df


VERDICT_CONFIDENCE = 0.9  # the verdict's interval covers at least this (exactly: its level is said)


def seeds_verdict(results: list[dict | None], seeds: list[int], units: str = "") -> tuple[str, str]:
    """``(level, text)``: the verdict of a race over several seeds, from the seeds' paired test RMSE.

    The optimizer with the lowest median test RMSE against the runner-up, seed by seed (same weights, same
    batches): how many seeds each won, the median difference with its distribution-free interval and the exact
    sign-flip test (:func:`gru_core.stats.paired_seeds`); "no clear winner" when the interval covers 0 or too few
    seeds give one at :data:`VERDICT_CONFIDENCE`.  Then the best against "tomorrow = today" in every seed.
    ``level``: "success" (a clear winner that beats persistence), else "warning"."""
    u = f" {units}" if units and units != "unitless" else ""
    n = len(seeds)
    names = _names(results)
    rmse = {name: _test_values(results, name, "rmse") for name in names}
    usable = {k: v for k, v in rmse.items() if np.isfinite(v).any()}
    if not usable:
        return "warning", f"Over {n} seeds, no optimizer produced a usable model (every run diverged)."
    ranked = sorted(usable, key=lambda k: float(np.nanmedian(usable[k])))
    best = ranked[0]
    parts = []
    if len(names) >= 2:
        other = ranked[1] if len(ranked) > 1 else next(k for k in names if k != best)
        pc = paired_seeds(rmse[best], rmse[other], lower=True, confidence=VERDICT_CONFIDENCE)
        won = f"{best} had the lower test RMSE in {pc['wins_a']} of {n} seeds, {other} in {pc['wins_b']}"
        if pc["ties"]:
            won += f" ({pc['ties']} tied)"
        if pc["n_excluded"]:
            won += f"; {pc['n_excluded']} seed(s) where one of them diverged are left out of the pairs"
        parts.append(f"Over {n} seeds (same weights and batches for both in each seed), {won}.")
        if pc["n"] >= 2:
            stat = (f"median difference {best} − {other}: {signed(pc['median_diff'])}{u} "
                    f"({pc['ci_level']:.0%} interval {num(pc['ci_low'])} to {num(pc['ci_high'])}; paired sign-flip "
                    f"test p = {num(pc['p_value'], '.2g')})")  # fmt: skip
            if pc["clear"]:
                parts.append(f"{best} wins: {stat}, an interval that excludes 0.")
            elif pc["ci_level"] < VERDICT_CONFIDENCE:
                parts.append(f"No clear winner yet: {stat}; {pc['n']} paired seeds cannot give a "
                             f"{VERDICT_CONFIDENCE:.0%} interval, race more seeds.")  # fmt: skip
            else:
                parts.append(f"No clear winner: {stat}, an interval that covers 0 — the difference is within the "
                             "spread between seeds.")  # fmt: skip
        else:
            pc = {"clear": False}
            parts.append("Too few seeds where both trained to compare them.")
        if len(names) > 2:
            wins = {k: 0 for k in names}
            for i in range(n):
                col = {k: v[i] for k, v in rmse.items() if math.isfinite(v[i])}
                if col:
                    wins[min(col, key=col.get)] += 1
            parts.append("Seeds won (lowest test RMSE): " + ", ".join(f"{k} {w}" for k, w in wins.items()) + ".")
    else:
        pc = {"clear": False}
    base = next((res.get("baselines") for res in results if res and res.get("baselines")), None) or {}
    pers = _metric(base.get("persistence"), "rmse")
    beats = False
    if math.isfinite(pers):
        v = usable[best]
        k = int((v[np.isfinite(v)] < pers).sum())
        beats = k > np.isfinite(v).sum() / 2
        parts.append(f"Tomorrow = today scores RMSE {num(pers)}{u}: {best} (median {num(float(np.nanmedian(v)))}{u}) "
                     f"beats it in {k} of {int(np.isfinite(v).sum())} seeds.")  # fmt: skip
    return ("success" if pc["clear"] and beats else "warning"), " ".join(parts)


CURVE_COLUMNS = ["optimizer", "epoch", "step", "train_loss", "val_loss", "grad_norm", "update_norm", "update_ratio",
                 "lr", "seconds"]  # fmt: skip


def curves_csv(history: dict[str, list[dict]], seeds: list[tuple[int, dict[str, list[dict]]]] | None = None) -> str:
    """Every run's per-epoch history as one long CSV (one row per optimizer and epoch); with ``seeds`` (``(seed,
    history)`` pairs of a race over several seeds) one row per seed, optimizer and epoch, with a ``seed`` column."""
    if seeds:
        rows = [{"seed": seed, "optimizer": name, **rec} for seed, h in seeds for name, recs in h.items()
                for rec in recs]  # fmt: skip
        columns = ["seed", *CURVE_COLUMNS]
    else:
        rows = [{"optimizer": name, **rec} for name, recs in history.items() for rec in recs]
        columns = CURVE_COLUMNS
    buf = io.StringIO()
    pd.DataFrame(rows, columns=columns).to_csv(buf, index=False)
    return buf.getvalue()


def metrics_csv(table: pd.DataFrame, units: str = "", seeds: list[tuple[int, dict | None]] | None = None) -> str:
    """The results table as CSV; with ``seeds`` (``(seed, result)`` pairs) every seed's table, one under the other,
    with a ``seed`` column (numbers, not the page's "median (range)" text)."""
    buf = io.StringIO()
    if seeds:
        parts = []
        for seed, res in seeds:
            if res is not None:
                one = results_table(res)
                one.insert(0, "seed", seed)
                parts.append(one)
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    else:
        df = table.copy()
    df.insert(len(df.columns), "units", units or "")
    df.to_csv(buf, index=False)
    return buf.getvalue()


def run_json(handle: RaceHandle, snap: Snapshot) -> str:
    """The whole run: configuration (also as the URL query, learning-rate changes and seeds included, so
    :func:`config_from_run_json` replays it), data description, histories, learning-rate changes, pauses
    and metrics (a race over several seeds: every seed's, under ``per_seed``)."""
    p = handle.prepared
    payload = {
        "app": "GRU Optimizer Lab",
        "config": share_config(handle, snap).to_dict(),
        "query": share_query(handle, snap),
        "steps_per_epoch": handle.n_batches,
        "interventions": snap.interventions,
        "pauses": snap.pauses,
        "initial_weights": handle.initial_from,
        "data": {"name": handle.series_name, "units": handle.units, "length": int(len(p.raw)), "windows": p.sizes,
                 "notes": list(p.notes)},  # fmt: skip
        "status": snap.status,
        "elapsed_seconds": snap.elapsed,
        "history": snap.history,
        "result": snap.result,
        "error": snap.error,
    }
    if snap.per_seed:  # a race over several seeds: the above is the shown seed's; here is every seed's
        payload["seeds"] = list(snap.seeds or [])
        payload["per_seed"] = [{"seed": seed, "status": s.status, "elapsed_seconds": s.elapsed, "history": s.history,
                                "result": s.result, "error": s.error}
                               for seed, s in zip(snap.seeds or [], snap.per_seed)]  # fmt: skip
    return json.dumps(to_jsonable(payload), indent=1)


def config_from_run_json(text: str | bytes) -> tuple[RunConfig, list[str]]:
    """The configuration of a run exported by :func:`run_json` (its ``query``, learning-rate changes
    included), plus notices.  Never raises: unreadable input gives the page's defaults and a notice."""
    try:
        payload = json.loads(text)
        query = payload["query"]
        if not isinstance(query, dict):
            raise TypeError("query is not an object")
    except (ValueError, TypeError, KeyError) as exc:
        return default_config(), [f"not a run exported by this app ({type(exc).__name__})"]
    return page_query(query)
