"""End to end at scale: `churn run` with default params on a generated shop, wall time and
peak memory per stage.

Generates a shop (vectorised numpy, written to Parquet in chunks, so generating 100M orders
needs a few GB): `orders` (customer_id, order_id, order_ts, amount, status; ~orders/8
customers over two years, each buying at their own rate between their own first and last
active day, so some lapse and some stay) or `full` (the same orders and order_items with
products, returns of the returned orders with a reason, and about one event per order:
visits, e-mail opens and clicks, coupon claims, a few complaints). Then copies the project
(pipeline/project.py copy_project) next to it and runs `churn run --data SHOP --publish` there,
in the background-safe way a user would (its own process group, no terminal), polling the
process tree every half second: each stage is the `python -m pipeline.stages.<name>` process
DVC starts, its wall time the span it was seen, its peak the largest summed RSS of it and its
children. The run is stopped (and reported as such) if the machine's available memory falls
under --min-free-gib, so a shared machine is never pushed into its out-of-memory killer.

    .venv/bin/python benchmarks/scale.py --orders 20000000 --kind full
    .venv/bin/python benchmarks/scale.py --orders 100000000 --kind orders
    .venv/bin/python benchmarks/scale.py --orders 1000000 --kind full --workdir /tmp/s  # smoke

Prints a table (stage, wall s, peak RSS MiB) and writes it with the run's details to
WORKDIR/<kind>_<orders>/result.json; the pipeline's output is in WORKDIR/<kind>_<orders>/run.log.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import ROOT, load_average

START = datetime(2023, 1, 1)
SPAN_DAYS = 730
DAY_US = 86_400 * 1_000_000
CHUNK = 5_000_000
CATEGORIES = [f"cat{i:02d}" for i in range(20)]
RETURN_REASONS = np.array(["too small", "arrived late", "found it cheaper elsewhere",
                           "quality was poor", "changed my mind", None], dtype=object)
EVENT_TYPES = np.array(["visit", "email_open", "email_click", "coupon_claim", "complaint"])
EVENT_SHARES = [0.55, 0.3, 0.08, 0.05, 0.02]
POLL_SECONDS = 0.5


# --- the shop --------------------------------------------------------------------------------


def _ids(prefix: str, values: np.ndarray) -> pa.Array:
    return pa.compute.binary_join_element_wise(prefix, pa.array(values).cast(pa.string()), "")


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype(np.int64) + (START - datetime(1970, 1, 1)) // timedelta(
        microseconds=1), type=pa.timestamp("us"))


class Customers:
    """Each customer's rate, active span and spending level: who buys when is drawn from
    these, so recency, frequency and a lapse carry signal."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        span = SPAN_DAYS * DAY_US
        rate = rng.gamma(0.7, 1.0, n)
        self.weights = rate / rate.sum()
        self.first = rng.uniform(0, 0.85 * span, n)
        life = rng.exponential(400 * DAY_US, n)
        self.last = np.minimum(self.first + life, span)
        self.level = rng.lognormal(3.3, 0.5, n)
        self.n = n

    def draw(self, k: int, rng: np.random.Generator, after_days: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray]:
        """k (customer, timestamp in µs since START) pairs, customers by rate, each time in
        the customer's active span (extended by `after_days`)."""
        c = rng.choice(self.n, size=k, p=self.weights)
        end = np.minimum(self.last[c] + after_days * DAY_US, SPAN_DAYS * DAY_US)
        return c, self.first[c] + rng.random(k) * (end - self.first[c])


