"""From a :class:`~gru_ui.state.LabConfig` to a running race, and from a finished race to tables and files.

No Streamlit import.  Everything numerical is the engine's: this module only calls ``gru_core``
(``load_dataset``, ``load_csv``, ``prepare``, ``Race``, ``LiveRace``, the baselines) and rearranges its
answers for display and export.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core.cli import to_jsonable
from gru_core.data import CsvColumns, DataError, Prepared, csv_columns, load_csv, prepare
from gru_core.datasets import DATASETS, load_dataset
from gru_core.gru import GRUConfig
from gru_core.live import LiveRace, Snapshot
from gru_core.metrics import baseline_metrics, linear_ar_forecast, persistence_forecast
from gru_core.optim import make_optimizer
from gru_core.train import Contestant, Race, TrainConfig

from . import state as S

__all__ = [
    "RaceHandle",
    "Upload",
    "active_races",
    "build_race",
    "check_config",
    "curves_csv",
    "error_summary",
    "forecast_data",
    "format_table",
    "heartbeat",
    "metrics_csv",
    "read_upload",
    "results_table",
    "run_json",
    "start_race",
    "stop_orphans",
    "verdict",
]

METRIC_COLUMNS = {"mse": "MSE", "rmse": "RMSE", "mae": "MAE", "mape": "MAPE %", "r2": "R²"}


# ----------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Upload:
    """What became of an uploaded CSV: its columns (for the pickers) and the series, or an error."""

    name: str
    digest: str
    columns: CsvColumns | None = None
    series: pd.Series | None = None
    error: str | None = None


def read_upload(
    data: bytes, name: str = "upload.csv", value_column: str | None = None, date_column: str | None = None
) -> Upload:
    """Read an uploaded CSV (bytes) into a series; any problem becomes ``error`` (a message for the user).

    ``date_column=""`` means "no date column" (the values are indexed by row).  Size and row limits are
    :data:`gru_ui.state.LIMITS` ``upload_mb`` and ``rows``.
    """
    digest = hashlib.sha256(data).hexdigest()[:16]
    up = Upload(name=name, digest=digest)
    limit = S.LIMITS["upload_mb"] * 1024 * 1024
    if len(data) > limit:
        up.error = (
            f"{name} is {len(data) / 1024 / 1024:.1f} MB; the limit is {S.LIMITS['upload_mb']} MB. "
            "Use a shorter file (for example the most recent rows)."
        )
        return up
    source = io.BytesIO(data)
    source.name = name  # the engine's messages then name the file ("prices.csv looks like …")
    try:
        up.columns = csv_columns(source, max_rows=S.LIMITS["rows"])
        value = value_column if value_column in (up.columns.numeric_columns or []) else None
        if date_column == "":
            series = load_csv(source, value_column=value, date_column=None, max_rows=S.LIMITS["rows"])
            if series.attrs.get("date_column"):  # the loader guessed one; the user said "none"
                series = series.reset_index(drop=True)
                series.attrs["date_column"] = None
        else:
            date = date_column if date_column in up.columns.columns else None
            series = load_csv(source, value_column=value, date_column=date, max_rows=S.LIMITS["rows"])
        series.attrs["source"] = name
        up.series = series
    except DataError as exc:
        up.error = str(exc)
    except (
        ValueError,
        TypeError,
        UnicodeError,
        MemoryError,
    ) as exc:  # anything else is still the file's fault
        up.error = f"{name} could not be read as a CSV time series ({type(exc).__name__}: {exc})."
    return up


def load_registry_series(key: str) -> pd.Series:
    """A registry series (synthetic or real) with its default parameters."""
    if key not in S.series_datasets():
        raise DataError(f"Unknown dataset {key!r}.")
    return load_dataset(key)


def series_units(series: pd.Series) -> str:
    return str(series.attrs.get("units", "") or "")


def series_label(series: pd.Series) -> str:
    return str(series.attrs.get("name") or series.name or "series")


def check_config(cfg: S.LabConfig, series: pd.Series | None) -> tuple[Prepared | None, list[str]]:
    """Everything that would make the race fail, found before training: (prepared data, problems).

    Calls the engine's ``prepare`` (which explains a too-short series) and builds every optimizer once.
    """
    problems: list[str] = []
    if not cfg.optimizers:
        problems.append("Add at least one optimizer.")
    if len(cfg.optimizers) > S.LIMITS["optimizers"]:
        problems.append(f"At most {S.LIMITS['optimizers']} optimizers race at once; remove some.")
    for label, e in zip(S.contestant_labels(cfg.optimizers), cfg.optimizers):
        try:
            make_optimizer(e.key, flavor=e.flavor, **e.full_hyper())
        except (ValueError, TypeError) as exc:
            problems.append(f"{label}: {exc}")
    if cfg.train_pct + cfg.val_pct > 95:
        problems.append(
            "The test part must keep at least 5 % of the series: lower the train or validation share."
        )
    if series is None:
        return None, problems
    n = len(series)
    if n * cfg.lookback > S.LIMITS["window_values"]:
        problems.append(
            f"{n:,} values × lookback {cfg.lookback} = {n * cfg.lookback:,} window values; the limit is "
            f"{S.LIMITS['window_values']:,}. Use a smaller lookback (at most "
            f"{S.LIMITS['window_values'] // n}) or a shorter series."
        )
        return None, problems
    try:
        prepared = prepare(
            series,
            lookback=cfg.lookback,
            horizon=cfg.horizon,
            split=cfg.split,
            scaler=cfg.scaler,
            fit_scaler_on=cfg.fit_on,
        )
    except DataError as exc:
        problems.append(str(exc))
        return None, problems
    if cfg.val_pct > 0 and len(prepared.y_val) == 0:
        problems.append("The validation part is empty: raise its share or use a longer series.")
    return prepared, problems


# ----------------------------------------------------------------------------------------------------------
# races
# ----------------------------------------------------------------------------------------------------------


def build_race(prepared: Prepared, cfg: S.LabConfig) -> Race:
    """The engine's Race for a configuration (raises ValueError for what check_config could not see)."""
    labels = S.contestant_labels(cfg.optimizers)
    contestants = [
        Contestant(e.key, flavor=e.flavor, hyper=e.full_hyper(), label=label)
        for e, label in zip(cfg.optimizers, labels)
    ]
    model = GRUConfig(
        input_size=1,
        hidden_size=cfg.hidden,
        output_size=cfg.horizon,
        num_layers=cfg.layers,
        variant=cfg.variant,
        init=cfg.init,
        dropout=cfg.dropout,
        dtype=cfg.dtype,
        seed=cfg.seed,
    )
    n_batches = math.ceil(len(prepared.X_train) / cfg.batch)
    # Long epochs also report every few mini-batches, so the status columns move within an epoch.
    log_every = max(1, n_batches // 8) if n_batches >= 40 else 0
    train = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch,
        patience=cfg.patience or None,
        restore_best=cfg.restore_best,
        clip_norm=cfg.clip or None,
        shuffle=True,
        seed=cfg.seed,
        schedule=cfg.schedule,
        log_every=log_every,
    )
    return Race(prepared, model, contestants, train)


