"""Benchmark of the `features` stage against a bare DuckDB group-by ("the floor").

Generates synthetic canonical orders (1M and 10M orders by default, ~N/8 customers, two years,
sorted by time; reused when already present) and measures, each run in a fresh subprocess:

- floor:    DuckDB `SELECT customer_id, count(*), sum(amount), max(order_ts) ... GROUP BY
            customer_id` over the Parquet file, written to a Parquet file;
- ordered pass: the bare query every inter-purchase-gap feature needs: a per-customer `lag()`
            window, then count, sum, last date and the std of the gaps per customer (a
            reference for what ordering alone costs, not a bar);
- 1 snap:   the feature stage as it runs (connect_canonical, then
            pipeline/stages/features.py `write_features`: the features and the cause model's
            evidence in the same passes, floats rounded, written one snapshot at a time) at
            cutoffs=[as_of];
- 12 snaps: the same at 11 training cutoffs 30 days apart ending at as_of - 365, plus as_of
            (the shared passes computed once, then one Parquet file per cutoff);
- "..., no evidence": the same without the evidence (the features alone). The orders-only
            data has `status`, so the evidence is its orders anchor (orders so far, last
            date, episode) and the returned-status block; a shop with returns, reviews and
            events adds blocks (not measured here).

The two feature measurements run on each engine given with --engines: `duckdb` (the default,
embedded DuckDB within its default memory limit, half the machine) and/or `spark`
(connect_canonical with engine: spark on --spark-master, default local[2], the snapshots
stacked and written as one Parquet folder). The floor is always the bare DuckDB query; rows
are marked with their engine.

Reported per measurement: median and best wall seconds over the repeats (connect .. Parquet
written; interpreter start and imports excluded; on Spark this includes starting the JVM and
the session, which connect does), the CPU seconds of all the child's threads over the same span
(less sensitive than wall time to other work on the machine; on Spark plus the CPU of the
child's descendants, i.e. the JVM), the child's peak RSS over the repeats (from os.wait4, i.e.
that child's own rusage, imports included; this does NOT count the Spark JVM, a grandchild),
on DuckDB, the seconds to write the stage's output alone (the same rows loaded into memory
first, then `COPY ... TO` Parquet: what any engine pays to hand over that many values),
the tree peak (the max over the repeats of the summed RSS of the child and all its descendants,
polled with psutil every 0.2 s, and at least the wait4 peak; shared pages are counted once per
process) and the median's ratio to the floor's. Bars: at 10M orders one snapshot within 4x the
floor and at most 1.5 GB (1.5e9 bytes) peak; 12 snapshots within 15x the floor and at most
4 GB (4e9 bytes). On DuckDB the peak bar uses the wait4 peak; on Spark the tree peak (JVM
included); the bars are checked for the stage as it runs (with the evidence) and without it.
The load average is printed before, after every run and at the end: on a shared machine, treat
ratios as noisy.

Run from the repository root:

    .venv/bin/python benchmarks/features.py                 # 1M and 10M orders, 3 repeats
    .venv/bin/python benchmarks/features.py --quick         # 100k orders, 1 repeat (smoke)
    .venv/bin/python benchmarks/features.py --sizes 1000000 --repeats 5 --workdir /tmp/bench
    .venv/bin/python benchmarks/features.py --engines duckdb spark --sizes 10000000 --repeats 1
    .venv/bin/python benchmarks/features.py --engines spark --snapshots 1   # skip 12 snapshots
    .venv/bin/python benchmarks/features.py --evidence with   # the stage as it runs, only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START = datetime(2023, 1, 1)
SPAN_DAYS = 730
HORIZON_DAYS = 365
NO_EVIDENCE = ", no evidence"  # suffix of the measurements without the evidence join
REFERENCES = ("floor", "ordered pass")  # bare DuckDB queries, run once per size
SNAPSHOT_KINDS = {1: "1 snapshot", 12: "12 snapshots"}
ENGINES = ("duckdb", "spark")
FLOOR_ENGINE = "duckdb"  # the floor is a bare DuckDB query whatever the engines measured
TREE_POLL_SECONDS = 0.2
BAR_ONE_SNAP_RATIO = 4.0
BAR_TWELVE_SNAP_RATIO = 15.0
BAR_ONE_SNAP_PEAK = 1.5e9
BAR_TWELVE_SNAP_PEAK = 4e9
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
    if kind.startswith(SNAPSHOT_KINDS[1]):
        return [as_of]
    newest = as_of - timedelta(days=HORIZON_DAYS)
    return [newest - timedelta(days=30 * i) for i in range(10, -1, -1)] + [as_of]


# --- child: one measurement in a fresh process -----------------------------------------------


def sql_str(path: Path) -> str:
    return str(path).replace("'", "''")


def descendants_cpu() -> float:
    """CPU seconds of this process's live descendants (the Spark JVM), including what they
    reaped (the launcher spark-submit runs before exec-ing the JVM)."""
    import psutil

    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


REFERENCE_SQL = {
    "floor": "SELECT customer_id, count(*) AS n, sum(amount) AS amount, max(order_ts) AS last_ts "
             "FROM read_parquet('{orders}') GROUP BY customer_id",
    "ordered pass": "SELECT customer_id, count(*) AS n, sum(amount) AS amount, max(d) AS last, "
                    "stddev_samp(gap) AS gap_std FROM (SELECT customer_id, amount, "
                    "order_ts::date AS d, order_ts::date - lag(order_ts::date) OVER (PARTITION "
                    "BY customer_id ORDER BY order_ts) AS gap FROM read_parquet('{orders}')) "
                    "GROUP BY customer_id",
}


def write_only_seconds(out: Path) -> float:
    """Seconds to write the stage's output rows again from memory to Parquet (run in its own
    process, so loading the rows doesn't count in the stage's peak)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false; SET enable_progress_bar = false")
    source = out / "*.parquet" if out.is_dir() else out
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{sql_str(source)}')")
    target = out.with_name(out.name + ".write-only.parquet")
    t0 = time.perf_counter()
    con.execute(f"COPY t TO '{sql_str(target)}' (FORMAT parquet)")
    seconds = time.perf_counter() - t0
    con.close()
    target.unlink(missing_ok=True)
    return seconds


