"""The MLflow model registry at the edge: the project's registered model per horizon, logging and
loading a model, the champion gate's decision, and applying it (the `champion` and
`challenger` aliases) only when a batch is published or by an explicit `churn promote`.

Identity: a model is trained for one shop (the project), one horizon and one feature set. The
horizon is part of the registered name (`churn-<project>-h365`), so a 182-day experiment can
never take the 365-day champion; a version trained on another feature set is not comparable
with the champion: it waits as `challenger` until someone promotes it (`churn promote`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from common.errors import ChurnError
from common.params import TrackingParams, as_dict
from models.churn.evaluation import GateDecision, gate
from models.churn.metrics import score_metrics
from models.churn.model import ChurnModel, ChurnPyfunc
from pipeline.tracking import files_hash, flatten, project_id

CHAMPION, CHALLENGER = "champion", "challenger"
ROOT = Path(__file__).resolve().parents[1]
#: the packages the pickled model needs, shipped inside the logged model so it loads anywhere
#: the dependencies are installed, not only in this checkout
CODE_PATHS = [str(ROOT / name) for name in ("models", "features", "common")]
#: run tags that say which shop, horizon and feature set a model was trained for
IDENTITY_TAGS = ("churn.project", "data.horizon_days", "data.features_hash")


def model_name(p: TrackingParams, horizon_days: int, root: Path | str = ".") -> str:
    """`tracking.model_name` (by default one derived from the project: names and aliases are
    global to a store) with the horizon: one champion per horizon."""
    return f"{p.model_name or f'churn-{project_id(root)}'}-h{horizon_days}"


def features_hash(names: list[str]) -> str:
    return hashlib.md5(",".join(names).encode()).hexdigest()[:12]


def identity(horizon_days: int, names: list[str], root: Path | str = ".") -> dict[str, str]:
    """What a model must share with today's run to be compared with it or to score it."""
    return {"churn.project": project_id(root), "data.horizon_days": str(horizon_days),
            "data.features_hash": features_hash(names)}


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
                         f"this is {project_id(root)}): set tracking.model_name to a name of "
                         "this project, or null for the default")


def log_training(model: Any, info: dict, run: Any, params: Any, names: list[str],
                 canonical_files: list[Path], example: pd.DataFrame,
                 registered: str) -> dict[str, Any]:
    """One MLflow run for a trained model: params, identity and data tags, the feature list
    and importance, the training info, the model itself (registered). Returns the hand-off to
    the evaluate stage: run id, name, version, URI, score source, features."""
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


def decide(trained: dict, valid: pd.DataFrame | None, ours: dict | None, metric: str,
           margin: float) -> tuple[GateDecision, dict]:
    """The champion gate, without touching the registry: compare with the current champion on
    this validation snapshot (a champion trained for another feature set is not comparable:
    the new version waits as challenger). Returns (the decision, the hand-off to scoring:
    the version that scores this batch and which aliases publishing will set)."""
    name, version = trained["model_name"], trained["model_version"]
    champ = champion_version(name)
    champ_score, note, comparable = None, "", True
    ours_tags = mlflow.get_run(trained["run_id"]).data.tags
    if champ is not None and str(champ.version) != version:
        champ_as_of = MlflowClient().get_run(champ.run_id).data.tags.get("data.as_of", "")
        if champ_as_of > ours_tags.get("data.as_of", ""):
            # a backfill: the champion's labels reach past this as_of, so it can neither
            # judge nor score it; the version trained for it scores, the champion stays
            reason = (f"a backfill as of {ours_tags.get('data.as_of')}: scored by v{version}, "
                      f"trained for it; the champion v{champ.version} (as of {champ_as_of}) "
                      "stays")
            return (GateDecision(False, version, float("nan") if ours is None else
                                 ours[metric], str(champ.version), None, metric, margin,
                                 reason),
                    {"model_name": name, "version": version, "run_id": trained["run_id"],
                     "promote": None, "challenger": None, "reason": reason})
        expected = {k: v for k, v in ours_tags.items() if k in IDENTITY_TAGS}
        wrong = identity_mismatch(champ, expected)
        if wrong:
            comparable = False
            note = (f"the champion v{champ.version} was trained for another identity ({wrong});"
                    f" v{version} waits as challenger: `churn promote {version} --yes` to "
                    "switch")
        elif valid is not None and ours is not None:
            model = load_churn_model(f"models:/{name}/{champ.version}")
            champ_score = score_metrics(valid["churned"].to_numpy(),
                                        model.predict_proba(valid))[metric]
    if comparable:
        decision = gate(version, float("nan") if ours is None else ours[metric],
                        None if champ is None else str(champ.version), champ_score, metric,
                        margin, note or ("" if ours is not None else "short history"))
    else:
        decision = GateDecision(False, version, float("nan") if ours is None else ours[metric],
                                str(champ.version), None, metric, margin, note)
    scoring = version if decision.promoted else str(champ.version)
    scoring_run = trained["run_id"] if decision.promoted else champ.run_id
    return decision, {"model_name": name, "version": scoring, "run_id": scoring_run,
                      "promote": version if decision.promoted else None,
                      "challenger": None if decision.promoted else version,
                      "reason": decision.reason}


