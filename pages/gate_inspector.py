"""Page "Gate inspector": what the gates of a trained GRU do, window by window, for two optimizers.

Models come from this session's race (``st.session_state["race"]``, once it has finished or been stopped)
or from uploaded ``.npz`` files (``gru_core.model.files.load_model``; ``python -m gru_core compare
--save-model PREFIX`` writes one per optimizer).  The numbers are the engine's: ``GRURegressor.forward``
for z, r, n, h and ``gru_core.classroom.gradflow.hidden_state_grad_norms`` for the gradient reaching each step.

The pure helpers (:func:`model_from_bytes`, :func:`inspect_window`, :func:`inspect_split`) are importable
without running the page; Streamlit runs the page as ``__main__``.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.classroom.gradflow import hidden_state_grad_norms
from gru_core.data import DataError, Prepared, prepare
from gru_core.model.files import CheckpointError, load_model
from gru_core.model.gru import GRURegressor
from gru_core.optim import OPTIMIZERS
from gru_ui import figures as F
from gru_ui import runs as R
from gru_ui import state as S
from gru_ui.figures import classroom as FC
from gru_ui.shell import app_frame, chart, display_toggles

MAX_WINDOWS = 256  # windows used for the saturation statistics and the mean gradient norm
SPLIT_NAMES = {"val": "validation", "test": "test"}
FINISHED = ("finished", "stopped")
SLOTS = ("a", "b")
LINE_CHOICES = {
    "spread": "most, median and least saturated unit",
    "most": "the 3 most saturated units",
    "least": "the 3 least saturated units",
}


class InspectorError(ValueError):
    """A model file or a data configuration the inspector cannot use; the message says why."""


@dataclass
class InspectedModel:
    """One model to inspect, with the windows it reads."""

    label: str
    model: GRURegressor
    prepared: Prepared
    color: str | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def layers(self) -> int:
        return self.model.num_layers


# ---- pure helpers (tested without a browser) --------------------------------------------------------------


def _int_field(dc: dict, name: str, default: Any, low: int, high: int) -> int:
    v = dc.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v or not low <= int(v) <= high:
        raise InspectorError(f"the model file's data configuration has {name} = {v!r}; expected {low}…{high}")
    return int(v)


def model_label(ck, filename: str) -> str:
    """A display name: the optimizer the file says trained it, else its optimizer's class, else the file."""
    name = ck.info.label
    if isinstance(name, str) and name.strip():
        return name.strip()[:40]
    spec = next((s for s in OPTIMIZERS.values() if type(ck.optimizer) is s.cls), None)
    if spec is not None:
        return spec.name + ("" if ck.optimizer.flavor == "pytorch" else f" ({ck.optimizer.flavor})")
    return filename[:40]


def model_from_bytes(data: bytes, filename: str, series: pd.Series, series_key: str | None = None) -> InspectedModel:
    """An uploaded model file and a series -> the model and the windows it reads.

    Raises :class:`gru_core.model.files.CheckpointError` for an unreadable file and :class:`InspectorError`
    (or :class:`gru_core.data.DataError`) when file and series do not fit together.
    """
    return model_from_checkpoint(load_model(bytes(data)), filename, series, series_key)