def child(kind: str, folder: Path, out: Path, cutoffs: list[date], as_of: date,
          engine: str = "duckdb", master: str = "local[2]") -> dict[str, Any]:
    if kind in REFERENCE_SQL:
        import duckdb

        t0, c0 = time.perf_counter(), time.process_time()
        con = duckdb.connect()
        query = REFERENCE_SQL[kind].format(orders=sql_str(folder / "orders.parquet"))
        con.execute(f"COPY ({query}) TO '{sql_str(out)}' (FORMAT parquet)")
        con.close()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        # benchmarks/ is sys.path[0] and this file is features.py: put the repository first so
        # `features` is the package, not this script
        sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
        from common.params import parse
        from pipeline.engines import connect_canonical
        from pipeline.stages.features import write_features

        # the default params (params.yaml spells out exactly these), on the engine measured
        params = parse({"engine": engine, "spark": {"master": master, "conf": {}}})
        evidence = not kind.endswith(NO_EVIDENCE)

        def stage(con, tables, target):
            """What the features stage runs: pipeline/stages/features.py write_features."""
            write_features(con, tables, cutoffs, as_of, HORIZON_DAYS, params, target, evidence)

        if engine == "duckdb":
            t0, c0 = time.perf_counter(), time.process_time()
            con, tables = connect_canonical(folder, params)
            stage(con, tables, out)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        else:
            import pyspark.sql  # noqa: F401  (imports excluded from the timing, as on DuckDB)

            t0, c0 = time.perf_counter(), time.process_time()
            con, tables = connect_canonical(folder, params)  # starts the JVM and the session
            stage(con, tables, out)
            seconds = time.perf_counter() - t0
            # the JVM started after t0, so all of its CPU falls in the timed span
            cpu = time.process_time() - c0 + descendants_cpu()
            con.disconnect()
    import duckdb  # loaded on DuckDB: counting rows adds nothing to the peak there

    source = out / "*.parquet" if out.is_dir() else out  # Spark writes a folder of part files
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{sql_str(source)}')").fetchall()
    columns = duckdb.sql(f"SELECT * FROM read_parquet('{sql_str(source)}') LIMIT 0").columns
    return {"seconds": seconds, "cpu": cpu, "rows": int(rows[0][0]), "columns": len(columns)}


