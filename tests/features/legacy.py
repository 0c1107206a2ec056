"""The feature engine and the cause evidence as they were before the evidence was computed in
the features' own passes: a separate set of scans joined on (customer_id, cutoff). Kept as the
oracle of the parity tests (tests/features/test_parity.py); not used by the pipeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from common.params import FeatureParams
from features.registry import available

KEY = ["customer_id", "cutoff"]
WINDOWS_DAYS = (30, 90, 180, 365)


@dataclass(frozen=True)
class Cutoff:
    """A snapshot date; labelled when its whole horizon lies at or before as_of."""
    day: date
    label_end: date
    labelled: bool


def _days(later: ir.Value, earlier: ir.Value) -> ir.Value:
    return later.delta(earlier, unit="day")


def _lit(day: date) -> ir.Value:
    return ibis.literal(day, type="date")


def snapshots(cutoffs: list[date], as_of: date, horizon_days: int) -> list[Cutoff]:
    return [Cutoff(t, t + timedelta(days=horizon_days), t + timedelta(days=horizon_days) <= as_of)
            for t in cutoffs]


def per_cutoff(cuts: list[Cutoff], snapshot: Callable[[Cutoff], ir.Table]) -> ir.Table:
    """One `snapshot(T)` table per cutoff, tagged with T and stacked."""
    parts = [snapshot(c).mutate(cutoff=_lit(c.day)) for c in cuts]
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def completed_orders(orders: ir.Table, as_of: date) -> ir.Table:
    """Completed orders up to as_of, with their date: what every purchase measure counts."""
    o = orders.mutate(order_date=_.order_ts.cast("date"))
    o = o.filter(o.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status == "completed")
    return o


def _sale_weeks(orders: ir.Table, p: FeatureParams) -> ir.Table:
    """Weeks whose order volume (or discount share) jumps over the trailing weeks' mean.
    Trailing only: a week's status never depends on later weeks."""
    o = orders.mutate(week=_.order_date.truncate("W"))
    has_discount = "discount" in o.columns
    metrics = {"n": _.count()}
    if has_discount:
        metrics["disc"] = (_.discount.fill_null(0) > 0).cast("float64").mean()
    weekly = o.group_by("week").aggregate(**metrics)
    # the trailing window includes the week itself; take it out again (portable frame bounds)
    w = ibis.window(order_by="week", preceding=p.sale_week_lookback_weeks, following=0)
    weekly = weekly.mutate(trail_k=_.n.count().over(w) - 1)
    weekly = weekly.mutate(trail_n=(_.n.sum().over(w) - _.n) / _.trail_k.nullif(0))
    enough = weekly.trail_k >= p.sale_week_lookback_weeks // 2
    is_sale = enough & (weekly.n >= p.sale_week_volume_ratio * weekly.trail_n)
    if has_discount:
        weekly = weekly.mutate(trail_d=(_.disc.sum().over(w) - _.disc) / _.trail_k.nullif(0))
        is_sale = is_sale | (enough & (weekly.disc >= 0.2) & (weekly.disc >= 2 * weekly.trail_d))
    return weekly.select("week", is_sale=is_sale.fill_null(False).cast("int8"))


def order_rows(orders: ir.Table, p: FeatureParams) -> ir.Table:
    """Completed orders, narrowed to what snapshots aggregate, with the day gap to the customer's
    previous order and the date of their next one (one window). Amount breaks timestamp ties:
    orders that tie on both are interchangeable for every feature, so both engines agree."""
    w = ibis.window(group_by="customer_id", order_by=["order_ts", "amount"])
    sale = _sale_weeks(orders, p)
    cols = ["customer_id", "order_date", "amount"]
    if "discount" in orders.columns:
        cols.append(orders.discount.fill_null(0).name("discount"))
    return orders.select(
        *cols,
        gap=_days(_.order_date, _.order_date.lag().over(w)).cast("float64"),
        next_date=_.order_date.lead().over(w),
        is_sale=_.order_date.truncate("W").isin(sale.filter(sale.is_sale == 1).week)
        .cast("int8"),
    )


