"""The data contract: canonical tables, their columns and types, and pandera schemas for them.

Only `orders` is required. Each optional table, when present, unlocks more features.
Column kinds: `id` (text in one spelling: `1419`, `1419.0` and `001419` are `1419`, see
common/ids.py), `ts` (timestamp, naive UTC), `num` (float), `text` (free text, lower-cased
category values where noted). docs/data-contract.md describes it for users.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

ORDER_STATUSES = ("completed", "returned", "cancelled")
#: the shop platforms' own order statuses -> the contract's. `cancelled` is every order that
#: is no purchase: cancelled, failed, voided, or never paid (pending, on hold). Keys are written
#: as `status_key` spells them. Ambiguous words (`closed`: archived on Shopify, refunded on
#: Magento; `new`) are left out on purpose: map them in data.tables.orders.status_map.
STATUS_SYNONYMS = {
    # generic
    "complete": "completed", "completed": "completed", "paid": "completed",
    "shipped": "completed", "delivered": "completed", "ok": "completed",
    "success": "completed", "successful": "completed", "done": "completed",
    "return": "returned", "returned": "returned", "refund": "returned", "refunded": "returned",
    "cancel": "cancelled", "canceled": "cancelled", "cancelled": "cancelled",
    "void": "cancelled", "voided": "cancelled", "failed": "cancelled",
    "declined": "cancelled", "rejected": "cancelled", "expired": "cancelled",
    "abandoned": "cancelled", "unpaid": "cancelled",
    # Shopify (financial and fulfillment statuses)
    "authorized": "completed", "partially_paid": "completed",
    "partially_refunded": "completed", "fulfilled": "completed", "partial": "completed",
    "unfulfilled": "completed", "restocked": "returned",
    # WooCommerce (also with its `wc-` prefix)
    "processing": "completed", "pending": "cancelled", "on_hold": "cancelled",
    "checkout_draft": "cancelled", "draft": "cancelled", "trash": "cancelled",
    # Magento
    "pending_payment": "cancelled", "payment_review": "cancelled", "holded": "cancelled",
    "fraud": "cancelled", "suspected_fraud": "cancelled",
    # Taobao, Tmall, JD (交易 = trade, 退款 = refund, 取消 = cancel, 关闭 = closed before paying)
    "交易成功": "completed", "已完成": "completed", "完成": "completed", "已签收": "completed",
    "已收货": "completed", "确认收货": "completed", "已发货": "completed",
    "卖家已发货": "completed", "等待买家确认收货": "completed", "买家已付款": "completed",
    "已付款": "completed", "等待卖家发货": "completed", "待发货": "completed",
    "退款": "returned", "退款成功": "returned", "已退款": "returned", "退货": "returned",
    "已退货": "returned", "退款中": "returned", "退货退款": "returned",
    "已取消": "cancelled", "取消": "cancelled", "交易关闭": "cancelled",
    "已关闭": "cancelled", "交易取消": "cancelled", "等待买家付款": "cancelled",
    "待付款": "cancelled", "未付款": "cancelled", "付款失败": "cancelled",
}


def status_key(value: str) -> str:
    """How a status is compared: lower case, blanks, dashes and underscores alike, without
    WooCommerce's `wc-` prefix (`On-Hold`, `wc-on-hold` and `on hold` are one status)."""
    key = re.sub(r"[\s_-]+", "_", str(value).strip().lower()).strip("_")
    return key[3:] if key.startswith("wc_") else key


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    #: the timestamp column compared with the data's last order date (future rows are dropped)
    event_time: str | None = None

    @property
    def columns(self) -> dict[str, str]:
        return {**self.required, **self.optional}


