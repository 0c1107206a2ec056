"""DVC stage `evaluate`: the model and the baselines on the validation snapshot (same customers,
same labels), metrics.json and plot data for DVC, metrics and images into the train run in MLflow,
and the champion gate."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from models import baselines
from models.metrics import curves, score_metrics, sliced_metrics
from models.plots import curve_figure
from models.reasons import reason_metrics
from models.scoring import ScoreParams, explain
from models.split import time_split
from models.tracking import (
    GateDecision,
    apply_gate,
    champion_version,
    flatten,
    load_churn_model,
    setup,
)
from pipeline.io import read_json, write_json, write_with
from pipeline.params import get, load_params

log = logging.getLogger(__name__)


def score_all(split, model, horizon_days: int, with_btyd: bool) -> dict[str, Any]:
    """Validation scores of the model and each baseline, on the same rows."""
    valid = split.valid
    scores = {"lightgbm": model.predict_proba(valid),
              "recency_only": baselines.recency_baseline(split.fit, valid),
              "rfm_logistic": baselines.rfm_logistic_baseline(split.fit, valid)}
    if with_btyd:
        btyd = baselines.btyd_baseline(valid, horizon_days)
        if btyd is not None:
            scores["btyd_bgnbd"] = btyd
    return scores


def champion_score(name: str, this_version: str, valid: pd.DataFrame, metric: str):
    """The current champion's score on this validation snapshot (None: none, or can't score)."""
    champ = champion_version(name)
    if champ is None or str(champ.version) == this_version:
        return champ, None
    try:
        model = load_churn_model(f"models:/{name}/{champ.version}")
        y = valid["churned"].to_numpy()
        p = model.predict_proba(valid)
        return champ, score_metrics(y, p)[metric]
    except (KeyError, ValueError) as exc:
        log.warning("champion v%s cannot score today's features: %s", champ.version, exc)
        return champ, None


def evaluate_reasons(model, valid: pd.DataFrame, truth_path: Path,
                     sp) -> tuple[dict, pd.DataFrame]:
    """Backtest of the reason buckets: among validation customers who actually lapsed, the
    reason from SHAP vs the cause the synthetic shop planted (only the generator has a truth)."""
    truth = pd.read_parquet(truth_path, columns=["customer_id", "cause"])
    lapsed = valid[valid["churned"] == 1].merge(truth, on="customer_id")
    lapsed = lapsed[lapsed["cause"].notna()]
    if lapsed.empty:
        return {}, pd.DataFrame()
    predicted = explain(model, lapsed, sp)["reason"]
    confusion = pd.DataFrame({"actual": lapsed["cause"].to_numpy(),
                              "predicted": predicted.to_numpy()})
    return reason_metrics(confusion["actual"], confusion["predicted"]), confusion


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--train-report", default="reports/train.json")
    parser.add_argument("--metrics", default="reports/metrics.json")
    parser.add_argument("--plots", default="reports/plots")
    parser.add_argument("--champion", default="reports/champion.json")
    parser.add_argument("--truth", help="the synthetic shop's _truth.parquet, when there is one")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    trained = read_json(args.train_report)
    setup(get(params, "train.experiment", "churn"))
    model = load_churn_model(trained["model_uri"])
    split = time_split(pd.read_parquet(args.features).sort_values(
        ["cutoff", "customer_id"], ignore_index=True))
    valid = split.valid
    y, one_time = valid["churned"].to_numpy(), valid["one_time_buyer"].to_numpy() == 1
    horizon = int(get(params, "churn.horizon_days", 365))
    scores = score_all(split, model, horizon, bool(get(params, "evaluate.btyd", True)))
    results = {name: sliced_metrics(y, p, one_time) for name, p in scores.items()}
    ours = results["lightgbm"]["all"]
    margins = {name: {m: ours[m] - r["all"][m] for m in ("roc_auc", "pr_auc")}
               for name, r in results.items() if name != "lightgbm"}

    metric = get(params, "train.promotion_metric", "roc_auc")
    margin = float(get(params, "train.promotion_margin", 0.002))
    name, version = trained["model_name"], trained["model_version"]
    champ, champ_score = champion_score(name, version, valid, metric)
    if champ is not None and str(champ.version) == version:  # re-evaluating the champion
        decision = GateDecision(True, version, ours[metric], version, ours[metric], metric,
                                margin, "this version is already the champion")
    else:
        decision = apply_gate(name, version, ours[metric], champ_score, champ, metric, margin)

    metrics = {"validation_cutoff": str(valid["cutoff"].iloc[0])[:10],
               "model": results["lightgbm"],
               "baselines": {k: v for k, v in results.items() if k != "lightgbm"},
               "model_minus_baseline": margins,
               "promotion": decision.__dict__}
    plots_dir = Path(args.plots)
    confusion = pd.DataFrame(columns=["actual", "predicted"])
    if args.truth and Path(args.truth).exists():
        metrics["reasons"], confusion = evaluate_reasons(model, valid, Path(args.truth),
                                                         ScoreParams.from_params(params))
        results["reasons"] = {"all": {k: v for k, v in metrics["reasons"].items()
                                      if isinstance(v, float)}}
    write_with(plots_dir / "reason_confusion.csv", lambda tmp: confusion.to_csv(tmp, index=False))
    write_json(metrics, args.metrics)
    plot_data: dict[str, list[pd.DataFrame]] = {}
    for model_name, p in scores.items():
        for kind, frame in curves(y, p, model_name).items():
            plot_data.setdefault(kind, []).append(frame)
    with mlflow.start_run(run_id=trained["run_id"]):
        mlflow.log_metrics({k: v for k, v in flatten(
            {"valid": results}).items() if isinstance(v, float)})
        mlflow.set_tags({"gate.promoted": str(decision.promoted), "gate.reason": decision.reason,
                         "gate.champion_version": str(decision.champion_version),
                         "gate.champion_score": str(decision.champion_score)})
        for kind, frames in plot_data.items():
            data = pd.concat(frames, ignore_index=True)
            write_with(plots_dir / f"{kind}.csv", lambda tmp, d=data: d.to_csv(tmp, index=False))
            fig = curve_figure(kind, data)
            mlflow.log_figure(fig, f"plots/{kind}.png")
            plt.close(fig)
    current = champion_version(name)
    # only the champion's identity: scoring re-runs when the champion changes, not otherwise
    write_json({"model_name": name, "version": str(current.version), "run_id": current.run_id},
               args.champion)
    log.info("validation ROC-AUC %.4f; %s", ours["roc_auc"], decision.reason)


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
