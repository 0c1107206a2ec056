"""Everything the report reads, read once at the edge: the stage reports, the batch export the
manifest names, campaign results, the contact history and the export database. Paths come from
paths.yaml (`Paths`); a missing required file or column is one clear line (ChurnError)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from common.errors import ChurnError
from common.params import ExportParams
from features.contract import TABLES
from pipeline.contacts import CONTACT_LOG, past_scores
from pipeline.export import LATEST
from pipeline.io import read_json
from pipeline.paths import Paths

#: export columns the page uses (the batch export has more)
EXPORT_NEEDS = ("customer_id", "churn_probability", "risk_tier", "value_at_stake", "reason",
                "reason_confidence", "membership_tier", "action", "channel", "offer",
                "in_budget", "holdout")
CURVES = ("roc", "calibration")


@dataclass(frozen=True)
class Inputs:
    """The report's raw material; optional parts are empty (or None) when absent."""

    score: dict
    evaluation: dict
    export: pd.DataFrame                   # this batch, one row per customer, with `send`
    export_files: list[Path]
    features: dict = field(default_factory=dict)
    products: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    campaigns: dict = field(default_factory=dict)
    drift: dict | None = None
    reasons: dict | None = None            # demo shops: the reason backtest's details
    results: pd.DataFrame = field(default_factory=pd.DataFrame)
    campaign_dates: dict[str, str] = field(default_factory=dict)
    reason_history: pd.DataFrame = field(default_factory=pd.DataFrame)  # reason_counts()
    score_dates: list[str] = field(default_factory=list)   # every scored batch's as_of
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()   # the shop's tables and `table.column`s


def with_send(export: pd.DataFrame) -> pd.DataFrame:
    """The export with its `send` flag: who is contacted this week (in the budget, with an
    action, not held out). Newer exports carry the column; older ones get it derived."""
    if "send" in export.columns:
        send = export["send"].fillna(False).astype(bool)
    else:
        send = export["in_budget"].astype(bool) & export["action"].ne("none") \
            & ~export["holdout"].astype(bool)
    return export.assign(send=send & ~export["holdout"].astype(bool))


def _json(path: Path, required: bool = False) -> dict | None:
    if not path.exists():
        if required:
            raise ChurnError(f"{path} not found: run `churn run` first")
        return None
    try:
        return read_json(path)
    except ValueError as exc:
        raise ChurnError(f"{path}: not valid JSON ({exc})") from None


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() and path.stat().st_size else pd.DataFrame()


def batch_export(exports: Path) -> tuple[pd.DataFrame, list[Path]]:
    """The batch the manifest (exports/latest.json) points at, and its files."""
    manifest = _json(exports / LATEST, required=True)
    files = [exports / name for name in manifest.get("files", [])]
    parquet = next((f for f in files if f.suffix == ".parquet"), None)
    if parquet is None or not parquet.exists():
        raise ChurnError(f"{exports / LATEST}: names no Parquet export that exists "
                         f"({', '.join(manifest.get('files', [])) or 'no files'})")
    frame = pd.read_parquet(parquet)
    missing = [c for c in EXPORT_NEEDS if c not in frame.columns]
    if missing:
        raise ChurnError(f"{parquet}: lacks column(s) {', '.join(missing)}")
    return with_send(frame), [f for f in files if f.exists()]


def campaign_dates(canonical: Path, history: Path) -> dict[str, str]:
    """The day each campaign or batch went out: the shop's contacts table's first contact per
    campaign_id, and the pipeline's own contact log per batch."""
    dates: dict[str, str] = {}
    shop = canonical / "contacts.parquet"  # the shop's own contacts table
    if shop.exists() and "campaign_id" in pq.read_schema(shop).names:
        sent = pd.read_parquet(shop, columns=["campaign_id", "contact_ts"]).dropna()
        first = sent.groupby("campaign_id")["contact_ts"].min()
        dates.update({str(k): pd.Timestamp(v).date().isoformat() for k, v in first.items()})
    log = history / CONTACT_LOG
    if log.exists() and {"batch", "contact_ts"} <= set(pq.read_schema(log).names):
        sent = pd.read_parquet(log, columns=["batch", "contact_ts"])
        first = sent.groupby("batch")["contact_ts"].min()
        dates.update({str(k): pd.Timestamp(v).date().isoformat() for k, v in first.items()})
    return dates


def shop_tables(canonical: Path) -> frozenset[str]:
    """The contract tables this shop provides, with `table.column` for each column."""
    out = set()
    for name in TABLES:
        path = canonical / f"{name}.parquet"
        if path.exists():
            out.add(name)
            out.update(f"{name}.{c}" for c in pq.read_schema(path).names)
    return frozenset(out)


def reason_counts(url: str, table: str) -> pd.DataFrame:
    """Customers per (batch, risk tier, reason) in the export database, counted by the database
    (a batch of a million rows stays there): as_of, risk_tier, reason, customers."""
    cols = ["as_of", "risk_tier", "reason", "customers"]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return pd.DataFrame(columns=cols)
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            query = sa.select(t.c.as_of, t.c.risk_tier, t.c.reason,
                              sa.func.count().label("customers")) \
                .group_by(t.c.as_of, t.c.risk_tier, t.c.reason)
            return pd.read_sql(query, conn)[cols]
    except sa.exc.SQLAlchemyError as exc:
        raise ChurnError(f"export database {table}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()


def load_inputs(paths: Paths, export_params: ExportParams) -> Inputs:
    score = _json(paths.score_report, required=True)
    evaluation = _json(paths.evaluation, required=True)
    export, files = batch_export(paths.exports)
    history = reason_counts(export_params.database_url, export_params.table)
    past = past_scores(paths.history)
    dates = sorted({*(history["as_of"].astype(str) if len(history) else []),
                    *(past["as_of"].astype(str) if len(past) else []), score["as_of"]})
    curves = {kind: _csv(paths.plots / f"{kind}.csv") for kind in CURVES}
    return Inputs(
        score=score, evaluation=evaluation, export=export, export_files=files,
        features=_json(paths.features_report) or {},
        products=_json(paths.products_report) or {},
        policy=_json(paths.policy_report) or {},
        campaigns=_json(paths.campaigns_report) or {},
        drift=_json(paths.drift), reasons=_json(paths.reasons),
        results=_csv(paths.results),
        campaign_dates=campaign_dates(paths.canonical, paths.history),
        reason_history=history, score_dates=dates,
        curves={k: v for k, v in curves.items() if len(v)},
        tables=shop_tables(paths.canonical))
