"""The churn model as one MLflow pyfunc: LightGBM trees plus the calibration map, returning
calibrated probabilities (never class labels), with SHAP contributions from the same trees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV


@dataclass
class ChurnModel:
    booster: lgb.Booster
    calibrator: CalibratedClassifierCV | None
    features: list[str]
    #: mean churn-raising contribution per cause family among lapsed held-out customers
    reason_reference: dict[str, float] = field(default_factory=dict)
    #: feature and score distributions of the training data, for drift checks
    drift_reference: dict = field(default_factory=dict)
    #: why a customer leaves (models/causes.py), fitted beside the churn model
    cause_model: Any = None

    def frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[self.features].astype("float64")

    def raw_probability(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.frame(X), num_threads=0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated P(churn)."""
        X = self.frame(X)
        if self.calibrator is None:
            return self.raw_probability(X)
        return self.calibrator.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature SHAP values in log-odds (LightGBM's pred_contrib), plus `bias`."""
        from models.churn.shap import contributions

        values = contributions(self.booster, self.frame(X))
        return pd.DataFrame(values, columns=[*self.features, "bias"], index=X.index)


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    """What MLflow stores: `predict` gives calibrated churn probabilities."""

    def __init__(self, model):
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_proba(model_input)


@dataclass
class BtydChurnModel:
    """The short-history fallback: P(no purchase in the horizon) from a BTYD model fitted on the
    scoring snapshot (no labels needed), mapped by isotonic regression to the labels that do
    exist, when any. Same interface as ChurnModel, without SHAP (no trees to explain)."""

    fit: Any                     # models.churn.btyd.BgnbdFit
    horizon_days: int
    calibrator: Any = None       # sklearn IsotonicRegression on (p_no_purchase -> churned)
    features: list[str] = field(default_factory=lambda: ["frequency", "purchase_days",
                                                         "recency_days", "tenure_days"])
    reason_reference: dict[str, float] = field(default_factory=dict)
    drift_reference: dict = field(default_factory=dict)
    cause_model: Any = None
    booster: Any = None          # none: nothing for SHAP to explain

    def frame(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[self.features].astype("float64")

    def raw_probability(self, X: pd.DataFrame) -> np.ndarray:
        from models.churn.btyd import btyd_inputs, predict

        return predict(self.fit, btyd_inputs(self.frame(X)),
                       self.horizon_days)["btyd_p_no_purchase"].to_numpy()

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.raw_probability(X)
        return p if self.calibrator is None else self.calibrator.predict(p)
