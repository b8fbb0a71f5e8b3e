"""From a :class:`~gru_ui.state.LabConfig` to a running race, and from a finished race to tables and files.

No Streamlit import.  Everything numerical is the engine's: this module only calls ``gru_core``
(``load_dataset``, ``load_csv``, ``prepare``, ``Race``, ``LiveRace``, the baselines, ``save_model`` /
``load_model``) and rearranges its answers for display and export.

It also holds what the page does at every live redraw that is not Streamlit (:func:`loss_figure`,
:func:`cached_figure`), so ``bench/bench_longrun.py`` measures the page's own code path without a browser.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import itertools
import json
import math
import threading
import time
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core.data import CsvColumns, DataError, Prepared, csv_columns, load_csv, prepare
from gru_core.data.datasets import DATASETS, load_dataset
from gru_core.data.metrics import baseline_metrics, linear_ar_forecast, persistence_forecast, regression_metrics
from gru_core.jsonio import to_jsonable
from gru_core.model.files import Checkpoint, CheckpointError, ModelInfo, load_model, save_model_bytes
from gru_core.model.gru import GRUConfig, GRURegressor
from gru_core.optim import OPTIMIZERS, make_optimizer
from gru_core.train import Contestant, Race, TrainConfig
from gru_core.train.live import LiveRace, Snapshot

from . import figures as F
from . import state as S

__all__ = [
    "ModelUpload",
    "RaceHandle",
    "Upload",
    "active_races",
    "build_race",
    "cached_figure",
    "check_config",
    "config_from_run_json",
    "curves_csv",
    "error_summary",
    "forecast_data",
    "format_table",
    "heartbeat",
    "loss_figure",
    "metrics_csv",
    "model_file",
    "read_model_upload",
    "read_upload",
    "results_table",
    "run_json",
    "set_lr",
    "share_query",
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
            split_by=cfg.split_by,
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


def build_race(prepared: Prepared, cfg: S.LabConfig, initial: ModelUpload | None = None) -> Race:
    """The engine's Race for a configuration (raises ValueError for what check_config could not see).

    ``cfg.interventions`` are replayed exactly.  ``initial`` (an uploaded model that
    :func:`model_fits` the configuration) gives every contestant its weights, and its optimizer state to
    the contestants of the same optimizer and flavour, when the engine supports it
    (:func:`engine_can_continue`); otherwise it is ignored."""
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
    extra: dict[str, Any] = {}
    if initial is not None and initial.checkpoint is not None and engine_can_continue():
        params, states = initial_state(initial, cfg)
        extra = {"initial_params": params, "initial_optimizer_states": states}
    interventions = [dict(iv) for iv in cfg.interventions] or None
    return Race(prepared, model, contestants, train, interventions=interventions, **extra)


def engine_can_continue() -> bool:
    """Does the engine's Race accept ``initial_params`` (continue training an uploaded model)?"""
    try:
        return "initial_params" in inspect.signature(Race.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


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
    rid: int = field(default_factory=itertools.count(1).__next__)  # distinct per race: widget keys
    initial_from: str | None = None  # the uploaded model file this race continued from
    final_drawn: bool = False  # a full page run completed after the race ended (the timers are off)
    drawn_status: str | None = None  # the race's status when the last full page run drew the controls
    asked: list[dict] = field(default_factory=list)  # learning rates changed on the page (see set_lr)
    iv_seen: int = 0  # interventions already copied into the page's replay list
    lr_shown: dict[str, float] = field(default_factory=dict)  # name -> lr the live control was synced to
    models: dict[str, Any] | None = None  # copies of the trained models, taken while nothing trains
    redraw_ms: float | None = None  # smoothed wall time of one redraw of the live curves
    gates_ms: float | None = None  # … and of the gate heatmaps
    fig_cache: dict[str, Any] = field(default_factory=dict)  # slot -> (key, figure, built at, cost, style)
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
    initial: ModelUpload | None = None,
) -> RaceHandle:
    """Build and start a race in its own thread.  Raises RuntimeError when the server is at its limit.

    ``initial``: an uploaded model to continue from (see :func:`build_race`)."""
    limit = S.LIMITS["max_races"] if max_races is None else max_races
    race = build_race(prepared, cfg, initial)
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
        initial_from=initial.name if initial is not None and engine_can_continue() else None,
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
        "linear": linear_ar_forecast(prepared.X_train_raw, prepared.y_train_raw, prepared.X_test_raw)[
            :, step
        ],
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


