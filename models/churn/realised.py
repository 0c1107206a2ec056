"""Did the churn score come true? Past score batches against what their customers did once
each batch's horizon has passed."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from sklearn.metrics import brier_score_loss, roc_auc_score


def _as_table(frame: ir.Table | pd.DataFrame) -> ir.Table:
    return frame if isinstance(frame, ir.Table) else ibis.memtable(frame)


def realized_accuracy(past_scores: pd.DataFrame, orders: ir.Table | pd.DataFrame,
                      horizon_days: int, as_of: date,
                      bins: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How past score batches fared against what happened, once their horizon has passed.

    `past_scores`: customer_id, as_of (the batch date), churn_probability. A customer churned
    when no completed order falls in (batch as_of, batch as_of + horizon] (the label of the
    training data). Batches whose horizon ends after `as_of` are left out: their outcome is
    not known yet. Returns (per batch: n, churn_rate, mean_predicted, roc_auc, brier;
    per batch and equal-width score bin: n, mean_predicted, observed_rate).
    """
    scores = past_scores[["customer_id", "as_of", "churn_probability"]].copy()
    scores["score_date"] = pd.to_datetime(scores["as_of"]).dt.date
    scores["label_end"] = scores["score_date"] + timedelta(days=horizon_days)
    scores = scores[scores["label_end"] <= as_of].drop(columns="as_of")
    summary_cols = ["as_of", "n", "churn_rate", "mean_predicted", "roc_auc", "brier"]
    if scores.empty:
        return (pd.DataFrame(columns=summary_cols),
                pd.DataFrame(columns=["as_of", "bin", "n", "mean_predicted", "observed_rate"]))
    scores["customer_id"] = scores["customer_id"].astype(str)
    s = ibis.memtable(scores)
    s = s.mutate(score_date=s.score_date.cast("date"), label_end=s.label_end.cast("date"))
    o = _as_table(orders)
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status == "completed"))
    o = o.mutate(_day=o.order_ts.cast("date")).filter(_._day <= as_of)
    o = o.select(_cid=o.customer_id.cast("string"), _day=o._day)
    joined = s.left_join(o, [s.customer_id == o._cid, o._day > s.score_date,
                             o._day <= s.label_end])
    labelled = joined.group_by(["customer_id", "score_date", "churn_probability"]).aggregate(
        bought=_._cid.count()).execute()
    labelled["churned"] = (labelled["bought"] == 0).astype(int)
    labelled["as_of"] = pd.to_datetime(labelled["score_date"]).dt.date
    summary, calibration = [], []
    for day, g in labelled.groupby("as_of", sort=True):
        y, p = g["churned"].to_numpy(), g["churn_probability"].to_numpy(float)
        auc = roc_auc_score(y, p) if len(np.unique(y)) == 2 else np.nan
        summary.append({"as_of": day, "n": len(g), "churn_rate": y.mean(),
                        "mean_predicted": p.mean(), "roc_auc": auc,
                        "brier": brier_score_loss(y, np.clip(p, 0, 1))})
        b = np.minimum((np.clip(p, 0, 1) * bins).astype(int), bins - 1)
        cal = pd.DataFrame({"bin": b, "p": p, "y": y}).groupby("bin").agg(
            n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
        calibration.append(cal.reset_index().assign(as_of=day))
    return (pd.DataFrame(summary, columns=summary_cols),
            pd.concat(calibration, ignore_index=True)[["as_of", "bin", "n", "mean_predicted",
                                                       "observed_rate"]])

