"""The policy's pieces on hand-made contacts: which contacts can judge a policy, the gain over
the best single action, and what the contact log records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.campaigns.judge import gain_over_best_single
from models.campaigns.policy import logged_propensity


def test_propensity_is_logged_estimated_from_a_shared_control_or_unknown():
    rows = pd.DataFrame({
        "campaign_id": ["c1"] * 4 + ["c2"] * 3 + ["c3"] * 2,
        "action": ["a", "a", "b", None, "a", "a", "a", "b", "b"],
        "group": ["treatment", "treatment", "treatment", "control",
                  "treatment", "treatment", "control", "treatment", "control"],
    })
    got = logged_propensity(rows)
    # c1 has a shared control: arm shares a 2/4, b 1/4, none 1/4
    assert got[:4].tolist() == [0.5, 0.5, 0.25, 0.25]
    # c2, c3: planned actions with holdouts; nothing says what another action would have done
    assert got[4:].isna().all()
    logged = rows.assign(propensity=[np.nan] * 4 + [0.6, 0.6, 0.1, np.nan, 0.2])
    got = logged_propensity(logged)
    assert got[:4].tolist() == [0.5, 0.5, 0.25, 0.25]       # missing values: estimated
    assert got[4:7].tolist() == [0.6, 0.6, 0.1] and np.isnan(got[7]) and got[8] == 0.2


def test_gain_over_best_single_by_hand():
    # two actions at random (propensity 1/2 each); a responds on rows 0-1, b on none
    observed = ["a", "a", "b", "b"]
    reward = [1, 1, 0, 0]
    p = [0.5] * 4
    same = gain_over_best_single(["a"] * 4, observed, reward, p, ["a", "b"], draws=50)
    assert same["gain"] == 0.0 and same["ci_high"] == 0.0
    worse = gain_over_best_single(["b"] * 4, observed, reward, p, ["a", "b"], draws=50)
    assert worse["gain"] == -1.0


def test_contact_log_records_the_chance_of_what_was_done():
    from datetime import date

    from models.campaigns.holdout import batch_contacts

    scored = pd.DataFrame({"customer_id": [f"c{i}" for i in range(2000)], "in_budget": True,
                           "action": "reminder", "offer": "none", "channel": "email",
                           "reason": "forgot", "risk_tier": "high", "model_version": "1",
                           "expected_uplift": 0.02, "propensity": 0.95})
    holdout, log = batch_contacts(scored, date(2024, 6, 30), 0.1)
    control = log["group"] == "control"
    assert (log.loc[control, "propensity"] == 0.1).all()
    assert log.loc[~control, "propensity"].round(6).eq(0.855).all()      # 0.9 x 0.95
    rules_only = batch_contacts(scored.drop(columns="propensity"), date(2024, 6, 30), 0.1)[1]
    assert rules_only["propensity"].isna().all()      # actions not randomised: judges nothing


def test_a_designed_batch_logs_its_shared_control_without_an_action():
    from datetime import date

    from models.campaigns.holdout import batch_contacts

    scored = pd.DataFrame({"customer_id": ["a", "b", "c"], "in_budget": [True, True, False],
                           "holdout": [True, False, False], "action": "reminder",
                           "planned_action": "reminder", "offer": "x", "channel": "sms",
                           "reason": "forgot", "risk_tier": "high", "model_version": "1",
                           "expected_uplift": 0.02, "propensity": [0.1, 0.45, np.nan],
                           "cost": 0.1})
    holdout, log = batch_contacts(scored, date(2024, 6, 30), 0.1)
    assert holdout.tolist() == [True, False, False] and len(log) == 2
    control = log.iloc[0]
    assert control["action"] == "" and control["planned_action"] == "reminder"
    assert control["group"] == "control" and control["cost"] == 0.0
    assert log["propensity"].tolist() == [0.1, 0.45]          # as designed, not rescaled
