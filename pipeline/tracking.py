"""MLflow at the edge: where runs go, the project's own model name, logging and loading the
model, the champion alias, and the identity check that keeps two projects on one store apart."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import mlflow
import pandas as pd
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from common.errors import ChurnError
from common.params import TrackingParams
from models.churn.model import ChurnModel, ChurnPyfunc

log = logging.getLogger(__name__)
CHAMPION, CHALLENGER = "champion", "challenger"
ROOT = Path(__file__).resolve().parents[1]
#: the packages the pickled model needs, shipped inside the logged model so it loads anywhere
#: the dependencies are installed, not only in this checkout
CODE_PATHS = [str(ROOT / name) for name in ("models", "features", "common")]
#: run tags that say which shop, horizon and feature set a model was trained for
IDENTITY_TAGS = ("churn.project", "data.horizon_days", "data.features_hash")
T = TypeVar("T")


def tracking_uri(root: Path | str = ".") -> str:
    """MLFLOW_TRACKING_URI when set (a shared server), else a SQLite file in the project.
    Absolute, so runs started from DVC's temp dirs land in the same store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve()}/mlflow.db"


def project_id(root: Path | str = ".") -> str:
    """The project's identity on a shared store: its folder name and a hash of its path."""
    path = Path(root).resolve()
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in path.name.lower())
    return f"{slug}-{hashlib.md5(str(path).encode()).hexdigest()[:6]}"


def model_name(p: TrackingParams, root: Path | str = ".") -> str:
    """`train.model_name`, or by default one derived from the project: registered names and
    aliases are global to a store, so two projects must not share `churn-lgbm@champion`."""
    return p.model_name or f"churn-{project_id(root)}"


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


def features_hash(names: list[str]) -> str:
    return hashlib.md5(",".join(names).encode()).hexdigest()[:12]


def identity(horizon_days: int, names: list[str], root: Path | str = ".") -> dict[str, str]:
    """What a model must share with today's run to be compared with it or to score it."""
    return {"churn.project": project_id(root), "data.horizon_days": str(horizon_days),
            "data.features_hash": features_hash(names)}


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
    """Log the calibrated pyfunc (with signature, input example and its own code) and register
    it. Returns (model_uri, version)."""
    X = model.frame(example)
    signature = infer_signature(X, model.predict_proba(X))
    # MLflow prints its registry chatter ("Created version ...") itself: keep the run quiet
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=ChurnPyfunc(model), signature=signature,
            input_example=X, registered_model_name=registered_name, code_paths=CODE_PATHS,
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


def identity_mismatch(version: Any, expected: dict[str, str]) -> str:
    """'' when the model version's run was trained for this identity, else what differs."""
    tags = MlflowClient().get_run(version.run_id).data.tags
    wrong = [f"{key} {tags.get(key)!r} (this run: {value!r})" for key, value in expected.items()
             if tags.get(key) != value]
    return "; ".join(wrong)


def check_owner(name: str, root: Path | str = ".") -> None:
    """Refuse to train into a registered model whose champion another project trained: names
    and aliases are global to a store, and a model name set by hand may collide."""
    champ = champion_version(name)
    if champ is None:
        return
    owner = MlflowClient().get_run(champ.run_id).data.tags.get("churn.project")
    if owner is not None and owner != project_id(root):
        raise ChurnError(f"registered model '{name}' belongs to another project ({owner}; "
                         f"this is {project_id(root)}): set train.model_name to a name of "
                         "this project, or null for the default")


def set_alias(name: str, version: str, promoted: bool) -> None:
    MlflowClient().set_registered_model_alias(name, CHAMPION if promoted else CHALLENGER, version)


def champion_for_scoring(name: str, expected: dict[str, str]) -> tuple[ChurnModel, Any]:
    """The champion, refused in one line when it was trained for another shop, horizon or
    feature set (two projects on one store, or a changed horizon without retraining)."""
    champ = champion_version(name)
    if champ is None:
        raise ChurnError(f"no '{name}@champion' model in MLflow yet: run the train and evaluate "
                         "stages first (churn run)")
    wrong = identity_mismatch(champ, expected)
    if wrong:
        raise ChurnError(f"'{name}@champion' (v{champ.version}) was trained for something else: "
                         f"{wrong}; retrain (churn retrain) or set train.model_name")
    return load_churn_model(f"models:/{name}/{champ.version}"), champ


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


def log_training(model: Any, info: dict, run: Any, params: Any, names: list[str],
                 canonical_files: list[Path], example: pd.DataFrame,
                 registered: str) -> dict[str, Any]:
    """One MLflow run for a trained model: params, identity and data tags, the feature list
    and importance, the training info, the model itself (registered). Returns the hand-off to
    the evaluate stage: run id, name, version, URI, score source, features."""
    from common.params import as_dict

    with mlflow.start_run() as active:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten({
            "run": {k: str(v) for k, v in vars(run).items()},
            "features": as_dict(params.features), "train": as_dict(params.train),
            "base": as_dict(params.base)}).items()})
        mlflow.log_params({"calibration_chosen": info.get("calibration", "isotonic on labels"),
                           "best_iteration": info.get("best_iteration", 0)})
        mlflow.set_tags({
            **identity(run.horizon_days, names),
            "data.input": run.input,
            "data.as_of": run.as_of.isoformat(),
            "data.valid_cutoff": info.get("valid_cutoff", "none"),
            "data.score_source": info["score_source"],
            "data.input_hash": files_hash(canonical_files),
            "data.rows": str(info["rows"]),
        })
        mlflow.log_dict({"features": names, "importance_gain": info.get("importance_gain", {})},
                        "features.json")
        mlflow.log_dict(info, "train_info.json")
        _uri, version = log_model(model, example, registered)
    return {"run_id": active.info.run_id, "model_name": registered, "model_version": version,
            "model_uri": f"models:/{registered}/{version}", "features": names,
            "score_source": info["score_source"], "note": info.get("note", "")}


def champion_gate(trained: dict, valid: pd.DataFrame, ours: dict, metric: str,
                  margin: float) -> Any:
    """Compare with the current champion on this validation snapshot and set the alias; a
    champion trained for another identity (shop, horizon, features) is not comparable and is
    replaced."""
    from models.churn.evaluation import gate
    from models.churn.metrics import score_metrics

    name, version = trained["model_name"], trained["model_version"]
    champ = champion_version(name)
    champ_score, note = None, ""
    if champ is not None and str(champ.version) != version:
        expected = {k: v for k, v in mlflow.get_run(trained["run_id"]).data.tags.items()
                    if k in IDENTITY_TAGS}
        wrong = identity_mismatch(champ, expected)
        if wrong:
            note = f"the champion v{champ.version} is not comparable: {wrong}"
        else:
            model = load_churn_model(f"models:/{name}/{champ.version}")
            champ_score = score_metrics(valid["churned"].to_numpy(),
                                        model.predict_proba(valid))[metric]
    decision = gate(version, ours[metric], None if champ is None else str(champ.version),
                    champ_score, metric, margin, note)
    set_alias(name, version, decision.promoted)
    return decision


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
