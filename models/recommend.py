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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class RecommendParams:
    high_value_quantile: float = 0.8
    lapsed_days: int = 180
    max_discount: float = 0.30
    price_repeat_discount: float = 0.15
    early_bird_discount: float = 0.05
    profit_max_discount: float = 0.10
    membership_discounts: Mapping[str, float] = field(
        default_factory=lambda: {"gold": 0.10, "silver": 0.07, "bronze": 0.05})
    products_per_customer: int = 3
    exclude_recent_days: int = 180
    budget_top_n: int | None = None
    budget_share: float = 0.2


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


def suggest_products(con, targets: pd.DataFrame, matrix: pd.DataFrame,
                     customer_categories: pd.DataFrame | None, recent: pd.DataFrame,
                     k: int, recent_margin: int = 3) -> pd.Series:
    """Up to k product ids per customer from their target classes, in categories they bought
    (when categories are known), not bought by them recently, most popular first."""
    import ibis
    from ibis import _

    if targets.empty or matrix.empty:
        return pd.Series(dtype="string")
    tg = targets[["customer_id", "product_classes"]].assign(
        product_class=targets["product_classes"].str.split(",")).explode("product_class")
    tg["class_priority"] = tg.groupby("customer_id").cumcount()
    t = ibis.memtable(tg[["customer_id", "product_class", "class_priority"]])
    # only the most popular few per (category, class) can make anyone's top k: keep k plus a
    # margin for what a customer bought recently, so candidates stay customers x k, not x all
    shortlist = matrix.sort_values("popularity_rank").groupby(
        ["category", "product_class"], dropna=False).head(k + recent_margin)
    m = ibis.memtable(shortlist[["product_id", "category", "product_class", "popularity_rank"]])
    if customer_categories is not None and matrix["category"].notna().any():
        cats = ibis.memtable(customer_categories[["customer_id", "category"]])
        cand = t.join(cats, "customer_id").join(m, ["category", "product_class"])
    else:
        cand = t.join(m, "product_class")
    cand = cand.select("customer_id", "product_id", "class_priority", "popularity_rank")
    if not recent.empty:
        rec = ibis.memtable(recent[["customer_id", "product_id"]])
        cand = cand.anti_join(rec, ["customer_id", "product_id"])
    w = ibis.window(group_by="customer_id", order_by=["class_priority", "popularity_rank"])
    ranked = cand.mutate(rn=ibis.row_number().over(w)).filter(_.rn < k)
    out = con.execute(ranked.group_by("customer_id").aggregate(
        product_ids=_.product_id.group_concat(",", order_by=[_.class_priority,
                                                              _.popularity_rank])))
    return out.set_index("customer_id")["product_ids"].astype("string")
