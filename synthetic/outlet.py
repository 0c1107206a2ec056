"""Outlet: a synthetic off-price shop built from per-cause order-generating processes.

Each customer is drawn from a mixture: a segment (loyal or one of the five causes) picks the
renewal process that generates their orders, i.e. the distribution of the gaps between orders,
how many orders there are and how long the customer stays. On top of the renewal times runs a
promotion calendar: a customer with sale affinity moves a purchase to the next sale window.

- forgot: one order (rarely two), then nothing.
- satisfaction: a handful of orders whose baskets shrink while returns ("defective",
  "not as pictured") become likely; ratings only rarely.
- choice: gaps that grow geometrically (orders thin out), many categories and new drops.
- price: acquired in a sale, buys again only in sale windows at deep item discounts; often once.
- other: log-normal gaps, no signal.
- loyal: an unending renewal process with bounded gaps; some are sale hunters, some return a
  lot, some explore, some buy ever smaller baskets, so every signal also occurs among them.

No coupons: discounts are item-level (sale depth, permanent outlet markdowns). The default
tables are orders, order_items, products and returns; reviews and events are optional.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from synthetic.io import CAUSES, write_tables

FORGOT, SATISFACTION, CHOICE, PRICE, OTHER, LOYAL = range(6)
OPTIONAL = ("order_items", "products", "returns", "reviews", "events")
CATEGORIES = ("apparel", "footwear", "outdoor", "sportswear", "home", "kitchen", "toys",
              "electronics")
RETURN_REASONS = ("defective", "not as pictured", "wrong size", "cheaper elsewhere",
                  "no longer needed")
MONTH_SEASON = np.array([0, 1.1, 0.8, 0.95, 1.0, 1.0, 0.95, 1.1, 0.85, 1.0, 1.0, 1.25, 1.35])
# (month, day, length, shallowest, deepest): the outlet's yearly sale events
SALES = ((1, 2, 10, 0.35, 0.55), (3, 20, 6, 0.25, 0.4), (5, 25, 5, 0.25, 0.4),
         (7, 1, 10, 0.35, 0.55), (9, 10, 5, 0.25, 0.4), (11, 22, 6, 0.3, 0.5),
         (12, 26, 6, 0.35, 0.55))


@dataclass(frozen=True)
class Config:
    customers: int = 20_000
    seed: int = 42
    start: str = "2022-07-01"
    days: int = 3 * 365
    cause_shares: dict[str, float] = field(default_factory=lambda: {
        "forgot": 0.50, "satisfaction": 0.10, "choice": 0.15, "price": 0.20, "other": 0.05})
    tables: tuple[str, ...] = ("order_items", "products", "returns")
    loyal_share: float = 0.22
    products: int = 400
    flash_sales_per_year: int = 2


def _check(cfg: Config) -> None:
    unknown = set(cfg.tables) - set(OPTIONAL)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}; choose from {OPTIONAL}")
    if set(cfg.cause_shares) != set(CAUSES) or sum(cfg.cause_shares.values()) <= 0:
        raise ValueError(f"cause_shares needs positive shares for {CAUSES}")
    if cfg.customers < 1 or cfg.days < 60 or not 0 <= cfg.loyal_share < 1:
        raise ValueError("customers >= 1, days >= 60 and 0 <= loyal_share < 1")


def promotion_calendar(cfg: Config) -> pd.DataFrame:
    """The sale windows (start, end exclusive, depth) inside the data's range; seeded, so
    evaluation can recompute it. Drawn from its own stream: the shop's draws don't move it."""
    rng = np.random.default_rng([cfg.seed, 2])
    start = pd.Timestamp(cfg.start)
    end = start + pd.Timedelta(days=cfg.days)
    rows = []
    for year in range(start.year - 1, end.year + 1):
        for month, day, length, lo, hi in SALES:
            s = pd.Timestamp(year, month, day) + pd.Timedelta(days=int(rng.integers(-3, 4)))
            rows.append((s, s + pd.Timedelta(days=length), rng.uniform(lo, hi)))
        for _ in range(cfg.flash_sales_per_year):
            s = pd.Timestamp(year, 1, 1) + pd.Timedelta(days=int(rng.integers(0, 362)))
            rows.append((s, s + pd.Timedelta(days=3), rng.uniform(0.4, 0.6)))
    cal = pd.DataFrame(rows, columns=["start", "end", "depth"]).sort_values("start")
    # overlapping windows merge into the earlier one (keeping the deeper discount)
    keep, last_end = [], pd.Timestamp.min
    for row in cal.itertuples(index=False):
        if row.start < last_end:
            keep[-1] = (keep[-1][0], max(keep[-1][1], row.end), max(keep[-1][2], row.depth))
        else:
            keep.append((row.start, row.end, row.depth))
        last_end = keep[-1][1]
    cal = pd.DataFrame(keep, columns=["start", "end", "depth"])
    cal = cal[(cal.end > start) & (cal.start < end)].reset_index(drop=True)
    cal["depth"] = cal["depth"].round(2)
    return cal


def _day_arrays(cfg: Config, cal: pd.DataFrame) -> SimpleNamespace:
    start = pd.Timestamp(cfg.start)
    sale_id = np.full(cfg.days, -1)
    lo = np.clip((cal.start - start).dt.days.to_numpy(), 0, cfg.days)
    hi = np.clip((cal.end - start).dt.days.to_numpy(), 0, cfg.days)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        sale_id[a:b] = i
    starts = np.flatnonzero((np.diff(np.r_[-1, sale_id]) != 0) & (sale_id >= 0))
    pos = np.searchsorted(starts, np.arange(cfg.days))
    next_start = np.where(pos < len(starts), starts[np.minimum(pos, len(starts) - 1)], -1)
    length = np.maximum(hi - lo, 1)
    return SimpleNamespace(sale_id=sale_id, on_sale=sale_id >= 0,
                           depth=np.where(sale_id >= 0, cal.depth.to_numpy()[sale_id], 0.0),
                           next_start=next_start, length=length)


def _segments(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    n = cfg.customers
    shares = np.array([cfg.cause_shares[c] for c in CAUSES], float)
    n_loyal = int(round(cfg.loyal_share * n))
    n_churn = n - n_loyal
    # largest-remainder rounding: exact shares among churners
    raw = shares / shares.sum() * n_churn
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw, kind="stable")[: n_churn - counts.sum()]] += 1
    return rng.permutation(np.r_[np.full(n_loyal, LOYAL),
                                 np.repeat(np.arange(len(CAUSES)), counts)])


def _mixture(cfg: Config, rng: np.random.Generator, seg: np.ndarray) -> SimpleNamespace:
    """Per-customer parameters of the order-generating process of their segment."""
    n = len(seg)
    loyal = seg == LOYAL
    hunter = loyal & (rng.random(n) < 0.30)
    returner = loyal & (rng.random(n) < 0.15)
    explorer = loyal & (rng.random(n) < 0.20)
    fading = loyal & (rng.random(n) < 0.15)
    geo = rng.geometric(0.45, n)
    count = np.select(
        [loyal, seg == FORGOT, seg == SATISFACTION, seg == CHOICE, seg == PRICE],
        [np.full(n, 10**6), np.where(rng.random(n) < 0.93, 1, 2), np.minimum(1 + geo, 6),
         np.minimum(2 + geo, 7), np.where(rng.random(n) < 0.6, 1, np.minimum(1 + geo, 5))],
        np.where(rng.random(n) < 0.5, 1, np.minimum(1 + rng.geometric(0.5, n), 6)))
    mean_gap = np.select(
        [loyal, seg == SATISFACTION, seg == CHOICE, seg == PRICE],
        [np.clip(np.exp(rng.normal(np.log(50), 0.45, n)), 12, 150),
         np.exp(rng.normal(np.log(60), 0.35, n)), np.exp(rng.normal(np.log(35), 0.35, n)),
         np.full(n, 75.0)],
        np.exp(rng.normal(np.log(70), 0.4, n)))
    shape = np.select([loyal, seg == SATISFACTION, seg == CHOICE, seg == PRICE],
                      [2.5, 3.0, 2.0, 1.2], 1.5)
    return SimpleNamespace(
        seg=seg, loyal=loyal, hunter=hunter, returner=returner, explorer=explorer,
        fading=fading, count=count, mean_gap=mean_gap, shape=shape,
        growth=np.where(seg == CHOICE, rng.uniform(1.3, 1.5, n), 1.0),
        span=np.where(loyal, 10**6, rng.integers(300, 600, n)),
        affinity=np.select([seg == PRICE, hunter], [0.85, 0.65], 0.12),
        reach=np.select([seg == PRICE, hunter], [90, 60], 30),   # days a buyer waits for a sale
        basket=np.exp(rng.normal(0, 0.6, n)),
        drift=np.where(fading, -0.04, rng.normal(0, 0.02, n)),
        wander=np.select([seg == CHOICE, explorer], [0.8, 0.5], 0.2),
        wants_new=np.select([seg == CHOICE, explorer], [0.45, 0.25], 0.07),
        deal=(seg == PRICE) | hunter | (rng.random(n) < 0.1),
        fav=rng.integers(0, len(CATEGORIES), (n, 2)),
    )


def _renewals(cfg: Config, rng: np.random.Generator, mx: SimpleNamespace,
              first: np.ndarray, cal: SimpleNamespace) -> tuple[np.ndarray, np.ndarray]:
    """Order days: renewal times from the gap distributions, cut by count, span and the data's
    end, then moved into the next sale window by customers with sale affinity."""
    n = len(first)
    k_max = cfg.days // 10 + 10
    cols = np.arange(k_max)
    gaps = rng.gamma(mx.shape[:, None], 1.0, (n, k_max)) * (mx.mean_gap / mx.shape)[:, None]
    gaps *= np.minimum(mx.growth[:, None] ** cols, 4.0)
    other = mx.seg == OTHER
    gaps[other] = np.exp(rng.normal(np.log(mx.mean_gap[other])[:, None], 0.8,
                                    (int(other.sum()), k_max)))
    gaps = np.clip(np.where(mx.loyal[:, None], np.minimum(gaps, 240), gaps), 3, None)
    t = first[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(gaps[:, :-1], 1)], 1)
    t = t.astype(np.int64)
    ok = (cols < mx.count[:, None]) & (t - first[:, None] <= mx.span[:, None]) & (t < cfg.days)
    c, k = np.nonzero(ok)
    day = t[c, k]
    nxt = cal.next_start[day]
    snap = ((k > 0) & (rng.random(len(c)) < mx.affinity[c]) & (nxt >= 0)
            & (nxt - day <= mx.reach[c]))
    sid = cal.sale_id[np.maximum(nxt, 0)]
    into = (rng.random(len(c)) * cal.length[np.maximum(sid, 0)]).astype(int)
    day = np.where(snap, nxt + into, day)
    keep = day < cfg.days
    frame = pd.DataFrame({"c": c[keep], "d": day[keep]}).drop_duplicates()
    frame = frame.sort_values(["c", "d"], kind="stable")
    return frame.c.to_numpy(), frame.d.to_numpy()


def _catalogue(cfg: Config, rng: np.random.Generator) -> SimpleNamespace:
    k = len(CATEGORIES)
    n = max(cfg.products, k)
    cat = np.arange(n) % k
    level = np.exp(rng.normal(3.5, 0.6, k))
    pop = rng.pareto(1.3, n) + 0.05
    price = np.maximum(np.round(level[cat] * np.exp(rng.normal(0, 0.55, n)), 2), 2.0)
    # past-season stock mostly; a stream of new drops over the period
    launch = np.where(rng.random(n) < 0.6, -rng.integers(30, 900, n),
                      rng.integers(0, cfg.days, n))
    launch[:k] = -rng.integers(60, 900, k)
    markdown = np.where(rng.random(n) < 0.4, rng.choice([0.1, 0.2, 0.3], n), 0.0)
    return SimpleNamespace(n=n, cat=cat, pop=pop, price=price, launch=launch,
                           cost=np.round(price * rng.uniform(0.35, 0.6, n), 2),
                           markdown=markdown)


def _pick(rng: np.random.Generator, pc: SimpleNamespace, cat: np.ndarray, day: np.ndarray,
          deal: np.ndarray, new: np.ndarray) -> np.ndarray:
    """A launched product per item: newest drops, deals (cheap and marked down) or popular."""
    out = np.empty(len(cat), int)
    deal_w = pc.pop * (1 + 4 * pc.markdown) * (pc.price.min() / pc.price) ** 1.2
    for k in range(len(CATEGORIES)):
        sel = np.flatnonzero(cat == k)
        if not len(sel):
            continue
        members = np.flatnonzero(pc.cat == k)
        members = members[np.argsort(pc.launch[members], kind="stable")]
        launched = pc.launch[members]
        d, u = day[sel], rng.random(len(sel))
        n_av = np.maximum(np.searchsorted(launched, d, "right"), 1)
        cum_pop, cum_deal = np.cumsum(pc.pop[members]), np.cumsum(deal_w[members])
        cum = np.where(deal[sel], cum_deal[n_av - 1], cum_pop[n_av - 1]) * u
        pos = np.where(deal[sel], np.searchsorted(cum_deal, cum, "right"),
                       np.searchsorted(cum_pop, cum, "right"))
        pos = np.minimum(pos, n_av - 1)
        n_new = n_av - np.searchsorted(launched, d - 90, "right")
        newest = n_av - 1 - np.minimum((u * n_new).astype(int), np.maximum(n_new - 1, 0))
        pos = np.where(new[sel] & (n_new > 0), newest, pos)
        out[sel] = members[pos]
    return out


def _sample(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return (rng.random(len(group))[:, None] > cum[group]).sum(axis=1)


def _later(base: pd.Series, rng: np.random.Generator, lo_days: int, hi_days: int) -> np.ndarray:
    secs = rng.integers(lo_days * 86400, hi_days * 86400, len(base))
    return base.to_numpy() + pd.to_timedelta(secs, unit="s").to_numpy()


def generate(cfg: Config = Config()) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The outlet's contract tables (orders plus `cfg.tables`) and the truth frame
    (customer_id, segment, cause, last_order_ts) for customers with at least one order."""
    _check(cfg)
    rng = np.random.default_rng(cfg.seed)
    start = pd.Timestamp(cfg.start)
    cal = _day_arrays(cfg, promotion_calendar(cfg))
    dates = start + pd.to_timedelta(np.arange(cfg.days), unit="D")
    season = MONTH_SEASON[dates.month.to_numpy()]
    growth = np.exp(np.log(2.2) * np.arange(cfg.days) / cfg.days)
    seg = _segments(cfg, rng)
    mx = _mixture(cfg, rng, seg)
    n = len(seg)

    # --- acquisition: sales bring new customers, price hunters above all -----------------
    base = (season * growth)[:-1]
    first = np.empty(n, np.int64)
    for is_price, lift in ((False, 1.5), (True, 8.0)):
        who = np.flatnonzero((seg == PRICE) == is_price)
        w = base * (1 + lift * cal.on_sale[:-1])
        first[who] = rng.choice(cfg.days - 1, size=len(who), p=w / w.sum())
    oc, oday = _renewals(cfg, rng, mx, first, cal)
    m = len(oc)
    k = np.arange(m) - np.searchsorted(oc, oc)             # order number (0-based)
    n_c = np.bincount(oc, minlength=n)
    progress = k / np.maximum(n_c[oc] - 1, 1)               # 0 first order .. 1 last
    sat = seg[oc] == SATISFACTION

    # --- baskets: shrinking for the dissatisfied (and for fading loyal customers) -------
    trend = np.where(sat, np.exp(-1.2 * progress), np.exp(np.maximum(mx.drift[oc] * k, -1.0)))
    n_items = 1 + rng.poisson(0.9 * mx.basket[oc] * trend)
    io = np.repeat(np.arange(m), n_items)
    ic, iday = oc[io], oday[io]
    wander = rng.random(len(io)) < mx.wander[ic]
    cat = np.where(wander, rng.integers(0, len(CATEGORIES), len(io)),
                   mx.fav[ic, rng.integers(0, 2, len(io))])
    pc = _catalogue(cfg, rng)
    on_sale = cal.on_sale[iday]
    deal = mx.deal[ic] & (rng.random(len(io)) < np.where(on_sale, 0.9, 0.6))
    new = rng.random(len(io)) < mx.wants_new[ic]
    prod = _pick(rng, pc, cat, iday, deal, new)
    keep = ~pd.DataFrame({"o": io, "p": prod}).duplicated().to_numpy()
    io, ic, iday, prod, on_sale = (a[keep] for a in (io, ic, iday, prod, on_sale))
    qty = (1 + rng.poisson(0.3 * trend[io])).astype(float)
    depth = np.maximum(pc.markdown[prod],
                       cal.depth[iday] * (on_sale & (rng.random(len(io)) < 0.85)))
    unit_price = np.round(pc.price[prod] * (1 - depth), 2)
    line_disc = np.round((pc.price[prod] - unit_price) * qty, 2)
    order_ids = np.array([str(100_000_000 + i) for i in range(m)], dtype=object)
    product_ids = np.array([f"{p:05d}" for p in range(pc.n)], dtype=object)
    items = pd.DataFrame({"order_id": order_ids[io], "product_id": product_ids[prod],
                          "quantity": qty, "unit_price": unit_price, "discount": line_disc})
    amount = np.bincount(io, unit_price * qty, m)

    # --- returns: quality and "not as pictured" rise towards a dissatisfied end ----------
    p_ret = np.select([sat, mx.returner[oc], seg[oc] == PRICE],
                      [0.08 + 0.55 * progress ** 1.5, 0.25, 0.08], 0.06)
    returned = rng.random(m) < p_ret
    reason_probs = np.array([[0.10, 0.12, 0.50, 0.08, 0.20],    # ordinary
                             [0.38, 0.32, 0.15, 0.05, 0.10],    # dissatisfied
                             [0.08, 0.10, 0.35, 0.32, 0.15]])   # price-minded
    rgroup = np.select([sat, seg[oc] == PRICE], [1, 2], 0)
    full = returned & (rng.random(m) < 0.6)
    cancelled = ~returned & (k > 0) & (rng.random(m) < 0.02)
    ri = np.flatnonzero(returned)
    secs = oday * 86400 + rng.integers(8 * 3600, 23 * 3600, m)
    ots = pd.Series(start + pd.to_timedelta(secs, unit="s"))
    last_ts = ots.max()
    returns = pd.DataFrame({
        "order_id": order_ids[ri],
        "return_ts": _later(ots[ri], rng, 4, 30),
        "amount": np.round(amount[ri] * np.where(full[ri], 1.0, rng.uniform(0.25, 0.75,
                                                                            len(ri))), 2),
        "reason": np.asarray(RETURN_REASONS, dtype=object)[_sample(rng, reason_probs,
                                                                   rgroup[ri])],
    })
    customer_ids = np.array([f"{i:07d}" for i in range(n)], dtype=object)
    orders = pd.DataFrame({
        "order_id": order_ids,
        "customer_id": customer_ids[oc],
        "order_ts": ots,
        "amount": np.round(amount, 2),
        "quantity": np.bincount(io, qty, m),
        "discount": np.round(np.bincount(io, line_disc, m), 2),
        "status": np.select([full, cancelled], ["returned", "cancelled"], "completed"),
        "channel": rng.choice(["web", "app", "phone"], m, p=[0.6, 0.37, 0.03]),
    }).sort_values(["order_ts", "order_id"], kind="stable").reset_index(drop=True)

    optional = {"order_items": items, "returns": returns[returns.return_ts <= last_ts]
                .reset_index(drop=True)}
    optional["products"] = pd.DataFrame({
        "product_id": product_ids, "category": np.asarray(CATEGORIES, dtype=object)[pc.cat],
        "list_price": pc.price, "unit_cost": pc.cost,
        "launch_date": start + pd.to_timedelta(pc.launch, unit="D")})
    if "reviews" in cfg.tables:  # rare; a little lower at a dissatisfied end
        bad = sat & (progress > 0.5)
        rv = np.flatnonzero(rng.random(m) < np.where(bad, 0.12, 0.05))
        probs = np.array([[0.03, 0.05, 0.15, 0.35, 0.42], [0.25, 0.25, 0.25, 0.15, 0.10]])
        optional["reviews"] = pd.DataFrame({
            "customer_id": customer_ids[oc[rv]], "review_ts": _later(ots[rv], rng, 3, 25),
            "rating": (1 + _sample(rng, probs, bad[rv].astype(int))).astype(float),
            "order_id": order_ids[rv]})
        optional["reviews"] = optional["reviews"][optional["reviews"].review_ts <= last_ts] \
            .sort_values("review_ts", kind="stable").reset_index(drop=True)
    if "events" in cfg.tables:
        optional["events"] = _events(cfg, rng, mx, oc, ots, customer_ids, last_ts)

    last = pd.Series(ots.to_numpy()).groupby(oc).max()
    cs = seg[last.index.to_numpy()]
    truth = pd.DataFrame({
        "customer_id": customer_ids[last.index.to_numpy()],
        "segment": np.where(cs == LOYAL, "loyal", "churner"),
        "cause": np.where(cs == LOYAL, None, np.asarray(CAUSES + ("",), dtype=object)[cs]),
        "last_order_ts": last.to_numpy(),
    })
    tables = {"orders": orders, **{name: optional[name] for name in cfg.tables}}
    return tables, truth


