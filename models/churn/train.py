"""Fit LightGBM on the past, stop early on a later slice, calibrate on data held out from it."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, roc_auc_score

from common.hashing import stable_bucket
from common.params import TrainParams, as_dict
from features.registry import families, monotone_constraints
from models.causes.shap_reason import family_contributions, reference_profile
from models.churn.drift import reference_profile as drift_profile
from models.churn.model import ChurnModel
from models.churn.split import MIN_PER_CLASS, Split

LABEL = "churned"


def lgbm_kwargs(p: TrainParams, seed: int) -> dict[str, Any]:
    return dict(
        objective="binary", learning_rate=p.learning_rate, num_leaves=p.num_leaves,
        max_depth=p.max_depth, min_child_samples=p.min_child_samples,
        n_estimators=p.n_estimators, class_weight=p.class_weight,
        subsample=p.subsample, subsample_freq=1 if p.subsample < 1 else 0,
        colsample_bytree=p.colsample_bytree, random_state=seed, n_jobs=2, verbose=-1)


def fit_lgbm(fit: pd.DataFrame, stop: pd.DataFrame, features: list[str],
             p: TrainParams, seed: int) -> lgb.LGBMClassifier:
    # what retail practice knows holds in the model: e.g. a longer lapse never lowers the risk
    clf = lgb.LGBMClassifier(**lgbm_kwargs(p, seed),
                             monotone_constraints=monotone_constraints(features))
    clf.fit(fit[features].astype("float64"), fit[LABEL],
            eval_X=(stop[features].astype("float64"),), eval_y=(stop[LABEL],),
            callbacks=[lgb.early_stopping(p.early_stopping_rounds, verbose=False)])
    return clf


def calibrate(clf: lgb.LGBMClassifier, held: pd.DataFrame, features: list[str],
              method: str = "auto") -> tuple[CalibratedClassifierCV | None, dict[str, float]]:
    """Fit the calibration map on held-out rows. `auto` picks isotonic or sigmoid by Brier on
    one half of the held-out customers after fitting on the other half."""
    X, y = held[features].astype("float64"), held[LABEL].to_numpy()
    if method == "none" or min(y.sum(), len(y) - y.sum()) < 2 * MIN_PER_CLASS:
        return None, {}  # calibration on (nearly) one class says nothing: keep raw scores
    scores: dict[str, float] = {}
    half = stable_bucket(held["customer_id"], 2) == 0
    if method == "auto" and min(len(np.unique(y[half])), len(np.unique(y[~half]))) < 2:
        method = "sigmoid"  # too few to choose on held-out halves: the smoother map
    if method == "auto":
        for candidate in ("isotonic", "sigmoid"):
            cal = CalibratedClassifierCV(FrozenEstimator(clf), method=candidate)
            cal.fit(X[half], y[half])
            scores[candidate] = brier_score_loss(y[~half], cal.predict_proba(X[~half])[:, 1])
        method = min(scores, key=scores.get)
    cal = CalibratedClassifierCV(FrozenEstimator(clf), method=method).fit(X, y)
    return cal, scores


def tune(split: Split, features: list[str], p: TrainParams, seed: int) -> TrainParams:
    """Small Optuna search with a time-based fold: fit on older cutoffs, score the newest
    fitting cutoff. Never looks at the validation snapshot."""
    import optuna

    cutoffs = sorted(split.fit["cutoff"].unique())
    inner_fit = split.fit[split.fit["cutoff"] < cutoffs[-1]]
    inner_val = split.fit[split.fit["cutoff"] == cutoffs[-1]]
    if inner_fit.empty:
        return p

    def objective(trial: optuna.Trial) -> float:
        cand = p.model_copy(update={
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 48),
            "min_child_samples": trial.suggest_int("min_child_samples", 20, 200, log=True)})
        clf = fit_lgbm(inner_fit, inner_val, features, cand, seed)
        return roc_auc_score(inner_val[LABEL],
                             clf.predict_proba(inner_val[features].astype("float64"))[:, 1])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=p.tune_trials)
    return p.model_copy(update=study.best_params)


def train_model(split: Split, features: list[str], p: TrainParams,
                seed: int) -> tuple[ChurnModel, dict[str, Any]]:
    """The calibrated model and what happened while fitting it."""
    if p.tune_trials > 0:
        p = tune(split, features, p, seed)
    clf = fit_lgbm(split.fit, split.stop, features, p, seed)
    calibrator, cal_scores = calibrate(clf, split.calibrate, features, p.calibration)
    model = ChurnModel(clf.booster_, calibrator, list(features))
    lapsed = split.calibrate[split.calibrate[LABEL] == 1]
    if len(lapsed):
        sample = lapsed.sample(min(len(lapsed), 20_000), random_state=seed)
        model.reason_reference = reference_profile(
            family_contributions(model.contributions(sample), families(list(features))))
    # the newest labelled snapshot is the training data closest to a scoring snapshot
    model.drift_reference = drift_profile(split.valid, list(features),
                                          model.predict_proba(split.valid))
    importance = pd.Series(clf.booster_.feature_importance("gain"), index=features)
    info = {
        "best_iteration": int(clf.best_iteration_ or clf.n_estimators),
        "calibration": "none" if calibrator is None else calibrator.method,
        "calibration_brier": cal_scores,
        "importance_gain": importance.sort_values(ascending=False).round(3).to_dict(),
        "params": {**as_dict(p), "seed": seed},
        "rows": {"fit": len(split.fit), "stop": len(split.stop),
                 "calibrate": len(split.calibrate), "valid": len(split.valid)},
        "fit_cutoffs": sorted(str(c)[:10] for c in split.fit["cutoff"].unique()),
        "valid_cutoff": str(split.valid["cutoff"].iloc[0])[:10],
        "reason_reference": model.reason_reference,
    }
    return model, info
