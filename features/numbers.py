"""Amounts as shops write them, read one way per column, never element by element.

The decimal mark and the thousands separator of a column are decided from all its values:
`1,234.50` or `12.5` says the decimal mark is `.`; `1.234,50` or `12,5` says `,`. A column
whose separated values all have three digits after one mark (`10,565`, `1.299`) and none has
decimals reads the mark as a thousands separator: no shop prices everything to a thousandth.
Spaces, non-breaking spaces and apostrophes group thousands too (`1 234,50`, `1'234.50`).
A currency sign or code before or after the number (`$12.50`, `12,50 €`, `¥1,234`, `1,234円`,
`12.50 EUR`) is read when the column holds one currency; signs (`-12.50`, `(12.50)`, `12.50-`)
are kept. Values that fit none of this become missing, counted by the caller.
`decimal` and `thousands` in params force a reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ChurnError

_SPACES = " \u00a0\u202f'’"
_NUMBER = (r"^(?P<s1>[-+−]?)\s*(?P<pre>[^\d\s.,'’()+−-]{0,4}?)\s*(?P<s2>[-+−]?)\s*"
           r"(?P<open>\(?)\s*(?P<body>\d[\d.,'’ \x{00a0}\x{202f}]*?(?:[eE][-+]?\d+)?)\s*"
           r"(?P<close>\)?)\s*(?P<post>[^\d\s.,'’()+−-]{0,4}?)\s*(?P<s3>-?)$")
_DOLLAR = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD"})
#: a sign or local code -> the currencies it may stand for (a column's signs must share one)
CURRENCIES: dict[str, frozenset[str]] = {
    "$": _DOLLAR, "US$": frozenset({"USD"}), "C$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}), "HK$": frozenset({"HKD"}), "NT$": frozenset({"TWD"}),
    "€": frozenset({"EUR"}), "£": frozenset({"GBP"}), "¥": frozenset({"JPY", "CNY"}),
    "￥": frozenset({"JPY", "CNY"}), "円": frozenset({"JPY"}), "元": frozenset({"CNY"}),
    "RMB": frozenset({"CNY"}), "₹": frozenset({"INR"}), "₩": frozenset({"KRW"}),
    "원": frozenset({"KRW"}), "₽": frozenset({"RUB"}), "R$": frozenset({"BRL"}),
    "zł": frozenset({"PLN"}), "Kč": frozenset({"CZK"}), "Fr.": frozenset({"CHF"}),
    "kr": frozenset({"SEK", "NOK", "DKK", "ISK"}), "kr.": frozenset({"DKK", "ISK"}),
    "₺": frozenset({"TRY"}), "₫": frozenset({"VND"}), "฿": frozenset({"THB"}),
    "₪": frozenset({"ILS"}), "zl": frozenset({"PLN"}),
}


@dataclass
class Numbers:
    values: pd.Series       # float64; NaN where a value could not be read
    how: str                # how the column was read (the ingest report)
    hint: str = ""          # why values failed, and what to set, for an error


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(str(v)[:40]) for v in pd.unique(values.dropna())[:n])


def _currencies(token: str) -> frozenset[str] | None:
    """The currencies a sign or code may mean; None when it is none."""
    if token in CURRENCIES:
        return CURRENCIES[token]
    if len(token) == 3 and token.isascii() and token.isalpha() and token.isupper():
        return frozenset({token})
    return None


def _count(bodies: pa.Array, pattern: str) -> int:
    return int(pc.sum(pc.match_substring_regex(bodies, pattern)).as_py() or 0)


_GROUP = r"[ '’\x{00a0}\x{202f}]"


def _decides(bodies: pa.Array, mark: str, other: str) -> int:
    """How many values can only be read with `mark` as the decimal mark: after a grouped
    integer (1,234.50), with other than three decimals (12.5), after an integer part that is
    no thousands group (1234.567, 0.990)."""
    m, o = "\\" + mark, "\\" + other
    return (_count(bodies, rf"^\d{{1,3}}({o}\d{{3}})+{m}\d+$")
            + _count(bodies, rf"^\d+{m}(\d{{1,2}}|\d{{4,}})$")
            + _count(bodies, rf"^(\d{{4,}}|0\d{{0,2}}){m}\d{{3}}$")
            + _count(bodies, rf"^\d{{1,3}}({_GROUP}\d{{3}})+{m}\d+$"))


def _marks(bodies: pa.Array, where: str, setting: str) -> tuple[str, str]:
    """(decimal mark, how) for a column, from its numbers' shapes."""
    dot, comma = _decides(bodies, ".", ","), _decides(bodies, ",", ".")
    if dot and comma:
        if dot == comma:
            raise ChurnError(f"{where}: numbers are written both as 1,234.50 and 1.234,50; "
                             "export them in one format")
        return ("." if dot > comma else ","), "decimal '.' (1,234.50), by most values" \
            if dot > comma else "decimal ',' (1.234,50), by most values"
    if dot or comma:
        return ("." if dot else ","), "decimal '.'" if dot else "decimal ','"
    grouped_comma = _count(bodies, r"^[1-9]\d{0,2}(,\d{3})+$")
    grouped_dot = _count(bodies, r"^[1-9]\d{0,2}(\.\d{3})+$")
    if grouped_comma and grouped_dot:
        raise ChurnError(f"{where}: numbers such as 1,234 and 1.234 both appear and none has "
                         f"decimals, so neither mark can be read; set {setting}.decimal and "
                         "thousands")
    if grouped_dot:
        return ",", "'.' as thousands separator (no value has decimals)"
    return ".", ("',' as thousands separator (no value has decimals)" if grouped_comma
                 else "plain numbers")


