"""The race page's sidebar: the settings widgets (data and CSV upload, optimizers, model, training), and
the session's first run, which fills them from the URL; every later run keeps the URL equal to them.

Each widget's key is its setting's one name (:func:`gru_ui.race.settings.wkey`: ``cfg.hidden_size``);
the conversion to and from :class:`~gru_core.config.RunConfig` is :mod:`gru_ui.race.settings`'.
Choices and limits are read from :data:`gru_core.config.SETTINGS`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from gru_core.config import MAX_CONTESTANTS, SETTINGS, Contestant, RunConfig, contestant_labels, to_query
from gru_core.data.datasets import describe_dataset
from gru_core.optim import OPTIMIZERS
from gru_core.surface import SURFACE_QUERY_PREFIX
from gru_ui import figures as F
from gru_ui.shell import csv_uploader, display_toggles, keep, query_dict, set_query

from . import settings as S
from . import surface
from .session import race_limit_text
from .upload import Upload, load_registry_series, read_upload

__all__ = ["DataChoice", "init_session", "sidebar_config", "sync_url"]


# ----------------------------------------------------------------------------------------------------------
# session and URL
# ----------------------------------------------------------------------------------------------------------


def init_session() -> None:
    """Once per browser session: the run from the URL (or the page's defaults) into the widgets; what the
    link carried that was ignored goes to ``qp_notices`` (shown by ``gru_ui.shell.show_query_notices``)."""
    if st.session_state.get("initialised"):
        return
    params = query_dict()
    notices = surface.init_from_query(params)  # the loss-surface section's settings (surf.*)
    cfg, run_notices = S.page_query({k: v for k, v in params.items() if not k.startswith(SURFACE_QUERY_PREFIX)})
    notices = run_notices + notices
    for k, v in S.widget_state(cfg).items():
        st.session_state[k] = v
    st.session_state["qp_notices"] = notices
    st.session_state["iv_from_link"] = len(cfg.interventions)
    st.session_state["initialised"] = True


def sync_url(cfg: RunConfig) -> None:
    """Keep the URL's query parameters equal to the run (and the loss-surface section's settings), so the address
    bar is a shareable link."""
    set_query({**to_query(cfg), **surface.surface_query()})


# ----------------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------------


@dataclass
class DataChoice:
    """The series the settings point at (or why there is none)."""

    series: pd.Series | None = None
    upload: Upload | None = None
    error: str | None = None
    info: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str | None:
        return self.upload.digest if self.upload else None


@st.cache_data(show_spinner=False, max_entries=32)
def _registry_series(key: str) -> pd.Series:
    return load_registry_series(key)


@st.cache_data(show_spinner=False, max_entries=8)
def _read_upload(data: bytes, name: str, value_column: str | None, date_column: str | None) -> Upload:
    return read_upload(data, name, value_column, date_column)


def _dataset_label(key: str) -> str:
    if key == S.CSV_SOURCE:
        return "Upload a CSV file…"
    return S.series_datasets().get(key, key)


def data_section() -> DataChoice:
    """Dataset picker, CSV upload with column pickers: the chosen series or the reason there is none."""
    source = st.selectbox(
        "Dataset",
        S.sources(),
        key=S.wkey("source"),
        format_func=_dataset_label,
        help="Synthetic series are generated with a fixed seed; real ones ship with statsmodels.",
    )
    if source != S.CSV_SOURCE:
        st.caption(describe_dataset(source))
        try:
            return DataChoice(series=_registry_series(source))
        except Exception as exc:  # noqa: BLE001 - e.g. statsmodels missing: say so, never a traceback
            return DataChoice(error=f"Could not load {_dataset_label(source)}: {exc}")
    up = csv_uploader("upload", "Separators (, ; or tab) and a decimal point or comma are detected.")
    vkey, dkey = S.wkey("column"), S.wkey("date_column")
    if up is None:
        want = st.session_state.get(vkey)
        info = "Upload a CSV file to train on your own series."
        if want:
            info = (f"This link was made with an uploaded CSV (value column “{want}”). Upload the same file to "
                    "reproduce the run.")  # fmt: skip
        return DataChoice(info=info)
    raw = up.getvalue()
    first = _read_upload(raw, up.name, None, None)
    if first.columns is None:
        return DataChoice(upload=first, error=first.error)
    cols = first.columns
    if not cols.numeric_columns:
        return DataChoice(upload=first, error=first.error or f"{up.name} has no numeric column.")
    if st.session_state.get(vkey) not in cols.numeric_columns:
        st.session_state[vkey] = cols.value_column or cols.numeric_columns[-1]
    date_options = ["", *[c for c in cols.columns if c != st.session_state[vkey]]]
    if st.session_state.get(dkey) not in date_options:
        st.session_state[dkey] = cols.date_column if cols.date_column in date_options else ""
    st.selectbox("Value column (what to forecast)", cols.numeric_columns, key=vkey)
    st.selectbox("Date column", date_options, key=dkey, format_func=lambda c: c or "(none: use the row order)")
    st.caption(f"{cols.n_rows:,} rows · separator {cols.separator or 'none'!r} · decimal {cols.decimal!r}")
    st.text_input("Units of the values (for the axes)", key=S.wkey("units"), max_chars=60,
                  placeholder="e.g. USD per tonne")  # fmt: skip
    result = _read_upload(raw, up.name, st.session_state[vkey], st.session_state[dkey])
    if result.error:
        return DataChoice(upload=result, error=result.error)
    series = result.series
    series.attrs["units"] = str(st.session_state.get(S.wkey("units")) or "").strip()
    return DataChoice(series=series, upload=result, notes=list(series.attrs.get("notes", [])))


# ----------------------------------------------------------------------------------------------------------
# optimizer editor
# ----------------------------------------------------------------------------------------------------------


def _reset_contestant(oid: int) -> None:
    """Callback: the optimizer or its flavour changed, so its hyperparameters go back to the registry's."""
    ss = st.session_state
    key = ss.get(S.okey(oid, "optimizer"), "adam")
    if ss.get(S.okey(oid, "flavor")) not in OPTIMIZERS[key].flavors:
        ss[S.okey(oid, "flavor")] = "pytorch"
    for k in [k for k in ss.keys() if str(k).startswith(S.okey(oid, "hyper."))]:
        del ss[k]
    for k, v in S.contestant_state(oid, Contestant(key, ss[S.okey(oid, "flavor")])).items():
        if ".hyper." in k:
            ss[k] = v


