"""`churn`: the command line of the churn pipeline (typer + rich).

Every command that runs pipeline work holds the project lock; `run`, `retrain` and `score` run
`dvc repro` in a guarded process group (pipeline/process.py) with this run's overrides in the
environment (pipeline/runinfo.py): params.yaml is never edited.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import deque
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
from pipeline.summary import print_summary

app = typer.Typer(help="Churn scores, reasons and actions for online shops.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True)
out = Console()
#: DVC's own progress lines: the stages' lines and any error are shown, these are not
DVC_CHATTER = re.compile(r"(Running stage |> |Stage '.*' (didn't change|is cached)|Updating "
                         r"lock file|Generating lock file|Use `dvc push`|To track the changes|"
                         r"To enable auto staging|\s+(git add|dvc config)|Data and pipelines|"
                         r"Verifying|Restored stage|ERROR: |\s*$)")
#: the demo-only stages (a generated shop's backtest against its truth)
DEMO_PIPELINE = "demo/dvc.yaml:backtest"


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _dvc(args: list[str], overrides: dict, lock_fd: int, publish: str = "",
         new_shop: bool = False) -> int:
    """`dvc repro ...` with this interpreter's scripts first on PATH (stages use the same
    venv), the run's overrides in the environment, and whether to publish (the publish
    stage's CHURN_PUBLISH: "" publishes, anything else is why not)."""
    from pipeline.shops import NEW_SHOP_ENV
    from pipeline.stages.publish import PUBLISH_ENV, WHY_ENV

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env[OVERRIDES_ENV] = json.dumps(overrides)
    env[PUBLISH_ENV], env[WHY_ENV] = ("1", "") if not publish else ("0", publish)
    env[NEW_SHOP_ENV] = "1" if new_shop else "0"
    tail: deque = deque(maxlen=40)
    code = run_in_group([sys.executable, "-m", "dvc", *args], env, lock_fd, tail,
                        shown=lambda line: not DVC_CHATTER.match(line))
    if code != 0:
        fail(failure_line(args, code, list(tail)))
    return code


def failure_line(args: list[str], code: int, tail: list[str]) -> str:
    """One line for a failed `dvc` call: a stage's own error is already on the screen; when no
    stage started (DVC refused: a params key missing, a broken dvc.yaml), DVC's own message."""
    if any(line.startswith("error:") for line in tail):
        return f"`dvc {' '.join(args)}` stopped at the error above (exit {code})"
    dvc_said = [line.removeprefix("ERROR:").strip() for line in tail if line.startswith("ERROR")]
    said = (dvc_said[-1] if dvc_said else (tail[-1].strip() if tail else "no message"))[:500]
    return f"`dvc {' '.join(args)}` failed (exit {code}): {said}"


def uncommitted_params(params: Path) -> str:
    """Why this run must not publish: params.yaml differs from the version git has committed
    ('' when it does not, or when the project is not under git)."""
    import subprocess

    found = subprocess.run(["git", "show", f"HEAD:./{params.name}"], capture_output=True,
                           text=True, cwd=params.resolve().parent, stdin=subprocess.DEVNULL)
    if found.returncode != 0 or found.stdout == params.read_text():
        return ""
    return (f"{params} differs from its committed version: this run is an experiment (nothing "
            "published); commit the change, or pass --publish")


DataOpt = Annotated[Path | None, typer.Option("--data", help="Shop folder or orders file; "
                                                  "overrides data.input for this run.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Cutoff date YYYY-MM-DD; "
                                                 "overrides as_of (default: last order date).")]
HorizonOpt = Annotated[int | None, typer.Option("--horizon-days", min=1,
                                                help="Overrides churn.horizon_days.")]
ParamsOpt = Annotated[Path, typer.Option(help="The params file.")]
PublishOpt = Annotated[bool, typer.Option("--publish", help="Publish even when params.yaml "
                                                           "has uncommitted changes.")]


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
              demo: bool = False, publish: bool = False, new_shop: bool = False) -> None:
    """DVC calls under the project lock, in a guarded process group, one line on failure.
    With `demo`, a generated shop (one with a truth file) also gets the demo stages; with
    `publish`, the batch is published unless params.yaml has uncommitted changes."""
    from pipeline.ingestion import TRUTH_FILE
    from pipeline.lock import project_lock

    if not params.exists():
        fail(f"{params}: not found; run churn from the project root")
    try:
        with project_lock(command) as lock_fd:
            _prepare(params, overrides)
            calls = list(calls)
            why_not = "" if publish else f"`{command}` does not publish"
            for i, args in enumerate(calls):
                _dvc(args, overrides, lock_fd, why_not, new_shop)
                if demo and i == len(calls) - 1 and (
                        load_paths().canonical / TRUTH_FILE).exists():
                    calls.append(["repro", "--single-item", DEMO_PIPELINE])
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


