"""Turn a mapped table into its canonical form: typed, de-duplicated, every dropped or fixed row
counted by reason. Pure functions: a frame in, a frame and a report out.

Nothing is lost without a count, and nothing much is lost at all: every row dropped and every
value set missing is charged to a column, and a column that loses more than
`data.max_bad_share` of its rows, for whatever reason, stops ingest with one line naming the
file, the column, the count, examples and what to set (`TableReport.check`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from common.errors import ChurnError
from common.ids import canonical_ids, lost_digits
from common.params import TableFormat
from features.contract import (
    CONTACT_GROUPS,
    GROUP_SYNONYMS,
    ORDER_STATUSES,
    STATUS_SYNONYMS,
    TABLES,
    canonical_dtype,
    status_key,
)
from features.dates import implausible, parse_dates
from features.numbers import parse_numbers

#: what to do about a column that lost too much, by reason (the first words of the reason)
ADVICE = {
    "lost_digits": "ids in scientific notation (1.23E+17) or stored as floats above 2**53 "
                   "have lost digits: export the ids as text",
    "future": "dates after today, or years after the rest of the data: fix them in the "
              "export, or raise data.max_bad_share to drop them",
    "placeholder": "1900-01-01 or 1970-01-01 stand for a missing date: fix them in the "
                   "export, or raise data.max_bad_share to drop them",
    "duplicate_order_id": "rows repeat an order_id with other values: a file of order lines "
                          "belongs in order_items (one row per order in orders)",
    "unknown_order_id": "they point to orders that are not in the orders table: are the "
                        "order ids spelled alike in both files, and from the same export?",
    "after_last_order_date": "they are dated after the last order: is the orders file older "
                             "than this one?",
}


def examples(values: pd.Series, n: int = 3) -> str:
    """A few distinct values, each cut short, for a one-line error."""
    values = values.dropna()
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.astype(str)
    return ", ".join(repr(str(v)[:30]) for v in pd.unique(values)[:n])


@dataclass
class TableReport:
    source: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    fixed: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    read_as: dict[str, str] = field(default_factory=dict)
    #: column -> reason -> rows dropped or values set missing (checked against the limit)
    lost: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    shown: dict[str, str] = field(default_factory=dict)    # reason -> examples
    hints: dict[str, str] = field(default_factory=dict)    # reason -> what to set

    def drop(self, frame: pd.DataFrame, mask: pd.Series, reason: str,
             column: str | None = None, raw: pd.Series | None = None,
             hint: str = "") -> pd.DataFrame:
        """Rows under `mask` leave the table, counted; charged to `column` when given."""
        n = int(mask.sum())
        if n:
            self.dropped[reason] += n
            if column:
                self.charge(column, reason, mask, raw if raw is not None else frame[column],
                            hint)
        return frame.loc[~mask]

    def charge(self, column: str, reason: str, mask: pd.Series, raw: pd.Series,
               hint: str = "") -> None:
        n = int(mask.sum())
        if n:
            self.lost[column][reason] += n
            self.shown.setdefault(reason, examples(raw[mask.reindex(raw.index,
                                                                    fill_value=False)]))
            if hint:
                self.hints.setdefault(reason, hint)

    def check(self, limit: float, table: str) -> None:
        """One line for the first column that lost more than `limit` of the table's rows."""
        rows = max(self.rows_read, 1)
        for column, reasons in self.lost.items():
            total = sum(reasons.values())
            if total / rows <= limit:
                continue
            reason, n = reasons.most_common(1)[0]
            advice = self.hints.get(reason) or next(
                (text for key, text in ADVICE.items() if reason.startswith(key)),
                "fix them in the export, or raise data.max_bad_share to drop them")
            raise ChurnError(
                f"{self.source}: column '{column}' of table '{table}': {total:,} of "
                f"{self.rows_read:,} rows ({total / rows:.1%}) dropped or set missing, "
                f"{n:,} as {reason} (e.g. {self.shown.get(reason) or 'empty'}); the limit is "
                f"{limit:.1%} (data.max_bad_share): {advice}")

    def as_dict(self) -> dict:
        return {"source": self.source, "rows_read": self.rows_read, "rows_kept": self.rows_kept,
                "dropped": dict(self.dropped), "fixed": dict(self.fixed), "notes": self.notes,
                "read_as": self.read_as}


#: what exports write for "no value"; read as missing in id, date and number columns (text
#: columns keep them: `NA` may be a region)
NULL_TOKENS = ("null", "none", "nan", "n/a", "#n/a", "<na>", "na", "nat", "-", "--")


