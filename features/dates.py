"""Dates as shops write them, read one way per column, never element by element.

A column is read in one of these ways, decided from all its values:
- timestamps already typed (Parquet, a database): time zones converted to UTC;
- ISO 8601 (`2024-03-05`, `2024-03-05T14:30:00+02:00`, `20240305`);
- numbers: `yyyymmdd`, Unix epoch seconds or milliseconds, or Excel day numbers (`45356`),
  told apart by their size;
- day-first or month-first (`05/03/2024`, `05.03.2024 14:30`, `3/5/24 2:30 PM`): decided by the
  values above 12 in the first or the second place. When no value decides it, and both readings
  would differ, the column stops with one line asking for `date_format`: a per-element guess is
  what moves a third of a shop's orders by months without a word;
- month names (`5 Mar 2024`, `March 5, 2024`) and `2024年3月5日`.
`date_format` forces a reading: `dayfirst`, `monthfirst`, `epoch_s`, `epoch_ms`, `excel` or a
strftime format such as `%d.%m.%Y`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ChurnError

#: values that mean "no date" in exports: spreadsheet and Unix zeros
PLACEHOLDER_DAYS = pd.DatetimeIndex(["1899-12-30", "1899-12-31", "1900-01-01", "1970-01-01"])
ORDERS = ("dayfirst", "monthfirst")
UNITS = {"epoch_s": "Unix epoch seconds", "epoch_ms": "Unix epoch milliseconds",
         "epoch_us": "Unix epoch microseconds", "excel": "Excel day numbers",
         "yyyymmdd": "yyyymmdd numbers"}
#: (unit, lowest, highest) for telling number columns apart by their median; each range is
#: roughly the years 1927 to 2286, so no two overlap
_RANGES = (("yyyymmdd", 19_000_101, 21_001_231), ("excel", 1e4, 1e5), ("epoch_s", 1e8, 1e10),
           ("epoch_ms", 1e11, 1e13), ("epoch_us", 1e14, 1e16))
_PER_SECOND = {"epoch_s": 1, "epoch_ms": 1e3, "epoch_us": 1e6}
_EXCEL_ZERO = pd.Timestamp("1899-12-30")
#: three numbers with one separator (a date) and whatever follows (a time, a zone)
_NUMERIC_DATE = (r"^\D{0,12}?(?P<a>\d{1,4})(?P<s1>\s*[./-]\s*)(?P<b>\d{1,2})"
                 r"(?P<s2>\s*[./-]\s*)(?P<c>\d{1,4})\.?(?P<rest>(?:[ T,].*)?)$")
_MONTH_NAME = r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\b|\d)"
_CJK = {"年": "-", "月": "-", "日": " ", "년": "-", "월": "-", "일": " "}


@dataclass
class Dates:
    values: pd.Series       # datetime64[us], naive UTC; NaT where a value could not be read
    how: str                # how the column was read (the ingest report)
    hint: str = ""          # why values failed, and what to set, for an error


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(str(v)[:40]) for v in pd.unique(values.dropna())[:n])


def _naive_utc(parsed: pd.Series) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[us]")


def _from_numbers(num: pd.Series, unit: str | None, where: str, setting: str) -> tuple[
        pd.Series, str]:
    """Numbers as dates: the unit from the column's median unless `unit` says it."""
    num = num.astype("float64")
    if num.notna().sum() == 0:
        return pd.Series(pd.NaT, index=num.index, dtype="datetime64[us]"), "no dates"
    if unit is None:
        median = float(num.median())
        unit = next((u for u, lo, hi in _RANGES if lo <= median < hi), None)
        if unit is None:
            raise ChurnError(
                f"{where}: numbers like {_examples(num)} are no dates I can read (not yyyymmdd, "
                f"Unix epoch seconds or milliseconds, or Excel day numbers); set {setting}")
    if unit == "yyyymmdd":
        whole = num.where(num == np.floor(num))
        text = whole.astype("Int64").astype("string")
        out = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    elif unit == "excel":
        days = num.where((num >= 0) & (num < 2_958_466))
        out = (_EXCEL_ZERO + pd.to_timedelta(days, unit="D")).dt.round("ms")  # as Excel keeps
    else:
        seconds = num / _PER_SECOND[unit]
        seconds = seconds.where((seconds >= 0) & (seconds < 253_402_300_800))   # < year 10000
        out = pd.to_datetime(seconds, unit="s", errors="coerce")
    return _naive_utc(out.dt.round("us")), UNITS[unit]


