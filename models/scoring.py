"""Score, explain and recommend: pure functions from the scoring snapshot to export rows."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from common.params import ReasonParams, RecommendParams, ScoreParams
from features.registry import families
from models.churn_model import ChurnModel
from models.reasons import assign_reasons, family_contributions, top_drivers
from models.recommend import contact_budget, recommend


def risk_tier(p: np.ndarray, tiers: Mapping[str, float]) -> np.ndarray:
    out = np.full(len(p), "low", dtype=object)
    for name, floor in sorted(tiers.items(), key=lambda kv: kv[1]):
        out[p >= floor] = name
    return out


def yearly_spend(frame: pd.DataFrame) -> pd.Series:
    """Expected 12-month spend = their average yearly spend over their tenure, counting at
    least one year (a 2-month-old customer who spent 50 is expected to spend 50 a year)."""
    return frame["monetary_total"] * 365.0 / frame["tenure_days"].clip(lower=365)


CAUSE_COLUMNS = ["p_forgot", "p_satisfaction", "p_choice", "p_price", "p_other"]


def explain(model: ChurnModel, X: pd.DataFrame, rp: ReasonParams) -> pd.DataFrame:
    """reason, reason_confidence, top_drivers from the churn model's SHAP values (the `shap`
    reason method; top_drivers are always these: why at risk)."""
    contrib = model.contributions(X)
    fam = family_contributions(contrib, families(model.features))
    reference = model.reason_reference if rp.reference == "lapsed" else {}
    reasons = assign_reasons(fam, reference, rp.min_confidence)
    reasons["top_drivers"] = top_drivers(contrib, X)
    return reasons


def uses_cause_model(model: ChurnModel, rp: ReasonParams) -> bool:
    return rp.method == "cause_model" and model.cause_model is not None


def causes(model: ChurnModel, X: pd.DataFrame, shap_reason: pd.Series) -> pd.DataFrame:
    """The cause model's answer for every row: why leaving (or, for customers not at risk,
    the likely cause should they leave), the five probabilities, evidence in words, basis.
    The SHAP reason ("" where not computed) is one more labelling function to it, whose
    accuracy it estimates on the shop's own customers."""
    frame = X.assign(shap_reason=shap_reason.reindex(X.index).fillna("").to_numpy())
    return model.cause_model.explain(frame).set_index(X.index)


ROW_COLUMNS = {  # what score_rows returns, in order, with the types Spark needs
    "customer_id": "string", "membership_tier": "string", "one_time_buyer": "double",
    "recency_days": "double", "churn_probability": "double", "risk_tier": "string",
    "at_risk": "boolean", "yearly_spend": "double", "value_at_stake": "double",
    "reason": "string", "reason_confidence": "double", "top_drivers": "string",
    **{c: "double" for c in CAUSE_COLUMNS}, "reason_evidence": "string",
    "reason_basis": "string", "score_source": "string",
}


def score_rows(snapshot: pd.DataFrame, model: ChurnModel, sp: ScoreParams,
               rp: ReasonParams) -> pd.DataFrame:
    """Per customer, needing no other row: probability, tier, value at stake, reason, drivers.
    Safe to run on any partition of the customers (Spark's mapInPandas does)."""
    out = snapshot[["customer_id", "membership_tier", "one_time_buyer", "recency_days"]].copy()
    p = model.predict_proba(snapshot)
    out["churn_probability"] = np.round(p, 6)
    out["risk_tier"] = risk_tier(p, sp.risk_tiers)
    out["at_risk"] = out["risk_tier"] != "low"
    out["yearly_spend"] = yearly_spend(snapshot)
    out["value_at_stake"] = np.round(p * out["yearly_spend"], 2)
    # no trees (the short-history BTYD model): nothing for SHAP to explain
    explained = out["risk_tier"].isin(list(sp.explain_tiers)) & (model.booster is not None)
    out["score_source"] = "model" if model.booster is not None else "btyd"
    out["reason"] = ""
    out["reason_confidence"] = np.nan
    out["top_drivers"] = ""
    for col in CAUSE_COLUMNS:
        out[col] = np.nan
    out["reason_evidence"] = ""
    out["reason_basis"] = "churn model (SHAP)" if rp.method == "shap" else ""
    if explained.any():
        why = explain(model, snapshot.loc[explained], rp)
        out.loc[explained, "top_drivers"] = why["top_drivers"].to_numpy()
        if not uses_cause_model(model, rp):
            for col in ("reason", "reason_confidence"):
                out.loc[explained, col] = why[col].to_numpy()
    if uses_cause_model(model, rp) and len(out):
        shap_reason = pd.Series("", index=snapshot.index, dtype=object)
        if explained.any():
            shap_reason.loc[explained] = why["reason"].to_numpy()
        cause = causes(model, snapshot, shap_reason)
        for col in ("reason", "reason_confidence", *CAUSE_COLUMNS, "reason_evidence",
                    "reason_basis"):
            out[col] = cause[col].to_numpy()
    return out.astype({"one_time_buyer": "float64", "recency_days": "float64"})[
        list(ROW_COLUMNS)]


def finish(rows: pd.DataFrame, rp: RecommendParams) -> pd.DataFrame:
    """What needs all customers at once: high-value cut, actions, the contact budget.
    Sorted by customer_id so every engine gives the same rows in the same order."""
    rows = rows.sort_values("customer_id", kind="stable").reset_index(drop=True)
    out = rows.join(recommend(rows, rp))
    out["in_budget"] = contact_budget(out, rp)
    return out


def score_customers(snapshot: pd.DataFrame, model: ChurnModel, sp: ScoreParams,
                    reasons: ReasonParams, rp: RecommendParams) -> pd.DataFrame:
    """Every eligible customer: probability, tier, value at stake, reason, drivers, action."""
    return finish(score_rows(snapshot, model, sp, reasons), rp)
