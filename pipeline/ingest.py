"""DVC stage `ingest`: read the shop's files, validate them against the contract, write canonical
Parquet under data/canonical and a report of every row read, kept, dropped and fixed."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.errors

from features import cleaning
from features.contract import OPTIONAL_TABLES, TABLES, validate
from pipeline.errors import ChurnError
from pipeline.io import write_json, write_parquet
from pipeline.params import get, load_params
from pipeline.readers import TableFormat, locate, map_columns, read_raw

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


def read_table(input_path: Path, table: str, fmt: TableFormat) -> tuple[pd.DataFrame, Path] | None:
    path = locate(input_path, table, fmt)
    if path is None:
        return None
    raw = read_raw(path, fmt)
    return map_columns(raw, table, fmt, path), path


def ingest(input_path: Path, data_params: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict]:
    """All tables of a shop in canonical form, and the ingest report."""
    tables_cfg = data_params.get("tables") or {}
    max_bad = float(data_params.get("max_bad_date_share", 0.01))
    fmts = {t: TableFormat.from_params(tables_cfg.get(t)) for t in TABLES}

    read = read_table(input_path, "orders", fmts["orders"])
    assert read is not None  # locate raises for a missing orders file
    raw_orders, path = read
    report = cleaning.TableReport(str(path))
    if raw_orders.empty:
        raise ChurnError(f"{path}: orders file has a header but no rows")
    orders = cleaning.clean_orders(raw_orders, report, fmts["orders"].date_format, max_bad)
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
        frame = cleaning.clean_table(table, raw, report, fmts[table].date_format, max_bad)
        if "order_id" in TABLES[table].required:
            frame = cleaning.drop_unknown_orders(frame, orders, report)
        if TABLES[table].event_time:
            frame = cleaning.drop_future_rows(frame, TABLES[table].event_time, last_order_ts,
                                              report)
        _contract_check(table, frame, str(path))
        tables[table] = frame

    summary = {
        "input": str(input_path),
        "tables": {name: r.as_dict() for name, r in reports.items()},
        "first_order_ts": orders["order_ts"].min(),
        "last_order_ts": last_order_ts,
        "customers": int(orders["customer_id"].nunique()),
    }
    return tables, summary


def write_canonical(tables: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """One Parquet file per contract table; tables the shop lacks are removed from out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        target = out_dir / f"{table}.parquet"
        if table in tables:
            write_parquet(tables[table], target)
        else:
            target.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--input", help="overrides data.input")
    parser.add_argument("--out", default="data/canonical")
    parser.add_argument("--report", default="reports/ingest.json")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    input_path = Path(args.input or get(params, "data.input"))
    tables, summary = ingest(input_path, params.get("data") or {})
    write_canonical(tables, Path(args.out))
    write_json(summary, args.report)
    log.info("ingested %s", {t: len(f) for t, f in tables.items()})


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
