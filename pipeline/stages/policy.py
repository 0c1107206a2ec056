"""DVC stage `policy`: learn what to send from the contact history (the shop's `contacts`
table, or the pipeline's own contact log as the history stage read it). Features are computed
as they were the day before each contact went out (the feature engine with the contact days as
cutoffs); the uplift policy (models/campaigns/policy.py) is judged on held-out contacts, refit
on all of them, and written to the policy file: the uplift posterior of every action the shop
could send, per segment (and the personal uplift model when one beat it), from which the score
stage designs today's batch. With no history the file holds the domain's prior alone."""

from __future__ import annotations

import logging

import pandas as pd

from features.engine import build, rounded
from models.campaigns.assess import learn_policy
from models.campaigns.outcomes import outcomes
from models.campaigns.policy import contact_cutoffs, fit_policy, policy_headline
from pipeline.contacts import contact_history
from pipeline.engines import connect_canonical
from pipeline.io import write_figure, write_json, write_with
from pipeline.plots import qini_figure
from pipeline.shell import Stage, run_stage
from pipeline.tracking import log_stage_run

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    cp = params.campaigns
    con, tables = connect_canonical(paths.canonical, params)
    contacts, source = contact_history(tables, paths.history)
    policy = fit_policy(pd.DataFrame(columns=["observed_action", "reason", "lifecycle",
                                              "responded", "batch", "propensity"]), cp)
    report, qini = {"actions_with_evidence": [], "actions": policy.actions}, pd.DataFrame()
    rows = None
    if contacts is not None:
        rows = con.execute(outcomes(contacts, tables["orders"], tables.get("events"),
                                    run.as_of, cp.response_days, cp.outcome))
        # a fixed row order: the engine returns rows in any order, and what is learnt from
        # them (sums, LightGBM's bagging) depends on it
        rows = rows.sort_values([c for c in ("batch", "contact_ts", "customer_id", "action",
                                             "group") if c in rows], kind="stable",
                                ignore_index=True)
    if rows is not None and len(rows):
        cutoffs = sorted(set(contact_cutoffs(rows)))
        expr, names = build(tables, cutoffs, run.as_of, params.features, run.horizon_days)
        frame = con.execute(rounded(expr))
        policy, report, qini = learn_policy(rows, frame, names, cp, params.recommend)
    write_with(paths.policy, policy.write)
    write_figure(qini_figure(qini), paths.qini_plot)
    write_json({"as_of": run.as_of.isoformat(), "source": source, **report},
               paths.policy_report)
    write_json(policy_headline(report), paths.policy_metrics)
    if rows is not None and len(rows):
        values = {f"policy_value.{k}": v for k, v in report.get("policy_value", {}).items()}
        log_stage_run(params.tracking, "policy", run.as_of.isoformat(),
                      {**values, "tested_actions": len(report.get("tested_actions", []))},
                      [paths.policy_report, paths.qini_plot])
    log.info("policy: %s; tested actions: %s", source,
             ", ".join(report.get("actions_with_evidence", [])) or "none")


if __name__ == "__main__":
    run_stage(main)
