"""Time-based split of the training snapshots: the past fits, a later slice stops and calibrates,
the newest labelled snapshot validates and is never used for fitting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import ChurnError


@dataclass(frozen=True)
class Split:
    fit: pd.DataFrame         # oldest cutoffs: fit the trees
    stop: pd.DataFrame        # second-newest cutoff, half of its customers: early stopping
    calibrate: pd.DataFrame   # the other half: choose and fit the calibration
    valid: pd.DataFrame       # newest labelled cutoff: judge the model, never fit on it


def stable_bucket(ids: pd.Series, buckets: int = 100) -> np.ndarray:
    """A hash of the id that is the same on every machine and engine (not Python's hash())."""
    return np.fromiter(
        (int(hashlib.md5(str(i).encode()).hexdigest()[:8], 16) % buckets for i in ids),
        dtype=np.int64, count=len(ids))


def md5_threshold(fraction: float) -> str:
    """Keep ids whose md5 hex starts below this: a sample any engine can draw identically."""
    return f"{min(int(fraction * 16**8), 16**8 - 1):08x}"


def time_split(frame: pd.DataFrame) -> Split:
    labelled = frame[frame["split"] == "train"]
    cutoffs = sorted(labelled["cutoff"].unique())
    if len(cutoffs) < 3:
        raise ChurnError(
            f"need at least 3 labelled cutoffs to fit, stop/calibrate and validate; found "
            f"{len(cutoffs)}. Raise features.snapshots or use a shorter churn.horizon_days")
    valid = labelled[labelled["cutoff"] == cutoffs[-1]]
    held = labelled[labelled["cutoff"] == cutoffs[-2]]
    fit = labelled[labelled["cutoff"] < cutoffs[-2]]
    half = stable_bucket(held["customer_id"]) < 50
    return Split(fit=fit, stop=held[half], calibrate=held[~half], valid=valid)
