"""`churn`: the command line of the churn pipeline (typer + rich).

Every command that runs pipeline work holds the project lock; `run`, `retrain` and `score` run
`dvc repro` in a guarded process group (pipeline/process.py) with this run's overrides in the
environment (pipeline/runinfo.py): params.yaml is never edited.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from common.errors import ChurnError
from common.params import DataParams, load_params
from pipeline.paths import load_paths
from pipeline.process import Interrupted, run_in_group
from pipeline.runinfo import OVERRIDES_ENV
from pipeline.shell import quiet_third_parties

app = typer.Typer(help="Churn scores, reasons and actions for online shops.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True)
out = Console()
#: the demo-only stages (a generated shop's backtest against its truth)
DEMO_PIPELINE = "demo/dvc.yaml"


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _dvc(args: list[str], overrides: dict, lock_fd: int) -> int:
    """`dvc repro ...` with this interpreter's scripts first on PATH (stages use the same
    venv) and the run's overrides in the environment."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env[OVERRIDES_ENV] = json.dumps(overrides)
    return run_in_group([sys.executable, "-m", "dvc", *args], env, lock_fd)


DataOpt = Annotated[Path | None, typer.Option("--data", help="Shop folder or orders file; "
                                                  "overrides data.input for this run.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Cutoff date YYYY-MM-DD; "
                                                 "overrides as_of (default: last order date).")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon-days", min=1,
                                                help="Overrides churn.horizon_days.")]
ParamsOpt = Annotated[Path, typer.Option(help="The params file.")]


def _overrides(data: Path | None, as_of: str | None, horizon_days: int | None) -> dict:
    found: dict = {}
    if data is not None:
        if not data.exists():
            fail(f"{data}: input path not found")
        found["data.input"] = str(data.resolve())
    if as_of is not None:
        try:
            found["as_of"] = date.fromisoformat(as_of).isoformat()
        except ValueError:
            fail(f"--as-of {as_of!r} is not a date like 2024-06-30")
    if horizon_days is not None:
        found["churn.horizon_days"] = horizon_days
    return found


def _prepare(params_path: Path, overrides: dict) -> None:
    """Before a run: finish or discard what a killed run left in exports/ (and say so), and
    turn a missing demo shop into a hint, not a DVC error: the generator never runs by itself."""
    from pipeline.export import recover

    params = load_params(params_path)
    for note in recover(load_paths().exports, params.export):
        console.print(f"[yellow]recovered:[/] {note}")
    source = Path(overrides.get("data.input") or params.data.input)
    if not source.exists():
        hint = " (the demo shop: `churn synth`, or `make run`)" if \
            source == Path(DataParams().input) else ""
        raise ChurnError(f"{source}: input path not found{hint}")


def _pipeline(command: str, params: Path, overrides: dict, *calls: list[str],
              demo: bool = False) -> None:
    """DVC calls under the project lock, in a guarded process group, one line on failure.
    With `demo`, a generated shop (one with a truth file) also gets the demo stages."""
    from pipeline.ingestion import TRUTH_FILE
    from pipeline.lock import project_lock

    if not params.exists():
        fail(f"{params}: not found; run churn from the project root")
    try:
        with project_lock(command) as lock_fd:
            _prepare(params, overrides)
            calls = list(calls)
            for i, args in enumerate(calls):
                code = _dvc(args, overrides, lock_fd)
                if code != 0:
                    fail(f"`dvc {' '.join(args)}` failed (exit {code}); the stage's error is "
                         "printed above")
                if demo and i == len(calls) - 1 and (
                        load_paths().canonical / TRUTH_FILE).exists():
                    calls.append(["repro", "-q", DEMO_PIPELINE])
                    demo = False
    except ChurnError as exc:
        fail(str(exc))
    except Interrupted as exc:
        fail(f"stopped by {exc}: the pipeline was stopped; params.yaml, models and the last "
             "export are unchanged", code=130 if exc.signum == 2 else 143)


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the shop's tables.")] =
    Path("data/synthetic"),
    customers: Annotated[int | None, typer.Option(min=10, help="Number of customers "
                                                  "(default: synth.customers).")] = None,
    seed: Annotated[int | None, typer.Option(help="The same seed gives the same shop "
                                             "(default: base.seed).")] = None,
    params: ParamsOpt = Path("params.yaml"),
) -> None:
    """Write the demo synthetic shop (all six tables) and its churn-cause truth file.

    Example: churn synth --out data/myshop --customers 5000 --seed 7
    """
    from pipeline.ingestion import TRUTH_FILE
    from synthetic.retail import ShopConfig, write_shop

    try:
        p = load_params(params) if params.exists() else None
    except ChurnError as exc:
        fail(str(exc))
    cfg = ShopConfig(customers=customers or (p.synth.customers if p else 20_000),
                     seed=seed if seed is not None else (p.base.seed if p else 42))
    counts = write_shop(out_dir, cfg)
    table = Table("table", "rows", title=f"synthetic shop in {out_dir}")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    console.print(f"truth (evaluation only): {out_dir / TRUTH_FILE}")


