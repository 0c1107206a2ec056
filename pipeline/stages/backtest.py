"""Demo stage `backtest` (demo/dvc.yaml, never run on a real shop): on a generated shop, the
reasons of the model just trained against the causes the generator planted, among the
validation customers who lapsed: accuracy, macro-F1, recall per cause, the confusion matrix,
and whether reason_confidence is calibrated."""

from __future__ import annotations

import logging

import pandas as pd

from common.errors import ChurnError
from models.causes.backtest import reason_backtest
from models.churn.split import time_split
from pipeline.ingestion import TRUTH_FILE
from pipeline.io import read_json, write_csv, write_json
from pipeline.registry import load_churn_model
from pipeline.rows import labelled_rows
from pipeline.shell import Stage, run_stage
from pipeline.tracking import setup

log = logging.getLogger(__name__)
CONFUSION = "reason_confusion.csv"


def main(stage: Stage) -> None:
    params, paths = stage.params, stage.paths
    truth_file = paths.canonical / TRUTH_FILE
    if not truth_file.exists():
        raise ChurnError(f"{truth_file}: no truth file: the backtest is for generated shops "
                         "(churn synth) only")
    trained = read_json(paths.model)
    metrics, confusion = {}, pd.DataFrame(columns=["actual", "predicted", "confidence"])
    if trained.get("score_source") != "btyd":
        setup(params.tracking)
        model = load_churn_model(trained["model_uri"])
        valid = time_split(labelled_rows(paths.features, params.train.sample_customers),
                           params.train.embargo_days).valid
        metrics, confusion = reason_backtest(model, valid, pd.read_parquet(truth_file),
                                             params.reasons)
    write_csv(confusion, paths.curves / CONFUSION)
    headline = {k: round(metrics[k], 4) for k in ("accuracy", "macro_f1") if k in metrics}
    write_json({"reason_acc": headline["accuracy"]} if headline else {}, paths.backtest)
    write_json(metrics, paths.reasons)
    log.info("reason backtest: %s", ", ".join(f"{k} {v:.3f}" for k, v in headline.items())
             or "no labelled lapse to judge")


if __name__ == "__main__":
    run_stage(main)
