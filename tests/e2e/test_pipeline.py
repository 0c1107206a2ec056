"""The DVC pipeline end to end on a generated shop, from a fresh copy of the project: every
stage and hand-off, the published batch, identical reruns, experiments that never touch
production, DVC's metrics and plots, overrides for one run, and the gate on retraining."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from pipeline.columns import EXPORT_COLUMNS
from pipeline.export import read_table
from synthetic.retail import ShopConfig, generate
from tests.conftest import churn, set_params
from tests.e2e.conftest import STAGES, copy_of, dvc, fresh, ran, run_ok

pytestmark = pytest.mark.slow
#: columns that say when and by which run, not what: they differ between identical runs
RUN_COLUMNS = ["scored_at", "run_id"]


def latest(project: Path) -> dict:
    return json.loads((project / "exports" / "latest.json").read_text())


def champion(project: Path, name: str) -> str:
    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_a_fresh_run_runs_every_stage_and_publishes_the_batch(demo_run):
    project, result = demo_run
    locked = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert set(locked) == set(STAGES)
    assert "backtest" in yaml.safe_load((project / "demo" / "dvc.lock").read_text())["stages"]
    evaluation = json.loads((project / "reports" / "evaluation.json").read_text())
    assert evaluation["model"]["all"]["roc_auc"] > 0.7
    assert set(evaluation["baselines"]) == {"recency_only", "rfm_logistic"}
    assert evaluation["promotion"]["promoted"] is True
    headline = json.loads((project / "metrics" / "model.json").read_text())
    assert headline["roc_auc"] == round(evaluation["model"]["all"]["roc_auc"], 4)
    assert 0 < json.loads((project / "metrics" / "reasons.json").read_text())[
        "reason_acc"] <= 1
    for name in ("model.json", "policy.json", "campaigns.json", "reasons.json"):
        ignored = subprocess.run(["git", "check-ignore", "-q", f"metrics/{name}"], cwd=project)
        assert ignored.returncode == 1, f"metrics/{name} is git-ignored"
    batch = latest(project)
    export = pd.read_parquet(project / "exports" / batch["files"][0])
    assert list(export.columns) == EXPORT_COLUMNS and (export["horizon_days"] == 365).all()
    at_risk = export[export["risk_tier"] != "low"]
    assert set(at_risk["reason"]) <= {"forgot", "satisfaction", "choice", "price", "other"}
    assert at_risk["top_drivers"].str.len().gt(0).all()
    assert export.loc[export["in_budget"], "product_ids"].str.count(",").le(2).all()
    db = read_table(f"sqlite:///{project / 'exports' / 'churn.db'}", "churn_scores")
    assert len(db) == len(export)
    assert "to send" in result.stdout and "customers scored" in result.stdout
    # the campaign stages leave a run each in MLflow, with their tables and plots
    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    for stage, artifact in (("outcomes", "campaign_results.csv"), ("policy", "qini.png")):
        runs = client.search_runs(experiments, f"tags.stage = '{stage}'")
        assert len(runs) == 1, stage
        assert artifact in {a.path for a in client.list_artifacts(runs[0].info.run_id)}


def test_a_holdout_never_reaches_a_send_list(demo_run):
    project, _ = demo_run
    exports = project / "exports"
    files = latest(project)["files"]
    export = pd.read_parquet(exports / files[0])
    held = set(pd.read_csv(exports / next(f for f in files if f.startswith("holdout_")),
                           dtype=str)["customer_id"])
    assert held == set(export.loc[export["holdout"], "customer_id"]) and held
    sent = pd.concat([pd.read_csv(exports / f, dtype=str) for f in files
                      if f.startswith("send_")])
    assert len(sent) == export["send"].sum() > 0 and not set(sent["customer_id"]) & held
    assert (sent.groupby("channel").size() > 0).all()
    assert set(sent["customer_id"]) == set(export.loc[export["send"], "customer_id"])
    log = pd.read_parquet(exports / "contacts.parquet")
    treated = set(log.loc[log["group"] == "treatment", "customer_id"])
    assert treated == set(sent["customer_id"]) and held == set(
        log.loc[log["group"] == "control", "customer_id"])


def test_an_identical_run_writes_identical_exports_and_contact_log(demo_run, tmp_path):
    project, _ = demo_run
    again = fresh(tmp_path)
    shutil.copytree(project / "data" / "synthetic", again / "data" / "synthetic")
    run_ok("run", cwd=again)
    files = latest(project)["files"]
    assert latest(again)["files"] == files
    for name in files:
        a, b = project / "exports" / name, again / "exports" / name
        if name.endswith(".parquet"):
            x, y = pd.read_parquet(a), pd.read_parquet(b)
            different = (x.drop(columns=RUN_COLUMNS + ["model_name"]).compare(
                y.drop(columns=RUN_COLUMNS + ["model_name"])))
            assert different.empty, different.head()
        elif name.startswith("churn_scores_"):
            x, y = pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str)
            assert x.drop(columns=RUN_COLUMNS + ["model_name"]).equals(
                y.drop(columns=RUN_COLUMNS + ["model_name"]))
        else:  # send and holdout lists: byte for byte
            assert a.read_bytes() == b.read_bytes(), name
    # the contact log names the shop by the project's identity, another for a fresh project
    logs = [pd.read_parquet(p / "exports" / "contacts.parquet").drop(columns="shop")
            for p in (project, again)]
    assert logs[0].equals(logs[1])
    for name in ("policy.json",):
        x, y = (json.loads((p / "reports" / name).read_text()) for p in (project, again))
        assert x == y
    assert (project / "exports" / "campaign_results.csv").read_bytes() == (
        again / "exports" / "campaign_results.csv").read_bytes()


def test_an_experiment_never_touches_production_and_a_horizon_is_another_batch(demo_run,
                                                                                tmp_path):
    project = copy_of(demo_run[0], tmp_path / "exp")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm",
                    "baseline"], cwd=project, check=True, capture_output=True)
    name = latest(project)["files"][0]
    model_name = pd.read_parquet(project / "exports" / name)["model_name"].iloc[0]
    before = {p.name: p.read_bytes() for p in (project / "exports").iterdir() if p.is_file()}
    crowned = champion(project, model_name)
    out = dvc(project, "exp", "run", "-S", "churn.horizon_days=182")
    assert "train" in ran(out)
    after = {p.name: p.read_bytes() for p in (project / "exports").iterdir() if p.is_file()}
    assert after == before                      # no file, database row or contact added
    assert champion(project, model_name) == crowned
    assert not json.loads((project / "reports" / "publish.json").read_text())["published"]
    shown = dvc(project, "exp", "show", "--no-pager", "--md")
    assert "roc_auc" in shown and shown.count("182") >= 1
    # `churn run` publishes another horizon as a batch of its own, for this run only, and
    # the 365-day champion stays
    subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=project, check=True)
    before = (project / "params.yaml").read_text()
    result = run_ok("run", "--horizon-days", "300", cwd=project)
    assert "customers scored" in result.stdout and (project / "params.yaml").read_text() == \
        before
    assert json.loads((project / "data" / "canonical" / "run.json").read_text())[
        "horizon_days"] == 300
    assert latest(project)["files"][0].endswith("_h300.parquet")
    assert (project / "exports" / name).exists()                # the 365-day batch stays
    other = pd.read_parquet(project / "exports" / latest(project)["files"][0])
    assert other["model_name"].iloc[0] != model_name           # a champion of its own
    assert champion(project, model_name) == crowned


def test_dvc_plots_show_draws_a_line_per_model_offline(demo_run, tmp_path):
    project = demo_run[0]
    dvc(project, "plots", "show", "-o", str(tmp_path / "plots"))
    html = (tmp_path / "plots" / "index.html").read_text()
    assert "cdn.jsdelivr" not in html and '<script src="http' not in html
    assert '"field": "model"' in html and html.count("rfm_logistic") >= 1
    roc = pd.read_csv(project / "metrics" / "curves" / "roc.csv")
    assert set(roc["model"]) == {"lightgbm", "recency_only", "rfm_logistic"}


def test_a_second_repro_redoes_only_what_changed(demo_run, tmp_path):
    project = copy_of(demo_run[0], tmp_path / "again")
    # the published batch is in the contact log now: the campaign stages read it once more
    assert {"ingest", "history", "publish"} <= ran(dvc(project, "repro"))
    # the shop and the export database live outside DVC, and publishing is asked anew
    assert ran(dvc(project, "repro")) == {"ingest", "history", "publish"}
    set_params(project, **{"train.learning_rate": 0.08})
    assert ran(dvc(project, "repro")) == {"ingest", "history", "train", "evaluate", "score",
                                          "publish"}
    shown = dvc(project, "metrics", "show")
    assert "roc_auc" in shown and max(len(line) for line in shown.splitlines()) < 160


def test_retrain_goes_through_the_gate_and_records_drift(demo_run, tmp_path):
    project = copy_of(demo_run[0], tmp_path / "retrain")
    drift = run_ok("drift", cwd=project)
    assert "score PSI" in drift.stdout
    report = json.loads((project / "reports" / "drift.json").read_text())
    assert report["status"] in {"ok", "warn", "alert"} and report["features"]
    result = churn("retrain", cwd=project)
    decision = json.loads((project / "reports" / "evaluation.json").read_text())["promotion"]
    assert result.returncode == (0 if decision["promoted"] else 3), result.stderr[-2000:]
    assert ("promoted to champion" if decision["promoted"] else "kept the current champion") \
        in result.stdout
    trained = json.loads((project / "artifacts" / "model.json").read_text())
    mlflow.set_tracking_uri(f"sqlite:///{project}/mlflow.db")
    assert "drift.score_psi" in mlflow.get_run(trained["run_id"]).data.metrics
    expected = trained["model_version"] if decision["promoted"] else \
        decision["champion_version"]
    assert champion(project, trained["model_name"]) == expected


def test_a_shop_with_only_the_three_required_order_columns(tmp_path):
    """`churn run --data orders.csv`: reasons from RFM/timing only, no product suggestions."""
    project = fresh(tmp_path)
    tables, _ = generate(ShopConfig(customers=800, seed=3))
    orders = tables["orders"][["customer_id", "order_ts", "amount"]]
    orders.to_csv(tmp_path / "my_orders.csv", index=False)
    run_ok("run", "--data", str(tmp_path / "my_orders.csv"), cwd=project)
    features = json.loads((project / "reports" / "features.json").read_text())
    assert "visits_since_last_order" in features["skipped_features"]
    export = pd.read_parquet(project / "exports" / latest(project)["files"][0])
    at_risk = export[export["risk_tier"] != "low"]
    assert len(at_risk) > 0
    assert set(at_risk["reason"]) <= {"forgot", "satisfaction", "choice", "price", "other"}
    assert (export["product_ids"] == "").all()
    assert export["product_note"].str.contains("no item data").all()
    assert not (project / "metrics" / "reasons.json").exists()  # no truth: no backtest
