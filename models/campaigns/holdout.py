"""Every batch is an experiment: a reproducible random share of its targets is held out (not
contacted), and the batch's contact log rows record who got what, and with what chance."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from common.errors import ChurnError
from common.hashing import stable_bucket

HOLDOUT_SALT = "holdout"
_HASH_BUCKETS = 100_000


def assign_holdout(customer_ids: pd.Series, batch: str, share: float) -> np.ndarray:
    """True for the customers held out (not contacted) in this batch.

    A stable md5 of (batch, customer_id), not a random generator: a rerun of the same batch holds
    out the same customers on any machine or engine, and a new batch draws a fresh holdout.
    """
    if not 0.0 <= share < 1.0:
        raise ChurnError(f"holdout_share must be in [0, 1), got {share}")
    bucket = stable_bucket(pd.Series(customer_ids).astype(str), _HASH_BUCKETS,
                           salt=f"{HOLDOUT_SALT}|{batch}|")
    return bucket < round(share * _HASH_BUCKETS)



CONTACT_LOG_COLUMNS = ["batch", "contact_ts", "customer_id", "action", "offer", "channel",
                       "reason", "risk_tier", "group", "model_version", "expected_uplift",
                       "propensity"]


def batch_contacts(scored: pd.DataFrame, as_of: date,
                   holdout_share: float) -> tuple[np.ndarray, pd.DataFrame]:
    """(holdout flag per scored row, the batch's contact log rows).

    Targets are the customers in the contact budget with an action; a reproducible share of
    each action's targets is held out (same hash for every action, so the share holds per
    action). The batch goes out the day after as_of: responses count from then on.
    """
    targets = (scored["in_budget"] & scored["action"].ne("none")).to_numpy()
    holdout = targets & assign_holdout(scored["customer_id"], as_of.isoformat(), holdout_share)
    rows = scored.loc[targets]
    # the chance of what was done, where the batch randomised its actions (else NaN: a rules
    # batch judges no other policy); a held-out customer was held out whatever the action
    chance = rows["propensity"].to_numpy(float) if "propensity" in rows else \
        np.full(len(rows), np.nan)
    log = pd.DataFrame({
        "batch": as_of.isoformat(),
        "contact_ts": pd.Timestamp(as_of) + pd.Timedelta(days=1),
        "customer_id": rows["customer_id"].to_numpy(),
        "action": rows["action"].to_numpy(),
        "offer": rows["offer"].to_numpy(),
        "channel": rows["channel"].to_numpy(),
        "reason": rows["reason"].to_numpy(),
        "risk_tier": rows["risk_tier"].to_numpy(),
        "group": np.where(holdout[targets], "control", "treatment"),
        "model_version": rows["model_version"].astype(str).to_numpy(),
        "expected_uplift": rows["expected_uplift"].to_numpy(float)
        if "expected_uplift" in rows else np.nan,
        "propensity": np.where(np.isnan(chance), np.nan, np.where(
            holdout[targets], holdout_share, (1 - holdout_share) * chance)),
    })
    return holdout, log[CONTACT_LOG_COLUMNS]
