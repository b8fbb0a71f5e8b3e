"""What the gate inspector computes: a trained GRU read on windows of a series, gate by gate.

* :func:`model_from_checkpoint` / :func:`model_from_bytes`: a model file (read only through
  :func:`gru_core.model.files.load_model`) and a series → an :class:`InspectedModel`: the model, its display
  label and the windows it reads, made as it was trained (lookback, horizon, split and scaling from the
  file's :class:`~gru_core.config.RunConfig`).
* :func:`split_windows`, :func:`window_sample`: which windows a split has, and an even sample of them.
* :func:`inspect_window`: z, r, n, h of one layer on one window, the forecast, the truth and ‖∂L/∂h_t‖.
* :func:`inspect_split`: over many windows, how often each unit's gates saturate, the units sorted by it
  (:func:`saturation`, :func:`saturation_order`) and the mean ‖∂L/∂h_t‖ per step.

Pure NumPy on the engine's own computations (``GRURegressor.forward``, ``hidden_state_grad_norms``): no
Streamlit, no Plotly.  The page's widgets and session handling are in ``gru_ui.classroom.inspector``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gru_core.classroom.gradflow import hidden_state_grad_norms
from gru_core.config import Contestant, DataConfig, parse_value
from gru_core.data import Prepared, prepare_run
from gru_core.model.files import Checkpoint, load_model
from gru_core.model.gru import GRURegressor
from gru_core.optim import OPTIMIZERS

__all__ = [
    "MAX_WINDOWS",
    "SATURATION",
    "SPLITS",
    "InspectedModel",
    "InspectorError",
    "inspect_split",
    "inspect_window",
    "model_from_bytes",
    "model_from_checkpoint",
    "model_label",
    "saturation",
    "saturation_order",
    "split_windows",
    "trained_on",
    "window_config",
    "window_sample",
]

MAX_WINDOWS = 256  # windows used for the saturation statistics and the mean gradient norm
SPLITS = {"val": "validation", "test": "test"}  # the splits the inspector reads, and their names
SATURATION = 0.4  # a gate value counts as saturated when |g − 0.5| > this (g < 0.1 or g > 0.9)
LABEL_CHARS = 40  # a display label is cut to this length
# The data settings that make a model's windows, checked against the settings table (with the page's limits).
WINDOW_SETTINGS = ("lookback", "horizon", "split", "split_by", "scaler", "fit_scaler_on")
UNRECORDED_SOURCE = "unknown"  # the source load_model gives a run whose file names none


class InspectorError(ValueError):
    """A model file or a data configuration the inspector cannot use; the message says why."""


@dataclass
class InspectedModel:
    """One model to inspect, with the windows it reads."""

    label: str
    model: GRURegressor
    prepared: Prepared
    source: str = ""  # where it came from: a file name, "this session's race"
    notes: list[str] = field(default_factory=list)  # what to know before reading it (trained elsewhere, diverged)

    @property
    def layers(self) -> int:
        return self.model.num_layers


# ----------------------------------------------------------------------------------------------------------
# a model file → a model and its windows
# ----------------------------------------------------------------------------------------------------------


def model_label(ck: Checkpoint, filename: str) -> str:
    """A display name: the label the file records (``ModelInfo.label``: "RMSprop (keras)", "Adam #2"), else
    its optimizer's name with its flavour, else the file name."""
    label = ck.info.label.strip() if isinstance(ck.info.label, str) else ""
    if label:
        return label[:LABEL_CHARS]
    key, flavor = ck.info.optimizer, ck.info.flavor
    if key not in OPTIMIZERS and ck.optimizer is not None:  # not recorded: the optimizer state's class says
        key = next((k for k, s in OPTIMIZERS.items() if type(ck.optimizer) is s.cls), "")
        flavor = getattr(ck.optimizer, "flavor", "pytorch")
    if key in OPTIMIZERS:
        return Contestant(key, str(flavor or "pytorch")).name
    return filename[:LABEL_CHARS]


def trained_on(ck: Checkpoint) -> str | None:
    """The data source the file's run names (a dataset key, a CSV path or a description), None if none."""
    source = ck.run.data.source if ck.run is not None else None
    return source if isinstance(source, str) and source and source != UNRECORDED_SOURCE else None


def window_config(ck: Checkpoint) -> DataConfig:
    """The file's data configuration, checked: how its windows are made.  :class:`InspectorError` if the file
    does not record it or a value is outside the settings table's bounds (and the pages' limits)."""
    model = ck.model
    if model.input_size != 1:
        raise InspectorError(f"the model reads {model.input_size} features per step; the inspector reads one series")
    # load_model gives every file a run configuration; one whose file recorded no data configuration at all
    # has the defaults, not the windows the model was trained on
    if ck.run is None:
        raise InspectorError("the model file has no lookback in its data configuration, so its windows are unknown")
    data = ck.run.data
    try:
        for name in WINDOW_SETTINGS:
            parse_value(name, getattr(data, name), limit=True)
    except ValueError as exc:
        raise InspectorError(f"the model file's data configuration is not usable: {exc}") from None
    if data.horizon != model.output_size:
        raise InspectorError(f"the data configuration says horizon {data.horizon}, the model predicts "
                             f"{model.output_size}")  # fmt: skip
    return data


