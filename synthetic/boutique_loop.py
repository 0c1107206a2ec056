"""A second loop simulator, built differently from the retail one in synthetic/campaigns.py.

The boutique (synthetic/boutique.py, a weekly hazard simulation) runs on past the first batch,
and a contact changes its natural future rather than adding a per-cause chance on top of it:

- a positive effect adds a response order to customers with no order in the window, with the
  chance that makes the effect the planted one for their cause and stage (scaled by the share
  of such customers that order anyway); a negative effect removes the natural orders of the
  window with the chance that takes the planted share away;
- effects depend on what the tables show: a reminder's effect fades with the days since the
  last order (half-life ~140 days), a promotion wins back one-time buyers more than repeat
  customers, a membership offer does nothing for a one-time buyer;
- costs: an e-mail 0.02, an SMS 0.12, a call 4.0, a gift 1.0 on top (reminder_gift,
  care_call); a promotion charges every order in its window 20% less (the margin given away).

Where the domain rules go wrong here: lapsed forgetful one-time buyers answer a promotion more
than a reminder (whose effect has faded), choice leavers answer a gift more than new arrivals,
dissatisfied one-time buyers get nothing from a membership offer and are hurt by a promotion,
and a survey does nothing. Imports nothing from the project.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.loop_shop import LOYAL, LoopShop, sent_mask

DEPTH = 0.20
COSTS: Mapping[str, float] = {"email": 0.02, "sms": 0.12, "phone": 4.0}
CHANNEL: Mapping[str, str] = {"care_call": "phone", "service_recovery": "phone",
                              "reminder": "sms"}
GIFT = {"reminder_gift": 1.0, "care_call": 1.0}


def effect(cause: np.ndarray, action: np.ndarray, recency: np.ndarray, one_time: np.ndarray
           ) -> np.ndarray:
    """The planted uplift of the response chance, per customer."""
    fade = np.exp(-recency / 200.0)
    table = {
        ("forgot", "reminder"): 0.10 * fade, ("forgot", "reminder_gift"): 0.12 * fade,
        ("forgot", "care_call"): np.full(len(cause), 0.12),
        ("forgot", "promotion_invite"): np.where(one_time, 0.07, 0.02),
        ("forgot", "new_arrivals"): np.full(len(cause), 0.01),
        ("satisfaction", "service_recovery"): np.full(len(cause), 0.12),
        ("satisfaction", "membership_upgrade"): np.where(one_time, 0.0, 0.07),
        ("satisfaction", "reminder_gift"): np.full(len(cause), 0.05),
        ("satisfaction", "promotion_invite"): np.full(len(cause), -0.08),
        ("satisfaction", "reminder"): np.full(len(cause), -0.02),
        ("choice", "new_arrivals"): np.full(len(cause), 0.03),
        ("choice", "reminder_gift"): np.full(len(cause), 0.07),
        ("choice", "promotion_invite"): np.full(len(cause), 0.04),
        ("price", "promotion_invite"): np.where(one_time, 0.12, 0.06),
        ("price", "reminder"): 0.01 * fade,
        ("price", "membership_upgrade"): np.where(one_time, 0.0, 0.03),
        ("other", "reminder"): 0.03 * fade,
        ("other", "promotion_invite"): np.full(len(cause), 0.02),
    }
    out = np.zeros(len(cause))
    for (c, a), values in table.items():
        hit = (cause == c) & (action == a)
        out[hit] = np.asarray(values)[hit]
    return out


@dataclass(frozen=True)
class BoutiqueLoopConfig:
    customers: int = 8_000
    seed: int = 0
    batches: int = 6
    every_days: int = 35
    response_days: int = 30
    history_days: int = 3 * 365


class BoutiqueLoop:
    """The boutique answering batches; see the module docstring."""

    def __init__(self, cfg: BoutiqueLoopConfig = BoutiqueLoopConfig()) -> None:
        from synthetic.boutique import Config, generate

        span = cfg.batches * cfg.every_days + cfg.response_days + 7
        tables, truth = generate(Config(customers=cfg.customers, seed=cfg.seed,
                                        days=cfg.history_days + span))
        self.cfg = cfg
        self.shop = LoopShop(tables, truth, cfg.response_days, cfg.seed + 7)
        first = pd.Timestamp(tables["orders"]["order_ts"].min()).normalize()
        self.first_batch = (first + pd.Timedelta(days=cfg.history_days)).date()
        self.dates = [(pd.Timestamp(self.first_batch) + pd.Timedelta(days=cfg.every_days * k)
                       ).date() for k in range(cfg.batches)]
        self.tables = self.shop.tables
        self.cause = self.shop.cause
        self.value = self.shop.value

    def _state(self, ids: pd.Series, as_of) -> tuple[np.ndarray, np.ndarray]:
        """Days since the last order and one-time buyer, at as_of (what the tables show)."""
        o = self.shop.orders()
        o = o[o["order_ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
        if "status" in o:
            o = o[o["status"].fillna("completed") == "completed"]
        g = o.groupby("customer_id")["order_ts"].agg(["max", "size"]).reindex(ids.astype(str))
        recency = (pd.Timestamp(as_of) - g["max"]).dt.days.fillna(9999).to_numpy(float)
        return recency, g["size"].fillna(0).to_numpy() <= 1

    def uplift(self, ids: pd.Series, actions: pd.Series, as_of) -> np.ndarray:
        recency, one = self._state(ids, as_of)
        cause = self.cause.reindex(ids.astype(str)).fillna(LOYAL).to_numpy()
        return effect(cause, actions.astype(str).to_numpy(), recency, one)

    def cost(self, actions: pd.Series) -> np.ndarray:
        a = actions.astype(str)
        return (a.map(lambda x: COSTS[CHANNEL.get(x, "email")]).to_numpy(float)
                + a.map(GIFT).fillna(0.0).to_numpy(float))

    def answer(self, batch: pd.DataFrame, as_of) -> dict:
        """Responses to a batch sent the day after as_of (see the module docstring)."""
        start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        rows = batch[sent_mask(batch)].reset_index(drop=True)
        ids = rows["customer_id"].astype(str)
        u = self.uplift(ids, rows["action"], as_of)
        # how often customers of the same cause and stage order anyway in the window
        everyone = pd.Series(self.cause.index)
        recency, one = self._state(everyone, as_of)
        known = recency < 9999
        natural_all = self.shop.natural(everyone[known], start)
        has_all = everyone[known].isin(set(natural_all["customer_id"])).to_numpy()
        key_all = pd.Series(self.cause.to_numpy()[known]) + np.where(one[known], "|1", "|2")
        rate = pd.Series(has_all).groupby(key_all.to_numpy()).mean()
        r_rec, r_one = self._state(ids, as_of)
        key = self.cause.reindex(ids).fillna(LOYAL).to_numpy() + np.where(r_one, "|1", "|2")
        p_nat = pd.Series(key).map(rate).fillna(0.1).clip(0.01, 0.99).to_numpy()
        natural = self.shop.natural(ids, start)
        has = ids.isin(set(natural["customer_id"])).to_numpy()
        draw = self.shop.rng.random(len(ids))
        gain = ~has & (u > 0) & (draw < np.clip(u / (1 - p_nat), 0, 1))
        loss = has & (u < 0) & (draw < np.clip(-u / p_nat, 0, 1))
        promo = rows["action"].astype(str).eq("promotion_invite").to_numpy()
        self.shop.add_orders(ids[gain].to_numpy(), start, np.where(promo[gain], DEPTH, 0.0),
                             f"B{as_of}")
        self.shop.drop(natural.loc[natural["customer_id"].isin(set(ids[loss])), "order_id"])
        kept = natural[~natural["customer_id"].isin(set(ids[loss]))]
        self.shop.discount(kept.loc[kept["customer_id"].isin(set(ids[promo])), "order_id"],
                           DEPTH)
        return {"sent": int(len(ids)), "won": int(gain.sum()), "lost": int(loss.sum())}
