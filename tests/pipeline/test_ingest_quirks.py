"""Real shops' export quirks, one tiny hand-made shop each: it reads right (dates equal the
truth, amounts sum to the cent, ids match across files and weeks) or stops with one line
naming what to set, exit 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from common.errors import ChurnError
from common.params import parse
from pipeline.ingestion import ingest
from pipeline.runinfo import resolve
from tests.conftest import churn, write_csv

NOW = pd.Timestamp("2026-06-01")
ROOT = Path(__file__).resolve().parents[2]


def run(path: Path, **data) -> tuple[dict[str, pd.DataFrame], dict]:
    return ingest(path, parse({"data": data}).data, now=NOW)


def orders_csv(path: Path, rows: list[tuple], header: str = "customer_id,order_ts,amount",
               sep: str = ",") -> Path:
    lines = [header] + [sep.join(f'"{v}"' if sep in str(v) else str(v) for v in r)
                        for r in rows]
    return write_csv(path, "\n".join(lines) + "\n")


def many(n: int, amount: str = "10.00", start: str = "2024-01-01") -> list[tuple]:
    days = pd.date_range(start, periods=n, freq="D")
    return [(f"c{i % 37}", d.strftime("%Y-%m-%d"), amount) for i, d in enumerate(days)]


# --- dates ----------------------------------------------------------------------------------

def test_day_first_dates_equal_the_truth(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", [
        ("1", "05/03/2024 14:30", "1"), ("2", "31/12/2023", "1"), ("3", "01/02/2024", "1"),
        ("4", "12/11/2023 09:05:30", "1")])
    orders = run(path)[0]["orders"].set_index("customer_id")["order_ts"]
    assert orders.to_dict() == {"1": pd.Timestamp("2024-03-05 14:30"),
                                "2": pd.Timestamp("2023-12-31"),
                                "3": pd.Timestamp("2024-02-01"),
                                "4": pd.Timestamp("2023-11-12 09:05:30")}


def test_undecidable_dates_stop_and_the_advice_followed_gives_the_truth(tmp_path):
    path = orders_csv(tmp_path / "orders.csv", [("1", "05.03.2024", "1"),
                                                ("2", "04.03.2024 10:00", "1")])
    with pytest.raises(ChurnError) as err:
        run(path)
    assert "data.tables.orders.date_format: dayfirst" in str(err.value)
    orders = run(path, tables={"orders": {"date_format": "dayfirst"}})[0]["orders"]
    assert orders["order_ts"].tolist() == [pd.Timestamp("2024-03-04 10:00"),
                                           pd.Timestamp("2024-03-05")]


def test_an_order_dated_2099_is_dropped_counted_and_never_moves_as_of(tmp_path):
    rows = many(250) + [("c1", "2099-01-01", "10.00"), ("c2", "1970-01-01", "10.00")]
    tables, summary = run(orders_csv(tmp_path / "orders.csv", rows))
    assert summary["tables"]["orders"]["dropped"] == {"future_date": 1, "placeholder_date": 1}
    assert summary["last_order_ts"] == pd.Timestamp("2024-09-06")
    params = parse({"data": {"input": str(tmp_path)}})
    run_info = resolve(params, summary["first_order_ts"].date(), summary["last_order_ts"].date())
    assert str(run_info.as_of) == "2024-09-06"


def test_epoch_milliseconds_and_excel_day_numbers_are_dates(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    truth = pd.to_datetime(["2024-01-01 10:00:00", "2024-02-29 23:59:59"])
    pd.DataFrame({"customer_id": [1, 2], "amount": [1.0, 2.0],
                  "order_ts": (truth - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1)}
                 ).to_parquet(folder / "orders.parquet")
    assert run(folder)[0]["orders"]["order_ts"].tolist() == list(truth)
    path = orders_csv(tmp_path / "b" / "orders.csv", [("1", "45292.5", "1"),
                                                      ("2", "45351", "1")])
    assert run(path)[0]["orders"]["order_ts"].tolist() == [pd.Timestamp("2024-01-01 12:00"),
                                                           pd.Timestamp("2024-02-29")]


# --- numbers --------------------------------------------------------------------------------

def test_us_thousands_keep_the_largest_orders_and_sum_to_the_cent(tmp_path):
    rows = [("1", "2024-01-01", "1,234.50"), ("2", "2024-01-02", "12.99"),
            ("3", "2024-01-03", "10,000.01"), ("4", "2024-01-04", "$1,999.99"),
            ("5", "2024-01-05", "$7")]
    tables, summary = run(orders_csv(tmp_path / "orders.csv", rows))
    assert summary["tables"]["orders"]["dropped"] == {}
    assert round(tables["orders"]["amount"].sum(), 2) == 13254.49


def test_german_amounts_with_a_euro_sign_sum_to_the_cent(tmp_path):
    rows = [("1", "2024-01-01", "1.234,50 €"), ("2", "2024-01-02", "12,99 €"),
            ("3", "2024-01-03", "3 €")]
    path = orders_csv(tmp_path / "orders.csv", rows, sep=";",
                      header="customer_id;order_ts;amount")
    tables, _ = run(path, tables={"orders": {"delimiter": ";"}})
    assert round(tables["orders"]["amount"].sum(), 2) == 1250.49


def test_yen_amounts_are_read_whole_without_advice(tmp_path):
    rows = [("1", "2024-01-01", "10,565"), ("2", "2024-01-02", "¥1,280"),
            ("3", "2024-01-03", "980")]
    tables, _ = run(orders_csv(tmp_path / "orders.csv", rows))
    assert tables["orders"]["amount"].tolist() == [10565.0, 1280.0, 980.0]


def test_a_wrong_decimal_setting_stops_and_the_advice_followed_sums_to_the_cent(tmp_path):
    rows = [("1", "2024-01-01", "12,50"), ("2", "2024-01-02", "1.234,56"),
            ("3", "2024-01-03", "7")]
    path = orders_csv(tmp_path / "orders.csv", rows)
    with pytest.raises(ChurnError) as err:
        run(path, tables={"orders": {"decimal": "."}})
    msg = str(err.value)
    assert "column 'amount'" in msg and "2 of 3 rows" in msg and "'12,50'" in msg
    assert "data.tables.orders.decimal" in msg
    tables, _ = run(path, tables={"orders": {"decimal": ","}})
    assert round(tables["orders"]["amount"].sum(), 2) == 1254.06


def test_undecidable_marks_stop_and_the_advice_followed_sums_to_the_cent(tmp_path):
    rows = [("1", "2024-01-01", "1,234"), ("2", "2024-01-02", "1.234"),
            ("3", "2024-01-03", "5")]
    path = orders_csv(tmp_path / "orders.csv", rows)
    with pytest.raises(ChurnError, match="set data.tables.orders.decimal and thousands"):
        run(path)
    tables, _ = run(path, tables={"orders": {"decimal": ".", "thousands": ","}})
    assert round(tables["orders"]["amount"].sum(), 3) == 1240.234


def test_any_loss_over_the_limit_stops_whatever_its_reason(tmp_path):
    rows = [(c, d, a if i < 95 else "n/a") for i, (c, d, a) in enumerate(many(100))]
    path = orders_csv(tmp_path / "orders.csv", rows)
    with pytest.raises(ChurnError) as err:
        run(path)
    msg = str(err.value)
    assert "5 of 100 rows (5.0%)" in msg and "missing_amount" in msg and "'n/a'" in msg
    tables, summary = run(path, max_bad_share=0.05)     # the advice: raise the limit
    assert summary["tables"]["orders"]["dropped"] == {"missing_amount": 5}
    assert round(tables["orders"]["amount"].sum(), 2) == 950.0


def test_the_old_limit_key_says_where_it_moved():
    with pytest.raises(ChurnError, match="data.max_bad_date_share has moved to "
                                         "data.max_bad_share"):
        parse({"data": {"max_bad_date_share": 0.05}})


# --- ids ------------------------------------------------------------------------------------

def test_ids_match_across_weeks_files_and_dtypes(tmp_path):
    week1, week2, week3 = tmp_path / "w1", tmp_path / "w2", tmp_path / "w3"
    week1.mkdir()
    pd.DataFrame({"customer_id": [1011, 1419], "order_ts": pd.to_datetime(["2024-01-01"] * 2),
                  "amount": [1.0, 2.0]}).to_parquet(week1 / "orders.parquet")
    orders_csv(week2 / "orders.csv", [("001011", "2024-01-08", "1"), ("001419", "2024-01-08",
                                                                       "2")])
    week3.mkdir()
    pd.DataFrame({"customer_id": [1011.0, None, 1419.0],
                  "order_ts": pd.to_datetime(["2024-01-15"] * 3),
                  "amount": [1.0, 2.0, 3.0]}).to_parquet(week3 / "orders.parquet")
    ids = [sorted(run(w, max_bad_share=0.5)[0]["orders"]["customer_id"]) for w in
           (week1, week2, week3)]
    assert ids == [["1011", "1419"]] * 3


def test_contacts_spelled_otherwise_match_their_orders(tmp_path):
    orders_csv(tmp_path / "orders.csv", [("1011", "2024-01-01", "1"), ("1012", "2024-01-02",
                                                                       "1")])
    write_csv(tmp_path / "contacts.csv", "customer_id,contact_ts,group\n"
              "001011,2023-12-01,treatment\n1012.0,2023-12-01,holdout\n")
    tables, _ = run(tmp_path)
    assert set(tables["contacts"]["customer_id"]) == set(tables["orders"]["customer_id"])


def test_ids_beyond_int64_in_parquet_stay_exact(tmp_path):
    big = 2**63 + 5
    pq.write_table(pa.table({
        "customer_id": pa.array([big, 7, None], pa.uint64()),
        "order_ts": ["2024-01-01", "2024-01-02", "2024-01-03"], "amount": [1.0, 2.0, 3.0]}),
        tmp_path / "orders.parquet")
    tables, summary = run(tmp_path, max_bad_share=0.5)
    assert tables["orders"]["customer_id"].tolist() == [str(big), "7"]
    assert summary["tables"]["orders"]["dropped"] == {"missing_customer_id": 1}


# --- statuses -------------------------------------------------------------------------------

def test_refunds_cancellations_and_unpaid_orders_are_no_purchases(tmp_path):
    rows = [("1", "2024-01-01", "1", "交易成功"), ("2", "2024-01-02", "1", "退款"),
            ("3", "2024-01-03", "1", "已取消"), ("4", "2024-01-04", "1", "failed"),
            ("5", "2024-01-05", "1", "pending"), ("6", "2024-01-06", "1", "on-hold"),
            ("7", "2024-01-07", "1", "wc-processing")]
    path = orders_csv(tmp_path / "orders.csv", rows, "customer_id,order_ts,amount,status")
    status = run(path)[0]["orders"].set_index("customer_id")["status"]
    assert status.to_dict() == {"1": "completed", "2": "returned", "3": "cancelled",
                                "4": "cancelled", "5": "cancelled", "6": "cancelled",
                                "7": "completed"}


def test_all_unknown_statuses_stop_and_the_status_map_reads_them(tmp_path):
    rows = [(str(i), "2024-01-01", "1", "Abgeschlossen" if i % 3 else "Storniert")
            for i in range(9)]
    path = orders_csv(tmp_path / "orders.csv", rows, "customer_id,order_ts,amount,status")
    with pytest.raises(ChurnError) as err:
        run(path)
    assert "'Abgeschlossen' 6, 'Storniert' 3" in str(err.value)
    status_map = {"Abgeschlossen": "completed", "Storniert": "cancelled"}
    orders = run(path, tables={"orders": {"status_map": status_map}})[0]["orders"]
    assert orders["status"].value_counts().to_dict() == {"completed": 6, "cancelled": 3}


# --- files ----------------------------------------------------------------------------------

def test_two_files_for_one_table_stop_unless_file_chooses(tmp_path):
    pd.DataFrame({"customer_id": ["1"], "order_ts": pd.to_datetime(["2023-01-01"]),
                  "amount": [1.0]}).to_parquet(tmp_path / "orders.parquet")
    orders_csv(tmp_path / "orders.csv", [("1", "2024-01-01", "1"), ("2", "2024-01-02", "1")])
    with pytest.raises(ChurnError) as err:
        run(tmp_path)
    assert "orders.parquet, orders.csv" in str(err.value)
    assert "data.tables.orders.file" in str(err.value)
    tables, _ = run(tmp_path, tables={"orders": {"file": "orders.csv"}})
    assert len(tables["orders"]) == 2


# --- one line, exit 2, from the command line ------------------------------------------------

def cli_ingest(tmp_path: Path, shop: Path, orders_format: dict) -> tuple[int, str]:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"tables": {"orders": orders_format}}}))
    result = churn("ingest", "--data", str(shop), "--params", str(params), "--out",
                   str(tmp_path / "canonical"), "--report", str(tmp_path / "ingest.json"),
                   cwd=tmp_path, PYTHONPATH=str(ROOT))
    return result.returncode, result.stderr


@pytest.mark.parametrize("orders_format, message", [
    ({"date_format": "%Q-%d"}, "is not a valid format"),
    ({"encoding": "klingon-8"}, "unknown encoding 'klingon-8'"),
    ({"encoding": "utf-16"}, "not utf-16 text"),
])
def test_bad_settings_are_one_line_and_exit_2(tmp_path, orders_format, message):
    orders_csv(tmp_path / "shop" / "orders.csv", [("1", "2024-01-01", "1")])
    code, err = cli_ingest(tmp_path, tmp_path / "shop", orders_format)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_one_line_json_file_is_read_or_named_shortly(tmp_path):
    good = tmp_path / "good" / "orders.json"
    good.parent.mkdir()
    good.write_text(json.dumps([{"customer_id": 7, "order_ts": "2024-01-01", "amount": "1.50"}]))
    tables, _ = run(good)
    assert tables["orders"]["customer_id"].tolist() == ["7"]
    bad = tmp_path / "bad" / "orders.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({f"field_{i}": ["x" * 50] for i in range(5000)}))
    code, err = cli_ingest(tmp_path, bad, {})
    assert code == 2 and "required column 'customer_id'" in err and "Traceback" not in err
    assert len(err) < 700
