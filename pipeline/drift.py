"""`churn drift`: the scoring snapshot against the champion's training data, and the reason mix
against the last run in the export table. Writes reports/drift.json."""

from __future__ import annotations

from common.errors import ChurnError
from common.params import Params
from models.churn.drift import drift_report
from pipeline.export import read_table
from pipeline.io import write_json
from pipeline.paths import Paths
from pipeline.registry import champion_version, model_for_scoring, model_name
from pipeline.rows import columns, feature_names, scoring_rows
from pipeline.runinfo import read_run_info
from pipeline.tracking import setup


def reason_mixes(url: str, table: str) -> list[tuple[str, dict[str, float]]]:
    """Reason shares among customers at risk, for the two latest as_of in the export table."""
    scores = read_table(url, table, columns=["as_of", "reason", "risk_tier"])
    if scores.empty:
        return []
    at_risk = scores[scores["risk_tier"] != "low"]
    out = []
    for as_of in sorted(at_risk["as_of"].unique(), reverse=True)[:2]:
        mix = at_risk.loc[at_risk["as_of"] == as_of, "reason"].value_counts(normalize=True)
        out.append((as_of, mix.round(4).to_dict()))
    return out


def run_drift(params: Params, paths: Paths) -> dict:
    setup(params.tracking)
    if not paths.features.exists():
        raise ChurnError(f"{paths.features}: no features yet: run `churn run` first")
    run = read_run_info(paths.canonical)
    name = model_name(params.tracking, run.horizon_days)
    champ = champion_version(name)
    if champ is None:
        raise ChurnError(f"no '{name}@champion' model in the MLflow store: publish a batch "
                         "(`churn run`), or train again (`churn retrain`) if the store was lost")
    model, _note = model_for_scoring({"model_name": name, "version": str(champ.version)},
                                     feature_names(paths.features), run.horizon_days,
                                     columns=columns(paths.features))
    if not model.drift_reference:
        raise ChurnError("the champion model has no drift reference: retrain it (churn retrain)")
    snapshot = scoring_rows(paths.features)
    mixes = reason_mixes(params.export.database_url, params.export.table)
    now = mixes[0][1] if mixes else None
    before = mixes[1][1] if len(mixes) > 1 else None
    report = drift_report(model.drift_reference, snapshot, model.predict_proba(snapshot), now,
                          before, params.drift)
    report["as_of_compared"] = [m[0] for m in mixes]
    write_json(report, paths.drift)
    return report
