"""Tests for gru_core.data: CSV loading, windows, scalers and the chronological split."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from gru_core.data import (
    DataError,
    IdentityScaler,
    MinMaxScaler,
    StandardScaler,
    csv_columns,
    load_csv,
    make_scaler,
    make_windows,
    prepare,
    scaler_from_dict,
)

# --------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------


def business_days(start: date, n: int) -> list[date]:
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def study_bytes(n: int = 60) -> tuple[bytes, list[date], list[float]]:
    """Shaped like the study's file: UTF-8 BOM, CRLF, ';', dd/mm/yyyy, header Date;Close, dot decimals."""
    days = business_days(date(2019, 1, 2), n)  # 02/01/2019 is ambiguous, 14/01/2019 is not
    values = [19482.5 + 7.5 * i if i % 3 else 19000.0 + i for i in range(n)]
    lines = ["Date;Close"] + [f"{d:%d/%m/%Y};{v:g}" for d, v in zip(days, values, strict=False)]
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n", days, values


@pytest.fixture
def study_file(tmp_path):
    raw, days, values = study_bytes()
    path = tmp_path / "tin_like.csv"
    path.write_bytes(raw)
    return path, days, values


def csv_text(rows: list[str], sep: str = ",", header: str | None = None) -> bytes:
    head = [header] if header is not None else []
    return ("\n".join(head + rows) + "\n").encode("utf-8")