def _add_contestant() -> None:
    ss = st.session_state
    ids = list(ss.get("opt_ids", []))
    if len(ids) >= MAX_CONTESTANTS:
        return
    used = {ss.get(S.okey(i, "optimizer")) for i in ids}
    key = next((k for k in ("sgd", "adamw", "adagrad", "adam", "rmsprop") if k not in used), "adam")
    oid = int(ss.get("opt_next_id", len(ids)))
    ss["opt_next_id"] = oid + 1
    for k, v in S.contestant_state(oid, Contestant(key)).items():
        ss[k] = v
    ss["opt_ids"] = [*ids, oid]


def _remove_contestant(oid: int) -> None:
    ss = st.session_state
    ids = [i for i in ss.get("opt_ids", []) if i != oid]
    if ids:
        ss["opt_ids"] = ids


def _hyper_widget(oid: int, hp: Any, default: Any) -> None:
    k = S.okey(oid, f"hyper.{hp.name}")
    if k not in st.session_state:
        st.session_state[k] = default
    label = "learning rate (lr)" if hp.name == "lr" else hp.name
    help_text = f"{hp.help}. Registry default for this flavour: {default:g}." if hp.kind != "bool" else hp.help
    if hp.kind == "bool":
        st.checkbox(label, key=k, help=hp.help)
    elif hp.kind == "int":
        st.number_input(label, min_value=int(hp.low), max_value=int(hp.high), step=1, key=k, help=help_text)
    elif hp.log:
        opts = S.log_grid(float(hp.low), float(hp.high), default, st.session_state[k])
        st.select_slider(label, options=opts, key=k, format_func=lambda v: f"{v:g}", help=help_text)
    else:
        span = float(hp.high) - float(hp.low)
        step = 10 ** (math.floor(math.log10(span)) - 2) if span > 0 else 0.01
        st.number_input(label, min_value=float(hp.low), max_value=float(hp.high), step=float(step), key=k,
                        format="%g", help=help_text)  # fmt: skip


