"""Dates read one way per column: the order decided by the column, numbers by their size,
ambiguity and bad formats as one line, implausible dates found."""

from __future__ import annotations

import pandas as pd
import pytest

from common.errors import ChurnError
from features.dates import implausible, parse_dates


def read(values, date_format=None):
    return parse_dates(pd.Series(values), date_format, "orders.csv: column 'order_ts'",
                       "data.tables.orders.date_format")


def ts(*values):
    return [pd.Timestamp(v) for v in values]


def test_one_day_above_12_makes_the_whole_column_day_first():
    got = read(["05/03/2024", "31/12/2023", "01/02/2024 14:30", "4.7.2024"])
    # element by element, 05/03 and 01/02 would be read month-first: moved by months
    assert got.values.tolist() == ts("2024-03-05", "2023-12-31", "2024-02-01 14:30",
                                     "2024-07-04")
    assert got.how.startswith("day-first")


def test_one_day_above_12_in_second_place_makes_it_month_first():
    got = read(["05/03/2024", "12/31/2023", "3/5/24 2:30 PM"])
    assert got.values.tolist() == ts("2024-05-03", "2023-12-31", "2024-03-05 14:30")


def test_undecided_order_stops_with_the_setting_unless_both_readings_agree():
    with pytest.raises(ChurnError) as err:
        read(["05/03/2024", "04/03/2024"])
    msg = str(err.value)
    assert "orders.csv: column 'order_ts'" in msg and "data.tables.orders.date_format" in msg
    assert "dayfirst" in msg and "monthfirst" in msg
    assert read(["01/01/2024", "02/02/2024"]).values.tolist() == ts("2024-01-01", "2024-02-02")
    # the advice, followed, gives the right dates
    assert read(["05/03/2024", "04/03/2024"], "dayfirst").values.tolist() == ts(
        "2024-03-05", "2024-03-04")
    assert read(["05/03/2024"], "monthfirst").values.tolist() == ts("2024-05-03")


def test_a_column_mixing_both_orders_keeps_the_majority_and_says_why_the_rest_fail():
    got = read(["31/12/2023", "13/01/2024", "12/31/2023"])
    assert got.values.tolist()[:2] == ts("2023-12-31", "2024-01-13")
    assert pd.isna(got.values.iloc[2]) and "mixes day-first" in got.hint
    with pytest.raises(ChurnError, match="mixes day-first"):
        read(["31/12/2023", "12/31/2023"])


def test_iso_rows_stay_iso_beside_day_first_rows_and_zones_become_utc():
    got = read(["2024-03-05", "05/04/2024", "31/12/2023", "2024-03-05T10:00:00+02:00",
                "2024-03-05T10:00:00Z"])
    assert got.values.tolist() == ts("2024-03-05", "2024-04-05", "2023-12-31",
                                     "2024-03-05 08:00", "2024-03-05 10:00")


@pytest.mark.parametrize("values, how", [
    (["1704067200", "1704153600"], "Unix epoch seconds"),
    (["1704067200000", "1704153600000"], "Unix epoch milliseconds"),
    (["45292", "45293"], "Excel day numbers"),
    (["20240101", "20240102"], "yyyymmdd numbers"),
    ([1704067200, 1704153600], "Unix epoch seconds"),
    ([45292.0, 45293.0], "Excel day numbers"),
])
def test_numbers_are_recognised_by_their_size(values, how):
    got = read(values)
    assert got.how == how and got.values.tolist() == ts("2024-01-01", "2024-01-02")


def test_excel_fractions_are_times_and_named_units_are_forced():
    assert read(["45292.5"]).values.tolist() == ts("2024-01-01 12:00")
    assert read(["1704067200"], "epoch_s").values.tolist() == ts("2024-01-01")
    assert read(["45292"], "excel").values.tolist() == ts("2024-01-01")


def test_numbers_that_are_no_dates_name_the_units_tried():
    with pytest.raises(ChurnError) as err:
        read(["2024", "2023"])
    msg = str(err.value)
    assert "epoch" in msg and "Excel" in msg and "date_format" in msg
    assert pd.isna(read(["2024-01-05", "2024-01-06", "3"]).values.iloc[2])   # a stray number


def test_month_names_two_digit_years_and_chinese_dates():
    assert read(["5 Mar 2024", "March 6, 2024", "Tue, 07 Mar 2024 14:30:00 +0000"]
                ).values.tolist() == ts("2024-03-05", "2024-03-06", "2024-03-07 14:30")
    assert read(["24.03.05", "24.03.06", "24.03.17"]).values.tolist() == ts(
        "2024-03-05", "2024-03-06", "2024-03-17")
    assert read(["2024年3月5日", "2024年12月25日 14:30"]).values.tolist() == ts(
        "2024-03-05", "2024-12-25 14:30")


def test_a_strftime_format_is_used_and_a_bad_one_is_one_line():
    got = read(["05.03.2024", "2024-03-05"], "%d.%m.%Y")
    assert got.values.iloc[0] == pd.Timestamp("2024-03-05") and pd.isna(got.values.iloc[1])
    with pytest.raises(ChurnError, match=r"date_format '%Q' .* is not a valid format"):
        read(["05.03.2024"], "%Q")


def test_future_and_placeholder_dates_are_found():
    days = pd.Series(pd.to_datetime(["2023-01-01", "2023-06-01", "2024-01-01", "2024-02-01",
                                     "2099-01-01", "1970-01-01", "1900-01-01", "2026-01-03"]))
    future, placeholder = implausible(days, pd.Timestamp("2026-01-01"))
    assert future.tolist() == [False] * 4 + [True, False, False, True]
    assert placeholder.tolist() == [False] * 5 + [True, True, False]


def test_far_after_the_bulk_of_the_data_is_future_even_before_the_wall_clock():
    bulk = pd.Series(pd.date_range("1997-01-01", "1998-06-30", periods=400))
    days = pd.concat([bulk, pd.Series(pd.to_datetime(["2007-05-01"]))], ignore_index=True)
    future, _ = implausible(days, pd.Timestamp("2026-01-01"))
    assert future.sum() == 1 and future.iloc[-1]
