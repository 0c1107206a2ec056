"""Shared by the benchmark scripts: measured runs in fresh processes, resampled populations,
the features table the stage writes now (cause evidence included), the train stage's two
models, and per-step timers inside a measured child."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CANONICAL = ROOT / "data" / "canonical"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (what `uptime` prints): 2 cores shared with other
    work, so every timing is read next to the load it ran under."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def resample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """n rows drawn with replacement, continuous features jittered by 5% so rows are not
    copies of each other (copies would flatter the de-duplicated SHAP). The cause evidence
    columns are drawn as they are: they are counts the cause model's rules compare exactly
    (one order, 2+ returns), and no computation is shared between equal rows there."""
    from features.evidence import evidence_columns

    rng = np.random.default_rng(seed)
    keep = set(evidence_columns(list(frame.columns)))
    out = frame.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    for col in out.columns:
        if col not in keep and out[col].dtype.kind == "f" and out[col].nunique() > 10:
            out[col] = out[col] * rng.normal(1.0, 0.05, n)
    out["customer_id"] = [f"c{i:08d}" for i in range(n)]
    return out


def stage_features(source: Path) -> tuple[Path, list[str]]:
    """The default shop's features table as the features stage writes it (features and the
    cause model's evidence, a file or a folder of snapshots) and its model feature names;
    `make run` writes it."""
    from pipeline.rows import feature_names

    if not source.exists():
        raise SystemExit(f"{source} not found: run `make run` first (the default shop's "
                         "features are the benchmark's population)")
    return source, feature_names(source)


def fit_stage_models(frame: pd.DataFrame, names: list[str], params: Any,
                     canonical: Path = CANONICAL) -> tuple[Any, dict, float, float]:
    """What the train stage fits (pipeline/stages/train.py without MLflow): the time split and the
    calibrated churn model, then, with reasons.method cause_model, the cause model beside it.
    Returns (model, info, churn seconds, cause-model seconds)."""
    from features.contract import TABLES
    from models.causes.reasons import fit_beside_churn_model
    from models.churn.split import time_split
    from models.churn.train import train_model

    started = time.perf_counter()
    split = time_split(frame)
    model, info = train_model(split, names, params.train, params.base.seed)
    churn = time.perf_counter() - started
    started = time.perf_counter()
    if params.reasons.method == "cause_model":
        tables = [t for t in TABLES if (canonical / f"{t}.parquet").exists()]
        model.cause_model = fit_beside_churn_model(model, split, tables, params.reasons,
                                                   params.base.seed)
    return model, info, churn, time.perf_counter() - started


class Steps:
    """Wall seconds per step inside a measured child: wraps module functions and methods by
    name, so the measured code is the project's own, unchanged. A step's time includes the
    steps it calls (nested wraps are reported beside it, not subtracted)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, attr: str, step: str) -> None:
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[step] += time.perf_counter() - t0
                self.calls[step] += 1

        setattr(owner, attr, timed)

    def add(self, step: str, seconds: float) -> None:
        self.seconds[step] += seconds
        self.calls[step] += 1


def measured_runs(script: str, child_args: list[str], repeats: int) -> list[dict]:
    """Run `script --child ...` `repeats` times; each prints one JSON line. Adds peak_mib, that
    child's own peak RSS (os.wait4), not a running maximum over all children, and load, the
    load average just before the run."""
    runs = []
    for i in range(repeats):
        load = load_average()
        print(f"  run {i + 1}/{repeats}: load average {load}", flush=True)
        with tempfile.TemporaryFile("w+") as stderr:
            proc = subprocess.Popen([sys.executable, script, "--child", *child_args], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=stderr, text=True)
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            if status != 0:
                stderr.seek(0)
                tail = " | ".join(stderr.read().strip().splitlines()[-5:])
                raise RuntimeError(f"benchmark child failed ({status}): {script} {child_args}:"
                                   f" {tail}")
        runs.append({**json.loads(out.strip().splitlines()[-1]),
                     "peak_mib": usage.ru_maxrss / 1024, "load": load})
    return runs
