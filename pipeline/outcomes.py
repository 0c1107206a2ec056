"""DVC stage `outcomes`: what past contacts did. For every campaign or batch whose response
window has closed by as_of: treated vs control response, uplift with a 95% interval, p-value and
incremental revenue, per action and per reason / risk tier x action; and how past churn scores
fared once their horizon passed. Contacts come from the shop's `contacts` table when it has
one, else from the pipeline's own contact log (every score batch, with its holdouts)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from common.params import load_params
from models.campaigns import (
    DEFAULT_SEGMENTS,
    UPLIFT_COLUMNS,
    expand_shared_controls,
    outcomes,
    realized_accuracy,
    uplift_table,
)
from models.plots import uplift_figure
from pipeline.contacts import contact_history
from pipeline.engines import connect_canonical
from pipeline.export import read_table, replace_table
from pipeline.io import write_json, write_with
from pipeline.runinfo import read_run_info
from pipeline.stage import run_stage
from pipeline.tracking import log_stage_run

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--results", default="exports/campaign_results.csv")
    parser.add_argument("--report", default="reports/campaigns.json")
    parser.add_argument("--plot", default="reports/plots/uplift.png")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    run = read_run_info(Path(args.canonical))
    cp, ep = params.campaigns, params.export
    con, tables = connect_canonical(Path(args.canonical), params)
    contacts, source = contact_history(tables, ep)
    results = pd.DataFrame(columns=UPLIFT_COLUMNS)
    measured = 0
    if contacts is not None:
        rows = expand_shared_controls(outcomes(contacts, tables["orders"], tables.get("events"),
                                               run.as_of, cp.response_days, cp.outcome))
        columns = set(rows.columns)
        segments = {c: DEFAULT_SEGMENTS[c] for c in DEFAULT_SEGMENTS if c in columns}
        results = uplift_table(rows, segments, cp.min_per_arm)
        measured = int(results["batch"].nunique())
    past = read_table(ep.database_url, ep.table)
    accuracy = pd.DataFrame()
    if not past.empty:
        accuracy, _calibration = realized_accuracy(past, tables["orders"], run.horizon_days,
                                                   run.as_of)
    write_with(args.results, lambda tmp: results.to_csv(tmp, index=False))
    replace_table(results, ep.database_url, ep.results_table)
    fig = uplift_figure(results)
    write_with(args.plot, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    overall = results[results["segment"] == "all"]
    write_json({
        "as_of": run.as_of.isoformat(), "source": source, "batches_measured": measured,
        "response_days": cp.response_days, "outcome": cp.outcome,
        "overall": overall.round(4).to_dict("records"),
        "pooled_segments": int(results["pooled"].sum()) if len(results) else 0,
        "past_scores": accuracy.round(4).astype({"as_of": str}).to_dict("records")
        if len(accuracy) else [],
    }, args.report)
    if contacts is not None:
        log_stage_run(params.train, "outcomes", run.as_of.isoformat(),
                      {f"uplift.{r.batch}.{r.action}": r.uplift
                       for r in overall.itertuples()},
                      [Path(args.results), Path(args.report), Path(args.plot)])
    log.info("campaign outcomes: %d batch(es) measured from %s", measured, source)


if __name__ == "__main__":
    run_stage(main)
