"""Reasons from SHAP values, the exact de-duplicated explanation, and the drivers' wording."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.registry import families
from models.causes.backtest import reason_metrics
from models.causes.shap_reason import assign_reasons, family_contributions, reference_profile
from models.churn.drivers import top_drivers
from models.churn.shap import contributions

FAMILY = {"one_time_buyer": "forgot", "visits_since_last_order": "forgot",
          "discount_share": "price", "return_rate": "satisfaction", "recency_days": "general"}


def test_family_contributions_sum_positive_shap_per_cause():
    contrib = pd.DataFrame({"one_time_buyer": [0.5, -0.2], "visits_since_last_order": [0.25, 0.1],
                            "discount_share": [0.2, 0.9], "return_rate": [-0.1, 0.0],
                            "recency_days": [1.0, 2.0], "bias": [0.3, 0.3]})
    fam = family_contributions(contrib, FAMILY)
    assert list(fam.columns) == ["forgot", "satisfaction", "choice", "price"]
    assert fam.loc[0].tolist() == pytest.approx([0.75, 0.0, 0.0, 0.2])
    assert fam.loc[1].tolist() == pytest.approx([0.1, 0.0, 0.0, 0.9])  # general never votes


def test_reason_is_the_family_furthest_above_its_reference():
    fam = pd.DataFrame({"forgot": [0.75, 0.1, 0.3, 0.0], "satisfaction": [0.0, 0.0, 0.0, 0.0],
                        "choice": [0.0, 0.0, 0.28, 0.0], "price": [0.2, 0.9, 0.0, 0.0]})
    plain = assign_reasons(fam, {}, min_confidence=0.4)
    assert plain["reason"].tolist() == ["forgot", "price", "forgot", "other"]
    assert plain["reason_confidence"].tolist() == pytest.approx(
        [0.75 / 0.95, 0.9, 0.3 / 0.58, 0.0], abs=1e-4)
    # 3rd row: forgot holds 0.517 of the positive contributions; a higher bar makes it "other"
    assert assign_reasons(fam, {}, 0.55)["reason"].iloc[2] == "other"
    assert assign_reasons(fam, {}, 0.5)["reason"].iloc[2] == "forgot"
    # against a reference where forgetting is typical, row 0's distinctive cause is price
    ref = {"forgot": 0.7, "satisfaction": 0.0, "choice": 0.0, "price": 0.1}
    contrastive = assign_reasons(fam, ref, min_confidence=0.4)
    assert contrastive.loc[0, "reason"] == "price"
    assert contrastive.loc[0, "reason_confidence"] == pytest.approx(0.1 / 0.15, abs=1e-4)
    assert contrastive.loc[3, "reason"] == "other"  # nothing above the reference


def test_reasons_on_a_hand_made_model():
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame({"one_time_buyer": rng.integers(0, 2, n).astype(float),
                      "discount_share": rng.random(n), "recency_days": rng.integers(0, 700, n)
                      .astype(float)})
    logit = 2.5 * X.one_time_buyer + 3 * (X.discount_share > 0.8) + X.recency_days / 300 - 3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7},
                        lgb.Dataset(X, y), num_boost_round=60)
    rows = pd.DataFrame({"one_time_buyer": [1.0, 0.0], "discount_share": [0.1, 0.95],
                         "recency_days": [400.0, 400.0]})
    contrib = pd.DataFrame(booster.predict(rows, pred_contrib=True),
                           columns=[*rows.columns, "bias"])
    fam = family_contributions(contrib, FAMILY)
    reasons = assign_reasons(fam, {}, 0.4)["reason"].tolist()
    assert reasons == ["forgot", "price"]
    np.testing.assert_allclose(contrib.sum(axis=1), booster.predict(rows, raw_score=True))


def test_deduplicated_shap_equals_plain_pred_contrib():
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame({"a": rng.integers(0, 5, n).astype(float), "b": rng.random(n).round(1),
                      "c": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 3, n))})
    y = ((X.a > 2) ^ (X.b > 0.5)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7},
                        lgb.Dataset(X, y), num_boost_round=30)
    fast = contributions(booster, X, dedupe=True)
    exact = booster.predict(X, pred_contrib=True)
    np.testing.assert_allclose(fast, exact, rtol=1e-12, atol=1e-12)


def test_top_drivers_in_words():
    contrib = pd.DataFrame({"visits_since_last_order": [0.9, -0.1], "discount_share": [0.5, 0.4],
                            "recency_days": [0.1, 0.8], "return_rate": [0.7, 0.3],
                            "bias": [0.0, 0.0]})
    X = pd.DataFrame({"visits_since_last_order": [0.0, 3.0], "discount_share": [0.75, 0.5],
                      "recency_days": [200.0, 412.0], "return_rate": [np.nan, 0.25]})
    drivers = top_drivers(contrib, X).tolist()
    # the NaN return rate is skipped; zero counts read "no ..."
    assert drivers[0] == ("no visits since their last order; 75% of orders on discount; "
                          "last order 200 days ago")
    assert drivers[1] == ("last order 412 days ago; 50% of orders on discount; "
                          "returned 25% of orders")


def test_reference_profile_and_metrics():
    fam = pd.DataFrame({"forgot": [1.0, 0.0], "satisfaction": [0.0, 0.5], "choice": [0.0, 0.0],
                        "price": [0.2, 0.4]})
    assert reference_profile(fam) == pytest.approx(
        {"forgot": 0.5, "satisfaction": 0.25, "choice": 0.0, "price": 0.3})
    m = reason_metrics(pd.Series(["forgot", "price", "price", "other"]),
                       pd.Series(["forgot", "price", "forgot", "forgot"]))
    assert m["accuracy"] == 0.5
    assert m["recall"]["price"] == 0.5 and m["recall"]["forgot"] == 1.0
    # F1: forgot 2*(1/3*1)/(1/3+1)=0.5, price 2*(1*.5)/1.5=2/3, others 0 -> mean over 5 labels
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 5)


def test_registry_families_cover_the_model_features():
    fam = families(["recency_days", "one_time_buyer", "sale_week_share"])
    assert fam == {"recency_days": "general", "one_time_buyer": "forgot",
                   "sale_week_share": "price"}
