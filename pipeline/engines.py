"""Where the Ibis expressions run: embedded DuckDB (default) or a Spark session, chosen by
params.yaml `engine`. The feature code is the same on both."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ibis

from common.errors import ChurnError
from common.params import Params, SparkParams
from features.contract import TABLES, ibis_schema


def spark_session(spark: SparkParams = SparkParams()):
    """A Spark session set up against the known traps: Java 17+, UTC session time zone,
    PYSPARK_PYTHON = this venv's python, a temporary warehouse dir, no UI."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ChurnError("engine: spark needs pyspark: pip install -e '.[spark]'") from exc
    java = shutil.which("java")
    if java is None:
        raise ChurnError("engine: spark needs Java 17 or newer on PATH (java not found)")
    version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = version.split('"')[1].split(".")[0] if '"' in version else "0"
    if major.isdigit() and int(major) < 17:
        raise ChurnError(f"engine: spark needs Java 17 or newer; found {version.splitlines()[0]}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(spark.master)
               .appName("churn-pipeline")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="churn-spark-"))
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "8"))
    for key, value in spark.conf.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(params: Params) -> ibis.BaseBackend:
    if params.engine == "duckdb":
        con = ibis.duckdb.connect()
        # row order of the feature table carries no meaning (readers sort by key), and keeping
        # it costs parallelism when writing; no progress bar in logs
        con.raw_sql("SET preserve_insertion_order = false; SET enable_progress_bar = false")
        return con
    return ibis.pyspark.connect(spark_session(params.spark))


def connect_canonical(canonical: Path, params: Params
                      ) -> tuple[ibis.BaseBackend, dict[str, ibis.Table]]:
    """The canonical tables on the configured engine."""
    con = connect(params)
    return con, read_canonical(con, canonical)


def read_canonical(con: ibis.BaseBackend, canonical: Path) -> dict[str, ibis.Table]:
    tables = {name: con.read_parquet(str(canonical / f"{name}.parquet"), table_name=name)
              for name in TABLES if (canonical / f"{name}.parquet").exists()}
    if "orders" not in tables:
        raise ChurnError(f"{canonical}: no orders.parquet; run the ingest stage first")
    return tables


def write_parquet(con: ibis.BaseBackend, expr: ibis.Table, target: str | Path) -> Path:
    """Write the expression's rows as Parquet, atomically. DuckDB writes one file; Spark writes
    a folder of part files (pandas and DuckDB read either)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.unlink(missing_ok=True)
    con.to_parquet(expr, str(tmp))
    if target.is_dir():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def validate_tables(tables: dict[str, ibis.Table]) -> None:
    """Check the canonical tables against the contract where they live (DuckDB or Spark),
    with pandera's Ibis backend: the checks run as queries, no data is collected."""
    import pandera.errors

    problems = []
    for name, table in tables.items():
        for col, kind in TABLES[name].columns.items():
            if kind == "ts" and col in table.columns and not table[col].type().is_timestamp():
                problems.append(f"{name}.{col} is {table[col].type()}, not a timestamp")
        try:
            ibis_schema(name, list(table.columns)).validate(table, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            cases = exc.schema_errors if hasattr(exc, "schema_errors") else []
            detail = "; ".join(str(e).splitlines()[0][:160] for e in cases[:5]) or str(exc)[:300]
            problems.append(f"{name}: {detail}")
    if problems:
        raise ChurnError("canonical tables break the data contract: " + " | ".join(problems))
