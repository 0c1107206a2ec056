"""The shop's calendar (seasonality, yearly and flash sales) and its catalogue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.retail.config import CATEGORIES, ShopConfig


@dataclass
class Calendar:
    days: pd.DatetimeIndex
    sale: np.ndarray          # bool per day
    sale_depth: np.ndarray    # discount share on sale days
    weight: np.ndarray        # seasonality of shopping per day
    next_sale: np.ndarray     # index of the next sale day (or -1)


def calendar(cfg: ShopConfig, rng: np.random.Generator) -> Calendar:
    days = pd.date_range(cfg.start, periods=cfg.days, freq="D")
    sale = np.zeros(len(days), bool)
    depth = np.zeros(len(days))
    for year in sorted(set(days.year)):
        # fixed yearly events plus a few flash sales
        starts = [f"{year}-01-08", f"{year}-03-15", f"{year}-06-12", f"{year}-11-05",
                  f"{year}-11-24"]
        flash = rng.choice(np.arange(1, 13), size=3, replace=False)
        starts += [f"{year}-{m:02d}-{rng.integers(1, 21):02d}" for m in flash]
        for s in starts:
            lo = days.searchsorted(pd.Timestamp(s))
            hi = min(lo + 7, len(days))
            sale[lo:hi] = True
            depth[lo:hi] = rng.uniform(0.15, 0.40)
    month = days.month.to_numpy()
    weight = 1.0 + 0.25 * np.isin(month, [11, 12]) - 0.15 * np.isin(month, [2, 8])
    weight = weight * (1 + 0.35 * np.arange(len(days)) / len(days))  # a growing shop
    idx = np.where(sale)[0]
    pos = np.searchsorted(idx, np.arange(len(days)))
    next_sale = np.where(pos < len(idx), idx[np.minimum(pos, len(idx) - 1)], -1)
    return Calendar(days, sale, depth, weight, next_sale)


def catalogue(cfg: ShopConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Products with category, price, cost and launch day; `_`-columns drive the simulation."""
    n = cfg.products
    category = rng.integers(0, len(CATEGORIES), n)
    price_level = np.exp(rng.normal(3.4, 0.5, len(CATEGORIES)))
    popularity = rng.pareto(1.2, n) + 0.05
    # popular products are cheaper with thinner margins (traffic); rare ones dearer
    pop_rank = popularity.argsort().argsort() / n
    list_price = np.round(price_level[category] * np.exp(rng.normal(0, 0.45, n))
                          * (1.25 - 0.5 * pop_rank), 2)
    margin = np.clip(rng.normal(0.55 - 0.25 * pop_rank, 0.08), 0.08, 0.8)
    launched_before = rng.random(n) < 0.7
    offset = np.where(launched_before, -rng.integers(30, 700, n), rng.integers(0, cfg.days, n))
    launch = pd.Timestamp(cfg.start) + pd.to_timedelta(offset, unit="D")
    return pd.DataFrame({
        "product_id": [f"P{i:04d}" for i in range(n)],
        "category": np.asarray(CATEGORIES)[category],
        "list_price": list_price,
        "unit_cost": np.round(list_price * (1 - margin), 2),
        "launch_date": launch,
        "_cat": category,
        "_pop": popularity,
        "_launch_day": offset,
    })
