"""MLflow at the edge: the logged model reloads anywhere, the champion and challenger aliases,
a project's own model name, and the identity check that keeps projects apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import ChurnError
from common.params import TrackingParams, TrainParams
from models.churn.evaluation import gate
from models.churn.split import time_split
from models.churn.train import train_model
from pipeline.tracking import (
    CHALLENGER,
    CHAMPION,
    champion_for_scoring,
    champion_version,
    identity,
    load_churn_model,
    log_model,
    model_name,
    set_alias,
    setup,
)

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


def test_champion_gate_promotes_the_first_and_better_and_refuses_worse(small_features,
                                                                        mlflow_store):
    import mlflow

    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    versions = []
    for _ in range(3):
        with mlflow.start_run():
            versions.append(log_model(model, split.valid.head(2), "gate-test")[1])
    def apply(version, score, champion, champion_score):
        decision = gate(version, score, champion, champion_score, "roc_auc", 0.01)
        set_alias("gate-test", version, decision.promoted)
        return decision

    first = apply(versions[0], 0.80, None, None)
    assert first.promoted and str(champion_version("gate-test").version) == versions[0]
    worse = apply(versions[1], 0.805, versions[0], 0.80)
    assert not worse.promoted and "does not beat" in worse.reason
    assert str(champion_version("gate-test").version) == versions[0]
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("gate-test", CHALLENGER).version) == versions[1]
    better = apply(versions[2], 0.82, versions[0], 0.80)
    assert better.promoted and better.champion_version == versions[0]
    assert str(client.get_model_version_by_alias("gate-test", CHAMPION).version) == versions[2]


def test_the_default_model_name_is_the_projects_own(tmp_path):
    a, b = tmp_path / "shop-a", tmp_path / "shop-b"
    a.mkdir()
    b.mkdir()
    name_a, name_b = model_name(TrackingParams(), a), model_name(TrackingParams(), b)
    assert name_a.startswith("churn-shop-a-") and name_b.startswith("churn-shop-b-")
    assert name_a != name_b
    assert model_name(TrackingParams(model_name="mine"), a) == "mine"


def test_a_champion_trained_for_another_horizon_is_refused_in_one_line(small_features,
                                                                       mlflow_store):
    import mlflow

    frame, names = small_features
    split = time_split(frame)
    model, _ = train_model(split, names, FAST, 42)
    setup(TrackingParams(experiment="test"))
    with mlflow.start_run():
        mlflow.set_tags(identity(365, names))
        version = log_model(model, split.valid.head(2), "ident-test")[1]
    set_alias("ident-test", version, True)
    loaded, champ = champion_for_scoring("ident-test", identity(365, names))
    assert str(champ.version) == version and loaded.features == names
    with pytest.raises(ChurnError, match=r"data\.horizon_days '365' \(this run: '182'\)"):
        champion_for_scoring("ident-test", identity(182, names))
    with pytest.raises(ChurnError, match="data.features_hash"):
        champion_for_scoring("ident-test", identity(365, names[:-1]))


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
