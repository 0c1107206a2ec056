"""Section 1, this week: who is contacted through which channel with what, what it costs, who is
held out and why, and the send list itself (held-out customers never in it)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from pipeline.report import words

CHANNEL_ORDER = ("email", "sms", "phone")
#: the send list's columns, in the order the page shows them
SEND_COLUMNS = ("customer_id", "channel", "action", "offer", "reason", "risk_tier",
                "churn_probability", "value_at_stake", "membership_tier", "product_ids")


def counts(export: pd.DataFrame) -> dict:
    """How many are contacted (per channel), held out, and in the budget with nothing to send.
    Targets are the budget's customers with an action; held out are the targets not contacted."""
    targets = export["in_budget"].astype(bool) & export["action"].ne("none")
    sends = export[export["send"]]
    by_channel = sends["channel"].value_counts()
    order = [c for c in CHANNEL_ORDER if c in by_channel] + \
        sorted(c for c in by_channel.index if c not in CHANNEL_ORDER)
    held = int((targets & export["holdout"].astype(bool)).sum())
    return {
        "to_contact": int(len(sends)),
        "by_channel": {c: int(by_channel[c]) for c in order},
        "targets": int(targets.sum()),
        "held_out": held,
        "held_out_share": held / max(1, int(targets.sum())),
        "no_action_in_budget": int((export["in_budget"].astype(bool)
                                    & export["action"].eq("none")).sum()),
        "value_at_stake": float(sends["value_at_stake"].sum()),
        "sources": {k: int(v) for k, v in sends["action_source"].value_counts().items()}
        if "action_source" in sends else {},
    }


def plan(export: pd.DataFrame, contact_costs: dict[str, float]) -> pd.DataFrame:
    """One row per (action, channel, offer) sent this week: customers, contact cost each and in
    total, the discount the offer gives, and how many of that action's targets are held out."""
    sends = export[export["send"]]
    cols = ["action", "channel", "offer", "customers", "cost_each", "cost", "discount",
            "held_out"]
    if sends.empty:
        return pd.DataFrame(columns=cols)
    out = sends.groupby(["action", "channel", "offer"], as_index=False).size() \
        .rename(columns={"size": "customers"})
    out["cost_each"] = out["channel"].map(dict(contact_costs)).fillna(0.0)
    out["cost"] = out["cost_each"] * out["customers"]
    out["discount"] = out["offer"].map(words.offer_discount)
    held = export[export["holdout"].astype(bool) & export["in_budget"].astype(bool)]
    held = held.groupby(["action", "channel", "offer"]).size()
    out["held_out"] = [int(held.get((a, c, o), 0)) for a, c, o in
                       zip(out["action"], out["channel"], out["offer"], strict=True)]
    return out.sort_values(["customers", "action"], ascending=[False, True],
                           ignore_index=True)[cols]


def by_action(plan_rows: pd.DataFrame) -> pd.DataFrame:
    """Customers per action and channel (the chart): action rows, one column per channel."""
    if plan_rows.empty:
        return pd.DataFrame()
    wide = plan_rows.pivot_table(index="action", columns="channel", values="customers",
                                 aggfunc="sum", fill_value=0)
    wide = wide.loc[wide.sum(axis=1).sort_values(ascending=False).index]
    return wide[[c for c in CHANNEL_ORDER if c in wide] +
                [c for c in wide if c not in CHANNEL_ORDER]]


def send_list(export: pd.DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """(the customers to contact, highest value at stake first, at most `limit`; how many there
    are in all). Only `send` rows: a held-out customer is never listed."""
    sends = export[export["send"] & ~export["holdout"].astype(bool)]
    cols = [c for c in SEND_COLUMNS if c in sends.columns]
    ordered = sends.sort_values(["value_at_stake", "customer_id"], ascending=[False, True])
    return ordered[cols].head(limit).reset_index(drop=True), int(len(sends))


def send_rows(frame: pd.DataFrame, currency: str) -> list[list]:
    """The send list as rows of display text for the page's table (codes in words); the last
    two cells are the raw numbers the table sorts by."""
    def text(col: str, say) -> pd.Series:
        return frame[col].map(say) if col in frame else pd.Series("", index=frame.index)

    shown = pd.DataFrame({
        "id": frame["customer_id"].astype(str),
        "channel": text("channel", words.channel),
        "action": text("action", words.action),
        "offer": text("offer", words.offer),
        "reason": text("reason", words.reason),
        "tier": text("risk_tier", words.risk_tier),
        "chance": frame["churn_probability"].map(words.pct),
        "value": frame["value_at_stake"].map(lambda v: words.money(v, currency, cents=True)),
        "member": text("membership_tier", words.membership),
        "products": frame["product_ids"].fillna("").astype(str).str.replace(",", ", ")
        if "product_ids" in frame else "",
        "p": frame["churn_probability"].round(4),
        "v": frame["value_at_stake"].round(2),
    })
    return shown.to_numpy().tolist()


def send_day(as_of: str) -> str:
    """The batch goes out the day after its as_of (the contact log's contact_ts)."""
    return (date.fromisoformat(as_of) + timedelta(days=1)).isoformat()
