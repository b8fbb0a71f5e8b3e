"""The series a sweep may run on: the registry's datasets (names, descriptions, parameters as text) and CSV
uploads, kept next to the run store so that a stopped sweep on them can be resumed.

A sweep reads its CSV by path (the path is the run's ``source``), so an upload is written once under
``<store folder>/uploads/<content hash>-<name>``: the same file gives the same path, hence the same cell keys.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

from gru_core.config import format_value, parse_params
from gru_core.data import CsvColumns, DataError, csv_columns, load_csv
from gru_core.data.datasets import DATASETS, series_datasets
from gru_ui.sweep.limits import LIMITS

__all__ = ["CSV", "dataset_label", "format_params", "parse_params_text", "read_upload",
           "save_upload", "series_datasets"]  # fmt: skip

CSV = "csv"  # the dataset choice "upload a CSV file" (the run's source is then the stored upload's path)
_PARAM_SPLIT = re.compile(r"[,;\s]+(?=[A-Za-z_]\w*\s*=)")


def dataset_params_text(key: str) -> str:
    """A dataset's parameters and their defaults, as the form's help says them: "length=1000, noise=0.1"."""
    spec = DATASETS.get(key)
    return ", ".join(f"{p}={v}" for p, v in spec.params.items()) if spec else ""


def dataset_label(source: Any) -> str:
    """A dataset key's name, or a stored upload's file name without its hash."""
    s = str(source)
    names = series_datasets()
    if s in names:
        return names[s]
    return re.sub(r"^[0-9a-f]{16}-", "", Path(s).name) or s


def parse_params_text(text: str) -> dict:
    """The dataset parameters box ("length=300, noise=0.1") as a dict (numbers as numbers); ValueError."""
    items = [p.strip().strip(",;") for p in _PARAM_SPLIT.split((text or "").strip()) if p.strip().strip(",;")]
    return parse_params(items, option="a dataset parameter")


def format_params(params: dict) -> str:
    """The inverse of :func:`parse_params_text`."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())


def read_upload(data: bytes, name: str) -> tuple[CsvColumns | None, str | None]:
    """The columns of an uploaded CSV (for the pickers), the file read once as the sweep will read it:
    ``(columns, None)`` or ``(None, a message for the visitor)``."""
    if len(data) > LIMITS["upload_mb"] * 1024 * 1024:
        return None, (f"{name} is {len(data) / 1024 / 1024:.1f} MB; the limit is {LIMITS['upload_mb']} MB. "
                      "Use a shorter file (for example the most recent rows).")  # fmt: skip
    source = io.BytesIO(data)
    source.name = name  # the engine's messages then name the file
    try:
        columns = csv_columns(source, max_rows=LIMITS["rows"])
        load_csv(source, value_column=columns.value_column, max_rows=LIMITS["rows"])
    except DataError as exc:
        return None, str(exc)
    except (ValueError, TypeError, UnicodeError, MemoryError) as exc:  # anything else is still the file's fault
        return None, f"{name} could not be read as a CSV time series ({type(exc).__name__}: {exc})."
    return columns, None


def save_upload(data: bytes, name: str, store_path: str | Path) -> Path:
    """Write an uploaded CSV to ``<store folder>/uploads/<content hash>-<name>`` (same content: same file,
    hence the same cell keys, so a sweep on it resumes) and return the path."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name).strip("-.") or "upload.csv"
    folder = Path(store_path).expanduser().resolve().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}-{safe[:60]}"
    if not path.exists():
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path
