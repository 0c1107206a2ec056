"""`churn drift`: the scoring snapshot against the champion's training data, and the reason mix
against the last run in the export table. Writes reports/drift.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from common.errors import ChurnError
from common.params import Params
from models.drift import drift_report
from pipeline.io import read_json, write_json
from pipeline.runinfo import read_run_info
from pipeline.tracking import champion_for_scoring, identity, model_name, setup


def reason_mixes(url: str, table: str) -> list[tuple[str, dict[str, float]]]:
    """Reason shares among customers at risk, for the two latest as_of in the export table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return []
            scores = sa.Table(table, sa.MetaData(), autoload_with=conn)
            frame = pd.read_sql(
                sa.select(scores.c.as_of, scores.c.reason, sa.func.count().label("n"))
                .where(scores.c.risk_tier != "low").group_by(scores.c.as_of, scores.c.reason),
                conn)
    finally:
        engine.dispose()
    out = []
    for as_of in sorted(frame["as_of"].unique(), reverse=True)[:2]:
        part = frame[frame["as_of"] == as_of]
        out.append((as_of, (part.set_index("reason")["n"] / part["n"].sum()).round(4).to_dict()))
    return out


def run_drift(params: Params, features: Path = Path("data/features.parquet"),
              canonical: Path = Path("data/canonical"),
              features_report: Path = Path("reports/features.json"),
              out: Path = Path("reports/drift.json")) -> dict:
    setup(params.train)
    if not features.exists() or not features_report.exists():
        raise ChurnError(f"{features}: no features yet: run `churn run` first")
    run = read_run_info(canonical)
    names = read_json(features_report)["features"]
    model, _champ = champion_for_scoring(model_name(params.train),
                                         identity(run.horizon_days, names))
    if not model.drift_reference:
        raise ChurnError("the champion model has no drift reference: retrain it (churn retrain)")
    snapshot = pd.read_parquet(features, filters=[("split", "==", "score")])
    mixes = reason_mixes(params.export.database_url, params.export.table)
    now = mixes[0][1] if mixes else None
    before = mixes[1][1] if len(mixes) > 1 else None
    report = drift_report(model.drift_reference, snapshot, model.predict_proba(snapshot), now,
                          before, params.drift)
    report["as_of_compared"] = [m[0] for m in mixes]
    write_json(report, out)
    return report
