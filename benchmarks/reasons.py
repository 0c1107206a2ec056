"""Cause backtest: does the weakly supervised cause model name why lapsed customers left?

For each generator (retail, boutique, outlet) and seed: features + evidence at a backtest
cutoff one horizon before the data ends; the customers who actually lapsed (churned == 1,
with a known cause); accuracy, macro-F1, per-cause recall and coverage of
- majority: always "forgot" (the largest share in the domain notes, not in the data),
- rules: the five hand-written rules of the domain notes, in this order: one order -> forgot;
  a return, a low rating or a complaint -> satisfaction; half the orders in sale weeks or on
  discount, or a coupon -> price; 3+ categories or half new arrivals -> choice; else other,
- SHAP method: the older reason (`reasons.method: shap`), the cause family furthest above the
  typical leaver's in the churn model's SHAP values. The churn model is trained the
  pipeline's way (`time_split` over the training cutoffs, `train_model` with the default
  `TrainParams`, seed 42); the backtest cutoff is its validation snapshot, never fitted on.
  Its coverage is the share of leavers the product would explain (churn risk medium or high),
- label model: the label model's argmax alone (an ablation),
- cause model: models/causes.py (label model + LightGBM on its soft labels) with the SHAP
  reason passed in as `shap_reason` (one more labelling function), with the expected
  calibration error of its reason_confidence; `direct` is the share whose reason rests on a
  fired labelling function rather than on similar leavers,
- cause model, SHAP at risk only: the same model explaining with `shap_reason` only where
  scoring computes it (the customers at risk), "" elsewhere,
once with all tables and once with orders + order_items + products + returns only, then the
mean over seeds and the bars. Nothing is tuned here: every threshold is fixed in
models/causes.py, the truth is only read to score.

    .venv/bin/python benchmarks/reasons.py [--customers 6000] [--seeds 101 202 303]
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

from common.causes import CAUSES, DEFAULT_PRIOR
from common.params import FeatureParams, ReasonParams, ScoreParams, TrainParams
from features.cutoffs import training_cutoffs
from features.engine import build
from features.evidence import evidence, with_evidence
from models.causes.backtest import reason_metrics
from models.causes.functions import available_tables
from models.causes.model import fit_cause_model
from models.causes.reasons import explain
from models.churn.scoring import risk_tier
from models.churn.split import time_split
from models.churn.train import train_model

SCENARIOS = {"all": None, "orders+items+products+returns": ("orders", "order_items",
                                                             "products", "returns")}


def generators() -> dict:
    """name -> generate(customers, seed) for the generators this checkout has."""
    from synthetic.retail import ShopConfig, generate

    out = {}
    out["retail"] = lambda n, seed: generate(ShopConfig(customers=n, seed=seed))
    for name in ("boutique", "outlet"):
        try:
            mod = importlib.import_module(f"synthetic.{name}")
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


def churn_frames(sub: dict, cutoff, as_of, horizon: int) -> tuple[pd.DataFrame, pd.Series,
                                                                np.ndarray]:
    """Features + evidence at the backtest cutoff, the SHAP reason of the churn model for each
    row and whether the product would explain the row (at risk): the churn model is trained
    the pipeline's way (`time_split` on the training cutoffs, whose newest is the backtest
    cutoff: the validation snapshot, never fitted on)."""
    mem = {k: ibis.memtable(v) for k, v in sub.items()}
    first = sub["orders"]["order_ts"].min().date()
    cutoffs = training_cutoffs(first, as_of, horizon, FeatureParams())
    assert cutoffs[-1] == cutoff, (cutoffs[-1], cutoff)
    feats, names = build(mem, cutoffs, as_of, horizon_days=horizon)
    con = ibis.duckdb.connect()
    split = time_split(con.execute(feats))
    model, _ = train_model(split, names, TrainParams(), 42)
    at = feats.filter(feats.cutoff == ibis.literal(cutoff))
    frame = con.execute(with_evidence(at, evidence(mem, [cutoff], as_of)))
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    shap = explain(model, frame, ReasonParams(method="shap"))["reason"].astype(str)
    at_risk = risk_tier(model.predict_proba(frame), ScoreParams().risk_tiers) != "low"
    return frame, shap, np.asarray(at_risk, bool)


def run(name: str, gen, customers: int, seed: int, horizon: int) -> list[dict]:
    tables, truth = gen(customers, seed)
    as_of = tables["orders"]["order_ts"].max().date()
    cutoff = as_of - timedelta(days=horizon)
    rows = []
    for scenario, keep in SCENARIOS.items():
        started = time.perf_counter()
        sub = {k: v for k, v in tables.items() if keep is None or k in keep}
        frame, shap, at_risk = churn_frames(sub, cutoff, as_of, horizon)
        frame["shap_reason"] = shap.to_numpy()
        frame = frame.merge(truth[["customer_id", "cause"]], on="customer_id", how="left")
        lapsed_rows = ((frame["churned"] == 1) & frame["cause"].notna()).to_numpy()
        lapsed = frame[lapsed_rows].reset_index(drop=True)
        model = fit_cause_model(frame, available_tables(sub), DEFAULT_PRIOR, seed=seed)
        out = model.explain(lapsed)
        # as scoring runs it: a SHAP reason only for the customers at risk
        partial = model.explain(lapsed.assign(
            shap_reason=np.where(at_risk[lapsed_rows], lapsed["shap_reason"], "")))
        lm = np.asarray(CAUSES)[model.label_model_proba(lapsed).argmax(axis=1)]
        full = np.ones(len(lapsed))
        predictions = {
            "majority": (np.full(len(lapsed), "forgot"), full, None),
            "rules": (hand_rules(lapsed), full, None),
            "SHAP method": (lapsed["shap_reason"].to_numpy(), at_risk[lapsed_rows], None),
            "label model": (lm, full, None),
            "cause model": (out["reason"].to_numpy(), full, out),
            "cause model, SHAP at risk only": (partial["reason"].to_numpy(), full, partial),
        }
        for method, (predicted, covered, explained) in predictions.items():
            m = reason_metrics(lapsed["cause"], pd.Series(predicted))
            right = (predicted == lapsed["cause"]).to_numpy()
            rows.append({"generator": name, "seed": seed, "tables": scenario,
                         "method": method, "lapsed": m["n"], "accuracy": m["accuracy"],
                         "macro_f1": m["macro_f1"],
                         **{f"rec_{k}": v for k, v in m["recall"].items()},
                         "coverage": float(np.mean(covered)),
                         "direct": (np.nan if explained is None else float(
                             (~explained["reason_basis"].str.startswith("similar leavers"))
                             .mean())),
                         "ece": (np.nan if explained is None else
                                 ece(explained["reason_confidence"].to_numpy(), right)),
                         "seconds": time.perf_counter() - started})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 202, 303])
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
        ["accuracy", "macro_f1", *[f"rec_{c}" for c in CAUSES], "coverage", "direct",
         "ece", "seconds"]].mean()
    print("\nmean over seeds\n")
    print(mean.round(3).to_markdown())
    print("\nbars (mean over seeds)\n")
    print(bars(mean).to_markdown(index=False))


def bars(mean: pd.DataFrame) -> pd.DataFrame:
    """The cause model against the bars: all tables: accuracy >= 0.70, macro-F1 >= 0.60 and
    +0.05 accuracy over the rules; fewer tables: accuracy and macro-F1 each +0.03 over the
    rules; every cause but "other" recalled >= 0.40."""
    out = []
    for (gen, tables), g in mean.groupby(level=["generator", "tables"], sort=False):
        g = g.droplevel(["generator", "tables"])
        cm, rules = g.loc["cause model"], g.loc["rules"]
        worst = min(CAUSES[:-1], key=lambda c: cm[f"rec_{c}"])
        checks = {"recall >= 0.40": cm[f"rec_{worst}"] >= 0.40}
        if tables == "all":
            checks.update({"accuracy >= 0.70": cm["accuracy"] >= 0.70,
                           "macro-F1 >= 0.60": cm["macro_f1"] >= 0.60,
                           "accuracy +0.05": cm["accuracy"] >= rules["accuracy"] + 0.05})
        else:
            checks.update({"accuracy +0.03": cm["accuracy"] >= rules["accuracy"] + 0.03,
                           "macro-F1 +0.03": cm["macro_f1"] >= rules["macro_f1"] + 0.03})
        out.append({"generator": gen, "tables": tables,
                    "accuracy": f"{cm['accuracy']:.3f} (rules {rules['accuracy']:.3f})",
                    "macro-F1": f"{cm['macro_f1']:.3f} (rules {rules['macro_f1']:.3f})",
                    "lowest recall": f"{worst} {cm[f'rec_{worst}']:.2f}",
                    "met": ", ".join(k for k, ok in checks.items() if ok) or "-",
                    "missed": ", ".join(k for k, ok in checks.items() if not ok) or "-"})
    return pd.DataFrame(out)


if __name__ == "__main__":
    main()
