"""Batch exports for CRM and marketing tools: Parquet and CSV files per run, and a database
table through a SQLAlchemy URL, published as one unit.

Order of a publication: both files are written to `exports/.staging/<token>/` with a manifest;
the database rows of that as_of are replaced in one transaction that also records the token in
`<table>_batches`; then the files are renamed into place and `exports/latest.json` points at
them. A run killed at any step leaves either the previous batch everywhere or, once the
database has committed, a staging folder that the next run finishes (`recover`): the files, the
table and the manifest never mix two runs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from common.params import ExportParams
from pipeline.io import write_json, write_with

EXPORT_COLUMNS = [
    "customer_id", "as_of", "churn_probability", "risk_tier", "value_at_stake", "reason",
    "reason_confidence", "top_drivers", "membership_tier", "action", "channel", "offer",
    "product_ids", "in_budget", "model_name", "model_version", "run_id", "scored_at",
    "product_note", "holdout", "expected_uplift", "action_source",
    "p_forgot", "p_satisfaction", "p_choice", "p_price", "p_other", "reason_evidence",
    "reason_basis", "score_source",
]
#: a spreadsheet evaluates a cell that starts with one of these (OWASP: CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LATEST = "latest.json"
CONTACT_LOG = "contacts.parquet"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula get a leading single quote. For the CSV
    only: Parquet and the database keep the exact value."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype("string")
            risky = text.str.startswith(FORMULA_START).fillna(False)
            if risky.any():
                out[col] = text.mask(risky, "'" + text)
    return out


def _engine(url: str) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url)


def _batches(table: str) -> str:
    return f"{table}_batches"


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_numeric_dtype(series):
        return "FLOAT"
    return "TEXT"


def _add_missing_columns(conn, table: sa.Table, frame: pd.DataFrame) -> None:
    """A table written by an older version lacks newer export columns: add them (earlier
    batches read as null there), with identifiers quoted by the database's own rules."""
    quote = conn.dialect.identifier_preparer.quote
    for col in frame.columns:
        if col not in table.c:
            conn.execute(sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(col)} "
                                 f"{_sql_type(frame[col])}"))


def _replace_rows(conn, table: str, key: str, value: str, frame: pd.DataFrame) -> None:
    """Delete the rows of one batch and append the new ones (inside the caller's
    transaction)."""
    if sa.inspect(conn).has_table(table):
        existing = sa.Table(table, sa.MetaData(), autoload_with=conn)
        _add_missing_columns(conn, existing, frame)
        conn.execute(sa.delete(existing).where(existing.c[key] == value))
    frame.to_sql(table, conn, if_exists="append", index=False, chunksize=50_000)


def write_table(frame: pd.DataFrame, p: ExportParams, as_of: str, token: str,
                contacts: pd.DataFrame | None = None) -> int:
    """Replace this as_of's scores (and its contact log rows) and record the publication
    token, in one transaction: readers see the old rows or the new ones, and a re-run batch
    never duplicates its contacts. Identifiers come from validated params and are quoted by
    SQLAlchemy, never pasted into SQL."""
    engine = _engine(p.database_url)
    meta = sa.MetaData()
    try:
        with engine.begin() as conn:
            _replace_rows(conn, p.table, "as_of", as_of, frame[EXPORT_COLUMNS])
            if contacts is not None:
                _replace_rows(conn, p.contacts_table, "batch", as_of, contacts)
            batches = sa.Table(_batches(p.table), meta, sa.Column("as_of", sa.String(10)),
                               sa.Column("token", sa.String(64)), sa.Column("rows", sa.Integer))
            batches.create(conn, checkfirst=True)
            conn.execute(sa.delete(batches).where(batches.c.as_of == as_of))
            conn.execute(sa.insert(batches).values(as_of=as_of, token=token, rows=len(frame)))
    finally:
        engine.dispose()
    return len(frame)


def committed_token(p: ExportParams, as_of: str) -> str | None:
    """The token of the batch the database holds for as_of (None: none)."""
    engine = _engine(p.database_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(_batches(p.table)):
                return None
            batches = sa.Table(_batches(p.table), sa.MetaData(), autoload_with=conn)
            row = conn.execute(sa.select(batches.c.token).where(batches.c.as_of == as_of)
                               ).first()
            return None if row is None else row[0]
    finally:
        engine.dispose()


def _promote(staging: Path, out_dir: Path) -> list[Path]:
    manifest = json.loads((staging / "manifest.json").read_text())
    placed = []
    for name in manifest["files"]:
        if (staging / name).exists():
            os.replace(staging / name, out_dir / name)
        placed.append(out_dir / name)
    write_json(manifest, out_dir / LATEST)
    shutil.rmtree(staging, ignore_errors=True)
    return placed


def recover(out_dir: Path, p: ExportParams) -> list[str]:
    """Finish or discard what a killed publication left in exports/.staging. Returns notes."""
    notes = []
    root = out_dir / ".staging"
    for staging in sorted(root.glob("*")) if root.exists() else []:
        manifest = staging / "manifest.json"
        if manifest.exists():
            info = json.loads(manifest.read_text())
            if committed_token(p, info["as_of"]) == info["token"]:
                _promote(staging, out_dir)
                notes.append(f"finished the export of {info['as_of']} that a killed run left")
                continue
        shutil.rmtree(staging, ignore_errors=True)
        notes.append(f"discarded an unfinished export ({staging.name})")
    return notes


def publish(frame: pd.DataFrame, out_dir: Path, p: ExportParams, as_of: str,
            contacts: pd.DataFrame | None = None) -> dict:
    """exports/churn_scores_<as_of>.{parquet,csv}, the database rows and the batch's contact
    log rows, as one unit; then exports/contacts.parquet mirrors the whole contact log."""
    notes = recover(out_dir, p)
    token = uuid.uuid4().hex
    staging = out_dir / ".staging" / token
    staging.mkdir(parents=True)
    frame = frame[EXPORT_COLUMNS]
    stem = f"churn_scores_{as_of}"
    frame.to_parquet(staging / f"{stem}.parquet", index=False)
    for_crm = frame if p.include_holdout else frame[~frame["holdout"]]
    neutralise_formulas(for_crm).to_csv(staging / f"{stem}.csv", index=False)
    files = [f"{stem}.parquet", f"{stem}.csv"]
    write_json({"as_of": as_of, "token": token, "files": files, "rows": len(frame),
                "table": p.table}, staging / "manifest.json")
    rows = write_table(frame, p, as_of, token, contacts)
    placed = _promote(staging, out_dir)
    if contacts is not None:
        log = read_table(p.database_url, p.contacts_table)
        write_with(out_dir / CONTACT_LOG, lambda tmp: log.to_parquet(tmp, index=False))
    return {"exports": [str(f) for f in placed], "database_rows": rows, "export_notes": notes}


def read_table(url: str, table: str, as_of: str | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """A table of the export database (one batch with `as_of`; only `columns`, when given);
    empty when there is none."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return pd.DataFrame()
            scores = sa.Table(table, sa.MetaData(), autoload_with=conn)
            query = sa.select(*[scores.c[c] for c in columns]) if columns else sa.select(scores)
            if as_of:
                query = query.where(scores.c.as_of == as_of)
            return pd.read_sql(query, conn)
    finally:
        engine.dispose()


def replace_table(frame: pd.DataFrame, url: str, table: str) -> int:
    """Replace a whole derived table (e.g. campaign results) in one transaction."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            frame.to_sql(table, conn, if_exists="replace", index=False, chunksize=50_000)
    finally:
        engine.dispose()
    return len(frame)