def orders_snapshot(rows: ir.Table, c: Cutoff) -> ir.Table:
    """RFM, timing, spend windows, sale-week and discount behaviour at T, and the label."""
    r = rows.filter(rows.order_date <= c.day)
    age = _days(_lit(c.day), r.order_date)
    # the customer's last order at T: the one whose next order is after T (or never)
    last = r.next_date.isnull() | (r.next_date > c.day)
    metrics = dict(
        frequency=_.count(),
        # distinct order days: a same-day order has gap 0 (a filtered count, not a distinct)
        purchase_days=r.count(where=r.gap.isnull() | (r.gap > 0)),
        first_date=r.order_date.min(),
        last_date=r.order_date.max(),
        monetary_total=r.amount.sum(),
        monetary_max=r.amount.max(),
        first_order_value=r.amount.max(where=r.gap.isnull()),
        last_amount=r.amount.max(where=last),
        last_gap=r.gap.max(where=last),
        gap_median=r.gap.median(),
        gap_std=r.gap.std(),
        sale_orders=r.is_sale.sum(),
        spend_prev180=r.amount.sum(where=(age >= 180) & (age < 360)),
        next_after=r.next_date.max(where=last),
    )
    for d in WINDOWS_DAYS:
        metrics[f"orders_{d}d"] = r.count(where=age < d)
        metrics[f"spend_{d}d"] = r.amount.sum(where=age < d)
    if "discount" in r.columns:
        metrics["discounted_orders"] = r.count(where=r.discount > 0)
        metrics["discount_money"] = r.discount.sum()
    a = r.group_by("customer_id").aggregate(**metrics)
    if c.labelled:
        bought = (a.next_after <= c.label_end).fill_null(False)
        churned = ibis.ifelse(bought, 0, 1).cast("int8")
    else:
        churned = ibis.null().cast("int8")
    return a.mutate(churned=churned, split=ibis.literal("train" if c.labelled else "score"))


def orders_block(orders: ir.Table, cuts: list[Cutoff], p: FeatureParams) -> ir.Table:
    """Purchase features per (customer, cutoff): the snapshots' aggregates and the ratios
    derived from them once, after stacking."""
    rows = order_rows(orders, p)
    a = per_cutoff(cuts, lambda c: orders_snapshot(rows, c))
    zero = ["spend_prev180"] + [f"spend_{d}d" for d in WINDOWS_DAYS]
    a = a.mutate(**{col: a[col].fill_null(0.0) for col in zero})
    n = a.frequency
    span = _days(a.last_date, a.first_date).cast("float64")
    earlier_gaps = (span - a.last_gap) / (n - 2)
    earlier_mean = (a.monetary_total - a.last_amount) / (n - 1)
    recent, prior = a.spend_180d, a.spend_prev180
    derived = dict(
        recency_days=_days(a.cutoff, a.last_date),
        tenure_days=_days(a.cutoff, a.first_date),
        monetary_mean=a.monetary_total / n,
        one_time_buyer=(n == 1).cast("int8"),
        gap_mean=ibis.ifelse(n > 1, span / (n - 1), ibis.null()),
        overdue_factor=_days(a.cutoff, a.last_date) / a.gap_median.nullif(0),
        gap_trend=ibis.ifelse(n > 2, a.last_gap / earlier_gaps.nullif(0), ibis.null()),
        last_order_value_ratio=ibis.ifelse(n > 1, a.last_amount / earlier_mean.nullif(0),
                                           ibis.null()),
        spend_trend=(recent - prior) / (recent + prior).nullif(0),
        sale_week_share=a.sale_orders / n,
    )
    if "discounted_orders" in a.columns:
        derived["discount_share"] = a.discounted_orders / n
        derived["discount_depth"] = a.discount_money / (a.monetary_total
                                                        + a.discount_money).nullif(0)
    return a.mutate(**derived)


def quintiles(base: ir.Table, column: str, score: str, descending: bool = False) -> ir.Table:
    """(cutoff, column, score): the percent-rank quintile of each distinct value per cutoff
    (ties share a score). Ranked from per-value counts: sorting distinct values costs far less
    than ranking every customer, and the cutoffs rank in parallel."""
    counts = base.group_by(["cutoff", column]).aggregate(k=_.count())
    order = ibis.desc(column) if descending else ibis.asc(column)
    upto = counts.k.sum().over(ibis.cumulative_window(group_by="cutoff", order_by=order))
    n = counts.k.sum().over(group_by="cutoff")
    below = (upto - counts.k).cast("float64") / (n - 1).nullif(0).cast("float64")
    value = ibis.least(5, (below.fill_null(0) * 5).floor().cast("int64") + 1)
    return counts.select("cutoff", column, **{score: value})


