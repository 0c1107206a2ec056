"""Section 4, who is at risk and the value at stake: risk tiers in words, the risk x value grid,
the membership tiers and the advocate candidates (the top of the old-customer pyramid: loyal,
engaged, high-value customers to invite as opinion leaders)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.report import words

TIER_ORDER = ("high", "medium", "low")
MEMBERSHIP_ORDER = ("gold", "silver", "bronze")
VALUE_BANDS = 3


def tier_ranges(risk_tiers: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Each tier's churn-probability range from its floor (score.risk_tiers); `low` is what
    is left below the lowest floor."""
    floors = sorted(risk_tiers.items(), key=lambda kv: -kv[1])
    out, ceiling = {}, 1.0
    for name, floor in floors:
        out[name] = (float(floor), ceiling)
        ceiling = float(floor)
    out["low"] = (0.0, ceiling)
    return out


def tiers(export: pd.DataFrame, risk_tiers: dict[str, float]) -> pd.DataFrame:
    """Per risk tier: its range, customers, share, value at stake and customers contacted."""
    ranges = tier_ranges(risk_tiers)
    g = export.groupby("risk_tier").agg(customers=("customer_id", "size"),
                                        value=("value_at_stake", "sum"), sends=("send", "sum"))
    order = [t for t in TIER_ORDER if t in g.index] + sorted(t for t in g.index
                                                             if t not in TIER_ORDER)
    g = g.loc[order].reset_index()
    g["share"] = g["customers"] / max(1, len(export))
    g["low"] = [ranges.get(t, (np.nan, np.nan))[0] for t in g["risk_tier"]]
    g["high"] = [ranges.get(t, (np.nan, np.nan))[1] for t in g["risk_tier"]]
    return g.astype({"sends": int})


def value_bands(values: pd.Series, bands: int = VALUE_BANDS) -> tuple[pd.Series, list[float]]:
    """Equal-sized value-at-stake bands (lowest first) and each band's upper bound."""
    if values.empty:
        return pd.Series(dtype=int), []
    k = min(bands, len(values))
    band = pd.qcut(values.rank(method="first"), k, labels=False).astype(int)
    return band, [float(values[band == b].max()) for b in range(k)]


def grid(export: pd.DataFrame) -> tuple[pd.DataFrame, list[float]]:
    """Risk tier x value band: customers, value at stake and customers contacted per cell
    (only tiers that have customers: no empty row)."""
    band, upper = value_bands(export["value_at_stake"].reset_index(drop=True))
    frame = export.reset_index(drop=True).assign(band=band)
    cells = frame.groupby(["risk_tier", "band"]).agg(
        customers=("customer_id", "size"), value=("value_at_stake", "sum"),
        sends=("send", "sum")).reset_index()
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    cells["_o"] = cells["risk_tier"].map(order).fillna(len(order))
    cells = cells.sort_values(["_o", "band"]).drop(columns="_o").reset_index(drop=True)
    return cells.astype({"sends": int}), upper


def band_labels(upper: list[float], currency: str) -> list[str]:
    """"up to €30", "€30 to €80", "over €80"."""
    if not upper:
        return []
    if len(upper) == 1:
        return ["all values"]
    labels = [f"up to {words.money(upper[0], currency, cents=False)}"]
    for lo, _hi in zip(upper[:-2], upper[1:-1], strict=True):
        labels.append(f"{words.money(lo, currency, cents=False)} to "
                      f"{words.money(_hi, currency, cents=False)}")
    labels.append(f"over {words.money(upper[-2], currency, cents=False)}")
    return labels


def membership(export: pd.DataFrame) -> pd.DataFrame:
    """Per membership tier: customers, at risk (and share), value at stake, contacted."""
    if "membership_tier" not in export:
        return pd.DataFrame()
    f = export.assign(_risk=export["risk_tier"].astype(str) != "low")
    g = f.groupby("membership_tier").agg(customers=("customer_id", "size"),
                                         at_risk=("_risk", "sum"),
                                         value=("value_at_stake", "sum"),
                                         sends=("send", "sum"))
    order = [t for t in MEMBERSHIP_ORDER if t in g.index] + sorted(
        t for t in g.index if t not in MEMBERSHIP_ORDER)
    g = g.loc[order].reset_index()
    g["at_risk_share"] = g["at_risk"] / g["customers"].clip(lower=1)
    return g.astype({"at_risk": int, "sends": int})


def advocates(export: pd.DataFrame, top: int = 20) -> tuple[pd.DataFrame, int]:
    """(the advocate candidates most sure to stay, at most `top`; how many there are): the
    customers the rules invite to the advocate programme (loyal gold members not at risk).
    A held-out customer is never listed."""
    chosen = export[export["action"].eq("advocate_invite") & ~export["holdout"].astype(bool)]
    ordered = chosen.sort_values(["churn_probability", "customer_id"])
    cols = [c for c in ("customer_id", "membership_tier", "churn_probability", "channel")
            if c in chosen]
    return ordered[cols].head(top).reset_index(drop=True), int(len(chosen))
