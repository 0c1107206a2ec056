"""Learning what to send: per-customer uplift of each action, a policy, and how to judge both.

A T-learner: one LightGBM model of the response without contact (all held-out controls) and one
per action (its treated contacts); the uplift of action a for a customer is the difference of
the two predictions. Hand-written rather than taken from scikit-uplift (unmaintained since 2022)
or causalml (pulls xgboost, shap, statsmodels, seaborn, black, pinned forestci/pathos): it is
twenty lines on the LightGBM the project already trains with.

How uplift and policies are judged is in models/campaigns/judge.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from common.errors import ChurnError
from common.hashing import stable_bucket
from models.campaigns.judge import NONE

#: small, shallow trees: each arm is a few thousand contacts at most, and a response model that
#: chases noise turns into a policy that switches actions on noise
LGBM_PARAMS: Mapping[str, object] = {
    "n_estimators": 80, "learning_rate": 0.05, "num_leaves": 4, "min_child_samples": 40,
    "max_bin": 31, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9,
    "reg_lambda": 1.0, "n_jobs": 1, "verbose": -1, "random_state": 0,
}
_BUCKETS = 100_000


def _is_empty(action: pd.Series) -> pd.Series:
    return action.isna() | (action.astype("string").str.strip() == "")


class _Constant:
    """The response rate of an arm whose outcome never varies (LightGBM needs two classes)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(X), 1 - self.rate), np.full(len(X), self.rate)])


def _fit_response(X: pd.DataFrame, y: np.ndarray, params: Mapping[str, object],
                  weight: np.ndarray | None = None):
    if len(np.unique(y)) < 2:
        return _Constant(float(y.mean()) if len(y) else 0.0)
    return lgb.LGBMClassifier(**params).fit(X, y, sample_weight=weight)


