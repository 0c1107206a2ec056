"""Plain words for the report: every code the pipeline writes (actions, offers, channels,
reasons, tiers, model names, tables) has its marketer's name here and only here, and every
number, amount and date on the page is formatted by the functions below."""

from __future__ import annotations

import math
import re
from datetime import date

ACTIONS = {
    "reminder": "Reminder",
    "reminder_gift": "Reminder with a small gift",
    "care_call": "Care call",
    "service_recovery": "Service recovery call",
    "membership_upgrade": "Membership upgrade",
    "new_arrivals": "New arrivals, early-bird price",
    "promotion_invite": "Promotion invitation",
    "win_back_survey": "Win-back survey",
    "advocate_invite": "Invitation to the advocate programme",
    "none": "Nothing to send",
}
CHANNELS = {"email": "E-mail", "sms": "SMS", "phone": "Phone call", "none": "No contact"}
#: a channel as a count: "1,858 e-mails"
CHANNEL_NOUNS = {"email": ("e-mail", "e-mails"), "sms": ("SMS", "SMS"),
                 "phone": ("call", "calls")}
REASONS = {
    "forgot": "Forgot the shop",
    "satisfaction": "Satisfaction dropped",
    "choice": "Too many choices elsewhere",
    "price": "Price",
    "other": "Other reasons",
}
#: what each reason means, from the domain notes
REASON_MEANING = {
    "forgot": "They bought, mostly once, and the shop slipped from their mind: no visits, no "
              "e-mail opens, no favourite since.",
    "satisfaction": "Something went wrong for a repeat customer: returns, low ratings or "
                    "complaints.",
    "choice": "Repeat customers who like to shop around: many categories, new items, orders "
              "thinning out while they still browse.",
    "price": "They buy on discount and in sales, use coupons, and leave when the price is not "
             "the lowest.",
    "other": "Changed habits or needs; no particular sign in the data.",
}
RISK_TIERS = {"high": "High risk", "medium": "Medium risk", "low": "Low risk"}
MEMBERSHIP = {"gold": "Gold", "silver": "Silver", "bronze": "Bronze"}
ACTION_SOURCES = {"rules": "are chosen by the shop's rules",
                  "learned": "are chosen by what past campaigns showed",
                  "explore": "are random test actions, so the learning keeps going"}
CUSTOMER_GROUPS = {"all": "All customers", "one_time_buyers": "One-time buyers",
                   "repeat_buyers": "Repeat buyers"}
MODELS = {
    "lightgbm": "Churn model",
    "recency_only": "Days since the last order",
    "rfm_logistic": "RFM rules (logistic regression)",
    "btyd_bgnbd": "Purchase-rhythm model (BG/NBD)",
    "random": "Random choice",
}
TABLES = {
    "orders": "orders", "order_items": "order lines", "products": "the product list",
    "returns": "returns", "reviews": "reviews", "events": "site and e-mail events",
    "contacts": "campaign contacts", "customers": "customer profiles",
    "labels": "known reasons (exit surveys)", "churn model (SHAP)": "the churn model's signals",
    "similar leavers (no direct evidence)": "similar leavers only",
}
VERDICTS = {"works": "works", "hurts": "hurts", "unclear": "not clear yet"}
DRIFT_LEVELS = {"ok": "stable", "warn": "shifted a little", "alert": "shifted a lot"}
_OFFER_PCT = re.compile(r"^(promo|early_bird|membership)_pct_off_(\d+)$")
_OFFER_PCT_WORDS = {"promo": "{p}% off (promotion)", "early_bird": "{p}% early-bird discount",
                    "membership": "{p}% member discount"}
OFFERS = {
    "none": "No offer",
    "gift": "A small gift in the next parcel",
    "favorite_reward": "A reward for favouriting the shop",
    "gift_and_favorite_reward": "A small gift and a reward for favouriting the shop",
}
MINUS = "\u2212"


