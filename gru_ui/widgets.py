"""Streamlit widgets shared by the pages: session initialisation, the sidebar configuration, the optimizer
editor, the live views of a race and its results.

Only this module and the pages import Streamlit.  The figures come from :mod:`gru_ui.figures`, the
numbers from the engine through :mod:`gru_ui.runs`; nothing here computes.

Session keys every page may use (set up once by :func:`init_session`):

* ``st.session_state["presentation"]`` (bool): presentation mode for projectors — draw every chart with
  :func:`chart` (or apply ``figures.present(fig, presenting())`` yourself);
* ``st.session_state["show_explanations"]`` (bool): show the caption under each chart — use
  :func:`explain` for them.

:func:`display_toggles` draws the two sidebar toggles that set them; every page calls it once in its sidebar.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from gru_core.optim import OPTIMIZERS
from gru_core.train.live import Snapshot

from . import figures as F
from . import runs as R
from . import state as S
from .live_plot import live_plotly_chart
from .shell import (  # noqa: F401
    EXPLAIN_KEY,
    FRAME_KEY,
    PRESENT_KEY,
    STORE_ERROR_KEY,
    STORE_KEY,
    STORE_WIDGET,
    app_frame,
    chart,
    display_toggles,
    explain,
    presenting,
    query_dict,
    set_query,
    show_query_notices,
    store_picker,
)  # fmt: skip

LIVE_INTERVAL = R.LIVE_INTERVAL  # seconds between redraws of the loss curves and status columns while training
GATES_INTERVAL = R.GATES_INTERVAL  # seconds between redraws of the gate heatmaps (they change once per epoch)
PAUSED_INTERVAL = R.PAUSED_INTERVAL  # … of the curves while paused (nothing trains)
REBUILD_FACTOR = R.REBUILD_FACTOR  # a live figure is rebuilt at most once per 5× its building time
LIVE_STATUSES = R.LIVE_STATUSES  # a race in these states is still going: keep redrawing
MODEL_KEY = "loaded_model"  # session key: the uploaded model (runs.ModelUpload) the next Train continues
MODEL_ERROR_KEY = "model_error"  # session key: why the last model upload was refused
VIEW_KEYS = {"log": "view.log", "smooth": "view.smooth", "layer": "view.layer", "hstep": "view.hstep"}


# ----------------------------------------------------------------------------------------------------------
# session and URL
# ----------------------------------------------------------------------------------------------------------


def init_session() -> None:
    """Once per browser session: the configuration from the URL (or the defaults) into the widgets, and
    the display settings every page shares (:data:`PRESENT_KEY`, :data:`EXPLAIN_KEY`)."""
    st.session_state.setdefault(PRESENT_KEY, False)
    st.session_state.setdefault(EXPLAIN_KEY, True)
    if st.session_state.get("initialised"):
        return
    cfg, notices = S.decode_query(query_dict())
    for k, v in S.widget_state(cfg).items():
        st.session_state[k] = v
    st.session_state["qp_notices"] = notices
    st.session_state["iv_from_link"] = len(cfg.interventions)
    st.session_state["initialised"] = True


def sync_url(cfg: S.LabConfig) -> None:
    """Keep the URL's query parameters equal to the configuration, so the address bar is a shareable link."""
    want = {k: (v if isinstance(v, list) else [v]) for k, v in S.encode_query(cfg).items()}
    if query_dict() != want:
        st.query_params.from_dict(S.encode_query(cfg))


# ----------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------


@dataclass
class DataChoice:
    """The series the configuration points at (or why there is none)."""

    series: pd.Series | None = None
    upload: R.Upload | None = None
    error: str | None = None
    info: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str | None:
        return self.upload.digest if self.upload else None


@st.cache_data(show_spinner=False, max_entries=32)
def _registry_series(key: str) -> pd.Series:
    return R.load_registry_series(key)


@st.cache_data(show_spinner=False, max_entries=8)
def _read_upload(data: bytes, name: str, value_column: str | None, date_column: str | None) -> R.Upload:
    return R.read_upload(data, name, value_column, date_column)


def _dataset_label(key: str) -> str:
    if key == S.CSV_KEY:
        return "Upload a CSV file…"
    return S.series_datasets().get(key, key)


