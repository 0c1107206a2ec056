"""End-to-end fixtures: one real `churn run` per shop for the whole session, copies of it for
the tests that change a project, and the stages run in this process where no DVC is needed."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.params import load_params
from pipeline.paths import load_paths
from pipeline.runinfo import OVERRIDES_ENV
from pipeline.shell import Stage
from pipeline.stages.publish import PUBLISH_ENV
from synthetic.retail import ShopConfig, write_shop
from tests.conftest import churn, make_project, set_params

#: the DAG's stages in an order that respects every hand-off
STAGES = ("ingest", "history", "features", "products", "train", "evaluate", "policy", "score",
          "publish", "outcomes")


def dvc(project: Path, *args: str, **env: str) -> str:
    full = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ['PATH']}", **env)
    full.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, env=full,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(?:[\w/.]+:)?([\w-]+)'", output))


def fresh(tmp_path: Path, name: str = "project") -> Path:
    project = make_project(tmp_path / name)
    set_params(project, **{"evaluate.btyd": False, "evaluate.rolling_folds": 0})
    return project


def run_ok(*args: str, cwd: Path, **env: str):
    result = churn(*args, cwd=cwd, **env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def copy_of(project: Path, dest: Path) -> Path:
    """A copy of a project after its run (code, data, DVC state, MLflow store, exports). The
    store's artifact location is absolute: the copy's new runs put their artifacts beside the
    original's, each in a folder of its own."""
    shutil.copytree(project, dest, symlinks=True)
    return dest


def run_stages(project: Path, monkeypatch, overrides: dict | None = None,
               stages: tuple[str, ...] = STAGES, publish: bool = True) -> None:
    """The pipeline's stages in this process (no DVC, no subprocess per stage): for tests of
    what the stages compute, where the DAG itself is not under test."""
    import json

    monkeypatch.chdir(project)
    monkeypatch.setenv(OVERRIDES_ENV, json.dumps(overrides or {}))
    monkeypatch.setenv(PUBLISH_ENV, "1" if publish else "0")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in stages:
        module = importlib.import_module(f"pipeline.stages.{name}")
        module.main(Stage(name, load_paths(), load_params()))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo shop (1,500 customers) through a real `churn run`: every stage under DVC, the
    batch published. Tests that change a project work on a copy of it."""
    project = fresh(tmp_path_factory.mktemp("demo"))
    write_shop(project / "data" / "synthetic", ShopConfig(customers=1500, seed=7))
    result = run_ok("run", cwd=project)
    return project, result
