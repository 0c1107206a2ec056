"""Point-in-time features, labels and the cause evidence for many cutoffs, written once in Ibis.

A run is a `Plan`: the shared passes over the shop's tables, built once for every cutoff (one
window over the orders for the gap to the previous order and the date of the next one, the items
with their first purchase, the returned orders, the events per customer and day), and then one
snapshot per cutoff T: an aggregate per block over the shared rows dated at or before T (T a
literal in a filter), the blocks joined on customer_id. A feature at T can only see events at or
before T, labels look only at (T, T + horizon]. The snapshots never build events x cutoffs rows;
`build` stacks them with UNION ALL, and the features stage writes them one by one, so memory
holds one snapshot's wide rows, never all of them (pipeline/engines.py `write_snapshots`).

The cause evidence (features/signals.py) is computed in the same aggregates: the order window
also carries the non-cancelled orders a return status leaves out of the completed-order
features (ordered after them, flagged, so one sort serves both), and each block's aggregate adds
the evidence of its table. The expressions keep to what DuckDB and PySpark both run: dates cast
before day differences, no as-of joins, plain windows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir
from ibis import _

from common.params import FeatureParams
from features import blocks
from features.blocks import days as _days
from features.blocks import lit as _lit
from features.registry import available
from features.signals import KEEP_NULL, TEXTS, anchor, order_columns, patterns

KEY = ["customer_id", "cutoff"]
WINDOWS_DAYS = (30, 90, 180, 365)


@dataclass(frozen=True)
class Cutoff:
    """A snapshot date; labelled when its whole horizon lies at or before as_of."""
    day: date
    label_end: date
    labelled: bool


def snapshots(cutoffs: list[date], as_of: date, horizon_days: int) -> list[Cutoff]:
    return [Cutoff(t, t + timedelta(days=horizon_days), t + timedelta(days=horizon_days) <= as_of)
            for t in cutoffs]


def per_cutoff(cuts: list[Cutoff], snapshot) -> ir.Table:
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


def order_rows(orders_all: ir.Table, as_of: date, p: FeatureParams,
               others: bool = False) -> ir.Table:
    """Completed orders, narrowed to what snapshots aggregate, with the day gap to the customer's
    previous order and the date of their next one (one window). Amount breaks timestamp ties:
    orders that tie on both are interchangeable for every feature, so both engines agree.

    With `others` (the evidence, on a shop with an order status) the other non-cancelled orders
    come along, sorted before the customer's completed ones by the same window: their date is in
    `other_date` (null `order_date`, `amount`: no completed-order measure sees them), with the
    date of the next such order in `other_next`; a completed order's neighbours are then still
    its completed neighbours."""
    done = completed_orders(orders_all, as_of)
    sale = _sale_weeks(done, p)
    sale_weeks = sale.filter(sale.is_sale == 1).week
    if not (others and "status" in orders_all.columns):
        w = ibis.window(group_by="customer_id", order_by=["order_ts", "amount"])
        cols = ["customer_id", "order_date", "amount"]
        if "discount" in done.columns:
            cols.append(done.discount.fill_null(0).name("discount"))
        return done.select(
            *cols,
            gap=_days(_.order_date, _.order_date.lag().over(w)).cast("float64"),
            next_date=_.order_date.lead().over(w),
            is_sale=_.order_date.truncate("W").isin(sale_weeks).cast("int8"),
        )
    o = orders_all.mutate(order_date=_.order_ts.cast("date"))
    o = o.filter((o.order_date <= as_of) & (o.status.isnull() | (o.status != "cancelled")))
    o = o.mutate(done=(o.status == "completed").fill_null(False).cast("int8"))
    w = ibis.window(group_by="customer_id", order_by=["done", "order_ts", "amount"])
    is_done = o.done == 1
    none_date = ibis.null().cast("date")
    cols = {}
    if "discount" in o.columns:
        cols["discount"] = ibis.ifelse(is_done, o.discount.fill_null(0), ibis.null())
    prev_done = o.done.lag().over(w) == 1
    return o.select(
        "customer_id",
        order_date=ibis.ifelse(is_done, o.order_date, none_date),
        amount=ibis.ifelse(is_done, o.amount, ibis.null()).cast("float64"),
        **cols,
        gap=ibis.ifelse(is_done & prev_done, _days(o.order_date, o.order_date.lag().over(w)),
                        ibis.null()).cast("float64"),
        # an other order is never the customer's last completed one
        next_date=ibis.ifelse(is_done, o.order_date.lead().over(w), o.order_date),
        is_sale=ibis.ifelse(is_done, o.order_date.truncate("W").isin(sale_weeks).cast("int8"),
                            ibis.null()).cast("int8"),
        other_date=ibis.ifelse(is_done, none_date, o.order_date),
        other_next=ibis.ifelse(~is_done & (o.done.lead().over(w) == 0),
                               o.order_date.lead().over(w), none_date),
    )


def orders_snapshot(rows: ir.Table, c: Cutoff, evidence: bool = False) -> ir.Table:
    """RFM, timing, spend windows, sale-week and discount behaviour at T, the label and, with
    the evidence, the orders' part of it (non-cancelled orders, last order, episode start)."""
    others = "other_date" in rows.columns
    T = c.day
    if others:
        r = rows.filter((rows.order_date <= T) | (rows.other_date <= T))
    else:
        r = rows.filter(rows.order_date <= T)
    count = r.order_date.count if others else r.count
    # the customer's last order at T: the one whose next order is after T (or never)
    last = r.next_date.isnull() | (r.next_date > T)

    def within(d: int) -> ir.Value:   # fewer than d days before T
        return r.order_date > _lit(T - timedelta(days=d))

    metrics = dict(
        frequency=count(),
        # distinct order days: a same-day order has gap 0 (a filtered count, not a distinct)
        purchase_days=count(where=r.gap.isnull() | (r.gap > 0)),
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
        spend_prev180=r.amount.sum(where=within(360) & ~within(180)),
        next_after=r.next_date.max(where=last),
    )
    for d in WINDOWS_DAYS:
        metrics[f"orders_{d}d"] = count(where=within(d))
        metrics[f"spend_{d}d"] = r.amount.sum(where=within(d))
    if "discount" in r.columns:
        metrics["discounted_orders"] = count(where=r.discount > 0)
        metrics["discount_money"] = r.discount.sum()
    if evidence:
        # the second-latest completed order date: the latest of those with a next one by T
        metrics.update(ev_orders=_.count(), _c2=r.order_date.max(where=r.next_date <= T))
        if others:
            metrics.update(_r1=r.other_date.max(),
                           _r2=r.other_date.max(where=r.other_next <= T))
    a = r.group_by("customer_id").aggregate(**metrics)
    if others:
        a = a.filter(a.frequency > 0)
    if evidence:
        last_any, start = anchor(a.last_date, a._c2, a._r1 if others else None,
                                 a._r2 if others else None)
        a = a.mutate(last_any=last_any, episode_start=start)
        a = a.drop(*[x for x in ("_c2", "_r1", "_r2") if x in a.columns])
    if c.labelled:
        bought = (a.next_after <= c.label_end).fill_null(False)
        churned = ibis.ifelse(bought, 0, 1).cast("int8")
    else:
        churned = ibis.null().cast("int8")
    return a.mutate(churned=churned, split=ibis.literal("train" if c.labelled else "score"),
                    cutoff=_lit(T))


