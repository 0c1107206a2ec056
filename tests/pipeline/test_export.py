"""Exports: files and database rows published as one unit, recovery after a kill, spreadsheet-
safe CSV, a database table replaced per as_of in one transaction, safe identifiers."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import ExportParams, parse
from pipeline import export
from pipeline.export import (
    EXPORT_COLUMNS,
    LATEST,
    neutralise_formulas,
    publish,
    read_table,
    recover,
    write_table,
)


def rows(as_of: str, n: int = 3, prob: float = 0.5, horizon: int = 365) -> pd.DataFrame:
    frame = pd.DataFrame({c: [""] * n for c in EXPORT_COLUMNS})
    return frame.assign(customer_id=[f"{i:05d}" for i in range(n)], as_of=as_of,
                        horizon_days=horizon, churn_probability=prob, value_at_stake=1.5,
                        reason_confidence=0.5, in_budget=[True] + [False] * (n - 1),
                        holdout=False, send=[True] + [False] * (n - 1), channel="email",
                        action=["reminder"] + ["none"] * (n - 1), reason="forgot")


def params(tmp_path) -> ExportParams:
    return ExportParams(database_url=f"sqlite:///{tmp_path}/db/churn.db")


def test_publish_writes_files_table_and_manifest(tmp_path):
    p = params(tmp_path)
    out = publish(rows("2025-01-01"), tmp_path / "exports", p)
    parquet, csv = (tmp_path / "exports" / f"churn_scores_2025-01-01_h365.{s}" for s in (
        "parquet", "csv"))
    assert [str(parquet), str(csv)] == out["exports"][:2] and out["database_rows"] == 3
    back = pd.read_parquet(parquet)
    assert list(back.columns) == EXPORT_COLUMNS
    assert back["customer_id"].tolist() == ["00000", "00001", "00002"]
    assert pd.read_csv(csv, dtype={"customer_id": str})["customer_id"].iloc[1] == "00001"
    latest = json.loads((tmp_path / "exports" / LATEST).read_text())
    assert latest["as_of"] == "2025-01-01" and latest["rows"] == 3
    assert not list((tmp_path / "exports" / ".staging").iterdir())


def test_a_failure_mid_publication_leaves_the_previous_batch_everywhere(tmp_path, monkeypatch):
    p = params(tmp_path)
    publish(rows("2025-01-01", prob=0.1), tmp_path / "exports", p)

    def broken_to_csv(self, path, **kwargs):
        with open(path, "w") as fh:
            fh.write("customer_id,as_of\n00000,2025")  # half a file, then the disk "fails"
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError):
        publish(rows("2025-01-01", prob=0.9), tmp_path / "exports", p)
    monkeypatch.undo()
    notes = recover(tmp_path / "exports", p)
    assert len(notes) == 1 and notes[0].startswith("discarded an unfinished export")
    assert not list((tmp_path / "exports" / ".staging").iterdir())
    kept = pd.read_csv(tmp_path / "exports" / "churn_scores_2025-01-01_h365.csv")
    assert (kept["churn_probability"] == 0.1).all() and len(kept) == 3
    assert (read_table(p.database_url, p.table, "2025-01-01")["churn_probability"] == 0.1).all()


def test_a_run_killed_after_the_database_commit_is_finished_by_the_next(tmp_path, monkeypatch):
    """The database is the commit point: staged files whose token the database holds are
    moved into place by the next run; files and rows then come from the same run."""
    p = params(tmp_path)
    out_dir = tmp_path / "exports"
    publish(rows("2025-01-01", prob=0.1), out_dir, p)

    def killed(staging, target):
        raise KeyboardInterrupt  # the process dies between the commit and the renames

    monkeypatch.setattr(export, "_promote", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(rows("2025-01-01", n=4, prob=0.9), out_dir, p)
    monkeypatch.undo()
    assert len(pd.read_parquet(out_dir / "churn_scores_2025-01-01_h365.parquet")) == 3  # old files
    assert len(read_table(p.database_url, p.table, "2025-01-01")) == 4            # new rows
    notes = recover(out_dir, p)
    assert notes == ["finished the export of 2025-01-01 that a killed run left"]
    files = pd.read_parquet(out_dir / "churn_scores_2025-01-01_h365.parquet")
    assert len(files) == 4 and (files["churn_probability"] == 0.9).all()


def test_a_run_killed_before_the_database_commit_is_discarded(tmp_path, monkeypatch):
    p = params(tmp_path)
    out_dir = tmp_path / "exports"
    publish(rows("2025-01-01", prob=0.1), out_dir, p)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "write_table", killed)
    with pytest.raises(KeyboardInterrupt):
        publish(rows("2025-01-01", n=4, prob=0.9), out_dir, p)
    monkeypatch.undo()
    assert recover(out_dir, p)[0].startswith("discarded an unfinished export")
    assert len(pd.read_parquet(out_dir / "churn_scores_2025-01-01_h365.parquet")) == 3
    assert len(read_table(p.database_url, p.table, "2025-01-01")) == 3


def test_sqlite_round_trip_replaces_only_that_as_of(tmp_path):
    p = params(tmp_path)
    write_table(rows("2025-01-01", n=3), p, "2025-01-01", "t1")
    write_table(rows("2025-02-01", n=2), p, "2025-02-01", "t2")
    write_table(rows("2025-01-01", n=4, prob=0.7), p, "2025-01-01", "t3")
    jan = read_table(p.database_url, p.table, "2025-01-01")
    assert len(jan) == 4 and (jan["churn_probability"] == 0.7).all()
    assert jan["customer_id"].tolist() == ["00000", "00001", "00002", "00003"]
    assert len(read_table(p.database_url, p.table, "2025-02-01")) == 2
    assert export.committed_token(p, "2025-01-01") == "t3"


def test_a_failed_database_write_rolls_back(tmp_path, monkeypatch):
    p = params(tmp_path)
    write_table(rows("2025-01-01", n=3, prob=0.1), p, "2025-01-01", "t1")
    real_to_sql = pd.DataFrame.to_sql

    def to_sql_then_fail(self, *args, **kwargs):
        real_to_sql(self.head(1), *args, **kwargs)  # some rows reach the table...
        raise RuntimeError("connection lost")        # ...then the write fails

    monkeypatch.setattr(pd.DataFrame, "to_sql", to_sql_then_fail)
    with pytest.raises(RuntimeError):
        write_table(rows("2025-01-01", n=5, prob=0.9), p, "2025-01-01", "t2")
    monkeypatch.undo()
    kept = read_table(p.database_url, p.table, "2025-01-01")
    assert len(kept) == 3 and (kept["churn_probability"] == 0.1).all()
    assert export.committed_token(p, "2025-01-01") == "t1"


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_parquet_keeps_them(tmp_path):
    bad = rows("2025-01-01", n=6).assign(
        customer_id=["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "ok"],
        product_ids=["=cmd|' /C calc'!A0", "", "", "", "", "a,b"])
    safe = neutralise_formulas(bad)
    assert safe["customer_id"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2",
                                            "'@SUM(A1)", "'\tx", "ok"]
    assert safe["product_ids"].iloc[0] == "'=cmd|' /C calc'!A0"
    assert safe["churn_probability"].tolist() == bad["churn_probability"].tolist()
    p = params(tmp_path)
    publish(bad, tmp_path / "exports", p)
    csv = pd.read_csv(tmp_path / "exports" / "churn_scores_2025-01-01_h365.csv", dtype=str)
    assert csv["customer_id"].iloc[0].startswith("'=")
    exact = pd.read_parquet(tmp_path / "exports" / "churn_scores_2025-01-01_h365.parquet")
    assert exact["customer_id"].iloc[0] == "=HYPERLINK(\"http://x\")"
    assert read_table(p.database_url, p.table)["customer_id"].iloc[0].startswith("=")


@pytest.mark.parametrize("name", ['churn"; DROP TABLE x; --', "a b", "1abc", ""])
def test_a_table_name_that_is_no_plain_identifier_is_refused(name):
    with pytest.raises(ChurnError, match="export.table must match"):
        parse({"export": {"table": name}})


def test_send_lists_carry_only_who_to_contact_and_never_a_holdout(tmp_path):
    frame = rows("2025-03-01", n=6).assign(
        channel=["email", "sms", "email", "email", "phone", "email"],
        action=["reminder", "promotion_invite", "reminder", "new_arrivals", "care_call", "none"],
        send=[True, True, False, True, True, False],
        # the fourth is held out, and a buggy upstream still says send: it is not sent
        holdout=[False, False, True, True, False, False],
        reason_evidence=["bought once, 200 days ago", "", "", "", "", ""])
    out = publish(frame, tmp_path / "exports", params(tmp_path))
    exports = tmp_path / "exports"
    email = pd.read_csv(exports / "send_2025-03-01_h365_email.csv", dtype=str)
    assert email["customer_id"].tolist() == ["00000"]
    assert list(email.columns) == ["customer_id", "as_of", "channel", "action", "offer",
                                   "product_ids", "why"]
    assert email["why"].iloc[0] == "forgot: bought once, 200 days ago"
    assert pd.read_csv(exports / "send_2025-03-01_h365_sms.csv", dtype=str)[
        "customer_id"].tolist() == ["00001"]
    held = pd.read_csv(exports / "holdout_2025-03-01_h365.csv", dtype=str)
    assert held["customer_id"].tolist() == ["00002", "00003"]
    sent = set()
    for name in out["exports"]:
        if "/send_" in name:
            sent |= set(pd.read_csv(name, dtype=str)["customer_id"])
    assert sent.isdisjoint(held["customer_id"]) and out["send"] == {
        "email": 1, "phone": 1, "sms": 1}
    assert "churn_probability" not in email.columns  # nothing a CRM should not see


def test_a_batch_of_another_horizon_is_another_file_and_a_backfill_never_hides_the_newest(
        tmp_path):
    p, out_dir = params(tmp_path), tmp_path / "exports"
    publish(rows("2025-03-01", horizon=365), out_dir, p)
    publish(rows("2025-03-01", horizon=182, prob=0.2), out_dir, p)
    assert (out_dir / "churn_scores_2025-03-01_h365.parquet").exists()
    assert (out_dir / "churn_scores_2025-03-01_h182.parquet").exists()
    both = read_table(p.database_url, p.table, "2025-03-01")
    assert sorted(both["horizon_days"].astype(int).unique()) == [182, 365]
    publish(rows("2025-01-01"), out_dir, p)   # a backfill
    assert json.loads((out_dir / LATEST).read_text())["as_of"] == "2025-03-01"
    assert (out_dir / "churn_scores_2025-01-01_h365.parquet").exists()


def test_the_data_dictionary_in_docs_is_the_one_in_code():
    from pathlib import Path

    from pipeline.columns import markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "export.md"
    assert doc.read_text() == markdown(), "docs/export.md is stale: python -m pipeline.columns"