def config_from_run_json(text: str | bytes) -> tuple[S.LabConfig, list[str]]:
    """The configuration of a run exported by :func:`run_json` (its ``query``, learning-rate changes
    included), plus notices.  Never raises: unreadable input gives the defaults and a notice."""
    try:
        payload = json.loads(text)
        query = payload["query"]
        if not isinstance(query, dict):
            raise TypeError("query is not an object")
    except (ValueError, TypeError, KeyError) as exc:
        return S.default_config(), [f"not a run exported by this app ({type(exc).__name__})"]
    return S.decode_query(query)


# ----------------------------------------------------------------------------------------------------------
# classroom control: learning rates changed mid-race, pauses
# ----------------------------------------------------------------------------------------------------------


def is_training(snap: Snapshot) -> bool:
    """True while the worker may be updating the models (running and not halted in a pause)."""
    return snap.status in ("running", "idle")


def set_lr(handle: RaceHandle, name: str, value: float) -> None:
    """Change one contestant's learning rate from the next mini-batch on (the engine records it)."""
    snap = handle.live.snapshot()
    old = base_lrs(handle, snap).get(name)
    handle.live.set_lr(name, value)
    handle.asked.append({"optimizer": name, "new": float(value), "old": old, "step": snap.step + 1})


def base_lrs(handle: RaceHandle, snap: Snapshot) -> dict[str, float]:
    """Each contestant's learning rate before any schedule: its configured value, then every applied
    change in order (asked-for changes not applied yet are in :func:`pending_changes`)."""
    out = {name: float(run.contestant.hyper.get("lr", run.opt.lr)) for name, run in handle.race.runs.items()}
    for iv in snap.interventions:
        if iv.get("field", "lr") == "lr" and iv.get("optimizer") in out:
            out[iv["optimizer"]] = float(iv["new"])
    for iv in pending_changes(handle, snap):
        out[iv["optimizer"]] = float(iv["new"])
    return out


def pending_changes(handle: RaceHandle, snap: Snapshot) -> list[dict]:
    """Learning rates asked for on the page that the engine has not applied yet (it applies them
    before the next mini-batch): each asked change is matched, in order, to an applied one."""
    applied = [iv for iv in snap.interventions if iv.get("field", "lr") == "lr"]
    used = [False] * len(applied)
    pending = []
    for a in handle.asked:
        for i, iv in enumerate(applied):
            if not used[i] and iv["optimizer"] == a["optimizer"] and iv["new"] == a["new"] and iv["step"] >= a["step"]:
                used[i] = True
                break
        else:
            pending.append({**a, "pending": True, "field": "lr"})
    return pending


def merge_changes(interventions: list[dict]) -> list[dict]:
    """One change per optimizer and step: a teacher sliding 0.001 → 0.002 → 0.005 during one pause makes
    several changes that all take effect before the same mini-batch; they act as one, 0.001 → 0.005 (the
    first ``old``, the last ``new``), and are drawn, described and shared as one.  Order is kept."""
    out: list[dict] = []
    index: dict[tuple, int] = {}
    for iv in interventions:
        k = (iv.get("optimizer"), iv.get("step"), bool(iv.get("pending")))
        if k in index:
            out[index[k]] = {**out[index[k]], "new": iv["new"]}
        else:
            index[k] = len(out)
            out.append(dict(iv))
    return out


def share_config(handle: RaceHandle, snap: Snapshot) -> S.LabConfig:
    """The run's configuration with every learning-rate change it made (a link to it replays them)."""
    from dataclasses import replace

    applied = [
        {"step": int(iv["step"]), "optimizer": iv["optimizer"], "field": "lr", "new": float(iv["new"])}
        for iv in merge_changes(list(snap.interventions))
        if iv.get("field", "lr") == "lr"
    ]
    # replayed changes the race has not reached yet stay in the link (a change for step s is applied just
    # before step s runs, so every one with step <= snap.step is among the applied ones)
    ahead = [dict(iv) for iv in handle.cfg.interventions if int(iv["step"]) > snap.step]
    return replace(handle.cfg, interventions=applied + ahead)


