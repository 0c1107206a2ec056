"""Training cost: the train stage's work (fit with early stopping, calibration choice and fit,
reason and drift references, then the cause model: the churn model's SHAP reason for the
lapsed rows it fits on, at most CauseParams.max_rows, and fit_cause_model) on 1M
customer-snapshots x 40 features, default params (params.yaml), MLflow logging excluded.

Rows are the default shop's labelled snapshots, features and cause evidence as the features
stage writes them, resampled with 5% noise on continuous features (evidence counts as drawn);
the 40 churn-model features are the registry's first 40 that the shop has (the cause model
takes every feature and evidence column, as in the stage). Each run is a fresh process: median
wall time over the runs (the whole, the churn model, the cause model and its two parts) and
peak memory; the load average before each run is printed (2 shared cores: timings are noisy).

    .venv/bin/python benchmarks/train.py [--rows 1000000] [--features 40] [--repeats 3]
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


def child(data: Path, names_file: Path, n_features: int) -> None:
    import models.causes.reasons
    from common.params import load_params

    frame = pd.read_parquet(data)
    names = json.loads(names_file.read_text())[:n_features]
    params = load_params(ROOT / "params.yaml")
    steps = Steps()  # the cause model's two parts, as fit_beside_churn_model calls them
    steps.wrap(models.causes.reasons, "explain", "cause_shap")
    steps.wrap(models.causes.reasons, "fit_cause_model", "cause_fit")
    cpu0 = time.process_time()
    started = time.perf_counter()
    model, info, churn, cause = fit_stage_models(frame, names, params)
    cm = model.cause_model
    print(json.dumps({"seconds": time.perf_counter() - started, "churn": churn, "cause": cause,
                      "cpu": time.process_time() - cpu0,
                      # fold models and, when there is one, the full model beside them
                      "cause_trees": sum(c.booster_.num_trees() for c in [
                          *cm.classifiers, getattr(cm, "classifier", None)] if c is not None)
                      if cm is not None else 0,
                      "cause_shap": steps.seconds["cause_shap"],
                      "cause_fit": steps.seconds["cause_fit"],
                      "trees": info["best_iteration"], "rows": info["rows"],
                      "cause_rows": cm.train_rows if cm is not None else 0,
                      "cause_features": len(cm.features) if cm is not None else 0}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", default=str(ROOT / "data" / "features.parquet"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return
    print(f"load average {load_average()} (2 cores shared with other work: timings are noisy)",
          flush=True)
    source, names = stage_features(Path(args.source))
    names_file = Path("/tmp") / "churn_bench_train_names.json"
    names_file.write_text(json.dumps(names))
    frame = pd.read_parquet(source)
    labelled = frame[frame["split"] == "train"]
    parts = []  # keep the cutoffs: resample within each so the time split still holds
    for cutoff, part in labelled.groupby("cutoff"):
        n = round(args.rows * len(part) / len(labelled))
        parts.append(resample(part, n, seed=len(parts)).assign(cutoff=cutoff))
    data = Path("/tmp") / f"churn_bench_train_{args.rows}.parquet"
    pd.concat(parts, ignore_index=True).to_parquet(data)
    runs = measured_runs(__file__, [str(data), str(names_file), str(args.features)],
                         args.repeats)
    for i, r in enumerate(runs, 1):
        print(f"  run {i}: {r['seconds']:.1f} s (churn model {r['churn']:.1f}, cause model "
              f"{r['cause']:.1f} = SHAP reasons {r['cause_shap']:.1f} + fit "
              f"{r['cause_fit']:.1f}; {r['cause_trees']:,} trees fitted), CPU {r['cpu']:.1f} s, "
              f"{r['peak_mib']:,.0f} MiB; load before {r['load']}")

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    r = runs[0]
    print("\n| rows | features | trees | median s | churn model s | cause model s (SHAP reason "
          "of lapsed / fit) | CPU s | rows/s | peak MiB |\n"
          "|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    print(f"| {args.rows:,} | {args.features} | {r['trees']} | {med('seconds'):.1f} | "
          f"{med('churn'):.1f} | {med('cause'):.1f} ({med('cause_shap'):.1f} / "
          f"{med('cause_fit'):.1f}) | {med('cpu'):.1f} | {args.rows / med('seconds'):,.0f} | "
          f"{max(x['peak_mib'] for x in runs):,.0f} |")
    print(f"\n{len(runs)} fresh-process runs, medians (each column its own median); the "
          f"cause model ({r['cause_trees']:,} trees in its fold and full models) learned from "
          f"{r['cause_rows']:,} lapsed rows (fit_cause_model samples at most 60,000) x "
          f"{r['cause_features']} features and evidence; load average at the end "
          f"{load_average()}")


if __name__ == "__main__":
    main()
