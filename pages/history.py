"""Page "Run history": every run and sweep in the run store, filtered, compared, exported or deleted.

Layout only: the store is the SQLite file of :class:`gru_core.store.RunStore` (the Sweep page and ``python -m
gru_core sweep`` write to it); filters, tables, exports and deletes are :mod:`gru_ui.sweep.history`'s, the
loss-curve overlay :mod:`gru_ui.figures.sweep`'s.  Nothing here trains; everything is read from the store when
the page runs.
"""

from __future__ import annotations

import functools
import traceback

import pandas as pd
import streamlit as st

from gru_ui.figures import sweep as FS
from gru_ui.shell import (
    STORE_KEY,
    app_frame,
    chart,
    default_path,
    display_toggles,
    init_settings,
    open_store,
    store_picker,
)
from gru_ui.sweep import history as H
from gru_ui.sweep import widgets as W
from gru_ui.sweep.data import dataset_label
from gru_ui.sweep.limits import LIMITS

K = "hist.w."  # widget keys


def init_state() -> None:
    ss = st.session_state
    ss.setdefault(STORE_KEY, default_path())
    ss.setdefault("hist.table_v", 0)  # a new table key clears its row selection (after a delete)
    ss.setdefault(W.HISTORY_CONFIRM, None)  # run ids waiting for the delete confirmation
    ss.setdefault("hist.message", None)
    init_settings({K + key: value for key, value in (("diverged", "all"), ("fmt", "csv"), ("log", True),
                                                     ("all", False))})  # fmt: skip


def sweeps_section(sweeps: pd.DataFrame) -> None:
    with st.expander(f"Sweeps in this store ({len(sweeps)})", expanded=len(sweeps) <= 8):
        if sweeps.empty:
            st.caption("No sweep: the runs below were stored one by one.")
            return
        st.dataframe(H.sweeps_frame(sweeps), hide_index=True, width="stretch", key="hist.sweeps")
        st.caption(
            "A sweep is “interrupted” when it was stopped and “failed” when a cell failed: run the same grid again "
            "on the Sweep page to finish it; finished cells are never trained twice."
        )


def races_section(runs: pd.DataFrame) -> None:
    shown = H.races(runs)
    if not shown:
        return
    limit = LIMITS["compare_runs"]
    with st.expander(f"Races kept from the Optimizer race page ({len(shown)})", expanded=True):
        st.markdown("\n".join(
            f"- **{r['optimizers']}** on {r['dataset']}" + (f" · {r['seeds']} seeds" if r["seeds"] > 1 else "")
            + f" · {r['status']} · {r['stored']} · runs {H.id_list(r['ids'])}"
            + (f" · [open its link]({'./' + r['link']})" if r["link"] else "")
            for r in shown[:limit]
        ))  # fmt: skip
        more = f" The newest {limit} of {len(shown)} are listed." if len(shown) > limit else ""
        st.caption(
            "The link opens the race page with that race's settings and its learning-rate changes: Train "
            "reproduces it exactly. Tick its runs in the table below to overlay them with other runs." + more
        )


def filters(runs: pd.DataFrame, sweeps: pd.DataFrame) -> pd.DataFrame:
    ss = st.session_state
    names = H.sweep_names(sweeps)
    sweep_ids = [int(i) for i in sweeps["id"]] + ([H.NO_SWEEP] if runs["sweep_id"].isna().any() else [])
    optimizers = sorted(runs["label"].dropna().unique().tolist())
    datasets = sorted(runs["dataset"].dropna().unique().tolist())
    for key, options in (("sweeps", sweep_ids), ("optimizers", optimizers), ("datasets", datasets)):
        ss[K + key] = [v for v in ss.get(K + key, []) if v in options]  # drop what is gone (deleted runs)
    lo, hi = H.default_date_range(runs)
    dates = ss.get(K + "dates")
    if not isinstance(dates, (tuple, list)) or not dates or min(dates) > hi or max(dates) < lo:
        ss[K + "dates"] = (lo, hi)
    c1, c2, c3 = st.columns(3)
    c1.multiselect("Sweep", sweep_ids, key=K + "sweeps", format_func=lambda i: names.get(i, f"#{i}"),
                   placeholder="all sweeps")  # fmt: skip
    c2.multiselect("Optimizer", optimizers, key=K + "optimizers", placeholder="all optimizers")
    c3.multiselect("Dataset", datasets, key=K + "datasets", format_func=dataset_label, placeholder="all datasets")
    c1, c2, _ = st.columns([1, 1, 1])
    picked = c1.date_input("Stored between (UTC dates)", key=K + "dates", format="YYYY-MM-DD")
    c2.radio("Diverged runs", ["all", "no", "yes"], key=K + "diverged", horizontal=True,
             format_func={"all": "show all", "no": "hide them", "yes": "only them"}.get)  # fmt: skip
    picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    return H.filter_runs(runs, sweeps=ss[K + "sweeps"] or None, optimizers=ss[K + "optimizers"] or None,
                         datasets=ss[K + "datasets"] or None, since=picked[0] if picked else None,
                         until=picked[1] if len(picked) > 1 else None, diverged=ss[K + "diverged"])  # fmt: skip