def plain(code: object) -> str:
    """Last resort for a code no table knows: words, not an identifier."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "—"


def lookup(table: dict[str, str], code: object) -> str:
    return table.get(str(code), plain(code))


def action(code: object) -> str:
    return lookup(ACTIONS, code)


def channel(code: object) -> str:
    return lookup(CHANNELS, code)


def reason(code: object) -> str:
    return lookup(REASONS, code)


def risk_tier(code: object) -> str:
    return lookup(RISK_TIERS, code)


def membership(code: object) -> str:
    return lookup(MEMBERSHIP, code)


def model(code: object) -> str:
    return lookup(MODELS, code)


def table(code: object) -> str:
    return lookup(TABLES, code)


def need(code: str) -> str:
    """What a labelling function needs (`returns|orders.status`) in words."""
    def one(alt: str) -> str:
        name, _, column = alt.partition(".")
        return f"a {plain(column).lower()} column in {table(name)}" if column else table(name)
    return " or ".join(one(alt) for alt in code.split("|"))


def offer(code: object) -> str:
    """`promo_pct_off_30` -> "30% off (promotion)"; named offers from OFFERS."""
    found = _OFFER_PCT.match(str(code))
    if found:
        return _OFFER_PCT_WORDS[found.group(1)].format(p=int(found.group(2)))
    return lookup(OFFERS, code)


def offer_discount(code: object) -> float:
    """The discount share an offer gives (0 for gifts and rewards)."""
    found = _OFFER_PCT.match(str(code))
    return int(found.group(2)) / 100 if found else 0.0


def segment(code: str) -> str:
    """A results segment (`all`, `reason:forgot`, `tier:high`, `reason:pooled`) in words."""
    if code == "all":
        return "all customers"
    kind, _, value = code.partition(":")
    if value == "pooled":
        return "smaller groups together"
    return reason(value) if kind == "reason" else risk_tier(value) if kind == "tier" \
        else plain(value)


# --- numbers -------------------------------------------------------------------------------

def _bad(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value: object) -> str:
    """1858 -> "1,858"."""
    if _bad(value):
        return "—"
    number = round(float(value))
    return f"{MINUS}{abs(number):,}" if number < 0 else f"{number:,}"


def signed(value: object) -> str:
    """92 -> "+92", -3 -> "−3"."""
    if _bad(value):
        return "—"
    number = round(float(value))
    return f"+{number:,}" if number > 0 else count(number)


def money(value: object, currency: str, cents: bool | None = None) -> str:
    """4213.5 -> "€4,214"; amounts under 10 keep their cents ("€0.05") unless told."""
    if _bad(value):
        return "—"
    amount = float(value)
    if cents is None:
        cents = abs(amount) < 10
    text = f"{abs(amount):,.2f}" if cents else f"{round(abs(amount)):,}"
    sign = MINUS if amount < 0 and text.strip("0.,") else ""
    return f"{sign}{currency}{text}"


def signed_money(value: object, currency: str) -> str:
    text = money(value, currency)
    return text if text.startswith((MINUS, "—")) or float(value) == 0 else "+" + text


def pct(share: object, digits: int = 0) -> str:
    """0.586 -> "59%"."""
    if _bad(share):
        return "—"
    text = f"{abs(float(share)) * 100:.{digits}f}%"
    return (MINUS + text) if float(share) < 0 and text.strip("0.%") else text


def small_pct(share: object) -> str:
    """A small chance with one decimal, never a false zero: 0.0004 -> "under 0.1%"."""
    if _bad(share):
        return "—"
    return "under 0.1%" if float(share) < 0.0005 else pct(share, 1)


def points(share: object) -> str:
    """An uplift as percentage points with its sign: 0.0875 -> "+9"."""
    if _bad(share):
        return "—"
    number = round(float(share) * 100)
    return f"+{number}" if number > 0 else (f"{MINUS}{abs(number)}" if number < 0 else "0")


def day(value: object) -> str:
    """2025-12-30 (text, date or timestamp) -> "30 December 2025"."""
    if _bad(value) or value == "":
        return "—"
    d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{d.day} {d:%B %Y}"


def day_labels(values: list[object]) -> list[str]:
    """Chart labels for dates: "3 May 2025", "2 Jun", ... (the year where it changes)."""
    out, year = [], None
    for value in values:
        d = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        out.append(f"{d.day} {d:%b}" + (f" {d.year}" if d.year != year else ""))
        year = d.year
    return out


def channel_noun(code: object, n: float) -> str:
    """The channel as a counted noun: 1 call, 339 calls, 1,858 e-mails."""
    one, many = CHANNEL_NOUNS.get(str(code), (channel(code).lower(), channel(code).lower()))
    return one if round(float(n)) == 1 else many


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{count(n)} {one if round(n) == 1 else (many or one + 's')}"
