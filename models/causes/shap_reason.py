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

from features.registry import CAUSE_FAMILIES


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

