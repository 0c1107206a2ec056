"""Closing the loop: does the pipeline learn what to send from its own batches?

Three measurements, all with default params:

1. `loop`: a simulated shop answers the pipeline's own batches (8,000 customers, 6 batches 35
   days apart, no contact history at the start). Each arm runs on its own copy of the shop:
   - pipeline: the score stage's work each batch (features and evidence at the batch date,
     scoring with the churn and cause models trained once before the first batch, the rules,
     the policy learnt from the contact log so far, the designed batch with its shared
     control), the contact log growing batch by batch;
   - rules: the rules' action for every customer at risk (no holdout);
   - best single action: the one action, best in hindsight each batch, for every customer at
     risk;
   - oracle: for every customer, the action of best true value (planted uplift x value of a
     response - cost) where it pays, knowing the planted effects and each true cause.
   Incremental responses are the planted uplifts of what was sent (expected, not drawn).
   Reported: per batch and cumulative, the oracle share over the last 3 batches, the first
   batch with actions from evidence. The judging simulator is the boutique one
   (synthetic/boutique_loop.py), never used in development; `--sim retail` runs the one the
   policy was developed on (synthetic/campaigns.py).
2. `email`: the randomised three-arm e-mail test (synthetic/email_test.py): half its
   customers' contacts and outcomes are the history, the other half is scored and given a
   batch; the batch's value (self-normalised inverse propensity on the scored half's true
   random arms; an action the test never sent counts as no e-mail) against the best single
   e-mail, a random e-mail and nothing.
3. `history`: a year of randomised history (12 monthly batches of random rules actions around
   a shared control) on the judging simulator, then one pipeline batch: its incremental
   responses against the rules applied with each customer's true cause.

    .venv/bin/python benchmarks/loop.py [--only loop email history] [--sim boutique]
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script: the project root, not benchmarks/ (its features.py), comes first
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import copy
import json
import time
from datetime import timedelta

import ibis
import numpy as np
import pandas as pd

from common.params import Params
from features.cutoffs import training_cutoffs
from features.engine import build
from features.evidence import evidence, vocabulary_with, with_evidence
from models.actions.rules import RULE_ACTIONS, plan_actions
from models.campaigns.assess import learn_policy
from models.campaigns.holdout import batch_contacts
from models.campaigns.outcomes import outcomes
from models.campaigns.policy import apply_policy, contact_cutoffs, fit_policy
from models.causes.reasons import fit_beside_churn_model
from models.churn.scoring import score_rows
from models.churn.split import time_split
from models.churn.train import train_model

P = Params()
HORIZON = 365
EMPTY = pd.DataFrame(columns=["observed_action", "reason", "lifecycle", "responded", "batch",
                              "propensity"])


def _connect(tables: dict) -> tuple:
    con = ibis.duckdb.connect()
    return con, {k: con.create_table(k, v) for k, v in tables.items()}


def features_at(tables: dict, cutoffs: list, as_of, horizon: int = HORIZON) -> tuple:
    con, t = _connect(tables)
    expr, names = build(t, cutoffs, as_of, P.features, horizon)
    expr = with_evidence(expr, evidence(t, cutoffs, as_of, vocabulary_with({})))
    frame = con.execute(expr).sort_values(["cutoff", "customer_id"], ignore_index=True)
    return frame, names


def train(tables: dict, as_of, horizon: int = HORIZON):
    """The churn and cause models as the train stage fits them, on the shop at as_of."""
    first = tables["orders"]["order_ts"].min().date()
    cutoffs = training_cutoffs(first, as_of, horizon, P.features)
    frame, names = features_at(tables, cutoffs, as_of, horizon)
    split = time_split(frame)
    model, _ = train_model(split, names, P.train, P.base.seed)
    model.cause_model = fit_beside_churn_model(model, split, list(tables), P.reasons,
                                               P.base.seed)
    return model


def score(tables: dict, model, as_of, horizon: int = HORIZON) -> tuple:
    frame, _ = features_at(tables, [as_of], as_of, horizon)
    snapshot = frame.drop(columns=["churned"], errors="ignore")
    rows = score_rows(snapshot, model, P.score, P.reasons)
    planned = plan_actions(rows, P.recommend).assign(model_version="1")
    return planned, snapshot


def learn(log: list[pd.DataFrame], tables: dict, as_of, horizon: int = HORIZON) -> tuple:
    """The policy stage on the contact log so far."""
    if not log:
        return fit_policy(EMPTY, P.campaigns), {}
    contacts = pd.concat(log, ignore_index=True).rename(columns={"batch": "campaign_id"})
    contacts["contact_ts"] = pd.to_datetime(contacts["contact_ts"]).astype("datetime64[us]")
    rows = outcomes(contacts, tables["orders"], None, as_of, P.campaigns.response_days,
                    P.campaigns.outcome).execute()
    if rows.empty:
        return fit_policy(EMPTY, P.campaigns), {}
    con, t = _connect(tables)
    expr, names = build(t, sorted(set(contact_cutoffs(rows))), as_of, P.features, horizon)
    policy, report, _ = learn_policy(rows, con.execute(expr), names, P.campaigns, P.recommend)
    return policy, report


def best_actions(sim, ids: pd.Series, as_of) -> tuple[np.ndarray, np.ndarray]:
    """Per customer the action of best true value (and that value), over the rules' actions."""
    acts = sorted(RULE_ACTIONS)
    value = sim.value(ids)
    gains = np.column_stack([sim.uplift(ids, pd.Series(a, index=ids.index), as_of) * value
                             - sim.cost(pd.Series(a, index=ids.index)) for a in acts])
    return np.asarray(acts, dtype=object)[gains.argmax(axis=1)], gains.max(axis=1)


