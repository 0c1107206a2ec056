"""The synthetic shop: realistic shape, planted causes with the right shares, reproducible."""

from __future__ import annotations

import pandas as pd

from features.cleaning import TableReport, clean_orders, clean_table
from features.contract import TABLES, validate
from synthetic.retail import ShopConfig, generate


def test_cause_shares_match_retail_practice(small_shop):
    _, truth = small_shop
    shares = truth.loc[truth.segment == "churner", "cause"].value_counts(normalize=True)
    expected = {"forgot": 0.50, "satisfaction": 0.10, "choice": 0.15, "price": 0.20,
                "other": 0.05}
    for cause, share in expected.items():
        assert abs(shares[cause] - share) < 0.01, (cause, shares[cause])


def test_one_time_buyers_are_the_majority_and_forgetters_mostly_buy_once(small_shop):
    tables, truth = small_shop
    freq = tables["orders"].groupby("customer_id").size()
    assert (freq == 1).mean() > 0.5
    forgot = truth.loc[truth.cause == "forgot", "customer_id"]
    assert (freq.reindex(forgot) == 1).mean() > 0.8
    repeaters = truth.loc[truth.cause.isin(["satisfaction", "choice"]), "customer_id"]
    assert (freq.reindex(repeaters) >= 2).mean() > 0.8  # late sign-ups are cut off


def test_same_seed_same_shop_other_seed_other_shop():
    a, ta = generate(ShopConfig(customers=300, seed=3))
    b, tb = generate(ShopConfig(customers=300, seed=3))
    c, _ = generate(ShopConfig(customers=300, seed=4))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    pd.testing.assert_frame_equal(ta, tb)
    assert not a["orders"]["amount"].equals(c["orders"]["amount"])


def test_all_tables_pass_the_contract(small_shop):
    tables, _ = small_shop
    for name, frame in tables.items():
        report = TableReport(name)
        clean = (clean_orders(frame, report) if name == "orders"
                 else clean_table(name, frame, report))
        validate(name, clean)
        assert set(frame.columns) <= set(TABLES[name].columns)
        assert not report.dropped, (name, report.dropped)


def test_causes_leave_behavioural_traces_not_flags(small_shop):
    tables, truth = small_shop
    orders = tables["orders"].merge(truth[["customer_id", "cause"]], on="customer_id")
    disc_share = (orders.discount > 0).groupby(orders.cause.fillna("loyal")).mean()
    assert disc_share["price"] > disc_share["forgot"] + 0.2
    ev = tables["events"].merge(truth, on="customer_id")
    after = ev[ev.event_ts > ev.last_order_ts]
    visits = after[after.event_type == "visit"].groupby("cause").size() / truth.groupby(
        "cause").size()
    assert visits["choice"] > 5 * visits["forgot"]
    # every signal also occurs outside its cause: loyal customers return and complain too
    returned = tables["returns"].merge(tables["orders"], on="order_id").merge(truth,
                                                                              on="customer_id")
    assert (returned.segment == "loyal").any()
