"""The default synthetic shop: a retail shop with a promotion calendar, seasonality, a
heavy-tailed catalogue and most customers buying once. Each lapsing customer gets one cause
(forgot, satisfaction, choice, price, other) that shapes behaviour *probabilistically*: every
signal also occurs in other customers, so a cause is inferred from behaviour, not read off a
flag. The truth goes to `_truth.parquet`, which no pipeline stage reads.

Modules: config (ShopConfig), calendar (sales, seasonality, catalogue), customers (segments and
traits), orders (order days, items, orders, returns, reviews), engagement (events), truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthetic.io import write_tables
from synthetic.retail.calendar import calendar, catalogue
from synthetic.retail.config import ShopConfig
from synthetic.retail.customers import customers
from synthetic.retail.engagement import events
from synthetic.retail.orders import order_days, order_items, orders_returns_reviews
from synthetic.retail.truth import truth

__all__ = ["ShopConfig", "generate", "write_shop"]


def generate(cfg: ShopConfig = ShopConfig()) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """All six contract tables and the truth table (customer_id, segment, cause, lapse date)."""
    rng = np.random.default_rng(cfg.seed)
    cal = calendar(cfg, rng)
    products = catalogue(cfg, rng)
    c = customers(cfg, cal, rng)
    cust, day, order_no = order_days(cfg, cal, rng, c)
    seg_o = c.segment[cust]
    after_incident = (seg_o == "satisfaction") & (order_no > c.incident_at[cust])
    at_incident = (seg_o == "satisfaction") & (order_no == c.incident_at[cust])
    items, per_order = order_items(cfg, cal, rng, c, products, cust, day, after_incident)
    customer_ids = np.asarray([f"{i:06d}" for i in range(cfg.customers)])
    orders, returns, reviews = orders_returns_reviews(cal, rng, cust, day, at_incident,
                                                      per_order, customer_ids)
    ev = events(cfg, rng, c, cust, day, at_incident, customer_ids)
    last_ts = orders["order_ts"].max()
    tables = {
        "orders": orders.sort_values("order_ts", kind="stable").reset_index(drop=True),
        "order_items": items,
        "products": products[["product_id", "category", "list_price", "unit_cost",
                              "launch_date"]],
        "returns": returns[returns.return_ts <= last_ts].reset_index(drop=True),
        "reviews": reviews[reviews.review_ts <= last_ts].reset_index(drop=True),
        "events": ev,
    }
    return tables, truth(cal, c.segment, cust, day, customer_ids)


def write_shop(out_dir: str | Path, cfg: ShopConfig = ShopConfig(),
               campaigns: bool = True) -> dict[str, int]:
    """Write the shop as Parquet files in the data contract, plus the truth file beside them.
    With `campaigns`, past contact batches with random holdouts and planted effects
    (shops/campaigns.py) add a `contacts` table and the orders they caused."""
    tables, truth = generate(cfg)
    if campaigns:
        from synthetic.campaigns import HistoryConfig, campaign_history

        history = HistoryConfig(targets_per_batch=max(100, cfg.customers // 10), seed=cfg.seed)
        contacts, orders = campaign_history(tables, truth, history)
        # the history's discount is what the rules call a promotion invite
        contacts["action"] = contacts["action"].replace({"discount": "promotion_invite"})
        tables = {**tables, "orders": orders,
                  "contacts": contacts.drop(columns=["cause"])}
    return write_tables(out_dir, tables, truth)
