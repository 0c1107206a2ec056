"""Engagement events before and after the last order: forgetters fall silent, choice churners
keep browsing, price churners keep opening e-mails and claiming coupons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.retail.config import ShopConfig
from synthetic.retail.customers import Customers

# monthly rates after the last order, per segment
POST_RATES = {
    "visit": {"forgot": 0.04, "satisfaction": 0.35, "choice": 2.2, "price": 0.7,
              "other": 0.4, "loyal": 3.0},
    "email_open": {"forgot": 0.05, "satisfaction": 0.4, "choice": 0.9, "price": 1.4,
                   "other": 0.4, "loyal": 2.0},
    "coupon_claim": {"forgot": 0.0, "satisfaction": 0.05, "choice": 0.05, "price": 0.45,
                     "other": 0.03, "loyal": 0.3},
}


def events(cfg: ShopConfig, rng: np.random.Generator, c: Customers, cust: np.ndarray,
           day: np.ndarray, at_incident: np.ndarray, customer_ids: np.ndarray) -> pd.DataFrame:
    n, m = len(c.segment), len(cust)
    last_day = pd.Series(day).groupby(cust).max().reindex(range(n)).to_numpy()
    first_o = pd.Series(day).groupby(cust).min().reindex(range(n)).to_numpy()
    frames = []
    loyal = c.segment == "loyal"
    # monthly rates while buying
    active = {"visit": np.where(loyal, 3.0, 1.5), "email_open": np.where(loyal, 2.0, 1.0),
              "coupon_claim": np.where(c.price_sensitive, 0.4, 0.05)}
    jitter = np.exp(rng.normal(0, 0.5, n))  # customers differ in how active they are
    for etype in ("visit", "email_open", "coupon_claim"):
        post = np.array([POST_RATES[etype][s] for s in c.segment])
        for lo, hi, r in ((first_o, last_day, active[etype]),
                          (last_day, np.minimum(last_day + 180, cfg.days - 1), post),
                          (np.minimum(last_day + 180, cfg.days - 1), np.full(n, cfg.days - 1),
                           post * 0.25)):
            span = np.maximum(hi - lo, 0)
            counts = rng.poisson(r * jitter * span / 30.0)
            owner = np.repeat(np.arange(n), counts)
            when = lo[owner] + rng.random(len(owner)) * span[owner]
            frames.append(pd.DataFrame({"c": owner, "d": when, "event_type": etype}))
    for f in frames[3:6]:  # a share of e-mail opens become clicks
        clicked = f[rng.random(len(f)) < 0.3]
        frames.append(clicked.assign(event_type="email_click", d=clicked.d + 0.01))
    fav_p = np.select([loyal, c.segment == "forgot"], [0.55, 0.03], 0.25)
    fav = np.where(rng.random(n) < fav_p)[0]
    frames.append(pd.DataFrame({"c": fav, "d": first_o[fav] + rng.random(len(fav)) * 20,
                                "event_type": "favorite"}))
    complain = np.where(at_incident & (rng.random(m) < 0.55) | (rng.random(m) < 0.012))[0]
    frames.append(pd.DataFrame({"c": cust[complain], "d": day[complain] + 4 + rng.random(
        len(complain)) * 10, "event_type": "complaint"}))
    ev = pd.concat(frames, ignore_index=True)
    ev = ev[ev.d <= day.max() + 0.9]
    out = pd.DataFrame({
        "customer_id": customer_ids[ev.c.to_numpy()],
        "event_ts": pd.Timestamp(cfg.start) + pd.to_timedelta(ev.d.to_numpy() * 86400, unit="s"),
        "event_type": ev.event_type.to_numpy(),
    }).sort_values("event_ts", kind="stable").reset_index(drop=True)
    out["event_ts"] = out["event_ts"].dt.floor("s")
    return out