def dataset_name(ck: Checkpoint, source: str) -> str:
    """The name of the data a model was trained on, for people: the file's own record of it (the dataset's name,
    an uploaded CSV's name), else the registry's name for its source key, else the key."""
    from gru_core.data.datasets import series_datasets

    series = ck.info.series if isinstance(ck.info.series, dict) else {}
    return str(series.get("name") or series_datasets().get(source) or source)


def model_from_checkpoint(ck: Checkpoint, filename: str, series: pd.Series, series_key: str | None = None,
                          max_window_values: int | None = None) -> InspectedModel:  # fmt: skip
    """A loaded model file and a series → the model and the windows it reads, made as it was trained.

    ``series_key``: the series' dataset key (a note says so when the file names another source);
    ``max_window_values``: refuse a series whose windows would hold more values (length × lookback).
    Raises :class:`InspectorError` (or :class:`gru_core.data.DataError`) when file and series do not fit.
    """
    data = window_config(ck)
    if max_window_values is not None and len(series) * data.lookback > max_window_values:
        raise InspectorError(f"{len(series):,} values × lookback {data.lookback} is more than this page handles")
    prepared = prepare_run(series, data)
    source = trained_on(ck)
    notes = [f"trained on “{dataset_name(ck, source)[:60]}”"] if source and series_key and source != series_key else []
    return InspectedModel(model_label(ck, filename), ck.model, prepared, source=filename, notes=notes)


def model_from_bytes(data: bytes, filename: str, series: pd.Series, series_key: str | None = None,
                     max_window_values: int | None = None) -> InspectedModel:  # fmt: skip
    """:func:`model_from_checkpoint` of a file's bytes; an unreadable file raises
    :class:`gru_core.model.files.CheckpointError`."""
    return model_from_checkpoint(load_model(bytes(data)), filename, series, series_key, max_window_values)


# ----------------------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------------------


def split_windows(prepared: Prepared) -> dict[str, int]:
    """Windows per inspectable split (validation, test), only the non-empty ones."""
    return {s: int(len(prepared.arrays(s)[0])) for s in SPLITS if len(prepared.arrays(s)[0])}


def window_sample(n: int, max_windows: int = MAX_WINDOWS) -> np.ndarray:
    """At most ``max_windows`` evenly spread window indices into ``range(n)``, first and last included."""
    if n <= max_windows or max_windows < 2:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_windows).round().astype(int))


# ----------------------------------------------------------------------------------------------------------
# gates
# ----------------------------------------------------------------------------------------------------------


def saturation(gate: Any, threshold: float = SATURATION) -> np.ndarray:
    """Per unit, the fraction of values with |g − 0.5| > ``threshold``: ``gate`` is (..., H), the result (H,).

    A saturated gate is nearly 0 or 1: the unit copies or replaces (switch-like) instead of blending."""
    g = np.asarray(gate, dtype=np.float64)
    g = g.reshape(-1, g.shape[-1])
    return np.mean(np.abs(g - 0.5) > threshold, axis=0)


def saturation_order(sat_z: Any, sat_r: Any | None = None) -> np.ndarray:
    """Unit indices sorted by saturation of z (most first), ties broken by r, then by unit number."""
    sz = np.asarray(sat_z, dtype=np.float64)
    sr = np.asarray(sat_r, dtype=np.float64) if sat_r is not None else np.zeros_like(sz)
    return np.lexsort((np.arange(len(sz)), -sr, -sz))


def inspect_window(model: GRURegressor, prepared: Prepared, split: str, index: int, layer: int) -> dict[str, Any]:
    """One window of a split, seen by one layer (``layer`` modulo the model's layers).

    Returns ``gates`` {"z", "r", "n", "h"} → (T, H) float64, ``input`` (T,) the scaled window, ``grad`` (T,)
    ‖∂L/∂h_t‖ for every step t of that layer, ``forecast`` and ``truth`` (first forecast step, in the
    series' units) and ``target`` (the series' index label of the value forecast: a date or a position).
    """
    X, y = prepared.arrays(split)
    if not 0 <= index < len(X):
        raise InspectorError(f"window {index + 1} does not exist ({len(X)} {SPLITS.get(split, split)} windows)")
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
        "target": prepared.target_index(split)[index],
    }


def inspect_split(model: GRURegressor, prepared: Prepared, split: str, layer: int,
                  max_windows: int = MAX_WINDOWS) -> dict[str, Any]:  # fmt: skip
    """Over (at most ``max_windows`` evenly spread, :func:`window_sample`) windows of a split, one layer.

    Returns ``saturation`` {"z", "r"} → (H,) the fraction of steps and windows each unit's gate is
    saturated, ``order`` the units sorted by it (:func:`saturation_order`), ``grad`` (T,) the mean
    ‖∂L/∂h_t‖ per step over those windows, and ``windows`` how many were used.
    """
    X, y = prepared.arrays(split)
    idx = window_sample(len(X), max_windows)
    _, trace = model.forward(X[idx])
    k = layer % model.num_layers
    sat = {"z": saturation(trace[k]["z"]), "r": saturation(trace[k]["r"])}
    return {
        "saturation": sat,
        "order": saturation_order(sat["z"], sat["r"]),
        "grad": hidden_state_grad_norms(model, X[idx], y[idx], k),
        "windows": len(idx),
    }