def share_query(handle: RaceHandle, snap: Snapshot) -> dict[str, Any]:
    """The URL query parameters that replay this run (learning-rate changes included)."""
    return S.encode_query(share_config(handle, snap))


def describe_interventions(interventions: list[dict], steps_per_epoch: int | None = None) -> list[str]:
    """One line per learning-rate change: "Adam: lr → 0.05 from step 123 (epoch 4.9)"."""
    out = []
    for iv in interventions:
        where = f"from step {int(iv['step'])}"
        if steps_per_epoch:
            where += f" (epoch {F.step_to_epoch(int(iv['step']) - 1, steps_per_epoch):.2f})"
        old = iv.get("old")
        was = f"{float(old):.3g} → " if old is not None and math.isfinite(float(old)) else "→ "
        out.append(f"{iv['optimizer']}: lr {was}{float(iv['new']):.3g} {where}")
    return out


# ----------------------------------------------------------------------------------------------------------
# live figures (the page's redraw path, shared with bench/bench_longrun.py)
# ----------------------------------------------------------------------------------------------------------

REBUILD_FACTOR = 5.0  # a live figure is rebuilt at most once per 5× its building time
LIVE_INTERVAL = 0.5  # seconds between redraws of the loss curves and status columns while a race runs
GATES_INTERVAL = 1.5  # seconds between redraws of the gate heatmaps (they change once per epoch)
PAUSED_INTERVAL = 2.0  # while paused nothing trains: the curves are looked at (and kept alive) less often


def cached_figure(
    handle: RaceHandle,
    slot: str,
    key: Any,
    build: Any,
    live: bool = True,
    update: Any = None,
    style: Any = None,
) -> Any:
    """The figure for ``slot``, rebuilt only when ``key`` (what it shows) changed.

    An unchanged figure is sent again as it was: no building, and the browser has nothing to redraw.
    ``update(old_figure)`` may refresh the old figure in place instead of building a new one (it returns
    None when it cannot); only while ``style`` (how it is drawn: layer, presentation mode, …; part of
    ``key`` too) is the one the old figure was built with.  While the race runs, a figure is also not
    rebuilt sooner than ``REBUILD_FACTOR`` times its own building time after the last build, so on a slow
    machine drawing never takes more than a fifth of the time and the training thread keeps the CPU.
    """
    now = time.perf_counter()
    hit = handle.fig_cache.get(slot)
    if hit is not None:
        old_key, fig, built_at, cost, old_style = hit
        if old_key == key or (live and old_style == style and now - built_at < REBUILD_FACTOR * cost):
            return fig
        if update is not None and old_style == style and update(fig) is not None:
            handle.fig_cache[slot] = (key, fig, now, time.perf_counter() - now, style)
            return fig
    fig = build()
    handle.fig_cache[slot] = (key, fig, now, time.perf_counter() - now, style)
    return fig


def figure_json(handle: RaceHandle, slot: str, fig: Any) -> str:
    """``fig.to_json()``, computed once per figure of ``slot`` (a live chart is re-sent at every redraw;
    an unchanged figure is not serialised again)."""
    hit = handle.fig_cache.get(f"{slot}.json")
    if hit is not None and hit[0] is fig:
        return hit[1]
    text = fig.to_json()
    handle.fig_cache[f"{slot}.json"] = (fig, text)
    return text


LIVE_STATUSES = ("running", "paused")


def changes(handle: RaceHandle, snap: Snapshot) -> list[dict]:
    """Every learning-rate change of the race for display: applied ones, then pending ones (``pending``),
    merged per optimizer and step (:func:`merge_changes`)."""
    return merge_changes([dict(iv) for iv in snap.interventions] + pending_changes(handle, snap))


_marks = changes


