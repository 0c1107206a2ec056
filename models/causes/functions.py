"""Labelling functions: the domain notes' signatures of each cause, as votes.

Each function votes for its cause or abstains (-1); one whose table the shop lacks abstains
everywhere. Thresholds are generic and fixed (module constants), never fitted to a shop. One
more function is the older method, the churn model's SHAP reason (`shap_reason`), which may
name any cause. See models/causes/model.py for how the votes become a cause model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from common.causes import IDX, K
from models.causes.signals import col, days_since, orders, text
from models.causes.words import (
    f1,
    n_text,
    pct,
    plural,
    say_complaint,
    say_rating,
    say_reason,
    say_returns,
    say_topic,
)

ABSTAIN = -1
#: the `cause` of a labelling function that may vote for any cause
ANY = "any"

# --- thresholds of the labelling functions: generic, from the domain notes, fixed ----------
SILENT_AFTER_DAYS = 30      # silence only means something after a month
MANY_CATEGORIES = 3         # "wide category spread"
NEW_ARRIVAL_SHARE = 0.25    # "chase new items": a quarter or more of the items new arrivals
BROWSE_VISITS = 3           # still browsing after the last order
GAPS_GROW = 1.5             # last gap 1.5x the earlier ones: orders thin out
SALE_SHARE = 0.5            # most orders in sale weeks
DISCOUNT_SHARE = 0.5        # most orders discounted (the habit: no depth needed)
DISCOUNT_DEPTH = 0.15      # a single order on a real discount
COUPONS = 2                 # coupons claimed over the customer's life
CHEAP_END = 0.7             # pays 70% or less of the category's mean price
RETURN_RATE = 1 / 3         # a third or more of the orders returned
RATING_DROP = 2.0           # latest rating two stars below their usual
RARE = 0.02                 # firing rate of a function on a cause the domain rules out
#: a purchase's price facts (sale week, discount, price point) say nothing about forgetting
#: (silence after the order): forgetful one-time buyers buy in sales as often as anyone, so
#: on forgot the price functions fire at their overall rate
PRICE_FACT_NOT_ABOUT = ("forgot",)


# --- labelling functions ----------------------------------------------------------------------
@dataclass(frozen=True)
class LabellingFunction:
    """Votes `cause` where `rule` holds, else abstains. `needs`: tables without which it
    abstains everywhere (`a|b`: either). `say` puts what it saw into words (subset rows).
    `scope`: where its vote or abstention means something (e.g. "2+ orders" for the choice
    signatures, "has returned something" for a return reason); outside it the label model
    ignores it, so one fact (a single order) is not counted again by every function that
    needs more orders. Default: everywhere its table is. `independent_of` and `rare_for` fix
    its firing rate for some causes from the domain notes instead of letting EM estimate it
    (e.g. "bought once" among price leavers: price applies to all customers alike).

    A function with `cause == ANY` may vote for any cause: its `rule` returns a cause index
    per row (-1: abstain), e.g. the churn model's SHAP reason. `basis` names where its vote
    comes from when that is not a table."""
    name: str
    cause: str
    needs: tuple[str, ...]
    signature: str
    rule: Callable[[pd.DataFrame], np.ndarray]
    say: Callable[[pd.DataFrame], pd.Series]
    scope: Callable[[pd.DataFrame], np.ndarray] | None = None
    basis: str = ""
    #: causes it fires on at its overall rate in its scope (the fact says nothing about them)
    independent_of: tuple[str, ...] = ()
    #: causes it almost never fires on (`RARE`), from the domain notes
    rare_for: tuple[str, ...] = ()
    #: reads the same features as the other functions (the churn model's SHAP reason): not
    #: conditionally independent of them, so the label model measures it against the
    #: posterior without its own vote
    dependent: bool = False

    def available(self, tables: Iterable[str]) -> bool:
        tables = set(tables)
        return all(any(alt.split(".")[0] in tables for alt in need.split("|"))
                   for need in self.needs)

    def tables(self, tables: Iterable[str]) -> list[str]:
        """The tables that inform it for this shop (first available alternative per need)."""
        tables = set(tables)
        out = [self.basis] if self.basis else []
        for need in self.needs:
            alt = next((a for a in need.split("|") if a.split(".")[0] in tables), None)
            if alt is not None:
                out.append(alt.split(".")[0])
        return out

    def apply(self, frame: pd.DataFrame, tables: Iterable[str]) -> np.ndarray:
        if not self.available(tables):
            return np.full(len(frame), ABSTAIN, dtype=np.int64)
        scope = self.in_scope(frame, tables)
        if self.cause == ANY:
            vote = np.asarray(self.rule(frame), dtype=np.int64)
            return np.where(scope & (vote >= 0), vote, ABSTAIN).astype(np.int64)
        fire = np.asarray(self.rule(frame), dtype=bool) & scope
        return np.where(fire, IDX[self.cause], ABSTAIN).astype(np.int64)

    def in_scope(self, frame: pd.DataFrame, tables: Iterable[str]) -> np.ndarray:
        if not self.available(tables):
            return np.zeros(len(frame), bool)
        if self.scope is None:
            return np.ones(len(frame), bool)
        return np.asarray(self.scope(frame), dtype=bool)


#: what the SHAP reason can name: its "other" means no family stood out (below its
#: `min_confidence`), an abstention by construction, not a sighting of the cause
_SHAP_VOTES = {c: i for c, i in IDX.items() if c != "other"}


def _shap_votes(f: pd.DataFrame) -> np.ndarray:
    """The `shap_reason` column as cause indices; -1 where empty, "other", unknown or absent."""
    if "shap_reason" not in f.columns:
        return np.full(len(f), ABSTAIN, dtype=np.int64)
    reason = f["shap_reason"].astype(object).where(f["shap_reason"].notna(), "")
    return reason.map(_SHAP_VOTES).fillna(ABSTAIN).to_numpy(dtype=np.int64)



def _lfs() -> tuple[LabellingFunction, ...]:
    n = orders
    c = col

    def known(*cols: str) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda f: np.all([~np.isnan(c(f, col)) for col in cols], axis=0)

    def repeat(k: int, *cols: str) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda f: (n(f) >= k) & known(*cols)(f)

    return (
        # forgot the shop: one order, then no visits, no favourite, no e-mail opens
        LabellingFunction(
            "one_order", "forgot", ("orders",), "bought exactly once",
            lambda f: n(f) == 1,
            lambda f: "bought once, " + n_text(days_since(f)) + " days ago",
            # who leaves (domain notes): price and other among all customers alike, choice
            # among customers with 2+ orders
            independent_of=("price", "other"), rare_for=("choice",)),
        LabellingFunction(
            "silent_since_last_order", "forgot", ("events",),
            "no visit, e-mail open, click or coupon since the last order, never favourited",
            lambda f: (c(f, "post_events") == 0) & (np.nan_to_num(c(f, "favorited")) == 0),
            lambda f: pd.Series("no visit, e-mail open or click since, never favourited",
                                index=range(len(f))),
            # silence says something only after a month
            lambda f: known("post_events")(f) & (days_since(f) >= SILENT_AFTER_DAYS)),
        # satisfaction dropped: returns, low ratings, complaints, just before the lapse
        LabellingFunction(
            "returned_last_orders", "satisfaction", ("returns|orders.status",),
            "returned one of the last two orders",
            lambda f: c(f, "returns_in_episode") >= 1, say_returns,
            known("returns_in_episode")),
        LabellingFunction(
            "returns_often", "satisfaction", ("returns|orders.status",),
            "returned a third or more of two or more orders",
            lambda f: (c(f, "ev_returned_orders") >= 2)
            & (c(f, "ev_returned_orders") >= RETURN_RATE * n(f)), say_returns,
            repeat(2, "ev_returned_orders")),
        LabellingFunction(
            "low_rating_lately", "satisfaction", ("reviews",),
            "rated 1-2 stars since the second-to-last order, or two stars below their usual",
            lambda f: (c(f, "low_ratings_in_episode") >= 1) | (c(f, "rating_drop")
                                                              >= RATING_DROP), say_rating,
            known("low_ratings_in_episode")),
        LabellingFunction(
            "complained_lately", "satisfaction", ("events",),
            "complained since the second-to-last order",
            lambda f: c(f, "complaints_in_episode") >= 1, say_complaint,
            known("complaints_in_episode")),
        # what a text says, given there is one (a return, a complaint, a page with a type)
        LabellingFunction(
            "return_reason_satisfaction", "satisfaction", ("returns",),
            "a return reason about quality, damage, delivery or service",
            lambda f: c(f, "return_reason_satisfaction") >= 1, say_reason("satisfaction"),
            lambda f: known("return_reason_satisfaction")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "complaint_topic_satisfaction", "satisfaction", ("events",),
            "a complaint about quality, damage, delivery or service",
            lambda f: c(f, "complaint_satisfaction") >= 1, say_complaint,
            lambda f: known("complaint_satisfaction")(f) & (c(f, "complaints") >= 1)),
        # too many choices: 2+ orders, wide spread, new items, orders thin out while browsing
        LabellingFunction(
            "many_categories", "choice", ("order_items", "products"),
            f"2+ orders from {MANY_CATEGORIES}+ categories",
            lambda f: c(f, "distinct_categories") >= MANY_CATEGORIES,
            lambda f: "bought from " + n_text(c(f, "distinct_categories")) + " categories",
            repeat(2, "distinct_categories")),
        LabellingFunction(
            "new_arrivals", "choice", ("order_items", "products"),
            "2+ orders, a quarter or more of the items new arrivals",
            lambda f: c(f, "new_arrival_share") >= NEW_ARRIVAL_SHARE,
            lambda f: pct(c(f, "new_arrival_share")) + " of items were new arrivals",
            repeat(2, "new_arrival_share")),
        LabellingFunction(
            "browses_without_buying", "choice", ("events",),
            f"2+ orders, {BROWSE_VISITS}+ visits since the last order",
            lambda f: c(f, "post_visits") >= BROWSE_VISITS,
            lambda f: n_text(c(f, "post_visits")) + " visits since the last order without buying",
            repeat(2, "post_visits")),
        LabellingFunction(
            "orders_thin_out", "choice", ("orders",),
            f"3+ orders, the last gap {GAPS_GROW}x the earlier ones",
            lambda f: c(f, "gap_trend") >= GAPS_GROW,
            lambda f: "orders thinned out (last gap " + f1(c(f, "gap_trend"))
            + "x the earlier ones)",
            repeat(3, "gap_trend")),
        LabellingFunction(
            "return_reason_choice", "choice", ("returns",),
            "a return reason about finding something better",
            lambda f: c(f, "return_reason_choice") >= 1, say_reason("choice"),
            lambda f: known("return_reason_choice")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "looks_at_new_arrivals", "choice", ("events",),
            "new-arrival pages since the last order",
            lambda f: (c(f, "post_detail_choice") >= 1) | (c(f, "complaint_choice") >= 1),
            say_topic("choice", "new-arrival"), known("post_detail_choice")),
        # price: sale periods, discounts, coupons, the cheap end. A habit needs 2+ orders; a
        # one-time buyer's single order in a sale week or on discount is a weaker hint
        # (forgetful one-time buyers buy in sales too): a function of its own, whose accuracy
        # the label model estimates on its own. One order is one fact: its sale week, its
        # discount and its price point vote once, not three times
        LabellingFunction(
            "sale_weeks", "price", ("orders",), "2+ orders, most in sale weeks",
            lambda f: c(f, "sale_week_share") >= SALE_SHARE,
            lambda f: pct(c(f, "sale_week_share")) + " of orders in sale weeks",
            repeat(2, "sale_week_share"),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "single_order_on_sale", "price", ("orders",),
            "bought once: in a sale week, on a real discount or at the cheap end",
            lambda f: (c(f, "sale_week_share") >= SALE_SHARE)
            | ((c(f, "discount_share") >= DISCOUNT_SHARE)
               & (c(f, "discount_depth") >= DISCOUNT_DEPTH))
            | (c(f, "price_ratio") <= CHEAP_END),
            lambda f: pd.Series(np.select(
                [c(f, "sale_week_share") >= SALE_SHARE, c(f, "discount_depth") >= DISCOUNT_DEPTH],
                ["the only order fell in a sale week",
                 "the only order was " + pct(c(f, "discount_depth")).to_numpy() + " off"],
                "the only order was at " + pct(c(f, "price_ratio")).to_numpy()
                + " of the category's price")),
            lambda f: (n(f) == 1) & known("sale_week_share")(f),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "discounts", "price", ("orders.discount",), "2+ orders, most on discount",
            # the habit the domain notes name ("buy on discount"), as the hand rules read it:
            # a shallow discount on most orders is a habit too (a depth bar made it miss most
            # price leavers of shops whose discounts are small)
            lambda f: c(f, "discount_share") >= DISCOUNT_SHARE,
            lambda f: pct(c(f, "discount_share")) + " of orders on discount (average "
            + pct(c(f, "discount_depth")) + " off)",
            repeat(2, "discount_share", "discount_depth"),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "coupons", "price", ("events",),
            f"{COUPONS}+ coupons claimed, or one since the last order",
            lambda f: (c(f, "coupon_claims") >= COUPONS) | (c(f, "post_coupon_claims") >= 1),
            lambda f: plural(n_text(c(f, "coupon_claims")), "coupon") + " claimed, "
            + n_text(np.nan_to_num(c(f, "post_coupon_claims"))) + " since the last order",
            known("coupon_claims")),
        LabellingFunction(
            "cheap_end", "price", ("order_items", "products"),
            "2+ orders, pays 70% or less of the category's mean price",
            lambda f: c(f, "price_ratio") <= CHEAP_END,
            lambda f: "buys at " + pct(c(f, "price_ratio")) + " of the category's price",
            repeat(2, "price_ratio"),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "return_reason_price", "price", ("returns",), "a return reason about price",
            lambda f: c(f, "return_reason_price") >= 1, say_reason("price"),
            lambda f: known("return_reason_price")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "looks_at_sales", "price", ("events",),
            "sale pages since the last order, or a complaint about price",
            lambda f: (c(f, "post_detail_price") >= 1) | (c(f, "complaint_price") >= 1),
            say_topic("price", "sale"), known("post_detail_price")),
        # other: changed habits, moved on
        LabellingFunction(
            "return_reason_other", "other", ("returns",),
            "a return reason like changed mind or no longer needed",
            lambda f: c(f, "return_reason_other") >= 1, say_reason("other"),
            lambda f: known("return_reason_other")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "topic_other", "other", ("events",), "an event about moving or changed needs",
            lambda f: (c(f, "detail_other") >= 1) | (c(f, "complaint_other") >= 1),
            lambda f: pd.Series("events mention moving or changed needs",
                                index=range(len(f))),
            known("detail_other")),
        # the older method: the cause family furthest above the typical leaver's in the churn
        # model's SHAP values, passed in as `shap_reason` ("" where not computed). Strong on
        # some shops, weak on others (without events it cannot see forgetting): the label
        # model estimates, per shop, how often it names each cause for each true cause
        LabellingFunction(
            "shap_reason", ANY, (), "the churn model's SHAP reason (`shap_reason`)",
            _shap_votes,
            lambda f: "the churn model's drivers point at " + text(f, "shap_reason"),
            lambda f: _shap_votes(f) >= 0, basis="churn model (SHAP)", dependent=True),
    )


LABELLING_FUNCTIONS: tuple[LabellingFunction, ...] = _lfs()
LF_BY_NAME = {lf.name: lf for lf in LABELLING_FUNCTIONS}


def apply_lfs(frame: pd.DataFrame, tables: Iterable[str],
              lfs: Iterable[LabellingFunction] = LABELLING_FUNCTIONS) -> np.ndarray:
    """The label matrix: one column per function, cause index or -1 (abstain)."""
    tables = set(tables)
    lfs = list(lfs)
    if not lfs:
        return np.empty((len(frame), 0), dtype=np.int64)
    return np.column_stack([lf.apply(frame, tables) for lf in lfs])


def lf_scopes(frame: pd.DataFrame, tables: Iterable[str],
              lfs: Iterable[LabellingFunction] = LABELLING_FUNCTIONS) -> np.ndarray:
    """Where each function's vote or abstention counts (n x m booleans)."""
    tables = set(tables)
    lfs = list(lfs)
    if not lfs:
        return np.empty((len(frame), 0), dtype=bool)
    return np.column_stack([lf.in_scope(frame, tables) for lf in lfs])


