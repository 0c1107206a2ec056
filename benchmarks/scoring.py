"""Scoring throughput: score + explain (SHAP reasons, drivers) + recommend (actions, budget,
product suggestions) at 1M customers, with the default model shape, on this machine.

The 1M customers are the default shop's scoring snapshot resampled with noise on every
continuous feature, so customers are not copies of each other (copies would make the
de-duplicated SHAP look better than it is). Each run is a fresh process; the table shows the
median wall time, customers per minute and peak memory.

    .venv/bin/python benchmarks/scoring.py [--customers 1000000] [--repeats 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd

from benchmarks.common import ROOT, measured_runs, resample


def child(population: Path, features: Path, products: Path) -> None:
    """One measured run: load the model and data, then score + explain + recommend."""
    import ibis

    from models.recommend import RecommendParams, suggest_products
    from models.scoring import ScoreParams, score_customers
    from models.split import time_split
    from models.train import TrainParams, train_model
    from pipeline.params import load_params

    params = load_params(ROOT / "params.yaml")
    names = json.loads((ROOT / "reports" / "features.json").read_text())["features"]
    model, _ = train_model(time_split(pd.read_parquet(features)), names,
                           TrainParams.from_params(params["train"], 42))
    snapshot = pd.read_parquet(population)
    matrix = pd.read_parquet(products)
    rng = np.random.default_rng(1)
    cats = pd.DataFrame({"customer_id": snapshot["customer_id"].repeat(2).to_numpy(),
                         "category": rng.choice(matrix["category"].dropna().unique(),
                                                2 * len(snapshot))}).drop_duplicates()
    recent = pd.DataFrame({"customer_id": snapshot["customer_id"].to_numpy(),
                           "product_id": rng.choice(matrix["product_id"], len(snapshot))})
    started = time.perf_counter()
    rp = RecommendParams()
    scored = score_customers(snapshot, model, ScoreParams(), rp)
    t_score = time.perf_counter() - started
    targets = scored.loc[scored["product_classes"] != "", ["customer_id", "product_classes"]]
    ids = suggest_products(ibis.duckdb.connect(), targets, matrix, cats, recent,
                           rp.products_per_customer)
    scored["product_ids"] = scored["customer_id"].map(ids)
    total = time.perf_counter() - started
    print(json.dumps({"seconds": total, "score_explain_recommend": t_score,
                      "products": total - t_score, "at_risk": int(scored["at_risk"].sum()),
                      "trees": model.booster.num_trees()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--features", default=str(ROOT / "data" / "features.parquet"))
    parser.add_argument("--products", default=str(ROOT / "data" / "products.parquet"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*map(Path, args.child))
        return
    population = Path("/tmp") / f"churn_bench_population_{args.customers}.parquet"
    frame = pd.read_parquet(args.features)
    resample(frame[frame["split"] == "score"], args.customers).to_parquet(population)
    runs = measured_runs(__file__, [str(population), args.features, args.products], args.repeats)
    med = statistics.median(r["seconds"] for r in runs)
    print("| customers | at risk (explained) | trees | median s (score+explain+recommend / "
          "products) | customers per minute | peak MiB |\n|---|---|---|---|---|---|")
    r = runs[0]
    print(f"| {args.customers:,} | {r['at_risk']:,} | {r['trees']} | {med:.1f} "
          f"({statistics.median(x['score_explain_recommend'] for x in runs):.1f} / "
          f"{statistics.median(x['products'] for x in runs):.1f}) | "
          f"{args.customers / med * 60:,.0f} | {max(x['peak_mib'] for x in runs):,.0f} |")
    print("\nbar: >= 1,000,000 customers per minute on 2 cores "
          "(peak memory: the largest run's own peak RSS)")


if __name__ == "__main__":
    main()
