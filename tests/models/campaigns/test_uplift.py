"""Learning what to send: the T-learner, the policy, Qini and IPW on hand-made data, and a
learned policy that beats wrong rules on held-out contacts of a synthetic history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.hashing import stable_bucket
from models.campaigns.judge import (
    compare_policies,
    policy_value_ipw,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from models.campaigns.uplift import choose_actions, fit_uplift

# --- ranking metrics ------------------------------------------------------------------------


def test_qini_curve_by_hand():
    # sorted by score: T responds, C responds, T silent, C silent
    curve = qini_curve([4, 3, 2, 1], [1, 0, 1, 0], [1, 1, 0, 0])
    # k=1: 1 (no control yet); k=2: 1 - 1*1/1 = 0; k=3: 1 - 1*2/1 = -1; k=4: 1 - 1*2/2 = 0
    assert curve["qini"].tolist() == [0.0, 1.0, 0.0, -1.0, 0.0]
    assert curve["random"].tolist() == [0.0] * 5
    assert curve["fraction"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_qini_of_a_perfect_ranking_beats_random_and_reversed():
    rng = np.random.default_rng(0)
    n = 2000
    persuadable = rng.random(n) < 0.3
    treated = rng.random(n) < 0.5
    outcome = (treated & persuadable).astype(int)      # only persuadables respond, if treated
    perfect = persuadable.astype(float) + rng.random(n) * 0.01
    q_perfect = qini_coefficient(perfect, treated, outcome)
    q_random = np.mean([qini_coefficient(rng.random(n), treated, outcome) for _ in range(20)])
    assert q_perfect > 0.05 > abs(q_random)
    assert qini_coefficient(-perfect, treated, outcome) < q_random < q_perfect
    assert uplift_at(perfect, treated, outcome, 0.1) == pytest.approx(1.0)
    assert uplift_at(perfect, treated, outcome, 1.0) == pytest.approx(
        outcome[treated].mean(), abs=1e-12)


def test_uplift_at_by_hand():
    score = [0.9, 0.8, 0.7, 0.6, 0.1, 0.0]
    treated = [1, 0, 1, 0, 1, 0]
    outcome = [1, 0, 1, 1, 0, 1]
    # top 4: treated 2/2 respond, control 1/2
    assert uplift_at(score, treated, outcome, 4 / 6) == pytest.approx(0.5)
    assert np.isnan(uplift_at(score, treated, outcome, 0.1))        # one arm only


# --- policy values --------------------------------------------------------------------------

def test_policy_value_ipw_by_hand():
    observed = ["a", "none", "b", "a"]
    reward = [1.0, 1.0, 0.0, 1.0]
    propensity = [0.5, 0.1, 0.4, 0.25]
    # policy "a" for everyone matches rows 0 and 3: (1/0.5 + 1/0.25) / 4 = 1.5
    assert policy_value_ipw(["a"] * 4, observed, reward, propensity) == pytest.approx(1.5)
    # self-normalised: (2 + 4) / (2 + 4) = 1
    assert policy_value_ipw(["a"] * 4, observed, reward, propensity,
                            self_normalized=True) == pytest.approx(1.0)
    # "none" for all matches row 1 only: 1/0.1 / 4
    assert policy_value_ipw(["none"] * 4, observed, reward, propensity) == pytest.approx(2.5)
    table = compare_policies({"mine": ["a", "none", "b", "a"]}, observed, reward, propensity,
                             ["a", "b"]).set_index("policy")["value"]
    assert table["mine"] == pytest.approx((2 + 10 + 0 + 4) / 4)
    assert table["nothing"] == pytest.approx(2.5) and table["best_single:a"] == pytest.approx(1.5)
    assert table["random"] == pytest.approx((2.5 + 1.5 + 0.0) / 3)


# --- choosing actions -----------------------------------------------------------------------

def test_choose_actions_learned_rules_and_none():
    uplift = pd.DataFrame({"reminder": [0.10, 0.01, 0.2, np.nan],
                           "discount": [0.05, -0.02, np.nan, np.nan]},
                          index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"))
    rules = pd.Series(["discount", "reminder", "care_call", "reminder"], index=uplift.index)
    out = choose_actions(uplift, value_per_response=10.0,
                         cost={"reminder": 0.5, "discount": 0.1}, rules_action=rules,
                         explore_share=0.0)
    # c1: reminder 0.10*10-0.5 = 0.5 beats discount 0.05*10-0.1 = 0.4
    assert out.loc["c1"].tolist() == ["reminder", 0.10, pytest.approx(0.5), "learned", 1.0]
    # c2: every value is negative (-0.4, -0.3): send nothing
    assert out.loc["c2", "action"] == "none" and out.loc["c2", "action_source"] == "learned"
    # c3: the rules' action has never been measured; c4: nothing has evidence
    assert out.loc["c3"][["action", "action_source"]].tolist() == ["care_call", "rules"]
    assert out.loc["c4"][["action", "action_source"]].tolist() == ["reminder", "rules"]


def test_choose_actions_explores_a_reproducible_share():
    ids = pd.Index([f"{i:06d}" for i in range(10_000)], name="customer_id")
    uplift = pd.DataFrame({"reminder": 0.1, "discount": 0.0}, index=ids)
    rules = pd.Series("reminder", index=ids)
    first = choose_actions(uplift, 1.0, 0.0, rules, explore_share=0.1, seed=7, batch="2024-06")
    again = choose_actions(uplift, 1.0, 0.0, rules, explore_share=0.1, seed=7, batch="2024-06")
    pd.testing.assert_frame_equal(first, again)
    explored = first["action_source"] == "explore"
    assert abs(explored.mean() - 0.1) < 0.01
    # the chance of each action: 0.9 + 0.1/2 for the exploited one, 0.1/2 for the other
    assert set(first["propensity"].round(6)) == {0.95, 0.05}
    assert (first.loc[first["action"] == "discount", "propensity"].round(6) == 0.05).all()
    assert set(first.loc[explored, "action"]) == {"reminder", "discount"}
    assert (first.loc[~explored, "action"] == "reminder").all()
    other = choose_actions(uplift, 1.0, 0.0, rules, explore_share=0.1, seed=7, batch="2024-07")
    assert (explored & (other["action_source"] == "explore")).mean() < 0.02


# --- the T-learner --------------------------------------------------------------------------

def test_t_learner_recovers_cell_uplift_and_leaves_thin_actions_out():
    rng = np.random.default_rng(1)
    n = 6000
    seg = rng.integers(0, 2, n)
    action = np.where(rng.random(n) < 0.97, "reminder", "gift")   # gift: 180 contacts
    treated = rng.random(n) < 0.7
    base = np.where(seg == 1, 0.10, 0.30)
    lift = np.where((action == "reminder") & (seg == 1), 0.20, 0.0)
    y = (rng.random(n) < base + treated * lift).astype(int)
    frame = pd.DataFrame({"seg": seg, "noise": rng.random(n), "action": action,
                          "treated": treated.astype(int), "responded": y})
    model = fit_uplift(frame, ["seg", "noise"], min_per_arm=100)
    ev = model.evidence_.set_index("action")
    assert bool(ev.loc["reminder", "enough"]) and not bool(ev.loc["gift", "enough"])
    pred = model.predict(pd.DataFrame({"seg": [1] * 200 + [0] * 200, "noise": rng.random(400)}))
    assert pred["gift"].isna().all()
    assert pred["reminder"][:200].mean() == pytest.approx(0.20, abs=0.05)
    assert pred["reminder"][200:].mean() == pytest.approx(0.0, abs=0.05)


# --- a learned policy against wrong rules, on held-out contacts -------------------------------

CAUSES = ("forgot", "satisfaction", "choice", "price", "other", "loyal")
FEATURES = ["n_orders", "mean_amount", "recency_days", *(f"is_{c}" for c in CAUSES)]


def _features_at_contact(rows: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """What was known at contact time: orders strictly before it, and the reason (here the
    planted cause, standing in for the reasons model)."""
    past = rows[["customer_id", "contact_ts"]].reset_index().merge(
        orders[["customer_id", "order_ts", "amount"]], on="customer_id")
    past = past[past["order_ts"] < past["contact_ts"]]
    agg = past.groupby("index").agg(n_orders=("amount", "size"), mean_amount=("amount", "mean"),
                                    last=("order_ts", "max"))
    out = rows.join(agg)
    out["recency_days"] = (out["contact_ts"] - out["last"]).dt.days
    for cause in CAUSES:
        out[f"is_{cause}"] = (out["cause"] == cause).astype(int)
    return out


@pytest.fixture(scope="module")
def held_out():
    try:
        from synthetic.retail import ShopConfig, generate
    except ImportError:                                        # before the shops/ move
        from synthetic.boutique import generate
        from synthetic.retail.config import ShopConfig
    from models.campaigns.outcomes import outcomes
    from synthetic.campaigns import HistoryConfig, campaign_history

    tables, truth = generate(ShopConfig(customers=20_000, seed=3))
    contacts, orders = campaign_history(tables, truth, HistoryConfig(seed=2))
    as_of = orders["order_ts"].max().date()
    rows = outcomes(contacts, orders, None, as_of, 30).execute().reset_index(drop=True)
    rows = _features_at_contact(rows, orders)
    rows["treated"] = rows["group"].eq("treatment").astype(int)
    test = stable_bucket(rows["customer_id"], 2, salt="uplift-test|") == 1
    model = fit_uplift(rows[~test], FEATURES, min_per_arm=50)
    return model, rows[test].set_index("customer_id")


def test_learned_policy_beats_wrong_rules_on_held_out_contacts(held_out):
    from synthetic.campaigns import ACTIONS, EFFECTS, RULES

    model, test = held_out
    assert EFFECTS[("satisfaction", RULES["satisfaction"])] < 0      # the rules are wrong here
    rules = test["cause"].map(RULES)
    chosen = choose_actions(model.predict(test), 1.0, 0.0, rules, explore_share=0.0)
    assert set(chosen["action_source"]) == {"learned"}
    observed = np.where(test["treated"] == 1, test["action"], "none")
    args = (test["responded"].to_numpy(), test["propensity"].to_numpy())
    hurt = (test["cause"] == "satisfaction").to_numpy()
    policies = {"learned": chosen["action"].to_numpy(), "rules": rules.to_numpy()}
    on_hurt = compare_policies({k: v[hurt] for k, v in policies.items()}, observed[hurt],
                               args[0][hurt], args[1][hurt], ACTIONS,
                               self_normalized=True).set_index("policy")["value"]
    assert (chosen.loc[hurt, "action"] != RULES["satisfaction"]).mean() > 0.9
    assert on_hurt["learned"] > on_hurt["rules"]
    overall = compare_policies(policies, observed, *args, ACTIONS).set_index("policy")["value"]
    assert overall["learned"] > max(overall["nothing"], overall["random"])
    # overall the gain (15 points on ~8% of customers) is about one standard error of IPW on
    # 8,000 contacts: demand only that learning costs nothing beyond that noise
    assert overall["learned"] > overall["rules"] - 0.02
    # the model ranks whom a discount wins and whom it loses: Qini on the discount's targets,
    # treated and held out (one randomisation: controls of other actions are other people)
    arm = (test["action"] == "discount").to_numpy()
    score = model.predict(test[arm])["discount"].to_numpy()
    assert qini_coefficient(score, test["treated"].to_numpy()[arm],
                            test["responded"].to_numpy()[arm]) > 0
