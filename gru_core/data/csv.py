"""Reading a user's CSV file into a float64 series, forgivingly, and saying what was changed.

:func:`load_csv` / :func:`csv_columns` read a user's CSV (a path, raw bytes, or a file-like object such as
Streamlit's ``UploadedFile``) into a float64 :class:`pandas.Series`.  They detect the separator
(``,`` ``;`` tab), a decimal comma, thousands separators, a UTF-8/UTF-16 byte-order mark, CRLF line
ends, the date column and whether its dates are day-first.  Anything they change (sorting, duplicate
dates, missing values, unreadable cells) is reported in ``series.attrs["notes"]``; input that cannot be
used raises :class:`DataError` with a message that says what to fix.

Day-first detection
    For dates written ``a/b/yyyy`` (also ``.`` or ``-``, optionally with a time), both readings are tried
    on every row: if only day-first parses them all (some ``a`` above 12), the dates are day-first; if only
    month-first does, month-first.  If neither parses every row the column is inconsistent: the reading
    that parses more rows wins and the other rows are reported and dropped.  If both parse every row (no
    field above 12 anywhere) the file is ambiguous: ``.`` separators mean day-first (German style);
    otherwise the reading whose dates come out in order (fewer backward steps in file order) and, failing
    that, more evenly spaced wins (first-of-month dates read the wrong way become 1-day steps plus a jump
    of almost a year); a full tie means day-first.  The choice is reported in the notes and can be forced
    with ``dayfirst=True/False``.

Split rule (see :func:`prepare`)
    ``split_by="windows"`` (default): all windows of the whole series, in order of their target
    position, are cut by the fractions (train ``floor(N*f_train)``, val ``floor(N*f_val)``, test the
    rest).  Validation and test windows may use earlier values (from the previous split) as *inputs*,
    which is legitimate: those values are in the past.  With ``horizon > 1`` the last ``horizon - 1``
    windows of train and of val are dropped, so that every train target is strictly earlier than every
    val target, and every val target strictly earlier than every test target.
    ``split_by="series"`` reproduces the original study: the *series* is cut first (train
    ``floor(n*f_train)`` values, val ``floor(n*f_val)`` values, test the rest) and each part is windowed
    on its own, so each split loses ``lookback + horizon - 1`` targets.  With the study's 1,262 tin prices,
    lookback 20 and 81/9/10 this gives 1,002 / 93 / 107 windows.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CsvColumns", "DataError", "csv_columns", "load_csv"]


class DataError(ValueError):
    """The data cannot be used as given; the message says what is wrong and what to do about it."""


# ----------------------------------------------------------------------------------------------------------
# Reading bytes / text
# ----------------------------------------------------------------------------------------------------------

_MAGIC = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or Office file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\x7fELF", "an executable"),
]

_SAVE_AS_CSV = "Export the data as a CSV text file (in Excel: File > Save As > CSV UTF-8) and try again."


def _read_source(source: Any) -> tuple[str, str]:
    """Return (text, label) for a path, bytes, or a file-like object (rewound before and after)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        shown = str(source) if len(str(source)) <= 200 else str(source)[:200] + "..."
        if not path.exists():
            raise DataError(f"File not found: {shown}. Check the path.")
        if path.is_dir():
            raise DataError(f"{shown} is a folder, not a file. Choose a CSV file.")
        raw: bytes | str = path.read_bytes()
        label = path.name
    elif isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        label = "the file"
    elif hasattr(source, "read"):
        label = str(getattr(source, "name", "") or "the uploaded file")
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        raw = source.read()
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        if not isinstance(raw, (str, bytes, bytearray, memoryview)):
            raise DataError(f"Reading {label} returned {type(raw).__name__}, not text or bytes.")
        if not isinstance(raw, str):
            raw = bytes(raw)
    else:
        raise DataError(
            f"Cannot read a {type(source).__name__}: pass a file path, bytes, or an open or uploaded file."
        )
    text = raw if isinstance(raw, str) else _decode(raw, label)
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise DataError(
            f"{label} contains NUL characters, so it is a binary file, not CSV text. {_SAVE_AS_CSV}"
        )
    if text:
        controls = sum(1 for ch in text[:100_000] if ord(ch) < 32 and ch not in "\t\r\n\f\v")
        if controls > max(2, 0.001 * min(len(text), 100_000)):
            raise DataError(f"{label} contains control characters, so it is not CSV text. {_SAVE_AS_CSV}")
    head = text.lstrip()[:200].lower()
    if head.startswith(("<!doctype html", "<html", "<?xml")):
        raise DataError(
            f"{label} looks like a web page or XML, not a CSV file. "
            "Download the CSV file itself (not the page that links to it)."
        )
    if head.startswith(("{", "[")):
        raise DataError(f"{label} looks like JSON, not CSV. {_SAVE_AS_CSV}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, label


def _decode(raw: bytes, label: str) -> str:
    if not raw.strip():
        raise DataError(f"{label} is empty. Choose a CSV file with a header row and one row per date.")
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataError(f"{label} looks like {what}, not a CSV text file. {_SAVE_AS_CSV}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{label} starts like UTF-16 text but cannot be decoded. {_SAVE_AS_CSV}") from exc
    if b"\x00" in raw:
        raise DataError(f"{label} contains NUL bytes, so it is a binary file, not CSV text. {_SAVE_AS_CSV}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{label} is not readable text (neither UTF-8 nor Windows-1252). {_SAVE_AS_CSV}"
        ) from exc


# ----------------------------------------------------------------------------------------------------------
# Table parsing
# ----------------------------------------------------------------------------------------------------------

_SEPARATORS = ("\t", ";", ",")
_SEP_NAMES = {"\t": "tab", ";": "semicolon (;)", ",": "comma (,)", "": "none (one column)"}
_MISSING_TOKENS = {
    "",
    "na",
    "n/a",
    "n.a.",
    "nan",
    "null",
    "none",
    "nil",
    "-",
    "--",
    "?",
    ".",
    "#n/a",
    "#na",
    "#value!",
    "#div/0!",
    "missing",
}
_DATE_NAMES = (
    "date",
    "time",
    "datetime",
    "timestamp",
    "datum",
    "day",
    "fecha",
    "data",
    "zeit",
    "tag",
    "jour",
    "dia",
    "period",
    "periode",
    "month",
    "monat",
    "week",
    "year",
    "jahr",
    "annee",
    "ano",
    "ds",
    "dt",
)
_STRIP_CHARS = re.compile(r"[\s\u00a0\u2009\u202f'’$€£¥%]")
_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$")
_YMD = re.compile(r"^(\d{4})([./-])(\d{1,2})\2(\d{1,2})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_LOOKS_LIKE_VALUE = re.compile(r"^(?=.*\d)[+-]?[\d.,\s\u00a0'’$€£¥%eE+-]+$|^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")


def _split_line(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep))
    except (csv.Error, StopIteration):
        return line.split(sep)


def _sniff_separator(lines: list[str]) -> str:
    """Pick the separator whose field count is >= 2 and the same on (nearly) every sampled line.

    Tab beats semicolon beats comma when several are consistent: a file that is consistently split by
    ``;`` and also contains commas is a decimal-comma file.  Returns "" for a one-column file.
    """
    sample = lines[:200]
    candidates = []
    for rank, sep in enumerate(_SEPARATORS):
        counts = [len(_split_line(line, sep)) for line in sample]
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        consistency = counts.count(mode) / len(counts)
        candidates.append((consistency >= 0.9, consistency, -rank, sep))
    if not candidates:
        return ""
    candidates.sort(reverse=True)
    return candidates[0][3]


def _clean_numeric_text(s: pd.Series) -> pd.Series:
    return s.str.replace(_STRIP_CHARS, "", regex=True)


@dataclass
class _NumericColumn:
    values: np.ndarray  # float64 with NaN for missing or unreadable
    n_ok: int
    n_missing: int  # empty / NA-like cells
    bad_rows: np.ndarray  # positions of cells that are neither numbers nor NA-like
    decimal: str
    thousands: str
    ambiguous: bool

    @property
    def is_numeric(self) -> bool:
        n_bad = len(self.bad_rows)
        return self.n_ok > 0 and n_bad <= 0.1 * (self.n_ok + n_bad)


def _parse_numeric(cells: pd.Series, sep: str) -> _NumericColumn:
    raw = cells.astype(str).str.strip()
    if len(raw) > 2000:
        head = _parse_numeric(raw.iloc[:2000], sep)
        if not head.is_numeric:
            return head  # clearly text (e.g. dates): no need to read every cell
    missing = raw.str.lower().isin(_MISSING_TOKENS).to_numpy()
    fast = np.array(pd.to_numeric(raw.where(~missing, None), errors="coerce"), dtype=np.float64)
    if np.all(np.isfinite(fast) | missing):  # plain numbers with a decimal point (the common case)
        return _NumericColumn(
            fast, int((~missing).sum()), int(missing.sum()), np.zeros(0, int), ".", ",", False
        )
    s = _clean_numeric_text(raw)
    s = s.where(~missing, "")
    present = s[~missing]
    has_dot = present.str.contains(".", regex=False)
    has_comma = present.str.contains(",", regex=False)
    both = has_dot & has_comma
    ambiguous = False
    if both.any():
        sub = present[both]
        comma_last = (sub.str.rfind(",") > sub.str.rfind(".")).mean() >= 0.5
        decimal = "," if comma_last else "."
    elif (present.str.count(",") >= 2).any():
        decimal = "."
    elif (present.str.count(r"\.") >= 2).any():
        decimal = ","
    elif has_comma.any():
        if has_dot.any():
            decimal = "."  # "1.5" in some cells and "1,234" in others: the comma groups thousands
        else:
            thousands_like = bool(present[has_comma].str.fullmatch(r"[+-]?\d{1,3},\d{3}").all())
            if thousands_like and sep != ";":
                decimal, ambiguous = ".", True
            else:
                decimal, ambiguous = ",", thousands_like
    else:
        decimal = "."
    thousands = "," if decimal == "." else "."
    converted = s.str.replace(thousands, "", regex=False)
    if decimal == ",":
        converted = converted.str.replace(",", ".", regex=False)
    values = np.array(pd.to_numeric(converted.where(~missing, None), errors="coerce"), dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    values[raw.str.match(_DATE_LIKE).to_numpy(dtype=bool)] = np.nan  # "01.02.2020" is a date, not 1022020
    bad = np.isnan(values) & ~missing
    return _NumericColumn(
        values=values,
        n_ok=int(np.isfinite(values).sum()),
        n_missing=int(missing.sum()),
        bad_rows=np.flatnonzero(bad),
        decimal=decimal,
        thousands=thousands,
        ambiguous=ambiguous,
    )


@dataclass
class _DateColumn:
    dates: pd.DatetimeIndex  # NaT where unreadable
    n_ok: int
    n_present: int
    dayfirst: bool | None
    note: str | None


def _to_datetime(values: pd.Series, **kwargs) -> pd.DatetimeIndex:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = pd.to_datetime(values, errors="coerce", utc=True, **kwargs)
    return pd.DatetimeIndex(out).tz_localize(None)


def _order_score(dates: pd.DatetimeIndex) -> tuple[int, float]:
    """(backward steps, irregularity of the steps) of dates in file order: lower is more plausible.

    Irregularity is std / mean of the absolute steps: a monthly series read the wrong way round becomes
    twelve 1-day steps and a jump of almost a year, far less regular than steps of 28-31 days.
    """
    d = dates[~dates.isna()]
    if len(d) < 2:
        return 0, 0.0
    steps = np.diff(d.asi8).astype(np.float64)
    backward = int((steps < 0).sum())
    mean = np.abs(steps).mean()
    return backward, float(np.abs(steps).std() / mean) if mean > 0 else 0.0


def _parse_dates(cells: pd.Series, name: str, dayfirst: bool | None, numeric_ok: bool) -> _DateColumn | None:
    """Parse a column as dates; None if it clearly is not a date column."""
    s = cells.astype(str).str.strip()
    present_mask = ~s.str.lower().isin(_MISSING_TOKENS)
    present = s[present_mask]
    n_present = len(present)
    if n_present == 0:
        return None
    note = None
    used_dayfirst: bool | None = None

    sample = present.iloc[:2000]
    m = sample.str.extract(_DMY)
    if m[0].notna().mean() >= 0.9:
        ok = m[m[0].notna()]
        sep_char = ok[1].mode().iloc[0]
        year_fmt = "%Y" if (ok[3].str.len() == 4).mean() >= 0.5 else "%y"
        times = ok[4].dropna()
        time_fmt = ""
        if len(times):
            t0 = times.iloc[0]
            time_fmt = " %H:%M:%S" if t0.count(":") == 2 else " %H:%M"
            time_fmt += ".%f" if "." in t0 else ""
        mixed = False
        text = present.str.replace(r"(?<=\d)T(?=\d)", " ", regex=True) if time_fmt else present

        def parse(df: bool) -> pd.DatetimeIndex:
            fmt = ("%d{0}%m{0}" if df else "%m{0}%d{0}").format(sep_char) + year_fmt + time_fmt
            return _to_datetime(text, format=fmt)

        if dayfirst is not None:
            used_dayfirst = bool(dayfirst)
            parsed = parse(used_dayfirst)
        else:
            # Which reading parses every row?  A first field above 12 fails month-first and vice versa.
            p_day, p_month = parse(True), parse(False)
            n_day, n_month = int(p_day.notna().sum()), int(p_month.notna().sum())
            if n_day != n_month:
                used_dayfirst = n_day > n_month
                mixed = max(n_day, n_month) < n_present
            elif sep_char == ".":
                used_dayfirst = True
                note = f"Dates in '{name}' are ambiguous (no day above 12); read as dd.mm.yyyy."
            else:
                used_dayfirst = _order_score(p_day) <= _order_score(p_month)
                note = (
                    f"Dates in '{name}' are ambiguous (no day above 12); read as "
                    f"{'dd/mm/yyyy' if used_dayfirst else 'mm/dd/yyyy'} because that puts them in a more "
                    "regular order. If this is wrong, set dayfirst explicitly."
                )
            parsed = p_day if used_dayfirst else p_month
        if time_fmt and parsed.isna().sum() > 0.1 * n_present:  # times written in several ways
            parsed = _to_datetime(text, format="mixed", dayfirst=used_dayfirst)
        if mixed and parsed.isna().any():
            note = (
                f"Column '{name}' mixes day-first and month-first dates; read as "
                f"{'dd/mm/yyyy' if used_dayfirst else 'mm/dd/yyyy'} (fits more rows)."
            )
    elif sample.str.match(_YMD).mean() >= 0.9:
        normal = present.str.replace(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})", r"\1-\2-\3", regex=True)
        parsed = _to_datetime(normal, format="ISO8601")
        if parsed.isna().any():
            parsed = parsed.where(parsed.notna(), _to_datetime(normal, format="mixed"))
    elif sample.str.fullmatch(r"\d+(\.0+)?").all() and present.str.fullmatch(r"\d+(\.0+)?").all():
        if not numeric_ok:
            return None
        ints = present.str.replace(r"\.0+$", "", regex=True)
        lens = ints.str.len()
        if (lens == 8).all():
            parsed = _to_datetime(ints, format="%Y%m%d")
        elif (lens == 4).all() and ints.astype(int).between(1000, 2999).all():
            parsed = _to_datetime(ints, format="%Y")
        else:
            return None
    else:
        if sample.str.fullmatch(r"[+-]?[\d.,\s]+").mean() > 0.5:
            return None  # numbers, not dates
        parsed = _to_datetime(present, format="mixed", dayfirst=bool(dayfirst))
    parsed = pd.DatetimeIndex(parsed)
    out = pd.Series(pd.NaT, index=s.index, dtype=parsed.dtype)
    out.loc[present.index] = parsed.to_numpy()
    n_ok = int(parsed.notna().sum())
    if n_ok < 0.9 * n_present:
        return None
    return _DateColumn(pd.DatetimeIndex(out), n_ok, n_present, used_dayfirst, note)


def _name_is_datey(name: str) -> bool:
    low = name.strip().lower()
    return low in _DATE_NAMES or any(k in low for k in ("date", "time", "datum", "day", "fecha"))


@dataclass
class _Table:
    frame: pd.DataFrame  # all cells as str
    label: str
    sep: str
    header: bool
    notes: list[str]
    numeric: dict[str, _NumericColumn]
    date_candidates: dict[str, _DateColumn | None] = field(default_factory=dict)


def _read_table(source: Any, max_rows: int) -> _Table:
    text, label = _read_source(source)
    all_lines = text.split("\n")
    lines = [line for line in all_lines if line.strip()]
    if not lines:
        raise DataError(f"{label} is empty. Choose a CSV file with a header row and one row per date.")
    nonblank = [i for i, line in enumerate(all_lines) if line.strip()]
    n_blank_inside = (nonblank[-1] - nonblank[0] + 1) - len(nonblank)
    if len(lines) - 1 > max_rows:
        raise DataError(
            f"{label} has about {len(lines) - 1:,} rows; the limit is {max_rows:,}. "
            "Use a shorter file (for example the most recent rows) or resample it to a coarser frequency."
        )
    sep = _sniff_separator(lines)
    first = _split_line(lines[0], sep) if sep else [lines[0]]
    header = not all(_LOOKS_LIKE_VALUE.match(f.strip() or "x") for f in first)
    notes: list[str] = []
    if n_blank_inside:
        notes.append(f"{n_blank_inside} blank line(s) in {label} were skipped.")
    try:
        frame = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep=sep or "\x1f",
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            engine="python" if not sep else "c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{label} could not be split into columns with the {_SEP_NAMES[sep]} separator: {exc}. "
            "Make every row have the same number of fields."
        ) from exc
    except (pd.errors.EmptyDataError, UnicodeError) as exc:
        raise DataError(f"{label} could not be read as CSV: {exc}.") from exc
    if not header:
        frame.columns = [f"column {i + 1}" for i in range(frame.shape[1])]
        notes.append(f"No header row found; the columns were named {', '.join(frame.columns)}.")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("")
    empty_cols = [c for c in frame.columns if (frame[c].astype(str).str.strip() == "").all()]
    if len(frame) and empty_cols:
        frame = frame.drop(columns=empty_cols)
    if len(frame) == 0:
        cols = ", ".join(str(c) for c in frame.columns)
        raise DataError(f"{label} has a header row ({cols}) but no data rows. Add one row per date.")
    if len(frame) > max_rows:
        raise DataError(
            f"{label} has {len(frame):,} rows; the limit is {max_rows:,}. "
            "Use a shorter file (for example the most recent rows) or resample it to a coarser frequency."
        )
    numeric = {c: _parse_numeric(frame[c], sep) for c in frame.columns}
    return _Table(frame=frame, label=label, sep=sep, header=header, notes=notes, numeric=numeric)


def _date_column_of(table: _Table, name: str, dayfirst: bool | None) -> _DateColumn | None:
    key = f"{name}|{dayfirst}"
    if key not in table.date_candidates:
        num = table.numeric[name]
        numeric_ok = _name_is_datey(name)
        if num.is_numeric and not numeric_ok:
            table.date_candidates[key] = None
        else:
            table.date_candidates[key] = _parse_dates(table.frame[name], name, dayfirst, numeric_ok)
    return table.date_candidates[key]


def _guess_date_column(table: _Table, dayfirst: bool | None) -> str | None:
    cols = list(table.frame.columns)
    for name in cols:
        if _name_is_datey(name) and _date_column_of(table, name, dayfirst) is not None:
            return name
    for name in cols:
        if not table.numeric[name].is_numeric and _date_column_of(table, name, dayfirst) is not None:
            return name
    return None


def _numeric_columns(table: _Table, exclude: str | None) -> list[str]:
    return [c for c in table.frame.columns if c != exclude and table.numeric[c].is_numeric]


@dataclass(frozen=True)
class CsvColumns:
    """What :func:`csv_columns` found: names for the page's column pickers and the loader's guesses."""

    columns: list[str]
    numeric_columns: list[str]
    date_column: str | None
    value_column: str | None
    separator: str
    decimal: str
    n_rows: int


def csv_columns(source: Any, max_rows: int = 200_000) -> CsvColumns:
    """List the columns of a CSV and guess which holds the dates and which the values.

    ``source`` is read the same way as by :func:`load_csv`; a file-like object is rewound afterwards so it
    can be read again.  ``value_column`` is the last numeric column other than the date column (None if
    there is none); ``date_column`` is None if no column reads as dates.
    """
    table = _read_table(source, max_rows)
    date_col = _guess_date_column(table, None)
    nums = _numeric_columns(table, date_col)
    value_col = nums[-1] if nums else None
    decimal = table.numeric[value_col].decimal if value_col else "."
    return CsvColumns(
        columns=list(table.frame.columns),
        numeric_columns=nums,
        date_column=date_col,
        value_column=value_col,
        separator=table.sep,
        decimal=decimal,
        n_rows=len(table.frame),
    )


def _examples(cells: pd.Series, rows: np.ndarray, k: int = 3) -> str:
    shown = [f"row {int(r) + 2}: '{cells.iloc[int(r)]}'" for r in rows[:k]]
    return "; ".join(shown)


def load_csv(
    source: Any,
    value_column: str | None = None,
    date_column: str | None = None,
    missing: str = "interpolate",
    *,
    dayfirst: bool | None = None,
    min_rows: int = 30,
    max_rows: int = 200_000,
) -> pd.Series:
    """Read one numeric column of a CSV as a float64 series.

    Parameters
    ----------
    source:
        A path (``str`` / ``Path``), raw ``bytes``, or a file-like object returning bytes or text (e.g.
        Streamlit's ``UploadedFile``; it is rewound before and after reading).
    value_column:
        The column to read; default the last numeric column other than the date column.
    date_column:
        The date column; default a column named like date/time/datum/day... that reads as dates, else the
        first non-numeric column that does.  Without one the result has a RangeIndex.
    missing:
        ``"interpolate"`` (linear in position; missing values at either end cannot be interpolated and
        are dropped) or ``"drop"``.
    dayfirst:
        Force day-first (True) or month-first (False) dates; default: detected (see module docstring).
    min_rows, max_rows:
        Fewer usable rows than ``min_rows`` or more data rows than ``max_rows`` raise :class:`DataError`.

    Returns
    -------
    pandas.Series
        float64 values sorted by date (DatetimeIndex named after the date column) or in file order
        (RangeIndex); ``name`` is the value column.  ``attrs`` holds ``name``, ``units`` ("" - unknown),
        ``source``, ``value_column``, ``date_column``, ``n_rows_read``, ``n_missing`` (missing or
        unreadable values found), ``n_duplicates`` (duplicate dates dropped, first kept), ``dayfirst``,
        ``separator``, ``decimal`` and ``notes`` (a list of sentences about everything that was changed).
    """
    if missing not in ("interpolate", "drop"):
        raise DataError(f"missing must be 'interpolate' or 'drop', not {missing!r}.")
    if int(min_rows) < 1 or int(max_rows) < int(min_rows):
        raise DataError(f"Need 1 <= min_rows <= max_rows, got min_rows={min_rows}, max_rows={max_rows}.")
    table = _read_table(source, max_rows)
    label, frame = table.label, table.frame
    cols = list(frame.columns)
    listing = ", ".join(f"'{c}'" for c in cols)
    notes = list(table.notes)

    # -- date column
    dates: _DateColumn | None = None
    if date_column is not None:
        if date_column not in cols:
            raise DataError(f"There is no column '{date_column}' in {label}. Columns: {listing}.")
        dates = _parse_dates(frame[date_column], date_column, dayfirst, numeric_ok=True)
        if dates is None:
            sample = ", ".join(f"'{v}'" for v in frame[date_column].head(3))
            raise DataError(
                f"Column '{date_column}' does not read as dates (first values: {sample}). "
                f"Choose another date column (columns: {listing}) or none."
            )
    else:
        guessed = _guess_date_column(table, dayfirst)
        if guessed is not None:
            date_column = guessed
            dates = _date_column_of(table, guessed, dayfirst)

    # -- value column
    if value_column is not None:
        if value_column not in cols:
            raise DataError(f"There is no column '{value_column}' in {label}. Columns: {listing}.")
        if value_column == date_column:
            raise DataError(f"'{value_column}' is the date column; choose a value column among {listing}.")
        num = table.numeric[value_column]
        if not num.is_numeric:
            raise DataError(
                f"Column '{value_column}' does not hold numbers "
                f"({_examples(frame[value_column], num.bad_rows)}). "
                f"Numeric columns: {', '.join(_numeric_columns(table, date_column)) or 'none'}."
            )
    else:
        nums = _numeric_columns(table, date_column)
        if not nums:
            sample = "; ".join(f"'{c}': '{frame[c].iloc[0]}'" for c in cols[:6])
            raise DataError(
                f"No column of numbers found in {label} (columns and first values: {sample}). "
                f"The separator was read as {_SEP_NAMES[table.sep]}; check that the file has one numeric "
                "column of values (decimal point or decimal comma) and one value per row."
            )
        value_column = nums[-1]
        if len(nums) > 1:
            notes.append(f"Several numeric columns; using the last one, '{value_column}'.")
    num = table.numeric[value_column]
    values = num.values.copy()
    n_rows_read = len(values)
    if num.ambiguous:
        how = "thousands separators" if num.decimal == "." else "decimal commas"
        notes.append(f"Commas in '{value_column}' were read as {how} (e.g. '{frame[value_column].iloc[0]}').")
    if len(num.bad_rows):
        notes.append(
            f"{len(num.bad_rows)} cell(s) of '{value_column}' are not numbers and were treated as missing "
            f"({_examples(frame[value_column], num.bad_rows)})."
        )

    # -- index, order, duplicates
    n_duplicates = 0
    if dates is not None:
        if dates.note:
            notes.append(dates.note)
        idx = dates.dates
        bad = np.asarray(idx.isna())
        if bad.any():
            notes.append(
                f"{int(bad.sum())} row(s) have no readable date in '{date_column}' and were dropped "
                f"({_examples(frame[date_column], np.flatnonzero(bad))})."
            )
            values, idx = values[~bad], idx[~bad]
        series = pd.Series(values, index=pd.DatetimeIndex(idx, name=date_column), dtype=np.float64)
        if not series.index.is_monotonic_increasing:
            if series.index.is_monotonic_decreasing:
                notes.append("Rows were newest first; reversed to oldest first.")
            else:
                notes.append("Rows were not in date order; sorted by date.")
            series = series.sort_index(kind="mergesort")
        dup = series.index.duplicated(keep="first")
        n_duplicates = int(dup.sum())
        if n_duplicates:
            examples = ", ".join(str(d.date()) for d in series.index[dup][:3])
            notes.append(
                f"{n_duplicates} duplicate date(s) dropped, keeping the first row of each ({examples})."
            )
            series = series[~dup]
    else:
        series = pd.Series(values, dtype=np.float64)
        notes.append("No date column found; values are indexed by row number in file order.")

    # -- missing values
    n_missing = int(series.isna().sum())
    if n_missing == len(series):
        raise DataError(f"Column '{value_column}' in {label} has no numeric values.")
    if n_missing:
        if missing == "interpolate":
            series = series.interpolate(method="linear", limit_area="inside")
            edge = int(series.isna().sum())
            notes.append(
                f"{n_missing} missing value(s) in '{value_column}'; {n_missing - edge} filled by linear "
                "interpolation" + (f", {edge} at the start/end dropped." if edge else ".")
            )
            series = series.dropna()
        else:
            series = series.dropna()
            notes.append(f"{n_missing} row(s) with a missing value in '{value_column}' dropped.")
        if dates is None:
            series = series.reset_index(drop=True)
    if len(series) < min_rows:
        raise DataError(
            f"Only {len(series)} usable row(s) in {label}; at least {min_rows} are needed "
            "(a forecast needs a history to learn from). Use a longer series."
        )
    series.name = value_column
    series.attrs.update(
        name=str(value_column),
        units="",
        source=label,
        value_column=str(value_column),
        date_column=date_column if dates is not None else None,
        n_rows_read=n_rows_read,
        n_missing=n_missing,
        n_duplicates=n_duplicates,
        dayfirst=dates.dayfirst if dates is not None else None,
        separator=table.sep,
        decimal=num.decimal,
        notes=notes,
    )
    return series
