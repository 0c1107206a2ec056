"""What the contact history says about each action, per segment, as a posterior.

A segment is reason x lifecycle stage. The reason is the customer's reason when at risk,
`none` when not at risk and `unknown` when the history does not say (a CRM's own log); the
stage comes from the order history (one order or more, lapsed or not). Per (action, segment):

1. the no-contact response rate (the baseline) from every control of the segment, shrunk
   toward its reason's and the shop's rate, and scaled per batch by how that batch's controls
   did against the rates of their segments (a sale month lifts every arm);
2. the measured uplift: the mean of (response - the baseline expected for that contact) over
   the action's treated contacts, each weighed by 1 / its logged chance within its batch, so a
   batch that sent the action more often to some customers does not tilt the segment;
3. empirical-Bayes pooling in three levels, action -> reason -> segment: the domain's
   expectation is the prior centre (`prior_lift` for a rules action on its own reason, 0
   elsewhere and for any other action), each level's spread is estimated from the data
   (DerSimonian-Laird, floored), and a segment with few contacts borrows from its reason and
   the action's overall deviation from the prior. An action never tried is its prior: no
   effect (or the domain's expectation) with a wide interval.

The uplift posterior is relative to the segment's baseline estimate, whose own error is shared
by every action of the segment (`baseline_sd`): two actions measured against the same controls
are compared without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

NONE = "none"
UNKNOWN = "unknown"
LIFECYCLE = ("new", "one_time_lapsed", "repeat", "repeat_lapsed")
#: pseudo-contacts with which a segment's baseline leans on its reason's, a reason's on the
#: shop's; pseudo-responses with which a batch's scale leans on 1
BASELINE_STRENGTH = 20.0
BATCH_STRENGTH = 5.0
#: spread of an action's overall deviation from the prior; default (and floor) spreads of a
#: reason around the action and of a segment around its reason, where too few groups estimate
ACTION_SD = 0.03
REASON_SD, REASON_SD_MIN, REASON_SD_MAX = 0.04, 0.01, 0.06
CELL_SD, CELL_SD_MIN, CELL_SD_MAX = 0.02, 0.005, 0.03

POSTERIOR_COLUMNS = ["action", "reason", "lifecycle", "mean", "sd", "prior_mean", "data_mean",
                     "data_sd", "n_treated", "n_control", "data_weight", "baseline",
                     "baseline_sd", "reason_mean", "reason_sd", "reason_treated"]


def lifecycle(one_time_buyer: pd.Series, recency_days: pd.Series, lapsed_days: int
              ) -> np.ndarray:
    """new / one_time_lapsed / repeat / repeat_lapsed from orders and recency."""
    one = pd.to_numeric(one_time_buyer, errors="coerce").fillna(0).to_numpy() >= 1
    lapsed = pd.to_numeric(recency_days, errors="coerce").fillna(0).to_numpy() >= lapsed_days
    return np.select([one & ~lapsed, one & lapsed, ~one & ~lapsed],
                     list(LIFECYCLE[:3]), LIFECYCLE[3]).astype(object)


def segment_reason(reason: pd.Series, at_risk: pd.Series | None) -> np.ndarray:
    """The reason a segment is keyed by: the reason at risk, `none` when not at risk, `unknown`
    when there is no reason."""
    r = reason.astype("string").fillna("").str.strip()
    out = r.where(r != "", UNKNOWN)
    if at_risk is not None:
        out = out.where(at_risk.fillna(True).astype(bool).to_numpy() | (out == UNKNOWN), NONE)
    return out.to_numpy(dtype=object)


def prior_means(actions: Iterable[str], reasons: Iterable[str], rule_reasons: Mapping[str, str],
                lift: float) -> pd.DataFrame:
    """action x reason: the domain's expected uplift (`lift` where the rules send the action to
    the reason, else 0)."""
    actions, reasons = list(actions), list(reasons)
    return pd.DataFrame([[lift if rule_reasons.get(a) == r else 0.0 for r in reasons]
                         for a in actions], index=actions, columns=reasons, dtype=float)


# --- measuring ------------------------------------------------------------------------------

def _shrunk(x: pd.Series, n: pd.Series, centre: pd.Series | float, k: float) -> pd.Series:
    return (x + k * centre) / (n + k)


def baselines(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """(baseline per (reason, lifecycle): rate, sd, n; scale per batch).

    rows: one per contact with batch, reason, lifecycle, observed_action ('none' = control),
    responded."""
    ctrl = rows[rows["observed_action"] == NONE]
    y_all = float(ctrl["responded"].mean()) if len(ctrl) else float(rows["responded"].mean()) \
        if len(rows) else 0.0
    by_reason = ctrl.groupby("reason")["responded"].agg(["sum", "count"])
    reason_rate = _shrunk(by_reason["sum"], by_reason["count"], y_all, BASELINE_STRENGTH)
    cells = pd.MultiIndex.from_frame(rows[["reason", "lifecycle"]].drop_duplicates())
    by_cell = ctrl.groupby(["reason", "lifecycle"])["responded"].agg(["sum", "count"]) \
        .reindex(cells, fill_value=0)
    centre = reason_rate.reindex(by_cell.index.get_level_values(0)).fillna(y_all).to_numpy()
    rate = _shrunk(by_cell["sum"], by_cell["count"], centre, BASELINE_STRENGTH)
    n = by_cell["count"]
    sd = np.sqrt(rate * (1 - rate) / (n + BASELINE_STRENGTH))
    base = pd.DataFrame({"baseline": rate, "baseline_sd": sd, "n_control": n})
    # per batch: its controls' responses against what their segments' rates expect
    expected = base["baseline"].reindex(pd.MultiIndex.from_frame(
        ctrl[["reason", "lifecycle"]])).to_numpy()
    per_batch = pd.DataFrame({"batch": ctrl["batch"].to_numpy(), "o": ctrl["responded"]
                              .to_numpy(float), "e": expected}).groupby("batch")[["o", "e"]].sum()
    scale = (per_batch["o"] + BATCH_STRENGTH) / (per_batch["e"] + BATCH_STRENGTH)
    return base, scale


def measured(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per (action, reason, lifecycle): data_mean, data_var, n_treated; the baselines).

    The uplift of a treated contact is its response minus the baseline of its segment scaled
    to its batch; weights 1 / propensity (1 where unknown) are normalised within each
    (batch, segment, action), so every batch counts by its number of contacts."""
    base, scale = baselines(rows)
    treated = rows[rows["observed_action"] != NONE].copy()
    if treated.empty:
        empty = pd.DataFrame(columns=["action", "reason", "lifecycle", "data_mean", "data_var",
                                      "n_treated"])
        return empty, base
    key = pd.MultiIndex.from_frame(treated[["reason", "lifecycle"]])
    expected = base["baseline"].reindex(key).to_numpy() * \
        treated["batch"].map(scale).fillna(1.0).to_numpy()
    treated["resid"] = treated["responded"].to_numpy(float) - expected
    p = pd.to_numeric(treated["propensity"], errors="coerce").to_numpy()
    treated["w"] = np.where(np.isfinite(p) & (p > 0), 1.0 / np.where(p > 0, p, 1.0), 1.0)
    group = ["batch", "observed_action", "reason", "lifecycle"]
    treated["w"] = treated["w"] / treated.groupby(group)["w"].transform("mean")
    treated["wy"] = treated["w"] * treated["resid"]
    treated["w2"] = treated["w"] ** 2
    treated["wr"] = treated["w"] * treated["responded"]
    agg = treated.groupby(["observed_action", "reason", "lifecycle"]).agg(
        sw=("w", "sum"), swy=("wy", "sum"), sw2=("w2", "sum"), swr=("wr", "sum"),
        n_treated=("w", "size")).reset_index().rename(columns={"observed_action": "action"})
    agg["data_mean"] = agg["swy"] / agg["sw"]
    n_eff = agg["sw"] ** 2 / agg["sw2"]
    rate = ((agg["swr"] / agg["sw"]) * n_eff + 0.5) / (n_eff + 1.0)   # never exactly 0 or 1
    agg["data_var"] = rate * (1 - rate) / n_eff
    return agg[["action", "reason", "lifecycle", "data_mean", "data_var", "n_treated"]], base


