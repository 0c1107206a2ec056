"""Boutique: a synthetic fashion shop simulated week by week, with latent customer states.

Every week each customer who has arrived may visit pages, open e-mails, claim a personal coupon,
buy, have a bad experience, or lapse. Lapsing is a state change driven by the customer's cause:

- forgot: memory of the shop fades quickly after an order (a high weekly forgetting hazard);
  once forgotten, almost no visits or e-mail opens.
- satisfaction: after the second order bad experiences (late delivery, rude support, broken
  items) become likely; they show as complaint events, low ratings and sometimes a return, and
  make the customer unhappy: buying drops and lapsing becomes likely within weeks.
- choice: wanders over many categories and new arrivals; each order lowers the buying hazard
  (orders thin out) and after the second order the customer may settle elsewhere, yet keeps
  visiting category and new-arrival pages.
- price: buys when holding a coupon (coupon_claim events, discount codes on orders); without a
  coupon a rival's lower price makes them lapse; afterwards they still claim coupons.
- other: a flat lapse hazard and no particular signal.

There is no promotion calendar: discounts come from personal coupons and from product clearance
(old products marked down), so price shows through coupons, not through sale-week timing.
Loyal customers never lapse but share every signal: silent loyals who rarely visit yet buy,
deal-hunters who claim coupons, explorers, and customers with a benign bad episode.
The truth (segment, cause) is returned separately and never written into the tables.
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
CATEGORIES = ("dresses", "knitwear", "shirts", "trousers", "skirts", "jackets", "coats",
              "sneakers", "boots", "sandals", "handbags", "belts", "scarves", "hats", "jewellery",
              "watches", "sunglasses", "lingerie", "swimwear", "homeware")
KINDS = ("visit", "email_open", "coupon_claim")
PAGES = ("home", "product", "category", "new-arrivals", "sale")
COMPLAINT_TOPICS = ("late delivery", "rude support", "broken item", "wrong item sent",
                    "refund delayed", "missing parcel")
MONTH_SEASON = np.array([0, 0.85, 0.85, 1.0, 1.0, 1.05, 1.0, 0.95, 0.85, 1.0, 1.05, 1.3, 1.4])

# weekly lapse hazards and post-lapse engagement per cause (index: FORGOT..OTHER, LOYAL)
POST_VISIT = np.array([0.004, 0.05, 0.45, 0.12, 0.05, 0.0])
POST_EMAIL = np.array([0.005, 0.06, 0.15, 0.30, 0.06, 0.0])
POST_CLAIM = np.array([0.0, 0.05, 0.05, 0.60, 0.05, 0.0])  # share of coupon offers claimed


@dataclass(frozen=True)
class Config:
    customers: int = 20_000
    seed: int = 42
    start: str = "2022-01-03"
    days: int = 3 * 365
    cause_shares: dict[str, float] = field(default_factory=lambda: {
        "forgot": 0.40, "satisfaction": 0.18, "choice": 0.12, "price": 0.24, "other": 0.06})
    tables: tuple[str, ...] = OPTIONAL
    loyal_share: float = 0.18
    products: int = 600
    #: weekly probability that a customer is sent a personal coupon
    coupon_offer_rate: float = 0.20


def _check(cfg: Config) -> None:
    unknown = set(cfg.tables) - set(OPTIONAL)
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}; choose from {OPTIONAL}")
    if set(cfg.cause_shares) != set(CAUSES) or sum(cfg.cause_shares.values()) <= 0:
        raise ValueError(f"cause_shares needs positive shares for {CAUSES}")
    if cfg.customers < 1 or cfg.days < 28 or not 0 <= cfg.loyal_share < 1:
        raise ValueError("customers >= 1, days >= 28 and 0 <= loyal_share < 1")


def _segments(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """LOYAL or a cause code per customer; causes in exact (rounded) shares among churners."""
    n = cfg.customers
    loyal = rng.random(n) < cfg.loyal_share
    shares = np.array([cfg.cause_shares[c] for c in CAUSES], float)
    shares = shares / shares.sum()
    k = int((~loyal).sum())
    counts = np.floor(shares * k).astype(int)
    rest = np.argsort(-(shares * k - counts), kind="stable")[: k - counts.sum()]
    counts[rest] += 1
    seg = np.full(n, LOYAL)
    seg[~loyal] = rng.permutation(np.repeat(np.arange(len(CAUSES)), counts))
    return seg


def _people(cfg: Config, rng: np.random.Generator, season: np.ndarray) -> SimpleNamespace:
    n, n_weeks = cfg.customers, len(season)
    seg = _segments(cfg, rng)
    loyal = seg == LOYAL
    # a growing shop: acquisitions triple over the period, with the season
    w = season[:-1] * np.exp(np.log(3.0) * np.arange(n_weeks - 1) / n_weeks)
    arrival = rng.choice(n_weeks - 1, size=n, p=w / w.sum())
    silent = loyal & (rng.random(n) < 0.25)
    deal = loyal & (rng.random(n) < 0.25)
    explorer = loyal & (rng.random(n) < 0.20)
    episode = loyal & (rng.random(n) < 0.30)
    yearly = np.where(loyal, rng.gamma(2.5, 2.4, n) + 2.0, rng.gamma(2.5, 1.8, n) + 2.0)
    lam = yearly / 52.0 * np.select([seg == FORGOT, seg == PRICE], [0.35, 0.55], 1.0)
    claim = np.select([seg == PRICE, deal, seg == FORGOT], [0.55, 0.50, 0.03], 0.06)
    boost = np.select([seg == PRICE, deal], [4.0, 2.5], 1.4)  # buying hazard with a coupon
    price_like = (seg == PRICE) | deal
    choice_like = (seg == CHOICE) | explorer
    return SimpleNamespace(
        seg=seg, loyal=loyal, arrival=arrival, silent=silent, deal=deal, explorer=explorer,
        episode=episode, price_like=price_like, choice_like=choice_like,
        engage=np.exp(rng.normal(0, 0.5, n)), lam=lam, claim=claim, boost=boost,
        visit=np.select([silent, loyal, seg == FORGOT], [0.03, 0.6, 0.25], 0.35),
        email=np.select([silent, loyal, seg == FORGOT], [0.01, 0.45, 0.15], 0.25),
        welcome=np.select([seg == PRICE, deal], [0.45, 0.30], 0.15),
        max_gap=rng.integers(22, 40, n),            # loyal: weeks before they surely buy again
        max_span=rng.integers(50, 90, n),           # churners: weeks before they surely lapse
        k_cap=rng.integers(2, 5, n),                # satisfaction: bad experience by this order
        episode_k=1 + rng.geometric(0.25, n),       # loyal: order with the benign bad episode
        thin=rng.uniform(0.6, 0.85, n),             # choice: buying hazard kept per order
        basket=np.exp(rng.normal(0, 0.55, n)),
        wander=np.select([seg == CHOICE, explorer], [0.85, 0.6], 0.2),
        wants_new=np.select([seg == CHOICE, explorer], [0.5, 0.3], 0.08),
        fav=rng.integers(0, len(CATEGORIES), (n, 2)),
    )


def _simulate(cfg: Config, rng: np.random.Generator, pp: SimpleNamespace,
              season: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The weekly state machine. Orders: c (customer), w (week), coupon (rate used), incident
    (a bad experience), sad (already unhappy), k (order number). Events: c, w, kind (visit,
    email_open, coupon_claim)."""
    n, n_weeks = cfg.customers, len(season)
    seg = pp.seg
    churner = ~pp.loyal
    alive = np.ones(n, bool)
    lapse_w = np.full(n, -1)
    n_ord = np.zeros(n, int)
    last_w = np.full(n, -1)
    wallet = np.zeros(n, int)
    wallet_rate = np.zeros(n)
    unhappy = np.zeros(n, bool)
    mult = np.ones(n)
    arrived = np.zeros(n, bool)
    by_arrival = np.argsort(pp.arrival, kind="stable")
    bounds = np.searchsorted(pp.arrival[by_arrival], np.arange(n_weeks + 1))
    orders, events = [], []
    rates = np.array([0.10, 0.15, 0.20])

    def order(c, w, coupon, incident, sad):
        orders.append((c, np.full(len(c), w), np.broadcast_to(coupon, len(c)),
                       np.broadcast_to(incident, len(c)), np.broadcast_to(sad, len(c)),
                       n_ord[c]))

    def emit(c, counts, kind, w):
        c = np.repeat(c, counts)
        events.append((c, np.full(len(c), w), np.full(len(c), KINDS.index(kind), np.int8)))

    for w in range(n_weeks):
        new = by_arrival[bounds[w]:bounds[w + 1]]
        old = np.flatnonzero(arrived)
        arrived[new] = True
        # --- engagement of everyone who has arrived -------------------------------------
        idx = np.flatnonzero(arrived)
        gone = ~alive[idx]
        fade = np.where(gone, np.exp(-(w - lapse_w[idx]) / 40.0), 1.0)
        s = seg[idx]
        v = np.where(gone, POST_VISIT[s], pp.visit[idx]) * pp.engage[idx] * fade
        e = np.where(gone, POST_EMAIL[s], pp.email[idx]) * pp.engage[idx] * fade
        emit(idx, rng.poisson(v), "visit", w)
        emit(idx, rng.poisson(e), "email_open", w)
        # personal coupons: an offer e-mail, claimed by the price-minded (also after lapsing)
        reach = np.where(gone, POST_CLAIM[s] * fade, pp.claim[idx])
        reach = np.where(pp.silent[idx], 0.01, reach)
        claimed = (wallet[idx] == 0) & (rng.random(len(idx)) < cfg.coupon_offer_rate) & (
            rng.random(len(idx)) < reach)
        cl = idx[claimed]
        emit(cl, 1, "email_open", w)
        emit(cl, 1, "coupon_claim", w)
        wallet[cl] = 3
        wallet_rate[cl] = rates[rng.integers(0, 3, len(cl))]

        # --- first orders (some with a welcome code) ------------------------------------
        welcome = rng.random(len(new)) < pp.welcome[new]
        n_ord[new] = 1
        last_w[new] = w
        first_incident = rng.random(len(new)) < np.where(seg[new] == SATISFACTION, 0.08, 0.02)
        unhappy[new] = first_incident & (seg[new] == SATISFACTION)
        order(new, w, np.where(welcome, 0.10, 0.0), first_incident, False)
        mult[new] *= np.where(seg[new] == CHOICE, pp.thin[new], 1.0)

        # --- repeat orders of customers still in the shop -------------------------------
        c = old[alive[old]]
        h = pp.lam[c] * season[w] * mult[c]
        h = h * np.where(wallet[c] > 0, pp.boost[c], 1.0) * np.where(unhappy[c], 0.3, 1.0)
        h = np.minimum(h, 0.9)
        h = np.where(pp.loyal[c] & (w - last_w[c] >= pp.max_gap[c]), 1.0, h)
        b = c[rng.random(len(c)) < h]
        coupon = np.where(wallet[b] > 0, wallet_rate[b], 0.0)
        wallet[b] = 0
        n_ord[b] += 1
        last_w[b] = w
        sb = seg[b]
        p_inc = np.select(
            [(sb == SATISFACTION) & ((n_ord[b] >= pp.k_cap[b]) | (w - pp.arrival[b] >= 60)),
             sb == SATISFACTION, pp.episode[b] & (n_ord[b] == pp.episode_k[b])],
            [1.0, 0.45, 1.0], 0.02)
        incident = rng.random(len(b)) < p_inc
        order(b, w, coupon, incident, unhappy[b].copy())
        unhappy[b] |= incident & (sb == SATISFACTION)
        mult[b] *= np.where(sb == CHOICE, pp.thin[b], 1.0)

        # --- lapsing: the cause decides the weekly hazard -------------------------------
        c = old[alive[old] & churner[old]]
        sc = seg[c]
        hz = np.select(
            [sc == FORGOT, sc == SATISFACTION, sc == CHOICE, sc == PRICE],
            [np.full(len(c), 0.7),
             np.where(unhappy[c], 0.35, 0.0),
             np.where(n_ord[c] >= 2, 0.045, 0.0),
             np.where(wallet[c] > 0, 0.02, 0.25)],
            0.20)
        forced = (w - pp.arrival[c] >= pp.max_span[c]) & (sc != SATISFACTION)
        gone_now = c[(rng.random(len(c)) < hz) | forced]
        alive[gone_now] = False
        lapse_w[gone_now] = w
        np.subtract(wallet, 1, out=wallet, where=wallet > 0)
    ords = pd.DataFrame({name: np.concatenate([o[i] for o in orders]) for i, name in
                         enumerate(("c", "w", "coupon", "incident", "sad", "k"))})
    evs = pd.DataFrame({name: np.concatenate([e[i] for e in events]) for i, name in
                        enumerate(("c", "w", "kind"))})
    return ords, evs.assign(kind=np.asarray(KINDS, dtype=object)[evs.kind.to_numpy()])