def _nulls_as_missing(raw: pd.Series, kind: str) -> pd.Series:
    if not (pd.api.types.is_string_dtype(raw) or raw.dtype == object):
        return raw
    tokens = [t for t in NULL_TOKENS if not (kind == "id" and t in ("na", "-", "--"))]
    lowered = raw.astype("string").str.strip().str.lower()
    return raw.mask(lowered.isin(tokens).fillna(False))


def _present(raw: pd.Series) -> pd.Series:
    """Values the file actually holds (not empty)."""
    if pd.api.types.is_string_dtype(raw) or raw.dtype == object:
        return raw.notna() & (raw.astype("string").str.strip() != "").fillna(False)
    return raw.notna()


def _typed(frame: pd.DataFrame, table: str, report: TableReport, fmt: TableFormat,
           now: pd.Timestamp) -> pd.DataFrame:
    """Convert every column to its canonical type. A required value that is missing or bad
    drops the row; an optional one is set missing. Both are counted and charged."""
    spec = TABLES[table]
    setting = f"data.tables.{table}"
    out, why = {}, {}      # why: column -> [(reason, mask)] for rows a required value lacks
    for col in frame.columns:
        kind, raw = spec.columns[col], frame[col]
        if kind != "text":
            raw = _nulls_as_missing(raw, kind)
        where = f"{report.source}: column '{col}'"
        present = _present(raw)
        flags: list[tuple[str, pd.Series, str]] = []
        if kind == "id":
            lost = lost_digits(raw)
            value = canonical_ids(raw).mask(lost)
            flags.append((f"lost_digits_{col}", lost, ""))
        elif kind == "ts":
            dates = parse_dates(raw, fmt.date_format, where, f"{setting}.date_format")
            report.read_as[col] = dates.how
            future, placeholder = implausible(dates.values, now)
            value = dates.values.mask(future | placeholder)
            hint = (f"{dates.hint}; " if dates.hint else "") + \
                f"set {setting}.date_format (dayfirst, monthfirst, epoch_s, '%d.%m.%Y' ...)"
            flags += [("future_date" if col in spec.required else f"future_{col}", future, ""),
                      ("placeholder_date" if col in spec.required else f"placeholder_{col}",
                       placeholder, ""),
                      (f"unparseable_{col}", present & dates.values.isna(), hint)]
        elif kind == "num":
            numbers = parse_numbers(raw, fmt.decimal, fmt.thousands, where, setting)
            report.read_as[col] = numbers.how
            value = numbers.values
            reason = f"missing_{col}" if col in spec.required else f"non_numeric_{col}"
            flags.append((reason, present & value.isna(), numbers.hint))
        else:
            value = raw.astype("string").str.strip().str.lower().replace("", pd.NA)
        taken = pd.Series(False, index=frame.index)
        for reason, mask, hint in flags:
            mask = mask & ~taken
            taken |= mask
            if col in spec.required:
                why.setdefault(col, []).append((reason, mask))
                report.charge(col, reason, mask, raw, hint)
            elif mask.any():
                report.fixed[f"{reason}_set_missing"] += int(mask.sum())
                report.charge(col, f"{reason}_set_missing", mask, raw, hint)
        out[col] = value
    typed = pd.DataFrame(out, index=frame.index)
    for col, kind in spec.required.items():
        for reason, mask in why.get(col, []):
            n = int(mask.reindex(typed.index, fill_value=False).sum())
            if n:
                report.dropped[reason] += n
            typed = typed.loc[~mask.reindex(typed.index, fill_value=False)]
        missing = typed[col].isna()
        reason = {"ts": f"unparseable_{col}"}.get(kind, f"missing_{col}")
        typed = report.drop(typed, missing, reason, col, frame[col])
    return typed.astype({c: canonical_dtype(spec.columns[c]) for c in typed.columns})


def read_statuses(status: pd.Series, fmt: TableFormat, report: TableReport,
                  limit: float) -> pd.Series:
    """The contract's status for every order: the shop's status_map first, then the platforms'
    synonyms; empty is completed. More unknown values than `limit` stop with the list."""
    mapping = {**STATUS_SYNONYMS, **{status_key(k): v for k, v in fmt.status_map.items()}}
    codes, values = pd.factorize(status.fillna("completed"))
    known = pd.Series([mapping.get(status_key(v)) for v in values], dtype="string").take(
        codes).set_axis(status.index)
    unknown = known.isna()
    if unknown.any():
        counts = status[unknown].value_counts()
        listed = ", ".join(f"{v!r} {n:,}" for v, n in counts.head(8).items())
        share = unknown.mean()
        if share > limit:
            more = f" and {len(counts) - 8} more" if len(counts) > 8 else ""
            raise ChurnError(
                f"{report.source}: column 'status': {int(unknown.sum()):,} of {len(status):,} "
                f"orders ({share:.1%}) have statuses I don't know: {listed}{more}; map them in "
                f"data.tables.orders.status_map, e.g. {{{counts.index[0]!s}: completed}} "
                "(completed, returned or cancelled)")
        report.fixed["unknown_status_as_completed"] += int(unknown.sum())
        report.notes.append(f"unknown status values read as 'completed': {listed}")
    return known.fillna("completed").astype("string")


