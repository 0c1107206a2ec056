"""Where the Ibis expressions run: embedded DuckDB (default) or a Spark session, chosen by
params.yaml `engine`. The feature code is the same on both.

DuckDB runs within `duckdb.memory_limit` (default: half the machine's memory) and spills to
`duckdb.temp_directory` beyond it; a query that still cannot fit stops with one line saying
what to set (`fitting`), never with the kernel's out-of-memory kill."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import ibis

from common.errors import ChurnError
from common.params import DuckDBParams, Params, SparkParams
from features.contract import TABLES, ibis_schema
from features.engine import Plan, rounded, snapshot
from pipeline.memory import machine_memory

#: share of the machine's memory DuckDB may use when duckdb.memory_limit is null: the rest
#: is for the stage's Python side (pandas frames, models) and the system
DEFAULT_MEMORY_SHARE = 0.5


def memory_limit(dp: DuckDBParams = DuckDBParams()) -> str:
    """DuckDB's memory limit: duckdb.memory_limit as written, else a share of the machine."""
    if dp.memory_limit is not None:
        return dp.memory_limit
    return f"{int(machine_memory() * DEFAULT_MEMORY_SHARE) // 2**20}MiB"


def configure(con: duckdb.DuckDBPyConnection, dp: DuckDBParams = DuckDBParams()) -> None:
    """The memory limit, the spill folder, and what every stage's DuckDB wants: row order of
    a written table carries no meaning (readers sort by key), and keeping it costs parallelism
    and memory; no progress bar in logs."""
    Path(dp.temp_directory).mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit(dp)}'")
    quoted = str(dp.temp_directory).replace("'", "''")
    con.execute(f"SET temp_directory = '{quoted}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")


@contextlib.contextmanager
def fitting(what: str, dp: DuckDBParams = DuckDBParams(), hint: str = "") -> Iterator[None]:
    """Turn DuckDB's out-of-memory error (memory limit reached and nothing left to spill, or
    the spill folder full) into one line: what ran out, within which limit, what to set."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:160]
        more = f", or {hint}" if hint else ""
        raise ChurnError(
            f"{what}: out of memory within duckdb.memory_limit {memory_limit(dp)} (spilling to "
            f"{dp.temp_directory}): set duckdb.memory_limit higher (params.yaml){more} "
            f"[{detail}]") from None


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


def duckdb_connect(dp: DuckDBParams = DuckDBParams()) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection within the memory limit (readers of written tables)."""
    con = duckdb.connect()
    configure(con, dp)
    return con


def connect(params: Params) -> ibis.BaseBackend:
    if params.engine == "duckdb":
        con = ibis.duckdb.connect()
        configure(con.con, params.duckdb)
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
    _replace(tmp, target)
    return target


def write_snapshots(con: ibis.BaseBackend, run: Plan, target: str | Path) -> Path:
    """Write the features table of a plan, floats rounded (`features.engine.rounded`), so
    that memory holds one snapshot's wide rows at a time, never every snapshot's.

    DuckDB: the shared passes computed once (temporary tables, spilled beyond the memory
    limit), then each snapshot written alone, one Parquet file per cutoff in the folder
    `target` (the readers in pipeline/rows.py take a file or a folder). Spark (out of core by
    itself): the shared passes persisted, the snapshots stacked and written as one folder of
    part files."""
    target = Path(target)
    if len(run.cuts) > 1:
        run = run.cached()
    parts = [rounded(snapshot(run, c)) for c in run.cuts]
    if con.name != "duckdb":
        return write_parquet(con, parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0],
                             target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.unlink(missing_ok=True)
    tmp.mkdir()
    for i, part in enumerate(parts):
        con.to_parquet(part, str(tmp / f"part-{i:03d}.parquet"))
    _replace(tmp, target)
    return target


def _replace(tmp: Path, target: Path) -> None:
    """Put `tmp` (a file or a folder) where `target` is, whichever of the two target was."""
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(tmp, target)


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