_ACTIVE: weakref.WeakSet[LiveRace] = weakref.WeakSet()
_LAST_SEEN: weakref.WeakKeyDictionary[LiveRace, float] = weakref.WeakKeyDictionary()
_ACTIVE_LOCK = threading.Lock()
_WATCHDOG: threading.Thread | None = None


def active_races() -> int:
    """Races training right now on this server (all sessions)."""
    with _ACTIVE_LOCK:
        return sum(1 for live in list(_ACTIVE) if live.running)


def heartbeat(live: LiveRace) -> None:
    """The page is still watching this race (called by every live redraw)."""
    with _ACTIVE_LOCK:
        _LAST_SEEN[live] = time.monotonic()


def stop_orphans(max_silence: float | None = None) -> int:
    """Stop races nobody has looked at for ``max_silence`` seconds (a closed tab); return how many.

    A visible tab redraws every half second and even a hidden one (throttled by the browser) at least
    once a minute, so the default, ``LIMITS["orphan_seconds"]``, only catches tabs that are gone.
    """
    limit = S.LIMITS["orphan_seconds"] if max_silence is None else max_silence
    now = time.monotonic()
    stopped = 0
    with _ACTIVE_LOCK:
        for live in list(_ACTIVE):
            if live.running and now - _LAST_SEEN.get(live, now) > limit:
                live.stop()
                stopped += 1
    return stopped


def _watchdog() -> None:
    while True:
        time.sleep(5.0)
        try:
            stop_orphans()
        except Exception:  # noqa: BLE001 - the watchdog must never die
            pass


