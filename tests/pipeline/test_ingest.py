"""Ingest: the data contract, foreign formats, and every kind of bad input with its message."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import parse
from features.contract import TABLES, validate
from pipeline.ingestion import ingest
from tests.conftest import write_csv

ORDERS = """customer_id,order_ts,amount,status
00001,2024-01-05,10.5,completed
00001,2024-02-05,20.0,completed
2,2024-01-07,7.0,
"""


def run(path: Path, now: pd.Timestamp | None = None, **data
        ) -> tuple[dict[str, pd.DataFrame], dict]:
    """Ingest with a `data` section given as params.yaml would spell it (validated alike)."""
    return ingest(path, parse({"data": data}).data, now=now)


def test_synthetic_shop_ingests_into_the_contract(small_shop_dir):
    tables, summary = run(small_shop_dir)
    # a generated shop has no known causes and no customer attributes
    assert set(tables) == set(TABLES) - {"labels", "customers"}
    for name, frame in tables.items():
        validate(name, frame)  # raises if the contract is broken
    orders = tables["orders"]
    assert orders["customer_id"].dtype == "string"
    assert orders["order_ts"].dtype == "datetime64[us]"
    assert summary["tables"]["orders"]["rows_kept"] == len(orders)


def test_single_orders_file_with_only_required_columns(tmp_path):
    tables, summary = run(write_csv(tmp_path / "my_orders.csv", ORDERS))
    assert list(tables) == ["orders"]
    orders = tables["orders"]
    assert sorted(orders["customer_id"].unique()) == ["1", "2"]  # one spelling: 00001 is 1
    assert orders["status"].tolist() == ["completed", "completed", "completed"]
    assert orders["amount"].sum() == pytest.approx(37.5)
    assert summary["customers"] == 2


def test_cdnow_style_text_file_maps_with_params_only(tmp_path):
    path = write_csv(tmp_path / "CDNOW_sample.txt",
                     "00001 19970101  1  11.77\n00002 19970112  1  12.00\n"
                     "00002 19970112  5  77.00\n00003 19970102  2  20.76\n")
    tables, _ = run(path, tables={"orders": {
        "format": "whitespace", "header": False, "names": ["cust", "day", "qty", "paid"],
        "date_format": "%Y%m%d",
        "columns": {"customer_id": "cust", "order_ts": "day", "quantity": "qty", "amount": "paid"},
    }})
    orders = tables["orders"]
    assert orders["customer_id"].tolist() == ["1", "3", "2", "2"]
    assert orders["order_ts"].iloc[0] == pd.Timestamp("1997-01-01")
    assert orders["quantity"].tolist() == [1.0, 2.0, 1.0, 5.0]
    assert orders["amount"].sum() == pytest.approx(121.53)


def test_semicolon_csv_with_renamed_columns(tmp_path):
    path = write_csv(tmp_path / "orders.csv",
                     "Kunde;Datum;Betrag\nA1;03.01.2024;5\nA2;04.01.2024;6\n")
    tables, _ = run(path, tables={"orders": {
        "delimiter": ";", "date_format": "%d.%m.%Y",
        "columns": {"customer_id": "Kunde", "order_ts": "Datum", "amount": "Betrag"}}})
    assert tables["orders"]["order_ts"].dt.month.tolist() == [1, 1]


def test_missing_required_column_names_file_column_and_found_columns(tmp_path):
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_ts,total\n1,2024-01-01,5\n")
    with pytest.raises(ChurnError) as err:
        run(path)
    msg = str(err.value)
    assert str(path) in msg and "'amount'" in msg
    assert "found columns: customer_id, order_ts, total" in msg


def test_empty_file_and_header_only_file(tmp_path):
    with pytest.raises(ChurnError, match="empty"):
        run(write_csv(tmp_path / "a" / "orders.csv", ""))
    with pytest.raises(ChurnError, match="header but no rows"):
        run(write_csv(tmp_path / "b" / "orders.csv", "customer_id,order_ts,amount\n"))


def test_few_bad_dates_are_dropped_and_counted(tmp_path):
    rows = "".join(f"c{i},2024-01-{1 + i % 28:02d},1\n" for i in range(199)) + "cx,notadate,1\n"
    tables, summary = run(write_csv(tmp_path / "orders.csv", "customer_id,order_ts,amount\n"
                                    + rows), max_bad_share=0.01)
    assert len(tables["orders"]) == 199
    assert summary["tables"]["orders"]["dropped"] == {"unparseable_order_ts": 1}


def test_too_many_bad_dates_stop_the_run_with_count_and_examples(tmp_path):
    path = write_csv(tmp_path / "orders.csv",
                     "customer_id,order_ts,amount\n1,2024-01-01,1\n2,31/31/2024,1\n3,soon,1\n")
    with pytest.raises(ChurnError) as err:
        run(path, max_bad_share=0.05)
    msg = str(err.value)
    assert "2 of 3 rows" in msg and "'31/31/2024'" in msg and "'soon'" in msg
    assert "order_ts" in msg and str(path) in msg


def test_negative_amounts_become_returns_missing_amounts_are_dropped(tmp_path):
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_ts,amount,status\n"
                     "1,2024-01-01,-12.5,completed\n1,2024-01-02,,completed\n"
                     "2,2024-01-03,abc,\n2,2024-01-04,8,completed\n")
    tables, summary = run(path, max_bad_share=0.5)
    orders = tables["orders"]
    assert orders["status"].tolist() == ["returned", "completed"]
    assert orders["amount"].tolist() == [12.5, 8.0]
    rep = summary["tables"]["orders"]
    assert rep["dropped"] == {"missing_amount": 2}
    assert rep["fixed"] == {"negative_amount_as_return": 1}


def test_exact_duplicate_rows_are_dropped_and_counted(tmp_path):
    path = write_csv(tmp_path / "orders.csv", "customer_id,order_ts,amount\n"
                     "1,2024-01-01,5\n1,2024-01-01,5\n1,2024-01-01,6\n")
    tables, summary = run(path)
    assert len(tables["orders"]) == 2
    assert summary["tables"]["orders"]["dropped"] == {"exact_duplicate_rows": 1}


def test_mixed_type_customer_ids_are_text_in_one_spelling(tmp_path):
    csv = write_csv(tmp_path / "a" / "orders.csv", "customer_id,order_ts,amount\n"
                    "00001,2024-01-01,5\n1,2024-01-02,5\nAB-7,2024-01-03,5\n1.5,2024-01-04,5\n")
    ids = run(csv)[0]["orders"]["customer_id"].tolist()
    assert ids == ["1", "1", "AB-7", "1.5"]
    pq_dir = tmp_path / "b"
    pq_dir.mkdir()
    pd.DataFrame({"customer_id": [1.0, 22.0], "order_ts": pd.to_datetime(["2024-01-01"] * 2),
                  "amount": [1.0, 2.0]}).to_parquet(pq_dir / "orders.parquet")
    assert run(pq_dir)[0]["orders"]["customer_id"].tolist() == ["1", "22"]


def test_order_items_pointing_to_unknown_orders_are_dropped(tmp_path):
    write_csv(tmp_path / "orders.csv", "order_id,customer_id,order_ts,amount\n"
              "o1,1,2024-01-01,5\no2,2,2024-01-02,5\n")
    write_csv(tmp_path / "order_items.csv", "order_id,product_id,quantity,unit_price\n"
              "o1,p1,1,5\no2,p1,1,5\no9,p2,1,3\n")
    tables, summary = run(tmp_path, max_bad_share=0.5)
    assert tables["order_items"]["order_id"].tolist() == ["o1", "o2"]
    assert summary["tables"]["order_items"]["dropped"] == {"unknown_order_id": 1}


def test_events_after_the_last_order_date_are_dropped(tmp_path):
    write_csv(tmp_path / "orders.csv", "customer_id,order_ts,amount\n1,2024-01-01,5\n"
              "2,2024-03-01 10:00,5\n")
    write_csv(tmp_path / "events.csv", "customer_id,event_ts,event_type\n"
              "1,2024-02-01,visit\n1,2024-03-01 23:59,Visit\n2,2024-03-02,visit\n"
              "2,2025-01-01,email_open\n")
    tables, summary = run(tmp_path, max_bad_share=0.5, now=pd.Timestamp("2026-01-01"))
    events = tables["events"]
    assert len(events) == 2 and set(events["event_type"]) == {"visit"}
    assert summary["tables"]["events"]["dropped"] == {"after_last_order_date": 2}


def test_ratings_outside_one_to_five_are_dropped(tmp_path):
    write_csv(tmp_path / "orders.csv", "customer_id,order_ts,amount\n1,2024-01-01,5\n")
    write_csv(tmp_path / "reviews.csv", "customer_id,review_ts,rating\n"
              "1,2024-01-01,5\n1,2024-01-01,0\n1,2024-01-01,9\n")
    tables, summary = run(tmp_path, max_bad_share=0.7)
    assert tables["reviews"]["rating"].tolist() == [5.0]
    assert summary["tables"]["reviews"]["dropped"] == {"rating_out_of_range": 2}


def test_unknown_mapping_target_is_a_clear_error(tmp_path):
    path = write_csv(tmp_path / "orders.csv", ORDERS)
    with pytest.raises(ChurnError, match="maps unknown column"):
        run(path, tables={"orders": {"columns": {"custmer_id": "x"}}})


def test_customers_table_is_read_with_its_attributes(tmp_path):
    write_csv(tmp_path / "orders.csv", ORDERS)
    write_csv(tmp_path / "customers.csv", "customer_id,signup_ts,region,birth_year,favourite\n"
              "00001,2023-05-01,North,1984,tea\n2,2023-11-02,south,,coffee\n")
    tables, summary = run(tmp_path)
    customers = tables["customers"].set_index("customer_id")
    assert list(customers.index) == ["1", "2"]      # 00001 in both files: one customer
    assert customers.loc["1", "signup_ts"] == pd.Timestamp("2023-05-01")
    assert customers.loc["1", "birth_year"] == 1984 and pd.isna(customers.loc["2",
                                                                            "birth_year"])
    assert "favourite" not in customers.columns     # not in the contract: not read
    assert summary["tables"]["customers"]["rows_kept"] == 2


def test_a_table_too_large_for_free_memory_stops_before_it_is_read(tmp_path, monkeypatch):
    from pipeline import ingestion

    lines = "".join(f"c{i % 97},o{i},2024-01-{1 + i % 28:02d},{i % 50}.5\n" for i in range(20_000))
    (tmp_path / "orders.csv").write_text("customer_id,order_id,order_ts,amount\n" + lines)
    rows, columns = ingestion.estimated_rows(tmp_path / "orders.csv")
    assert columns == 4 and abs(rows - 20_001) < 200    # from the size and the first lines
    assert len(run(tmp_path)[0]["orders"]) == 20_000
    # the estimate: rows x columns x bytes per value, against what the machine has free
    monkeypatch.setattr(ingestion, "free_memory", lambda: rows * 4 * 60)
    with pytest.raises(ChurnError, match=r"orders.csv: table 'orders' \(~[\d,]+ rows x 4 "
                                         r"columns\) needs ~0.0 GiB to read and clean, 0.0 GiB "
                                         r"are free: .*a shorter period of orders"):
        run(tmp_path)