def model_from_checkpoint(ck, filename: str, series: pd.Series, series_key: str | None = None) -> InspectedModel:
    """The windows are made as the model was trained: the file's ``data_config`` gives lookback, horizon,
    split, scaler, where the scaler was fitted and how the series was split."""
    model = ck.model
    dc = ck.data_config if isinstance(ck.data_config, dict) else {}
    if model.input_size != 1:
        raise InspectorError(f"the model reads {model.input_size} features per step; the inspector reads one series")
    if "lookback" not in dc:
        raise InspectorError("the model file has no lookback in its data configuration, so its windows are unknown")
    lookback = _int_field(dc, "lookback", None, 1, S.LIMITS["lookback"])
    horizon = _int_field(dc, "horizon", model.output_size, 1, S.LIMITS["horizon"])
    if horizon != model.output_size:
        raise InspectorError(f"the data configuration says horizon {horizon}, the model predicts {model.output_size}")
    if len(series) * lookback > S.LIMITS["window_values"]:
        raise InspectorError(f"{len(series):,} values × lookback {lookback} is more than this page handles")
    try:
        prepared = prepare(
            series,
            lookback=lookback,
            horizon=horizon,
            split=tuple(dc.get("split", (0.8, 0.1, 0.1))),
            scaler=dc.get("scaler", "minmax"),
            fit_scaler_on=dc.get("fit_scaler_on", "train"),
            split_by=dc.get("split_by", "windows"),
        )
    except TypeError as exc:
        raise InspectorError(f"the model file's data configuration is malformed: {exc}") from None
    notes = []
    source = dc.get("source")
    if source and series_key and str(source) != series_key:
        notes.append(f"trained on “{str(source)[:60]}”")
    return InspectedModel(model_label(ck, filename), model, prepared, source=filename, notes=notes)


def checkpoint_source(ck) -> str | None:
    """The registry series a model file says it was trained on (None: a CSV, or not recorded)."""
    source = (ck.data_config or {}).get("source") if isinstance(ck.data_config, dict) else None
    return source if isinstance(source, str) and source in S.series_datasets() else None


def _when(label: Any) -> str:
    """A target's index label for people: a date, or the position in the series."""
    if hasattr(label, "strftime"):
        return label.strftime("%Y-%m-%d")
    return f"position {label}"


def split_windows(prepared: Prepared) -> dict[str, int]:
    """Windows per inspectable split (validation, test), only the non-empty ones."""
    return {s: int(len(prepared.arrays(s)[0])) for s in SPLIT_NAMES if len(prepared.arrays(s)[0])}


def inspect_window(model: GRURegressor, prepared: Prepared, split: str, index: int, layer: int) -> dict:
    """One window: the gates of one layer (T, H) each, the scaled input, the forecast and the truth in the
    series' units, and ‖∂L/∂h_t‖ for every step t of that layer."""
    X, y = prepared.arrays(split)
    if not 0 <= index < len(X):
        raise InspectorError(f"window {index + 1} does not exist ({len(X)} {SPLIT_NAMES.get(split, split)} windows)")
    xw, yw = X[index : index + 1], y[index : index + 1]
    _, trace = model.forward(xw)
    k = layer % model.num_layers
    pred = prepared.scaler.inverse_transform(model.predict(xw).astype(np.float64))
    return {
        "gates": {g: np.asarray(trace[k][g][0], dtype=np.float64) for g in ("z", "r", "n", "h")},
        "input": np.asarray(xw[0, :, 0], dtype=np.float64),
        "grad": hidden_state_grad_norms(model, xw, yw, k),
        "forecast": float(np.asarray(pred).reshape(-1)[0]),
        "truth": float(np.asarray(prepared.arrays(split, raw=True)[1])[index, 0]),
        "target": _when(prepared.target_index(split)[index]),
    }


def inspect_split(
    model: GRURegressor, prepared: Prepared, split: str, layer: int, max_windows: int = MAX_WINDOWS
) -> dict:
    """Over (at most ``max_windows`` evenly spread) windows of a split: per unit how often z and r are
    saturated, the units' display order, and the mean ‖∂L/∂h_t‖ per step."""
    X, y = prepared.arrays(split)
    idx = F.thin_indices(len(X), max_windows)
    _, trace = model.forward(X[idx])
    k = layer % model.num_layers
    sat = {"z": FC.saturation(trace[k]["z"]), "r": FC.saturation(trace[k]["r"])}
    return {
        "saturation": sat,
        "order": FC.saturation_order(sat["z"], sat["r"]),
        "grad": hidden_state_grad_norms(model, X[idx], y[idx], k),
        "windows": len(idx),
    }


