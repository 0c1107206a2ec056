"""Exports: atomic files, a database table replaced per as_of in one transaction."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import export
from pipeline.export import EXPORT_COLUMNS, read_table, write_files, write_table


def rows(as_of: str, n: int = 3, prob: float = 0.5) -> pd.DataFrame:
    frame = pd.DataFrame({c: [""] * n for c in EXPORT_COLUMNS})
    return frame.assign(customer_id=[f"{i:05d}" for i in range(n)], as_of=as_of,
                        churn_probability=prob, value_at_stake=1.5, reason_confidence=0.5,
                        in_budget=[True] + [False] * (n - 1))


def test_files_round_trip(tmp_path):
    parquet, csv = write_files(rows("2025-01-01"), tmp_path, "2025-01-01")
    back = pd.read_parquet(parquet)
    assert list(back.columns) == EXPORT_COLUMNS
    assert back["customer_id"].tolist() == ["00000", "00001", "00002"]
    assert pd.read_csv(csv, dtype={"customer_id": str})["customer_id"].iloc[1] == "00001"


def test_a_failure_mid_write_leaves_the_previous_export(tmp_path, monkeypatch):
    write_files(rows("2025-01-01", prob=0.1), tmp_path, "2025-01-01")
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken_to_csv(self, path, **kwargs):
        with open(path, "w") as fh:
            fh.write("customer_id,as_of\n00000,2025")  # half a file, then the disk "fails"
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError):
        write_files(rows("2025-01-01", prob=0.9), tmp_path, "2025-01-01")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temp file left behind
    kept = pd.read_csv(tmp_path / "churn_scores_2025-01-01.csv")
    assert (kept["churn_probability"] == 0.1).all() and len(kept) == 3


def test_sqlite_round_trip_replaces_only_that_as_of(tmp_path):
    url = f"sqlite:///{tmp_path}/out/churn.db"
    write_table(rows("2025-01-01", n=3), url, "churn_scores", "2025-01-01")
    write_table(rows("2025-02-01", n=2), url, "churn_scores", "2025-02-01")
    write_table(rows("2025-01-01", n=4, prob=0.7), url, "churn_scores", "2025-01-01")
    jan = read_table(url, "churn_scores", "2025-01-01")
    assert len(jan) == 4 and (jan["churn_probability"] == 0.7).all()
    assert jan["customer_id"].tolist() == ["00000", "00001", "00002", "00003"]
    assert len(read_table(url, "churn_scores", "2025-02-01")) == 2


def test_a_failed_database_write_rolls_back(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/churn.db"
    write_table(rows("2025-01-01", n=3, prob=0.1), url, "churn_scores", "2025-01-01")
    real_to_sql = pd.DataFrame.to_sql

    def to_sql_then_fail(self, *args, **kwargs):
        real_to_sql(self.head(1), *args, **kwargs)  # some rows reach the table...
        raise RuntimeError("connection lost")        # ...then the write fails

    monkeypatch.setattr(pd.DataFrame, "to_sql", to_sql_then_fail)
    with pytest.raises(RuntimeError):
        export.write_table(rows("2025-01-01", n=5, prob=0.9), url, "churn_scores", "2025-01-01")
    monkeypatch.undo()
    kept = read_table(url, "churn_scores", "2025-01-01")
    assert len(kept) == 3 and (kept["churn_probability"] == 0.1).all()