def _catalogue(cfg: Config, rng: np.random.Generator) -> SimpleNamespace:
    n, k = max(cfg.products, len(CATEGORIES)), len(CATEGORIES)
    cat = np.arange(n) % k
    level = np.exp(rng.normal(3.8, 0.45, k))
    pop = rng.pareto(1.1, n) + 0.05
    price = np.maximum(np.round(level[cat] * np.exp(rng.normal(0, 0.5, n)), 2), 3.0)
    margin = np.clip(rng.normal(0.6, 0.1, n), 0.2, 0.85)
    # weekly new arrivals: a third of the range predates the data, the rest launches over it
    launch = np.where(rng.random(n) < 0.35, -rng.integers(1, 600, n),
                      rng.integers(0, cfg.days, n))
    launch[:k] = -rng.integers(200, 600, k)  # every category has something from day one
    # edge products (poor sellers) go to the clearance page a year or so after launch
    edge = (pop < np.quantile(pop, 0.4)) & (rng.random(n) < 0.6)
    return SimpleNamespace(
        n=n, cat=cat, pop=pop, price=price, cost=np.round(price * (1 - margin), 2),
        launch=launch, clear=np.where(edge, launch + rng.integers(240, 480, n), 10**6),
        clear_depth=rng.choice([0.2, 0.3, 0.4], n))


