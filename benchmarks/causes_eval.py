"""Cause backtest: does the weakly supervised cause model name why lapsed customers left?

For each generator (retail, and boutique / outlet when present) and seed: features + evidence
at a backtest cutoff one horizon before the data ends; the customers who actually lapsed
(churned == 1, with a known cause); accuracy, macro-F1 and per-cause recall of
- majority: always "forgot" (the largest share in the domain notes, not in the data),
- rules: the five hand-written rules of the domain notes, in this order: one order -> forgot;
  a return, a low rating or a complaint -> satisfaction; half the orders in sale weeks or on
  discount, or a coupon -> price; 3+ categories or half new arrivals -> choice; else other,
- label model: the label model's argmax alone (an ablation),
- cause model: models/causes.py (label model + LightGBM on its soft labels), with the
  expected calibration error of its reason_confidence,
once with all tables and once with orders + order_items + products + returns only. Nothing is
tuned here: every threshold is fixed in models/causes.py, the truth is only read to score.

    .venv/bin/python benchmarks/causes_eval.py [--customers 6000] [--seeds 101 202]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import importlib
import time
from datetime import timedelta

import ibis
import numpy as np
import pandas as pd

from features.engine import build
from features.evidence import evidence, with_evidence
from models.causes import CAUSES, DEFAULT_PRIOR, available_tables, fit_cause_model
from models.reasons import reason_metrics

SCENARIOS = {"all": None, "orders+items+products+returns": ("orders", "order_items",
                                                             "products", "returns")}


def generators() -> dict:
    """name -> generate(customers, seed) for the generators this checkout has."""
    out = {}
    try:
        from shops.retail import ShopConfig, generate
    except ImportError:  # before the move to shops/
        from pipeline.synth import ShopConfig, generate
    out["retail"] = lambda n, seed: generate(ShopConfig(customers=n, seed=seed))
    for name in ("boutique", "outlet"):
        try:
            mod = importlib.import_module(f"shops.{name}")
        except ImportError:
            continue
        tables = getattr(mod, "OPTIONAL", None)
        out[name] = (lambda m, t: lambda n, seed: m.generate(
            m.Config(customers=n, seed=seed, **({"tables": t} if t else {}))))(mod, tables)
    return out


def hand_rules(f: pd.DataFrame) -> np.ndarray:
    def col(name: str) -> pd.Series:
        return f[name] if name in f else pd.Series(np.nan, index=f.index)

    rules = [
        ("forgot", col("frequency") == 1),
        ("satisfaction", (col("return_rate") > 0) | (col("low_ratings") >= 1)
         | (col("complaints") >= 1)),
        ("price", (col("sale_week_share") >= 0.5) | (col("discount_share") >= 0.5)
         | (col("coupon_claims") >= 1)),
        ("choice", (col("distinct_categories") >= 3) | (col("new_arrival_share") >= 0.5)),
    ]
    out = np.full(len(f), "other", dtype=object)
    for cause, hit in reversed(rules):  # the first rule that holds wins
        out[hit.fillna(False).to_numpy()] = cause
    return out


def ece(conf: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        sel = idx == b
        total += sel.sum() * abs(conf[sel].mean() - right[sel].mean())
    return total / len(conf)


def run(name: str, gen, customers: int, seed: int, horizon: int) -> list[dict]:
    tables, truth = gen(customers, seed)
    as_of = tables["orders"]["order_ts"].max().date()
    cutoff = as_of - timedelta(days=horizon)
    rows = []
    for scenario, keep in SCENARIOS.items():
        started = time.perf_counter()
        sub = {k: v for k, v in tables.items() if keep is None or k in keep}
        mem = {k: ibis.memtable(v) for k, v in sub.items()}
        feats, _ = build(mem, [cutoff], as_of, horizon_days=horizon)
        frame = ibis.duckdb.connect().execute(
            with_evidence(feats, evidence(mem, [cutoff], as_of)))
        frame = frame.merge(truth[["customer_id", "cause"]], on="customer_id", how="left")
        lapsed = frame[(frame["churned"] == 1) & frame["cause"].notna()].reset_index(drop=True)
        model = fit_cause_model(frame, available_tables(sub), DEFAULT_PRIOR, seed=seed)
        out = model.explain(lapsed)
        lm = np.asarray(CAUSES)[model.label_model_proba(lapsed).argmax(axis=1)]
        right = (out["reason"] == lapsed["cause"]).to_numpy()
        predictions = {"majority": np.full(len(lapsed), "forgot"), "rules": hand_rules(lapsed),
                       "label model": lm, "cause model": out["reason"].to_numpy()}
        for method, predicted in predictions.items():
            m = reason_metrics(lapsed["cause"], pd.Series(predicted))
            rows.append({"generator": name, "seed": seed, "tables": scenario,
                         "method": method, "lapsed": m["n"], "accuracy": m["accuracy"],
                         "macro_f1": m["macro_f1"],
                         **{f"rec_{k}": v for k, v in m["recall"].items()},
                         "ece": (ece(out["reason_confidence"].to_numpy(), right)
                                 if method == "cause model" else np.nan),
                         "seconds": time.perf_counter() - started})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 202])
    parser.add_argument("--horizon", type=int, default=365, choices=[182, 365])
    parser.add_argument("--generators", nargs="*", default=None)
    args = parser.parse_args()
    gens = generators()
    rows = []
    for name, gen in gens.items():
        if args.generators and name not in args.generators:
            continue
        for seed in args.seeds:
            rows.extend(run(name, gen, args.customers, seed, args.horizon))
            print(f"done {name} seed {seed}", file=sys.stderr)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.drop(columns="seconds").round(3).to_markdown(index=False))
    mean = table.groupby(["generator", "tables", "method"], sort=False)[
        ["accuracy", "macro_f1", *[f"rec_{c}" for c in CAUSES], "ece"]].mean()
    print("\nmean over seeds\n")
    print(mean.round(3).to_markdown())


if __name__ == "__main__":
    main()
