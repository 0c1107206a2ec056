"""Purchases: order days per customer, the items in each order, orders, returns and reviews.
Choice churners' gaps stretch; satisfaction churners have an incident (return, bad rating) and
smaller baskets after it; price-sensitive customers wait for sales and pick cheap products."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.retail.calendar import Calendar
from synthetic.retail.config import CATEGORIES, ShopConfig
from synthetic.retail.customers import Customers


def order_days(cfg: ShopConfig, cal: Calendar, rng: np.random.Generator, c: Customers):
    """(customer index, day index, order number) of every order."""
    cust, day, order_no = [], [], []
    for i in range(len(c.segment)):
        d = int(c.first_day[i])
        k = 0
        mean_gap = 365.0 / c.rate[i]
        while d < cfg.days and (c.segment[i] == "loyal" or k < c.n_orders[i]):
            target = d
            if k > 0 and rng.random() < c.sale_affinity[i]:
                ns = cal.next_sale[min(d, cfg.days - 1)]
                if 0 <= ns - d < 75:
                    target = ns + int(rng.integers(0, 7))
            if target >= cfg.days:
                break
            cust.append(i)
            day.append(target)
            order_no.append(k)
            k += 1
            gap = rng.gamma(2.0, mean_gap / 2.0)
            if c.segment[i] == "loyal":
                gap = min(gap, 240.0)
            elif c.segment[i] == "choice":
                gap *= 1.35 ** k
            elif c.segment[i] == "satisfaction" and k > c.incident_at[i]:
                gap *= 1.8
            d = target + max(1, int(gap))
    return np.asarray(cust), np.asarray(day), np.asarray(order_no)


def _pick_products(cfg: ShopConfig, rng: np.random.Generator, products: pd.DataFrame,
                   cat: np.ndarray, iday: np.ndarray, wants_new: np.ndarray,
                   wants_cheap: np.ndarray) -> np.ndarray:
    """A launched product per line in the wanted category: new ones for explorers, cheap and
    popular ones for the price-sensitive."""
    launch_day = products["_launch_day"].to_numpy()
    pop = products["_pop"].to_numpy()
    pcat = products["_cat"].to_numpy()
    product_idx = np.empty(len(cat), dtype=int)
    cheapness = 1.0 / products["list_price"].to_numpy()
    for k in range(len(CATEGORIES)):
        in_cat = np.where(pcat == k)[0]
        sel = np.where(cat == k)[0]
        if len(sel) == 0:
            continue
        # draw in chunks by (day bucket) so only launched products are bought
        for lo in range(0, cfg.days, 30):
            s = sel[(iday[sel] >= lo) & (iday[sel] < lo + 30)]
            if len(s) == 0:
                continue
            avail = in_cat[launch_day[in_cat] <= lo]
            if len(avail) == 0:
                avail = in_cat[np.argsort(launch_day[in_cat])[:3]]
            newish = avail[launch_day[avail] > lo - 120]
            for mask, pool in ((wants_new[s] & (len(newish) > 0), newish),
                               (~(wants_new[s] & (len(newish) > 0)), avail)):
                idx = s[mask]
                if len(idx) == 0 or len(pool) == 0:
                    continue
                for cheap in (True, False):
                    sub = idx[wants_cheap[idx] == cheap]
                    if len(sub) == 0:
                        continue
                    w = pop[pool] * (cheapness[pool] ** 1.5 if cheap else 1.0)
                    product_idx[sub] = rng.choice(pool, size=len(sub), p=w / w.sum())
    return product_idx


def order_items(cfg: ShopConfig, cal: Calendar, rng: np.random.Generator, c: Customers,
                products: pd.DataFrame, cust: np.ndarray, day: np.ndarray,
                after_incident: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order lines, and per order: amount, discount and quantity."""
    m = len(cust)
    n_items = 1 + rng.poisson(0.7 * c.basket[cust] * np.where(after_incident, 0.4, 1.0))
    item_order = np.repeat(np.arange(m), n_items)
    ic = cust[item_order]
    iday = day[item_order]
    seg_i = c.segment[ic]
    explore = np.where(seg_i == "choice", 0.85, np.where(seg_i == "loyal", 0.2, 0.35))
    wander = rng.random(len(ic)) < explore
    cat = np.where(wander, rng.integers(0, len(CATEGORIES), len(ic)),
                   c.fav_cat[ic, rng.integers(0, 2, len(ic))])
    wants_new = rng.random(len(ic)) < np.where(seg_i == "choice", 0.6, 0.12)
    product_idx = _pick_products(cfg, rng, products, cat, iday, wants_new,
                                 c.price_sensitive[ic])
    # one line per product and order: a repeated pick becomes quantity on the first line
    first_pick = ~pd.DataFrame({"o": item_order, "p": product_idx}).duplicated().to_numpy()
    item_order, ic, iday, product_idx = (a[first_pick] for a in (item_order, ic, iday,
                                                                  product_idx))
    list_price = products["list_price"].to_numpy()[product_idx]
    coupon = (rng.random(len(ic)) < np.where(c.price_sensitive[ic], 0.35, 0.07)) * 0.10
    depth = np.maximum(cal.sale_depth[iday] * (rng.random(len(ic)) < 0.85), coupon)
    unit_price = np.round(list_price * (1 - depth), 2)
    qty = 1 + rng.poisson(0.15, len(ic))
    items = pd.DataFrame({
        "order_id": [f"O{i:07d}" for i in item_order],
        "product_id": products["product_id"].to_numpy()[product_idx],
        "quantity": qty,
        "unit_price": unit_price,
        "discount": np.round(list_price * depth * qty, 2),
    })
    per_order = items.assign(line=items.quantity * items.unit_price).groupby(
        item_order).agg(amount=("line", "sum"), discount=("discount", "sum"),
                        qty=("quantity", "sum"))
    return items, per_order


