"""Reading the features table (a Parquet file, or a folder of part files: one per cutoff from
DuckDB, any number from Spark): the model features it holds, the labelled rows train and
evaluate both use (the same sample), and the scoring snapshot, whole or in batches.

What lands in a pandas frame is checked against the memory this machine has free before it
is read: too many rows stop with one line saying what to set, never with an out-of-memory
kill half-way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from common.errors import ChurnError
from common.hashing import md5_threshold
from features.registry import REGISTRY
from pipeline.engines import duckdb_connect, fitting
from pipeline.memory import free_memory

#: share of the free memory one frame read here may take (pandas copies it on the way)
FRAME_SHARE = 0.4
#: pandas bytes per value, beyond 8 for a number: an id or a short text (object dtype)
TEXT_BYTES = 64


def _source(path: Path) -> str:
    return f"{path}/**/*.parquet" if Path(path).is_dir() else str(path)


def _dataset(path: Path) -> ds.Dataset:
    """The table as one dataset (a file, or every Parquet file under a folder)."""
    files = sorted(str(p) for p in Path(path).rglob("*.parquet")) if Path(path).is_dir() \
        else [str(path)]
    return ds.dataset(files, format="parquet")


def _schema(path: Path) -> pa.Schema:
    """The table's schema (a file's, or a folder's first part file's), not its rows."""
    return pq.read_schema(next(Path(path).rglob("*.parquet")) if Path(path).is_dir()
                          else path)


def columns(path: Path) -> list[str]:
    """Every column of the features table."""
    return _schema(path).names


def feature_names(path: Path) -> list[str]:
    """The model features of this shop: the registry's features the table has, in registry
    order (the engine writes exactly those the shop's tables support)."""
    present = set(columns(path))
    return [f.name for f in REGISTRY if f.name in present]


def frame_bytes(path: Path, rows: int, names: Sequence[str] | None = None) -> int:
    """Rough pandas size of `rows` rows of the table (its columns, or `names`)."""
    schema = _schema(path)
    kinds = [schema.field(n).type for n in (names or schema.names)]
    texts = sum(pa.types.is_string(t) or pa.types.is_large_string(t) for t in kinds)
    return rows * (8 * len(kinds) + TEXT_BYTES * texts)


def check_fits(path: Path, rows: int, what: str, hint: str,
               names: Sequence[str] | None = None) -> None:
    """Stop with one line when `rows` rows of the table would not fit in free memory."""
    need, free = frame_bytes(path, rows, names), free_memory()
    if need > FRAME_SHARE * free:
        raise ChurnError(f"{path}: {what} ({rows:,} rows, ~{need / 2**30:.1f} GiB in memory) "
                         f"do not fit in the {free / 2**30:.1f} GiB free: {hint}")


def labelled_rows(path: Path, sample_customers: int | None = None) -> pd.DataFrame:
    """The labelled rows, on one machine, in a fixed order (the engines write rows in any
    order, and bagging depends on it). With `train.sample_customers`, a deterministic customer
    sample: md5(customer_id) below a threshold, the same whichever engine wrote the features,
    so DuckDB and Spark runs, and the train and evaluate stages, see the same customers."""
    source = _source(path)
    where = "split = 'train'"
    with fitting(f"{path}: reading the labelled rows",
                 hint="set train.sample_customers lower"):
        con = duckdb_connect()
        if sample_customers:
            n = con.execute(f"SELECT count(DISTINCT customer_id) FROM read_parquet('{source}') "
                            f"WHERE {where}").fetchone()[0]
            if n > sample_customers:
                cut = md5_threshold(sample_customers / n)
                where += f" AND substr(md5(customer_id), 1, 8) < '{cut}'"
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{source}') "
                           f"WHERE {where}").fetchone()[0]
        check_fits(path, rows, "the labelled rows",
                   f"set train.sample_customers (now {sample_customers}) lower")
        return con.execute(f"SELECT * FROM read_parquet('{source}') WHERE {where} "
                           "ORDER BY cutoff, customer_id").df()


def scoring_rows(path: Path, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The scoring snapshot (as_of), its columns or `names`; scoring sorts by customer once it
    has every row."""
    table = _dataset(path)
    score = ds.field("split") == "score"
    check_fits(path, table.count_rows(filter=score), "the scoring snapshot",
               "score fewer customers (score.max_lapsed_days)", names)
    return table.to_table(columns=list(names) if names else None,
                          filter=score).to_pandas()


def scoring_batches(path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    """The scoring snapshot in frames of at most `batch_rows` rows, every column: what a
    score needs of one customer is their own row, so memory holds one batch's wide rows."""
    scanner = _dataset(path).scanner(filter=ds.field("split") == "score",
                                     batch_size=batch_rows)
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in scanner.to_batches():
        pending.append(batch)
        size += batch.num_rows
        while size >= batch_rows:
            table = pa.Table.from_batches(pending, schema=scanner.projected_schema)
            yield table.slice(0, batch_rows).to_pandas()
            pending, size = table.slice(batch_rows).to_batches(), size - batch_rows
    if size:
        yield pa.Table.from_batches(pending, schema=scanner.projected_schema).to_pandas()


def all_rows(path: Path) -> pd.DataFrame:
    """Every row (labelled and scoring), ordered by cutoff and customer."""
    check_fits(path, _dataset(path).count_rows(), "all the rows",
               "this needs a shop with labelled history (the BTYD fallback reads every row)")
    return pd.read_parquet(path).sort_values(["cutoff", "customer_id"], ignore_index=True)
