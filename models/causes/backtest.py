"""How right the reasons are where the true cause is known (a generated shop's truth file):
accuracy, macro-F1, recall per cause, and whether reason_confidence is calibrated."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from common.causes import CAUSES
from common.params import ReasonParams
from models.causes.reasons import causes, explain, uses_cause_model

if TYPE_CHECKING:
    from models.churn.model import ChurnModel


def reason_backtest(model: ChurnModel, valid: pd.DataFrame, truth: pd.DataFrame,
                    rp: ReasonParams) -> tuple[dict, pd.DataFrame]:
    """Among validation customers who actually lapsed, the reason given vs the true cause.
    Returns (metrics, confusion rows)."""
    lapsed = valid[valid["churned"] == 1].merge(truth[["customer_id", "cause"]],
                                                on="customer_id")
    lapsed = lapsed[lapsed["cause"].notna()]
    if lapsed.empty:
        return {}, pd.DataFrame(columns=["actual", "predicted"])
    why = explain(model, lapsed, rp)
    if uses_cause_model(model, rp):
        why = causes(model, lapsed, why["reason"])
    confusion = pd.DataFrame({"actual": lapsed["cause"].to_numpy(),
                              "predicted": why["reason"].to_numpy(),
                              "confidence": why["reason_confidence"].to_numpy()})
    metrics = reason_metrics(confusion["actual"], confusion["predicted"])
    metrics["reliability"] = reliability(confusion).to_dict("records")
    return metrics, confusion


def reliability(confusion: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Is reason_confidence calibrated? Per confidence bin: customers, mean confidence, and the
    share whose reason was right (about equal when it is)."""
    right = (confusion["actual"] == confusion["predicted"]).astype(float)
    conf = confusion["confidence"].astype(float).clip(0, 1)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    table = pd.DataFrame({"bin": b, "confidence": conf, "right": right}).groupby("bin").agg(
        n=("right", "size"), mean_confidence=("confidence", "mean"),
        share_right=("right", "mean")).reset_index()
    return table.round(4)


def reason_metrics(actual: pd.Series, predicted: pd.Series) -> dict:
    """Accuracy, macro-F1 and per-cause recall of reasons against known causes."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    labels = list(CAUSES)
    actual, predicted = actual.astype(str).to_numpy(), predicted.astype(str).to_numpy()
    recall = recall_score(actual, predicted, labels=labels, average=None, zero_division=0)
    return {
        "n": int(len(actual)),
        "accuracy": float(accuracy_score(actual, predicted)),
        "macro_f1": float(f1_score(actual, predicted, labels=labels, average="macro",
                                   zero_division=0)),
        "recall": {lab: float(r) for lab, r in zip(labels, recall, strict=True)},
        "predicted_share": pd.Series(predicted).value_counts(normalize=True).round(4).to_dict(),
    }
