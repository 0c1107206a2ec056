"""The features table's readers take a file or a folder alike; the scoring snapshot in batches
is the whole snapshot; a frame too big for free memory stops with one line."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from common.errors import ChurnError
from features.cutoffs import training_cutoffs
from features.engine import build, plan, rounded
from pipeline import rows
from pipeline.engines import write_parquet, write_snapshots


@pytest.fixture(scope="module")
def tables_written(small_shop, tmp_path_factory):
    """The small shop's features table as one file and as a folder of one file per cutoff."""
    tables, _ = small_shop
    as_of = tables["orders"]["order_ts"].max().date()
    cutoffs = [*training_cutoffs(tables["orders"]["order_ts"].min().date(), as_of, 365), as_of]
    con = ibis.duckdb.connect()
    canon = {k: con.create_table(k, v) for k, v in tables.items()}
    out = tmp_path_factory.mktemp("rows")
    expr, _ = build(canon, cutoffs, as_of, evidence=True)
    file = write_parquet(con, rounded(expr), out / "file.parquet")
    folder = write_snapshots(con, plan(canon, cutoffs, as_of, evidence=True),
                             out / "folder.parquet")
    return file, folder


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["cutoff", "customer_id"], ignore_index=True)


def test_file_and_folder_read_alike(tables_written):
    file, folder = tables_written
    assert folder.is_dir() and file.is_file()
    assert rows.feature_names(file) == rows.feature_names(folder)
    assert len(rows.feature_names(folder)) > 20
    pd.testing.assert_frame_equal(rows.labelled_rows(file), rows.labelled_rows(folder))
    n = rows.labelled_rows(folder)["customer_id"].nunique()
    sampled = rows.labelled_rows(folder, sample_customers=n // 4)
    assert 0.15 * n < sampled["customer_id"].nunique() < 0.35 * n
    pd.testing.assert_frame_equal(sampled, rows.labelled_rows(file, sample_customers=n // 4))
    # a sample no smaller than the shop keeps every customer
    pd.testing.assert_frame_equal(rows.labelled_rows(folder, sample_customers=n),
                                  rows.labelled_rows(folder))
    pd.testing.assert_frame_equal(_by_key(rows.scoring_rows(file)),
                                  _by_key(rows.scoring_rows(folder)))
    assert set(rows.scoring_rows(folder)["split"]) == {"score"}
    pd.testing.assert_frame_equal(rows.all_rows(file), rows.all_rows(folder))


def test_scoring_batches_are_the_snapshot(tables_written):
    _, folder = tables_written
    whole = rows.scoring_rows(folder)
    batches = list(rows.scoring_batches(folder, 200))
    assert len(whole) > 600
    assert [len(b) for b in batches] == [200] * (len(whole) // 200) + (
        [len(whole) % 200] if len(whole) % 200 else [])
    together = pd.concat(batches, ignore_index=True)
    pd.testing.assert_frame_equal(_by_key(together), _by_key(whole))
    narrow = rows.scoring_rows(folder, ["customer_id", "monetary_mean"])
    assert list(narrow.columns) == ["customer_id", "monetary_mean"]
    assert len(narrow) == len(whole)


def test_rows_beyond_free_memory_stop_with_one_line(tables_written, monkeypatch):
    _, folder = tables_written
    monkeypatch.setattr(rows, "free_memory", lambda: 10_000)
    with pytest.raises(ChurnError, match=r"the labelled rows \([\d,]+ rows, ~.* GiB in memory\) "
                                         r"do not fit in the 0.0 GiB free: set "
                                         r"train.sample_customers \(now 50\) lower"):
        rows.labelled_rows(folder, sample_customers=50)
    with pytest.raises(ChurnError, match="the scoring snapshot"):
        rows.scoring_rows(folder)
