"""The Streamlit pieces the Sweep and Run history pages draw with: the sweep form's session state, one
widget per setting (read from :data:`gru_core.config.SETTINGS`), presets, the CSV upload, the plan, the
Run/Stop controls, the progress panel, the paired-comparison cards, and the history's delete callbacks.

Widget keys are ``sw.w.<name>`` with the names of :func:`gru_ui.sweep.form.to_widgets` (setting names, so
``sw.w.hidden_size`` and ``sw.w.grid.hidden_size``); they are copied to ``sw._saved`` at the end of every
run, so the form survives a visit to another page (Streamlit forgets the state of widgets not drawn).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from gru_core.config import SETTINGS
from gru_core.fmt import duration, num
from gru_core.stats import summarize, to_frame
from gru_ui.shell import STORE_KEY, csv_uploader, default_path, store_picker
from gru_ui.sweep import data as D
from gru_ui.sweep import estimate as E
from gru_ui.sweep import form as F
from gru_ui.sweep import history as H
from gru_ui.sweep.job import PageSweep, active_sweeps
from gru_ui.sweep.limits import LIMITS
from gru_ui.sweep.results import card_number, load_records

P = "sw.w."  # the sweep form's widget keys
JOB_KEY = "sw.job"  # the session's PageSweep (or None)
EXTRA_KEY = "sw.extra"  # grid fields added with "Sweep another setting too"
UPLOAD_KEY = "sw.upload"  # the stored CSV upload: path, name, columns
IN_FULL_RUN = "sw._full_run"  # a full page run is under way (not only the progress fragment)
HISTORY_CONFIRM = "hist.confirm"  # run ids waiting for the delete confirmation


# ---- the form's session state --------------------------------------------------------------------------------


def form_to_state(form: F.SweepForm, extra: list[str] | None = None) -> None:
    """Put a form's values into the widgets (presets; the first run)."""
    ss = st.session_state
    for name in [f for f in ss.get(EXTRA_KEY, []) if f not in form.grid]:
        ss.pop(P + "grid." + name, None)
    for key, value in F.to_widgets(form).items():
        ss[P + key] = list(value) if isinstance(value, list) else value
    ss[EXTRA_KEY] = [f for f in form.grid if f not in F.MAIN_FIELDS] + list(extra or [])
    for name in F.MAIN_FIELDS:
        ss.setdefault(P + "grid." + name, "")


def state_to_form() -> F.SweepForm:
    """The form the widgets hold now."""
    ss = st.session_state
    values = {k[len(P):]: v for k, v in ss.items() if isinstance(k, str) and k.startswith(P)}
    up = ss.get(UPLOAD_KEY)
    return F.from_widgets(values, (*F.MAIN_FIELDS, *ss.get(EXTRA_KEY, [])), up["path"] if up else None)


def init_state() -> None:
    """Every key the Sweep page reads, initialised once per session; widget values restored after a page
    switch."""
    ss = st.session_state
    ss.setdefault(STORE_KEY, default_path())
    for k, v in (ss.get("sw._saved") or {}).items():
        if k not in ss:
            ss[k] = v
    if not ss.get("sw.initialised"):
        form_to_state(F.SweepForm())
        ss[P + "workers"] = LIMITS["max_workers"]
        ss[P + "resume"] = True
        ss[P + "metric"] = "test_mape"
        ss[P + "add_field"] = F.EXTRA_FIELDS[0]
        ss["sw.initialised"] = True
    for key, value in ((EXTRA_KEY, []), (JOB_KEY, None), (UPLOAD_KEY, None), ("sw.preset_note", None),
                       ("sw.results", None)):  # fmt: skip
        ss.setdefault(key, value)


def save_widgets() -> None:
    ss = st.session_state
    ss["sw._saved"] = {k: ss[k] for k in list(ss.keys()) if isinstance(k, str) and k.startswith(P)}


# ---- presets and small callbacks -----------------------------------------------------------------------------


