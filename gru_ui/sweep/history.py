"""The run history: which stored runs a visitor sees (filters by sweep, optimizer, dataset, date and
divergence), how runs, sweeps and dates are named, the tables the page shows, exports and deletes.

Everything is read from and written to a :class:`gru_core.store.RunStore`; no Streamlit here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from gru_core.store import RunStore
from gru_ui.sweep.data import dataset_label

__all__ = ["EXPORT_FORMATS", "EXPORT_MIME", "NO_SWEEP", "created_dates", "default_date_range", "delete_runs",
           "export_name", "export_runs", "filter_runs", "id_list", "local_time", "overlay_runs", "races", "run_label",
           "runs_frame", "sweep_names", "sweeps_frame"]  # fmt: skip

NO_SWEEP = -1  # the sweep filter's entry for runs stored outside any sweep
EXPORT_FORMATS = {
    "csv": "CSV (one row per run)",
    "json": "JSON (everything, with per-epoch histories)",
    "xlsx": "Excel (runs + histories sheets)",
}
EXPORT_MIME = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def created_dates(df: pd.DataFrame) -> pd.Series:
    """The UTC date of each run's ``created`` timestamp."""
    if df.empty:
        return pd.Series([], dtype=object)
    ts = pd.to_datetime(df["created"], utc=True, errors="coerce", format="ISO8601")
    return ts.dt.date


def filter_runs(df: pd.DataFrame, sweeps: Sequence | None = None, optimizers: Sequence | None = None,
                datasets: Sequence | None = None, since: date | None = None, until: date | None = None,
                diverged: str = "all") -> pd.DataFrame:  # fmt: skip
    """The rows of ``RunStore.runs()`` matching every filter given (empty or None: no filter).

    ``sweeps``: sweep ids (None or :data:`NO_SWEEP` in the list: runs outside any sweep); ``optimizers``: run
    labels; ``datasets``: data sources; ``since``/``until``: UTC dates, inclusive; ``diverged``: "all", "yes",
    "no".
    """
    if df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    if sweeps:
        ids = {int(s) for s in sweeps if s is not None and s != NO_SWEEP}
        outside = None in sweeps or NO_SWEEP in sweeps
        sid = df["sweep_id"]
        keep &= sid.isin(ids) | (sid.isna() & outside)
    if optimizers:
        keep &= df["label"].isin(list(optimizers))
    if datasets:
        keep &= df["dataset"].isin(list(datasets))
    if since is not None or until is not None:
        days = created_dates(df)
        if since is not None:
            keep &= days.map(lambda d: d is not None and not pd.isna(d) and d >= since)
        if until is not None:
            keep &= days.map(lambda d: d is not None and not pd.isna(d) and d <= until)
    if diverged in ("yes", "no"):
        keep &= df["diverged"].astype(bool) == (diverged == "yes")
    return df[keep]


def local_time(iso: Any) -> str:
    """A stored UTC timestamp as "2024-05-01 14:03 UTC"."""
    try:
        ts = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def default_date_range(df: pd.DataFrame) -> tuple[date, date]:
    """From the oldest run's date to today (the last 30 days when there is no run)."""
    days = [d for d in created_dates(df) if d is not None and not pd.isna(d)]
    today = datetime.now(timezone.utc).date()
    if not days:
        return today - timedelta(days=30), today
    return min(days), max(max(days), today)


def run_label(row: Any) -> str:
    """One run in a legend or a picker: "#12 Adam · seed 0 · lr=0.01, hidden_size=4"."""
    cfg = row.get("config") if hasattr(row, "get") else None
    return f"#{int(row['id'])} {row['label']} · seed {row['seed']}" + (f" · {cfg}" if cfg and cfg != "(base)" else "")


def sweep_names(sweeps: pd.DataFrame) -> dict[int, str]:
    """The sweep filter's entries: "#3 study grid" (or "#3"), and :data:`NO_SWEEP`."""
    names = {int(r["id"]): (f"#{int(r['id'])} {r['name']}" if r["name"] else f"#{int(r['id'])}")
             for _, r in sweeps.iterrows()}  # fmt: skip
    names[NO_SWEEP] = "(not in a sweep)"
    return names


def sweep_choice_label(row: Any) -> str:
    """A stored sweep in the Sweep page's results picker: "#3 “study grid” · date · status · 108 runs"."""
    name = f" “{row['name']}”" if row["name"] else ""
    return f"#{int(row['id'])}{name} · {local_time(row['created'])} · {row['status']} · {int(row['n_runs'])} runs"


def sweeps_frame(sweeps: pd.DataFrame) -> pd.DataFrame:
    """``RunStore.sweeps()`` as the history page shows it."""
    return pd.DataFrame({
        "sweep": sweeps["id"],
        "name": sweeps["name"].fillna(""),
        "started": sweeps["created"].map(local_time),
        "status": sweeps["status"],
        "cells": sweeps["n_cells"],
        "runs stored": sweeps["n_runs"],
        "message": sweeps["message"].fillna(""),
    })  # fmt: skip


