"""Time split with an embargo, and validation over several rolling cutoffs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import TrainParams
from models.churn.evaluation import rolling_validation
from models.churn.split import rolling_cutoffs, time_split

CUTOFFS = pd.date_range("2024-01-31", periods=6, freq="ME")


def _frame(per_cutoff: int = 600, seed: int = 0) -> pd.DataFrame:
    """Labelled monthly cutoffs where churn follows recency, plus a scoring snapshot."""
    rng = np.random.default_rng(seed)
    parts = []
    for cutoff in [*CUTOFFS, pd.Timestamp("2024-12-31")]:
        recency = rng.integers(1, 400, per_cutoff).astype(float)
        churned = (rng.random(per_cutoff) < 1 / (1 + np.exp(-(recency - 200) / 60))).astype(int)
        parts.append(pd.DataFrame({
            "customer_id": [f"c{i}" for i in range(per_cutoff)], "cutoff": cutoff,
            "split": "train" if cutoff in CUTOFFS else "score",
            "recency_days": recency, "frequency": rng.integers(1, 6, per_cutoff).astype(float),
            "monetary_total": rng.gamma(2, 50, per_cutoff),
            "churned": churned if cutoff in CUTOFFS else np.nan}))
    return pd.concat(parts, ignore_index=True)


def test_embargo_keeps_the_fitted_cutoffs_away_from_validation():
    frame = _frame()
    plain = time_split(frame)
    assert plain.valid["cutoff"].unique().tolist() == [CUTOFFS[-1]]
    assert plain.stop["cutoff"].unique().tolist() == [CUTOFFS[-2]]
    held = time_split(frame, embargo_days=61)          # Jun 30 - 61 days = Apr 30
    assert held.stop["cutoff"].unique().tolist() == [CUTOFFS[-3]]
    assert held.fit["cutoff"].max() == CUTOFFS[-4]
    assert CUTOFFS[-2] not in set(pd.concat([held.fit, held.stop, held.calibrate])["cutoff"])
    with pytest.raises(ChurnError, match="embargo of 150 days"):
        time_split(frame, embargo_days=150)           # only Jan left before: too few


def test_rolling_cutoffs_leave_two_earlier_cutoffs_each():
    frame = _frame(50)
    assert rolling_cutoffs(frame, 3) == list(CUTOFFS[-3:])
    assert rolling_cutoffs(frame, 10) == list(CUTOFFS[2:])        # Mar is the first usable
    assert rolling_cutoffs(frame, 3, embargo_days=61) == list(CUTOFFS[-3:])
    assert rolling_cutoffs(frame, 10, embargo_days=61) == list(CUTOFFS[3:])
    assert rolling_cutoffs(frame, 0) == []


@pytest.mark.parametrize("as_dates", [False, True])    # the features parquet holds dates
def test_rolling_validation_refits_per_cutoff_and_reports_the_spread(as_dates):
    frame = _frame()
    if as_dates:
        frame["cutoff"] = frame["cutoff"].dt.date
    p = TrainParams(n_estimators=30)
    out = rolling_validation(frame, ["recency_days", "frequency"], p, 42, 365, folds=3)
    assert [f["cutoff"] for f in out["folds"]] == [str(c.date()) for c in CUTOFFS[-3:]]
    summary = out["summary"]["lightgbm"]
    folds = [f["lightgbm"] for f in out["folds"]]
    assert 0.7 < summary["mean"] <= 1 and summary["mean"] == pytest.approx(np.mean(folds))
    assert summary["std"] == pytest.approx(np.std(folds)) and len(set(folds)) == 3
    assert set(out["summary"]) == {"lightgbm", "recency_only", "rfm_logistic"}