# --- parent ----------------------------------------------------------------------------------


@dataclass
class Result:
    size: int
    engine: str
    kind: str
    seconds: list[float]
    cpus: list[float]  # CPU seconds of all the child's threads (and JVM) over the timed part
    peaks: list[int]  # bytes, the child's own (os.wait4)
    tree_peaks: list[int]  # bytes, summed RSS of the child and its descendants (psutil)
    rows: int | None
    error: str | None = None
    columns: int | None = None
    writes: list[float] = field(default_factory=list)  # the output's write-only seconds

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def peak(self) -> int | None:
        return max(self.peaks) if self.peaks else None

    @property
    def tree_peak(self) -> int | None:
        return max(self.tree_peaks) if self.tree_peaks else None


def remove(path: Path) -> None:
    """Remove an output: a file (DuckDB) or a folder (Spark), and write_parquet's temporary."""
    for p in (path, path.with_name(f".{path.name}.tmp")):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


class TreeWatch:
    """Peak summed RSS of a process and its descendants, polled with psutil."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.kids: list[Any] = []  # descendants seen at the last poll
        self.peak = 0
        self.last = 0.0

    def poll(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < TREE_POLL_SECONDS:
            return
        self.last = now
        try:
            kids = self.root.children(recursive=True)
        except self.psutil.Error:  # exited (a zombie until reaped): keep the last list
            return
        self.kids = kids
        total = 0
        for proc in (self.root, *kids):
            try:
                total += proc.memory_info().rss
            except self.psutil.Error:
                pass
        self.peak = max(self.peak, total)

    def end_descendants(self, grace: float) -> None:
        """Wait for the descendants seen last (the JVM exits when its Python parent does);
        kill, by process, those still there after `grace` seconds."""
        _gone, alive = self.psutil.wait_procs(self.kids, timeout=grace)
        for proc in alive:
            try:
                proc.kill()
            except self.psutil.Error:
                pass
        self.psutil.wait_procs(alive, timeout=grace)


def run_once(kind: str, folder: Path, as_of: date, out: Path, timeout: float | None,
             engine: str = "duckdb", master: str = "local[2]"
             ) -> tuple[dict[str, Any] | None, int, int, str | None]:
    """(child's report, child's peak RSS, process tree's peak RSS (bytes), error) of one
    fresh-process measurement."""
    spec = {"kind": kind, "folder": str(folder), "out": str(out), "as_of": as_of.isoformat(),
            "cutoffs": [c.isoformat() for c in cutoffs_for(kind, as_of)], "engine": engine,
            "master": master}
    remove(out)
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child",
                                 json.dumps(spec)], cwd=ROOT, stdout=stdout, stderr=stderr)
        tree = TreeWatch(proc.pid)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            tree.poll()
            # wait4 reaps this child and returns its own rusage: the peak is the child's,
            # not the parent's nor the max over every child so far (RUSAGE_CHILDREN)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                tree.poll(force=True)
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                tree.end_descendants(grace=0)
                peak = usage.ru_maxrss * 1024
                return None, peak, max(tree.peak, peak), f"timeout after {timeout:g}s"
            time.sleep(0.05)
        tree.end_descendants(grace=30)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024  # KiB on Linux
        # polls can miss a short spike; the child's own peak is a floor for the tree's
        tree_peak = max(tree.peak, peak)
        stdout.seek(0)
        stderr.seek(0)
        lines = stdout.read().strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = stderr.read().strip().splitlines()[-3:]
            return None, peak, tree_peak, f"exit {proc.returncode}: " + " | ".join(tail)
        return json.loads(lines[-1]), peak, tree_peak, None


def measure(size: int, kind: str, folder: Path, as_of: date, workdir: Path, repeats: int,
            timeout: float | None, engine: str = "duckdb",
            master: str = "local[2]") -> Result:
    res = Result(size, engine, kind, [], [], [], [], None)
    out = workdir / f"out_{size}_{engine}_{kind.replace(' ', '_').replace(',', '')}.parquet"
    for i in range(repeats):
        report, peak, tree_peak, error = run_once(kind, folder, as_of, out, timeout, engine,
                                                  master)
        if error is not None:
            res.error = error
            print(f"  {size:>11,} {engine:<6} {kind:<25} run {i + 1}: FAILED {error} "
                  f"(peak {peak / 2**20:.0f} MiB, tree {tree_peak / 2**20:.0f} MiB)",
                  flush=True)
            break
        assert report is not None
        res.seconds.append(report["seconds"])
        res.cpus.append(report["cpu"])
        res.peaks.append(peak)
        res.tree_peaks.append(tree_peak)
        res.rows = report["rows"]
        res.columns = report.get("columns")
        if engine == "duckdb" and kind not in REFERENCE_SQL:
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--write-only",
                                   str(out)], cwd=ROOT, capture_output=True, text=True,
                                  check=True)
            res.writes.append(float(done.stdout.strip().splitlines()[-1]))
        print(f"  {size:>11,} {engine:<6} {kind:<25} run {i + 1}: {report['seconds']:7.2f}s "
              f"(CPU {report['cpu']:7.2f}s) {peak / 2**20:8.0f} MiB (tree "
              f"{tree_peak / 2**20:.0f} MiB)  {report['rows']:,} rows; load average "
              f"{load()}", flush=True)
    remove(out)
    return res


def table(results: list[Result]) -> str:
    floors = {r.size: r.median for r in results if r.kind == "floor"}
    rows = ["| orders | engine | measurement | median s | min s | CPU s | peak MiB "
            "| tree peak MiB | x floor | output rows | output columns "
            "| output write-only s (x floor) |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        floor = floors.get(r.size)
        med = r.median
        ratio = f"{med / floor:.1f}x" if med is not None and floor else "-"
        secs = f"{med:.2f}" if med is not None else ("failed" if r.error else "-")
        best = f"{min(r.seconds):.2f}" if r.seconds else "-"
        cpu = f"{statistics.median(r.cpus):.1f}" if r.cpus else "-"
        peak = f"{r.peak / 2**20:.0f}" if r.peak is not None else "-"
        tree = f"{r.tree_peak / 2**20:.0f}" if r.tree_peak is not None else "-"
        rows_out = f"{r.rows:,}" if r.rows is not None else "-"
        cols_out = f"{r.columns}" if r.columns is not None else "-"
        write = statistics.median(r.writes) if r.writes else None
        write_s = "-" if write is None else (
            f"{write:.2f} ({write / floor:.1f}x)" if floor else f"{write:.2f}")
        rows.append(f"| {r.size:,} | {r.engine} | {r.kind} | {secs} | {best} | {cpu} | {peak} "
                    f"| {tree} | {ratio} | {rows_out} | {cols_out} | {write_s} |")
    rows += [f"\n{r.size:,} {r.engine} {r.kind} failed: {r.error}"
             for r in results if r.error]
    return "\n".join(rows)


def bars(results: list[Result], engine: str = "duckdb", suffix: str = "") -> list[str]:
    """The bars for one engine, on the measurements named with `suffix` ("" = the stage as it
    runs, with the evidence; NO_EVIDENCE = without). On DuckDB the peak is the child's own
    (os.wait4), as always; on Spark the process tree's, since the JVM holds the data."""
    by = {(r.size, r.engine, r.kind): r for r in results}
    on = ", ".join(x for x in ("" if engine == "duckdb" else engine,
                               "without evidence" if suffix else "with evidence") if x)
    on = f" ({on})"
    lines = [f"Bars{on} at {BAR_SIZE:,} orders: 1 snapshot <= {BAR_ONE_SNAP_RATIO:.0f}x the "
             f"floor and peak <= {BAR_ONE_SNAP_PEAK / 1e9:.1f} GB "
             f"({BAR_ONE_SNAP_PEAK / 2**20:.0f} MiB); 12 snapshots <= "
             f"{BAR_TWELVE_SNAP_RATIO:.0f}x the floor and peak <= "
             f"{BAR_TWELVE_SNAP_PEAK / 1e9:.0f} GB ({BAR_TWELVE_SNAP_PEAK / 2**20:.0f} MiB)."]
    floor = by.get((BAR_SIZE, FLOOR_ENGINE, "floor"))
    if floor is None or floor.median is None:
        lines.append(f"  (not evaluated: no {BAR_SIZE:,}-order floor in this run)")
        return lines

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    what = "peak" if engine == "duckdb" else "process-tree peak, JVM included"
    for n, limit, peak_limit in ((1, BAR_ONE_SNAP_RATIO, BAR_ONE_SNAP_PEAK),
                                 (12, BAR_TWELVE_SNAP_RATIO, BAR_TWELVE_SNAP_PEAK)):
        kind = SNAPSHOT_KINDS[n] + suffix
        res = by.get((BAR_SIZE, engine, kind))
        if res is None or res.median is None:
            lines.append(f"  {kind}: not measured")
            continue
        ratio = res.median / floor.median
        lines.append(f"  {res.kind}: {ratio:.1f}x the floor (bar {limit:.0f}x) "
                     f"-> {verdict(ratio <= limit)}")
        peak = res.peak if engine == "duckdb" else res.tree_peak
        if peak is not None:
            lines.append(f"  {res.kind} {what}: {peak / 2**20:.0f} MiB (bar "
                         f"{peak_limit / 2**20:.0f} MiB) -> {verdict(peak <= peak_limit)}")
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
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=["duckdb"],
                        help="engines the feature stage runs on (default: duckdb); the floor "
                             "is always bare DuckDB")
    parser.add_argument("--snapshots", type=int, nargs="+", choices=sorted(SNAPSHOT_KINDS),
                        default=sorted(SNAPSHOT_KINDS),
                        help="which feature measurements to run (default: 1 12)")
    parser.add_argument("--evidence", choices=("both", "with", "without"), default="both",
                        help="measure the stage with the cause evidence (as the stage "
                             "does), without it, or both (default)")
    parser.add_argument("--spark-master", default="local[2]",
                        help="Spark master for --engines spark (default: local[2])")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--write-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.write_only:
        print(write_only_seconds(args.write_only))
        return

    if args.child:
        spec = json.loads(args.child)
        report = child(spec["kind"], Path(spec["folder"]), Path(spec["out"]),
                       [date.fromisoformat(c) for c in spec["cutoffs"]],
                       date.fromisoformat(spec["as_of"]), spec.get("engine", "duckdb"),
                       spec.get("master", "local[2]"))
        print(json.dumps(report))
        return

    sizes, repeats = ([100_000], 1) if args.quick else (args.sizes, args.repeats)
    workdir = args.workdir or Path(tempfile.gettempdir()) / "churn-bench-features"
    workdir.mkdir(parents=True, exist_ok=True)
    engines = list(dict.fromkeys(args.engines))
    suffixes = {"both": ["", NO_EVIDENCE], "with": [""], "without": [NO_EVIDENCE]}[args.evidence]
    kinds = [SNAPSHOT_KINDS[n] + suffix for n in sorted(set(args.snapshots))
             for suffix in suffixes]
    print(f"workdir {workdir}; {os.cpu_count()} CPUs; {repeats} run(s) per measurement; "
          f"engines {' '.join(engines)}; load average {load()} (other work on the machine "
          "skews wall times)", flush=True)
    results: list[Result] = []
    for size in sizes:
        folder = ensure_orders(workdir, size)
        as_of = as_of_of(folder)
        for kind in REFERENCES:
            results.append(measure(size, kind, folder, as_of, workdir, repeats, args.timeout,
                                   FLOOR_ENGINE))
        for engine in engines:
            for kind in kinds:
                results.append(measure(size, kind, folder, as_of, workdir, repeats,
                                       args.timeout, engine, args.spark_master))
    print()
    print(table(results))
    for engine in engines:
        for suffix in suffixes:
            print()
            print("\n".join(bars(results, engine, suffix)))
    print(f"\n{os.cpu_count()} CPUs; load average at the end {load()}")


if __name__ == "__main__":
    main()