def apply_study_preset() -> None:
    ss = st.session_state
    up = ss.get(UPLOAD_KEY)
    if up:
        form = F.study_form(up["path"], ss.get(P + "column"), ss.get(P + "date_column") or None)
        ss["sw.preset_note"] = (
            "success",
            f"The study's grid is set up on your CSV file {up['name']}: 54 configurations × Adam and RMSprop "
            "(Keras flavour and initial weights), one seed as in the study. Raise the seeds to 3 or more to see "
            "whether its winner is more than luck.",
        )
    else:
        form = F.study_form()
        ss["sw.preset_note"] = (
            "info",
            "No tin price CSV uploaded, so the study's grid runs on the default dataset, the noisy sine wave. "
            "To reproduce the study itself, choose “Upload a CSV file…” under Data, upload tin_price.csv and "
            "press the preset again. (A sine wave crosses zero, which makes MAPE explode there: compare RMSE.)",
        )
    form_to_state(form)


def apply_tiny_preset() -> None:
    form_to_state(F.tiny_form())
    st.session_state[P + "workers"] = 0  # a second of work: starting worker processes would take longer
    st.session_state["sw.preset_note"] = (
        "info",
        "A tiny grid that finishes in seconds: 2 learning rates × Adam and RMSprop × 2 seeds, 4 hidden units, "
        "2 epochs, on a 200-value noisy sine, one cell after another (0 worker processes). Good for a "
        "first look at the results below; the numbers themselves mean little.",
    )


def add_field() -> None:
    ss = st.session_state
    name = ss.get(P + "add_field")
    if name and name not in ss[EXTRA_KEY] and name not in F.MAIN_FIELDS:
        ss[EXTRA_KEY] = [*ss[EXTRA_KEY], name]
        ss[P + "grid." + name] = ""
        free = [f for f in F.EXTRA_FIELDS if f not in ss[EXTRA_KEY]]
        if free:
            ss[P + "add_field"] = free[0]


def remove_field(name: str) -> None:
    ss = st.session_state
    ss[EXTRA_KEY] = [f for f in ss[EXTRA_KEY] if f != name]
    ss.pop(P + "grid." + name, None)


# ---- widgets ---------------------------------------------------------------------------------------------------


def setting_input(name: str, where: Any = st) -> None:
    """The widget of one base setting, labelled with its name, bounded by its page limit, helped by its help."""
    s = SETTINGS[name]
    key, label = P + name, name
    off = s.nullable and s.kind in ("int", "float")
    help_text = s.help + (" — 0: off" if off else "")
    high = s.limit if s.limit is not None else s.high
    if s.kind == "choice":
        where.selectbox(label, list(s.choices), key=key, help=help_text)
    elif s.kind == "bool":
        where.checkbox(label, key=key, help=help_text)
    elif s.kind == "int":
        low = 0 if off else int(s.low or 0)
        where.number_input(label, low, None if high is None else int(high), key=key, step=1, help=help_text)
    else:
        low = 0.0 if off else float(s.low or 0.0)
        step = 0.05 if high is not None and high <= 1 else 0.5
        where.number_input(label, low, None if high is None else float(high), key=key, step=step, help=help_text,
                           format="%g")  # fmt: skip


def grid_input(name: str, where: Any = st) -> None:
    where.text_input(F.grid_label(name), key=P + "grid." + name,
                     placeholder="e.g. " + F.STUDY_GRID.get(name, "values, comma-separated"))  # fmt: skip


def store_sidebar() -> None:
    with st.sidebar:
        store_picker(
            "Every finished cell of a sweep is written here at once; the Run history page reads the same file.",
            "Runs are stored in `{path}`.",
        )
        st.divider()
        L, lim = LIMITS, {n: f"{SETTINGS[n].limit:,}" for n in ("hidden_size", "epochs", "batch_size", "lookback")}
        st.caption(
            f"Limits: grids of more than {L['confirm_cells']:,} cells need a confirmation and more than "
            f"{L['max_cells']:,} are refused; ≤ {L['max_values']} values per setting; ≤ {L['max_seeds']} seeds; "
            f"≤ {L['max_optimizers']} optimizers; {L['max_sweeps']} sweeps running or waiting at once on this server; "
            f"hidden_size ≤ {lim['hidden_size']}, epochs ≤ {lim['epochs']}, batch_size ≤ {lim['batch_size']}, "
            f"lookback ≤ {lim['lookback']}; CSV ≤ {L['upload_mb']} MB."
        )


