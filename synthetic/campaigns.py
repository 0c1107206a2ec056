"""A synthetic contact history with known effects, for testing measurement and learning.

Given a generated shop (its tables and the truth: customer_id, segment, cause), draw past score
batches: targets, an action per target (the rules below for most, a random action for an explore
share), a random holdout of each action's targets, and the responses. The effect of every
(cause, action) is planted in `EFFECTS`, so a test can check that the measured uplift finds it:

- reminder lifts `forgot` by 8 points and nobody else;
- discount lifts `price` by 10 points, and every order in a discount's window is charged at the
  discounted price (the margin given to customers who would have come back anyway);
- new_arrivals lifts `choice` by 5 points;
- discount HURTS `satisfaction` by 15 points (a coupon where service was the problem), which is
  what `RULES` send them: the rules are wrong there. The harm is large on purpose: with 10%
  holdouts, a smaller one on ~8% of customers is below what IPW on a few thousand held-out
  contacts can tell apart from noise.

Responses come on top of the shop's own orders. Each target may also come back by itself with a
`BASELINE` chance per cause, the same in both arms; a planted effect moves that chance, so a
negative effect needs a baseline at least as large. The chances are scaled by the share that
had no order in the window anyway, so the measured difference in response rate is the planted
effect, not a diluted one. One batch is a classic three-arm e-mail test: all actions at random
against one shared control group (control rows with an empty action). The history explores
more than a live policy would (30%), so every action has evidence in every cause.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ACTIONS = ("reminder", "discount", "new_arrivals")
LOYAL = "loyal"
#: what the rules of the time sent each cause (the logging policy's default)
RULES: Mapping[str, str] = {"forgot": "reminder", "satisfaction": "discount",
                            "choice": "new_arrivals", "price": "discount", "other": "reminder",
                            LOYAL: "discount"}
#: chance of coming back in the window without any contact, on top of the shop's own orders
BASELINE: Mapping[str, float] = {"forgot": 0.02, "satisfaction": 0.25, "choice": 0.06,
                                 "price": 0.05, "other": 0.03, LOYAL: 0.10}
#: planted uplift of the response rate, (cause, action) -> difference; absent = 0
EFFECTS: Mapping[tuple[str, str], float] = {
    ("forgot", "reminder"): 0.08,
    ("price", "discount"): 0.10,
    ("choice", "new_arrivals"): 0.05,
    ("satisfaction", "discount"): -0.15,
}
COSTS: Mapping[str, float] = {"reminder": 0.05, "discount": 0.10, "new_arrivals": 0.05}
DISCOUNT_DEPTH = 0.20


@dataclass(frozen=True)
class HistoryConfig:
    batches: int = 8
    every_days: int = 30
    targets_per_batch: int = 2000
    response_days: int = 30
    holdout_share: float = 0.10
    explore_share: float = 0.30
    shared_control_batch: int | None = 0   # index of the three-arm test with a shared control
    seed: int = 0
    effects: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(EFFECTS))
    baseline: Mapping[str, float] = field(default_factory=lambda: dict(BASELINE))
    rules: Mapping[str, str] = field(default_factory=lambda: dict(RULES))


def held_out(customer_ids: pd.Series, campaign: str, share: float) -> np.ndarray:
    """The campaign's random control group: a hash draw per (campaign, customer), as a CRM
    draws it (the generator's own, independent of the pipeline's holdout code)."""
    keys = (f"holdout|{campaign}|{c}".encode() for c in customer_ids.astype(str))
    bucket = np.fromiter((int(hashlib.md5(k).hexdigest()[:8], 16) % 100_000 for k in keys),
                         dtype=np.int64, count=len(customer_ids))
    return bucket < round(share * 100_000)


def cause_of(truth: pd.DataFrame) -> pd.Series:
    """customer_id -> cause, with 'loyal' for customers who do not lapse."""
    cause = truth["cause"].astype(object).where(truth["cause"].notna(), LOYAL)
    return pd.Series(cause.to_numpy(), index=truth["customer_id"].astype(str), name="cause")


def _draw_batch(i: int, day: pd.Timestamp, targets: pd.DataFrame, cfg: HistoryConfig,
                rng: np.random.Generator) -> pd.DataFrame:
    """Actions, arms and propensities of one batch's targets."""
    n, k, h = len(targets), len(ACTIONS), cfg.holdout_share
    campaign = f"c{i:02d}"
    ts = day + pd.Timedelta(hours=9) + pd.to_timedelta(rng.integers(0, 8 * 3600, n), unit="s")
    out = targets.assign(contact_ts=ts.to_numpy(), campaign_id=campaign)
    if i == cfg.shared_control_batch:   # three arms against one no-contact group
        control = held_out(out["customer_id"], campaign, h)
        action = np.asarray(ACTIONS)[rng.integers(0, k, n)]
        out["action"] = np.where(control, "", action)
        out["propensity"] = np.where(control, h, (1 - h) / k)
    else:
        rule = out["cause"].map(cfg.rules).to_numpy()
        explore = rng.random(n) < cfg.explore_share
        action = np.where(explore, np.asarray(ACTIONS)[rng.integers(0, k, n)], rule)
        control = held_out(out["customer_id"], campaign, h)
        out["action"] = action
        p_action = (1 - cfg.explore_share) * (rule == action) + cfg.explore_share / k
        out["propensity"] = np.where(control, h, (1 - h) * p_action)
    out["group"] = np.where(control, "control", "treatment")
    out["cost"] = np.where(control, 0.0, pd.Series(out["action"]).map(COSTS).fillna(0.0))
    return out


