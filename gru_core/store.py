"""Run history in SQLite: every finished run and every sweep, kept across sessions.

    store = RunStore()                      # ~/.gru_lab/runs.sqlite, or $GRU_LAB_STORE
    sweep_id = store.add_sweep(spec)        # a SweepSpec or its dict
    run_id = store.add_run(record, sweep_id=sweep_id)
    store.runs(sweep_id=sweep_id, optimizer="adam")      # one flat row per run (pandas DataFrame)
    store.export(None, "xlsx", "runs.xlsx")               # runs + per-epoch history sheets

Where
    The default path is ``~/.gru_lab/runs.sqlite`` (per user, whatever the working directory, so the
    command line and the app see one history); the ``GRU_LAB_STORE`` environment variable or the ``path``
    argument choose another file.  The folder is created when needed.

A record
    is a run record of :func:`gru_core.sweep.run_cell` (one optimizer's run: ``params``, ``seed``,
    ``label``, ``optimizer``, ``flavor``, ``hyperparams``, ``config``, ``status``, ``test``/``val`` metrics,
    ``best_epoch``, ``stopped_epoch``, ``diverged``, ``history``, ``timings``, ``versions``, ``cell_key``,
    ``config_key``…).  It is stored whole: configuration, per-epoch history, metrics, timings and library
    versions in JSON columns, the rest in ``extra_json``; the metrics and identity also in plain columns so
    :meth:`RunStore.runs` can filter and tabulate without parsing JSON.  :meth:`RunStore.get_run` gives the
    record back (NaN/inf as None, as JSON has them) plus ``id``, ``sweep_id`` and ``created``.

Consistency
    Every write is one ``BEGIN IMMEDIATE`` … ``COMMIT`` transaction, rolled back on any exception, so a run
    (or the several runs of one sweep cell, :meth:`RunStore.add_runs`) is stored whole or not at all, even
    when the process is killed mid-write (SQLite's journal).  The database is in WAL mode with a busy timeout
    (``timeout`` seconds, default 60): several processes or sessions may write at once; a writer waits its
    turn instead of failing, readers never block.  Each operation opens its own short-lived connection, so
    a RunStore is cheap to pickle and safe to share between threads.  A sweep's runs are unique per
    (sweep, cell key, label): storing the same run twice keeps the first and returns its id.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from gru_core.jsonio import to_jsonable
from gru_core.stats import METRICS, SPLITS, flatten_record

STORE_ENV = "GRU_LAB_STORE"
SCHEMA_VERSION = 1
EXPORT_FORMATS = ("csv", "json", "xlsx")

__all__ = ["EXPORT_FORMATS", "RunStore", "StoreError", "default_store_path"]

_METRIC_COLS = [f"{s}_{m}" for s in SPLITS for m in METRICS]
_RECORD_COLUMNS = {  # record key -> JSON column
    "config": "config_json",
    "history": "history_json",
    "timings": "timings_json",
    "versions": "versions_json",
    "params": "params_json",
}
_METRIC_KEYS = ("test", "val", "baselines")  # kept together in metrics_json

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec_key TEXT,
    name TEXT,
    spec_json TEXT NOT NULL,
    n_cells INTEGER,
    created TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    message TEXT
);
CREATE INDEX IF NOT EXISTS sweeps_spec_key ON sweeps (spec_key);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id INTEGER REFERENCES sweeps (id) ON DELETE SET NULL,
    cell_key TEXT,
    config_key TEXT,
    cell_index INTEGER,
    created TEXT NOT NULL,
    status TEXT,
    label TEXT,
    optimizer TEXT,
    flavor TEXT,
    lr REAL,
    seed INTEGER,
    dataset TEXT,
    diverged INTEGER,
    best_epoch INTEGER,
    stopped_epoch INTEGER,
    train_seconds REAL,
    {", ".join(f"{c} REAL" for c in _METRIC_COLS)},
    params_json TEXT,
    config_json TEXT,
    history_json TEXT,
    metrics_json TEXT,
    timings_json TEXT,
    versions_json TEXT,
    extra_json TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_unique_in_sweep ON runs (sweep_id, cell_key, label);
CREATE INDEX IF NOT EXISTS runs_cell ON runs (cell_key);
"""

