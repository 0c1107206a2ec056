"""DVC stage `evaluate`: the model and the baselines on the validation snapshot (same customers,
same labels), metrics.json and plot data for DVC, metrics and images into the train run in
MLflow, and the champion gate."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict
from pathlib import Path

import mlflow
import pandas as pd

from common.params import load_params
from models.evaluation import (
    MODEL,
    GateDecision,
    compare,
    curve_data,
    gate,
    reason_backtest,
    rolling_validation,
)
from models.evaluation import validation_scores as scores_of
from models.metrics import score_metrics
from models.plots import curve_figure
from models.split import time_split
from pipeline.io import read_json, write_json, write_with
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage
from pipeline.tracking import (
    IDENTITY_TAGS,
    champion_version,
    flatten,
    identity_mismatch,
    load_churn_model,
    set_alias,
    setup,
)

log = logging.getLogger(__name__)
TRUTH_FILE = "_truth.parquet"  # only a generated shop has one


def run_gate(trained: dict, valid: pd.DataFrame, ours: dict, metric: str,
             margin: float) -> GateDecision:
    """Compare with the current champion on this validation snapshot; a champion trained for
    another identity (shop, horizon, features) is not comparable and is replaced."""
    name, version = trained["model_name"], trained["model_version"]
    champ = champion_version(name)
    champ_score, note = None, ""
    if champ is not None and str(champ.version) != version:
        expected = {k: v for k, v in mlflow.get_run(trained["run_id"]).data.tags.items()
                    if k in IDENTITY_TAGS}
        wrong = identity_mismatch(champ, expected)
        if wrong:
            note = f"the champion v{champ.version} is not comparable: {wrong}"
        else:
            model = load_churn_model(f"models:/{name}/{champ.version}")
            champ_score = score_metrics(valid["churned"].to_numpy(),
                                        model.predict_proba(valid))[metric]
    decision = gate(version, ours[metric], None if champ is None else str(champ.version),
                    champ_score, metric, margin, note)
    set_alias(name, version, decision.promoted)
    return decision


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--train-report", default="reports/train.json")
    parser.add_argument("--metrics", default="reports/metrics.json")
    parser.add_argument("--details", default="reports/evaluation.json")
    parser.add_argument("--plots", default="reports/plots")
    parser.add_argument("--champion", default="reports/champion.json")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    run = read_run_info(Path(args.canonical))
    trained = read_json(args.train_report)
    setup(params.train)
    if trained.get("score_source") == "btyd":
        short_history(trained, args)
        return
    model = load_churn_model(trained["model_uri"])
    frame = pd.read_parquet(args.features).sort_values(["cutoff", "customer_id"],
                                                       ignore_index=True)
    split = time_split(frame, params.train.embargo_days)
    scores = scores_of(split, model, run.horizon_days, params.evaluate.btyd)
    details = compare(split.valid, scores)
    if params.evaluate.rolling_folds:
        details["rolling"] = rolling_validation(frame, model.features, params.train,
                                                params.base.seed, run.horizon_days,
                                                params.evaluate.rolling_folds, model)
    decision = run_gate(trained, split.valid, details["model"]["all"],
                        params.train.promotion_metric, params.train.promotion_margin)
    details["promotion"] = asdict(decision)
    truth = Path(run.input) / TRUTH_FILE
    confusion = pd.DataFrame(columns=["actual", "predicted"])
    if truth.exists():
        details["reasons"], confusion = reason_backtest(model, split.valid,
                                                        pd.read_parquet(truth), params.reasons)
    plots = Path(args.plots)
    write_with(plots / "reason_confusion.csv", lambda tmp: confusion.to_csv(tmp, index=False))
    curves = curve_data(split.valid, scores)
    for kind, data in curves.items():
        write_with(plots / f"{kind}.csv", lambda tmp, d=data: d.to_csv(tmp, index=False))
    write_json(details, args.details)
    write_json(headline_metrics(details), args.metrics)
    with mlflow.start_run(run_id=trained["run_id"]):
        mlflow.log_metrics({k: v for k, v in flatten({"valid": {
            "lightgbm": details["model"], **details["baselines"]}}).items()
            if isinstance(v, float)})
        mlflow.set_tags({"gate.promoted": str(decision.promoted), "gate.reason": decision.reason,
                         "gate.champion_version": str(decision.champion_version),
                         "gate.champion_score": str(decision.champion_score)})
        for kind, data in curves.items():
            mlflow.log_figure(curve_figure(kind, data), f"plots/{kind}.png")
    current = champion_version(trained["model_name"])
    # only the champion's identity: scoring re-runs when the champion changes, not otherwise
    write_json({"model_name": trained["model_name"], "version": str(current.version),
                "run_id": current.run_id}, args.champion)
    log.info("validation ROC-AUC %.4f; %s", details["model"]["all"]["roc_auc"], decision.reason)


def short_history(trained: dict, args) -> None:
    """No labelled snapshot to judge on: the BTYD model takes the alias (nothing comparable
    exists for this identity), and the reports say why there are no validation metrics."""
    decision = gate(trained["model_version"], float("nan"), None, None, "none", 0.0,
                    f"short history: {trained['note']}")
    set_alias(trained["model_name"], trained["model_version"], True)
    details = {"score_source": "btyd", "note": trained["note"], "promotion": asdict(decision)}
    write_json(details, args.details)
    write_json({}, args.metrics)
    for kind in ("roc", "precision_recall", "gains", "calibration", "reason_confusion"):
        write_with(Path(args.plots) / f"{kind}.csv", lambda tmp: tmp.write_text("\n"))
    write_json({"model_name": trained["model_name"], "version": trained["model_version"],
                "run_id": trained["run_id"]}, args.champion)
    log.info("short history: no labelled snapshot to validate on; BTYD scores")


def headline_metrics(details: dict) -> dict:
    """The few figures people diff run to run (`dvc metrics diff`), flat and short so the
    table fits a terminal; everything else is in reports/evaluation.json."""
    model = details["model"]["all"]
    best = max(details["baselines"].values(), key=lambda b: b["all"]["roc_auc"])["all"]
    out = {**{k: round(model[k], 4) for k in ("roc_auc", "pr_auc", "brier", "ece")},
           "baseline_roc_auc": round(best["roc_auc"], 4),
           "baseline_pr_auc": round(best["pr_auc"], 4)}
    rolling = details.get("rolling", {}).get("summary", {}).get(MODEL)
    if rolling:
        out["rolling_auc"] = round(rolling["mean"], 4)    # its spread: evaluation.json
    if details.get("reasons"):
        out["reason_accuracy"] = round(details["reasons"]["accuracy"], 4)
        out["reason_macro_f1"] = round(details["reasons"]["macro_f1"], 4)
    return out


if __name__ == "__main__":
    run_stage(main)
