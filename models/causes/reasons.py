"""The reason a customer leaves, by the configured method (`reasons.method`): the cause model
(models/causes/model.py), with the churn model's SHAP reason as one of its labelling functions,
or the SHAP reason alone (models/causes/shap_reason.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from common.params import ReasonParams
from features.registry import families
from models.causes.model import CauseModel, CauseParams, fit_cause_model
from models.causes.shap_reason import assign_reasons, family_contributions
from models.churn.drivers import top_drivers

if TYPE_CHECKING:
    from models.churn.model import ChurnModel
    from models.churn.split import Split


def explain(model: ChurnModel, X: pd.DataFrame, rp: ReasonParams) -> pd.DataFrame:
    """reason, reason_confidence and top_drivers from the churn model's SHAP values (the `shap`
    reason method; top_drivers are always these: why at risk)."""
    contrib = model.contributions(X)
    fam = family_contributions(contrib, families(model.features))
    reference = model.reason_reference if rp.reference == "lapsed" else {}
    reasons = assign_reasons(fam, reference, rp.min_confidence)
    reasons["top_drivers"] = top_drivers(contrib, X)
    return reasons


def uses_cause_model(model: ChurnModel, rp: ReasonParams) -> bool:
    return rp.method == "cause_model" and model.cause_model is not None


def causes(model: ChurnModel, X: pd.DataFrame, shap_reason: pd.Series) -> pd.DataFrame:
    """The cause model's answer for every row: why leaving (or, for customers not at risk,
    the likely cause should they leave), the five probabilities, evidence in words, basis.
    The SHAP reason ("" where not computed) is one more labelling function to it, whose
    accuracy it estimates on the shop's own customers."""
    frame = X.assign(shap_reason=shap_reason.reindex(X.index).fillna("").to_numpy())
    return model.cause_model.explain(frame).set_index(X.index)


def fit_beside_churn_model(model: ChurnModel, split: Split, tables: Iterable[str],
                           rp: ReasonParams, seed: int,
                           gold: pd.DataFrame | None = None) -> CauseModel:
    """The cause model on every labelled lapse before the validation snapshot, with the SHAP
    reason of the churn model as one labelling function, and the shop's known causes (a
    `labels` table) as gold when it has them."""
    lapsed = pd.concat([split.fit, split.stop, split.calibrate], ignore_index=True)
    lapsed = lapsed[lapsed["churned"] == 1]
    cap = CauseParams().max_rows  # the cause model fits on at most this many: explain only those
    if len(lapsed) > cap:
        lapsed = lapsed.sample(cap, random_state=seed)
    lapsed = lapsed.sort_values(["cutoff", "customer_id"], ignore_index=True)
    lapsed["shap_reason"] = explain(model, lapsed, rp)["reason"].to_numpy()
    return fit_cause_model(lapsed, tables, rp.prior, seed, gold)
