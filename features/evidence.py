"""Evidence about *why* a customer lapsed, per customer x cutoff, that the churn features ignore.

The churn features answer "will they leave"; the cause model (models/causes.py) asks "why did
they leave" and needs signals the features do not carry:

- what returns say (`returns.reason`) and what events say (`events.detail`: complaint topics,
  page types such as "sale" or "new arrivals"), each mapped to a cause by a small configurable
  vocabulary `{cause: [keywords]}` (whole-word, case-insensitive);
- behaviour AFTER the last order up to the cutoff: still visiting, opening e-mails, claiming
  coupons (the opposite of "forgot the shop");
- the episode just before the lapse, from the second-to-last order to the cutoff: a return,
  a low rating (1-2 stars) or a complaint there is a bad experience that preceded the silence.

Point in time like features/engine.py: each cutoff T is an aggregate over rows dated at or
before T (a filter with T as a literal), and the cutoffs are stacked with UNION ALL
(`engine.per_cutoff`). Orders here are all non-cancelled orders, returned ones included (a
returned order is still an experience). Only constructs DuckDB and PySpark both run: dates cast
before day differences, plain windows (lead), no as-of joins, regex via `re_search`.

A column is present only when its table (or column) is: a shop without `returns` gets no
return-reason columns, which is how the cause model knows to abstain. Counts are 0, not null,
for a customer with nothing to count in a table the shop has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis import _

from features.engine import KEY, _days, per_cutoff, snapshots

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