def run_arm(arm: str, sim, model) -> list[dict]:
    out, log = [], []
    for k, as_of in enumerate(sim.dates, start=1):
        started = time.perf_counter()
        tables = sim.tables(as_of)
        planned, snapshot = score(tables, model, as_of)
        ids = planned["customer_id"].astype(str)
        outlook: dict = {}
        if arm == "pipeline":
            policy, _ = learn(log, tables, as_of)
            batch, outlook = apply_policy(planned, policy, P.campaigns, P.recommend,
                                          P.base.seed, as_of.isoformat(), snapshot)
            log.append(batch_contacts(batch, as_of, P.campaigns.holdout_share)[1])
        else:
            if arm == "rules":
                action = planned["action"].where(planned["action"].isin(list(RULE_ACTIONS)),
                                                 "none")
            elif arm == "single":
                at_risk = planned["at_risk"].to_numpy()
                totals = {a: sim.uplift(ids[at_risk], pd.Series(a, index=ids[at_risk].index),
                                        as_of).sum() for a in sorted(RULE_ACTIONS)}
                best = max(totals, key=totals.get)
                action = pd.Series(np.where(at_risk, best, "none"), index=planned.index)
            else:
                acts, gain = best_actions(sim, ids, as_of)
                action = pd.Series(np.where(gain > 0, acts, "none"), index=planned.index)
            batch = planned.assign(action=action, in_budget=action.ne("none"), holdout=False)
        sent = batch[batch["in_budget"] & ~batch["holdout"] & batch["action"].ne("none")]
        sid = sent["customer_id"].astype(str)
        uplift = sim.uplift(sid, sent["action"], as_of)
        value = uplift * sim.value(sid) - sim.cost(sent["action"])
        sim.answer(batch, as_of)
        out.append({"arm": arm, "batch": k, "as_of": as_of.isoformat(), "sent": len(sent),
                    "incremental": float(uplift.sum()), "value": float(value.sum()),
                    "from_evidence": outlook.get("from_evidence"),
                    "from_prior": outlook.get("from_prior"),
                    "exploring": outlook.get("exploring"),
                    "expected": outlook.get("expected_incremental_orders"),
                    "expected_low": outlook.get("expected_incremental_orders_low"),
                    "questions": outlook.get("open_questions"),
                    "seconds": round(time.perf_counter() - started, 1)})
        print(f"  {arm} batch {k}: sent {len(sent):,}, incremental {uplift.sum():.1f}, "
              f"evidence {outlook.get('from_evidence')}, {out[-1]['seconds']} s", flush=True)
    return out


def make_sim(name: str, customers: int, seed: int, batches: int = 6, every: int = 35):
    if name == "boutique":
        from synthetic.boutique_loop import BoutiqueLoop, BoutiqueLoopConfig

        return BoutiqueLoop(BoutiqueLoopConfig(customers=customers, seed=seed,
                                               batches=batches, every_days=every))
    from synthetic.campaigns import LoopConfig
    from synthetic.retail_loop import retail_loop

    return retail_loop(LoopConfig(customers=customers, seed=seed, batches=batches,
                                  every_days=every))


