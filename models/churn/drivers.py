"""Why a customer is at risk, in words: the features raising their churn probability most
(their SHAP values), each put in the registry's phrase ("no visit in 200 days")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.registry import BY_NAME


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

