"""Page "Sweep": a grid of configurations × optimizers × seeds, run in the background, stored, and judged
against the seed noise.

The page only configures, listens and draws.  The sweep runs in a :class:`gru_ui.sweep_session.SweepJob`
thread kept in ``st.session_state["sw.job"]`` (it calls ``gru_core.sweep.run_sweep``; every finished cell is
stored in the run store at once).  While it runs, a fragment redraws the progress every ``POLL`` seconds;
when it has ended, the fragment asks for one full rerun, which draws the results and stops the timer.

Widget values live under ``sw.w.*`` keys and are copied to ``sw._saved`` at the end of every run, so the
grid survives a visit to another page (Streamlit forgets the state of widgets that were not drawn).
"""

from __future__ import annotations

import math
import sys
import traceback
from pathlib import Path

import pandas as pd
import streamlit as st

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # standalone (AppTest, streamlit run pages/…)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gru_core.optim import OPTIMIZERS  # noqa: E402
from gru_core.stats import group_stats, paired_by_config, to_frame  # noqa: E402
from gru_ui import figures as F  # noqa: E402
from gru_ui import runs as R  # noqa: E402
from gru_ui import state as S  # noqa: E402
from gru_ui import sweep_session as W  # noqa: E402
from gru_ui.figures import sweep as FS  # noqa: E402
from gru_ui.shell import STORE_KEY, app_frame, chart, display_toggles, store_picker  # noqa: E402

POLL = 1.0  # seconds between progress redraws while a sweep runs
IN_FULL_RUN = "sw._full_run"
CSV = S.CSV_KEY
P = "sw.w."  # widget keys

# the form's fields <-> widget keys
FORM_KEYS = {
    "source": "source",
    "data_params": "data_params",
    "lookback": "lookback",
    "horizon": "horizon",
    "train_pct": "train_pct",
    "val_pct": "val_pct",
    "split_by": "split_by",
    "scaler": "scaler",
    "fit_scaler_on": "fit_on",
    "num_layers": "layers",
    "variant": "variant",
    "init": "init",
    "dropout": "dropout",
    "dtype": "dtype",
    "patience": "patience",
    "restore_best": "restore_best",
    "clip_norm": "clip",
    "schedule": "schedule",
    "optimizers": "optimizers",
    "flavor": "flavor",
    "n_seeds": "n_seeds",
    "first_seed": "first_seed",
    "name": "name",
}


# ---- session state ---------------------------------------------------------------------------------------


def form_to_state(form: W.SweepForm, extra: list[str] | None = None) -> None:
    """Put a form's values into the widgets (presets; the first run)."""
    ss = st.session_state
    for attr, key in FORM_KEYS.items():
        value = getattr(form, attr)
        ss[P + key] = list(value) if isinstance(value, list) else value
    if form.source not in S.series_datasets():
        ss[P + "source"] = CSV
    for name in [f for f in ss.get("sw.extra", []) if f not in form.grid]:
        ss.pop(P + "grid." + name, None)
    ss["sw.extra"] = [f for f in form.grid if f not in W.MAIN_FIELDS] + list(extra or [])
    for name, text in form.grid.items():
        ss[P + "grid." + name] = text
    for name in W.MAIN_FIELDS:
        ss.setdefault(P + "grid." + name, "")


def init_state() -> None:
    """Every key this page reads, initialised once per session; widget values restored after a page switch."""
    ss = st.session_state
    ss.setdefault(STORE_KEY, W.default_path())
    for k, v in (ss.get("sw._saved") or {}).items():
        if k not in ss:
            ss[k] = v
    if not ss.get("sw.initialised"):
        form_to_state(W.SweepForm())
        ss[P + "workers"] = W.LIMITS["max_workers"]
        ss[P + "resume"] = True
        ss[P + "metric"] = "test_mape"
        ss[P + "add_field"] = W.EXTRA_FIELDS[0]
        ss["sw.initialised"] = True
    ss.setdefault("sw.extra", [])
    ss.setdefault("sw.job", None)
    ss.setdefault("sw.upload", None)
    ss.setdefault("sw.preset_note", None)
    ss.setdefault("sw.results", None)


def save_widgets() -> None:
    ss = st.session_state
    ss["sw._saved"] = {k: ss[k] for k in list(ss.keys()) if isinstance(k, str) and k.startswith(P)}


def state_to_form() -> W.SweepForm:
    ss = st.session_state
    values = {attr: ss.get(P + key) for attr, key in FORM_KEYS.items()}
    form = W.SweepForm(**{k: v for k, v in values.items() if v is not None})
    form.grid = {f: str(ss.get(P + "grid." + f, "") or "") for f in (*W.MAIN_FIELDS, *ss.get("sw.extra", []))}
    if ss.get(P + "source") == CSV:
        up = ss.get("sw.upload")
        form.source = up["path"] if up else ""
        form.column = ss.get(P + "csv_value") or None
        form.date_column = ss.get(P + "csv_date") or None
        form.data_params = ""
    return form


# ---- presets and small callbacks ---------------------------------------------------------------------------


