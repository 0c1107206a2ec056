"""Faults lose nothing: a killed run leaves params.yaml and the last export as they were and no
child running; two projects on one MLflow store stay apart; odd shops and params end in one
line, never a traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline.lock import is_locked
from synthetic.retail import ShopConfig, generate, write_shop
from tests.conftest import churn, churn_env, set_params
from tests.e2e.conftest import copy_of, fresh, run_stages

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(out, ShopConfig(customers=800, seed=5))
    return out


def snapshot_exports(project: Path) -> dict:
    exports = project / "exports"
    latest = json.loads((exports / "latest.json").read_text())
    parquet = pd.read_parquet(exports / latest["files"][0])
    db = pd.read_sql("SELECT * FROM churn_scores", f"sqlite:///{exports / 'churn.db'}")
    return {"token": latest["token"], "scored_at": set(parquet["scored_at"]),
            "db_scored_at": set(db["scored_at"]), "rows": len(parquet),
            "csv": (exports / latest["files"][1]).read_bytes()}


def stage_running(project: Path, stage: str) -> bool:
    found = subprocess.run(["pgrep", "-f", f"pipeline.stages.{stage}"], capture_output=True,
                           text=True).stdout.split()
    for pid in found:
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == project.resolve():
                return True
        except OSError:
            continue
    return False


def children_of(project: Path) -> list[str]:
    out = []
    for stage in ("ingest", "history", "features", "train", "evaluate", "products", "policy",
                  "score", "publish", "outcomes"):
        if stage_running(project, stage):
            out.append(stage)
    guard = subprocess.run(["pgrep", "-f", "pipeline.process"], capture_output=True,
                           text=True).stdout.split()
    return out + [f"guard {pid}" for pid in guard if _in(project, pid)]


def _in(project: Path, pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/cwd").resolve() == project.resolve()
    except OSError:
        return False


@pytest.fixture(scope="module")
def published(tmp_path_factory, shop_dir) -> Path:
    """A project whose first run has published a batch."""
    project = fresh(tmp_path_factory.mktemp("published"))
    first = churn("run", "--data", str(shop_dir), cwd=project)
    assert first.returncode == 0, first.stderr[-3000:]
    return project


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_config_and_the_last_export_and_no_child(tmp_path, shop_dir,
                                                                     published, sig):
    project = copy_of(published, tmp_path / "project")
    params_before = (project / "params.yaml").read_text()
    exports_before = snapshot_exports(project)

    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--data", str(shop_dir),
         "--horizon-days", "300"], cwd=project, env=churn_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not stage_running(project, "train") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stage_running(project, "train"), "the second run never reached train"
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "stopped by SIGTERM" in err and "Traceback" not in err
    # the guard stops every child; the lock is not free while one still runs
    deadline = time.monotonic() + 30
    while children_of(project) and time.monotonic() < deadline:
        assert is_locked(project), f"lock free while {children_of(project)} still run"
        time.sleep(0.2)
    assert not children_of(project)
    time.sleep(1.0)
    assert not is_locked(project)
    assert (project / "params.yaml").read_text() == params_before
    assert snapshot_exports(project) == exports_before
    if sig == signal.SIGTERM:
        return
    again = churn("run", "--data", str(shop_dir), cwd=project)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((project / "data" / "canonical" / "run.json").read_text())[
        "horizon_days"] == 365


def test_two_projects_on_one_store_keep_their_own_champions(tmp_path, shop_dir):
    store = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    a, b = fresh(tmp_path, "shop-a"), fresh(tmp_path, "shop-b")
    # started together on a fresh store: the schema migration must not run twice at once
    procs = [subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", "--data",
                               str(shop_dir), "--horizon-days", h], cwd=p,
                              env=churn_env(MLFLOW_TRACKING_URI=store),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for p, h in ((a, "330"), (b, "280"))]
    for proc in procs:
        _out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
    names = {p: pd.read_parquet(next((p / "exports").glob("churn_scores_*.parquet")))[
        "model_name"].unique().tolist() for p in (a, b)}
    assert names[a] != names[b] and len(names[a]) == len(names[b]) == 1
    assert names[a][0].startswith("churn-shop-a-") and names[a][0].endswith("-h330")
    # pointed at B's model name, A refuses to train into it or take its champion, in one line
    set_params(a, **{"tracking.model_name": names[b][0].removesuffix("-h280")})
    refused = churn("run", "--data", str(shop_dir), "--horizon-days", "280", cwd=a,
                    MLFLOW_TRACKING_URI=store)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "belongs to another project" in refused.stderr
    import mlflow

    mlflow.set_tracking_uri(store)
    champion = mlflow.MlflowClient().get_model_version_by_alias(names[b][0], "champion")
    assert mlflow.get_run(champion.run_id).data.tags["data.horizon_days"] == "280"


def orders_frame(n_customers: int, orders_each: int = 1, start: str = "2023-01-01",
                 days: int = 600) -> pd.DataFrame:
    rows = []
    for c in range(n_customers):
        for k in range(orders_each):
            day = (c * 7 + k * 37) % days
            rows.append((f"c{c}", pd.Timestamp(start) + pd.Timedelta(days=day), 10.0 + k))
    return pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount"])


@pytest.mark.parametrize("case", ["five_customers", "one_time_buyers_only",
                                  "as_of_after_the_data", "six_months_of_data"])
def test_odd_and_young_shops_get_scores_from_btyd(tmp_path, monkeypatch, case):
    """Too few labelled customers, a single class in the labels, or no labelled snapshot at
    all: every customer is scored with BTYD and the reports say so (score_source)."""
    project = fresh(tmp_path)
    shop = tmp_path / "odd"
    shop.mkdir()
    overrides = {"data.input": str(shop)}
    if case == "five_customers":
        orders_frame(5, 3).to_csv(shop / "orders.csv", index=False)
    elif case == "one_time_buyers_only":
        orders_frame(400, 1).to_csv(shop / "orders.csv", index=False)
    elif case == "as_of_after_the_data":
        tables, _ = generate(ShopConfig(customers=400, seed=3))
        tables["orders"][["customer_id", "order_ts", "amount"]].to_csv(shop / "orders.csv",
                                                                       index=False)
        overrides["as_of"] = "2027-06-30"
    else:
        write_shop(shop, ShopConfig(customers=600, seed=3, days=182))
    run_stages(project, monkeypatch, overrides)
    evaluation = json.loads((project / "reports" / "evaluation.json").read_text())
    assert evaluation["score_source"] == "btyd" and evaluation["note"]
    export = pd.read_parquet(next((project / "exports").glob("churn_scores_*.parquet")))
    orders = pd.read_parquet(project / "data" / "canonical" / "orders.parquet")
    if "status" in orders:  # everyone with a completed order is scored
        orders = orders[orders["status"] == "completed"]
    customers = orders["customer_id"].nunique()
    assert len(export) == customers and (export["score_source"] == "btyd").all()
    assert export["churn_probability"].between(0, 1).all()
    if case == "six_months_of_data":  # a ranking, and a reason for everyone
        assert export["churn_probability"].nunique() > 10
        assert export["reason"].isin(["forgot", "satisfaction", "choice", "price",
                                      "other"]).all()
        assert export["reason_evidence"].str.len().gt(0).any()


@pytest.mark.parametrize("key, value, message", [
    ("churn.horizon_days", 0, "churn.horizon_days must be at least 1"),
    ("churn.horizon_days", -30, "churn.horizon_days must be at least 1"),
    ("churn.horizon_days", "abc", "churn.horizon_days must be an integer"),
    ("as_of", "yesterday", "as_of must be a date like 2024-06-30 or null"),
    ("recommend.budget_shar", 0.2, "unknown key recommend.budget_shar (did you mean "
                                   "recommend.budget_share?)"),
    ("train.n_estimatrs", 10, "did you mean train.n_estimators?"),
    ("train.model_name", "x", "train.model_name has moved to tracking.model_name"),
    ("export.table", 'x"; DROP TABLE churn_scores; --', "export.table must match"),
])
def test_bad_params_end_in_one_line(tmp_path, shop_dir, key, value, message):
    project = fresh(tmp_path)
    set_params(project, **{key: value})
    result = churn("run", "--data", str(shop_dir), cwd=project)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_empty_params_file_ends_in_dvcs_own_line(tmp_path, shop_dir):
    project = fresh(tmp_path)
    (project / "params.yaml").write_text("")
    result = churn("run", "--data", str(shop_dir), cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "failed (exit" in last and "params.yaml" in last, result.stderr[-2000:]
