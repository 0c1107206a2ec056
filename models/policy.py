"""Learning what to send from the contact history: training rows with features as they were
when each contact went out, a T-learner per action against no contact, its evaluation on
held-out customers and the newest campaign (Qini, uplift at the top, policy value by inverse
propensity), and the per-customer uplift of each action for today's batch."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from common.hashing import stable_bucket
from models.uplift import (
    NONE,
    TLearner,
    choose_actions,
    compare_policies,
    qini_coefficient,
    qini_curve,
    uplift_at,
)

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
    """The chance the logging policy did what it did, estimated from the randomisation.

    A campaign with a shared control (control rows without an action) randomised between all
    of its arms: the chance is the arm's share of the campaign. Otherwise each customer's
    action was planned and only the holdout was random: the chance is the share of treated
    (or held-out) among the contacts planned for that action in that campaign."""
    campaign = rows["batch" if "batch" in rows else "campaign_id"].astype(str)
    empty = rows["action"].isna() | (rows["action"].astype(str).str.strip() == "")
    observed = np.where(rows["group"] == "treatment", rows["action"].astype(str), NONE)
    shared = empty & (rows["group"] == "control")
    multi_arm = shared.groupby(campaign).transform("any")
    arm_share = pd.Series(observed, index=rows.index).groupby(campaign).transform(
        lambda s: s.map(s.value_counts(normalize=True)))
    planned = rows["action"].astype(str).where(~empty, NONE)
    group_share = rows.groupby([campaign, planned])["group"].transform(
        lambda s: s.map(s.value_counts(normalize=True)))
    return pd.Series(np.where(multi_arm, arm_share, group_share), index=rows.index, dtype=float)


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
    rows["propensity"] = logged_propensity(rows).clip(lower=1e-3)
    return rows.reset_index(drop=True)


def evaluation_split(rows: pd.DataFrame, test_share: float = 0.3) -> np.ndarray:
    """True for test rows: a stable share of customers, plus every contact of the newest
    campaign (judged on customers and on a time the model has not seen)."""
    by_customer = stable_bucket(rows["customer_id"], 1000, salt="policy|") < test_share * 1000
    newest = pd.to_datetime(rows["contact_ts"]) >= pd.to_datetime(rows["contact_ts"]).max() \
        - timedelta(days=1)
    return by_customer | newest.to_numpy()


def evaluate(rows: pd.DataFrame, names: list[str], min_per_arm: int,
             value_per_response: float) -> tuple[dict, pd.DataFrame]:
    """Fit on training customers, judge on the held-out ones: Qini coefficient and uplift at
    the top 10/30% of each action's own contacts, and the policy's value (inverse-propensity
    estimate of the response rate) against sending nothing, the best single action to
    everyone, and a random choice. Returns (report, Qini curve points)."""
    test = evaluation_split(rows)
    train, held = rows[~test], rows[test]
    model = TLearner(names, min_per_arm).fit(train)
    actions = [a for a, ok in zip(model.evidence_["action"], model.evidence_["enough"],
                                  strict=True) if ok]
    report: dict = {"train_contacts": int(len(train)), "test_contacts": int(len(held)),
                    "actions_with_evidence": actions}
    if not actions or held.empty:
        return report, pd.DataFrame(columns=["action", "fraction", "qini", "random"])
    uplift = model.predict(held)[actions]
    curves, per_action = [], {}
    for a in actions:
        arm = (held["action"].astype(str) == a) | (held["treated"] == 0)
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
    value = uplift * value_per_response
    learned = value.idxmax(axis=1).where(value.max(axis=1) > 0, NONE)
    table = compare_policies({"learned": learned.to_numpy()}, held["observed_action"],
                             held["responded"], held["propensity"], actions,
                             self_normalized=True)
    report["per_action"] = per_action
    report["policy_value"] = dict(zip(table["policy"], table["value"].round(5), strict=True))
    qini = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return report, qini


def fit(rows: pd.DataFrame, names: list[str], min_per_arm: int) -> TLearner:
    """The T-learner on every contact (after evaluation, the whole history teaches)."""
    return TLearner(names, min_per_arm).fit(rows)


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
    thin, and a reproducible exploring share; expected_uplift and action_source say which.
    An action chosen by the policy takes the offer and channel it was sent with before."""
    out = scored.assign(expected_uplift=np.nan, action_source="rules")
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
    by_action = {t["action"]: t for t in terms}
    moved = rows[switched]
    for col, default in (("offer", "none"), ("channel", "email")):
        out.loc[moved, col] = [by_action.get(a, {}).get(col, default) if a != NONE else "none"
                               for a in out.loc[moved, "action"]]
    return out
