"""Judging uplift and policies on randomised contacts: Qini curves for a ranking, inverse
propensity weighting for the value of a policy, and its gain over the best single action."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from common.errors import ChurnError

NONE = "none"  # the action of sending nothing (a held-out control)


# --- judging a ranking ----------------------------------------------------------------------

def _arrays(*arrays) -> list[np.ndarray]:
    out = [np.asarray(a) for a in arrays]
    if len({len(a) for a in out}) != 1:
        raise ChurnError("uplift score, treatment flag and outcome differ in length")
    return out


def qini_curve(uplift_score: Sequence[float], treated: Sequence[bool],
               outcome: Sequence[float]) -> pd.DataFrame:
    """Incremental responses when targeting the top k by score, for every k.

    Qini(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k): treated responders among the top k minus the
    control responders scaled to the treated count. `random` is the straight line to Qini(n),
    what a random ranking gets on average. Ties keep the input order (stable sort).
    """
    score, t, y = _arrays(uplift_score, treated, outcome)
    order = np.argsort(-score.astype(float), kind="stable")
    t, y = t[order].astype(bool), y[order].astype(float)
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(invalid="ignore", divide="ignore"):
        qini = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t)
    k = np.arange(1, len(score) + 1)
    qini = np.concatenate([[0.0], qini])
    k = np.concatenate([[0], k])
    n = max(len(score), 1)
    return pd.DataFrame({"n_targeted": k, "fraction": k / n, "qini": qini,
                         "random": k / n * qini[-1]})


def qini_coefficient(uplift_score: Sequence[float], treated: Sequence[bool],
                     outcome: Sequence[float]) -> float:
    """Area between the Qini curve and the random line, per customer (0 = no better than
    random; comparable across data sets of different sizes)."""
    curve = qini_curve(uplift_score, treated, outcome)
    n = max(len(curve) - 1, 1)
    gain = (curve["qini"] - curve["random"]).to_numpy() / n
    x = curve["fraction"].to_numpy()
    return float(np.sum((gain[1:] + gain[:-1]) / 2 * np.diff(x)))


def uplift_at(uplift_score: Sequence[float], treated: Sequence[bool], outcome: Sequence[float],
              frac: float) -> float:
    """Response rate treated - control among the top `frac` by score (NaN if an arm is empty)."""
    score, t, y = _arrays(uplift_score, treated, outcome)
    k = max(1, int(np.ceil(frac * len(score))))
    top = np.argsort(-score.astype(float), kind="stable")[:k]
    t, y = t[top].astype(bool), y[top].astype(float)
    if t.all() or not t.any():
        return float("nan")
    return float(y[t].mean() - y[~t].mean())


# --- judging a policy -----------------------------------------------------------------------

def policy_value_ipw(policy_action: Sequence[str], observed_action: Sequence[str],
                     reward: Sequence[float], propensity: Sequence[float],
                     self_normalized: bool = False) -> float:
    """Mean reward per customer had `policy_action` been followed, from randomised contacts.

    observed_action is what was done ('none' for held-out controls); propensity is the chance
    the logging policy did it for that customer (holdout share for controls). Plain IPW is
    unbiased; the self-normalised form divides by the sum of weights, trading a little bias
    for much less variance when weights are large.
    """
    pol, obs, r, p = _arrays(policy_action, observed_action, reward, propensity)
    if (p.astype(float) <= 0).any():
        raise ChurnError("propensities must be positive: every logged action needs a chance")
    w = (pol.astype(str) == obs.astype(str)) / p.astype(float)
    if self_normalized:
        return float(np.sum(w * r) / np.sum(w)) if np.sum(w) > 0 else float("nan")
    return float(np.mean(w * r))


def compare_policies(policies: Mapping[str, Sequence[str]], observed_action: Sequence[str],
                     reward: Sequence[float], propensity: Sequence[float],
                     actions: Sequence[str], self_normalized: bool = False) -> pd.DataFrame:
    """IPW value of named policies next to the yardsticks: nothing for anyone, each single
    action for everyone (the best of them as `best_single`), and a uniformly random choice among
    the actions and 'none' (the mean of the constant policies' values)."""
    n = len(np.asarray(reward))
    rows = {name: policy_value_ipw(pol, observed_action, reward, propensity, self_normalized)
            for name, pol in policies.items()}
    constant = {a: policy_value_ipw(np.full(n, a, dtype=object), observed_action, reward,
                                    propensity, self_normalized) for a in [NONE, *actions]}
    best = max(actions, key=lambda a: constant[a])
    rows.update({"nothing": constant[NONE], f"best_single:{best}": constant[best],
                 "random": float(np.mean(list(constant.values())))})
    return pd.DataFrame({"policy": list(rows), "value": list(rows.values())})


def gain_over_best_single(policy_action: Sequence[str], observed_action: Sequence[str],
                          reward: Sequence[float], propensity: Sequence[float],
                          actions: Sequence[str], draws: int = 200,
                          seed: int = 0) -> dict[str, float]:
    """Self-normalised IPW value of the policy minus that of the best single action (chosen
    again in every draw, as the yardstick itself is), with a 95% bootstrap interval over
    customers: whether a personalised policy's edge, or deficit, is more than noise."""
    pol, obs, r, p = _arrays(policy_action, observed_action, reward, propensity)
    obs, r, w0 = obs.astype(str), r.astype(float), 1.0 / p.astype(float)
    candidates = np.column_stack([pol.astype(str)] + [np.full(len(r), a) for a in actions])
    match = (candidates == obs[:, None]) * w0[:, None]          # weight if the policy agrees

    def gain(idx: np.ndarray) -> float:
        m = match[idx]
        value = (m * r[idx, None]).sum(axis=0) / np.maximum(m.sum(axis=0), 1e-12)
        return float(value[0] - value[1:].max())

    rng = np.random.default_rng(seed)
    boot = [gain(rng.integers(0, len(r), len(r))) for _ in range(draws)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"gain": gain(np.arange(len(r))), "ci_low": float(lo), "ci_high": float(hi)}
