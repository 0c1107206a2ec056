"""Ingest cost: the ingest stage's `ingest()` (read, validate against the contract, clean into
canonical tables) on a generated orders-only shop (benchmarks/scale.py's generator: customer_id,
order_id, order_ts, amount, status; text ids), each run a fresh process: median wall seconds
and the child's own peak RSS, beside the memory ingest estimates before it reads the table
(pipeline/ingestion.py `estimated_rows` x columns x INGEST_BYTES_PER_VALUE).

    .venv/bin/python benchmarks/ingest.py [--orders 10000000] [--repeats 3] [--workdir DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import statistics
import tempfile
import time

from benchmarks.common import ROOT, load_average, measured_runs
from benchmarks.scale import ensure_shop


def child(shop: Path) -> None:
    from common.params import load_params
    from pipeline.ingestion import ingest

    started = time.perf_counter()
    tables, _ = ingest(shop, load_params(ROOT / "params.yaml").data)
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "rows": len(tables["orders"])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "churn-bench-ingest")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from pipeline.ingestion import INGEST_BYTES_PER_VALUE, estimated_rows

    shop = args.workdir / f"orders_{args.orders}"
    ensure_shop(shop, args.orders, "orders")
    rows, columns = estimated_rows(shop / "orders.parquet")
    print(f"load average {load_average()} (2 cores, possibly shared: wall times are noisy)")
    runs = measured_runs(__file__, [str(shop)], args.repeats)
    estimate = rows * columns * INGEST_BYTES_PER_VALUE / 2**20
    print("\n| orders | median s | min s | peak MiB | estimated before reading MiB |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {runs[0]['rows']:,} | {statistics.median(r['seconds'] for r in runs):.1f} | "
          f"{min(r['seconds'] for r in runs):.1f} | "
          f"{max(r['peak_mib'] for r in runs):,.0f} | {estimate:,.0f} |")


if __name__ == "__main__":
    main()