# --- pooling --------------------------------------------------------------------------------

def _dl(y: np.ndarray, v: np.ndarray, default: float, floor: float, cap: float) -> float:
    """DerSimonian-Laird between-group variance of estimates y with variances v, within
    [floor, cap] (a retention effect differs between groups by points, not tens of points:
    a few noisy small groups must not make every group stand alone); the default where fewer
    than three groups can tell."""
    if len(y) < 3:
        return default**2
    w = 1.0 / v
    mean = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mean) ** 2)
    denom = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (len(y) - 1)) / denom) if denom > 0 else 0.0
    return min(max(tau2, floor**2), cap**2)


def _combine(prior_mean, prior_var, data_mean, data_var):
    """Normal prior x normal likelihood (data_var inf = no data)."""
    prec = 1.0 / prior_var + np.where(np.isfinite(data_var), 1.0 / data_var, 0.0)
    mean = (prior_mean / prior_var + np.where(np.isfinite(data_var),
                                              np.nan_to_num(data_mean) / data_var, 0.0)) / prec
    return mean, 1.0 / prec


def _pool_action(cells: pd.DataFrame) -> pd.DataFrame:
    """One action's cells (reason, lifecycle, prior_mean, data_mean, data_var): posterior mean
    and sd per cell, and per reason."""
    has = np.isfinite(cells["data_var"].to_numpy())
    resid = (cells["data_mean"] - cells["prior_mean"]).to_numpy()
    var = cells["data_var"].to_numpy()
    reason = cells["reason"].to_numpy()
    # segment spread within reasons: DL on the residuals about each reason's mean
    within_y, within_v = [], []
    for r in np.unique(reason[has]):
        m = has & (reason == r)
        if m.sum() >= 2:
            w = 1 / var[m]
            centre = np.sum(w * resid[m]) / np.sum(w)
            within_y.extend(resid[m] - centre)
            within_v.extend(var[m])
    tau_c2 = _dl(np.asarray(within_y), np.asarray(within_v), CELL_SD, CELL_SD_MIN,
                 CELL_SD_MAX) \
        if within_y else CELL_SD**2
    # reason-level estimates from their segments
    reasons = pd.unique(reason)
    r_mean, r_var = {}, {}
    for r in reasons:
        m = has & (reason == r)
        if m.any():
            w = 1 / (var[m] + tau_c2)
            r_mean[r], r_var[r] = np.sum(w * resid[m]) / np.sum(w), 1 / np.sum(w)
    ry = np.array([r_mean[r] for r in r_mean])
    rv = np.array([r_var[r] for r in r_mean])
    tau_r2 = _dl(ry, rv, REASON_SD, REASON_SD_MIN, REASON_SD_MAX) if len(ry) else REASON_SD**2
    # the action's overall deviation from the prior
    if len(ry):
        b, var_b = _combine(0.0, ACTION_SD**2, float(np.sum(ry / (rv + tau_r2)) /
                                                    np.sum(1 / (rv + tau_r2))),
                            float(1 / np.sum(1 / (rv + tau_r2))))
    else:
        b, var_b = 0.0, ACTION_SD**2
    out = cells.copy()
    post_r = {r: _combine(b, tau_r2 + var_b, r_mean.get(r, np.nan), r_var.get(r, np.inf))
              for r in reasons}
    rm = np.array([float(post_r[r][0]) for r in reason])
    rvv = np.array([float(post_r[r][1]) for r in reason])
    mean, pvar = _combine(rm, tau_c2 + rvv, np.where(has, resid, 0.0), var)
    prior_var = ACTION_SD**2 + tau_r2 + tau_c2
    out["mean"] = mean + cells["prior_mean"].to_numpy()
    out["sd"] = np.sqrt(pvar)
    out["reason_mean"] = rm + cells["prior_mean"].to_numpy()
    out["reason_sd"] = np.sqrt(rvv)
    out["data_weight"] = np.clip(1 - pvar / prior_var, 0.0, 1.0)
    return out


