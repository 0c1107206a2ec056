"""Model behaviour, as a marketer would check it: direction (a longer lapse, fewer orders, no
recent visits never lower P(churn): the constraints hold), what the model learned by itself on
features it is free on (still opening e-mails, still visiting, a favourite lower the risk on
average; being overdue raises it), invariance (row order and customer ids change nothing),
and minimum functionality (a one-time buyer silent for 400 days is high risk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.params import ReasonParams, RecommendParams, ScoreParams, TrainParams
from models.actions.rules import plan_actions
from models.churn.scoring import score_rows
from models.churn.split import time_split
from models.churn.train import train_model


@pytest.fixture(scope="module")
def fitted(small_features):
    frame, names = small_features
    model, _ = train_model(time_split(frame), names, TrainParams(), 42)
    return model, frame[frame.split == "score"].reset_index(drop=True)


@pytest.mark.parametrize("feature, change", [
    ("recency_days", lambda v: v + 90),           # silent for longer
    ("days_since_last_event", lambda v: v + 90),  # no contact for longer
    ("frequency", lambda v: np.maximum(v - 1, 1)),  # fewer orders
    ("orders_365d", lambda v: np.zeros_like(v)),   # nothing bought in the last year
    ("visits_90d", lambda v: np.zeros_like(v)),    # no recent visits
])
def test_worse_behaviour_never_lowers_the_churn_probability(fitted, feature, change):
    model, snapshot = fitted
    worse = snapshot.assign(**{feature: change(snapshot[feature].to_numpy())})
    before, after = model.predict_proba(snapshot), model.predict_proba(worse)
    assert (after >= before - 1e-9).all(), feature
    assert (after > before + 1e-6).any() or feature == "orders_365d", feature


@pytest.mark.parametrize("feature, change, direction", [
    ("email_opens_since_last_order", lambda v: np.zeros_like(v), +1),  # stopped opening
    ("visits_since_last_order", lambda v: np.zeros_like(v), +1),       # stopped visiting
    ("favorited", lambda v: np.zeros_like(v), +1),                     # no favourite
    ("overdue_factor", lambda v: v * 3, +1),                           # far past their rhythm
])
def test_the_model_learned_the_direction_of_unconstrained_features(fitted, feature, change,
                                                                   direction):
    """No monotone constraint holds these: the direction is learned from the shop, so it is
    judged on average over the customers the change touches, not row by row."""
    model, snapshot = fitted
    worse = snapshot.assign(**{feature: change(snapshot[feature].to_numpy())})
    touched = (worse[feature] != snapshot[feature]).to_numpy()
    assert touched.sum() > 50, feature
    shift = model.predict_proba(worse)[touched] - model.predict_proba(snapshot)[touched]
    # on average, and for more of the customers touched than not
    assert direction * shift.mean() > 0, (feature, shift.mean())
    assert (direction * shift > 0).sum() > (direction * shift < 0).sum(), feature


def test_row_order_and_customer_ids_change_nothing(fitted):
    model, snapshot = fitted
    sp, rp, recp = ScoreParams(), ReasonParams(), RecommendParams()
    base = plan_actions(score_rows(snapshot, model, sp, rp), recp).set_index("customer_id")
    shuffled = snapshot.sample(frac=1.0, random_state=3)
    renamed = shuffled.assign(customer_id="x" + shuffled["customer_id"].str[::-1])
    again = plan_actions(score_rows(renamed, model, sp, rp), recp)
    again["customer_id"] = again["customer_id"].str[1:].str[::-1]
    again = again.set_index("customer_id").loc[base.index]
    for col in ("churn_probability", "risk_tier", "reason", "action", "offer"):
        pd.testing.assert_series_equal(again[col], base[col], check_names=False)


def test_a_one_time_buyer_silent_for_400_days_is_high_risk(fitted):
    model, snapshot = fitted
    silent = snapshot[(snapshot["frequency"] == 1) & (snapshot["recency_days"] >= 400)]
    assert len(silent) > 20
    tiers = score_rows(silent, model, ScoreParams(), ReasonParams())["risk_tier"]
    assert (tiers == "high").all(), tiers.value_counts().to_dict()
