"""Cause evidence on a hand-computed tiny shop: returns and their reasons, ratings and
complaints in the last orders, engagement after the last order, page types, point in time."""

from __future__ import annotations

import math
from datetime import date

import ibis
import pandas as pd
import pytest

from features.evidence import (
    DEFAULT_VOCABULARY,
    TEXT_CAUSES,
    evidence,
    evidence_columns,
    keyword_pattern,
    with_evidence,
)

T = date(2024, 6, 1)
T_EARLY = date(2024, 4, 1)
AS_OF = date(2024, 9, 1)
ts = pd.to_datetime


def tiny_shop() -> dict[str, pd.DataFrame]:
    """A: three orders (the last returned by status), a return of the second as damaged, a
    1-star review, a complaint about late delivery, then a sale-page visit and an e-mail open.
    B: one order returned as "found cheaper", a visit before it, a review after the cutoff.
    C: one order, a cancelled one, a coupon and a new-arrivals visit after it, a return and a
    visit after the cutoff. D: events only."""
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "customer_id": ["A", "A", "A", "B", "C", "C"],
        "order_ts": ts(["2024-01-10 10:00", "2024-03-01 11:00", "2024-05-01 12:00",
                        "2024-02-01 09:00", "2024-01-05 08:00", "2024-04-01 08:00"]),
        "amount": [50.0, 60.0, 40.0, 30.0, 20.0, 25.0],
        "status": ["completed", "completed", "returned", "completed", "completed",
                   "cancelled"],
    })
    returns = pd.DataFrame({
        "order_id": ["o2", "o4", "o5"],
        "return_ts": ts(["2024-03-10", "2024-02-05", "2024-07-01"]),
        "amount": [60.0, 30.0, 20.0],
        "reason": ["arrived damaged", "found cheaper", "poor quality"],
    })
    reviews = pd.DataFrame({
        "customer_id": ["A", "A", "B"],
        "review_ts": ts(["2024-01-15", "2024-03-05", "2024-07-01"]),
        "rating": [5.0, 1.0, 2.0],
    })
    events = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "B", "C", "C", "C", "D"],
        "event_ts": ts(["2024-05-03 10:00", "2024-05-10 10:00", "2024-05-20 10:00",
                        "2024-06-15 10:00", "2024-01-01 10:00", "2024-03-01 10:00",
                        "2024-03-01 11:00", "2024-08-01 10:00", "2024-05-01 10:00"]),
        "event_type": ["complaint", "visit", "email_open", "visit", "visit", "coupon_claim",
                       "visit", "visit", "visit"],
        "detail": ["late delivery", "sale", None, "new arrivals", None, None, "new-arrivals",
                   "sale", "sale"],
    })
    return {"orders": orders, "returns": returns, "reviews": reviews, "events": events}


def run(tables: dict[str, pd.DataFrame], cutoffs=(T,), vocabulary=None) -> pd.DataFrame:
    expr = evidence({k: ibis.memtable(v) for k, v in tables.items()}, list(cutoffs), AS_OF,
                    vocabulary)
    out = ibis.duckdb.connect().execute(expr)
    out["cutoff"] = pd.to_datetime(out["cutoff"]).dt.date
    return out.set_index(["customer_id", "cutoff"]).sort_index()


@pytest.fixture(scope="module")
def ev() -> pd.DataFrame:
    return run(tiny_shop(), cutoffs=(T_EARLY, T))


def test_one_row_per_customer_with_an_order_and_cutoff(ev):
    assert list(ev.loc[(slice(None), T), :].index.get_level_values(0)) == ["A", "B", "C"]
    assert list(ev.loc[(slice(None), T_EARLY), :].index.get_level_values(0)) == ["A", "B", "C"]


def test_customer_a_bad_episode_before_the_lapse(ev):
    a = ev.loc[("A", T)]
    assert a.ev_orders == 3                      # the returned-status order counts as an order
    assert a.days_since_last_order == 31         # 2024-05-01 -> 2024-06-01
    assert a.ev_returned_orders == 2             # o2 (returns row) and o3 (status)
    assert a.returns_in_episode == 2             # both among the last two orders
    assert a.return_reason_satisfaction == 1     # "arrived damaged"
    assert a.return_reason_price == 0 and a.return_reason_other == 0
    assert a.last_return_reason == "arrived damaged"
    assert a.low_ratings_in_episode == 1         # 1 star on 03-05, after the 03-01 order
    assert a.min_rating_in_episode == 1          # the 5 stars of 01-15 are before the episode
    assert a.complaints_in_episode == 1
    assert a.complaint_satisfaction == 1 and a.last_complaint_detail == "late delivery"


