"""What the cause evidence is made of: the keyword vocabulary that maps free text to a cause, and
the evidence's measures, written as pieces of the feature engine's own aggregates (the order
window's per-customer aggregate, the returns, reviews and events blocks), so the evidence costs
no second pass over any table (features/engine.py, features/blocks.py).

The churn features answer "will they leave"; the cause model (models/causes) asks "why" and
needs signals the features do not carry:

- what returns say (`returns.reason`) and what events say (`events.detail`: complaint topics,
  page types such as "sale" or "new arrivals"), each mapped to a cause by a small configurable
  vocabulary `{cause: [keywords]}` (whole-word, case-insensitive);
- behaviour AFTER the last order up to the cutoff: still visiting, opening e-mails, claiming
  coupons (the opposite of "forgot the shop");
- the episode just before the lapse, from the second-to-last order to the cutoff: a return,
  a low rating (1-2 stars) or a complaint there is a bad experience that preceded the silence.

Orders here are all non-cancelled orders, returned ones included (a returned order is still an
experience). A column is present only when its table (or column) is: a shop without `returns`
gets no return-reason columns, which is how the cause model knows to abstain. Counts are 0, not
null, for a customer with nothing to count in a table the shop has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

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
TEXTS = ("last_return_reason", "last_complaint_detail")
#: evidence columns a missing value keeps (no rating in the episode is not a rating of 0)
KEEP_NULL = ("min_rating_in_episode",)


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


def matches(text: ir.StringValue, pattern: str | None) -> ir.Value:
    """1 when the text holds one of the pattern's keywords, else 0 (also for no text)."""
    if pattern is None:
        return ibis.literal(0, type="int64")
    # underscores and hyphens separate words in page slugs ("sale_page", "new-arrivals")
    words = text.lower().re_replace(r"[_-]", " ")
    return words.re_search(pattern).fill_null(False).cast("int64")


def patterns(vocabulary: Mapping[str, Sequence[str]] | None) -> dict[str, str | None]:
    """One pattern per text cause, in TEXT_CAUSES order; the built-in vocabulary for None."""
    vocabulary = DEFAULT_VOCABULARY if vocabulary is None else vocabulary
    unknown = set(vocabulary) - set(CAUSES)
    if unknown:
        raise ValueError(f"vocabulary keys must be causes {CAUSES}, got {sorted(unknown)}")
    return {c: keyword_pattern(vocabulary.get(c, ())) for c in TEXT_CAUSES}


def vocabulary_with(extra: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The built-in vocabulary plus a shop's own keywords per cause (params.yaml)."""
    causes = dict.fromkeys([*DEFAULT_VOCABULARY, *extra])
    return {c: (*DEFAULT_VOCABULARY.get(c, ()), *extra.get(c, ())) for c in causes}


def evidence_columns(frame_columns: Sequence[str]) -> list[str]:
    """The numeric evidence columns among a frame's columns (for a model's feature list)."""
    prefixes = ("ev_", "returns_in_", "return_reason_", "low_ratings_in_", "min_rating_in_",
                "post_", "complaints_in_", "complaint_", "detail_", "days_since_last_order")
    return [c for c in frame_columns if c.startswith(prefixes)]


def _max2(a: ir.Value, b: ir.Value) -> ir.Value:
    """The later of two dates, either of which may be missing (engines differ on whether
    GREATEST skips nulls: say it)."""
    return ibis.greatest(a.fill_null(b), b.fill_null(a))


def anchor(c1: ir.Value, c2: ir.Value, r1: ir.Value | None, r2: ir.Value | None
           ) -> tuple[ir.Value, ir.Value]:
    """(last non-cancelled order date, episode start) at a cutoff, from the two latest
    completed order dates (c1 >= c2) and the two latest other non-cancelled ones (r1 >= r2,
    e.g. returned orders; None when the shop has no order status). The episode starts at the
    second-to-last order, or at the only one."""
    if r1 is None:
        return c1, c2.fill_null(c1)
    completed_first = r1.isnull() | (c1 >= r1)
    second = ibis.ifelse(completed_first, _max2(c2, r1), _max2(c1, r2))
    return _max2(c1, r1), second.fill_null(c1)


def order_columns(names: Sequence[str]) -> list[str]:
    """The evidence columns in the order the cause model's training frames have always had
    them: orders, returns, reviews, events, the derived days; text columns last."""
    order = ["ev_orders", "ev_returned_orders", "returns_in_episode",
             *[f"return_reason_{c}" for c in TEXT_CAUSES],
             "low_ratings_in_episode", "min_rating_in_episode",
             *POST_EVENT_TYPES.values(), "post_events", "post_active_days",
             "complaints_in_episode",
             *[f"{k}_{c}" for c in TEXT_CAUSES for k in ("complaint", "detail", "post_detail")],
             "days_since_last_order", "post_engaged_days", *TEXTS]
    present = set(names)
    return [c for c in order if c in present]


__all__ = ["CAUSES", "DEFAULT_VOCABULARY", "KEEP_NULL", "POST_EVENT_TYPES", "TEXTS",
           "TEXT_CAUSES", "anchor", "evidence_columns", "keyword_pattern", "matches",
           "order_columns", "patterns", "vocabulary_with"]