def data_section() -> DataChoice:
    """Dataset picker, CSV upload with column pickers: the chosen series or the reason there is none."""
    keys = [*S.series_datasets(), S.CSV_KEY]
    data = st.selectbox(
        "Dataset",
        keys,
        key=S.wkey("data"),
        format_func=_dataset_label,
        help="Synthetic series are generated with a fixed seed; real ones ship with statsmodels.",
    )
    if data != S.CSV_KEY:
        st.caption(R.dataset_description(data))
        try:
            return DataChoice(series=_registry_series(data))
        except Exception as exc:  # noqa: BLE001 - e.g. statsmodels missing: say so, never a traceback
            return DataChoice(error=f"Could not load {_dataset_label(data)}: {exc}")
    up = st.file_uploader(
        f"CSV file (at most {S.LIMITS['upload_mb']} MB, {S.LIMITS['rows']:,} rows)",
        type=["csv", "txt", "tsv"],
        key="upload",
        max_upload_size=S.LIMITS["upload_mb"],
        help="One row per date; a date column (optional) and at least one numeric column. Separators "
        "(, ; or tab) and a decimal point or comma are detected.",
    )
    if up is None:
        want = st.session_state.get(S.wkey("csv_value"))
        info = "Upload a CSV file to train on your own series."
        if want:
            info = (
                f"This link was made with an uploaded CSV (value column “{want}”). Upload the same file to "
                "reproduce the run."
            )
        return DataChoice(info=info)
    raw = up.getvalue()
    first = _read_upload(raw, up.name, None, None)
    if first.columns is None:
        return DataChoice(upload=first, error=first.error)
    cols = first.columns
    if not cols.numeric_columns:
        return DataChoice(upload=first, error=first.error or f"{up.name} has no numeric column.")
    vkey, dkey = S.wkey("csv_value"), S.wkey("csv_date")
    if st.session_state.get(vkey) not in cols.numeric_columns:
        st.session_state[vkey] = cols.value_column or cols.numeric_columns[-1]
    date_options = ["", *[c for c in cols.columns if c != st.session_state[vkey]]]
    if st.session_state.get(dkey) not in date_options:
        st.session_state[dkey] = cols.date_column if cols.date_column in date_options else ""
    st.selectbox("Value column (what to forecast)", cols.numeric_columns, key=vkey)
    st.selectbox(
        "Date column", date_options, key=dkey, format_func=lambda c: c or "(none: use the row order)"
    )
    st.caption(f"{cols.n_rows:,} rows · separator {cols.separator or 'none'!r} · decimal {cols.decimal!r}")
    st.text_input(
        "Units of the values (for the axes)",
        key=S.wkey("units"),
        max_chars=60,
        placeholder="e.g. USD per tonne",
    )
    result = _read_upload(raw, up.name, st.session_state[vkey], st.session_state[dkey])
    if result.error:
        return DataChoice(upload=result, error=result.error)
    series = result.series
    series.attrs["units"] = str(st.session_state.get(S.wkey("units")) or "").strip()
    return DataChoice(series=series, upload=result, notes=list(series.attrs.get("notes", [])))


# ----------------------------------------------------------------------------------------------------------
# optimizer editor
# ----------------------------------------------------------------------------------------------------------


def _log_grid(low: float, high: float, *extra: float) -> list[float]:
    vals = {float(f"{m}e{e}") for e in range(-15, 4) for m in (1, 2, 3, 5)}
    vals = {v for v in vals if low <= v <= high}
    vals.update(float(x) for x in extra if x is not None and low <= float(x) <= high)
    return sorted(vals)


def _reset_optimizer(oid: int) -> None:
    """Callback: the optimizer or its flavour changed, so its hyperparameters go back to the registry's."""
    ss = st.session_state
    key = ss.get(S.okey(oid, "key"), "adam")
    if ss.get(S.okey(oid, "flavor")) not in OPTIMIZERS[key].flavors:
        ss[S.okey(oid, "flavor")] = "pytorch"
    for k in [k for k in ss.keys() if str(k).startswith(S.okey(oid, "hp."))]:
        del ss[k]
    entry = S.OptEntry(key, ss[S.okey(oid, "flavor")], {})
    for k, v in S.optimizer_state(oid, entry).items():
        if ".hp." in k:
            ss[k] = v


def _add_optimizer() -> None:
    ss = st.session_state
    ids = list(ss.get("opt_ids", []))
    if len(ids) >= S.LIMITS["optimizers"]:
        return
    used = {ss.get(S.okey(i, "key")) for i in ids}
    key = next((k for k in ("sgd", "adamw", "adagrad", "adam", "rmsprop") if k not in used), "adam")
    oid = int(ss.get("opt_next_id", len(ids)))
    ss["opt_next_id"] = oid + 1
    for k, v in S.optimizer_state(oid, S.OptEntry(key, "pytorch", OPTIMIZERS[key].defaults())).items():
        ss[k] = v
    ss["opt_ids"] = [*ids, oid]


def _remove_optimizer(oid: int) -> None:
    ss = st.session_state
    ids = [i for i in ss.get("opt_ids", []) if i != oid]
    if ids:
        ss["opt_ids"] = ids


def _hyper_widget(oid: int, hp: Any, default: Any) -> None:
    k = S.okey(oid, f"hp.{hp.name}")
    if k not in st.session_state:
        st.session_state[k] = default
    label = "learning rate (lr)" if hp.name == "lr" else hp.name
    help_text = (
        f"{hp.help}. Registry default for this flavour: {default:g}." if hp.kind != "bool" else hp.help
    )
    if hp.kind == "bool":
        st.checkbox(label, key=k, help=hp.help)
    elif hp.kind == "int":
        st.number_input(label, min_value=int(hp.low), max_value=int(hp.high), step=1, key=k, help=help_text)
    elif hp.log:
        opts = _log_grid(float(hp.low), float(hp.high), default, st.session_state[k])
        st.select_slider(label, options=opts, key=k, format_func=lambda v: f"{v:g}", help=help_text)
    else:
        span = float(hp.high) - float(hp.low)
        step = 10 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.01
        st.number_input(
            label,
            min_value=float(hp.low),
            max_value=float(hp.high),
            step=float(step),
            key=k,
            format="%g",
            help=help_text,
        )