def apply_study_preset() -> None:
    ss = st.session_state
    up = ss.get("sw.upload")
    if up:
        form = W.study_form(up["path"], ss.get(P + "csv_value"), ss.get(P + "csv_date") or None)
        ss["sw.preset_note"] = (
            "success",
            f"The study's grid is set up on your CSV file {up['name']}: 54 configurations × Adam and RMSprop "
            "(Keras flavour and initial weights), one seed as in the study. Raise the seeds to 3 or more to see "
            "whether its winner is more than luck.",
        )
    else:
        form = W.study_form()
        ss["sw.preset_note"] = (
            "info",
            "No tin price CSV uploaded, so the study's grid runs on the default dataset, the noisy sine wave. "
            "To reproduce the study itself, choose “Upload a CSV file…” under Data, upload tin_price.csv and "
            "press the preset again. (A sine wave crosses zero, which makes MAPE explode there: compare RMSE.)",
        )
    form_to_state(form)


def apply_tiny_preset() -> None:
    form_to_state(W.tiny_form())
    st.session_state[P + "workers"] = 0  # a second of work: starting worker processes would take longer
    st.session_state["sw.preset_note"] = (
        "info",
        "A tiny grid that finishes in seconds: 2 learning rates × Adam and RMSprop × 2 seeds, 4 hidden units, "
        "2 epochs, on a 200-value noisy sine, inside the app's own process (0 worker processes). Good for a "
        "first look at the results below; the numbers themselves mean little.",
    )


def add_field() -> None:
    ss = st.session_state
    name = ss.get(P + "add_field")
    if name and name not in ss["sw.extra"] and name not in W.MAIN_FIELDS:
        ss["sw.extra"] = [*ss["sw.extra"], name]
        ss[P + "grid." + name] = ""
        free = [f for f in W.EXTRA_FIELDS if f not in ss["sw.extra"]]
        if free:
            ss[P + "add_field"] = free[0]


def remove_field(name: str) -> None:
    ss = st.session_state
    ss["sw.extra"] = [f for f in ss["sw.extra"] if f != name]
    ss.pop(P + "grid." + name, None)


# ---- the form ----------------------------------------------------------------------------------------------


def store_sidebar() -> None:
    with st.sidebar:
        store_picker(
            "Every finished cell of a sweep is written here at once; the Run history page reads the same file.",
            "Runs are stored in `{path}`.",
        )
        st.divider()
        L = W.LIMITS
        st.caption(
            f"Limits: grids of more than {L['confirm_cells']:,} cells need a confirmation and more than "
            f"{L['max_cells']:,} are refused; ≤ {L['max_values']} values per setting; ≤ {L['max_seeds']} seeds; "
            f"≤ {L['max_optimizers']} optimizers; {L['max_sweeps']} sweeps running at once on this server; "
            f"hidden ≤ {S.LIMITS['hidden']} units, epochs ≤ {S.LIMITS['epochs']:,}, batch ≤ {S.LIMITS['batch']:,}, "
            f"lookback ≤ {S.LIMITS['lookback']}; CSV ≤ {S.LIMITS['upload_mb']} MB."
        )


def _dataset_label(key: str) -> str:
    return "Upload a CSV file…" if key == CSV else S.series_datasets().get(key, key)


def upload_section() -> None:
    ss = st.session_state
    up = st.file_uploader(
        f"CSV file (at most {S.LIMITS['upload_mb']} MB, {S.LIMITS['rows']:,} rows)",
        type=["csv", "txt", "tsv"],
        key="sw.uploader",
        max_upload_size=S.LIMITS["upload_mb"],
        help="One row per date; a date column (optional) and at least one numeric column. A copy is kept next to "
        "the run store, so a stopped sweep can be resumed later.",
    )
    if up is not None:
        raw = up.getvalue()
        known = ss.get("sw.upload")
        if not known or known.get("bytes") != len(raw) or known.get("file") != up.name:
            result = R.read_upload(raw, up.name)
            if result.error or result.columns is None:
                st.error(result.error or f"{up.name} could not be read.")
                return
            try:
                path = W.save_upload(raw, up.name, ss[STORE_KEY])
            except OSError as exc:
                st.error(f"Could not keep a copy of {up.name} next to the run store: {exc}")
                return
            cols = result.columns
            ss["sw.upload"] = {
                "path": str(path),
                "name": up.name,
                "file": up.name,
                "bytes": len(raw),
                "numeric": list(cols.numeric_columns),
                "columns": list(cols.columns),
                "rows": cols.n_rows,
            }
            ss[P + "csv_value"] = cols.value_column or (cols.numeric_columns or [None])[-1]
            ss[P + "csv_date"] = cols.date_column or ""
    known = ss.get("sw.upload")
    if not known:
        st.info("Upload a CSV file to sweep over your own series (for example the study's tin_price.csv).")
        return
    if up is None:
        st.caption(f"Using {known['name']} (uploaded earlier; upload another file to replace it).")
    if ss.get(P + "csv_value") not in known["numeric"]:
        ss[P + "csv_value"] = known["numeric"][-1] if known["numeric"] else None
    dates = ["", *[c for c in known["columns"] if c != ss.get(P + "csv_value")]]
    if ss.get(P + "csv_date") not in dates:
        ss[P + "csv_date"] = ""
    c1, c2 = st.columns(2)
    c1.selectbox("Value column (what to forecast)", known["numeric"], key=P + "csv_value")
    c2.selectbox("Date column", dates, key=P + "csv_date", format_func=lambda c: c or "(detect / none)")
    st.caption(f"{known['rows']:,} rows.")


