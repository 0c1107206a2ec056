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

import numpy as np
import pandas as pd

from common.params import RecommendParams


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



def plan_actions(rows: pd.DataFrame, rp: RecommendParams) -> pd.DataFrame:
    """What needs all customers at once: high-value cut, actions, the contact budget.
    Sorted by customer_id so every engine gives the same rows in the same order."""
    rows = rows.sort_values("customer_id", kind="stable").reset_index(drop=True)
    out = rows.join(recommend(rows, rp))
    out["in_budget"] = contact_budget(out, rp)
    return out
