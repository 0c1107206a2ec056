"""One id spelling, whatever wrote it."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from common.ids import canonical_ids, lost_digits


def test_number_like_text_takes_one_spelling_and_other_ids_stay_as_written():
    raw = pd.Series(["1419", "001419", "1419.0", "+1419", " 1419 ", "\ufeff1419", "1419.",
                     "\u00a01419", "AB-7", "ab-7", "1.5", "-5", "0000", "", None])
    assert canonical_ids(raw).tolist() == (["1419"] * 8 + ["AB-7", "ab-7", "1.5", "-5", "0",
                                                           pd.NA, pd.NA])


def test_every_dtype_gives_the_same_text():
    want = ["1419", "7", pd.NA]
    assert canonical_ids(pd.Series([1419.0, 7.0, np.nan])).tolist() == want
    assert canonical_ids(pd.Series([1419, 7, None], dtype="Int64")).tolist() == want
    assert canonical_ids(pd.Series([1419, 7, None], dtype="UInt64")).tolist() == want
    assert canonical_ids(pd.Series([1419, 7.0, None], dtype=object)).tolist() == want
    assert canonical_ids(pd.Series([Decimal("1419"), Decimal("7.00"), None])).tolist() == want
    assert canonical_ids(pd.Series(["1419", "007", None], dtype="category")).tolist() == want
    big = pd.Series([2**64 - 1], dtype="UInt64")          # beyond int64, still exact
    assert canonical_ids(big).tolist() == [str(2**64 - 1)]


def test_ids_that_lost_digits_are_found():
    assert lost_digits(pd.Series([2.0**53 + 2, 12.0, np.nan])).tolist() == [True, False, False]
    assert lost_digits(pd.Series(["1.23457E+17", "123", None])).tolist() == [True, False,
                                                                            False]
    assert not lost_digits(pd.Series([2**62], dtype="int64")).any()
