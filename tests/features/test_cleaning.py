"""Cleaning rules: platform statuses and the shop's own map, and the one limit on losses."""

from __future__ import annotations

import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import TableFormat
from features.cleaning import TableReport, clean_orders, clean_table

NOW = pd.Timestamp("2026-01-01")


def orders(statuses: list[str], **extra) -> pd.DataFrame:
    n = len(statuses)
    return pd.DataFrame({"customer_id": [str(i) for i in range(n)],
                         "order_ts": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
                         "amount": ["10"] * n, "status": statuses, **extra})


@pytest.mark.parametrize("word, status", [
    ("wc-completed", "completed"), ("processing", "completed"), ("failed", "cancelled"),
    ("pending", "cancelled"), ("On-Hold", "cancelled"), ("wc-on-hold", "cancelled"),
    ("refunded", "returned"), ("paid", "completed"), ("voided", "cancelled"),
    ("partially_refunded", "completed"), ("complete", "completed"),
    ("pending_payment", "cancelled"), ("canceled", "cancelled"), ("交易成功", "completed"),
    ("退款", "returned"), ("退款成功", "returned"), ("已取消", "cancelled"),
    ("交易关闭", "cancelled"), ("等待买家付款", "cancelled"), ("", "completed"),
])
def test_platform_statuses_are_read_as_the_contract_says(word, status):
    out = clean_orders(orders([word]), TableReport("o"), now=NOW)
    assert out["status"].tolist() == [status]


def test_unknown_statuses_over_the_limit_stop_with_values_and_counts():
    frame = orders(["closed"] * 3 + ["awaiting_pickup"] * 2 + ["completed"] * 5)
    with pytest.raises(ChurnError) as err:
        clean_orders(frame, TableReport("orders.csv"), max_bad_share=0.1, now=NOW)
    msg = str(err.value)
    assert "orders.csv: column 'status': 5 of 10 orders (50.0%)" in msg
    assert "'closed' 3, 'awaiting_pickup' 2" in msg and "status_map" in msg
    # the advice followed: the shop's map decides
    fmt = TableFormat(status_map={"Closed": "returned", "awaiting pickup": "completed"})
    out = clean_orders(frame, TableReport("o"), fmt, max_bad_share=0.1, now=NOW)
    assert out["status"].value_counts().to_dict() == {"completed": 7, "returned": 3}


def test_a_few_unknown_statuses_are_completed_and_counted():
    report = TableReport("o")
    out = clean_orders(orders(["weird"] + ["completed"] * 199), report, now=NOW)
    assert (out["status"] == "completed").all()
    assert report.fixed["unknown_status_as_completed"] == 1 and "'weird' 1" in report.notes[0]


def test_future_and_placeholder_order_dates_are_dropped_by_reason_and_checked():
    frame = orders(["completed"] * 4)
    frame["order_ts"] = ["2024-01-01", "2099-01-01", "1970-01-01", "2024-01-02"]
    report = TableReport("orders.csv")
    out = clean_orders(frame, report, now=NOW)
    assert out["order_ts"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]
    assert report.dropped == {"future_date": 1, "placeholder_date": 1}
    with pytest.raises(ChurnError) as err:
        report.check(0.3, "orders")
    msg = str(err.value)
    assert "column 'order_ts'" in msg and "2 of 4 rows (50.0%)" in msg
    assert "data.max_bad_share" in msg
    report.check(0.5, "orders")       # at the limit: counted, no error


def test_optional_values_set_missing_count_against_the_limit_too():
    frame = orders(["completed"] * 4, discount=["1.5", "10%", "20%", "2"])
    report = TableReport("orders.csv")
    out = clean_orders(frame, report, now=NOW)
    assert out["discount"].isna().sum() == 2
    assert report.fixed["non_numeric_discount_set_missing"] == 2
    with pytest.raises(ChurnError, match=r"column 'discount'.*'10%'.*'%' beside the number"):
        report.check(0.01, "orders")


def test_a_file_of_order_lines_given_as_orders_is_named():
    frame = orders(["completed"] * 4, order_id=["A", "A", "A", "B"])
    frame["amount"] = ["1", "2", "3", "4"]
    report = TableReport("orders.csv")
    clean_orders(frame, report, now=NOW)
    with pytest.raises(ChurnError, match="order_items"):
        report.check(0.01, "orders")


def test_contact_ids_take_the_same_spelling_as_orders():
    contacts = pd.DataFrame({"customer_id": ["001011", "1011.0", "1012"],
                             "contact_ts": ["2024-01-01"] * 3, "group": ["treatment"] * 3})
    out = clean_table("contacts", contacts, TableReport("c"), now=NOW)
    assert out["customer_id"].tolist() == ["1011", "1011", "1012"]
