"""The model registry: the logged model reloads anywhere, the gate decides while only
publication moves the aliases, one champion per project and horizon, another feature set waits
for an explicit promotion, and a model of another identity never scores."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from common.errors import ChurnError
from common.params import TrackingParams, TrainParams
from models.churn.metrics import score_metrics
from models.churn.split import time_split
from models.churn.train import train_model
from pipeline.registry import (
    CHALLENGER,
    apply_decision,
    champion_version,
    decide,
    identity,
    load_churn_model,
    log_model,
    model_for_scoring,
    model_name,
    promote,
)
from pipeline.tracking import setup

ROOT = str(Path(__file__).resolve().parents[2])
FAST = TrainParams(n_estimators=80, learning_rate=0.1, early_stopping_rounds=10)


def test_logged_model_reloads_with_the_same_predictions(small_features, mlflow_store):
    import mlflow

    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    with mlflow.start_run():
        uri, version = log_model(model, split.valid.head(5), "churn-test")
    assert version == "1"
    loaded = load_churn_model(f"models:/churn-test/{version}")
    np.testing.assert_allclose(loaded.predict_proba(split.valid),
                               model.predict_proba(split.valid))
    pyfunc = mlflow.pyfunc.load_model(uri)
    out = np.asarray(pyfunc.predict(split.valid[names].astype("float64").head(50)))
    assert ((out >= 0) & (out <= 1)).all() and len(np.unique(out)) > 2  # probabilities, not labels


def _register(model, rows, name: str, tags: dict) -> dict:
    """Log and register a model in a run with `tags`; the train stage's hand-off for it."""
    with mlflow.start_run() as run:
        mlflow.set_tags(tags)
        version = log_model(model, rows.head(2), name)[1]
    return {"run_id": run.info.run_id, "model_name": name, "model_version": version}


def test_the_gate_decides_and_only_publication_moves_the_aliases(small_features,
                                                                 mlflow_store):
    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    tags = identity(365, names)
    first = _register(model, split.valid, "gate-test", tags)
    decision, handoff = decide(first, split.valid, {"roc_auc": 0.80}, "roc_auc", 0.01)
    assert decision.promoted and handoff["version"] == first["model_version"]
    assert champion_version("gate-test") is None          # deciding moves nothing
    apply_decision(handoff)
    assert str(champion_version("gate-test").version) == first["model_version"]
    # the same model again scores the champion's own ROC-AUC: no margin, kept as challenger
    ours = {"roc_auc": score_metrics(split.valid["churned"].to_numpy(),
                                     model.predict_proba(split.valid))["roc_auc"]}
    second = _register(model, split.valid, "gate-test", tags)
    decision, handoff = decide(second, split.valid, ours, "roc_auc", 0.01)
    assert not decision.promoted and "does not beat" in decision.reason
    assert handoff["version"] == first["model_version"]   # the champion scores the batch
    apply_decision(handoff)
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("gate-test", CHALLENGER).version) == \
        second["model_version"]
    assert str(champion_version("gate-test").version) == first["model_version"]
    better = _register(model, split.valid, "gate-test", tags)
    decision, handoff = decide(better, split.valid, {"roc_auc": ours["roc_auc"] + 0.05},
                               "roc_auc", 0.01)
    assert decision.promoted and handoff["promote"] == better["model_version"]


def test_a_version_of_another_feature_set_waits_as_challenger(small_features, mlflow_store):
    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    first = _register(model, split.valid, "ident-test", identity(365, names))
    apply_decision(decide(first, split.valid, {"roc_auc": 0.8}, "roc_auc", 0.0)[1])
    other = _register(model, split.valid, "ident-test", identity(365, names[:-1]))
    decision, handoff = decide(other, split.valid, {"roc_auc": 0.99}, "roc_auc", 0.0)
    assert not decision.promoted and "another identity" in decision.reason
    assert handoff["version"] == first["model_version"]
    assert f"churn promote {other['model_version']} --yes" in decision.reason
    with pytest.raises(ChurnError, match="run again with --yes"):
        promote("ident-test", other["model_version"], confirmed=False)
    assert str(champion_version("ident-test").version) == first["model_version"]
    assert "another identity" in promote("ident-test", other["model_version"], confirmed=True)
    assert str(champion_version("ident-test").version) == other["model_version"]