def rfm_scores(base: ir.Table, tiers: Mapping[str, int]) -> ir.Table:
    """Quintile scores per cutoff and the membership tier they set."""
    # rank spend in cents: engines add floats in different orders, and the last bits must not
    # move a customer across a quintile boundary
    ranked = base.mutate(spend_cents=(base.monetary_total * 100).round().cast("int64"))
    out = ranked
    for score, column, descending in (("r_score", "recency_days", True),
                                      ("f_score", "frequency", False),
                                      ("m_score", "spend_cents", False)):
        out = out.join(quintiles(ranked, column, score, descending), ["cutoff", column])
    out = out.drop("spend_cents").mutate(rfm_score=_.r_score + _.f_score + _.m_score)
    tier = ibis.cases(*[(out.rfm_score >= floor, name)
                        for name, floor in sorted(tiers.items(), key=lambda kv: -kv[1])],
                      else_="bronze")
    return out.mutate(membership_tier=tier)


def items_block(items: ir.Table, orders: ir.Table, products: ir.Table | None,
                cuts: list[Cutoff], p: FeatureParams) -> tuple[ir.Table, ir.Table | None]:
    """Category spread, new arrivals, re-buys and price level of what the customer bought."""
    it = items.join(orders.select("order_id", "customer_id", "order_date"), "order_id")
    has_cat = products is not None and "category" in products.columns
    has_launch = products is not None and "launch_date" in products.columns
    if products is not None:
        cols = ["product_id"] + [c for c in ("category", "launch_date") if c in products.columns]
        it = it.left_join(products.select(*cols), "product_id").drop("product_id_right")
    first_buy = _.order_date.min().over(group_by=["customer_id", "product_id"])
    it = it.mutate(is_repeat=(it.order_date > first_buy).cast("float64"))
    if has_launch:
        since_launch = _days(it.order_date, it.launch_date.cast("date"))
        it = it.mutate(is_new=((since_launch >= 0) & (since_launch < p.new_arrival_days))
                       .fill_null(False).cast("float64"))

    def snapshot(c: Cutoff) -> ir.Table:
        j = it.filter(it.order_date <= c.day)
        metrics = dict(distinct_products=_.product_id.nunique(),
                       repeat_product_share=_.is_repeat.mean())
        if has_launch:
            metrics["new_arrival_share"] = _.is_new.mean()
        if has_cat:
            cat_price = j.unit_price.mean().over(group_by="category")
            j = j.mutate(price_rel=j.unit_price / cat_price.nullif(0))
            metrics["distinct_categories"] = _.category.nunique()
            metrics["price_ratio"] = _.price_rel.mean()
        return j.group_by("customer_id").aggregate(**metrics)

    def entropy(c: Cutoff) -> ir.Table:
        j = it.filter(it.order_date <= c.day)
        per_cat = j.filter(j.category.notnull()).group_by(["customer_id", "category"]).aggregate(
            k=_.quantity.sum())
        per_cat = per_cat.mutate(p=_.k / _.k.sum().over(group_by="customer_id"))
        return per_cat.group_by("customer_id").aggregate(
            category_entropy=-(_.p * _.p.log2()).sum())

    return per_cutoff(cuts, snapshot), per_cutoff(cuts, entropy) if has_cat else None


def returned_orders(orders_all: ir.Table, returns: ir.Table | None, as_of: date) -> ir.Table:
    """One row per returned order (status `returned` and/or a row in `returns`): its customer,
    order date, first return date, value, and whether its status says returned."""
    o = orders_all.mutate(order_date=_.order_ts.cast("date")).filter(_.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status != "cancelled")
    parts = []
    if "status" in o.columns:
        parts.append(o.filter(o.status == "returned").select(
            "order_id", "customer_id", "order_date", ret_date=_.order_date, value=_.amount,
            by_status=ibis.literal(1, type="int8")))
    if returns is not None:
        r = returns.join(o.select("order_id", "customer_id", "order_date", "amount"), "order_id")
        value = r.amount_right if "amount_right" in r.columns else None
        value = r.amount.fill_null(value) if value is not None else r.amount
        parts.append(r.select("order_id", "customer_id", "order_date",
                              ret_date=_.return_ts.cast("date"), value=value.cast("float64"),
                              by_status=ibis.literal(0, type="int8")))
    ret = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    return ret.group_by(["order_id", "customer_id", "order_date"]).aggregate(
        ret_date=_.ret_date.min(), value=_.value.max(), by_status=_.by_status.max())


