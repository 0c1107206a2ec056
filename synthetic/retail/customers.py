"""Who the customers are: loyal or lapsing (with one cause, in the configured shares), when
they arrive, how often and how much they buy, how price-sensitive they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.io import CAUSES
from synthetic.retail.calendar import Calendar
from synthetic.retail.config import CATEGORIES, ShopConfig


@dataclass
class Customers:
    segment: np.ndarray          # "loyal" or the cause of lapsing
    first_day: np.ndarray        # day index of the first order
    rate: np.ndarray             # orders a year while active
    n_orders: np.ndarray         # orders before lapsing (loyal: unbounded)
    incident_at: np.ndarray      # satisfaction: the order where things went wrong
    price_sensitive: np.ndarray
    sale_affinity: np.ndarray    # chance an order waits for the next sale
    fav_cat: np.ndarray          # two favourite categories
    basket: np.ndarray           # basket size multiplier


def customers(cfg: ShopConfig, cal: Calendar, rng: np.random.Generator) -> Customers:
    n = cfg.customers
    shares = np.array([cfg.cause_shares[c] for c in CAUSES])
    is_loyal = rng.random(n) < cfg.loyal_share
    # exact shares among lapsing customers (rounded), in random order
    counts = np.floor(shares / shares.sum() * (~is_loyal).sum()).astype(int)
    counts[0] += (~is_loyal).sum() - counts.sum()
    segment = np.full(n, "loyal", dtype=object)
    segment[~is_loyal] = rng.permutation(np.repeat(np.asarray(CAUSES), counts))
    segment = segment.astype(str)
    acq_w = cal.weight * np.where(cal.sale, 2.5, 1.0)
    first_day = rng.choice(cfg.days - 1, size=n, p=acq_w[:-1] / acq_w[:-1].sum())
    rate = rng.gamma(2.5, 2.0, n) + 0.8
    repeat_n = 2 + rng.geometric(0.45, n)                              # 3.2 orders on average
    n_orders = np.select(
        [segment == "forgot", segment == "price", segment == "other",
         np.isin(segment, ["satisfaction", "choice"])],
        [np.where(rng.random(n) < 0.9, 1, 2),
         np.where(rng.random(n) < 0.55, 1, 1 + rng.integers(1, 4, n)),
         np.where(rng.random(n) < 0.5, 1, repeat_n),
         repeat_n],
        default=0)
    incident_at = np.maximum(n_orders - 1 - rng.integers(0, 2, n), 0)   # last or second-to-last
    price_sensitive = (segment == "price") | (rng.random(n) < 0.15)
    sale_affinity = np.where(segment == "price", 0.85, np.where(price_sensitive, 0.45, 0.12))
    fav_cat = rng.integers(0, len(CATEGORIES), (n, 2))
    basket = np.exp(rng.normal(0, 0.55, n))
    return Customers(segment, first_day, rate, n_orders, incident_at, price_sensitive,
                     sale_affinity, fav_cat, basket)
