"""Turn a mapped table into its canonical form: typed, de-duplicated, every dropped or fixed row
counted by reason. Pure functions: a frame in, a frame and a report out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.errors import ChurnError
from common.params import TableFormat
from features.contract import (
    CONTACT_GROUPS,
    GROUP_SYNONYMS,
    ORDER_STATUSES,
    STATUS_SYNONYMS,
    TABLES,
    canonical_dtype,
)


@dataclass
class TableReport:
    source: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    fixed: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def drop(self, frame: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        n = int(mask.sum())
        if n:
            self.dropped[reason] += n
        return frame.loc[~mask]

    def as_dict(self) -> dict:
        return {"source": self.source, "rows_read": self.rows_read, "rows_kept": self.rows_kept,
                "dropped": dict(self.dropped), "fixed": dict(self.fixed), "notes": self.notes}


def to_id(values: pd.Series) -> pd.Series:
    """Ids as text. Text stays as written (`00001` stays `00001`); integral floats lose `.0`."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    out = values.astype("string").str.strip()
    return out.mask(out == "")


def to_timestamp(values: pd.Series, date_format: str | None) -> pd.Series:
    """Naive UTC timestamps; unparseable values become NaT (counted by the caller)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[us]")
    text = values.astype("string").str.strip()
    if date_format:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    else:
        parsed = pd.to_datetime(text, format="mixed", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


#: a number written with a decimal comma (12,50 or 1.234,50): read as garbage unless
#: `decimal: ","` says so, which would silently drop rows
DECIMAL_COMMA = r"\s*-?\d{1,3}(\.\d{3})*,\d+\s*|\s*-?\d+,\d+\s*"


def to_number(values: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Floats; text is read with the shop's decimal mark and thousands separator. Values that
    are not numbers, and infinities (`inf`, `1e309`), become missing (counted by the caller)."""
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        text = values.astype("string").str.strip()
        if thousands:
            text = text.str.replace(thousands, "", regex=False)
        if decimal != ".":
            text = text.str.replace(".", "\x00", regex=False).str.replace(
                decimal, ".", regex=False)
        values = text
    number = pd.to_numeric(values, errors="coerce").astype("float64")
    return number.mask(~np.isfinite(number))


def _typed(frame: pd.DataFrame, table: str, report: TableReport, fmt: TableFormat,
           max_bad_date_share: float) -> pd.DataFrame:
    """Convert every column to its canonical type. Bad required values drop the row."""
    spec = TABLES[table]
    out = {}
    for col in frame.columns:
        kind = spec.columns[col]
        raw = frame[col]
        if kind == "id":
            out[col] = to_id(raw)
        elif kind == "ts":
            parsed = to_timestamp(raw, fmt.date_format)
            bad = parsed.isna() & raw.notna()
            if col in spec.required:
                bad = parsed.isna()
            share = bad.mean() if len(bad) else 0.0
            if bad.any() and share > max_bad_date_share:
                examples = ", ".join(repr(v) for v in raw[bad].head(5).tolist())
                raise ChurnError(
                    f"{report.source}: column '{col}': {int(bad.sum())} of {len(bad)} dates "
                    f"({share:.1%}) don't parse (first: {examples}); the limit is "
                    f"{max_bad_date_share:.1%} (data.max_bad_date_share). Set "
                    f"data.tables.{table}.date_format, e.g. '%Y%m%d'"
                )
            if bad.any() and col not in spec.required:
                report.fixed[f"unparseable_{col}_set_missing"] += int(bad.sum())
            out[col] = parsed
        elif kind == "num":
            number = to_number(raw, fmt.decimal, fmt.thousands)
            garbage = number.isna() & raw.notna()
            comma = garbage & raw.astype("string").str.fullmatch(DECIMAL_COMMA).fillna(False)
            share = comma.mean() if len(comma) else 0.0
            if share > max_bad_date_share:
                examples = ", ".join(repr(v) for v in raw[comma].head(5).tolist())
                raise ChurnError(
                    f"{report.source}: column '{col}': {int(comma.sum())} of {len(raw)} "
                    f"values ({share:.1%}) are written with a decimal comma (first: "
                    f"{examples}); set data.tables.{table}.decimal: ',' (and thousands: '.')")
            if garbage.any() and col not in spec.required:
                report.fixed[f"non_numeric_{col}_set_missing"] += int(garbage.sum())
            out[col] = number
        else:
            out[col] = raw.astype("string").str.strip().str.lower().replace("", pd.NA)
    typed = pd.DataFrame(out, index=frame.index)
    for col, kind in spec.required.items():
        missing = typed[col].isna()
        reason = {"ts": f"unparseable_{col}", "num": f"missing_{col}"}.get(kind, f"missing_{col}")
        typed = report.drop(typed, missing, reason)
    return typed.astype({c: canonical_dtype(spec.columns[c]) for c in typed.columns})


