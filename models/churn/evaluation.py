"""Judging a model: the model and the baselines on the same validation customers and labels,
refit on the newest cutoffs (rolling validation), and the champion gate's decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from common.errors import ChurnError
from common.params import TrainParams
from models.churn import baselines
from models.churn.metrics import curves, sliced_metrics
from models.churn.model import ChurnModel
from models.churn.split import Split, rolling_cutoffs, time_split
from models.churn.train import train_model

MODEL = "lightgbm"
#: metrics where lower is better; the gate compares in the right direction
LOWER_IS_BETTER = {"brier", "ece"}


def validation_scores(split: Split, model: ChurnModel, horizon_days: int,
                      with_btyd: bool) -> dict[str, np.ndarray]:
    """Validation scores of the model and each baseline, on the same rows."""
    valid = split.valid
    scores = {MODEL: model.predict_proba(valid),
              "recency_only": baselines.recency_baseline(split.fit, valid),
              "rfm_logistic": baselines.rfm_logistic_baseline(split.fit, valid)}
    if with_btyd:
        scores["btyd_bgnbd"] = baselines.btyd_baseline(valid, horizon_days)
    return scores


def rolling_validation(frame: pd.DataFrame, names: list[str], p: TrainParams, seed: int,
                       horizon_days: int, folds: int,
                       newest_model: ChurnModel | None = None) -> dict[str, Any]:
    """The model refit and judged on each of the `folds` newest labelled cutoffs (each fit only
    on what came before it, with the same embargo), beside the recency and RFM baselines:
    ROC-AUC per cutoff, and its mean and spread. One snapshot's ROC-AUC moves with the season
    and the draw; several say how much of a margin is real. `newest_model`, the train stage's
    own model, stands for the newest cutoff instead of fitting it again. A cutoff that cannot
    be trained (too few labels) is skipped and named."""
    rows, skipped = [], []
    cutoffs = rolling_cutoffs(frame, folds, p.embargo_days)
    for cutoff in cutoffs:
        try:
            split = time_split(frame, p.embargo_days, validate_on=cutoff)
            model = newest_model if newest_model is not None and cutoff == cutoffs[-1] \
                else train_model(split, names, p, seed)[0]
        except ChurnError as exc:
            skipped.append({"cutoff": str(cutoff)[:10], "why": str(exc)})
            continue
        scores = validation_scores(split, model, horizon_days, with_btyd=False)
        y = split.valid["churned"].to_numpy()
        rows.append({"cutoff": str(cutoff)[:10], "rows": int(len(y)),
                     **{name: float(roc_auc_score(y, s)) for name, s in scores.items()}})
    table = pd.DataFrame(rows)
    summary = {name: {"mean": float(table[name].mean()), "std": float(table[name].std(ddof=0))}
               for name in table.columns if name not in ("cutoff", "rows")} if rows else {}
    return {"metric": "roc_auc", "folds": rows, "summary": summary, "skipped": skipped}


def compare(valid: pd.DataFrame, scores: dict[str, np.ndarray]) -> dict[str, Any]:
    """Metrics per model (all, one-time, repeat buyers) and the model's margin over each
    baseline."""
    y, one_time = valid["churned"].to_numpy(), valid["one_time_buyer"].to_numpy() == 1
    results = {name: sliced_metrics(y, p, one_time) for name, p in scores.items()}
    ours = results[MODEL]["all"]
    margins = {name: {m: ours[m] - r["all"][m] for m in ("roc_auc", "pr_auc")}
               for name, r in results.items() if name != MODEL}
    return {"validation_cutoff": str(valid["cutoff"].iloc[0])[:10],
            "model": results[MODEL],
            "baselines": {k: v for k, v in results.items() if k != MODEL},
            "model_minus_baseline": margins}


def curve_data(valid: pd.DataFrame, scores: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Plot data per kind (roc, precision_recall, gains, calibration), all models stacked."""
    y = valid["churned"].to_numpy()
    out: dict[str, list[pd.DataFrame]] = {}
    for name, p in scores.items():
        for kind, frame in curves(y, p, name).items():
            out.setdefault(kind, []).append(frame)
    return {kind: pd.concat(frames, ignore_index=True) for kind, frames in out.items()}


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    challenger_version: str
    challenger_score: float
    champion_version: str | None
    champion_score: float | None
    metric: str
    margin: float
    reason: str


def gate(challenger_version: str, challenger_score: float, champion_version: str | None,
         champion_score: float | None, metric: str, margin: float,
         champion_note: str = "") -> GateDecision:
    """Take the `champion` alias only with a margin over the champion on the same validation
    snapshot. Re-evaluating the champion keeps it; no comparable champion means promotion."""
    def decision(promoted: bool, reason: str) -> GateDecision:
        return GateDecision(promoted, challenger_version, challenger_score, champion_version,
                            champion_score, metric, margin, reason)

    if champion_version == challenger_version:
        return decision(True, "this version is already the champion")
    if champion_score is None:
        return decision(True, champion_note or "no champion yet")
    gain = challenger_score - champion_score
    if metric in LOWER_IS_BETTER:
        gain = -gain
    if gain >= margin:
        return decision(True, f"beats the champion by {gain:+.4f} (margin {margin})")
    return decision(False, f"does not beat the champion by the margin ({gain:+.4f} < {margin})")


def headline_metrics(details: dict) -> dict:
    """The few figures people diff run to run (`dvc metrics diff`, `dvc exp show`), flat and
    short so the table fits a terminal beside the policy's and the campaigns'; everything else
    is in reports/evaluation.json."""
    model = details["model"]["all"]
    best = max(details["baselines"].values(), key=lambda b: b["all"]["roc_auc"])["all"]
    out = {"roc_auc": round(model["roc_auc"], 4), "brier": round(model["brier"], 4),
           "base_auc": round(best["roc_auc"], 4)}
    rolling = details.get("rolling", {}).get("summary", {}).get(MODEL)
    if rolling:
        out["roll_auc"] = round(rolling["mean"], 4)    # its spread: evaluation.json
    return out