def loss_key(handle: RaceHandle, snap: Snapshot, log_y: bool, smooth: float, present: bool) -> tuple:
    """Everything the loss chart shows: it is rebuilt only when this changes."""
    return (
        snap.status,
        tuple((n, len(h)) for n, h in snap.history.items()),
        tuple(
            (n, r.get("status"), r.get("best_epoch"), r.get("diverged_step")) for n, r in snap.runs.items()
        ),
        tuple((iv["optimizer"], iv["step"], iv["new"], bool(iv.get("pending"))) for iv in _marks(handle, snap)),
        tuple((p["step"], p["changed"]) for p in snap.pauses if p.get("changed")),
        log_y,
        smooth,
        present,
    )


def loss_figure(handle: RaceHandle, snap: Snapshot, log_y: bool, smooth: float, present: bool = False):
    """The live loss chart of the page: curves (thinned to ``F.MAX_POINTS``), best / early-stop /
    divergence markers, learning-rate changes (applied and pending) and the pauses that changed something."""
    fig = F.loss_curves(
        snap.history,
        log_y=log_y,
        smooth=smooth,
        markers=snap.runs,
        colors=handle.colors,
        total_epochs=snap.total_epochs if snap.status in LIVE_STATUSES else None,
        interventions=_marks(handle, snap),
        pauses=snap.pauses,
        steps_per_epoch=handle.n_batches,
    )
    return F.present(fig, present)


def gate_key(snap: Snapshot, layer: int, present: bool) -> tuple:
    return (snap.status, snap.step if snap.status == "paused" else None,
            tuple(len(h) for h in snap.history.values()), layer, present)  # fmt: skip


def gate_figure(handle: RaceHandle, snap: Snapshot, name: str, layer: int, present: bool = False):
    """One contestant's live gate heatmaps, from the cache when nothing changed (updated in place when
    only the values did)."""
    gates = (snap.gates or {}).get(name)
    live = snap.status in LIVE_STATUSES

    def build():
        fig = F.gate_heatmaps(gates, handle.race.gate_input, layer=layer, name=name, color=handle.colors.get(name))
        return F.present(fig, present)

    def update(fig):
        return F.update_gate_heatmaps(fig, gates, handle.race.gate_input, layer)

    key = gate_key(snap, layer, present)
    return cached_figure(handle, f"gates.{name}", key, build, live=live, update=update, style=(layer, present))


# ----------------------------------------------------------------------------------------------------------
# saving and reloading trained models
# ----------------------------------------------------------------------------------------------------------

MODEL_UPLOAD_MB = 50


def _copy_model(model: GRURegressor, opt: Any) -> tuple[GRURegressor, Any]:
    m = GRURegressor.from_config(model.config)
    m.params.flat[:] = model.params.flat
    o = type(opt)(flavor=opt.flavor)
    o.load_state_dict(opt.state_dict())
    return m, o


def snapshot_models(handle: RaceHandle, snap: Snapshot) -> dict[str, Any] | None:
    """Copies of every contestant's model and optimizer, taken while nothing trains (finished, stopped or
    paused; None while training), cached per snapshot version.  Files are written from these copies, so a
    download never reads a model the worker is updating."""
    if is_training(snap) or snap.status == "error":
        return None
    if handle.models is not None and handle.models.get("version") == snap.version:
        return handle.models
    if snap.status == "paused" and not handle.race.paused:  # resumed meanwhile: not safe to read
        return None
    copies = {name: _copy_model(run.model, run.opt) for name, run in handle.race.runs.items()}
    handle.models = {"version": snap.version, "status": snap.status, "epoch": snap.epoch, "step": snap.step,
                     "runs": copies, "interventions": list(snap.interventions)}  # fmt: skip
    return handle.models


def model_data_config(handle: RaceHandle) -> dict[str, Any]:
    """How the data were prepared: everything needed to feed the model new windows the same way."""
    p, cfg = handle.prepared, handle.cfg
    return {
        "lookback": p.lookback,
        "horizon": p.horizon,
        "split": list(p.split),
        "split_by": p.split_by,
        "scaler": cfg.scaler,
        "fit_scaler_on": p.fit_scaler_on,
        "dataset": cfg.data,
        "source": str(p.raw.attrs.get("source") or cfg.data),
        "series_name": handle.series_name,
        "units": handle.units,
    }


