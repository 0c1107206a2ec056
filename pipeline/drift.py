"""`churn drift`: the scoring snapshot against the champion's training data, and the reason mix
against the last run in the export table. Writes reports/drift.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from models.drift import DriftParams, drift_report
from models.tracking import champion_version, load_churn_model, setup
from pipeline.errors import ChurnError
from pipeline.io import write_json
from pipeline.params import get


def reason_mixes(url: str, table: str) -> list[tuple[str, dict[str, float]]]:
    """Reason shares among customers at risk, for the two latest as_of in the export table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return []
            frame = pd.read_sql(sa.text(
                f'SELECT as_of, reason, COUNT(*) AS n FROM "{table}" '
                "WHERE risk_tier <> 'low' GROUP BY as_of, reason"), conn)
    finally:
        engine.dispose()
    out = []
    for as_of in sorted(frame["as_of"].unique(), reverse=True)[:2]:
        part = frame[frame["as_of"] == as_of]
        out.append((as_of, (part.set_index("reason")["n"] / part["n"].sum()).round(4).to_dict()))
    return out


def run_drift(params: dict, features: Path = Path("data/features.parquet"),
              out: Path = Path("reports/drift.json")) -> dict:
    name = get(params, "train.model_name", "churn-lgbm")
    setup(get(params, "train.experiment", "churn"))
    if champion_version(name) is None:
        raise ChurnError(f"no '{name}@champion' model yet: run `churn run` first")
    model = load_churn_model(f"models:/{name}@champion")
    if not getattr(model, "drift_reference", None):
        raise ChurnError("the champion model has no drift reference: retrain it (churn retrain)")
    if not features.exists():
        raise ChurnError(f"{features}: no features yet: run `churn run` first")
    snapshot = pd.read_parquet(features, filters=[("split", "==", "score")])
    mixes = reason_mixes(get(params, "export.database_url", "sqlite:///exports/churn.db"),
                         get(params, "export.table", "churn_scores"))
    now = mixes[0][1] if mixes else None
    before = mixes[1][1] if len(mixes) > 1 else None
    report = drift_report(model.drift_reference, snapshot, model.predict_proba(snapshot), now,
                          before, DriftParams(**(params.get("drift") or {})))
    report["as_of_compared"] = [m[0] for m in mixes]
    write_json(report, out)
    return report