def optimizer_editor(colors: dict[str, str]) -> None:
    ss = st.session_state
    ids = list(ss.get("opt_ids", []))
    entries = S.config_from_state(ss).optimizers
    labels = S.contestant_labels(entries)
    keys = list(OPTIMIZERS)
    for i, oid in enumerate(ids):
        label = labels[i] if i < len(labels) else f"optimizer {i + 1}"
        color = colors.get(label, F.color_for(label, i))
        with st.container(border=True):
            st.markdown(
                f"<span style='color:{color};font-size:1.3em'>■</span> **{html.escape(label)}**",
                unsafe_allow_html=True,
            )
            c1, c2 = st.columns(2)
            c1.selectbox(
                "Optimizer",
                keys,
                key=S.okey(oid, "key"),
                format_func=lambda k: OPTIMIZERS[k].name,
                on_change=_reset_optimizer,
                args=(oid,),
                label_visibility="collapsed",
            )
            key = ss.get(S.okey(oid, "key"), "adam")
            spec = OPTIMIZERS[key]
            if ss.get(S.okey(oid, "flavor")) not in spec.flavors:
                ss[S.okey(oid, "flavor")] = "pytorch"
            c2.selectbox(
                "Flavour",
                spec.flavors,
                key=S.okey(oid, "flavor"),
                on_change=_reset_optimizer,
                args=(oid,),
                label_visibility="collapsed",
                disabled=len(spec.flavors) == 1,
                help="pytorch: torch.optim's rules and defaults; keras: tf.keras 2.15's (eps inside the "
                "square root, RMSprop rho 0.9, lr 1e-3).",
            )
            flavor = ss[S.okey(oid, "flavor")]
            defaults = spec.defaults(flavor)
            st.caption(spec.description)
            main = [hp for hp in spec.hyperparams if hp.name in defaults and hp.name == "lr"]
            rest = [hp for hp in spec.hyperparams if hp.name in defaults and hp.name != "lr"]
            for hp in main:
                _hyper_widget(oid, hp, defaults[hp.name])
            with st.expander("more hyperparameters"):
                for hp in rest:
                    _hyper_widget(oid, hp, defaults[hp.name])
            st.button(
                "Remove",
                key=f"opt.{oid}.remove",
                on_click=_remove_optimizer,
                args=(oid,),
                disabled=len(ids) <= 1,
                help="Remove this optimizer from the race",
            )
    st.button(
        f"+ Add an optimizer ({len(ids)}/{S.LIMITS['optimizers']})",
        on_click=_add_optimizer,
        disabled=len(ids) >= S.LIMITS["optimizers"],
        key="opt.add",
    )


# ----------------------------------------------------------------------------------------------------------
# the sidebar
# ----------------------------------------------------------------------------------------------------------


def limits_text() -> str:
    L = S.LIMITS
    return (
        f"Limits: series ≤ {L['rows']:,} values (uploads ≤ {L['upload_mb']} MB) and series length × lookback "
        f"≤ {L['window_values']:,}; lookback ≤ {L['lookback']}; hidden ≤ {L['hidden']} units; "
        f"≤ {L['layers']} layers; ≤ {L['epochs']:,} epochs; ≤ {L['optimizers']} optimizers; "
        f"one running race per browser tab (and {L['max_races']} on the whole server)."
    )


