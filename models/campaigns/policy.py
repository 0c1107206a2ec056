"""Learning what to send from the contact history: training rows with features as they were
when each contact went out, a T-learner per action against no contact, its evaluation on
held-out customers and the newest campaign (Qini, uplift at the top, policy value by inverse
propensity), and the per-customer uplift of each action for today's batch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from common.hashing import stable_bucket
from common.params import CampaignParams
from models.campaigns.judge import (
    compare_policies,
    gain_over_best_single,
    policy_value_ipw,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from models.campaigns.uplift import NONE, TLearner, choose_actions

#: more distinct contact days than this are snapped to the Monday before (still point in time)
MAX_CONTACT_CUTOFFS = 24


def contact_cutoffs(contacts: pd.DataFrame) -> pd.Series:
    """The feature cutoff of each contact: the day before it went out, so no event of the
    contact day (possibly after the contact) is seen; snapped to the previous Monday when a
    history has too many distinct days to compute features for each."""
    day = pd.to_datetime(contacts["contact_ts"]).dt.normalize() - pd.Timedelta(days=1)
    if day.nunique() > MAX_CONTACT_CUTOFFS:
        day = day - pd.to_timedelta(day.dt.weekday, unit="D")
    return day.dt.date


def logged_propensity(rows: pd.DataFrame) -> pd.Series:
    """The chance the logging policy did what it did, where the log lets us know it; NaN where
    the choice among actions was not random.

    A logged `propensity` (the shop's CRM, or the pipeline's own batches, which explore) is
    taken as is. A campaign with a shared control (control rows without an action) randomised
    between all of its arms: the chance is the arm's share of the campaign. In any other
    campaign each customer's action was planned and only the holdout was random: such a contact
    cannot tell what another action would have done, so it judges no policy (NaN), though it
    still teaches the uplift of its own action."""
    campaign = rows["batch" if "batch" in rows else "campaign_id"].astype(str)
    empty = rows["action"].isna() | (rows["action"].astype(str).str.strip() == "")
    observed = np.where(rows["group"] == "treatment", rows["action"].astype(str), NONE)
    shared = empty & (rows["group"] == "control")
    multi_arm = shared.groupby(campaign).transform("any")
    arm_share = pd.Series(observed, index=rows.index).groupby(campaign).transform(
        lambda s: s.map(s.value_counts(normalize=True)))
    estimated = arm_share.where(multi_arm)
    if "propensity" in rows:
        return pd.to_numeric(rows["propensity"], errors="coerce").fillna(estimated).astype(float)
    return estimated.astype(float)


def training_rows(contact_outcomes: pd.DataFrame, features: pd.DataFrame,
                  names: list[str]) -> pd.DataFrame:
    """One row per contact with its features at the contact's cutoff, `treated`, `responded`,
    `revenue`, the observed action ('none' for a held-out control) and its propensity."""
    rows = contact_outcomes.copy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    rows["cutoff"] = contact_cutoffs(rows)
    feats = features[["customer_id", "cutoff", *names]].copy()
    feats["customer_id"] = feats["customer_id"].astype(str)
    feats["cutoff"] = pd.to_datetime(feats["cutoff"]).dt.date
    rows = rows.merge(feats, on=["customer_id", "cutoff"], how="inner")
    rows["treated"] = (rows["group"] == "treatment").astype(int)
    rows["observed_action"] = np.where(rows["treated"] == 1, rows["action"].astype(str), NONE)
    rows["propensity"] = logged_propensity(rows)
    return rows.reset_index(drop=True)


def evaluation_split(rows: pd.DataFrame, test_share: float = 0.3) -> np.ndarray:
    """True for test rows: a stable share of customers, plus every contact of the newest
    campaign when there are older ones to learn from (judged on customers and on a time the
    model has not seen)."""
    by_customer = stable_bucket(rows["customer_id"], 1000, salt="policy|") < test_share * 1000
    ts = pd.to_datetime(rows["contact_ts"])
    newest = (ts >= ts.max() - timedelta(days=1)).to_numpy()
    if newest.all():                      # one campaign: held-out customers only
        return by_customer
    return by_customer | newest


#: how far each customer's uplift may stray from its action's mean (0: the best single action
#: for everyone; 1: the T-learner as is), chosen per shop by cross-fitted policy value
SHRINKAGE = (0.0, 0.5, 1.0)
#: fewer randomised contacts than this judge no policy (the IPW value is noise)
MIN_RANDOMISED = 100


@dataclass
class UpliftPolicy:
    """A T-learner whose per-customer uplift is shrunk toward each action's mean uplift.

    A personalised policy beats the best single action only where the effects really differ
    between customers and the data can tell; shrinkage, chosen on held-out randomised contacts,
    falls back toward the single best action where they cannot."""

    model: TLearner
    actions: list[str]
    centre: pd.Series
    weight: float

    def predict(self, X: pd.DataFrame, weight: float | None = None) -> pd.DataFrame:
        """Shrunk uplift per customer and action (`weight` overrides the policy's own)."""
        raw = self.model.predict(X)[self.actions]
        return self.centre + (self.weight if weight is None else weight) * (raw - self.centre)


def _t_learner(rows: pd.DataFrame, names: list[str], min_per_arm: int) -> TLearner:
    return TLearner(names, min_per_arm).fit(rows, propensity_col="propensity")


def _actions_with_evidence(model: TLearner) -> list[str]:
    return [a for a, ok in zip(model.evidence_["action"], model.evidence_["enough"], strict=True)
            if ok]


def policy_actions(uplift: pd.DataFrame, value_per_response: float,
                   costs: Mapping[str, float]) -> np.ndarray:
    """The action of best expected value (uplift x order value - cost), 'none' where none pays."""
    value = uplift * value_per_response - pd.Series(costs).reindex(uplift.columns).fillna(0.0)
    best = value.idxmax(axis=1).where(value.max(axis=1) > 0, NONE)
    return best.fillna(NONE).to_numpy(dtype=object)


def _ipw(policy: np.ndarray, rows: pd.DataFrame) -> float:
    return policy_value_ipw(policy, rows["observed_action"], rows["responded"],
                            rows["propensity"], self_normalized=True)


def choose_shrinkage(rows: pd.DataFrame, names: list[str], min_per_arm: int,
                     value_per_response: float, costs: Mapping[str, float]) -> tuple[float, dict]:
    """The shrinkage weight with the best policy value over two customer folds (fit on one,
    judge on the other's randomised contacts); the smaller weight on ties. Without randomised
    contacts nothing can judge it and the model is taken as is (weight 1)."""
    fold = stable_bucket(rows["customer_id"], 2, salt="policy-fold|")
    values: dict[float, list[float]] = {w: [] for w in SHRINKAGE}
    for k in (0, 1):
        teach, judge = rows[fold != k], rows[(fold == k) & rows["propensity"].notna()]
        if len(judge) < MIN_RANDOMISED // 2:
            continue
        model = _t_learner(teach, names, min_per_arm)
        actions = _actions_with_evidence(model)
        if not actions:
            continue
        policy = UpliftPolicy(model, actions, model.predict(teach)[actions].mean(), 1.0)
        for w in SHRINKAGE:
            shrunk = policy.predict(judge, weight=w)
            values[w].append(_ipw(policy_actions(shrunk, value_per_response, costs), judge))
    means = {w: float(np.mean(v)) for w, v in values.items() if v}
    if not means:
        return 1.0, {}
    best = max(means.values())
    return min(w for w, v in means.items() if v >= best - 1e-9), means


def fit(rows: pd.DataFrame, names: list[str], min_per_arm: int, value_per_response: float,
        costs: Mapping[str, float]) -> tuple[UpliftPolicy, dict]:
    """The policy on these contacts: shrinkage chosen by cross-fitting, then the T-learner on
    all of them (its `actions` are those with enough evidence, maybe none). Returns (policy,
    the folds' mean value per weight)."""
    weight, values = choose_shrinkage(rows, names, min_per_arm, value_per_response, costs)
    model = _t_learner(rows, names, min_per_arm)
    actions = _actions_with_evidence(model)
    return UpliftPolicy(model, actions, model.predict(rows)[actions].mean(), weight), values


def evaluate(rows: pd.DataFrame, names: list[str], min_per_arm: int,
             value_per_response: float, costs: Mapping[str, float] | None = None
             ) -> tuple[dict, pd.DataFrame]:
    """Fit on training customers, judge on the held-out ones: Qini coefficient and uplift at
    the top 10/30% of each action's own contacts (its treated and the controls held out from
    it), and, on the randomised held-out contacts, the policy's value (self-normalised IPW
    estimate of the response rate) against sending nothing, the best single action to
    everyone, and a random choice. Returns (report, Qini curve points)."""
    costs = dict(costs or {})
    test = evaluation_split(rows)
    train, held = rows[~test], rows[test]
    policy, values = fit(train, names, min_per_arm, value_per_response, costs)
    actions = policy.actions
    report: dict = {"train_contacts": int(len(train)), "test_contacts": int(len(held)),
                    "actions_with_evidence": actions}
    if not actions or held.empty:
        return report, pd.DataFrame(columns=["action", "fraction", "qini", "random"])
    report["shrinkage"] = policy.weight
    report["shrinkage_fold_values"] = {str(w): round(v, 5) for w, v in values.items()}
    uplift = policy.model.predict(held)[actions]     # the ranking: the model's own scores
    empty = held["action"].isna() | (held["action"].astype(str).str.strip() == "")
    curves, per_action = [], {}
    for a in actions:
        arm = (held["action"].astype(str) == a) | ((held["treated"] == 0) & empty)
        score, t, y = uplift.loc[arm, a], held.loc[arm, "treated"], held.loc[arm, "responded"]
        if t.nunique() < 2:
            continue
        per_action[a] = {"qini": qini_coefficient(score, t, y),
                         "uplift_top10": uplift_at(score, t, y, 0.1),
                         "uplift_top30": uplift_at(score, t, y, 0.3),
                         "uplift_all": uplift_at(score, t, y, 1.0)}
        curve = qini_curve(score, t, y)
        step = max(1, len(curve) // 50)
        curves.append(curve.iloc[::step].assign(action=a))
    report["per_action"] = per_action
    randomised = held["propensity"].notna().to_numpy()
    report["randomised_test_contacts"] = int(randomised.sum())
    if randomised.sum() >= MIN_RANDOMISED:
        judged = held[randomised]
        learned = policy_actions(policy.predict(judged), value_per_response, costs)
        table = compare_policies({"learned": learned}, judged["observed_action"],
                                 judged["responded"], judged["propensity"], actions,
                                 self_normalized=True)
        report["policy_value"] = dict(zip(table["policy"], table["value"].round(5), strict=True))
        report["learned_minus_best_single"] = {
            k: round(v, 5) for k, v in gain_over_best_single(
                learned, judged["observed_action"], judged["responded"], judged["propensity"],
                actions).items()}
    qini = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return report, qini


def action_terms(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per action, what it was sent with and what it cost: the most common offer and channel,
    and the mean cost per contact (0 without a cost column)."""
    treated = contacts[contacts["group"] == "treatment"].copy()
    treated["action"] = treated["action"].astype(str)
    out = pd.DataFrame(index=sorted(treated["action"].unique()))
    for col in ("offer", "channel"):
        if col in treated:
            out[col] = treated.groupby("action")[col].agg(
                lambda s: s.mode().iloc[0] if s.notna().any() else "none")
        else:
            out[col] = "none"
    out["cost"] = treated.groupby("action")["cost"].mean() if "cost" in treated else 0.0
    return out.fillna({"offer": "none", "channel": "email", "cost": 0.0})


def value_per_response(contact_outcomes: pd.DataFrame) -> float:
    """Revenue of a responding contact, on average over the history."""
    responders = contact_outcomes[contact_outcomes["responded"] == 1]
    return float(responders["revenue"].mean()) if len(responders) else 0.0


def apply_learned(scored: pd.DataFrame, uplift: pd.DataFrame, terms: list[dict],
                  value_per_response: float, explore_share: float, seed: int,
                  batch: str) -> pd.DataFrame:
    """The batch's actions: for customers in the contact budget, the learned action where the
    evidence holds (best expected value, `none` when no action pays), the rules where it is
    thin, and a reproducible exploring share; expected_uplift and action_source say which, and
    propensity the chance of the action (NaN where no policy randomised it: rules alone).
    An action chosen by the policy takes the offer and channel it was sent with before."""
    out = scored.assign(expected_uplift=np.nan, action_source="rules", propensity=np.nan)
    cols = [c for c in uplift.columns if c.startswith("uplift_")]
    targets = (out["in_budget"] & out["action"].ne(NONE)).to_numpy()
    if not cols or not targets.any():
        return out
    ids = out.loc[targets, "customer_id"]
    frame = uplift.set_index("customer_id")[cols].rename(
        columns=lambda c: c.removeprefix("uplift_")).reindex(ids)
    costs = {t["action"]: float(t["cost"]) for t in terms}
    chosen = choose_actions(frame, value_per_response, costs,
                            pd.Series(out.loc[targets, "action"].to_numpy(), index=ids),
                            explore_share, seed, batch)
    rows = out.index[targets]
    switched = (chosen["action"].to_numpy() != out.loc[rows, "action"].to_numpy())
    out.loc[rows, "action"] = chosen["action"].to_numpy()
    out.loc[rows, "expected_uplift"] = chosen["expected_uplift"].to_numpy()
    out.loc[rows, "action_source"] = chosen["action_source"].to_numpy()
    out.loc[rows, "propensity"] = chosen["propensity"].to_numpy()
    by_action = {t["action"]: t for t in terms}
    moved = rows[switched]
    for col, default in (("offer", "none"), ("channel", "email")):
        out.loc[moved, col] = [by_action.get(a, {}).get(col, default) if a != NONE else "none"
                               for a in out.loc[moved, "action"]]
    return out


def learn_policy(rows: pd.DataFrame, features: pd.DataFrame, names: list[str],
                 snapshot: pd.DataFrame, cp: CampaignParams
                 ) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """From contact outcomes and the features as of each contact: the policy judged on held-out
    contacts, then refit on all of them; the expected uplift of each action with evidence for
    every customer of today's `snapshot` (`uplift_<action>` columns; none when the snapshot
    lacks a feature the policy learnt from). Returns (uplift, report, Qini curve points)."""
    train = training_rows(rows, features, names)
    # a fixed row order: the engine returns rows in any order, and LightGBM's bagging
    # depends on it
    train = train.sort_values(["contact_ts", "customer_id", "action"], kind="stable",
                              ignore_index=True)
    vpr = value_per_response(rows)
    terms = action_terms(rows)
    costs = terms["cost"].to_dict()
    report, qini = evaluate(train, names, cp.min_per_arm, vpr, costs)
    policy, _ = fit(train, names, cp.min_per_arm, vpr, costs)
    uplift = snapshot[["customer_id"]]
    if policy.actions and set(names) <= set(snapshot.columns):
        uplift = pd.concat([snapshot[["customer_id"]].reset_index(drop=True),
                            policy.predict(snapshot).reset_index(drop=True)
                            .add_prefix("uplift_")], axis=1)
    report.update({"contacts": int(len(rows)), "actions_with_evidence": policy.actions,
                   "evaluated_on_held_out": report.get("actions_with_evidence", []),
                   "shrinkage_on_all_contacts": policy.weight,
                   "value_per_response": round(vpr, 4),
                   "evidence": policy.model.evidence_.to_dict("records"),
                   "terms": terms.reset_index(names="action").to_dict("records")})
    return uplift, report, qini


def policy_headline(report: dict) -> dict:
    """The few policy figures people diff run to run (`dvc metrics diff`, `dvc exp show`): the
    learned policy's value on held-out randomised contacts, and its gain over the best single
    action (empty until there is randomised evidence)."""
    values = report.get("policy_value") or {}
    out = {"actions_with_evidence": len(report.get("actions_with_evidence", []))}
    if "learned" in values:
        out["policy_value"] = values["learned"]
        out["best_single_value"] = max((v for k, v in values.items()
                                        if k.startswith("best_single")), default=None)
    gain = report.get("learned_minus_best_single") or {}
    if "gain" in gain:
        out["gain_over_best_single"] = gain["gain"]
    return out
