"""How good a churn score is: ranking (ROC-AUC, PR-AUC, lift), probability (Brier, ECE), overall
and for one-time vs repeat buyers, plus the curves behind the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean score| over equal-width score bins, weighted by bin size."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10% highest scores / overall churn rate."""
    y, score = np.asarray(y, float), np.asarray(score, float)
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean() / y.mean()) if y.mean() > 0 else float("nan")


def score_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    y = np.asarray(y, int)
    if len(np.unique(y)) < 2:
        return {"n": int(len(y)), "churn_rate": float(y.mean()) if len(y) else float("nan")}
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "top_decile_lift": top_decile_lift(y, p),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "ece": expected_calibration_error(y, np.clip(p, 0, 1)),
        "n": int(len(y)),
        "churn_rate": float(y.mean()),
    }


def sliced_metrics(y: np.ndarray, p: np.ndarray, one_time: np.ndarray) -> dict[str, dict]:
    one_time = np.asarray(one_time, bool)
    return {"all": score_metrics(y, p),
            "one_time_buyers": score_metrics(y[one_time], p[one_time]),
            "repeat_buyers": score_metrics(y[~one_time], p[~one_time])}


def curves(y: np.ndarray, p: np.ndarray, model: str) -> dict[str, pd.DataFrame]:
    """Plot data (one row per point) for ROC, precision-recall, cumulative gains, calibration."""
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, _ = precision_recall_curve(y, p)
    order = np.argsort(-np.asarray(p), kind="stable")
    gained = np.cumsum(np.asarray(y)[order]) / max(1, np.sum(y))
    share = np.arange(1, len(y) + 1) / len(y)
    pick = np.unique(np.linspace(0, len(y) - 1, 101).astype(int))
    observed, predicted = calibration_curve(y, np.clip(p, 0, 1), n_bins=10, strategy="quantile")

    def thin(frame: pd.DataFrame, n: int = 200) -> pd.DataFrame:
        step = max(1, len(frame) // n)
        return frame.iloc[::step].reset_index(drop=True)

    return {
        "roc": thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})).assign(model=model),
        "precision_recall": thin(pd.DataFrame({"recall": recall, "precision": precision}))
        .assign(model=model),
        "gains": pd.DataFrame({"share_contacted": share[pick], "share_of_churners":
                               gained[pick]}).assign(model=model),
        "calibration": pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed})
        .assign(model=model),
    }