def apply_decision(handoff: dict) -> str:
    """Set the aliases the gate decided (`champion` for a promoted version, `challenger` for
    one that was not). Only a published batch and `churn retrain` call this. Returns a line
    saying what moved."""
    client = MlflowClient()
    name = handoff["model_name"]
    if handoff.get("promote"):
        client.set_registered_model_alias(name, CHAMPION, handoff["promote"])
        return f"{name}@{CHAMPION} is v{handoff['promote']}"
    if handoff.get("challenger"):
        client.set_registered_model_alias(name, CHALLENGER, handoff["challenger"])
        return f"{name}@{CHALLENGER} is v{handoff['challenger']}; champion kept"
    return f"{name}@{CHAMPION} unchanged"


def promote(name: str, version: str, confirmed: bool) -> str:
    """`churn promote VERSION`: make a version the champion, across identities (another
    feature set). Without confirmation it only says what would change."""
    client = MlflowClient()
    try:
        target = client.get_model_version(name, version)
    except MlflowException:
        raise ChurnError(f"'{name}' has no version {version}") from None
    champ = champion_version(name)
    wrong = "" if champ is None else identity_mismatch(target, {
        k: v for k, v in client.get_run(champ.run_id).data.tags.items() if k in IDENTITY_TAGS})
    change = (f"{name}@{CHAMPION}: v{champ.version if champ else '-'} -> v{version}"
              + (f" (another identity: {wrong})" if wrong else ""))
    if not confirmed:
        raise ChurnError(f"would move {change}; run again with --yes to do it")
    client.set_registered_model_alias(name, CHAMPION, version)
    return change


def model_for_scoring(handoff: dict, available: list[str], horizon_days: int,
                      root: Path | str = ".", columns: list[str] | None = None,
                      as_of: str | None = None) -> tuple[ChurnModel, str]:
    """The version the gate chose, refused in one line when it was trained for another shop or
    horizon, or whose labels reach past `as_of` (a backfill scored by a later model would
    leak), or needs columns this snapshot lacks (`columns`: the snapshot's, by default the
    model features `available`). Returns (model, a note when it was trained on another feature
    set than today's)."""
    try:
        version = MlflowClient().get_model_version(handoff["model_name"], handoff["version"])
    except MlflowException:
        raise ChurnError(f"the MLflow store has no '{handoff['model_name']}' "
                         f"v{handoff['version']} (was mlflow.db deleted, or "
                         "MLFLOW_TRACKING_URI changed?): train it again with `churn retrain`"
                         ) from None
    tags = MlflowClient().get_run(version.run_id).data.tags
    expected = identity(horizon_days, available, root)
    for key in ("churn.project", "data.horizon_days"):
        if tags.get(key) != expected[key]:
            raise ChurnError(f"'{handoff['model_name']}' v{handoff['version']} was trained for "
                             f"{key} {tags.get(key)!r}, this run is {expected[key]!r}: retrain "
                             "(churn retrain) or set tracking.model_name")
    if as_of is not None and tags.get("data.as_of", "") > as_of:
        raise ChurnError(f"'{handoff['model_name']}' v{handoff['version']} was trained as of "
                         f"{tags.get('data.as_of')}, with labels after this run's as_of "
                         f"{as_of}: it would leak; retrain for it (churn retrain --as-of "
                         f"{as_of})")
    model = load_churn_model(f"models:/{handoff['model_name']}/{handoff['version']}")
    missing = sorted(set(model.features) - set(columns if columns is not None else available))
    if missing:
        waiting = handoff.get("challenger")
        raise ChurnError(f"'{handoff['model_name']}' v{handoff['version']} needs features this "
                         f"shop's tables no longer give ({', '.join(missing[:5])}); "
                         + (f"promote the version trained without them: churn promote "
                            f"{waiting} --yes" if waiting else "retrain: churn retrain"))
    note = "" if tags.get("data.features_hash") == expected["data.features_hash"] else (
        f"scored by v{handoff['version']}, trained on another feature set; "
        f"v{handoff.get('challenger')} waits as challenger")
    return model, note