def data_section() -> None:
    k = P
    st.subheader("1 · Data")
    keys = [*S.series_datasets(), CSV]
    st.selectbox("Dataset", keys, key=k + "source", format_func=_dataset_label)
    if st.session_state[k + "source"] == CSV:
        upload_section()
    else:
        st.caption(R.dataset_description(st.session_state[k + "source"]))
        spec = S.series_datasets()
        if st.session_state[k + "source"] in spec:
            from gru_core.data.datasets import DATASETS

            params = ", ".join(f"{p}={v}" for p, v in DATASETS[st.session_state[k + "source"]].params.items())
            st.text_input(
                "Dataset parameters (optional)",
                key=k + "data_params",
                placeholder="e.g. length=500, noise=0.1",
                help=f"Override the generator's defaults: {params or 'this dataset has none'}.",
            )
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Lookback (values per window)", 1, S.LIMITS["lookback"], key=k + "lookback", step=1)
    c2.number_input("Horizon (values predicted)", 1, S.LIMITS["horizon"], key=k + "horizon", step=1)
    c3.number_input("Train %", 10, 95, key=k + "train_pct", step=1)
    c4.number_input("Validation %", 0, 45, key=k + "val_pct", step=1)
    test = 100 - int(st.session_state[k + "train_pct"]) - int(st.session_state[k + "val_pct"])
    c1, c2, c3 = st.columns(3)
    c1.radio(
        "Split",
        ["windows", "series"],
        key=k + "split_by",
        horizontal=True,
        format_func={"windows": "by windows", "series": "by series rows (the study)"}.get,
        help="'by series rows' splits the values first, then windows each part, as the original study did.",
    )
    c2.selectbox("Scaling", ["minmax", "standard", "none"], key=k + "scaler")
    c3.radio(
        "Fit the scaler on",
        ["train", "all"],
        key=k + "fit_on",
        horizontal=True,
        format_func={"train": "training part", "all": "whole series (the study: leaks)"}.get,
    )
    st.caption(f"Chronological split: train → validation → test ({test} % test, the end of the series).")


def grid_section() -> None:
    ss = st.session_state
    st.subheader("2 · What to sweep")
    st.caption(
        "Type the values to try, separated by commas. Every combination is one configuration. An empty box "
        "keeps the default (batch 32, 100 epochs, each optimizer's own learning rate, 32 hidden units)."
    )
    c1, c2 = st.columns(2)
    for i, name in enumerate(W.MAIN_FIELDS):
        (c1 if i % 2 == 0 else c2).text_input(
            W.FIELD_LABELS[name], key=P + "grid." + name, placeholder="e.g. " + W.STUDY_GRID[name]
        )
    for name in list(ss["sw.extra"]):
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        c1.text_input(W.FIELD_LABELS.get(name, name), key=P + "grid." + name, placeholder="values, comma-separated")
        c2.button("Remove", key=f"sw.remove.{name}", on_click=remove_field, args=(name,))
    free = [f for f in W.EXTRA_FIELDS if f not in ss["sw.extra"]]
    if free:
        if ss.get(P + "add_field") not in free:
            ss[P + "add_field"] = free[0]
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        c1.selectbox(
            "Sweep another setting too",
            free,
            key=P + "add_field",
            format_func=lambda f: W.FIELD_LABELS.get(f, f),
            help="Any model, training or data setting can be swept.",
        )
        c2.button("Add", key="sw.add", on_click=add_field)


def fixed_section() -> None:
    k = P
    with st.expander("Fixed settings of the model and training (used unless swept above)"):
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("GRU layers", 1, S.LIMITS["layers"], key=k + "layers", step=1)
        c2.selectbox("Variant", ["pytorch", "classic"], key=k + "variant")
        c3.selectbox(
            "Initial weights",
            ["pytorch", "keras"],
            key=k + "init",
            help="keras: Glorot/orthogonal/zeros, as the study's Keras model.",
        )
        c4.number_input("Dropout", 0.0, 0.9, key=k + "dropout", step=0.05)
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Early-stopping patience (0 = off)", 0, S.LIMITS["patience"], key=k + "patience", step=1)
        c2.checkbox("Restore the best weights at the end", key=k + "restore_best")
        c3.number_input("Gradient clipping: max norm (0 = off)", 0.0, 1000.0, key=k + "clip", step=0.5)
        c4.selectbox("Learning-rate schedule", ["constant", "step", "cosine"], key=k + "schedule")
        st.selectbox("Precision", ["float64", "float32"], key=k + "dtype")


