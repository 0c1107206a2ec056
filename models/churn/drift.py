"""Has the shop changed since the champion was trained? Population stability index (PSI) per
feature and of the scores, churn-rate shift, and the reason mix against the last run."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from common.params import DriftParams

EPS = 1e-4


def bins_of(values: np.ndarray, bins: int = 10) -> dict:
    """Quantile bin edges of a reference sample and the share in each bin (missing: own bin)."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])) if len(
        present) else np.array([])
    return {"edges": edges.tolist(), "shares": shares_of(values, edges).tolist()}


def shares_of(values: np.ndarray, edges) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    idx = np.where(np.isnan(values), len(edges) + 1, np.searchsorted(edges, values,
                                                                      side="right"))
    counts = np.bincount(idx, minlength=len(edges) + 2)
    return counts / max(1, len(values))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """sum((a - e) * ln(a / e)) over bins; < 0.1 stable, 0.1-0.25 moderate, > 0.25 major."""
    e = np.clip(np.asarray(expected, float), EPS, None)
    a = np.clip(np.asarray(actual, float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_profile(frame: pd.DataFrame, features: list[str], scores: np.ndarray) -> dict:
    """What drift is measured against; stored with the model at training time."""
    return {"features": {f: bins_of(frame[f].to_numpy()) for f in features},
            "scores": bins_of(scores),
            "churn_rate": float(frame["churned"].mean()) if "churned" in frame else None}


def feature_drift(reference: Mapping, frame: pd.DataFrame, p: DriftParams) -> pd.DataFrame:
    rows = []
    for feature, ref in reference["features"].items():
        if feature not in frame:
            continue
        value = psi(ref["shares"], shares_of(frame[feature].to_numpy(), np.array(ref["edges"])))
        rows.append({"feature": feature, "psi": round(value, 4), "level": level(value, p)})
    return pd.DataFrame(rows).sort_values("psi", ascending=False).reset_index(drop=True)


def level(value: float, p: DriftParams) -> str:
    return "alert" if value >= p.psi_alert else "warn" if value >= p.psi_warn else "ok"


def reason_mix_shift(current: Mapping[str, float], previous: Mapping[str, float]) -> dict:
    keys = sorted(set(current) | set(previous))
    change = {k: round(current.get(k, 0.0) - previous.get(k, 0.0), 4) for k in keys}
    return {"current": dict(current), "previous": dict(previous), "change": change,
            "max_abs_change": max((abs(v) for v in change.values()), default=0.0)}


def drift_report(reference: Mapping, snapshot: pd.DataFrame, scores: np.ndarray,
                 reasons_now: Mapping[str, float] | None, reasons_before: Mapping[str, float]
                 | None, p: DriftParams) -> dict:
    features = feature_drift(reference, snapshot, p)
    score_psi = psi(reference["scores"]["shares"],
                    shares_of(scores, np.array(reference["scores"]["edges"])))
    alerts = [f"feature {r.feature}: PSI {r.psi:.2f}" for r in features.itertuples()
              if r.level == "alert"]
    if level(score_psi, p) == "alert":
        alerts.append(f"scores: PSI {score_psi:.2f}")
    rate = {"training": reference.get("churn_rate"), "predicted_now": float(np.mean(scores))}
    if rate["training"] is not None:
        rate["shift"] = rate["predicted_now"] - rate["training"]
        if abs(rate["shift"]) >= p.rate_shift_alert:
            alerts.append(f"predicted churn rate moved {rate['shift']:+.1%} from training")
    mix = None
    if reasons_now and reasons_before:
        mix = reason_mix_shift(reasons_now, reasons_before)
        if mix["max_abs_change"] >= p.reason_shift_alert:
            alerts.append(f"reason mix moved up to {mix['max_abs_change']:.0%} since last run")
    warn = (features["level"] != "ok").any() or level(score_psi, p) != "ok"
    return {"status": "alert" if alerts else "warn" if warn else "ok", "alerts": alerts,
            "score_psi": round(score_psi, 4), "churn_rate": rate, "reason_mix": mix,
            "features": features.to_dict("records"), "thresholds": p.__dict__}