def test_the_default_model_name_is_the_projects_own_and_the_horizons(tmp_path):
    a, b = tmp_path / "shop-a", tmp_path / "shop-b"
    a.mkdir()
    b.mkdir()
    name_a, name_b = model_name(TrackingParams(), 365, a), model_name(TrackingParams(), 365, b)
    assert name_a.startswith("churn-shop-a-") and name_b.startswith("churn-shop-b-")
    assert name_a != name_b and name_a.endswith("-h365")
    assert model_name(TrackingParams(), 182, a) != name_a  # one champion per horizon
    assert model_name(TrackingParams(model_name="mine"), 90, a) == "mine-h90"


def test_a_model_of_another_horizon_or_missing_features_does_not_score(small_features,
                                                                       mlflow_store):
    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    trained = _register(model, split.valid, "score-test", identity(365, names))
    handoff = {"model_name": "score-test", "version": trained["model_version"]}
    loaded, note = model_for_scoring(handoff, names, 365)
    assert loaded.features == names and note == ""
    with pytest.raises(ChurnError, match=r"data\.horizon_days '365', this run is '182'"):
        model_for_scoring(handoff, names, 182)
    with pytest.raises(ChurnError, match="needs features this shop's tables no longer give"):
        model_for_scoring(handoff, names[:-1], 365)
    _loaded, note = model_for_scoring(handoff, [*names, "extra_feature"], 365)
    assert "another feature set" in note


def test_the_logged_model_loads_outside_this_checkout(small_features, mlflow_store, tmp_path):
    """code_paths ship the model's own packages: a process that cannot import this checkout's
    `models` still loads and scores it."""
    import os
    import subprocess
    import sys

    import mlflow

    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    with mlflow.start_run():
        uri, _ = log_model(model, split.valid.head(5), "portable-test")
    rows = tmp_path / "rows.parquet"
    split.valid[names].head(20).astype("float64").to_parquet(rows)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # hide this checkout: its folders on sys.path and the editable install's finder
    script = ("import mlflow, pandas as pd, sys; "
              f"sys.path = [p for p in sys.path if p.rstrip('/') != {ROOT!r}]; "
              "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
              "[sys.modules.pop(m) for m in list(sys.modules) "
              "if m.split('.')[0] in ('models', 'features', 'common')]; "
              "import importlib.util as u; assert u.find_spec('models') is None; "
              f"m = mlflow.pyfunc.load_model({uri!r}); "
              f"print(list(map(float, m.predict(pd.read_parquet({str(rows)!r}))[:3])))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = [float(v) for v in done.stdout.strip().strip("[]").split(",")]
    np.testing.assert_allclose(loaded, model.predict_proba(split.valid.head(20))[:3])


def test_a_backfill_is_scored_by_a_model_trained_for_it_and_the_champion_stays(
        small_features, mlflow_store):
    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    newest = _register(model, split.valid, "backfill-test",
                       {**identity(365, names), "data.as_of": "2025-06-30"})
    apply_decision(decide(newest, split.valid, {"roc_auc": 0.8}, "roc_auc", 0.0)[1])
    older = _register(model, split.valid, "backfill-test",
                      {**identity(365, names), "data.as_of": "2025-01-31"})
    decision, handoff = decide(older, split.valid, {"roc_auc": 0.99}, "roc_auc", 0.0)
    assert not decision.promoted and "a backfill as of 2025-01-31" in decision.reason
    assert handoff["version"] == older["model_version"] and handoff["promote"] is None
    apply_decision(handoff)
    assert str(champion_version("backfill-test").version) == newest["model_version"]
    with pytest.raises(ChurnError, match="with labels after this run's as_of 2025-01-31"):
        model_for_scoring({"model_name": "backfill-test",
                           "version": newest["model_version"]}, names, 365,
                          as_of="2025-01-31")