def loop(sim_name: str, customers: int, seed: int) -> dict:
    sim = make_sim(sim_name, customers, seed)
    model = train(sim.tables(sim.first_batch - timedelta(days=1)),
                  sim.first_batch - timedelta(days=1))
    rows = []
    for arm in ("pipeline", "rules", "single", "oracle"):
        rows += run_arm(arm, copy.deepcopy(sim), model)
    frame = pd.DataFrame(rows)
    wide = frame.pivot(index="batch", columns="arm", values="incremental")
    last = wide.iloc[-3:].sum()
    learned = frame[(frame["arm"] == "pipeline") & (frame["from_evidence"] > 0)]["batch"]
    summary = {"sim": sim_name, "customers": customers, "seed": seed,
               "per_batch": wide.round(1).reset_index().to_dict("records"),
               "cumulative": wide.sum().round(1).to_dict(),
               "last3_share_of_oracle": {a: round(float(last[a] / last["oracle"]), 3)
                                         for a in wide.columns},
               "last3_pipeline_over_rules": round(float(last["pipeline"] / last["rules"]), 3),
               "first_learned_batch": int(learned.min()) if len(learned) else None,
               "value_cumulative": frame.pivot(index="batch", columns="arm", values="value")
               .sum().round(1).to_dict(),
               "pipeline": frame[frame["arm"] == "pipeline"].to_dict("records")}
    print(f"\nloop on {sim_name}, {customers:,} customers, seed {seed}")
    print("| batch | pipeline | rules | best single | oracle |\n|---|---|---|---|---|")
    for b, r in wide.iterrows():
        print(f"| {b} | {r['pipeline']:.1f} | {r['rules']:.1f} | {r['single']:.1f} | "
              f"{r['oracle']:.1f} |")
    c = wide.sum()
    print(f"| total | {c['pipeline']:.1f} | {c['rules']:.1f} | {c['single']:.1f} | "
          f"{c['oracle']:.1f} |")
    print(f"share of the oracle in the last 3 batches: {summary['last3_share_of_oracle']}; "
          f"pipeline / rules there: {summary['last3_pipeline_over_rules']}; first batch with "
          f"learned actions: {summary['first_learned_batch']}", flush=True)
    return summary


def email(customers: int, seed: int) -> dict:
    """Half the test's contacts as the history, the other half scored and given a batch."""
    from common.hashing import stable_bucket
    from models.campaigns.judge import policy_value_ipw
    from synthetic.email_test import ACTIONS, EmailTestConfig, email_test

    cfg = EmailTestConfig(customers=customers, seed=seed)
    tables, truth = email_test(cfg)
    horizon = 182
    test_day = pd.Timestamp(cfg.test_day)
    fed = stable_bucket(tables["contacts"]["customer_id"], 2, salt="email-half|") == 0
    learn_on = (test_day + timedelta(days=cfg.response_days + 5)).date()
    rows = outcomes(tables["contacts"][fed], tables["orders"], None, learn_on,
                    cfg.response_days).execute()
    con, t = _connect(tables)
    expr, names = build(t, sorted(set(contact_cutoffs(rows))), learn_on, P.features, horizon)
    policy, report, _ = learn_policy(rows, con.execute(expr), names, P.campaigns, P.recommend,
                                     tables["contacts"][fed])
    before = (test_day - timedelta(days=1)).date()
    history = {k: v[v["order_ts"] < test_day] if k == "orders" else v
               for k, v in tables.items() if k != "contacts"}
    model = train(history, before, horizon)
    planned, snapshot = score(history, model, before, horizon)
    scored_ids = set(tables["contacts"].loc[~fed, "customer_id"].astype(str))
    planned = planned[planned["customer_id"].astype(str).isin(scored_ids)]
    batch, outlook = apply_policy(planned, policy, P.campaigns, P.recommend, P.base.seed,
                                  before.isoformat(), snapshot)
    sent = batch["in_budget"] & ~batch["holdout"] & batch["action"].isin(list(ACTIONS))
    chosen = pd.Series(np.where(sent, batch["action"], "none"),
                       index=batch["customer_id"].astype(str))
    arm = truth.set_index("customer_id")["arm"].replace("", "none").reindex(chosen.index)
    y = truth.set_index("customer_id")["responded"].reindex(chosen.index).to_numpy()
    p = np.full(len(y), 1 / 3)

    def value(policy_actions) -> float:
        return policy_value_ipw(policy_actions, arm.to_numpy(), y, p, self_normalized=True)

    values = {"batch": value(chosen.to_numpy()), "nothing": value(np.full(len(y), "none"))}
    for a in ACTIONS:
        values[a] = value(np.full(len(y), a))
    best = max(values[a] for a in ACTIONS)
    values["random"] = float(np.mean([values["nothing"], *[values[a] for a in ACTIONS]]))
    out = {"customers": customers, "scored": int(len(chosen)),
           "values": {k: round(v, 4) for k, v in values.items()},
           "batch_minus_best_single": round(values["batch"] - best, 4),
           "batch_minus_random": round(values["batch"] - values["random"], 4),
           "actions": chosen.value_counts().to_dict(), "sources": {
               k: outlook[k] for k in ("from_evidence", "from_prior", "exploring",
                                       "held_out")},
           "chosen_model": report.get("chosen_model"), "models": report.get("models")}
    print(f"\ne-mail test ({customers:,} customers, half fed): {json.dumps(out)}", flush=True)
    return out


