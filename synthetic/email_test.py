"""A classic randomised three-arm e-mail test, written apart from shops/campaigns.py.

Modelled on the shape of the best-known public one (a catalogue retailer's 64,000-customer
test: a men's e-mail, a women's e-mail, no e-mail, one third each, response over the following
weeks): a shop with orders only (no items, no events), one campaign day, two actions and a
shared control group (control rows with an empty action). Each customer has a hidden taste
(men's, women's or both lines) that no table shows, so orders-only features cannot personalise
by it; the women's e-mail helps more customers, so it is the best single action. That is the
situation a learned policy must survive: at least the best single action, within noise.

Nothing here knows the pipeline's causes or rules; the effects are in `LIFT` and the truth file
records each customer's taste and arm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ACTIONS = ("mens_email", "womens_email")
TASTES = ("mens", "womens", "both")
#: planted lift of the response chance, (taste, action) -> difference
LIFT: Mapping[tuple[str, str], float] = {
    ("mens", "mens_email"): 0.05, ("mens", "womens_email"): 0.005,
    ("womens", "mens_email"): 0.0, ("womens", "womens_email"): 0.05,
    ("both", "mens_email"): 0.03, ("both", "womens_email"): 0.04,
}


@dataclass(frozen=True)
class EmailTestConfig:
    customers: int = 20_000
    seed: int = 0
    first_day: str = "2022-01-01"
    test_day: str = "2023-06-01"
    response_days: int = 30
    days_after: int = 90                 # orders keep coming after the window
    taste_shares: tuple[float, float, float] = (0.35, 0.45, 0.20)
    lift: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(LIFT))


def email_test(cfg: EmailTestConfig = EmailTestConfig()
               ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """({'orders', 'contacts'}, truth: customer_id, taste, arm, responded)."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.customers
    start, test = pd.Timestamp(cfg.first_day), pd.Timestamp(cfg.test_day)
    span = (test - start).days
    ids = np.array([f"E{i:06d}" for i in range(n)], dtype=object)
    taste = np.asarray(TASTES)[rng.choice(3, n, p=cfg.taste_shares)]
    spend = rng.lognormal(np.log(60), 0.5, n)           # a customer's typical order
    rate = rng.gamma(1.2, 1 / 150, n)                   # orders per day while active

    # history: a first order somewhere in the span, then a Poisson stream until test day
    first = rng.uniform(0, span - 1, n)
    counts = 1 + rng.poisson(rate * (span - first))
    owner = np.repeat(np.arange(n), counts)
    offset = np.where(np.r_[True, owner[1:] != owner[:-1]], 0.0,
                      rng.uniform(0, 1, len(owner)))
    day = first[owner] + offset * (span - first[owner])
    hist_ts = start + pd.to_timedelta(day * 86400, unit="s")

    # the campaign: one third per arm, control rows without an action
    arm = np.asarray(["", *ACTIONS], dtype=object)[rng.integers(0, 3, n)]
    recency = span - pd.Series(day).groupby(owner).max().to_numpy()
    base = 0.02 + 0.10 * np.exp(-recency / 120) + 0.01 * np.minimum(counts - 1, 5)
    lift = np.array([cfg.lift.get((t, a), 0.0) if a else 0.0 for t, a in
                     zip(taste, arm, strict=True)])
    responded = rng.random(n) < np.clip(base + lift, 0, 1)
    resp_ts = test + pd.to_timedelta(
        rng.uniform(0.5, cfg.response_days - 0.5, n) * 86400, unit="s")

    # after the window: the stream goes on (nobody's later orders depend on the e-mail)
    later = rng.poisson(rate * cfg.days_after * 0.5)
    later_owner = np.repeat(np.arange(n), later)
    later_ts = test + pd.to_timedelta(
        rng.uniform(cfg.response_days + 1, cfg.response_days + cfg.days_after,
                    len(later_owner)) * 86400, unit="s")

    who = np.concatenate([owner, np.where(responded)[0], later_owner])
    ts = pd.DatetimeIndex(np.concatenate([hist_ts.to_numpy(), resp_ts[responded].to_numpy(),
                                          later_ts.to_numpy()])).floor("s")
    orders = pd.DataFrame({"customer_id": ids[who], "order_ts": ts,
                           "amount": np.round(spend[who] * rng.lognormal(0, 0.3, len(who)), 2),
                           "status": "completed"}).sort_values("order_ts", kind="stable")
    orders.insert(0, "order_id", [f"O{i:08d}" for i in range(len(orders))])
    contacts = pd.DataFrame({
        "customer_id": ids, "contact_ts": test + pd.Timedelta(hours=10),
        "action": arm, "group": np.where(arm == "", "control", "treatment"),
        "campaign_id": "spring_email", "channel": "email", "cost": np.where(arm == "", 0, 0.1)})
    truth = pd.DataFrame({"customer_id": ids, "taste": taste, "arm": arm,
                          "responded": responded.astype(int)})
    return {"orders": orders.reset_index(drop=True), "contacts": contacts}, truth