def _digest(model: GRURegressor, prepared: Prepared) -> str:
    h = hashlib.sha1(np.ascontiguousarray(model.params.flat).tobytes())
    h.update(repr(model.config).encode())
    for s in SPLIT_NAMES:
        h.update(np.ascontiguousarray(prepared.arrays(s)[0]).tobytes())
    return h.hexdigest()


@st.cache_data(show_spinner=False, max_entries=64)
def cached_split(_model: GRURegressor, _prepared: Prepared, digest: str, split: str, layer: int) -> dict:
    """:func:`inspect_split`, cached by the model's weights and data (``digest``)."""
    return inspect_split(_model, _prepared, split, layer)


def line_units(order: np.ndarray, choice: str) -> list[int]:
    o = [int(u) for u in order]
    if choice == "most":
        return o[:3]
    if choice == "least":
        return o[-3:][::-1]
    picks = [o[0], o[len(o) // 2], o[-1]]
    return list(dict.fromkeys(picks))


# ---- sources -------------------------------------------------------------------------------------------------


def race_models() -> tuple[list[InspectedModel], str | None]:
    """The session race's models (if it has ended), or why there are none."""
    h: R.RaceHandle | None = st.session_state.get("race")
    if h is None:
        return [], "No race in this session yet: train one on the **Optimizer race** page, or upload model files."
    status = h.live.snapshot().status
    if status not in FINISHED:
        return [], (
            f"This session's race is {status}: inspect it when it has finished (or press Stop on the "
            "race page). Meanwhile you can upload model files."
        )
    out = []
    for name in h.labels:
        run = h.race.runs[name]
        notes = [f"diverged at step {run.diverged_step}: its weights may be NaN"] if run.status == "diverged" else []
        out.append(InspectedModel(name, run.model, h.prepared, h.colors.get(name), "this session's race", notes))
    return out, None


@st.cache_data(show_spinner=False, max_entries=16)
def _registry_series(key: str) -> pd.Series:
    return R.load_registry_series(key)


def upload_models() -> list[InspectedModel]:
    ss = st.session_state
    st.markdown(
        "Upload one or two models (for example two optimizers of one `compare --save-model` run); they "
        "read windows of the series below, made with each model's own lookback, split and scaling."
    )
    limit = st.get_option("server.maxUploadSize")
    loaded = []  # (slot, file name, checkpoint)
    for col, slot in zip(st.columns(2), SLOTS):
        with col:
            up = st.file_uploader(
                f"Model {slot.upper()} (.npz, at most {limit} MB)",
                type=["npz"],
                key=f"insp.upload.{slot}",
                help="Saved with `python -m gru_core compare … --save-model PREFIX`.",
            )
            if up is None:
                continue
            try:
                loaded.append((slot, up.name, load_model(up.getvalue())))
            except CheckpointError as exc:
                st.error(f"{up.name} could not be opened: {exc}.")
    # the series: the one the first file was trained on, until the user picks another
    if loaded:
        first = loaded[0]
        tag = f"{first[0]}:{first[1]}"
        source = checkpoint_source(first[2])
        if source and ss.get("insp.data.auto") != tag:
            ss["insp.data"] = source
        ss["insp.data.auto"] = tag
    keys = list(S.series_datasets())
    st.selectbox(
        "Series the models read",
        keys,
        key="insp.data",
        format_func=lambda k: S.series_datasets()[k],
        help="Preselected from the first model file when it names a bundled series.",
    )
    if not loaded:
        return []
    try:
        series = _registry_series(ss["insp.data"])
    except (DataError, ValueError, ImportError) as exc:
        st.error(f"Could not load the series: {exc}")
        return []
    models = []
    for _, name, ck in loaded:
        try:
            models.append(model_from_checkpoint(ck, name, series, ss["insp.data"]))
        except (InspectorError, DataError, ValueError) as exc:
            st.error(f"{name} cannot be inspected on this series: {exc}.")
    labels = [m.label for m in models]
    if len(labels) == 2 and labels[0] == labels[1]:
        for m in models:
            m.label = f"{m.label} ({m.source[:24]})"
    colors = F.assign_colors([m.label for m in models])
    for m in models:
        m.color = colors[m.label]
    return models


# ---- drawing -------------------------------------------------------------------------------------------------


def panel(m: InspectedModel, slot: str, split: str, index: int, layer: int) -> dict | None:
    color = m.color or F.TRUTH_COLOR
    st.markdown(
        f"<div style='border-left:8px solid {color};padding-left:10px'><span style='font-size:1.5em;"
        f"font-weight:700;color:{color}'>{html.escape(m.label)}</span></div>",
        unsafe_allow_html=True,
    )
    cfg = m.model.config
    st.caption(
        f"{m.source} · {cfg.hidden_size} units × {cfg.num_layers} layer(s), {cfg.variant} variant · "
        f"lookback {m.prepared.lookback}" + "".join(f" · {n}" for n in m.notes)
    )
    k = min(layer, m.layers - 1)
    n_win = split_windows(m.prepared).get(split, 0)
    if n_win == 0:
        st.warning(f"{m.label} has no {SPLIT_NAMES[split]} windows.")
        return None
    try:
        stats = cached_split(m.model, m.prepared, _digest(m.model, m.prepared), split, k)
        win = inspect_window(m.model, m.prepared, split, min(index, n_win - 1), k)
    except ValueError as exc:
        st.error(f"{m.label}: {exc}")
        return None
    if k != layer:
        st.caption(f"This model has {m.layers} layer(s): showing layer {k + 1}.")
    fig = FC.inspector_heatmaps(win["gates"], win["input"], stats["order"], name=m.label, color=color)
    chart(fig, key=f"chart.insp.heat.{slot}", name=f"gates-{m.label}")
    st.caption(
        f"Window {min(index, n_win - 1) + 1}: forecast {win['forecast']:.4g} for {win['target']} (truth "
        f"{win['truth']:.4g}, series units). Units sorted by how often z is saturated (< 0.1 or > 0.9) over "
        f"{stats['windows']} {SPLIT_NAMES[split]} windows: the top rows copy or overwrite, the bottom "
        "rows blend."
    )
    fig = FC.saturation_bars(stats["saturation"], stats["order"], name=m.label, color=color, windows=stats["windows"])
    chart(fig, key=f"chart.insp.sat.{slot}", name=f"saturation-{m.label}")
    st.caption(
        "Tall bars: units whose gates are nearly always shut or open (switch-like); short bars: units "
        "that blend old and new."
    )
    choice = st.selectbox("Line plot shows", list(LINE_CHOICES), key=f"insp.lines.{slot}", format_func=LINE_CHOICES.get)
    units = line_units(stats["order"], choice)
    fig = FC.gate_lines(win["gates"], units, name=m.label, color=color)
    chart(fig, key=f"chart.insp.lines.{slot}", name=f"gate-lines-{m.label}")
    st.caption(
        "The same window as lines, one style per unit: a flat z near 1 holds the state; a z that dips "
        "lets new input in at that step."
    )
    return {"label": m.label, "color": color, "window": win["grad"], "mean": stats["grad"], "windows": stats["windows"]}


def init_state() -> None:
    ss = st.session_state
    ss.setdefault("insp.source", "race")
    ss.setdefault("insp.data", "noisy_sine")
    ss.setdefault("insp.split", "val")
    ss.setdefault("insp.window", 1)
    ss.setdefault("insp.layer", 0)
    ss.setdefault("insp.relative", False)
    for slot in SLOTS:
        ss.setdefault(f"insp.lines.{slot}", "spread")


def page() -> None:
    app_frame()  # inside app.py's frame, also on a fresh server's first visit to this page's URL
    with st.sidebar:
        display_toggles()  # presentation mode and explanations, shared by every page
    init_state()
    ss = st.session_state
    st.title("Gate inspector")
    st.markdown(
        "Open a trained GRU and look inside: for any window of the series, what its **update gate z**, "
        "**reset gate r**, candidate **n** and state **h** did at every time step, which units act like "
        "switches, and how much gradient reaches each step. Two models side by side: two optimizers."
    )
    st.radio(
        "Models",
        ["race", "upload"],
        key="insp.source",
        horizontal=True,
        format_func={"race": "from this session's race", "upload": "upload model files (.npz)"}.get,
    )
    if ss["insp.source"] == "race":
        models, why = race_models()
        if why:
            st.info(why, icon="ℹ️")
        if len(models) > 2:
            names = [m.label for m in models]
            c1, c2 = st.columns(2)
            for col, slot, default in zip((c1, c2), SLOTS, names[:2]):
                if ss.get(f"insp.run.{slot}") not in names:
                    ss[f"insp.run.{slot}"] = default
                col.selectbox(f"Model {slot.upper()}", names, key=f"insp.run.{slot}")
            models = [next(m for m in models if m.label == ss[f"insp.run.{slot}"]) for slot in SLOTS]
    else:
        models = upload_models()
    if not models:
        return
    # the window and layer, shared by both panels
    splits = split_windows(models[0].prepared)
    if not splits:
        st.error("The series gives no validation or test windows for this model.")
        return
    if ss["insp.split"] not in splits:
        ss["insp.split"] = next(iter(splits))
    c1, c2, c3 = st.columns([1.2, 3, 1.2])
    c1.radio("Windows from", list(splits), key="insp.split", horizontal=True, format_func=SPLIT_NAMES.get)
    n_win = splits[ss["insp.split"]]
    ss["insp.window"] = min(max(int(ss["insp.window"]), 1), n_win)
    if n_win > 1:
        c2.slider(
            f"Window (1 … {n_win} {SPLIT_NAMES[ss['insp.split']]} windows, oldest first)", 1, n_win, key="insp.window"
        )
    else:
        c2.caption("One window only.")
    n_layers = max(m.layers for m in models)
    ss["insp.layer"] = min(int(ss["insp.layer"]), n_layers - 1)
    if n_layers > 1:
        c3.radio("Layer", list(range(n_layers)), key="insp.layer", horizontal=True, format_func=lambda i: f"{i + 1}")
    index, layer, split = int(ss["insp.window"]) - 1, int(ss["insp.layer"]), str(ss["insp.split"])
    cols = st.columns(len(models), gap="large")
    curves = []
    for col, m, slot in zip(cols, models, SLOTS):
        with col:
            got = panel(m, slot, split, index, layer)
            if got:
                curves.append(got)
    if not curves:
        return
    st.subheader("Gradient flowing back through time")
    st.toggle(
        "Relative to the last step",
        key="insp.relative",
        help="Divide each curve by its value at the last step: all end at 1.",
    )
    lines = []
    for c in curves:
        lines.append(
            {
                "name": f"{c['label']} · mean over {c['windows']} windows",
                "values": c["mean"],
                "color": c["color"],
                "width": 4,
            }
        )
        lines.append(
            {
                "name": f"{c['label']} · this window",
                "values": c["window"],
                "color": c["color"],
                "dash": "dot",
                "width": 2.5,
            }
        )
    fig = FC.grad_norm_chart(
        lines,
        title="How much of the loss's gradient reaches each hidden state",
        x_title="time step t of the input window (1 = oldest)",
        y_title="‖∂L/∂h<sub>t</sub>‖ (scaled units; log)",
        relative=bool(ss["insp.relative"]),
    )
    chart(fig, key="chart.insp.grads", name="gradient-through-time")
    st.caption(
        "∂L/∂h_t: how much the forecast error would change if the state at step t changed (log scale: each grid "
        "line is 10× less). A curve that falls steeply to the left means the early inputs barely influence "
        "learning: vanishing gradients. Solid: mean over windows; dotted: this window."
    )


if __name__ == "__main__":
    page()