def _events(cfg: Config, rng: np.random.Generator, mx: SimpleNamespace, oc: np.ndarray,
            ots: pd.Series, customer_ids: np.ndarray, last_ts: pd.Timestamp) -> pd.DataFrame:
    """Optional engagement: a visit before most orders, browsing while buying, and after the
    last order interest that fades (exponential delays): choice keeps browsing, forgot not."""
    n = len(mx.seg)
    start = pd.Timestamp(cfg.start)
    osec = (ots - start).dt.total_seconds().to_numpy()
    first = pd.Series(osec).groupby(oc).min().reindex(range(n)).to_numpy()
    last = pd.Series(osec).groupby(oc).max().reindex(range(n)).to_numpy()
    has = ~np.isnan(first)
    engage = np.exp(rng.normal(0, 0.5, n))
    frames = []
    pv = np.flatnonzero(rng.random(len(oc)) < 0.75)
    frames.append((oc[pv], osec[pv] - rng.integers(60, 3600, len(pv)), "visit", "product"))
    months = np.where(has, (last - first) / (30 * 86400), 0)
    for kind, rate in (("visit", np.where(mx.loyal, 2.0, 0.8)),
                       ("email_open", np.where(mx.loyal, 1.5, 0.6))):
        cnt = rng.poisson(rate * engage * months)
        c = np.repeat(np.arange(n), cnt)
        frames.append((c, first[c] + rng.random(len(c)) * (last[c] - first[c]), kind, None))
    # after the last order, per segment (FORGOT..OTHER, LOYAL): how many and how long
    post = {"visit": np.array([0.1, 1.0, 10.0, 3.0, 1.0, 3.0]),
            "email_open": np.array([0.2, 1.5, 4.0, 6.0, 1.5, 3.0])}
    for kind, mean in post.items():
        cnt = np.where(has, rng.poisson(mean[mx.seg] * engage), 0)
        c = np.repeat(np.arange(n), cnt)
        frames.append((c, last[c] + rng.exponential(120 * 86400, len(c)), kind, None))
    c = np.concatenate([f[0] for f in frames])
    s = np.concatenate([f[1] for f in frames]).astype(np.int64)
    kind = np.concatenate([np.full(len(f[0]), f[2], dtype=object) for f in frames])
    detail = np.full(len(c), None, dtype=object)
    vis = kind == "visit"
    probs = np.array([[0.38, 0.40, 0.17, 0.05],     # ordinary
                      [0.15, 0.30, 0.20, 0.35],     # deal-minded
                      [0.15, 0.35, 0.45, 0.05]])    # choice
    profile = np.select([mx.seg == CHOICE, mx.deal], [2, 1], 0)
    detail[vis] = np.array(["home", "product", "category", "sale"], dtype=object)[
        _sample(rng, probs, profile[c[vis]])]
    ev = pd.DataFrame({"c": c, "s": s, "event_type": kind, "detail": detail})
    ev = ev[ev.s <= (last_ts - start).total_seconds()].sort_values(["s", "c"], kind="stable")
    return pd.DataFrame({
        "customer_id": customer_ids[ev.c.to_numpy()],
        "event_ts": start + pd.to_timedelta(ev.s.to_numpy(), unit="s"),
        "event_type": ev.event_type.to_numpy(),
        "detail": ev.detail.to_numpy(),
    })


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic outlet shop.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--customers", type=int, default=Config.customers)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--tables", nargs="*", default=list(Config.tables),
                        help=f"optional tables to write (orders always): {' '.join(OPTIONAL)}")
    args = parser.parse_args(argv)
    cfg = Config(customers=args.customers, seed=args.seed, tables=tuple(args.tables))
    tables, truth = generate(cfg)
    counts = write_tables(args.out, tables, truth)
    print(", ".join(f"{name}: {rows:,}" for name, rows in counts.items()))


if __name__ == "__main__":
    main()
