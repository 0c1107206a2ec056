"""Recommendation rules, the contact budget, product suggestions and the product matrix."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from common.params import MatrixParams, RecommendParams
from models.actions.product_matrix import classify
from models.actions.products import suggest_products
from models.actions.rules import contact_budget, recommend

P = RecommendParams()


def customers(**overrides) -> pd.DataFrame:
    """One row per rule, high value = yearly_spend 1000 (the top), others 10."""
    rows = [
        # reason, yearly_spend, one_time, recency, tier, at_risk
        ("forgot", 1000, 0, 400, "silver", True),       # 0 care call
        ("forgot", 10, 1, 400, "bronze", True),         # 1 reminder + gift
        ("forgot", 10, 0, 400, "bronze", True),         # 2 reminder sms
        ("satisfaction", 1000, 0, 300, "gold", True),   # 3 service recovery
        ("satisfaction", 10, 0, 300, "silver", True),   # 4 membership upgrade
        ("choice", 10, 0, 100, "silver", True),         # 5 new arrivals
        ("price", 10, 1, 400, "bronze", True),          # 6 deepest promo
        ("price", 10, 0, 60, "silver", True),           # 7 moderate promo
        ("other", 10, 0, 400, "bronze", True),          # 8 survey
        ("", 10, 0, 10, "gold", False),                 # 9 advocate
        ("", 10, 0, 10, "bronze", False),               # 10 nothing
        ("satisfaction", 10, 1, 300, "bronze", True),   # 11 one-time: no profit products
    ]
    frame = pd.DataFrame(rows, columns=["reason", "yearly_spend", "one_time_buyer",
                                        "recency_days", "membership_tier", "at_risk"])
    return frame.assign(**overrides)


def test_each_recommendation_rule():
    out = recommend(customers(), P)
    assert out["action"].tolist() == [
        "care_call", "reminder_gift", "reminder", "service_recovery", "membership_upgrade",
        "new_arrivals", "promotion_invite", "promotion_invite", "win_back_survey",
        "advocate_invite", "none", "membership_upgrade"]
    assert out["channel"].tolist() == ["phone", "email", "sms", "phone", "email", "email", "sms",
                                       "email", "email", "email", "none", "email"]
    assert out.loc[6, "offer"] == "promo_pct_off_30"       # deepest: lapsed one-time price buyer
    assert out.loc[7, "offer"] == "promo_pct_off_15"
    assert out.loc[3, "offer"] == "membership_pct_off_10"  # gold
    assert out.loc[4, "offer"] == "membership_pct_off_7"   # silver gets less than gold
    assert out.loc[5, "offer"] == "early_bird_pct_off_5"
    assert out.loc[6, "product_classes"] == "traffic,edge"
    assert out.loc[3, "product_classes"] == "profit"
    assert out.loc[11, "product_classes"] == "traffic"     # profit products need 2+ orders


def test_discounts_are_bounded_and_profit_offers_stay_small():
    capped = RecommendParams(max_discount=0.2, profit_max_discount=0.05,
                             membership_discounts={"gold": 0.5, "silver": 0.3, "bronze": 0.1})
    out = recommend(customers(), capped)
    assert out.loc[6, "offer"] == "promo_pct_off_20"
    assert out.loc[3, "offer"] == "membership_pct_off_5"
    pct = out["offer"].str.extract(r"pct_off_(\d+)")[0].dropna().astype(int)
    assert pct.max() <= 20


def test_contact_budget_top_n_and_share():
    frame = pd.DataFrame({"value_at_stake": [5.0, 50.0, 20.0, 90.0, 1.0],
                          "at_risk": [True, True, True, False, True]})
    top2 = contact_budget(frame, RecommendParams(budget="top_n", budget_top_n=2))
    assert top2.tolist() == [False, True, True, False, False]
    half = contact_budget(frame, RecommendParams(budget="share", budget_share=0.5))  # ceil(2)
    assert half.tolist() == [False, True, True, False, False]
    # value: anyone may be contacted; the policy contacts those whose best action pays
    assert contact_budget(frame, RecommendParams()).all()


def test_caps_keep_the_most_valuable_and_count_each_at_its_dearest_action():
    from models.actions.rules import apply_caps

    priority = np.array([1.0, 5.0, 3.0, 4.0])
    cost = np.array([[0.1, 3.0]] * 4)
    channel = np.array([["email", "phone"]] * 4, dtype=object)
    allowed = np.ones((4, 2), dtype=bool)
    out = apply_caps(priority, cost, channel, allowed,
                     RecommendParams(max_contacts=3, channel_max_contacts={"phone": 1}))
    assert out.any(axis=1).tolist() == [False, True, True, True]      # the top 3 by priority
    assert out[:, 1].tolist() == [False, True, False, False]           # one call: the top one
    spend = apply_caps(priority, cost, channel, allowed, RecommendParams(max_spend=3.2))
    # the top customer may cost 3.0 (a call); what is left pays two e-mails at 0.1
    assert spend.tolist() == [[False, False], [True, True], [True, False], [True, False]]


def test_product_suggestions_follow_class_category_and_recency():
    matrix = pd.DataFrame({
        "product_id": ["t1", "t2", "t3", "e1", "p1", "t9"],
        "category": ["bags", "bags", "shoes", "bags", "bags", "home"],
        "product_class": ["traffic", "traffic", "traffic", "edge", "profit", "traffic"],
        "popularity_rank": [1, 2, 3, 4, 5, 0],
    })
    targets = pd.DataFrame({"customer_id": ["A", "B"],
                            "product_classes": ["traffic,edge", "profit"]})
    cats = pd.DataFrame({"customer_id": ["A", "A", "B"], "category": ["bags", "shoes", "bags"]})
    recent = pd.DataFrame({"customer_id": ["A"], "product_id": ["t1"]})
    ids = suggest_products(targets, matrix, cats, recent, k=3)
    assert ids["A"] == "t2,t3,e1"   # traffic first by popularity, t1 bought recently, t9 not
    assert ids["B"] == "p1"         # in their categories


def test_product_matrix_rules_on_a_hand_made_catalogue():
    as_of = date(2025, 1, 1)
    stats = pd.DataFrame({
        "product_id": ["hot", "rich", "dud", "new", "mid"],
        "units": [1000.0, 200.0, 3.0, 40.0, 150.0],
        "units_recent": [500.0, 100.0, 1.0, 35.0, 70.0],
        "mean_price": [10.0, 100.0, 30.0, 50.0, 40.0],
        "unit_cost": [8.0, 30.0, 20.0, 25.0, 15.0],
        "first_order_share": [0.7, 0.1, 0.2, 0.3, 0.3],
        "repeat_buyer_share": [0.3, 0.9, 0.1, 0.5, 0.6],
        "basket_share": [0.5, 0.6, 0.1, 0.4, 0.5],
        "launch_date": pd.to_datetime(["2022-01-01", "2022-01-01", "2022-01-01", "2024-10-01",
                                       "2022-01-01"]),
        "first_sold": pd.to_datetime(["2022-01-01"] * 5),
    })
    out = classify(stats, as_of, MatrixParams()).set_index("product_id")
    assert out["product_class"].to_dict() == {"hot": "traffic", "rich": "profit", "dud": "edge",
                                              "new": "potential", "mid": "profit"}
    assert out.loc["hot", "margin"] == pytest.approx(0.2)
    assert out.loc["hot", "popularity_rank"] == 1
    assert np.isfinite(out["growth"]).all()
    # popularity ties go by product id, whatever order the engine returned the rows in
    tied = stats.assign(units=100.0)
    for order in (tied, tied.iloc[::-1]):
        ranks = classify(order, as_of, MatrixParams()).set_index("product_id")["popularity_rank"]
        assert ranks.to_dict() == {"dud": 1, "hot": 2, "mid": 3, "new": 4, "rich": 5}
