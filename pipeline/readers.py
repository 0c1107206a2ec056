"""Find and read a shop's files (CSV, whitespace text, JSON or Parquet) and map their columns.
Every problem is one line naming the file: never a traceback, never a file echoed whole."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import ChurnError
from common.params import TableFormat
from features.contract import TABLES

SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".tsv", ".txt", ".dat", ".json", ".jsonl",
            ".ndjson")
PARQUET = (".parquet", ".pq")
JSON = (".json", ".jsonl", ".ndjson")
SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods", ".numbers")
#: integers read as pandas' nullable integers: a column with a gap stays exact (a float64
#: holds integers exactly only up to 2**53, so long ids would lose digits)
_INTEGERS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(),
             pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
             pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
             pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype()}


def shorten(text: str, limit: int = 160) -> str:
    """One line of at most `limit` characters (a file's first line may be a whole file)."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else f"{line[:limit]}… ({len(line):,} characters)"


def locate(input_path: Path, table: str, fmt: TableFormat) -> Path | None:
    """The file holding `table`, or None when the shop has no such table. Two files for one
    table (orders.csv and orders.parquet) are an error unless `file` chooses."""
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
    found = [input_path / f"{table}{s}" for s in SUFFIXES if (input_path / f"{table}{s}").exists()]
    if len(found) > 1:
        raise ChurnError(
            f"{input_path}: table '{table}' has {len(found)} files: "
            f"{', '.join(p.name for p in found)}; keep one, or choose it with "
            f"data.tables.{table}.file")
    if found:
        return found[0]
    if table == "orders":
        names = sorted(p.name for p in input_path.iterdir())
        listed = ", ".join(shorten(n, 40) for n in names[:10]) + (
            f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise ChurnError(
            f"{input_path}: no orders file (looked for orders{{{','.join(SUFFIXES)}}}); "
            f"found: {listed or 'nothing'}")
    return None


def _kind(path: Path, fmt: TableFormat) -> str:
    if fmt.format != "auto":
        return fmt.format
    suffix = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".gz") \
        else path.suffix.lower()
    if suffix in PARQUET:
        return "parquet"
    if suffix in JSON:
        return "json"
    if suffix in SPREADSHEETS:
        raise ChurnError(f"{path}: a spreadsheet; save it as CSV (UTF-8) or Parquet and point "
                         "data.input (or data.tables.<table>.file) at that file")
    return "csv"


def read_raw(path: Path, fmt: TableFormat, table: str = "orders") -> pd.DataFrame:
    """Read a file as the shop wrote it. Text is read as strings so ids keep leading zeros;
    Parquet integers stay exact integers."""
    kind = _kind(path, fmt)
    try:
        codecs.lookup(fmt.encoding)
    except LookupError:
        raise ChurnError(f"{path}: unknown encoding {fmt.encoding!r} (data.tables.{table}."
                         "encoding); use e.g. utf-8, utf-8-sig, latin-1, cp1252, utf-16") from None
    try:
        if kind == "parquet":
            return pq.read_table(path).to_pandas(types_mapper=_INTEGERS.get)
        if path.stat().st_size == 0:
            raise ChurnError(f"{path}: file is empty (0 bytes)")
        if kind == "json":
            lines = path.suffix.lower() in (".jsonl", ".ndjson")
            frame = pd.read_json(path, lines=lines, dtype=False, convert_dates=False,
                                 encoding=fmt.encoding)
            text = [c for c in frame.columns if frame[c].dtype == object
                    and frame[c].map(lambda v: isinstance(v, str) or v is None).all()]
            return frame.astype(dict.fromkeys(text, "string"))
        sep = r"\s+" if kind == "whitespace" else fmt.delimiter
        return pd.read_csv(
            path, sep=sep, header=0 if fmt.header else None,
            names=list(fmt.names) if fmt.names else None,
            dtype=str, encoding=fmt.encoding, skipinitialspace=True,
            keep_default_na=False, na_values=[""],     # `NA` may be a region: cleaning decides
        )
    except ChurnError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise ChurnError(f"{path}: file is empty (no header, no rows)") from exc
    except UnicodeError as exc:
        raise ChurnError(f"{path}: not {fmt.encoding} text ({shorten(exc, 80)}); set "
                         f"data.tables.{table}.encoding, e.g. latin-1, cp1252 or utf-16"
                         ) from None
    except (pd.errors.ParserError, OSError, ValueError, TypeError, pa.ArrowException) as exc:
        raise ChurnError(f"{path}: cannot be read as {kind}: "
                         f"{shorten(str(exc).strip() or type(exc).__name__)}") from None


def map_columns(raw: pd.DataFrame, table: str, fmt: TableFormat, path: Path) -> pd.DataFrame:
    """Rename the shop's columns to canonical names; keep only contract columns."""
    spec = TABLES[table]
    raw = raw.rename(columns=lambda c: str(c).strip().lstrip("\ufeff").strip())
    unknown_targets = set(fmt.columns) - set(spec.columns)
    if unknown_targets:
        raise ChurnError(
            f"params.yaml data.tables.{table}.columns maps unknown column(s) "
            f"{sorted(unknown_targets)}; the contract's columns are {list(spec.columns)}"
        )
    if raw.columns.duplicated().any():
        twice = sorted({shorten(c, 40) for c in raw.columns[raw.columns.duplicated()]})
        raise ChurnError(f"{path}: column(s) {', '.join(twice)} appear twice; rename one")
    source_of = {canon: fmt.columns.get(canon, canon) for canon in spec.columns}
    for canon in spec.required:
        if source_of[canon] not in raw.columns:
            hint = "" if canon == source_of[canon] else f" (mapped from '{source_of[canon]}')"
            found = ", ".join(shorten(c, 40) for c in raw.columns[:12]) + (
                f" and {len(raw.columns) - 12} more" if len(raw.columns) > 12 else "")
            raise ChurnError(
                f"{path}: required column '{canon}'{hint} of table '{table}' is missing; "
                f"found columns: {shorten(found, 300)}. "
                f"Map it in params.yaml data.tables.{table}.columns"
            )
    present = {canon: src for canon, src in source_of.items() if src in raw.columns}
    return pd.DataFrame({canon: raw[src] for canon, src in present.items()})
