"""Benchmark of the `features` stage against a bare DuckDB group-by ("the floor").

Generates synthetic canonical orders (1M and 10M orders by default, ~N/8 customers, two years,
sorted by time; reused when already present) and measures, each run in a fresh subprocess:

- floor:    DuckDB `SELECT customer_id, count(*), sum(amount), max(order_ts) ... GROUP BY
            customer_id` over the Parquet file, written to a Parquet file;
- 1 snap:   the feature stage (connect_canonical + build + to_parquet) at cutoffs=[as_of];
- 12 snaps: the same at 11 training cutoffs 30 days apart ending at as_of - 365, plus as_of.

Reported per measurement: median and best wall seconds over the repeats (connect .. Parquet
written; interpreter start and imports excluded), the CPU seconds of all the child's threads
over the same span (less sensitive than wall time to other work on the machine), the child's
peak RSS over the repeats (from os.wait4, i.e. that child's own rusage, imports included) and
the median's ratio to the floor's. Bars: at 10M orders one snapshot within 3x the floor and
under 3 GB (3e9 bytes) peak; 12 snapshots within 8x the floor. The load average is printed
before and after: on a shared machine, treat ratios as noisy.

Run from the repository root:

    .venv/bin/python benchmarks/features.py                 # 1M and 10M orders, 3 repeats
    .venv/bin/python benchmarks/features.py --quick         # 100k orders, 1 repeat (smoke)
    .venv/bin/python benchmarks/features.py --sizes 1000000 --repeats 5 --workdir /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START = datetime(2023, 1, 1)
SPAN_DAYS = 730
HORIZON_DAYS = 365
MEASUREMENTS = ("floor", "1 snapshot", "12 snapshots")
BAR_ONE_SNAP_RATIO = 3.0
BAR_TWELVE_SNAP_RATIO = 8.0
BAR_PEAK_BYTES = 3 * 10**9
BAR_SIZE = 10_000_000


# --- data ------------------------------------------------------------------------------------


def make_orders(n: int, path: Path, seed: int = 0) -> None:
    """Write n canonical orders to `path`: vectorised, a few seconds for 10M rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_customers = max(1, n // 8)
    span_us = SPAN_DAYS * 86_400 * 1_000_000
    start_us = (START - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    ts = np.sort(rng.integers(0, span_us, size=n, dtype=np.int64)) + start_us
    customers = rng.integers(0, n_customers, size=n, dtype=np.int64)
    amount = np.round(rng.lognormal(mean=3.5, sigma=0.8, size=n), 2)

    def ids(prefix: str, values: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pa.array(values).cast(pa.string()), "")

    table = pa.table({
        "order_id": ids("O", np.arange(n, dtype=np.int64)),
        "customer_id": ids("C", customers),
        "order_ts": pa.array(ts, type=pa.timestamp("us")),
        "amount": pa.array(amount, type=pa.float64()),
        "status": pa.repeat("completed", n),
    })
    tmp = path.with_suffix(".tmp.parquet")
    pq.write_table(table, tmp)
    tmp.replace(path)


def ensure_orders(workdir: Path, n: int) -> Path:
    """The canonical folder holding `orders.parquet` with n rows, generated when missing."""
    import pyarrow.parquet as pq

    folder = workdir / f"orders_{n}"
    path = folder / "orders.parquet"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
        print(f"reusing {path}", flush=True)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    make_orders(n, path)
    print(f"generated {path} ({n:,} orders) in {time.perf_counter() - t0:.1f}s", flush=True)
    return folder


def as_of_of(folder: Path) -> date:
    """The last order date, as the stage's resolve_as_of does with as_of: null."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ts = pq.read_table(folder / "orders.parquet", columns=["order_ts"]).column("order_ts")
    return pc.max(ts).as_py().date()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def cutoffs_for(kind: str, as_of: date) -> list[date]:
    if kind == "1 snapshot":
        return [as_of]
    newest = as_of - timedelta(days=HORIZON_DAYS)
    return [newest - timedelta(days=30 * i) for i in range(10, -1, -1)] + [as_of]


# --- child: one measurement in a fresh process -----------------------------------------------


def sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def child(kind: str, folder: Path, out: Path, cutoffs: list[date],
          as_of: date) -> dict[str, Any]:
    if kind == "floor":
        import duckdb

        t0, c0 = time.perf_counter(), time.process_time()
        con = duckdb.connect()
        con.execute(
            "COPY (SELECT customer_id, count(*) AS n, sum(amount) AS amount, max(order_ts) "
            f"AS last_ts FROM read_parquet('{sql_str(folder / 'orders.parquet')}') "
            f"GROUP BY customer_id) TO '{sql_str(out)}' (FORMAT parquet)")
        con.close()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        # benchmarks/ is sys.path[0] and this file is features.py: put the repository first so
        # `features` is the package, not this script
        sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
        from features.engine import FeatureParams, build
        from pipeline.features import connect_canonical

        t0, c0 = time.perf_counter(), time.process_time()
        con, tables = connect_canonical(folder)
        expr, _names = build(tables, cutoffs, as_of, FeatureParams(horizon_days=HORIZON_DAYS))
        con.to_parquet(expr, out)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    import duckdb  # already loaded: counting rows adds nothing to the peak

    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{sql_str(out)}')").fetchall()
    return {"seconds": seconds, "cpu": cpu, "rows": int(rows[0][0])}


# --- parent ----------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    kind: str
    seconds: list[float]
    cpus: list[float]  # CPU seconds of all the child's threads over the timed part
    peaks: list[int]  # bytes
    rows: int | None
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def peak(self) -> int | None:
        return max(self.peaks) if self.peaks else None


def run_once(kind: str, folder: Path, as_of: date, out: Path,
             timeout: float | None) -> tuple[dict[str, Any] | None, int, str | None]:
    """(child's report, child's peak RSS in bytes, error) of one fresh-process measurement."""
    spec = {"kind": kind, "folder": str(folder), "out": str(out), "as_of": as_of.isoformat(),
            "cutoffs": [c.isoformat() for c in cutoffs_for(kind, as_of)]}
    out.unlink(missing_ok=True)
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child",
                                 json.dumps(spec)], cwd=ROOT, stdout=stdout, stderr=stderr)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # wait4 reaps this child and returns its own rusage: the peak is the child's,
            # not the parent's nor the max over every child so far (RUSAGE_CHILDREN)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return None, usage.ru_maxrss * 1024, f"timeout after {timeout:g}s"
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024  # KiB on Linux
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = stderr.read().strip().splitlines()[-3:]
            return None, peak, f"exit {proc.returncode}: " + " | ".join(tail)
        return json.loads(lines[-1]), peak, None


def measure(size: int, kind: str, folder: Path, as_of: date, workdir: Path, repeats: int,
            timeout: float | None) -> Result:
    res = Result(size, kind, [], [], [], None)
    out = workdir / f"out_{size}_{kind.replace(' ', '_')}.parquet"
    for i in range(repeats):
        report, peak, error = run_once(kind, folder, as_of, out, timeout)
        if error is not None:
            res.error = error
            print(f"  {size:>11,} {kind:<13} run {i + 1}: FAILED {error}", flush=True)
            break
        assert report is not None
        res.seconds.append(report["seconds"])
        res.cpus.append(report["cpu"])
        res.peaks.append(peak)
        res.rows = report["rows"]
        print(f"  {size:>11,} {kind:<13} run {i + 1}: {report['seconds']:7.2f}s "
              f"(CPU {report['cpu']:7.2f}s) {peak / 2**20:8.0f} MiB  {report['rows']:,} rows",
              flush=True)
    out.unlink(missing_ok=True)
    return res


def table(results: list[Result]) -> str:
    floors = {r.size: r.median for r in results if r.kind == "floor"}
    rows = ["| orders | measurement | median s | min s | CPU s | peak MiB | x floor "
            "| output rows |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        floor = floors.get(r.size)
        med = r.median
        ratio = f"{med / floor:.1f}x" if med is not None and floor else "-"
        secs = f"{med:.2f}" if med is not None else ("failed" if r.error else "-")
        best = f"{min(r.seconds):.2f}" if r.seconds else "-"
        cpu = f"{statistics.median(r.cpus):.1f}" if r.cpus else "-"
        peak = f"{r.peak / 2**20:.0f}" if r.peak is not None else "-"
        rows_out = f"{r.rows:,}" if r.rows is not None else "-"
        rows.append(f"| {r.size:,} | {r.kind} | {secs} | {best} | {cpu} | {peak} | {ratio} "
                    f"| {rows_out} |")
    rows += [f"\n{r.size:,} {r.kind} failed: {r.error}" for r in results if r.error]
    return "\n".join(rows)


def bars(results: list[Result]) -> list[str]:
    by = {(r.size, r.kind): r for r in results}
    lines = [f"Bars at {BAR_SIZE:,} orders: 1 snapshot <= {BAR_ONE_SNAP_RATIO:.0f}x the floor "
             f"and peak < 3 GB ({BAR_PEAK_BYTES / 2**20:.0f} MiB); 12 snapshots <= "
             f"{BAR_TWELVE_SNAP_RATIO:.0f}x the floor."]
    floor, one, twelve = (by.get((BAR_SIZE, k)) for k in MEASUREMENTS)
    if floor is None or floor.median is None:
        lines.append(f"  (not evaluated: no {BAR_SIZE:,}-order floor in this run)")
        return lines

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    for res, limit in ((one, BAR_ONE_SNAP_RATIO), (twelve, BAR_TWELVE_SNAP_RATIO)):
        if res is None or res.median is None:
            lines.append(f"  {res.kind if res else '?'}: not measured")
            continue
        ratio = res.median / floor.median
        lines.append(f"  {res.kind}: {ratio:.1f}x the floor (bar {limit:.0f}x) "
                     f"-> {verdict(ratio <= limit)}")
    if one is not None and one.peak is not None:
        lines.append(f"  1 snapshot peak: {one.peak / 2**20:.0f} MiB (bar "
                     f"{BAR_PEAK_BYTES / 2**20:.0f} MiB) -> {verdict(one.peak < BAR_PEAK_BYTES)}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100k orders, 1 repeat")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where data and outputs go (default: a fixed folder under $TMPDIR, "
                             "so generated data is reused across runs)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds per run before it is killed and reported as failed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        spec = json.loads(args.child)
        report = child(spec["kind"], Path(spec["folder"]), Path(spec["out"]),
                       [date.fromisoformat(c) for c in spec["cutoffs"]],
                       date.fromisoformat(spec["as_of"]))
        print(json.dumps(report))
        return

    sizes, repeats = ([100_000], 1) if args.quick else (args.sizes, args.repeats)
    workdir = args.workdir or Path(tempfile.gettempdir()) / "churn-bench-features"
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"workdir {workdir}; {os.cpu_count()} CPUs; {repeats} run(s) per measurement; "
          f"load average {load()} (other work on the machine skews wall times)", flush=True)
    results: list[Result] = []
    for size in sizes:
        folder = ensure_orders(workdir, size)
        as_of = as_of_of(folder)
        for kind in MEASUREMENTS:
            results.append(measure(size, kind, folder, as_of, workdir, repeats, args.timeout))
    print()
    print(table(results))
    print()
    print("\n".join(bars(results)))
    print(f"\n{os.cpu_count()} CPUs; load average at the end {load()}")


if __name__ == "__main__":
    main()