def clean_orders(frame: pd.DataFrame, report: TableReport, fmt: TableFormat = TableFormat(),
                 max_bad_date_share: float = 0.01) -> pd.DataFrame:
    report.rows_read = len(frame)
    frame = report.drop(frame, frame.duplicated(keep="first"), "exact_duplicate_rows")
    orders = _typed(frame, "orders", report, fmt, max_bad_date_share)

    status = orders["status"] if "status" in orders else pd.Series(pd.NA, index=orders.index,
                                                                       dtype="string")
    status = status.replace(STATUS_SYNONYMS).fillna("completed")
    unknown = ~status.isin(ORDER_STATUSES)
    if unknown.any():
        report.fixed["unknown_status_as_completed"] += int(unknown.sum())
        report.notes.append(
            f"unknown status values {sorted(status[unknown].unique().tolist())[:5]} "
            "read as 'completed'")
        status = status.mask(unknown, "completed")
    negative = orders["amount"] < 0
    neg_completed = negative & (status == "completed")
    if neg_completed.any():
        report.fixed["negative_amount_as_return"] += int(neg_completed.sum())
        status = status.mask(neg_completed, "returned")
    if (negative & ~neg_completed).any():
        report.fixed["negative_amount_sign"] += int((negative & ~neg_completed).sum())
    orders = orders.assign(amount=orders["amount"].abs(), status=status.astype("string"))
    for col in ("quantity", "discount"):
        if col in orders:
            bad = orders[col] < 0
            if bad.any():
                report.fixed[f"negative_{col}_set_missing"] += int(bad.sum())
                orders[col] = orders[col].mask(bad)

    if "order_id" not in orders:
        orders.insert(0, "order_id", pd.Series(
            [f"o{i}" for i in range(len(orders))], index=orders.index, dtype="string"))
        report.notes.append("no order_id column: ids generated from row order")
    else:
        missing = orders["order_id"].isna()
        if missing.any():
            orders.loc[missing, "order_id"] = [f"gen{i}" for i in range(int(missing.sum()))]
            report.fixed["missing_order_id_generated"] += int(missing.sum())
        orders = report.drop(orders, orders["order_id"].duplicated(keep="first"),
                             "duplicate_order_id")
    orders = orders.sort_values(["order_ts", "customer_id"], kind="stable")
    report.rows_kept = len(orders)
    return orders.reset_index(drop=True)


def clean_table(table: str, frame: pd.DataFrame, report: TableReport,
                fmt: TableFormat = TableFormat(), max_bad_date_share: float = 0.01
                ) -> pd.DataFrame:
    """Canonical form of an optional table (orders has its own rules: `clean_orders`)."""
    report.rows_read = len(frame)
    frame = report.drop(frame, frame.duplicated(keep="first"), "exact_duplicate_rows")
    out = _typed(frame, table, report, fmt, max_bad_date_share)
    if table == "order_items":
        out = report.drop(out, out["quantity"] <= 0, "non_positive_quantity")
        out = report.drop(out, out["unit_price"] < 0, "negative_unit_price")
        if "discount" in out:
            out["discount"] = out["discount"].abs()
    elif table == "products":
        out = report.drop(out, out["product_id"].duplicated(keep="first"), "duplicate_product_id")
        for col in ("list_price", "unit_cost"):
            if col in out:
                out[col] = out[col].mask(out[col] < 0)
    elif table == "reviews":
        out = report.drop(out, ~out["rating"].between(1, 5), "rating_out_of_range")
    elif table == "returns" and "amount" in out:
        out["amount"] = out["amount"].abs()
    elif table == "contacts":
        group = out["group"].replace(GROUP_SYNONYMS)
        out = report.drop(out.assign(group=group), ~group.isin(CONTACT_GROUPS),
                          "unknown_contact_group")
        if "cost" in out:
            out["cost"] = out["cost"].abs()
    report.rows_kept = len(out)
    return out.reset_index(drop=True)


def drop_unknown_orders(frame: pd.DataFrame, orders: pd.DataFrame,
                        report: TableReport) -> pd.DataFrame:
    """Rows pointing to orders that are not in the orders table cannot be attributed: drop them."""
    out = report.drop(frame, ~frame["order_id"].isin(orders["order_id"]), "unknown_order_id")
    report.rows_kept = len(out)
    return out.reset_index(drop=True)


def drop_future_rows(frame: pd.DataFrame, column: str, last_order_ts: pd.Timestamp,
                     report: TableReport) -> pd.DataFrame:
    """Events after the day of the data's last order are clock or export errors: drop them."""
    end_of_day = last_order_ts.normalize() + pd.Timedelta(days=1)
    out = report.drop(frame, frame[column] >= end_of_day, "after_last_order_date")
    report.rows_kept = len(out)
    return out.reset_index(drop=True)