def contestant_editor(colors: dict[str, str]) -> None:
    """One box per contestant: optimizer, flavour, learning rate and the other hyperparameters."""
    ss = st.session_state
    ids = list(ss.get("opt_ids", []))
    labels = contestant_labels(S.contestants_from_state(ss))
    keys = list(OPTIMIZERS)
    for i, oid in enumerate(ids):
        label = labels[i] if i < len(labels) else f"optimizer {i + 1}"
        color = colors.get(label, F.color_for(label, i))
        with st.container(border=True):
            st.markdown(f"<span style='color:{color};font-size:1.3em'>■</span> **{html.escape(label)}**",
                        unsafe_allow_html=True)  # fmt: skip
            c1, c2 = st.columns(2)
            c1.selectbox("Optimizer", keys, key=S.okey(oid, "optimizer"), format_func=lambda k: OPTIMIZERS[k].name,
                         on_change=_reset_contestant, args=(oid,), label_visibility="collapsed")  # fmt: skip
            spec = OPTIMIZERS[ss.get(S.okey(oid, "optimizer"), "adam")]
            if ss.get(S.okey(oid, "flavor")) not in spec.flavors:
                ss[S.okey(oid, "flavor")] = "pytorch"
            c2.selectbox(
                "Flavour", spec.flavors, key=S.okey(oid, "flavor"), on_change=_reset_contestant, args=(oid,),
                label_visibility="collapsed", disabled=len(spec.flavors) == 1,
                help="pytorch: torch.optim's rules and defaults; keras: Keras's (tf.keras 2.15 for RMSprop and "
                "Adam: eps inside the square root, rho 0.9, lr 1e-3; Keras 3 for NAdam, Adamax, Adadelta).",
            )  # fmt: skip
            defaults = spec.defaults(ss[S.okey(oid, "flavor")])
            st.caption(spec.description)
            for hp in spec.hyperparams:
                if hp.name == "lr" and hp.name in defaults:
                    _hyper_widget(oid, hp, defaults[hp.name])
            with st.expander("more hyperparameters"):
                for hp in spec.hyperparams:
                    if hp.name != "lr" and hp.name in defaults:
                        _hyper_widget(oid, hp, defaults[hp.name])
            st.button("Remove", key=f"opt.{oid}.remove", on_click=_remove_contestant, args=(oid,),
                      disabled=len(ids) <= 1, help="Remove this optimizer from the race")  # fmt: skip
    st.button(f"+ Add an optimizer ({len(ids)}/{MAX_CONTESTANTS})", on_click=_add_contestant,
              disabled=len(ids) >= MAX_CONTESTANTS, key="opt.add")  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# the sidebar
# ----------------------------------------------------------------------------------------------------------


def _limit(name: str) -> Any:
    return SETTINGS[name].limit


def _choices(name: str) -> tuple[str, ...]:
    return SETTINGS[name].choices


def limits_text() -> str:
    L = S.PAGE_LIMITS
    return (
        f"Limits: series ≤ {L['rows']:,} values (uploads ≤ {L['upload_mb']} MB) and series length × lookback "
        f"≤ {L['window_values']:,}; lookback ≤ {_limit('lookback')}; hidden ≤ {_limit('hidden_size')} units; "
        f"≤ {_limit('num_layers')} layers; ≤ {_limit('epochs'):,} epochs; ≤ {MAX_CONTESTANTS} optimizers; "
        f"one race per browser tab (and {race_limit_text()} training or waiting on the whole server)."
    )


def _data_widgets() -> DataChoice:
    k = S.wkey
    choice = data_section()
    st.slider("Lookback (past values the GRU sees)", 1, _limit("lookback"), key=k("lookback"),
              help="Length of each input window, in time steps.")  # fmt: skip
    st.number_input("Horizon (values predicted at once)", 1, _limit("horizon"), key=k("horizon"), step=1)
    train_key, val_key = S.SPLIT_KEYS
    c1, c2 = st.columns(2)
    c1.number_input("Train %", *S.TRAIN_PCT, key=train_key, step=5)
    c2.number_input("Validation %", *S.VAL_PCT, key=val_key, step=5)
    test = 100 - int(st.session_state[train_key]) - int(st.session_state[val_key])
    st.caption(f"Chronological split: train → validation → test ({test} % test, the last part of the series).")
    st.radio(
        "Split", _choices("split_by"), key=k("split_by"), horizontal=True,
        format_func={"windows": "the windows", "series": "the series first"}.get,
        help="the windows: every window of the series, cut by the percentages (default). The series first: "
        "cut the values, then window each part on its own, as the original study did (each part loses "
        "lookback values).",
    )  # fmt: skip
    st.selectbox("Scaling", _choices("scaler"), key=k("scaler"), format_func={
        "minmax": "min-max to [0, 1]", "standard": "standardise (mean 0, sd 1)", "none": "none"}.get)  # fmt: skip
    st.radio("Fit the scaler on", _choices("fit_scaler_on"), key=k("fit_scaler_on"), horizontal=True,
             format_func={"train": "training part only", "all": "the whole series"}.get)  # fmt: skip
    if st.session_state[k("fit_scaler_on")] == "all":
        st.warning(
            "Fitting the scaler on the whole series leaks the test period's range into training "
            "(the original study did this; use it only to reproduce it).",
            icon="⚠️",
        )
    return choice