def purchase_features(a: ir.Table) -> ir.Table:
    """The ratios derived from a snapshot's purchase aggregates."""
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
    """Quintile scores per cutoff and the membership tier they set. The ranks join a narrow
    table (the key and the three ranked columns), which then joins the wide rows once."""
    # rank spend in cents: engines add floats in different orders, and the last bits must not
    # move a customer across a quintile boundary
    ranked = base if "spend_cents" in base.columns else base.mutate(
        spend_cents=(base.monetary_total * 100).round().cast("int64"))
    narrow = ranked.select("customer_id", "cutoff", "recency_days", "frequency", "spend_cents")
    scores = narrow
    for score, column, descending in (("r_score", "recency_days", True),
                                      ("f_score", "frequency", False),
                                      ("m_score", "spend_cents", False)):
        scores = scores.join(quintiles(narrow, column, score, descending), ["cutoff", column])
    scores = scores.mutate(rfm_score=_.r_score + _.f_score + _.m_score)
    tier = ibis.cases(*[(scores.rfm_score >= floor, name)
                        for name, floor in sorted(tiers.items(), key=lambda kv: -kv[1])],
                      else_="bronze")
    scores = scores.select("customer_id", "r_score", "f_score", "m_score", "rfm_score",
                           membership_tier=tier)
    out = ranked.drop("spend_cents").join(scores, "customer_id")
    return out.drop(*[x for x in out.columns if x.endswith("_right")])


