"""The `churn` command: clear one-line errors, never a traceback; `run` drives DVC end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.lock import project_lock
from tests.conftest import churn, write_csv

runner = CliRunner()


def test_ingest_bad_input_is_one_line_and_non_zero(tmp_path):
    data = write_csv(tmp_path / "shop" / "orders.csv", "customer_id,when,amount\n1,2024-01-01,1\n")
    root = Path(__file__).parents[2]
    result = churn("ingest", "--data", str(data.parent), "--params", str(root / "params.yaml"),
                   cwd=tmp_path, PYTHONPATH=str(root))     # this tree's code, as its params
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "required column 'order_ts'" in result.stderr and "found columns" in result.stderr


def test_synth_writes_a_shop(tmp_path):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "s"), "--customers", "50"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "orders.parquet").exists()
    assert (tmp_path / "s" / "_truth.parquet").exists()


def test_run_rejects_a_bad_date():
    result = runner.invoke(app, ["run", "--as-of", "2024-13-01"])
    assert result.exit_code == 2
    assert "not a date" in result.output


def test_a_second_cli_run_exits_while_the_lock_is_held(project):
    with project_lock("churn run", project):
        result = churn("run", cwd=project)
    assert result.returncode == 2
    assert "holds the project lock" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["drift"], "no features yet"),
    (["report"], "run `churn run` first"),
    (["run", "--data", "/no/such/shop"], "input path not found"),
    (["retrain", "--as-of", "yesterday"], "not a date"),
])
def test_cli_errors_are_one_line(project, args, message):
    result = churn(*args, cwd=project)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3


def test_help_has_examples(project):
    for command in ("run", "retrain", "score", "drift", "report", "synth", "ingest"):
        result = churn(command, "--help", cwd=project)
        assert result.returncode == 0 and "Example" in result.stdout, command


def test_as_of_is_a_date_object_for_overrides():
    from pipeline.cli import _overrides

    assert _overrides(None, "2024-06-30", 90) == {"as_of": date(2024, 6, 30).isoformat(),
                                                  "churn.horizon_days": 90}


def test_a_failed_dvc_call_is_one_line_with_dvcs_own_message_when_no_stage_said_more():
    from pipeline.cli import failure_line

    stage = ["  ingested ...", "error: orders.csv: required column 'order_ts' is missing"]
    assert failure_line(["repro", "-q"], 255, stage) == \
        "`dvc repro -q` stopped at the error above (exit 255)"
    refused = ["ERROR: failed to reproduce 'ingest': Parameters 'data' are missing from "
               "'params.yaml'."]
    line = failure_line(["repro", "-q"], 255, refused)
    assert line.startswith("`dvc repro -q` failed (exit 255): failed to reproduce 'ingest'")
    assert "\n" not in line and len(failure_line(["repro"], 1, ["x" * 5000])) < 600
