"""The evidence computed in the features' own passes equals what the separate evidence scans
and their join gave (tests/features/legacy.py), column for column, on generated shops with
every table, with returned and cancelled orders among the completed ones, and orders only."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from common.params import FeatureParams
from features.cutoffs import training_cutoffs
from features.engine import build
from synthetic.retail import ShopConfig, generate
from tests.features import legacy

DETAILS = ["late delivery", "sale", "new arrivals", "new-arrivals", "price too high", None,
           "wishlist", "Quality was poor", "changed my mind", "outlet_page"]


@pytest.fixture(scope="module")
def shop():
    tables, _ = generate(ShopConfig(customers=700, seed=21))
    rng = np.random.default_rng(21)
    orders = tables["orders"].copy()
    # returned and cancelled orders between completed ones, and ties on the timestamp
    status = rng.choice(["completed", "returned", "cancelled"], len(orders), p=[.8, .12, .08])
    orders["status"] = np.where(orders["status"] == "returned", "returned", status)
    tie = rng.random(len(orders)) < 0.05
    orders.loc[tie, "order_ts"] = orders["order_ts"].shift(1).fillna(orders["order_ts"])[tie]
    tables["orders"] = orders
    events = tables["events"].copy()
    events["detail"] = rng.choice(np.array(DETAILS, dtype=object), len(events))
    complaints = rng.random(len(events)) < 0.03
    events.loc[complaints, "event_type"] = "complaint"
    tables["events"] = events
    first = orders.groupby("customer_id")["order_ts"].min()
    tables["customers"] = pd.DataFrame({
        "customer_id": first.index,
        "signup_ts": first.to_numpy() - pd.to_timedelta(rng.integers(-30, 300, len(first)),
                                                        unit="D"),
        "region": rng.choice(["north", "south"], len(first))})
    as_of = orders["order_ts"].max().date()
    cuts = training_cutoffs(orders["order_ts"].min().date(), as_of, 180,
                            FeatureParams(snapshot_every_days=45, snapshots=5))
    return tables, [*cuts, as_of], as_of


def old_and_new(tables, cutoffs, as_of, vocabulary=None):
    mem = {k: ibis.memtable(v) for k, v in tables.items()}
    p = FeatureParams()
    old, old_names = legacy.build(mem, cutoffs, as_of, p, 180)
    old = legacy.with_evidence(old, legacy.evidence(mem, cutoffs, as_of, vocabulary))
    new, names = build(mem, cutoffs, as_of, p, 180, evidence=True, vocabulary=vocabulary)
    con = ibis.duckdb.connect()
    key = ["customer_id", "cutoff"]
    frames = [con.execute(e).sort_values(key).reset_index(drop=True) for e in (old, new)]
    assert names == old_names
    return frames


def assert_identical(old: pd.DataFrame, new: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old) and len(old) > 0
    assert (new.dtypes == old.dtypes).all(), new.dtypes[new.dtypes != old.dtypes]
    for col in old.columns:
        x, y = old[col], new[col]
        if x.dtype.kind == "f":
            assert np.array_equal(np.isnan(x), np.isnan(y)), col
            assert np.allclose(x, y, rtol=1e-12, atol=0, equal_nan=True), col
        else:
            assert (x.astype(object).where(x.notna(), None).tolist()
                    == y.astype(object).where(y.notna(), None).tolist()), col


def test_every_table_with_returned_and_cancelled_orders(shop):
    tables, cutoffs, as_of = shop
    old, new = old_and_new(tables, cutoffs, as_of)
    assert_identical(old, new)
    # the cases that differ between completed and non-cancelled orders were compared
    assert (old["ev_orders"] > old["frequency"]).sum() > 20
    assert old["last_complaint_detail"].notna().sum() > 5
    assert old["returns_in_episode"].gt(0).sum() > 20
    assert (old["days_since_last_order"] < old["recency_days"]).sum() > 5


def test_a_shop_vocabulary_and_missing_columns(shop):
    tables, cutoffs, as_of = shop
    vocabulary = {"choice": ["damaged", "wishlist"], "price": []}
    assert_identical(*old_and_new(tables, cutoffs, as_of, vocabulary))
    fewer = {"orders": tables["orders"].drop(columns=["discount"]),
             "returns": tables["returns"].drop(columns=["reason"]),
             "events": tables["events"].drop(columns=["detail"])}
    assert_identical(*old_and_new(fewer, cutoffs, as_of))


def test_orders_only(shop):
    tables, cutoffs, as_of = shop
    orders = tables["orders"]
    assert_identical(*old_and_new({"orders": orders[orders["status"] != "cancelled"]
                                   .drop(columns=["status"])}, cutoffs, as_of))
    assert_identical(*old_and_new({"orders": orders}, cutoffs, as_of))