def _year_first_short(a: pd.Series, c: pd.Series, where: str, setting: str,
                      examples: pd.Series, long_first: bool, long_last: bool) -> bool:
    """With two-digit years (`05.03.24` or `24.03.05`): is the year first? As in the column's
    four-digit years when it has them; a field above 31 can only be a year; otherwise the
    year is the field with clearly fewer distinct values."""
    if long_first != long_last:
        return long_first
    if (a > 31).any() and not (c > 31).any():
        return True
    if (c > 31).any() and not (a > 31).any():
        return False
    na, nc = a.nunique(), c.nunique()
    if nc * 2 <= na:
        return False
    if na * 2 <= nc:
        return True
    raise ChurnError(f"{where}: dates like {_examples(examples)} have a two-digit year that "
                     f"may come first or last; set {setting}, e.g. '%d.%m.%y' or '%y.%m.%d'")


def _day_first(p: pd.Series, q: pd.Series, forced: str | None, where: str, setting: str,
               examples: pd.Series) -> tuple[bool, str]:
    """Day-first or month-first for the whole column, from the values above 12."""
    if forced:
        return forced == "dayfirst", ""
    day_first = int(((p > 12) & (q <= 12)).sum())
    month_first = int(((q > 12) & (p <= 12)).sum())
    if day_first and month_first:
        hint = (f"the column mixes day-first ({_examples(examples[(p > 12) & (q <= 12)], 2)}) "
                f"and month-first ({_examples(examples[(q > 12) & (p <= 12)], 2)}) dates; "
                "export them in one format")
        if day_first == month_first:
            raise ChurnError(f"{where}: {hint}")
        return day_first > month_first, hint
    if day_first or month_first:
        return bool(day_first), ""
    if (p == q).all():         # 01/01, 02/02 ...: both readings agree
        return True, ""
    raise ChurnError(
        f"{where}: dates like {_examples(examples[p != q])} may be day-first or month-first "
        f"(no value above 12 decides it); set {setting}: dayfirst (05/03/2024 is 5 March) or "
        "monthfirst (May 3)")


def _arrow(values: pd.Series | np.ndarray) -> pa.Array:
    if isinstance(values, pd.Series):
        values = values.to_numpy(dtype=object, na_value=None)
    return pa.array(values, type=pa.string(), from_pandas=True)


