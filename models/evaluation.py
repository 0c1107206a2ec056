"""Judging a model: the model and the baselines on the same validation customers and labels,
the reason backtest against a known truth, and the champion gate's decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from common.errors import ChurnError
from common.params import ReasonParams, TrainParams
from models import baselines
from models.churn_model import ChurnModel
from models.metrics import curves, sliced_metrics
from models.reasons import reason_metrics
from models.scoring import causes, explain, uses_cause_model
from models.split import Split, rolling_cutoffs, time_split

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
        btyd = baselines.btyd_baseline(valid, horizon_days)
        if btyd is not None:
            scores["btyd_bgnbd"] = btyd
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
    from models.train import train_model

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


def reason_backtest(model: ChurnModel, valid: pd.DataFrame, truth: pd.DataFrame,
                    rp: ReasonParams) -> tuple[dict, pd.DataFrame]:
    """Among validation customers who actually lapsed, the reason given vs the true cause
    (only a generated shop has a truth). Returns (metrics, confusion rows)."""
    lapsed = valid[valid["churned"] == 1].merge(truth[["customer_id", "cause"]],
                                                on="customer_id")
    lapsed = lapsed[lapsed["cause"].notna()]
    if lapsed.empty:
        return {}, pd.DataFrame(columns=["actual", "predicted"])
    why = explain(model, lapsed, rp)
    if uses_cause_model(model, rp):
        why = causes(model, lapsed, why["reason"])
    confusion = pd.DataFrame({"actual": lapsed["cause"].to_numpy(),
                              "predicted": why["reason"].to_numpy(),
                              "confidence": why["reason_confidence"].to_numpy()})
    metrics = reason_metrics(confusion["actual"], confusion["predicted"])
    metrics["reliability"] = reliability(confusion).to_dict("records")
    return metrics, confusion


def reliability(confusion: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Is reason_confidence calibrated? Per confidence bin: customers, mean confidence, and the
    share whose reason was right (about equal when it is)."""
    right = (confusion["actual"] == confusion["predicted"]).astype(float)
    conf = confusion["confidence"].astype(float).clip(0, 1)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    table = pd.DataFrame({"bin": b, "confidence": conf, "right": right}).groupby("bin").agg(
        n=("right", "size"), mean_confidence=("confidence", "mean"),
        share_right=("right", "mean")).reset_index()
    return table.round(4)


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