@app.command()
def run(data: DataOpt = None, as_of: AsOfOpt = None, horizon_days: HorizonOpt = None,
        params: ParamsOpt = Path("params.yaml"), publish: PublishOpt = False,
        new_shop: Annotated[bool, typer.Option("--new-shop", help="Another shop in this "
                                               "project: its own contact log and models.")]
        = False) -> None:
    """Run the whole DVC pipeline (dvc repro), with overrides for this run only, and publish
    the batch (unless params.yaml has uncommitted changes: then it is an experiment).

    Examples: churn run | churn run --data shop/ --as-of 2024-12-31 --horizon-days 182
    """
    _pipeline("churn run", params, _overrides(data, as_of, horizon_days), ["repro"],
              demo=True, publish=_may_publish(params, publish), new_shop=new_shop)
    print_summary(out)


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
    from pipeline.registry import apply_decision
    from pipeline.tracking import log_drift, setup

    overrides = _overrides(data, as_of, horizon_days)
    _pipeline("churn retrain", params, overrides, ["repro", "features"],
              ["repro", "--force", "--single-item", "train"], ["repro", "evaluate"])
    paths = load_paths()
    decision = read_json(paths.evaluation)["promotion"]
    trained = read_json(paths.model)
    if _may_publish(params, False):
        setup(load_params(params).tracking)
        console.print(apply_decision(read_json(paths.champion)))
    else:
        decision = {**decision, "promoted": False,
                    "reason": f"{decision['reason']} (not applied: an experiment)"}
    try:
        log_drift(trained["run_id"], run_drift(load_params(params), paths))
    except ChurnError as exc:
        console.print(f"drift not recorded: {exc}")
    verdict = "promoted to champion" if decision["promoted"] else "kept the current champion"
    out.print(f"model v{decision['challenger_version']} {verdict}: {decision['reason']}")
    raise typer.Exit(0 if decision["promoted"] else 3)


@app.command()
def score(as_of: AsOfOpt = None, data: DataOpt = None,
          params: ParamsOpt = Path("params.yaml"), publish: PublishOpt = False) -> None:
    """Score every customer with the champion and export (runs what scoring needs first).

    Example (daily cron): churn score
    """
    _pipeline("churn score", params, _overrides(data, as_of, None),
              ["repro", "publish"], publish=_may_publish(params, publish))
    print_summary(out)


def _may_publish(params: Path, forced: bool) -> bool:
    why = "" if forced or not params.exists() else uncommitted_params(params)
    if why:
        console.print(f"[yellow]experiment:[/] {why}")
    return not why


@app.command()
def promote(version: Annotated[str, typer.Argument(help="The model version to make champion.")],
            yes: Annotated[bool, typer.Option("--yes", help="Do it (without: say what would "
                                                            "change).")] = False,
            horizon_days: HorizonOpt = None, params: ParamsOpt = Path("params.yaml")) -> None:
    """Make a model version the champion of this project's registered model for the horizon,
    also one trained on another feature set (which the gate never promotes by itself).

    Example: churn promote 7 --yes
    """
    from pipeline.registry import model_name
    from pipeline.registry import promote as move
    from pipeline.tracking import setup

    try:
        p = load_params(params)
        setup(p.tracking)
        out.print(move(model_name(p.tracking, horizon_days or p.churn.horizon_days), version,
                       yes))
    except ChurnError as exc:
        fail(str(exc))


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
           = None,
           open_page: Annotated[bool, typer.Option("--open", help="Also open it in a browser, "
                                                   "where there is one.")] = False,
           params: ParamsOpt = Path("params.yaml")) -> None:
    """Write the batch's HTML report for the marketing team: one self-contained file (charts,
    style and script inline), in five sections from this week's sends to the model's accuracy.

    Example: churn report --open
    """
    import webbrowser

    from pipeline.report.build import write_report

    try:
        path = write_report(load_paths(report=out_file), load_params(params))
    except ChurnError as exc:
        fail(str(exc))
    out.print(str(path.resolve()), highlight=False, soft_wrap=True)
    if open_page:
        try:
            opened = webbrowser.open(path.resolve().as_uri())
        except Exception:  # any browser trouble: the path is printed, nothing is lost
            opened = False
        if not opened:
            console.print("no browser found here: open the file above in one")


def main() -> None:
    """The edge: a user error is one line (typer's own usage errors included), anything
    unexpected is one line too, with the traceback kept in logs/cli-error.log."""
    import traceback

    quiet_third_parties()
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except ChurnError as exc:
        console.print(f"[bold red]error:[/] {str(exc)[:2000]}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - never a traceback on the terminal
        logs = Path("logs")
        logs.mkdir(exist_ok=True)
        (logs / "cli-error.log").write_text(traceback.format_exc())
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        console.print(f"[bold red]error:[/] {type(exc).__name__}: {first} (traceback in "
                      f"{logs / 'cli-error.log'})", highlight=False, soft_wrap=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
