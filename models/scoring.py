"""Score, explain and recommend: pure functions from the scoring snapshot to export rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.registry import families
from models.churn_model import ChurnModel
from models.reasons import assign_reasons, family_contributions, top_drivers
from models.recommend import RecommendParams, contact_budget, recommend


@dataclass(frozen=True)
class ScoreParams:
    risk_tiers: Mapping[str, float] = field(default_factory=lambda: {"high": 0.7, "medium": 0.4})
    explain_tiers: tuple[str, ...] = ("high", "medium")
    min_confidence: float = 0.4
    use_reference: bool = True

    @classmethod
    def from_params(cls, params: Mapping) -> ScoreParams:
        """From params.yaml's `score` and `reasons` sections."""
        s, r = params.get("score") or {}, params.get("reasons") or {}
        return cls(risk_tiers=dict(s.get("risk_tiers") or {"high": 0.7, "medium": 0.4}),
                   explain_tiers=tuple(s.get("explain_tiers") or ("high", "medium")),
                   min_confidence=float(r.get("min_confidence", 0.4)),
                   use_reference=r.get("reference", "lapsed") == "lapsed")


def risk_tier(p: np.ndarray, tiers: Mapping[str, float]) -> np.ndarray:
    out = np.full(len(p), "low", dtype=object)
    for name, floor in sorted(tiers.items(), key=lambda kv: kv[1]):
        out[p >= floor] = name
    return out


def yearly_spend(frame: pd.DataFrame) -> pd.Series:
    """Expected 12-month spend = their average yearly spend over their tenure, counting at
    least one year (a 2-month-old customer who spent 50 is expected to spend 50 a year)."""
    return frame["monetary_total"] * 365.0 / frame["tenure_days"].clip(lower=365)


def explain(model: ChurnModel, X: pd.DataFrame, sp: ScoreParams) -> pd.DataFrame:
    """reason, reason_confidence, top_drivers for the given rows."""
    contrib = model.contributions(X)
    fam = family_contributions(contrib, families(model.features))
    reference = getattr(model, "reason_reference", {}) if sp.use_reference else {}
    reasons = assign_reasons(fam, reference, sp.min_confidence)
    reasons["top_drivers"] = top_drivers(contrib, X)
    return reasons


ROW_COLUMNS = {  # what score_rows returns, in order, with the types Spark needs
    "customer_id": "string", "membership_tier": "string", "one_time_buyer": "double",
    "recency_days": "double", "churn_probability": "double", "risk_tier": "string",
    "at_risk": "boolean", "yearly_spend": "double", "value_at_stake": "double",
    "reason": "string", "reason_confidence": "double", "top_drivers": "string",
}


def score_rows(snapshot: pd.DataFrame, model: ChurnModel, sp: ScoreParams) -> pd.DataFrame:
    """Per customer, needing no other row: probability, tier, value at stake, reason, drivers.
    Safe to run on any partition of the customers (Spark's mapInPandas does)."""
    out = snapshot[["customer_id", "membership_tier", "one_time_buyer", "recency_days"]].copy()
    p = model.predict_proba(snapshot)
    out["churn_probability"] = np.round(p, 6)
    out["risk_tier"] = risk_tier(p, sp.risk_tiers)
    out["at_risk"] = out["risk_tier"] != "low"
    out["yearly_spend"] = yearly_spend(snapshot)
    out["value_at_stake"] = np.round(p * out["yearly_spend"], 2)
    explained = out["risk_tier"].isin(list(sp.explain_tiers))
    out["reason"] = ""
    out["reason_confidence"] = np.nan
    out["top_drivers"] = ""
    if explained.any():
        why = explain(model, snapshot.loc[explained], sp)
        for col in ("reason", "reason_confidence", "top_drivers"):
            out.loc[explained, col] = why[col].to_numpy()
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
                    rp: RecommendParams) -> pd.DataFrame:
    """Every eligible customer: probability, tier, value at stake, reason, drivers, action."""
    return finish(score_rows(snapshot, model, sp), rp)
