"""Reading a shop: its files, validated against the contract and cleaned into canonical tables,
with a report of every row read, kept, dropped and fixed (the ingest stage and `churn ingest`)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pandera.errors
import pyarrow.parquet as pq

from common.errors import ChurnError
from common.ids import canonical_ids
from common.params import DataParams, TableFormat
from features import cleaning
from features.contract import OPTIONAL_TABLES, TABLES, validate
from pipeline.io import write_parquet
from pipeline.memory import free_memory
from pipeline.readers import SUFFIXES, locate, map_columns, read_raw, shorten

log = logging.getLogger(__name__)


def _contract_check(table: str, frame: pd.DataFrame, source: str) -> None:
    try:
        validate(table, frame)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        summary = "; ".join(
            f"column '{col}' fails {check} on {n} row(s)"
            for (col, check), n in cases.groupby(["column", "check"]).size().items()
        )
        raise ChurnError(f"{source}: table '{table}' breaks the data contract: {summary}") from exc


#: peak bytes per value of a table while it is read and cleaned, the copies pandas makes on
#: the way included (benchmarks/ingest.py: ~62 on 10M orders of five columns, text ids)
INGEST_BYTES_PER_VALUE = 60
#: bytes read from the head of a text file to estimate its number of rows
_HEAD_BYTES = 1 << 20


def estimated_rows(path: Path) -> tuple[int, int]:
    """Rows and columns of a shop's file, before reading it: Parquet's metadata, else the
    file size over the mean length of the first lines (a text file's columns: its header's)."""
    if path.suffix.lower() == ".parquet":
        meta = pq.ParquetFile(path).metadata
        return meta.num_rows, meta.num_columns
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    lines = head.splitlines()
    if len(lines) < 2:
        return len(lines), 1
    columns = max(len(lines[0].split(sep)) for sep in (b",", b";", b"\t", b"|"))
    return int(size / (len(head) / len(lines))), columns


def check_fits_memory(path: Path, table: str) -> None:
    """Stop with one line before a table too large for this machine's free memory is read
    (ingest holds a table whole), never with an out-of-memory kill half-way."""
    rows, columns = estimated_rows(path)
    need, free = rows * columns * INGEST_BYTES_PER_VALUE, free_memory()
    if need > 0.9 * free:
        raise ChurnError(
            f"{path}: table '{table}' (~{rows:,} rows x {columns} columns) needs ~"
            f"{need / 2**30:.1f} GiB to read and clean, {free / 2**30:.1f} GiB are free: "
            "ingest holds a table in memory; run it where more memory is free, or export "
            f"fewer rows (a shorter period of {table})")


def read_table(input_path: Path, table: str, fmt: TableFormat) -> tuple[pd.DataFrame, Path] | None:
    path = locate(input_path, table, fmt)
    if path is None:
        return None
    check_fits_memory(path, table)
    raw = read_raw(path, fmt, table)
    return map_columns(raw, table, fmt, path), path


def ingest(input_path: Path, data: DataParams, now: pd.Timestamp | None = None
           ) -> tuple[dict[str, pd.DataFrame], dict]:
    """All tables of a shop in canonical form, and the ingest report. `now` (naive UTC, the
    wall clock by default) bounds the dates: later ones are dropped as `future_date`."""
    try:
        return _ingest(input_path, data, now)
    except ChurnError as exc:      # one line, of a length a terminal shows
        raise ChurnError(shorten(str(exc), 600)) from None


def _ingest(input_path: Path, data: DataParams, now: pd.Timestamp | None
            ) -> tuple[dict[str, pd.DataFrame], dict]:
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    fmts = {t: data.tables.get(t, TableFormat()) for t in TABLES}
    unknown = sorted(set(data.tables) - set(TABLES))
    if unknown:
        raise ChurnError(f"params.yaml data.tables: unknown table(s) {unknown}; the contract's "
                         f"tables are {list(TABLES)}")
    mapped = [t for t in TABLES if t != "orders" and fmts[t].status_map]
    if mapped:
        raise ChurnError(f"params.yaml data.tables.{mapped[0]}.status_map: only orders have a "
                         "status; move it to data.tables.orders.status_map")

    read = read_table(input_path, "orders", fmts["orders"])
    if read is None:
        raise ChurnError(f"{input_path}: no orders table found")
    raw_orders, path = read
    report = cleaning.TableReport(str(path))
    if raw_orders.empty:
        raise ChurnError(f"{path}: orders file has a header but no rows")
    orders = cleaning.clean_orders(raw_orders, report, fmts["orders"], data.max_bad_share, now)
    report.check(data.max_bad_share, "orders")
    if orders.empty:
        raise ChurnError(f"{path}: no usable orders left after cleaning: {dict(report.dropped)}")
    _contract_check("orders", orders, str(path))
    tables = {"orders": orders}
    reports = {"orders": report}
    last_order_ts = orders["order_ts"].max()

    for table in OPTIONAL_TABLES:
        read = read_table(input_path, table, fmts[table])
        if read is None:
            continue
        raw, path = read
        report = cleaning.TableReport(str(path))
        reports[table] = report
        if raw.empty:
            report.notes.append("file has no rows: treated as absent")
            continue
        frame = cleaning.clean_table(table, raw, report, fmts[table], now)
        if "order_id" in TABLES[table].required:
            frame = cleaning.drop_unknown_orders(frame, orders, report)
        if TABLES[table].event_time:
            frame = cleaning.drop_future_rows(frame, TABLES[table].event_time, last_order_ts,
                                              report)
        report.check(data.max_bad_share, table)
        _contract_check(table, frame, str(path))
        tables[table] = frame

    summary = {
        "input": str(input_path),
        "tables": {name: r.as_dict() for name, r in reports.items()},
        "ignored_files": ignored_files(input_path),
        "first_order_ts": orders["order_ts"].min(),
        "last_order_ts": last_order_ts,
        "customers": int(orders["customer_id"].nunique()),
    }
    return tables, summary


def ignored_files(input_path: Path) -> list[str]:
    """Files in the input folder that are no contract table: noted, never an error."""
    if not input_path.is_dir():
        return []
    known = {f"{t}{suffix}" for t in TABLES for suffix in SUFFIXES}
    return sorted(p.name for p in input_path.iterdir()
                  if p.is_file() and p.name not in known and not p.name.startswith((".", "_")))


#: a generated (demo) shop's true causes: copied beside the canonical tables for the demo's
#: backtest stage (demo/dvc.yaml); a real shop has none
TRUTH_FILE = "_truth.parquet"


def write_canonical(tables: dict[str, pd.DataFrame], out_dir: Path,
                    input_path: Path | None = None) -> None:
    """One Parquet file per contract table; tables the shop lacks are removed from out_dir.
    A demo shop's truth file comes along (and goes when the input has none)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        target = out_dir / f"{table}.parquet"
        if table in tables:
            write_parquet(tables[table], target)
        else:
            target.unlink(missing_ok=True)
    truth = input_path / TRUTH_FILE if input_path is not None and input_path.is_dir() else None
    if truth is not None and truth.exists():
        known = pd.read_parquet(truth)
        if "customer_id" in known:       # in the ids' one spelling, as the tables are
            known["customer_id"] = canonical_ids(known["customer_id"])
        write_parquet(known, out_dir / TRUTH_FILE)
    else:
        (out_dir / TRUTH_FILE).unlink(missing_ok=True)