def model_file(handle: RaceHandle, name: str, models: dict[str, Any] | None = None) -> bytes:
    """One contestant's trained model as ``.npz`` bytes (weights, optimizer state, data configuration and
    the fitted scaler; no pickles), from the copies of :func:`snapshot_models`."""
    models = models if models is not None else handle.models
    if models is None or name not in models["runs"]:
        raise RuntimeError("the models can be saved only while the race is paused or after it ended")
    model, opt = models["runs"][name]
    run = handle.race.runs[name]
    info = ModelInfo(
        label=name, optimizer=run.contestant.optimizer, flavor=run.contestant.flavor, seed=handle.cfg.seed,
        status=models["status"], epochs_trained=models["epoch"], step=models["step"],
        interventions=[iv for iv in merge_changes(models["interventions"]) if iv.get("optimizer") == name],
        query=S.encode_query(handle.cfg), continued_from=handle.initial_from,
        series={"name": handle.series_name, "units": handle.units, "source": model_data_config(handle)["source"]},
    )
    return save_model_bytes(model, optimizer=opt, data_config=model_data_config(handle),
                            scaler=handle.prepared.scaler, info=ModelInfo(**to_jsonable(asdict(info))))  # fmt: skip


def model_file_name(handle: RaceHandle, name: str, epoch: int) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-").lower() or "model"
    return f"gru-{safe}-h{handle.cfg.hidden}-epoch{epoch}.npz"


@dataclass
class ModelUpload:
    """An uploaded model file: the checkpoint and the widget values it implies, or why it is unusable."""

    name: str
    digest: str
    checkpoint: Checkpoint | None = None
    error: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # config field -> value (model and data)
    notes: list[str] = field(default_factory=list)

    @property
    def model_config(self) -> GRUConfig | None:
        return self.checkpoint.model.config if self.checkpoint is not None else None

    def summary(self) -> str:
        if self.checkpoint is None:
            return self.error or "no model"
        c = self.checkpoint.model.config
        opt = self.checkpoint.optimizer
        epochs = self.checkpoint.info.epochs_trained
        trained = f", {epochs} epochs" if isinstance(epochs, int) else ""
        opt_txt = f", {type(opt).__name__} state ({opt.flavor})" if opt is not None else ", no optimizer state"
        return (f"{self.name}: GRU {c.num_layers}×{c.hidden_size} ({c.variant}, {c.dtype}), lookback "
                f"{self.settings.get('lookback', '?')}, horizon {c.output_size}{trained}{opt_txt}")  # fmt: skip


def _setting(notes: list[str], what: str, value: Any, kind: str, low: float, high: float) -> Any:
    try:
        return S._parse_number(kind, str(value), low, high)
    except ValueError as exc:
        notes.append(f"{what}={S._short(value, 20)} in the file ignored ({exc})")
        return None


