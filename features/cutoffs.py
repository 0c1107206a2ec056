"""The time model: which cutoffs are scored and trained on. Nothing after `as_of` is ever read."""

from __future__ import annotations

from datetime import date, timedelta

from common.params import FeatureParams


def training_cutoffs(first_order: date, as_of: date, horizon_days: int,
                     p: FeatureParams = FeatureParams()) -> list[date]:
    """Cutoffs T with T + horizon <= as_of (complete labels), newest first step back by
    `every_days`, keeping only those with at least `min_history_days` of data before them.
    Returned oldest first; the newest is the validation snapshot. Empty when the data is too
    short for any (a young shop, a long horizon): the pipeline then scores with BTYD."""
    every_days, snapshots, min_history_days = (p.snapshot_every_days, p.snapshots,
                                               p.min_history_days)
    newest = as_of - timedelta(days=horizon_days)
    cutoffs = [newest - timedelta(days=i * every_days) for i in range(snapshots)]
    cutoffs = [t for t in cutoffs if (t - first_order).days >= min_history_days]
    return sorted(cutoffs)