def upload_section() -> None:
    """The CSV uploader and its column pickers; the upload is kept next to the run store."""
    ss = st.session_state
    up = csv_uploader("sw.uploader", "A copy is kept next to the run store, so a stopped sweep can be resumed later.")
    if up is not None:
        raw = up.getvalue()
        known = ss.get(UPLOAD_KEY)
        if not known or known.get("bytes") != len(raw) or known.get("file") != up.name:
            cols, error = D.read_upload(raw, up.name)
            if error or cols is None:
                st.error(error or f"{up.name} could not be read.")
                return
            try:
                path = D.save_upload(raw, up.name, ss[STORE_KEY])
            except OSError as exc:
                st.error(f"Could not keep a copy of {up.name} next to the run store: {exc}")
                return
            ss[UPLOAD_KEY] = {"path": str(path), "name": up.name, "file": up.name, "bytes": len(raw),
                              "numeric": list(cols.numeric_columns), "columns": list(cols.columns),
                              "rows": cols.n_rows}  # fmt: skip
            ss[P + "column"] = cols.value_column or (cols.numeric_columns or [None])[-1]
            ss[P + "date_column"] = cols.date_column or ""
    known = ss.get(UPLOAD_KEY)
    if not known:
        st.info("Upload a CSV file to sweep over your own series (for example the study's tin_price.csv).")
        return
    if up is None:
        st.caption(f"Using {known['name']} (uploaded earlier; upload another file to replace it).")
    if ss.get(P + "column") not in known["numeric"]:
        ss[P + "column"] = known["numeric"][-1] if known["numeric"] else None
    dates = ["", *[c for c in known["columns"] if c != ss.get(P + "column")]]
    if ss.get(P + "date_column") not in dates:
        ss[P + "date_column"] = ""
    c1, c2 = st.columns(2)
    c1.selectbox("column", known["numeric"], key=P + "column", help=SETTINGS["column"].help)
    c2.selectbox("date_column", dates, key=P + "date_column", format_func=lambda c: c or "(detect / none)",
                 help=SETTINGS["date_column"].help)  # fmt: skip
    st.caption(f"{known['rows']:,} rows.")


# ---- the plan and the controls ---------------------------------------------------------------------------------


def plan(form: F.SweepForm, workers: int):
    """``(spec, estimate, info, problems)``: the spec, what it costs (memoised per spec, workers and stored
    cells), the data sizes, or what is wrong."""
    spec, cell_list, problems = F.build_spec(form)
    if problems:
        return None, None, None, problems
    info, data_problems = F.check_data(cell_list)
    if data_problems:
        return None, None, None, data_problems
    ss = st.session_state
    stored: set[str] = set()
    if ss.get(P + "resume"):
        try:
            _, stored = E.stored_cells(ss[STORE_KEY], spec)
        except Exception:  # noqa: BLE001 - a bad store path is reported by the sidebar and on launch
            stored = set()
    memo_key = (spec.key, workers, len(stored))
    memo = ss.get("sw._estimate")
    if memo is None or memo[0] != memo_key:
        ss["sw._estimate"] = memo = (memo_key, E.estimate(spec, cell_list, workers, stored))
    return spec, memo[1], info, []


