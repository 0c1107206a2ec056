"""Training: the time split, calibration, MLflow round trip, the champion gate, baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss

from common.hashing import stable_bucket
from common.params import TrainParams
from models.churn.evaluation import gate
from models.churn.metrics import expected_calibration_error, score_metrics, top_decile_lift
from models.churn.split import time_split
from models.churn.train import train_model

FAST = TrainParams(n_estimators=80, learning_rate=0.1, early_stopping_rounds=10)


def test_validation_rows_never_reach_fitting(small_features):
    frame, _ = small_features
    split = time_split(frame)
    newest = frame.loc[frame.split == "train", "cutoff"].max()
    assert (split.valid["cutoff"] == newest).all()
    for part in (split.fit, split.stop, split.calibrate):
        assert (part["cutoff"] < newest).all()
    assert split.fit["cutoff"].max() < split.stop["cutoff"].min()
    assert set(split.stop.customer_id).isdisjoint(split.calibrate.customer_id)
    assert not (frame.split == "score").loc[split.fit.index].any()


def test_stable_bucket_is_a_fixed_function_of_the_id():
    ids = pd.Series(["00001", "A7", "00001"])
    buckets = stable_bucket(ids)
    assert buckets[0] == buckets[2] and list(buckets) == list(stable_bucket(ids))
    import hashlib

    expected = int(hashlib.md5(b"00001").hexdigest()[:8], 16) % 100  # the same on every engine
    assert stable_bucket(pd.Series(["00001"]))[0] == expected


def test_calibration_improves_brier_on_held_out_data(small_features):
    frame, names = small_features
    split = time_split(frame)
    # raw scores are no longer probabilities
    skewed = FAST.model_copy(update={"class_weight": "balanced"})
    model, info = train_model(split, names, skewed, 42)
    y = split.valid["churned"].to_numpy()
    raw = brier_score_loss(y, model.raw_probability(split.valid))
    calibrated = brier_score_loss(y, model.predict_proba(split.valid))
    assert info["calibration"] in {"isotonic", "sigmoid"}
    assert calibrated < raw


def test_model_beats_recency_on_the_small_shop(small_features):
    from models.churn.baselines import recency_baseline

    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    y = split.valid["churned"].to_numpy()
    ours = score_metrics(y, model.predict_proba(split.valid))
    base = score_metrics(y, recency_baseline(split.fit, split.valid))
    assert ours["roc_auc"] > base["roc_auc"]


def test_gate_decision_rule():
    assert gate("2", 0.9, None, None, "roc_auc", 0.01).promoted
    assert not gate("2", 0.905, "1", 0.9, "roc_auc", 0.01).promoted
    assert gate("2", 0.91, "1", 0.9, "roc_auc", 0.01).promoted
    assert gate("1", 0.5, "1", 0.9, "roc_auc", 0.01).promoted  # re-evaluating the champion
    # lower is better for the Brier score
    assert gate("2", 0.10, "1", 0.12, "brier", 0.01).promoted
    assert not gate("2", 0.12, "1", 0.10, "brier", 0.01).promoted


def test_metrics_on_hand_computed_scores():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3, 0.1, 0.2, 0.1])
    assert top_decile_lift(y, p) == pytest.approx(1 / 0.3)
    m = score_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(20 / 21)
    # bins: 0.1 x3 (0 churn), 0.2 x2, 0.3, 0.6(1), 0.7(0), 0.8(1), 0.9(1)
    ece = (3 * 0.1 + 2 * 0.2 + 0.3 + 0.4 + 0.7 + 0.2 + 0.1) / 10
    assert expected_calibration_error(y, p) == pytest.approx(ece)


