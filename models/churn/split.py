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


def time_split(frame: pd.DataFrame, embargo_days: int = 0,
               validate_on: object | None = None) -> Split:
    """Split the labelled snapshots by time. The newest (or `validate_on`) validates; of the
    cutoffs at least `embargo_days` before it, the newest stops and calibrates and the older
    ones fit. An embargo as long as the horizon keeps every label window the model learns
    from out of the validation period (no shared events between what it fitted and what
    judges it); 0 keeps every earlier cutoff."""
    labelled = frame[frame["split"] == "train"]
    cutoffs = sorted(labelled["cutoff"].unique())
    if validate_on is not None:
        cutoffs = [c for c in cutoffs if pd.Timestamp(c) <= pd.Timestamp(validate_on)]
    if not cutoffs:
        raise ChurnError("no labelled cutoff to validate on")
    last = cutoffs[-1]
    before = [c for c in cutoffs[:-1]
              if pd.Timestamp(c) + pd.Timedelta(days=embargo_days) <= pd.Timestamp(last)]
    if len(before) < 2:
        embargo = f" with an embargo of {embargo_days} days" if embargo_days else ""
        raise ChurnError(
            f"need at least 3 labelled cutoffs to fit, stop/calibrate and validate; found "
            f"{len(before) + 1}{embargo}. Raise features.snapshots or use a shorter "
            "churn.horizon_days" + (" or a shorter train.embargo_days" if embargo_days else ""))
    valid = labelled[labelled["cutoff"] == last]
    held = labelled[labelled["cutoff"] == before[-1]]
    fit = labelled[labelled["cutoff"] < before[-1]]
    half = stable_bucket(held["customer_id"]) < 50
    split = Split(fit=fit, stop=held[half], calibrate=held[~half], valid=valid)
    check_trainable(split)
    return split


def rolling_cutoffs(frame: pd.DataFrame, folds: int, embargo_days: int = 0) -> list:
    """The newest `folds` labelled cutoffs that each leave 2 earlier cutoffs to train on."""
    cutoffs = sorted(frame.loc[frame["split"] == "train", "cutoff"].unique())
    usable = [c for c in cutoffs
              if sum(pd.Timestamp(b) + pd.Timedelta(days=embargo_days) <= pd.Timestamp(c)
                     for b in cutoffs if b < c) >= 2]
    return usable[-folds:] if folds > 0 else []


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