def parse_numbers(raw: pd.Series, decimal: str, thousands: str | None, where: str,
                  setting: str) -> Numbers:
    """A column of numbers read one way (module docstring). `decimal` is `auto`, `.` or `,`;
    `thousands` is `auto`, None (no separator) or the separator."""
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        number = pd.to_numeric(raw, errors="coerce").astype("float64")
        return Numbers(number.mask(~np.isfinite(number)), "numbers")
    if raw.dtype == object and raw.map(lambda v: isinstance(v, (int, float))).all():
        return parse_numbers(pd.to_numeric(raw, errors="coerce"), decimal, thousands, where,
                             setting)
    text = raw.astype("string").str.strip()
    arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())
    parts = pc.extract_regex(arr, _NUMBER)
    fields = {name: pd.Series(parts.field(name).to_numpy(zero_copy_only=False),
                              index=raw.index, dtype="string")
              for name in ("s1", "pre", "s2", "open", "body", "close", "post", "s3")}
    matched = pd.Series(parts.is_valid().to_numpy(zero_copy_only=False), index=raw.index)
    fields = {name: f.where(matched) for name, f in fields.items()}   # children ignore nulls
    pre, post = fields["pre"].fillna(""), fields["post"].fillna("")
    token = pre.where(pre != "", post)
    ok = matched & ~((pre != "") & (post != "")) & (fields["open"] == fields["close"].replace(
        ")", "(")).fillna(False)
    how, hint = [], ""
    tokens = token[ok & (token != "")]
    if len(tokens):
        counts = tokens.value_counts()
        known = {t: _currencies(t) for t in counts.index}
        bad = [t for t, c in known.items() if c is None]
        ok &= ~token.isin(bad)
        sets = [c for c in known.values() if c is not None]
        if sets and not frozenset.intersection(*sets):
            listed = ", ".join(f"{t!r} {n:,}" for t, n in counts.items()
                               if known[t] is not None)
            raise ChurnError(f"{where}: amounts in more than one currency ({listed}); convert "
                             "them to one currency before ingest")
        if sets:
            how.append("currency " + "/".join(t for t in counts.index if known[t] is not None))
        if bad:
            hint = (f"values with {_examples(pd.Series(bad))} beside the number: remove it in "
                    "the export")
    body = fields["body"].where(ok)
    bodies = pa.array(body.to_numpy(dtype=object, na_value=None), type=pa.string())
    if decimal == "auto" and thousands in (".", ","):
        dec = "," if thousands == "." else "."
    elif decimal == "auto":
        dec, shape = _marks(bodies.drop_null(), where, setting)
        how.append(shape)
    else:
        dec = decimal
        how.append(f"decimal {decimal!r}")
    seps = ("." if dec == "," else ",") + _SPACES if thousands == "auto" else thousands or ""
    group = "[" + "".join(f"\\x{{{ord(ch):04x}}}" for ch in seps) + "]" if seps else None
    d = "\\" + dec
    shape = rf"^(\d+({d}\d*)?|{d}\d+" + (rf"|\d{{1,3}}({group}\d{{3}})+({d}\d*)?" if group
                                          else "") + ")$"
    if dec == ".":
        shape = shape[:-2] + r"|\d+(\.\d+)?[eE][-+]?\d+)$"
    fits = pd.Series(pc.match_substring_regex(bodies, shape).fill_null(False).to_numpy(
        zero_copy_only=False), index=raw.index)
    clean = body.where(fits)
    for ch in seps:
        clean = clean.str.replace(ch, "", regex=False)
    if dec != ".":
        clean = clean.str.replace(dec, ".", regex=False)
    number = pd.to_numeric(clean, errors="coerce").astype("float64")
    negative = fields["s1"].isin(["-", "−"]) | fields["s2"].isin(["-", "−"]) | (
        fields["open"] == "(") | (fields["s3"] == "-")
    number = number.where(~negative.fillna(False), -number)
    number = number.mask(~np.isfinite(number))
    if not hint and (body.notna() & ~fits).any():
        hint = (f"numbers such as {_examples(text[body.notna() & ~fits])} don't fit "
                f"{', '.join(how)}; set {setting}.decimal and thousands")
    elif not hint and (text.notna() & number.isna()).any():
        hint = ("values that are no numbers: fix them in the export, or raise "
                "data.max_bad_share to drop them")
    return Numbers(number, ", ".join(how), hint)
