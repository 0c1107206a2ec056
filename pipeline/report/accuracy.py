"""Section 5, are the scores right: what past batches' scores said against what happened once
their horizon passed (the outcomes stage's realised accuracy), the model against plain rules,
and the data scientist's details: curves, calibration, drift (expected right after a retrain)
and the champion gate."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from features.registry import REGISTRY
from pipeline.report import words

REALISED = ["as_of", "n", "churn_rate", "mean_predicted", "roc_auc", "brier"]
SEGMENTS = tuple(words.CUSTOMER_GROUPS)
METRICS = {"roc_auc": "Ranks leavers first (ROC-AUC, 1 = perfect, 0.5 = chance)",
           "pr_auc": "Precision over all cut-offs (PR-AUC)",
           "brier": "Squared error of the probabilities (Brier, lower is better)",
           "ece": "Calibration error (lower is better)"}
FEATURE_WORDS = {f.name: f.description for f in REGISTRY}


def realised(campaigns: dict) -> pd.DataFrame:
    """Past batches whose horizon has passed: customers, predicted and actual churn, ROC-AUC,
    Brier; oldest first."""
    rows = (campaigns or {}).get("past_scores") or []
    frame = pd.DataFrame(rows, columns=REALISED)
    if frame.empty:
        return frame
    frame["as_of"] = frame["as_of"].astype(str)
    return frame.sort_values("as_of", ignore_index=True)


def first_close(score_dates: list[str], horizon_days: int, closed: pd.DataFrame
                ) -> tuple[str, str] | None:
    """(the oldest batch still open, the day its horizon passes), or None when none is open."""
    done = set(closed["as_of"]) if len(closed) else set()
    open_ = sorted(d for d in score_dates if d not in done)
    if not open_:
        return None
    first = open_[0]
    return first, (date.fromisoformat(first) + timedelta(days=horizon_days)).isoformat()


def model_vs_rules(evaluation: dict) -> dict | None:
    """The model's validation ROC-AUC against the best plain rule's (and the rolling mean and
    spread where evaluated); None for a short history scored without a trained model."""
    model = (evaluation.get("model") or {}).get("all")
    baselines = {k: v["all"]["roc_auc"] for k, v in (evaluation.get("baselines") or {}).items()
                 if v.get("all", {}).get("roc_auc") is not None}
    if not model or not baselines:
        return None
    best = max(baselines, key=baselines.get)
    summary = (evaluation.get("rolling") or {}).get("summary") or {}
    rolling = summary.get("lightgbm")
    return {"model": float(model["roc_auc"]), "baseline": best,
            "baseline_auc": float(baselines[best]),
            "rolling_mean": float(rolling["mean"]) if rolling else None,
            "rolling_std": float(rolling["std"]) if rolling else None,
            "folds": len((evaluation.get("rolling") or {}).get("folds") or []),
            "cutoff": evaluation.get("validation_cutoff"),
            "n": int(model.get("n", 0)), "churn_rate": float(model.get("churn_rate", np.nan))}


def metrics_table(evaluation: dict) -> pd.DataFrame:
    """Model and baselines x customer group x metric (validation snapshot)."""
    rows = []
    sources = {"lightgbm": evaluation.get("model") or {}, **(evaluation.get("baselines") or {})}
    for name, segments in sources.items():
        for seg, values in segments.items():
            if seg not in SEGMENTS:
                continue
            rows.append({"model": name, "segment": seg,
                         **{m: values.get(m, np.nan) for m in METRICS}, "n": values.get("n")})
    return pd.DataFrame(rows)


def retrained_now(evaluation: dict, score: dict) -> bool:
    """Was the model that scored this batch trained and promoted in this run?"""
    gate = evaluation.get("promotion") or {}
    return bool(gate.get("promoted")) and \
        str(gate.get("challenger_version")) == str((score.get("model") or {}).get("version"))


def drift(drift_report: dict | None, top: int = 10) -> pd.DataFrame:
    """The features that moved most since the champion's training data, in words."""
    rows = (drift_report or {}).get("features") or []
    frame = pd.DataFrame(rows, columns=["feature", "psi", "level"]).head(top)
    frame["meaning"] = [FEATURE_WORDS.get(f, words.plain(f)).rstrip(".") for f in
                        frame["feature"]]
    return frame


def curve(frame: pd.DataFrame, x: str, y: str, points: int = 120) -> dict[str, list]:
    """Per model, at most `points` (x, y) pairs of a curve (evenly thinned, ends kept)."""
    out = {}
    if frame is None or frame.empty:
        return out
    for name, part in frame.groupby("model", sort=False):
        keep = np.unique(np.linspace(0, len(part) - 1, min(points, len(part))).astype(int))
        part = part.iloc[keep]
        out[str(name)] = list(zip(part[x].astype(float), part[y].astype(float), strict=True))
    return out


def headline(closed: pd.DataFrame, rules: dict | None, horizon_days: int,
             pending: tuple[str, str] | None) -> str:
    """Were the scores right, in one sentence."""
    if len(closed):
        last = closed.iloc[-1]
        return (f"The scores of {words.day(last['as_of'])} said "
                f"{words.pct(last['mean_predicted'])} of {words.count(last['n'])} customers "
                f"would not buy again within {words.count(horizon_days)} days; "
                f"{words.pct(last['churn_rate'])} did not. They put a leaver above a stayer "
                f"{words.count(last['roc_auc'] * 100)} times in 100.")
    wait = f": the first, of {words.day(pending[0])}, can be checked from " \
           f"{words.day(pending[1])}" if pending else ""
    if rules:
        return (f"No batch has reached its {words.count(horizon_days)}-day horizon yet{wait}. "
                "Until then, the model's test on past customers:")
    return f"No batch has reached its {words.count(horizon_days)}-day horizon yet{wait}, " \
           "and this shop's history is too short to test a model on."
