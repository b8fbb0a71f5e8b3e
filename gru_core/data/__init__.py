"""Data: where a series comes from and how it becomes windows.

* :mod:`~gru_core.data.csv`: a user's CSV read forgivingly into a float64 series (:func:`load_csv`).
* :mod:`~gru_core.data.datasets`: the registry of synthetic and bundled real series (and the adding task).
* :mod:`~gru_core.data.windows`: sliding windows, the chronological split, scalers (:func:`prepare`).
* :mod:`~gru_core.data.source`: a run's :class:`~gru_core.config.DataConfig` → series → windows.
* :mod:`~gru_core.data.metrics`: forecast errors in the series' units and the two baselines.
"""

from gru_core.data.csv import CsvColumns, DataError, csv_columns, load_csv
from gru_core.data.source import as_data_config, load_source, prepare_run
from gru_core.data.windows import (
    SCALER_CLASSES,
    SCALERS,
    IdentityScaler,
    MinMaxScaler,
    Prepared,
    Scaler,
    StandardScaler,
    future_index,
    make_scaler,
    make_windows,
    prepare,
    scaler_from_dict,
)  # fmt: skip

__all__ = [
    "SCALERS", "SCALER_CLASSES", "CsvColumns", "DataError", "IdentityScaler", "MinMaxScaler", "Prepared", "Scaler",
    "StandardScaler", "as_data_config", "csv_columns", "future_index", "load_csv", "load_source", "make_scaler",
    "make_windows", "prepare", "prepare_run", "scaler_from_dict",
]  # fmt: skip
