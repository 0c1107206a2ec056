"""Scoring throughput: what the score stage computes per customer (pipeline/score.py without
MLflow, the learned policy and the export): churn probability and tier, SHAP top drivers for
the customers at risk, the cause model's reason for EVERY customer (reasons.method
cause_model, the default: five probabilities, evidence in words, basis), actions and the
contact budget, and product suggestions, at 1M customers, default params, on this machine.

The model is what the train stage fits (the calibrated churn model and the cause model beside
it) on the default shop's features and cause evidence, as the features stage writes them.
The 1M customers are the default shop's scoring snapshot resampled with noise on every
continuous feature, so customers are not copies of each other (copies would make the
de-duplicated SHAP look better than it is); the evidence counts are drawn as they are. Their
ids are new, so no one is among the cause model's training customers and every row is
explained by the mean of its fold models (as for customers the model never saw). Each run is
a fresh process; the table shows the median wall time, customers per minute and peak memory,
and a per-step breakdown measured inside the child (project functions wrapped with timers,
their code unchanged). The load average before each run is printed: the machine's 2 cores may
be shared with other work, which skews wall times.

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

from benchmarks.common import (
    ROOT,
    Steps,
    fit_stage_models,
    load_average,
    measured_runs,
    resample,
    stage_features,
)

#: (key, label, indent) of the breakdown, in the order the score stage runs them; a key ending
#: in "_rest" is its parent minus the steps listed under it
BREAKDOWN = [
    ("score_rows", "score_rows: probability, tier, SHAP drivers, cause-model reasons", 0),
    ("churn_probability", "churn probability (ChurnModel.predict_proba, calibrated)", 1),
    ("shap", "SHAP drivers + SHAP reason for at-risk (models.causes.reasons.explain)", 1),
    ("shap_values", "TreeSHAP values, de-duplicated (ChurnModel.contributions)", 2),
    ("shap_top_drivers", "top drivers in words (models.churn.drivers.top_drivers)", 2),
    ("shap_rest", "family sums + reason (family_contributions, assign_reasons)", 2),
    ("cause", "cause model explain, every customer (models.causes.reasons.causes)", 1),
    ("cause_proba", "LightGBM multiclass (CauseModel.predict_proba)", 2),
    ("cause_lfs", "labelling functions (models.causes.functions.apply_lfs)", 2),
    ("cause_evidence", "evidence in words (models.causes.words.evidence_sentences)", 2),
    ("cause_basis", "basis (models.causes.words.reason_basis)", 2),
    ("cause_rest", "rest (confidence, frame, copies)", 2),
    ("score_rows_rest", "rest (tiers, value at stake, columns)", 1),
    ("finish", "finish: recommend + contact budget (models.actions.rules.plan_actions)", 0),
    ("recommend", "actions (models.actions.rules.recommend)", 1),
    ("budget", "contact budget (models.actions.rules.contact_budget)", 1),
    ("finish_rest", "rest (sort by customer_id, join)", 1),
    ("products", "product suggestions (models.actions.products.suggest_products + map)", 0),
]
REST = {"shap_rest": ("shap", ["shap_values", "shap_top_drivers"]),
        "cause_rest": ("cause", ["cause_proba", "cause_lfs", "cause_evidence", "cause_basis"]),
        "score_rows_rest": ("score_rows", ["churn_probability", "shap", "cause"]),
        "finish_rest": ("finish", ["recommend", "budget"])}


def child(population: Path, features: Path, names_file: Path, products: Path) -> None:
    """One measured run: fit the models, load the data, then score + reasons + recommend +
    product suggestions, timing each step."""

    import models.actions.rules
    import models.causes.model
    import models.causes.reasons
    import models.churn.scoring
    from common.params import load_params
    from models.actions.products import suggest_products
    from models.actions.rules import plan_actions as finish
    from models.causes.model import CauseModel
    from models.churn.model import ChurnModel
    from models.churn.scoring import score_rows

    params = load_params(ROOT / "params.yaml")
    names = json.loads(names_file.read_text())
    model, _info, _churn_s, _cause_s = fit_stage_models(pd.read_parquet(features), names,
                                                        params)
    if params.reasons.method != "cause_model" or model.cause_model is None:
        raise SystemExit("the benchmark measures reasons.method: cause_model (the default)")
    snapshot = pd.read_parquet(population)
    matrix = pd.read_parquet(products)
    rng = np.random.default_rng(1)
    cats = pd.DataFrame({"customer_id": snapshot["customer_id"].repeat(2).to_numpy(),
                         "category": rng.choice(matrix["category"].dropna().unique(),
                                                2 * len(snapshot))}).drop_duplicates()
    recent = pd.DataFrame({"customer_id": snapshot["customer_id"].to_numpy(),
                           "product_id": rng.choice(matrix["product_id"], len(snapshot))})

    steps = Steps()  # after training: only the scoring calls are counted
    steps.wrap(ChurnModel, "predict_proba", "churn_probability")
    steps.wrap(ChurnModel, "contributions", "shap_values")
    steps.wrap(models.churn.scoring, "explain", "shap")
    steps.wrap(models.causes.reasons, "top_drivers", "shap_top_drivers")
    steps.wrap(models.churn.scoring, "causes", "cause")
    steps.wrap(CauseModel, "predict_proba", "cause_proba")
    steps.wrap(models.causes.model, "apply_lfs", "cause_lfs")
    steps.wrap(models.causes.model, "evidence_sentences", "cause_evidence")
    steps.wrap(models.causes.model, "reason_basis", "cause_basis")
    steps.wrap(models.actions.rules, "recommend", "recommend")
    steps.wrap(models.actions.rules, "contact_budget", "budget")

    rp = params.recommend
    cpu0 = time.process_time()
    started = time.perf_counter()
    rows = score_rows(snapshot, model, params.score, params.reasons)
    t_rows = time.perf_counter()
    scored = finish(rows, rp)  # score_rows + plan_actions, as the score stage runs them
    t_finish = time.perf_counter()
    # what the score stage does for product suggestions once it has the purchase history
    targets = scored.loc[scored["product_classes"] != "", ["customer_id", "product_classes"]]
    ids = suggest_products(targets, matrix, cats, recent, rp.products_per_customer)
    scored = scored.assign(product_ids=scored["customer_id"].map(ids).fillna("").astype(str),
                           product_note="")
    done = time.perf_counter()
    steps.add("score_rows", t_rows - started)
    steps.add("finish", t_finish - t_rows)
    steps.add("products", done - t_finish)
    seconds = dict(steps.seconds)
    for key, (parent, parts) in REST.items():
        seconds[key] = seconds.get(parent, 0.0) - sum(seconds.get(p, 0.0) for p in parts)
    cm = model.cause_model
    folds = [c for c in cm.classifiers if c is not None]
    full = getattr(cm, "classifier", None)  # one model for customers it never trained on
    print(json.dumps({
        "seconds": done - started, "cpu": time.process_time() - cpu0, "steps": seconds,
        "at_risk": int(scored["at_risk"].sum()),
        "with_reason": int((scored["reason"] != "").sum()),
        "with_drivers": int((scored["top_drivers"] != "").sum()),
        "with_products": int((scored["product_ids"] != "").sum()),
        "reason_mix": scored["reason"].value_counts(normalize=True).round(3).to_dict(),
        "trees": model.booster.num_trees(),
        # the customers here are new to the cause model: one full model per row when it has
        # one, else the mean of the fold models
        "cause_trees": (full.booster_.num_trees() if full is not None
                        else sum(c.booster_.num_trees() for c in folds)),
        "cause_path": "full model" if full is not None else f"mean of {len(folds)} fold models",
        "cause_features": len(cm.features)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--features", default=str(ROOT / "data" / "features.parquet"),
                        help="the features table; when it has no cause evidence columns, the "
                             "features stage is run on data/canonical into /tmp instead")
    parser.add_argument("--products", default=str(ROOT / "data" / "products.parquet"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*map(Path, args.child))
        return
    print(f"load average {load_average()} (2 cores, possibly shared with other work: wall "
          "times are noisy)", flush=True)
    features, names = stage_features(Path(args.features))
    names_file = Path("/tmp") / "churn_bench_scoring_names.json"
    names_file.write_text(json.dumps(names))
    population = Path("/tmp") / f"churn_bench_population_{args.customers}.parquet"
    frame = pd.read_parquet(features)
    resample(frame[frame["split"] == "score"], args.customers).to_parquet(population)
    runs = measured_runs(__file__, [str(population), str(features), str(names_file),
                                    args.products], args.repeats)
    for i, r in enumerate(runs, 1):
        s = r["steps"]
        print(f"  run {i}: {r['seconds']:.1f} s (CPU {r['cpu']:.1f} s; score_rows "
              f"{s['score_rows']:.1f}, finish {s['finish']:.1f}, products {s['products']:.1f})"
              f", {r['peak_mib']:,.0f} MiB; cause model {r['cause_trees']:,} trees per row; "
              "load before "
              f"{r['load']}", flush=True)

    def med(key: str) -> float:
        return statistics.median(x["steps"][key] for x in runs)

    total = statistics.median(r["seconds"] for r in runs)
    r = runs[0]
    per_minute = args.customers / total * 60
    print("\n| customers | at risk (SHAP drivers) | cause-model reasons | trees per customer "
          "(churn / cause model) | median s (score + reasons / recommend / products) | CPU s "
          "| customers per minute | peak MiB |\n|---:|---:|---:|---|---|---:|---:|---:|")
    print(f"| {args.customers:,} | {r['at_risk']:,} | {r['with_reason']:,} | {r['trees']} / "
          f"{r['cause_trees']:,} ({r['cause_path']}, 5 causes) | {total:.1f} "
          f"({med('score_rows'):.1f} / {med('finish'):.1f} / {med('products'):.1f}) | "
          f"{statistics.median(x['cpu'] for x in runs):.1f} | {per_minute:,.0f} | "
          f"{max(x['peak_mib'] for x in runs):,.0f} |")
    print("\nPer step, inside the child (median over the runs; a step includes the indented "
          "ones under it):\n\n| step | median s | share of the total |\n|---|---:|---:|")
    for key, label, indent in BREAKDOWN:
        name = ("&nbsp;&nbsp;" * 2 * indent) + label
        print(f"| {name} | {med(key):.2f} | {med(key) / total:.0%} |")
    print(f"| **total** | **{total:.2f}** | 100% |")
    verdict = "MET" if per_minute >= 1_000_000 else "MISSED"
    print(f"\nbar: >= 1,000,000 customers per minute on 2 cores (score + reasons + "
          f"recommendations): {verdict} ({per_minute:,.0f}); {len(runs)} fresh-process runs, "
          f"load average before them {', '.join(x['load'].split()[0] for x in runs)}, at the "
          f"end {load_average()} (peak memory: the largest run's own peak RSS); cause model: "
          f"{r['cause_features']} features and evidence; reason mix {r['reason_mix']}")


if __name__ == "__main__":
    main()