def returns_block(orders_all: ir.Table, returns: ir.Table | None, cuts: list[Cutoff],
                  as_of: date) -> ir.Table:
    """Returns known at T; `status_returned` counts returned-status orders, which the
    completed-order aggregates leave out but a return rate's denominator needs."""
    ret = returned_orders(orders_all, returns, as_of)

    def snapshot(c: Cutoff) -> ir.Table:
        # a return dated before its order (bad data) must not bring a later order into T
        r = ret.filter((ret.ret_date <= c.day) & (ret.order_date <= c.day))
        return r.group_by("customer_id").aggregate(
            returned_orders=_.count(), returned_value=_.value.sum(),
            last_return_date=_.ret_date.max(), last_returned_order=_.order_date.max(),
            status_returned=_.by_status.sum(),
            last_status_returned=_.order_date.max(where=_.by_status == 1))

    return per_cutoff(cuts, snapshot)


def reviews_block(reviews: ir.Table, cuts: list[Cutoff]) -> ir.Table:
    r = reviews.mutate(review_date=_.review_ts.cast("date"))

    def snapshot(c: Cutoff) -> ir.Table:
        j = r.filter(r.review_date <= c.day)
        a = j.group_by("customer_id").aggregate(
            last_rating=_.rating.argmax(_.review_ts), mean_rating=_.rating.mean(),
            low_ratings=(_.rating <= 2).cast("int64").sum(), n=_.count(), total=_.rating.sum())
        earlier = (a.total - a.last_rating) / (a.n - 1).nullif(0)
        return a.mutate(rating_drop=earlier - a.last_rating).drop("n", "total")

    return per_cutoff(cuts, snapshot)


def events_block(events: ir.Table, purchases: ir.Table, cuts: list[Cutoff]) -> ir.Table:
    """Engagement since the last order (`last_date` of the purchases block) and in the last 90
    days; complaints; coupons."""
    daily = events.mutate(event_date=_.event_ts.cast("date")).group_by(
        ["customer_id", "event_date", "event_type"]).aggregate(n=_.count())

    def snapshot(c: Cutoff) -> ir.Table:
        last_order = purchases.filter(purchases.cutoff == _lit(c.day)).select(
            "customer_id", "last_date")
        j = daily.filter(daily.event_date <= c.day).join(last_order, "customer_id")
        since = j.event_date > j.last_date
        recent = _days(_lit(c.day), j.event_date) < 90

        def count(kind: str, when=None) -> ir.Value:
            cond = j.event_type == kind
            if when is not None:
                cond = cond & when
            return ibis.ifelse(cond, j.n, 0).sum()

        return j.group_by("customer_id").aggregate(
            visits_since_last_order=count("visit", since),
            email_opens_since_last_order=count("email_open", since),
            email_clicks_since_last_order=count("email_click", since),
            coupon_claims_since_last_order=count("coupon_claim", since),
            visits_90d=count("visit", recent),
            email_opens_90d=count("email_open", recent),
            coupon_claims=count("coupon_claim"),
            complaints=count("complaint"),
            favorited=(count("favorite") > 0).cast("int8"),
            last_event_date=_.event_date.max(),
            last_complaint_date=_.event_date.max(where=_.event_type == "complaint"),
        )

    return per_cutoff(cuts, snapshot)


ATTRIBUTE_SHARES = ("region", "acquisition_channel", "gender")


def attributes_block(customers: ir.Table, base: ir.Table) -> ir.Table:
    """Customer attributes at each cutoff, for the customers of that cutoff: days since
    sign-up (unknown before it: a sign-up after the cutoff is not known then), age from the
    birth year, and each categorical attribute as the share of the cutoff's customers with the
    same value (frequency encoding: numeric, so SHAP, drift and Spark treat it like any other
    feature, and stable across runs, so a champion trained last month reads it alike)."""
    cols = set(customers.columns)
    c = customers.distinct(on="customer_id")
    t = base.select("customer_id", "cutoff").join(c, "customer_id", how="left")
    t = t.drop(*[x for x in t.columns if x.endswith("_right")])
    out: dict[str, ir.Value] = {}
    if "signup_ts" in cols:
        signup = t.signup_ts.cast("date")
        out["signup_age_days"] = (signup <= t.cutoff).ifelse(_days(t.cutoff, signup), ibis.null())
    if "birth_year" in cols:
        age = t.cutoff.year().cast("float64") - t.birth_year.cast("float64")
        out["age_years"] = age.between(10, 110).ifelse(age, ibis.null())
    for col in ATTRIBUTE_SHARES:
        if col in cols:
            value = t[col].cast("string").fill_null("")
            same = _.count().over(ibis.window(group_by=[t.cutoff, value]))
            every = _.count().over(ibis.window(group_by=t.cutoff))
            out[f"{col}_share"] = same.cast("float64") / every
    return t.select("customer_id", "cutoff", **out)


