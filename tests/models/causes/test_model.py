"""The cause model: labelling functions, the label model, faithfulness and calibration."""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from common.causes import CAUSES, DEFAULT_PRIOR
from features.engine import build
from features.evidence import evidence, with_evidence
from models.causes.functions import (
    ANY,
    LF_BY_NAME,
    RARE,
    apply_lfs,
    available_tables,
    fixed_rates,
    lf_scopes,
)
from models.causes.label_model import LabelModel
from models.causes.model import EXPLAIN_COLUMNS, fit_cause_model, gold_vector

ALL_TABLES = {"orders", "order_items", "products", "returns", "reviews", "events"}


def shop_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Features + evidence at one backtest cutoff a year before the data ends."""
    as_of = tables["orders"]["order_ts"].max().date()
    cutoff = date(as_of.year - 1, as_of.month, 1)
    mem = {k: ibis.memtable(v) for k, v in tables.items()}
    features, _ = build(mem, [cutoff], as_of)
    frame = ibis.duckdb.connect().execute(with_evidence(features, evidence(mem, [cutoff],
                                                                           as_of)))
    return frame.sort_values(["customer_id", "cutoff"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def shop(small_shop):
    tables, truth = small_shop
    frame = shop_frame(tables)
    return tables, frame.merge(truth[["customer_id", "cause"]], on="customer_id", how="left")


@pytest.fixture(scope="module")
def model(shop):
    tables, frame = shop
    return fit_cause_model(frame, available_tables(tables), DEFAULT_PRIOR, seed=0)


def lapsed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["churned"] == 1].reset_index(drop=True)


# --- labelling functions --------------------------------------------------------------------
def test_a_function_abstains_where_its_table_is_missing():
    frame = pd.DataFrame({"ev_orders": [1.0, 1.0], "frequency": [1.0, 1.0],
                          "days_since_last_order": [200.0, 200.0], "post_events": [0.0, 5.0],
                          "favorited": [0.0, 0.0], "coupon_claims": [3.0, 0.0]})
    silent, coupons = LF_BY_NAME["silent_since_last_order"], LF_BY_NAME["coupons"]
    with_events = apply_lfs(frame, {"orders", "events"}, [silent, coupons])
    assert with_events[:, 0].tolist() == [CAUSES.index("forgot"), -1]
    assert with_events[:, 1].tolist() == [CAUSES.index("price"), -1]
    without = apply_lfs(frame, {"orders", "returns"}, [silent, coupons])
    assert (without == -1).all()
    # a column the frame lacks (no evidence computed) also means abstain, never an error
    assert (apply_lfs(frame, ALL_TABLES, [LF_BY_NAME["many_categories"]]) == -1).all()


def test_functions_vote_only_for_their_cause_or_abstain(shop):
    tables, frame = shop
    frame = frame.assign(shap_reason=np.resize(["forgot", "price", "other", "", "choice"],
                                               len(frame)))
    L = apply_lfs(frame, available_tables(tables))
    for j, lf in enumerate(LF_BY_NAME.values()):
        if lf.cause == ANY:  # the SHAP reason: any cause it names, except its "other"
            assert set(np.unique(L[:, j])) == {-1, 0, 2, 3}, lf.name
            continue
        assert set(np.unique(L[:, j])) <= {-1, CAUSES.index(lf.cause)}, lf.name


def test_the_shap_function_votes_its_reason_and_abstains_without_one():
    shap = LF_BY_NAME["shap_reason"]
    frame = pd.DataFrame({"shap_reason": ["price", "", None, "other", "forgot", "bogus"]})
    assert apply_lfs(frame, {"orders"}, [shap])[:, 0].tolist() == [
        CAUSES.index("price"), -1, -1, -1, CAUSES.index("forgot"), -1]
    # no column (the pipeline did not compute SHAP reasons): it abstains everywhere, and
    # counts nowhere
    bare = frame.drop(columns="shap_reason")
    assert (apply_lfs(bare, ALL_TABLES, [shap]) == -1).all()
    assert not lf_scopes(bare, ALL_TABLES, [shap]).any()


def test_a_model_fitted_without_shap_reasons_ignores_them(model, shop):
    _, frame = shop
    rows = lapsed(frame)
    assert model.summary().set_index("function").loc["shap_reason", "coverage"] == 0
    plain = model.explain(rows)
    told = model.explain(rows.assign(shap_reason="satisfaction"))
    pd.testing.assert_frame_equal(plain, told)


# --- label model ------------------------------------------------------------------------------
def test_label_model_recovers_known_accuracies():
    rng = np.random.default_rng(0)
    n = 20_000
    prior = np.array([DEFAULT_PRIOR[c] for c in CAUSES])
    y = rng.choice(len(CAUSES), n, p=prior)
    # one-sided functions: (cause, P(fires | its cause), P(fires | another cause))
    one_sided = [(0, 0.9, 0.3), (0, 0.5, 0.1), (1, 0.6, 0.05), (1, 0.4, 0.03), (2, 0.7, 0.1),
                 (2, 0.5, 0.2), (3, 0.8, 0.15), (3, 0.4, 0.1), (4, 0.3, 0.02)]
    columns, truth = [], []
    for cause, on, off in one_sided:
        fire = rng.random(n) < np.where(y == cause, on, off)
        columns.append(np.where(fire, cause, -1))
        truth.append((y[fire] == cause).mean())
    # two functions voting for any cause: fire 60% / 40% of the time, right 75% / 60%
    for coverage, accuracy in ((0.6, 0.75), (0.4, 0.6)):
        fire = rng.random(n) < coverage
        wrong = (y + rng.integers(1, len(CAUSES), n)) % len(CAUSES)
        vote = np.where(rng.random(n) < accuracy, y, wrong)
        columns.append(np.where(fire, vote, -1))
        truth.append((vote[fire] == y[fire]).mean())
    L = np.column_stack(columns)
    lm = LabelModel(prior=prior).fit(L)
    np.testing.assert_allclose(lm.accuracies(), truth, atol=0.05)
    # and its posterior beats both the majority cause and a plain vote
    q = lm.predict_proba(L)
    assert (q.argmax(1) == y).mean() > max(prior.max(), 0.6)


def test_label_model_learns_which_wrong_cause_a_function_fires_on():
    """Class-conditional error rates: a price signature that fires on 40% of forgetful leavers
    (a one-time buyer's order in a sale week) and 5% of the others is learnt as such, and a
    function naming any cause (the SHAP reason) gets its own confusion matrix."""
    rng = np.random.default_rng(2)
    n = 30_000
    prior = np.array([DEFAULT_PRIOR[c] for c in CAUSES])
    y = rng.choice(len(CAUSES), n, p=prior)
    FG, SA, CH, PR, OT = range(len(CAUSES))
    rates = [  # (cause, P(fires | each true cause))
        (FG, [0.9, 0.05, 0.05, 0.6, 0.6]), (FG, [0.6, 0.05, 0.05, 0.05, 0.05]),
        (SA, [0.03, 0.6, 0.03, 0.03, 0.03]), (SA, [0.05, 0.5, 0.05, 0.05, 0.05]),
        (CH, [0.1, 0.1, 0.7, 0.1, 0.1]), (CH, [0.1, 0.1, 0.5, 0.1, 0.1]),
        (PR, [0.4, 0.05, 0.05, 0.8, 0.05]), (PR, [0.05, 0.05, 0.05, 0.6, 0.05]),
        (OT, [0.03, 0.03, 0.03, 0.03, 0.4])]
    columns = [np.where(rng.random(n) < np.asarray(r)[y], cause, -1) for cause, r in rates]
    # the SHAP reason: right 80% of the time, but a forgetful leaver is named price 40%
    confusion = np.full((5, 4), 0.2 / 3)
    confusion[np.arange(4), np.arange(4)] = 0.8
    confusion[FG] = [0.5, 0.05, 0.05, 0.4]
    confusion[OT] = 0.25
    u = rng.random(n)[:, None] > np.cumsum(confusion[y], axis=1)
    columns.append(u.sum(axis=1))
    L = np.column_stack(columns)
    lm = LabelModel(prior=prior).fit(L)
    assert lm.active_.all()
    price = lm.phi_[6, :, PR + 1]
    assert abs(price[FG] - 0.4) < 0.05 and abs(price[PR] - 0.8) < 0.05, price
    assert (np.abs(price[[SA, CH, OT]] - 0.05) < 0.05).all(), price
    shap = lm.phi_[-1, :, 1:5]  # votes forgot, satisfaction, choice, price
    assert abs(shap[FG, PR] - 0.4) < 0.06 and abs(shap[PR, PR] - 0.8) < 0.06, shap
    assert (lm.predict_proba(L).argmax(1) == y).mean() > 0.85
    # the symmetric model (one shared off-target rate, one accuracy) gets this less right
    flat = LabelModel(prior=prior, class_conditional=False).fit(L)
    assert (flat.predict_proba(L).argmax(1) == y).mean() < (lm.predict_proba(L).argmax(1)
                                                           == y).mean()


def test_domain_rates_stay_fixed():
    """"Bought once" fires on price and other leavers at its overall rate (they are all
    customers alike) and rarely on choice (customers with 2+ orders)."""
    frame = pd.DataFrame({"ev_orders": [1.0, 1.0, 2.0, 3.0], "frequency": [1.0] * 4})
    lfs = [LF_BY_NAME["one_order"], LF_BY_NAME["returned_last_orders"]]
    L = apply_lfs(frame, {"orders"}, lfs)
    fixed = fixed_rates(lfs, L, lf_scopes(frame, {"orders"}, lfs))
    assert fixed[0, CAUSES.index("price")] == fixed[0, CAUSES.index("other")] == 0.5
    assert fixed[0, CAUSES.index("choice")] == RARE
    assert np.isnan(fixed[0, CAUSES.index("forgot")]) and np.isnan(fixed[1]).all()


def test_label_model_clamps_gold_and_keeps_unobservable_causes_at_their_prior_ratio():
    rng = np.random.default_rng(1)
    n = 2_000
    L = np.where(rng.random((n, 2)) < 0.4, [[0, 3]], -1)   # only forgot and price can be seen
    prior = np.array([DEFAULT_PRIOR[c] for c in CAUSES])
    gold = np.full(n, -1)
    gold[:5] = CAUSES.index("choice")
    lm = LabelModel(prior=prior).fit(L, gold)
    q = lm.predict_proba(L)
    assert np.allclose(q[:, 1] / q[:, 4], prior[1] / prior[4])  # satisfaction vs other
    assert lm.observable_.tolist() == [True, False, True, True, False]


# --- the cause model --------------------------------------------------------------------------
def test_explain_gives_five_probabilities_a_reason_evidence_and_basis(model, shop):
    _, frame = shop
    out = model.explain(lapsed(frame))
    assert list(out.columns) == EXPLAIN_COLUMNS
    P = out[[f"p_{c}" for c in CAUSES]].to_numpy()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=2e-4)
    assert (out["reason"] == np.asarray(CAUSES)[P.argmax(axis=1)]).all()
    assert out["reason_confidence"].between(0, 1).all()
    assert out["reason_evidence"].str.len().gt(0).all()
    sat = out[out["reason"] == "satisfaction"]
    assert sat["reason_evidence"].str.contains("returned|rated|complained").mean() > 0.8
    assert sat["reason_basis"].str.contains("returns|reviews|events").mean() > 0.8
    assert out.index.equals(lapsed(frame).index)


def hand_made(**values) -> pd.DataFrame:
    row = {"customer_id": "x1", "cutoff": pd.Timestamp("2025-01-01"), "churned": 1,
           "frequency": 1.0, "ev_orders": 1.0, "one_time_buyer": 1.0, "recency_days": 300.0,
           "days_since_last_order": 300.0, "tenure_days": 300.0, "monetary_total": 40.0,
           "monetary_mean": 40.0, "first_order_value": 40.0, "post_events": 0.0,
           "post_visits": 0.0, "post_email_opens": 0.0, "post_email_clicks": 0.0,
           "post_coupon_claims": 0.0, "post_active_days": 0.0, "post_engaged_days": 0.0,
           "visits_since_last_order": 0.0, "email_opens_since_last_order": 0.0,
           "email_clicks_since_last_order": 0.0, "coupon_claims_since_last_order": 0.0,
           "coupon_claims": 0.0, "favorited": 0.0, "complaints": 0.0,
           "complaints_in_episode": 0.0, "ev_returned_orders": 0.0, "returns_in_episode": 0.0,
           "return_rate": 0.0, "low_ratings": 0.0, "low_ratings_in_episode": 0.0,
           "sale_week_share": 0.0, "discount_share": 0.0, "distinct_categories": 1.0,
           "days_since_last_event": 300.0}
    row.update(values)
    return pd.DataFrame([row])


def test_one_order_and_silence_since_is_forgot(model):
    out = model.explain(hand_made())
    assert out["reason"].iloc[0] == "forgot"
    assert out["p_forgot"].iloc[0] > 0.5
    assert "bought once" in out["reason_evidence"].iloc[0]
    assert "no visit" in out["reason_evidence"].iloc[0]
    assert model.label_model_proba(hand_made()).argmax() == CAUSES.index("forgot")


REMOVE = {  # a cause's evidence, taken away
    "satisfaction": {"ev_returned_orders": 0, "returns_in_episode": 0, "return_rate": 0,
                     "returned_value_share": 0, "last_order_returned": 0,
                     "days_since_last_return": np.nan, "return_reason_satisfaction": 0,
                     "last_return_reason": None, "low_ratings_in_episode": 0, "low_ratings": 0,
                     "min_rating_in_episode": np.nan, "last_rating": np.nan,
                     "mean_rating": np.nan, "rating_drop": np.nan, "complaints": 0,
                     "complaints_in_episode": 0, "days_since_last_complaint": np.nan},
    "price": {"sale_week_share": 0, "discount_share": 0, "discount_depth": 0,
              "coupon_claims": 0, "coupon_claims_since_last_order": 0,
              "post_coupon_claims": 0, "price_ratio": 1.0},
}


@pytest.mark.parametrize("cause", ["satisfaction", "price"])
def test_removing_a_reasons_evidence_lowers_its_probability(model, shop, cause):
    _, frame = shop
    rows = lapsed(frame)
    out = model.explain(rows)
    chosen = rows[(out["reason"] == cause).to_numpy()]
    assert len(chosen) >= 10
    before = model.explain(chosen)[f"p_{cause}"].to_numpy()
    cleaned = chosen.assign(**{k: v for k, v in REMOVE[cause].items() if k in chosen})
    after = model.explain(cleaned)
    assert (after[f"p_{cause}"].to_numpy() < before).mean() > 0.95
    assert (before - after[f"p_{cause}"].to_numpy()).mean() > 0.3
    assert (after["reason"] != cause).mean() > 0.8


def test_engagement_after_the_last_order_argues_against_forgot(model):
    silent = model.explain(hand_made())["p_forgot"].iloc[0]
    active = model.explain(hand_made(post_events=25.0, post_visits=12.0, post_email_opens=10.0,
                                     post_active_days=20.0, post_engaged_days=150.0,
                                     visits_since_last_order=12.0, favorited=1.0,
                                     email_opens_since_last_order=10.0,
                                     days_since_last_event=20.0))["p_forgot"].iloc[0]
    assert active < silent


def test_orders_only_reports_the_causes_it_cannot_tell_apart(small_shop):
    tables, _ = small_shop
    orders = {"orders": tables["orders"].drop(columns=["status", "discount"])}
    frame = shop_frame(orders)
    m = fit_cause_model(frame, available_tables(orders), DEFAULT_PRIOR, seed=0)
    assert set(m.indistinct) == {"satisfaction", "other"}
    out = m.explain(lapsed(frame))
    assert out["reason_basis"].str.contains("satisfaction, other cannot be told apart").all()
    q = m.label_model_proba(lapsed(frame))
    assert np.allclose(q[:, 1] / q[:, 4], DEFAULT_PRIOR["satisfaction"] / DEFAULT_PRIOR["other"])


def test_gold_labels_belong_to_the_lapse_after_the_last_order():
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"],
                          "cutoff": pd.to_datetime(["2024-06-01"] * 3),
                          "days_since_last_order": [100.0, 100.0, 100.0]})
    gold = pd.DataFrame({"customer_id": ["a", "b", "b", "c"],
                         "label_ts": pd.to_datetime(["2024-03-01", "2024-01-01", "2024-07-01",
                                                     "2023-01-01"]),
                         "cause": ["price", "choice", "satisfaction", "forgot"]})
    # last orders: 2024-02-22; c's label is from an earlier lapse
    assert gold_vector(frame, gold).tolist() == [CAUSES.index("price"),
                                                 CAUSES.index("satisfaction"), -1]


# --- calibration ------------------------------------------------------------------------------
def reliability(conf: np.ndarray, right: np.ndarray) -> tuple[pd.DataFrame, float]:
    bins = pd.cut(conf, [0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], include_lowest=True)
    table = pd.DataFrame({"conf": conf, "right": right, "bin": bins}).groupby(
        "bin", observed=True).agg(n=("right", "size"), conf=("conf", "mean"),
                                  accuracy=("right", "mean"))
    ece = float((table.n * (table.conf - table.accuracy).abs()).sum() / table.n.sum())
    return table, ece


def test_reason_confidence_is_calibrated_on_a_generated_shop():
    """With a few known causes (30% of leavers, as from an exit survey) the confidence is
    calibrated on them: held-out reliability bins lie on the diagonal."""
    from synthetic.retail import ShopConfig, generate

    tables, truth = generate(ShopConfig(customers=3000, seed=11))
    frame = shop_frame(tables).merge(truth[["customer_id", "cause"]], on="customer_id",
                                     how="left")
    rows = lapsed(frame)
    known = np.random.default_rng(0).random(len(rows)) < 0.3
    gold = pd.DataFrame({"customer_id": rows["customer_id"][known],
                         "label_ts": pd.Timestamp(rows["cutoff"].iloc[0]), "cause":
                         rows["cause"][known]})
    m = fit_cause_model(frame, available_tables(tables), DEFAULT_PRIOR, seed=0, gold=gold)
    assert m.calibrated_on == "gold"
    out = m.explain(rows[~known])
    right = (out["reason"] == rows["cause"][~known]).to_numpy()
    table, ece = reliability(out["reason_confidence"].to_numpy(), right)
    assert ece < 0.06, table
    # each well-filled bin on the diagonal within sampling error (3 standard errors); the
    # model is right for ~9 in 10 leavers here, so most rows fill the top bin
    big = table[table.n >= 40]
    error = 3 * np.sqrt(big.accuracy * (1 - big.accuracy) / big.n)
    assert len(big) >= 2
    assert big.accuracy.iloc[-1] > big.accuracy.iloc[0] + 0.2, table
    assert ((big.conf - big.accuracy).abs() < np.maximum(error, 0.1)).all(), table


def test_without_labels_confidence_ranks_but_follows_the_label_model(model, shop):
    """Without any known cause the confidence is calibrated to the label model's belief: it
    ranks (more confident, more often right) but is as over-confident as the label model is
    on this generator (see benchmarks/reasons.py)."""
    _, frame = shop
    rows = lapsed(frame)
    assert model.calibrated_on == "label_model"
    out = model.explain(rows)
    right = (out["reason"] == rows["cause"]).to_numpy()
    table, ece = reliability(out["reason_confidence"].to_numpy(), right)
    assert ece < 0.2, table
    big = table[table.n >= 30]
    assert big.accuracy.iloc[-1] > big.accuracy.iloc[0] + 0.2, table


def test_a_fact_independent_of_a_cause_fires_at_its_overall_rate_on_the_rest_too():
    """"Says nothing about forgot": P(fire | forgot) = P(fire) = 0.5, so on the other causes
    together it fires at 0.5 as well. Hand-computed: masses forgot 6, price 3, other 1; the
    other rates are other 0.2 (estimated), forgot 0.5 (fixed), so price takes
    (0.5 * 4 - 1 * 0.2) / 3 = 0.6, not the 0.9 EM wanted."""
    FG, PR, OT = CAUSES.index("forgot"), CAUSES.index("price"), CAUSES.index("other")
    mass = np.zeros(len(CAUSES))
    mass[[FG, PR, OT]] = [6.0, 3.0, 1.0]
    rho = np.zeros(len(CAUSES))
    rho[[FG, PR, OT]] = [0.5, 0.9, 0.2]
    independent = np.zeros(len(CAUSES), bool)
    independent[FG] = True
    out = LabelModel._consistent(rho, PR, mass, 0.5, independent, independent.copy())
    assert out[PR] == pytest.approx(0.6)
    assert out[FG] == 0.5 and out[OT] == 0.2
    # nothing independent, or the function's own cause fixed: unchanged
    none = np.zeros(len(CAUSES), bool)
    np.testing.assert_array_equal(LabelModel._consistent(rho, PR, mass, 0.5, none, none), rho)
    np.testing.assert_array_equal(
        LabelModel._consistent(rho, FG, mass, 0.5, independent, independent.copy()), rho)


def test_a_price_fact_of_one_time_buyers_cannot_outweigh_forgetting():
    """Among one-time buyers nearly all leavers forgot or left over price; a sale-week order
    that fires on forgetful leavers at the overall rate can then barely favour price: EM may
    no longer give it to price leavers at almost every firing and to nobody else."""
    rng = np.random.default_rng(3)
    n = 20_000
    FG, PR = CAUSES.index("forgot"), CAUSES.index("price")
    fire = rng.random(n) < 0.45  # the same rate on both: the fact says nothing
    L = np.column_stack([np.full(n, FG), np.where(fire, PR, -1)])
    L[rng.random(n) < 0.05, 0] = -1  # "bought once" abstains somewhere
    prior = np.array([DEFAULT_PRIOR[c] for c in CAUSES])
    fixed = np.full((2, len(CAUSES)), np.nan)
    fixed[1, FG] = fire.mean()
    independent = np.zeros((2, len(CAUSES)), bool)
    independent[1, FG] = True
    lm = LabelModel(prior=prior).fit(L, fixed=fixed, independent=independent)
    rates = 1 - lm.phi_[1, :, 0]
    assert rates[PR] / rates[FG] < 1.5, rates
    bought_once = L[:, 0] == FG
    assert (lm.predict_proba(L).argmax(1)[bought_once] == FG).all()


def test_a_dependent_function_is_measured_without_its_own_vote():
    """The SHAP reason reads the same features as the one-sided functions: the label model
    measures it against the posterior without its own vote: the prior and the other
    function's vote or abstention alone."""
    prior = np.array([DEFAULT_PRIOR[c] for c in CAUSES])
    PR, CH = CAUSES.index("price"), CAUSES.index("choice")
    L = np.array([[PR, PR], [-1, CH], [PR, CH], [-1, PR]] * 50)
    lm = LabelModel(prior=prior).fit(L, dependent=np.array([False, True]))
    logp = np.log(lm.prior_) + lm._loglik(L, np.ones(L.shape, bool))
    without = lm._posteriors_without(L, np.ones(L.shape, bool), logp)
    assert list(without) == [1]
    first = np.log(lm.prior_) + np.log(lm.phi_[0][:, L[:, 0] + 1].T)  # the other vote only
    np.testing.assert_allclose(without[1], lm._normalise(first))
    # a function not marked dependent keeps plain EM
    assert LabelModel(prior=prior).fit(L)._posteriors_without(L, np.ones(L.shape, bool),
                                                              logp) == {}


def test_discounts_is_the_habit_most_orders_discounted():
    """2+ orders, half or more discounted: a price vote however shallow the discount."""
    frame = pd.DataFrame({"ev_orders": [2.0, 3.0, 3.0, 1.0],
                          "discount_share": [0.5, 1 / 3, 1.0, 1.0],
                          "discount_depth": [0.05, 0.5, 0.02, 0.3]})
    votes = apply_lfs(frame, {"orders", "orders.discount"}, [LF_BY_NAME["discounts"]])[:, 0]
    price = CAUSES.index("price")
    assert votes.tolist() == [price, -1, price, -1]
