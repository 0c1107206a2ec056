"""DVC stage `policy`: learn what to send from the contact history (the shop's `contacts`
table, or the pipeline's own contact log as the history stage read it). Features are computed
as they were the day before each contact went out (the feature engine with the contact days as
cutoffs); the uplift policy (models/campaigns/policy.py) is judged on held-out contacts, refit
on all of them, and gives today's scoring snapshot the expected uplift of each action with
enough evidence, which the score stage turns into actions."""

from __future__ import annotations

import logging

import pandas as pd

from features.engine import build
from models.campaigns.outcomes import outcomes
from models.campaigns.policy import contact_cutoffs, learn_policy, policy_headline
from pipeline.contacts import contact_history
from pipeline.engines import connect_canonical
from pipeline.io import write_figure, write_json, write_parquet
from pipeline.plots import qini_figure
from pipeline.rows import scoring_rows
from pipeline.shell import Stage, run_stage
from pipeline.tracking import log_stage_run

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    cp = params.campaigns
    con, tables = connect_canonical(paths.canonical, params)
    contacts, source = contact_history(tables, paths.history)
    snapshot = scoring_rows(paths.features)
    uplift, report, qini = snapshot[["customer_id"]], {"actions_with_evidence": []}, \
        pd.DataFrame()
    rows = None
    if contacts is not None:
        rows = con.execute(outcomes(contacts, tables["orders"], tables.get("events"),
                                    run.as_of, cp.response_days, cp.outcome))
    if rows is not None and len(rows):
        cutoffs = sorted(set(contact_cutoffs(rows)))
        expr, names = build(tables, cutoffs, run.as_of, params.features, run.horizon_days)
        uplift, report, qini = learn_policy(rows, con.execute(expr), names, snapshot, cp)
    write_parquet(uplift, paths.policy)
    write_figure(qini_figure(qini), paths.qini_plot)
    write_json({"as_of": run.as_of.isoformat(), "source": source, **report},
               paths.policy_report)
    write_json(policy_headline(report), paths.policy_metrics)
    if rows is not None and len(rows):
        values = {f"policy_value.{k}": v for k, v in report.get("policy_value", {}).items()}
        log_stage_run(params.tracking, "policy", run.as_of.isoformat(),
                      {**values, "shrinkage": report.get("shrinkage", float("nan"))},
                      [paths.policy_report, paths.qini_plot])
    log.info("policy: %s; actions with evidence: %s", source,
             ", ".join(report.get("actions_with_evidence", [])) or "none")


if __name__ == "__main__":
    run_stage(main)
