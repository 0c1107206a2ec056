"""Measuring what the contacts did: holdouts, response windows and uplift per segment.

Only the difference between a contacted group and a randomly held-out control is the effect of an
action; the raw response rate of the contacted is not. So every score batch holds out a
reproducible random share of each action's targets (`assign_holdout`), and a batch is judged
once its whole response window has closed, never earlier (`outcomes`). The outcome join and the
per-segment counts are Ibis expressions, so they run where the data lives (DuckDB or Spark);
only the statistics on the small aggregated frame are computed in pandas.

Contacts table: customer_id, contact_ts, action, group (treatment|control); optional
campaign_id, offer, channel, cost. A control row with an empty action is a shared control of its
campaign: the no-contact arm of every action tested in that campaign (`expand_shared_controls`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from common.errors import ChurnError

_Z95 = float(stats.norm.ppf(0.975))
#: segment column -> prefix in the `segment` output column
DEFAULT_SEGMENTS: Mapping[str, str] = {"reason": "reason", "risk_tier": "tier"}
#: money in the outcome sums: decimal, so a total is the same whatever the row order
MONEY = "decimal(18, 4)"
UPLIFT_COLUMNS = ["batch", "action", "segment", "n_treatment", "n_control", "rate_treatment",
                  "rate_control", "uplift", "ci_low", "ci_high", "p_value",
                  "incremental_revenue", "pooled"]


# --- outcomes -------------------------------------------------------------------------------

def _as_table(frame: ir.Table | pd.DataFrame) -> ir.Table:
    return frame if isinstance(frame, ir.Table) else ibis.memtable(frame)


def _batch_key(t: ir.Table) -> ir.Value:
    """The campaign a contact belongs to; without a campaign id, the day it was sent."""
    day = t.contact_ts.cast("date").cast("string")
    if "campaign_id" in t.columns:
        return t.campaign_id.cast("string").coalesce(day)
    return day


def _empty_action(t: ir.Table) -> ir.Value:
    return t.action.isnull() | (t.action.strip() == "")


def outcomes(contacts: ir.Table | pd.DataFrame, orders: ir.Table | pd.DataFrame,
             events: ir.Table | pd.DataFrame | None, as_of: date, response_days: int = 30,
             outcome: str = "order") -> ir.Table:
    """One row per contact of every batch whose response window has closed by `as_of`.

    Adds `batch` (campaign_id, else the contact day), `window_end` (contact_ts + response_days),
    `responded` (0/1) and `revenue` (completed orders in the window; status completed or null).
    The window is (contact_ts, contact_ts + response_days]: an order at the contact instant is
    not a response, one exactly at the end is. A batch is kept only when the window of its *last*
    contact ends on or before `as_of` (no peeking at half-finished campaigns), and nothing dated
    after `as_of` is read. `outcome` is `order` or an event type (e.g. `visit`): then responded
    means such an event in the window, while revenue still counts the orders.
    """
    if response_days <= 0:
        raise ChurnError(f"response_days must be positive, got {response_days}")
    if outcome != "order" and events is None:
        raise ChurnError(f"outcome '{outcome}' is an event type, but there is no events table")
    c = _as_table(contacts).distinct()
    c = c.mutate(batch=_batch_key(c),
                 window_end=c.contact_ts + ibis.interval(days=response_days))
    c = c.mutate(_batch_end=c.window_end.max().over(group_by=c.batch))
    c = c.filter(c._batch_end.cast("date") <= as_of).drop("_batch_end")

    o = _as_table(orders)
    if "status" in o.columns:
        o = o.filter(o.status.isnull() | (o.status == "completed"))
    o = o.filter(o.order_ts.cast("date") <= as_of)
    # money summed as decimals: exact, so the sum does not depend on the order rows come in
    hits = o.select(_cid=o.customer_id, _ts=o.order_ts, _amount=o.amount.cast(MONEY),
                    _responds=ibis.literal(1 if outcome == "order" else 0, type="int8"))
    if outcome != "order":
        e = _as_table(events)
        e = e.filter((e.event_type == outcome) & (e.event_ts.cast("date") <= as_of))
        hits = hits.union(e.select(_cid=e.customer_id, _ts=e.event_ts,
                                   _amount=ibis.literal(0, type=MONEY),
                                   _responds=ibis.literal(1, type="int8")))
    joined = c.left_join(hits, [c.customer_id == hits._cid, hits._ts > c.contact_ts,
                                hits._ts <= c.window_end])
    return joined.group_by(list(c.columns)).aggregate(
        responded=_._responds.max().coalesce(0).cast("int8"),
        revenue=_._amount.sum().cast("float64").coalesce(0.0))


def expand_shared_controls(rows: ir.Table | pd.DataFrame) -> ir.Table | pd.DataFrame:
    """A control row with an empty action becomes one control row per action of its campaign.

    In a classic multi-arm test several actions are measured against one no-contact group; each
    action's comparison needs that group as its own control. Done in Ibis (runs on the engine);
    a pandas frame in gives a pandas frame out. Campaigns are `batch` when present (the output
    of `outcomes`), else campaign_id, else the contact day. Run it after `outcomes`, so each
    control's outcome is computed once.
    """
    as_pandas = isinstance(rows, pd.DataFrame)
    t = _as_table(rows)
    key = "batch" if "batch" in t.columns else "_batch"
    if key == "_batch":
        t = t.mutate(_batch=_batch_key(t))
    empty = _empty_action(t).fill_null(False)
    shared = ((t.group == "control") & empty).fill_null(False)
    arms = t.filter(~empty).select(key, "action").distinct()
    controls = t.filter(shared).drop("action").join(arms, key).select(*t.columns)
    out = t.filter(~shared).union(controls)
    if key == "_batch":
        out = out.drop("_batch")
    return out.execute() if as_pandas else out


# --- uplift per segment ---------------------------------------------------------------------

def _wilson(x: np.ndarray, n: np.ndarray, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def two_proportions(x_t: np.ndarray, n_t: np.ndarray, x_c: np.ndarray,
                    n_c: np.ndarray) -> pd.DataFrame:
    """Difference of two response rates with Newcombe's 95% interval and a two-sided p-value.

    Newcombe's hybrid score interval (from two Wilson intervals) keeps its coverage for small
    arms and rates near 0, where the Wald interval is too narrow. The p-value is the pooled
    two-proportion z-test, or Fisher's exact test when an expected cell count is below 5.
    """
    x_t, n_t, x_c, n_c = (np.asarray(a, float) for a in (x_t, n_t, x_c, n_c))
    with np.errstate(invalid="ignore", divide="ignore"):
        p_t, p_c = x_t / n_t, x_c / n_c
        d = p_t - p_c
        lo_t, hi_t = _wilson(x_t, n_t)
        lo_c, hi_c = _wilson(x_c, n_c)
        ci_low = d - np.sqrt((p_t - lo_t) ** 2 + (hi_c - p_c) ** 2)
        ci_high = d + np.sqrt((hi_t - p_t) ** 2 + (p_c - lo_c) ** 2)
        pooled = (x_t + x_c) / (n_t + n_c)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        p_value = np.where(se > 0, 2 * stats.norm.sf(np.abs(d) / se), 1.0)
        expected = np.minimum.reduce([pooled * n_t, (1 - pooled) * n_t, pooled * n_c,
                                      (1 - pooled) * n_c])
    for i in np.where((expected < 5) & (n_t > 0) & (n_c > 0))[0]:
        table = [[x_t[i], n_t[i] - x_t[i]], [x_c[i], n_c[i] - x_c[i]]]
        p_value[i] = stats.fisher_exact(table).pvalue
    empty = (n_t == 0) | (n_c == 0)
    p_value = np.where(empty, np.nan, p_value)
    return pd.DataFrame({"rate_treatment": p_t, "rate_control": p_c, "uplift": d,
                         "ci_low": ci_low, "ci_high": ci_high, "p_value": p_value})


def _segment_counts(t: ir.Table, key: str, segments: Mapping[str, str]) -> ir.Table:
    """Counts and sums per (batch, action, segment, arm), all segment kinds stacked."""
    t = t.filter(~_empty_action(t).fill_null(False))
    t = t.mutate(_treated=(t.group == "treatment").cast("int8"),
                 _cost=(t.cost.cast(MONEY).coalesce(0) if "cost" in t.columns
                        else ibis.literal(0, type=MONEY)))
    parts = [t.mutate(segment=ibis.literal("all"))]
    for col, prefix in segments.items():
        value = t[col].cast("string").coalesce("unknown")
        parts.append(t.mutate(segment=ibis.literal(f"{prefix}:") + value))
    stacked = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return stacked.group_by([key, "action", "segment", "_treated"]).aggregate(
        n=_.count(), responders=_.responded.cast("int64").sum(),
        revenue=_.revenue.cast(MONEY).sum().cast("float64"),
        cost=_._cost.sum().cast("float64"))


def _pool_small(wide: pd.DataFrame, min_per_arm: int) -> pd.DataFrame:
    """Segments with fewer than min_per_arm in either arm merge into '<kind>:pooled'."""
    kind = wide["segment"].str.split(":", n=1).str[0]
    small = ((wide["n_treatment"] < min_per_arm) | (wide["n_control"] < min_per_arm)) \
        & (wide["segment"] != "all")
    keep = wide[~small].assign(pooled=False)
    merged = (wide[small].assign(segment=kind[small] + ":pooled")
              .groupby(["batch", "action", "segment"], as_index=False)
              .sum(numeric_only=True).assign(pooled=True))
    return pd.concat([keep, merged], ignore_index=True)


def uplift_table(rows: ir.Table | pd.DataFrame,
                 segment_columns: Mapping[str, str] | Sequence[str] | None = None,
                 min_per_arm: int = 30, pool_batches: bool = False) -> pd.DataFrame:
    """Measured uplift per (batch, action, segment): all, then one row per value of each
    segment column (e.g. reason:forgot, tier:high).

    `rows` is the output of `outcomes` (after `expand_shared_controls`): batch (or campaign_id),
    action, group, responded, revenue, optional cost, and the segment columns. Segments with
    fewer than `min_per_arm` in either arm are merged into '<kind>:pooled' (pooled=True), so
    no thin cell is read as evidence; 'all' is never pooled. `pool_batches` measures over all
    batches at once (batch = 'all'), which only makes sense when each batch was randomised.
    incremental_revenue per contact = mean revenue treated - mean revenue control - mean cost.
    """
    if isinstance(segment_columns, Mapping):
        segments = dict(segment_columns)
    elif segment_columns is None:
        segments = dict(DEFAULT_SEGMENTS)
    else:
        segments = {c: DEFAULT_SEGMENTS.get(c, c) for c in segment_columns}
    t = _as_table(rows)
    key = "batch" if "batch" in t.columns else "campaign_id"
    if key not in t.columns:
        raise ChurnError("contact outcomes need a batch or campaign_id column")
    missing = {"action", "group", "responded", "revenue", *segments} - set(t.columns)
    if missing:
        raise ChurnError(f"contact outcomes lack column(s): {', '.join(sorted(missing))}")
    if pool_batches:
        t = t.mutate(**{key: ibis.literal("all")})
    counts = _segment_counts(t, key, segments).execute().rename(columns={key: "batch"})
    if counts.empty:
        return pd.DataFrame(columns=UPLIFT_COLUMNS)
    wide = counts.pivot_table(index=["batch", "action", "segment"], columns="_treated",
                              values=["n", "responders", "revenue", "cost"], aggfunc="sum",
                              fill_value=0)
    wide.columns = [f"{name}_{int(arm)}" for name, arm in wide.columns]
    wide = wide.reindex(columns=[f"{m}_{a}" for m in ("n", "responders", "revenue", "cost")
                                 for a in (0, 1)], fill_value=0).reset_index()
    wide = wide.rename(columns={"n_1": "n_treatment", "n_0": "n_control"})
    wide = _pool_small(wide, min_per_arm)
    stats_ = two_proportions(wide["responders_1"], wide["n_treatment"], wide["responders_0"],
                             wide["n_control"])
    with np.errstate(invalid="ignore", divide="ignore"):
        incremental = (wide["revenue_1"] / wide["n_treatment"]
                       - wide["revenue_0"] / wide["n_control"]
                       - wide["cost_1"] / wide["n_treatment"])
    out = pd.concat([wide.reset_index(drop=True), stats_], axis=1)
    out["incremental_revenue"] = incremental.to_numpy()
    out[["n_treatment", "n_control"]] = out[["n_treatment", "n_control"]].astype("int64")
    order = np.where(out["segment"] == "all", 0, np.where(out["pooled"], 2, 1))
    out = out.assign(_order=order).sort_values(["batch", "action", "_order", "segment"])
    return out[UPLIFT_COLUMNS].reset_index(drop=True)



def last_batch_headline(overall: pd.DataFrame) -> dict:
    """The newest measured batch in one figure (`dvc metrics diff`): its uplift over its
    control, each action's weighted by its contacts."""
    if overall.empty:
        return {}
    last = overall[overall["batch"].astype(str) == overall["batch"].astype(str).max()]
    n = last["n_treatment"].astype(float)
    return {"last_uplift": round(float((last["uplift"] * n).sum() / max(n.sum(), 1)), 4)}
