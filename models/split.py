"""Time-based split of the training snapshots: the past fits, a later slice stops and calibrates,
the newest labelled snapshot validates and is never used for fitting."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from common.errors import ChurnError
from common.hashing import stable_bucket


@dataclass(frozen=True)
class Split:
    fit: pd.DataFrame         # oldest cutoffs: fit the trees
    stop: pd.DataFrame        # second-newest cutoff, half of its customers: early stopping
    calibrate: pd.DataFrame   # the other half: choose and fit the calibration
    valid: pd.DataFrame       # newest labelled cutoff: judge the model, never fit on it


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
    split = Split(fit=fit, stop=held[half], calibrate=held[~half], valid=valid)
    check_trainable(split)
    return split


#: below this many labelled rows per class a part of the split says nothing
MIN_PER_CLASS = 5


def check_trainable(split: Split) -> None:
    """Every part needs both outcomes: a shop whose customers all churned (or none did) in a
    snapshot cannot be learned from or judged on it. One line saying which part and why."""
    for part in ("fit", "stop", "valid"):
        rows = getattr(split, part)
        churned = int(rows["churned"].sum())
        stayed = len(rows) - churned
        if min(churned, stayed) < MIN_PER_CLASS:
            when = sorted({str(c)[:10] for c in rows["cutoff"].unique()}) or ["none"]
            raise ChurnError(
                f"not enough labelled history: the {part} rows (cutoffs {when[0]}..{when[-1]})"
                f" have {churned} churned and {stayed} retained customers; at least "
                f"{MIN_PER_CLASS} of each are needed. Use a shorter churn.horizon_days, an "
                "earlier --as-of (one inside the data), or more history")
