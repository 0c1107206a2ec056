"""Features on a hand-computed tiny shop, leakage, label boundaries, and an orders-only shop."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from common.params import FeatureParams
from features.cutoffs import training_cutoffs
from features.engine import _sale_weeks, build, completed_orders, quintiles
from features.registry import BY_NAME, REGISTRY, available, markdown_table

T = date(2024, 3, 1)
AS_OF = date(2024, 12, 31)
ts = pd.to_datetime


def tiny_shop() -> dict[str, pd.DataFrame]:
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o5", "o4"],
        "customer_id": ["A", "A", "A", "A", "B"],
        "order_ts": ts(["2024-01-01 10:00", "2024-01-11 09:00", "2024-02-10 12:00",
                        "2024-06-01 08:00", "2024-01-20 15:00"]),
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        "discount": [0.0, 0.0, 5.0, 0.0, 0.0],
        "status": ["completed"] * 5,
    })
    items = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4", "o5"],
                          "product_id": ["P1", "P2", "P1", "P3", "P2"],
                          "quantity": [1.0, 2.0, 1.0, 1.0, 1.0],
                          "unit_price": [10.0, 10.0, 30.0, 50.0, 40.0]})
    products = pd.DataFrame({"product_id": ["P1", "P2", "P3"], "category": ["x", "y", "x"],
                             "launch_date": ts(["2023-01-01", "2023-12-20", "2024-01-01"])})
    returns = pd.DataFrame({"order_id": ["o2"], "return_ts": ts(["2024-01-20"]), "amount": [8.0]})
    reviews = pd.DataFrame({"customer_id": ["A", "A", "A"],
                            "review_ts": ts(["2024-01-15", "2024-02-20", "2024-03-10"]),
                            "rating": [5.0, 2.0, 1.0]})
    events = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "A", "B"],
        "event_ts": ts(["2024-02-15", "2024-02-20", "2024-03-05", "2024-01-05", "2024-02-25",
                        "2024-01-21"]),
        "event_type": ["visit", "visit", "visit", "email_open", "complaint", "favorite"],
    })
    return {"orders": orders, "order_items": items, "products": products, "returns": returns,
            "reviews": reviews, "events": events}


def compute(frames: dict[str, pd.DataFrame], cutoffs=(T,), as_of=AS_OF, horizon_days=365,
            **params) -> tuple[pd.DataFrame, list[str]]:
    tables = {name: ibis.memtable(frame) for name, frame in frames.items()}
    expr, names = build(tables, list(cutoffs), as_of, FeatureParams(**params), horizon_days)
    out = ibis.duckdb.connect().execute(expr)
    return out.set_index(["customer_id", out["cutoff"].dt.date]), names


def test_every_feature_on_a_hand_computed_shop():
    out, names = compute(tiny_shop(), horizon_days=90)
    # every feature but the customer attributes (their own test): the tiny shop has no such table
    assert set(names) == {f.name for f in REGISTRY
                          if not any(n.startswith("customers") for n in f.needs)}
    a, b = out.loc[("A", T)], out.loc[("B", T)]
    expected_a = {
        "recency_days": 20, "frequency": 3, "monetary_total": 60, "monetary_mean": 20,
        "monetary_max": 30, "tenure_days": 60, "first_order_value": 10, "one_time_buyer": 0,
        "gap_mean": 20, "gap_median": 20, "gap_std": np.sqrt(200), "last_gap": 30,
        "overdue_factor": 1.0, "gap_trend": 3.0, "last_order_value_ratio": 2.0,
        "orders_30d": 1, "orders_90d": 3, "orders_180d": 3, "orders_365d": 3,
        "spend_30d": 30, "spend_90d": 60, "spend_trend": 1.0,
        "discount_share": 1 / 3, "discount_depth": 5 / 65, "sale_week_share": 0.0,
        "distinct_products": 2, "distinct_categories": 2, "category_entropy": 1.0,
        "repeat_product_share": 1 / 3, "new_arrival_share": 1 / 3,
        "price_ratio": (10 / 30 + 10 / 10 + 30 / 30) / 3,
        "return_rate": 1 / 3, "returned_value_share": 8 / 68,
        "last_rating": 2, "mean_rating": 3.5, "low_ratings": 1,
        "visits_since_last_order": 2, "email_opens_since_last_order": 0,
        "email_clicks_since_last_order": 0, "visits_90d": 2, "email_opens_90d": 1,
        "complaints": 1, "days_since_last_complaint": 5, "days_since_last_event": 5,
        "favorited": 0, "browse_ratio": 0.5, "coupon_claims": 0,
        "r_score": 5, "f_score": 5, "m_score": 5, "rfm_score": 15,
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value), name
    assert a["membership_tier"] == "gold"
    expected_b = {"recency_days": 41, "frequency": 1, "one_time_buyer": 1, "favorited": 1,
                  "days_since_last_event": 40, "visits_since_last_order": 0,
                  "price_ratio": 50 / 30, "new_arrival_share": 1.0, "r_score": 1, "f_score": 1,
                  "m_score": 1, "return_rate": 0.0}
    for name, value in expected_b.items():
        assert b[name] == pytest.approx(value), name
    for name in ("gap_mean", "gap_std", "last_gap", "gap_trend", "last_rating",
                 "days_since_last_complaint", "last_order_value_ratio"):
        assert np.isnan(b[name]), name
    assert b["membership_tier"] == "bronze"


def test_labels_around_the_horizon_boundary():
    # A's next order is on 2024-06-01, 92 days after T: inside a 92-day horizon, outside 91.
    inside, _ = compute(tiny_shop(), horizon_days=92)
    outside, _ = compute(tiny_shop(), horizon_days=91)
    assert inside.loc[("A", T), "churned"] == 0
    assert outside.loc[("A", T), "churned"] == 1
    assert inside.loc[("B", T), "churned"] == 1


def test_scoring_snapshot_has_no_label_and_horizon_beyond_as_of_is_unlabelled():
    out, _ = compute(tiny_shop(), cutoffs=(T, AS_OF), horizon_days=90)
    assert out.loc[("A", AS_OF), "split"] == "score"
    assert pd.isna(out.loc[("A", AS_OF), "churned"])
    assert out.loc[("A", T), "split"] == "train"
    # an as_of that leaves the horizon incomplete leaves T unlabelled
    early, _ = compute(tiny_shop(), cutoffs=(T,), as_of=date(2024, 4, 1), horizon_days=90)
    assert early["split"].eq("score").all() and early["churned"].isna().all()


def test_only_customers_who_bought_by_the_cutoff_are_eligible():
    out, _ = compute(tiny_shop(), cutoffs=(date(2024, 1, 15),), horizon_days=90)
    assert list(out.index.get_level_values(0)) == ["A"]


def test_nothing_after_the_cutoff_changes_a_feature(small_shop):
    tables, _ = small_shop
    cutoff, as_of = date(2024, 6, 30), date(2025, 12, 31)
    before, names = compute(tables, cutoffs=(cutoff,), as_of=as_of, horizon_days=365)
    later = {}
    shift = pd.Timedelta(days=1)
    for name, frame in tables.items():
        col = {"orders": "order_ts", "returns": "return_ts", "reviews": "review_ts",
               "events": "event_ts"}.get(name)
        frame = frame.copy()
        if col:  # duplicate every row, moved just after the cutoff
            extra = frame.copy()
            extra[col] = pd.Timestamp(cutoff) + shift + pd.to_timedelta(
                np.arange(len(extra)) % 300, unit="D")
            if name == "orders":
                extra["order_id"] = extra["order_id"] + "_late"
            frame = pd.concat([frame, extra], ignore_index=True)
        later[name] = frame
    items_late = tables["order_items"].assign(order_id=lambda f: f.order_id + "_late")
    later["order_items"] = pd.concat([tables["order_items"], items_late], ignore_index=True)
    after, _ = compute(later, cutoffs=(cutoff,), as_of=as_of, horizon_days=365)
    before, after = before.sort_index(), after.sort_index()
    pd.testing.assert_frame_equal(before[names + ["membership_tier"]],
                                  after[names + ["membership_tier"]])
    assert (after["churned"] <= before["churned"]).all()  # labels may only see the future


def test_a_shop_with_only_the_three_required_order_columns():
    orders = tiny_shop()["orders"][["customer_id", "order_ts", "amount"]]
    out, names = compute({"orders": orders}, horizon_days=90)
    assert "one_time_buyer" in names and "visits_since_last_order" not in names
    assert not {BY_NAME[n].needs for n in names} - {()}
    assert out.loc[("A", T), "frequency"] == 3
    assert out.loc[("A", T), "churned"] == 1


def test_sale_weeks_are_weeks_whose_volume_jumps_over_the_trailing_weeks():
    days = pd.date_range("2024-01-01", periods=16 * 7, freq="D")
    n_per_day = np.where((days >= "2024-03-04") & (days < "2024-03-11"), 6, 2)
    orders = pd.DataFrame({"customer_id": "c", "order_id": [f"o{i}" for i in range(
        n_per_day.sum())], "order_ts": np.repeat(days, n_per_day), "amount": 1.0})
    o = completed_orders(ibis.memtable(orders), date(2024, 12, 31))
    weeks = ibis.duckdb.connect().execute(_sale_weeks(o, FeatureParams()))
    sale = weeks.loc[weeks.is_sale == 1, "week"].dt.date.tolist()
    assert sale == [date(2024, 3, 4)]


def test_training_cutoffs_leave_room_for_the_horizon():
    cuts = training_cutoffs(date(2023, 1, 1), date(2025, 12, 31), 365)
    assert cuts[-1] == date(2024, 12, 31) and len(cuts) == 12
    assert all((b - a).days == 30 for a, b in zip(cuts, cuts[1:], strict=False))
    # a year of data and a year's horizon: no labelled cutoff (the pipeline scores with BTYD)
    assert training_cutoffs(date(2025, 1, 1), date(2025, 12, 31), 365) == []


def test_registry_availability_and_generated_docs():
    orders_only = available({"orders": {"customer_id", "order_ts", "amount"}})
    assert all(f.family in {"general", "forgot", "satisfaction", "choice", "price"}
               for f in orders_only)
    with_status = available({"orders": {"customer_id", "order_ts", "amount", "status"}})
    assert {"return_rate"} <= {f.name for f in with_status} - {f.name for f in orders_only}
    from pathlib import Path
    doc = (Path(__file__).parents[2] / "docs" / "features.md").read_text()
    assert markdown_table() in doc, "docs/features.md is stale: run python -m features.docs"


def test_quintiles_from_value_counts_match_percent_rank_with_ties():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"cutoff": np.repeat([date(2024, 1, 1), date(2024, 2, 1)], [37, 1]),
                          "v": np.r_[rng.integers(0, 9, 37), 4]})  # ties; a one-row cutoff
    t = ibis.memtable(frame)
    con = ibis.duckdb.connect()
    for descending in (False, True):
        order = ibis.desc("v") if descending else ibis.asc("v")
        pr = ibis.percent_rank().over(ibis.window(group_by="cutoff", order_by=order))
        expected = con.execute(t.select("cutoff", "v", s=ibis.least(
            5, (pr * 5).floor().cast("int64") + 1))).drop_duplicates()
        got = con.execute(quintiles(t, "v", "s", descending))
        merged = expected.merge(got, on=["cutoff", "v"], suffixes=("", "_got"))
        assert len(merged) == len(expected) == len(got)
        assert (merged["s"] == merged["s_got"]).all()
        assert merged.loc[merged.cutoff == pd.Timestamp("2024-02-01"), "s_got"].tolist() == [1]


def test_orders_at_the_same_timestamp_are_ordered_by_amount():
    # ties at the first and at the last timestamp: the smaller amount counts as earlier, so
    # every engine picks the same first and last order
    orders = pd.DataFrame({"customer_id": ["A"] * 4, "order_id": ["o9", "o1", "o5", "o2"],
                           "order_ts": ts(["2024-01-01 10:00", "2024-01-01 10:00",
                                           "2024-02-01 10:00", "2024-02-01 10:00"]),
                           "amount": [30.0, 10.0, 40.0, 20.0]})
    out, _ = compute({"orders": orders}, horizon_days=90)
    a = out.loc[("A", T)]
    assert a["first_order_value"] == 10
    assert a["last_order_value_ratio"] == pytest.approx(40 / ((30 + 10 + 20) / 3))
    assert a["gap_mean"] == pytest.approx(31 / 3) and a["last_gap"] == 0


def test_returned_status_orders_count_in_the_return_rate():
    orders = pd.DataFrame({
        "customer_id": ["A"] * 4, "order_id": ["o1", "o2", "o3", "o4"],
        "order_ts": ts(["2024-01-01", "2024-01-20", "2024-02-01", "2024-02-20"]),
        "amount": [10.0, 20.0, 30.0, 40.0],
        "status": ["completed", "completed", "cancelled", "returned"]})
    out, _ = compute({"orders": orders}, horizon_days=90)
    a = out.loc[("A", T)]
    # two completed orders, one returned (the latest), the cancelled one counts nowhere
    assert a["frequency"] == 2 and a["return_rate"] == pytest.approx(1 / 3)
    assert a["last_order_returned"] == 1 and a["returned_value_share"] == pytest.approx(40 / 70)
    assert a["days_since_last_return"] == (T - date(2024, 2, 20)).days


def test_a_return_dated_before_its_order_does_not_leak_the_order_into_the_past():
    orders = pd.DataFrame({"customer_id": ["A", "A"], "order_id": ["o1", "o2"],
                           "order_ts": ts(["2024-01-01", "2024-04-01"]), "amount": [10.0, 20.0]})
    returns = pd.DataFrame({"order_id": ["o2"], "return_ts": ts(["2024-02-01"])})
    out, _ = compute({"orders": orders, "returns": returns}, horizon_days=90)
    a = out.loc[("A", T)]
    assert a["return_rate"] == 0 and a["last_order_returned"] == 0
    assert np.isnan(a["days_since_last_return"])


def test_customer_attributes_are_point_in_time_by_hand():
    orders = pd.DataFrame({"order_id": ["1", "2", "3", "4"], "customer_id": ["a", "b", "c", "a"],
                           "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-01",
                                                       "2024-06-01"]),
                           "amount": [10.0, 20.0, 30.0, 40.0]})
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "z"],
        "signup_ts": pd.to_datetime(["2023-12-01", "2024-01-20", "2024-05-01", None]),
        "region": ["north", "north", "south", "x"], "birth_year": [1990.0, 2020.0, None, 1980.0]})
    tables = {"orders": ibis.memtable(orders), "customers": ibis.memtable(customers)}
    expr, names = build(tables, [date(2024, 3, 31), date(2024, 6, 30)], date(2024, 6, 30),
                        FeatureParams(), 30)
    assert {"signup_age_days", "age_years", "region_share"} <= set(names)
    assert "gender_share" not in names                     # no such column: no feature
    out = ibis.duckdb.connect().execute(expr).set_index(["customer_id", "cutoff"])
    march, june = pd.Timestamp("2024-03-31"), pd.Timestamp("2024-06-30")
    assert out.loc[("a", march), "signup_age_days"] == 121     # 2023-12-01 -> 2024-03-31
    assert np.isnan(out.loc[("c", march), "signup_age_days"])  # signs up in May: unknown
    assert out.loc[("c", june), "signup_age_days"] == 60
    assert out.loc[("a", march), "age_years"] == 34
    assert np.isnan(out.loc[("b", march), "age_years"])        # born 2020: not a customer age
    # shares among the cutoff's customers (a, b north; c south), never z who never bought
    assert out.loc[("a", march), "region_share"] == pytest.approx(2 / 3)
    assert out.loc[("c", march), "region_share"] == pytest.approx(1 / 3)


def test_purchase_days_count_distinct_order_days():
    orders = pd.DataFrame({"order_id": ["1", "2", "3"], "customer_id": ["a", "a", "a"],
                           "order_ts": pd.to_datetime(["2024-01-05 09:00", "2024-01-05 17:00",
                                                       "2024-02-01 12:00"]),
                           "amount": [10.0, 20.0, 30.0]})
    expr, _ = build({"orders": ibis.memtable(orders)}, [date(2024, 3, 1)], date(2024, 3, 1),
                    FeatureParams(), 30)
    row = ibis.duckdb.connect().execute(expr).iloc[0]
    assert row["frequency"] == 3 and row["purchase_days"] == 2
