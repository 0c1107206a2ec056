"""DuckDB within a memory limit, its out-of-memory error as one line, and the features table
written one snapshot at a time (the same rows as the stacked expression)."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import DuckDBParams, FeatureParams, parse
from features.cutoffs import training_cutoffs
from features.engine import build, plan, rounded
from pipeline.engines import (
    connect,
    duckdb_connect,
    fitting,
    memory_limit,
    write_snapshots,
)
from pipeline.memory import machine_memory


def test_memory_limit_is_the_params_or_half_the_machine(tmp_path):
    assert memory_limit(DuckDBParams(memory_limit="3GB")) == "3GB"
    half = machine_memory() // 2 // 2**20
    assert memory_limit(DuckDBParams()) == f"{half}MiB"
    con = duckdb_connect(DuckDBParams(memory_limit="300MiB",
                                      temp_directory=str(tmp_path / "spill")))
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in ("300.0MiB", "314.5MB")
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] \
        == str(tmp_path / "spill")
    assert (tmp_path / "spill").is_dir()


def test_a_memory_limit_that_is_no_size_is_one_line():
    with pytest.raises(ChurnError, match=r"^params.yaml: duckdb.memory_limit must match"):
        parse({"duckdb": {"memory_limit": "lots"}})


def test_out_of_memory_is_one_line_saying_what_to_set(tmp_path):
    dp = DuckDBParams(memory_limit="16MB", temp_directory=str(tmp_path / "spill"))
    con = duckdb_connect(dp)
    with pytest.raises(ChurnError) as caught, fitting("features at 12 cutoffs", dp,
                                                      "features.snapshots lower"):
        # a list per group cannot spill: beyond the limit DuckDB gives up
        con.execute("SELECT list(range) FROM range(20000000)").fetchall()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("features at 12 cutoffs: out of memory within duckdb.memory_limit "
                              "16MB")
    assert "set duckdb.memory_limit higher" in message and "features.snapshots lower" in message


@pytest.fixture(scope="module")
def stacked(small_shop):
    """The small shop's features at 12 cutoffs + as_of, with the evidence, as one expression."""
    tables, _ = small_shop
    as_of = tables["orders"]["order_ts"].max().date()
    cutoffs = [*training_cutoffs(tables["orders"]["order_ts"].min().date(), as_of, 365), as_of]
    return tables, cutoffs, as_of


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(cutoff=pd.to_datetime(frame["cutoff"]))
    return frame.sort_values(["cutoff", "customer_id"], ignore_index=True)


def test_snapshots_written_one_at_a_time_equal_the_stacked_table(stacked, tmp_path):
    tables, cutoffs, as_of = stacked
    params = parse({"duckdb": {"temp_directory": str(tmp_path / "spill")}})
    con = connect(params)
    canon = {k: con.create_table(k, v) for k, v in tables.items()}
    expr, _ = build(canon, cutoffs, as_of, FeatureParams(), 365, evidence=True)
    whole = _sorted(con.execute(rounded(expr)))
    target = tmp_path / "features.parquet"
    target.write_bytes(b"an older table, a file")
    write_snapshots(con, plan(canon, cutoffs, as_of, FeatureParams(), 365, evidence=True),
                    target)
    files = sorted(p.name for p in Path(target).iterdir())
    assert files == [f"part-{i:03d}.parquet" for i in range(len(cutoffs))]
    # one cutoff per file, in order
    per_file = [pd.read_parquet(target / f)["cutoff"].unique() for f in files]
    assert [len(c) for c in per_file] == [1] * len(cutoffs)
    assert [pd.Timestamp(c[0]).date() for c in per_file] == cutoffs
    written = _sorted(pd.read_parquet(target))
    assert len(written) > 1000
    pd.testing.assert_frame_equal(written, whole, check_dtype=False)


def test_a_single_snapshot_needs_no_cache(stacked, tmp_path):
    tables, _, as_of = stacked
    con = ibis.duckdb.connect()
    canon = {k: con.create_table(k, v) for k, v in tables.items()}
    target = write_snapshots(con, plan(canon, [as_of], as_of, evidence=True),
                             tmp_path / "f.parquet")
    assert [p.name for p in target.iterdir()] == ["part-000.parquet"]
    assert set(pd.read_parquet(target)["split"]) == {"score"}