def _ensure_watchdog() -> None:
    global _WATCHDOG
    with _ACTIVE_LOCK:
        if _WATCHDOG is None or not _WATCHDOG.is_alive():
            _WATCHDOG = threading.Thread(target=_watchdog, name="gru-lab-watchdog", daemon=True)
            _WATCHDOG.start()


@dataclass
class RaceHandle:
    """One browser session's race: the LiveRace plus what the page needs to draw and export it.

    Stored in ``st.session_state``; when the session ends and the handle is garbage-collected, a
    finalizer stops the worker thread (a closed tab does not train on).
    """

    live: LiveRace
    cfg: S.LabConfig
    key: str  # state.config_key of the configuration that started it
    query: dict[str, Any]  # the configuration as URL query parameters
    labels: list[str]
    colors: dict[str, str]
    prepared: Prepared
    series_name: str
    units: str
    n_batches: int
    started: float = field(default_factory=time.time)
    final_drawn: bool = False  # a full page run completed after the race ended (the timers are off)
    redraw_ms: float | None = None  # smoothed wall time of one redraw of the live curves
    gates_ms: float | None = None  # … and of the gate heatmaps
    fig_cache: dict[str, Any] = field(default_factory=dict)  # slot -> (what it shows, figure)
    exports: dict[str, Any] | None = None  # built once when the race has ended

    @property
    def race(self) -> Race:
        return self.live.race


def start_race(
    prepared: Prepared,
    cfg: S.LabConfig,
    key: str,
    series: pd.Series,
    colors: dict[str, str],
    max_races: int | None = None,
) -> RaceHandle:
    """Build and start a race in its own thread.  Raises RuntimeError when the server is at its limit."""
    limit = S.LIMITS["max_races"] if max_races is None else max_races
    race = build_race(prepared, cfg)
    live = LiveRace(race)
    with _ACTIVE_LOCK:
        running = sum(1 for lv in list(_ACTIVE) if lv.running)
        if running >= limit:
            raise RuntimeError(
                f"The server is busy: {running} races are training right now (limit {limit}). "
                "Try again in a minute."
            )
        live.start()
        _ACTIVE.add(live)
        _LAST_SEEN[live] = time.monotonic()
    _ensure_watchdog()
    handle = RaceHandle(
        live=live,
        cfg=cfg,
        key=key,
        query=S.encode_query(cfg),
        labels=list(race.runs),
        colors=colors,
        prepared=prepared,
        series_name=series_label(series),
        units=series_units(series),
        n_batches=math.ceil(len(prepared.X_train) / cfg.batch),
    )
    weakref.finalize(handle, live.stop)  # the session is gone: stop training for nobody
    return handle


def progress(handle: RaceHandle, snap: Snapshot, name: str) -> float:
    """Fraction of one contestant's planned training done: steps while it runs, epochs once it stopped."""
    run = snap.runs.get(name) or {}
    total = max(1, snap.total_epochs)
    if run.get("status") == "finished":
        return 1.0
    if run.get("status") in (None, "running"):
        return min(1.0, snap.step / max(1, handle.n_batches * total))
    return min(1.0, (run.get("epoch") or 0) / total)


def steps_per_second(snap: Snapshot) -> float | None:
    return snap.step / snap.elapsed if snap.elapsed > 0 and snap.step else None


# ----------------------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------------------


def forecast_data(prepared: Prepared, result: dict | None, step: int = 0) -> dict[str, Any]:
    """What the forecast chart draws, in the series' units: x (dates or positions), truth, the baselines'
    forecasts (the engine's persistence and linear-AR functions) and each run's forecast (from the
    engine's result; None while training or for a diverged run), all at horizon step ``step``."""
    x = np.asarray(prepared.target_index("test", step))
    truth = np.asarray(prepared.y_test_raw)[:, step]
    baselines = {
        "persistence": persistence_forecast(prepared.X_test_raw, prepared.horizon)[:, step],
        "linear": linear_ar_forecast(prepared.X_train_raw, prepared.y_train_raw, prepared.X_test_raw)[
            :, step
        ],
    }
    preds: dict[str, Any] = {}
    for run in (result or {}).get("runs", []):
        pred = run.get("test_pred")
        preds[run["name"]] = None if pred is None else np.asarray(pred, dtype=np.float64)[:, step]
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
        rows.append(
            {
                "model": run["name"],
                "kind": "optimizer",
                **{label: _metric(m, k) for k, label in METRIC_COLUMNS.items()},
                "best epoch": run.get("best_epoch"),
                "stopped at epoch": run.get("stopped_epoch"),
                "train time (s)": float(run.get("seconds") or 0.0),
                "status": note,
            }
        )
    base = baselines if baselines is not None else result.get("baselines", {})
    names = {
        "persistence": "baseline: persistence (tomorrow = today)",
        "linear": "baseline: linear autoregression",
    }
    for k, m in (base or {}).items():
        rows.append(
            {
                "model": names.get(k, f"baseline: {k}"),
                "kind": "baseline",
                **{label: _metric(m, key) for key, label in METRIC_COLUMNS.items()},
                "best epoch": None,
                "stopped at epoch": None,
                "train time (s)": None,
                "status": "",
            }
        )
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


