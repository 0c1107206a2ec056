"""What to send each customer at risk, from their reason, value and membership tier.

| reason | who | action | channel | offer | products from |
|---|---|---|---|---|---|
| forgot | high value | care_call | phone | gift | traffic |
| forgot | one-time buyer | reminder_gift | email | gift_and_favorite_reward | traffic |
| forgot | others | reminder | sms | favorite_reward | traffic |
| satisfaction | high value | service_recovery | phone | membership discount by tier | profit |
| satisfaction | others | membership_upgrade | email | membership discount by tier | profit |
| choice | all | new_arrivals | email | early_bird discount | potential |
| price | lapsed one-time buyer | promotion_invite | sms | the deepest discount | traffic, edge |
| price | others | promotion_invite | email | a moderate discount | traffic, edge |
| other | all | win_back_survey | email | none | traffic |
| not at risk | gold tier | advocate_invite | email | none | - |
| not at risk | others | none | none | none | - |

Discounts are bounded by `max_discount`; membership discounts grow with the RFM tier; offers
built on profit products never exceed `profit_max_discount`, and profit products are only
suggested to customers with 2+ orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from common.params import RecommendParams
from features.engine import completed_orders


def _pct(code: str, share: pd.Series | float) -> pd.Series | str:
    if isinstance(share, pd.Series):
        return code + "_pct_off_" + (share * 100).round().astype(int).astype(str)
    return f"{code}_pct_off_{round(share * 100)}"


def recommend(scored: pd.DataFrame, p: RecommendParams) -> pd.DataFrame:
    """action, channel, offer, product_classes (comma-separated target classes) per customer.
    `scored` needs at_risk, reason, membership_tier, one_time_buyer, recency_days, yearly_spend.
    """
    cap = p.max_discount
    high_value = scored["yearly_spend"] > scored["yearly_spend"].quantile(p.high_value_quantile)
    one_time = scored["one_time_buyer"] == 1
    lapsed = scored["recency_days"] >= p.lapsed_days
    reason = scored["reason"].where(scored["at_risk"], "none")
    tier_discount = scored["membership_tier"].map(dict(p.membership_discounts)).fillna(0.0)
    membership_offer = _pct("membership", tier_discount.clip(upper=min(cap,
                                                                          p.profit_max_discount)))
    gold = scored["membership_tier"] == "gold"

    rules = [  # (condition, action, channel, offer, product classes) - first match wins
        (reason.eq("forgot") & high_value, "care_call", "phone", "gift", "traffic"),
        (reason.eq("forgot") & one_time, "reminder_gift", "email", "gift_and_favorite_reward",
         "traffic"),
        (reason.eq("forgot"), "reminder", "sms", "favorite_reward", "traffic"),
        (reason.eq("satisfaction") & high_value, "service_recovery", "phone", membership_offer,
         "profit"),
        (reason.eq("satisfaction"), "membership_upgrade", "email", membership_offer, "profit"),
        (reason.eq("choice"), "new_arrivals", "email",
         _pct("early_bird", min(cap, p.early_bird_discount)), "potential"),
        (reason.eq("price") & one_time & lapsed, "promotion_invite", "sms",
         _pct("promo", cap), "traffic,edge"),
        (reason.eq("price"), "promotion_invite", "email",
         _pct("promo", min(cap, p.price_repeat_discount)), "traffic,edge"),
        (reason.eq("other"), "win_back_survey", "email", "none", "traffic"),
        (reason.eq("none") & gold, "advocate_invite", "email", "none", ""),
    ]
    out = pd.DataFrame(index=scored.index)
    for col, pos, default in (("action", 1, "none"), ("channel", 2, "none"),
                              ("offer", 3, "none"), ("product_classes", 4, "")):
        choices = [np.broadcast_to(np.asarray(r[pos], dtype=object), len(scored)) for r in rules]
        out[col] = np.select([r[0].to_numpy() for r in rules], choices, default=default)
    # profit products are for customers with 2+ orders only
    out.loc[one_time & out["product_classes"].eq("profit"), "product_classes"] = "traffic"
    return out


def contact_budget(scored: pd.DataFrame, p: RecommendParams) -> pd.Series:
    """in_budget: the customers at risk with the most value at stake, top N or a share of them."""
    at_risk = scored["at_risk"].to_numpy()
    n_at_risk = int(at_risk.sum())
    n = p.budget_top_n if p.budget_top_n is not None else int(np.ceil(p.budget_share
                                                                       * n_at_risk))
    rank = scored["value_at_stake"].where(scored["at_risk"]).rank(ascending=False,
                                                                  method="first")
    return (rank <= n).fillna(False).astype(bool)


def purchase_history(tables: Mapping[str, ir.Table], as_of: date, recent_days: int
                     ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(customer, category) pairs bought up to as_of, and (customer, product) pairs bought in
    the last `recent_days`: where suggestions come from and what they leave out."""
    if "order_items" not in tables:
        return None, pd.DataFrame(columns=["customer_id", "product_id"])
    o = completed_orders(tables["orders"], as_of)
    lines = tables["order_items"].join(o.select("order_id", "customer_id", "order_date"),
                                       "order_id")
    cats = None
    products = tables.get("products")
    if products is not None and "category" in products.columns:
        cats = lines.join(products.select("product_id", "category"), "product_id").select(
            "customer_id", "category").distinct().execute()
    recent = lines.filter(lines.order_date > as_of - timedelta(days=recent_days)).select(
        "customer_id", "product_id").distinct().execute()
    return cats, recent


