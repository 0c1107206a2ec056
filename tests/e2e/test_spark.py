"""Parity: the same Ibis features, labels and the same scoring on Spark (local[2]) as on DuckDB."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from common.hashing import md5_threshold
from common.params import (
    FeatureParams,
    ReasonParams,
    RecommendParams,
    ScoreParams,
    SparkParams,
    TrainParams,
)
from features.cutoffs import training_cutoffs
from features.engine import build
from models.actions.rules import plan_actions
from models.churn.scoring import score_rows
from models.churn.split import time_split
from models.churn.train import train_model
from synthetic.retail import ShopConfig, generate

pytest.importorskip("pyspark")  # part of the dev install: `make test` has it
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    from pipeline.engines import spark_session

    session = spark_session(SparkParams(master="local[2]",
                                        conf={"spark.sql.shuffle.partitions": 4}))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def shop():
    tables, _ = generate(ShopConfig(customers=600, seed=11))
    # customer attributes too (their shares are window functions: the same on both engines)
    first = tables["orders"].groupby("customer_id")["order_ts"].min()
    rng = np.random.default_rng(11)
    tables["customers"] = pd.DataFrame({
        "customer_id": first.index, "signup_ts": first.to_numpy() - pd.to_timedelta(
            rng.integers(-30, 300, len(first)), unit="D"),
        "region": rng.choice(["north", "south", "east"], len(first)),
        "birth_year": rng.integers(1950, 2005, len(first)).astype(float)})
    as_of = tables["orders"]["order_ts"].max().date()
    first = tables["orders"]["order_ts"].min().date()
    cuts = training_cutoffs(first, as_of, 365, FeatureParams(snapshot_every_days=60, snapshots=6))
    return tables, [*cuts, as_of], as_of


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.kind in "fi" and y.dtype.kind in "fi":
            x, y = x.astype(float).to_numpy(), y.astype(float).to_numpy()
            assert np.array_equal(np.isnan(x), np.isnan(y)), col
            assert np.allclose(x, y, rtol=0, atol=1e-9, equal_nan=True), col
        else:   # missing text is None on one engine and NaN on the other
            x, y = x.astype(object).where(x.notna(), ""), y.astype(object).where(y.notna(), "")
            assert (x.astype(str).to_numpy() == y.astype(str).to_numpy()).all(), col


def test_features_and_labels_match_duckdb(spark, shop, tmp_path):
    tables, cutoffs, as_of = shop
    duck_expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, cutoffs, as_of,
                             FeatureParams())
    duck = ibis.duckdb.connect().execute(duck_expr)
    con = ibis.pyspark.connect(spark)
    spark_tables = {}
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", coerce_timestamps="us",
                         allow_truncated_timestamps=True)
        spark_tables[name] = con.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=name)
    spark_expr, spark_names = build(spark_tables, cutoffs, as_of, FeatureParams())
    on_spark = con.execute(spark_expr)
    assert spark_names == names
    key = ["customer_id", "cutoff"]
    assert_same(on_spark.sort_values(key).reset_index(drop=True),
                duck.sort_values(key).reset_index(drop=True))
    assert duck["churned"].notna().sum() > 100  # labels were compared, not just features


def test_scores_and_export_rows_match_duckdb(spark, shop, tmp_path):
    from pipeline.spark_scoring import spark_score_rows

    tables, cutoffs, as_of = shop
    expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, cutoffs, as_of,
                        FeatureParams())
    features = ibis.duckdb.connect().execute(expr)
    path = tmp_path / "features.parquet"
    features.to_parquet(path)
    model, _ = train_model(time_split(features), names,
                           TrainParams(n_estimators=40, learning_rate=0.15), 42)
    sp, reasons, rp = ScoreParams(), ReasonParams(), RecommendParams()
    local = plan_actions(score_rows(features[features.split == "score"], model, sp, reasons), rp)
    distributed = plan_actions(spark_score_rows(spark, path, model, sp, reasons), rp)
    assert len(local) == (features.split == "score").sum()
    assert_same(distributed, local)
    assert local["reason"].ne("").any() and local["in_budget"].any()


def test_the_training_sample_is_the_same_on_every_engine(spark, shop, tmp_path):
    """train.sample_customers draws the same customers from a DuckDB file and from a Spark
    part-file folder, and the same as md5 in Python."""
    import hashlib

    from pipeline.rows import labelled_rows

    tables, cutoffs, as_of = shop
    expr, _ = build({k: ibis.memtable(v) for k, v in tables.items()}, cutoffs, as_of)
    features = ibis.duckdb.connect().execute(expr)
    duck_file = tmp_path / "duck.parquet"
    features.to_parquet(duck_file)
    spark_dir = tmp_path / "spark.parquet"
    spark.createDataFrame(features.astype({"cutoff": "datetime64[us]"})).repartition(3) \
        .write.parquet(str(spark_dir))
    labelled = features.loc[features.split == "train", "customer_id"].unique()
    from_duck = labelled_rows(duck_file, sample_customers=len(labelled) // 4)
    from_spark = labelled_rows(spark_dir, sample_customers=len(labelled) // 4)
    picked = sorted(from_duck["customer_id"].unique())
    assert picked == sorted(from_spark["customer_id"].unique())
    assert 0.15 * len(labelled) < len(picked) < 0.35 * len(labelled)
    cut = md5_threshold(len(labelled) // 4 / len(labelled))
    in_python = sorted(i for i in labelled if hashlib.md5(i.encode()).hexdigest()[:8] < cut)
    assert picked == in_python
    assert from_duck[["cutoff", "customer_id"]].equals(from_spark[["cutoff", "customer_id"]])


def test_the_contract_is_checked_where_the_data_lives(spark, tmp_path):
    from common.errors import ChurnError
    from pipeline.engines import validate_tables

    con = ibis.pyspark.connect(spark)
    good = pd.DataFrame({"customer_id": ["a", "b"], "amount": [1.0, 2.0],
                         "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    good.to_parquet(tmp_path / "good.parquet", coerce_timestamps="us")
    good.assign(amount=[1.0, -5.0]).to_parquet(tmp_path / "bad.parquet", coerce_timestamps="us")
    for engine in (con, ibis.duckdb.connect()):
        validate_tables({"orders": engine.read_parquet(str(tmp_path / "good.parquet"))})
        with pytest.raises(ChurnError, match="amount"):
            validate_tables({"orders": engine.read_parquet(str(tmp_path / "bad.parquet"))})


def test_campaign_outcomes_and_uplift_match_duckdb(spark, tmp_path):
    """The outcome join and per-segment counts of a contact log are Ibis: the same numbers on
    Spark (a marketplace's log does not fit one machine)."""
    from datetime import date

    from models.campaigns.outcomes import expand_shared_controls, outcomes, uplift_table
    from synthetic.email_test import EmailTestConfig, email_test

    tables, _ = email_test(EmailTestConfig(customers=1500, seed=5))
    tables["contacts"]["risk_tier"] = np.where(np.arange(1500) % 2, "high", "low")
    as_of = date(2023, 8, 1)
    con = ibis.pyspark.connect(spark)
    on = {}
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", coerce_timestamps="us",
                         allow_truncated_timestamps=True)
        on[name] = con.read_parquet(str(tmp_path / f"{name}.parquet"), table_name=f"c_{name}")
    results = {}
    for engine, t in (("duckdb", {k: ibis.memtable(v) for k, v in tables.items()}),
                      ("spark", on)):
        rows = outcomes(t["contacts"], t["orders"], None, as_of, 30)
        raw = rows.execute().sort_values(["customer_id"]).reset_index(drop=True)
        table = uplift_table(expand_shared_controls(rows), {"risk_tier": "tier"}, 50)
        results[engine] = (raw, table)
    assert_same(results["spark"][0], results["duckdb"][0])
    assert_same(results["spark"][1], results["duckdb"][1])
    assert results["duckdb"][0]["responded"].sum() > 50
    assert set(results["duckdb"][1]["segment"]) >= {"all", "tier:high", "tier:low"}


