"""Why a lapsed customer left: a cause model of its own, learned without labels.

The SHAP-based reason (models/reasons.py) explains churn against staying, not one cause against
another. This module learns the cause by programmatic weak supervision:

1. **Labelling functions** (`LABELLING_FUNCTIONS`), written from the signatures in the domain
   notes (one order then silence = forgot; returns, low ratings, complaints = satisfaction;
   category spread, new arrivals, browsing without buying, thinning orders = choice; sale
   weeks, discounts, coupons, cheap end = price; "changed mind" = other). Each votes for its
   cause or abstains (-1); one whose table the shop lacks abstains everywhere. Thresholds are
   generic and fixed (module constants), never fitted to a shop. One more function is the
   older method: the churn model's SHAP reason (`shap_reason`, passed in by the pipeline),
   which may name any cause; it abstains where the column is absent or empty.
2. **Label model** (`LabelModel`): Dawid-Skene EM with class-conditional error rates, the
   class prior fixed to the domain shares. A one-sided function fires at its own rate on each
   cause (a one-time buyer's sale-week order is common among forgetful leavers, rare among
   dissatisfied ones); the SHAP function gets a confusion matrix (on a shop without events it
   cannot see forgetting and names price or choice instead). Each cause stays defined by its
   own functions: the SHAP function is measured against the causes they anchor, and no
   function may be stronger evidence for another cause than for its own (a free confusion
   matrix for every function let EM turn "choice" into "bought in sales"; a weak cause would
   become "the customers none of its functions fire for"). What the domain notes say about
   *who* leaves is fixed rather than estimated: "bought once" fires on price and other leavers
   at its overall rate (all customers alike) and rarely on choice (2+ orders), and a
   purchase's price facts fire on forgetful leavers at their overall rate, and so (that is
   what "says nothing about forgetting" implies) on the other causes together too: the
   function's own cause takes only what is left of that rate, so EM cannot turn a one-time
   buyer's sale-week order into price while forgetful buyers keep firing at the overall rate.
   The SHAP function reads the same features as the others and is measured against the
   posterior without its own vote. A function counts
   only in its *scope* (the choice signatures among customers with 2+ orders, a return reason
   among customers who returned something): one fact is one vote (a one-time buyer's order
   in a sale week, on discount or at the cheap end is one function, not three). Known causes
   (`gold`) are clamped in EM. A cause no one-sided function can vote for is off target for
   every function: such causes keep their prior ratio and are reported as indistinct.
3. **Discriminative model**: LightGBM multiclass (small, n_jobs=1) on churn features + cause
   evidence, fitted on the lapsed customers with the label model's probabilities as soft
   labels (each row once per cause, weighted by that cause's probability), so it generalises
   past the rules' coverage. Its probabilities are the five `p_<cause>`.
   Cross-fitted in 3 folds by customer: a training customer is explained by the fold model
   that never saw them, anyone else by one model fitted on all of them (each row goes through
   one model: explain stays fast).
4. **Confidence**: `reason_confidence` is the top probability mapped by isotonic regression,
   fitted on the out-of-fold probabilities against the chance that the reason is right:
   1/0 on gold rows when there are at least `MIN_GOLD_FOR_CALIBRATION` of them, otherwise the
   label model's probability of the predicted cause (calibrated *to the label model*: as good
   as its own calibration, the documented choice when nothing is labelled).

`reason_evidence` says in words what the fired labelling functions of the reason saw
("returned 2 of 4 orders, last one as poor quality; rated 1 star"), `reason_basis` which tables
that came from, and notes the causes the shop's tables cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.errors import ChurnError
from features.evidence import evidence_columns
from features.registry import BY_NAME

CAUSES = ("forgot", "satisfaction", "choice", "price", "other")
K = len(CAUSES)
IDX = {c: i for i, c in enumerate(CAUSES)}
ABSTAIN = -1
#: the `cause` of a labelling function that may vote for any cause
ANY = "any"
#: shares of the causes among leavers (domain notes), the label model's class prior
DEFAULT_PRIOR = {"forgot": 0.50, "satisfaction": 0.10, "choice": 0.15, "price": 0.20,
                 "other": 0.05}
PROBA_COLUMNS = [f"p_{c}" for c in CAUSES]
EXPLAIN_COLUMNS = ["reason", "reason_confidence", *PROBA_COLUMNS, "reason_evidence",
                   "reason_basis"]
MIN_GOLD_FOR_CALIBRATION = 50
#: LightGBM threads at explain (the scoring machine's 2 cores)
PREDICT_THREADS = 2
_TEXT_COLUMNS = {"last_return_reason", "last_complaint_detail"}
_NOT_FEATURES = {"customer_id", "cutoff", "split", "churned", "membership_tier"}

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


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as floats; all NaN when the frame lacks it (its function then abstains)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)


def _orders(frame: pd.DataFrame) -> np.ndarray:
    """Orders so far: all non-cancelled ones when the evidence has them, else completed."""
    n = _col(frame, "ev_orders")
    return np.where(np.isnan(n), _col(frame, "frequency"), n)


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), "").astype(str)


def _n(values: np.ndarray | pd.Series) -> pd.Series:
    """Whole numbers as text, vectorised."""
    return pd.Series(np.round(np.nan_to_num(np.asarray(values, float))).astype(np.int64)
                     ).astype(str)


def _f1(values: np.ndarray | pd.Series) -> pd.Series:
    return pd.Series(np.round(np.asarray(values, float), 1)).astype(str)


def _pct(values: np.ndarray | pd.Series) -> pd.Series:
    return _n(np.asarray(values, float) * 100) + "%"


def _plural(count: pd.Series, word: str) -> pd.Series:
    return count + " " + word + np.where(count == "1", "", "s")


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


def _days_since(f: pd.DataFrame) -> np.ndarray:
    d = _col(f, "days_since_last_order")
    return np.where(np.isnan(d), _col(f, "recency_days"), d)


def _say_returns(f: pd.DataFrame) -> pd.Series:
    reason = _text(f, "last_return_reason").to_numpy()
    base = ("returned " + _n(_col(f, "ev_returned_orders")) + " of " + _n(_orders(f))
            + " orders")
    return base + pd.Series(np.where(reason != "", ", last one as " + reason, ""))


def _say_rating(f: pd.DataFrame) -> pd.Series:
    low = _col(f, "min_rating_in_episode")
    low = np.where(np.isnan(low), _col(f, "last_rating"), low)
    return "rated " + _plural(_n(low), "star") + " lately"


def _say_complaint(f: pd.DataFrame) -> pd.Series:
    topic = _text(f, "last_complaint_detail").to_numpy()
    return pd.Series(np.where(topic != "", "complained about " + topic,
                              "complained after a recent order"))


def _say_reason(cause: str) -> Callable[[pd.DataFrame], pd.Series]:
    def say(f: pd.DataFrame) -> pd.Series:
        reason = _text(f, "last_return_reason").to_numpy()
        return pd.Series(np.where(reason != "", "returned an order: \"" + reason + "\"",
                                  f"a return reason points at {cause}"))
    return say


def _say_topic(cause: str, what: str) -> Callable[[pd.DataFrame], pd.Series]:
    def say(f: pd.DataFrame) -> pd.Series:
        topic = _text(f, "last_complaint_detail").to_numpy()
        k = _col(f, f"post_detail_{cause}")
        pages = _plural(_n(k), "visit") + f" to {what} pages since the last order"
        return pd.Series(np.where((_col(f, f"complaint_{cause}") >= 1) & (topic != ""),
                                  "complained about " + topic, pages.to_numpy()))
    return say


def _lfs() -> tuple[LabellingFunction, ...]:
    n = _orders
    c = _col

    def known(*cols: str) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda f: np.all([~np.isnan(c(f, col)) for col in cols], axis=0)

    def repeat(k: int, *cols: str) -> Callable[[pd.DataFrame], np.ndarray]:
        return lambda f: (n(f) >= k) & known(*cols)(f)

    return (
        # forgot the shop: one order, then no visits, no favourite, no e-mail opens
        LabellingFunction(
            "one_order", "forgot", ("orders",), "bought exactly once",
            lambda f: n(f) == 1,
            lambda f: "bought once, " + _n(_days_since(f)) + " days ago",
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
            lambda f: known("post_events")(f) & (_days_since(f) >= SILENT_AFTER_DAYS)),
        # satisfaction dropped: returns, low ratings, complaints, just before the lapse
        LabellingFunction(
            "returned_last_orders", "satisfaction", ("returns|orders.status",),
            "returned one of the last two orders",
            lambda f: c(f, "returns_in_episode") >= 1, _say_returns,
            known("returns_in_episode")),
        LabellingFunction(
            "returns_often", "satisfaction", ("returns|orders.status",),
            "returned a third or more of two or more orders",
            lambda f: (c(f, "ev_returned_orders") >= 2)
            & (c(f, "ev_returned_orders") >= RETURN_RATE * n(f)), _say_returns,
            repeat(2, "ev_returned_orders")),
        LabellingFunction(
            "low_rating_lately", "satisfaction", ("reviews",),
            "rated 1-2 stars since the second-to-last order, or two stars below their usual",
            lambda f: (c(f, "low_ratings_in_episode") >= 1) | (c(f, "rating_drop")
                                                              >= RATING_DROP), _say_rating,
            known("low_ratings_in_episode")),
        LabellingFunction(
            "complained_lately", "satisfaction", ("events",),
            "complained since the second-to-last order",
            lambda f: c(f, "complaints_in_episode") >= 1, _say_complaint,
            known("complaints_in_episode")),
        # what a text says, given there is one (a return, a complaint, a page with a type)
        LabellingFunction(
            "return_reason_satisfaction", "satisfaction", ("returns",),
            "a return reason about quality, damage, delivery or service",
            lambda f: c(f, "return_reason_satisfaction") >= 1, _say_reason("satisfaction"),
            lambda f: known("return_reason_satisfaction")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "complaint_topic_satisfaction", "satisfaction", ("events",),
            "a complaint about quality, damage, delivery or service",
            lambda f: c(f, "complaint_satisfaction") >= 1, _say_complaint,
            lambda f: known("complaint_satisfaction")(f) & (c(f, "complaints") >= 1)),
        # too many choices: 2+ orders, wide spread, new items, orders thin out while browsing
        LabellingFunction(
            "many_categories", "choice", ("order_items", "products"),
            f"2+ orders from {MANY_CATEGORIES}+ categories",
            lambda f: c(f, "distinct_categories") >= MANY_CATEGORIES,
            lambda f: "bought from " + _n(c(f, "distinct_categories")) + " categories",
            repeat(2, "distinct_categories")),
        LabellingFunction(
            "new_arrivals", "choice", ("order_items", "products"),
            "2+ orders, a quarter or more of the items new arrivals",
            lambda f: c(f, "new_arrival_share") >= NEW_ARRIVAL_SHARE,
            lambda f: _pct(c(f, "new_arrival_share")) + " of items were new arrivals",
            repeat(2, "new_arrival_share")),
        LabellingFunction(
            "browses_without_buying", "choice", ("events",),
            f"2+ orders, {BROWSE_VISITS}+ visits since the last order",
            lambda f: c(f, "post_visits") >= BROWSE_VISITS,
            lambda f: _n(c(f, "post_visits")) + " visits since the last order without buying",
            repeat(2, "post_visits")),
        LabellingFunction(
            "orders_thin_out", "choice", ("orders",),
            f"3+ orders, the last gap {GAPS_GROW}x the earlier ones",
            lambda f: c(f, "gap_trend") >= GAPS_GROW,
            lambda f: "orders thinned out (last gap " + _f1(c(f, "gap_trend"))
            + "x the earlier ones)",
            repeat(3, "gap_trend")),
        LabellingFunction(
            "return_reason_choice", "choice", ("returns",),
            "a return reason about finding something better",
            lambda f: c(f, "return_reason_choice") >= 1, _say_reason("choice"),
            lambda f: known("return_reason_choice")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "looks_at_new_arrivals", "choice", ("events",),
            "new-arrival pages since the last order",
            lambda f: (c(f, "post_detail_choice") >= 1) | (c(f, "complaint_choice") >= 1),
            _say_topic("choice", "new-arrival"), known("post_detail_choice")),
        # price: sale periods, discounts, coupons, the cheap end. A habit needs 2+ orders; a
        # one-time buyer's single order in a sale week or on discount is a weaker hint
        # (forgetful one-time buyers buy in sales too): a function of its own, whose accuracy
        # the label model estimates on its own. One order is one fact: its sale week, its
        # discount and its price point vote once, not three times
        LabellingFunction(
            "sale_weeks", "price", ("orders",), "2+ orders, most in sale weeks",
            lambda f: c(f, "sale_week_share") >= SALE_SHARE,
            lambda f: _pct(c(f, "sale_week_share")) + " of orders in sale weeks",
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
                 "the only order was " + _pct(c(f, "discount_depth")).to_numpy() + " off"],
                "the only order was at " + _pct(c(f, "price_ratio")).to_numpy()
                + " of the category's price")),
            lambda f: (n(f) == 1) & known("sale_week_share")(f),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "discounts", "price", ("orders.discount",), "2+ orders, most on discount",
            # the habit the domain notes name ("buy on discount"), as the hand rules read it:
            # a shallow discount on most orders is a habit too (a depth bar made it miss most
            # price leavers of shops whose discounts are small)
            lambda f: c(f, "discount_share") >= DISCOUNT_SHARE,
            lambda f: _pct(c(f, "discount_share")) + " of orders on discount (average "
            + _pct(c(f, "discount_depth")) + " off)",
            repeat(2, "discount_share", "discount_depth"),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "coupons", "price", ("events",),
            f"{COUPONS}+ coupons claimed, or one since the last order",
            lambda f: (c(f, "coupon_claims") >= COUPONS) | (c(f, "post_coupon_claims") >= 1),
            lambda f: _plural(_n(c(f, "coupon_claims")), "coupon") + " claimed, "
            + _n(np.nan_to_num(c(f, "post_coupon_claims"))) + " since the last order",
            known("coupon_claims")),
        LabellingFunction(
            "cheap_end", "price", ("order_items", "products"),
            "2+ orders, pays 70% or less of the category's mean price",
            lambda f: c(f, "price_ratio") <= CHEAP_END,
            lambda f: "buys at " + _pct(c(f, "price_ratio")) + " of the category's price",
            repeat(2, "price_ratio"),
            independent_of=PRICE_FACT_NOT_ABOUT),
        LabellingFunction(
            "return_reason_price", "price", ("returns",), "a return reason about price",
            lambda f: c(f, "return_reason_price") >= 1, _say_reason("price"),
            lambda f: known("return_reason_price")(f) & (c(f, "ev_returned_orders") >= 1)),
        LabellingFunction(
            "looks_at_sales", "price", ("events",),
            "sale pages since the last order, or a complaint about price",
            lambda f: (c(f, "post_detail_price") >= 1) | (c(f, "complaint_price") >= 1),
            _say_topic("price", "sale"), known("post_detail_price")),
        # other: changed habits, moved on
        LabellingFunction(
            "return_reason_other", "other", ("returns",),
            "a return reason like changed mind or no longer needed",
            lambda f: c(f, "return_reason_other") >= 1, _say_reason("other"),
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
            lambda f: "the churn model's drivers point at " + _text(f, "shap_reason"),
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


# --- label model ------------------------------------------------------------------------------
@dataclass
class LabelModel:
    """EM over labelling functions' votes with a fixed class prior (Dawid-Skene with
    class-conditional error rates, constrained so that each cause stays defined by its own
    functions).

    A one-sided function j (it only ever votes for cause c) fires with probability
    `rho[j, c]` when the cause is c and `rho[j, y]` when it is another cause y: abstaining is
    informative, and a function may fire on one wrong cause more than on another (a sale-week
    order is common among forgetful one-time buyers, rarer among the dissatisfied). The
    off-target rates are shrunk towards the function's pooled off-target rate by `shrinkage`
    pseudo-rows, so a small cause borrows strength, and may not exceed the on-target rate: a
    function is never evidence *against* its own cause and for another (no worse than random,
    the usual identifiability assumption); one that fires less on its cause than off it becomes
    uninformative. Every cause is defined by its own functions only, so EM cannot relabel the
    causes (a free per-cause confusion matrix let it turn "choice" into "bought in sales").

    A function voting for several causes (the SHAP reason) gets a confusion matrix within its
    scope, P(vote v | cause y), shrunk towards "right with one accuracy, wrong votes spread
    evenly", with the same constraint per vote (a vote for v is never stronger evidence for
    another cause than for v). It is left out of the starting posterior: the causes are first
    anchored by the one-sided functions, then its confusion is measured against them. Where it
    abstains within its scope, it does so at one cause-independent rate.

    A cause no one-sided function votes for (and no gold row names) is "off target" for every
    function: such causes share one set of rates and keep their prior ratio (they cannot be
    told apart). `phi[j, y, v]`: P(vote v - 1 | cause y), v = 0 abstain; after the constraint a
    multi-cause function's rows need not sum to one exactly (only ratios within a vote matter).
    """
    prior: np.ndarray
    smoothing: float = 2.0
    #: pseudo-rows pulling a cause's own error rates towards the function's pooled ones
    shrinkage: float = 50.0
    class_conditional: bool = True
    init_accuracy: float = 0.7
    max_iter: int = 500
    tol: float = 1e-6
    phi: np.ndarray | None = None
    active: np.ndarray | None = None
    observable: np.ndarray | None = None
    targets: list[np.ndarray] = field(default_factory=list)
    #: per function, the causes' shares among the rows in its scope
    class_mass: np.ndarray | None = None
    #: per function and cause, a firing rate known beforehand (NaN: estimated)
    fixed: np.ndarray | None = None
    #: per function and cause, fixed at the overall rate because the fact says nothing about
    #: the cause (the other causes then fire at that rate together, too)
    independent: np.ndarray | None = None
    #: per function, measured against the posterior without its own vote (see `fit`)
    dependent: np.ndarray | None = None
    n_iter: int = 0

    @staticmethod
    def _scope(L: np.ndarray, scope: np.ndarray | None) -> np.ndarray:
        return np.ones(L.shape, bool) if scope is None else np.asarray(scope, bool)

    def _loglik(self, L: np.ndarray, S: np.ndarray) -> np.ndarray:
        out = np.zeros((len(L), len(self.prior)))
        logphi = np.log(np.clip(self.phi, 1e-12, None))
        for j in np.where(self.active)[0]:
            out += np.where(S[:, j, None], logphi[j][:, L[:, j] + 1].T, 0.0)
        return out

    @staticmethod
    def _normalise(logp: np.ndarray) -> np.ndarray:
        logp = logp - logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(axis=1, keepdims=True)

    def _multi(self, j: int) -> bool:
        return len(self.targets[j]) > 1

    def _init_posterior(self, L: np.ndarray) -> np.ndarray:
        """One-sided votes weighted by one assumed accuracy, abstentions ignored: anchors each
        cause to the functions voting for it before EM."""
        k = len(self.prior)
        a = self.init_accuracy
        logp = np.tile(np.log(self.prior), (len(L), 1))
        for j in np.where(self.active)[0]:
            if self._multi(j):
                continue
            voted = L[:, j] >= 0
            hit = np.zeros((voted.sum(), k), bool)
            hit[np.arange(voted.sum()), L[voted, j]] = True
            logp[voted] += np.where(hit, np.log(a), np.log((1 - a) / (k - 1)))
        return self._normalise(logp)

    def _one_sided(self, c: int, fires: np.ndarray, mass: np.ndarray,
                   coverage: float, fixed: np.ndarray,
                   independent: np.ndarray | None = None) -> np.ndarray:
        """Firing rate per cause of a function voting for c (fires, mass: per cause); `fixed`:
        rates known from the domain (NaN: estimate), which the others are estimated around."""
        # an indistinct cause keeps the shared rates: the causes no function can see stay
        # at their prior ratio
        known = ~np.isnan(fixed) & self.observable
        mass_all = mass
        fires, mass = fires.copy(), mass.copy()
        fires[known], mass[known] = 0.0, 0.0
        s = self.smoothing
        on = (fires[c] + s * coverage) / (mass[c] + s)
        off = (fires.sum() - fires[c] + s * coverage) / (mass.sum() - mass[c] + s)
        if on < off:
            # no worse than random: EM may not turn a function against its own cause, it
            # becomes uninformative instead
            return np.full(len(mass), coverage)
        rho = np.full(len(mass), off)
        if self.class_conditional:
            own = self.observable.copy()
            own[c] = False
            rho[own] = np.minimum(
                (fires[own] + self.shrinkage * off) / (mass[own] + self.shrinkage), on)
        rho[c] = on
        rho = np.where(known, fixed, rho)
        if independent is not None:
            rho = self._consistent(rho, c, mass_all, coverage, independent & known, known)
        return rho

    @staticmethod
    def _consistent(rho: np.ndarray, c: int, mass: np.ndarray, coverage: float,
                    independent: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Rates that honour "the fact says nothing about the `independent` causes": it fires
        on them at its overall rate, so it fires at that rate on the other causes together
        too (P(fire | y in I) = P(fire) implies P(fire | y not in I) = P(fire)). The function's
        own cause c takes what the other causes' rates leave of that mass-weighted mean
        (without this EM puts the rows the function fires on into c while the independent
        causes keep firing at the overall rate: the fact would count for c twice)."""
        rest = ~independent
        if not independent.any() or not rest[c] or known[c] or mass[c] <= 0:
            return rho
        others = rest.copy()
        others[c] = False
        want = coverage * mass[rest].sum() - (mass[others] * rho[others]).sum()
        out = rho.copy()
        out[c] = np.clip(want / mass[c], 1e-4, 1 - 1e-4)
        return out

    def _confusion(self, t: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """P(vote | cause, it votes) of a multi-cause function voting for `t` (k x k)."""
        k = len(self.prior)
        s = self.smoothing
        n = counts.sum()
        acc = (np.trace(counts) + s * self.init_accuracy) / (n + s)
        acc = max(acc, 1 / len(t))
        base = np.zeros((k, k))
        for y in range(k):
            if y in t:
                base[y, t] = (1 - acc) / (len(t) - 1)
                base[y, y] = acc
            else:
                base[y, t] = 1 / len(t)
        if not self.class_conditional:
            return base
        h = self.shrinkage
        conf = (counts + h * base) / (counts.sum(axis=1, keepdims=True) + h)
        tied = ~self.observable
        if tied.any():
            conf[tied] = ((counts[tied].sum(axis=0) + h * base[tied].mean(axis=0))
                          / (counts[tied].sum() + h))
        for v in t:  # a vote for v is never stronger evidence for another cause than for v
            if self.observable[v]:
                others = np.arange(k) != v
                conf[others, v] = np.minimum(conf[others, v], conf[v, v])
        return conf

    def _posteriors_without(self, L: np.ndarray, S: np.ndarray,
                            logp: np.ndarray) -> dict[int, np.ndarray]:
        """Per `dependent` function, the posterior without its own vote: it is measured
        against the causes the other functions anchor, not against itself. The SHAP reason
        reads the same features as the one-sided functions; with its vote in the posterior it
        is measured against, EM counts that shared evidence twice and the vote looks as right
        as it is confident (a conditionally independent function keeps plain EM: against a
        posterior without it its accuracy would come out too low)."""
        out = {}
        logphi = np.log(np.clip(self.phi, 1e-12, None))
        for j in np.where(self.active & self.dependent)[0]:
            own = np.where(S[:, j, None], logphi[j][:, L[:, j] + 1].T, 0.0)
            out[j] = self._normalise(logp - own)
        return out

    def _m_step(self, L: np.ndarray, q: np.ndarray, S: np.ndarray,
                q_without: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        k = len(self.prior)
        phi = np.zeros((L.shape[1], k, k + 1))
        phi[:, :, 0] = 1.0  # a silent function always abstains
        for j in np.where(self.active)[0]:
            votes = L[S[:, j], j]
            q_j = (q if q_without is None or j not in q_without else q_without[j])[S[:, j]]
            fire = votes >= 0
            coverage = fire.mean()
            t = self.targets[j]
            if not self._multi(j):
                rho = self._one_sided(t[0], q_j[fire].sum(axis=0), q_j.sum(axis=0), coverage,
                                      self.fixed[j], self.independent[j])
                phi[j, :, 0] = 1 - rho
                phi[j, :, t[0] + 1] = rho
            else:
                counts = q_j[fire].T @ np.eye(k)[votes[fire]]
                phi[j, :, 0] = 1 - coverage
                phi[j, :, 1:] = coverage * self._confusion(t, counts)
        return phi

    def fit(self, L: np.ndarray, gold: np.ndarray | None = None,
            scope: np.ndarray | None = None, fixed: np.ndarray | None = None,
            independent: np.ndarray | None = None,
            dependent: np.ndarray | None = None) -> LabelModel:
        """`L`: n x m votes (-1 abstain); `gold`: known cause index or -1 per row; `scope`:
        n x m booleans, where a vote or abstention counts (default everywhere); `fixed`: m x k
        firing rates known beforehand (NaN: estimate; one-sided functions only);
        `independent`: m x k, where a fixed rate is the overall rate of a fact that says
        nothing about the cause (the function's own cause then takes what keeps its rate on
        the other causes together at the overall rate too); `dependent`: m booleans, functions
        not conditionally independent of the others (they read the same features), measured
        against the posterior without their own vote."""
        L = np.asarray(L, dtype=np.int64)
        S = self._scope(L, scope)
        L = np.where(S, L, ABSTAIN)
        k = len(self.prior)
        self.fixed = (np.full((L.shape[1], k), np.nan) if fixed is None
                      else np.asarray(fixed, float))
        self.independent = (np.zeros((L.shape[1], k), bool) if independent is None
                            else np.asarray(independent, bool) & ~np.isnan(self.fixed))
        self.dependent = (np.zeros(L.shape[1], bool) if dependent is None
                          else np.asarray(dependent, bool))
        self.prior = np.asarray(self.prior, float) / np.sum(self.prior)
        self.targets = [np.unique(L[:, j][L[:, j] >= 0]) for j in range(L.shape[1])]
        # informative: it fires, and abstains somewhere in its scope or names several causes
        self.active = np.array([len(t) > 1 or (len(t) == 1 and (S[:, j] & (L[:, j] < 0)).any())
                                for j, t in enumerate(self.targets)], dtype=bool)
        self.observable = np.zeros(k, bool)
        for j in np.where(self.active)[0]:
            if not self._multi(j):
                self.observable[self.targets[j]] = True
        gold = None if gold is None else np.asarray(gold, dtype=np.int64)
        known = None if gold is None else gold >= 0
        q = self._init_posterior(L)
        if known is not None and known.any():
            self.observable[np.unique(gold[known])] = True
            q[known] = np.eye(k)[gold[known]]
        self.phi = self._m_step(L, q, S)
        for it in range(self.max_iter):
            logp = np.log(self.prior) + self._loglik(L, S)
            q = self._normalise(logp)
            q_without = self._posteriors_without(L, S, logp)
            if known is not None and known.any():
                q[known] = np.eye(k)[gold[known]]
                for qj in q_without.values():
                    qj[known] = np.eye(k)[gold[known]]
            phi = self._m_step(L, q, S, q_without)
            change = np.abs(phi - self.phi).max()
            self.phi = phi
            self.n_iter = it + 1
            if change < self.tol:
                break
        # the causes' shares where each function counts: its accuracy is relative to those
        self.class_mass = np.stack([q[S[:, j]].mean(axis=0) if S[:, j].any() else self.prior
                                    for j in range(L.shape[1])]) if L.shape[1] else None
        return self

    def predict_proba(self, L: np.ndarray, scope: np.ndarray | None = None) -> np.ndarray:
        L = np.asarray(L, dtype=np.int64)
        S = self._scope(L, scope)
        return self._normalise(np.log(self.prior) + self._loglik(np.where(S, L, ABSTAIN), S))

    def accuracies(self) -> np.ndarray:
        """Per function: P(its vote is the true cause | it votes); NaN for a silent one."""
        k = len(self.prior)
        w = (self.class_mass if self.class_mass is not None
             else np.tile(self.prior, (len(self.phi), 1)))
        right = (w * self.phi[:, np.arange(k), np.arange(k) + 1]).sum(axis=1)
        votes = (w * (1 - self.phi[:, :, 0])).sum(axis=1)
        acc = np.divide(right, votes, out=np.full(len(votes), np.nan), where=votes > 1e-9)
        return np.where(self.active, acc, np.nan)


# --- discriminative model ---------------------------------------------------------------------
@dataclass(frozen=True)
class CauseParams:
    n_estimators: int = 60      # x 5 causes x 3 folds trees per row at explain: keep it small
    learning_rate: float = 0.1
    num_leaves: int = 15
    min_child_samples: int = 20
    max_rows: int = 60_000
    folds: int = 3


def model_features(frame: pd.DataFrame) -> list[str]:
    """Registry features and numeric evidence present in the frame with any value."""
    cols = [c for c in frame.columns
            if (c in BY_NAME or c in evidence_columns([c])) and c not in _NOT_FEATURES
            and c not in _TEXT_COLUMNS]
    return [c for c in cols if pd.to_numeric(frame[c], errors="coerce").notna().any()]


def _fit_classifier(X: pd.DataFrame, Q: np.ndarray, seed: int, p: CauseParams):
    import lightgbm as lgb

    n = len(X)
    Xr = pd.concat([X] * K, ignore_index=True)
    y = np.repeat(np.arange(K), n)
    w = Q.T.ravel()
    keep = w > 1e-3
    for k in range(K):  # every cause must appear for a 5-class model
        if not keep[y == k].any():
            keep[np.where(y == k)[0][np.argmax(w[y == k])]] = True
    clf = lgb.LGBMClassifier(
        objective="multiclass", n_estimators=p.n_estimators, learning_rate=p.learning_rate,
        num_leaves=p.num_leaves, min_child_samples=p.min_child_samples, subsample=0.8,
        subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, n_jobs=1, random_state=seed,
        verbose=-1)
    clf.fit(Xr[keep], y[keep], sample_weight=np.maximum(w[keep], 1e-6))
    return clf


def _proba(clf, X: pd.DataFrame | np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    p = clf.booster_.predict(X, num_threads=PREDICT_THREADS)
    if p.ndim == 1:  # a model that saw one class only
        p = p[:, None]
    out = np.zeros((len(X), K))
    out[:, np.asarray(clf.classes_, dtype=int)] = p
    return out


def _folds(frame: pd.DataFrame, k: int, seed: int) -> np.ndarray:
    """Fold per customer (all their cutoffs together), stable across runs."""
    if "customer_id" in frame.columns:
        h = pd.util.hash_pandas_object(frame["customer_id"].astype(str), index=False,
                                       hash_key=f"causes{seed:08d}"[:16].ljust(16, "0"))
        return (h.to_numpy() % k).astype(int)
    return np.random.default_rng(seed).integers(0, k, len(frame))


def gold_vector(frame: pd.DataFrame, gold: pd.DataFrame | None) -> np.ndarray:
    """Per frame row, the known cause index of the lapse it belongs to, else -1: the
    customer's earliest label dated at or after their last order before the cutoff."""
    out = np.full(len(frame), -1, dtype=np.int64)
    if gold is None or len(gold) == 0 or "customer_id" not in frame.columns:
        return out
    g = gold.loc[gold["cause"].isin(CAUSES), ["customer_id", "label_ts", "cause"]].copy()
    g["customer_id"] = g["customer_id"].astype(str)
    g["label_ts"] = pd.to_datetime(g["label_ts"])
    rows = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(),
                         "row": np.arange(len(frame))})
    if "cutoff" in frame.columns:
        last = (pd.to_datetime(frame["cutoff"]).reset_index(drop=True)
                - pd.to_timedelta(np.nan_to_num(_days_since(frame)), unit="D")).to_numpy()
    else:
        last = np.full(len(frame), np.datetime64("1900-01-01"))
    rows["last_order"] = last
    j = rows.merge(g, on="customer_id")
    j = j[j["label_ts"] >= j["last_order"]].sort_values(["row", "label_ts"])
    j = j.drop_duplicates("row")
    out[j["row"].to_numpy()] = j["cause"].map(IDX).to_numpy()
    return out


@dataclass
class CauseModel:
    """The fitted cause model. `classifiers[k]` was trained without fold k of the training
    customers: a training customer is predicted by the model that never saw them (their
    probabilities are out of fold, like the confidence calibration), anyone else by
    `classifier`, fitted on all of them (one model per row keeps explain fast), or by the mean
    of the fold models when there is none."""
    label_model: LabelModel
    classifiers: list
    features: list[str]
    calibrator: object | None
    tables: frozenset[str]
    prior: dict[str, float]
    lf_names: list[str]
    #: causes no available labelling function can vote for (told apart from nothing)
    indistinct: tuple[str, ...] = ()
    lf_accuracy: dict[str, float] = field(default_factory=dict)
    lf_coverage: dict[str, float] = field(default_factory=dict)
    calibrated_on: str = "label_model"
    classifier: object | None = None
    train_rows: int = 0
    train_customers: frozenset[str] = frozenset()
    fold_seed: int = 0

    @property
    def lfs(self) -> list[LabellingFunction]:
        return [LF_BY_NAME[n] for n in self.lf_names]

    def _X(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.features:
            return np.empty((len(frame), 0))
        return np.column_stack([_col(frame, c) for c in self.features])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """n x 5 cause probabilities (CAUSES order) from the discriminative models."""
        X = self._X(frame)
        models = [(k, clf) for k, clf in enumerate(self.classifiers) if clf is not None]
        P = np.zeros((len(X), K))
        rest = np.ones(len(X), bool)  # each row goes through the models it needs, only
        if "customer_id" in frame.columns and self.train_customers:
            seen = frame["customer_id"].astype(str).isin(self.train_customers).to_numpy()
            fold = _folds(frame, len(self.classifiers), self.fold_seed)
            for k, clf in models:
                rows = seen & (fold == k)
                if rows.any():
                    P[rows] = _proba(clf, X[rows])
                    rest &= ~rows
        if rest.any():
            Xr = X if rest.all() else X[rest]
            P[rest] = (_proba(self.classifier, Xr) if self.classifier is not None
                       else np.mean([_proba(clf, Xr) for _, clf in models], axis=0))
        return P

    def label_model_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.label_model.predict_proba(apply_lfs(frame, self.tables, self.lfs),
                                              lf_scopes(frame, self.tables, self.lfs))

    def confidence(self, top: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return top
        return np.clip(self.calibrator.predict(top), 0.0, 1.0)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """reason, reason_confidence, p_<cause> x5, reason_evidence, reason_basis per row."""
        P = self.predict_proba(frame)
        top = P.argmax(axis=1)
        reason = np.asarray(CAUSES, dtype=object)[top]
        out = pd.DataFrame({"reason": reason,
                            "reason_confidence": np.round(self.confidence(P.max(axis=1)), 4)})
        for i, c in enumerate(CAUSES):
            out[f"p_{c}"] = np.round(P[:, i], 4)
        # what the label model learnt from: a function silent or uninformative in training
        # (e.g. no SHAP reason then) is no evidence now
        L = np.where(self.label_model.active, apply_lfs(frame, self.tables, self.lfs), ABSTAIN)
        out["reason_evidence"] = evidence_sentences(frame, reason, L, self.lfs).to_numpy()
        out["reason_basis"] = reason_basis(reason, L, self.lfs, self.tables,
                                           self.indistinct).to_numpy()
        out.index = frame.index
        return out[EXPLAIN_COLUMNS]

    def summary(self) -> pd.DataFrame:
        """Per labelling function: cause, estimated accuracy, coverage on the training rows.
        Accuracy is NaN for a function that never fires, or always fires, within its scope
        (nothing to learn from it there)."""
        return pd.DataFrame([{"function": n, "cause": LF_BY_NAME[n].cause,
                              "accuracy": self.lf_accuracy.get(n, np.nan),
                              "coverage": self.lf_coverage.get(n, 0.0)}
                             for n in self.lf_names])


def _index(reason: np.ndarray) -> np.ndarray:
    """Cause names as indices (-2 for anything else, never equal to a vote)."""
    return pd.Series(np.asarray(reason, dtype=object)).map(IDX).fillna(-2).to_numpy(np.int64)


def evidence_sentences(frame: pd.DataFrame, reason: np.ndarray, L: np.ndarray,
                       lfs: list[LabellingFunction]) -> pd.Series:
    """What the reason's fired functions saw, in words, "; "-joined, each sentence once
    (vectorised per function). Without a fired function: what is known and that the cause was
    inferred."""
    f = frame.reset_index(drop=True)
    reason = np.asarray(reason, dtype=object)
    want = _index(reason)
    out = np.full(len(f), "", dtype=object)
    said: list[np.ndarray] = []
    for j, lf in enumerate(lfs):
        rows = np.where((L[:, j] >= 0) & (L[:, j] == want))[0]
        if len(rows) == 0:
            continue
        text = pd.Series(np.asarray(lf.say(f.iloc[rows].reset_index(drop=True)), dtype=object)
                         ).fillna("").astype(str).to_numpy(dtype=object)
        for earlier in said:  # a sentence another function already gave
            text = np.where(text == earlier[rows], "", text)
        column = np.full(len(f), "", dtype=object)
        column[rows] = text
        said.append(column)
        now = out[rows]
        out[rows] = np.where(text == "", now, np.where(now == "", text, now + "; " + text))
    empty = out == ""
    if empty.any():
        e = f[empty].reset_index(drop=True)
        orders, days = _orders(e), _days_since(e)
        n_txt = np.where(orders == 1, "bought once", (_n(orders) + " orders").to_numpy())
        d_txt = np.where(np.isnan(days), "", (", last " + _n(days) + " days ago").to_numpy())
        tail = np.where(reason[empty] == "other",
                        "; no sign of forgetting, dissatisfaction, choice or price",
                        "; no direct sign, inferred from similar leavers")
        out[empty] = n_txt.astype(object) + d_txt.astype(object) + tail.astype(object)
    return pd.Series(out, index=frame.index, dtype="string")


def reason_basis(reason: np.ndarray, L: np.ndarray, lfs: list[LabellingFunction],
                 tables: Iterable[str], indistinct: tuple[str, ...]) -> pd.Series:
    """The tables whose evidence voted for the reason; the causes these tables can't tell
    apart, when there are any (vectorised: one bit per source)."""
    tables = set(tables)
    want = _index(reason)
    sources = sorted({t for lf in lfs for t in lf.tables(tables)})
    bit = {t: 1 << i for i, t in enumerate(sources)}
    mask = np.zeros(len(want), dtype=np.int64)
    for j, lf in enumerate(lfs):
        b = sum(bit[t] for t in set(lf.tables(tables)))
        if b:
            mask[(L[:, j] >= 0) & (L[:, j] == want)] |= b
    note = ""
    if indistinct:
        missing = sorted({alt.split(".")[0] for lf in LABELLING_FUNCTIONS
                          if lf.cause in indistinct for need in lf.needs
                          for alt in need.split("|")} - tables)
        what = (f"{indistinct[0]} cannot be told from the other causes" if len(indistinct) == 1
                else f"{', '.join(indistinct)} cannot be told apart")
        note = (f"; {what} with these tables"
                + (f" (needs {', '.join(missing)})" if missing else ""))
    words = {m: (", ".join(t for t in sources if m & bit[t])
                 or "similar leavers (no direct evidence)") + note for m in np.unique(mask)}
    return pd.Series(pd.Series(mask).map(words).to_numpy(dtype=object), dtype="string")


def fit_cause_model(frame: pd.DataFrame, available_tables: Iterable[str],
                    prior: Mapping[str, float] | None = None, seed: int = 0,
                    gold: pd.DataFrame | None = None, *, lapsed_only: bool = True,
                    params: CauseParams = CauseParams()) -> CauseModel:
    """Fit on the lapsed rows of `frame` (churned == 1 when the column exists): features +
    evidence per customer x cutoff. `available_tables`: the shop's table names (a function
    needing another abstains). `gold`: optional (customer_id, label_ts, cause)."""
    tables = frozenset(available_tables)
    prior = dict(DEFAULT_PRIOR if prior is None else prior)
    train = frame
    if lapsed_only and "churned" in frame.columns:
        train = frame[frame["churned"] == 1]
    key = [c for c in ("customer_id", "cutoff") if c in train.columns]
    if key:  # the same rows in any order give the same model
        train = train.sort_values(key, kind="stable")
    if len(train) > params.max_rows:
        train = train.sample(params.max_rows, random_state=seed)
    train = train.reset_index(drop=True)
    if len(train) < 20:
        raise ChurnError(f"cause model: {len(train)} lapsed customers to learn from; need 20+")
    lfs = [lf for lf in LABELLING_FUNCTIONS if lf.available(tables)]
    L = apply_lfs(train, tables, lfs)
    S = lf_scopes(train, tables, lfs)
    g = gold_vector(train, gold)
    pi = np.array([float(prior.get(c, 0.0)) for c in CAUSES]) + 1e-6
    lm = LabelModel(prior=pi).fit(L, g, S, fixed_rates(lfs, L, S), independent_of(lfs),
                                  np.array([lf.dependent for lf in lfs], bool))
    Q = lm.predict_proba(L, S)
    known = g >= 0
    Q[known] = np.eye(K)[g[known]]

    features = model_features(train)
    X = pd.DataFrame({c: _col(train, c) for c in features})
    folds = _folds(train, params.folds, seed)
    oof = np.full((len(train), K), 1.0 / K)
    classifiers: list = []
    for k in range(params.folds):
        fit_rows = folds != k
        if fit_rows.all() or not fit_rows.any():
            classifiers.append(None)
            continue
        clf = _fit_classifier(X[fit_rows].reset_index(drop=True), Q[fit_rows], seed, params)
        oof[~fit_rows] = _proba(clf, X[~fit_rows].reset_index(drop=True))
        classifiers.append(clf)
    if all(c is None for c in classifiers):  # too few customers for folds: one model
        classifiers = [_fit_classifier(X, Q, seed, params)]
        oof = _proba(classifiers[0], X)
        full = None
    else:
        full = _fit_classifier(X, Q, seed, params)
    top = oof.argmax(axis=1)
    conf = oof.max(axis=1)
    if known.sum() >= MIN_GOLD_FOR_CALIBRATION:
        target, rows, on = (top == g).astype(float)[known], known, "gold"
    else:
        target, rows, on = Q[np.arange(len(Q)), top], np.ones(len(Q), bool), "label_model"
    calibrator = None
    if rows.sum() >= 20 and conf[rows].std() > 0:
        from sklearn.isotonic import IsotonicRegression

        calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip",
                                        increasing=True).fit(conf[rows], target)
    observable = lm.observable
    acc = lm.accuracies()
    return CauseModel(
        label_model=lm, classifiers=classifiers, features=features, calibrator=calibrator,
        tables=tables, prior=prior, lf_names=[lf.name for lf in lfs],
        indistinct=tuple(c for c, seen in zip(CAUSES, observable, strict=True) if not seen),
        lf_accuracy={lf.name: float(a) for lf, a in zip(lfs, acc, strict=True)},
        lf_coverage={lf.name: float((L[:, j] >= 0).mean()) for j, lf in enumerate(lfs)},
        calibrated_on=on, train_rows=len(train), fold_seed=seed, classifier=full,
        train_customers=(frozenset(train["customer_id"].astype(str))
                         if "customer_id" in train.columns and len(classifiers) > 1
                         else frozenset()))


__all__ = ["ANY", "CAUSES", "DEFAULT_PRIOR", "EXPLAIN_COLUMNS", "LABELLING_FUNCTIONS", "RARE",
           "CauseModel", "CauseParams", "LabelModel", "LabellingFunction", "apply_lfs",
           "available_tables", "evidence_sentences", "fit_cause_model", "fixed_rates",
           "gold_vector", "lf_scopes", "model_features", "reason_basis"]
