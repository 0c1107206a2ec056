"""DVC stage `train`: fit the calibrated LightGBM churn model on the training snapshots, log it to
MLflow (params, features, importance, data identity, model with signature) and register it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import duckdb
import mlflow
import pandas as pd

from common.errors import ChurnError
from common.hashing import md5_threshold
from common.params import as_dict, load_params
from models.causes import CauseParams, fit_cause_model
from models.scoring import explain
from models.short_history import fit_short_history, lapsing
from models.split import time_split
from models.train import train_model
from pipeline.io import read_json, write_json
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage
from pipeline.tracking import (
    check_owner,
    files_hash,
    flatten,
    identity,
    log_model,
    model_name,
    setup,
)

log = logging.getLogger(__name__)


def read_training_rows(path: Path, sample_customers: int | None) -> pd.DataFrame:
    """The labelled rows, on one machine. With `train.sample_customers`, a deterministic
    customer sample: md5(customer_id) below a threshold, the same whichever engine wrote the
    features, so DuckDB and Spark runs train on the same customers."""
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


def canonical_tables(canonical: Path) -> set[str]:
    """The contract tables this shop has (what the cause model's functions may use)."""
    return {p.stem for p in canonical.glob("*.parquet")}


def train_cause_model(model, split, canonical: Path, rp, seed: int):
    """The cause model on every labelled lapse before the validation snapshot, with the SHAP
    reason of the churn model as one labelling function, and the shop's known causes (a
    `labels` table) as gold when it has them."""
    tables = canonical_tables(canonical)
    gold = pd.read_parquet(canonical / "labels.parquet") if "labels" in tables else None
    lapsed = pd.concat([split.fit, split.stop, split.calibrate], ignore_index=True)
    lapsed = lapsed[lapsed["churned"] == 1]
    cap = CauseParams().max_rows  # the cause model fits on at most this many: explain only those
    if len(lapsed) > cap:
        lapsed = lapsed.sample(cap, random_state=seed)
    lapsed = lapsed.sort_values(["cutoff", "customer_id"], ignore_index=True)
    lapsed["shap_reason"] = explain(model, lapsed, rp)["reason"].to_numpy()
    return fit_cause_model(lapsed, tables, rp.prior, seed, gold)


def short_history_model(features: Path, canonical: Path, horizon_days: int, params, why: str):
    """The fallback when no labelled snapshot can train and judge a model: BTYD scores, and
    the cause model learned on the customers it sees leaving."""
    frame = pd.read_parquet(features).sort_values(["cutoff", "customer_id"], ignore_index=True)
    model, info = fit_short_history(frame, horizon_days)
    info["note"] = why
    if params.reasons.method == "cause_model":
        tables = canonical_tables(canonical)
        try:
            model.cause_model = fit_cause_model(lapsing(frame, model), tables,
                                                params.reasons.prior, params.base.seed)
        except ChurnError as exc:
            info["cause_model"] = f"not fitted: {exc}"
    return model, info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--features-report", default="reports/features.json")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--out", default="reports/train.json")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    run = read_run_info(Path(args.canonical))
    names = read_json(args.features_report)["features"]
    setup(params.train)
    registered = model_name(params.train)
    check_owner(registered)  # before hours of training into someone else's model
    try:
        split = time_split(read_training_rows(Path(args.features),
                                              params.train.sample_customers),
                           params.train.embargo_days)
    except ChurnError as exc:  # too little labelled history: score with BTYD instead
        model, info = short_history_model(Path(args.features), Path(args.canonical),
                                          run.horizon_days, params, str(exc))
        split = None
    if split is not None:
        model, info = train_model(split, names, params.train, params.base.seed)
        info["score_source"] = "model"
        if params.reasons.method == "cause_model":
            model.cause_model = train_cause_model(model, split, Path(args.canonical),
                                                  params.reasons, params.base.seed)
            info["cause_model"] = model.cause_model.summary().round(4).to_dict("records")

    with mlflow.start_run() as active:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten({
            "run": as_dict(run), "features": as_dict(params.features),
            "train": as_dict(params.train), "base": as_dict(params.base)}).items()})
        mlflow.log_params({"calibration_chosen": info.get("calibration", "isotonic on labels"),
                           "best_iteration": info.get("best_iteration", 0)})
        mlflow.set_tags({
            **identity(run.horizon_days, names),
            "data.input": run.input,
            "data.as_of": run.as_of.isoformat(),
            "data.valid_cutoff": info.get("valid_cutoff", "none"),
            "data.score_source": info["score_source"],
            "data.input_hash": files_hash(list(Path(args.canonical).glob("*.parquet"))),
            "data.rows": str(info["rows"]),
        })
        mlflow.log_dict({"features": names, "importance_gain": info.get("importance_gain", {})},
                        "features.json")
        mlflow.log_dict(info, "train_info.json")
        example = split.valid.head(5) if split is not None else pd.read_parquet(
            args.features, filters=[("split", "==", "score")]).head(5)
        uri, version = log_model(model, example, registered)
    write_json({"run_id": active.info.run_id, "model_name": registered, "model_version": version,
                "model_uri": f"models:/{registered}/{version}", **info}, args.out)
    if split is None:
        log.info("short history: %s v%s scores with BTYD P(no purchase in %d days) (%s)",
                 registered, version, run.horizon_days, info["note"])
    else:
        log.info("trained %s v%s (%d trees, %s calibration)", registered, version,
                 info["best_iteration"], info["calibration"])


if __name__ == "__main__":
    run_stage(main)
