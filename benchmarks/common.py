"""Shared by the benchmark scripts: measured runs in fresh processes, resampled populations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def resample(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """n rows drawn with replacement, continuous features jittered by 5% so rows are not
    copies of each other (copies would flatter the de-duplicated SHAP)."""
    rng = np.random.default_rng(seed)
    out = frame.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    for col in out.columns:
        if out[col].dtype.kind == "f" and out[col].nunique() > 10:
            out[col] = out[col] * rng.normal(1.0, 0.05, n)
    out["customer_id"] = [f"c{i:08d}" for i in range(n)]
    return out


def measured_runs(script: str, child_args: list[str], repeats: int) -> list[dict]:
    """Run `script --child ...` `repeats` times; each prints one JSON line. Adds peak_mib, that
    child's own peak RSS (os.wait4), not a running maximum over all children."""
    runs = []
    for _ in range(repeats):
        proc = subprocess.Popen([sys.executable, script, "--child", *child_args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"benchmark child failed ({status}): {script} {child_args}")
        runs.append({**json.loads(out.strip().splitlines()[-1]),
                     "peak_mib": usage.ru_maxrss / 1024})
    return runs