def _pick(rng: np.random.Generator, pc: SimpleNamespace, cat: np.ndarray, day: np.ndarray,
          mode: np.ndarray) -> np.ndarray:
    """A product per item among those launched by its day. mode 0: by popularity, 1: cheap
    end, 2: new arrivals (launched within 90 days), 3: clearance (marked down by then)."""
    out = np.empty(len(cat), int)
    cheap = pc.pop * (pc.price.min() / pc.price) ** 1.5
    for k in range(len(CATEGORIES)):
        sel = np.flatnonzero(cat == k)
        if not len(sel):
            continue
        members = np.flatnonzero(pc.cat == k)
        by_launch = members[np.argsort(pc.launch[members], kind="stable")]
        launched = pc.launch[by_launch]
        d, m, u = day[sel], mode[sel], rng.random(len(sel))
        n_av = np.maximum(np.searchsorted(launched, d, "right"), 1)

        def weighted(w, n_av=n_av, u=u):
            cum = np.cumsum(w)
            return np.minimum(np.searchsorted(cum, u * cum[n_av - 1], "right"), n_av - 1)

        pos = np.where(m == 1, weighted(cheap[by_launch]), weighted(pc.pop[by_launch]))
        n_new = n_av - np.searchsorted(launched, d - 90, "right")
        newest = n_av - 1 - np.minimum((u * n_new).astype(int), np.maximum(n_new - 1, 0))
        pos = np.where((m == 2) & (n_new > 0), newest, pos)
        pick = by_launch[pos]
        by_clear = members[np.argsort(pc.clear[members], kind="stable")]
        n_cl = np.searchsorted(pc.clear[by_clear], d, "right")
        cl = by_clear[np.minimum((u * n_cl).astype(int), np.maximum(n_cl - 1, 0))]
        out[sel] = np.where((m == 3) & (n_cl > 0), cl, pick)
    return out


