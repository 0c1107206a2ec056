"""Designing a batch: who is contacted, with what, and with which chance.

Every customer's action is drawn by Thompson sampling from the uplift posterior of their
segment (models/campaigns/evidence.py): the chance of an action is the posterior chance that it
has the best expected incremental value, uplift x value of a response x (1 - discount) - the
discount given on the orders that would have come anyway - the contact's cost. A floor
(`explore_share`) spreads a little of every customer's chance over all the actions that could
pay for them; an action that cannot (its value is negative even at the top of its interval,
e.g. one measured to hurt) gets none. Who is contacted: everyone whose best action pays at
the posterior mean (budget mode `value`; `share` / `top_n` narrow that to the budget), within
the batch's caps. One shared control is held out of them (`holdout_share`): a held-out customer
is the no-contact arm of every action of the batch, as in a three-arm test.

All draws are md5 hashes of (seed, batch, customer) and the posterior draws are seeded by the
batch, so a rerun gives the same batch; each contact log row carries the exact chance of what
was done (the draw's probability, or the holdout share for a held-out customer).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
from scipy import stats

from common.hashing import stable_bucket
from common.params import CampaignParams, RecommendParams
from models.actions.rules import apply_caps
from models.campaigns.holdout import assign_holdout

NONE = "none"
_UNIT = 1_000_000
#: an action whose value is negative even this far up its posterior cannot pay
PLAUSIBLE_Z = 1.645
#: below this data weight an action in a segment rests on the prior, not on evidence
EVIDENCE_WEIGHT = 0.5
#: the draws use this share of the posterior spread: probability matching on a sharpened
#: posterior, which earns more over a few batches than plain Thompson sampling among many
#: actions, and still tries every action whose chance of being best is real
SHARPEN = 0.5
#: only this many actions per customer (those most often best) share the draws; the others
#: that could pay get the floor
TOP = 3


def _seed(seed: int, batch: str) -> int:
    return int(hashlib.md5(f"thompson|{seed}|{batch}".encode()).hexdigest()[:8], 16)


def lookup(post: pd.DataFrame, reason: np.ndarray, stage: np.ndarray, actions: list[str],
           column: str) -> np.ndarray:
    """customers x actions: `column` of the posterior at each customer's segment."""
    table = post.pivot_table(index=["reason", "lifecycle"], columns="action", values=column,
                             aggfunc="first").reindex(columns=actions)
    key = pd.MultiIndex.from_arrays([reason, stage])
    return table.reindex(key).to_numpy(float).copy()


def thompson(mu: np.ndarray, sd: np.ndarray, value: np.ndarray, depth: np.ndarray,
             cost: np.ndarray, base: np.ndarray, base_sd: np.ndarray, allowed: np.ndarray,
             draws: int, floor: float, seed: int, pool: np.ndarray | None = None
             ) -> np.ndarray:
    """customers x actions: the chance of each allowed action (rows sum to 1 where any is).

    The posterior draws choose among `pool` (default: the allowed actions; the tested ones
    where a tested action pays); the floor is spread over all allowed actions. Customers with
    the same inputs share one computation; the posterior draws are common to all of them
    (seeded), so the chances are a fixed function of the inputs."""
    pool = allowed if pool is None else pool & allowed
    n, k = mu.shape
    out = np.zeros((n, k))
    rows = np.where(allowed.any(axis=1))[0]
    if not len(rows) or not k:
        return out
    key = np.column_stack([np.round(mu[rows], 4), np.round(sd[rows], 4),
                           np.round(np.log1p(value[rows]), 2), depth[rows], cost[rows],
                           np.round(base[rows], 4), allowed[rows], pool[rows]])
    uniq, inverse = np.unique(np.nan_to_num(key, nan=-9.0), axis=0, return_inverse=True)
    first = np.zeros(len(uniq), dtype=int)
    first[inverse[::-1]] = rows[::-1]
    rng = np.random.default_rng(seed)
    z, z0 = rng.standard_normal((draws, k)), rng.standard_normal(draws)
    probs = np.zeros((len(uniq), k))
    for start in range(0, len(uniq), 2000):
        i = first[start:start + 2000]
        v, d = value[i][:, None, None], depth[i][:, None, :]
        b0 = base[i][:, None, None]
        e0 = SHARPEN * base_sd[i][:, None, None] * z0[None, :, None]
        theta = mu[i][:, None, :] + SHARPEN * sd[i][:, None, :] * z[None, :, :] - e0
        gain = theta * v * (1 - d) - d * v * (b0 + e0) - cost[i][:, None, :]
        gain = np.where(pool[i][:, None, :], np.nan_to_num(gain, nan=-np.inf), -np.inf)
        best = gain.argmax(axis=2)
        for j in range(k):
            probs[start:start + len(i), j] = (best == j).mean(axis=1)
    probs = probs * pool[first]
    if k > TOP:
        cut = -np.sort(-probs, axis=1)[:, TOP - 1:TOP]
        probs = np.where(probs >= cut, probs, 0.0)
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    m = allowed[first].sum(axis=1, keepdims=True)
    probs = (1 - floor) * probs + floor * allowed[first] / np.maximum(m, 1)
    out[rows] = probs[inverse.reshape(-1)]
    return out


