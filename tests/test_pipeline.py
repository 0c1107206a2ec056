"""The DVC pipeline end to end on a small generated shop, from a fresh copy of the project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import set_params


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
    from tests.conftest import ROOT
    import shutil

    dest = tmp_path_factory.mktemp("e2e") / "project"
    dest.mkdir()
    for name in ("pipeline", "features", "models"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / ".dvc", dest / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    set_params(dest, **{"synth.customers": 1500, "evaluate.btyd": False})
    first = dvc(dest, "repro")
    return dest, first


def test_fresh_repro_runs_every_stage_and_writes_outputs(repro_project):
    project, first = repro_project
    assert {"synth", "ingest", "features", "train", "evaluate"} <= ran(first)
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    assert metrics["model"]["all"]["roc_auc"] > 0.7
    assert set(metrics["baselines"]) == {"recency_only", "rfm_logistic"}
    assert metrics["promotion"]["promoted"] is True
    assert (project / "mlflow.db").exists()
    for kind in ("roc", "precision_recall", "gains", "calibration"):
        assert (project / "reports" / "plots" / f"{kind}.csv").exists()


def test_second_repro_does_nothing_and_a_train_param_reruns_train_and_evaluate(repro_project):
    project, _ = repro_project
    assert ran(dvc(project, "repro")) == set()
    set_params(project, **{"train.learning_rate": 0.08})
    assert ran(dvc(project, "repro")) == {"train", "evaluate"}
    shown = dvc(project, "metrics", "show")
    assert "roc_auc" in shown
