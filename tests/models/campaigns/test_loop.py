"""Closing the loop on hand-made shops: the posterior pools and keeps the prior weak, a batch
explores every plausible action with its exact chance, evidence beats the rules' hypothesis,
a measured harm is not sent, and the value budget contacts everyone it pays to reach within
its caps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.params import CampaignParams, RecommendParams
from models.actions.rules import RULE_ACTIONS, plan_actions
from models.campaigns.evidence import posterior
from models.campaigns.policy import apply_policy as apply
from models.campaigns.policy import fit_policy

CP, RP = CampaignParams(), RecommendParams()
NO_HISTORY = pd.DataFrame(columns=["observed_action", "reason", "lifecycle", "responded",
                                   "batch", "propensity"])


def shop(n: int, reasons=("forgot", "price", "choice", "satisfaction", "other"),
         seed: int = 0) -> pd.DataFrame:
    """Scored customers, all at risk, as plan_actions leaves them."""
    rng = np.random.default_rng(seed)
    scored = pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)], "at_risk": True,
        "reason": rng.choice(list(reasons), n), "risk_tier": "high",
        "one_time_buyer": 0.0, "recency_days": 60.0, "membership_tier": "silver",
        "yearly_spend": 100.0, "value_at_stake": rng.random(n) * 100})
    return plan_actions(scored, RP)


def history(customers: pd.DataFrame, effects: dict[tuple[str, str], float], actions: list[str],
            batches: int = 2, seed: int = 1, base: float = 0.1) -> pd.DataFrame:
    """Randomised contacts (a third to a shared control, the rest spread over `actions`) with
    responses planted by (reason, action)."""
    rng = np.random.default_rng(seed)
    parts = []
    for b in range(batches):
        arm = np.asarray(["none", *actions], dtype=object)[
            rng.integers(0, len(actions) + 1, len(customers))]
        lift = np.array([effects.get((r, a), 0.0) for r, a in
                         zip(customers["reason"], arm, strict=True)])
        y = (rng.random(len(customers)) < base + lift).astype(int)
        parts.append(pd.DataFrame({
            "customer_id": customers["customer_id"].to_numpy(), "batch": f"b{b}",
            "reason": customers["reason"].to_numpy(), "lifecycle": "repeat",
            "observed_action": arm, "responded": y,
            "propensity": 1 / (len(actions) + 1)}))
    return pd.concat(parts, ignore_index=True)


def test_the_prior_alone_is_weak_and_data_pools_across_segments():
    post = posterior(NO_HISTORY, RULE_ACTIONS, ["price", "none"], RULE_ACTIONS, 0.03)
    cell = post.set_index(["action", "reason", "lifecycle"])
    assert cell.loc[("promotion_invite", "price", "new"), "mean"] == pytest.approx(0.03)
    assert cell.loc[("reminder", "price", "new"), "mean"] == 0.0       # not its reason
    assert cell.loc[("promotion_invite", "none", "new"), "mean"] == 0.0
    assert (post["sd"] > 0.04).all() and (post["data_weight"] == 0).all()
    # 4,000 contacts a batch in one stage only: that stage is measured, the others borrow
    customers = shop(4000, reasons=("price",))
    rows = history(customers, {("price", "promotion_invite"): 0.12}, ["promotion_invite"])
    post = posterior(rows, ["promotion_invite"], ["price"], RULE_ACTIONS, 0.03)
    cell = post.set_index(["reason", "lifecycle"])
    assert cell.loc[("price", "repeat"), "mean"] == pytest.approx(0.12, abs=0.025)
    assert cell.loc[("price", "repeat"), "data_weight"] > 0.9
    assert cell.loc[("price", "new"), "mean"] > 0.06                  # borrowed from its reason
    assert cell.loc[("price", "new"), "sd"] > cell.loc[("price", "repeat"), "sd"]


def test_with_no_history_the_first_batch_explores_every_plausible_action():
    customers = shop(3000)
    out, outlook = apply(customers, fit_policy(NO_HISTORY, CP), CP, RP, 42, "2024-06-30")
    batch = out[out["in_budget"]]
    assert len(batch) == 3000                 # every rules action pays on the prior
    sent = batch[~batch["holdout"]]
    assert set(sent["action_source"]) == {"prior", "exploration"}
    assert outlook["from_evidence"] == 0
    assert set(sent["action"]) == set(RULE_ACTIONS)          # every action is tried
    for reason, group in sent.groupby("reason"):              # and most in every reason
        assert group["action"].nunique() >= 6, reason
    # the logged chance is the chance of what was drawn: it matches the shares it produced
    chance = sent.groupby(["reason", "action"])["propensity"].mean() / (1 - CP.holdout_share)
    share = sent.groupby("reason")["action"].value_counts(normalize=True)
    assert (chance.reindex(share.index) - share).abs().max() < 0.06
    assert (batch.loc[batch["holdout"], "propensity"] == CP.holdout_share).all()
    assert abs(batch["holdout"].mean() - CP.holdout_share) < 0.02
    # the same inputs give the same batch
    again, _ = apply(customers, fit_policy(NO_HISTORY, CP), CP, RP, 42, "2024-06-30")
    pd.testing.assert_frame_equal(out, again)


def test_actions_the_crm_tested_outside_the_rules_are_sent_where_they_pay():
    customers = shop(6000)
    effects = {(r, "mens_email"): 0.06 for r in ("forgot", "choice", "other")}
    effects.update({(r, "womens_email"): 0.06 for r in ("price", "satisfaction")})
    rows = history(customers, effects, ["mens_email", "womens_email"])
    rows["reason"] = np.where(np.arange(len(rows)) % 3 == 0, "unknown", rows["reason"])
    policy = fit_policy(rows, CP)
    assert {"mens_email", "womens_email"} <= set(policy.tested)
    out, outlook = apply(customers, policy, CP, RP, 42, "2024-07-31")
    sent = out[out["in_budget"] & ~out["holdout"]]
    assert sent["action"].isin(["mens_email", "womens_email"]).mean() > 0.85
    mens = sent["reason"].isin(["forgot", "choice", "other"])
    assert (sent.loc[mens, "action"] == "mens_email").mean() > 0.8
    assert (sent.loc[~mens, "action"] == "womens_email").mean() > 0.8
    assert outlook["from_evidence"] > 0.7 * len(sent)
    # one offer per action: what the history sent it with
    assert (sent.loc[sent["action"] == "mens_email", "channel"] == "email").all()


def test_an_action_measured_to_hurt_a_segment_is_not_sent_there():
    customers = shop(6000, reasons=("satisfaction", "price"))
    effects = {("satisfaction", "promotion_invite"): -0.08,
               ("price", "promotion_invite"): 0.10,
               ("satisfaction", "membership_upgrade"): 0.04}
    rows = history(customers, effects, ["promotion_invite", "membership_upgrade"], base=0.2)
    out, _ = apply(customers, fit_policy(rows, CP), CP, RP, 42, "2024-07-31")
    sent = out[out["in_budget"] & ~out["holdout"]]
    hurt = sent["reason"] == "satisfaction"
    assert not (sent.loc[hurt, "action"] == "promotion_invite").any()
    assert (sent.loc[~hurt, "action"] == "promotion_invite").mean() > 0.7


def test_the_value_budget_contacts_everyone_it_pays_to_reach_within_the_caps():
    customers = shop(3000)
    policy = fit_policy(NO_HISTORY, CP)
    free = apply(customers, policy, CP, RP, 1, "2024-06-30")[0]
    # a phone call pays for nobody at a value of 5 per response; an e-mail does
    cheap = free.assign(yearly_spend=5.0)
    snapshot = pd.DataFrame({"customer_id": customers["customer_id"], "monetary_mean": 5.0})
    out = apply(cheap, policy, CP, RP, 1, "2024-06-30", snapshot)[0]
    assert out["in_budget"].all()
    assert not out.loc[out["in_budget"], "channel"].eq("phone").any()
    none_pays = apply(cheap, policy, CP, RecommendParams(channel_costs={"email": 9.0,
                                                                        "sms": 9.0,
                                                                        "phone": 9.0}),
                      1, "2024-06-30", snapshot)[0]
    assert not none_pays["in_budget"].any()
    capped = RecommendParams(max_contacts=500, max_spend=60.0,
                             channel_max_contacts={"phone": 5})
    out = apply(customers, policy, CP, capped, 1, "2024-06-30")[0]
    batch = out[out["in_budget"]]
    assert len(batch) <= 500
    sent = batch[~batch["holdout"]]
    assert sent["cost"].sum() <= 60.0 and (sent["channel"] == "phone").sum() <= 5
    # who is kept: the customers whose best action is worth most come first
    assert len(batch) > 300