def build(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
          p: FeatureParams = FeatureParams(), horizon_days: int = 365,
          score_max_lapsed_days: int | None = None) -> tuple[ir.Table, list[str]]:
    """The features table (customer_id, cutoff, split, features..., membership_tier,
    purchase_days, churned)
    and the names of the model features the shop's tables support. `cutoffs` include as_of
    (the scoring snapshot); a cutoff is labelled when its horizon ends at or before as_of."""
    schema = {name: set(t.columns) for name, t in tables.items()}
    names = [f.name for f in available(schema)]
    cuts = snapshots(cutoffs, as_of, horizon_days)
    orders = completed_orders(tables["orders"], as_of)

    purchases = orders_block(orders, cuts, p)
    base = rfm_scores(purchases, p.membership_tiers)
    blocks: list[ir.Table] = []
    if "order_items" in tables:
        items_feats, entropy = items_block(tables["order_items"], orders, tables.get("products"),
                                           cuts, p)
        blocks.append(items_feats)
        if entropy is not None:
            blocks.append(entropy)
    if "status" in schema["orders"] or "returns" in tables:
        blocks.append(returns_block(tables["orders"], tables.get("returns"), cuts, as_of))
    if "reviews" in tables:
        blocks.append(reviews_block(tables["reviews"], cuts))
    if "events" in tables:
        blocks.append(events_block(tables["events"], purchases, cuts))
    if "customers" in tables:
        blocks.append(attributes_block(tables["customers"], base))
    out = base
    for block in blocks:
        out = out.left_join(block, KEY)
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    extra = {}
    cols = set(out.columns)
    if "returned_orders" in cols:
        # returned-status orders are orders too: the rate's denominator counts them
        orders_all = out.frequency + out.status_returned.fill_null(0)
        last_any = ibis.greatest(out.last_date, out.last_status_returned.fill_null(out.last_date))
        extra["return_rate"] = out.returned_orders.fill_null(0) / orders_all
        returned = out.returned_value.fill_null(0)
        extra["returned_value_share"] = returned / (out.monetary_total + returned).nullif(0)
        extra["days_since_last_return"] = _days(out.cutoff, out.last_return_date)
        extra["last_order_returned"] = (out.last_returned_order == last_any).fill_null(False) \
            .cast("int8")
    if "last_event_date" in cols:
        zero_fill = ["visits_since_last_order", "email_opens_since_last_order",
                     "email_clicks_since_last_order", "coupon_claims_since_last_order",
                     "visits_90d", "email_opens_90d", "coupon_claims", "complaints", "favorited"]
        extra.update({c: out[c].fill_null(0) for c in zero_fill})
        extra["days_since_last_event"] = _days(out.cutoff, out.last_event_date)
        extra["days_since_last_complaint"] = _days(out.cutoff, out.last_complaint_date)
        extra["browse_ratio"] = out.visits_90d.fill_null(0) / (out.orders_90d + 1)
    if "low_ratings" in cols:
        extra["low_ratings"] = out.low_ratings.fill_null(0)
    out = out.mutate(**extra)
    labelled = out.split == "train"
    keep = ibis.literal(True)
    if p.train_max_lapsed_days is not None:
        keep = keep & (~labelled | (out.recency_days <= p.train_max_lapsed_days))
    if score_max_lapsed_days is not None:
        keep = keep & (labelled | (out.recency_days <= score_max_lapsed_days))
    out = out.filter(keep)
    feature_cols = [out[n].cast("float64").name(n) for n in names]
    # purchase_days (distinct order days) is no model feature: the transactions BTYD counts
    return out.select("customer_id", "cutoff", "split", *feature_cols, "membership_tier",
                      out.purchase_days.cast("float64").name("purchase_days"), "churned"), names

# --- the cause evidence ---

CAUSES = ("forgot", "satisfaction", "choice", "price", "other")
#: the causes a text can point at (nobody writes "I forgot you" in a return form)
TEXT_CAUSES = ("satisfaction", "choice", "price", "other")

