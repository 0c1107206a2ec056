"""DVC stage `score`: every eligible customer at as_of scored by the MLflow `champion` model,
explained (reason, top drivers), given an action (the batch the policy designs from the
evidence: models/campaigns/policy.py), held out or not, and exported (Parquet, CSV, database,
contact log) as one unit."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pandas as pd

from models.actions.products import add_product_suggestions
from models.actions.rules import plan_actions
from models.campaigns.holdout import batch_contacts
from models.campaigns.policy import Policy, apply_policy
from models.churn.scoring import score_rows
from pipeline.engines import connect_canonical
from pipeline.export import publish
from pipeline.io import write_json
from pipeline.rows import feature_names, scoring_rows
from pipeline.shell import Stage, run_stage
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


def main(stage: Stage) -> None:
    started = time.perf_counter()
    params, run, paths = stage.params, stage.run, stage.paths
    setup(params.tracking)
    name = model_name(params.tracking)
    model, champ = champion_for_scoring(name, identity(run.horizon_days,
                                                       feature_names(paths.features)))
    con, tables = connect_canonical(paths.canonical, params)
    if params.engine == "spark":
        from pipeline.spark_scoring import spark_score_rows

        rows = spark_score_rows(con._session, paths.features, model, params.score,
                                params.reasons)
    else:
        rows = score_rows(scoring_rows(paths.features), model, params.score, params.reasons)
    planned = plan_actions(rows, params.recommend)
    as_of = run.as_of.isoformat()
    planned, loop = apply_policy(planned, Policy.read(paths.policy), params.campaigns,
                                 params.recommend, params.base.seed, as_of,
                                 scoring_rows(paths.features))
    scored = add_product_suggestions(planned, pd.read_parquet(paths.products), tables,
                                     run.as_of, params.recommend)
    scored = scored.assign(as_of=as_of, model_name=name, model_version=str(champ.version),
                           run_id=champ.run_id,
                           scored_at=datetime.now(UTC).replace(microsecond=0).isoformat())
    holdout, contacts = batch_contacts(scored, run.as_of, params.campaigns.holdout_share)
    scored["holdout"] = holdout
    published = publish(scored, paths.exports, params.export, as_of, contacts)
    write_json({"as_of": as_of, **batch_summary(scored), "contacts": len(contacts),
                "loop": loop,
                "model": {"name": name, "version": str(champ.version), "run_id": champ.run_id},
                **published, "seconds": round(time.perf_counter() - started, 2)},
               paths.score_report)
    log.info("scored %d customers (%d at risk, %d in budget)", len(scored),
             int(scored["at_risk"].sum()), int(scored["in_budget"].sum()))


if __name__ == "__main__":
    run_stage(main)
