"""DVC stage `outcomes`: what past contacts did. For every campaign or batch whose response
window has closed by as_of: treated vs control response, uplift with a 95% interval, p-value and
incremental revenue, per action and per reason / risk tier x action; and how past churn scores
fared once their horizon passed. Contacts come from the shop's `contacts` table when it has
one, else from the pipeline's own contact log (every score batch, with its holdouts), as the
history stage read it."""

from __future__ import annotations

import logging

import pandas as pd

from models.campaigns.outcomes import (
    DEFAULT_SEGMENTS,
    UPLIFT_COLUMNS,
    expand_shared_controls,
    last_batch_headline,
    outcomes,
    uplift_table,
)
from models.churn.realised import realized_accuracy
from pipeline.contacts import contact_history, past_scores, screen_contacts
from pipeline.engines import connect_canonical
from pipeline.io import write_csv, write_figure, write_json
from pipeline.plots import uplift_figure
from pipeline.shell import Stage, run_stage
from pipeline.tracking import log_stage_run

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    cp = params.campaigns
    con, tables = connect_canonical(paths.canonical, params)
    contacts, source = contact_history(tables, paths.history)
    results = pd.DataFrame(columns=UPLIFT_COLUMNS)
    measured, screened = 0, []
    if contacts is not None:
        rows, screened = screen_contacts(outcomes(
            contacts, tables["orders"], tables.get("events"), run.as_of, cp.response_days,
            cp.outcome), tables["orders"])
        rows = expand_shared_controls(rows)
        columns = set(rows.columns)
        segments = {c: DEFAULT_SEGMENTS[c] for c in DEFAULT_SEGMENTS if c in columns}
        results = uplift_table(rows, segments, cp.min_per_arm)
        measured = int(results["batch"].nunique())
    past = past_scores(paths.history)
    accuracy = pd.DataFrame()
    if not past.empty:
        accuracy, _calibration = realized_accuracy(past, tables["orders"], run.horizon_days,
                                                   run.as_of)
    write_csv(results, paths.results)
    write_figure(uplift_figure(results), paths.uplift_plot)
    overall = results[results["segment"] == "all"]
    write_json(last_batch_headline(overall), paths.campaign_metrics)
    write_json({
        "as_of": run.as_of.isoformat(), "source": source, "batches_measured": measured,
        "response_days": cp.response_days, "outcome": cp.outcome,
        "overall": overall.round(4).to_dict("records"),
        "pooled_segments": int(results["pooled"].sum()) if len(results) else 0,
        "unknown_customers": screened,
        "past_scores": accuracy.round(4).astype({"as_of": str}).to_dict("records")
        if len(accuracy) else [],
    }, paths.campaigns_report)
    if contacts is not None:
        log_stage_run(params.tracking, "outcomes", run.as_of.isoformat(),
                      {f"uplift.{r.batch}.{r.action}": r.uplift
                       for r in overall.itertuples()},
                      [paths.results, paths.campaigns_report, paths.uplift_plot])
    log.info("campaign outcomes: %d batch(es) measured from %s", measured, source)


if __name__ == "__main__":
    run_stage(main)
