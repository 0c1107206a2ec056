"""Scoring in batches gives exactly the rows of scoring the whole snapshot at once: the churn
probability, SHAP drivers and the cause model's reasons need no other customer's row."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from common.params import ReasonParams, ScoreParams, TrainParams
from features.cutoffs import training_cutoffs
from features.engine import build
from models.causes.reasons import fit_beside_churn_model
from models.churn.scoring import ROW_COLUMNS, score_batches, score_rows
from models.churn.split import time_split
from models.churn.train import train_model


@pytest.fixture(scope="module")
def scored_model(small_shop):
    """The churn model and the cause model beside it, on the small shop's features and
    evidence, as the train stage fits them; and the scoring snapshot."""
    tables, _ = small_shop
    as_of = tables["orders"]["order_ts"].max().date()
    cutoffs = training_cutoffs(tables["orders"]["order_ts"].min().date(), as_of, 365)
    expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, [*cutoffs, as_of],
                        as_of, evidence=True)
    frame = ibis.duckdb.connect().execute(expr).sort_values(["cutoff", "customer_id"],
                                                            ignore_index=True)
    split = time_split(frame[frame.split == "train"].reset_index(drop=True))
    model, _ = train_model(split, names, TrainParams(), 42)
    rp = ReasonParams()
    model.cause_model = fit_beside_churn_model(model, split, list(tables), rp, 42)
    snapshot = frame[frame.split == "score"].reset_index(drop=True)
    return model, snapshot


@pytest.mark.parametrize("method", ["cause_model", "shap"])
def test_batches_score_exactly_as_the_whole_snapshot(scored_model, method):
    model, snapshot = scored_model
    sp, rp = ScoreParams(), ReasonParams(method=method)
    whole = score_rows(snapshot, model, sp, rp)
    assert whole["at_risk"].sum() > 20 and (whole["reason"] != "").sum() > 20
    size = 150
    batches = [snapshot.iloc[i:i + size].reset_index(drop=True)
               for i in range(0, len(snapshot), size)]
    assert len(batches) > 3
    pd.testing.assert_frame_equal(score_batches(batches, model, sp, rp), whole)


def test_no_batch_is_an_empty_frame_of_the_scoring_columns(scored_model):
    model, _ = scored_model
    empty = score_batches([], model, ScoreParams(), ReasonParams())
    assert list(empty.columns) == list(ROW_COLUMNS) and empty.empty