def write_shop(folder: Path, orders: int, kind: str, seed: int = 0) -> None:
    """The shop's contract tables as Parquet files in `folder`, written in chunks."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    people = Customers(max(1, orders // 8), rng)
    full = kind == "full"
    n_products = 5_000
    price = np.round(rng.lognormal(3.0, 0.7, n_products), 2)
    if full:
        pq.write_table(pa.table({
            "product_id": _ids("P", np.arange(n_products)),
            "category": pa.array(rng.choice(CATEGORIES, n_products)),
            "list_price": pa.array(price),
            "launch_date": _ts(rng.uniform(-365, SPAN_DAYS, n_products) * DAY_US),
        }), folder / "products.parquet")
    writers: dict[str, pq.ParquetWriter] = {}

    def write(name: str, table: pa.Table) -> None:
        if name not in writers:
            writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
        writers[name].write_table(table)

    for lo in range(0, orders, CHUNK):
        k = min(CHUNK, orders - lo)
        c, ts = people.draw(k, rng)
        amount = np.round(people.level[c] * rng.lognormal(0, 0.4, k), 2)
        status = rng.choice(np.array(["completed", "returned", "cancelled"]), k,
                            p=[0.93, 0.05, 0.02])
        order_ids = np.arange(lo, lo + k)
        write("orders", pa.table({"customer_id": _ids("C", c), "order_id": _ids("O", order_ids),
                                  "order_ts": _ts(ts), "amount": pa.array(amount),
                                  "status": pa.array(status)}))
        if not full:
            continue
        per_order = rng.choice([1, 2, 3], k, p=[0.6, 0.3, 0.1])
        item_order = np.repeat(order_ids, per_order)
        product = np.minimum(rng.zipf(1.3, len(item_order)) - 1, n_products - 1)
        write("order_items", pa.table({
            "order_id": _ids("O", item_order), "product_id": _ids("P", product),
            "quantity": pa.array(rng.choice([1.0, 2.0], len(item_order), p=[0.85, 0.15])),
            "unit_price": pa.array(price[product])}))
        back = status == "returned"
        write("returns", pa.table({
            "order_id": _ids("O", order_ids[back]),
            "return_ts": _ts(ts[back] + rng.uniform(2, 20, back.sum()) * DAY_US),
            "amount": pa.array(amount[back]),
            "reason": pa.array(rng.choice(RETURN_REASONS, back.sum()), type=pa.string())}))
        ec, ets = people.draw(k, rng, after_days=90)
        write("events", pa.table({
            "customer_id": _ids("C", ec), "event_ts": _ts(ets),
            "event_type": pa.array(rng.choice(EVENT_TYPES, k, p=EVENT_SHARES))}))
    for w in writers.values():
        w.close()


def ensure_shop(folder: Path, orders: int, kind: str) -> float:
    """Generate the shop unless it is there already; the seconds it took (0 when reused)."""
    marker = folder / ".complete"
    if marker.exists():
        print(f"reusing {folder}", flush=True)
        return 0.0
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    write_shop(folder, orders, kind)
    marker.write_text(str(orders))
    seconds = time.perf_counter() - t0
    print(f"generated {folder} ({orders:,} orders, {kind}) in {seconds:.0f}s", flush=True)
    return seconds


# --- the run ---------------------------------------------------------------------------------


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def stage_of(cmdline: list[str]) -> str | None:
    """The stage a process runs: `python -m pipeline.stages.<name>`."""
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "-m" and cmdline[i + 1].startswith("pipeline.stages."):
            return cmdline[i + 1].rsplit(".", 1)[1]
    return None


def watch(proc: subprocess.Popen, min_free: int) -> tuple[dict[str, dict], int, str | None]:
    """Poll the run's process tree until it exits: per stage its first and last sighting and
    peak summed RSS; the whole tree's peak; why it was stopped, if it was."""
    import psutil

    root = psutil.Process(proc.pid)
    stages: dict[str, dict] = {}
    peak, stopped = 0, None
    while proc.poll() is None:
        now = time.monotonic()
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        rss: dict[int, int] = {}
        for p in procs:
            try:
                rss[p.pid] = p.memory_info().rss
            except psutil.Error:
                rss[p.pid] = 0
        peak = max(peak, sum(rss.values()))
        for p in procs:
            try:
                name = stage_of(p.cmdline())
                if name is None:
                    continue
                total = rss[p.pid] + sum(rss.get(k.pid, 0) for k in p.children(recursive=True))
            except psutil.Error:
                continue
            s = stages.setdefault(name, {"first": now, "last": now, "peak": 0})
            s["last"], s["peak"] = now, max(s["peak"], total)
        if available_bytes() < min_free:
            stopped = (f"stopped: the machine's available memory fell under "
                       f"{min_free / 2**30:.1f} GiB")
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
            break
        time.sleep(POLL_SECONDS)
    return stages, peak, stopped


def run_churn(project: Path, shop: Path, log: Path, min_free: int) -> dict:
    """`churn run --data shop --publish` in the project copy, watched."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    t0 = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--data",
                                 str(shop), "--publish"], cwd=project, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        stages, peak, stopped = watch(proc, min_free)
        code = proc.wait()
    wall = time.monotonic() - t0
    order = sorted(stages, key=lambda s: stages[s]["first"])
    return {"exit_code": code, "wall_seconds": round(wall, 1), "tree_peak_mib": peak // 2**20,
            "stopped": stopped,
            "stages": [{"stage": s, "start_s": round(stages[s]["first"] - t0, 1),
                        "seconds": round(stages[s]["last"] - stages[s]["first"], 1),
                        "peak_mib": stages[s]["peak"] // 2**20} for s in order]}


def table(result: dict) -> str:
    rows = [f"{result['orders']:,} orders ({result['kind']}), {result['customers']:,} "
            f"customers: churn run exit {result['exit_code']} in {result['wall_seconds']:.0f} s, "
            f"process-tree peak {result['tree_peak_mib']:,} MiB"
            + (f"; {result['stopped']}" if result["stopped"] else ""),
            "", "| stage | wall s | peak RSS MiB |", "|---|---:|---:|"]
    rows += [f"| {s['stage']} | {s['seconds']:.0f} | {s['peak_mib']:,} |"
             for s in result["stages"]]
    rows.append(f"| churn run (total, DVC included) | {result['wall_seconds']:.0f} "
                f"| {result['tree_peak_mib']:,} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000_000)
    parser.add_argument("--kind", choices=("orders", "full"), default="orders")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "churn-bench-scale")
    parser.add_argument("--min-free-gib", type=float, default=1.5,
                        help="stop the run when the machine's available memory falls under "
                             "this (default 1.5)")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args(argv)

    from pipeline.project import copy_project

    base = args.workdir / f"{args.kind}_{args.orders}"
    shop = base / "shop"
    print(f"{os.cpu_count()} CPUs, load average {load_average()}", flush=True)
    generated = ensure_shop(shop, args.orders, args.kind)
    if args.generate_only:
        return
    project = base / "project"
    shutil.rmtree(project, ignore_errors=True)
    copy_project(project, ROOT)
    customers = pq.read_table(shop / "orders.parquet", columns=["customer_id"]).column(0)
    n_customers = len(pa.compute.unique(customers))
    del customers
    print(f"running churn run in {project} (log {base / 'run.log'})", flush=True)
    result = {"orders": args.orders, "kind": args.kind, "customers": n_customers,
              "generate_seconds": round(generated, 1),
              "load_average_before": load_average(),
              **run_churn(project, shop, base / "run.log", int(args.min_free_gib * 2**30)),
              "load_average_after": load_average()}
    (base / "result.json").write_text(json.dumps(result, indent=2))
    print(table(result), flush=True)
    tail = (base / "run.log").read_text().strip().splitlines()[-5:]
    print("last lines of the run:\n  " + "\n  ".join(tail))


if __name__ == "__main__":
    main()
