"""Section 3, why customers leave: the reason mix of the customers at risk now and over past
batches, what the evidence behind each reason typically says, how often a reason of a given
confidence was right in the backtest (demo shops), and what the shop's tables can and cannot
tell apart."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from common.causes import CAUSES
from models.causes.functions import ANY, LABELLING_FUNCTIONS
from pipeline.report import words

#: the reason backtest's confidence bins (models/causes/backtest.py `reliability`)
CONFIDENCE_BINS = 5
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SHAP_SENTENCE = re.compile(r"^the churn model's drivers point at \w+$")
SIMILAR_ONLY = "similar leavers (no direct evidence)"


def at_risk(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["risk_tier"].astype(str) != "low"]


def mix_now(export: pd.DataFrame, reason_mix: dict[str, float]) -> pd.DataFrame:
    """Reason, share (the score report's) and customers at risk, largest first."""
    risky = at_risk(export)["reason"].value_counts()
    rows = [{"reason": r, "share": float(s), "customers": int(risky.get(r, 0))}
            for r, s in reason_mix.items()]
    frame = pd.DataFrame(rows, columns=["reason", "share", "customers"])
    return frame.sort_values(["share", "reason"], ascending=[False, True], ignore_index=True)


def mix_trend(counts: pd.DataFrame) -> pd.DataFrame:
    """Share of each reason among the customers at risk, per scored batch (rows: as_of), from
    customers per (as_of, risk_tier, reason) (inputs.reason_counts)."""
    if counts is None or counts.empty:
        return pd.DataFrame()
    risky = at_risk(counts)
    shares = pd.crosstab(risky["as_of"].astype(str), risky["reason"],
                         values=risky["customers"], aggfunc="sum", normalize="index").fillna(0)
    return shares[[c for c in CAUSES if c in shares] + [c for c in shares if c not in CAUSES]]


def _typical(sentences: pd.Series) -> str:
    """One sentence for many that differ only in their numbers: the median of each."""
    numbers = sentences.map(lambda s: [float(x) for x in _NUMBER.findall(s)])
    width = numbers.map(len).max()
    if not width:
        return sentences.iloc[0]
    medians = np.nanmedian(np.array([n + [np.nan] * (width - len(n)) for n in numbers]), axis=0)
    parts = _NUMBER.split(sentences.iloc[0])
    out = parts[0]
    for value, rest in zip(medians, parts[1:], strict=False):
        out += f"{value:.0f}" + rest
    return out


def evidence(export: pd.DataFrame, top: int = 3) -> dict[str, list[dict]]:
    """Per reason (customers at risk), the most common kinds of evidence: a typical sentence and
    the share of that reason's customers it was seen for."""
    if "reason_evidence" not in export:
        return {}
    out: dict[str, list[dict]] = {}
    for reason, group in at_risk(export).groupby("reason"):
        said = group["reason_evidence"].fillna("").astype(str).str.split("; ").explode()
        said = said[said.str.len() > 0]
        said = said.where(~said.str.match(_SHAP_SENTENCE),
                          "the churn score's own signals point the same way")
        kinds = said.str.replace(_NUMBER, "#", regex=True)
        ranked = kinds.value_counts().head(top)
        out[str(reason)] = [{"text": _typical(said[kinds == kind]),
                             "share": float(n) / len(group)} for kind, n in ranked.items()]
    return out


def confidence(export: pd.DataFrame, backtest: dict | None) -> pd.DataFrame:
    """Per confidence band: customers at risk now, and (demo shops) how often a reason of that
    confidence was right in the backtest."""
    conf = at_risk(export)["reason_confidence"].astype(float).clip(0, 1)
    band = np.minimum((conf * CONFIDENCE_BINS).astype(int), CONFIDENCE_BINS - 1)
    now = pd.Series(band).value_counts()
    right = {int(r["bin"]): r for r in (backtest or {}).get("reliability", [])}
    rows = []
    for b in range(CONFIDENCE_BINS):
        past = right.get(b)
        rows.append({"band": b, "low": b / CONFIDENCE_BINS, "high": (b + 1) / CONFIDENCE_BINS,
                     "customers": int(now.get(b, 0)),
                     "backtest_n": int(past["n"]) if past else 0,
                     "share_right": float(past["share_right"]) if past else np.nan})
    frame = pd.DataFrame(rows)
    return frame[(frame["customers"] > 0) | (frame["backtest_n"] > 0)].reset_index(drop=True)


def telling_apart(tables: frozenset[str] | set[str]) -> pd.DataFrame:
    """Per reason: the signs the shop's tables let the reasons see, and the signs they cannot
    (with the tables or columns that would add them). `tables` holds table names and
    `table.column`s (inputs.shop_tables)."""
    rows = []
    for cause in CAUSES:
        seen, missing, adds = [], [], set()
        for lf in LABELLING_FUNCTIONS:
            if lf.cause != cause or lf.cause == ANY:
                continue
            lacking = [need for need in lf.needs
                       if not any(alt in tables for alt in need.split("|"))]
            (missing if lacking else seen).append(lf.signature)
            adds.update(lacking)
        rows.append({"reason": cause, "seen": seen, "missing": missing,
                     "would_add": sorted(adds)})
    return pd.DataFrame(rows)


def similar_only(export: pd.DataFrame) -> float:
    """Share of the customers at risk whose reason rests on similar leavers alone (no sign of
    their own in the shop's tables)."""
    if "reason_basis" not in export:
        return float("nan")
    risky = at_risk(export)
    return float((risky["reason_basis"] == SIMILAR_ONLY).mean()) if len(risky) else 0.0


def headline(mix: pd.DataFrame) -> str:
    """The main reason now, in one sentence."""
    if mix.empty:
        return "No customer is at risk in this batch."
    top = mix.iloc[0]
    second = f"; then {words.reason(mix.iloc[1]['reason']).lower()} " \
             f"({words.pct(mix.iloc[1]['share'])})" if len(mix) > 1 else ""
    return (f"The main reason now: {words.reason(top['reason']).lower()}, for "
            f"{words.pct(top['share'])} of the customers at risk "
            f"({words.count(top['customers'])}){second}.")