def _model_widgets() -> None:
    k = S.wkey
    st.slider("Hidden units", 1, _limit("hidden_size"), key=k("hidden_size"))
    st.slider("Layers", 1, _limit("num_layers"), key=k("num_layers"))
    st.radio("Variant", _choices("variant"), key=k("variant"), horizontal=True,
             help="pytorch: reset gate applied after the recurrent product (cuDNN, Keras reset_after); "
             "classic: Cho et al. 2014.")  # fmt: skip
    st.radio("Initial weights", _choices("init"), key=k("init"), horizontal=True,
             help="pytorch: uniform ±1/√H; keras: Glorot/orthogonal/zeros. Every optimizer starts from "
             "the same weights either way.")  # fmt: skip
    drop = SETTINGS["dropout"]
    st.number_input("Dropout (on the last hidden state)", drop.low, drop.high, key=k("dropout"), step=0.05)
    st.radio("Precision", _choices("dtype"), key=k("dtype"), horizontal=True)


def _training_widgets() -> None:
    k = S.wkey
    st.number_input("Epochs", 1, _limit("epochs"), key=k("epochs"), step=10)
    st.number_input("Batch size", 1, _limit("batch_size"), key=k("batch_size"), step=8)
    st.number_input("Early-stopping patience (0 = off)", 0, _limit("patience"), key=k("patience"),
                    help="Stop an optimizer after this many epochs without a better validation loss.")  # fmt: skip
    st.checkbox("Restore the best weights at the end", key=k("restore_best"))
    st.number_input("Gradient clipping: max norm (0 = off)", 0.0, float(_limit("clip_norm")), key=k("clip_norm"),
                    step=0.5)  # fmt: skip
    st.selectbox("Learning-rate schedule", _choices("schedule"), key=k("schedule"))
    st.slider("Seeds to race", 1, S.PAGE_LIMITS["seeds"], key=k("n_seeds"),
              help="Each seed races every optimizer from its own initial weights, dropout masks and batch order; "
              "the seeds train in parallel. One seed is one draw: with several, the chart shows their spread and "
              "the verdict counts how many seeds each optimizer won.")  # fmt: skip
    st.number_input("First seed (weights, dropout, batch order)", 0, S.PAGE_LIMITS["max_seed"], key=k("seed"),
                    step=1)  # fmt: skip


def sidebar_config() -> tuple[RunConfig, DataChoice]:
    """The whole settings sidebar; returns the run it shows and the chosen series."""
    with st.sidebar:
        display_toggles()
        st.button("↺ Reset to defaults", key="btn.reset", on_click=S.reset_settings, args=(st.session_state,),
                  help="Every setting on this page back to its default (the race on screen stays).")  # fmt: skip
        st.header("1 · Data")
        choice = _data_widgets()
        st.header("2 · Optimizers")
        contestant_editor(F.assign_colors(contestant_labels(S.contestants_from_state(st.session_state))))
        st.header("3 · Model")
        with st.expander("GRU", expanded=False):
            _model_widgets()
        st.header("4 · Training")
        with st.expander("Epochs, batches, stopping", expanded=False):
            _training_widgets()
        st.divider()
        st.caption(limits_text())
    cfg = S.config_from_state(st.session_state)
    # every setting widget's value outlives the page (gru_ui.shell.keep_settings): the run's own (contestants
    # included) and the sidebar's other "cfg." widgets (an upload's columns, units)
    keep([*S.widget_state(cfg), *(k for k in st.session_state if isinstance(k, str) and k.startswith("cfg."))])
    return cfg, choice
