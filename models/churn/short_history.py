"""Scores for a shop too young (or a horizon too long) for a labelled training snapshot: the
BTYD model needs no labels. A Pareto/NBD is fitted on the scoring snapshot itself (every
customer as of as_of: point in time), its P(no purchase in the horizon) is the churn score,
calibrated on whatever labelled snapshots exist (isotonic, when both outcomes occur often
enough).

Pareto/NBD rather than BG/NBD: BG/NBD lets a customer drop out only right after a repeat order,
so it holds every one-time buyer alive however long they have been silent; a young shop's
customers are mostly one-time buyers, and Pareto/NBD's dropout in continuous time ranks them
by how long they have been silent (CDNOW as of 1997-09-30, 273 days: 0.763 vs 0.746)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from common.errors import ChurnError
from common.params import ReasonParams
from models.causes.model import fit_cause_model
from models.churn.btyd import btyd_features, btyd_inputs, fit_params
from models.churn.drift import reference_profile
from models.churn.model import BtydChurnModel
from models.churn.split import MIN_PER_CLASS

METHOD = "paretonbd"


def fit_short_history(frame: pd.DataFrame, horizon_days: int) -> tuple[BtydChurnModel, dict]:
    """The fallback model from the features table (score rows, and labelled rows if any)."""
    snapshot = frame[frame["split"] == "score"]
    fit = fit_params(btyd_inputs(snapshot), method=METHOD)
    model = BtydChurnModel(fit=fit, horizon_days=horizon_days)
    model.features = [c for c in model.features if c in snapshot.columns]
    labelled = frame[frame["split"] == "train"]
    churned = int(labelled["churned"].sum()) if len(labelled) else 0
    calibrated = min(churned, len(labelled) - churned) >= 2 * MIN_PER_CLASS
    if calibrated:
        # each labelled cutoff's own BTYD fit: what the model would have said back then
        p = btyd_features(labelled, horizon_days, method=METHOD)[
            "btyd_p_no_purchase"].to_numpy()
        model.calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            p, labelled["churned"].to_numpy(float))
    scores = model.predict_proba(snapshot)
    model.drift_reference = reference_profile(snapshot, model.features, scores)
    info = {"score_source": "btyd", "btyd": {"method": fit.method, "r": fit.r,
                                             "alpha": fit.alpha, "a": fit.a, "b": fit.b},
            "calibrated_on_labelled_rows": int(len(labelled)) if calibrated else 0,
            "rows": {"score": int(len(snapshot)), "labelled": int(len(labelled))},
            "mean_score": float(np.mean(scores)) if len(scores) else None}
    return model, info


def lapsing(frame: pd.DataFrame, model: BtydChurnModel, share: float = 0.4) -> pd.DataFrame:
    """Customers of the scoring snapshot the fallback sees as likeliest to leave (the top
    `share` by score): what the cause model learns from when no lapse is labelled (weak
    supervision needs no labels)."""
    snapshot = frame[frame["split"] == "score"]
    p = model.predict_proba(snapshot)
    return snapshot[p >= np.quantile(p, 1 - share)].assign(churned=1) if len(p) else snapshot


def fallback_model(frame: pd.DataFrame, horizon_days: int, tables: Iterable[str],
                   rp: ReasonParams, seed: int, why: str) -> tuple[BtydChurnModel, dict]:
    """The fallback when no labelled snapshot can train and judge a model: BTYD scores, and
    the cause model learned on the customers it sees leaving."""
    model, info = fit_short_history(frame, horizon_days)
    info["note"] = why
    if rp.method == "cause_model":
        try:
            model.cause_model = fit_cause_model(lapsing(frame, model), tables, rp.prior, seed)
        except ChurnError as exc:
            info["cause_model"] = f"not fitted: {exc}"
    return model, info