def clean_orders(frame: pd.DataFrame, report: TableReport, fmt: TableFormat = TableFormat(),
                 max_bad_share: float = 0.01, now: pd.Timestamp | None = None
                 ) -> pd.DataFrame:
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    report.rows_read = len(frame)
    frame = report.drop(frame, frame.duplicated(keep="first"), "exact_duplicate_rows")
    orders = _typed(frame, "orders", report, fmt, now)
    status = pd.Series(pd.NA, index=orders.index, dtype="string")
    if "status" in orders:       # as the shop wrote it, for the error's list
        status = frame.loc[orders.index, "status"].astype("string").str.strip()
        status = status.mask(status == "")
    status = read_statuses(status, fmt, report, max_bad_share)
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
                             "duplicate_order_id", "order_id")
    report.rows_kept = len(orders)
    return sorted_orders(orders)


def sorted_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders by time, then customer, ties in file order (a stable sort; Arrow's, which
    orders text by code point as pandas does, without factorizing the ids)."""
    keys = pa.table({"ts": pa.array(orders["order_ts"]),
                     "customer": pa.array(orders["customer_id"], type=pa.string())})
    order = pc.sort_indices(keys, sort_keys=[("ts", "ascending"), ("customer", "ascending")])
    return orders.take(order.to_numpy()).reset_index(drop=True)


def clean_table(table: str, frame: pd.DataFrame, report: TableReport,
                fmt: TableFormat = TableFormat(), now: pd.Timestamp | None = None
                ) -> pd.DataFrame:
    """Canonical form of an optional table (orders has its own rules: `clean_orders`)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    report.rows_read = len(frame)
    frame = report.drop(frame, frame.duplicated(keep="first"), "exact_duplicate_rows")
    out = _typed(frame, table, report, fmt, now)
    if table == "order_items":
        out = report.drop(out, out["quantity"] <= 0, "non_positive_quantity", "quantity")
        out = report.drop(out, out["unit_price"] < 0, "negative_unit_price", "unit_price")
        if "discount" in out:
            out["discount"] = out["discount"].abs()
    elif table == "products":
        out = report.drop(out, out["product_id"].duplicated(keep="first"),
                          "duplicate_product_id", "product_id")
        for col in ("list_price", "unit_cost"):
            if col in out:
                out[col] = out[col].mask(out[col] < 0)
    elif table == "reviews":
        out = report.drop(out, ~out["rating"].between(1, 5), "rating_out_of_range", "rating")
    elif table == "returns" and "amount" in out:
        out["amount"] = out["amount"].abs()
    elif table == "contacts":
        group = out["group"].replace(GROUP_SYNONYMS)
        out = report.drop(out.assign(group=group), ~group.isin(CONTACT_GROUPS),
                          "unknown_contact_group", "group")
        if "cost" in out:
            out["cost"] = out["cost"].abs()
    report.rows_kept = len(out)
    return out.reset_index(drop=True)


def drop_unknown_orders(frame: pd.DataFrame, orders: pd.DataFrame,
                        report: TableReport) -> pd.DataFrame:
    """Rows pointing to orders that are not in the orders table cannot be attributed: drop them."""
    out = report.drop(frame, ~frame["order_id"].isin(orders["order_id"]), "unknown_order_id",
                      "order_id")
    report.rows_kept = len(out)
    return out.reset_index(drop=True)


def drop_future_rows(frame: pd.DataFrame, column: str, last_order_ts: pd.Timestamp,
                     report: TableReport) -> pd.DataFrame:
    """Events after the day of the data's last order are clock or export errors: drop them."""
    end_of_day = last_order_ts.normalize() + pd.Timedelta(days=1)
    late = frame[column] >= end_of_day
    if late.any():
        report.hints.setdefault("after_last_order_date", (
            f"they are dated after the last order ({last_order_ts.date()}): is the orders "
            "file older than this one?"))
    out = report.drop(frame, late, "after_last_order_date", column)
    report.rows_kept = len(out)
    return out.reset_index(drop=True)


__all__ = ["ORDER_STATUSES", "TableReport", "clean_orders", "clean_table",
           "drop_future_rows", "drop_unknown_orders", "examples", "read_statuses"]