def controls(spec, est: E.Estimate | None, problems: list[str]) -> None:
    """The confirmation of a big grid, Run and Stop, and what is wrong; starts or stops the session's job."""
    ss = st.session_state
    job: PageSweep | None = ss.get(JOB_KEY)
    running = job is not None and job.running
    blocked = bool(problems) or spec is None or est is None
    if est is not None and est.needs_confirm and not running:
        st.warning(
            f"This grid has {est.n_cells:,} cells (more than {LIMITS['confirm_cells']:,}): about "
            f"{duration(est.seconds)} of computing on this server. Tick the box to run it anyway.",
            icon="⚠️",
        )
        st.checkbox(f"Yes, run all {est.n_cells:,} cells", key=P + "confirm")
        blocked = blocked or not ss.get(P + "confirm")
    busy = active_sweeps()  # every session's, from the runner's registry
    c1, c2, c3 = st.columns([1.3, 1, 5], vertical_alignment="center")
    run = c1.button("▶ Run sweep", type="primary", key="sw.btn.run", width="stretch",
                    disabled=blocked or running or busy >= LIMITS["max_sweeps"],
                    help="A sweep is already running in this tab." if running
                    else "Train every cell; results are stored.")  # fmt: skip
    stop = c2.button("■ Stop", key="sw.btn.stop", width="stretch", disabled=not running,
                     help="End the sweep now (cells training in worker processes are ended; with 0 workers after "
                     "the current cell; a sweep waiting in line is taken out); finished cells stay "
                     "stored.")  # fmt: skip
    with c3:
        if running:
            st.caption("The sweep trains in the background: you may change the settings or visit other pages.")
        elif busy >= LIMITS["max_sweeps"]:
            st.caption(f"The server is running or queueing {busy} sweeps (limit {LIMITS['max_sweeps']}): wait a "
                       "little.")  # fmt: skip
    for problem in problems:
        st.error(problem)
    if stop and job is not None:
        job.stop()
        st.rerun()
    if run and not blocked and not running and spec is not None and est is not None:
        try:
            job = PageSweep(spec, ss[STORE_KEY], workers=int(ss[P + "workers"]), resume=bool(ss[P + "resume"]),
                            estimate_seconds=est.seconds)  # fmt: skip
            job.start()
        except Exception as exc:  # noqa: BLE001 - busy server, bad store path, …: a message, never a traceback
            ss["sw.error"] = str(exc)
        else:
            ss["sw.error"] = None
            ss[JOB_KEY] = job  # its results are shown when it ends (show_finished)
            st.rerun()
    if ss.get("sw.error"):
        st.error(ss["sw.error"])


STATUS_WORDS = {"queued": "Waiting in line", "starting": "Starting", "running": "Running", "stopping": "Stopping",
                "finished": "Finished", "failed": "Finished with failures", "stopped": "Stopped", "error": "Error",
                "cancelled": "Cancelled"}  # fmt: skip


def show_finished() -> None:
    """Once per sweep, after it has ended: its results are the ones shown (its id is known once its host, which
    writes the store, found or created it).  Called by the page's full run."""
    ss = st.session_state
    job: PageSweep | None = ss.get(JOB_KEY)
    if job is None or job.final_drawn or job.snapshot().live:
        return
    if job.sweep_id is not None:
        ss[P + "show"] = job.sweep_id
    job.final_drawn = True


def progress_panel() -> None:
    """The session's sweep: progress, the last cell, the end.  Drawn by a fragment on a timer while it runs;
    when it has ended the fragment asks for one full run (the results), which turns the timer off."""
    ss = st.session_state
    job: PageSweep | None = ss.get(JOB_KEY)
    if job is None:
        return
    snap = job.snapshot()
    if not snap.live and not job.final_drawn and not ss.get(IN_FULL_RUN):
        st.rerun()  # ended: a full run draws the results and turns the timer off
    done_txt = f"{snap.done:,} / {snap.total:,} cells"
    if snap.skipped:
        done_txt += f" (+{snap.skipped:,} from the store)"
    eta = f" · about {duration(snap.eta)} to go" if snap.live and snap.eta is not None else ""
    st.markdown(f"#### {STATUS_WORDS.get(snap.status, snap.status)}: {done_txt} · {duration(snap.elapsed)} "
                f"elapsed{eta}")  # fmt: skip
    if snap.status == "queued":
        wait = f", about {duration(snap.queue_wait)} to wait" if snap.queue_wait is not None else ""
        st.caption(f"Every worker is busy with other races or sweeps: this sweep is number {snap.queue_position} in "
                   f"line{wait}. It starts by itself; **Stop** takes it out of the line.")  # fmt: skip
    st.progress(min(1.0, snap.fraction), text=f"{snap.fraction:.0%} of the cells")
    if snap.last:
        st.caption(f"Last finished: {snap.last}")
    if snap.status == "stopping":
        st.caption("Stopping: cells training in worker processes are ended now; with 0 workers the current cell "
                   "finishes first. Nothing finished is lost: run the same grid again to resume.")
    if snap.status == "error":
        st.error(f"The sweep could not run: {snap.message}")
    elif snap.status == "failed":
        st.warning(f"Some cells failed: {snap.message}")
    elif snap.status == "stopped":
        st.info(snap.message + " Run the same grid again (with “reuse cells” ticked) to finish it.")
    elif snap.status == "cancelled":
        st.info(snap.message)
    elif snap.status == "finished":
        extra = f" (estimated at most {duration(job.estimate_seconds)})" if job.estimate_seconds else ""
        st.success(f"Done in {duration(job.wall_seconds)}{extra}: {snap.message}.")
    if snap.failures:
        with st.expander(f"{len(snap.failures)} failed cell(s)"):
            st.dataframe(pd.DataFrame(snap.failures), hide_index=True)