def runs_table(shown: pd.DataFrame) -> list[int]:
    """The filtered runs as a table whose rows can be ticked; returns the selected run ids."""
    table = H.runs_frame(shown)
    num = {c: st.column_config.NumberColumn(format="%.4g") for c in ("test MAPE %", "test RMSE", "validation MSE")}
    num["train s"] = st.column_config.NumberColumn(format="%.2f")
    event = st.dataframe(table, hide_index=True, width="stretch", column_config=num, on_select="rerun",
                         selection_mode="multi-row", key=f"hist.table.{st.session_state['hist.table_v']}")  # fmt: skip
    if st.checkbox(f"Select all {len(table):,} runs shown", key=K + "all"):
        return [int(i) for i in table["run"]]
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return [int(table["run"].iloc[r]) for r in rows if 0 <= r < len(table)]


def compare_section(store, ids: list[int]) -> None:
    st.subheader("Compare loss curves")
    if not ids:
        st.caption("Tick runs in the table (the boxes on the left) or “Select all” to overlay their loss curves.")
        return
    limit = LIMITS["compare_runs"]
    log_y = st.toggle("log scale", key=K + "log")
    chart(FS.runs_overlay(H.overlay_runs(store, ids[:limit]), log_y=log_y), key="hist.chart.compare",
          name="runs-compare")  # fmt: skip
    more = f" Showing the first {limit} of {len(ids)} selected runs." if len(ids) > limit else ""
    st.caption(
        "Left: training loss, right: validation loss, per epoch (scaled units, so runs on the same data compare). "
        "Colour = optimizer; runs of one optimizer differ by dash. A validation curve that turns up while "
        "training still falls is overfitting; a curve that stops early was ended by early stopping." + more
    )


def export_section(ids: list[int], shown: pd.DataFrame) -> None:
    st.subheader("Export")
    target = ids or [int(i) for i in shown["id"]]
    which = "selected" if ids else "shown"
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    fmt = c1.radio("Format", list(H.EXPORT_FORMATS), key=K + "fmt", format_func=H.EXPORT_FORMATS.get)
    c2.download_button(
        f"Download the {len(target):,} {which} run{'s' if len(target) != 1 else ''} ({fmt.upper()})",
        data=functools.partial(H.export_runs, st.session_state[STORE_KEY], tuple(target), fmt),
        file_name=H.export_name(fmt, len(target)), mime=H.EXPORT_MIME[fmt], on_click="ignore", key="hist.dl",
        disabled=not target,
    )  # fmt: skip
    st.caption("With no row ticked, every run the filters show is exported.")


def delete_section(ids: list[int]) -> None:
    ss = st.session_state
    st.subheader("Delete")
    pending = ss.get(W.HISTORY_CONFIRM)
    if not pending:
        st.button(f"Delete the {len(ids)} selected run{'s' if len(ids) != 1 else ''}…", key="hist.btn.delete",
                  disabled=not ids, on_click=W.ask_delete, args=(ids,), help="Asks for a confirmation first.")
        if not ids:
            st.caption("Tick runs in the table to delete them.")
        return
    st.warning(
        f"Delete {len(pending)} run{'s' if len(pending) != 1 else ''} permanently from `{ss[STORE_KEY]}`? This "
        "cannot be undone. A sweep left without runs is removed too (running it again trains it from scratch).",
        icon="⚠️",
    )
    c1, c2, _ = st.columns([1, 1, 3])
    c1.button(f"Yes, delete {len(pending)}", type="primary", key="hist.btn.yes", on_click=W.confirm_delete)
    c2.button("Cancel", key="hist.btn.no", on_click=W.forget_pending_delete)


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
        store_picker("The same file the Sweep page writes to.", "Reading `{path}`.", W.forget_pending_delete)
    ss = st.session_state
    st.title("Run history")
    st.markdown(
        "Every race of the Optimizer race page (unless “Keep in Run history” was off) and every run of a sweep (on "
        "the Sweep page or with `python -m gru_core sweep`) is kept here: filter them, overlay their loss curves, "
        "export them for a spreadsheet or a report, or delete them."
    )
    msg = ss.get("hist.message")
    if msg:
        (st.success if msg[0] == "success" else st.error)(msg[1])
        ss["hist.message"] = None
    store, error = open_store(ss[STORE_KEY])
    if error:
        st.error(error)
        return
    runs, sweeps = store.runs(), store.sweeps()
    if runs.empty and sweeps.empty:
        st.info(
            f"No runs yet in `{ss[STORE_KEY]}`. Finish a race on the **Optimizer race** page or run a sweep on the "
            "**Sweep** page (the tiny demo grid takes seconds) and its runs appear here. If your runs are in another "
            "file, give its file name in the sidebar.",
            icon="🗂️",
        )
        return
    races_section(runs)
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