def optimizer_section() -> None:
    k = P
    st.subheader("3 · Optimizers, seeds, workers")
    c1, c2 = st.columns([3, 2])
    c1.multiselect(
        "Optimizers (each configuration trains all of them from the same weights, on the same batches)",
        list(OPTIMIZERS),
        key=k + "optimizers",
        format_func=lambda o: OPTIMIZERS[o].name,
        max_selections=W.LIMITS["max_optimizers"],
    )
    c2.radio(
        "Flavour of Adam and RMSprop",
        ["pytorch", "keras"],
        key=k + "flavor",
        horizontal=True,
        help="keras: tf.keras 2.15's update rules and defaults (eps inside the square root, RMSprop rho 0.9), "
        "as the study. SGD, Adagrad and AdamW have one flavour.",
    )
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(
        "Seeds per configuration",
        1,
        W.LIMITS["max_seeds"],
        key=k + "n_seeds",
        step=1,
        help="Each seed changes the initial weights, dropout masks and batch order. With one seed, nobody can "
        "tell a real difference from luck; 3 or more let the page estimate the seed noise.",
    )
    c2.number_input("First seed", 0, S.LIMITS["seed"], key=k + "first_seed", step=1)
    c3.number_input(
        "Worker processes",
        0,
        W.LIMITS["max_workers"],
        key=k + "workers",
        step=1,
        help="Cells run in parallel, one per process (a few seconds to start). 0: one after another inside the "
        "app's own process (no start-up cost; fine for tiny grids).",
    )
    c4.text_input("Name of this sweep", key=k + "name", max_chars=80, placeholder="e.g. study grid, 3 seeds")
    st.checkbox(
        "Reuse cells of this exact grid already in the store (resume a stopped sweep)",
        key=k + "resume",
        help="Cells are identified by every setting and the seed; the same cell is never trained twice.",
    )


# ---- the summary before launching, and the controls ----------------------------------------------------------


def plan(form: W.SweepForm, workers: int):
    """``(spec, estimate, info, problems)``: the spec, what it costs, the data sizes, or what is wrong."""
    spec, cell_list, problems = W.build_spec(form)
    if problems:
        return None, None, None, problems
    if not form.source:
        return None, None, None, ["Upload a CSV file first."]
    info, data_problems = W.check_data(cell_list)
    if data_problems:
        return None, None, None, data_problems
    ss = st.session_state
    stored: set[str] = set()
    if ss.get(P + "resume"):
        try:
            _, stored = W.stored_cells(ss[STORE_KEY], spec)
        except Exception:  # noqa: BLE001 - a bad store path is reported by the sidebar and on launch
            stored = set()
    memo_key = (spec.key, workers, len(stored))
    memo = ss.get("sw._estimate")
    if memo is None or memo[0] != memo_key:
        ss["sw._estimate"] = memo = (memo_key, W.estimate(spec, cell_list, workers, stored))
    return spec, memo[1], info, []


def plan_caption(spec, est: W.Estimate, info: dict | None, form: W.SweepForm) -> None:
    labels = [c.name for c in spec.contestants]
    seeds = f"{est.n_seeds} seed{'s' if est.n_seeds != 1 else ''}"
    text = (
        f"**{est.n_configs:,} configuration{'s' if est.n_configs != 1 else ''} × {seeds} = {est.n_cells:,} "
        f"cell{'s' if est.n_cells != 1 else ''}**; each cell trains {_and(labels)} in lockstep → "
        f"**{est.n_runs:,} runs**."
    )
    if est.n_stored == est.n_cells:
        text += " All of them are in the store already: **Run sweep** only shows their results again."
    elif est.n_stored:
        text += f" {est.n_stored:,} cells are already in the store and will not be trained again."
    if est.n_stored < est.n_cells:
        where = (
            "in this process, one after another"
            if int(st.session_state[P + "workers"]) == 0
            else (f"on {est.workers} worker process{'es' if est.workers != 1 else ''}")
        )
        early = (
            f" — early stopping (patience {form.patience}) usually ends runs sooner"
            if form.patience or "patience" in spec.grid
            else ""
        )
        text += f" Estimated time: **at most about {W.fmt_duration(est.seconds)}** {where}{early}."
    st.markdown(text)
    if info:
        st.caption(
            f"Data: {info.get('name')} — {info.get('length', 0):,} values"
            + (f" ({info['units']})" if info.get("units") else "")
            + f" → {info.get('n_train', 0):,} training, {info.get('n_val', 0):,} validation and "
            f"{info.get('n_test', 0):,} test windows."
        )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def controls(spec, est: W.Estimate | None, problems: list[str]) -> None:
    ss = st.session_state
    job: W.SweepJob | None = ss.get("sw.job")
    running = job is not None and job.running
    blocked = bool(problems) or spec is None or est is None
    if est is not None and est.needs_confirm and not running:
        st.warning(
            f"This grid has {est.n_cells:,} cells (more than {W.LIMITS['confirm_cells']:,}): about "
            f"{W.fmt_duration(est.seconds)} of computing on this server. Tick the box to run it anyway.",
            icon="⚠️",
        )
        st.checkbox(f"Yes, run all {est.n_cells:,} cells", key=P + "confirm")
        blocked = blocked or not ss.get(P + "confirm")
    busy = W.active_sweeps()
    c1, c2, c3 = st.columns([1.3, 1, 5], vertical_alignment="center")
    run = c1.button(
        "▶ Run sweep",
        type="primary",
        key="sw.btn.run",
        width="stretch",
        disabled=blocked or running or busy >= W.LIMITS["max_sweeps"],
        help="A sweep is already running in this tab." if running else "Train every cell; results are stored.",
    )
    stop = c2.button(
        "■ Stop",
        key="sw.btn.stop",
        width="stretch",
        disabled=not running,
        help="End the sweep now (cells training in worker processes are ended; with 0 workers after the current "
        "cell); finished cells stay stored.",
    )
    with c3:
        if running:
            st.caption("The sweep trains in the background: you may change the settings or visit other pages.")
        elif busy >= W.LIMITS["max_sweeps"]:
            st.caption(f"The server is running {busy} sweeps (limit {W.LIMITS['max_sweeps']}): wait a little.")
    for problem in problems:
        st.error(problem)
    if stop and job is not None:
        job.stop()
        st.rerun()
    if run and not blocked and not running and spec is not None and est is not None:
        try:
            job = W.SweepJob(
                spec,
                ss[STORE_KEY],
                workers=int(ss[P + "workers"]),
                resume=bool(ss[P + "resume"]),
                estimate_seconds=est.seconds,
            )
            job.start()
        except Exception as exc:  # noqa: BLE001 - busy server, bad store path, …: a message, never a traceback
            ss["sw.error"] = str(exc)
        else:
            ss["sw.error"] = None
            ss["sw.job"] = job
            ss[P + "show"] = job.sweep_id  # its results are shown when it ends
            st.rerun()
    if ss.get("sw.error"):
        st.error(ss["sw.error"])


