"""DVC stage `score`: every eligible customer at as_of scored by the MLflow `champion` model,
explained (reason buckets, top drivers), given an action, and exported (Parquet, CSV, database)
as one unit."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from common.params import load_params
from models.campaigns import batch_contacts
from models.policy import apply_learned
from models.recommend import add_product_suggestions
from models.scoring import finish, score_rows
from pipeline.engines import connect_canonical
from pipeline.export import publish
from pipeline.io import read_json, write_json
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage
from pipeline.tracking import champion_for_scoring, identity, model_name, setup

log = logging.getLogger(__name__)


def batch_summary(scored: pd.DataFrame) -> dict:
    """What a marketer reads first: tiers, the reason mix, actions in budget, value at stake."""
    at_risk = scored[scored["at_risk"]]
    in_budget = scored[scored["in_budget"]]
    return {
        "customers": len(scored), "at_risk": len(at_risk), "in_budget": len(in_budget),
        "risk_tiers": {k: int(v) for k, v in scored["risk_tier"].value_counts().items()},
        "reason_mix": at_risk["reason"].value_counts(normalize=True).round(4).to_dict(),
        "actions": {k: int(v) for k, v in in_budget["action"].value_counts().items()},
        "value_at_stake_in_budget": round(float(in_budget["value_at_stake"].sum()), 2),
        "held_out": int(scored["holdout"].sum()) if "holdout" in scored else 0,
        "action_sources": {k: int(v) for k, v in
                           in_budget["action_source"].value_counts().items()}
        if "action_source" in scored else {},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--features-report", default="reports/features.json")
    parser.add_argument("--products", default="data/products.parquet")
    parser.add_argument("--policy", default="data/policy.parquet")
    parser.add_argument("--policy-report", default="reports/policy.json")
    parser.add_argument("--exports", default="exports")
    parser.add_argument("--report", default="reports/score.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    params = load_params(args.params)
    run = read_run_info(Path(args.canonical))
    setup(params.train)
    name = model_name(params.train)
    names = read_json(args.features_report)["features"]
    model, champ = champion_for_scoring(name, identity(run.horizon_days, names))
    con, tables = connect_canonical(Path(args.canonical), params)
    if params.engine == "spark":
        from pipeline.spark_scoring import spark_score_rows

        rows = spark_score_rows(con._session, Path(args.features), model, params.score,
                                params.reasons)
    else:
        snapshot = pd.read_parquet(args.features, filters=[("split", "==", "score")])
        rows = score_rows(snapshot, model, params.score, params.reasons)
    scored = add_product_suggestions(finish(rows, params.recommend),
                                     pd.read_parquet(args.products), tables, run.as_of,
                                     params.recommend)
    as_of = run.as_of.isoformat()
    scored = scored.assign(as_of=as_of, model_name=name, model_version=str(champ.version),
                           run_id=champ.run_id,
                           scored_at=datetime.now(UTC).replace(microsecond=0).isoformat())
    policy = read_json(args.policy_report)
    scored = apply_learned(scored, pd.read_parquet(args.policy), policy.get("terms", []),
                           policy.get("value_per_response", 0.0),
                           params.campaigns.explore_share, params.base.seed, as_of)
    holdout, contacts = batch_contacts(scored, run.as_of, params.campaigns.holdout_share)
    scored["holdout"] = holdout
    published = publish(scored, Path(args.exports), params.export, as_of, contacts)
    write_json({"as_of": as_of, **batch_summary(scored), "contacts": len(contacts),
                "model": {"name": name, "version": str(champ.version), "run_id": champ.run_id},
                **published, "seconds": round(time.perf_counter() - started, 2)}, args.report)
    log.info("scored %d customers (%d at risk, %d in budget)", len(scored),
             int(scored["at_risk"].sum()), int(scored["in_budget"].sum()))


if __name__ == "__main__":
    run_stage(main)
