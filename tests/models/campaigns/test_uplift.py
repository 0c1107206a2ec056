"""Learning what to send: Qini and IPW on hand-made data, the T-, X- and DR-learners on
planted heterogeneity, and the posterior beating wrong rules on a synthetic history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.campaigns.judge import (
    compare_policies,
    policy_value_ipw,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from models.campaigns.uplift import KINDS, Learner, fit_learner

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


# --- the learners ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_learners_find_who_an_action_helps_and_round_trip(kind):
    rng = np.random.default_rng(1)
    n = 8000
    seg = rng.integers(0, 2, n)
    arm = np.asarray(["none", "reminder", "gift"])[rng.integers(0, 3, n)]
    lift = np.where((arm == "reminder") & (seg == 1), 0.20, 0.0)
    y = (rng.random(n) < 0.1 + lift).astype(int)
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "seg": seg.astype(float),
                         "noise": rng.random(n), "observed_action": arm, "responded": y,
                         "propensity": 1 / 3, "lifecycle": "repeat"})
    learner = fit_learner(kind, rows.iloc[:7000], ["seg", "noise"], min_per_arm=100)
    assert learner.actions == ["gift", "reminder"]
    again = Learner.from_dict(learner.to_dict())
    test = rows.iloc[7000:]
    pred = again.predict(test)
    pd.testing.assert_frame_equal(pred, learner.predict(test))
    helped = (test["seg"] == 1).to_numpy()
    assert pred.loc[helped, "reminder"].mean() > 0.12
    assert abs(pred.loc[~helped, "reminder"].mean()) < 0.06
    assert abs(pred["gift"].mean()) < 0.06
    thin = fit_learner(kind, rows.iloc[:400], ["seg"], min_per_arm=200)
    assert thin.actions == []                              # too few contacts for any arm
