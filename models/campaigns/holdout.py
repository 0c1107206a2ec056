"""Every batch is an experiment: a reproducible random share of the customers to contact is held
out (the batch's shared control, not contacted), and the batch's contact log rows record who got
what, and with what chance."""

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


#: the contact log; columns are only ever added (older logs read back with the new ones empty)
CONTACT_LOG_COLUMNS = ["batch", "contact_ts", "customer_id", "action", "offer", "channel",
                       "reason", "risk_tier", "group", "model_version", "expected_uplift",
                       "propensity", "planned_action", "action_source", "lifecycle", "cost",
                       "expected_value", "p_forgot", "p_satisfaction", "p_choice", "p_price",
                       "p_other"]


def batch_contacts(scored: pd.DataFrame, as_of: date,
                   holdout_share: float) -> tuple[np.ndarray, pd.DataFrame]:
    """(holdout flag per scored row, the batch's contact log rows).

    The targets are the customers in the batch (`in_budget`) with an action. When the policy has
    designed the batch (a `holdout` column: its shared control), a held-out row is logged with
    an empty action, the no-contact arm of every action of the batch, and the action it would
    have had as `planned_action`. Without it (the rules alone), a reproducible share of the
    targets is held out here. The batch goes out the day after as_of: responses count from
    then on.
    """
    targets = (scored["in_budget"] & scored["action"].ne("none")).to_numpy()
    if "holdout" in scored:
        holdout = targets & scored["holdout"].fillna(False).astype(bool).to_numpy()
    else:
        holdout = targets & assign_holdout(scored["customer_id"], as_of.isoformat(),
                                           holdout_share)
    rows = scored.loc[targets]
    held = holdout[targets]
    shared = "holdout" in scored
    # the chance of what was done, where the batch randomised its actions (else NaN: a rules
    # batch judges no other policy); a held-out customer was held out whatever the action
    chance = rows["propensity"].to_numpy(float) if "propensity" in rows else \
        np.full(len(rows), np.nan)
    if not shared:
        chance = np.where(np.isnan(chance), np.nan, np.where(
            held, holdout_share, (1 - holdout_share) * chance))
    action = rows["action"].astype(str).to_numpy()

    def column(name: str, default=np.nan) -> np.ndarray:
        return rows[name].to_numpy() if name in rows else np.full(len(rows), default,
                                                                  dtype=object)

    log = pd.DataFrame({
        "batch": as_of.isoformat(),
        "contact_ts": pd.Timestamp(as_of) + pd.Timedelta(days=1),
        "customer_id": rows["customer_id"].to_numpy(),
        "action": np.where(held & shared, "", action),
        "offer": np.where(held & shared, "none", rows["offer"].to_numpy()),
        "channel": np.where(held & shared, "none", rows["channel"].to_numpy()),
        "reason": rows["reason"].to_numpy(),
        "risk_tier": rows["risk_tier"].to_numpy(),
        "group": np.where(held, "control", "treatment"),
        "model_version": rows["model_version"].astype(str).to_numpy(),
        "expected_uplift": rows["expected_uplift"].to_numpy(float)
        if "expected_uplift" in rows else np.nan,
        "propensity": chance,
        "planned_action": column("planned_action", "") if shared else action,
        "action_source": column("action_source", "rules"),
        "lifecycle": column("lifecycle", ""),
        "cost": np.where(held, 0.0, pd.to_numeric(pd.Series(column("cost")),
                                                  errors="coerce").to_numpy(float)),
        "expected_value": pd.to_numeric(pd.Series(column("expected_value")),
                                        errors="coerce").to_numpy(float),
        **{c: pd.to_numeric(pd.Series(column(c)), errors="coerce").to_numpy(float)
           for c in ("p_forgot", "p_satisfaction", "p_choice", "p_price", "p_other")},
    })
    return holdout, log[CONTACT_LOG_COLUMNS]
