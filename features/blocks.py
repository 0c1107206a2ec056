"""The feature blocks beyond the orders: items, returns, reviews, events and customer attributes.

Each block is two parts: a shared pass over its table, built once for every cutoff (the items
with their first-purchase window, the returned orders, the events per customer and day), and a
snapshot: one aggregate at a cutoff T over the shared rows dated at or before T, keyed by
customer_id. With the cause evidence on, a block's snapshot also carries the evidence measures
of its table (features/signals.py), computed in the same aggregate: the rows of the customer's
episode need the episode start, which the snapshot reads from the orders aggregate at T (the
`anchor`), as the events block always read the date of the last order from it. A block joins the
anchor whole, never a selection of it: Ibis folds a selection into the projection below it, and
the engine would then compute the orders aggregate a second time instead of reusing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from common.params import FeatureParams
from features.signals import POST_EVENT_TYPES, matches


def days(later: ir.Value, earlier: ir.Value) -> ir.Value:
    return later.delta(earlier, unit="day")


def lit(day: date) -> ir.Value:
    return ibis.literal(day, type="date")


# --- items -------------------------------------------------------------------------------------


def item_rows(items: ir.Table, orders: ir.Table, products: ir.Table | None,
              p: FeatureParams) -> ir.Table:
    """Items of completed orders with their order's customer and date, product category and
    launch, and whether the item re-buys a product the customer bought before."""
    it = items.join(orders.select("order_id", "customer_id", "order_date"), "order_id")
    has_launch = products is not None and "launch_date" in products.columns
    if products is not None:
        cols = ["product_id"] + [c for c in ("category", "launch_date") if c in products.columns]
        it = it.left_join(products.select(*cols), "product_id").drop("product_id_right")
    first_buy = _.order_date.min().over(group_by=["customer_id", "product_id"])
    it = it.mutate(is_repeat=(it.order_date > first_buy).cast("float64"))
    if has_launch:
        since_launch = days(it.order_date, it.launch_date.cast("date"))
        it = it.mutate(is_new=((since_launch >= 0) & (since_launch < p.new_arrival_days))
                       .fill_null(False).cast("float64"))
    return it


def items_snapshot(it: ir.Table, day: date) -> list[ir.Table]:
    """Category spread, new arrivals, re-buys and price level of what the customer bought by
    T; with categories, the entropy of their items over categories too."""
    j = it.filter(it.order_date <= day)
    metrics = dict(distinct_products=_.product_id.nunique(),
                   repeat_product_share=_.is_repeat.mean())
    if "is_new" in it.columns:
        metrics["new_arrival_share"] = _.is_new.mean()
    if "category" not in it.columns:
        return [j.group_by("customer_id").aggregate(**metrics)]
    cat_price = j.unit_price.mean().over(group_by="category")
    priced = j.mutate(price_rel=j.unit_price / cat_price.nullif(0))
    metrics["distinct_categories"] = _.category.nunique()
    metrics["price_ratio"] = _.price_rel.mean()
    per_cat = j.filter(j.category.notnull()).group_by(["customer_id", "category"]).aggregate(
        k=_.quantity.sum())
    per_cat = per_cat.mutate(p=_.k / _.k.sum().over(group_by="customer_id"))
    entropy = per_cat.group_by("customer_id").aggregate(
        category_entropy=-(_.p * _.p.log2()).sum())
    return [priced.group_by("customer_id").aggregate(**metrics), entropy]


# --- returns -----------------------------------------------------------------------------------


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


def return_reasons(orders_all: ir.Table, returns: ir.Table, as_of: date,
                   patterns: Mapping[str, str | None]) -> ir.Table:
    """Each return row of a non-cancelled order with its reason and the causes it names."""
    o = orders_all.mutate(order_date=_.order_ts.cast("date")).filter(_.order_date <= as_of)
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status != "cancelled"))
    j = returns.join(o.select("order_id", "customer_id", "order_date"), "order_id")
    reason = j.reason.cast("string")
    return j.select("customer_id", "order_date", ret_ts=_.return_ts,
                    ret_date=_.return_ts.cast("date"), reason=reason,
                    **{f"_r_{c}": matches(reason, p) for c, p in patterns.items()})


def returns_snapshot(ret: ir.Table, reasons: ir.Table | None, day: date,
                     anchor: ir.Table | None) -> list[ir.Table]:
    """Returns known at T; `status_returned` counts returned-status orders, which the
    completed-order aggregates leave out but a return rate's denominator needs. With the
    evidence: returned orders among the last two orders, and the reasons given by T."""
    # a return dated before its order (bad data) must not bring a later order into T
    r = ret.filter((ret.ret_date <= day) & (ret.order_date <= day))
    metrics = dict(returned_orders=_.count(), returned_value=_.value.sum(),
                   last_return_date=_.ret_date.max(), last_returned_order=_.order_date.max(),
                   status_returned=_.by_status.sum(),
                   last_status_returned=_.order_date.max(where=_.by_status == 1))
    if anchor is not None:
        r = r.join(anchor, "customer_id")
        metrics["returns_in_episode"] = r.count(where=r.order_date >= r.episode_start)
    out = [r.group_by("customer_id").aggregate(**metrics)]
    if reasons is not None:
        rr = reasons.filter((reasons.ret_date <= day) & (reasons.order_date <= day))
        causes = [c[3:] for c in rr.columns if c.startswith("_r_")]
        out.append(rr.group_by("customer_id").aggregate(
            **{f"return_reason_{c}": rr[f"_r_{c}"].sum() for c in causes},
            last_return_reason=rr.reason.argmax(rr.ret_ts, where=rr.reason.notnull())))
    return out


# --- reviews -----------------------------------------------------------------------------------


def reviews_snapshot(reviews: ir.Table, day: date, anchor: ir.Table | None) -> ir.Table:
    """Ratings by T; with the evidence, low ratings (1-2 stars) given in the episode and the
    lowest rating there."""
    r = reviews.mutate(review_date=_.review_ts.cast("date"))
    j = r.filter(r.review_date <= day)
    metrics = dict(last_rating=_.rating.argmax(_.review_ts), mean_rating=_.rating.mean(),
                   low_ratings=(_.rating <= 2).cast("int64").sum(), n=_.count(),
                   total=_.rating.sum())
    if anchor is not None:
        j = j.join(anchor, "customer_id")
        in_episode = j.review_date >= j.episode_start
        metrics.update(
            low_ratings_in_episode=(in_episode & (j.rating <= 2)).cast("int64").sum(),
            min_rating_in_episode=j.rating.min(where=in_episode))
    a = j.group_by("customer_id").aggregate(**metrics)
    earlier = (a.total - a.last_rating) / (a.n - 1).nullif(0)
    return a.mutate(rating_drop=earlier - a.last_rating).drop("n", "total")


# --- events ------------------------------------------------------------------------------------


def daily_events(events: ir.Table, patterns: Mapping[str, str | None] | None) -> ir.Table:
    """One row per customer, day and event type (the snapshots scan far fewer rows); with the
    evidence and `events.detail`, how many of them name each cause."""
    e = events.mutate(event_date=_.event_ts.cast("date"))
    flags = {}
    if patterns is not None and "detail" in events.columns:
        flags = {f"_d_{c}": matches(e.detail.cast("string"), p) for c, p in patterns.items()}
    e = e.mutate(**flags)
    return e.group_by(["customer_id", "event_date", "event_type"]).aggregate(
        n=_.count(), **{k: e[k].sum() for k in flags})


def complaint_rows(events: ir.Table) -> ir.Table:
    e = events.mutate(event_date=_.event_ts.cast("date"))
    e = e.filter(e.event_type.lower() == "complaint")
    return e.select("customer_id", "event_ts", "event_date", "detail")


def events_snapshot(daily: ir.Table, complaints: ir.Table | None, day: date,
                    anchor: ir.Table, evidence: bool) -> ir.Table:
    """Engagement since the last order and in the last 90 days; complaints; coupons. With the
    evidence, engagement after the last non-cancelled order, complaints in the episode and what
    event details point at, all and after the last order."""
    j = daily.filter(daily.event_date <= day).join(anchor, "customer_id")
    since = j.event_date > j.last_date
    recent = j.event_date > lit(day - timedelta(days=90))   # fewer than 90 days before T

    def count(kind: str, when=None) -> ir.Value:
        cond = j.event_type == kind
        if when is not None:
            cond = cond & when
        return ibis.ifelse(cond, j.n, 0).sum()

    metrics = dict(
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
    if evidence:
        metrics.update(_event_evidence(j))
    out = j.group_by("customer_id").aggregate(**metrics)
    if evidence and complaints is not None:
        cj = complaints.filter(complaints.event_date <= day)
        topic = cj.group_by("customer_id").aggregate(
            last_complaint_detail=cj.detail.argmax(cj.event_ts, where=cj.detail.notnull()))
        out = out.left_join(topic, "customer_id").drop("customer_id_right")
    return out


def _event_evidence(j: ir.Table) -> dict[str, ir.Value]:
    etype = j.event_type.lower()
    since = j.event_date > j.last_any
    complaint = etype == "complaint"
    engaged = since & ~complaint
    metrics = {name: ibis.ifelse(since & (etype == kind), j.n, 0).sum()
               for kind, name in POST_EVENT_TYPES.items()}
    metrics.update(
        post_events=ibis.ifelse(engaged, j.n, 0).sum(),
        post_active_days=j.event_date.nunique(where=engaged),
        last_post_event=j.event_date.max(where=engaged),
        complaints_in_episode=ibis.ifelse(complaint & (j.event_date >= j.episode_start),
                                          j.n, 0).sum(),
    )
    for flag in [c for c in j.columns if c.startswith("_d_")]:
        cause = flag[3:]
        metrics[f"complaint_{cause}"] = ibis.ifelse(complaint, j[flag], 0).sum()
        metrics[f"detail_{cause}"] = ibis.ifelse(complaint, 0, j[flag]).sum()
        metrics[f"post_detail_{cause}"] = ibis.ifelse(engaged, j[flag], 0).sum()
    return metrics


# --- customer attributes -----------------------------------------------------------------------

ATTRIBUTE_SHARES = ("region", "acquisition_channel", "gender")


def attributes_snapshot(customers: ir.Table, base: ir.Table) -> ir.Table:
    """Customer attributes at the cutoff, for the customers of that cutoff: days since
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
        out["signup_age_days"] = (signup <= t.cutoff).ifelse(days(t.cutoff, signup), ibis.null())
    if "birth_year" in cols:
        age = t.cutoff.year().cast("float64") - t.birth_year.cast("float64")
        out["age_years"] = age.between(10, 110).ifelse(age, ibis.null())
    for col in ATTRIBUTE_SHARES:
        if col in cols:
            value = t[col].cast("string").fill_null("")
            same = _.count().over(ibis.window(group_by=[t.cutoff, value]))
            every = _.count().over(ibis.window(group_by=t.cutoff))
            out[f"{col}_share"] = same.cast("float64") / every
    return t.select("customer_id", **out)
