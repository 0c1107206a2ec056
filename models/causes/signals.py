"""How the labelling functions and the words read a customer row: columns as floats (all NaN
when the shop's tables do not produce them, so a function abstains), orders so far, days since
the last order, text columns."""

from __future__ import annotations

import numpy as np
import pandas as pd


def col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as floats; all NaN when the frame lacks it (its function then abstains)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def orders(frame: pd.DataFrame) -> np.ndarray:
    """Orders so far: all non-cancelled ones when the evidence has them, else completed."""
    n = col(frame, "ev_orders")
    return np.where(np.isnan(n), col(frame, "frequency"), n)


def text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), "").astype(str)



def days_since(f: pd.DataFrame) -> np.ndarray:
    d = col(f, "days_since_last_order")
    return np.where(np.isnan(d), col(f, "recency_days"), d)