def campaign_history(tables: Mapping[str, pd.DataFrame], truth: pd.DataFrame,
                     cfg: HistoryConfig = HistoryConfig()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contacts, orders): past batches with holdouts, and the shop's orders plus the responses.

    contacts: customer_id, contact_ts, action, group, campaign_id, channel, cost (the contract)
    and, for tests, cause and propensity (the logging policy's chance of what was done: the
    holdout share for controls). Each customer is contacted at most once, so windows never
    overlap. orders: the shop's orders, amounts of orders in a discount's window reduced by
    DISCOUNT_DEPTH, and one appended order per planted response.
    """
    rng = np.random.default_rng(cfg.seed)
    orders = tables["orders"].copy()
    orders["customer_id"] = orders["customer_id"].astype(str)
    causes = cause_of(truth)
    last = orders["order_ts"].max().normalize()
    first_order = orders.groupby("customer_id")["order_ts"].min()
    window = pd.Timedelta(days=cfg.response_days)
    days = [last - window - pd.Timedelta(days=1 + cfg.every_days * j)
            for j in reversed(range(cfg.batches))]

    ids = first_order.index.to_numpy(dtype=object)
    free = first_order.index.isin(causes.index)    # bought, and not contacted yet
    batches = []
    for i, day in enumerate(days):
        eligible = np.where(free & (first_order < day).to_numpy())[0]
        chosen = rng.choice(eligible, size=min(cfg.targets_per_batch, len(eligible)),
                            replace=False)
        free[chosen] = False
        pick = ids[chosen]
        targets = pd.DataFrame({"customer_id": pick, "cause": causes.reindex(pick).to_numpy()})
        batches.append(_draw_batch(i, day, targets, cfg, rng))
    contacts = pd.concat(batches, ignore_index=True)
    contacts["channel"] = "email"

    # the shop's own orders in each window: who came back anyway
    completed = orders[orders.get("status", pd.Series("completed", index=orders.index))
                       .fillna("completed").eq("completed")]
    w = contacts[["customer_id", "contact_ts"]].reset_index().merge(
        completed[["customer_id", "order_ts"]], on="customer_id")
    w = w[(w.order_ts > w.contact_ts) & (w.order_ts <= w.contact_ts + window)]
    natural = contacts.index.isin(w["index"].unique())
    natural_rate = pd.Series(natural).groupby(contacts["cause"].to_numpy()).mean()

    treated = contacts["group"].eq("treatment").to_numpy()
    effect = np.array([cfg.effects.get((c, a), 0.0) for c, a in
                       zip(contacts["cause"], contacts["action"], strict=True)])
    base = contacts["cause"].map(cfg.baseline).fillna(0.0).to_numpy()
    free = 1 - contacts["cause"].map(natural_rate).to_numpy()
    chance = np.clip((base + treated * effect) / np.maximum(free, 1e-9), 0, 1)
    responds = ~natural & (rng.random(len(contacts)) < chance)

    discounted = treated & contacts["action"].eq("discount").to_numpy()
    typical = orders.groupby("customer_id")["amount"].median()
    r = contacts[responds]
    amount = (typical.reindex(r["customer_id"]).fillna(orders["amount"].median()).to_numpy()
              * np.exp(rng.normal(0, 0.3, len(r)))
              * np.where(discounted[responds], 1 - DISCOUNT_DEPTH, 1.0))
    offset = pd.to_timedelta(rng.uniform(0.5, cfg.response_days - 0.5, len(r)), unit="D")
    extra = pd.DataFrame({"order_id": [f"R{j:07d}" for j in range(len(r))],
                          "customer_id": r["customer_id"].to_numpy(),
                          "order_ts": (r["contact_ts"] + offset).dt.floor("s").to_numpy(),
                          "amount": np.round(amount, 2), "status": "completed"})
    # every order in a discount's window is charged at the discounted price
    charged = w[w["index"].isin(np.where(discounted)[0])]
    hit = orders.index[orders.set_index(["customer_id", "order_ts"]).index.isin(
        pd.MultiIndex.from_frame(charged[["customer_id", "order_ts"]]))]
    orders.loc[hit, "amount"] = np.round(orders.loc[hit, "amount"] * (1 - DISCOUNT_DEPTH), 2)
    orders = pd.concat([orders, extra.astype({"order_ts": orders["order_ts"].dtype})],
                       ignore_index=True).sort_values("order_ts", kind="stable")
    cols = ["customer_id", "contact_ts", "action", "group", "campaign_id", "channel", "cost",
            "cause", "propensity"]
    return contacts[cols], orders.reset_index(drop=True)


# --- the loop: the shop answers the pipeline's own batches ------------------------------------
#
# The retail shop runs on past the first batch; each batch the pipeline exports is answered
# with the mechanism above (a per-cause chance of coming back, the same for every target, that
# a planted effect moves; scaled by the share without an order in the window anyway), over the
# pipeline's own action names. The rules get it wrong in places: choice leavers answer a
# promotion, not new arrivals; dissatisfied customers are hurt by a promotion and won back by
# membership or a service call; a survey does nothing for anyone.

LOOP_EFFECTS: Mapping[tuple[str, str], float] = {
    ("forgot", "reminder"): 0.06, ("forgot", "reminder_gift"): 0.07,
    ("forgot", "care_call"): 0.08, ("forgot", "promotion_invite"): 0.02,
    ("satisfaction", "promotion_invite"): -0.10, ("satisfaction", "membership_upgrade"): 0.08,
    ("satisfaction", "service_recovery"): 0.09,
    ("choice", "promotion_invite"): 0.07, ("choice", "new_arrivals"): 0.01,
    ("price", "promotion_invite"): 0.09, ("price", "reminder"): 0.01,
    ("other", "reminder"): 0.02,
}
LOOP_COSTS: Mapping[str, float] = {"email": 0.05, "sms": 0.10, "phone": 3.0}
LOOP_CHANNEL: Mapping[str, str] = {"care_call": "phone", "service_recovery": "phone",
                                   "reminder": "sms"}


@dataclass(frozen=True)
class LoopConfig:
    customers: int = 8_000
    seed: int = 0
    batches: int = 6
    every_days: int = 35
    response_days: int = 30
    history_days: int = 3 * 365          # the shop before the first batch
    effects: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict(LOOP_EFFECTS))
    baseline: Mapping[str, float] = field(default_factory=lambda: dict(BASELINE))


def span_days(cfg: LoopConfig) -> int:
    """How long the shop must run after the first batch."""
    return cfg.batches * cfg.every_days + cfg.response_days + 5


class RetailLoop:
    """The retail shop answering batches; see the comment above LOOP_EFFECTS."""

    def __init__(self, cfg: LoopConfig, tables: Mapping[str, pd.DataFrame],
                 truth: pd.DataFrame) -> None:
        """`tables`, `truth`: a retail shop that runs `span_days(cfg)` past history_days
        (synthetic/retail_loop.py makes one)."""
        from synthetic.loop_shop import LoopShop

        self.cfg = cfg
        self.shop = LoopShop(tables, truth, cfg.response_days, cfg.seed + 1)
        first = pd.Timestamp(tables["orders"]["order_ts"].min()).normalize()
        self.first_batch = (first + pd.Timedelta(days=cfg.history_days)).date()
        self.dates = [(pd.Timestamp(self.first_batch) + pd.Timedelta(days=cfg.every_days * k)
                       ).date() for k in range(cfg.batches)]
        self.tables = self.shop.tables
        self.cause = self.shop.cause
        self.value = self.shop.value

    def uplift(self, ids: pd.Series, actions: pd.Series, as_of=None) -> np.ndarray:
        """The planted effect on the response chance of sending each action."""
        cause = self.cause.reindex(ids.astype(str)).fillna(LOYAL).to_numpy()
        return np.array([self.cfg.effects.get((c, a), 0.0) for c, a in
                         zip(cause, actions.astype(str), strict=True)])

    def cost(self, actions: pd.Series) -> np.ndarray:
        return actions.astype(str).map(lambda a: LOOP_COSTS[LOOP_CHANNEL.get(a, "email")]
                                       ).to_numpy(float)

    def answer(self, batch: pd.DataFrame, as_of) -> dict:
        """Responses to a batch sent the day after as_of: every target (sent or held out) may
        come back with its cause's chance, which a sent action moves by its effect."""
        from synthetic.loop_shop import sent_mask

        start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
        targets = batch[batch["in_budget"].astype(bool)].reset_index(drop=True)
        ids = targets["customer_id"].astype(str)
        sent = sent_mask(targets)
        natural = self.shop.natural(ids, start)
        has = ids.isin(set(natural["customer_id"])).to_numpy()
        cause = self.cause.reindex(ids).fillna(LOYAL).to_numpy()
        free = 1 - pd.Series(has).groupby(cause).transform("mean").to_numpy()
        effect = np.where(sent, self.uplift(ids, targets["action"]), 0.0)
        base = pd.Series(cause).map(self.cfg.baseline).fillna(0.0).to_numpy()
        chance = np.clip((base + effect) / np.maximum(free, 1e-9), 0, 1)
        responds = ~has & (self.shop.rng.random(len(ids)) < chance)
        promo = sent & targets["action"].astype(str).eq("promotion_invite").to_numpy()
        self.shop.add_orders(ids[responds].to_numpy(), start,
                             np.where(promo[responds], DISCOUNT_DEPTH, 0.0), str(as_of))
        self.shop.discount(natural.loc[natural["customer_id"].isin(set(ids[promo])),
                                       "order_id"], DISCOUNT_DEPTH)
        return {"targets": int(len(ids)), "sent": int(sent.sum()),
                "responses": int(responds.sum() + has.sum())}
