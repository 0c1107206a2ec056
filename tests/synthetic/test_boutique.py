"""The boutique shop (weekly hazard/state simulation): planted shares, the data contract, the
table choice, cause signatures that hold only in aggregate, and reproducibility."""

from __future__ import annotations

import pandas as pd
import pytest

from features.cleaning import TableReport, clean_orders, clean_table
from features.contract import TABLES, validate
from synthetic.boutique import OPTIONAL, Config, generate
from synthetic.io import CAUSES


@pytest.fixture(scope="module")
def shop() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return generate(Config(customers=3000, seed=11))


def _per_customer(frame: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """Rows per customer, averaged per cause ('loyal' for loyal customers)."""
    group = truth.set_index("customer_id")["cause"].fillna("loyal")
    counts = frame.groupby("customer_id").size().reindex(group.index, fill_value=0)
    return counts.groupby(group).mean()


def test_cause_shares_follow_the_config(shop):
    _, truth = shop
    shares = truth.loc[truth.segment == "churner", "cause"].value_counts(normalize=True)
    for cause, share in Config().cause_shares.items():
        assert abs(shares[cause] - share) < 0.01, (cause, shares[cause])
    custom = {"forgot": 0.2, "satisfaction": 0.2, "choice": 0.2, "price": 0.2, "other": 0.2}
    _, t2 = generate(Config(customers=1500, seed=3, cause_shares=custom, tables=()))
    shares = t2.loc[t2.segment == "churner", "cause"].value_counts(normalize=True)
    assert all(abs(shares[c] - 0.2) < 0.01 for c in CAUSES), shares


def test_truth_frame(shop):
    tables, truth = shop
    assert list(truth.columns) == ["customer_id", "segment", "cause", "last_order_ts"]
    assert set(truth.segment) == {"loyal", "churner"}
    assert truth.loc[truth.segment == "loyal", "cause"].isna().all()
    assert set(truth.loc[truth.segment == "churner", "cause"]) == set(CAUSES)
    last = tables["orders"].groupby("customer_id")["order_ts"].max()
    assert set(truth.customer_id) == set(last.index)
    pd.testing.assert_series_equal(truth.set_index("customer_id")["last_order_ts"],
                                   last.rename("last_order_ts"), check_names=False)


def test_all_tables_pass_the_contract(shop):
    tables, _ = shop
    assert set(tables) == {"orders", *OPTIONAL}
    last_ts = tables["orders"]["order_ts"].max()
    for name, frame in tables.items():
        report = TableReport(name)
        clean = (clean_orders(frame, report) if name == "orders"
                 else clean_table(name, frame, report))
        validate(name, clean)
        assert set(frame.columns) <= set(TABLES[name].columns)
        assert not report.dropped, (name, report.dropped)
        assert len(clean) == len(frame)
        if TABLES[name].event_time:
            assert (frame[TABLES[name].event_time] <= last_ts).all(), name
    assert tables["order_items"]["order_id"].isin(tables["orders"]["order_id"]).all()
    assert tables["order_items"]["product_id"].isin(tables["products"]["product_id"]).all()
    ret = tables["returns"].merge(tables["orders"], on="order_id")
    assert (ret.return_ts > ret.order_ts).all()


def test_tables_option_is_respected():
    tables, truth = generate(Config(customers=400, seed=5, tables=("order_items", "products")))
    assert set(tables) == {"orders", "order_items", "products"}
    only_orders, _ = generate(Config(customers=400, seed=5, tables=()))
    assert set(only_orders) == {"orders"}
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
    assert spend.max() > 10 * spend.median()                  # heavy-tailed
    quarterly = orders.set_index("order_ts").resample("QE").size().iloc[1:-1]
    assert quarterly.iloc[-4:].sum() > 1.5 * quarterly.iloc[:4].sum()  # a growing shop


def test_churners_stop_and_loyal_customers_keep_buying(shop):
    tables, truth = shop
    orders = tables["orders"].sort_values("order_ts")
    end = orders["order_ts"].max()
    first = orders.groupby("customer_id")["order_ts"].min()
    t = truth.set_index("customer_id")
    early = t[(t.segment == "churner") & (first.reindex(t.index) < end - pd.Timedelta(days=730))]
    assert (early.last_order_ts < end - pd.Timedelta(days=365)).mean() > 0.97
    loyal = orders[orders.customer_id.isin(t.index[t.segment == "loyal"])]
    gaps = loyal.groupby("customer_id")["order_ts"].diff().dt.days
    assert gaps.max() < 365
    assert (end - t.loc[t.segment == "loyal", "last_order_ts"]).dt.days.max() < 365


def test_price_leavers_show_through_coupons(shop):
    tables, truth = shop
    ev = tables["events"]
    claims = _per_customer(ev[ev.event_type == "coupon_claim"], truth)
    assert claims["price"] > 3 * claims["forgot"]
    after = ev.merge(truth, on="customer_id")
    after = after[(after.event_type == "coupon_claim")
                  & (after.event_ts.dt.normalize() > after.last_order_ts.dt.normalize())]
    late_claims = _per_customer(after, truth)
    assert late_claims["price"] > 3 * late_claims.drop("price").max()
    orders = tables["orders"].merge(truth, on="customer_id")
    disc = (orders.discount > 0).groupby(orders.cause.fillna("loyal")).mean()
    assert disc["price"] > disc["forgot"] + 0.2
    assert claims["loyal"] > claims["forgot"]                  # loyal deal-hunters claim too


def test_satisfaction_leavers_show_through_complaints_and_ratings(shop):
    tables, truth = shop
    ev = tables["events"]
    complaints = ev[ev.event_type == "complaint"]
    assert complaints["detail"].isin(["late delivery", "rude support", "broken item"]).mean() > 0.5
    per = _per_customer(complaints, truth)
    assert per["satisfaction"] > 3 * max(per["forgot"], per["choice"], per["price"])
    reviews = tables["reviews"].merge(truth, on="customer_id")
    low = (reviews.rating <= 2).groupby(reviews.cause.fillna("loyal")).mean()
    assert low["satisfaction"] > 2 * low.drop("satisfaction").max()
    # loyal customers complain and return too, and keep buying
    loyal_ids = truth.loc[truth.segment == "loyal", "customer_id"]
    assert complaints.customer_id.isin(loyal_ids).sum() > 20
    returned = tables["returns"].merge(tables["orders"], on="order_id")
    assert returned.customer_id.isin(loyal_ids).any()
    reasons = set(tables["returns"]["reason"])
    assert {"found it cheaper elsewhere", "poor quality", "arrived damaged"} <= reasons


def test_choice_leavers_wander_chase_new_arrivals_and_keep_browsing(shop):
    tables, truth = shop
    ev = tables["events"].merge(truth, on="customer_id")
    after = ev[(ev.event_type == "visit")
               & (ev.event_ts.dt.normalize() > ev.last_order_ts.dt.normalize())]
    visits = _per_customer(after, truth)
    assert visits["choice"] > 5 * visits["forgot"]
    assert visits["choice"] > 2 * visits.drop("choice").max()
    pages = pd.crosstab(after.cause.fillna("loyal"), after.detail, normalize="index")
    assert pages.loc["choice", "new-arrivals"] > 2 * pages.loc["forgot", "new-arrivals"]
    items = (tables["order_items"]
             .merge(tables["orders"][["order_id", "customer_id", "order_ts"]], on="order_id")
             .merge(tables["products"], on="product_id").merge(truth, on="customer_id"))
    items["group"] = items.cause.fillna("loyal")
    new = ((items.order_ts - items.launch_date).dt.days < 90).groupby(items.group).mean()
    assert new["choice"] > 2 * new["satisfaction"]
    freq = tables["orders"].groupby("customer_id").size()
    repeat = items[items.customer_id.isin(freq.index[freq >= 2])]
    spread = repeat.groupby(["group", "customer_id"]).category.nunique().groupby("group").mean()
    assert spread["choice"] > spread["satisfaction"] + 1


def test_forgetters_fall_silent_but_silent_loyals_exist(shop):
    tables, truth = shop
    ev = tables["events"].merge(truth, on="customer_id")
    after = ev[ev.event_ts.dt.normalize() > ev.last_order_ts.dt.normalize()]
    per = _per_customer(after, truth)
    assert per["forgot"] < 0.3 * per.drop(["forgot", "loyal"]).min()
    orders = tables["orders"]
    freq = orders.groupby("customer_id").size()
    visits = ev[ev.event_type == "visit"].groupby("customer_id").size()
    loyal = truth.loc[truth.segment == "loyal", "customer_id"]
    quiet_buyers = (freq.reindex(loyal) >= 4) & (visits.reindex(loyal, fill_value=0)
                                                 < freq.reindex(loyal))
    assert quiet_buyers.sum() > 20


def test_same_seed_same_shop_other_seed_other_shop():
    a, ta = generate(Config(customers=300, seed=3))
    b, tb = generate(Config(customers=300, seed=3))
    c, _ = generate(Config(customers=300, seed=4))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    pd.testing.assert_frame_equal(ta, tb)
    assert not a["orders"]["amount"].equals(c["orders"]["amount"])


def test_main_writes_a_shop(tmp_path):
    from synthetic.boutique import main

    main(["--out", str(tmp_path), "--customers", "200", "--seed", "1"])
    assert (tmp_path / "orders.parquet").exists() and (tmp_path / "_truth.parquet").exists()
    assert (tmp_path / "events.parquet").exists()
