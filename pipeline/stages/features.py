"""DVC stage `features`: point-in-time features, cause evidence and labels for every training
cutoff and for scoring at as_of, in one Parquet table (customer_id, cutoff, split, features...,
churned; on DuckDB a folder with one file per cutoff, written one snapshot at a time), and a
report of the snapshots."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import ibis

from common.params import Params
from features.cutoffs import training_cutoffs
from features.engine import plan
from features.registry import REGISTRY
from features.signals import vocabulary_with
from pipeline.engines import (
    connect_canonical,
    duckdb_connect,
    fitting,
    validate_tables,
    write_snapshots,
)
from pipeline.io import write_json
from pipeline.shell import Stage, run_stage

log = logging.getLogger(__name__)


def snapshot_summary(path: Path):
    """Rows and churn rate per cutoff of a written features table (file or Spark folder)."""
    source = f"{path}/**/*.parquet" if path.is_dir() else str(path)
    frame = duckdb_connect().execute(
        f"SELECT cutoff, split, count(*) AS customers, avg(churned) AS churn_rate "
        f"FROM read_parquet('{source}') GROUP BY ALL ORDER BY cutoff").df()
    return frame.assign(cutoff=frame.cutoff.astype(str)).to_dict("records")


def write_features(con: ibis.BaseBackend, tables: dict[str, ibis.Table], cutoffs: list[date],
                   as_of: date, horizon_days: int, params: Params, target: Path,
                   evidence: bool = True) -> list[str]:
    """Write the features table at `cutoffs` (as_of last) to `target`; the model features'
    names. With `evidence`, the cause model's evidence, point in time like every feature, in
    the same passes."""
    run = plan(tables, cutoffs, as_of, params.features, horizon_days,
               params.score.max_lapsed_days, evidence=evidence,
               vocabulary=vocabulary_with(params.reasons.vocabulary))
    with fitting(f"features at {len(cutoffs)} cutoffs", params.duckdb,
                 "features.snapshots lower"):
        write_snapshots(con, run, target)
    return run.names


def main(stage: Stage) -> None:
    params, run, paths = stage.params, stage.run, stage.paths
    con, tables = connect_canonical(paths.canonical, params)
    validate_tables(tables)
    cutoffs = training_cutoffs(run.first_order, run.as_of, run.horizon_days, params.features)
    if cutoffs:
        log.info("features at %d cutoffs (%s .. %s) and as_of %s", len(cutoffs), cutoffs[0],
                 cutoffs[-1], run.as_of)
    else:
        log.info("no training cutoff fits (data from %s, horizon %d days): features at as_of "
                 "%s only; scores will come from BTYD", run.first_order, run.horizon_days,
                 run.as_of)
    names = write_features(con, tables, [*cutoffs, run.as_of], run.as_of, run.horizon_days,
                           params, paths.features)
    write_json({
        "as_of": run.as_of.isoformat(),
        "horizon_days": run.horizon_days,
        "training_cutoffs": [c.isoformat() for c in cutoffs],
        "validation_cutoff": cutoffs[-1].isoformat() if cutoffs else None,
        "features": names,
        "skipped_features": [x.name for x in REGISTRY if x.name not in names],
        "snapshots": snapshot_summary(paths.features),
    }, paths.features_report)
    log.info("features: %d model features, %d skipped for lack of tables", len(names),
             len(REGISTRY) - len(names))


if __name__ == "__main__":
    run_stage(main)