@dataclass
class TLearner:
    """Uplift of each action vs no contact, as the difference of two response models.

    Fit on contacts before `expand_shared_controls`: one row per contact, controls (treated=0)
    with their planned action or an empty action (shared control). The no-contact model learns
    from every control, whatever action it was held out from: not contacting is the same
    treatment for all of them, and conditioning on the features adjusts for who was targeted.
    An action gets a model only with at least `min_per_arm` treated contacts and `min_per_arm`
    controls held out from it (or shared controls); otherwise its uplift is NaN (thin evidence).
    With a `propensity_col`, each contact weighs 1 / its logged propensity (1 where unknown):
    every arm then learns on the whole contacted population rather than on the customers its
    action was planned for, so the arms' models err alike and their difference is less biased.
    """

    features: list[str]
    min_per_arm: int = 200
    params: Mapping[str, object] = field(default_factory=lambda: dict(LGBM_PARAMS))

    def fit(self, frame: pd.DataFrame, action_col: str = "action", treated_col: str = "treated",
            outcome_col: str = "responded", propensity_col: str | None = None) -> TLearner:
        missing = {action_col, treated_col, outcome_col, *self.features} - set(frame.columns)
        if missing:
            raise ChurnError(f"uplift training data lacks column(s): {', '.join(sorted(missing))}")
        treated = frame[treated_col].astype(bool).to_numpy()
        empty = _is_empty(frame[action_col]).to_numpy()
        action = frame[action_col].astype("string").fillna("").to_numpy()
        y = frame[outcome_col].astype(int).to_numpy()
        X = frame[self.features]
        w = np.ones(len(frame)) if propensity_col is None else \
            1.0 / pd.to_numeric(frame[propensity_col], errors="coerce").fillna(1.0).to_numpy()
        self.actions_ = sorted(set(action[treated & ~empty]))
        self.control_ = _fit_response(X[~treated], y[~treated], self.params, w[~treated])
        self.treated_: dict[str, object] = {}
        rows = []
        for a in self.actions_:
            is_t = treated & (action == a)
            n_t, n_c = int(is_t.sum()), int((~treated & ((action == a) | empty)).sum())
            enough = n_t >= self.min_per_arm and n_c >= self.min_per_arm
            rows.append({"action": a, "n_treatment": n_t, "n_control": n_c, "enough": enough})
            if enough:
                self.treated_[a] = _fit_response(X[is_t], y[is_t], self.params, w[is_t])
        self.evidence_ = pd.DataFrame(rows, columns=["action", "n_treatment", "n_control",
                                                     "enough"])
        return self

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Expected uplift (response probability with - without the action), one column per
        action seen in training; NaN for actions with thin evidence."""
        X = X[self.features]
        base = self.control_.predict_proba(X)[:, 1]
        out = pd.DataFrame(index=X.index)
        for a in self.actions_:
            model = self.treated_.get(a)
            out[a] = model.predict_proba(X)[:, 1] - base if model is not None else np.nan
        return out


def fit_uplift(frame: pd.DataFrame, features: list[str], action_col: str = "action",
               treated_col: str = "treated", outcome_col: str = "responded",
               min_per_arm: int = 200) -> TLearner:
    """A fitted T-learner (see `TLearner`); `.predict(X)` gives uplift per customer and action."""
    return TLearner(features, min_per_arm).fit(frame, action_col, treated_col, outcome_col)


def _per_action(value: float | Mapping[str, float] | pd.Series | pd.DataFrame,
                uplift: pd.DataFrame) -> pd.DataFrame:
    """Broadcast a scalar, a per-action mapping, a per-customer series or a frame to uplift's
    shape."""
    if isinstance(value, pd.DataFrame):
        return value.reindex(index=uplift.index, columns=uplift.columns).fillna(0.0)
    if isinstance(value, pd.Series):
        return pd.DataFrame({a: value.reindex(uplift.index).to_numpy(float)
                             for a in uplift.columns}, index=uplift.index)
    if isinstance(value, Mapping):
        return pd.DataFrame({a: float(value.get(a, 0.0)) for a in uplift.columns},
                            index=uplift.index)
    return pd.DataFrame(float(value), index=uplift.index, columns=uplift.columns)


def choose_actions(uplift_frame: pd.DataFrame,
                   value_per_response: float | pd.Series,
                   cost: float | Mapping[str, float] | pd.DataFrame,
                   rules_action: pd.Series, explore_share: float = 0.05, seed: int = 0,
                   batch: str = "") -> pd.DataFrame:
    """The action per customer: learned where the evidence holds, rules where it is thin, and
    a random action for a reproducible `explore_share` of the batch so the evidence keeps growing.

    `uplift_frame` is indexed by customer_id with one column per action (NaN = thin evidence).
    Value of an action = uplift x value_per_response (expected order value) - cost; the learned
    action is the best one when its value is positive, else 'none'. The rules' action stays when
    it has no measured uplift of its own (we cannot tell a switch away from it is better) or when
    no action has evidence. Explore picks are a stable hash of (seed, batch, customer_id), so a
    rerun of the batch explores the same customers with the same actions.
    Returns action, expected_uplift, expected_value, action_source (learned|rules|explore) and
    propensity (the chance of the action under this randomisation, for judging policies later).
    """
    if not 0.0 <= explore_share <= 1.0:
        raise ChurnError(f"explore_share must be in [0, 1], got {explore_share}")
    actions = list(uplift_frame.columns)
    uplift = uplift_frame.astype(float)
    rules = rules_action.reindex(uplift.index).fillna(NONE).astype(str)
    value = uplift * _per_action(value_per_response, uplift) - _per_action(cost, uplift)

    has_any = value.notna().any(axis=1).to_numpy()
    best = value.fillna(-np.inf).idxmax(axis=1).where(has_any, NONE)
    best_value = value.max(axis=1)
    learned = best.where(best_value > 0, NONE)

    def lookup(frame: pd.DataFrame, chosen: pd.Series) -> np.ndarray:
        col = pd.Index(actions).get_indexer(chosen)
        got = frame.to_numpy()[np.arange(len(frame)), np.maximum(col, 0)] if actions else \
            np.full(len(frame), np.nan)
        return np.where(col >= 0, got, np.where(chosen == NONE, 0.0, np.nan))

    rules_known = (rules == NONE) | ~np.isnan(lookup(uplift, rules))
    use_rules = ~(has_any & rules_known)
    action = learned.where(~use_rules, rules)
    source = pd.Series(np.where(use_rules, "rules", "learned"), index=uplift.index)

    ids = pd.Series(uplift.index.astype(str))
    exploit = action
    if actions and explore_share > 0:
        salt = f"explore|{seed}|{batch}|"
        explore = stable_bucket(ids, _BUCKETS, salt) < round(explore_share * _BUCKETS)
        pick = stable_bucket(ids, len(actions), salt + "action|")
        action = action.where(~explore, pd.Series(np.asarray(actions)[pick],
                                                  index=uplift.index))
        source = source.where(~explore, "explore")
    # the chance this customer got this action: what a later evaluation weighs it by
    share = explore_share if actions else 0.0
    propensity = ((1 - share) * (action == exploit)
                  + share / max(len(actions), 1) * action.isin(actions))
    return pd.DataFrame({"action": action, "expected_uplift": lookup(uplift, action),
                         "expected_value": lookup(value, action), "action_source": source,
                         "propensity": propensity.astype(float)},
                        index=uplift.index)


