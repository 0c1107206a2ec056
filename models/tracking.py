"""MLflow at the edge: where runs go, logging the model, and the champion gate."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models.churn_model import ChurnModel, ChurnPyfunc

log = logging.getLogger(__name__)
CHAMPION, CHALLENGER = "champion", "challenger"


def tracking_uri(root: Path | str = ".") -> str:
    """MLFLOW_TRACKING_URI when set (a shared server), else a SQLite file in the project.
    Absolute, so runs started from DVC's temp dirs land in the same store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve()}/mlflow.db"


def setup(experiment: str, root: Path | str = ".") -> str:
    mlflow.set_tracking_uri(tracking_uri(root))
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        exp_id = found.experiment_id
    else:
        location = None
        if tracking_uri(root).startswith("sqlite:"):
            location = (Path(root).resolve() / "mlartifacts").as_uri()
        exp_id = client.create_experiment(experiment, artifact_location=location)
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


def log_model(model: ChurnModel, example: pd.DataFrame, registered_name: str) -> tuple[str, str]:
    """Log the calibrated pyfunc with signature and input example and register it.
    Returns (model_uri, version)."""
    X = model.frame(example)
    signature = infer_signature(X, model.predict_proba(X))
    info = mlflow.pyfunc.log_model(
        name="model", python_model=ChurnPyfunc(model), signature=signature, input_example=X,
        registered_model_name=registered_name,
        pip_requirements=["lightgbm", "scikit-learn", "pandas", "numpy"],
    )
    return info.model_uri, str(info.registered_model_version)


def load_churn_model(uri: str) -> ChurnModel:
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().model


def champion_version(name: str) -> Any | None:
    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    challenger_version: str
    challenger_score: float
    champion_version: str | None
    champion_score: float | None
    metric: str
    margin: float
    reason: str


def decide(challenger: float, champion: float | None, margin: float) -> tuple[bool, str]:
    """Take the alias only with a margin over the champion on the same validation snapshot."""
    if champion is None:
        return True, "no champion yet (or it cannot score today's features)"
    if challenger >= champion + margin:
        return True, f"beats the champion by {challenger - champion:+.4f} (margin {margin})"
    return False, f"does not beat the champion by the margin ({challenger - champion:+.4f} < " \
                  f"{margin})"


def apply_gate(name: str, version: str, challenger_score: float, champion_score: float | None,
               champion: Any | None, metric: str, margin: float) -> GateDecision:
    promoted, reason = decide(challenger_score, champion_score, margin)
    client = MlflowClient()
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    else:
        client.set_registered_model_alias(name, CHALLENGER, version)
    return GateDecision(promoted, version, challenger_score,
                        None if champion is None else str(champion.version), champion_score,
                        metric, margin, reason)