def _cell(v: Any, spec: str = ".4g") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or v is pd.NA:
        return "—"
    try:
        if pd.isna(v):
            return "—"
    except (TypeError, ValueError):
        pass
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format(float(v), spec)
    return str(v)


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The results table as display strings: 4 significant digits, "—" where there is no value."""
    out = table.copy()
    for col in out.columns:
        spec = ".2f" if col == "train time (s)" else ".4g"
        out[col] = [_cell(v, spec) for v in out[col].tolist()]
    return out


def error_summary(prepared: Prepared, result: dict | None) -> pd.DataFrame:
    """Test RMSE and MAE of every finished run and both baselines (the engine's numbers), as strings."""
    base = (result or {}).get("baselines") or baseline_metrics(prepared)
    rows = [
        {"model": r["name"], "RMSE": _metric(r.get("test"), "rmse"), "MAE": _metric(r.get("test"), "mae")}
        for r in (result or {}).get("runs", [])
    ]
    rows.append(
        {
            "model": "persistence",
            "RMSE": _metric(base["persistence"], "rmse"),
            "MAE": _metric(base["persistence"], "mae"),
        }
    )
    rows.append(
        {"model": "linear AR", "RMSE": _metric(base["linear"], "rmse"), "MAE": _metric(base["linear"], "mae")}
    )
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
    head = f"{best['name']} wins with test RMSE {rmse:.4g}{u}"
    if not pers or not math.isfinite(_metric(pers, "rmse")):
        return head + "."
    p_rmse = _metric(pers, "rmse")
    if best["test"]["mse"] < pers["mse"]:
        gain = 100 * (1 - rmse / p_rmse) if p_rmse > 0 else float("nan")
        return (
            f"{head} and beats the naive forecast “tomorrow = today” (RMSE {p_rmse:.4g}{u}) by {gain:.0f} %."
        )
    return (
        f"{head}, but does NOT beat the naive forecast “tomorrow = today” (RMSE {p_rmse:.4g}{u}): repeating "
        "the last value would have done at least as well."
    )


def curves_csv(history: dict[str, list[dict]]) -> str:
    """Every run's per-epoch history as one long CSV (one row per optimizer and epoch)."""
    rows = [{"optimizer": name, **rec} for name, recs in history.items() for rec in recs]
    cols = [
        "optimizer",
        "epoch",
        "step",
        "train_loss",
        "val_loss",
        "grad_norm",
        "update_norm",
        "update_ratio",
        "lr",
        "seconds",
    ]
    df = pd.DataFrame(rows, columns=cols)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def metrics_csv(table: pd.DataFrame, units: str = "") -> str:
    buf = io.StringIO()
    df = table.copy()
    df.insert(len(df.columns), "units", units or "")
    df.to_csv(buf, index=False)
    return buf.getvalue()


def run_json(handle: RaceHandle, snap: Snapshot) -> str:
    """The whole run: configuration (also as the URL query), data description, histories and metrics."""
    p = handle.prepared
    payload = {
        "app": "GRU Optimizer Lab",
        "config": handle.cfg.to_dict(),
        "query": handle.query,
        "data": {
            "name": handle.series_name,
            "units": handle.units,
            "length": int(len(p.raw)),
            "windows": p.sizes,
            "notes": list(p.notes),
        },
        "status": snap.status,
        "elapsed_seconds": snap.elapsed,
        "history": snap.history,
        "result": snap.result,
        "error": snap.error,
    }
    return json.dumps(to_jsonable(payload), indent=1)


def dataset_description(key: str) -> str:
    spec = DATASETS.get(key)
    if spec is None:
        return ""
    units = f" Units: {spec.units}." if spec.units else ""
    return f"{spec.description}{units} Source: {spec.source}."
