"""Batch exports for CRM and marketing tools: Parquet and CSV files per run, and a database
table through a SQLAlchemy URL. Every write is atomic: a failed run leaves the last good export."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pipeline.io import write_with

EXPORT_COLUMNS = [
    "customer_id", "as_of", "churn_probability", "risk_tier", "value_at_stake", "reason",
    "reason_confidence", "top_drivers", "membership_tier", "action", "channel", "offer",
    "product_ids", "in_budget", "model_name", "model_version", "run_id", "scored_at",
    "product_note",
]


def write_files(frame: pd.DataFrame, out_dir: str | Path, as_of: str) -> list[Path]:
    """exports/churn_scores_<as_of>.{parquet,csv}, each via temp file + rename."""
    out_dir = Path(out_dir)
    stem = out_dir / f"churn_scores_{as_of}"
    frame = frame[EXPORT_COLUMNS]
    return [write_with(stem.with_suffix(".parquet"), lambda t: frame.to_parquet(t, index=False)),
            write_with(stem.with_suffix(".csv"), lambda t: frame.to_csv(t, index=False))]


def write_table(frame: pd.DataFrame, url: str, table: str, as_of: str) -> int:
    """Replace this as_of's rows in one transaction: readers see the old rows or the new ones."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table(table):
                conn.execute(sa.text(f'DELETE FROM "{table}" WHERE as_of = :as_of'),
                             {"as_of": as_of})
            frame[EXPORT_COLUMNS].to_sql(table, conn, if_exists="append", index=False,
                                         chunksize=50_000)
    finally:
        engine.dispose()
    return len(frame)


def read_table(url: str, table: str, as_of: str | None = None) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        query = f'SELECT * FROM "{table}"' + (" WHERE as_of = :as_of" if as_of else "")
        with engine.connect() as conn:
            return pd.read_sql(sa.text(query), conn, params={"as_of": as_of} if as_of else None)
    finally:
        engine.dispose()
