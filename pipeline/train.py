"""DVC stage `train`: fit the calibrated LightGBM churn model on the training snapshots, log it to
MLflow (params, features, importance, data identity, model with signature) and register it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import mlflow
import pandas as pd

from models.split import md5_threshold, time_split
from models.tracking import files_hash, flatten, log_model, setup
from models.train import TrainParams, train_model
from pipeline.io import read_json, write_json
from pipeline.params import get, load_params

log = logging.getLogger(__name__)


def read_training_rows(path: Path, sample_customers: int | None) -> pd.DataFrame:
    """The labelled rows, on one machine. With `train.sample_customers`, a deterministic
    customer sample: md5(customer_id) below a threshold, the same whichever engine wrote the
    features, so DuckDB and Spark runs train on the same customers."""
    import duckdb

    source = f"{path}/**/*.parquet" if path.is_dir() else str(path)
    con = duckdb.connect()
    where = "split = 'train'"
    if sample_customers:
        n = con.execute(f"SELECT count(DISTINCT customer_id) FROM read_parquet('{source}') "
                        f"WHERE {where}").fetchone()[0]
        if n > sample_customers:
            cut = md5_threshold(sample_customers / n)
            where += f" AND substr(md5(customer_id), 1, 8) < '{cut}'"
    # a fixed row order: the engines write rows in any order, and bagging depends on it
    return con.execute(f"SELECT * FROM read_parquet('{source}') WHERE {where} "
                       "ORDER BY cutoff, customer_id").df()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--features-report", default="reports/features.json")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--out", default="reports/train.json")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    feat_report = read_json(args.features_report)
    names = feat_report["features"]
    frame = read_training_rows(Path(args.features), get(params, "train.sample_customers"))
    split = time_split(frame)
    tp = TrainParams.from_params(params.get("train") or {}, int(get(params, "base.seed", 42)))
    model, info = train_model(split, names, tp)

    setup(get(params, "train.experiment", "churn"))
    registered = get(params, "train.model_name", "churn-lgbm")
    with mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten({
            "as_of": feat_report["as_of"], "churn": params.get("churn"),
            "features": params.get("features"), "train": params.get("train"),
            "base": params.get("base")}).items()})
        mlflow.log_params({"calibration_chosen": info["calibration"],
                           "best_iteration": info["best_iteration"]})
        mlflow.set_tags({
            "data.as_of": feat_report["as_of"],
            "data.horizon_days": feat_report["horizon_days"],
            "data.valid_cutoff": info["valid_cutoff"],
            "data.input_hash": files_hash(list(Path(args.canonical).glob("*.parquet"))),
            "data.rows": str(info["rows"]),
        })
        mlflow.log_dict({"features": names, "importance_gain": info["importance_gain"]},
                        "features.json")
        mlflow.log_dict(info, "train_info.json")
        uri, version = log_model(model, split.valid.head(5), registered)
    write_json({"run_id": run.info.run_id, "model_name": registered, "model_version": version,
                "model_uri": f"models:/{registered}/{version}", **info}, args.out)
    log.info("trained %s version %s (%d trees, %s calibration)", registered, version,
             info["best_iteration"], info["calibration"])


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
