"""Per-customer SHAP values from LightGBM's own TreeSHAP (`pred_contrib`), computed once per
*decision class*: rows that fall on the same side of every split threshold of the model get
identical SHAP values, so only one row per class is explained and the result is broadcast.
Exact, not an approximation; on real shops many lapsed customers share a class."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd


def split_thresholds(booster: lgb.Booster, features: list[str]) -> dict[int, np.ndarray]:
    """Sorted split thresholds per feature index, read from the model dump."""
    found: dict[int, set[float]] = {}

    def walk(node: dict) -> None:
        if "split_feature" in node:
            found.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return {f: np.array(sorted(t)) for f, t in found.items()}


def decision_codes(X: np.ndarray, thresholds: dict[int, np.ndarray]) -> np.ndarray:
    """For each row and used feature, the interval between thresholds its value falls in
    (missing values get their own code). Equal codes = equal decisions at every node."""
    cols = sorted(thresholds)
    codes = np.empty((X.shape[0], len(cols)), dtype=np.int32)
    for j, f in enumerate(cols):
        x = X[:, f]
        # LightGBM goes left when value <= threshold: side="left" keeps ties on the left side
        codes[:, j] = np.where(np.isnan(x), -1, np.searchsorted(thresholds[f], x, side="left"))
    return codes


def contributions(booster: lgb.Booster, X: pd.DataFrame, dedupe: bool = True) -> np.ndarray:
    """SHAP values (n x (features + 1), last column the bias) in log-odds."""
    values = X.to_numpy(dtype=np.float64)
    if not dedupe or len(values) < 2:
        return booster.predict(values, pred_contrib=True)
    codes = np.ascontiguousarray(decision_codes(values, split_thresholds(booster, list(X))))
    keys = codes.view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    unique_contrib = booster.predict(values[first], pred_contrib=True)
    return unique_contrib[inverse.ravel()]
