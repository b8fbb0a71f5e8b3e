"""The gate inspector's page support: where its models come from, its session state and cached statistics.

* :func:`race_models`: the models of this session's race (``st.session_state["race"]``, once it ended);
* :func:`upload_models`: the two file uploaders and the series the uploaded models read;
* :func:`choose_two`: of more than two race models, the two the visitor picks;
* :func:`cached_split`: ``gru_core.classroom.inspector.inspect_split`` cached by the model's weights;
* :data:`LINE_CHOICES`, :func:`line_units`: which units the line plot shows;
* :func:`target_text`: a forecast target's index label for people.

What is computed lives in ``gru_core.classroom.inspector``; model files are read only through
``gru_core.model.files.load_model`` (the session race's too: the model files its runner worker wrote,
``handle.live.models()``).  Of the race family it reads the session's race handle
(``st.session_state["race"]``: ``.live``, ``.labels``, ``.colors``, ``.prepared``) and, through one import
line, the series it offers and its size limit.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from gru_core.classroom.inspector import (
    SPLITS,
    InspectedModel,
    InspectorError,
    inspect_split,
    model_from_checkpoint,
    trained_on,
)
from gru_core.data import DataError, Prepared
from gru_core.data.datasets import load_dataset
from gru_core.model.files import Checkpoint, CheckpointError, load_model
from gru_core.model.gru import GRURegressor
from gru_ui.figures.style import TRUTH_COLOR, assign_colors
from gru_ui.limits import MODEL_UPLOAD_MB
from gru_ui.race import settings as race_settings  # the race page's series and limits
from gru_ui.shell import init_settings

RACE_KEY = "race"  # session key of the race page's handle
FINISHED = ("finished", "stopped")  # race states whose models may be inspected
SLOTS = ("a", "b")  # the two panels
LINE_CHOICES = {
    "spread": "most, median and least saturated unit",
    "most": "the 3 most saturated units",
    "least": "the 3 least saturated units",
}
Models = tuple[list[InspectedModel], dict[str, str]]  # models to show, and each one's colour by label


def init_state() -> None:
    init_settings({"insp.source": "race", "insp.data": "noisy_sine", "insp.split": "val", "insp.window": 1,
                   "insp.layer": 0, "insp.relative": False, **{f"insp.lines.{slot}": "spread" for slot in SLOTS}})


def series_choices() -> dict[str, str]:
    """The registry series the models may read (the race page's): key → name."""
    return race_settings.series_datasets()


def line_units(order: np.ndarray, choice: str) -> list[int]:
    """The units the line plot shows, from the saturation order (most saturated first)."""
    o = [int(u) for u in order]
    if choice == "most":
        return o[:3]
    if choice == "least":
        return o[-3:][::-1]
    picks = [o[0], o[len(o) // 2], o[-1]]
    return list(dict.fromkeys(picks))


def target_text(label: Any) -> str:
    """A target's index label for people: a date, or the position in the series."""
    if hasattr(label, "strftime"):
        return label.strftime("%Y-%m-%d")
    return f"position {label}"


def _digest(model: GRURegressor, prepared: Prepared) -> str:
    h = hashlib.sha1(np.ascontiguousarray(model.params.flat).tobytes())
    h.update(repr(model.config).encode())
    for s in SPLITS:
        h.update(np.ascontiguousarray(prepared.arrays(s)[0]).tobytes())
    return h.hexdigest()


@st.cache_data(show_spinner=False, max_entries=64)
def _cached_split(_model: GRURegressor, _prepared: Prepared, digest: str, split: str, layer: int) -> dict:
    return inspect_split(_model, _prepared, split, layer)


def cached_split(model: GRURegressor, prepared: Prepared, split: str, layer: int) -> dict:
    """:func:`gru_core.classroom.inspector.inspect_split`, cached by the model's weights and windows."""
    return _cached_split(model, prepared, _digest(model, prepared), split, layer)


# ----------------------------------------------------------------------------------------------------------
# where the models come from
# ----------------------------------------------------------------------------------------------------------


def race_models() -> tuple[list[InspectedModel], dict[str, str], str | None]:
    """The session race's models and colours (if it has ended), or why there are none."""
    h = st.session_state.get(RACE_KEY)
    if h is None:
        return [], {}, "No race in this session yet: train one on the **Optimizer race** page, or upload model files."
    status = h.live.snapshot().status
    if status not in FINISHED:
        return (
            [],
            {},
            (
                f"This session's race is {status}: inspect it when it has finished (or press Stop on the "
                "race page). Meanwhile you can upload model files."
            ),
        )
    try:
        trained = _race_files(h)
    except (RuntimeError, TimeoutError, CheckpointError) as exc:
        return [], {}, f"This session's race has no models to inspect ({exc}). Meanwhile you can upload model files."
    runs = h.live.snapshot().runs
    models = []
    for name in h.labels:
        run = runs.get(name) or {}
        diverged = run.get("status") == "diverged"
        notes = [f"diverged at step {run.get('diverged_step')}: its weights may be NaN"] if diverged else []
        models.append(InspectedModel(name, trained[name], h.prepared, "this session's race" + _seed_note(h), notes))
    return models, {m.label: h.colors.get(m.label) or TRUTH_COLOR for m in models}, None


def _seed_note(h: Any) -> str:
    """" (seed 2 of its 3)" for a race over several seeds (the one picked on the race page), else ""."""
    seeds = list(getattr(h.cfg, "seeds", [0]))
    if len(seeds) < 2:
        return ""
    i = min(max(0, int(getattr(h.live, "shown", 0))), len(seeds) - 1)
    return f" (seed {seeds[i]} of its {len(seeds)}: pick another seed under the race page's loss chart)"


def _race_files(h: Any) -> dict[str, GRURegressor]:
    """The ended race's models, read with ``load_model`` from the model files its worker wrote
    (``h.live.models()``), once per race (kept in the session)."""
    memo = st.session_state.get("insp._race_models")
    shown = getattr(h.live, "shown", 0)  # a race over several seeds: the seed picked on the race page
    if memo is not None and memo[0] is h.live and memo[2] == shown:
        return memo[1]
    trained = {name: load_model(data).model for name, data in h.live.models().items()}
    st.session_state["insp._race_models"] = (h.live, trained, shown)
    return trained


def choose_two(models: list[InspectedModel]) -> list[InspectedModel]:
    """Two of the race's models, picked in two select boxes (the first two until the visitor picks)."""
    ss = st.session_state
    names = [m.label for m in models]
    for col, slot, default in zip(st.columns(2), SLOTS, names[:2]):
        if ss.get(f"insp.run.{slot}") not in names:
            ss[f"insp.run.{slot}"] = default
        col.selectbox(f"Model {slot.upper()}", names, key=f"insp.run.{slot}")
    return [next(m for m in models if m.label == ss[f"insp.run.{slot}"]) for slot in SLOTS]


@st.cache_data(show_spinner=False, max_entries=16)
def _registry_series(key: str) -> pd.Series:
    if key not in series_choices():
        raise DataError(f"Unknown dataset {key!r}.")
    return load_dataset(key)


def _uploaded() -> list[tuple[str, str, Checkpoint]]:
    """The two uploaders: (slot, file name, checkpoint) of every file that opened; an error for the others."""
    limit = MODEL_UPLOAD_MB  # the same limit as the race page's model upload
    loaded = []
    for col, slot in zip(st.columns(2), SLOTS):
        with col:
            up = st.file_uploader(
                f"Model {slot.upper()} (.npz, at most {limit} MB)",
                type=["npz"],
                key=f"insp.upload.{slot}",
                max_upload_size=MODEL_UPLOAD_MB,
                help="Saved with `python -m gru_core compare … --save-model PREFIX`.",
            )
            if up is None:
                continue
            try:
                loaded.append((slot, up.name, load_model(up.getvalue())))
            except CheckpointError as exc:
                st.error(f"{up.name} could not be opened: {exc}.")
    return loaded


def upload_models() -> Models:
    """Up to two uploaded model files on the series chosen below them (preselected from the first file)."""
    ss = st.session_state
    st.markdown(
        "Upload one or two models (for example two optimizers of one `compare --save-model` run); they "
        "read windows of the series below, made with each model's own lookback, split and scaling."
    )
    loaded = _uploaded()
    # the series: the one the first file was trained on, until the user picks another
    if loaded:
        slot, name, ck = loaded[0]
        tag = f"{slot}:{name}"
        source = trained_on(ck)
        if source in series_choices() and ss.get("insp.data.auto") != tag:
            ss["insp.data"] = source
        ss["insp.data.auto"] = tag
    st.selectbox(
        "Series the models read",
        list(series_choices()),
        key="insp.data",
        format_func=lambda k: series_choices()[k],
        help="Preselected from the first model file when it names a bundled series.",
    )
    if not loaded:
        return [], {}
    try:
        series = _registry_series(ss["insp.data"])
    except (DataError, ValueError, ImportError) as exc:
        st.error(f"Could not load the series: {exc}")
        return [], {}
    models = []
    for _, name, ck in loaded:
        try:
            models.append(model_from_checkpoint(ck, name, series, ss["insp.data"],
                                                race_settings.PAGE_LIMITS["window_values"]))  # fmt: skip
        except (InspectorError, DataError, ValueError) as exc:
            st.error(f"{name} cannot be inspected on this series: {exc}.")
    if len(models) == 2 and models[0].label == models[1].label:
        for m in models:
            m.label = f"{m.label} ({m.source[:24]})"
    return models, assign_colors([m.label for m in models])
