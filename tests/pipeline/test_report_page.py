"""The whole page from tiny hand-made inputs (no pipeline run): five sections in order, the
shop's currency, held-out customers nowhere, no code name in the text, a short history without a
trained model, and one clear line for a missing file or column."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from common.errors import ChurnError
from common.params import parse
from pipeline.export import EXPORT_COLUMNS, read_table, write_table
from pipeline.paths import load_paths
from pipeline.report.build import build_report
from pipeline.report.inputs import reason_counts
from tests.pipeline.test_report import batch, results

ROOT = Path(__file__).resolve().parents[2]
EVALUATION = {
    "validation_cutoff": "2024-12-30",
    "model": {"all": {"roc_auc": 0.93, "pr_auc": 0.9, "brier": 0.1, "ece": 0.02, "n": 50,
                      "churn_rate": 0.6}},
    "baselines": {"rfm_logistic": {"all": {"roc_auc": 0.81, "pr_auc": 0.8, "brier": 0.15,
                                           "ece": 0.03, "n": 50, "churn_rate": 0.6}}},
    "promotion": {"promoted": True, "challenger_version": "1", "challenger_score": 0.93,
                  "champion_version": None, "champion_score": None, "metric": "roc_auc",
                  "margin": 0.002, "reason": "no champion yet"},
}


def write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def shop(tmp_path):
    """A project folder with one scored batch of six customers (one held out) and two
    measured campaigns."""
    paths = load_paths(ROOT / "paths.yaml")
    paths = dataclasses.replace(paths, **{f.name: tmp_path / getattr(paths, f.name)
                                          for f in dataclasses.fields(paths)})
    params = parse({"report": {"currency": "$"},
                    "export": {"database_url": f"sqlite:///{tmp_path}/exports/churn.db"}})
    export = batch(as_of="2025-12-30", reason_evidence="bought once, 40 days ago",
                   reason_basis="orders")
    paths.exports.mkdir(parents=True)
    export.to_parquet(paths.exports / "churn_scores_2025-12-30.parquet")
    write(paths.exports / "latest.json", {"as_of": "2025-12-30",
                                          "files": ["churn_scores_2025-12-30.parquet"]})
    write_table(export.reindex(columns=EXPORT_COLUMNS).assign(horizon_days=365), params.export,
                "2025-12-30", "t")
    write(paths.score_report, {
        "as_of": "2025-12-30", "customers": 6, "at_risk": 5, "in_budget": 5,
        "risk_tiers": {"high": 3, "medium": 2, "low": 1},
        "reason_mix": {"forgot": 0.4, "price": 0.2, "choice": 0.2, "other": 0.2},
        "actions": {"reminder_gift": 1, "care_call": 1, "promotion_invite": 1,
                    "new_arrivals": 1, "none": 1},
        "held_out": 1, "contacts": 4, "model": {"name": "m", "version": "1"}})
    write(paths.evaluation, EVALUATION)
    results().to_csv(paths.results, index=False)
    write(paths.campaigns_report, {"source": "the shop's contacts table", "response_days": 30,
                                   "past_scores": []})
    return paths, params


def text(html: str) -> str:
    body = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    body = re.sub(r'<span class="files">.*?</span>', " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_the_page_has_five_sections_in_order_in_the_shops_currency(shop):
    paths, params = shop
    html = build_report(paths, params)
    heads = re.findall(r"<h2>(.*?)</h2>", html)
    assert heads == ["1 This week", "2 What the last campaigns earned", "3 Why customers leave",
                     "4 Who is at risk, and the value at stake", "5 Are the scores right?"]
    shown = text(html)
    assert 'Contact 3 customers this week: 2 e-mails, 1 call.' in shown
    assert "Campaign c2: −$300 net of cost" in shown
    assert "Reminder to customers who forgot the shop" in shown   # the reason segment
    assert "RFM rules (logistic regression)" in shown
    assert "€" not in shown and "$150" in shown                  # value at stake in the list
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", shown), "a code name reached the page"
    assert "http://" not in html and "https://" not in html


def test_a_held_out_customer_is_nowhere_on_the_page(shop):
    paths, params = shop
    export = pd.read_parquet(paths.exports / "churn_scores_2025-12-30.parquet")
    export["customer_id"] = ["cust-a", "cust-b", "cust-held", "cust-d", "cust-e", "cust-f"]
    export.to_parquet(paths.exports / "churn_scores_2025-12-30.parquet")
    html = build_report(paths, params)
    assert "cust-held" not in html
    assert "cust-a" in html and "cust-f" in html     # the send list and the advocates


def test_a_short_history_without_a_trained_model_still_renders(shop):
    paths, params = shop
    write(paths.evaluation, {"score_source": "btyd", "note": "history shorter than the horizon",
                             "promotion": {}})
    paths.results.unlink()
    shown = text(build_report(paths, params))
    assert "No campaign has a closed response window yet" in shown
    assert "purchase-rhythm model (BG/NBD)" in shown
    assert "too short to test a model on" in shown


def test_the_export_database_gives_the_reason_trend(shop):
    paths, params = shop
    older = batch(as_of="2025-11-30", reason="forgot")
    write_table(older.reindex(columns=EXPORT_COLUMNS).assign(horizon_days=365), params.export,
                "2025-11-30", "t0")
    assert len(read_table(params.export.database_url, params.export.table)) == 12
    counts = reason_counts(params.export.database_url, params.export.table)
    assert counts["customers"].sum() == 12
    assert counts.query("as_of == '2025-11-30' and reason == 'forgot'")["customers"].sum() == 6
    html = build_report(paths, params)
    assert "Over the past batches" in html and "30 Nov 2025" in html


def test_missing_inputs_are_one_clear_line(shop):
    paths, params = shop
    export = pd.read_parquet(paths.exports / "churn_scores_2025-12-30.parquet")
    export.drop(columns=["holdout"]).to_parquet(paths.exports / "churn_scores_2025-12-30.parquet")
    with pytest.raises(ChurnError, match=r"churn_scores_2025-12-30.parquet: lacks column\(s\) "
                                         r"holdout"):
        build_report(paths, params)
    paths.score_report.unlink()
    with pytest.raises(ChurnError, match=r"score.json not found: run `churn run` first"):
        build_report(paths, params)
