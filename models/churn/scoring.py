"""Scoring a batch, one customer at a time: calibrated P(churn), risk tier, value at stake, the
drivers of the risk, and the reason (by the configured method). Needs no other row, so any
partition of the customers can be scored alone (Spark's mapInPandas does, and `score_batches`
on one machine: memory then holds one batch's wide rows and SHAP values, not every
customer's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from common.causes import CAUSES
from common.params import ReasonParams, ScoreParams
from models.causes.reasons import causes, explain, uses_cause_model
from models.churn.model import ChurnModel


def risk_tier(p: np.ndarray, tiers: Mapping[str, float]) -> np.ndarray:
    out = np.full(len(p), "low", dtype=object)
    for name, floor in sorted(tiers.items(), key=lambda kv: kv[1]):
        out[p >= floor] = name
    return out


def yearly_spend(frame: pd.DataFrame) -> pd.Series:
    """Expected 12-month spend = their average yearly spend over their tenure, counting at
    least one year (a 2-month-old customer who spent 50 is expected to spend 50 a year)."""
    return frame["monetary_total"] * 365.0 / frame["tenure_days"].clip(lower=365)


CAUSE_COLUMNS = [f"p_{c}" for c in CAUSES]


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


#: customers scored at once by `score_batches`: ~80 features, their SHAP values and the cause
#: model's inputs for this many rows take a few hundred MB
BATCH_ROWS = 200_000


def score_batches(batches: Iterable[pd.DataFrame], model: ChurnModel, sp: ScoreParams,
                  rp: ReasonParams) -> pd.DataFrame:
    """`score_rows` over each frame of a snapshot read in batches, stacked in their order:
    the same rows as scoring the whole snapshot at once (no score looks at another row)."""
    parts = [score_rows(batch, model, sp, rp) for batch in batches]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=_DTYPES[t]) for c, t in ROW_COLUMNS.items()})
    return pd.concat(parts, ignore_index=True)


_DTYPES = {"string": object, "double": "float64", "boolean": bool}
