"""Numbers read one way per column: decimal marks, thousands separators, currency signs."""

from __future__ import annotations

import pandas as pd
import pytest

from common.errors import ChurnError
from features.numbers import parse_numbers


def read(values, decimal="auto", thousands="auto"):
    return parse_numbers(pd.Series(values, dtype=object), decimal, thousands,
                         "orders.csv: column 'amount'", "data.tables.orders")


@pytest.mark.parametrize("values, want", [
    (["1,234.50", "12.5", "7"], [1234.5, 12.5, 7.0]),                 # US thousands
    (["$12.50", "$1,234.00", "-$3.10", "$-4", "US$ 5"], [12.5, 1234.0, -3.1, -4.0, 5.0]),
    (["12.50 EUR", "1234.5 EUR"], [12.5, 1234.5]),
    (["1.234,50 €", "3,99 €", "12 €"], [1234.5, 3.99, 12.0]),          # German
    (["1\u202f234,50", "1\u00a0234,50", "12,00"], [1234.5, 1234.5, 12.0]),   # French
    (["CHF 1'234.50", "CHF 12.00"], [1234.5, 12.0]),                   # Swiss
    (["¥1,234", "¥10,565", "500"], [1234.0, 10565.0, 500.0]),         # yen: no decimals
    (["10,565", "1,299", "980"], [10565.0, 1299.0, 980.0]),
    (["1.299", "10.565"], [1299.0, 10565.0]),
    (["1,234円", "¥980"], [1234.0, 980.0]),
    (["(3,00)", "5,00-", "12,50"], [-3.0, -5.0, 12.5]),
    (["0.990", "1.234"], [0.99, 1.234]),                              # 0.990 has decimals
])
def test_each_column_is_read_in_its_own_style(values, want):
    assert read(values).values.tolist() == pytest.approx(want)


def test_values_that_fit_no_style_are_missing_with_a_reason():
    got = read(["inf", "1e309", "abc", "", None, "1e3", "1,23.4.5", "12.50", "1,234.50"])
    assert got.values.isna().tolist() == [True] * 5 + [False, True, False, False]
    assert read(["12%", "5"]).hint.startswith("values with '%' beside the number")


def test_two_currencies_in_one_column_stop_with_their_counts():
    with pytest.raises(ChurnError) as err:
        read(["$12.50", "$3", "12.50 EUR"])
    assert "'$' 2, 'EUR' 1" in str(err.value) and "one currency" in str(err.value)
    assert read(["¥1,234", "1,234元"]).values.tolist() == [1234.0, 1234.0]   # ¥ is also yuan


def test_undecidable_marks_stop_and_the_advice_followed_gives_the_right_numbers():
    values = ["1,234", "1.234", "5"]
    with pytest.raises(ChurnError) as err:
        read(values)
    assert "data.tables.orders.decimal and thousands" in str(err.value)
    assert read(values, decimal=",", thousands=".").values.tolist() == [1.234, 1234.0, 5.0]
    assert read(values, decimal=".", thousands=",").values.tolist() == [1234.0, 1.234, 5.0]


def test_forced_marks_win_and_misfits_say_what_to_set():
    assert read(["10,565"], decimal=",").values.tolist() == [10.565]
    got = read(["12,50", "3.10"], decimal=".", thousands=None)
    assert got.values.isna().tolist() == [True, False]
    assert "data.tables.orders.decimal and thousands" in got.hint


def test_typed_numbers_pass_through():
    got = parse_numbers(pd.Series([1.5, float("inf"), None]), "auto", "auto", "x", "y")
    assert got.values.iloc[0] == 1.5 and got.values.iloc[1:].isna().all()
