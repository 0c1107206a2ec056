"""Real-looking exports, 50 of them: each seed writes one shop's orders as some platform would
(its date style, number style, currency, id spellings, status words, file format, encoding)
with a few planted faults. Ingest must read every kept value exactly as the truth, count every
row it drops, and never let a bad date move as_of; or, where the truth itself is ambiguous,
stop with one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import parse
from pipeline.ingestion import ingest

NOW = pd.Timestamp("2026-06-01")
DATES = ["iso", "iso_t", "dmy_slash", "dmy_dot", "mdy_slash", "mdy_12h", "epoch_s", "epoch_ms",
         "excel", "yyyymmdd", "month_name", "iso_and_dmy", "cjk", "typed"]
ORDERED = ("dmy_slash", "dmy_dot", "mdy_slash", "mdy_12h")
NUMBERS = ["plain", "us", "de", "fr", "ch", "yen", "code_suffix", "typed"]
STATUSES = {
    "generic": {"completed": ["completed", "Shipped"], "returned": ["returned"],
                "cancelled": ["cancelled"]},
    "shopify": {"completed": ["paid", "fulfilled", "partially_refunded"],
                "returned": ["refunded"], "cancelled": ["voided"]},
    "woocommerce": {"completed": ["wc-completed", "processing"], "returned": ["refunded"],
                    "cancelled": ["failed", "pending", "on-hold", "Cancelled"]},
    "magento": {"completed": ["complete", "processing"], "returned": ["closed"],
                "cancelled": ["canceled", "holded"]},
    "taobao": {"completed": ["交易成功", "已发货"], "returned": ["退款成功", "退款"],
               "cancelled": ["交易关闭", "已取消"]},
}


def _truth(rng: np.random.Generator) -> pd.DataFrame:
    n = int(rng.integers(400, 700))
    end = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 6 * 365)))
    span = int(rng.integers(200, 3 * 365))
    seconds = rng.integers(0, span * 86400, n)
    ts = (end - pd.to_timedelta(seconds, unit="s")).floor("s")
    if rng.random() < 0.4:
        ts = ts.normalize()
    return pd.DataFrame({
        "order_id": np.arange(1, n + 1) * 7 + 100_000,
        "customer_id": rng.integers(1, 200, n) * 13,
        "order_ts": ts,
        "cents": rng.integers(1, 400_000, n) if rng.random() < 0.8 else
        rng.integers(1, 2_000, n) * 100,
        "status": rng.choice(["completed"] * 8 + ["returned", "cancelled"], n),
    })


def _dates(ts: pd.Series, style: str, rng: np.random.Generator) -> pd.Series:
    with_time = (ts != ts.dt.normalize()).any()
    clock = " %H:%M:%S" if with_time else ""
    if style == "iso":
        return ts.dt.strftime("%Y-%m-%d" + clock)
    if style == "iso_t":
        return ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "dmy_slash":
        return ts.dt.strftime("%d/%m/%Y" + clock)
    if style == "dmy_dot":
        return ts.dt.strftime("%d.%m.%Y" + (" %H:%M:%S" if with_time else ""))
    if style == "mdy_slash":
        return ts.dt.strftime("%m/%d/%Y" + clock)
    if style == "mdy_12h":
        return ts.dt.strftime("%-m/%-d/%Y %-I:%M:%S %p")
    if style == "epoch_s":
        return ((ts - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).astype(str)
    if style == "epoch_ms":
        return ((ts - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1)).astype(str)
    if style == "excel":
        days = (ts - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
        return days.map(lambda d: f"{d:.8f}".rstrip("0").rstrip("."))
    if style == "yyyymmdd":
        return ts.dt.strftime("%Y%m%d") if not with_time else ts.dt.strftime("%Y-%m-%d %H:%M:%S")
    if style == "month_name":
        return ts.dt.strftime("%d %b %Y" + clock)
    if style == "cjk":
        return ts.dt.strftime("%Y年%-m月%-d日" + clock)
    if style == "iso_and_dmy":         # two exports pasted together
        iso = ts.dt.strftime("%Y-%m-%d" + clock)
        dmy = ts.dt.strftime("%d/%m/%Y" + clock)
        return iso.where(rng.random(len(ts)) < 0.3, dmy)
    raise AssertionError(style)


def _group(v: float, thousands: str, decimal: str, places: int = 2) -> str:
    text = f"{v:,.{places}f}"
    return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)


def _amounts(cents: pd.Series, style: str, rng: np.random.Generator) -> tuple[pd.Series, dict]:
    v = cents / 100
    if style == "plain":
        return v.map(lambda x: f"{x:.2f}"), {}
    if style == "us":
        signed = rng.random(len(v)) < 0.5
        text = v.map(lambda x: _group(x, ",", "."))
        return text.where(~signed, "$" + text), {}
    if style == "de":
        return v.map(lambda x: _group(x, ".", ",") + " €"), {}
    if style == "fr":
        return v.map(lambda x: _group(x, "\u202f", ",")), {}
    if style == "ch":
        return v.map(lambda x: "CHF " + _group(x, "'", ".")), {}
    if style == "yen":
        return (cents // 100).map(lambda x: f"¥{x:,}"), {}
    if style == "code_suffix":
        return v.map(lambda x: f"{x:.2f} EUR"), {}
    raise AssertionError(style)


def _ids(ids: pd.Series, rng: np.random.Generator) -> pd.Series:
    style = rng.integers(0, 3, len(ids))
    plain, padded, floaty = ids.astype(str), ids.map(lambda i: f"{i:07d}"), ids.map(
        lambda i: f"{i}.0")
    return plain.where(style == 0, padded.where(style == 1, floaty))


def _shop(seed: int, folder: Path) -> tuple[Path, dict, pd.DataFrame, dict, bool]:
    """(file, data params, the rows ingest must keep, planted fault counts, ambiguous)."""
    rng = np.random.default_rng(seed)
    truth = _truth(rng)
    date_style, number_style = DATES[seed % len(DATES)], NUMBERS[(seed // 2) % len(NUMBERS)]
    platform = list(STATUSES)[seed % len(STATUSES)]
    if date_style in ORDERED and rng.random() < 0.3:    # no day above 12: ambiguous
        day = truth["order_ts"].dt.day
        truth["order_ts"] -= pd.to_timedelta(day - ((day - 1) % 12 + 1), unit="D")
    if number_style == "yen":               # yen have no cents
        truth["cents"] = truth["cents"] // 100 * 100
    fmt: dict = {}
    words = truth["status"].map(lambda s: rng.choice(STATUSES[platform][s]))
    if platform == "magento":               # `closed` is ambiguous: the shop maps it
        fmt["status_map"] = {"closed": "returned"}
    out = pd.DataFrame({"order_id": truth["order_id"].astype(str),
                        "customer_id": _ids(truth["customer_id"], rng), "status": words})
    typed = date_style == "typed" or number_style == "typed"
    out["order_ts"] = truth["order_ts"] if date_style == "typed" else _dates(
        truth["order_ts"], date_style, rng)
    if number_style == "typed":
        out["amount"] = truth["cents"] / 100
    else:
        out["amount"], extra = _amounts(truth["cents"], number_style, rng)
        fmt.update(extra)
    faults = {}
    if date_style != "typed":              # planted faults a text export carries
        bad = out.iloc[:3].copy()
        bad["order_id"] = ["f1", "f2", "f3"]
        bad["order_ts"] = ["2099-03-01", "1970-01-01", "n/a"]
        out = pd.concat([out, bad, out.iloc[[5]]], ignore_index=True)   # + one duplicate
        faults = {"future_date": 1, "placeholder_date": 1, "unparseable_order_ts": 1,
                  "exact_duplicate_rows": 1}
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    kind = "parquet" if typed else ["csv", "csv_semicolon", "json", "csv_cp1252"][seed % 4]
    path = folder / ("orders.parquet" if kind == "parquet" else
                     "orders.json" if kind == "json" else "orders.csv")
    if kind == "parquet":
        out.to_parquet(path)
    elif kind == "json":
        out.astype(str).to_json(path, orient="records", force_ascii=False)
    elif kind == "csv_cp1252" and platform != "taobao" and date_style != "cjk" and \
            number_style not in ("fr", "yen"):
        out.to_csv(path, index=False, encoding="cp1252")
        fmt["encoding"] = "cp1252"
    else:
        sep = ";" if kind == "csv_semicolon" else ","
        out.to_csv(path, index=False, sep=sep, encoding="utf-8-sig")
        fmt["delimiter"] = sep
    days = truth["order_ts"].dt.day
    months = truth["order_ts"].dt.month
    ambiguous = date_style in ORDERED and not (
        days > 12).any() and (days != months).any()
    expected = truth.assign(customer_id=truth["customer_id"].astype(str),
                            order_id=truth["order_id"].astype(str))
    return path, {"tables": {"orders": fmt}}, expected, faults, ambiguous


@pytest.mark.parametrize("seed", range(50))
def test_a_real_looking_export_reads_right_or_stops_with_one_line(seed, tmp_path):
    path, data, truth, faults, ambiguous = _shop(seed, tmp_path)
    try:
        tables, summary = ingest(path, parse({"data": data}).data, now=NOW)
    except ChurnError as exc:
        assert ambiguous, f"seed {seed}: {exc}"
        assert "date_format" in str(exc) and "\n" not in str(exc) and len(str(exc)) < 600
        return
    assert not ambiguous, f"seed {seed}: ambiguous dates were read without a word"
    orders = tables["orders"].set_index("order_id").sort_index()
    want = truth.set_index("order_id").sort_index()
    assert list(orders.index) == list(want.index)          # nothing lost but the faults
    assert (orders["customer_id"] == want["customer_id"]).all()
    assert (orders["order_ts"] == want["order_ts"]).all(), "dates moved"
    assert (orders["amount"].mul(100).round().astype("int64") == want["cents"]).all()
    assert round(orders["amount"].sum(), 2) == want["cents"].sum() / 100   # to the cent
    assert (orders["status"] == want["status"]).all()
    report = summary["tables"]["orders"]
    assert report["dropped"] == faults                       # every drop counted, by reason
    assert report["rows_read"] - report["rows_kept"] == sum(faults.values())
    assert summary["last_order_ts"] == want["order_ts"].max()   # as_of never moved