def _numeric_dates(text: pd.Series, forced: str | None, where: str, setting: str) -> tuple[
        pd.Series, str, str]:
    """`05/03/2024 14:30`, `2024.03.05`, `3-5-24`: one order for the column, then ISO text.
    Arrow's regular expressions keep this fast on millions of rows."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    found = pc.extract_regex(_arrow(text), _NUMERIC_DATE)
    ok = pc.and_(found.is_valid(), pc.equal(found.field("s1"), found.field("s2"))).fill_null(False)
    ok = ok.to_numpy(zero_copy_only=False)
    if not ok.any():
        return out, "", ""
    found, shown = found.filter(pa.array(ok)), text[ok]

    def field(name: str) -> pd.Series:
        return pd.Series(pc.cast(found.field(name), pa.int64()).to_numpy(), index=shown.index)

    a, b, c = field("a"), field("b"), field("c")
    la = pd.Series(pc.utf8_length(found.field("a")).to_numpy(), index=shown.index)
    lc = pd.Series(pc.utf8_length(found.field("c")).to_numpy(), index=shown.index)
    year_first = la == 4
    short = (la <= 2) & (lc <= 2)
    if short.any() and _year_first_short(a[short], c[short], where, setting, shown[short],
                                         bool(year_first.any()), bool((lc == 4).any())):
        year_first = year_first | short
    last = ~year_first
    day_first, hint = _day_first(a[last], b[last], forced, where, setting, shown[last]) \
        if last.any() else (True, "")
    year = c.where(last, a)
    year = year.where(year >= 100, year + np.where(year < 70, 2000, 1900))
    day_last, month_last = (a, b) if day_first else (b, a)
    month = b.where(year_first, month_last)
    day = c.where(year_first, day_last)
    valid = (month.between(1, 12) & day.between(1, 31) & (la != 3) & (lc != 3)).to_numpy()

    def padded(v: pd.Series, width: int) -> pa.Array:
        return pc.utf8_lpad(pc.cast(pa.array(v.to_numpy()), pa.string()), width, "0")

    iso = pc.binary_join_element_wise(padded(year, 4), padded(month, 2), padded(day, 2), "-")
    iso = pc.binary_join_element_wise(iso, found.field("rest"), "")
    iso = pd.Series(iso.to_numpy(zero_copy_only=False), index=shown.index).where(valid)
    parsed = pd.to_datetime(iso, format="ISO8601", errors="coerce", utc=True)
    again = parsed.isna() & valid
    if again.any():                       # times such as `2:30 PM`: the date is ISO by now
        parsed[again] = pd.to_datetime(iso[again], format="mixed", errors="coerce", utc=True)
    how = "year-first" if not last.any() else ("day-first" if day_first else "month-first")
    out[shown.index] = _naive_utc(parsed)
    example = shown[last].iloc[0] if last.any() else shown.iloc[0]
    return out, f"{how} ({example})", hint


def parse_dates(raw: pd.Series, date_format: str | None, where: str, setting: str) -> Dates:
    """A column of dates read one way (module docstring). `where` names the file and column,
    `setting` the params key of date_format, for the one-line errors."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(raw):
        return Dates(_naive_utc(raw), "timestamps")
    unit = date_format if date_format in UNITS else None
    forced = date_format if date_format in ORDERS else None
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw) and (
            date_format is None or unit):
        values, how = _from_numbers(raw, unit, where, setting)
        return Dates(values, how)
    text = raw.astype("string").str.strip()
    text = text.mask(text == "")
    if date_format and not (unit or forced):
        try:
            parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        except ValueError as exc:
            raise ChurnError(f"{where}: date_format {date_format!r} ({setting}) is not a valid "
                             f"format: {str(exc).splitlines()[0][:120]}") from None
        return Dates(_naive_utc(parsed), f"date_format {date_format!r}",
                     f"values that don't match date_format {date_format!r}")
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    ways = []
    digits = text.str.fullmatch(r"\d+(\.\d+)?").fillna(False).astype(bool)
    if digits.any():
        try:
            out[digits], how = _from_numbers(pd.to_numeric(text[digits]), unit, where, setting)
            ways.append(how)
        except ChurnError:
            if digits.sum() * 2 > text.notna().sum():
                raise
            # a few stray numbers among written dates: unreadable, counted by the caller
    rest = text.notna() & ~digits
    hint = ""
    if rest.any() and not unit:
        sub = text[rest]
        if sub.str.contains("[年月日년월일]", regex=True).any():
            for char, repl in _CJK.items():
                sub = sub.str.replace(char, repl, regex=False)
            sub = sub.str.replace(r"\s+", " ", regex=True).str.strip()
        iso = pd.Series(pd.NaT, index=sub.index, dtype="datetime64[us]")
        if not forced:
            iso = _naive_utc(pd.to_datetime(sub, format="ISO8601", errors="coerce", utc=True))
            if iso.notna().any():
                ways.append("ISO 8601")
        left = sub[iso.isna()]
        numeric, how, hint = _numeric_dates(left, forced, where, setting)
        if how:
            ways.append(how)
        iso[left.index] = numeric
        named = iso.isna() & sub.str.contains(_MONTH_NAME, regex=True).fillna(False)
        if named.any():
            iso[named] = _naive_utc(pd.to_datetime(sub[named], format="mixed", errors="coerce",
                                                   utc=True))
            ways.append("month names")
        out[rest] = iso
    return Dates(out, ", ".join(ways) or "no dates", hint)


def implausible(values: pd.Series, now: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """(future, placeholder) masks. Future: after the wall clock (a day's grace for time
    zones), or further after the bulk of the column (1st to 99th percentile) than the bulk's
    own span, at least a year: a typo such as 2099 or 2204 that would move as_of.
    Placeholder: 1899-12-30, 1900-01-01, 1970-01-01 (a spreadsheet's or Unix's zero)."""
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    placeholder = values.dt.normalize().isin(PLACEHOLDER_DAYS)
    future = values > now + pd.Timedelta(days=1)
    real = values[~placeholder & ~future].dropna()
    if len(real):
        low, high = real.quantile(0.01), real.quantile(0.99)
        reach = max(high - low, pd.Timedelta(days=365))
        future = future | (values > high + reach)
    return future.fillna(False).astype(bool), placeholder.fillna(False).astype(bool)