def fixed_rates(lfs: list[LabellingFunction], L: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Per function and cause, the firing rate the domain notes fix (NaN: EM estimates it):
    its rate over its scope for `independent_of`, `RARE` for `rare_for`."""
    out = np.full((len(lfs), K), np.nan)
    for j, lf in enumerate(lfs):
        if lf.cause == ANY:
            continue
        if S[:, j].any():
            out[j, [IDX[c] for c in lf.independent_of]] = (L[S[:, j], j] >= 0).mean()
        out[j, [IDX[c] for c in lf.rare_for]] = RARE
    return out


def independent_of(lfs: list[LabellingFunction]) -> np.ndarray:
    """Per function and cause, whether the fact says nothing about the cause (m x k)."""
    out = np.zeros((len(lfs), K), bool)
    for j, lf in enumerate(lfs):
        out[j, [IDX[c] for c in lf.independent_of]] = True
    return out


def available_tables(tables: Mapping[str, object]) -> set[str]:
    """Table names plus `table.column` for each column (what `needs` may name)."""
    out = set()
    for name, t in tables.items():
        out.add(name)
        out.update(f"{name}.{c}" for c in getattr(t, "columns", ()))
    return out



def tables_telling_apart(causes: Iterable[str], tables: Iterable[str]) -> list[str]:
    """The tables, missing from `tables`, that the functions of `causes` need: what a shop
    would add to tell those causes apart."""
    causes = set(causes)
    return sorted({alt.split(".")[0] for lf in LABELLING_FUNCTIONS if lf.cause in causes
                   for need in lf.needs for alt in need.split("|")} - set(tables))
