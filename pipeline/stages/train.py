"""DVC stage `train`: fit the calibrated LightGBM churn model on the training snapshots (or,
with too little labelled history, the BTYD fallback) and the cause model beside it; log both to
MLflow as one registered model and hand its version to the evaluate stage."""

from __future__ import annotations

import logging

import pandas as pd

from common.errors import ChurnError
from features.contract import TABLES
from models.causes.reasons import fit_beside_churn_model
from models.churn.short_history import fallback_model
from models.churn.split import time_split
from models.churn.train import train_model
from pipeline.io import write_json
from pipeline.registry import check_owner, log_training, model_name
from pipeline.rows import all_rows, feature_names, labelled_rows, scoring_rows
from pipeline.shell import Stage, run_stage
from pipeline.tracking import setup

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    names = feature_names(paths.features)
    tables = [t for t in TABLES if (paths.canonical / f"{t}.parquet").exists()]
    setup(params.tracking)
    registered = model_name(params.tracking, run.horizon_days)
    check_owner(registered)  # before hours of training into someone else's model
    try:
        split = time_split(labelled_rows(paths.features, params.train.sample_customers),
                           params.train.embargo_days)
    except ChurnError as exc:  # too little labelled history: score with BTYD instead
        model, info = fallback_model(all_rows(paths.features), run.horizon_days, tables,
                                     params.reasons, params.base.seed, str(exc))
        split = None
    if split is not None:
        model, info = train_model(split, names, params.train, params.base.seed)
        info["score_source"] = "model"
        if params.reasons.method == "cause_model":
            gold = pd.read_parquet(paths.canonical / "labels.parquet") \
                if "labels" in tables else None
            model.cause_model = fit_beside_churn_model(model, split, tables, params.reasons,
                                                       params.base.seed, gold)
            info["cause_model"] = model.cause_model.summary().round(4).to_dict("records")
    example = split.valid.head(5) if split is not None else scoring_rows(paths.features).head(5)
    handoff = log_training(model, info, run, params, names,
                           [paths.canonical / f"{t}.parquet" for t in tables], example,
                           registered)
    write_json(handoff, paths.model)
    write_json({**handoff, **info}, paths.train_report)
    if split is None:
        log.info("short history: %s v%s scores with BTYD P(no purchase in %d days) (%s)",
                 registered, handoff["model_version"], run.horizon_days, info["note"])
    else:
        log.info("trained %s v%s (%d trees, %s calibration)", registered,
                 handoff["model_version"], info["best_iteration"], info["calibration"])


if __name__ == "__main__":
    run_stage(main)