def daily(n: int, start: date = date(2021, 1, 1)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


# --------------------------------------------------------------------------------------------------------
# load_csv: the study's format
# --------------------------------------------------------------------------------------------------------


def test_study_shaped_file_loads_with_right_dates_and_values(study_file):
    path, days, values = study_file
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture really has BOM and CRLF
    s = load_csv(path)
    assert isinstance(s.index, pd.DatetimeIndex)
    assert s.dtype == np.float64
    assert len(s) == 60
    assert s.name == "Close" and s.index.name == "Date"
    assert s.index[0] == pd.Timestamp("2019-01-02")  # 02/01/2019 read day-first, not 1 February
    assert s.index[1] == pd.Timestamp("2019-01-03")
    assert pd.Timestamp("2019-01-14") in s.index  # 14/01/2019
    assert list(s.index.date) == days
    np.testing.assert_array_equal(s.to_numpy(), np.array(values))
    assert s.attrs["dayfirst"] is True
    assert s.attrs["separator"] == ";"
    assert s.attrs["n_missing"] == 0
    assert s.attrs["notes"] == []


def test_study_shaped_file_as_str_path_bytes_and_file_like(study_file):
    path, days, values = study_file
    raw = path.read_bytes()
    for source in (str(path), raw, io.BytesIO(raw), io.StringIO(raw.decode("utf-8-sig"))):
        s = load_csv(source)
        assert list(s.index.date) == days
        np.testing.assert_array_equal(s.to_numpy(), np.array(values))


def test_file_like_is_rewound_so_it_can_be_read_twice(study_file):
    path, _, values = study_file
    buf = io.BytesIO(path.read_bytes())
    buf.seek(10)  # a previous reader left it mid-way
    info = csv_columns(buf)
    assert info.columns == ["Date", "Close"]
    assert info.date_column == "Date" and info.value_column == "Close"
    assert info.n_rows == 60
    assert buf.tell() == 0
    s = load_csv(buf)
    assert len(s) == 60 and s.iloc[-1] == values[-1]


def test_all_ambiguous_dates_default_to_dayfirst_and_can_be_forced():
    # first of each month, 2020-01 .. 2022-12: no field above 12 anywhere
    months = [date(2020 + i // 12, i % 12 + 1, 1) for i in range(36)]
    raw = csv_text([f"{d:%d/%m/%Y};{i}" for i, d in enumerate(months)], header="Date;Value")
    s = load_csv(raw)
    assert s.index[1] == pd.Timestamp("2020-02-01")
    assert any("ambiguous" in n for n in s.attrs["notes"])
    forced = load_csv(raw, dayfirst=False)
    assert forced.index[1] == pd.Timestamp("2020-01-02")


def test_all_ambiguous_dates_read_the_regular_way():
    months = [date(2020 + i // 12, i % 12 + 1, 1) for i in range(36)]
    us = load_csv(csv_text([f"{d:%m/%d/%Y},{i}" for i, d in enumerate(months)], header="Month,Sales"))
    assert us.attrs["dayfirst"] is False
    assert list(us.index.date) == months
    german = load_csv(csv_text([f"{d:%d.%m.%Y};{i}" for i, d in enumerate(months)], header="Monat;Umsatz"))
    assert german.attrs["dayfirst"] is True
    assert list(german.index.date) == months


def test_month_first_dates_detected():
    days = daily(40, date(2022, 3, 1))
    raw = csv_text([f"{d:%m/%d/%Y},{i}.25" for i, d in enumerate(days)], header="date,price")
    s = load_csv(raw)
    assert s.attrs["dayfirst"] is False
    assert list(s.index.date) == days
    assert s.iloc[0] == 0.25


def test_inconsistent_date_rows_reported_and_dropped():
    rows = [f"{d:%d/%m/%Y},{i}" for i, d in enumerate(daily(40))] + ["12/25/2021,99"]
    s = load_csv(csv_text(rows, header="date,v"))
    assert len(s) == 40 and 99.0 not in s.to_numpy()
    assert any("mixes day-first and month-first" in n for n in s.attrs["notes"])
    assert any("12/25/2021" in n and "dropped" in n for n in s.attrs["notes"])


def test_dates_with_times():
    rows = [f"{d:%d/%m/%Y} {h:02d}:30,{h}" for d in daily(2) for h in range(24)]
    s = load_csv(csv_text(rows, header="time,load"))
    assert s.index[1] == pd.Timestamp("2021-01-01 01:30")
    assert s.index[24] == pd.Timestamp("2021-01-02 00:30")


def test_utf16_tab_and_windows_1252_files():
    rows = [f"{d.isoformat()}\t{i},5" for i, d in enumerate(daily(30))]
    s = load_csv(("Datum\tTempérature\n" + "\n".join(rows)).encode("utf-16"))
    assert s.name == "Température" and s.iloc[2] == 2.5
    s = load_csv(("Datum;Température\n" + "\n".join(r.replace("\t", ";") for r in rows)).encode("cp1252"))
    assert s.name == "Température" and s.iloc[2] == 2.5


def test_iso_dates_comma_separated():
    days = daily(35)
    raw = csv_text([f"{d.isoformat()},{10 + i}" for i, d in enumerate(days)], header="timestamp,y")
    s = load_csv(raw)
    assert list(s.index.date) == days
    assert s.iloc[3] == 13.0


# --------------------------------------------------------------------------------------------------------
# load_csv: separators, decimals, thousands
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separators(sep):
    days = daily(30)
    raw = csv_text(
        [f"{d.isoformat()}{sep}{i}.5{sep}{100 + i}" for i, d in enumerate(days)], header=f"Day{sep}A{sep}B"
    )
    s = load_csv(raw)
    assert s.attrs["separator"] == sep
    assert s.name == "B"  # last numeric column by default
    assert s.iloc[0] == 100.0 and s.iloc[29] == 129.0
    a = load_csv(raw, value_column="A")
    assert a.iloc[2] == 2.5


def test_decimal_comma_with_semicolons():
    days = daily(30)
    raw = csv_text([f"{d:%d.%m.%Y};{1000 + i},{i % 10}" for i, d in enumerate(days)], header="Datum;Kurs")
    s = load_csv(raw)
    assert s.attrs["decimal"] == ","
    assert s.iloc[0] == 1000.0
    assert s.iloc[13] == pytest.approx(1013.3)
    assert s.index[12] == pd.Timestamp("2021-01-13")


def test_decimal_comma_with_dot_thousands():
    cells = ["1.234,5", "25.644", "999,25"] * 10
    rows = [f"{d:%d/%m/%Y};{v}" for d, v in zip(daily(30), cells, strict=True)]
    s = load_csv(csv_text(rows, header="Date;Close"))
    np.testing.assert_allclose(s.to_numpy()[:3], [1234.5, 25644.0, 999.25])


def test_quoted_comma_thousands_in_comma_file():
    rows = [f'{d.isoformat()},"1,{200 + i}.75"' for i, d in enumerate(daily(30))]
    s = load_csv(csv_text(rows, header="date,close"))
    assert s.iloc[0] == 1200.75
    assert s.iloc[29] == 1229.75


def test_single_column_without_dates_gets_range_index():
    raw = csv_text([str(0.5 * i) for i in range(40)], header="value")
    s = load_csv(raw)
    assert isinstance(s.index, pd.RangeIndex)
    assert s.iloc[39] == 19.5
    assert any("No date column" in n for n in s.attrs["notes"])


def test_no_header_row():
    raw = csv_text([f"{d.isoformat()},{i}" for i, d in enumerate(daily(30))])
    s = load_csv(raw)
    assert len(s) == 30 and s.iloc[-1] == 29.0
    assert isinstance(s.index, pd.DatetimeIndex)


# --------------------------------------------------------------------------------------------------------
# load_csv: order, duplicates, missing values
# --------------------------------------------------------------------------------------------------------


def test_unsorted_dates_are_sorted_and_reported():
    days = daily(30)
    order = [5, 0, 3, 1] + list(range(6, 30)) + [2, 4]
    raw = csv_text([f"{days[i].isoformat()},{i}" for i in order], header="date,v")
    s = load_csv(raw)
    assert list(s.index.date) == days
    np.testing.assert_array_equal(s.to_numpy(), np.arange(30.0))
    assert any("sorted" in n for n in s.attrs["notes"])


def test_newest_first_is_reversed():
    days = daily(30)
    raw = csv_text([f"{days[i]:%d/%m/%Y};{i}" for i in reversed(range(30))], header="Date;Close")
    s = load_csv(raw)
    assert s.index.is_monotonic_increasing
    assert s.iloc[0] == 0.0
    assert any("newest first" in n for n in s.attrs["notes"])


def test_duplicate_dates_dropped_and_reported():
    days = daily(32)
    rows = [f"{d.isoformat()},{i}" for i, d in enumerate(days)]
    rows.insert(6, f"{days[5].isoformat()},999")
    s = load_csv(csv_text(rows, header="date,v"))
    assert len(s) == 32
    assert s.attrs["n_duplicates"] == 1
    assert s.loc[pd.Timestamp(days[5])] == 5.0  # first occurrence kept
    assert any("duplicate" in n for n in s.attrs["notes"])


def test_missing_values_interpolated_and_counted():
    vals = [str(float(i)) for i in range(40)]
    vals[10] = ""
    vals[11] = "NA"
    vals[20] = "n/a"
    raw = csv_text([f"{d.isoformat()};{v}" for d, v in zip(daily(40), vals, strict=False)], header="date;v")
    s = load_csv(raw)
    assert s.attrs["n_missing"] == 3
    assert len(s) == 40
    assert s.iloc[10] == 10.0 and s.iloc[11] == 11.0 and s.iloc[20] == 20.0  # linear between neighbours
    assert any("3 missing" in n and "interpolation" in n for n in s.attrs["notes"])


def test_missing_values_dropped():
    vals = [str(float(i)) for i in range(40)]
    vals[10] = ""
    vals[0] = ""
    raw = csv_text([f"{d.isoformat()};{v}" for d, v in zip(daily(40), vals, strict=False)], header="date;v")
    s = load_csv(raw, missing="drop")
    assert s.attrs["n_missing"] == 2
    assert len(s) == 38
    assert pd.Timestamp(daily(40)[10]) not in s.index
    assert any("dropped" in n for n in s.attrs["notes"])


def test_missing_at_edges_cannot_be_interpolated_and_are_dropped():
    vals = ["", ""] + [str(i) for i in range(2, 40)] + [""]
    raw = csv_text([f"{i};{v}" for i, v in enumerate(vals)], header="id;v")
    s = load_csv(raw, value_column="v")
    assert s.attrs["n_missing"] == 3
    assert len(s) == 38
    assert s.iloc[0] == 2.0
    assert isinstance(s.index, pd.RangeIndex) and s.index[0] == 0
    assert any("2 filled" not in n and "3 at the start/end dropped" in n for n in s.attrs["notes"])


def test_blank_lines_inside_a_one_column_file_are_reported():
    raw = (
        "v\n" + "\n".join(str(i) for i in range(20)) + "\n\n" + "\n".join(str(i) for i in range(20, 40))
    ).encode()
    s = load_csv(raw)
    assert len(s) == 40
    assert any("1 blank line" in n for n in s.attrs["notes"])


def test_unreadable_value_cell_is_reported_not_silent():
    vals = [str(i) for i in range(40)]
    vals[7] = "oops"
    raw = csv_text([f"{d.isoformat()},{v}" for d, v in zip(daily(40), vals, strict=False)], header="date,v")
    s = load_csv(raw)
    assert s.attrs["n_missing"] == 1
    assert s.iloc[7] == 7.0
    assert any("oops" in n for n in s.attrs["notes"])


# --------------------------------------------------------------------------------------------------------
# load_csv: hostile input
# --------------------------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_csv(p)
    with pytest.raises(DataError, match="empty"):
        load_csv(io.BytesIO(b"  \r\n\r\n"))


def test_header_only():
    with pytest.raises(DataError, match=r"header row \(Date, Close\) but no data rows"):
        load_csv(b"\xef\xbb\xbfDate;Close\r\n")


def test_no_numeric_column():
    raw = csv_text([f"{d.isoformat()},tin,up" for d in daily(40)], header="date,metal,direction")
    with pytest.raises(DataError, match="No column of numbers") as e:
        load_csv(raw)
    assert "metal" in str(e.value)


def test_png_bytes():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
    with pytest.raises(DataError, match="PNG image") as e:
        load_csv(io.BytesIO(png))
    assert "CSV" in str(e.value)


def test_nul_bytes_and_undecodable_bytes():
    with pytest.raises(DataError, match="binary"):
        load_csv(b"date,value\n2020-01-01,\x00\x01\n")
    with pytest.raises(DataError, match="not readable text"):
        load_csv(b"date,value\n\x81\x8d\x8f\x90\x9d\xff\n")


def test_too_few_rows():
    raw = csv_text([f"{d.isoformat()},{i}" for i, d in enumerate(daily(10))], header="date,v")
    with pytest.raises(DataError, match="Only 10 usable row.*at least 30"):
        load_csv(raw)
    assert len(load_csv(raw, min_rows=10)) == 10


def test_too_many_rows():
    raw = csv_text([str(i) for i in range(100)], header="v")
    with pytest.raises(DataError, match="limit is 50"):
        load_csv(raw, max_rows=50)


def test_unknown_columns_list_the_real_ones(study_file):
    path, _, _ = study_file
    with pytest.raises(DataError, match="no column 'Price'.*'Date', 'Close'"):
        load_csv(path, value_column="Price")
    with pytest.raises(DataError, match="no column 'When'.*'Date', 'Close'"):
        load_csv(path, date_column="When")


def test_bad_missing_option_and_non_numeric_value_column(study_file):
    path, _, _ = study_file
    with pytest.raises(DataError, match="interpolate"):
        load_csv(path, missing="zero")
    raw = csv_text([f"{d.isoformat()},x{i},{i}" for i, d in enumerate(daily(40))], header="date,name,v")
    with pytest.raises(DataError, match="'name' does not hold numbers"):
        load_csv(raw, value_column="name")


def test_web_page_or_json_instead_of_csv():
    with pytest.raises(DataError, match="web page"):
        load_csv(b"<!DOCTYPE html>\n<html><body>Download</body></html>")
    with pytest.raises(DataError, match="JSON"):
        load_csv(b'[{"date": "2020-01-01", "v": 1}]')


def test_not_a_source():
    with pytest.raises(DataError, match="Cannot read"):
        load_csv(12345)
    with pytest.raises(DataError, match="not found"):
        load_csv("/nonexistent/file.csv")


# --------------------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------------------


def test_make_windows_horizon_1_by_hand():
    X, y = make_windows([1, 2, 3, 4, 5, 6], lookback=3)
    assert X.shape == (3, 3, 1) and y.shape == (3, 1)
    np.testing.assert_array_equal(X[:, :, 0], [[1, 2, 3], [2, 3, 4], [3, 4, 5]])
    np.testing.assert_array_equal(y, [[4], [5], [6]])
    assert X.dtype == np.float64 and y.dtype == np.float64


def test_make_windows_horizon_2_by_hand():
    X, y = make_windows(np.array([10.0, 20, 30, 40, 50, 60]), lookback=3, horizon=2)
    np.testing.assert_array_equal(X[:, :, 0], [[10, 20, 30], [20, 30, 40]])
    np.testing.assert_array_equal(y, [[40, 50], [50, 60]])


def test_make_windows_returns_copies():
    v = np.arange(6.0)
    X, _y = make_windows(v, 2)
    X[0, 0, 0] = 99
    assert v[0] == 0.0


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"lookback": 0}, "lookback"),
        ({"lookback": 2, "horizon": 0}, "horizon"),
        ({"lookback": 5, "horizon": 2}, "needs at least 7"),
    ],
)
def test_make_windows_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        make_windows(np.arange(6.0), **kwargs)


# --------------------------------------------------------------------------------------------------------
# Scalers
# --------------------------------------------------------------------------------------------------------


def test_minmax_by_hand_and_round_trip():
    s = MinMaxScaler().fit([2.0, 4.0, 6.0])
    np.testing.assert_allclose(s.transform([2.0, 4.0, 6.0, 8.0]), [0.0, 0.5, 1.0, 1.5])
    s2 = MinMaxScaler(feature_range=(-1, 1)).fit([2.0, 4.0, 6.0])
    np.testing.assert_allclose(s2.transform([2.0, 4.0, 6.0]), [-1.0, 0.0, 1.0])
    x = np.array([[3.3, -7.0], [100.0, 5.5]])
    np.testing.assert_allclose(s2.inverse_transform(s2.transform(x)), x)


def test_standard_by_hand_and_round_trip():
    s = StandardScaler().fit([1.0, 2.0, 3.0])
    sd = np.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(s.transform([1.0, 2.0, 3.0]), [-1 / sd, 0.0, 1 / sd])
    x = np.linspace(-5, 5, 7)
    np.testing.assert_allclose(s.inverse_transform(s.transform(x)), x, atol=1e-12)


@pytest.mark.parametrize("name", ["minmax", "standard", "none"])
def test_constant_series_is_safe_and_scalers_serialise(name):
    s = make_scaler(name).fit(np.full(10, 3.0))
    t = s.transform(np.full(4, 3.0))
    assert np.all(np.isfinite(t))
    np.testing.assert_allclose(s.inverse_transform(t), 3.0)
    d = json.loads(json.dumps(s.to_dict()))
    s2 = scaler_from_dict(d)
    assert type(s2) is type(s)
    x = np.array([1.0, 3.0, 8.0])
    np.testing.assert_allclose(s2.transform(x), s.transform(x))


def test_make_scaler_names_and_errors():
    assert isinstance(make_scaler("MinMax"), MinMaxScaler)
    assert isinstance(make_scaler("standard"), StandardScaler)
    assert isinstance(make_scaler(None), IdentityScaler)
    with pytest.raises(ValueError, match="minmax, standard, none"):
        make_scaler("robust")
    with pytest.raises(ValueError, match="not fitted"):
        MinMaxScaler().transform([1.0])
    with pytest.raises(ValueError, match="NaN"):
        MinMaxScaler().fit([1.0, np.nan])


# --------------------------------------------------------------------------------------------------------
# prepare: split, scaler fit, indexes
# --------------------------------------------------------------------------------------------------------


def test_prepare_sizes_by_hand_windows_mode():
    p = prepare(np.arange(100.0), lookback=5, split=(0.8, 0.1, 0.1))
    # 95 windows: train floor(76.0)=76, val floor(9.5)=9, test the remaining 10
    assert p.sizes == {"train": 76, "val": 9, "test": 10}
    assert p.X_train.shape == (76, 5, 1) and p.y_test.shape == (10, 1)
    # the first test target is value 5 + 76 + 9 = 90, its inputs the 5 values before it
    assert p.y_test_raw[0, 0] == 90.0
    np.testing.assert_array_equal(p.X_test_raw[0, :, 0], [85, 86, 87, 88, 89])
    assert p.y_train_raw[-1, 0] == 80.0 and p.y_val_raw[0, 0] == 81.0


def test_prepare_chronology():
    p = prepare(np.sin(np.arange(300) / 7.0), lookback=12, horizon=1, split=(0.7, 0.15, 0.15))
    assert p.pos_train.max() < p.pos_val.min()
    assert p.pos_val.max() < p.pos_test.min()
    assert np.all(np.diff(np.concatenate([p.pos_train[:, 0], p.pos_val[:, 0], p.pos_test[:, 0]])) > 0)
    assert p.pos_test.max() == 299


def test_prepare_multi_step_targets_never_shared_across_splits():
    p = prepare(np.arange(200.0), lookback=10, horizon=3, split=(0.6, 0.2, 0.2))
    assert p.pos_train.max() < p.pos_val.min()
    assert p.pos_val.max() < p.pos_test.min()
    np.testing.assert_array_equal(p.y_val_raw, p.pos_val.astype(float))  # value == position for arange
    assert p.y_train_raw.shape[1] == 3


def test_scaler_fitted_on_train_part_only_vs_all():
    values = np.concatenate([np.linspace(10, 20, 80), np.linspace(50, 100, 20)])
    p = prepare(values, lookback=5, split=(0.8, 0.1, 0.1), fit_scaler_on="train")
    seen = values[: 80 + 1]  # train targets end at position 5 + 76 - 1 = 80
    assert p.scaler.data_min == seen.min() and p.scaler.data_max == seen.max()
    assert p.scaler.data_max < 100.0
    assert p.X_train.min() == 0.0 and p.y_train.max() == 1.0
    a = prepare(values, lookback=5, split=(0.8, 0.1, 0.1), fit_scaler_on="all")
    assert a.scaler.data_max == 100.0 and a.scaler.data_min == 10.0
    assert not np.allclose(a.y_test, p.y_test)
    np.testing.assert_array_equal(a.y_test_raw, p.y_test_raw)
    np.testing.assert_allclose(p.scaler.inverse_transform(p.y_test), p.y_test_raw)


def test_series_split_reproduces_study_sizes():
    # study: 1,262 rows, lookback 20, split 81/9/10, series cut first: 1022 / 113 / 127 values
    p = prepare(np.linspace(1.0, 2.0, 1262), lookback=20, split=(0.81, 0.09, 0.10), split_by="series")
    assert p.sizes == {"train": 1002, "val": 93, "test": 107}
    assert p.pos_test[0, 0] == 1022 + 113 + 20
    assert p.scaler_fit_range == (0, 1022)
    # 97 values: train floor(77.6) = 77, val floor(9.7) = 9, test 11; minus lookback 5 each
    q = prepare(np.arange(97.0), lookback=5, split=(0.8, 0.1, 0.1), split_by="series")
    assert q.sizes == {"train": 72, "val": 4, "test": 6}
    assert q.y_val_raw[0, 0] == 77 + 5 and q.X_val_raw[0, 0, 0] == 77  # val inputs come from val values only


def test_prepare_keeps_dates_for_drawing(study_file):
    path, days, _ = study_file
    s = load_csv(path)
    p = prepare(s, lookback=5, split=(0.6, 0.2, 0.2))
    idx = p.target_index("test")
    assert isinstance(idx, pd.DatetimeIndex)
    assert idx[-1].date() == days[-1]
    np.testing.assert_array_equal(s.loc[idx].to_numpy(), p.y_test_raw[:, 0])
    assert p.raw is not s and p.raw.equals(s)


def test_val_fraction_zero_gives_empty_validation():
    p = prepare(np.arange(50.0), lookback=4, split=(0.9, 0.0, 0.1))
    assert p.X_val.shape == (0, 4, 1) and p.y_val.shape == (0, 1)
    assert p.sizes["test"] >= 1


@pytest.mark.parametrize(
    "split, msg",
    [
        ((0.8, 0.1, 0.2), "sum to 1"),
        ((0.9, 0.1, 0.0), "test > 0"),
        ((1.1, -0.2, 0.1), "val >= 0"),
        ((0.5, 0.5), "three"),
    ],
)
def test_bad_split_fractions(split, msg):
    with pytest.raises(DataError, match=msg):
        prepare(np.arange(100.0), lookback=5, split=split)


def test_too_few_windows_names_split_and_rows_needed():
    with pytest.raises(DataError, match=r"The val split gets 0 windows.*at least \d+ rows") as e:
        prepare(np.arange(30.0), lookback=5, split=(0.9, 0.02, 0.08))
    # check the suggested row count really works and one fewer does not
    need = int(str(e.value).split("at least ")[1].split(" rows")[0].replace(",", ""))
    prepare(np.arange(float(need)), lookback=5, split=(0.9, 0.02, 0.08))
    with pytest.raises(DataError):
        prepare(np.arange(float(need - 1)), lookback=5, split=(0.9, 0.02, 0.08))


def test_prepare_rejects_missing_values():
    v = np.arange(100.0)
    v[3] = np.nan
    with pytest.raises(DataError, match="1 missing"):
        prepare(v, lookback=5)
