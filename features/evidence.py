"""Evidence about *why* a customer lapsed, per customer x cutoff, that the churn features ignore:
what returns and events say, behaviour after the last order, the episode before the lapse
(features/signals.py says what each column means).

The features stage gets the evidence from the feature engine itself (`build(...,
evidence=True)`), computed in the features' own aggregates. `evidence` and `with_evidence` are
the same columns for code that wants them apart (the cause model's tests and benchmarks): the
evidence table of the customers the features have, and its join onto a features table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import ibis.expr.types as ir

from features.engine import KEY, build
from features.signals import (
    CAUSES,
    DEFAULT_VOCABULARY,
    POST_EVENT_TYPES,
    TEXT_CAUSES,
    evidence_columns,
    keyword_pattern,
    order_columns,
    vocabulary_with,
)


def evidence(tables: Mapping[str, ir.Table], cutoffs: list[date], as_of: date,
             vocabulary: Mapping[str, Sequence[str]] | None = None) -> ir.Table:
    """Cause evidence per (customer_id, cutoff) for every customer with a completed order at or
    before the cutoff (the customers of the features table); join it to `engine.build`'s table
    on `engine.KEY` (`with_evidence`).

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
    expr, _names = build(tables, cutoffs, as_of, horizon_days=0, evidence=True,
                         vocabulary=vocabulary)
    return expr.select(*KEY, *order_columns(expr.columns))


def with_evidence(features: ir.Table, ev: ir.Table) -> ir.Table:
    """`engine.build`'s table with the evidence columns joined on (customer_id, cutoff)."""
    out = features.left_join(ev, KEY)
    return out.drop(*[c for c in out.columns if c.endswith("_right")])


__all__ = ["CAUSES", "DEFAULT_VOCABULARY", "POST_EVENT_TYPES", "TEXT_CAUSES", "evidence",
           "evidence_columns", "keyword_pattern", "vocabulary_with", "with_evidence"]
