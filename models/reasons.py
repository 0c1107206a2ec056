"""Why a customer is leaving: their SHAP values summed by the registry's cause families.

A family's churn-raising contribution is the sum of its features' positive SHAP values. Every
lapsed customer shares symptoms (no recent visits, no opens), so the reason compares each
family with a *reference*: its mean contribution among customers who lapsed on held-out data
(stored with the model). The reason is the family furthest above its reference; its
confidence is that excess as a share of all positive excesses; "other" when no family is above
its reference or the top one's share is below `min_confidence`. With `reference` all zeros this
is the plain rule: the family with the largest churn-raising contribution.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.registry import BY_NAME, CAUSE_FAMILIES

REASONS = (*CAUSE_FAMILIES, "other")


def family_contributions(contrib: pd.DataFrame, family: Mapping[str, str]) -> pd.DataFrame:
    """Positive SHAP values summed per cause family: one column per cause, one row per customer."""
    cols = [c for c in contrib.columns if family.get(c) in CAUSE_FAMILIES]
    positive = contrib[cols].clip(lower=0)
    out = positive.T.groupby(pd.Series({c: family[c] for c in cols})).sum().T
    return out.reindex(columns=list(CAUSE_FAMILIES), fill_value=0.0)


def reference_profile(family_contrib: pd.DataFrame) -> dict[str, float]:
    return {c: float(family_contrib[c].mean()) for c in CAUSE_FAMILIES}


def assign_reasons(family_contrib: pd.DataFrame, reference: Mapping[str, float],
                   min_confidence: float) -> pd.DataFrame:
    """reason and reason_confidence per customer (vectorised)."""
    ref = np.array([reference.get(c, 0.0) for c in CAUSE_FAMILIES])
    excess = np.clip(family_contrib[list(CAUSE_FAMILIES)].to_numpy() - ref, 0, None)
    total = excess.sum(axis=1)
    top = excess.argmax(axis=1)
    confidence = np.divide(excess.max(axis=1), total, out=np.zeros_like(total),
                           where=total > 0)
    reason = np.asarray(CAUSE_FAMILIES, dtype=object)[top]
    unclear = (total <= 0) | (confidence < min_confidence)
    reason = np.where(unclear, "other", reason)
    return pd.DataFrame({"reason": reason, "reason_confidence": np.round(confidence, 4)},
                        index=family_contrib.index)


def _say(phrase: str, value: float) -> str:
    """Fill a registry phrase; a count of zero reads "no visits ..." rather than "0 visits"."""
    if value == 0 and phrase.startswith("{v:.0f} "):
        return "no " + phrase.removeprefix("{v:.0f} ")
    return phrase.format(v=value)


def top_drivers(contrib: pd.DataFrame, X: pd.DataFrame, k: int = 3) -> pd.Series:
    """The k features raising this customer's risk most, in words ("no visit in 200 days").
    Features without a value are skipped; vectorised per feature, not per row."""
    names = [c for c in contrib.columns if c in BY_NAME]
    values = contrib[names].to_numpy()
    raw = X[names].to_numpy(dtype=float)
    values = np.where(np.isnan(raw) | (values <= 0), -np.inf, values)
    order = np.argsort(-values, axis=1)[:, :k]
    parts = np.full(order.shape, "", dtype=object)
    for j in range(order.shape[1]):
        picked = order[:, j]
        usable = np.isfinite(values[np.arange(len(values)), picked])
        for f in np.unique(picked[usable]):
            rows = np.where(usable & (picked == f))[0]
            phrase = BY_NAME[names[f]].phrase
            # each distinct value is put in words once (days and counts repeat a lot)
            distinct, back = np.unique(raw[rows, f], return_inverse=True)
            parts[rows, j] = np.array([_say(phrase, v) for v in distinct], dtype=object)[back]
    joined = pd.Series(parts[:, 0], index=contrib.index, dtype=object)
    for j in range(1, parts.shape[1]):
        joined = joined + np.where(parts[:, j] != "", "; ", "") + parts[:, j]
    return joined.astype("string")


def reason_metrics(actual: pd.Series, predicted: pd.Series) -> dict:
    """Accuracy, macro-F1 and per-cause recall of reasons against known causes."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    labels = list(REASONS)
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
