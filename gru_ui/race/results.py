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
from gru_core.fmt import num
from gru_core.jsonio import to_jsonable
from gru_core.train.live import Snapshot

from .changes import share_config, share_query
from .session import RaceHandle
from .settings import default_config, page_query

__all__ = ["METRIC_COLUMNS", "config_from_run_json", "curves_csv", "error_summary", "forecast_data",
           "format_table", "metrics_csv", "results_table", "run_json", "verdict"]  # fmt: skip

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


CURVE_COLUMNS = ["optimizer", "epoch", "step", "train_loss", "val_loss", "grad_norm", "update_norm", "update_ratio",
                 "lr", "seconds"]  # fmt: skip


def curves_csv(history: dict[str, list[dict]]) -> str:
    """Every run's per-epoch history as one long CSV (one row per optimizer and epoch)."""
    rows = [{"optimizer": name, **rec} for name, recs in history.items() for rec in recs]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=CURVE_COLUMNS).to_csv(buf, index=False)
    return buf.getvalue()


def metrics_csv(table: pd.DataFrame, units: str = "") -> str:
    buf = io.StringIO()
    df = table.copy()
    df.insert(len(df.columns), "units", units or "")
    df.to_csv(buf, index=False)
    return buf.getvalue()


def run_json(handle: RaceHandle, snap: Snapshot) -> str:
    """The whole run: configuration (also as the URL query, learning-rate changes included, so
    :func:`config_from_run_json` replays it), data description, histories, learning-rate changes, pauses
    and metrics."""
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
