"""DVC stage `history`: what earlier batches of this project sent and scored, read back from the
export database into data/history (the contact log, and each past batch's churn scores). DVC
always runs it, as it does ingest: the database is live output that DVC does not track, and
this snapshot is how the campaign stages see it in the DAG."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.contacts import CONTACT_LOG, PAST_SCORES
from pipeline.export import read_table
from pipeline.io import write_parquet
from pipeline.shell import Stage, run_stage
from pipeline.shops import of_this_shop
from pipeline.tracking import project_id

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["customer_id", "as_of", "churn_probability"]


def main(stage: Stage) -> None:
    ep, out = stage.params.export, stage.paths.history
    everything = read_table(ep.database_url, ep.contacts_table)
    contacts = of_this_shop(everything, project_id())
    scores = read_table(ep.database_url, ep.table, columns=SCORE_COLUMNS)
    scores = scores[SCORE_COLUMNS] if len(scores) else pd.DataFrame(columns=SCORE_COLUMNS)
    if len(everything) > len(contacts):   # another shop's batches: neither their contacts
        scores = scores[scores["as_of"].astype(str).isin(   # nor their scores are ours
            set(contacts["batch"].astype(str)))]
    # a fixed row order: the database returns rows in any order, and models learn from them
    if len(contacts):
        contacts = contacts.sort_values(["batch", "customer_id"], ignore_index=True)
    scores = scores.sort_values(["as_of", "customer_id"], ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(contacts, out / CONTACT_LOG)
    write_parquet(scores.astype({"customer_id": str, "as_of": str}), out / PAST_SCORES)
    log.info("history: %d contacts in %d batch(es), %d past scores", len(contacts),
             contacts["batch"].nunique() if len(contacts) else 0, len(scores))


if __name__ == "__main__":
    run_stage(main)
