"""Section 2, what the last campaigns earned: per closed campaign (named and dated) and action,
the extra customers who bought against the random control group, in money net of the contact
cost, with the interval and a verdict; the effects of all closed campaigns together per action
and reason; and the trend across campaigns.

Uplift rows come from the outcomes stage (exports/campaign_results.csv): `uplift` is the
treated minus the control response rate with its 95% interval, `incremental_revenue` the mean
revenue per contact above the control's, net of the contact cost. Extra customers = uplift x
contacted; money = incremental_revenue x contacted.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from pipeline.report import words

Z95 = 1.959963984540054
MEASURED = ["batch", "date", "action", "segment", "n_treatment", "n_control", "uplift",
            "ci_low", "ci_high", "extra", "extra_low", "extra_high", "net", "verdict"]


def verdict(ci_low: float, ci_high: float) -> str:
    """works: the whole interval above zero; hurts: below; unclear: it straddles zero."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "unclear"
    return "works" if ci_low > 0 else "hurts" if ci_high < 0 else "unclear"


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def campaign_name(batch: str, sent: str | None) -> str:
    """The shop's campaign id, or the pipeline batch's date, as a name with its date."""
    batch = str(batch)
    if _is_day(batch):
        return f"Batch of {words.day(batch)}"
    return f"Campaign {batch}" + (f", sent {words.day(sent)}" if sent else "")


def measured(results: pd.DataFrame, dates: dict[str, str]) -> pd.DataFrame:
    """Every measured (campaign, action, segment) with its date, the extra customers (and
    interval) and the net money, oldest campaign first. Small segments merged by the outcomes
    stage ('<kind>:pooled') are left out: they mix customers of different kinds."""
    if results is None or results.empty:
        return pd.DataFrame(columns=MEASURED)
    rows = results[~results["pooled"].astype(str).str.lower().eq("true")].copy()
    rows["batch"] = rows["batch"].astype(str)
    rows["date"] = [dates.get(b) or (b if _is_day(b) else None) for b in rows["batch"]]
    n = rows["n_treatment"].astype(float)
    rows["extra"] = rows["uplift"] * n
    rows["extra_low"] = rows["ci_low"] * n
    rows["extra_high"] = rows["ci_high"] * n
    rows["net"] = rows["incremental_revenue"] * n
    rows["verdict"] = [verdict(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"],
                                                        strict=True)]
    order = rows["date"].fillna("9999") + "|" + rows["batch"]
    rows = rows.assign(_order=order).sort_values(["_order", "action", "segment"])
    return rows[MEASURED].reset_index(drop=True)


