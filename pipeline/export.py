"""Batch exports for CRM and marketing tools: the score file (Parquet and CSV), one send list
per channel, the holdout list, and a database table through a SQLAlchemy URL, published as one
unit (what each holds: pipeline/columns.py, docs/export.md).

Order of a publication: the files are written to `exports/.staging/<token>/` with a manifest;
the database rows of that batch (as_of and horizon) and its contact log rows are replaced in
one transaction that also records the token in `<table>_batches`; then the files are renamed
into place and `exports/latest.json` points at them (unless a newer batch is already out: a
backfill never hides it). A run killed at any step leaves either the previous batch
everywhere or, once the database has committed, a staging folder that the next run finishes
(`recover`): the files, the table and the manifest never mix two runs.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from common.params import ExportParams
from pipeline.columns import (
    EXPORT_COLUMNS,
    HOLDOUT_COLUMNS,
    SEND_COLUMNS,
    holdout_file,
    score_stem,
    send_file,
)
from pipeline.io import read_json, write_json, write_with

#: a spreadsheet evaluates a cell that starts with one of these (OWASP: CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LATEST = "latest.json"
CONTACT_LOG = "contacts.parquet"
#: the batch as the score stage leaves it for publication (in paths.yaml's `batch` folder)
BATCH_SCORES, BATCH_CONTACTS = "scores.parquet", "contacts.parquet"
#: the campaign results as published beside the batches
RESULTS = "campaign_results.csv"


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


def _replace_rows(conn, table: str, where: dict[str, object], frame: pd.DataFrame) -> None:
    """Delete the rows of one batch (`where`: column -> value; a row written before the
    column existed counts as matching) and append the new ones (in the caller's
    transaction)."""
    if sa.inspect(conn).has_table(table):
        existing = sa.Table(table, sa.MetaData(), autoload_with=conn)
        _add_missing_columns(conn, existing, frame)
        conn.execute(sa.delete(existing).where(*[
            sa.or_(existing.c[k] == v, existing.c[k].is_(None)) if k != next(iter(where))
            else existing.c[k] == v for k, v in where.items()]))
    frame.to_sql(table, conn, if_exists="append", index=False, chunksize=50_000)


def write_table(frame: pd.DataFrame, p: ExportParams, batch: str, token: str,
                contacts: pd.DataFrame | None = None) -> int:
    """Replace this batch's scores (its as_of and horizon) and its contact log rows (one batch
    a day: a re-run of the day replaces it) and record the publication token, in one
    transaction: readers see the old rows or the new ones, and a re-run batch never
    duplicates its contacts. Identifiers come from validated params and are quoted by
    SQLAlchemy, never pasted into SQL."""
    engine = _engine(p.database_url)
    meta = sa.MetaData()
    as_of = str(frame["as_of"].iloc[0]) if len(frame) else batch
    horizon = int(frame["horizon_days"].iloc[0]) if len(frame) else 0
    try:
        with engine.begin() as conn:
            model = str(frame["model_name"].iloc[0]) if len(frame) else ""
            _replace_rows(conn, p.table, {"as_of": as_of, "horizon_days": horizon,
                                          "model_name": model}, frame[EXPORT_COLUMNS])
            if contacts is not None:     # another shop's batch of the same day stays
                shop = {"shop": str(contacts["shop"].iloc[0])} if "shop" in contacts and \
                    len(contacts) else {}
                _replace_rows(conn, p.contacts_table, {"batch": as_of, **shop}, contacts)
            batches = sa.Table(_batches(p.table), meta, sa.Column("as_of", sa.String(32)),
                               sa.Column("token", sa.String(64)), sa.Column("rows", sa.Integer))
            batches.create(conn, checkfirst=True)
            conn.execute(sa.delete(batches).where(batches.c.as_of == batch))
            conn.execute(sa.insert(batches).values(as_of=batch, token=token, rows=len(frame)))
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
    latest = out_dir / LATEST
    newest = read_json(latest).get("as_of", "") if latest.exists() else ""
    if manifest["as_of"] >= newest:   # a backfill never hides the newest batch
        write_json(manifest, latest)
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
            if committed_token(p, info.get("batch", info["as_of"])) == info["token"]:
                _promote(staging, out_dir)
                notes.append(f"finished the export of {info['as_of']} that a killed run left")
                continue
        shutil.rmtree(staging, ignore_errors=True)
        notes.append(f"discarded an unfinished export ({staging.name})")
    return notes


def _send_lists(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """channel -> the customers to contact through it, in the send list's columns."""
    # a held-out customer is never sent, whatever else says so: the control group is the
    # measurement
    to_send = frame[frame["send"].astype(bool) & ~frame["holdout"].astype(bool)].sort_values(
        "customer_id", kind="stable")
    why = to_send["reason"].fillna("") + np.where(
        to_send["reason_evidence"].fillna("") != "", ": " + to_send["reason_evidence"].fillna(""),
        "")
    rows = to_send.assign(why=why)[[c.name for c in SEND_COLUMNS]]
    return {str(channel): part for channel, part in rows.groupby("channel", sort=True)}


def publish(frame: pd.DataFrame, out_dir: Path, p: ExportParams,
            contacts: pd.DataFrame | None = None) -> dict:
    """The batch's files (the score file, a send list per channel, the holdout list), the
    database rows and the batch's contact log rows, as one unit; then exports/contacts.parquet
    mirrors the whole contact log."""
    notes = recover(out_dir, p)
    token = uuid.uuid4().hex
    staging = out_dir / ".staging" / token
    staging.mkdir(parents=True)
    frame = frame[EXPORT_COLUMNS]
    as_of, horizon = str(frame["as_of"].iloc[0]), int(frame["horizon_days"].iloc[0])
    stem = score_stem(as_of, horizon)
    frame.to_parquet(staging / f"{stem}.parquet", index=False)
    for_crm = frame if p.include_holdout else frame[~frame["holdout"]]
    neutralise_formulas(for_crm).to_csv(staging / f"{stem}.csv", index=False)
    files = [f"{stem}.parquet", f"{stem}.csv"]
    sends = {}
    for channel, rows in _send_lists(frame).items():
        name = send_file(as_of, horizon, channel)
        neutralise_formulas(rows).to_csv(staging / name, index=False)
        files.append(name)
        sends[channel] = len(rows)
    held = frame.loc[frame["holdout"], [c.name for c in HOLDOUT_COLUMNS]].sort_values(
        "customer_id", kind="stable")
    neutralise_formulas(held).to_csv(staging / holdout_file(as_of, horizon), index=False)
    files.append(holdout_file(as_of, horizon))
    batch = stem
    write_json({"as_of": as_of, "horizon_days": horizon, "batch": batch, "token": token,
                "files": files, "rows": len(frame), "send": sends, "held_out": len(held),
                "table": p.table}, staging / "manifest.json")
    rows = write_table(frame, p, batch, token, contacts)
    placed = _promote(staging, out_dir)
    if contacts is not None:
        log = read_table(p.database_url, p.contacts_table)
        log = log.sort_values(["batch", "customer_id"], kind="stable", ignore_index=True)
        write_with(out_dir / CONTACT_LOG, lambda tmp: log.to_parquet(tmp, index=False))
    return {"exports": [str(f) for f in placed], "database_rows": rows, "send": sends,
            "held_out": len(held), "export_notes": notes}


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