def id_list(ids: Sequence[int]) -> str:
    """Run ids for people: "#3, #4" or, for a longer unbroken run of them, "#3–#22"."""
    ids = sorted(int(i) for i in ids)
    if len(ids) > 3 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"#{ids[0]}–#{ids[-1]}"
    return ", ".join(f"#{i}" for i in ids)


def _race_status(group: pd.DataFrame) -> str:
    """"Adam finished, RMSprop diverged"; over several seeds "Adam 5 finished; RMSprop 3 finished, 2 diverged"."""
    states = group["status"].where(~group["diverged"].astype(bool), "diverged")
    parts = []
    for label in dict.fromkeys(group["label"]):
        counts = states[group["label"] == label].value_counts(sort=False)
        if len(group["seed"].unique()) == 1:
            parts.append(f"{label} {', '.join(counts.index)}")
        else:
            parts.append(f"{label} " + ", ".join(f"{n} {st}" for st, n in counts.items()))
    return ("; " if len(group["seed"].unique()) > 1 else ", ").join(parts)


def races(runs: pd.DataFrame) -> list[dict]:
    """The races of the race page among ``runs`` (their runs share one link and one store time), newest first:
    ``ids``, ``stored``, ``optimizers`` ("Adam vs RMSprop"), ``dataset``, ``seeds`` (how many), ``status`` ("Adam
    finished, RMSprop diverged") and ``link`` (the race page's query, "?…", that reproduces it)."""
    if runs.empty or "kind" not in runs:
        return []
    mine = runs[runs["kind"] == "race"]
    out = []
    for _, group in mine.groupby(mine["race_id"].fillna(mine["link"].fillna("")), sort=False):
        created, link = group["created"].iloc[0], group["link"].iloc[0]
        out.append({
            "ids": [int(i) for i in group["id"]],
            "stored": local_time(created),
            "created": created,
            "optimizers": " vs ".join(dict.fromkeys(str(v) for v in group["label"])),
            "dataset": dataset_label(group["dataset"].iloc[0]),
            "seeds": int(group["seed"].nunique()),
            "status": _race_status(group),
            "link": link if isinstance(link, str) else None,
        })  # fmt: skip
    return sorted(out, key=lambda r: str(r["created"]), reverse=True)


def runs_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """``RunStore.runs()`` rows as the history page's table shows them (``run`` is the run id)."""
    return pd.DataFrame({
        "run": runs["id"].astype(int),
        "kind": runs["kind"] if "kind" in runs else "run",
        "sweep": runs["sweep_id"],
        "stored": runs["created"].map(local_time),
        "dataset": runs["dataset"].map(dataset_label),
        "optimizer": runs["label"],
        "seed": runs["seed"],
        "configuration": runs["config"],
        "status": runs["status"],
        "test MAPE %": runs["test_mape"],
        "test RMSE": runs["test_rmse"],
        "validation MSE": runs["val_mse"],
        "best epoch": runs["best_epoch"],
        "train s": runs["train_seconds"],
    })  # fmt: skip


def overlay_runs(store: RunStore, ids: Sequence[int]) -> list[dict]:
    """The runs ``ids`` for :func:`gru_ui.figures.sweep.runs_overlay`: name, optimizer label, history."""
    records = store.records(list(ids))
    flat = store.runs(list(ids)).set_index("id")
    return [{"name": run_label({**flat.loc[r["id"]].to_dict(), "id": r["id"]}), "label": r.get("label"),
             "history": r.get("history") or []} for r in records]  # fmt: skip


def export_runs(store_path: str | os.PathLike, ids: Sequence[int], fmt: str) -> bytes:
    """The runs ``ids`` as a CSV (flat table), JSON (full records with histories) or XLSX file's bytes."""
    out = RunStore(store_path).export(list(ids), fmt=fmt)
    return out.encode("utf-8") if isinstance(out, str) else bytes(out)


def export_name(fmt: str, n: int) -> str:
    """A download's file name: "gru-lab-runs-8-20240501-1403.csv"."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return f"gru-lab-runs-{n}-{stamp}.{fmt}"


def delete_runs(store_path: str | os.PathLike, ids: Sequence[int]) -> tuple[int, list[int]]:
    """Delete runs; then delete the sweeps left without runs (unless running).  ``(runs, sweep ids)``."""
    store = RunStore(store_path)
    n = store.delete_runs(ids)
    gone = []
    for _, row in store.sweeps().iterrows():
        if int(row["n_runs"]) == 0 and row["status"] != "running":
            store.delete_sweep(int(row["id"]), runs=False)
            gone.append(int(row["id"]))
    return n, gone