#: keywords per cause for `returns.reason` and `events.detail`, matched as whole words in the
#: lower-cased text (hyphens and underscores read as spaces). Deliberately generic (retail
#: vocabulary, not one shop's codes); a shop passes its own. Size/fit problems point at no
#: cause and are left out on purpose.
DEFAULT_VOCABULARY: dict[str, tuple[str, ...]] = {
    "satisfaction": (
        "quality", "poor quality", "bad quality", "low quality", "damaged", "broken", "defect",
        "defective", "faulty", "not as described", "wrong item", "wrong product", "missing",
        "never arrived", "not delivered", "late", "delayed", "delay", "delivery", "rude",
        "service", "stain", "stained", "torn", "ripped", "smell", "fake", "counterfeit",
        "disappointed", "disappointing", "complaint", "refund", "scratched", "leaking",
    ),
    "price": (
        "cheaper", "found cheaper", "price", "prices", "expensive", "too expensive",
        "overpriced", "overcharged", "cost", "sale", "sales", "discount", "discounts",
        "coupon", "coupons", "voucher", "vouchers", "promo", "promotion", "promotions", "deal",
        "deals", "offer", "offers", "clearance", "outlet", "price match", "bargain",
    ),
    "choice": (
        "new arrival", "new arrivals", "new in", "new collection", "just in", "latest",
        "collection", "collections", "trending", "lookbook", "found better", "found another",
        "better option", "alternative", "other brand", "another brand", "variety", "selection",
        "compare", "comparison", "wishlist", "browse", "catalogue", "catalog",
    ),
    "other": (
        "changed mind", "changed my mind", "no longer needed", "not needed", "no longer want",
        "ordered by mistake", "mistake", "duplicate", "moved", "moving", "gift",
    ),
}

#: event types counted after the last order (the contract's lower-cased `event_type` values)
POST_EVENT_TYPES = {"visit": "post_visits", "email_open": "post_email_opens",
                    "email_click": "post_email_clicks", "coupon_claim": "post_coupon_claims"}


def keyword_pattern(keywords: Sequence[str]) -> str | None:
    """One regex matching any keyword as whole words (None for an empty list). Words of a
    keyword may be separated by spaces, hyphens or underscores: "new arrivals" also matches
    a page type written "new-arrivals" or "new_arrivals"."""
    words = sorted({k.strip().lower() for k in keywords if k and k.strip()}, key=len,
                   reverse=True)
    if not words:
        return None
    alternatives = [r"[\s_-]+".join(re.escape(t) for t in re.split(r"[\s_-]+", w) if t)
                    for w in words]
    return r"\b(?:" + "|".join(alternatives) + r")\b"


def _matches(text: ir.StringValue, pattern: str | None) -> ir.Value:
    if pattern is None:
        return ibis.literal(0, type="int64")
    # underscores and hyphens separate words in page slugs ("sale_page", "new-arrivals")
    words = text.lower().re_replace(r"[_-]", " ")
    return words.re_search(pattern).fill_null(False).cast("int64")


def _patterns(vocabulary: Mapping[str, Sequence[str]]) -> dict[str, str | None]:
    unknown = set(vocabulary) - set(CAUSES)
    if unknown:
        raise ValueError(f"vocabulary keys must be causes {CAUSES}, got {sorted(unknown)}")
    return {c: keyword_pattern(vocabulary.get(c, ())) for c in TEXT_CAUSES}


def _orders(orders: ir.Table, as_of: date) -> ir.Table:
    """Non-cancelled orders up to as_of with the dates of the customer's next and next-but-one
    order (one window, shared by every cutoff)."""
    o = orders.mutate(order_date=_.order_ts.cast("date"))
    o = o.filter(o.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status != "cancelled"))
    w = ibis.window(group_by="customer_id", order_by=["order_ts", "amount"])
    cols = ["customer_id", "order_date"] + (["order_id"] if "order_id" in o.columns else [])
    return o.select(*cols, next2=_.order_date.lead(2).over(w))


def _anchor(rows: ir.Table, day: date) -> ir.Table:
    """Per customer at T: orders so far, the last order's date and the episode start (the
    date of the second-to-last order, or of the only one)."""
    r = rows.filter(rows.order_date <= day)
    in_last_two = r.next2.isnull() | (r.next2 > day)
    return r.group_by("customer_id").aggregate(
        ev_orders=_.count(), last_date=r.order_date.max(),
        episode_start=r.order_date.min(where=in_last_two))


