"""The report's data gathering on tiny hand-made frames: who is sent what, held out, what a
campaign earned, the reason mix and its evidence, the risk grid, and the realised accuracy,
plus the plain words and number formats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.report import accuracy, earned, leave, risk, week, words
from pipeline.report.inputs import with_send


def batch(**over) -> pd.DataFrame:
    """Six customers: four targets in the budget (one held out), one in the budget with
    nothing to send, one gold advocate outside the budget."""
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "churn_probability": [0.9, 0.8, 0.75, 0.5, 0.45, 0.01],
        "risk_tier": ["high", "high", "high", "medium", "medium", "low"],
        "value_at_stake": [90.0, 40.0, 30.0, 20.0, 10.0, 1.0],
        "reason": ["forgot", "forgot", "price", "choice", "other", "forgot"],
        "reason_confidence": [0.95, 0.85, 0.5, 0.3, 0.7, 0.9],
        "membership_tier": ["bronze", "silver", "gold", "silver", "bronze", "gold"],
        "action": ["reminder_gift", "care_call", "promotion_invite", "new_arrivals", "none",
                   "advocate_invite"],
        "channel": ["email", "phone", "sms", "email", "none", "email"],
        "offer": ["gift_and_favorite_reward", "gift", "promo_pct_off_30",
                  "early_bird_pct_off_5", "none", "none"],
        "in_budget": [True, True, True, True, True, False],
        "holdout": [False, False, True, False, False, False],
        "action_source": ["rules", "rules", "rules", "explore", "rules", "rules"],
        "product_ids": ["P1,P2", "P3", "", "P4", "", ""],
    })
    return frame.assign(**over)


# --- inputs ----------------------------------------------------------------------------------

def test_send_is_derived_when_the_export_lacks_it_and_never_includes_a_held_out_customer():
    sent = with_send(batch())
    assert sent["send"].tolist() == [True, True, False, True, False, False]
    # a newer export's own column wins, but a held-out row is never sent
    told = with_send(batch(send=[True, False, True, True, False, False]))
    assert told["send"].tolist() == [True, False, False, True, False, False]


# --- this week -------------------------------------------------------------------------------

def test_counts_per_channel_held_out_and_nothing_to_send():
    n = week.counts(with_send(batch()))
    assert n["to_contact"] == 3
    assert n["by_channel"] == {"email": 2, "phone": 1}   # the SMS target is held out
    assert (n["targets"], n["held_out"], n["no_action_in_budget"]) == (4, 1, 1)
    assert n["held_out_share"] == pytest.approx(0.25)
    assert n["value_at_stake"] == pytest.approx(150.0)
    assert n["sources"] == {"rules": 2, "explore": 1}


def test_plan_costs_each_contact_by_channel_and_counts_held_out_per_action():
    plan = week.plan(with_send(batch()), {"email": 0.05, "phone": 3.0})
    rows = plan.set_index("action")
    assert set(rows.index) == {"reminder_gift", "care_call", "new_arrivals"}
    assert rows.loc["care_call", "cost"] == pytest.approx(3.0)
    assert rows.loc["new_arrivals", "discount"] == pytest.approx(0.05)
    assert plan["cost"].sum() == pytest.approx(3.10)
    # the held-out SMS promotion is sent to nobody, so it has no row of its own
    assert plan["held_out"].sum() == 0


def test_send_list_is_ordered_by_value_limited_and_in_words():
    listed, total = week.send_list(with_send(batch()), limit=2)
    assert total == 3 and listed["customer_id"].tolist() == ["a", "b"]
    rows = week.send_rows(listed, "€")
    assert rows[0][:6] == ["a", "E-mail", "Reminder with a small gift",
                           "A small gift and a reward for favouriting the shop",
                           "Forgot the shop", "High risk"]
    assert rows[0][6:8] == ["90%", "€90.00"] and rows[0][9] == "P1, P2"
    assert rows[0][10:] == [0.9, 90.0]


def test_the_batch_goes_out_the_day_after_its_cutoff():
    assert week.send_day("2025-12-31") == "2026-01-01"


# --- what the campaigns earned ----------------------------------------------------------------

def results() -> pd.DataFrame:
    """Two campaigns of one action, and one reason segment in the second."""
    return pd.DataFrame({
        "batch": ["c1", "c2", "c2", "c2"],
        "action": ["reminder", "reminder", "reminder", "reminder"],
        "segment": ["all", "all", "reason:forgot", "reason:pooled"],
        "n_treatment": [100, 200, 150, 50], "n_control": [50, 100, 80, 20],
        "rate_treatment": [0.3, 0.2, 0.25, 0.1], "rate_control": [0.1, 0.25, 0.2, 0.1],
        "uplift": [0.2, -0.05, 0.05, 0.0], "ci_low": [0.08, -0.15, -0.05, -0.2],
        "ci_high": [0.32, 0.05, 0.15, 0.2], "p_value": [0.01, 0.3, 0.4, 1.0],
        "incremental_revenue": [4.0, -1.5, 2.0, 0.0], "pooled": [False, False, False, True],
    })


def test_measured_rows_are_dated_with_extra_customers_and_money_and_no_pooled_segment():
    rows = earned.measured(results(), {"c1": "2025-05-03", "c2": "2025-06-02"})
    assert "reason:pooled" not in set(rows["segment"])
    first = rows.iloc[0]
    assert (first["batch"], first["date"], first["verdict"]) == ("c1", "2025-05-03", "works")
    assert first["extra"] == pytest.approx(20.0) and first["net"] == pytest.approx(400.0)
    assert (first["extra_low"], first["extra_high"]) == pytest.approx((8.0, 32.0))
    assert rows.set_index("segment").loc["all"].iloc[-1]["verdict"] == "unclear"


def test_verdict_reads_the_interval():
    assert earned.verdict(0.01, 0.2) == "works"
    assert earned.verdict(-0.2, -0.01) == "hurts"
    assert earned.verdict(-0.1, 0.1) == "unclear"
    assert earned.verdict(float("nan"), 0.1) == "unclear"


def test_campaign_totals_latest_and_the_contact_weighted_combination():
    rows = earned.measured(results(), {"c1": "2025-05-03", "c2": "2025-06-02"})
    table = earned.campaigns(rows).set_index("batch")
    assert table.loc["c2", "extra"] == pytest.approx(-10.0)
    assert table.loc["c2", "net"] == pytest.approx(-300.0)
    assert earned.latest(rows)["batch"].tolist() == ["c2"]
    together = earned.combined(rows).set_index("segment").loc["all"]
    # (0.2 x 100 - 0.05 x 200) / 300 extra per contacted, money and customers summed
    assert together["uplift"] == pytest.approx(10 / 300)
    assert together["extra"] == pytest.approx(10.0) and together["net"] == pytest.approx(100.0)
    se1, se2 = 0.24 / (2 * earned.Z95), 0.20 / (2 * earned.Z95)
    se = math.sqrt((1 / 3) ** 2 * se1 ** 2 + (2 / 3) ** 2 * se2 ** 2)
    assert together["ci_low"] == pytest.approx(10 / 300 - earned.Z95 * se)
    # with reason segments, the chart shows them; without, the action over all customers
    assert earned.chart_rows(earned.combined(rows))["segment"].tolist() == ["reason:forgot"]


def test_the_sentence_says_customers_points_and_money_in_words():
    row = {"action": "reminder_gift", "segment": "reason:forgot", "extra": 92.4,
           "uplift": 0.09, "ci_low": 0.03, "ci_high": 0.14, "net": 4213.0, "verdict": "works"}
    assert earned.sentence(row, "€") == (
        "Reminder with a small gift to customers who forgot the shop: 92 more customers bought "
        "than in the control group, +9 points (+3 to +14), about €4,213 net of cost.")
    worse = {**row, "segment": "all", "extra": -3, "uplift": -0.01, "ci_low": -0.2,
             "ci_high": 0.1, "net": -50.0, "verdict": "unclear"}
    assert earned.sentence(worse, "$") == (
        "Reminder with a small gift: 3 fewer customers bought than in the control group, −1 "
        "point (−20 to +10), a loss of about $50 after cost. The interval includes zero: "
        "not clear yet.")


def test_campaign_names_carry_their_date():
    assert earned.campaign_name("c07", "2025-11-29") == "Campaign c07, sent 29 November 2025"
    assert earned.campaign_name("2025-12-30", None) == "Batch of 30 December 2025"


# --- why customers leave ---------------------------------------------------------------------

def test_reason_mix_now_and_over_batches():
    export = batch()
    mix = leave.mix_now(export, {"forgot": 0.4, "price": 0.2, "choice": 0.2, "other": 0.2})
    assert mix["reason"].tolist()[0] == "forgot"
    assert mix.set_index("reason")["customers"].to_dict() == {
        "forgot": 2, "price": 1, "choice": 1, "other": 1}
    assert leave.headline(mix) == ("The main reason now: forgot the shop, for 40% of the "
                                   "customers at risk (2); then too many choices elsewhere "
                                   "(20%).")
    counts = pd.DataFrame({"as_of": ["2025-01-01"] * 3 + ["2025-02-01"] * 2,
                           "risk_tier": ["high", "high", "low", "medium", "high"],
                           "reason": ["forgot", "price", "price", "forgot", "forgot"],
                           "customers": [3, 3, 10, 1, 4]})
    trend = leave.mix_trend(counts)
    assert trend.loc["2025-01-01", "forgot"] == pytest.approx(0.5)   # the low tier left out
    assert trend.loc["2025-02-01", "forgot"] == pytest.approx(1.0)
    assert list(trend.columns) == ["forgot", "price"]


def test_evidence_names_its_kinds_with_the_typical_numbers():
    export = batch(reason_evidence=[
        "bought once, 100 days ago; the churn model's drivers point at forgot",
        "bought once, 300 days ago; no visit since", "buys at 60% of the category's price",
        "", "no sign", ""])
    found = leave.evidence(export)
    forgot = found["forgot"]
    assert forgot[0] == {"text": "bought once, 200 days ago", "share": 1.0}
    assert {e["text"] for e in forgot[1:]} == {
        "the churn score's own signals point the same way", "no visit since"}
    assert found["price"] == [{"text": "buys at 60% of the category's price", "share": 1.0}]


def test_confidence_bands_beside_the_backtest():
    backtest = {"reliability": [{"bin": 4, "n": 10, "mean_confidence": 0.9,
                                 "share_right": 0.8}]}
    bands = leave.confidence(batch(), backtest).set_index("band")
    assert bands["customers"].to_dict() == {1: 1, 2: 1, 3: 1, 4: 2}   # the low tier left out
    assert bands.loc[4, "share_right"] == pytest.approx(0.8)
    assert np.isnan(bands.loc[2, "share_right"])


def test_what_the_tables_can_and_cannot_tell_apart():
    only_orders = leave.telling_apart({"orders", "orders.customer_id"}).set_index("reason")
    assert only_orders.loc["satisfaction", "seen"] == []
    assert "returns|orders.status" in only_orders.loc["satisfaction", "would_add"]
    assert "bought exactly once" in only_orders.loc["forgot", "seen"]
    everything = leave.telling_apart({"orders", "orders.discount", "orders.status",
                                      "order_items", "products", "returns", "reviews",
                                      "events"}).set_index("reason")
    assert all(not m for m in everything["missing"])
    assert words.need("returns|orders.status") == "returns or a status column in orders"


def test_similar_leavers_only_share():
    export = batch(reason_basis=["orders", "similar leavers (no direct evidence)", "events",
                                 "orders", "similar leavers (no direct evidence)", "orders"])
    assert leave.similar_only(export) == pytest.approx(0.4)


# --- who is at risk --------------------------------------------------------------------------

def test_tiers_in_ranges_and_the_grid_has_no_empty_row():
    assert risk.tier_ranges({"high": 0.7, "medium": 0.4}) == {
        "high": (0.7, 1.0), "medium": (0.4, 0.7), "low": (0.0, 0.4)}
    export = with_send(batch())
    tiers = risk.tiers(export, {"high": 0.7, "medium": 0.4}).set_index("risk_tier")
    assert tiers["customers"].to_dict() == {"high": 3, "medium": 2, "low": 1}
    assert tiers.loc["high", "sends"] == 2 and tiers.loc["high", "value"] == pytest.approx(160)
    cells, upper = risk.grid(export.query("risk_tier != 'medium'"))
    assert set(cells["risk_tier"]) == {"high", "low"}
    assert cells["customers"].sum() == 4
    assert upper == [30.0, 40.0, 90.0]
    assert risk.band_labels([13.0, 43.0, 900.0], "€") == ["up to €13", "€13 to €43",
                                                          "over €43"]


def test_membership_and_advocates_never_list_a_held_out_customer():
    export = with_send(batch())
    members = risk.membership(export).set_index("membership_tier")
    assert list(members.index) == ["gold", "silver", "bronze"]
    assert members.loc["gold", "at_risk"] == 1 and members.loc["gold", "customers"] == 2
    listed, n = risk.advocates(export)
    assert n == 1 and listed["customer_id"].tolist() == ["f"]
    listed, n = risk.advocates(batch(holdout=[False] * 5 + [True]))
    assert n == 0 and listed.empty


# --- are the scores right --------------------------------------------------------------------

def test_realised_accuracy_and_the_first_batch_still_open():
    closed = accuracy.realised({"past_scores": [
        {"as_of": "2024-02-01", "n": 10, "churn_rate": 0.5, "mean_predicted": 0.6,
         "roc_auc": 0.8, "brier": 0.2},
        {"as_of": "2024-01-01", "n": 8, "churn_rate": 0.4, "mean_predicted": 0.45,
         "roc_auc": 0.7, "brier": 0.25}]})
    assert closed["as_of"].tolist() == ["2024-01-01", "2024-02-01"]
    pending = accuracy.first_close(["2024-01-01", "2024-02-01", "2025-03-01"], 365, closed)
    assert pending == ("2025-03-01", "2026-03-01")
    assert accuracy.headline(closed, None, 365, pending) == (
        "The scores of 1 February 2024 said 60% of 10 customers would not buy again within 365 "
        "days; 50% did not. They put a leaver above a stayer 80 times in 100.")
    none = accuracy.realised({})
    assert accuracy.headline(none, {"model": 0.9}, 365, ("2025-03-01", "2026-03-01")) \
        .startswith("No batch has reached its 365-day horizon yet: the first, of 1 March 2025")


def test_model_against_rules_and_whether_it_was_retrained_now():
    evaluation = {
        "validation_cutoff": "2024-12-30",
        "model": {"all": {"roc_auc": 0.95, "n": 100, "churn_rate": 0.6}},
        "baselines": {"recency_only": {"all": {"roc_auc": 0.83}},
                      "rfm_logistic": {"all": {"roc_auc": 0.87}}},
        "rolling": {"folds": [{}, {}], "summary": {"lightgbm": {"mean": 0.94, "std": 0.01}}},
        "promotion": {"promoted": True, "challenger_version": "3"}}
    rules = accuracy.model_vs_rules(evaluation)
    assert (rules["baseline"], rules["baseline_auc"], rules["folds"]) == ("rfm_logistic", 0.87, 2)
    assert accuracy.model_vs_rules({"score_source": "btyd"}) is None
    assert accuracy.retrained_now(evaluation, {"model": {"version": "3"}})
    assert not accuracy.retrained_now(evaluation, {"model": {"version": "2"}})
    table = accuracy.metrics_table(evaluation)
    assert set(table["model"]) == {"lightgbm", "recency_only", "rfm_logistic"}


def test_drift_features_in_words_and_curves_thinned():
    rows = accuracy.drift({"features": [{"feature": "recency_days", "psi": 0.3,
                                         "level": "alert"}]})
    assert rows["meaning"].tolist() == ["Days from the last completed order to the cutoff"]
    frame = pd.DataFrame({"fpr": np.linspace(0, 1, 500), "tpr": np.linspace(0, 1, 500),
                          "model": "lightgbm"})
    pts = accuracy.curve(frame, "fpr", "tpr", points=50)["lightgbm"]
    assert len(pts) == 50 and pts[0] == (0.0, 0.0) and pts[-1] == (1.0, 1.0)


# --- words -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (1858, "1,858"), (-3, "−3"), (float("nan"), "—"), (None, "—")])
def test_counts(value, text):
    assert words.count(value) == text


def test_money_percent_points_and_dates():
    assert words.money(4213.5, "€") == "€4,214"
    assert words.money(0.05, "€") == "€0.05"
    assert words.money(-42.9, "£") == "−£43"
    assert words.money(-0.001, "€") == "€0.00"
    assert words.money(3, "€", cents=True) == "€3.00"
    assert words.pct(0.586) == "59%" and words.small_pct(0.0001) == "under 0.1%"
    assert words.points(0.0875) == "+9" and words.points(-0.004) == "0"
    assert words.day("2025-12-30") == "30 December 2025"
    assert words.day_labels(["2024-12-20", "2025-01-20", "2025-02-20"]) == [
        "20 Dec 2024", "20 Jan 2025", "20 Feb"]


def test_codes_in_plain_words():
    assert words.model("rfm_logistic") == "RFM rules (logistic regression)"
    assert words.action("reminder_gift") == "Reminder with a small gift"
    assert words.offer("promo_pct_off_30") == "30% off (promotion)"
    assert words.offer("membership_pct_off_7") == "7% member discount"
    assert words.segment("tier:high") == "High risk"
    assert words.channel_noun("phone", 339) == "calls"
    assert words.channel_noun("email", 1) == "e-mail"
    assert words.action("brand_new_action") == "Brand new action"   # never an identifier
