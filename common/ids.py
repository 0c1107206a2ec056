"""One spelling per id, whatever wrote it: a CSV's text, a Parquet integer or float, a JSON
number, the export database read back. The same customer is `1419` in every table and every
batch, so orders, contacts and the contact log always match.

The rule, applied to every id column of every table and to the contact log read back:
- surrounding blanks (also non-breaking spaces and a byte-order mark) are removed;
- a number-like id (digits only, optionally with a zero fraction) is written as its integer:
  `1419`, `1419.0`, `001419`, `+1419` and the integer 1419 all become `1419` (`0000` is `0`);
- every other id stays as written (`AB-7`, `1.5`, `c_00012`; case is kept);
- an empty id is missing.
Ids a spreadsheet turned into scientific notation (`1.23457E+17`) or stored as floating-point
numbers above 2**53 have lost digits: `lost_digits` finds them, so the caller can count them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: digits, optionally signed with +, optionally with a zero fraction (a float written as text)
_NUMBER_LIKE = r"\+?0*(\d+)(?:\.0*)?"
#: a number-like id already in its one spelling
_CANONICAL_NUMBER = r"0|[1-9]\d*"
_SCIENTIFIC = r"[+-]?\d(?:\.\d+)?[eE][+-]?\d+"
_BLANKS = "\ufeff\u00a0\u202f\u2007 \t\r\n"
#: above this a float64 no longer holds every integer exactly
FLOAT_EXACT = 2**53


def lost_digits(values: pd.Series) -> pd.Series:
    """True where an id can no longer be told apart from its neighbours: a float above 2**53,
    or text in scientific notation (how spreadsheets write long numbers)."""
    if pd.api.types.is_float_dtype(values):
        return (values.abs() > FLOAT_EXACT).fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.Series(False, index=values.index)
    text = values.astype("string").str.strip(_BLANKS)
    return text.str.fullmatch(_SCIENTIFIC).fillna(False).astype(bool)


def canonical_ids(values: pd.Series) -> pd.Series:
    """Ids as text in their one spelling (module docstring); missing stays missing."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & np.isfinite(values) & (values == np.floor(values))
        text = values.astype("string")
        if whole.any():
            ints = values[whole].map(lambda v: str(int(v)))
            text = text.mask(whole, ints)
    elif isinstance(values.dtype, pd.CategoricalDtype):
        return canonical_ids(values.astype(values.cat.categories.dtype))
    else:
        text = values.astype("string")
    text = text.str.strip(_BLANKS)
    # only the number-like ids not yet in their spelling change (vectorised; most are)
    respell = (text.str.fullmatch(_NUMBER_LIKE) & ~text.str.fullmatch(_CANONICAL_NUMBER)
               ).fillna(False).astype(bool)
    if respell.any():
        digits = (text[respell].str.lstrip("+").str.replace(r"\.0*$", "", regex=True)
                  .str.lstrip("0").replace("", "0"))
        text = text.mask(respell, digits)
    return text.mask(text == "").astype("string")
