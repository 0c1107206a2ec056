"""Judging the policy on contacts it has not seen: the segment posterior against T-, X- and
DR-learners, by the value of the policy each gives (self-normalised inverse propensity on the
held-out randomised contacts), the winner's gain over the best single action, its Qini per
action, and how well its predicted uplift matches the realised one by decile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from common.params import CampaignParams, RecommendParams
from models.campaigns.design import lookup
from models.campaigns.judge import (
    compare_policies,
    gain_over_best_single,
    qini_coefficient,
    qini_curve,
    uplift_at,
)
from models.campaigns.policy import (
    CAUSE_COLUMNS,
    NONE,
    Policy,
    customer_terms,
    evaluation_split,
    fit_policy,
    training_rows,
)
from models.campaigns.uplift import KINDS, fit_learner

#: fewer randomised held-out contacts than this judge no policy (the IPW value is noise)
MIN_RANDOMISED = 100
SEGMENTS = "segments"


def learner_features(rows: pd.DataFrame, names: list[str]) -> list[str]:
    """Model features and cause probabilities the rows hold (numeric, not all missing)."""
    cols = [c for c in dict.fromkeys([*names, *CAUSE_COLUMNS]) if c in rows.columns]
    return [c for c in cols if pd.api.types.is_numeric_dtype(rows[c]) and rows[c].notna().any()]


def _as_scored(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.copy()
    if "membership_tier" not in out:
        out["membership_tier"] = "bronze"
    out["one_time_buyer"] = out.get("one_time_buyer", pd.Series(0.0, index=out.index))
    out["recency_days"] = out.get("recency_days", pd.Series(0.0, index=out.index))
    return out


def means(policy, rows: pd.DataFrame, learner=None) -> np.ndarray:
    """rows x actions: the posterior mean of each row's segment, a learner's uplift where it
    has a model of the action."""
    mean = lookup(policy.posterior, rows["reason"].to_numpy(), rows["lifecycle"].to_numpy(),
                  policy.actions, "mean")
    if learner is not None and learner.actions:
        pred = learner.predict(rows)
        for a in learner.actions:
            mean[:, policy.actions.index(a)] = pred[a].to_numpy()
    return mean


def greedy(policy, rows: pd.DataFrame, mean: np.ndarray, rp: RecommendParams) -> np.ndarray:
    """The action of best expected value per row, `none` where none pays."""
    terms = customer_terms(_as_scored(rows), policy, rp)
    acts = policy.actions
    cost = np.column_stack([terms[a]["cost"].to_numpy(float) for a in acts])
    depth = np.column_stack([terms[a]["depth"].to_numpy(float) for a in acts])
    base = lookup(policy.posterior, rows["reason"].to_numpy(), rows["lifecycle"].to_numpy(),
                  acts, "baseline")
    v = rows["value"].to_numpy(float)[:, None]
    ev = mean * v * (1 - depth) - depth * v * np.nan_to_num(base) - cost
    best = np.nan_to_num(ev, nan=-np.inf).argmax(axis=1)
    return np.where(np.nan_to_num(ev, nan=-np.inf).max(axis=1) > 0,
                    np.asarray(acts, dtype=object)[best], NONE)


def calibration(rows: pd.DataFrame, mean: np.ndarray, actions: list[str],
                bins: int = 10) -> list[dict]:
    """Predicted vs realised uplift by decile of predicted uplift: each action's treated
    contacts and the controls, stacked, weighed by 1 / propensity."""
    parts = []
    obs = rows["observed_action"].astype(str).to_numpy()
    p = pd.to_numeric(rows["propensity"], errors="coerce").to_numpy()
    w = np.where(np.isfinite(p) & (p > 0), 1 / np.where(p > 0, p, 1), 1.0)
    for j, a in enumerate(actions):
        m = (obs == a) | (obs == NONE)
        if (obs == a).sum() < 20:
            continue
        parts.append(pd.DataFrame({"pred": mean[m, j], "t": obs[m] == a,
                                   "y": rows["responded"].to_numpy(float)[m], "w": w[m]}))
    if not parts:
        return []
    s = pd.concat(parts, ignore_index=True)
    s["decile"] = pd.qcut(s["pred"].rank(method="first"), bins, labels=False)
    out = []
    for d, g in s.groupby("decile"):
        t, c = g[g["t"]], g[~g["t"]]
        if t.empty or c.empty:
            continue
        realised = np.average(t["y"], weights=t["w"]) - np.average(c["y"], weights=c["w"])
        out.append({"decile": int(d) + 1, "predicted": round(float(g["pred"].mean()), 4),
                    "realised": round(float(realised), 4), "n_treated": int(len(t)),
                    "n_control": int(len(c))})
    return out


def paired_gain(ours: np.ndarray, theirs: np.ndarray, rows: pd.DataFrame, draws: int = 200,
                seed: int = 0) -> dict:
    """Self-normalised IPW value of one policy minus another's on the same randomised
    contacts, with a 95% bootstrap interval over contacts."""
    obs = rows["observed_action"].astype(str).to_numpy()
    y = rows["responded"].to_numpy(float)
    w = 1.0 / rows["propensity"].to_numpy(float)
    a, b = (ours.astype(str) == obs) * w, (theirs.astype(str) == obs) * w

    def gain(i: np.ndarray) -> float:
        return float((a[i] * y[i]).sum() / max(a[i].sum(), 1e-12)
                     - (b[i] * y[i]).sum() / max(b[i].sum(), 1e-12))

    rng = np.random.default_rng(seed)
    boot = [gain(rng.integers(0, len(y), len(y))) for _ in range(draws)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"gain": round(gain(np.arange(len(y))), 5), "ci_low": round(float(lo), 5),
            "ci_high": round(float(hi), 5)}


def assess(rows: pd.DataFrame, names: list[str], cp: CampaignParams, rp: RecommendParams
           ) -> tuple[dict, pd.DataFrame, str]:
    """Fit on training customers, judge on held-out randomised contacts. Returns (report,
    Qini curve points, the winning model: `segments` or a learner kind)."""
    test = evaluation_split(rows)
    train, held = rows[~test], rows[test]
    report: dict = {"train_contacts": int(len(train)), "test_contacts": int(len(held))}
    judged = held[held["propensity"].notna()].reset_index(drop=True)
    report["randomised_test_contacts"] = int(len(judged))
    policy = fit_policy(train, cp)
    feats = learner_features(train, names)
    learners = {k: fit_learner(k, train, feats, cp.min_per_arm) for k in KINDS} \
        if len(judged) >= MIN_RANDOMISED else {}
    candidates = {SEGMENTS: None, **{k: v for k, v in learners.items() if v.actions}}
    if len(judged) < MIN_RANDOMISED or len(policy.tested) == 0:
        return report, pd.DataFrame(columns=["action", "fraction", "qini", "random"]), SEGMENTS
    observed = judged["observed_action"].astype(str)
    tested = [a for a in policy.tested if (observed == a).any()]
    values, tables, mean_of = {}, {}, {}
    for name, learner in candidates.items():
        mean_of[name] = means(policy, judged, learner)
        chosen = greedy(policy, judged, mean_of[name], rp)
        tables[name] = chosen
        values[name] = compare_policies({"learned": chosen}, observed, judged["responded"],
                                        judged["propensity"], tested or policy.actions,
                                        self_normalized=True).set_index("policy")["value"]
    learned = {k: float(v["learned"]) for k, v in values.items()}
    # a learner replaces the segments only where its gain is more than the noise of IPW
    margins = {k: paired_gain(tables[k], tables[SEGMENTS], judged) for k in learned
               if k != SEGMENTS}
    sure = {k: learned[k] for k, m in margins.items() if m["ci_low"] > 0}
    winner = max(sure, key=sure.get) if sure else SEGMENTS
    report["models"] = {k: round(v, 5) for k, v in learned.items()}
    report["learner_gain_over_segments"] = margins
    report["chosen_model"] = winner
    report["policy_value"] = {k: round(float(v), 5) for k, v in values[winner].items()}
    if tested:
        report["learned_minus_best_single"] = {
            k: round(v, 5) for k, v in gain_over_best_single(
                tables[winner], observed, judged["responded"], judged["propensity"],
                tested).items()}
    report["calibration"] = calibration(judged, mean_of[winner], policy.actions)
    curves, per_action = [], {}
    for j, a in enumerate(policy.actions):
        arm = ((observed == a) | (observed == NONE)).to_numpy()
        t = (observed[arm] == a).astype(int).to_numpy()
        if t.sum() < 20 or t.all():
            continue
        score, y = mean_of[winner][arm, j], judged.loc[arm, "responded"].to_numpy()
        per_action[a] = {"qini": qini_coefficient(score, t, y),
                         "uplift_top30": uplift_at(score, t, y, 0.3),
                         "uplift_all": uplift_at(score, t, y, 1.0)}
        curve = qini_curve(score, t, y)
        curves.append(curve.iloc[::max(1, len(curve) // 50)].assign(action=a))
    report["per_action"] = per_action
    qini = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    return report, qini, winner


def evidence_summary(policy: Policy) -> list[dict]:
    """Per action and reason: contacts, the posterior mean and interval, how much rests on the
    data (reported to the marketer; the score stage reads the policy file itself)."""
    post = policy.posterior
    g = post.groupby(["action", "reason"]).agg(
        treated=("n_treated", "sum"), mean=("reason_mean", "first"), sd=("reason_sd", "first"),
        data_weight=("data_weight", "mean")).reset_index()
    g = g[g["treated"] > 0]
    return [{"action": r.action, "reason": r.reason, "treated": int(r.treated),
             "uplift": round(float(r.mean), 4), "low": round(float(r.mean - 1.96 * r.sd), 4),
             "high": round(float(r.mean + 1.96 * r.sd), 4),
             "data_weight": round(float(r.data_weight), 3)} for r in g.itertuples()]


def learn_policy(contact_outcomes: pd.DataFrame, features: pd.DataFrame, names: list[str],
                 cp: CampaignParams, rp: RecommendParams,
                 contacts: pd.DataFrame | None = None) -> tuple[Policy, dict, pd.DataFrame]:
    """From contact outcomes and the features as of each contact: the models judged on held-out
    contacts, then the posterior (and the winning learner, if not the segments) refit on all
    of them. Returns (policy, report, Qini curve points)."""
    rows = training_rows(contact_outcomes, features, names, rp.lapsed_days)
    report, qini, winner = assess(rows, names, cp, rp)
    policy = fit_policy(rows, cp, contacts)
    if winner != SEGMENTS:
        learner = fit_learner(winner, rows, learner_features(rows, names), cp.min_per_arm)
        policy.learner = learner.to_dict() if learner.actions else None
    report.update({"contacts": int(len(contact_outcomes)), "training_rows": int(len(rows)),
                   "actions": policy.actions, "tested_actions": policy.tested,
                   "actions_with_evidence": policy.tested,
                   "value_per_response": round(policy.value_per_response, 4),
                   "evidence": evidence_summary(policy),
                   "terms": policy.terms.reset_index(names="action").to_dict("records")})
    return policy, report, qini