def _sample(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """An index per row from the row's group's probabilities."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return (rng.random(len(group))[:, None] > cum[group]).sum(axis=1)


def _timestamps(start: pd.Timestamp, day: np.ndarray, rng: np.random.Generator,
                lo_h: int = 7, hi_h: int = 23) -> pd.Series:
    secs = day.astype(np.int64) * 86400 + rng.integers(lo_h * 3600, hi_h * 3600, len(day))
    return pd.Series(start + pd.to_timedelta(secs, unit="s"))


def generate(cfg: Config = Config()) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The boutique's contract tables (orders plus `cfg.tables`) and the truth frame
    (customer_id, segment, cause, last_order_ts) for customers with at least one order."""
    _check(cfg)
    rng = np.random.default_rng(cfg.seed)
    start = pd.Timestamp(cfg.start)
    n_weeks = (cfg.days + 6) // 7
    mid = start + pd.to_timedelta(np.arange(n_weeks) * 7 + 3, unit="D")
    season = MONTH_SEASON[mid.month.to_numpy()]
    pp = _people(cfg, rng, season)
    ords, evs = _simulate(cfg, rng, pp, season)
    pc = _catalogue(cfg, rng)
    seg = pp.seg

    # --- orders: day within the week, channel ------------------------------------------
    week_len = np.minimum(7, cfg.days - 7 * ords.w.to_numpy())
    oday = 7 * ords.w.to_numpy() + (rng.random(len(ords)) * week_len).astype(int)
    ords = ords.assign(day=oday).sort_values(["day", "c"], kind="stable").reset_index(drop=True)
    m = len(ords)
    oc, oday = ords.c.to_numpy(), ords.day.to_numpy()
    incident = ords.incident.to_numpy()
    after_incident = ords.sad.to_numpy()
    ots = _timestamps(start, oday, rng)
    order_ids = np.array([f"BO{i:07d}" for i in range(m)], dtype=object)

    # --- items: many categories, new arrivals, clearance, coupon codes on the order ------
    n_items = 1 + rng.poisson(0.6 * pp.basket[oc] * np.where(after_incident, 0.6, 1.0))
    io = np.repeat(np.arange(m), n_items)
    ic, iday = oc[io], oday[io]
    wander = rng.random(len(io)) < pp.wander[ic]
    cat = np.where(wander, rng.integers(0, len(CATEGORIES), len(io)),
                   pp.fav[ic, rng.integers(0, 2, len(io))])
    u = rng.random(len(io))
    mode = np.where(u < pp.wants_new[ic], 2, 0)
    mode = np.where(pp.price_like[ic] & (u > 0.55), np.where(u > 0.8, 3, 1), mode)
    mode = np.where((mode == 0) & (u > 0.93), 3, mode)  # anyone may browse the sale page
    prod = _pick(rng, pc, cat, iday, mode)
    keep = ~pd.DataFrame({"o": io, "p": prod}).duplicated().to_numpy()
    io, ic, iday, prod = io[keep], ic[keep], iday[keep], prod[keep]
    qty = (1 + rng.poisson(0.12, len(io))).astype(float)
    markdown = np.where(iday >= pc.clear[prod], pc.clear_depth[prod], 0.0)
    coupon = ords.coupon.to_numpy()[io]
    unit_price = np.round(pc.price[prod] * (1 - markdown) * (1 - coupon), 2)
    line_disc = np.round((pc.price[prod] - unit_price) * qty, 2)
    items = pd.DataFrame({"order_id": order_ids[io], "product_id": [f"SKU-{p:05d}" for p in prod],
                          "quantity": qty, "unit_price": unit_price, "discount": line_disc})
    amount = np.bincount(io, unit_price * qty, m)
    discount = np.bincount(io, line_disc, m)
    quantity = np.bincount(io, qty, m)

    # --- returns: few; quality for bad experiences, price talk from the price-minded ---
    k = ords.k.to_numpy()
    p_ret = np.where(incident, 0.22, 0.03) + np.where(pp.price_like[oc], 0.03, 0.0)
    returned = rng.random(m) < p_ret
    reason_probs = np.array([
        # found it cheaper elsewhere, poor quality, arrived damaged, changed my mind,
        # too small, too large, not as expected
        [0.04, 0.08, 0.05, 0.30, 0.25, 0.18, 0.10],   # ordinary
        [0.02, 0.45, 0.35, 0.04, 0.05, 0.04, 0.05],   # after a bad experience
        [0.45, 0.05, 0.04, 0.20, 0.12, 0.08, 0.06],   # price-minded
    ])
    reasons = np.array(["found it cheaper elsewhere", "poor quality", "arrived damaged",
                        "changed my mind", "too small", "too large", "not as expected"],
                       dtype=object)
    rgroup = np.where(incident, 1, np.where(pp.price_like[oc], 2, 0))
    full = returned & (rng.random(m) < 0.4)
    cancelled = ~returned & (k > 1) & (rng.random(m) < 0.012)
    ri = np.flatnonzero(returned)
    returns = pd.DataFrame({
        "order_id": order_ids[ri],
        "return_ts": ots[ri].to_numpy() + pd.to_timedelta(rng.integers(3, 28, len(ri)) * 86400
                                                          + rng.integers(0, 86400, len(ri)),
                                                          unit="s"),
        "amount": np.round(amount[ri] * np.where(full[ri], 1.0,
                                                 rng.uniform(0.2, 0.7, len(ri))), 2),
        "reason": reasons[_sample(rng, reason_probs, rgroup[ri])],
    })
    customer_ids = np.array([f"C{i:06d}" for i in range(cfg.customers)], dtype=object)
    silent_o = pp.silent[oc]
    orders = pd.DataFrame({
        "order_id": order_ids,
        "customer_id": customer_ids[oc],
        "order_ts": ots,
        "amount": np.round(amount, 2),
        "quantity": quantity,
        "discount": np.round(discount, 2),
        "status": np.select([full, cancelled], ["returned", "cancelled"], "completed"),
        "channel": np.where(silent_o & (rng.random(m) < 0.7), "marketplace",
                            rng.choice(["web", "app", "marketplace"], m, p=[0.5, 0.4, 0.1])),
    })

    # --- reviews: low ratings after bad experiences --------------------------------------
    p_rev = np.where(incident, 0.65, np.where(pp.loyal[oc], 0.28, 0.2))
    rv = np.flatnonzero(rng.random(m) < p_rev)
    rating_probs = np.array([[0.02, 0.04, 0.12, 0.32, 0.50], [0.5, 0.3, 0.15, 0.04, 0.01]])
    reviews = pd.DataFrame({
        "customer_id": customer_ids[oc[rv]],
        "review_ts": ots[rv].to_numpy() + pd.to_timedelta(rng.integers(2, 21, len(rv)) * 86400
                                                          + rng.integers(0, 86400, len(rv)),
                                                          unit="s"),
        "rating": (1 + _sample(rng, rating_probs, incident[rv].astype(int))).astype(float),
        "order_id": order_ids[rv],
    })

    # --- events: weekly engagement, order visits, complaints, favourites ----------------
    ec, ew = evs.c.to_numpy(), evs.w.to_numpy()
    eday = 7 * ew + rng.random(len(ec)) * np.minimum(7, cfg.days - 7 * ew)
    esec = (eday * 86400).astype(np.int64)
    kinds = evs.kind.to_numpy().astype(object)
    # a share of opens become clicks
    opens = np.flatnonzero((kinds == "email_open") & (rng.random(len(kinds)) < 0.25))
    page_probs = np.array([[0.35, 0.35, 0.14, 0.08, 0.08],    # ordinary
                           [0.12, 0.25, 0.28, 0.28, 0.07],    # choice-minded
                           [0.22, 0.25, 0.10, 0.08, 0.35]])   # price-minded
    profile = np.where(pp.choice_like, 1, np.where(pp.price_like, 2, 0))
    detail = np.full(len(kinds), None, dtype=object)
    is_visit = kinds == "visit"
    detail[is_visit] = np.asarray(PAGES, dtype=object)[
        _sample(rng, page_probs, profile[ec[is_visit]])]
    mails = np.array(["newsletter", "new-arrivals", "style-guide"], dtype=object)
    is_open = kinds == "email_open"
    detail[is_open] = mails[rng.integers(0, 3, int(is_open.sum()))]
    is_claim = kinds == "coupon_claim"
    detail[is_claim] = "coupon"
    frames = [
        pd.DataFrame({"c": ec, "s": esec, "event_type": kinds, "detail": detail}),
        pd.DataFrame({"c": ec[opens], "s": esec[opens] + 60, "event_type": "email_click",
                      "detail": detail[opens]}),
    ]
    # most orders start with a product page a few minutes before
    ov = np.flatnonzero(rng.random(m) < np.where(silent_o, 0.1, 0.8))
    osec = (ots - start).dt.total_seconds().to_numpy().astype(np.int64)
    frames.append(pd.DataFrame({"c": oc[ov], "s": osec[ov] - rng.integers(60, 1800, len(ov)),
                                "event_type": "visit", "detail": "product"}))
    # a welcome code claimed just before the first order
    wc = np.flatnonzero((ords.k.to_numpy() == 1) & (ords.coupon.to_numpy() > 0))
    frames.append(pd.DataFrame({"c": oc[wc], "s": osec[wc] - rng.integers(30, 600, len(wc)),
                                "event_type": "coupon_claim", "detail": "welcome code"}))
    # complaints: one or two after each bad experience, topics from the delivery and service
    ci = np.flatnonzero(incident & (rng.random(m) < 0.85))
    ci = np.concatenate([ci, ci[rng.random(len(ci)) < 0.3]])
    frames.append(pd.DataFrame({
        "c": oc[ci], "s": osec[ci] + rng.integers(2 * 86400, 16 * 86400, len(ci)),
        "event_type": "complaint",
        "detail": rng.choice(COMPLAINT_TOPICS, len(ci), p=[0.3, 0.15, 0.25, 0.12, 0.1, 0.08])}))
    n_seen = np.bincount(oc, minlength=cfg.customers)
    first_sec = pd.Series(osec).groupby(oc).min().reindex(range(cfg.customers)).to_numpy()
    fav_p = np.select([pp.loyal & ~pp.silent, seg == FORGOT, seg == CHOICE], [0.5, 0.03, 0.35],
                      0.18)
    fv = np.flatnonzero((n_seen > 0) & (rng.random(cfg.customers) < fav_p))
    frames.append(pd.DataFrame({
        "c": fv, "s": first_sec[fv] + rng.integers(600, 30 * 86400, len(fv)),
        "event_type": "favorite", "detail": rng.choice(["shop", "product"], len(fv))}))
    ev = pd.concat(frames, ignore_index=True)
    last_ts = ots.max()
    ev = ev[ev.s <= int((last_ts - start).total_seconds())].sort_values(["s", "c"],
                                                                          kind="stable")
    events = pd.DataFrame({
        "customer_id": customer_ids[ev.c.to_numpy()],
        "event_ts": start + pd.to_timedelta(ev.s.to_numpy(), unit="s"),
        "event_type": ev.event_type.to_numpy(),
        "detail": ev.detail.to_numpy(),
    })

    # --- truth ---------------------------------------------------------------------------
    last = orders.groupby("customer_id", sort=True)["order_ts"].max()
    ci_num = np.array([int(x[1:]) for x in last.index])
    truth = pd.DataFrame({
        "customer_id": last.index.to_numpy(dtype=object),
        "segment": np.where(seg[ci_num] == LOYAL, "loyal", "churner"),
        "cause": np.where(seg[ci_num] == LOYAL, None,
                          np.asarray(CAUSES + ("",), dtype=object)[seg[ci_num]]),
        "last_order_ts": last.to_numpy(),
    })
    products = pd.DataFrame({
        "product_id": [f"SKU-{p:05d}" for p in range(pc.n)],
        "category": np.asarray(CATEGORIES, dtype=object)[pc.cat],
        "list_price": pc.price,
        "unit_cost": pc.cost,
        "launch_date": start + pd.to_timedelta(pc.launch, unit="D"),
    })
    optional = {
        "order_items": items,
        "products": products,
        "returns": returns[returns.return_ts <= last_ts].reset_index(drop=True),
        "reviews": reviews[reviews.review_ts <= last_ts].sort_values(
            "review_ts", kind="stable").reset_index(drop=True),
        "events": events,
    }
    tables = {"orders": orders, **{name: optional[name] for name in cfg.tables}}
    return tables, truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic boutique shop.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--customers", type=int, default=Config.customers)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--tables", nargs="*", default=list(OPTIONAL),
                        help=f"optional tables to write (orders always): {' '.join(OPTIONAL)}")
    args = parser.parse_args(argv)
    cfg = Config(customers=args.customers, seed=args.seed, tables=tuple(args.tables))
    tables, truth = generate(cfg)
    counts = write_tables(args.out, tables, truth)
    print(", ".join(f"{name}: {rows:,}" for name, rows in counts.items()))


if __name__ == "__main__":
    main()