def _returns_block(orders: ir.Table, returns: ir.Table | None, rows: ir.Table, cuts,
                   patterns: Mapping[str, str | None], as_of: date) -> ir.Table | None:
    """Returned orders known at T (a `returns` row or status `returned`), those among the last
    two orders, return reasons per cause and the latest reason in words."""
    o = orders.mutate(order_date=_.order_ts.cast("date")).filter(_.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status != "cancelled"))
    parts = []
    if "status" in o.columns:
        parts.append(o.filter(o.status == "returned").select(
            "order_id", "customer_id", "order_date", ret_ts=_.order_ts,
            reason=ibis.null().cast("string")))
    has_reason = returns is not None and "reason" in returns.columns
    if returns is not None:
        j = returns.join(o.select("order_id", "customer_id", "order_date"), "order_id")
        parts.append(j.select("order_id", "customer_id", "order_date", ret_ts=_.return_ts,
                              reason=j.reason.cast("string") if has_reason
                              else ibis.null().cast("string")))
    if not parts:
        return None
    ret = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    ret = ret.mutate(ret_date=_.ret_ts.cast("date"),
                     **{f"_r_{c}": _matches(ret.reason, p) for c, p in patterns.items()})

    def snapshot(c) -> ir.Table:
        anchor = _anchor(rows, c.day).select("customer_id", "episode_start")
        r = ret.filter((ret.ret_date <= c.day) & (ret.order_date <= c.day))
        r = r.left_join(anchor, "customer_id").drop("customer_id_right")
        in_episode = r.order_date >= r.episode_start
        metrics = dict(
            ev_returned_orders=r.order_id.nunique(),
            returns_in_episode=r.order_id.nunique(where=in_episode),
        )
        if has_reason:
            metrics.update({f"return_reason_{cause}": r[f"_r_{cause}"].sum()
                            for cause in patterns})
            metrics["last_return_reason"] = r.reason.argmax(r.ret_ts, where=r.reason.notnull())
        return r.group_by("customer_id").aggregate(**metrics)

    return per_cutoff(cuts, snapshot)


def _reviews_block(reviews: ir.Table, rows: ir.Table, cuts) -> ir.Table:
    """Low ratings (1-2 stars) given in the episode, and the lowest rating there."""
    rv = reviews.mutate(review_date=_.review_ts.cast("date"))

    def snapshot(c) -> ir.Table:
        anchor = _anchor(rows, c.day).select("customer_id", "episode_start")
        j = rv.filter(rv.review_date <= c.day).join(anchor, "customer_id")
        in_episode = j.review_date >= j.episode_start
        return j.group_by("customer_id").aggregate(
            low_ratings_in_episode=(in_episode & (j.rating <= 2)).cast("int64").sum(),
            min_rating_in_episode=j.rating.min(where=in_episode))

    return per_cutoff(cuts, snapshot)


def _events_block(events: ir.Table, rows: ir.Table, cuts,
                  patterns: Mapping[str, str | None]) -> ir.Table:
    """Engagement after the last order, complaints in the episode, and what event details
    (complaint topics, page types) point at, all and after the last order."""
    has_detail = "detail" in events.columns
    e = events.mutate(event_date=_.event_ts.cast("date"), etype=_.event_type.lower())
    flags = {}
    if has_detail:
        flags = {f"_d_{c}": _matches(e.detail.cast("string"), p) for c, p in patterns.items()}
    e = e.mutate(is_complaint=(e.etype == "complaint").cast("int64"), **flags)
    # one row per customer, day, type: the snapshots scan far fewer rows
    daily = e.group_by(["customer_id", "event_date", "etype", "is_complaint"]).aggregate(
        n=_.count(), **{k: e[k].sum() for k in flags})
    complaints = (e.filter(e.is_complaint == 1).select("customer_id", "event_ts", "event_date",
                                                       "detail")
                  if has_detail else None)

    def snapshot(c) -> ir.Table:
        anchor = _anchor(rows, c.day).select("customer_id", "last_date", "episode_start")
        j = daily.filter(daily.event_date <= c.day).join(anchor, "customer_id")
        since = j.event_date > j.last_date
        complaint = j.is_complaint == 1
        metrics = {name: ibis.ifelse(since & (j.etype == kind), j.n, 0).sum()
                   for kind, name in POST_EVENT_TYPES.items()}
        metrics.update(
            post_events=ibis.ifelse(since & ~complaint, j.n, 0).sum(),
            post_active_days=j.event_date.nunique(where=since & ~complaint),
            last_post_event=j.event_date.max(where=since & ~complaint),
            complaints_in_episode=ibis.ifelse(complaint & (j.event_date >= j.episode_start),
                                              j.n, 0).sum(),
        )
        for cause in patterns if has_detail else ():
            flag = j[f"_d_{cause}"]
            metrics[f"complaint_{cause}"] = ibis.ifelse(complaint, flag, 0).sum()
            metrics[f"detail_{cause}"] = ibis.ifelse(complaint, 0, flag).sum()
            metrics[f"post_detail_{cause}"] = ibis.ifelse(since & ~complaint, flag, 0).sum()
        out = j.group_by("customer_id").aggregate(**metrics)
        if complaints is not None:
            cj = complaints.filter(complaints.event_date <= c.day)
            topic = cj.group_by("customer_id").aggregate(
                last_complaint_detail=cj.detail.argmax(cj.event_ts, where=cj.detail.notnull()))
            out = out.left_join(topic, "customer_id").drop("customer_id_right")
        return out

    return per_cutoff(cuts, snapshot)