def sidebar_config() -> tuple[S.LabConfig, DataChoice]:
    """The whole configuration sidebar; returns the configuration and the chosen series."""
    k = S.wkey
    with st.sidebar:
        display_toggles()
        st.header("1 · Data")
        choice = data_section()
        st.slider(
            "Lookback (past values the GRU sees)",
            1,
            S.LIMITS["lookback"],
            key=k("lookback"),
            help="Length of each input window, in time steps.",
        )
        st.number_input(
            "Horizon (values predicted at once)", 1, S.LIMITS["horizon"], key=k("horizon"), step=1
        )
        c1, c2 = st.columns(2)
        c1.number_input("Train %", 10, 95, key=k("train_pct"), step=5)
        c2.number_input("Validation %", 0, 45, key=k("val_pct"), step=5)
        test = 100 - int(st.session_state[k("train_pct")]) - int(st.session_state[k("val_pct")])
        st.caption(
            f"Chronological split: train → validation → test ({test} % test, the last part of the series)."
        )
        st.radio(
            "Split",
            S.CHOICES["split_by"],
            key=k("split_by"),
            horizontal=True,
            format_func={"windows": "the windows", "series": "the series first"}.get,
            help="the windows: every window of the series, cut by the percentages (default). The series first: "
            "cut the values, then window each part on its own, as the original study did (each part loses "
            "lookback values).",
        )
        st.selectbox(
            "Scaling",
            S.CHOICES["scaler"],
            key=k("scaler"),
            format_func={
                "minmax": "min-max to [0, 1]",
                "standard": "standardise (mean 0, sd 1)",
                "none": "none",
            }.get,
        )
        st.radio(
            "Fit the scaler on",
            S.CHOICES["fit_on"],
            key=k("fit_on"),
            horizontal=True,
            format_func={"train": "training part only", "all": "the whole series"}.get,
        )
        if st.session_state[k("fit_on")] == "all":
            st.warning(
                "Fitting the scaler on the whole series leaks the test period's range into training "
                "(the original study did this; use it only to reproduce it).",
                icon="⚠️",
            )

        st.header("2 · Optimizers")
        cfg_now = S.config_from_state(st.session_state)
        labels = S.contestant_labels(cfg_now.optimizers)
        optimizer_editor(F.assign_colors(labels))

        st.header("3 · Model")
        with st.expander("GRU", expanded=False):
            st.slider("Hidden units", 1, S.LIMITS["hidden"], key=k("hidden"))
            st.slider("Layers", 1, S.LIMITS["layers"], key=k("layers"))
            st.radio(
                "Variant",
                S.CHOICES["variant"],
                key=k("variant"),
                horizontal=True,
                help="pytorch: reset gate applied after the recurrent product (cuDNN, Keras reset_after); "
                "classic: Cho et al. 2014.",
            )
            st.radio(
                "Initial weights",
                S.CHOICES["init"],
                key=k("init"),
                horizontal=True,
                help="pytorch: uniform ±1/√H; keras: Glorot/orthogonal/zeros. Every optimizer starts from "
                "the same weights either way.",
            )
            st.number_input("Dropout (on the last hidden state)", 0.0, 0.9, key=k("dropout"), step=0.05)
            st.radio("Precision", S.CHOICES["dtype"], key=k("dtype"), horizontal=True)

        st.header("4 · Training")
        with st.expander("Epochs, batches, stopping", expanded=False):
            st.number_input("Epochs", 1, S.LIMITS["epochs"], key=k("epochs"), step=10)
            st.number_input("Batch size", 1, S.LIMITS["batch"], key=k("batch"), step=8)
            st.number_input(
                "Early-stopping patience (0 = off)",
                0,
                S.LIMITS["patience"],
                key=k("patience"),
                help="Stop an optimizer after this many epochs without a better validation loss.",
            )
            st.checkbox("Restore the best weights at the end", key=k("restore_best"))
            st.number_input("Gradient clipping: max norm (0 = off)", 0.0, 1000.0, key=k("clip"), step=0.5)
            st.selectbox("Learning-rate schedule", S.CHOICES["schedule"], key=k("schedule"))
            st.number_input(
                "Seed (weights, dropout, batch order)", 0, S.LIMITS["seed"], key=k("seed"), step=1
            )
        st.divider()
        st.caption(limits_text())
    return S.config_from_state(st.session_state), choice


# ----------------------------------------------------------------------------------------------------------
# live views
# ----------------------------------------------------------------------------------------------------------


