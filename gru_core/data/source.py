"""A run's series: a dataset of the registry or a CSV file, named by a :class:`~gru_core.config.DataConfig`.

The one place that turns a data configuration into a series (:func:`load_source`) and into windows
(:func:`prepare_run`); the command line, sweeps and model files all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gru_core.config import DataConfig
from gru_core.data.csv import DataError, load_csv
from gru_core.data.datasets import DATASETS, load_dataset
from gru_core.data.windows import Prepared, prepare

__all__ = ["as_data_config", "load_source", "prepare_run"]


def as_data_config(data: DataConfig | Mapping[str, Any]) -> DataConfig:
    return data if isinstance(data, DataConfig) else DataConfig(**dict(data))


def load_source(data: DataConfig | Mapping[str, Any]) -> pd.Series:
    """The series: a registry key (with its ``params``) or a CSV path (with its ``column``/``date_column``)."""
    data = as_data_config(data)
    if data.source in DATASETS:
        if DATASETS[data.source].kind == "task":
            raise DataError(f"{data.source!r} is a task of samples, not a series")
        return load_dataset(data.source, **data.params)
    path = Path(data.source).expanduser()
    if path.is_file():
        return load_csv(path, value_column=data.column, date_column=data.date_column)
    series = ", ".join(k for k, s in DATASETS.items() if s.kind != "task")
    raise DataError(f"data source {data.source!r} is neither a dataset name nor an existing file. Datasets: {series}")


def prepare_run(series: pd.Series, data: DataConfig | Mapping[str, Any]) -> Prepared:
    """The series windowed, split and scaled as ``data`` says (see :func:`gru_core.data.prepare`)."""
    data = as_data_config(data)
    return prepare(series, lookback=data.lookback, horizon=data.horizon, split=tuple(data.split),
                   scaler=data.scaler, fit_scaler_on=data.fit_scaler_on, split_by=data.split_by)  # fmt: skip
