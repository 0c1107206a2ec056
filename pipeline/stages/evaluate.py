"""DVC stage `evaluate`: the model and the baselines on the validation snapshot (same customers,
same labels), rolling validation, metrics.json and plot data for DVC, metrics and images into
the model's MLflow run, and the champion gate's decision: the version that scores this batch
(artifacts/champion.json). The aliases move only when the batch is published."""

from __future__ import annotations

import logging
from dataclasses import asdict

import pandas as pd

from models.churn.evaluation import (
    compare,
    curve_data,
    headline_metrics,
    rolling_validation,
    validation_scores,
)
from models.churn.split import time_split
from pipeline.io import read_json, write_csv, write_json
from pipeline.plots import AXES, curve_figure
from pipeline.registry import decide, load_churn_model
from pipeline.rows import labelled_rows
from pipeline.shell import Stage, run_stage
from pipeline.tracking import log_evaluation, setup

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    trained = read_json(paths.model)
    setup(params.tracking)
    if trained.get("score_source") == "btyd":
        short_history(stage, trained)
        return
    model = load_churn_model(trained["model_uri"])
    frame = labelled_rows(paths.features, params.train.sample_customers)
    split = time_split(frame, params.train.embargo_days)
    scores = validation_scores(split, model, run.horizon_days, params.evaluate.btyd)
    details = compare(split.valid, scores)
    if params.evaluate.rolling_folds:
        details["rolling"] = rolling_validation(frame, model.features, params.train,
                                                params.base.seed, run.horizon_days,
                                                params.evaluate.rolling_folds, model)
    decision, handoff = decide(trained, split.valid, details["model"]["all"],
                               params.train.promotion_metric, params.train.promotion_margin)
    details["promotion"] = asdict(decision)
    curves = curve_data(split.valid, scores)
    for kind, data in curves.items():
        write_csv(data, paths.curves / f"{kind}.csv")
    write_json(details, paths.evaluation)
    write_json(headline_metrics(details), paths.metrics)
    log_evaluation(trained["run_id"], details, decision,
                   {kind: curve_figure(kind, data) for kind, data in curves.items()})
    # only what scoring needs: it re-runs when the scoring version changes, not otherwise
    write_json(handoff, paths.champion)
    log.info("validation ROC-AUC %.4f; %s", details["model"]["all"]["roc_auc"], decision.reason)


def short_history(stage: Stage, trained: dict) -> None:
    """No labelled snapshot to judge on: the BTYD model takes the alias (nothing comparable
    exists for this identity), and the reports say why there are no validation metrics."""
    decision, handoff = decide(trained, None, None, "none", 0.0)
    details = {"score_source": "btyd", "note": trained["note"], "promotion": asdict(decision)}
    write_json(details, stage.paths.evaluation)
    write_json({}, stage.paths.metrics)
    for kind, (x, y, _title) in AXES.items():
        write_csv(pd.DataFrame(columns=[x, y, "model"]), stage.paths.curves / f"{kind}.csv")
    write_json(handoff, stage.paths.champion)
    log.info("short history: no labelled snapshot to validate on; BTYD scores")


if __name__ == "__main__":
    run_stage(main)
