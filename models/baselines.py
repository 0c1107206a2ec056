"""The simple rules a shop already has, scored on exactly the same customers and labels:
recency alone, logistic regression on RFM, and a BG/NBD model's P(no purchase in the horizon)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

log = logging.getLogger(__name__)
RFM = ["recency_days", "frequency", "monetary_total"]


def _logistic():
    return make_pipeline(FunctionTransformer(np.log1p), StandardScaler(),
                         LogisticRegression(max_iter=1000))


def recency_baseline(fit: pd.DataFrame, valid: pd.DataFrame) -> np.ndarray:
    """"Hasn't bought in N days", turned into a probability by a one-feature logistic fit."""
    model = _logistic().fit(fit[["recency_days"]], fit["churned"])
    return model.predict_proba(valid[["recency_days"]])[:, 1]


def rfm_logistic_baseline(fit: pd.DataFrame, valid: pd.DataFrame) -> np.ndarray:
    model = _logistic().fit(fit[RFM], fit["churned"])
    return model.predict_proba(valid[RFM])[:, 1]


def btyd_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD's (frequency, recency, T) from point-in-time features, in days: repeat orders,
    age of the customer at their last order, and age at the cutoff."""
    return pd.DataFrame({
        "customer_id": np.arange(len(frame)),
        "frequency": (frame["frequency"].to_numpy() - 1).clip(min=0),
        "recency": (frame["tenure_days"] - frame["recency_days"]).to_numpy(dtype=float),
        "T": frame["tenure_days"].to_numpy(dtype=float).clip(min=1),
    })


def btyd_baseline(valid: pd.DataFrame, horizon_days: int) -> np.ndarray | None:
    """P(no purchase within the horizon) from a BG/NBD model (pymc-marketing, MAP fit) fitted
    on the validation cutoff's own history only (it needs no labels). Never 1 - P(alive):
    that is 1 for every one-time buyer. None when pymc-marketing is unavailable or fails."""
    try:
        from pymc_marketing.clv import BetaGeoModel
    except ImportError:
        log.warning("pymc-marketing not installed: BTYD baseline skipped")
        return None
    data = btyd_inputs(valid)
    try:
        model = BetaGeoModel(data=data)
        model.fit(method="map", progressbar=False)
        p = model.expected_probability_no_purchase(t=horizon_days, data=data)
    except Exception as exc:  # noqa: BLE001 - a failed baseline must not fail the pipeline
        log.warning("BTYD baseline failed: %s", exc)
        return None
    values = np.asarray(p).reshape(-1, len(data)).mean(axis=0) if np.ndim(p) > 1 else np.asarray(p)
    return np.clip(values, 0, 1)
