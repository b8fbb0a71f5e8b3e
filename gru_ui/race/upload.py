"""The race page's series: a registry dataset, or a CSV a visitor uploads (read within the page's limits).

No Streamlit import.  The reading is the engine's (``csv_columns``, ``load_csv``, ``load_dataset``); this
module applies :data:`~gru_ui.race.settings.PAGE_LIMITS` (``upload_mb``, ``rows``) and turns every problem
with a file into a message for the visitor (:class:`Upload`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pandas as pd

from gru_core.data import CsvColumns, DataError, csv_columns, load_csv
from gru_core.data.datasets import load_dataset
from gru_core.fmt import num

from .settings import PAGE_LIMITS, series_datasets

__all__ = ["Upload", "load_registry_series", "read_upload", "series_label", "series_units"]


@dataclass
class Upload:
    """What became of an uploaded CSV: its columns (for the pickers) and the series, or an error."""

    name: str
    digest: str
    columns: CsvColumns | None = None
    series: pd.Series | None = None
    error: str | None = None


def read_upload(
    data: bytes, name: str = "upload.csv", value_column: str | None = None, date_column: str | None = None
) -> Upload:
    """Read an uploaded CSV (bytes) into a series; any problem becomes ``error`` (a message for the user).

    ``date_column=""`` means "no date column" (the values are indexed by row).  Size and row limits are
    :data:`~gru_ui.race.settings.PAGE_LIMITS` ``upload_mb`` and ``rows``.
    """
    digest = hashlib.sha256(data).hexdigest()[:16]
    up = Upload(name=name, digest=digest)
    limit = PAGE_LIMITS["upload_mb"] * 1024 * 1024
    if len(data) > limit:
        up.error = (
            f"{name} is {num(len(data) / 1024 / 1024, '.1f')} MB; the limit is {PAGE_LIMITS['upload_mb']} MB. "
            "Use a shorter file (for example the most recent rows)."
        )
        return up
    source = io.BytesIO(data)
    source.name = name  # the engine's messages then name the file ("prices.csv looks like …")
    rows = PAGE_LIMITS["rows"]
    try:
        up.columns = csv_columns(source, max_rows=rows)
        value = value_column if value_column in (up.columns.numeric_columns or []) else None
        if date_column == "":
            series = load_csv(source, value_column=value, date_column=None, max_rows=rows)
            if series.attrs.get("date_column"):  # the loader guessed one; the user said "none"
                series = series.reset_index(drop=True)
                series.attrs["date_column"] = None
        else:
            date = date_column if date_column in up.columns.columns else None
            series = load_csv(source, value_column=value, date_column=date, max_rows=rows)
        series.attrs["source"] = name
        up.series = series
    except DataError as exc:
        up.error = str(exc)
    except (ValueError, TypeError, UnicodeError, MemoryError) as exc:  # anything else is still the file's fault
        up.error = f"{name} could not be read as a CSV time series ({type(exc).__name__}: {exc})."
    return up


def load_registry_series(key: str) -> pd.Series:
    """A registry series (synthetic or real) with its default parameters."""
    if key not in series_datasets():
        raise DataError(f"Unknown dataset {key!r}.")
    return load_dataset(key)


def series_units(series: pd.Series) -> str:
    return str(series.attrs.get("units", "") or "")


def series_label(series: pd.Series) -> str:
    return str(series.attrs.get("name") or series.name or "series")