# ---- progress (a fragment while running) -----------------------------------------------------------------------


def progress_panel() -> None:
    ss = st.session_state
    job: W.SweepJob | None = ss.get("sw.job")
    if job is None:
        return
    snap = job.snapshot()
    if not snap.live and not job.final_drawn and not ss.get(IN_FULL_RUN):
        st.rerun()  # ended: a full run draws the results and turns the timer off
    state = {
        "starting": "Starting",
        "running": "Running",
        "stopping": "Stopping",
        "finished": "Finished",
        "failed": "Finished with failures",
        "stopped": "Stopped",
        "error": "Error",
    }.get(snap.status, snap.status)
    done_txt = f"{snap.done:,} / {snap.total:,} cells"
    if snap.skipped:
        done_txt += f" (+{snap.skipped:,} from the store)"
    eta = f" · about {W.fmt_duration(snap.eta)} to go" if snap.live and snap.eta is not None else ""
    st.markdown(f"#### {state}: {done_txt} · {W.fmt_duration(snap.elapsed)} elapsed{eta}")
    st.progress(min(1.0, snap.fraction), text=f"{snap.fraction:.0%} of the cells")
    if snap.last:
        st.caption(f"Last finished: {snap.last}")
    if snap.status == "stopping":
        st.caption(
            "Stopping: cells training in worker processes are ended now; in this process (0 workers) the "
            "current cell finishes first. Nothing finished is lost: run the same grid again to resume."
        )
    if snap.status == "error":
        st.error(f"The sweep could not run: {snap.message}")
    elif snap.status == "failed":
        st.warning(f"Some cells failed: {snap.message}")
    elif snap.status == "stopped":
        st.info(snap.message + " Run the same grid again (with “reuse cells” ticked) to finish it.")
    elif snap.status == "finished":
        measured = job.wall_seconds
        est = job.estimate_seconds
        extra = f" (estimated at most {W.fmt_duration(est)})" if est else ""
        st.success(f"Done in {W.fmt_duration(measured)}{extra}: {snap.message}.")
    if snap.failures:
        with st.expander(f"{len(snap.failures)} failed cell(s)"):
            st.dataframe(pd.DataFrame(snap.failures), hide_index=True)


# ---- results ------------------------------------------------------------------------------------------------


def sweep_choice(store) -> int | None:
    """The stored sweep whose results are shown: the one just run, or the user's pick (newest first)."""
    ss = st.session_state
    sweeps = store.sweeps()
    sweeps = sweeps[sweeps["n_runs"] > 0]
    if sweeps.empty:
        return None
    ids = [int(i) for i in sweeps["id"]]
    if ss.get(P + "show") not in ids:
        ss[P + "show"] = ids[0]
    rows = {int(r["id"]): r for _, r in sweeps.iterrows()}

    def label(i: int) -> str:
        r = rows[i]
        name = f" “{r['name']}”" if r["name"] else ""
        return f"#{i}{name} · {W.local_time(r['created'])} · {r['status']} · {int(r['n_runs'])} runs"

    return st.selectbox("Results of the stored sweep", ids, key=P + "show", format_func=label)


def load(store_path: str, sweep_id: int, n_runs: int, metric: str):
    """Records, frame and summary of a stored sweep, computed once per (sweep, runs, metric)."""
    ss = st.session_state
    key = (store_path, sweep_id, n_runs, metric)
    memo = ss.get("sw.results")
    if memo is None or memo[0] != key:
        records = W.load_records(store_path, sweep_id)
        summ = W.summary(records, metric=metric)
        ss["sw.results"] = memo = (key, records, to_frame(records), summ)
    return memo[1], memo[2], memo[3]


