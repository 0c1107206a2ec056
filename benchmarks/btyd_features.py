"""Does the churn model gain from BTYD features? Validation ROC-AUC / PR-AUC of the LightGBM
model with and without btyd_p_alive, btyd_expected_purchases and btyd_p_no_purchase
(models.churn.btyd, one BG/NBD per cutoff) on the same split, with the project's own
pieces: features.engine.build, models.churn.split.time_split, models.churn.train.train_model,
TrainParams().

Shops: the retail generator (all six tables), the outlet generator with its orders table only,
and CDNOW as of 1997-12-31 with a 182-day horizon (downloaded by benchmarks/public.py's cache;
there the as_of snapshot is also checked against what customers did next).

The three columns are not in features/registry.py yet; train_model needs every feature there
(families, monotone constraints), so this script adds them to features.registry.BY_NAME in its
own process only. Variants: the monotone signs proposed for the registry (p_no_purchase +1,
p_alive -1, expected_purchases -1), P(alive) left free, and all three free.

    .venv/bin/python benchmarks/btyd_features.py [--shops retail outlet cdnow]
        [--customers 8000] [--seed 101] [--train-seeds 42 43 44]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import time
from datetime import date

import ibis
import numpy as np
import pandas as pd

from common.params import FeatureParams, TrainParams, parse
from features import registry
from features.cutoffs import training_cutoffs
from features.engine import build
from models.churn.btyd import COLUMNS, btyd_features
from models.churn.metrics import sliced_metrics
from models.churn.split import time_split
from models.churn.train import train_model

ROOT = Path(__file__).resolve().parents[1]
PHRASES = {"btyd_p_alive": "{v:.0%} chance still active (BG/NBD)",
           "btyd_expected_purchases": "{v:.1f} orders expected in the horizon (BG/NBD)",
           "btyd_p_no_purchase": "{v:.0%} chance of no order in the horizon (BG/NBD)"}
VARIANTS = {
    "without BTYD": None,
    "with BTYD (mono +1/-1/-1)": {"btyd_p_no_purchase": 1, "btyd_p_alive": -1,
                                  "btyd_expected_purchases": -1},
    "with BTYD (p_alive free)": {"btyd_p_no_purchase": 1, "btyd_p_alive": 0,
                                 "btyd_expected_purchases": -1},
    "with BTYD (all free)": {"btyd_p_no_purchase": 0, "btyd_p_alive": 0,
                             "btyd_expected_purchases": 0},
}


def register(monotone: dict[str, int]) -> None:
    """The registry entries the integrator would add (family general), in this process only."""
    for name in COLUMNS:
        registry.BY_NAME[name] = registry.Feature(
            name, "general", f"BTYD (BG/NBD per cutoff): {name}", PHRASES[name], (),
            monotone[name])


def shop_tables(shop: str, customers: int, seed: int, cache: Path):
    """(tables, as_of, horizon, truth at as_of or None)."""
    if shop == "retail":
        from synthetic.retail import ShopConfig, generate
        tables, _ = generate(ShopConfig(customers=customers, seed=seed))
        return tables, tables["orders"]["order_ts"].max().date(), 365, None
    if shop == "outlet":
        from synthetic.outlet import Config, generate
        tables, _ = generate(Config(customers=customers, seed=seed))
        return {"orders": tables["orders"]}, tables["orders"]["order_ts"].max().date(), 365, None
    if shop == "cdnow":
        from benchmarks.public import ORDERS_MAPPING, fetch_cdnow, read_cdnow, truth
        from pipeline.cli import ingest

        path = fetch_cdnow(cache)
        params = parse({"data": {"input": str(path), "tables": {"orders": ORDERS_MAPPING}}})
        tables, _ = ingest(path, params.data)
        as_of, horizon = date(1997, 12, 31), 182
        return tables, as_of, horizon, truth(read_cdnow(path), as_of, horizon)
    raise SystemExit(f"unknown shop {shop!r}")


def features_for(tables, as_of: date, horizon: int) -> tuple[pd.DataFrame, list[str]]:
    orders = tables["orders"]
    first = pd.Timestamp(orders["order_ts"].min()).date()
    p = FeatureParams()
    cutoffs = training_cutoffs(first, as_of, horizon, p)
    expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, [*cutoffs, as_of],
                        as_of, p, horizon_days=horizon)
    frame = ibis.duckdb.connect().execute(expr)
    return frame.sort_values(["cutoff", "customer_id"]).reset_index(drop=True), names


def run_shop(shop: str, args) -> dict:
    start = time.perf_counter()
    tables, as_of, horizon, test_truth = shop_tables(shop, args.customers, args.seed, args.cache)
    frame, names = features_for(tables, as_of, horizon)
    t_features = time.perf_counter() - start
    start = time.perf_counter()
    btyd = btyd_features(frame, horizon)
    t_btyd = time.perf_counter() - start
    frame = pd.concat([frame, btyd[COLUMNS]], axis=1)
    split = time_split(frame)
    valid = split.valid
    y_valid = valid["churned"].to_numpy(int)
    one_time_valid = valid["frequency"].to_numpy() == 1
    result = {"shop": shop, "as_of": str(as_of), "horizon_days": horizon,
              "rows": len(frame), "cutoffs": int(frame["cutoff"].nunique()),
              "valid_cutoff": str(pd.Timestamp(valid["cutoff"].iloc[0]).date()),
              "valid_rows": len(valid), "valid_churn_rate": float(y_valid.mean()),
              "features": len(names), "seconds_features": t_features,
              "seconds_btyd": t_btyd, "btyd_fits": btyd.attrs["btyd_fits"], "variants": {}}
    # the BTYD score alone, and recency alone, for context
    result["btyd_p_no_purchase_alone"] = sliced_metrics(
        y_valid, valid["btyd_p_no_purchase"].to_numpy(), one_time_valid)
    test = None
    if test_truth is not None:
        test = frame[frame["cutoff"] == pd.Timestamp(as_of)].merge(
            test_truth[["customer_id", "churned", "purchase_days"]], on="customer_id",
            suffixes=("_unknown", ""))
        result["test_rows"] = len(test)
        result["test_churn_rate"] = float(test["churned"].mean())
        result["btyd_p_no_purchase_alone_test"] = sliced_metrics(
            test["churned"].to_numpy(int), test["btyd_p_no_purchase"].to_numpy(),
            test["frequency"].to_numpy() == 1)
    for variant, monotone in VARIANTS.items():
        feats = names if monotone is None else [*names, *COLUMNS]
        if monotone is not None:
            register(monotone)
        runs = []
        for train_seed in args.train_seeds:
            model, info = train_model(split, feats, TrainParams(), train_seed)
            row = {"seed": train_seed,
                   "valid": sliced_metrics(y_valid, model.predict_proba(valid), one_time_valid)}
            gain = pd.Series(info["importance_gain"])
            ranks = gain.rank(ascending=False)
            row["btyd_gain_rank"] = {c: int(ranks[c]) for c in COLUMNS if c in ranks}
            row["btyd_gain_share"] = float(gain[[c for c in COLUMNS if c in gain]].sum()
                                           / gain.sum()) if monotone else 0.0
            if test is not None:
                row["test"] = sliced_metrics(test["churned"].to_numpy(int),
                                             model.predict_proba(test),
                                             test["frequency"].to_numpy() == 1)
            runs.append(row)
        result["variants"][variant] = runs
        print(f"  {shop}: {variant}: done", flush=True)
    return result


def _mean(runs: list[dict], part: str, slice_: str, metric: str) -> tuple[float, float]:
    values = [r[part][slice_].get(metric, np.nan) for r in runs if part in r]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values))


def _cell(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.4f}"


def table(results: list[dict]) -> str:
    lines = ["| shop | variant | ROC-AUC | PR-AUC | Brier | ROC-AUC one-time | ROC-AUC repeat "
             "| test ROC-AUC | test PR-AUC | BTYD gain share |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        alone = res["btyd_p_no_purchase_alone"]["all"]
        base = None
        for variant, runs in res["variants"].items():
            auc, sd = _mean(runs, "valid", "all", "roc_auc")
            pr, _ = _mean(runs, "valid", "all", "pr_auc")
            brier, _ = _mean(runs, "valid", "all", "brier")
            one, _ = _mean(runs, "valid", "one_time_buyers", "roc_auc")
            rep, _ = _mean(runs, "valid", "repeat_buyers", "roc_auc")
            test_auc, _ = _mean(runs, "test", "all", "roc_auc")
            test_pr, _ = _mean(runs, "test", "all", "pr_auc")
            share = np.mean([r["btyd_gain_share"] for r in runs])
            delta = "" if base is None else f" ({auc - base:+.4f})"
            base = auc if base is None else base
            lines.append(f"| {res['shop']} | {variant} | {auc:.4f} ± {sd:.4f}{delta} | "
                         f"{pr:.4f} | {brier:.4f} | {one:.4f} | {rep:.4f} | {_cell(test_auc)} | "
                         f"{_cell(test_pr)} | {share:.1%} |")
        test_alone = res.get("btyd_p_no_purchase_alone_test", {}).get("all", {})
        one = res["btyd_p_no_purchase_alone"]["one_time_buyers"].get("roc_auc", np.nan)
        rep = res["btyd_p_no_purchase_alone"]["repeat_buyers"].get("roc_auc", np.nan)
        lines.append(f"| {res['shop']} | btyd_p_no_purchase alone | {alone['roc_auc']:.4f} | "
                     f"{alone['pr_auc']:.4f} | {alone['brier']:.4f} | {one:.4f} | {rep:.4f} | "
                     f"{_cell(test_alone.get('roc_auc', np.nan))} | "
                     f"{_cell(test_alone.get('pr_auc', np.nan))} | – |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", nargs="+", default=["retail", "outlet", "cdnow"])
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "public")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    results = []
    for shop in args.shops:
        print(f"{shop}: building features", flush=True)
        res = run_shop(shop, args)
        print(f"{shop}: {res['rows']:,} rows over {res['cutoffs']} cutoffs, features "
              f"{res['seconds_features']:.1f} s, BTYD {res['seconds_btyd']:.1f} s; validation "
              f"{res['valid_cutoff']} ({res['valid_rows']:,} customers, churn rate "
              f"{res['valid_churn_rate']:.3f})", flush=True)
        results.append(res)
    print("\nValidation (newest labelled cutoff) metrics, mean ± sd over training seeds "
          f"{args.train_seeds}; 'test' = the as_of snapshot against what customers did next "
          "(CDNOW only):\n")
    print(table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