def test_cause_evidence_and_reason_columns_match_duckdb(spark, shop, tmp_path):
    """The cause model's evidence is Ibis too, and its reasons (five probabilities, evidence in
    words, basis) come out the same when scored per Spark partition."""
    from models.causes.model import fit_cause_model
    from models.causes.reasons import explain
    from pipeline.spark_scoring import spark_score_rows

    tables, cutoffs, as_of = shop
    con = ibis.pyspark.connect(spark)
    on_spark = {}
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", coerce_timestamps="us",
                         allow_truncated_timestamps=True)
        on_spark[name] = con.read_parquet(str(tmp_path / f"{name}.parquet"),
                                          table_name=f"ev_{name}")
    frames = {}
    for engine, t, run in (
            ("duckdb", {k: ibis.memtable(v) for k, v in tables.items()},
             ibis.duckdb.connect().execute), ("spark", on_spark, con.execute)):
        # as the features stage builds them: the evidence in the features' own passes
        expr, names = build(t, cutoffs, as_of, FeatureParams(), evidence=True)
        frames[engine] = run(expr)
    key = ["customer_id", "cutoff"]
    duck = frames["duckdb"].sort_values(key).reset_index(drop=True)
    assert_same(frames["spark"].sort_values(key).reset_index(drop=True), duck)

    model, _ = train_model(time_split(duck), names,
                           TrainParams(n_estimators=40, learning_rate=0.15), 42)
    rp = ReasonParams()
    lapsed = duck[duck["churned"] == 1].reset_index(drop=True)
    lapsed["shap_reason"] = explain(model, lapsed, rp)["reason"].to_numpy()
    model.cause_model = fit_cause_model(lapsed, set(tables), rp.prior, 42)
    path = tmp_path / "features.parquet"
    duck.to_parquet(path)
    sp = ScoreParams()
    local = score_rows(duck[duck.split == "score"], model, sp, rp)
    distributed = spark_score_rows(spark, path, model, sp, rp)
    cols = ["reason", "reason_confidence", "reason_evidence", "reason_basis", "p_forgot",
            "p_satisfaction", "p_choice", "p_price", "p_other"]
    assert set(cols) <= set(local.columns)
    assert_same(distributed.sort_values("customer_id").reset_index(drop=True)[cols],
                local.sort_values("customer_id").reset_index(drop=True)[cols])
    assert local["reason_evidence"].str.len().gt(0).any()
