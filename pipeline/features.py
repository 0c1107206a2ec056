"""DVC stage `features`: point-in-time features and labels for every training cutoff and for
scoring at as_of, in one Parquet file (customer_id, cutoff, split, features..., churned)."""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path
from typing import Any

import ibis

from features.cutoffs import training_cutoffs
from features.engine import FeatureParams, build
from features.registry import REGISTRY
from pipeline.engines import connect, read_canonical, validate_tables, write_parquet
from pipeline.errors import ChurnError
from pipeline.io import write_json
from pipeline.params import get, load_params

log = logging.getLogger(__name__)


def feature_params(params: dict[str, Any]) -> FeatureParams:
    f = params.get("features") or {}
    return FeatureParams(
        horizon_days=int(get(params, "churn.horizon_days", 365)),
        new_arrival_days=int(f.get("new_arrival_days", 90)),
        sale_week_volume_ratio=float(f.get("sale_week_volume_ratio", 1.5)),
        sale_week_lookback=int(f.get("sale_week_lookback_weeks", 8)),
        train_max_lapsed_days=f.get("train_max_lapsed_days"),
        score_max_lapsed_days=get(params, "score.max_lapsed_days"),
        tiers=dict(f.get("membership_tiers") or {"gold": 12, "silver": 9}),
    )


def connect_canonical(canonical: Path, params: dict[str, Any] | None = None
                      ) -> tuple[ibis.BaseBackend, dict[str, ibis.Table]]:
    """The canonical tables on the configured engine (params.yaml `engine`, default duckdb)."""
    con = connect(params or {})
    return con, read_canonical(con, canonical)


def resolve_as_of(params: dict[str, Any], orders: ibis.Table) -> tuple[date, date]:
    """(as_of, first order date). as_of defaults to the last order date in the data."""
    span = orders.aggregate(first=orders.order_ts.min(), last=orders.order_ts.max()).execute()
    first, last = span["first"].iloc[0].date(), span["last"].iloc[0].date()
    raw = params.get("as_of")
    as_of = date.fromisoformat(str(raw)) if raw else last
    if as_of < first:
        raise ChurnError(f"as_of {as_of} is before the first order ({first})")
    return as_of, first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--out", default="data/features.parquet")
    parser.add_argument("--report", default="reports/features.json")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    fp = feature_params(params)
    con, tables = connect_canonical(Path(args.canonical), params)
    validate_tables(tables)
    as_of, first = resolve_as_of(params, tables["orders"])
    f = params.get("features") or {}
    cutoffs = training_cutoffs(first, as_of, fp.horizon_days,
                               int(f.get("snapshot_every_days", 30)), int(f.get("snapshots", 12)),
                               int(f.get("min_history_days", 90)))
    expr, names = build(tables, [*cutoffs, as_of], as_of, fp)
    write_parquet(con, expr, args.out)
    per_cutoff = ibis.duckdb.connect().read_parquet(f"{args.out}/**/*.parquet" if Path(
        args.out).is_dir() else args.out).group_by(["cutoff", "split"]).aggregate(
        customers=ibis._.count(), churn_rate=ibis._.churned.mean()).order_by("cutoff").execute()
    write_json({
        "as_of": as_of.isoformat(),
        "horizon_days": fp.horizon_days,
        "training_cutoffs": [c.isoformat() for c in cutoffs],
        "validation_cutoff": cutoffs[-1].isoformat(),
        "features": names,
        "skipped_features": [x.name for x in REGISTRY if x.name not in names],
        "snapshots": per_cutoff.assign(cutoff=per_cutoff.cutoff.astype(str)).to_dict("records"),
    }, args.report)
    log.info("features: %d columns, cutoffs %s .. %s, as_of %s", len(names), cutoffs[0],
             cutoffs[-1], as_of)


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
