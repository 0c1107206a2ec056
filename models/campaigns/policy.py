"""Learning what to send from the contact history, and sending it.

The policy stage turns contact outcomes into training rows (features as they were the day
before each contact), a posterior of every action's uplift per segment (evidence.py), and,
where it earns its place on held-out randomised contacts, a personal uplift model
(learners.py, judged in assess.py). The score stage designs today's batch from them
(design.py): every action the shop could send (the rules' actions and every action of its
contact history), each with one offer and channel, drawn by Thompson sampling around a shared
control.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common.causes import CAUSES
from common.hashing import stable_bucket
from common.params import CampaignParams, RecommendParams
from models.actions.rules import RULE_ACTIONS, action_terms
from models.campaigns.design import batch_outlook, design, open_questions
from models.campaigns.evidence import (
    NONE,
    UNKNOWN,
    lifecycle,
    posterior,
    segment_reason,
)

#: more distinct contact days than this are snapped to the Monday before (still point in time)
MAX_CONTACT_CUTOFFS = 24
CAUSE_COLUMNS = [f"p_{c}" for c in CAUSES]
_META = b"churn_policy"
_PCT = re.compile(r"pct_off_(\d+)")


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

    A logged `propensity` (the shop's CRM, or the pipeline's own batches) is taken as is. A
    campaign with a shared control (control rows without an action) randomised between all of
    its arms: the chance is the arm's share of the campaign. In any other campaign each
    customer's action was planned and only the holdout was random: such a contact cannot tell
    what another action would have done, so it judges no policy (NaN), though it still teaches
    the uplift of its own action."""
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


def training_rows(contact_outcomes: pd.DataFrame, features: pd.DataFrame, names: list[str],
                  lapsed_days: int = 180) -> pd.DataFrame:
    """One row per contact with its features at the contact's cutoff, `treated`,
    `responded`, `revenue`, the observed action ('none' for a held-out control), its
    propensity, its segment (reason: at risk / `none` / `unknown`; lifecycle stage from the
    orders at the cutoff) and the value of a response (the customer's mean order then)."""
    rows = contact_outcomes.copy()
    rows["customer_id"] = rows["customer_id"].astype(str)
    rows["cutoff"] = contact_cutoffs(rows)
    keep = [c for c in dict.fromkeys([*names, "one_time_buyer", "recency_days",
                                      "monetary_mean"]) if c in features.columns]
    feats = features[["customer_id", "cutoff", *keep]].copy()
    feats["customer_id"] = feats["customer_id"].astype(str)
    feats["cutoff"] = pd.to_datetime(feats["cutoff"]).dt.date
    rows = rows.drop(columns=[c for c in keep if c in rows.columns]).merge(
        feats, on=["customer_id", "cutoff"], how="inner")
    rows["treated"] = (rows["group"] == "treatment").astype(int)
    rows["observed_action"] = np.where(rows["treated"] == 1, rows["action"].astype(str), NONE)
    rows["propensity"] = logged_propensity(rows)
    if "batch" not in rows:
        rows["batch"] = rows["campaign_id"].astype(str) if "campaign_id" in rows else \
            rows["cutoff"].astype(str)
    at_risk = rows["risk_tier"].astype(str).ne("low") if "risk_tier" in rows else None
    rows["reason"] = segment_reason(rows["reason"], at_risk) if "reason" in rows else UNKNOWN
    rows["lifecycle"] = lifecycle(rows.get("one_time_buyer", pd.Series(0, index=rows.index)),
                                  rows.get("recency_days", pd.Series(0, index=rows.index)),
                                  lapsed_days)
    spend = rows["monetary_mean"] if "monetary_mean" in rows else pd.Series(np.nan,
                                                                               index=rows.index)
    rows["value"] = spend.fillna(value_per_response(contact_outcomes)).astype(float)
    return rows.sort_values(["contact_ts", "customer_id", "action"], kind="stable",
                            ignore_index=True)


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


