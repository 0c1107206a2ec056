"""Stable, engine-independent hashes of ids: the same bucket on every machine, in Python, DuckDB
and Spark (never Python's salted hash())."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def stable_bucket(ids: pd.Series, buckets: int = 100, salt: str = "") -> np.ndarray:
    """md5 of (salt + id) modulo `buckets`: a fixed function of the id (and the salt)."""
    return np.fromiter(
        (int(hashlib.md5(f"{salt}{i}".encode()).hexdigest()[:8], 16) % buckets for i in ids),
        dtype=np.int64, count=len(ids))


def md5_threshold(fraction: float) -> str:
    """Keep ids whose md5 hex starts below this: a sample any engine can draw identically."""
    return f"{min(int(fraction * 16**8), 16**8 - 1):08x}"
