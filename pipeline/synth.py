"""A seeded synthetic shop in the data contract, with the truth about why each customer lapses.

Realistic on purpose: seasonality, a promotion calendar, a heavy-tailed catalogue, most customers
buying once. Each lapsing customer gets one cause (forgot, satisfaction, choice, price, other);
the cause shapes behaviour *probabilistically*, and every signal also occurs in other customers,
so a cause has to be inferred from behaviour, not read off a flag. The truth goes to a separate
file (`_truth.parquet`) that no pipeline stage reads; only evaluation may.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import write_parquet

CAUSES = ("forgot", "satisfaction", "choice", "price", "other")
TRUTH_FILE = "_truth.parquet"
CATEGORIES = ("bags", "shoes", "accessories", "outerwear", "tops", "bottoms", "beauty", "home",
              "sports", "kids")


@dataclass(frozen=True)
class ShopConfig:
    customers: int = 20_000
    seed: int = 42
    start: str = "2023-01-01"
    days: int = 3 * 365
    products: int = 300
    loyal_share: float = 0.22
    cause_shares: dict[str, float] = field(default_factory=lambda: {
        "forgot": 0.50, "satisfaction": 0.10, "choice": 0.15, "price": 0.20, "other": 0.05})


@dataclass
class _Calendar:
    days: pd.DatetimeIndex
    sale: np.ndarray          # bool per day
    sale_depth: np.ndarray    # discount share on sale days
    weight: np.ndarray        # seasonality of shopping per day
    next_sale: np.ndarray     # index of the next sale day (or -1)


def _calendar(cfg: ShopConfig, rng: np.random.Generator) -> _Calendar:
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
    return _Calendar(days, sale, depth, weight, next_sale)


def _catalogue(cfg: ShopConfig, cal: _Calendar, rng: np.random.Generator) -> pd.DataFrame:
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


def _order_days(cfg: ShopConfig, cal: _Calendar, rng: np.random.Generator, segment: np.ndarray,
                first_day: np.ndarray, rate: np.ndarray, n_orders: np.ndarray,
                sale_affinity: np.ndarray, incident_at: np.ndarray):
    """Purchase days per customer. Gaps stretch for choice churners and after an incident."""
    cust, day, order_no = [], [], []
    for c in range(len(segment)):
        d = int(first_day[c])
        k = 0
        mean_gap = 365.0 / rate[c]
        while d < cfg.days and (segment[c] == "loyal" or k < n_orders[c]):
            target = d
            if k > 0 and rng.random() < sale_affinity[c]:
                ns = cal.next_sale[min(d, cfg.days - 1)]
                if 0 <= ns - d < 75:
                    target = ns + int(rng.integers(0, 7))
            if target >= cfg.days:
                break
            cust.append(c)
            day.append(target)
            order_no.append(k)
            k += 1
            gap = rng.gamma(2.0, mean_gap / 2.0)
            if segment[c] == "loyal":
                gap = min(gap, 240.0)
            elif segment[c] == "choice":
                gap *= 1.35 ** k
            elif segment[c] == "satisfaction" and k > incident_at[c]:
                gap *= 1.8
            d = target + max(1, int(gap))
    return np.asarray(cust), np.asarray(day), np.asarray(order_no)


def generate(cfg: ShopConfig = ShopConfig()) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """All six contract tables and the truth table (customer_id, segment, cause, lapse date)."""
    rng = np.random.default_rng(cfg.seed)
    cal = _calendar(cfg, rng)
    products = _catalogue(cfg, cal, rng)
    n = cfg.customers

    # --- customers: segment, cause, traits --------------------------------------------------
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
    rate = rng.gamma(2.5, 2.0, n) + 0.8                              # orders a year when active
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

    cust, day, order_no = _order_days(cfg, cal, rng, segment, first_day, rate, n_orders,
                                      sale_affinity, incident_at)
    m = len(cust)
    seg_o = segment[cust]
    after_incident = (seg_o == "satisfaction") & (order_no > incident_at[cust])
    at_incident = (seg_o == "satisfaction") & (order_no == incident_at[cust])

    # --- order items --------------------------------------------------------------------------
    n_items = 1 + rng.poisson(0.7 * basket[cust] * np.where(after_incident, 0.4, 1.0))
    item_order = np.repeat(np.arange(m), n_items)
    ic = cust[item_order]
    iday = day[item_order]
    seg_i = segment[ic]
    explore = np.where(seg_i == "choice", 0.85, np.where(seg_i == "loyal", 0.2, 0.35))
    wander = rng.random(len(ic)) < explore
    cat = np.where(wander, rng.integers(0, len(CATEGORIES), len(ic)),
                   fav_cat[ic, rng.integers(0, 2, len(ic))])
    launch_day = products["_launch_day"].to_numpy()
    pop = products["_pop"].to_numpy()
    pcat = products["_cat"].to_numpy()
    wants_new = rng.random(len(ic)) < np.where(seg_i == "choice", 0.6, 0.12)
    wants_cheap = price_sensitive[ic]
    product_idx = np.empty(len(ic), dtype=int)
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
    # one line per product and order: a repeated pick becomes quantity on the first line
    first_pick = ~pd.DataFrame({"o": item_order, "p": product_idx}).duplicated().to_numpy()
    item_order, ic, iday, product_idx = (a[first_pick] for a in (item_order, ic, iday,
                                                                  product_idx))
    list_price = products["list_price"].to_numpy()[product_idx]
    coupon = (rng.random(len(ic)) < np.where(price_sensitive[ic], 0.35, 0.07)) * 0.10
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

    # --- orders, returns, reviews -------------------------------------------------------------
    ts = cal.days[day] + pd.to_timedelta(rng.integers(7 * 3600, 23 * 3600, m), unit="s")
    customer_ids = np.asarray([f"{i:06d}" for i in range(n)])
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

    # --- events: engagement before and after the last order -----------------------------------
    last_day = pd.Series(day).groupby(cust).max().reindex(range(n)).to_numpy()
    first_o = pd.Series(day).groupby(cust).min().reindex(range(n)).to_numpy()
    ev_frames = []
    loyal = segment == "loyal"
    # monthly rates: (visit, email_open, coupon_claim) while buying, and after the last order
    active = {"visit": np.where(loyal, 3.0, 1.5), "email_open": np.where(loyal, 2.0, 1.0),
              "coupon_claim": np.where(price_sensitive, 0.4, 0.05)}
    post_rates = {  # forgot: silence; choice: keeps browsing; price: waits for deals
        "visit": {"forgot": 0.04, "satisfaction": 0.35, "choice": 2.2, "price": 0.7,
                  "other": 0.4, "loyal": 3.0},
        "email_open": {"forgot": 0.05, "satisfaction": 0.4, "choice": 0.9, "price": 1.4,
                       "other": 0.4, "loyal": 2.0},
        "coupon_claim": {"forgot": 0.0, "satisfaction": 0.05, "choice": 0.05, "price": 0.45,
                         "other": 0.03, "loyal": 0.3},
    }
    jitter = np.exp(rng.normal(0, 0.5, n))  # customers differ in how active they are
    for etype in ("visit", "email_open", "coupon_claim"):
        post = np.array([post_rates[etype][s] for s in segment])
        for lo, hi, r in ((first_o, last_day, active[etype]),
                          (last_day, np.minimum(last_day + 180, cfg.days - 1), post),
                          (np.minimum(last_day + 180, cfg.days - 1), np.full(n, cfg.days - 1),
                           post * 0.25)):
            span = np.maximum(hi - lo, 0)
            counts = rng.poisson(r * jitter * span / 30.0)
            owner = np.repeat(np.arange(n), counts)
            when = lo[owner] + rng.random(len(owner)) * span[owner]
            ev_frames.append(pd.DataFrame({"c": owner, "d": when, "event_type": etype}))
    opens = ev_frames[3:6]
    for f in opens:  # a share of opens become clicks
        clicked = f[rng.random(len(f)) < 0.3]
        ev_frames.append(clicked.assign(event_type="email_click", d=clicked.d + 0.01))
    fav_p = np.select([loyal, segment == "forgot"], [0.55, 0.03], 0.25)
    fav = np.where(rng.random(n) < fav_p)[0]
    ev_frames.append(pd.DataFrame({"c": fav, "d": first_o[fav] + rng.random(len(fav)) * 20,
                                   "event_type": "favorite"}))
    complain = np.where(at_incident & (rng.random(m) < 0.55) | (rng.random(m) < 0.012))[0]
    ev_frames.append(pd.DataFrame({"c": cust[complain], "d": day[complain] + 4 + rng.random(
        len(complain)) * 10, "event_type": "complaint"}))
    ev = pd.concat(ev_frames, ignore_index=True)
    ev = ev[ev.d <= day.max() + 0.9]
    events = pd.DataFrame({
        "customer_id": customer_ids[ev.c.to_numpy()],
        "event_ts": pd.Timestamp(cfg.start) + pd.to_timedelta(ev.d.to_numpy() * 86400, unit="s"),
        "event_type": ev.event_type.to_numpy(),
    }).sort_values("event_ts", kind="stable").reset_index(drop=True)
    events["event_ts"] = events["event_ts"].dt.floor("s")
    last_ts = orders["order_ts"].max()
    returns = returns[returns.return_ts <= last_ts]
    reviews = reviews[reviews.review_ts <= last_ts]

    bought = ~np.isnan(last_day)
    truth = pd.DataFrame({
        "customer_id": customer_ids,
        "segment": np.where(loyal, "loyal", "churner"),
        "cause": np.where(loyal, None, segment).astype(object),
        "last_order_ts": pd.Series(cal.days[np.nan_to_num(last_day).astype(int)]).where(bought),
    })[bought].reset_index(drop=True)
    catalogue = products[["product_id", "category", "list_price", "unit_cost", "launch_date"]]
    orders = orders.sort_values("order_ts", kind="stable").reset_index(drop=True)
    tables = {"orders": orders, "order_items": items, "products": catalogue,
              "returns": returns.reset_index(drop=True), "reviews": reviews.reset_index(drop=True),
              "events": events}
    return tables, truth


def write_shop(out_dir: str | Path, cfg: ShopConfig = ShopConfig()) -> dict[str, int]:
    """Write the shop as Parquet files in the data contract, plus the truth file beside them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables, truth = generate(cfg)
    for name, frame in tables.items():
        write_parquet(frame, out / f"{name}.parquet")
    write_parquet(truth, out / TRUTH_FILE)
    return {name: len(frame) for name, frame in tables.items()}


def main(argv: list[str] | None = None) -> None:
    """DVC stage `synth`: the default shop, used when data.input points at it."""
    import argparse

    from pipeline.params import get, load_params

    parser = argparse.ArgumentParser(description="Write the default synthetic shop.")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/synthetic")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    cfg = ShopConfig(customers=int(get(params, "synth.customers", 20_000)),
                     seed=int(get(params, "base.seed", 42)))
    write_shop(args.out, cfg)


if __name__ == "__main__":
    from pipeline.cli import run_stage

    run_stage(main)
