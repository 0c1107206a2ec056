"""Point-in-time features and labels for many cutoffs in one pass, written once in Ibis.

Every block joins its events to the cutoffs table on `event_date <= cutoff` and aggregates per
(customer_id, cutoff), so a feature at T can only see events at or before T; labels look only at
(T, T + horizon]. The expressions keep to what DuckDB and PySpark both run: dates cast before day
differences, no as-of joins, plain windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from features.registry import available

KEY = ["customer_id", "cutoff"]


@dataclass(frozen=True)
class FeatureParams:
    horizon_days: int = 365
    new_arrival_days: int = 90
    sale_week_volume_ratio: float = 1.5
    sale_week_lookback: int = 8
    train_max_lapsed_days: int | None = None
    score_max_lapsed_days: int | None = None
    tiers: Mapping[str, int] = field(default_factory=lambda: {"gold": 12, "silver": 9})


def _days(later: ir.Value, earlier: ir.Value) -> ir.Value:
    return later.delta(earlier, unit="day")


def cutoff_table(cutoffs: list[date], as_of: date, horizon_days: int) -> ir.Table:
    """One row per cutoff; labelled when its whole horizon lies at or before as_of."""
    rows = {
        "cutoff": cutoffs,
        "label_end": [t + timedelta(days=horizon_days) for t in cutoffs],
        "labelled": [t + timedelta(days=horizon_days) <= as_of for t in cutoffs],
    }
    return ibis.memtable(rows, schema={"cutoff": "date", "label_end": "date",
                                       "labelled": "boolean"})


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
    w = ibis.window(order_by="week", preceding=p.sale_week_lookback, following=0)
    weekly = weekly.mutate(trail_k=_.n.count().over(w) - 1)
    weekly = weekly.mutate(trail_n=(_.n.sum().over(w) - _.n) / _.trail_k.nullif(0))
    enough = weekly.trail_k >= p.sale_week_lookback // 2
    is_sale = enough & (weekly.n >= p.sale_week_volume_ratio * weekly.trail_n)
    if has_discount:
        weekly = weekly.mutate(trail_d=(_.disc.sum().over(w) - _.disc) / _.trail_k.nullif(0))
        is_sale = is_sale | (enough & (weekly.disc >= 0.2) & (weekly.disc >= 2 * weekly.trail_d))
    return weekly.select("week", is_sale=is_sale.fill_null(False).cast("int8"))


def orders_block(orders: ir.Table, cuts: ir.Table, p: FeatureParams) -> ir.Table:
    """RFM, timing, spend windows, sale-week and discount behaviour."""
    # one window for both neighbours; tied timestamps give zero gaps in any order
    w = ibis.window(group_by="customer_id", order_by="order_ts")
    o = orders.mutate(gap=_days(_.order_date, _.order_date.lag().over(w)).cast("float64"),
                      next_date=_.order_date.lead().over(w))
    sale = _sale_weeks(orders, p)
    o = o.mutate(is_sale=o.order_date.truncate("W").isin(sale.filter(sale.is_sale == 1).week)
                 .cast("int8"))
    j = o.join(cuts, o.order_date <= cuts.cutoff)
    age = _days(j.cutoff, j.order_date)
    metrics = dict(
        frequency=_.count(),
        first_date=_.order_date.min(),
        last_date=_.order_date.max(),
        monetary_total=_.amount.sum(),
        monetary_max=_.amount.max(),
        first_order_value=_.amount.argmin(_.order_ts),
        last_amount=_.amount.argmax(_.order_ts),
        last_gap=_.gap.argmax(_.order_ts),
        gap_median=_.gap.median(),
        gap_std=_.gap.std(),
        sale_orders=_.is_sale.sum(),
        # the latest "next order" of orders up to T is the first order after T (or null)
        next_after=_.next_date.max(),
        labelled=_.labelled.max(),
        label_end=_.label_end.max(),
        spend_prev180=ibis.ifelse((age >= 180) & (age < 360), j.amount, 0.0).sum(),
    )
    for d in (30, 90, 180, 365):
        metrics[f"orders_{d}d"] = (age < d).cast("int64").sum()
        metrics[f"spend_{d}d"] = ibis.ifelse(age < d, j.amount, 0.0).sum()
    if "discount" in o.columns:
        metrics["discounted_orders"] = (j.discount.fill_null(0) > 0).cast("int64").sum()
        metrics["discount_money"] = j.discount.fill_null(0).sum()
    a = j.group_by(KEY).aggregate(**metrics)
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
    if "discount" in o.columns:
        derived["discount_share"] = a.discounted_orders / n
        derived["discount_depth"] = a.discount_money / (a.monetary_total
                                                        + a.discount_money).nullif(0)
    return a.mutate(**derived)


def rfm_scores(base: ir.Table, tiers: Mapping[str, int]) -> ir.Table:
    """Quintile scores per cutoff (ties share a score) and the membership tier they set."""

    def score(order_by) -> ir.Value:
        pr = ibis.percent_rank().over(ibis.window(group_by="cutoff", order_by=order_by))
        return ibis.least(5, (pr * 5).floor().cast("int64") + 1)

    # rank spend in cents: engines add floats in different orders, and the last bits must not
    # move a customer across a quintile boundary
    base = base.mutate(r_score=score(ibis.desc("recency_days")), f_score=score("frequency"),
                       m_score=score(base.monetary_total.round(2)))
    base = base.mutate(rfm_score=_.r_score + _.f_score + _.m_score)
    tier = ibis.cases(*[(base.rfm_score >= floor, name)
                        for name, floor in sorted(tiers.items(), key=lambda kv: -kv[1])],
                      else_="bronze")
    return base.mutate(membership_tier=tier)


def items_block(items: ir.Table, orders: ir.Table, products: ir.Table | None,
                cuts: ir.Table, p: FeatureParams) -> tuple[ir.Table, ir.Table | None]:
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
    j = it.join(cuts.select("cutoff"), it.order_date <= cuts.cutoff)
    metrics = dict(distinct_products=_.product_id.nunique(),
                   repeat_product_share=_.is_repeat.mean())
    if has_launch:
        metrics["new_arrival_share"] = _.is_new.mean()
    entropy = None
    if has_cat:
        cat_price = j.unit_price.mean().over(group_by=["cutoff", "category"])
        j = j.mutate(price_rel=j.unit_price / cat_price.nullif(0))
        metrics["distinct_categories"] = _.category.nunique()
        metrics["price_ratio"] = _.price_rel.mean()
        per_cat = j.filter(j.category.notnull()).group_by([*KEY, "category"]).aggregate(
            k=_.quantity.sum())
        per_cat = per_cat.mutate(p=_.k / _.k.sum().over(group_by=KEY))
        entropy = per_cat.group_by(KEY).aggregate(
            category_entropy=-(_.p * _.p.log2()).sum())
    return j.group_by(KEY).aggregate(**metrics), entropy


def returns_block(orders_all: ir.Table, returns: ir.Table | None, cuts: ir.Table,
                  as_of: date) -> ir.Table:
    """Returned orders and value, from the returns table and/or order status."""
    o = orders_all.mutate(order_date=_.order_ts.cast("date")).filter(_.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status != "cancelled")
    parts = []
    if "status" in o.columns:
        parts.append(o.filter(o.status == "returned").select(
            "order_id", "customer_id", "order_date", ret_date=_.order_date, value=_.amount))
    if returns is not None:
        r = returns.join(o.select("order_id", "customer_id", "order_date", "amount"), "order_id")
        value = r.amount_right if "amount_right" in r.columns else None
        value = r.amount.fill_null(value) if value is not None else r.amount
        parts.append(r.select("order_id", "customer_id", "order_date",
                              ret_date=_.return_ts.cast("date"), value=value.cast("float64")))
    ret = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    ret = ret.group_by(["order_id", "customer_id", "order_date"]).aggregate(
        ret_date=_.ret_date.min(), value=_.value.max())
    rj = ret.join(cuts.select("cutoff"), ret.ret_date <= cuts.cutoff)
    rets = rj.group_by(KEY).aggregate(returned_orders=_.order_id.nunique(),
                                      returned_value=_.value.sum(),
                                      last_return_date=_.ret_date.max(),
                                      last_returned_order=_.order_date.max())
    oj = o.join(cuts.select("cutoff"), o.order_date <= cuts.cutoff)
    alls = oj.group_by(KEY).aggregate(orders_all=_.count(), last_any_order=_.order_date.max())
    j = alls.left_join(rets, KEY)
    return j.select(
        "customer_id", "cutoff", "orders_all", "last_return_date",
        returned_orders=_.returned_orders.fill_null(0),
        returned_value=_.returned_value.fill_null(0.0),
        last_order_returned=(j.last_returned_order == j.last_any_order).fill_null(False)
        .cast("int8"))


def reviews_block(reviews: ir.Table, cuts: ir.Table) -> ir.Table:
    r = reviews.mutate(review_date=_.review_ts.cast("date"))
    j = r.join(cuts.select("cutoff"), r.review_date <= cuts.cutoff)
    a = j.group_by(KEY).aggregate(
        last_rating=_.rating.argmax(_.review_ts), mean_rating=_.rating.mean(),
        low_ratings=(_.rating <= 2).cast("int64").sum(), n=_.count(), total=_.rating.sum())
    earlier = (a.total - a.last_rating) / (a.n - 1).nullif(0)
    return a.mutate(rating_drop=earlier - a.last_rating).drop("n", "total")


def events_block(events: ir.Table, base: ir.Table, cuts: ir.Table) -> ir.Table:
    """Engagement since the last order and in the last 90 days; complaints; coupons."""
    daily = events.mutate(event_date=_.event_ts.cast("date")).group_by(
        ["customer_id", "event_date", "event_type"]).aggregate(n=_.count())
    j = daily.join(cuts.select("cutoff"), daily.event_date <= cuts.cutoff)
    j = j.join(base.select(*KEY, "last_date"), KEY)
    since = j.event_date > j.last_date
    recent = _days(j.cutoff, j.event_date) < 90

    def count(kind: str, when=None) -> ir.Value:
        cond = j.event_type == kind
        if when is not None:
            cond = cond & when
        return ibis.ifelse(cond, j.n, 0).sum()

    return j.group_by(KEY).aggregate(
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


def build(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
          p: FeatureParams) -> tuple[ir.Table, list[str]]:
    """The features table (customer_id, cutoff, features..., membership_tier, churned) and
    the names of the model features the shop's tables support."""
    schema = {name: set(t.columns) for name, t in tables.items()}
    names = [f.name for f in available(schema)]
    cuts = cutoff_table(cutoffs, as_of, p.horizon_days)
    orders = completed_orders(tables["orders"], as_of)

    base = rfm_scores(orders_block(orders, cuts, p), p.tiers)
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
        blocks.append(events_block(tables["events"], base, cuts))
    out = base
    for block in blocks:
        out = out.left_join(block, KEY)
        out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    extra = {}
    cols = set(out.columns)
    if "returned_orders" in cols:
        extra["return_rate"] = out.returned_orders.fill_null(0) / out.orders_all.nullif(0)
        returned = out.returned_value.fill_null(0)
        extra["returned_value_share"] = returned / (out.monetary_total + returned).nullif(0)
        extra["days_since_last_return"] = _days(out.cutoff, out.last_return_date)
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
    lapsed = out.recency_days
    keep = ibis.literal(True)
    if p.train_max_lapsed_days is not None:
        keep = keep & (~out.labelled | (lapsed <= p.train_max_lapsed_days))
    if p.score_max_lapsed_days is not None:
        keep = keep & (out.labelled | (lapsed <= p.score_max_lapsed_days))
    out = out.filter(keep)
    # label: a completed order in (T, T + horizon]
    bought = (out.next_after > out.cutoff) & (out.next_after <= out.label_end)
    churned = ibis.ifelse(out.labelled, ibis.ifelse(bought.fill_null(False), 0, 1),
                          ibis.null()).cast("int8")
    out = out.mutate(churned=churned,
                     split=ibis.ifelse(out.labelled, "train", "score"))
    feature_cols = [out[n].cast("float64").name(n) for n in names]
    return out.select("customer_id", "cutoff", "split", *feature_cols, "membership_tier",
                      "churned"), names
