"""The `churn` command: clear one-line errors, never a traceback; `run` drives DVC end to end."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import churn, write_csv

runner = CliRunner()


def test_ingest_bad_input_is_one_line_and_non_zero(tmp_path):
    data = write_csv(tmp_path / "shop" / "orders.csv", "customer_id,when,amount\n1,2024-01-01,1\n")
    result = churn("ingest", "--data", str(data.parent), "--params",
                   str(Path(__file__).parents[2] / "params.yaml"), cwd=tmp_path)
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


def test_churn_run_drives_dvc_with_overrides_for_this_run_only(project, small_shop_dir):
    params_before = (project / "params.yaml").read_text()
    result = churn("run", "--data", str(small_shop_dir), cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "data" / "canonical" / "orders.parquet").exists()
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert lock["stages"]["ingest"]["params"]["params.yaml"]["data"]["input"] == str(
        small_shop_dir)
    assert (project / "params.yaml").read_text() == params_before