def draw(ids: pd.Series, chance: np.ndarray, seed: int, batch: str) -> np.ndarray:
    """Index of the drawn action per customer (-1 where no action has a chance): a stable
    uniform per (seed, batch, customer) against the cumulative chances."""
    u = (stable_bucket(ids.astype(str), _UNIT, salt=f"action|{seed}|{batch}|") + 0.5) / _UNIT
    cum = np.cumsum(chance, axis=1)
    pick = (cum < u[:, None]).sum(axis=1)
    pick = np.minimum(pick, chance.shape[1] - 1) if chance.shape[1] else pick
    return np.where(chance.sum(axis=1) > 0, pick, -1)


def design(customers: pd.DataFrame, post: pd.DataFrame, actions: list[str],
           cost: np.ndarray, depth: np.ndarray, channel: np.ndarray, tested: set[str],
           cp: CampaignParams, rp: RecommendParams, seed: int, batch: str,
           mean: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The batch: per customer in_budget (to contact or hold out), holdout, action (the drawn
    one; `none` outside the batch), planned_action (for a held-out customer: what they would
    have got), expected_uplift, expected_value, propensity, action_source
    (evidence | prior | exploration); and the chance matrix (customers x actions).

    customers: customer_id, reason (segment reason), lifecycle, value (of a response),
    eligible (may be contacted: the budget). cost, depth, channel: customers x actions.
    `mean` overrides the posterior means per customer (a personal uplift model)."""
    ids = customers["customer_id"].astype(str).reset_index(drop=True)
    reason, stage = customers["reason"].to_numpy(), customers["lifecycle"].to_numpy()
    mu = lookup(post, reason, stage, actions, "mean") if mean is None else mean
    sd = lookup(post, reason, stage, actions, "sd")
    weight = lookup(post, reason, stage, actions, "data_weight")
    base = np.nan_to_num(lookup(post, reason, stage, actions, "baseline")[:, 0]
                         if actions else np.zeros(len(ids)), nan=0.05)
    base_sd = np.nan_to_num(lookup(post, reason, stage, actions, "baseline_sd")[:, 0]
                            if actions else np.zeros(len(ids)))
    value = customers["value"].to_numpy(float)
    v = value[:, None]
    ev = mu * v * (1 - depth) - depth * v * base[:, None] - cost
    ev_sd = sd * v * (1 - depth)
    possible = np.isfinite(ev) & (ev + PLAUSIBLE_Z * ev_sd > 0)
    eligible = customers["eligible"].to_numpy(bool)
    best = np.where(possible, ev, -np.inf).max(axis=1) if actions else np.full(len(ids),
                                                                               -np.inf)
    allowed = possible & (eligible & (best > 0))[:, None]
    allowed = apply_caps(best, cost, channel, allowed, rp)
    contact = allowed.any(axis=1)
    # an untested action is sent only as exploration where a tested one pays
    is_tested = np.array([a in tested for a in actions], dtype=bool)
    tested_pays = (np.where(allowed & is_tested[None, :], ev, -np.inf).max(
        axis=1, initial=-np.inf) > 0)
    pool = np.where(tested_pays[:, None], allowed & is_tested[None, :], allowed)
    chance = thompson(mu, sd, value, depth, cost, base, base_sd, allowed, cp.thompson_draws,
                      cp.explore_share, _seed(seed, batch), pool)
    pick = draw(ids, chance, seed, batch)
    held = contact & assign_holdout(ids, batch, cp.holdout_share)
    # what the evidence says to send: a tested action outranks an untested one that pays
    ev_allowed = np.where(allowed, ev, -np.inf)
    tested_ev = np.where(is_tested[None, :], ev_allowed, -np.inf)
    exploit = np.where(tested_ev.max(axis=1, initial=-np.inf) > 0,
                       tested_ev.argmax(axis=1) if actions else -1,
                       ev_allowed.argmax(axis=1) if actions else -1)
    names = np.asarray([*actions, NONE], dtype=object)
    rows = np.arange(len(ids))
    drawn = np.where(contact, pick, -1)
    planned = np.where(contact, exploit, -1)
    chance_drawn = np.where(contact, chance[rows, np.maximum(drawn, 0)], np.nan)
    from_data = np.where(contact, weight[rows, np.maximum(planned, 0)] >= EVIDENCE_WEIGHT,
                         False) & is_tested[np.maximum(planned, 0)] if actions else \
        np.zeros(len(ids), bool)
    source = np.where(drawn != planned, "exploration",
                      np.where(from_data, "evidence", "prior"))
    sent = np.where(held, planned, drawn)
    out = pd.DataFrame({
        "in_budget": contact, "holdout": held,
        "action": names[np.where(contact, sent, -1)],
        "planned_action": names[planned],
        "expected_uplift": np.where(contact, mu[rows, np.maximum(sent, 0)], np.nan),
        "expected_value": np.where(contact, ev[rows, np.maximum(sent, 0)], np.nan),
        "uplift_sd": np.where(contact, sd[rows, np.maximum(sent, 0)], np.nan),
        "propensity": np.where(held, cp.holdout_share, (1 - cp.holdout_share) * chance_drawn),
        "action_source": np.where(contact, np.where(held, "control", source), ""),
    })
    return out, chance


# --- what the batch says --------------------------------------------------------------------

def batch_outlook(batch: pd.DataFrame, customers: pd.DataFrame) -> dict:
    """How many actions come from evidence / the prior / exploration, and the expected
    incremental orders of the batch with a 95% lower bound (errors shared within a segment
    and action, independent between them)."""
    sent = batch["in_budget"] & ~batch["holdout"]
    rows = batch[sent].assign(reason=customers.loc[sent, "reason"].to_numpy(),
                              lifecycle=customers.loc[sent, "lifecycle"].to_numpy())
    mean = float(rows["expected_uplift"].sum())
    spread = rows.groupby(["reason", "lifecycle", "action"])["uplift_sd"].sum()
    sd = float(np.sqrt((spread**2).sum()))
    counts = rows["action_source"].value_counts()
    return {
        "contacts": int(sent.sum()), "held_out": int(batch["holdout"].sum()),
        "from_evidence": int(counts.get("evidence", 0)),
        "from_prior": int(counts.get("prior", 0)),
        "exploring": int(counts.get("exploration", 0)),
        "expected_incremental_orders": round(mean, 1),
        "expected_incremental_orders_low": round(mean - PLAUSIBLE_Z * sd, 1),
        "expected_incremental_value": round(float(rows["expected_value"].sum()), 2),
    }


def open_questions(post: pd.DataFrame, customers: pd.DataFrame, chance: np.ndarray,
                   actions: list[str], cost: np.ndarray, depth: np.ndarray,
                   confidence: float, batches: int = 3) -> list[dict]:
    """Per reason at risk in the batch: the two best actions by expected value at the reason
    level, the chance the first is better, and how many more batches like this one would
    decide it (the interval shrinks with the square root of the contacts); with the customers
    a batch would need to decide it within `batches` batches."""
    z = float(stats.norm.ppf(confidence))
    out = []
    contact = chance.sum(axis=1) > 0
    for reason in sorted(set(customers.loc[contact, "reason"]) - {NONE, "unknown"}):
        m = contact & (customers["reason"] == reason).to_numpy()
        level = post[post["reason"] == reason].groupby("action")[
            ["reason_mean", "reason_sd", "reason_treated", "baseline"]].first().reindex(actions)
        v = float(customers.loc[m, "value"].mean())
        p0 = float(level["baseline"].mean())
        d, c = depth[m].mean(axis=0), cost[m].mean(axis=0)
        ev = level["reason_mean"].to_numpy() * v * (1 - d) - d * v * p0 - c
        ev = np.where(chance[m].sum(axis=0) > 0, ev, -np.inf)
        order = np.argsort(-ev, kind="stable")
        if len(actions) < 2 or not np.isfinite(ev[order[1]]):
            continue
        a, b = order[0], order[1]
        gap = float(level["reason_mean"].iloc[a] - level["reason_mean"].iloc[b])
        gap_ev = float(ev[a] - ev[b])
        sd_u = float(np.hypot(level["reason_sd"].iloc[a], level["reason_sd"].iloc[b]))
        sd_ev = sd_u * v * (1 - (d[a] + d[b]) / 2)
        sure = float(stats.norm.cdf(gap_ev / sd_ev)) if sd_ev > 0 else 1.0
        per_batch = float(chance[m][:, [a, b]].sum())
        rate = min(max(p0, 0.01), 0.99)
        n_equiv = 2 * rate * (1 - rate) / max(sd_u, 1e-9) ** 2
        need = abs(gap_ev) / z / max(v, 1e-9)
        if sure >= confidence:
            more: int | None = 0
        elif abs(gap) < 0.002 or per_batch < 1:
            more = None
        else:
            more = math.ceil(n_equiv * ((sd_u / max(need, 1e-9)) ** 2 - 1) / per_batch)
            more = more if more <= 24 else None
        share = per_batch / max(int(m.sum()), 1)
        delta = max(abs(gap), 0.02)
        n_arm = 2 * (z + 0.8416) ** 2 * rate * (1 - rate) / delta**2
        out.append({"reason": reason, "best": actions[a], "runner_up": actions[b],
                    "uplift_gap": round(gap, 4), "chance_best": round(sure, 3),
                    "batches_to_decide": more,
                    "customers_per_batch_needed": int(math.ceil(
                        n_arm / batches / max(share / 2, 0.05)
                        / max(m.sum() / max(contact.sum(), 1), 1e-9)))})
    return out


def question_line(q: dict) -> str:
    """One line for the run summary."""
    who = {"forgot": "forgetful", "satisfaction": "dissatisfied", "choice": "choice",
           "price": "price", "other": "other"}.get(q["reason"], q["reason"])
    head = f"{q['best']} vs {q['runner_up']} for {who} leavers: "
    if q["batches_to_decide"] == 0:
        return head + f"decided ({q['best']}, {q['chance_best']:.0%} sure)"
    if q["batches_to_decide"] is None:
        return head + "too close to decide soon"
    n = q["batches_to_decide"]
    return head + f"{n} more batch{'es' if n != 1 else ''} to decide"
