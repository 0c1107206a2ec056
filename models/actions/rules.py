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


#: the rules' actions for customers at risk and the reason each is meant for: the domain's
#: counter-measures, which the policy takes as its prior (models/campaigns/evidence.py)
RULE_ACTIONS: dict[str, str] = {
    "care_call": "forgot", "reminder_gift": "forgot", "reminder": "forgot",
    "service_recovery": "satisfaction", "membership_upgrade": "satisfaction",
    "new_arrivals": "choice", "promotion_invite": "price", "win_back_survey": "other",
}


def action_terms(scored: pd.DataFrame, p: RecommendParams) -> dict[str, pd.DataFrame]:
    """Per rules action, the channel, offer and product classes it goes out with to each
    customer (whatever their reason): the one offer per action that the rules send, that the
    policy tests and that it sends again once it has chosen the action."""
    cap = p.max_discount
    one_time = scored["one_time_buyer"] == 1
    lapsed = scored["recency_days"] >= p.lapsed_days
    tier_discount = scored["membership_tier"].map(dict(p.membership_discounts)).fillna(0.0)
    membership_offer = _pct("membership", tier_discount.clip(upper=min(cap,
                                                                          p.profit_max_discount)))
    profit = pd.Series(np.where(one_time, "traffic", "profit"), index=scored.index)
    deep = one_time & lapsed

    def terms(channel, offer, classes) -> pd.DataFrame:
        frame = pd.DataFrame({"channel": channel, "offer": offer, "product_classes": classes},
                             index=scored.index)
        return frame.astype(object)

    return {
        "care_call": terms("phone", "gift", "traffic"),
        "reminder_gift": terms("email", "gift_and_favorite_reward", "traffic"),
        "reminder": terms("sms", "favorite_reward", "traffic"),
        "service_recovery": terms("phone", membership_offer, profit),
        "membership_upgrade": terms("email", membership_offer, profit),
        "new_arrivals": terms("email", _pct("early_bird", min(cap, p.early_bird_discount)),
                              "potential"),
        "promotion_invite": terms(np.where(deep, "sms", "email"),
                                  np.where(deep, _pct("promo", cap),
                                           _pct("promo", min(cap, p.price_repeat_discount))),
                                  "traffic,edge"),
        "win_back_survey": terms("email", "none", "traffic"),
    }


def recommend(scored: pd.DataFrame, p: RecommendParams) -> pd.DataFrame:
    """action, channel, offer, product_classes (comma-separated target classes) per customer.
    `scored` needs at_risk, reason, membership_tier, one_time_buyer, recency_days, yearly_spend.
    """
    high_value = scored["yearly_spend"] > scored["yearly_spend"].quantile(p.high_value_quantile)
    one_time = scored["one_time_buyer"] == 1
    reason = scored["reason"].where(scored["at_risk"], "none")
    gold = scored["membership_tier"] == "gold"
    rules = [  # (condition, action) - first match wins
        (reason.eq("forgot") & high_value, "care_call"),
        (reason.eq("forgot") & one_time, "reminder_gift"),
        (reason.eq("forgot"), "reminder"),
        (reason.eq("satisfaction") & high_value, "service_recovery"),
        (reason.eq("satisfaction"), "membership_upgrade"),
        (reason.eq("choice"), "new_arrivals"),
        (reason.eq("price"), "promotion_invite"),
        (reason.eq("other"), "win_back_survey"),
    ]
    action = pd.Series(np.select([c.to_numpy() for c, _ in rules],
                                 [a for _, a in rules], default="none"), index=scored.index)
    action = action.where(~(reason.eq("none") & gold), "advocate_invite")
    out = pd.DataFrame({"action": action, "channel": "none", "offer": "none",
                        "product_classes": ""}, index=scored.index).astype(object)
    for name, terms in action_terms(scored, p).items():
        hit = (action == name).to_numpy()
        out.loc[hit, ["channel", "offer", "product_classes"]] = terms.loc[hit].to_numpy()
    out.loc[action == "advocate_invite", ["channel", "offer", "product_classes"]] = \
        ["email", "none", ""]
    return out


def contact_budget(scored: pd.DataFrame, p: RecommendParams) -> pd.Series:
    """in_budget for the `share` and `top_n` modes: the customers at risk with the most value
    at stake, top N or a share of them. In the `value` mode every customer may be contacted
    (the policy contacts those whose best action pays, within the caps: `apply_caps`)."""
    if p.budget == "value":
        return pd.Series(True, index=scored.index)
    at_risk = scored["at_risk"].to_numpy()
    n_at_risk = int(at_risk.sum())
    n = p.budget_top_n if p.budget == "top_n" and p.budget_top_n is not None else \
        int(np.ceil(p.budget_share * n_at_risk))
    rank = scored["value_at_stake"].where(scored["at_risk"]).rank(ascending=False,
                                                                  method="first")
    return (rank <= n).fillna(False).astype(bool)


def apply_caps(priority: np.ndarray, cost: np.ndarray, channel: np.ndarray,
               allowed: np.ndarray, p: RecommendParams) -> np.ndarray:
    """Which (customer, action) pairs stay allowed under the batch's caps: customers in order of
    `priority` (highest first) keep the actions whose cost and channel still fit the remaining
    `max_spend` / `max_contacts`, overall and per channel; a customer is counted at the most
    expensive action they keep, so whichever action is drawn later, the caps hold.

    cost, channel, allowed: (customers x actions). Returns the allowed mask after the caps.
    """
    caps = (p.max_contacts, p.max_spend, dict(p.channel_max_contacts),
            dict(p.channel_max_spend))
    if caps[0] is None and caps[1] is None and not caps[2] and not caps[3]:
        return allowed
    out = np.zeros_like(allowed)
    contacts_left = np.inf if p.max_contacts is None else float(p.max_contacts)
    spend_left = np.inf if p.max_spend is None else float(p.max_spend)
    ch_contacts = {c: float(v) for c, v in p.channel_max_contacts.items()}
    ch_spend = {c: float(v) for c, v in p.channel_max_spend.items()}
    for i in np.argsort(-priority, kind="stable"):
        if contacts_left < 1:
            break
        keep = allowed[i] & (cost[i] <= spend_left)
        for j in np.where(keep)[0]:
            c = channel[i, j]
            if ch_contacts.get(c, np.inf) < 1 or ch_spend.get(c, np.inf) < cost[i, j]:
                keep[j] = False
        if not keep.any():
            continue
        out[i] = keep
        contacts_left -= 1
        spend_left -= cost[i][keep].max()
        for c in set(channel[i][keep]):
            worst = cost[i][keep & (channel[i] == c)].max()
            if c in ch_contacts:
                ch_contacts[c] -= 1
            if c in ch_spend:
                ch_spend[c] -= worst
    return out


def plan_actions(rows: pd.DataFrame, rp: RecommendParams) -> pd.DataFrame:
    """What needs all customers at once: high-value cut, actions, the contact budget.
    Sorted by customer_id so every engine gives the same rows in the same order."""
    rows = rows.sort_values("customer_id", kind="stable").reset_index(drop=True)
    out = rows.join(recommend(rows, rp))
    out["in_budget"] = contact_budget(out, rp)
    return out