@dataclass(frozen=True)
class Plan:
    """One features run: the shared passes (`relations`, built once for every cutoff) and what
    each snapshot needs to know about the shop and the params."""
    relations: Mapping[str, ir.Table]
    cuts: list[Cutoff]
    names: list[str]
    p: FeatureParams
    score_max_lapsed_days: int | None
    evidence: bool

    def cached(self) -> Plan:
        """The same plan with every shared pass computed once and kept by the engine (DuckDB: a
        temporary table, spilled beyond its memory limit; Spark: a persisted DataFrame)."""
        return dataclasses.replace(self, relations={k: v.cache()
                                                    for k, v in self.relations.items()})


def plan(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
         p: FeatureParams = FeatureParams(), horizon_days: int = 365,
         score_max_lapsed_days: int | None = None, evidence: bool = False,
         vocabulary: Mapping[str, Sequence[str]] | None = None) -> Plan:
    """The shared passes for `cutoffs` (as_of included: the scoring snapshot) over the tables
    the shop has; with `evidence`, the cause evidence's too (`vocabulary`: keywords per cause,
    None for the built-in ones)."""
    schema = {name: set(t.columns) for name, t in tables.items()}
    names = [f.name for f in available(schema)]
    orders_all = tables["orders"]
    rel: dict[str, ir.Table] = {"orders": order_rows(orders_all, as_of, p, evidence)}
    vocab = patterns(vocabulary) if evidence else None
    if "order_items" in tables:
        rel["items"] = blocks.item_rows(tables["order_items"], completed_orders(orders_all, as_of),
                                        tables.get("products"), p)
    returns = tables.get("returns")
    if "status" in schema["orders"] or returns is not None:
        rel["returned"] = blocks.returned_orders(orders_all, returns, as_of)
        if vocab is not None and returns is not None and "reason" in returns.columns:
            rel["reasons"] = blocks.return_reasons(orders_all, returns, as_of, vocab)
    if "reviews" in tables:
        rel["reviews"] = tables["reviews"]
    if "events" in tables:
        rel["events"] = blocks.daily_events(tables["events"], vocab)
        if vocab is not None and "detail" in schema["events"]:
            rel["complaints"] = blocks.complaint_rows(tables["events"])
    if "customers" in tables:
        rel["customers"] = tables["customers"]
    return Plan(rel, snapshots(cutoffs, as_of, horizon_days), names, p, score_max_lapsed_days,
                evidence)


def _blocks(plan: Plan, c: Cutoff, purchases: ir.Table, base: ir.Table) -> list[ir.Table]:
    rel, day = plan.relations, c.day
    anchor_rows = purchases if plan.evidence else None
    parts: list[ir.Table] = []
    if "items" in rel:
        parts += blocks.items_snapshot(rel["items"], day)
    if "returned" in rel:
        parts += blocks.returns_snapshot(rel["returned"], rel.get("reasons"), day, anchor_rows)
    if "reviews" in rel:
        parts.append(blocks.reviews_snapshot(rel["reviews"], day, anchor_rows))
    if "events" in rel:
        parts.append(blocks.events_snapshot(rel["events"], rel.get("complaints"), day,
                                            purchases, plan.evidence))
    if "customers" in rel:
        parts.append(blocks.attributes_snapshot(rel["customers"], base))
    return parts


