"""Page "Run history": every run and sweep in the run store, filtered, compared, exported or deleted.

The store is the SQLite file of :class:`gru_core.store.RunStore` (the Sweep page and ``python -m gru_core
sweep`` write to it).  Nothing here trains; everything is read from the store when the page runs.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import pandas as pd
import streamlit as st

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # standalone (AppTest, streamlit run pages/…)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_ui import sweep_session as W  # noqa: E402
from gru_ui.figures import sweep as FS  # noqa: E402
from gru_ui.shell import STORE_KEY, app_frame, chart, display_toggles, store_picker  # noqa: E402

H = "hist.w."  # widget keys
NO_SWEEP = -1  # the sweep filter's entry for runs stored outside any sweep
FORMATS = {
    "csv": "CSV (one row per run)",
    "json": "JSON (everything, with per-epoch histories)",
    "xlsx": "Excel (runs + histories sheets)",
}


def init_state() -> None:
    ss = st.session_state
    ss.setdefault(STORE_KEY, W.default_path())
    ss.setdefault("hist.table_v", 0)  # a new table key clears its row selection (after a delete)
    ss.setdefault("hist.confirm", None)  # run ids waiting for the delete confirmation
    ss.setdefault("hist.message", None)
    ss.setdefault(H + "diverged", "all")
    ss.setdefault(H + "fmt", "csv")
    ss.setdefault(H + "log", True)
    ss.setdefault(H + "all", False)


def _forget_pending_delete() -> None:
    st.session_state["hist.confirm"] = None  # a delete confirmed for one store must not hit another


def sidebar() -> None:
    with st.sidebar:
        store_picker("The same file the Sweep page writes to.", "Reading `{path}`.", _forget_pending_delete)


def sweeps_section(sweeps: pd.DataFrame) -> None:
    with st.expander(f"Sweeps in this store ({len(sweeps)})", expanded=len(sweeps) <= 8):
        if sweeps.empty:
            st.caption("No sweep: the runs below were stored one by one.")
            return
        shown = pd.DataFrame(
            {
                "sweep": sweeps["id"],
                "name": sweeps["name"].fillna(""),
                "started": sweeps["created"].map(W.local_time),
                "status": sweeps["status"],
                "cells": sweeps["n_cells"],
                "runs stored": sweeps["n_runs"],
                "message": sweeps["message"].fillna(""),
            }
        )
        st.dataframe(shown, hide_index=True, width="stretch", key="hist.sweeps")
        st.caption(
            "A sweep is “interrupted” when it was stopped and “failed” when a cell failed: run the same grid again "
            "on the Sweep page to finish it; finished cells are never trained twice."
        )


def filters(runs: pd.DataFrame, sweeps: pd.DataFrame) -> pd.DataFrame:
    ss = st.session_state
    sweep_ids = [int(i) for i in sweeps["id"]] if not sweeps.empty else []
    if runs["sweep_id"].isna().any():
        sweep_ids.append(NO_SWEEP)
    names = {
        int(r["id"]): (f"#{int(r['id'])} {r['name']}" if r["name"] else f"#{int(r['id'])}")
        for _, r in sweeps.iterrows()
    }
    names[NO_SWEEP] = "(not in a sweep)"
    optimizers = sorted(runs["label"].dropna().unique().tolist())
    datasets = sorted(runs["dataset"].dropna().unique().tolist())
    for key, options in (("sweeps", sweep_ids), ("optimizers", optimizers), ("datasets", datasets)):
        ss[H + key] = [v for v in ss.get(H + key, []) if v in options]  # drop what is gone (deleted runs)
    lo, hi = W.default_date_range(runs)
    dates = ss.get(H + "dates")
    if not isinstance(dates, (tuple, list)) or not dates or min(dates) > hi or max(dates) < lo:
        ss[H + "dates"] = (lo, hi)
    c1, c2, c3 = st.columns(3)
    c1.multiselect(
        "Sweep", sweep_ids, key=H + "sweeps", format_func=lambda i: names.get(i, f"#{i}"), placeholder="all sweeps"
    )
    c2.multiselect("Optimizer", optimizers, key=H + "optimizers", placeholder="all optimizers")
    c3.multiselect("Dataset", datasets, key=H + "datasets", format_func=W.dataset_label, placeholder="all datasets")
    c1, c2, _ = st.columns([1, 1, 1])
    picked = c1.date_input("Stored between (UTC dates)", key=H + "dates", format="YYYY-MM-DD")
    c2.radio(
        "Diverged runs",
        ["all", "no", "yes"],
        key=H + "diverged",
        horizontal=True,
        format_func={"all": "show all", "no": "hide them", "yes": "only them"}.get,
    )
    picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    since = picked[0] if picked else None
    until = picked[1] if len(picked) > 1 else None
    chosen = ss[H + "sweeps"]
    return W.filter_runs(
        runs,
        sweeps=[None if s == NO_SWEEP else s for s in chosen] or None,
        optimizers=ss[H + "optimizers"] or None,
        datasets=ss[H + "datasets"] or None,
        since=since,
        until=until,
        diverged=ss[H + "diverged"],
    )


def runs_table(shown: pd.DataFrame) -> list[int]:
    """The filtered runs as a table whose rows can be ticked; returns the selected run ids."""
    ss = st.session_state
    table = pd.DataFrame(
        {
            "run": shown["id"].astype(int),
            "sweep": shown["sweep_id"],
            "stored": shown["created"].map(W.local_time),
            "dataset": shown["dataset"].map(W.dataset_label),
            "optimizer": shown["label"],
            "seed": shown["seed"],
            "configuration": shown["config"],
            "status": shown["status"],
            "test MAPE %": shown["test_mape"],
            "test RMSE": shown["test_rmse"],
            "validation MSE": shown["val_mse"],
            "best epoch": shown["best_epoch"],
            "train s": shown["train_seconds"],
        }
    )
    num = {c: st.column_config.NumberColumn(format="%.4g") for c in ("test MAPE %", "test RMSE", "validation MSE")}
    num["train s"] = st.column_config.NumberColumn(format="%.2f")
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config=num,
        on_select="rerun",
        selection_mode="multi-row",
        key=f"hist.table.{ss['hist.table_v']}",
    )
    all_shown = st.checkbox(f"Select all {len(table):,} runs shown", key=H + "all")
    if all_shown:
        return [int(i) for i in table["run"]]
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return [int(table["run"].iloc[r]) for r in rows if 0 <= r < len(table)]


def compare_section(store, ids: list[int]) -> None:
    st.subheader("Compare loss curves")
    if not ids:
        st.caption("Tick runs in the table (the boxes on the left) or “Select all” to overlay their loss curves.")
        return
    limit = W.LIMITS["compare_runs"]
    records = store.records(ids[:limit])
    flat = store.runs(ids[:limit]).set_index("id")
    runs = [
        {
            "name": W.run_label({**flat.loc[r["id"]].to_dict(), "id": r["id"]}),
            "label": r.get("label"),
            "history": r.get("history") or [],
        }
        for r in records
    ]
    log_y = st.toggle("log scale", key=H + "log")
    chart(FS.runs_overlay(runs, log_y=log_y), key="hist.chart.compare", name="runs-compare")
    more = f" Showing the first {limit} of {len(ids)} selected runs." if len(ids) > limit else ""
    st.caption(
        "Left: training loss, right: validation loss, per epoch (scaled units, so runs on the same data compare). "
        "Colour = optimizer; runs of one optimizer differ by dash. A validation curve that turns up while "
        "training still falls is overfitting; a curve that stops early was ended by early stopping." + more
    )


def export_section(ids: list[int], shown: pd.DataFrame) -> None:
    ss = st.session_state
    st.subheader("Export")
    target = ids or [int(i) for i in shown["id"]]
    which = "selected" if ids else "shown"
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    fmt = c1.radio("Format", list(FORMATS), key=H + "fmt", format_func=FORMATS.get, horizontal=False)
    c2.download_button(
        f"Download the {len(target):,} {which} run{'s' if len(target) != 1 else ''} ({fmt.upper()})",
        data=functools.partial(W.export_runs, ss[STORE_KEY], tuple(target), fmt),
        file_name=W.export_name(fmt, len(target)),
        mime=W.EXPORT_MIME[fmt],
        on_click="ignore",
        key="hist.dl",
        disabled=not target,
    )
    st.caption("With no row ticked, every run the filters show is exported.")


def ask_delete(ids: list[int]) -> None:
    st.session_state["hist.confirm"] = list(ids)


def cancel_delete() -> None:
    st.session_state["hist.confirm"] = None


def confirm_delete() -> None:
    """Callback of "Yes, delete": runs before the widgets, so it may reset the selection."""
    ss = st.session_state
    pending = ss.get("hist.confirm") or []
    try:
        n, gone = W.delete_runs(ss[STORE_KEY], pending)
    except Exception as exc:  # noqa: BLE001 - a locked or read-only store: a message, not a traceback
        ss["hist.message"] = ("error", f"Could not delete: {exc}")
    else:
        extra = f" and {len(gone)} sweep(s) left without runs" if gone else ""
        ss["hist.message"] = ("success", f"Deleted {n} run{'s' if n != 1 else ''}{extra}.")
    ss["hist.confirm"] = None
    ss["hist.table_v"] += 1  # a fresh table: no stale selection
    ss[H + "all"] = False


def delete_section(ids: list[int]) -> None:
    ss = st.session_state
    st.subheader("Delete")
    pending = ss.get("hist.confirm")
    if not pending:
        st.button(
            f"Delete the {len(ids)} selected run{'s' if len(ids) != 1 else ''}…",
            key="hist.btn.delete",
            disabled=not ids,
            on_click=ask_delete,
            args=(ids,),
            help="Asks for a confirmation first.",
        )
        if not ids:
            st.caption("Tick runs in the table to delete them.")
        return
    st.warning(
        f"Delete {len(pending)} run{'s' if len(pending) != 1 else ''} permanently from `{ss[STORE_KEY]}`? This "
        "cannot be undone. A sweep left without runs is removed too (running it again trains it from scratch).",
        icon="⚠️",
    )
    c1, c2, _ = st.columns([1, 1, 3])
    c1.button(f"Yes, delete {len(pending)}", type="primary", key="hist.btn.yes", on_click=confirm_delete)
    c2.button("Cancel", key="hist.btn.no", on_click=cancel_delete)


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    ss = st.session_state
    sidebar()
    st.title("Run history")
    st.markdown(
        "Every run trained by a sweep (on the Sweep page or with `python -m gru_core sweep`) is kept here: filter "
        "them, overlay their loss curves, export them for a spreadsheet or a report, or delete them."
    )
    msg = ss.get("hist.message")
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])
        ss["hist.message"] = None
    store, error = W.open_store(ss[STORE_KEY])
    if error:
        st.error(error)
        return
    runs = store.runs()
    sweeps = store.sweeps()
    if runs.empty and sweeps.empty:
        st.info(
            f"No runs yet in `{ss[STORE_KEY]}`. Run a sweep on the **Sweep** page (the tiny demo grid takes "
            "seconds) and its runs appear here. If your runs are in another file, give its file name in the sidebar.",
            icon="🗂️",
        )
        return
    sweeps_section(sweeps)
    if runs.empty:
        st.info("The sweeps above have no stored runs (yet).")
        return
    st.subheader("Runs")
    shown = filters(runs, sweeps)
    st.caption(f"{len(shown):,} of {len(runs):,} runs match the filters.")
    if shown.empty:
        st.info("No run matches these filters: widen the dates or clear a filter.")
        return
    ids = runs_table(shown)
    st.caption(
        f"{len(ids)} selected. MAPE and RMSE on the test part (RMSE in the series' units), validation MSE in "
        "scaled units; empty for a diverged run. Click a column header to sort."
    )
    compare_section(store, ids)
    c1, c2 = st.columns(2)
    with c1:
        export_section(ids, shown)
    with c2:
        delete_section(ids)


init_state()
try:
    page()
except Exception as exc:  # noqa: BLE001 - never a traceback on the page; the server log has it
    traceback.print_exc()
    st.error(f"The run history could not be shown: {type(exc).__name__}: {exc}")
