"""DVC stage `score`: every eligible customer at as_of scored by the version the champion gate
chose, explained (reason, top drivers), given an action (the batch the policy designs from the
evidence: models/campaigns/policy.py), held out or not: the batch (scores and contact log rows)
in data/batch, which the publish stage exports."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pandas as pd

from models.actions.products import add_product_suggestions
from models.actions.rules import plan_actions
from models.campaigns.holdout import batch_contacts
from models.campaigns.policy import Policy, apply_policy
from models.churn.scoring import BATCH_ROWS, score_batches
from pipeline.columns import EXPORT_COLUMNS
from pipeline.engines import connect_canonical
from pipeline.export import BATCH_CONTACTS, BATCH_SCORES
from pipeline.io import read_json, write_json, write_parquet
from pipeline.registry import model_for_scoring
from pipeline.rows import columns, feature_names, scoring_batches, scoring_rows
from pipeline.shell import Stage, run_stage
from pipeline.tracking import project_id, setup

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
        "to_send": int(scored["send"].sum()) if "send" in scored else 0,
        "action_sources": {k: int(v) for k, v in
                           in_budget["action_source"].value_counts().items()}
        if "action_source" in scored else {},
    }


def main(stage: Stage) -> None:
    started = time.perf_counter()
    params, run, paths = stage.params, stage.run, stage.paths
    setup(params.tracking)
    chosen = read_json(paths.champion)
    model, note = model_for_scoring(chosen, feature_names(paths.features), run.horizon_days,
                                     columns=columns(paths.features),
                                     as_of=run.as_of.isoformat())
    con, tables = connect_canonical(paths.canonical, params)
    if params.engine == "spark":
        from pipeline.spark_scoring import spark_score_rows

        rows = spark_score_rows(con._session, paths.features, model, params.score,
                                params.reasons)
    else:  # a batch of customers at a time: memory holds one batch's wide rows
        rows = score_batches(scoring_batches(paths.features, BATCH_ROWS), model,
                             params.score, params.reasons)
    policy = Policy.read(paths.policy)
    # of today's features the policy reads the value of a response and its learner's inputs
    wanted = {"customer_id", "monetary_mean", *(policy.learner or {}).get("features", [])}
    snapshot = scoring_rows(paths.features,
                            [c for c in columns(paths.features) if c in wanted])
    planned = plan_actions(rows, params.recommend)
    as_of = run.as_of.isoformat()
    planned, loop = apply_policy(planned, policy, params.campaigns, params.recommend,
                                 params.base.seed, as_of, snapshot)
    scored = add_product_suggestions(planned, pd.read_parquet(paths.products), tables,
                                     run.as_of, params.recommend)
    scored = scored.assign(as_of=as_of, horizon_days=run.horizon_days,
                           model_name=chosen["model_name"], model_version=chosen["version"],
                           run_id=chosen["run_id"],
                           scored_at=datetime.now(UTC).replace(microsecond=0).isoformat())
    holdout, contacts = batch_contacts(scored, run.as_of, params.campaigns.holdout_share)
    scored["holdout"] = holdout
    # to send = logged as treated: the send lists and the contact log can never disagree
    treated = contacts.loc[contacts["group"] == "treatment", "customer_id"]
    scored["send"] = scored["customer_id"].isin(treated).to_numpy()
    paths.batch.mkdir(parents=True, exist_ok=True)
    scored = scored.sort_values("customer_id", kind="stable", ignore_index=True)
    write_parquet(scored[EXPORT_COLUMNS], paths.batch / BATCH_SCORES)
    write_parquet(contacts.assign(shop=project_id()), paths.batch / BATCH_CONTACTS)
    write_json({"as_of": as_of, "horizon_days": run.horizon_days, **batch_summary(scored),
                "contacts": len(contacts), "loop": loop,
                "model": {"name": chosen["model_name"], "version": chosen["version"],
                          "run_id": chosen["run_id"], "note": note},
                "seconds": round(time.perf_counter() - started, 2)}, paths.score_report)
    log.info("scored %d customers (%d at risk, %d in budget)", len(scored),
             int(scored["at_risk"].sum()), int(scored["in_budget"].sum()))


if __name__ == "__main__":
    run_stage(main)
