"""Personal uplift models: T-, X- and DR-learners on LightGBM, each action against no contact.

Inputs are what the product knows about a customer at the contact: the model features, the
cause model's probabilities (p_forgot ... p_other, when the contact log recorded them) and the
lifecycle stage. Which learner (if any) beats the segment posterior is decided on held-out
randomised contacts (models/campaigns/assess.py). A fitted learner is plain data (LightGBM
model strings), so the policy stage can hand it to the score stage in the policy file.

Hand-written rather than taken from a library: scikit-uplift has had no release since 2022 and
causalml pulls xgboost, shap, statsmodels and more for what is a few dozen lines on the
LightGBM the project already trains with. How uplift and policies are judged is in judge.py.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightgbm as lgb
import numpy as np
import pandas as pd

from common.errors import ChurnError
from common.hashing import stable_bucket
from models.campaigns.evidence import LIFECYCLE
from models.campaigns.judge import NONE

#: small, shallow trees: each arm is a few thousand contacts at most, and a response model that
#: chases noise turns into a policy that switches actions on noise
LGBM_PARAMS: Mapping[str, object] = {
    "n_estimators": 80, "learning_rate": 0.05, "num_leaves": 4, "min_child_samples": 40,
    "max_bin": 31, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9,
    "reg_lambda": 1.0, "n_jobs": 1, "verbose": -1, "random_state": 0,
}
KINDS = ("t", "x", "dr")


def design_matrix(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The learner's inputs: its features (missing ones NaN) and the lifecycle stage coded."""
    out = frame.reindex(columns=[f for f in features if not f.startswith("stage_")]).astype(
        float)
    stage = frame["lifecycle"].astype(str) if "lifecycle" in frame else pd.Series(
        "", index=frame.index)
    for s in LIFECYCLE:
        out[f"stage_{s}"] = (stage == s).astype(float).to_numpy()
    return out.reset_index(drop=True)


def _fit(X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None, regression: bool) -> dict:
    if not regression and len(np.unique(y)) < 2:
        return {"const": float(y.mean()) if len(y) else 0.0}
    model = (lgb.LGBMRegressor if regression else lgb.LGBMClassifier)(**LGBM_PARAMS)
    model.fit(X, y, sample_weight=w)
    return {"model": model.booster_.model_to_string()}


def _predict(spec: dict, X: pd.DataFrame, cache: dict) -> np.ndarray:
    if "const" in spec:
        return np.full(len(X), spec["const"])
    key = id(spec)
    if key not in cache:
        cache[key] = lgb.Booster(model_str=spec["model"])
    return cache[key].predict(X.to_numpy(float))


class Learner:
    """A fitted uplift learner: `predict(frame)` gives customers x actions uplift."""

    def __init__(self, kind: str, features: list[str], models: dict) -> None:
        self.kind, self.features, self.models = kind, features, models
        self._cache: dict = {}

    @property
    def actions(self) -> list[str]:
        return sorted(self.models.get("arms", {}))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "features": self.features, "models": self.models}

    @classmethod
    def from_dict(cls, data: dict) -> Learner:
        return cls(data["kind"], data["features"], data["models"])

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = design_matrix(frame, self.features)
        out = pd.DataFrame(index=range(len(X)))
        base = _predict(self.models["control"], X, self._cache) if "control" in self.models \
            else None
        for a, arm in sorted(self.models.get("arms", {}).items()):
            if self.kind == "t":
                out[a] = _predict(arm["treated"], X, self._cache) - base
            elif self.kind == "x":
                g = arm["g"]
                out[a] = g * _predict(arm["tau0"], X, self._cache) + \
                    (1 - g) * _predict(arm["tau1"], X, self._cache)
            else:
                out[a] = _predict(arm["tau"], X, self._cache)
        return out


def fit_learner(kind: str, rows: pd.DataFrame, features: list[str],
                min_per_arm: int = 100) -> Learner:
    """A T-, X- or DR-learner on contact rows (observed_action, responded, propensity, the
    features, lifecycle); actions with fewer than `min_per_arm` treated contacts (or controls)
    get no model."""
    if kind not in KINDS:
        raise ChurnError(f"unknown uplift learner {kind!r}; choose from {', '.join(KINDS)}")
    X = design_matrix(rows, features)
    names = list(X.columns)
    y = rows["responded"].astype(int).to_numpy()
    obs = rows["observed_action"].astype(str).to_numpy()
    p = pd.to_numeric(rows["propensity"], errors="coerce").to_numpy()
    w = np.where(np.isfinite(p) & (p > 0), 1.0 / np.where(p > 0, p, 1.0), 1.0)
    ctrl = obs == NONE
    if ctrl.sum() < min_per_arm:
        return Learner(kind, names, {"arms": {}})
    control = _fit(X[ctrl], y[ctrl], w[ctrl], False)
    models: dict = {"control": control, "arms": {}}
    cache: dict = {}
    fold = stable_bucket(rows["customer_id"].astype(str), 2, salt="dr-fold|")
    for a in sorted(set(obs) - {NONE}):
        t = obs == a
        if t.sum() < min_per_arm:
            continue
        treated = _fit(X[t], y[t], w[t], False)
        if kind == "t":
            models["arms"][a] = {"treated": treated}
            continue
        both = t | ctrl
        g = float(t.sum() / both.sum())
        if kind == "x":
            mu0_t = _predict(control, X[t], cache)
            mu1_c = _predict(treated, X[ctrl], cache)
            models["arms"][a] = {"g": g,
                                 "tau1": _fit(X[t], y[t] - mu0_t, None, True),
                                 "tau0": _fit(X[ctrl], mu1_c - y[ctrl], None, True)}
            continue
        # DR: nuisances cross-fitted on the other fold, a pseudo-outcome per contact
        phi = np.zeros(both.sum())
        idx = np.where(both)[0]
        for k in (0, 1):
            teach, judge = idx[fold[idx] != k], idx[fold[idx] == k]
            m0 = _fit(X.iloc[teach[ctrl[teach]]], y[teach[ctrl[teach]]], None, False)
            m1 = _fit(X.iloc[teach[t[teach]]], y[teach[t[teach]]], None, False)
            mu0, mu1 = _predict(m0, X.iloc[judge], {}), _predict(m1, X.iloc[judge], {})
            tt = t[judge]
            pos = np.searchsorted(idx, judge)
            phi[pos] = mu1 - mu0 + tt * (y[judge] - mu1) / g - (~tt) * (y[judge] - mu0) / (1 - g)
        models["arms"][a] = {"tau": _fit(X.iloc[idx], np.clip(phi, -5, 5), None, True)}
    return Learner(kind, names, models)