def read_model_upload(data: bytes, name: str = "model.npz") -> ModelUpload:
    """Read an uploaded ``.npz`` model (bytes): the engine's ``load_model`` (never unpickles), then what
    the page allows.  Every problem becomes ``error``, naming what is wrong; nothing raises."""
    up = ModelUpload(name=name, digest=hashlib.sha256(data).hexdigest()[:16])
    if len(data) > MODEL_UPLOAD_MB * 1024 * 1024:
        up.error = f"{name} is {len(data) / 2**20:.1f} MB; a model file of this app is at most {MODEL_UPLOAD_MB} MB."
        return up
    try:
        ck = load_model(bytes(data))
    except CheckpointError as exc:
        up.error = f"{name} cannot be used: {exc}."
        return up
    except Exception as exc:  # noqa: BLE001 - whatever else a hostile file triggers is still the file's fault
        up.error = f"{name} is not a model file of this app ({type(exc).__name__}: {S._short(exc, 120)})."
        return up
    c = ck.model.config
    L = S.LIMITS
    problems = []
    if c.input_size != 1:
        problems.append(f"it reads {c.input_size} values per time step; this page forecasts one series (1)")
    if c.hidden_size > L["hidden"]:
        problems.append(f"hidden size {c.hidden_size} is above this page's limit of {L['hidden']}")
    if c.num_layers > L["layers"]:
        problems.append(f"{c.num_layers} layers is above this page's limit of {L['layers']}")
    if c.output_size > L["horizon"]:
        problems.append(f"horizon {c.output_size} is above this page's limit of {L['horizon']}")
    if not 0.0 <= c.dropout <= 0.9:
        problems.append(f"dropout {c.dropout} is outside 0…0.9")
    if problems:
        up.error = f"{name} is a valid model file but cannot continue here: " + "; ".join(problems) + "."
        return up
    up.checkpoint = ck
    st = {"hidden": c.hidden_size, "layers": c.num_layers, "variant": c.variant, "init": c.init,
          "dropout": float(c.dropout), "dtype": c.dtype, "horizon": c.output_size}  # fmt: skip
    dc = ck.data_config if isinstance(ck.data_config, dict) else {}
    notes = up.notes
    if "lookback" in dc:
        v = _setting(notes, "lookback", dc["lookback"], "int", 1, L["lookback"])
        if v is not None:
            st["lookback"] = v
    else:
        notes.append("the file does not say which lookback it was trained with: the current one is kept")
    if dc.get("horizon") not in (None, c.output_size):
        notes.append(f"data_config says horizon {S._short(dc.get('horizon'), 10)}; the model predicts {c.output_size}")
    for key, fld in (("scaler", "scaler"), ("fit_scaler_on", "fit_on"), ("split_by", "split_by")):
        v = dc.get(key)
        if v is None:
            continue
        if isinstance(v, str) and v in S.CHOICES[fld]:
            st[fld] = v
        else:
            notes.append(f"{key}={S._short(v, 20)} in the file ignored (choose {'/'.join(S.CHOICES[fld])})")
    split = dc.get("split")
    if split is not None:
        try:
            pct = [round(float(x) * 100) for x in split]
            if len(pct) != 3 or sum(pct) != 100 or not (10 <= pct[0] <= 95 and 0 <= pct[1] <= 45 and pct[2] >= 5):
                raise ValueError
            st["train_pct"], st["val_pct"] = pct[0], pct[1]
        except (TypeError, ValueError):
            notes.append(f"split={S._short(split, 30)} in the file ignored")
    data = dc.get("dataset")
    if isinstance(data, str) and data in S.series_datasets():
        st["data"] = data
    elif isinstance(data, str) and data == S.CSV_KEY:
        src = S._short(dc.get("source"), 40)
        notes.append(f"it was trained on an uploaded CSV ({src}): upload it to continue on the same data")
    up.settings = st
    return up


def model_fits(up: ModelUpload | None, cfg: S.LabConfig) -> list[str]:
    """Why the uploaded model cannot start this configuration's race (empty: it can)."""
    if up is None or up.checkpoint is None:
        return ["no model"]
    c = up.checkpoint.model.config
    out = []
    for what, have, want in (
        ("hidden units", cfg.hidden, c.hidden_size),
        ("layers", cfg.layers, c.num_layers),
        ("variant", cfg.variant, c.variant),
        ("precision", cfg.dtype, c.dtype),
        ("horizon", cfg.horizon, c.output_size),
    ):
        if have != want:
            out.append(f"{what}: the settings say {have}, the model has {want}")
    return out


def initial_state(up: ModelUpload, cfg: S.LabConfig) -> tuple[np.ndarray, dict[str, dict]]:
    """The uploaded weights (flat) and, for each contestant of the same optimizer and flavour as the
    saved one, the saved optimizer state (the contestant's own hyperparameters still apply)."""
    ck = up.checkpoint
    assert ck is not None
    params = ck.model.params.flat.copy()
    states: dict[str, dict] = {}
    opt = ck.optimizer
    if opt is not None:
        for label, e in zip(S.contestant_labels(cfg.optimizers), cfg.optimizers):
            if type(opt) is OPTIMIZERS[e.key].cls and opt.flavor == e.flavor:
                states[label] = opt.state_dict()
    return params, states