def paired_cards(pc: dict, mname: str, points: bool) -> None:
    """The paired comparison of two optimizers as five metric cards (``points``: MAPE differences)."""
    a, b = pc["a"], pc["b"]
    c = st.columns([1.1, 1.5, 1, 1, 1])
    c[0].metric("Mean difference" + (" (points)" if points else ""), card_number(pc["mean_diff"]),
                help=f"{a}'s {mname} minus {b}'s, averaged over {pc['n']} pairs (same configuration, same seed). "
                f"Negative: {a} has the lower error.")  # fmt: skip
    c[1].metric("95 % confidence interval", f"{card_number(pc['ci_low'])} … {card_number(pc['ci_high'])}",
                help="Where the true mean difference lies, given the spread of the pairs. If it includes 0, the "
                "difference is within the noise.")  # fmt: skip
    c[2].metric("p-value (paired t-test)", num(pc["p_value"], 2),
                help="Small (< 0.05) when a difference this large would be rare by chance.")  # fmt: skip
    c[3].metric(f"{a} better in", f"{pc['wins_a']:.0%}" if pc["n"] else "—", help="Share of the pairs.")
    c[4].metric(f"{b} better in", f"{pc['wins_b']:.0%}" if pc["n"] else "—", help="Share of the pairs.")


# ---- the results of a stored sweep ----------------------------------------------------------------------------


def sweep_choice(store) -> int | None:
    """The stored sweep whose results are shown: the one just run, or the user's pick (newest first)."""
    ss = st.session_state
    sweeps = store.sweeps()
    sweeps = sweeps[sweeps["n_runs"] > 0]
    if sweeps.empty:
        return None
    rows = {int(r["id"]): r for _, r in sweeps.iterrows()}
    if ss.get(P + "show") not in rows:
        ss[P + "show"] = next(iter(rows))
    return st.selectbox("Results of the stored sweep", list(rows), key=P + "show",
                        format_func=lambda i: H.sweep_choice_label(rows[i]))  # fmt: skip


def load_results(store_path: str, sweep_id: int, n_runs: int, metric: str):
    """Records, frame and summary of a stored sweep, computed once per (sweep, runs, metric)."""
    ss = st.session_state
    key = (store_path, sweep_id, n_runs, metric)
    memo = ss.get("sw.results")
    if memo is None or memo[0] != key:
        records = load_records(store_path, sweep_id)
        ss["sw.results"] = memo = (key, records, to_frame(records), summarize(records, metric=metric))
    return memo[1], memo[2], memo[3]


# ---- the run history's delete, in two steps -------------------------------------------------------------------


def forget_pending_delete() -> None:
    st.session_state[HISTORY_CONFIRM] = None  # a delete confirmed for one store must not hit another


def ask_delete(ids: list[int]) -> None:
    st.session_state[HISTORY_CONFIRM] = list(ids)


def confirm_delete() -> None:
    """Callback of "Yes, delete": runs before the widgets, so it may reset the selection."""
    ss = st.session_state
    try:
        n, gone = H.delete_runs(ss[STORE_KEY], ss.get(HISTORY_CONFIRM) or [])
    except Exception as exc:  # noqa: BLE001 - a locked or read-only store: a message, not a traceback
        ss["hist.message"] = ("error", f"Could not delete: {exc}")
    else:
        extra = f" and {len(gone)} sweep(s) left without runs" if gone else ""
        ss["hist.message"] = ("success", f"Deleted {n} run{'s' if n != 1 else ''}{extra}.")
    ss[HISTORY_CONFIRM] = None
    ss["hist.table_v"] += 1  # a fresh table: no stale selection
    ss["hist.w.all"] = False