def add_product_suggestions(scored: pd.DataFrame, matrix: pd.DataFrame,
                            tables: Mapping[str, ir.Table], as_of: date,
                            p: RecommendParams) -> pd.DataFrame:
    """product_ids (comma-separated) and product_note per customer."""
    if matrix.empty:
        return scored.assign(product_ids="", product_note="no item data: no product suggestions")
    cats, recent = purchase_history(tables, as_of, p.exclude_recent_days)
    targets = scored.loc[scored["product_classes"] != "", ["customer_id", "product_classes"]]
    ids = suggest_products(targets, matrix, cats, recent, p.products_per_customer)
    return scored.assign(product_ids=scored["customer_id"].map(ids).fillna("").astype(str),
                         product_note="")


def _join_columns(frame: pd.DataFrame) -> pd.Series:
    """Row-wise ",".join of the non-empty string columns, vectorised."""
    out = pd.Series("", index=frame.index, dtype=object)
    for col in frame.columns:
        value = frame[col].fillna("")
        sep = np.where((out != "") & (value != ""), ",", "")
        out = out + sep + value
    return out


def suggest_products(targets: pd.DataFrame, matrix: pd.DataFrame,
                     customer_categories: pd.DataFrame | None, recent: pd.DataFrame,
                     k: int, recent_margin: int = 3) -> pd.Series:
    """Up to k product ids per customer from their target classes, in categories they bought
    (when categories are known), not bought by them recently, most popular first.

    Customers who bought the same categories and get the same classes share one candidate list
    (a few hundred distinct lists for a million customers), so each list is built once; the
    recent purchases are then removed from the first k + `recent_margin` candidates of each
    customer in one vectorised anti-join."""
    if targets.empty or matrix.empty:
        return pd.Series(dtype="string")
    shortlist = matrix.sort_values("popularity_rank", kind="stable").groupby(
        ["category", "product_class"], dropna=False).head(k + recent_margin)
    ids = targets["customer_id"].astype(str).reset_index(drop=True)
    classes = targets["product_classes"].astype(str).reset_index(drop=True)
    use_categories = customer_categories is not None and matrix["category"].notna().any()
    if use_categories:
        # the set of categories a customer bought, as a sum of random 64-bit weights
        bought = pd.DataFrame({"customer_id": customer_categories["customer_id"].astype(str),
                               "category": customer_categories["category"].astype(str)}
                              ).drop_duplicates()
        code, names = pd.factorize(bought["category"])
        weights = np.random.default_rng(0).integers(1, 2**63, len(names), dtype=np.uint64)
        key = pd.Series(weights[code], index=bought["customer_id"]).groupby(level=0).sum()
        cat_key = pd.Series(key.reindex(ids.to_numpy(), fill_value=np.uint64(0)).to_numpy())
    else:
        cat_key = pd.Series(np.zeros(len(ids), dtype=np.uint64))
    codes, uniques = pd.MultiIndex.from_arrays([cat_key, classes]).factorize()
    first_customer = pd.Series(np.arange(len(ids))).groupby(codes).first()
    cats_of = None
    if use_categories:      # the categories of one customer per signature: all share them
        reps = ids.iloc[first_customer.to_numpy()]
        cats_of = bought[bought["customer_id"].isin(reps)].groupby("customer_id")[
            "category"].agg(list)

    # (category, class) -> [(rank, product)], most popular first; plain lists: a shop with
    # many categories has many signatures, and each list is a few dozen products at most
    cell: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for cat, cls, rank, pid in zip(
            shortlist["category"].astype(str), shortlist["product_class"].astype(str),
            shortlist["popularity_rank"], shortlist["product_id"].astype(str), strict=True):
        cell.setdefault((cat if use_categories else "", cls), []).append((rank, pid))
    lists = []
    for u, (_key, cls) in enumerate(uniques):
        cats = cats_of.get(ids.iloc[first_customer[u]], []) if use_categories else [""]
        picked: list[str] = []
        for c in cls.split(","):
            pool = sorted(x for cat in cats for x in cell.get((cat, c), ()))
            picked += [pid for _rank, pid in pool]
        lists.append(picked[:k + recent_margin])

    width = k + recent_margin
    table = np.array([c + [None] * (width - len(c)) for c in lists], dtype=object)
    long = pd.DataFrame({"customer_id": np.repeat(ids.to_numpy(), width),
                         "pos": np.tile(np.arange(width), len(ids)),
                         "product_id": table[codes].reshape(-1)}).dropna(subset="product_id")
    if not recent.empty:
        seen = pd.MultiIndex.from_arrays([recent["customer_id"].astype(str),
                                          recent["product_id"].astype(str)])
        long = long[~pd.MultiIndex.from_frame(long[["customer_id", "product_id"]]).isin(seen)]
    long = long[long.groupby("customer_id", sort=False).cumcount() < k]
    wide = long.assign(rank=long.groupby("customer_id", sort=False).cumcount()).pivot(
        index="customer_id", columns="rank", values="product_id")
    out = _join_columns(wide)
    return out[out != ""].astype("string")
