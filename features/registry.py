"""Every feature, declared once: name, meaning, tables it needs, and the churn cause it informs.

The registry drives what the engine computes (a feature whose inputs a shop lacks is skipped),
the generated feature table in docs/features.md, and the aggregation of per-customer SHAP values
into reasons. Families: `forgot`, `satisfaction`, `choice`, `price` are causes; `general` marks
the RFM state of a customer (how lapsed, how valuable): it drives risk, never the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CAUSE_FAMILIES = ("forgot", "satisfaction", "choice", "price")
FAMILIES = (*CAUSE_FAMILIES, "general")


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    description: str
    #: `phrase.format(v=value)` in words a marketer reads, for the top drivers of a customer
    phrase: str
    #: optional tables or `table.column` the feature needs beyond orders' required columns
    needs: tuple[str, ...] = ()
    #: +1: more of it never lowers P(churn); -1: never raises it (a LightGBM monotone
    #: constraint, so the model obeys what retail practice knows); 0: free
    monotone: int = 0


def _f(name, family, description, phrase, *needs, monotone: int = 0) -> Feature:
    return Feature(name, family, description, phrase, tuple(needs), monotone)


REGISTRY: tuple[Feature, ...] = (
    # --- RFM state (general) -----------------------------------------------------------------
    _f("recency_days", "general", "Days from the last completed order to the cutoff.",
       "last order {v:.0f} days ago", monotone=1),
    _f("frequency", "general", "Completed orders up to the cutoff.", "{v:.0f} orders so far",
       monotone=-1),
    _f("monetary_total", "general", "Total spend up to the cutoff.", "spent {v:,.0f} in total"),
    _f("monetary_mean", "general", "Mean order value.", "average order {v:,.0f}"),
    _f("monetary_max", "general", "Largest order value.", "largest order {v:,.0f}"),
    _f("tenure_days", "general", "Days from the first order to the cutoff.",
       "customer for {v:.0f} days"),
    _f("first_order_value", "general", "Value of the first order.", "first order {v:,.0f}"),
    _f("r_score", "general", "Recency quintile score at the cutoff (5 = most recent).",
       "recency score {v:.0f} of 5"),
    _f("f_score", "general", "Frequency quintile score (5 = most orders; ties share a score).",
       "frequency score {v:.0f} of 5"),
    _f("m_score", "general", "Monetary quintile score (5 = highest total spend).",
       "value score {v:.0f} of 5"),
    _f("rfm_score", "general", "r_score + f_score + m_score (3-15); sets the membership tier.",
       "RFM score {v:.0f} of 15"),
    # --- timing (general) ----------------------------------------------------------------------
    _f("gap_mean", "general", "Mean days between consecutive orders (null for one order).",
       "buys every {v:.0f} days on average"),
    _f("gap_median", "general", "Median days between consecutive orders.",
       "typical gap {v:.0f} days"),
    _f("gap_std", "general", "Standard deviation of the gaps between orders.",
       "irregular buying (gap spread {v:.0f} days)"),
    _f("last_gap", "general", "Days between the last two orders.",
       "last gap {v:.0f} days"),
    _f("overdue_factor", "general", "Recency divided by the median gap: >1 means overdue.",
       "{v:.1f}x past their usual buying cycle"),
    _f("orders_30d", "general", "Completed orders in the 30 days before the cutoff.",
       "{v:.0f} orders in the last 30 days"),
    _f("orders_90d", "general", "Completed orders in the 90 days before the cutoff.",
       "{v:.0f} orders in the last 90 days", monotone=-1),
    _f("orders_180d", "general", "Completed orders in the 180 days before the cutoff.",
       "{v:.0f} orders in the last 180 days", monotone=-1),
    _f("orders_365d", "general", "Completed orders in the 365 days before the cutoff.",
       "{v:.0f} orders in the last year", monotone=-1),
    _f("spend_30d", "general", "Spend in the 30 days before the cutoff.",
       "spent {v:,.0f} in the last 30 days"),
    _f("spend_90d", "general", "Spend in the 90 days before the cutoff.",
       "spent {v:,.0f} in the last 90 days"),
    _f("spend_180d", "general", "Spend in the 180 days before the cutoff.",
       "spent {v:,.0f} in the last 180 days"),
    _f("spend_365d", "general", "Spend in the 365 days before the cutoff.",
       "spent {v:,.0f} in the last year"),
    # --- forgot the shop ------------------------------------------------------------------------
    _f("one_time_buyer", "forgot", "1 when the customer has exactly one completed order.",
       "bought only once"),
    _f("days_since_last_event", "forgot", "Days since any visit, e-mail open, click or other "
       "event (null without events).", "no contact with the shop for {v:.0f} days", "events",
       monotone=1),
    _f("visits_since_last_order", "forgot", "Visits after the last order, up to the cutoff.",
       "{v:.0f} visits since their last order", "events"),
    _f("email_opens_since_last_order", "forgot", "E-mail opens after the last order.",
       "{v:.0f} e-mails opened since the last order", "events"),
    _f("email_clicks_since_last_order", "forgot", "E-mail clicks after the last order.",
       "{v:.0f} e-mail clicks since the last order", "events"),
    _f("visits_90d", "general", "Visits in the 90 days before the cutoff.",
       "{v:.0f} visits in the last 90 days", "events", monotone=-1),
    _f("email_opens_90d", "general", "E-mail opens in the 90 days before the cutoff.",
       "{v:.0f} e-mails opened in the last 90 days", "events"),
    _f("favorited", "forgot", "1 when the customer has favourited the shop or a product.",
       "has favourited the shop", "events"),
    # --- satisfaction dropped -----------------------------------------------------------------
    _f("spend_trend", "satisfaction", "(spend last 180 days - spend 180 days before) / their "
       "sum: -1 = spend stopped, +1 = all recent.", "spend trend {v:+.2f}"),
    _f("last_order_value_ratio", "satisfaction", "Last order value / mean of the earlier "
       "orders (null for one order).", "last order {v:.0%} of their usual basket"),
    _f("return_rate", "satisfaction", "Returned orders / all orders up to the cutoff.",
       "returned {v:.0%} of orders", "orders.status|returns"),
    _f("returned_value_share", "satisfaction", "Returned value / spend.",
       "returned {v:.0%} of what they bought", "orders.status|returns"),
    _f("last_order_returned", "satisfaction", "1 when the latest order was returned.",
       "returned their latest order", "orders.status|returns"),
    _f("days_since_last_return", "satisfaction", "Days since the last return (null: none).",
       "returned something {v:.0f} days ago", "orders.status|returns"),
    _f("rating_drop", "satisfaction", "Mean of the earlier ratings minus the latest rating.",
       "latest rating {v:.1f} stars below their usual", "reviews"),
    _f("last_rating", "satisfaction", "Rating of the latest review (1-5).",
       "last rating {v:.0f} of 5", "reviews"),
    _f("mean_rating", "satisfaction", "Mean review rating (1-5).", "average rating {v:.1f}",
       "reviews"),
    _f("low_ratings", "satisfaction", "Reviews rated 1 or 2.", "{v:.0f} low ratings",
       "reviews"),
    _f("complaints", "satisfaction", "Complaint events up to the cutoff.",
       "{v:.0f} complaints", "events"),
    _f("days_since_last_complaint", "satisfaction", "Days since the last complaint (null: "
       "none).", "complained {v:.0f} days ago", "events"),
    # --- too many choices -------------------------------------------------------------------
    _f("gap_trend", "choice", "Last gap / mean of the earlier gaps: >1 means orders thin out.",
       "last gap {v:.1f}x their earlier gaps"),
    _f("browse_ratio", "choice", "Visits in 90 days / (orders in 90 days + 1): browsing "
       "without buying.", "{v:.0f} visits per order lately", "events"),
    _f("distinct_categories", "choice", "Distinct product categories bought.",
       "bought from {v:.0f} categories", "order_items", "products.category"),
    _f("category_entropy", "choice", "Entropy of items over categories (bits): spread of "
       "interest.", "spread over many categories (entropy {v:.1f})", "order_items",
       "products.category"),
    _f("distinct_products", "choice", "Distinct products bought.",
       "tried {v:.0f} different products", "order_items"),
    _f("new_arrival_share", "choice", "Share of items launched within 90 days before purchase.",
       "{v:.0%} of items were new arrivals", "order_items", "products.launch_date"),
    _f("repeat_product_share", "choice", "Share of items re-buying a product bought before "
       "(low = keeps switching).", "{v:.0%} of items were re-buys", "order_items"),
    # --- price --------------------------------------------------------------------------------
    _f("sale_week_share", "price", "Share of orders placed in sale weeks (inferred from order "
       "volume and discounts, trailing 8 weeks).", "{v:.0%} of orders in sale weeks"),
    _f("discount_share", "price", "Share of orders with a discount.",
       "{v:.0%} of orders on discount", "orders.discount"),
    _f("discount_depth", "price", "Money off / (paid + money off).",
       "average discount {v:.0%}", "orders.discount"),
    _f("price_ratio", "price", "Mean unit price / the category's mean unit price at the "
       "cutoff (<1: buys the cheap end).", "buys at {v:.0%} of category price", "order_items",
       "products.category"),
    _f("coupon_claims", "price", "Coupons claimed up to the cutoff.", "{v:.0f} coupons claimed",
       "events"),
    _f("coupon_claims_since_last_order", "price", "Coupons claimed after the last order.",
       "{v:.0f} coupons claimed since the last order", "events"),
    # --- customer attributes (general; the optional customers table) ---------------------------
    _f("signup_age_days", "general", "Days from sign-up to the cutoff (unknown when the sign-up "
       "is after the cutoff).", "signed up {v:.0f} days ago", "customers.signup_ts"),
    _f("age_years", "general", "Age at the cutoff from the birth year (10-110, else unknown).",
       "{v:.0f} years old", "customers.birth_year"),
    _f("region_share", "general", "Share of the cutoff's customers in the same region "
       "(frequency encoding: stable across runs, so a registered model reads later data alike).",
       "region shared by {v:.0%} of customers", "customers.region"),
    _f("acquisition_channel_share", "general", "Share of the cutoff's customers acquired "
       "through the same channel.", "acquisition channel of {v:.0%} of customers",
       "customers.acquisition_channel"),
    _f("gender_share", "general", "Share of the cutoff's customers with the same gender value.",
       "gender value shared by {v:.0%} of customers", "customers.gender"),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in REGISTRY}


def check_registry(registry: tuple[Feature, ...] = REGISTRY) -> None:
    """Unique names, known families, monotone in {-1, 0, 1} (a test calls it; not `assert`,
    which `python -O` strips)."""
    names = [f.name for f in registry]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate feature names in the registry: {duplicates}")
    for f in registry:
        if f.family not in FAMILIES or f.monotone not in (-1, 0, 1):
            raise ValueError(f"feature {f.name}: family {f.family!r}, monotone {f.monotone!r}")


def _has(need: str, schema: Mapping[str, set[str]]) -> bool:
    """`a|b`: either; `table.column`: that column in that table; `table`: the table."""
    if "|" in need:
        return any(_has(n, schema) for n in need.split("|"))
    table, _, column = need.partition(".")
    return table in schema and (not column or column in schema[table])


def available(schema: Mapping[str, set[str]]) -> list[Feature]:
    """The features a shop's tables can support; `schema` maps table -> its columns."""
    return [f for f in REGISTRY if all(_has(n, schema) for n in f.needs)]


def monotone_constraints(names: list[str]) -> list[int]:
    return [BY_NAME[name].monotone for name in names]


def families(names: list[str]) -> dict[str, str]:
    return {name: BY_NAME[name].family for name in names}


def markdown_table() -> str:
    rows = ["| feature | cause family | needs | description |", "|---|---|---|---|"]
    for f in REGISTRY:
        needs = ", ".join(f.needs) or "orders"
        rows.append(f"| `{f.name}` | {f.family} | {needs} | {f.description} |")
    return "\n".join(rows) + "\n"