def results_section(store) -> None:
    ss = st.session_state
    st.header("Results")
    sweep_id = sweep_choice(store)
    if sweep_id is None:
        st.info("No sweep with finished runs in this store yet: set up a grid above and press **Run sweep**.")
        return
    n_runs = store.count_runs(sweep_id=sweep_id)
    c1, _ = st.columns([2, 3])
    metric = c1.radio(
        "Judge by",
        ["test_mape", "test_rmse"],
        key=P + "metric",
        horizontal=True,
        format_func={"test_mape": "test MAPE (%)", "test_rmse": "test RMSE"}.get,
        help="Both are errors on the test part (lower is better). MAPE is relative; RMSE is in the series' units.",
    )
    records, df, summ = load(ss[STORE_KEY], sweep_id, n_runs, metric)
    if not records:
        st.info("This sweep has no stored runs.")
        return
    units = W.units_of(records)
    labels = list(dict.fromkeys(df["label"]))
    colors = F.assign_colors(labels)
    n_seeds = W.seeds_per_config(records)
    fields = W.swept_fields(records)
    varying = W.varying_fields(records)
    level, text = W.verdict(summ, n_seeds, metric, units)
    {"success": st.success, "warning": st.warning}.get(level, st.info)(text)
    pers = ((summ.get("best") or [{}])[0].get("baselines") or {}).get("persistence") or {}
    if metric == "test_mape" and (pers.get("mape") or 0) > 50:
        st.caption(
            "⚠️ MAPE is huge here even for persistence: the series comes close to zero, where a relative error "
            "explodes. Judge by RMSE instead."
        )
    mname = FS.metric_title(metric, units)

    st.subheader("Every configuration: mean, spread and 95 % interval over seeds")
    table = W.results_table(records, units=units)
    spread = [c for c in table.columns if c.endswith((" std", " CI low", " CI high"))]
    one_seed = bool(spread) and table[spread].isna().all().all()
    if one_seed:  # one seed everywhere: no spread to show
        table = table.drop(columns=spread)
    fixed = [f for f in fields if f not in varying and W.SHORT_NAMES.get(f, f) in table.columns]
    if fixed:  # a setting with one value in the whole sweep: said once, not in every row
        fixed_txt = ", ".join(f"{W.SHORT_NAMES.get(f, f)} {table[W.SHORT_NAMES.get(f, f)].iloc[0]}" for f in fixed)
        table = table.drop(columns=[W.SHORT_NAMES.get(f, f) for f in fixed])
    num = {c: st.column_config.NumberColumn(format="%.4g") for c in table.columns if table[c].dtype.kind == "f"}
    st.dataframe(table, hide_index=True, width="stretch", column_config=num, key="sw.table")
    st.caption(
        (f"Same in every row: {fixed_txt}. " if fixed else "")
        + f"One row per configuration and optimizer, {n_seeds} seed(s) each. Click a column header to sort, e.g. "
        "by “MAPE % mean” for the study's ranking. Two rows whose confidence intervals overlap cannot be told "
        "apart with these seeds. No std and no interval (“None”) means one finished seed: no spread to measure."
        + (
            " With 2 or 3 seeds the intervals are very wide (they may even reach below 0, an impossible error): "
            "that is how little a few runs tell."
            if 2 <= n_seeds <= 3
            else ""
        )
        + (
            " With one seed per configuration the spread columns are left out: nothing here tells luck from a "
            "real difference."
            if one_seed
            else ""
        )
    )
    st.download_button(
        "Download this table (CSV)",
        W.csv_bytes(table),
        file_name=f"sweep-{sweep_id}-table.csv",
        mime="text/csv",
        on_click="ignore",
        key="sw.dl.table",
    )

    numeric = [f for f in varying if f in df.columns and pd.api.types.is_numeric_dtype(df[f])]
    if not varying:
        st.caption("One configuration only: no grid to map. Add values to a setting above to compare configurations.")
    if numeric:
        st.subheader("Where in the grid is the error low?")
        x0 = "lr" if "lr" in numeric else numeric[0]
        rest = [f for f in numeric if f != x0]
        y0 = "hidden_size" if "hidden_size" in rest else (rest[0] if rest else None)
        x_field, y_field = x0, y0
        if len(numeric) > 2:
            c1, c2, _ = st.columns([1, 1, 2])
            if ss.get(P + "hx") not in numeric:
                ss[P + "hx"] = x0
            x_field = c1.selectbox("Across", numeric, key=P + "hx", format_func=lambda f: FS.field_title(f))
            ys = [f for f in numeric if f != x_field]
            if ss.get(P + "hy") not in ys:
                ss[P + "hy"] = y0 if y0 in ys else ys[0]
            y_field = c2.selectbox("Down", ys, key=P + "hy", format_func=lambda f: FS.field_title(f))
        by = ("label", x_field) + ((y_field,) if y_field else ())
        cells = group_stats(df, metric, by=by)
        chart(
            FS.metric_heatmaps(cells, x_field, y_field, metric, units, colors),
            key="sw.chart.heat",
            name="sweep-heatmap",
        )
        st.caption(
            "Each square: the mean error over every seed and every other setting with these values. Bright = "
            "low error. Look for a bright corner the optimizers share, and for dark columns (a learning rate that "
            "fails)."
        )
        groups = group_stats(df, metric, by=("config_key", "label"))
        chart(
            FS.parallel_coordinates(groups, numeric, metric, units, colors),
            key="sw.chart.parcoords",
            name="sweep-parallel",
        )
        st.caption(
            "One line per configuration and optimizer, from its settings to its mean error on the right. Drag "
            "along the error axis to keep only the best lines and see which settings they share."
        )

    paired = summ.get("paired") or []
    if paired:
        st.subheader("Paired comparison: same weights, same batches, only the optimizer differs")
        idx = 0
        if len(paired) > 1:
            if ss.get(P + "pair") not in range(len(paired)):  # another sweep was shown before
                ss[P + "pair"] = 0
            idx = st.selectbox(
                "Pair",
                list(range(len(paired))),
                key=P + "pair",
                format_func=lambda i: f"{paired[i]['a']} vs {paired[i]['b']}",
            )
        pc = paired[idx]
        a, b = pc["a"], pc["b"]
        diff_unit = metric.endswith("mape")  # MAPE differences are in percentage points
        c = st.columns([1.1, 1.5, 1, 1, 1])
        c[0].metric(
            "Mean difference" + (" (points)" if diff_unit else ""),
            _short(pc["mean_diff"]),
            help=f"{a}'s {mname} minus {b}'s, averaged over {pc['n']} pairs (same configuration, same seed). "
            f"Negative: {a} has the lower error.",
        )
        c[1].metric(
            "95 % confidence interval",
            f"{_short(pc['ci_low'])} … {_short(pc['ci_high'])}",
            help="Where the true mean difference lies, given the spread of the pairs. If it includes 0, the "
            "difference is within the noise.",
        )
        c[2].metric(
            "p-value (paired t-test)",
            _n(pc["p_value"], 2),
            help="Small (< 0.05) when a difference this large would be rare by chance.",
        )
        c[3].metric(f"{a} better in", f"{pc['wins_a']:.0%}" if pc["n"] else "—", help="Share of the pairs.")
        c[4].metric(f"{b} better in", f"{pc['wins_b']:.0%}" if pc["n"] else "—", help="Share of the pairs.")
        if pc.get("n_excluded"):
            st.caption(f"{pc['n_excluded']} pair(s) left out: one of the two diverged.")
        per = paired_by_config(df, a, b, metric)
        if not per.empty:  # name each row by the settings that vary (lr included: it is per optimizer in `per`)
            names = {k: W.config_label(g.iloc[0], varying) for k, g in df.groupby("config_key", sort=False)}
            per["config"] = per["config_key"].map(names).fillna(per["config"])
        chart(FS.paired_forest(per, pc, metric, units, colors), key="sw.chart.forest", name="sweep-paired")
        noise = (
            "With one seed there is no interval per configuration: each dot could be luck."
            if n_seeds < 2
            else "Grey rows: the interval crosses 0, so that configuration's difference is within the seed noise."
        )
        st.caption(
            f"Each row: {a}'s error minus {b}'s with the same configuration and seed; bars are 95 % confidence "
            f"intervals over seeds, the diamond is all pairs together. Left of 0: {a} better. {noise}"
        )

    lr = pd.DataFrame(summ.get("lr") or [])
    if not lr.empty and "lr" in fields and lr["lr"].nunique() > 1:
        st.subheader("How sensitive is each optimizer to the learning rate?")
        chart(FS.lr_curves(lr, metric, units, colors), key="sw.chart.lr", name="sweep-lr")
        st.caption(
            "Mean error at each learning rate, every other setting and seed pooled, with 95 % intervals. A flat "
            "curve is a forgiving optimizer; a steep one needs its learning rate tuned."
        )

    best = summ.get("best") or []
    if best:
        st.subheader("Best configuration, chosen on validation loss and reported on test")
        base = best[0].get("baselines") or {}
        key = metric.split("_", 1)[1]
        base_vals = {k: (base.get(k) or {}).get(key) for k in ("persistence", "linear")}
        chart(FS.best_vs_baselines(best, base_vals, metric, units, colors), key="sw.chart.best", name="sweep-best")
        st.dataframe(best_table(best, base, units), hide_index=True, width="stretch", key="sw.best")
        st.caption(
            "Each optimizer's configuration with the lowest mean validation MSE — the test part played no role in "
            "the choice — then its test error (bars: 95 % interval over seeds). Dashed lines: forecasting "
            "tomorrow = today, and a linear model on the same windows. A GRU below them has learned something."
        )
    sweep = store.get_sweep(sweep_id)
    st.caption(
        f"Sweep #{sweep_id}{' “' + sweep['name'] + '”' if sweep.get('name') else ''}: {sweep['status']}"
        + (f" — {sweep['message']}" if sweep.get("message") else "")
        + f". {len(records)} runs stored in `{ss[STORE_KEY]}`; see them on the Run history page."
    )