_LIST_COLUMNS = ["id", "sweep_id", "created", "dataset", "cell_key", "config_key", "cell_index", "seed", "label",
                 "optimizer", "flavor", "lr", "status", "diverged", "best_epoch", "stopped_epoch", "train_seconds",
                 *_METRIC_COLS]  # fmt: skip


class StoreError(RuntimeError):
    """A store that cannot be opened or used (bad path, not a run store, …)."""


def default_store_path() -> Path:
    """``$GRU_LAB_STORE`` if set, else ``~/.gru_lab/runs.sqlite``."""
    env = os.environ.get(STORE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".gru_lab" / "runs.sqlite"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = obj.to_dict() if hasattr(obj, "to_dict") else asdict(obj)
    return to_jsonable(obj)


def _dumps(obj: Any) -> str:
    return json.dumps(_jsonable(obj), allow_nan=False)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


class RunStore:
    """A run history in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 60.0):
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = float(timeout)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
                con.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} "
                    f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable run store: {exc}") from exc

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # ---- connections and transactions ------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across a process crash
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed at the end of the block, rolled back if it raises."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock on a later upgrade
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ---- sweeps ------------------------------------------------------------------------------------

    def add_sweep(self, spec: Any, n_cells: int | None = None, name: str | None = None) -> int:
        """Store a sweep's spec (a SweepSpec or a dict) with status "running"; return its id."""
        spec_d = _jsonable(spec)
        key = getattr(spec, "key", None) or (spec_d.get("key") if isinstance(spec_d, dict) else None)
        name = name if name is not None else (spec_d.get("name") if isinstance(spec_d, dict) else None)
        with self.transaction() as con:
            cur = con.execute(
                "INSERT INTO sweeps (spec_key, name, spec_json, n_cells, created, status) VALUES (?,?,?,?,?,?)",
                (key, name, json.dumps(spec_d, allow_nan=False), n_cells, _now(), "running"),
            )
            return int(cur.lastrowid)

    def finish_sweep(self, sweep_id: int, status: str = "finished", message: str | None = None) -> None:
        """Mark a sweep finished (or "failed", "interrupted", …) with an optional message."""
        with self.transaction() as con:
            cur = con.execute("UPDATE sweeps SET status = ?, finished = ?, message = ? WHERE id = ?",
                              (status, _now(), message, int(sweep_id)))  # fmt: skip
            if cur.rowcount == 0:
                raise KeyError(f"no sweep with id {sweep_id}")

    def reopen_sweep(self, sweep_id: int) -> None:
        """Set a sweep back to "running" (a resumed sweep)."""
        with self.transaction() as con:
            con.execute("UPDATE sweeps SET status = 'running', finished = NULL, message = NULL WHERE id = ?",
                        (int(sweep_id),))  # fmt: skip

    def get_sweep(self, sweep_id: int) -> dict:
        with self._connect() as con:
            row = con.execute("SELECT * FROM sweeps WHERE id = ?", (int(sweep_id),)).fetchone()
        if row is None:
            raise KeyError(f"no sweep with id {sweep_id}")
        out = dict(row)
        out["spec"] = json.loads(out.pop("spec_json"))
        return out

    def sweeps(self) -> pd.DataFrame:
        """Every sweep, newest first, with its number of stored runs."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT s.id, s.name, s.spec_key, s.n_cells, s.created, s.finished, s.status, s.message, "
                "(SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id) AS n_runs FROM sweeps s ORDER BY s.id DESC"
            ).fetchall()
        cols = ["id", "name", "spec_key", "n_cells", "created", "finished", "status", "message", "n_runs"]
        return pd.DataFrame([dict(r) for r in rows], columns=cols)

    def find_sweep(self, spec_key: str) -> int | None:
        """The newest sweep stored with this spec key, or None."""
        with self._connect() as con:
            row = con.execute("SELECT id FROM sweeps WHERE spec_key = ? ORDER BY id DESC LIMIT 1",
                              (spec_key,)).fetchone()  # fmt: skip
        return None if row is None else int(row[0])

    # ---- runs --------------------------------------------------------------------------------------

    def _insert_run(self, con: sqlite3.Connection, record: dict, sweep_id: int | None) -> int:
        rec = _jsonable(record)
        if not isinstance(rec, dict):
            raise TypeError(f"a run record must be a dict, got {type(record).__name__}")
        flat = flatten_record(rec)
        metrics = {k: rec.get(k) for k in _METRIC_KEYS}
        skip = {*_RECORD_COLUMNS, *_METRIC_KEYS, "id", "sweep_id", "created"}
        extra = {k: v for k, v in rec.items() if k not in skip}
        data = rec.get("config", {}).get("data", {}) if isinstance(rec.get("config"), dict) else {}
        values = {
            "sweep_id": sweep_id,
            "cell_key": rec.get("cell_key"),
            "config_key": rec.get("config_key"),
            "cell_index": rec.get("cell_index"),
            "created": rec.get("created") or _now(),
            "status": rec.get("status"),
            "label": flat["label"],
            "optimizer": flat["optimizer"],
            "flavor": flat["flavor"],
            "lr": _num(flat["lr"]),
            "seed": rec.get("seed"),
            "dataset": data.get("source") if isinstance(data, dict) else None,
            "diverged": int(bool(rec.get("diverged"))),
            "best_epoch": rec.get("best_epoch"),
            "stopped_epoch": rec.get("stopped_epoch"),
            "train_seconds": _num(flat["train_seconds"]),
            **{c: _num(flat[c]) for c in _METRIC_COLS},
            **{col: json.dumps(rec.get(key), allow_nan=False) for key, col in _RECORD_COLUMNS.items()},
            "metrics_json": json.dumps(metrics, allow_nan=False),
            "extra_json": json.dumps(extra, allow_nan=False),
        }
        if sweep_id is not None and values["cell_key"] is not None:
            row = con.execute("SELECT id FROM runs WHERE sweep_id = ? AND cell_key = ? AND label = ?",
                              (sweep_id, values["cell_key"], values["label"])).fetchone()  # fmt: skip
            if row is not None:
                return int(row[0])  # stored already (a resumed or concurrent duplicate): keep the first
        cols = list(values)
        cur = con.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                          [values[c] for c in cols])  # fmt: skip
        return int(cur.lastrowid)

    def add_run(self, record: dict, sweep_id: int | None = None) -> int:
        """Store one finished run (whole or not at all); return its id."""
        with self.transaction() as con:
            return self._insert_run(con, record, sweep_id)

    def add_runs(self, records: Iterable[dict], sweep_id: int | None = None) -> list[int]:
        """Store several runs in ONE transaction (a sweep cell's optimizers): all of them or none."""
        with self.transaction() as con:
            return [self._insert_run(con, r, sweep_id) for r in records]

    def has_cell(self, sweep_id: int | None, key: str) -> bool:
        """Is a run of the cell ``key`` stored in sweep ``sweep_id`` (any sweep when None)?"""
        with self._connect() as con:
            if sweep_id is None:
                row = con.execute("SELECT 1 FROM runs WHERE cell_key = ? LIMIT 1", (key,)).fetchone()
            else:
                row = con.execute("SELECT 1 FROM runs WHERE sweep_id = ? AND cell_key = ? LIMIT 1",
                                  (int(sweep_id), key)).fetchone()  # fmt: skip
        return row is not None

    def cell_keys(self, sweep_id: int) -> set[str]:
        """The cell keys with stored runs in a sweep."""
        with self._connect() as con:
            rows = con.execute("SELECT DISTINCT cell_key FROM runs WHERE sweep_id = ?", (int(sweep_id),)).fetchall()
        return {r[0] for r in rows if r[0] is not None}

    @staticmethod
    def _record_from_row(row: sqlite3.Row) -> dict:
        d = dict(row)
        rec = json.loads(d["extra_json"] or "{}")
        for key, col in _RECORD_COLUMNS.items():
            rec[key] = json.loads(d[col]) if d[col] is not None else None
        rec.update(json.loads(d["metrics_json"] or "{}"))
        rec.update(id=d["id"], sweep_id=d["sweep_id"], created=d["created"])
        return rec

    def get_run(self, run_id: int) -> dict:
        """The stored record of one run, with ``id``, ``sweep_id`` and ``created``; KeyError if absent."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise KeyError(f"no run with id {run_id}")
        return self._record_from_row(row)

    def records(self, ids: Iterable[int] | None = None, **filters: Any) -> list[dict]:
        """Full records (with history) of the runs ``ids``, or of those matching :meth:`runs`' filters."""
        where, args = self._where(ids=ids, **filters)
        with self._connect() as con:
            rows = con.execute(f"SELECT * FROM runs{where} ORDER BY id", args).fetchall()
        return [self._record_from_row(r) for r in rows]

    @staticmethod
    def _where(ids: Iterable[int] | None = None, sweep_id: int | None = None, optimizer: str | None = None,
               label: str | None = None, status: str | None = None, cell_key: str | None = None,
               config_key: str | None = None, seed: int | None = None, dataset: str | None = None,
               diverged: bool | None = None, since: str | None = None, until: str | None = None):  # fmt: skip
        clauses, args = [], []
        if ids is not None:
            ids = [int(i) for i in ids]
            clauses.append(f"id IN ({', '.join('?' * len(ids))})" if ids else "0")
            args += ids
        for col, val in (("sweep_id", sweep_id), ("label", label), ("status", status), ("cell_key", cell_key),
                         ("config_key", config_key), ("seed", seed), ("dataset", dataset)):  # fmt: skip
            if val is not None:
                clauses.append(f"{col} = ?")
                args.append(val)
        if optimizer is not None:
            clauses.append("LOWER(optimizer) = LOWER(?)")
            args.append(optimizer)
        if diverged is not None:
            clauses.append("diverged = ?")
            args.append(int(bool(diverged)))
        if since is not None:
            clauses.append("created >= ?")
            args.append(since)
        if until is not None:
            clauses.append("created < ?")
            args.append(until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def runs(self, ids: Iterable[int] | None = None, *, include_history: bool = False, **filters: Any) -> pd.DataFrame:
        """One flat row per stored run, oldest first: identity, metrics (``test_mape``, ``val_mse``, …), the
        swept params as columns, ``config`` (a readable label of them), ``kind`` ("race": a race of the race page,
        "sweep", or "run": stored on its own), ``link`` (a race's page link, "?…"; else None) and ``race_id`` (the
        runs of one race share it).

        Filters (all optional, combined with AND): ``ids``, ``sweep_id``, ``optimizer`` (registry name, any
        case), ``label``, ``status``, ``cell_key``, ``config_key``, ``seed``, ``dataset``, ``diverged``,
        ``since``/``until`` (ISO times compared with ``created``).  ``include_history`` adds a ``history``
        column (list of per-epoch dicts).  The frame feeds :mod:`gru_core.stats` directly.
        """
        where, args = self._where(ids=ids, **filters)
        cols = (", ".join(_LIST_COLUMNS) + ", params_json" + (", history_json" if include_history else "")
                + ", json_extract(extra_json, '$.kind') AS kind, json_extract(extra_json, '$.link') AS link"
                + ", json_extract(extra_json, '$.race_id') AS race_id")
        with self._connect() as con:
            rows = con.execute(f"SELECT {cols} FROM runs{where} ORDER BY id", args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            params = json.loads(d.pop("params_json") or "null") or {}
            if include_history:
                d["history"] = json.loads(d.pop("history_json") or "[]")
            d["diverged"] = bool(d["diverged"])
            d["kind"] = d["kind"] or ("sweep" if d["sweep_id"] is not None else "run")  # a live race: "race"
            d["config"] = ", ".join(f"{k}={v}" for k, v in params.items()) if params else "(base)"
            for k, v in params.items():
                d.setdefault(k, v)
            out.append(d)
        base = [*_LIST_COLUMNS, "kind", "link", "race_id", "config"] + (["history"] if include_history else [])
        df = pd.DataFrame(out)
        if df.empty:
            return pd.DataFrame(columns=base)
        for c in _METRIC_COLS + ["lr", "train_seconds"]:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        return df

    def count_runs(self, **filters: Any) -> int:
        where, args = self._where(**filters)
        with self._connect() as con:
            return int(con.execute(f"SELECT COUNT(*) FROM runs{where}", args).fetchone()[0])

    def delete_runs(self, ids: Iterable[int]) -> int:
        """Delete runs by id (one transaction); return how many were deleted."""
        ids = [int(i) for i in ids]
        if not ids:
            return 0
        with self.transaction() as con:
            cur = con.execute(f"DELETE FROM runs WHERE id IN ({', '.join('?' * len(ids))})", ids)
            return int(cur.rowcount)

    def delete_sweep(self, sweep_id: int, runs: bool = True) -> None:
        """Delete a sweep and (by default) its runs, in one transaction."""
        with self.transaction() as con:
            if runs:
                con.execute("DELETE FROM runs WHERE sweep_id = ?", (int(sweep_id),))
            con.execute("DELETE FROM sweeps WHERE id = ?", (int(sweep_id),))

    # ---- export ------------------------------------------------------------------------------------

    def export(self, ids: Iterable[int] | None = None, fmt: str = "csv", path_or_buffer: Any = None,
               **filters: Any) -> Any:  # fmt: skip
        """Write the runs ``ids`` (all runs, or those matching :meth:`runs`' filters, when None).

        ``"csv"``: the flat table of :meth:`runs`.  ``"json"``: a list of full records with histories.
        ``"xlsx"``: sheet "runs" (the flat table) and sheet "history" (one row per run and epoch), via pandas
        and openpyxl.  ``path_or_buffer``: a path, or an open text (csv, json) / binary (xlsx) buffer; when
        None the content is returned (str for csv/json, bytes for xlsx), otherwise the path or buffer.
        """
        fmt = fmt.lower().lstrip(".")
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, got {fmt!r}")
        if fmt == "json":
            text = json.dumps(self.records(ids, **filters), indent=1, allow_nan=False)
            if path_or_buffer is None:
                return text
            if hasattr(path_or_buffer, "write"):
                path_or_buffer.write(text)
            else:
                Path(path_or_buffer).write_text(text, encoding="utf-8")
            return path_or_buffer
        df = self.runs(ids, include_history=fmt == "xlsx", **filters)
        if fmt == "csv":
            if path_or_buffer is None:
                return df.to_csv(index=False)
            df.to_csv(path_or_buffer, index=False)
            return path_or_buffer
        history = df.pop("history") if "history" in df else pd.Series(dtype=object)
        hist_rows = [{"run_id": rid, **h} for rid, hs in zip(df["id"], history) for h in (hs or [])]
        target = io.BytesIO() if path_or_buffer is None else path_or_buffer
        with pd.ExcelWriter(target, engine="openpyxl") as xw:
            df.to_excel(xw, sheet_name="runs", index=False)
            pd.DataFrame(hist_rows).to_excel(xw, sheet_name="history", index=False)
        return target.getvalue() if path_or_buffer is None else path_or_buffer