def posterior(rows: pd.DataFrame, actions: Iterable[str], reasons: Iterable[str],
              rule_reasons: Mapping[str, str], prior_lift: float) -> pd.DataFrame:
    """The uplift posterior of every action in every segment (reasons x LIFECYCLE), with the
    segment's baseline; rows may be empty (no history: the prior alone)."""
    actions = sorted(set(actions))
    reasons = list(dict.fromkeys([*reasons, *(rows["reason"].unique() if len(rows) else [])]))
    grid = pd.MultiIndex.from_product([actions, reasons, LIFECYCLE],
                                      names=["action", "reason", "lifecycle"]).to_frame(
        index=False)
    prior = prior_means(actions, reasons, rule_reasons, prior_lift)
    grid["prior_mean"] = prior.stack().reindex(
        pd.MultiIndex.from_frame(grid[["action", "reason"]])).to_numpy()
    if len(rows):
        data, base = measured(rows)
    else:
        data = pd.DataFrame(columns=["action", "reason", "lifecycle", "data_mean", "data_var",
                                     "n_treated"])
        base = pd.DataFrame(columns=["baseline", "baseline_sd", "n_control"])
    grid = grid.merge(data, on=["action", "reason", "lifecycle"], how="left")
    grid["data_var"] = grid["data_var"].astype(float).fillna(np.inf)
    grid["n_treated"] = grid["n_treated"].fillna(0).astype(int)
    pooled = pd.concat([_pool_action(g) for _, g in grid.groupby("action", sort=True)],
                       ignore_index=True)
    base = base.reindex(pd.MultiIndex.from_frame(pooled[["reason", "lifecycle"]]))
    overall = float(rows.loc[rows["observed_action"] == NONE, "responded"].mean()) \
        if len(rows) and (rows["observed_action"] == NONE).any() else np.nan
    pooled["baseline"] = base["baseline"].to_numpy(float)
    pooled["baseline_sd"] = base["baseline_sd"].to_numpy(float)
    pooled["n_control"] = base["n_control"].fillna(0).astype(int).to_numpy()
    fill = overall if np.isfinite(overall) else 0.05
    pooled["baseline"] = pooled["baseline"].fillna(fill)
    pooled["baseline_sd"] = pooled["baseline_sd"].fillna(np.sqrt(fill * (1 - fill)
                                                                 / BASELINE_STRENGTH))
    pooled["data_sd"] = np.sqrt(pooled["data_var"])
    reason_n = pooled.groupby(["action", "reason"])["n_treated"].transform("sum")
    pooled["reason_treated"] = reason_n.astype(int)
    return _borrow_unknown(pooled)[POSTERIOR_COLUMNS].sort_values(
        ["action", "reason", "lifecycle"], ignore_index=True)


