"""The simple rules a shop already has, scored on exactly the same customers and labels:
recency alone, logistic regression on RFM, and a BG/NBD model's P(no purchase in the horizon)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from models.churn.btyd import btyd_inputs, fit_params, predict

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


def btyd_baseline(valid: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """P(no purchase within the horizon) from a BG/NBD fitted on the validation cutoff's own
    history only (it needs no labels), with the project's closed forms (models/churn/btyd.py).
    Never 1 - P(alive): that is 1 for every one-time buyer."""
    inputs = btyd_inputs(valid)
    return predict(fit_params(inputs), inputs, horizon_days)["btyd_p_no_purchase"].to_numpy()
