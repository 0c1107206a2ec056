"""DVC stage `ingest`: read the shop's files, validate them against the contract, write canonical
Parquet, this run's settings (run.json: input, as_of, horizon) and the ingest report.

DVC always runs it (the shop may live outside the project, and `churn run` passes this run's
overrides in the environment); later stages re-run only when what it writes changes."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline.ingestion import ingest, write_canonical
from pipeline.io import write_json
from pipeline.runinfo import overrides_from_env, resolve, with_overrides, write_run_info
from pipeline.shell import Stage, run_stage
from pipeline.shops import check_same_shop

log = logging.getLogger(__name__)


def main(stage: Stage) -> None:
    params = with_overrides(stage.params, overrides_from_env())
    input_path = Path(params.data.input)
    tables, summary = ingest(input_path, params.data)
    orders = tables["orders"]["order_ts"]
    run = resolve(params, orders.min().date(), orders.max().date())
    shop_note = check_same_shop(tables["orders"]["customer_id"], params.export)
    if shop_note:
        log.info(shop_note)
    write_canonical(tables, stage.paths.canonical, input_path)
    write_run_info(run, stage.paths.canonical)
    write_json({**summary, "run": run.__dict__}, stage.paths.ingest_report)
    log.info("ingested %s: %s; as_of %s, horizon %d days", input_path,
             ", ".join(f"{t} {len(f):,}" for t, f in tables.items()), run.as_of,
             run.horizon_days)


if __name__ == "__main__":
    run_stage(main)