def _borrow_unknown(pooled: pd.DataFrame) -> pd.DataFrame:
    """Contacts whose reason the history does not know (a CRM's own log) are a mix of every
    reason: where an action has no contacts of a reason's own, that reason takes the mixed
    segments' posterior of the same stage, not a guess about how the reason differs."""
    unknown = pooled[(pooled["reason"] == UNKNOWN) & (pooled["reason_treated"] > 0)]
    if unknown.empty:
        return pooled
    cols = ["mean", "sd", "data_weight", "reason_mean", "reason_sd"]
    source = unknown.set_index(["action", "lifecycle"])[cols]
    key = pd.MultiIndex.from_frame(pooled[["action", "lifecycle"]])
    take = ((pooled["reason"] != UNKNOWN) & (pooled["reason_treated"] == 0)).to_numpy() \
        & key.isin(source.index)
    out = pooled.copy()
    out.loc[take, cols] = source.reindex(key[take]).to_numpy()
    base = pooled[(pooled["reason"] == UNKNOWN) & (pooled["n_control"] > 0)].groupby(
        "lifecycle")[["baseline", "baseline_sd"]].first()
    no_base = ((out["reason"] != UNKNOWN) & (out["n_control"] == 0)
               & out["lifecycle"].isin(base.index)).to_numpy()
    out.loc[no_base, ["baseline", "baseline_sd"]] = base.reindex(
        out.loc[no_base, "lifecycle"]).to_numpy()
    return out


