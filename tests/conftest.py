"""Shared fixtures: small shops the project generates itself, and a throw-away project copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.project import copy_project
from synthetic.retail import ShopConfig, generate, write_shop

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def small_shop() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return generate(ShopConfig(customers=1500, seed=7))


@pytest.fixture(scope="session")
def small_shop_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(out, ShopConfig(customers=1500, seed=7))
    return out


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


make_project = copy_project


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "project")


def churn_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(extra)
    return env


def churn(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """The `churn` CLI in a subprocess, as a user runs it (no stdin, this venv on PATH)."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=cwd,
                          env=churn_env(**env), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def small_features(small_shop) -> tuple[pd.DataFrame, list[str]]:
    """Point-in-time features of the small shop: 12 monthly training cutoffs + scoring."""
    import ibis

    from features.cutoffs import training_cutoffs
    from features.engine import build

    tables, _ = small_shop
    as_of = tables["orders"]["order_ts"].max().date()
    first = tables["orders"]["order_ts"].min().date()
    cutoffs = training_cutoffs(first, as_of, 365)
    expr, names = build({k: ibis.memtable(v) for k, v in tables.items()}, [*cutoffs, as_of],
                        as_of)
    return ibis.duckdb.connect().execute(expr), names


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A private MLflow tracking store (SQLite) for one test."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def set_params(project: Path, **dotted) -> None:
    """Edit the copied project's params.yaml (dotted keys)."""
    import yaml

    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for key, value in dotted.items():
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))
