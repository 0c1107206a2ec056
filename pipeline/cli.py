"""`churn`: the command line of the churn pipeline (typer + rich)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.errors import ChurnError

app = typer.Typer(help="Churn scores, reasons and actions for online shops.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run_stage(main: Callable[[], None]) -> None:
    """Entry point wrapper for `python -m pipeline.<stage>`: one clear line, never a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except ChurnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def _dvc(*args: str) -> int:
    """Run DVC with this interpreter's scripts first on PATH, so stages use the same venv."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call([sys.executable, "-m", "dvc", *args], env=env)


DataOpt = Annotated[Path | None, typer.Option("--data", help="Shop folder or orders file; "
                                                  "overrides data.input for this run.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Cutoff date YYYY-MM-DD; "
                                                 "overrides as_of (default: last order date).")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon-days", min=1,
                                                help="Overrides churn.horizon_days.")]


def _overrides(data: Path | None, as_of: str | None, horizon_days: int | None) -> dict:
    out: dict = {}
    if data is not None:
        if not data.exists():
            fail(f"{data}: input path not found")
        out["data.input"] = str(data.resolve())
    if as_of is not None:
        try:
            out["as_of"] = date.fromisoformat(as_of).isoformat()
        except ValueError:
            fail(f"--as-of {as_of!r} is not a date like 2024-06-30")
    if horizon_days is not None:
        out["churn.horizon_days"] = horizon_days
    return out


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the shop's tables into.")],
    customers: Annotated[int, typer.Option(min=10, help="Number of customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="The same seed gives the same shop.")] = 42,
) -> None:
    """Write a synthetic shop (all six tables) and its churn-cause truth file.

    Example: churn synth --out data/myshop --customers 5000 --seed 7
    """
    from pipeline.synth import TRUTH_FILE, ShopConfig, write_shop

    counts = write_shop(out, ShopConfig(customers=customers, seed=seed))
    table = Table("table", "rows", title=f"synthetic shop in {out}")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    Console().print(table)
    console.print(f"truth (evaluation only): {out / TRUTH_FILE}")


@app.command()
def ingest(data: DataOpt = None, params: Path = Path("params.yaml"),
           out: Path = Path("data/canonical"), report: Path = Path("reports/ingest.json")) -> None:
    """Read, validate and normalise a shop's files into canonical Parquet, with a report.

    Example: churn ingest --data ~/exports/myshop/
    """
    from pipeline.ingest import ingest as run_ingest
    from pipeline.ingest import write_canonical
    from pipeline.io import write_json
    from pipeline.params import get, load_params

    try:
        p = load_params(params)
        input_path = Path(data) if data else Path(get(p, "data.input"))
        tables, summary = run_ingest(input_path, p.get("data") or {})
    except ChurnError as exc:
        fail(str(exc))
    write_canonical(tables, out)
    write_json(summary, report)
    table = Table("table", "read", "kept", "dropped", "fixed", title=f"ingest of {input_path}")
    for name, r in summary["tables"].items():
        table.add_row(name, f"{r['rows_read']:,}", f"{r['rows_kept']:,}",
                      ", ".join(f"{k}: {v}" for k, v in r["dropped"].items()) or "-",
                      ", ".join(f"{k}: {v}" for k, v in r["fixed"].items()) or "-")
    Console().print(table)


def _pipeline(command: str, params: Path, overrides: dict, *dvc_calls: list[str]) -> None:
    """Run DVC commands under the project lock with params overridden for this run only."""
    from pipeline.lock import project_lock
    from pipeline.params import overridden

    if not params.exists():
        fail(f"{params}: not found; run churn from the project root")
    try:
        with project_lock(command), overridden(params, overrides):
            for args in dvc_calls:
                code = _dvc(*args)
                if code != 0:
                    fail(f"`dvc {' '.join(args)}` failed (exit {code}); the stage's error is "
                         "printed above")
    except ChurnError as exc:
        fail(str(exc))


@app.command()
def run(data: DataOpt = None, as_of: AsOfOpt = None, horizon_days: HorizonOpt = None,
        params: Path = Path("params.yaml")) -> None:
    """Run the whole DVC pipeline (dvc repro), with overrides for this run only.

    Examples: churn run | churn run --data shop/ --as-of 2024-12-31 --horizon-days 182
    """
    _pipeline("churn run", params, _overrides(data, as_of, horizon_days), ["repro"])


@app.command()
def retrain(as_of: AsOfOpt = None, data: DataOpt = None, horizon_days: HorizonOpt = None,
            params: Path = Path("params.yaml")) -> None:
    """Retrain for a date: ingest -> features -> train -> evaluate, then the champion gate.

    The new model is registered as a challenger and takes the `champion` alias only if it beats
    the current champion on the same validation snapshot by train.promotion_margin.
    Exit code: 0 promoted, 3 kept the current champion, 2 failed.

    Example (weekly cron): churn retrain --as-of $(date -d yesterday +%F)
    """
    import mlflow

    from pipeline.drift import run_drift
    from pipeline.io import read_json
    from pipeline.params import load_params, overridden

    overrides = _overrides(data, as_of, horizon_days)
    _pipeline("churn retrain", params, overrides, ["repro", "features"],
              ["repro", "--force", "--single-item", "train"], ["repro", "evaluate"])
    decision = read_json("reports/metrics.json")["promotion"]
    trained = read_json("reports/train.json")
    try:
        with overridden(params, overrides):
            drift = run_drift(load_params(params))
        with mlflow.start_run(run_id=trained["run_id"]):
            mlflow.log_metrics({"drift.score_psi": drift["score_psi"],
                                "drift.max_feature_psi": max(
                                    (f["psi"] for f in drift["features"]), default=0.0)})
            mlflow.set_tag("drift.status", drift["status"])
    except ChurnError as exc:
        console.print(f"drift not recorded: {exc}")
    verdict = "promoted to champion" if decision["promoted"] else "kept the current champion"
    Console().print(f"model v{decision['challenger_version']} {verdict}: {decision['reason']}")
    raise typer.Exit(0 if decision["promoted"] else 3)


@app.command()
def score(as_of: AsOfOpt = None, data: DataOpt = None, params: Path = Path("params.yaml")) -> None:
    """Score every customer with the champion and export (runs what scoring needs first).

    Example (daily cron): churn score
    """
    _pipeline("churn score", params, _overrides(data, as_of, None), ["repro", "score"])


@app.command()
def drift(params: Path = Path("params.yaml"),
          fail_on_alert: Annotated[bool, typer.Option(help="Exit 4 on a drift alert.")] = False,
          ) -> None:
    """Compare today's scoring snapshot with the champion's training data (PSI per feature,
    scores, churn rate) and the reason mix with the last run. Writes reports/drift.json.

    Example: churn drift --fail-on-alert
    """
    from pipeline.drift import run_drift
    from pipeline.params import load_params

    try:
        report = run_drift(load_params(params))
    except ChurnError as exc:
        fail(str(exc))
    table = Table("feature", "PSI", "level", title=f"drift: {report['status']}")
    for row in report["features"][:10]:
        table.add_row(row["feature"], f"{row['psi']:.3f}", row["level"])
    Console().print(table)
    Console().print(f"score PSI {report['score_psi']:.3f}; churn rate {report['churn_rate']}")
    for alert in report["alerts"]:
        console.print(f"[yellow]alert:[/] {alert}")
    if fail_on_alert and report["status"] == "alert":
        raise typer.Exit(4)


@app.command()
def report(out: Path = Path("reports/churn_report.html")) -> None:
    """Write one self-contained HTML report (plots embedded) for the marketing team.

    Example: churn report && xdg-open reports/churn_report.html
    """
    from pipeline.report import write_report

    try:
        path = write_report(out)
    except ChurnError as exc:
        fail(str(exc))
    Console().print(f"report written to {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