@app.command()
def ingest(data: DataOpt = None, params: ParamsOpt = Path("params.yaml"),
           out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for the "
                                                        "canonical tables.")] = None,
           report: Annotated[Path | None, typer.Option(help="The ingest report.")] = None,
           ) -> None:
    """Read, validate and normalise a shop's files into canonical Parquet, with a report.

    Example: churn ingest --data ~/exports/myshop/
    """
    from pipeline.ingestion import ingest as run_ingest
    from pipeline.ingestion import write_canonical
    from pipeline.io import write_json
    from pipeline.lock import project_lock

    try:
        p = load_params(params)
        paths = load_paths(canonical=out_dir, ingest_report=report)
        input_path = Path(data) if data else Path(p.data.input)
        with project_lock("churn ingest"):
            tables, summary = run_ingest(input_path, p.data)
            write_canonical(tables, paths.canonical, input_path)
            write_json(summary, paths.ingest_report)
    except ChurnError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the edge: one line, the traceback in a log file
        import traceback

        log_file = Path("logs") / "ingest-error.log"
        log_file.parent.mkdir(exist_ok=True)
        log_file.write_text(traceback.format_exc())
        first = " ".join(str(exc).split())[:300]
        fail(f"ingest failed: {type(exc).__name__}: {first} (traceback in {log_file})", code=3)
    table = Table("table", "read", "kept", "dropped", "fixed", title=f"ingest of {input_path}")
    for name, r in summary["tables"].items():
        table.add_row(name, f"{r['rows_read']:,}", f"{r['rows_kept']:,}",
                      ", ".join(f"{k}: {v:,}" for k, v in r["dropped"].items()) or "-",
                      ", ".join(f"{k}: {v:,}" for k, v in r["fixed"].items()) or "-")
    out.print(table)
    if summary["ignored_files"]:
        console.print(f"ignored (not contract tables): {', '.join(summary['ignored_files'])}")


def _summary() -> None:
    """What happened, in a few lines: customers scored, at risk, reasons, actions, the model
    against the baselines, where the exports and the report are."""
    from pipeline.io import read_json

    paths = load_paths()
    try:
        score = read_json(paths.score_report)
        details = read_json(paths.evaluation)
    except (OSError, ValueError):
        return
    backtest = read_json(paths.backtest) if paths.backtest.exists() else {}
    table = Table(title=f"churn scores as of {score['as_of']}", show_header=False)
    table.add_row("customers scored", f"{score['customers']:,}")
    share = score["at_risk"] / max(1, score["customers"])
    table.add_row("at risk", f"{score['at_risk']:,} ({share:.0%})")
    table.add_row("reasons (at risk)", ", ".join(
        f"{k} {v:.0%}" for k, v in score["reason_mix"].items()) or "-")
    table.add_row(f"actions in budget ({score['in_budget']:,})", ", ".join(
        f"{k} {v:,}" for k, v in score["actions"].items()) or "-")
    model = f"{score['model']['name']} v{score['model']['version']}"
    if details.get("score_source") == "btyd":
        table.add_row("model", f"{model}: short history, scores from BTYD P(no purchase "
                      f"in the horizon) ({details['note']})")
    else:
        ours = details["model"]["all"]["roc_auc"]
        name, best = max(((k, v["all"]["roc_auc"]) for k, v in details["baselines"].items()),
                         key=lambda kv: kv[1])
        table.add_row("model", f"{model}: validation ROC-AUC {ours:.3f} vs {name} {best:.3f}")
    if backtest.get("reason_accuracy") is not None:
        table.add_row("reason backtest (demo shop)",
                      f"accuracy {backtest['reason_accuracy']:.2f}, "
                      f"macro-F1 {backtest['reason_macro_f1']:.2f}")
    table.add_row("exports", "\n".join(score["exports"]) + f"\ntable {score['database_rows']:,} "
                  "rows")
    table.add_row("report", f"churn report → {paths.report}")
    out.print(table)


