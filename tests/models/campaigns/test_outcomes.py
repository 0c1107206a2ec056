"""Measuring contacts: holdouts, response windows, shared controls, uplift per segment, and the
planted effects of a synthetic history found again."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.campaigns.holdout import assign_holdout
from models.campaigns.outcomes import (
    UPLIFT_COLUMNS,
    expand_shared_controls,
    outcomes,
    two_proportions,
    uplift_table,
)
from models.churn.realised import realized_accuracy

TS = pd.Timestamp


def _contacts(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "contact_ts", "action", "group",
                                       "campaign_id", "cost"]).astype(
        {"contact_ts": "datetime64[us]"})


def _orders(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_ts", "amount", "status"]).astype(
        {"order_ts": "datetime64[us]"})


def _by_customer(frame) -> pd.DataFrame:
    out = frame.execute() if hasattr(frame, "execute") else frame
    return out.set_index("customer_id").sort_index()


# --- holdouts -------------------------------------------------------------------------------

def test_holdout_is_reproducible_and_near_its_share():
    ids = pd.Series([f"{i:06d}" for i in range(20_000)])
    first = assign_holdout(ids, "2024-06-01", 0.10)
    assert first.dtype == bool
    assert np.array_equal(first, assign_holdout(ids, "2024-06-01", 0.10))   # a rerun
    assert abs(first.mean() - 0.10) < 0.01
    shuffled = ids.sample(frac=1.0, random_state=1)
    again = pd.Series(assign_holdout(shuffled, "2024-06-01", 0.10), index=shuffled.index)
    assert np.array_equal(again.sort_index().to_numpy(), first)             # per id, not order
    other = assign_holdout(ids, "2024-07-01", 0.10)
    assert abs((first & other).mean() - 0.01) < 0.005                      # fresh per batch
    assert not assign_holdout(ids, "b", 0.0).any()


# --- outcome windows ------------------------------------------------------------------------

def test_outcome_window_boundaries():
    contacts = _contacts([
        ("a", "2024-01-01 10:00", "reminder", "treatment", "c1", 0.1),
        ("b", "2024-01-01 10:00", "reminder", "control", "c1", 0.0),
        ("c", "2024-01-01 10:00", "reminder", "treatment", "c1", 0.1),
        ("d", "2024-01-01 10:00", "reminder", "treatment", "c1", 0.1),
    ])
    orders = _orders([
        ("a", "2024-01-01 10:00", 99.0, "completed"),   # at the contact: not a response
        ("a", "2024-01-31 10:00", 10.0, "completed"),   # exactly at the window's end: counts
        ("a", "2024-01-15 12:00", 5.0, None),           # null status counts as completed
        ("b", "2024-01-31 10:00:01", 7.0, "completed"),  # one second late
        ("c", "2024-01-20 10:00", 8.0, "returned"),     # not completed
        ("d", "2024-02-05 10:00", 6.0, "completed"),    # after the window
    ])
    out = _by_customer(outcomes(contacts, orders, None, date(2024, 2, 10), response_days=30))
    assert out["responded"].to_dict() == {"a": 1, "b": 0, "c": 0, "d": 0}
    assert out.loc["a", "revenue"] == 15.0 and out.loc["b", "revenue"] == 0.0
    assert out.loc["a", "window_end"] == TS("2024-01-31 10:00")
    assert set(out["batch"]) == {"c1"}


def test_batch_is_measured_only_once_its_last_window_has_closed():
    contacts = _contacts([
        ("a", "2024-01-01 10:00", "reminder", "treatment", "early", 0.0),
        ("b", "2024-01-01 10:00", "reminder", "treatment", "late", 0.0),   # window closed...
        ("c", "2024-01-20 10:00", "reminder", "treatment", "late", 0.0),   # ...but not this one
        ("d", "2024-01-11 09:00", "reminder", "treatment", None, 0.0),     # batch = its day
    ])
    orders = _orders([("a", "2024-01-05", 1.0, "completed"),
                      ("b", "2024-01-05", 1.0, "completed")])
    as_of = date(2024, 2, 10)          # c's window ends 2024-02-19, d's on 2024-02-10
    out = _by_customer(outcomes(contacts, orders, None, as_of, 30))
    assert list(out.index) == ["a", "d"]
    assert out.loc["d", "batch"] == "2024-01-11"
    assert len(outcomes(contacts, orders, None, date(2024, 2, 9), 30).execute()) == 1


def test_outcome_never_reads_after_as_of():
    contacts = _contacts([("a", "2024-01-01 10:00", "reminder", "treatment", "c1", 0.0)])
    orders = _orders([("a", "2024-01-06 09:00", 4.0, "completed"),   # on as_of, in the window
                      ("a", "2024-01-07 09:00", 9.0, "completed")])  # the day after as_of
    # window (Jan 1 10:00, Jan 6 10:00] has closed on as_of = Jan 6
    out = _by_customer(outcomes(contacts, orders, None, date(2024, 1, 6), 5))
    assert out["responded"].tolist() == [1] and out["revenue"].tolist() == [4.0]
    assert outcomes(contacts, orders, None, date(2024, 1, 5), 5).execute().empty


def test_event_outcome_counts_events_and_still_sums_revenue():
    contacts = _contacts([("a", "2024-01-01 10:00", "reminder", "treatment", "c1", 0.0),
                          ("b", "2024-01-01 10:00", "reminder", "control", "c1", 0.0)])
    orders = _orders([("b", "2024-01-03", 20.0, "completed")])
    events = pd.DataFrame({"customer_id": ["a", "b"], "event_type": ["visit", "email_open"],
                           "event_ts": pd.to_datetime(["2024-01-02", "2024-01-02"])})
    out = _by_customer(outcomes(contacts, orders, events, date(2024, 3, 1), 30, outcome="visit"))
    assert out["responded"].to_dict() == {"a": 1, "b": 0}
    assert out.loc["b", "revenue"] == 20.0


# --- shared controls ------------------------------------------------------------------------

def test_shared_control_counts_for_every_action_of_its_campaign():
    rows = pd.DataFrame({
        "customer_id": ["t1", "t2", "s1", "s2", "k1", "o1"],
        "action": ["reminder", "discount", None, "", "reminder", "gift"],
        "group": ["treatment", "treatment", "control", "control", "control", "treatment"],
        "batch": ["c1", "c1", "c1", "c1", "c1", "c2"],
        "responded": [1, 0, 0, 1, 0, 1],
    })
    out = expand_shared_controls(rows)
    pairs = set(zip(out["customer_id"], out["action"], strict=True))
    assert pairs == {("t1", "reminder"), ("t2", "discount"), ("k1", "reminder"),
                     ("s1", "reminder"), ("s1", "discount"), ("s2", "reminder"),
                     ("s2", "discount"), ("o1", "gift")}     # c2's gift gets no c1 control
    assert (out[out.customer_id == "s2"]["responded"] == 1).all()


# --- statistics -----------------------------------------------------------------------------

def test_two_proportions_against_published_and_hand_values():
    # Newcombe (1998), Table II, example 56/70 vs 48/80: method 10 gives 0.0524 to 0.3339
    r = two_proportions([56], [70], [48], [80]).iloc[0]
    assert r["uplift"] == pytest.approx(0.8 - 0.6)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    # z-test: 30/100 vs 15/100, pooled 0.225, se = sqrt(.225 * .775 * .02) = 0.05906, z = 2.540
    assert two_proportions([30], [100], [15], [100]).iloc[0]["p_value"] == pytest.approx(
        0.01108, abs=2e-4)
    # tiny arms: Fisher, 3/4 vs 0/4: 2 * C(4,3) C(4,0) / C(8,3) = 8 / 56
    assert two_proportions([3], [4], [0], [4]).iloc[0]["p_value"] == pytest.approx(8 / 56)
    assert np.isnan(two_proportions([1], [3], [0], [0]).iloc[0]["p_value"])


def test_uplift_table_on_hand_counts_pools_thin_segments():
    def arm(group: str, reason: str, n: int, responders: int, revenue: float, cost: float):
        return [{"batch": "b1", "action": "reminder", "group": group, "reason": reason,
                 "responded": int(i < responders), "revenue": revenue if i < responders else 0.0,
                 "cost": cost} for i in range(n)]
    rows = pd.DataFrame(arm("treatment", "forgot", 8, 4, 10.0, 0.1)
                        + arm("control", "forgot", 8, 1, 5.0, 0.0)
                        + arm("treatment", "price", 2, 0, 0.0, 0.1)
                        + arm("control", "price", 2, 0, 0.0, 0.0)
                        + arm("treatment", None, 1, 0, 0.0, 0.1))
    out = uplift_table(rows, {"reason": "reason"}, min_per_arm=5).set_index("segment")
    assert list(out.columns) == [c for c in UPLIFT_COLUMNS if c != "segment"]
    assert list(out.index) == ["all", "reason:forgot", "reason:pooled"]
    overall = out.loc["all"]
    assert (overall["n_treatment"], overall["n_control"]) == (11, 10)
    assert overall["rate_treatment"] == pytest.approx(4 / 11)
    assert overall["uplift"] == pytest.approx(4 / 11 - 1 / 10)
    # revenue 40 over 11 treated, 5 over 10 controls, cost 0.1 a contact
    assert overall["incremental_revenue"] == pytest.approx(40 / 11 - 0.5 - 0.1)
    forgot = out.loc["reason:forgot"]
    assert forgot["uplift"] == pytest.approx(0.5 - 0.125) and not forgot["pooled"]
    assert forgot["incremental_revenue"] == pytest.approx(5.0 - 0.625 - 0.1)
    pooled = out.loc["reason:pooled"]         # price (2 vs 2) and unknown (1 vs 0)
    assert pooled["pooled"] and (pooled["n_treatment"], pooled["n_control"]) == (3, 2)
    assert overall["ci_low"] < overall["uplift"] < overall["ci_high"]


# --- realised accuracy of past churn scores ---------------------------------------------------

def test_realized_accuracy_labels_only_finished_horizons():
    scores = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "a"],
        "as_of": pd.to_datetime(["2024-01-01"] * 5 + ["2024-02-15"]),
        "churn_probability": [0.9, 0.2, 0.6, 0.3, 0.85, 0.5],
    })
    orders = _orders([("b", "2024-01-15", 1.0, "completed"),
                      ("d", "2024-01-31", 1.0, "completed"),     # the horizon's last day
                      ("e", "2024-01-01 12:00", 1.0, "completed"),  # on the score day itself
                      ("c", "2024-01-20", 1.0, "returned")])
    summary, calibration = realized_accuracy(scores, orders, 30, date(2024, 3, 1))
    assert summary["as_of"].tolist() == [date(2024, 1, 1)]     # Feb 15 + 30 > Mar 1
    row = summary.iloc[0]
    # churned: a, c, e (0.9, 0.6, 0.85); stayed: b, d (0.2, 0.3): a perfect ranking
    assert row["n"] == 5 and row["churn_rate"] == pytest.approx(0.6)
    assert row["roc_auc"] == pytest.approx(1.0)
    assert row["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.16, 0.09, 0.0225]))
    top = calibration.set_index("bin").loc[8]                  # 0.8 <= p < 0.9: e only
    assert (top["n"], top["observed_rate"]) == (1, 1.0)


# --- the planted effects of a synthetic history are found again ------------------------------

@pytest.fixture(scope="module")
def history():
    try:
        from synthetic.retail import ShopConfig, generate
    except ImportError:                                        # before the shops/ move
        from synthetic.boutique import generate
        from synthetic.retail.config import ShopConfig
    from synthetic.campaigns import HistoryConfig, campaign_history

    tables, truth = generate(ShopConfig(customers=20_000, seed=3))
    contacts, orders = campaign_history(tables, truth, HistoryConfig(seed=1))
    return contacts, orders


def test_measured_uplift_covers_the_planted_effects(history):
    from synthetic.campaigns import EFFECTS, HistoryConfig

    contacts, orders = history
    cfg = HistoryConfig()
    assert contacts.groupby("campaign_id")["group"].apply(
        lambda g: (g == "control").mean()).between(0.07, 0.13).all()
    as_of = orders["order_ts"].max().date()
    rows = expand_shared_controls(outcomes(contacts, orders, None, as_of, cfg.response_days))
    per_batch = uplift_table(rows, {"cause": "cause"}, min_per_arm=30)
    assert per_batch["batch"].nunique() == cfg.batches
    table = uplift_table(rows, {"cause": "cause"}, min_per_arm=30, pool_batches=True)
    found = table.set_index(["action", "segment"])
    for (cause, action), effect in EFFECTS.items():
        row = found.loc[(action, f"cause:{cause}")]
        assert row["ci_low"] <= effect <= row["ci_high"], (cause, action, row.to_dict())
        if abs(effect) >= 0.08:                          # big enough to be seen here
            assert row["p_value"] < 0.05, (cause, action, row.to_dict())
    # a discount charges every order in its window: margin given to those who come anyway
    loyal = found.loc[("discount", "cause:loyal")]
    assert loyal["ci_low"] < 0 < loyal["ci_high"] and loyal["incremental_revenue"] < 0