def campaigns(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per closed campaign (all customers): date, actions, contacted, controls, extra
    customers, net money, and the actions that worked / hurt."""
    overall = rows[rows["segment"] == "all"]
    if overall.empty:
        return pd.DataFrame(columns=["batch", "date", "actions", "n_treatment", "n_control",
                                     "extra", "net", "works", "hurts"])
    out = overall.groupby("batch", sort=False).agg(
        date=("date", "first"), actions=("action", "nunique"),
        n_treatment=("n_treatment", "sum"), n_control=("n_control", "sum"),
        extra=("extra", "sum"), net=("net", "sum"),
        works=("verdict", lambda v: int((v == "works").sum())),
        hurts=("verdict", lambda v: int((v == "hurts").sum())))
    return out.reset_index()


def latest(rows: pd.DataFrame) -> pd.DataFrame:
    """The newest closed campaign's actions (all customers), most extra customers first."""
    overall = rows[rows["segment"] == "all"]
    if overall.empty:
        return overall
    newest = overall["batch"].iloc[-1]
    return overall[overall["batch"] == newest].sort_values("extra", ascending=False,
                                                           ignore_index=True)


def latest_by_reason(rows: pd.DataFrame) -> pd.DataFrame:
    """The newest closed campaign's rows per action and reason (where the results have them)."""
    overall = rows[rows["segment"] == "all"]
    if overall.empty:
        return overall
    newest = overall["batch"].iloc[-1]
    return rows[(rows["batch"] == newest) & rows["segment"].str.startswith("reason:")]


def combined(rows: pd.DataFrame) -> pd.DataFrame:
    """All closed campaigns together per action and segment: extra customers and money
    summed, the uplift as extra per contacted (a contact-weighted mean of the campaigns'
    uplifts, each campaign compared with its own control), and a normal interval from the
    campaigns' standard errors (half their 95% interval widths / 1.96)."""
    if rows.empty:
        return pd.DataFrame(columns=["action", "segment", "campaigns", "n_treatment",
                                     "n_control", "uplift", "ci_low", "ci_high", "extra",
                                     "net", "verdict"])
    r = rows.assign(_se=(rows["ci_high"] - rows["ci_low"]) / (2 * Z95))
    out = []
    for (act, seg), g in r.groupby(["action", "segment"], sort=True):
        n = g["n_treatment"].astype(float)
        total = n.sum()
        w = n / total if total else n * np.nan
        uplift = float((w * g["uplift"]).sum())
        se = float(np.sqrt((w ** 2 * g["_se"] ** 2).sum()))
        lo, hi = uplift - Z95 * se, uplift + Z95 * se
        out.append({"action": act, "segment": seg, "campaigns": int(g["batch"].nunique()),
                    "n_treatment": int(total), "n_control": int(g["n_control"].sum()),
                    "uplift": uplift, "ci_low": lo, "ci_high": hi,
                    "extra": float(g["extra"].sum()), "net": float(g["net"].sum()),
                    "verdict": verdict(lo, hi)})
    frame = pd.DataFrame(out)
    frame["_all"] = frame["segment"].ne("all")
    return frame.sort_values(["action", "_all", "segment"], ignore_index=True).drop(
        columns="_all")


def chart_rows(together: pd.DataFrame) -> pd.DataFrame:
    """What the uplift chart shows: per action and reason where the results have reasons,
    else per action over all customers."""
    by_reason = together[together["segment"].str.startswith("reason:")]
    return by_reason if len(by_reason) else together[together["segment"] == "all"]


def trend(rows: pd.DataFrame) -> pd.DataFrame:
    """Uplift per campaign and action over time (all customers): the trend chart's points."""
    overall = rows[(rows["segment"] == "all") & rows["date"].notna()]
    return overall[["date", "batch", "action", "uplift", "ci_low", "ci_high", "verdict"]]


def sentence(row: pd.Series | dict, currency: str, who: str = "") -> str:
    """"Reminder with a small gift (forgot the shop): 92 more customers bought than in the
    control, +9 points (+3 to +14), about €4,200 net of cost." in plain words."""
    act = words.action(row["action"])
    seg = row.get("segment", "all")
    if seg != "all":
        act += f" to customers who {_who(seg)}"
    extra = round(float(row["extra"]))
    more = f"{words.count(abs(extra))} more customers bought than in the control group" \
        if extra > 0 else f"{words.count(abs(extra))} fewer customers bought than in the " \
        "control group" if extra < 0 else "as many customers bought as in the control group"
    unit = "point" if words.points(row["uplift"]).lstrip("+" + words.MINUS) == "1" else "points"
    interval = f"{words.points(row['uplift'])} {unit} ({words.points(row['ci_low'])} to " \
               f"{words.points(row['ci_high'])})"
    money = f"about {words.money(row['net'], currency)} net of cost" if row["net"] >= 0 else \
        f"a loss of about {words.money(-row['net'], currency)} after cost"
    tail = {"works": "", "hurts": " It did harm.",
            "unclear": " The interval includes zero: not clear yet."}[row["verdict"]]
    return f"{who}{act}: {more}, {interval}, {money}.{tail}"


def _who(segment: str) -> str:
    kind, _, value = segment.partition(":")
    if kind == "reason":
        return {"forgot": "forgot the shop", "satisfaction": "were less satisfied",
                "choice": "shop around", "price": "follow the price",
                "other": "leave for other reasons"}.get(value, words.plain(value).lower())
    if kind == "tier":
        return f"are at {words.risk_tier(value).lower()}"
    return words.plain(value).lower()
