"""The time model: which cutoffs are scored and trained on. Nothing after `as_of` is ever read."""

from __future__ import annotations

from datetime import date, timedelta

from pipeline.errors import ChurnError


def training_cutoffs(first_order: date, as_of: date, horizon_days: int, every_days: int,
                     snapshots: int, min_history_days: int) -> list[date]:
    """Cutoffs T with T + horizon <= as_of (complete labels), newest first step back by
    `every_days`, keeping only those with at least `min_history_days` of data before them.
    Returned oldest first; the newest is the validation snapshot."""
    newest = as_of - timedelta(days=horizon_days)
    cutoffs = [newest - timedelta(days=i * every_days) for i in range(snapshots)]
    cutoffs = [t for t in cutoffs if (t - first_order).days >= min_history_days]
    if not cutoffs:
        raise ChurnError(
            f"no training cutoff fits: data starts {first_order}, as_of is {as_of}, horizon "
            f"{horizon_days} days and {min_history_days} days of history are needed "
            f"(first possible as_of: "
            f"{first_order + timedelta(days=min_history_days + horizon_days)})"
            ". Use a shorter churn.horizon_days or a later --as-of"
        )
    return sorted(cutoffs)
