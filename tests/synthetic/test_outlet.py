"""The outlet shop (mixture of per-cause renewal processes on a promotion calendar): planted
shares, the data contract, the table choice, cause signatures in aggregate, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.cleaning import TableReport, clean_orders, clean_table
from features.contract import TABLES, validate
from synthetic.io import CAUSES
from synthetic.outlet import Config, generate, promotion_calendar

ALL = ("order_items", "products", "returns", "reviews", "events")


@pytest.fixture(scope="module")
def shop() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return generate(Config(customers=3000, seed=11))


@pytest.fixture(scope="module")
def full_shop() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return generate(Config(customers=2000, seed=12, tables=ALL))


def _orders(tables, truth) -> pd.DataFrame:
    orders = tables["orders"].merge(truth, on="customer_id")
    return orders.assign(group=orders.cause.fillna("loyal"))


def test_cause_shares_follow_the_config(shop):
    _, truth = shop
    shares = truth.loc[truth.segment == "churner", "cause"].value_counts(normalize=True)
    for cause, share in Config().cause_shares.items():
        assert abs(shares[cause] - share) < 0.01, (cause, shares[cause])
    custom = {"forgot": 0.2, "satisfaction": 0.2, "choice": 0.2, "price": 0.2, "other": 0.2}
    _, t2 = generate(Config(customers=1500, seed=3, cause_shares=custom, tables=()))
    shares = t2.loc[t2.segment == "churner", "cause"].value_counts(normalize=True)
    assert all(abs(shares[c] - 0.2) < 0.01 for c in CAUSES), shares
    assert abs((truth.segment == "loyal").mean() - Config().loyal_share) < 0.02


def test_truth_frame(shop):
    tables, truth = shop
    assert list(truth.columns) == ["customer_id", "segment", "cause", "last_order_ts"]
    assert truth.loc[truth.segment == "loyal", "cause"].isna().all()
    assert set(truth.loc[truth.segment == "churner", "cause"]) == set(CAUSES)
    last = tables["orders"].groupby("customer_id")["order_ts"].max()
    assert set(truth.customer_id) == set(last.index)
    pd.testing.assert_series_equal(truth.set_index("customer_id")["last_order_ts"],
                                   last.rename("last_order_ts"), check_names=False)


@pytest.mark.parametrize("which", ["default", "full"])
def test_all_tables_pass_the_contract(which, shop, full_shop):
    tables, _ = shop if which == "default" else full_shop
    expected = Config().tables if which == "default" else ALL
    assert set(tables) == {"orders", *expected}
    last_ts = tables["orders"]["order_ts"].max()
    for name, frame in tables.items():
        report = TableReport(name)
        clean = (clean_orders(frame, report) if name == "orders"
                 else clean_table(name, frame, report))
        validate(name, clean)
        assert set(frame.columns) <= set(TABLES[name].columns)
        assert not report.dropped, (name, report.dropped)
        if TABLES[name].event_time:
            assert (frame[TABLES[name].event_time] <= last_ts).all(), name
    assert tables["order_items"]["order_id"].isin(tables["orders"]["order_id"]).all()
    ret = tables["returns"].merge(tables["orders"], on="order_id")
    assert (ret.return_ts > ret.order_ts).all()


def test_tables_option_is_respected(shop):
    tables, _ = shop
    assert set(tables) == {"orders", "order_items", "products", "returns"}
    assert "events" not in tables and "reviews" not in tables
    some, _ = generate(Config(customers=300, seed=2, tables=("returns", "events")))
    assert set(some) == {"orders", "returns", "events"}
    assert not (some["events"]["event_type"] == "coupon_claim").any()   # no coupons here
    with pytest.raises(ValueError):
        generate(Config(customers=10, tables=("clicks",)))


def test_realistic_shape(shop):
    tables, truth = shop
    orders = tables["orders"]
    freq = orders.groupby("customer_id").size()
    assert (freq == 1).mean() > 0.45
    forgot = truth.loc[truth.cause == "forgot", "customer_id"]
    assert (freq.reindex(forgot) == 1).mean() > 0.85
    spend = orders.groupby("customer_id")["amount"].sum()
    assert spend.max() > 10 * spend.median()
    quarterly = orders.set_index("order_ts").resample("QE").size().iloc[1:-1]
    assert quarterly.iloc[-4:].sum() > 1.5 * quarterly.iloc[:4].sum()


def test_churners_stop_and_loyal_customers_keep_buying(shop):
    tables, truth = shop
    orders = tables["orders"].sort_values("order_ts")
    end = orders["order_ts"].max()
    first = orders.groupby("customer_id")["order_ts"].min()
    t = truth.set_index("customer_id")
    early = t[(t.segment == "churner") & (first.reindex(t.index) < end - pd.Timedelta(days=730))]
    assert (early.last_order_ts < end - pd.Timedelta(days=365)).mean() > 0.97
    loyal = orders[orders.customer_id.isin(t.index[t.segment == "loyal"])]
    assert loyal.groupby("customer_id")["order_ts"].diff().dt.days.max() < 365


def test_price_leavers_buy_in_sales_at_deep_discounts(shop):
    tables, truth = shop
    cal = promotion_calendar(Config(customers=3000, seed=11))
    orders = _orders(tables, truth)
    in_sale = np.zeros(len(orders), bool)
    for window in cal.itertuples():
        in_sale |= ((orders.order_ts >= window.start) & (orders.order_ts < window.end)).to_numpy()
    share = pd.Series(in_sale).groupby(orders.group.to_numpy()).mean()
    assert share["price"] > share["forgot"] + 0.25
    assert share["loyal"] > 0.15 and share["forgot"] > 0.1   # the signal is not exclusive
    depth = (orders.discount / (orders.amount + orders.discount)).groupby(orders.group).mean()
    assert depth["price"] > depth["forgot"] + 0.08
    items = tables["order_items"]
    assert (items.discount > 0).mean() > 0.3                 # item-level discounts


def test_satisfaction_leavers_return_more_and_buy_less(shop):
    tables, truth = shop
    orders = _orders(tables, truth)
    returns = tables["returns"].merge(orders[["order_id", "group"]], on="order_id")
    rate = returns.groupby("group").size() / orders.groupby("group").size()
    assert rate["satisfaction"] > 2.5 * rate.drop("satisfaction").max()
    quality = returns.reason.isin(["defective", "not as pictured"]).groupby(returns.group).mean()
    assert quality["satisfaction"] > quality["forgot"] + 0.3
    assert quality["loyal"] > 0.05
    assert {"defective", "not as pictured", "wrong size", "cheaper elsewhere"} <= set(
        returns.reason)
    ordered = orders.sort_values("order_ts")
    freq = ordered.groupby("customer_id").size()
    rep = ordered[ordered.customer_id.isin(freq.index[freq >= 3])]
    by = rep.groupby("customer_id")
    trend = np.log(by.amount.last() / by.amount.first()).groupby(by.group.first()).mean()
    assert trend["satisfaction"] < trend["loyal"] - 0.15


def test_choice_leavers_wander_and_thin_out(shop):
    tables, truth = shop
    items = (tables["order_items"]
             .merge(tables["orders"][["order_id", "customer_id", "order_ts"]], on="order_id")
             .merge(tables["products"], on="product_id").merge(truth, on="customer_id"))
    items["group"] = items.cause.fillna("loyal")
    freq = tables["orders"].groupby("customer_id").size()
    repeat = items[items.customer_id.isin(freq.index[freq >= 2])]
    spread = repeat.groupby(["group", "customer_id"]).category.nunique().groupby("group").mean()
    assert spread["choice"] > spread["satisfaction"] + 1
    new = ((items.order_ts - items.launch_date).dt.days < 90).groupby(items.group).mean()
    assert new["choice"] > 2 * new["forgot"]
    orders = _orders(tables, truth).sort_values("order_ts")
    orders = orders[orders.customer_id.isin(freq.index[freq >= 3])]
    gap = orders.groupby("customer_id").order_ts.diff().dt.total_seconds() / 86400 + 1
    last_gap = gap.groupby(orders.customer_id).last()
    first_gap = gap.groupby(orders.customer_id).nth(1)
    first_gap.index = orders.customer_id[first_gap.index]
    group = orders.groupby("customer_id").group.first()
    ratio = np.log(last_gap / first_gap.reindex(last_gap.index)).groupby(group).mean()
    assert ratio["choice"] > ratio["loyal"] + 0.3


def test_optional_events_separate_forgot_from_choice(full_shop):
    tables, truth = full_shop
    ev = tables["events"].merge(truth, on="customer_id")
    after = ev[(ev.event_type == "visit")
               & (ev.event_ts.dt.normalize() > ev.last_order_ts.dt.normalize())]
    per = after.groupby("customer_id").size().reindex(truth.customer_id, fill_value=0)
    per = per.groupby(truth.set_index("customer_id").cause.fillna("loyal")).mean()
    assert per["choice"] > 5 * per["forgot"]


def test_same_seed_same_shop_other_seed_other_shop():
    a, ta = generate(Config(customers=300, seed=3, tables=ALL))
    b, tb = generate(Config(customers=300, seed=3, tables=ALL))
    c, _ = generate(Config(customers=300, seed=4, tables=ALL))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    pd.testing.assert_frame_equal(ta, tb)
    assert not a["orders"]["amount"].equals(c["orders"]["amount"])


def test_main_writes_a_shop(tmp_path):
    from synthetic.outlet import main

    main(["--out", str(tmp_path), "--customers", "200", "--seed", "1"])
    assert (tmp_path / "orders.parquet").exists() and (tmp_path / "_truth.parquet").exists()
    assert not (tmp_path / "events.parquet").exists()
