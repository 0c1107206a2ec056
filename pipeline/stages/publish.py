"""DVC stage `publish`: the one step that writes production output. When the run was started
to publish (`churn run`, `churn score`, or `--publish`: the CLI says so in CHURN_PUBLISH), it
applies the champion gate's decision to the registry aliases and publishes the batch the score
stage left in data/batch (score file, send lists, holdout list, database rows, contact log) as
one unit, with the campaign results the outcomes stage measured. Any other run (`dvc exp
run`, a plain `dvc repro`, params that differ from the committed params.yaml) is an
experiment: it trains, logs and evaluates, and this stage only says so. DVC always runs it,
so a batch computed by an experiment is published by the next `churn run` without
recomputing it."""

from __future__ import annotations

import logging
import os

import pandas as pd

from pipeline.export import BATCH_CONTACTS, BATCH_SCORES, RESULTS, publish, replace_table
from pipeline.io import read_json, write_csv, write_json
from pipeline.registry import apply_decision
from pipeline.shell import Stage, run_stage
from pipeline.tracking import setup

log = logging.getLogger(__name__)
#: set by the churn CLI: "1" publish, anything else (or unset) an experiment, with its reason
PUBLISH_ENV, WHY_ENV = "CHURN_PUBLISH", "CHURN_PUBLISH_WHY"


def main(stage: Stage) -> None:
    params, paths = stage.params, stage.paths
    if os.environ.get(PUBLISH_ENV) != "1":
        why = os.environ.get(WHY_ENV) or ("not started by `churn run` / `churn score` (an "
                                          "experiment: nothing published, aliases unchanged)")
        write_json({"published": False, "why": why}, paths.publish_report)
        log.info("not published: %s", why)
        return
    setup(params.tracking)
    aliases = apply_decision(read_json(paths.champion))
    scores = pd.read_parquet(paths.batch / BATCH_SCORES)
    contacts = pd.read_parquet(paths.batch / BATCH_CONTACTS)
    published = publish(scores, paths.exports, params.export, contacts)
    if paths.results.exists():   # what past batches did, for the CRM's and BI's eyes too
        results = pd.read_csv(paths.results)
        write_csv(results, paths.exports / RESULTS)
        replace_table(results, params.export.database_url, params.export.results_table)
    write_json({"published": True, "aliases": aliases, **published}, paths.publish_report)
    log.info("published %d rows (%s); %s", published["database_rows"],
             ", ".join(f"{k} {v:,}" for k, v in published["send"].items()) or "nothing to send",
             aliases)


if __name__ == "__main__":
    run_stage(main)