def evidence(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
             vocabulary: Mapping[str, Sequence[str]] | None = None) -> ir.Table:
    """Cause evidence per (customer_id, cutoff) for every customer with a non-cancelled order
    at or before the cutoff; join it to `engine.build`'s table on `engine.KEY`.

    Columns (each only when its table/column exists):
    - orders: `ev_orders` (non-cancelled orders), `days_since_last_order`;
    - returns or orders.status: `ev_returned_orders`, `returns_in_episode` (returned orders
      among the last two); with returns.reason: `return_reason_<cause>` (returns whose reason
      matches the cause's keywords) and `last_return_reason` (text);
    - reviews: `low_ratings_in_episode`, `min_rating_in_episode`;
    - events: `post_visits`, `post_email_opens`, `post_email_clicks`, `post_coupon_claims`,
      `post_events`, `post_active_days` (days with any event after the last order),
      `post_engaged_days` (last order to the last event after it), `complaints_in_episode`;
      with events.detail: `complaint_<cause>`, `detail_<cause>` (other events),
      `post_detail_<cause>` (other events after the last order), `last_complaint_detail`.
    """
    patterns = _patterns(DEFAULT_VOCABULARY if vocabulary is None else vocabulary)
    cuts = snapshots(cutoffs, as_of, 0)
    rows = _orders(tables["orders"], as_of)
    base = per_cutoff(cuts, lambda c: _anchor(rows, c.day))
    blocks = []
    orders = tables["orders"]
    returns = tables.get("returns")
    if ("status" in orders.columns or returns is not None) and "order_id" in orders.columns:
        blocks.append(_returns_block(orders, returns, rows, cuts, patterns, as_of))
    if "reviews" in tables:
        blocks.append(_reviews_block(tables["reviews"], rows, cuts))
    if "events" in tables:
        blocks.append(_events_block(tables["events"], rows, cuts, patterns))
    out = base
    for block in blocks:
        if block is None:
            continue
        out = out.left_join(block, KEY)
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    texts = {"last_return_reason", "last_complaint_detail"}
    keep_null = {"min_rating_in_episode", "last_post_event", "last_date", "episode_start"}
    fills = {c: out[c].fill_null(0) for c in out.columns
             if c not in (*KEY, *texts, *keep_null)}
    out = out.mutate(**fills)
    extra = {"days_since_last_order": _days(out.cutoff, out.last_date).cast("float64")}
    if "last_post_event" in out.columns:
        extra["post_engaged_days"] = _days(out.last_post_event, out.last_date) \
            .fill_null(0).cast("float64")
    out = out.mutate(**extra).drop(*[c for c in ("last_date", "episode_start", "last_post_event")
                                     if c in out.columns])
    numeric = [c for c in out.columns if c not in (*KEY, *texts)]
    return out.select(*KEY, *[out[c].cast("float64").name(c) for c in numeric],
                      *[c for c in out.columns if c in texts])


def vocabulary_with(extra: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The built-in vocabulary plus a shop's own keywords per cause (params.yaml)."""
    causes = dict.fromkeys([*DEFAULT_VOCABULARY, *extra])
    return {c: (*DEFAULT_VOCABULARY.get(c, ()), *extra.get(c, ())) for c in causes}


def with_evidence(features: ir.Table, ev: ir.Table) -> ir.Table:
    """`engine.build`'s table with the evidence columns joined on (customer_id, cutoff)."""
    out = features.left_join(ev, KEY)
    return out.drop(*[c for c in out.columns if c.endswith("_right")])


def evidence_columns(frame_columns: Sequence[str]) -> list[str]:
    """The numeric evidence columns among a frame's columns (for a model's feature list)."""
    prefixes = ("ev_", "returns_in_", "return_reason_", "low_ratings_in_", "min_rating_in_",
                "post_", "complaints_in_", "complaint_", "detail_", "days_since_last_order")
    return [c for c in frame_columns if c.startswith(prefixes)]


__all__ = ["CAUSES", "DEFAULT_VOCABULARY", "TEXT_CAUSES", "evidence", "evidence_columns",
           "keyword_pattern", "with_evidence"]