def snapshot(plan: Plan, c: Cutoff) -> ir.Table:
    """The features table's rows at one cutoff (see `build`)."""
    purchases = purchase_features(orders_snapshot(plan.relations["orders"], c, plan.evidence))
    # one relation for the ranks, the output and the blocks' anchor: computed once
    purchases = purchases.mutate(
        spend_cents=(purchases.monetary_total * 100).round().cast("int64"))
    base = rfm_scores(purchases, plan.p.membership_tiers)
    out = base
    for block in _blocks(plan, c, purchases, base):
        out = out.left_join(block, "customer_id")
        out = out.drop(*[x for x in out.columns if x.endswith("_right")])
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
        extra.update({x: out[x].fill_null(0) for x in zero_fill})
        extra["days_since_last_event"] = _days(out.cutoff, out.last_event_date)
        extra["days_since_last_complaint"] = _days(out.cutoff, out.last_complaint_date)
        extra["browse_ratio"] = out.visits_90d.fill_null(0) / (out.orders_90d + 1)
    if "low_ratings" in cols:
        extra["low_ratings"] = out.low_ratings.fill_null(0)
    out = out.mutate(**extra)
    if c.labelled and plan.p.train_max_lapsed_days is not None:
        out = out.filter(out.recency_days <= plan.p.train_max_lapsed_days)
    if not c.labelled and plan.score_max_lapsed_days is not None:
        out = out.filter(out.recency_days <= plan.score_max_lapsed_days)
    feature_cols = [out[n].cast("float64").name(n) for n in plan.names]
    # purchase_days (distinct order days) is no model feature: the transactions BTYD counts
    return out.select("customer_id", "cutoff", "split", *feature_cols, "membership_tier",
                      out.purchase_days.cast("float64").name("purchase_days"), "churned",
                      *(_evidence_columns(out) if plan.evidence else []))


def _evidence_columns(out: ir.Table) -> list[ir.Value]:
    """The cause evidence at the cutoff: counts 0 for nothing to count, days from the last
    non-cancelled order; numbers as float64, texts as written."""
    values = {"ev_orders": out.ev_orders,
              "days_since_last_order": _days(out.cutoff, out.last_any)}
    if "returned_orders" in out.columns:
        values["ev_returned_orders"] = out.returned_orders
    if "last_post_event" in out.columns:
        values["post_engaged_days"] = _days(out.last_post_event, out.last_any).fill_null(0)
    names = order_columns([*out.columns, *values])
    cols = []
    for name in names:
        value = values[name] if name in values else out[name]
        if name in TEXTS:
            cols.append(value.name(name))
            continue
        if name not in KEEP_NULL:
            value = value.fill_null(0)
        cols.append(value.cast("float64").name(name))
    return cols


def build(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
          p: FeatureParams = FeatureParams(), horizon_days: int = 365,
          score_max_lapsed_days: int | None = None, evidence: bool = False,
          vocabulary: Mapping[str, Sequence[str]] | None = None) -> tuple[ir.Table, list[str]]:
    """The features table (customer_id, cutoff, split, features..., membership_tier,
    purchase_days, churned; with `evidence`, the cause evidence's columns after them) and the
    names of the model features the shop's tables support. `cutoffs` include as_of (the
    scoring snapshot); a cutoff is labelled when its horizon ends at or before as_of. The
    snapshots are stacked in one expression: for a few cutoffs, or a shop that fits in memory
    (the features stage writes them one by one)."""
    run = plan(tables, cutoffs, as_of, p, horizon_days, score_max_lapsed_days, evidence,
               vocabulary)
    parts = [snapshot(run, c) for c in run.cuts]
    return (parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]), run.names


#: decimals kept of every float in the features table: sums of floats come back from a
#: parallel engine in any order, and the last bits differ run to run; rounded, identical
#: inputs give identical features (and trees whose thresholds do not fall between jitter)
FLOAT_DECIMALS = 10


def rounded(expr: ir.Table, digits: int = FLOAT_DECIMALS) -> ir.Table:
    """Every floating-point column rounded to `digits` decimals."""
    floats = {name: expr[name].round(digits) for name, kind in expr.schema().items()
              if kind.is_floating()}
    return expr.mutate(**floats) if floats else expr