def _n(v, digits: int = 3) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{f:.{digits}g}" if math.isfinite(f) else "—"


def _short(v) -> str:
    """A number for a metric card: 3 significant digits, never in e-notation for everyday sizes."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(f):
        return "—"
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    if f != 0 and abs(f) < 0.001:
        return f"{f:.2g}"
    return f"{f:.3g}"


def best_table(best: list[dict], base: dict, units: str) -> pd.DataFrame:
    """The best configurations and the baselines, as text (mean ± std, the interval, "—" where none)."""
    u = f" ({units})" if units and units != "unitless" else ""

    def pm(b: dict, m: str) -> str:
        mean, std = b.get(f"{m}_mean"), b.get(f"{m}_std")
        return _n(mean, 4) + (f" ± {_n(std, 2)}" if std is not None and math.isfinite(std) else "")

    def ci(b: dict, m: str) -> str:
        lo, hi = b.get(f"{m}_ci_low"), b.get(f"{m}_ci_high")
        ok = lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi)
        return f"{_n(lo)} to {_n(hi)}" if ok else "— (one seed)"

    rows = []
    for b in best:
        rows.append(
            {
                "model": f"{b['label']}: {b['config']}",
                "seeds": str(b["n_seeds"]),
                "diverged": str(b["n_diverged"]),
                "validation MSE (chosen on)": _n(b["select_mean"], 4),
                "test MAPE %": pm(b, "test_mape"),
                "95 % interval (MAPE)": ci(b, "test_mape"),
                f"test RMSE{u}": pm(b, "test_rmse"),
                "95 % interval (RMSE)": ci(b, "test_rmse"),
            }
        )
    for key in ("persistence", "linear"):
        m = base.get(key) or {}
        if m:
            rows.append(
                {
                    "model": F.BASELINE_STYLES[key]["label"],
                    "seeds": "—",
                    "diverged": "—",
                    "validation MSE (chosen on)": "—",
                    "test MAPE %": _n(m.get("mape"), 4),
                    "95 % interval (MAPE)": "—",
                    f"test RMSE{u}": _n(m.get("rmse"), 4),
                    "95 % interval (RMSE)": "—",
                }
            )
    return pd.DataFrame(rows)


# ---- the page -------------------------------------------------------------------------------------------------


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    ss = st.session_state
    store_sidebar()
    st.title("Sweep: many configurations × optimizers × seeds")
    st.markdown(
        "The original study trained 54 configurations once each for Adam and RMSprop and named a winner from "
        "single runs whose errors differed in the second decimal. Here every configuration can be trained with "
        "**several seeds**, so you can see whether a difference is **larger than the seed noise** — and every "
        "run is kept in the run store."
    )
    c1, c2, _ = st.columns([2, 2, 3])
    c1.button(
        "Load the study's grid (54 configurations)",
        key="sw.preset.study",
        on_click=apply_study_preset,
        help="Batch 32/64/128 × epochs 50/100 × lr 0.01/0.001/0.0001 × units 16/32/64, Adam and RMSprop "
        "(Keras), lookback 20, split 81/9/10 by series rows, MinMax fitted on all, dropout 0.3, "
        "patience 3 without restoring weights.",
    )
    c2.button("Load a tiny demo grid (seconds)", key="sw.preset.tiny", on_click=apply_tiny_preset)
    note = ss.get("sw.preset_note")
    if note:
        (st.success if note[0] == "success" else st.info)(note[1])

    store, store_error = W.open_store(ss[STORE_KEY])
    with st.container(border=True):
        data_section()
    with st.container(border=True):
        grid_section()
        fixed_section()
    with st.container(border=True):
        optimizer_section()
    form = state_to_form()
    workers = int(ss[P + "workers"])
    try:
        spec, est, info, problems = plan(form, workers)
    except Exception as exc:  # noqa: BLE001 - an engine error is a message, not a traceback
        traceback.print_exc()
        spec, est, info, problems = None, None, None, [f"{type(exc).__name__}: {exc}"]
    if store_error:
        problems = [store_error, *problems]
    if spec is not None and est is not None:
        plan_caption(spec, est, info, form)
    controls(spec, est, problems)
    job: W.SweepJob | None = ss.get("sw.job")
    live = job is not None and job.snapshot().live
    st.fragment(progress_panel, run_every=POLL if live else None)()
    if job is not None and not live:
        job.final_drawn = True
    if live:
        st.info("Results appear here when the sweep ends (press **Stop** to see the cells finished so far).")
        return
    if store is None:
        return
    try:
        results_section(store)
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page; the log has it
        traceback.print_exc()
        st.error(f"The results could not be drawn: {type(exc).__name__}: {exc}")


init_state()
st.session_state[IN_FULL_RUN] = True
try:
    page()
except Exception as exc:  # noqa: BLE001 - never a traceback on the page; the server log has it
    traceback.print_exc()
    st.error(f"Something went wrong on this page: {type(exc).__name__}: {exc}")
finally:  # also when Streamlit interrupts this run: the fragment must not think it goes on
    st.session_state[IN_FULL_RUN] = False
    save_widgets()