def test_customer_a_behaviour_after_the_last_order(ev):
    a = ev.loc[("A", T)]
    # the complaint (05-03) is not engagement; the 06-15 visit is after the cutoff
    assert (a.post_visits, a.post_email_opens, a.post_events) == (1, 1, 2)
    assert a.post_active_days == 2
    assert a.post_engaged_days == 19             # 05-01 -> 05-20
    assert a.detail_price == 1 and a.post_detail_price == 1      # the sale page
    assert a.detail_choice == 0 and a.post_detail_choice == 0    # new arrivals: after T


def test_an_earlier_cutoff_sees_only_its_past(ev):
    a = ev.loc[("A", T_EARLY)]
    assert a.ev_orders == 2 and a.days_since_last_order == 31    # 03-01 -> 04-01
    assert a.ev_returned_orders == 1 and a.returns_in_episode == 1
    assert a.low_ratings_in_episode == 1 and a.min_rating_in_episode == 1
    assert a.post_events == 0 and a.complaints_in_episode == 0


def test_customer_b_one_order_found_cheaper_then_silence(ev):
    b = ev.loc[("B", T)]
    assert b.ev_orders == 1 and b.days_since_last_order == 121
    assert b.returns_in_episode == 1 and b.return_reason_price == 1
    assert b.last_return_reason == "found cheaper"
    assert b.low_ratings_in_episode == 0 and math.isnan(b.min_rating_in_episode)  # review: T+
    assert b.post_events == 0 and b.post_engaged_days == 0       # the visit was before


def test_customer_c_after_cutoff_rows_and_cancelled_orders_are_ignored(ev):
    c = ev.loc[("C", T)]
    assert c.ev_orders == 1                      # o6 was cancelled
    assert c.days_since_last_order == 148        # 01-05 -> 06-01
    assert c.ev_returned_orders == 0             # the return of 07-01 is after T
    assert (c.post_coupon_claims, c.post_visits, c.post_active_days) == (1, 1, 1)
    assert c.post_engaged_days == 56             # 01-05 -> 03-01
    assert c.post_detail_choice == 1             # "new-arrivals" reads as "new arrivals"
    assert c.detail_price == 0                   # the sale visit of 08-01 is after T


def test_missing_tables_leave_their_columns_out():
    tables = tiny_shop()
    orders_only = run({"orders": tables["orders"].drop(columns="status")})
    assert {"ev_orders", "days_since_last_order"} <= set(orders_only.columns)
    assert not any(c.startswith(("return", "post_", "complaint", "low_rating"))
                   for c in orders_only.columns)
    no_detail = run({"orders": tables["orders"],
                     "events": tables["events"].drop(columns="detail")})
    assert "post_visits" in no_detail.columns and "detail_price" not in no_detail.columns
    assert "returns_in_episode" in no_detail.columns   # orders.status alone says "returned"


def test_the_vocabulary_is_configurable():
    out = run(tiny_shop(), vocabulary={"choice": ["damaged"], "price": []})
    a = out.loc[("A", T)]
    assert a.return_reason_choice == 1 and a.return_reason_satisfaction == 0
    assert a.detail_price == 0
    with pytest.raises(ValueError, match="vocabulary keys"):
        run(tiny_shop(), vocabulary={"weather": ["rain"]})


def test_keywords_match_whole_words_only():
    import re

    pattern = keyword_pattern(["sale", "late", "new arrivals"])
    assert re.search(pattern, "summer sale")
    assert re.search(pattern, "new  arrivals")
    assert not re.search(pattern, "wholesale")
    assert not re.search(pattern, "latest")
    assert keyword_pattern([]) is None
    assert set(DEFAULT_VOCABULARY) == set(TEXT_CAUSES)


def test_evidence_joins_onto_the_features(small_shop):
    from features.engine import build

    tables, _ = small_shop
    as_of = tables["orders"]["order_ts"].max().date()
    cutoff = date(as_of.year - 1, as_of.month, 1)
    mem = {k: ibis.memtable(v) for k, v in tables.items()}
    features, _ = build(mem, [cutoff], as_of)
    frame = ibis.duckdb.connect().execute(with_evidence(features, evidence(mem, [cutoff],
                                                                           as_of)))
    cols = evidence_columns(frame.columns)
    assert len(frame) == frame[["customer_id", "cutoff"]].drop_duplicates().shape[0]
    assert frame["ev_orders"].notna().all() and (frame["ev_orders"] >= frame["frequency"]).all()
    assert {"post_visits", "returns_in_episode", "return_reason_satisfaction"} <= set(cols)
    # after the last order there can't be more visits than the features count since then
    assert (frame["post_visits"] == frame["visits_since_last_order"]).mean() > 0.95