def history_terms(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per action of the history, what it was sent with and what it cost: the most common offer
    and channel, and the mean cost per contact (NaN without a cost column)."""
    if "group" in contacts:
        treated = contacts[contacts["group"] == "treatment"].copy()
    else:                                   # training rows: the observed action
        treated = contacts[contacts["observed_action"] != NONE].assign(
            action=lambda f: f["observed_action"])
    treated["action"] = treated["action"].astype(str)
    treated = treated[treated["action"].str.strip() != ""]
    out = pd.DataFrame(index=sorted(treated["action"].unique()))
    for col, default in (("offer", "none"), ("channel", "email")):
        if col in treated:
            out[col] = treated.groupby("action")[col].agg(
                lambda s, d=default: s.mode().iloc[0] if s.notna().any() else d)
        out[col] = out[col].fillna(default) if col in out else default
    out["cost"] = treated.groupby("action")["cost"].mean() if "cost" in treated else np.nan
    return out


def value_per_response(contact_outcomes: pd.DataFrame) -> float:
    """Revenue of a responding contact, on average over the history."""
    if "revenue" not in contact_outcomes:
        return 0.0
    responders = contact_outcomes[contact_outcomes["responded"] == 1]
    return float(responders["revenue"].mean()) if len(responders) else 0.0


# --- the policy -----------------------------------------------------------------------------

@dataclass
class Policy:
    """What the score stage needs to design a batch: the posterior per action and segment,
    which actions the history tested, what history-only actions are sent with, the value of a
    response, and the personal uplift model when one earned its place."""

    posterior: pd.DataFrame
    tested: list[str] = field(default_factory=list)
    terms: pd.DataFrame = field(default_factory=pd.DataFrame)
    value_per_response: float = 0.0
    learner: dict | None = None

    @property
    def actions(self) -> list[str]:
        return sorted(self.posterior["action"].unique())

    def write(self, path: str | Path) -> None:
        meta = {"tested": self.tested, "value_per_response": self.value_per_response,
                "terms": self.terms.reset_index(names="action").to_dict("records"),
                "learner": self.learner}
        table = pa.Table.from_pandas(self.posterior, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _META: json.dumps(meta, default=float)})
        pq.write_table(table, path)

    @classmethod
    def read(cls, path: str | Path) -> Policy:
        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[_META])
        terms = pd.DataFrame(meta["terms"])
        terms = terms.set_index("action") if len(terms) else pd.DataFrame()
        return cls(table.to_pandas(), meta["tested"], terms, meta["value_per_response"],
                   meta["learner"])


def tested_actions(rows: pd.DataFrame, min_contacts: int) -> list[str]:
    """Actions with at least `min_contacts` treated contacts in the history."""
    counts = rows.loc[rows["observed_action"] != NONE, "observed_action"].value_counts()
    return sorted(counts.index[counts >= min_contacts])


def fit_policy(rows: pd.DataFrame, cp: CampaignParams,
               contacts: pd.DataFrame | None = None) -> Policy:
    """The posterior of the rules' actions and every action of the history, per segment."""
    history = set(rows["observed_action"]) - {NONE} if len(rows) else set()
    reasons = [*CAUSES, NONE, *([UNKNOWN] if len(rows) and (rows["reason"] == UNKNOWN).any()
                                else [])]
    post = posterior(rows, {*RULE_ACTIONS, *history}, reasons, RULE_ACTIONS, cp.prior_lift)
    terms = history_terms(contacts if contacts is not None else rows) if len(rows) else \
        pd.DataFrame(columns=["offer", "channel", "cost"])
    vpr = value_per_response(rows) if len(rows) else 0.0
    return Policy(post, tested_actions(rows, min(cp.min_per_arm, 30)) if len(rows) else [],
                  terms, vpr)


def offer_depth(offer: pd.Series) -> np.ndarray:
    """The discount an offer gives (promo_pct_off_15 -> 0.15; 0 for others)."""
    pct = offer.astype(str).str.extract(_PCT)[0]
    return pd.to_numeric(pct, errors="coerce").fillna(0.0).to_numpy() / 100.0


def customer_terms(scored: pd.DataFrame, policy: Policy, rp: RecommendParams
                   ) -> dict[str, pd.DataFrame]:
    """Per action, the channel, offer, product classes, cost and discount depth of sending it
    to each customer: a rules action with the rules' terms, an action only the history knows
    with what it was sent with there; the cost a history measured, else the channel's cost."""
    rules = action_terms(scored, rp)
    out = {}
    for action in policy.actions:
        if action in rules:
            t = rules[action].copy()
        else:
            row = policy.terms.loc[action] if action in policy.terms.index else {}
            t = pd.DataFrame({"channel": row.get("channel", "email"),
                              "offer": row.get("offer", "none"), "product_classes": ""},
                             index=scored.index)
        known = policy.terms["cost"].get(action, np.nan) if "cost" in policy.terms else np.nan
        channel_cost = t["channel"].map(dict(rp.channel_costs)).fillna(0.0).astype(float)
        t["cost"] = float(known) if pd.notna(known) else channel_cost
        t["depth"] = offer_depth(t["offer"])
        out[action] = t
    return out


def apply_policy(scored: pd.DataFrame, policy: Policy, cp: CampaignParams,
                 rp: RecommendParams, seed: int, batch: str,
                 snapshot: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """Today's batch on the scored customers: who is contacted or held out (`in_budget`,
    `holdout`), the action with its offer, channel and product classes, expected_uplift,
    expected_value, propensity, action_source (evidence | prior | exploration | control) and
    the batch's outlook (sources, expected incremental orders and their lower bound, open
    questions). Customers outside the batch keep the rules' suggestion, out of budget.

    `snapshot` (today's features) gives each customer's value of a response (their mean
    order; else the history's) and the inputs of a personal uplift model."""
    actions = policy.actions
    out = scored.reset_index(drop=True).copy()
    fallback = policy.value_per_response or 50.0
    feats = None
    if snapshot is not None:
        feats = snapshot.assign(customer_id=snapshot["customer_id"].astype(str)).drop_duplicates(
            "customer_id").set_index("customer_id").reindex(out["customer_id"].astype(str))
    v = feats["monetary_mean"].to_numpy() if feats is not None and \
        "monetary_mean" in feats else pd.Series(np.nan, index=out.index)
    v = pd.Series(np.asarray(v, dtype=float), index=out.index)
    customers = pd.DataFrame({
        "customer_id": out["customer_id"].astype(str),
        "reason": segment_reason(out["reason"], out["at_risk"]),
        "lifecycle": lifecycle(out["one_time_buyer"], out["recency_days"], rp.lapsed_days),
        "value": pd.to_numeric(v, errors="coerce").fillna(fallback).clip(lower=0.0),
        "eligible": out["in_budget"].astype(bool)})
    terms = customer_terms(out, policy, rp)

    def matrix(col: str) -> np.ndarray:
        return np.column_stack([terms[a][col].to_numpy() for a in actions]) if actions else \
            np.zeros((len(out), 0))

    cost, depth = matrix("cost").astype(float), matrix("depth").astype(float)
    channel = matrix("channel").astype(object)
    mean = None
    if policy.learner and feats is not None:
        from models.campaigns.design import lookup
        from models.campaigns.uplift import Learner

        learner = Learner.from_dict(policy.learner)
        inputs = feats.reset_index(drop=True).drop(columns=[c for c in CAUSE_COLUMNS
                                                            if c in feats], errors="ignore")
        inputs = pd.concat([inputs, out[[c for c in CAUSE_COLUMNS if c in out]]], axis=1)
        inputs["lifecycle"] = customers["lifecycle"].to_numpy()
        mean = lookup(policy.posterior, customers["reason"].to_numpy(),
                      customers["lifecycle"].to_numpy(), actions, "mean")
        pred = learner.predict(inputs)
        for a in learner.actions:
            if a in actions:
                mean[:, actions.index(a)] = pred[a].to_numpy()
    plan, chance = design(customers, policy.posterior, actions, cost, depth, channel,
                          set(policy.tested), cp, rp, seed, batch, mean)
    chosen = plan["in_budget"].to_numpy()
    index = pd.Index(actions).get_indexer(plan["action"].where(chosen, actions[0]
                                                               if actions else NONE))
    rows = np.where(chosen)[0]
    out["in_budget"] = chosen
    out["holdout"] = plan["holdout"].to_numpy()
    for col in ("action", "planned_action", "expected_uplift", "expected_value", "propensity",
                "action_source"):
        out[col] = plan[col].where(chosen, out["action"] if col == "action" else
                                   (np.nan if col in ("expected_uplift", "expected_value",
                                                      "propensity") else "")).to_numpy()
    out["cost"] = np.nan
    for col in ("channel", "offer", "product_classes", "cost"):
        stacked = matrix(col)
        if len(rows):
            out.loc[rows, col] = stacked[rows, index[rows]]
    out["lifecycle"] = customers["lifecycle"].to_numpy()
    outlook = batch_outlook(plan, customers)
    outlook["open_questions"] = open_questions(policy.posterior, customers, chance, actions,
                                               cost, depth, cp.decide_confidence)
    return out, outlook


def policy_headline(report: dict) -> dict:
    """The policy in two figures for `dvc metrics diff` / `dvc exp show`: its value on held-out
    randomised contacts and its gain over the best single action (empty until there is
    randomised evidence)."""
    values = report.get("policy_value") or {}
    gain = report.get("learned_minus_best_single") or {}
    out = {}
    if "learned" in values:
        out["policy_value"] = values["learned"]
    if "gain" in gain:
        out["policy_gain"] = gain["gain"]
    return out