def _fmt(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return format(f, spec) if math.isfinite(f) else "—"


STATUS_TEXT = {
    "running": "training",
    "paused": "paused",
    "finished": "finished",
    "early_stopped": "early stop",
    "stopped": "stopped",
    "diverged": "DIVERGED",
}


def lr_key(handle: R.RaceHandle, index: int) -> str:
    """Session key of the live learning-rate control of contestant ``index`` of this race."""
    return f"live.lr.{handle.rid}.{index}"


def _lr_changed(handle: R.RaceHandle, name: str, key: str) -> None:
    """Callback of a live learning-rate control: tell the engine (it applies it before the next step)."""
    value = st.session_state.get(key)
    snap = handle.live.snapshot()
    if snap.status not in LIVE_STATUSES or value is None:
        return
    try:
        R.set_lr(handle, name, float(value))
    except ValueError as exc:
        st.session_state["lr_error"] = f"{name}: {exc}"


def lr_options(handle: R.RaceHandle, name: str) -> list[float]:
    """The learning rates the live control offers: a 1-2-3-5 log grid within the optimizer's range, plus
    the configured value and every value a replayed change sets (fixed for the race)."""
    run = handle.race.runs[name]
    low, high = S.lr_bounds(S.OptEntry(run.contestant.optimizer, run.contestant.flavor))
    replayed = [float(iv["new"]) for iv in handle.cfg.interventions if iv.get("optimizer") == name]
    return _log_grid(low, high, float(run.contestant.hyper.get("lr", run.opt.lr)), *replayed)


def lr_control(handle: R.RaceHandle, snap: Snapshot, name: str, index: int, base: float) -> None:
    """The contestant's learning rate as a live control (a select slider on a log grid)."""
    key = lr_key(handle, index)
    options = lr_options(handle, name)
    if base not in options:  # e.g. a change made in another tab of the same session: show it anyway
        options = sorted({*options, base})
    if handle.lr_shown.get(name) != base or key not in st.session_state:
        st.session_state[key] = base  # follow the engine (first draw, replayed change)
        handle.lr_shown[name] = base
    run = snap.runs.get(name) or {}
    active = snap.status in LIVE_STATUSES and run.get("status") in (None, "running")
    st.select_slider(
        "learning rate (change it live)",
        options=options,
        key=key,
        format_func=lambda v: f"{v:g}",
        on_change=_lr_changed,
        args=(handle, name, key),
        disabled=not active,
        help="Applies from the next mini-batch, is marked ⚙ on the loss chart and is recorded in the run "
        "(the link and the JSON export replay it). Pause first to change it at an exact point.",
    )


def status_columns(handle: R.RaceHandle, snap: Snapshot) -> None:
    """Side by side, one column per optimizer: epoch, losses, gradient norm, update size, learning rate
    (a live control while the race goes on), progress, status."""
    names = handle.labels
    per_row = min(len(names), 3)
    base = R.base_lrs(handle, snap)
    pending = {iv["optimizer"] for iv in R.pending_changes(handle, snap)}
    for start in range(0, len(names), per_row):
        cols = st.columns(per_row)
        for j, (col, name) in enumerate(zip(cols, names[start : start + per_row])):
            run = snap.runs.get(name) or {}
            color = handle.colors.get(name, "#333")
            status = run.get("status") or ("training" if snap.status in LIVE_STATUSES else "waiting")
            if status == "running" and snap.status == "paused":
                status = "paused"
            with col:
                st.markdown(
                    f"<div style='border-left:8px solid {color};padding-left:10px'>"
                    f"<span style='font-size:1.35em;font-weight:700;color:{color}'>{html.escape(name)}</span>"
                    "</div>",
                    unsafe_allow_html=True,
                )
                if status == "diverged":
                    st.markdown(
                        f":red[**✖ DIVERGED** at step {run.get('diverged_step')} "
                        f"(epoch {run.get('diverged_epoch')})]"
                    )
                elif status == "early_stopped":
                    st.markdown(
                        f"**⏹ early stop** after epoch {run.get('epoch')} (best: {run.get('best_epoch')})"
                    )
                else:
                    st.markdown(f"**{STATUS_TEXT.get(status, status)}**")
                ratio = run.get("update_ratio")
                lr_now = _fmt(run.get("lr"), ".3g")
                if name in pending:
                    lr_now += f" → {_fmt(base.get(name), '.3g')} from the next step"
                rows = [
                    ("epoch", f"{run.get('epoch', 0)} / {snap.total_epochs}"),
                    ("train loss", _fmt(run.get("train_loss"))),
                    ("validation loss", _fmt(run.get("val_loss"))),
                    (
                        "best validation",
                        f"{_fmt(run.get('best_val'))} (epoch {run.get('best_epoch') or '—'})",
                    ),
                    ("gradient norm", _fmt(run.get("grad_norm"), ".3g")),
                    (
                        "update size ‖Δθ‖",
                        _fmt(run.get("update_norm"), ".3g")
                        + (
                            f" ({_fmt(100 * ratio, '.2g')} % of ‖θ‖)"
                            if ratio is not None and math.isfinite(ratio)
                            else ""
                        ),
                    ),
                    ("learning rate", lr_now),
                ]
                st.markdown("\n".join(f"- {a}: **{b}**" for a, b in rows))
                st.progress(R.progress(handle, snap, name))
                if snap.status in LIVE_STATUSES and name in handle.race.runs:
                    lr_control(handle, snap, name, start + j, base[name])
    if st.session_state.get("lr_error"):
        st.error(st.session_state.pop("lr_error"))


def loss_section(handle: R.RaceHandle, snap: Snapshot) -> None:
    if VIEW_KEYS["log"] not in st.session_state:
        st.session_state[VIEW_KEYS["log"]] = True
    c1, c2, _ = st.columns([1, 2, 3])
    log_y = c1.toggle(
        "log scale",
        key=VIEW_KEYS["log"],
        help="Loss on a logarithmic axis: late progress and small differences stay visible.",
    )
    smooth = c2.slider(
        "smoothing (display only)",
        0.0,
        0.95,
        key=VIEW_KEYS["smooth"],
        step=0.05,
        help="Exponential moving average of the drawn curves; the raw curves stay faint underneath.",
    )
    present = presenting()
    fig = R.cached_figure(
        handle,
        "loss",
        R.loss_key(handle, snap, log_y, smooth, present),
        lambda: R.loss_figure(handle, snap, log_y, smooth, present),
        live=snap.status in LIVE_STATUSES,
        style=(log_y, smooth, present),  # a new view is drawn at once, even mid-race
    )
    spec = R.figure_json(handle, "loss", fig)
    live_plotly_chart(fig, key="live-loss", config=F.chart_config("loss-curves"), spec=spec)
    changes = R.changes(handle, snap)
    if changes:
        lines = R.describe_interventions(changes, handle.n_batches)
        pend = [" (from the next step)" if iv.get("pending") else "" for iv in changes]
        st.markdown(
            "**⚙ Learning-rate changes in this run:** "
            + " · ".join(html.escape(t) + p for t, p in zip(lines, pend))
        )
    explain(
        "Solid: training loss (mean over each epoch's mini-batches). Dashed: validation loss on data the "
        "optimizer never trains on. ★ best validation epoch · ┃ early stop · ✖ divergence · ⚙ a learning rate "
        "changed by hand · ‖ a pause in which something changed. Look for: which colour falls faster, and "
        "whether a dashed curve turns back up while its solid one keeps falling (the model has started to "
        "memorise the training data)."
    )


def live_curves(handle: R.RaceHandle, snap: Snapshot) -> None:
    """The fast-moving part of a live race: status line, loss curves and the per-optimizer columns."""
    t0 = time.perf_counter()
    R.heartbeat(handle.live)
    total = max(1, snap.total_epochs)
    done = R.steps_per_second(snap)
    speed = f" · {done:,.0f} training steps/s" if done and snap.status != "paused" else ""
    state_txt = {
        "running": "Training",
        "paused": "‖ Paused",
        "finished": "Finished",
        "stopped": "Stopped",
        "error": "Error",
        "idle": "Starting",
    }.get(snap.status, snap.status)
    where = f"epoch {snap.epoch} / {total}"
    if snap.status == "paused":
        within = snap.step - snap.epoch * handle.n_batches
        where += f" · step {snap.step:,}" + (
            f" ({within} of {handle.n_batches} mini-batches into epoch {snap.epoch + 1})" if within > 0 else ""
        )
        st.markdown(f"#### {state_txt} at {where}")
    else:
        st.markdown(f"#### {state_txt}: {where} · {snap.elapsed:.1f} s{speed}")
    if snap.status == "error":
        st.error(f"Training failed: {snap.error}")
    loss_section(handle, snap)
    status_columns(handle, snap)
    ms = (time.perf_counter() - t0) * 1000
    handle.redraw_ms = ms if handle.redraw_ms is None else 0.7 * handle.redraw_ms + 0.3 * ms
    if snap.status in LIVE_STATUSES:
        every = PAUSED_INTERVAL if snap.status == "paused" else LIVE_INTERVAL
        timing = (
            f"redraw: curves {handle.redraw_ms:.0f} ms every {every:g} s"
            + (f", gates {handle.gates_ms:.0f} ms every {GATES_INTERVAL:g} s" if handle.gates_ms else "")
            + speed
        )
        st.caption(
            timing,
            help="Wall time to build and send the charts at each refresh (the training thread "
            "runs meanwhile and shares the CPU).",
        )


def live_gates(handle: R.RaceHandle, snap: Snapshot) -> None:
    """The gate heatmaps of every optimizer (they change once per epoch: refreshed less often)."""
    t0 = time.perf_counter()
    n_layers = handle.cfg.layers
    layer = -1
    if n_layers > 1:
        layer = st.radio(
            "Layer",
            list(range(n_layers)),
            index=n_layers - 1,
            key=VIEW_KEYS["layer"],
            format_func=lambda i: f"layer {i + 1}",
            horizontal=True,
        )
    names = handle.labels
    per_row = min(len(names), 3)
    present = presenting()
    for start in range(0, len(names), per_row):
        cols = st.columns(per_row)
        for j, (col, name) in enumerate(zip(cols, names[start : start + per_row])):
            fig = R.gate_figure(handle, snap, name, layer, present)
            with col:
                live_plotly_chart(
                    fig,
                    key=f"live-gates-{start + j}",
                    config=F.chart_config(f"gates-{name}"),
                    spec=R.figure_json(handle, f"gates.{name}", fig),
                )
    explain(
        "Each optimizer's GRU reading the same validation window (top line, oldest value left). Rows: "
        "update gate z (1 = keep the old state), reset gate r (0 = forget it), candidate n and hidden "
        "state h, one row per hidden unit. Same starting weights, so the pictures begin identical; look for "
        "how they drift apart as the optimizers train."
    )
    ms = (time.perf_counter() - t0) * 1000
    handle.gates_ms = ms if handle.gates_ms is None else 0.7 * handle.gates_ms + 0.3 * ms


# ----------------------------------------------------------------------------------------------------------
# forecast and results
# ----------------------------------------------------------------------------------------------------------


def forecast_section(handle: R.RaceHandle, snap: Snapshot) -> None:
    p = handle.prepared
    step = 0
    if p.horizon > 1:
        step = st.slider("Horizon step shown", 1, p.horizon, key=VIEW_KEYS["hstep"]) - 1
    paused = snap.result is None and snap.status == "paused" and bool(snap.forecasts)
    data = R.forecast_data(p, snap.result, step, forecasts=snap.forecasts if paused else None)
    c1, c2 = st.columns([3, 1])
    with c1:
        title = "Forecast vs truth on the test part" + (
            f" ({step + 1} step{'s' if step else ''} ahead)" if p.horizon > 1 else ""
        )
        if paused:
            title += f", as of the pause (epoch {snap.epoch})"
        fig = F.forecast_plot(
            data["x"],
            data["truth"],
            data["predictions"],
            data["baselines"],
            units=handle.units,
            series_name=handle.series_name,
            colors=handle.colors,
            title=title,
        )
        chart(fig, key="chart.forecast", name="forecast")
        if snap.result is None and not paused:
            explain(
                "The GRU forecasts appear here when training ends or is paused (press Pause or Stop to see "
                "them now). Black: the real values; grey dotted: persistence (tomorrow = today); dash-dot: "
                "linear autoregression on the same window."
            )
        else:
            explain(
                "Black: the real test values. Each colour: one optimizer's GRU, one step ahead. Look for a "
                "coloured line that merely repeats the black one shifted right: that forecast copies the "
                "previous value and is no better than the grey dotted persistence line."
            )
    with c2:
        st.markdown(f"**Test error** ({html.escape(handle.units or 'series units')})")
        st.dataframe(R.error_summary(p, snap.result, snap.forecasts if paused else None), hide_index=True)
        st.caption(f"{len(p.y_test_raw):,} test targets, in the series' own units. Lower is better.")


def _highlight_winner(row: pd.Series) -> list[str]:
    style = "background-color: #fff3c4; font-weight: 700" if row.get("winner") else ""
    return [style] * len(row)


def results_section(handle: R.RaceHandle, snap: Snapshot) -> None:
    result = snap.result
    if result is None:
        return
    st.subheader("Results on the test part")
    table = R.results_table(result)
    text = R.verdict(result, handle.units)
    best_beats = "does NOT" not in text and "No optimizer" not in text
    (st.success if best_beats else st.warning)(text)
    shown = R.format_table(table.drop(columns=["kind"]))
    st.dataframe(shown.style.apply(_highlight_winner, axis=1), hide_index=True, width="stretch")
    if handle.units in ("", "unitless"):
        units_txt = "RMSE and MAE in the series' own units (MSE in their square)"
    else:
        units_txt = f"RMSE and MAE in {handle.units} (MSE in its square)"
    st.caption(
        f"{units_txt}, MAPE in percent, R² without units; lower is "
        "better except R² (1 = perfect). MAPE means little when values come close to 0. ★ best: the "
        "optimizer with the lowest test MSE. Train time: this optimizer's own seconds of computation."
    )
    if handle.exports is None or handle.exports.get("version") != snap.version:
        handle.exports = {
            "version": snap.version,
            "curves": R.curves_csv(snap.history),
            "metrics": R.metrics_csv(table, handle.units),
            "json": R.run_json(handle, snap),
        }
    c1, c2, c3, _ = st.columns([1.1, 1.1, 1.4, 0.6])
    c1.download_button(
        "Download curves (CSV)",
        handle.exports["curves"],
        file_name="gru-lab-curves.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl.curves",
    )
    c2.download_button(
        "Download metrics (CSV)",
        handle.exports["metrics"],
        file_name="gru-lab-metrics.csv",
        mime="text/csv",
        on_click="ignore",
        key="dl.metrics",
    )
    c3.download_button(
        "Download the whole run (JSON)",
        handle.exports["json"],
        file_name="gru-lab-run.json",
        mime="application/json",
        on_click="ignore",
        key="dl.json",
        help="Settings, learning-rate changes and pauses, every epoch's numbers and the test metrics.",
    )
    st.caption("Charts: the camera icon in each chart's toolbar saves a PNG.")


def preview_section(choice: DataChoice, prepared: Any, key: str = "chart.preview") -> None:
    """The chosen series with its train / validation / test parts shaded."""
    s = choice.series
    if s is None:
        return
    regions = None
    if prepared is not None:
        idx = s.index
        regions = []
        for split, label in (("train", "train"), ("val", "validation"), ("test", "test")):
            pos = getattr(prepared, f"pos_{split}")
            if len(pos):
                regions.append((label, idx[int(pos[0, 0])], idx[int(pos[-1, -1])]))
    fig = F.series_preview(s, units=R.series_units(s), name=R.series_label(s), regions=regions)
    chart(fig, key=key, name="series")
    for note in choice.notes:
        st.caption(f"ℹ️ {note}")
    explain(
        "The whole series, oldest on the left. The GRU learns from the blue-shaded training part, "
        "early stopping watches the orange validation part, and the green test part (the most recent "
        "values) is kept for the final exam. Look for: does the test part look like what came before?"
    )


# ----------------------------------------------------------------------------------------------------------
# saving and reloading trained models
# ----------------------------------------------------------------------------------------------------------


def handle_model_upload(ss: MutableMapping[str, Any], data: bytes, name: str) -> R.ModelUpload:
    """Read an uploaded model file into the session.

    A usable model is stored under :data:`MODEL_KEY` and sets the configuration widgets to match it
    (model size, variant, precision, lookback, horizon and the data settings it was trained with); a
    refused file only sets :data:`MODEL_ERROR_KEY`: every other value in ``ss`` stays as it was.
    """
    up = R.read_model_upload(data, name)
    if up.error is not None:
        ss[MODEL_ERROR_KEY] = up.error
        return up
    for fld, value in up.settings.items():
        ss[S.wkey(fld)] = value
    ss[MODEL_KEY] = up
    ss.pop(MODEL_ERROR_KEY, None)
    return up


def _on_model_upload() -> None:
    f = st.session_state.get("model_upload")
    if f is None:  # the file was removed from the uploader: keep what was loaded (Forget drops it)
        return
    try:
        data = f.getvalue()
    except Exception as exc:  # noqa: BLE001 - a broken upload is reported, never raised
        st.session_state[MODEL_ERROR_KEY] = f"{getattr(f, 'name', 'the file')} could not be read: {exc}"
        return
    handle_model_upload(st.session_state, data, f.name)


def _forget_model() -> None:
    st.session_state.pop(MODEL_KEY, None)
    st.session_state.pop(MODEL_ERROR_KEY, None)


def loaded_model(cfg: S.LabConfig) -> tuple[R.ModelUpload | None, list[str]]:
    """The uploaded model the next Train continues from (None: fresh weights) and why not, if it
    does not fit the current settings."""
    up = st.session_state.get(MODEL_KEY)
    if up is None:
        return None, []
    problems = R.model_fits(up, cfg)
    return (up if not problems else None), problems


def models_section(handle: R.RaceHandle | None, snap: Snapshot | None, cfg: S.LabConfig) -> None:
    """Save each trained model (while paused or after the race) and upload one to continue training."""
    st.subheader("Save or continue a trained model")
    if handle is not None and snap is not None:
        models = R.snapshot_models(handle, snap)
        if models is None:
            st.caption("The trained models can be saved while the race is paused or after it has ended.")
        else:
            cols = st.columns(min(len(handle.labels), 3) or 1)
            for i, name in enumerate(handle.labels):
                col = cols[i % len(cols)]
                col.download_button(
                    f"Download {name} model (.npz)",
                    data=lambda name=name, models=models: R.model_file(handle, name, models),
                    file_name=R.model_file_name(handle, name, models["epoch"]),
                    mime="application/octet-stream",
                    on_click="ignore",
                    key=f"dl.model.{i}",
                    help=f"{name}'s weights after epoch {models['epoch']} (step {models['step']:,}), its "
                    "optimizer state, the data settings and the fitted scaler, in one NumPy .npz file (no "
                    "pickles). Upload it below to continue training.",
                )
            explain(
                "One file per optimizer: what it learned so far, ready to continue training here later "
                "or to forecast with `python -m gru_core forecast`."
            )
    st.file_uploader(
        "Continue training: upload a model saved here (.npz)",
        type=["npz"],
        key="model_upload",
        on_change=_on_model_upload,
        max_upload_size=R.MODEL_UPLOAD_MB,
        help="The model settings (size, layers, variant, precision, lookback) are set to match the file; the "
        "next Train starts from its weights, and from its optimizer state for the same optimizer.",
    )
    if st.session_state.get(MODEL_ERROR_KEY):
        st.error(st.session_state[MODEL_ERROR_KEY], icon=":material/block:")
    up: R.ModelUpload | None = st.session_state.get(MODEL_KEY)
    if up is not None:
        usable, problems = loaded_model(cfg)
        if not R.engine_can_continue():
            st.warning(
                f"Loaded {up.summary()}. Continuing from uploaded weights is not available in this version "
                "of the engine: Train starts from fresh weights.",
                icon="⚠️",
            )
        elif usable is not None:
            st.success(f"The next Train continues from {up.summary()}.", icon=":material/save:")
        else:
            st.warning(
                f"Loaded {up.summary()}, but it does not fit the current settings ({'; '.join(problems)}): "
                "Train starts from fresh weights.",
                icon="⚠️",
            )
        for note in up.notes:
            st.caption(f"ℹ️ {note}")
        st.button("Forget the uploaded model", key="btn.forget_model", on_click=_forget_model)


# ----------------------------------------------------------------------------------------------------------
# presets
# ----------------------------------------------------------------------------------------------------------

PRESET_KEY = "preset"  # session key: the preset last applied (its key)


def apply_preset(ss: MutableMapping[str, Any], key: str) -> S.LabConfig | None:
    """Set every configuration widget (and so the URL, on the next run) to a preset's configuration."""
    preset = S.PRESETS.get(key)
    cfg = preset.fresh_config() if preset is not None else None
    if cfg is None:
        return None
    for k in [k for k in list(ss.keys()) if str(k).startswith("opt.") and ".hp." in str(k)]:
        del ss[k]
    for k, v in S.widget_state(cfg).items():
        ss[k] = v
    ss[PRESET_KEY] = key
    ss["iv_from_link"] = 0
    ss["qp_notices"] = []
    return cfg


def _apply_preset(key: str) -> None:
    apply_preset(st.session_state, key)


def presets_section(expanded: bool) -> None:
    """The classroom scenarios, one click each."""
    with st.expander("Classroom scenarios: one click sets everything", icon=":material/school:", expanded=expanded):
        presets = list(S.PRESETS.values())
        cols = st.columns(len(presets))
        for col, p in zip(cols, presets):
            with col:
                st.markdown(f"**{html.escape(p.title)}**")
                st.caption(p.watch)
                if p.config is not None:
                    st.button("Load", key=f"preset.{p.key}", on_click=_apply_preset, args=(p.key,))
                elif p.page:
                    try:
                        st.page_link(p.page, label="Open the page →")
                    except Exception:  # noqa: BLE001 - the page is not installed (yet): say so, never crash
                        st.caption("(the Vanishing gradients page is not part of this installation yet)")


def preset_note(cfg: S.LabConfig, key: str) -> None:
    """What to watch for, while the settings are still those of the preset last loaded."""
    pk = st.session_state.get(PRESET_KEY)
    preset = S.PRESETS.get(pk) if pk else None
    if preset is None or preset.config is None:
        return
    if S.config_key(preset.fresh_config()) != S.config_key(cfg):
        return
    note = f"\n\n{preset.note}" if preset.note else ""
    st.info(f"**{preset.title}.** {preset.watch}{note}", icon=":material/school:")
