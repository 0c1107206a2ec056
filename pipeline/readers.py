"""Find and read a shop's files (CSV, whitespace text or Parquet) and map their columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from common.errors import ChurnError
from common.params import TableFormat
from features.contract import TABLES

SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt", ".dat")


def locate(input_path: Path, table: str, fmt: TableFormat) -> Path | None:
    """The file holding `table`, or None when the shop has no such table."""
    if fmt.file:
        path = Path(fmt.file)
        if not path.is_absolute() and input_path.is_dir():
            path = input_path / path
        if not path.exists():
            raise ChurnError(f"{path}: file for table '{table}' (params.yaml) not found")
        return path
    if not input_path.exists():
        raise ChurnError(f"{input_path}: input path not found")
    if input_path.is_file():
        return input_path if table == "orders" else None
    for suffix in SUFFIXES:
        candidate = input_path / f"{table}{suffix}"
        if candidate.exists():
            return candidate
    if table == "orders":
        found = sorted(p.name for p in input_path.iterdir())[:10]
        raise ChurnError(
            f"{input_path}: no orders file (looked for orders{{{','.join(SUFFIXES)}}}); "
            f"found: {', '.join(found) or 'nothing'}"
        )
    return None


def read_raw(path: Path, fmt: TableFormat) -> pd.DataFrame:
    """Read a file as the shop wrote it. Text is read as strings so ids keep leading zeros."""
    kind = fmt.format
    if kind == "auto":
        kind = "parquet" if path.suffix in (".parquet", ".pq") else "csv"
    try:
        if kind == "parquet":
            return pq.read_table(path).to_pandas()
        if path.stat().st_size == 0:
            raise ChurnError(f"{path}: file is empty (0 bytes)")
        sep = r"\s+" if kind == "whitespace" else fmt.delimiter
        return pd.read_csv(
            path, sep=sep, header=0 if fmt.header else None,
            names=list(fmt.names) if fmt.names else None,
            dtype=str, encoding=fmt.encoding, skipinitialspace=True,
        )
    except ChurnError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise ChurnError(f"{path}: file is empty (no header, no rows)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ChurnError(f"{path}: cannot be read as {kind}: {first_line}") from exc


def map_columns(raw: pd.DataFrame, table: str, fmt: TableFormat, path: Path) -> pd.DataFrame:
    """Rename the shop's columns to canonical names; keep only contract columns."""
    spec = TABLES[table]
    raw = raw.rename(columns=lambda c: str(c).strip())
    unknown_targets = set(fmt.columns) - set(spec.columns)
    if unknown_targets:
        raise ChurnError(
            f"params.yaml data.tables.{table}.columns maps unknown column(s) "
            f"{sorted(unknown_targets)}; the contract's columns are {list(spec.columns)}"
        )
    source_of = {canon: fmt.columns.get(canon, canon) for canon in spec.columns}
    for canon in spec.required:
        if source_of[canon] not in raw.columns:
            hint = "" if canon == source_of[canon] else f" (mapped from '{source_of[canon]}')"
            raise ChurnError(
                f"{path}: required column '{canon}'{hint} of table '{table}' is missing; "
                f"found columns: {', '.join(map(str, raw.columns))}. "
                f"Map it in params.yaml data.tables.{table}.columns"
            )
    present = {canon: src for canon, src in source_of.items() if src in raw.columns}
    return pd.DataFrame({canon: raw[src] for canon, src in present.items()})
