"""Reading the features table (a Parquet file, or a folder of part files from Spark): the model
features it holds, the labelled rows train and evaluate both use (the same sample), and the
scoring snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from common.hashing import md5_threshold
from features.registry import REGISTRY


def _source(path: Path) -> str:
    return f"{path}/**/*.parquet" if Path(path).is_dir() else str(path)


def columns(path: Path) -> list[str]:
    """Every column of the features table (read from its schema, not its rows)."""
    return pq.read_schema(next(Path(path).rglob("*.parquet")) if Path(path).is_dir()
                          else path).names


def feature_names(path: Path) -> list[str]:
    """The model features of this shop: the registry's features the table has, in registry
    order (the engine writes exactly those the shop's tables support)."""
    present = set(columns(path))
    return [f.name for f in REGISTRY if f.name in present]


def labelled_rows(path: Path, sample_customers: int | None = None) -> pd.DataFrame:
    """The labelled rows, on one machine, in a fixed order (the engines write rows in any
    order, and bagging depends on it). With `train.sample_customers`, a deterministic customer
    sample: md5(customer_id) below a threshold, the same whichever engine wrote the features,
    so DuckDB and Spark runs, and the train and evaluate stages, see the same customers."""
    source = _source(path)
    con = duckdb.connect()
    where = "split = 'train'"
    if sample_customers:
        n = con.execute(f"SELECT count(DISTINCT customer_id) FROM read_parquet('{source}') "
                        f"WHERE {where}").fetchone()[0]
        if n > sample_customers:
            cut = md5_threshold(sample_customers / n)
            where += f" AND substr(md5(customer_id), 1, 8) < '{cut}'"
    return con.execute(f"SELECT * FROM read_parquet('{source}') WHERE {where} "
                       "ORDER BY cutoff, customer_id").df()


def scoring_rows(path: Path) -> pd.DataFrame:
    """The scoring snapshot (as_of); scoring sorts by customer once it has every row."""
    return pd.read_parquet(path, filters=[("split", "==", "score")])


def all_rows(path: Path) -> pd.DataFrame:
    """Every row (labelled and scoring), ordered by cutoff and customer."""
    return pd.read_parquet(path).sort_values(["cutoff", "customer_id"], ignore_index=True)
