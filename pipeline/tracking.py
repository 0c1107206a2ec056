"""MLflow at the edge: where runs go (the store, the project's own experiment) and what each
stage logs there. The registered models, their aliases and the champion gate are in
pipeline/registry.py."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from filelock import FileLock
from mlflow import MlflowClient

from common.errors import ChurnError
from common.params import TrackingParams

log = logging.getLogger(__name__)
T = TypeVar("T")


def tracking_uri(root: Path | str = ".") -> str:
    """MLFLOW_TRACKING_URI when set (a shared server), else a SQLite file in the project.
    Absolute, so runs started from DVC's temp dirs land in the same store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve()}/mlflow.db"


#: the project's identity, fixed on first use: a copy of the project (cp -r, a moved folder)
#: stays the same project, a fresh clone or a new folder becomes another
PROJECT_FILE = ".churn-project"


def project_id(root: Path | str = ".") -> str:
    """The project's identity on a shared store: its folder name and a hash of its path when
    it was first used, kept in .churn-project."""
    path = Path(root).resolve()
    kept = path / PROJECT_FILE
    if kept.exists():
        return kept.read_text().strip()
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in path.name.lower())
    found = f"{slug}-{hashlib.md5(str(path).encode()).hexdigest()[:6]}"
    try:
        kept.write_text(found + "\n")
    except OSError:     # a read-only project: the path identifies it as before
        pass
    return found


def experiment_name(p: TrackingParams, root: Path | str = ".") -> str:
    return p.experiment or f"churn-{project_id(root)}"


def _retrying(call: Callable[[], T], attempts: int = 5) -> T:
    """A store being created by another process at the same moment fails transiently
    (schema migration, 'database is locked'): wait and retry."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - MLflow and SQLAlchemy raise many kinds
            if attempt == attempts - 1:
                raise ChurnError(f"MLflow store {tracking_uri()}: {str(exc).splitlines()[0]}"
                                 ) from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def setup(p: TrackingParams, root: Path | str = ".") -> str:
    """Point MLflow at the store and the project's experiment. Creating a fresh SQLite store
    runs schema migrations, which are not safe twice at once: a file lock serialises it."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    name = experiment_name(p, root)

    def get_or_create() -> str:
        client = MlflowClient()
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if uri.startswith("sqlite:"):
            location = (Path(root).resolve() / "mlartifacts").as_uri()
        return client.create_experiment(name, artifact_location=location)

    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(db) + ".lock"):
            exp_id = _retrying(get_or_create)
    else:
        exp_id = _retrying(get_or_create)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def files_hash(paths: list[Path]) -> str:
    """md5 over the bytes of the input files, in name order: the data snapshot's identity."""
    digest = hashlib.md5()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def log_drift(run_id: str, drift: dict) -> None:
    """Record a drift check in the model's MLflow run."""
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({"drift.score_psi": drift["score_psi"],
                            "drift.max_feature_psi": max(
                                (f["psi"] for f in drift["features"]), default=0.0)})
        mlflow.set_tag("drift.status", drift["status"])


def _metric_key(name: str) -> str:
    """MLflow metric names allow letters, digits and _ - . / and spaces only."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in name)


def log_stage_run(p: TrackingParams, stage: str, as_of: str, metrics: dict[str, float],
                  artifacts: list[Path]) -> None:
    """A run of its own in the project's experiment for a campaign stage (outcomes, policy):
    what was measured and learned sits in MLflow next to the models, one run per as_of."""
    setup(p)
    finite = {_metric_key(k): float(v) for k, v in metrics.items()
              if isinstance(v, int | float) and v == v and abs(v) != float("inf")}
    with mlflow.start_run(run_name=f"{stage} {as_of}"):
        mlflow.set_tags({"stage": stage, "as_of": as_of})
        if finite:
            mlflow.log_metrics(finite)
        for path in artifacts:
            if Path(path).exists():
                mlflow.log_artifact(str(path))


def log_evaluation(run_id: str, details: dict, decision: Any, figures: dict) -> None:
    """The validation metrics of model and baselines, the gate's decision and the curves as
    images, into the model's own MLflow run."""
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({k: v for k, v in flatten({"valid": {
            "lightgbm": details["model"], **details["baselines"]}}).items()
            if isinstance(v, float)})
        mlflow.set_tags({"gate.promoted": str(decision.promoted), "gate.reason": decision.reason,
                         "gate.champion_version": str(decision.champion_version),
                         "gate.champion_score": str(decision.champion_score)})
        for kind, fig in figures.items():
            mlflow.log_figure(fig, f"plots/{kind}.png")
