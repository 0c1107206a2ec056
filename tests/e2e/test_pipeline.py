"""The DVC pipeline end to end on a small generated shop, from a fresh copy of the project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.export import EXPORT_COLUMNS, read_table
from synthetic.retail import ShopConfig, write_shop
from tests.conftest import churn, make_project, set_params

pytestmark = pytest.mark.slow
STAGES = {"ingest", "features", "train", "evaluate", "products", "policy", "score", "outcomes"}


def dvc(project: Path, *args: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([\w-]+)'", output))


@pytest.fixture(scope="module")
def repro_project(tmp_path_factory):
    """The project copy after a first full `dvc repro` (module-scoped: it takes a while)."""
    dest = make_project(tmp_path_factory.mktemp("e2e") / "project")
    write_shop(dest / "data" / "synthetic", ShopConfig(customers=1500, seed=7))
    set_params(dest, **{"evaluate.btyd": False})
    first = dvc(dest, "repro")
    return dest, first


def test_fresh_repro_runs_every_stage_and_writes_outputs(repro_project):
    project, first = repro_project
    assert ran(first) == STAGES
    metrics = json.loads((project / "reports" / "evaluation.json").read_text())
    assert metrics["model"]["all"]["roc_auc"] > 0.7
    assert set(metrics["baselines"]) == {"recency_only", "rfm_logistic"}
    assert metrics["promotion"]["promoted"] is True
    headline = json.loads((project / "reports" / "metrics.json").read_text())
    assert headline["roc_auc"] == round(metrics["model"]["all"]["roc_auc"], 4)
    assert headline["baseline_roc_auc"] == round(max(
        b["all"]["roc_auc"] for b in metrics["baselines"].values()), 4)
    assert (project / "mlflow.db").exists()
    for kind in ("roc", "precision_recall", "gains", "calibration", "reason_confusion"):
        assert (project / "reports" / "plots" / f"{kind}.csv").exists()
    assert 0 < metrics["reasons"]["accuracy"] <= 1
    export = pd.read_parquet(next((project / "exports").glob("churn_scores_*.parquet")))
    assert list(export.columns) == EXPORT_COLUMNS
    at_risk = export[export["risk_tier"] != "low"]
    assert set(at_risk["reason"]) <= {"forgot", "satisfaction", "choice", "price", "other"}
    assert at_risk["top_drivers"].str.len().gt(0).all()
    assert export.loc[export["in_budget"], "product_ids"].str.count(",").le(2).all()
    assert export["model_version"].eq("1").all()
    db = read_table("sqlite:///" + str(project / "exports" / "churn.db"), "churn_scores")
    assert len(db) == len(export)
    # the campaign stages leave a run each in MLflow, with their tables and plots
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    for stage, artifact in (("outcomes", "campaign_results.csv"), ("policy", "qini.png")):
        runs = client.search_runs(experiments, f"tags.stage = '{stage}'")
        assert len(runs) == 1, stage
        assert artifact in {a.path for a in client.list_artifacts(runs[0].info.run_id)}


def test_second_repro_only_re_reads_the_shop_and_a_train_param_reruns_train(repro_project):
    project, _ = repro_project
    assert ran(dvc(project, "repro")) == {"ingest"}  # the shop may live outside: re-read it
    set_params(project, **{"train.learning_rate": 0.08})
    rerun = ran(dvc(project, "repro"))
    # scoring and the campaign stages read the train section (experiment and model name) and
    # follow, and a new batch in the contact log is measured
    assert rerun == {"ingest", "train", "evaluate", "policy", "score", "outcomes"}
    shown = dvc(project, "metrics", "show")
    assert "roc_auc" in shown and max(len(line) for line in shown.splitlines()) < 160


def test_an_override_counts_for_one_run_and_never_touches_params_yaml(repro_project):
    project, _ = repro_project
    before = (project / "params.yaml").read_text()
    result = churn("run", "--horizon-days", "300", cwd=project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = json.loads((project / "data" / "canonical" / "run.json").read_text())
    assert run["horizon_days"] == 300
    assert (project / "params.yaml").read_text() == before
    assert "customers scored" in result.stdout  # the closing summary
    back = ran(dvc(project, "repro"))  # a plain repro is back on params.yaml
    assert json.loads((project / "data" / "canonical" / "run.json").read_text())[
        "horizon_days"] == 365
    assert {"features", "train", "evaluate"} <= back


def test_a_shop_with_only_the_three_required_order_columns(project, small_shop):
    """`churn run --data orders.csv`: reasons from RFM/timing only, and no product suggestions."""
    tables, _ = small_shop
    orders = tables["orders"][["customer_id", "order_ts", "amount"]]
    csv = project / "my_orders.csv"
    orders.to_csv(csv, index=False)
    set_params(project, **{"evaluate.btyd": False})
    result = churn("run", "--data", str(csv), cwd=project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    features = json.loads((project / "reports" / "features.json").read_text())
    assert "visits_since_last_order" in features["skipped_features"]
    export = pd.read_parquet(next((project / "exports").glob("churn_scores_*.parquet")))
    at_risk = export[export["risk_tier"] != "low"]
    assert len(at_risk) > 0
    assert set(at_risk["reason"]) <= {"forgot", "satisfaction", "choice", "price", "other"}
    assert (export["product_ids"] == "").all()
    assert export["product_note"].str.contains("no item data").all()


def test_drift_is_checked_against_the_champions_training_data(repro_project):
    """(The HTML report that shows it is tested in a browser in tests/e2e/test_report.py.)"""
    project, _ = repro_project
    result = churn("drift", cwd=project)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    drift = json.loads((project / "reports" / "drift.json").read_text())
    assert drift["status"] in {"ok", "warn", "alert"} and drift["features"]


def test_retrain_goes_through_the_gate_and_records_drift(repro_project):
    import mlflow

    project, _ = repro_project
    result = churn("retrain", cwd=project)
    decision = json.loads((project / "reports" / "evaluation.json").read_text())["promotion"]
    expected = 0 if decision["promoted"] else 3
    assert result.returncode == expected, result.stdout[-2000:] + result.stderr[-2000:]
    assert ("promoted to champion" if decision["promoted"] else "kept the current champion") \
        in result.stdout
    trained = json.loads((project / "reports" / "train.json").read_text())
    mlflow.set_tracking_uri(f"sqlite:///{project}/mlflow.db")
    run = mlflow.get_run(trained["run_id"])
    assert "drift.score_psi" in run.data.metrics
    assert run.data.tags["gate.promoted"] == str(decision["promoted"])
