"""The product matrix, derived from sales: traffic, profit, edge, potential.

Rules (thresholds in params.yaml `products`), on the `window_days` of sales before as_of:
- potential: launched within `potential_launch_days` and sales rising (last half of the
  window since launch >= `potential_min_growth` x the first half), or too new to judge;
- traffic: top `traffic_volume_quantile` by units and a thin margin (below the median) or
  often in first orders (share of first-order lines above the median);
- profit: margin at or above the `profit_margin_quantile` and bought by repeat customers
  (repeat-buyer share at or above the median);
- edge: bottom `edge_volume_quantile` by units, rarely bought with other items (basket share
  below the median) or rarely re-bought;
- the rest by their strongest side: margin above the median -> profit, units above the
  median -> traffic, else edge.
Without unit costs, margin is unknown and profit falls back to repeat-buyer share.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from common.params import MatrixParams
from features.engine import completed_orders

CLASSES = ("traffic", "profit", "edge", "potential")
COLUMNS = ["product_id", "category", "product_class", "units", "revenue", "margin",
           "first_order_share", "repeat_buyer_share", "basket_share", "growth",
           "popularity_rank"]


def empty_matrix() -> pd.DataFrame:
    """The matrix of a shop without item data: no rows, the usual columns."""
    return pd.DataFrame({c: pd.Series(dtype="string" if c in (
        "product_id", "category", "product_class") else "float64") for c in COLUMNS})


def product_stats(items: ir.Table, orders: ir.Table, products: ir.Table | None,
                  as_of: date, p: MatrixParams) -> ir.Table:
    """Per product: units, revenue, margin, first-order share, repeat-buyer share, basket
    share and growth, from completed orders in the window before as_of."""
    o = completed_orders(orders, as_of)
    first = o.group_by("customer_id").aggregate(first_date=_.order_date.min(), n_orders=_.count())
    o = o.join(first, "customer_id")
    lines = items.join(o.select("order_id", "customer_id", "order_date", "first_date", "n_orders"),
                       "order_id")
    lines = lines.filter(lines.order_date > as_of - timedelta(days=p.window_days))
    per_order = lines.group_by("order_id").aggregate(lines_in_order=_.count())
    lines = lines.join(per_order, "order_id")
    half = as_of - timedelta(days=p.window_days // 2)
    stats = lines.group_by("product_id").aggregate(
        units=_.quantity.sum(),
        revenue=(_.quantity * _.unit_price).sum(),
        mean_price=_.unit_price.mean(),
        orders=_.order_id.nunique(),
        customers=_.customer_id.nunique(),
        first_order_share=(_.order_date == _.first_date).cast("float64").mean(),
        repeat_buyer_share=(_.n_orders >= 2).cast("float64").mean(),
        basket_share=(_.lines_in_order > 1).cast("float64").mean(),
        units_recent=ibis.ifelse(_.order_date > half, _.quantity, 0).sum(),
        first_sold=_.order_date.min(),
    )
    if products is not None:
        cols = [c for c in ("category", "unit_cost", "launch_date") if c in products.columns]
        stats = stats.left_join(products.select("product_id", *cols), "product_id")
        stats = stats.drop(*[c for c in stats.columns if c.endswith("_right")])
    return stats


def classify(stats: pd.DataFrame, as_of: date, p: MatrixParams) -> pd.DataFrame:
    """One class per product; vectorised rules, documented in the module docstring. Rows are
    put in product order first: an engine's aggregate comes back in any order, and popularity
    ties are broken by position."""
    s = stats.sort_values("product_id", kind="stable", ignore_index=True)
    units = s["units"].astype(float)
    if "unit_cost" in s and s["unit_cost"].notna().any():
        s["margin"] = 1 - s["unit_cost"] / s["mean_price"].replace(0, np.nan)
    else:
        s["margin"] = np.nan
    launched = pd.to_datetime(s["launch_date"]) if "launch_date" in s else pd.to_datetime(
        s["first_sold"])
    age = (pd.Timestamp(as_of) - launched).dt.days
    older = units - s["units_recent"]
    s["growth"] = s["units_recent"] / older.replace(0, np.nan)
    new = age.between(0, p.potential_launch_days)
    potential = new & ((s["growth"] >= p.potential_min_growth) | s["growth"].isna())
    has_margin = s["margin"].notna()
    margin_med = s["margin"].median()
    thin = ~has_margin | (s["margin"] < margin_med)
    traffic = (units >= units.quantile(p.traffic_volume_quantile)) & (
        thin | (s["first_order_share"] > s["first_order_share"].median()))
    repeaters = s["repeat_buyer_share"] >= s["repeat_buyer_share"].median()
    rich = (s["margin"] >= s["margin"].quantile(p.profit_margin_quantile)) if has_margin.any() \
        else repeaters
    profit = rich & repeaters
    edge = (units <= units.quantile(p.edge_volume_quantile)) & (
        (s["basket_share"] < s["basket_share"].median())
        | (s["repeat_buyer_share"] < s["repeat_buyer_share"].median()))
    fallback = np.where(has_margin & (s["margin"] >= margin_med), "profit",
                        np.where(units >= units.median(), "traffic", "edge"))
    s["product_class"] = np.select([potential, traffic, profit, edge],
                                   ["potential", "traffic", "profit", "edge"], default=fallback)
    s["popularity_rank"] = units.rank(ascending=False, method="first").astype(int)
    return s.sort_values("popularity_rank").reset_index(drop=True).reindex(columns=COLUMNS)