TABLES: dict[str, TableSpec] = {
    "orders": TableSpec(
        "orders",
        required={"customer_id": "id", "order_ts": "ts", "amount": "num"},
        optional={"order_id": "id", "quantity": "num", "discount": "num", "status": "text",
                  "channel": "text"},
    ),
    "order_items": TableSpec(
        "order_items",
        required={"order_id": "id", "product_id": "id", "quantity": "num", "unit_price": "num"},
        optional={"discount": "num"},
    ),
    "products": TableSpec(
        "products",
        required={"product_id": "id"},
        optional={"category": "text", "list_price": "num", "unit_cost": "num",
                  "launch_date": "ts"},
    ),
    "returns": TableSpec(
        "returns",
        required={"order_id": "id", "return_ts": "ts"},
        optional={"amount": "num", "reason": "text"},
        event_time="return_ts",
    ),
    "reviews": TableSpec(
        "reviews",
        required={"customer_id": "id", "review_ts": "ts", "rating": "num"},
        optional={"order_id": "id"},
        event_time="review_ts",
    ),
    "events": TableSpec(
        "events",
        required={"customer_id": "id", "event_ts": "ts", "event_type": "text"},
        optional={"detail": "text"},
        event_time="event_ts",
    ),
    "contacts": TableSpec(
        "contacts",
        required={"customer_id": "id", "contact_ts": "ts", "group": "text"},
        optional={"action": "text", "campaign_id": "id", "offer": "text", "channel": "text",
                  "cost": "num", "propensity": "num"},
        event_time="contact_ts",
    ),
    "customers": TableSpec(   # attributes: current values, one row per customer
        "customers",
        required={"customer_id": "id"},
        optional={"signup_ts": "ts", "region": "text", "acquisition_channel": "text",
                  "birth_year": "num", "gender": "text"},
    ),
    "labels": TableSpec(   # known causes for some customers: exit surveys, cancellation reasons
        "labels",
        required={"customer_id": "id", "label_ts": "ts", "cause": "text"},
    ),
}
OPTIONAL_TABLES = tuple(name for name in TABLES if name != "orders")
CONTACT_GROUPS = ("treatment", "control")
GROUP_SYNONYMS = {"test": "treatment", "treated": "treatment", "target": "treatment",
                  "contacted": "treatment", "holdout": "control", "hold-out": "control",
                  "hold_out": "control", "ctrl": "control", "no_contact": "control"}

_DTYPES = {"id": "string", "ts": "datetime64[us]", "num": "float64", "text": "string"}
_CHECKS: dict[tuple[str, str], list[pa.Check]] = {
    ("orders", "amount"): [pa.Check.ge(0)],
    ("orders", "status"): [pa.Check.isin(ORDER_STATUSES)],
    ("orders", "quantity"): [pa.Check.ge(0)],
    ("orders", "discount"): [pa.Check.ge(0)],
    ("order_items", "quantity"): [pa.Check.gt(0)],
    ("order_items", "unit_price"): [pa.Check.ge(0)],
    ("reviews", "rating"): [pa.Check.in_range(1, 5)],
    ("contacts", "group"): [pa.Check.isin(CONTACT_GROUPS)],
    ("contacts", "cost"): [pa.Check.ge(0)],
    ("contacts", "propensity"): [pa.Check.gt(0), pa.Check.le(1)],
    ("labels", "cause"): [pa.Check.isin(("forgot", "satisfaction", "choice", "price",
                                         "other"))],
}
_UNIQUE = {"orders": ["order_id"], "products": ["product_id"], "customers": ["customer_id"]}


def canonical_dtype(kind: str) -> str:
    return _DTYPES[kind]


def schema(table: str, present: list[str] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a canonical table; `present` limits it to the columns a shop has."""
    spec = TABLES[table]
    cols = {}
    for col, kind in spec.columns.items():
        if present is None or col in present:
            cols[col] = pa.Column(_DTYPES[kind], checks=_CHECKS.get((table, col), []),
                                  nullable=col not in spec.required)
    unique = [c for c in _UNIQUE.get(table, []) if present is None or c in present]
    return pa.DataFrameSchema(cols, strict=True, unique=unique or None)


def validate(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Check a canonical frame against the contract; raises pandera's SchemaErrors (lazy)."""
    return schema(table, list(frame.columns)).validate(frame, lazy=True)


def ibis_schema(table: str, present: list[str]):
    """The same contract as a pandera schema for Ibis tables, so it is checked where the data
    lives (DuckDB or Spark). Types are checked by kind; uniqueness only in pandas (ingest)."""
    import ibis.expr.datatypes as dt
    import pandera.ibis as pai

    # timestamps: any precision (Spark reports no scale); `ts_columns_ok` checks the kind
    kinds = {"id": dt.string, "ts": None, "num": dt.float64, "text": dt.string}
    spec = TABLES[table]
    return pai.DataFrameSchema({
        col: pai.Column(kinds[kind], checks=_CHECKS.get((table, col), []),
                        nullable=col not in spec.required)
        for col, kind in spec.columns.items() if col in present})
