"""DVC stage `score`: every eligible customer at as_of scored by the MLflow `champion` model,
explained (reason buckets, top drivers), given an action, and exported (Parquet, CSV, database)."""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis
import pandas as pd

from features.engine import completed_orders
from models.recommend import RecommendParams, suggest_products
from models.scoring import ScoreParams, finish, score_rows
from models.tracking import champion_version, load_churn_model, setup
from pipeline.errors import ChurnError
from pipeline.export import write_files, write_table
from pipeline.features import connect_canonical, resolve_as_of
from pipeline.io import write_json
from pipeline.params import get, load_params

log = logging.getLogger(__name__)


def recommend_params(params: dict) -> RecommendParams:
    return RecommendParams(**(params.get("recommend") or {}))


def purchase_history(tables: dict, as_of, recent_days: int):
    """(customer, category) pairs bought, and (customer, product) pairs bought recently."""
    if "order_items" not in tables:
        return None, pd.DataFrame(columns=["customer_id", "product_id"])
    o = completed_orders(tables["orders"], as_of)
    lines = tables["order_items"].join(o.select("order_id", "customer_id", "order_date"),
                                       "order_id")
    cats = None
    products = tables.get("products")
    if products is not None and "category" in products.columns:
        cats = lines.join(products.select("product_id", "category"), "product_id").select(
            "customer_id", "category").distinct().execute()
    recent = lines.filter(lines.order_date > as_of - timedelta(days=recent_days)).select(
        "customer_id", "product_id").distinct().execute()
    return cats, recent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/features.parquet")
    parser.add_argument("--products", default="data/products.parquet")
    parser.add_argument("--canonical", default="data/canonical")
    parser.add_argument("--exports", default="exports")
    parser.add_argument("--report", default="reports/score.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    params = load_params(args.params)
    name = get(params, "train.model_name", "churn-lgbm")
    setup(get(params, "train.experiment", "churn"))
    champ = champion_version(name)
    if champ is None:
        raise ChurnError(f"no '{name}@champion' model in MLflow yet: run the train and evaluate "
                         "stages first (dvc repro)")
    model = load_churn_model(f"models:/{name}@champion")
    con, tables = connect_canonical(Path(args.canonical), params)
    as_of, _first = resolve_as_of(params, tables["orders"])
    rp, sp = recommend_params(params), ScoreParams.from_params(params)
    if (params.get("engine") or "duckdb") == "spark":
        from pipeline.spark_scoring import spark_score_rows

        rows = spark_score_rows(con._session, Path(args.features), model, sp)
    else:
        rows = score_rows(pd.read_parquet(args.features, filters=[("split", "==", "score")]),
                          model, sp)
    scored = finish(rows, rp)

    matrix = pd.read_parquet(args.products)
    if matrix.empty:
        scored["product_ids"] = ""
        scored["product_note"] = "no item data: no product suggestions"
    else:
        cats, recent = purchase_history(tables, as_of, rp.exclude_recent_days)
        targets = scored.loc[scored["product_classes"] != "", ["customer_id", "product_classes"]]
        ids = suggest_products(ibis.duckdb.connect(), targets, matrix, cats, recent,
                               rp.products_per_customer)
        scored["product_ids"] = scored["customer_id"].map(ids).fillna("").astype(str)
        scored["product_note"] = ""
    as_of_text = as_of.isoformat()
    scored = scored.assign(as_of=as_of_text, model_name=name, model_version=str(champ.version),
                           run_id=champ.run_id,
                           scored_at=datetime.now(UTC).replace(microsecond=0).isoformat())
    files = write_files(scored, args.exports, as_of_text)
    url = get(params, "export.database_url", "sqlite:///exports/churn.db")
    rows = write_table(scored, url, get(params, "export.table", "churn_scores"), as_of_text)
    at_risk = scored[scored["at_risk"]]
    write_json({
        "as_of": as_of_text, "customers": len(scored), "at_risk": len(at_risk),
        "in_budget": int(scored["in_budget"].sum()),
        "risk_tiers": scored["risk_tier"].value_counts().to_dict(),
        "reason_mix": at_risk["reason"].value_counts(normalize=True).round(4).to_dict(),
        "actions": scored.loc[scored["in_budget"], "action"].value_counts().to_dict(),
        "value_at_stake_in_budget": round(float(scored.loc[scored["in_budget"],
                                                           "value_at_stake"].sum()), 2),
        "model": {"name": name, "version": str(champ.version), "run_id": champ.run_id},
        "exports": [str(f) for f in files], "database_rows": rows,
        "seconds": round(time.perf_counter() - started, 2),
    }, args.report)
    log.info("scored %d customers (%d at risk, %d in budget)", len(scored), len(at_risk),
             int(scored["in_budget"].sum()))


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
