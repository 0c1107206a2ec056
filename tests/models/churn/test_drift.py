"""Drift: PSI on hand-computed shares, and a shop that differs is flagged, the same shop not."""

from __future__ import annotations

import ibis
import numpy as np
import pytest

from common.params import DriftParams, TrainParams
from features.cutoffs import training_cutoffs
from features.engine import build
from models.churn.drift import bins_of, drift_report, psi, reason_mix_shift, shares_of
from models.churn.split import time_split
from models.churn.train import train_model
from synthetic.retail import ShopConfig, generate

FAST = TrainParams(n_estimators=60, learning_rate=0.1, early_stopping_rounds=10)


def test_psi_on_hand_computed_shares():
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(expected)
    ref = bins_of(np.array([1.0, 2.0, 3.0, 4.0, np.nan]), bins=2)
    assert ref["edges"] == [2.5]
    assert ref["shares"] == [0.4, 0.4, 0.2]  # at or below 2.5, above, missing


def test_shares_put_missing_values_in_their_own_bin():
    shares = shares_of(np.array([1.0, 9.0, np.nan, np.nan]), [2.5])
    assert shares.tolist() == [0.25, 0.25, 0.5]


def _snapshot(tables):
    as_of = tables["orders"]["order_ts"].max().date()
    first = tables["orders"]["order_ts"].min().date()
    cuts = training_cutoffs(first, as_of, 365)
    expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, [*cuts, as_of], as_of)
    return ibis.duckdb.connect().execute(expr), names


def test_drift_flags_a_shop_that_differs_and_not_the_same_shop(small_features):
    frame, names = small_features
    model, _ = train_model(time_split(frame), names, FAST, 42)
    same = frame[frame.split == "score"]
    other_tables, _ = generate(ShopConfig(customers=1500, seed=8, loyal_share=0.6))
    other, _ = _snapshot(other_tables)
    other = other[other.split == "score"]
    p = DriftParams()
    ours = drift_report(model.drift_reference, same, model.predict_proba(same), None, None, p)
    theirs = drift_report(model.drift_reference, other, model.predict_proba(other),
                          {"forgot": 0.3, "price": 0.7}, {"forgot": 0.6, "price": 0.4}, p)
    top = {r["feature"]: r["psi"] for r in theirs["features"]}
    mine = {r["feature"]: r["psi"] for r in ours["features"]}
    assert theirs["status"] == "alert"
    assert np.mean(list(top.values())) > 2 * np.mean(list(mine.values()))
    assert any("reason mix" in a for a in theirs["alerts"])
    assert theirs["churn_rate"]["shift"] < ours["churn_rate"]["shift"]  # more loyal customers


def test_reason_mix_shift():
    shift = reason_mix_shift({"forgot": 0.5, "price": 0.5}, {"forgot": 0.7, "choice": 0.3})
    assert shift["change"] == {"choice": -0.3, "forgot": -0.2, "price": 0.5}
    assert shift["max_abs_change"] == 0.5
