"""Training cost: the train stage's work (fit with early stopping, calibration choice and fit,
reason and drift references) on 1M customer-snapshots x 40 features, default params.

Rows are the default shop's labelled snapshots resampled with 5% noise on continuous
features; the 40 features are the registry's first 40 that the shop has. Each run is a fresh
process: median wall time over the runs and peak memory.

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

from benchmarks.common import ROOT, measured_runs, resample


def child(data: Path, n_features: int) -> None:
    from models.split import time_split
    from models.train import TrainParams, train_model
    from pipeline.params import load_params

    frame = pd.read_parquet(data)
    names = json.loads((ROOT / "reports" / "features.json").read_text())["features"][:n_features]
    params = load_params(ROOT / "params.yaml")
    started = time.perf_counter()
    model, info = train_model(time_split(frame), names,
                              TrainParams.from_params(params["train"], 42))
    print(json.dumps({"seconds": time.perf_counter() - started, "trees": info["best_iteration"],
                      "rows": info["rows"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", default=str(ROOT / "data" / "features.parquet"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]))
        return
    frame = pd.read_parquet(args.source)
    labelled = frame[frame["split"] == "train"]
    parts = []  # keep the cutoffs: resample within each so the time split still holds
    for cutoff, part in labelled.groupby("cutoff"):
        n = round(args.rows * len(part) / len(labelled))
        parts.append(resample(part, n, seed=len(parts)).assign(cutoff=cutoff))
    data = Path("/tmp") / f"churn_bench_train_{args.rows}.parquet"
    pd.concat(parts, ignore_index=True).to_parquet(data)
    runs = measured_runs(__file__, [str(data), str(args.features)], args.repeats)
    med = statistics.median(r["seconds"] for r in runs)
    print("| rows | features | trees | median s | rows/s | peak MiB |\n|---|---|---|---|---|---|")
    print(f"| {args.rows:,} | {args.features} | {runs[0]['trees']} | {med:.1f} | "
          f"{args.rows / med:,.0f} | {max(r['peak_mib'] for r in runs):,.0f} |")


if __name__ == "__main__":
    main()
