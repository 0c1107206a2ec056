"""DVC stage `policy`: learn what to send from the contact history. Features are computed as
they were the day before each contact went out (the feature engine with the contact days as
cutoffs), a T-learner per action is judged on held-out customers and the newest campaign, then
refit on all contacts; today's scoring snapshot gets the expected uplift of each action with
enough evidence (`data/policy.parquet`), which the score stage turns into actions.

The contact log written by past score runs is read from the export database; DVC does not
track it (it is the live database), so a new batch reaches the policy with the next data."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from common.params import load_params
from features.engine import build
from models.campaigns import outcomes
from models.plots import qini_figure
from models.policy import (
    action_terms,
    contact_cutoffs,
    evaluate,
    fit,
    training_rows,
    value_per_response,
)
from pipeline.contacts import contact_history
from pipeline.engines import connect_canonical
from pipeline.io import read_json, write_json, write_parquet, write_with
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage
from pipeline.tracking import log_stage_run

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--features-report", default="reports/features.json")
    parser.add_argument("--out", default="data/policy.parquet")
    parser.add_argument("--report", default="reports/policy.json")
    parser.add_argument("--plot", default="reports/plots/qini.png")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    cp = params.campaigns
    run = read_run_info(Path(args.canonical))
    con, tables = connect_canonical(Path(args.canonical), params)
    contacts, source = contact_history(tables, params.export)
    snapshot = pd.read_parquet(args.features, filters=[("split", "==", "score")])
    report: dict = {"source": source, "actions_with_evidence": []}
    uplift, qini = snapshot[["customer_id"]], pd.DataFrame()
    rows = None
    if contacts is not None:
        rows = con.execute(outcomes(contacts, tables["orders"], tables.get("events"),
                                    run.as_of, cp.response_days, cp.outcome))
    if rows is not None and len(rows):
        cutoffs = sorted(set(contact_cutoffs(rows)))
        expr, names = build(tables, cutoffs, run.as_of, params.features, run.horizon_days)
        train = training_rows(rows, con.execute(expr), names)
        vpr = value_per_response(rows)
        terms = action_terms(rows)
        costs = terms["cost"].to_dict()
        report, qini = evaluate(train, names, cp.min_per_arm, vpr, costs)
        policy, _ = fit(train, names, cp.min_per_arm, vpr, costs)
        actions = policy.actions
        score_names = read_json(args.features_report)["features"]
        if actions and set(names) <= set(score_names):
            uplift = pd.concat([snapshot[["customer_id"]].reset_index(drop=True),
                                policy.predict(snapshot).reset_index(drop=True)
                                .add_prefix("uplift_")], axis=1)
        report.update({"source": source, "contacts": int(len(rows)),
                       "actions_with_evidence": actions,
                       "evaluated_on_held_out": report.get("actions_with_evidence", []),
                       "shrinkage_on_all_contacts": policy.weight,
                       "value_per_response": round(vpr, 4),
                       "evidence": policy.model.evidence_.to_dict("records"),
                       "terms": terms.reset_index(names="action").to_dict("records")})
    write_parquet(uplift, args.out)
    fig = qini_figure(qini)
    write_with(args.plot, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    write_json({"as_of": run.as_of.isoformat(), **report}, args.report)
    if rows is not None and len(rows):
        values = {f"policy_value.{k}": v for k, v in report.get("policy_value", {}).items()}
        log_stage_run(params.train, "policy", run.as_of.isoformat(),
                      {**values, "shrinkage": report.get("shrinkage", float("nan"))},
                      [Path(args.report), Path(args.plot)])
    log.info("policy: %s; actions with evidence: %s", source,
             ", ".join(report.get("actions_with_evidence", [])) or "none")


if __name__ == "__main__":
    run_stage(main)