def history(sim_name: str, customers: int, seed: int) -> dict:
    """A year of randomised batches, then one pipeline batch, against the rules with the true
    cause."""
    sim = make_sim(sim_name, customers, seed, batches=13, every=30)
    *past, last = sim.dates
    model = train(sim.tables(past[0] - timedelta(days=1)), past[0] - timedelta(days=1))
    rng = np.random.default_rng(seed)
    log = []
    acts = np.asarray(sorted(RULE_ACTIONS), dtype=object)
    for as_of in past:
        planned, _ = score(sim.tables(as_of), model, as_of)
        target = planned["at_risk"].to_numpy()
        held = target & (rng.random(len(planned)) < P.campaigns.holdout_share)
        action = np.where(target, acts[rng.integers(0, len(acts), len(planned))], "none")
        batch = planned.assign(action=action, in_budget=target, holdout=held,
                               planned_action=action, action_source="random",
                               propensity=np.where(held, P.campaigns.holdout_share,
                                                   (1 - P.campaigns.holdout_share)
                                                   / len(acts)))
        log.append(batch_contacts(batch, as_of, P.campaigns.holdout_share)[1])
        sim.answer(batch, as_of)
        print(f"  random batch {as_of}: {int(target.sum()):,} targets", flush=True)
    tables = sim.tables(last)
    planned, snapshot = score(tables, model, last)
    policy, report = learn(log, tables, last)
    batch, outlook = apply_policy(planned, policy, P.campaigns, P.recommend, P.base.seed,
                                  last.isoformat(), snapshot)
    sent = batch[batch["in_budget"] & ~batch["holdout"] & batch["action"].ne("none")]
    ours = float(sim.uplift(sent["customer_id"].astype(str), sent["action"], last).sum())
    # the rules, knowing each customer's true cause, for everyone at risk
    true = planned.assign(reason=sim.cause.reindex(planned["customer_id"].astype(str))
                          .replace("loyal", "").fillna("").to_numpy())
    rules = plan_actions(true.drop(columns=["action", "channel", "offer", "product_classes",
                                            "in_budget"]), P.recommend)
    rules = rules[rules["at_risk"] & rules["action"].isin(list(RULE_ACTIONS))]
    theirs = float(sim.uplift(rules["customer_id"].astype(str), rules["action"], last).sum())
    out = {"sim": sim_name, "customers": customers, "history_batches": len(past),
           "pipeline": round(ours, 1), "rules_true_cause": round(theirs, 1),
           "ratio": round(ours / theirs, 3) if theirs else None,
           "sources": {k: outlook[k] for k in ("from_evidence", "from_prior", "exploring",
                                               "held_out")},
           "chosen_model": report.get("chosen_model")}
    print(f"\na year of randomised history on {sim_name}: {json.dumps(out)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["loop", "email", "history"])
    parser.add_argument("--sim", default="boutique", choices=["boutique", "retail"])
    parser.add_argument("--customers", type=int, default=8000)
    parser.add_argument("--email-customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict = {}
    if "loop" in args.only:
        results["loop"] = loop(args.sim, args.customers, args.seed)
    if "email" in args.only:
        results["email"] = email(args.email_customers, args.seed)
    if "history" in args.only:
        results["history"] = history(args.sim, args.customers, args.seed)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    print(f"\ndone in {results['seconds']} s")


if __name__ == "__main__":
    main()