@app.command()
def run(data: DataOpt = None, as_of: AsOfOpt = None, horizon_days: HorizonOpt = None,
        params: ParamsOpt = Path("params.yaml")) -> None:
    """Run the whole DVC pipeline (dvc repro), with overrides for this run only.

    Examples: churn run | churn run --data shop/ --as-of 2024-12-31 --horizon-days 182
    """
    _pipeline("churn run", params, _overrides(data, as_of, horizon_days), ["repro", "-q"],
              demo=True)
    _summary()


@app.command()
def retrain(as_of: AsOfOpt = None, data: DataOpt = None, horizon_days: HorizonOpt = None,
            params: ParamsOpt = Path("params.yaml")) -> None:
    """Retrain for a date: ingest -> features -> train -> evaluate, then the champion gate.

    The new model is registered as a challenger and takes the `champion` alias only if it beats
    the current champion on the same validation snapshot by train.promotion_margin.
    Exit code: 0 promoted, 3 kept the current champion, 2 failed.

    Example (weekly cron): churn retrain --as-of $(date -d yesterday +%F)
    """
    from pipeline.drift import run_drift
    from pipeline.io import read_json
    from pipeline.tracking import log_drift

    overrides = _overrides(data, as_of, horizon_days)
    _pipeline("churn retrain", params, overrides, ["repro", "-q", "features"],
              ["repro", "-q", "--force", "--single-item", "train"], ["repro", "-q", "evaluate"])
    paths = load_paths()
    decision = read_json(paths.evaluation)["promotion"]
    trained = read_json(paths.model)
    try:
        log_drift(trained["run_id"], run_drift(load_params(params), paths))
    except ChurnError as exc:
        console.print(f"drift not recorded: {exc}")
    verdict = "promoted to champion" if decision["promoted"] else "kept the current champion"
    out.print(f"model v{decision['challenger_version']} {verdict}: {decision['reason']}")
    raise typer.Exit(0 if decision["promoted"] else 3)


@app.command()
def score(as_of: AsOfOpt = None, data: DataOpt = None,
          params: ParamsOpt = Path("params.yaml")) -> None:
    """Score every customer with the champion and export (runs what scoring needs first).

    Example (daily cron): churn score
    """
    _pipeline("churn score", params, _overrides(data, as_of, None), ["repro", "-q", "score"])
    _summary()


@app.command()
def drift(params: ParamsOpt = Path("params.yaml"),
          fail_on_alert: Annotated[bool, typer.Option(help="Exit 4 on a drift alert.")] = False,
          ) -> None:
    """Compare today's scoring snapshot with the champion's training data (PSI per feature,
    scores, churn rate) and the reason mix with the last run. Writes reports/drift.json.

    Example: churn drift --fail-on-alert
    """
    from pipeline.drift import run_drift

    try:
        report = run_drift(load_params(params), load_paths())
    except ChurnError as exc:
        fail(str(exc))
    table = Table("feature", "PSI", "level", title=f"drift: {report['status']}")
    for row in report["features"][:10]:
        table.add_row(row["feature"], f"{row['psi']:.3f}", row["level"])
    out.print(table)
    rate = report["churn_rate"]
    out.print(f"score PSI {report['score_psi']:.3f}; predicted churn rate "
              f"{rate['predicted_now']:.1%} (training {rate['training'] or 0:.1%})")
    for alert in report["alerts"]:
        console.print(f"[yellow]alert:[/] {alert}")
    if fail_on_alert and report["status"] == "alert":
        raise typer.Exit(4)


@app.command()
def report(out_file: Annotated[Path | None, typer.Option("--out", help="The HTML file "
                                                         "(default: paths.yaml's report).")]
           = None) -> None:
    """Write one self-contained HTML report (plots embedded) for the marketing team.

    Example: churn report && xdg-open reports/churn_report.html
    """
    from pipeline.report import write_report

    try:
        path = write_report(load_paths(report=out_file))
    except ChurnError as exc:
        fail(str(exc))
    out.print(f"report written to {path}")


def main() -> None:
    quiet_third_parties()
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