def orders_returns_reviews(cal: Calendar, rng: np.random.Generator, cust: np.ndarray,
                           day: np.ndarray, at_incident: np.ndarray, per_order: pd.DataFrame,
                           customer_ids: np.ndarray):
    """Orders (with their time of day), returns and reviews; the incident order is often
    returned and badly rated."""
    m = len(cust)
    ts = cal.days[day] + pd.to_timedelta(rng.integers(7 * 3600, 23 * 3600, m), unit="s")
    returned = rng.random(m) < np.where(at_incident, 0.6, 0.04)
    full_return = returned & (rng.random(m) < 0.5)
    orders = pd.DataFrame({
        "order_id": [f"O{i:07d}" for i in range(m)],
        "customer_id": customer_ids[cust],
        "order_ts": ts,
        "amount": np.round(per_order["amount"].to_numpy(), 2),
        "quantity": per_order["qty"].to_numpy(),
        "discount": np.round(per_order["discount"].to_numpy(), 2),
        "status": np.where(full_return, "returned", "completed"),
        "channel": rng.choice(["web", "app", "marketplace"], m, p=[0.5, 0.35, 0.15]),
    })
    ret_idx = np.where(returned)[0]
    returns = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy()[ret_idx],
        "return_ts": ts[ret_idx] + pd.to_timedelta(rng.integers(3, 25, len(ret_idx)), unit="D"),
        "amount": np.round(orders["amount"].to_numpy()[ret_idx]
                           * np.where(full_return[ret_idx], 1.0, rng.uniform(0.2, 0.7,
                                                                             len(ret_idx))), 2),
        "reason": rng.choice(["quality", "size", "not as described", "changed mind"],
                             len(ret_idx), p=[0.35, 0.3, 0.2, 0.15]),
    })
    reviewed = rng.random(m) < np.where(at_incident, 0.75, 0.3)
    normal_rating = rng.choice([1, 2, 3, 4, 5], m, p=[0.03, 0.04, 0.11, 0.32, 0.50])
    bad_rating = rng.choice([1, 2, 3], m, p=[0.5, 0.35, 0.15])
    rating = np.where(at_incident, bad_rating, normal_rating)
    rv = np.where(reviewed)[0]
    reviews = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy()[rv],
        "review_ts": ts[rv] + pd.to_timedelta(rng.integers(2, 20, len(rv)), unit="D"),
        "rating": rating[rv],
        "order_id": orders["order_id"].to_numpy()[rv],
    })
    return orders, returns, reviews
