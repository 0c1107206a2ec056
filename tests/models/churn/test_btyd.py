"""BTYD features: shape and ranges, direction, point in time, fallback, and the BG/NBD fit
against customers simulated from the model itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.churn.btyd import COLUMNS, btyd_features, btyd_inputs, fit_params, predict


def _rows(cutoff: str, frequency, recency, tenure, prefix: str = "c") -> pd.DataFrame:
    n = len(frequency)
    return pd.DataFrame({
        "customer_id": [f"{prefix}{i:05d}" for i in range(n)],
        "cutoff": pd.Timestamp(cutoff), "split": "train",
        "frequency": np.asarray(frequency, float), "recency_days": np.asarray(recency, float),
        "tenure_days": np.asarray(tenure, float)})


def _simulate(n: int, r: float, alpha: float, a: float, b: float, horizon: int,
              seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers drawn from the BG/NBD itself (days): features as of their cutoff, and whether
    they bought nothing in the following `horizon` days."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.integers(30, 720, n).astype(float)
    t, alive = np.zeros(n), np.ones(n, bool)
    x, last, future = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    while alive.any():
        t = t + rng.exponential(1 / np.maximum(lam, 1e-12))
        in_cal = alive & (t <= T)
        in_hold = alive & (t > T) & (t <= T + horizon)
        x[in_cal] += 1
        last[in_cal] = t[in_cal]
        future |= in_hold
        alive &= (t <= T + horizon) & (rng.random(n) >= p)
    frame = _rows("2024-06-30", x + 1, np.floor(T) - np.floor(last), T)
    return frame, ~future


def test_columns_and_ranges(small_features):
    frame, _ = small_features
    out = btyd_features(frame, horizon_days=365)
    assert list(out.columns) == ["customer_id", "cutoff", *COLUMNS]
    assert len(out) == len(frame)
    assert (out["customer_id"].to_numpy() == frame["customer_id"].to_numpy()).all()
    assert out[COLUMNS].notna().all().all()
    for col in ("btyd_p_alive", "btyd_p_no_purchase"):
        assert out[col].between(0, 1).all()
    assert (out["btyd_expected_purchases"] >= 0).all()
    # one-time buyers: P(alive) is 1 by the model, yet the no-purchase score still ranks them
    one_time = frame["frequency"].to_numpy() == 1
    assert (out.loc[one_time, "btyd_p_alive"] == 1).all()
    assert out.loc[one_time, "btyd_p_no_purchase"].nunique() > 10
    fits = out.attrs["btyd_fits"]
    assert len(fits) == frame["cutoff"].nunique()
    assert all(f["method"] == "bgnbd" for f in fits.values())


def test_direction_recent_buyer_is_more_alive(small_features):
    frame, _ = small_features
    cutoff = frame["cutoff"].max()
    base = frame[frame["cutoff"] == cutoff]
    probes = _rows(str(cutoff), [4, 4, 1, 1], [10, 200, 30, 30], [400, 400, 60, 400], "probe")
    probes["cutoff"] = cutoff
    out = btyd_features(pd.concat([base, probes], ignore_index=True), horizon_days=182)
    got = out[out["customer_id"].str.startswith("probe")].set_index("customer_id")
    recent, lapsed = got.loc["probe00000"], got.loc["probe00001"]
    assert recent["btyd_p_alive"] > lapsed["btyd_p_alive"]
    assert recent["btyd_p_no_purchase"] < lapsed["btyd_p_no_purchase"]
    assert recent["btyd_expected_purchases"] > lapsed["btyd_expected_purchases"]
    # a one-time buyer whose order is older (longer silence) is less likely to buy again
    new, old = got.loc["probe00002"], got.loc["probe00003"]
    assert new["btyd_p_no_purchase"] < old["btyd_p_no_purchase"]


def test_point_in_time_other_cutoffs_do_not_matter(small_features):
    frame, _ = small_features
    cutoffs = sorted(frame["cutoff"].unique())
    mine, other = cutoffs[-2], cutoffs[-3]
    before = btyd_features(frame, horizon_days=365)
    changed = frame.copy()
    rows = changed["cutoff"] == other
    changed.loc[rows, "frequency"] = changed.loc[rows, "frequency"] * 3
    changed.loc[rows, "recency_days"] = 0
    changed = changed.drop(changed.index[rows][::2])
    after = btyd_features(changed, horizon_days=365)
    keep = before["cutoff"] == mine
    pd.testing.assert_frame_equal(before[keep].reset_index(drop=True),
                                  after[after["cutoff"] == mine].reset_index(drop=True))
    assert not np.allclose(before.loc[before["cutoff"] == other, "btyd_p_no_purchase"].mean(),
                           after.loc[after["cutoff"] == other, "btyd_p_no_purchase"].mean())


def test_fallback_on_one_time_buyers_and_tiny_cutoffs():
    n = 200
    rng = np.random.default_rng(3)
    only_once = _rows("2024-01-31", np.ones(n), rng.integers(0, 300, n), rng.integers(0, 300, n))
    only_once["tenure_days"] = only_once["recency_days"]
    tiny = _rows("2024-02-29", [1, 3, 2], [5, 40, np.nan], [5, 100, 50], "t")
    out = btyd_features(pd.concat([only_once, tiny], ignore_index=True), horizon_days=90)
    fits = out.attrs["btyd_fits"]
    assert fits["2024-01-31"]["method"] == "fallback"
    assert fits["2024-02-29"]["method"] == "fallback"
    assert out[COLUMNS].notna().all().all()
    assert out["btyd_p_no_purchase"].between(0, 1).all()
    once = out.iloc[:n]
    order = np.argsort(only_once["recency_days"].to_numpy(), kind="stable")
    assert np.all(np.diff(once["btyd_p_no_purchase"].to_numpy()[order]) >= -1e-12)
    empty = btyd_features(only_once.iloc[:0], horizon_days=90)
    assert list(empty.columns) == ["customer_id", "cutoff", *COLUMNS] and empty.empty


def test_sample_is_deterministic_and_all_rows_are_scored(small_features):
    frame, _ = small_features
    one = btyd_features(frame, horizon_days=365, max_fit_customers=300)
    two = btyd_features(frame.sample(frac=1.0, random_state=1), horizon_days=365,
                        max_fit_customers=300)
    assert len(one) == len(frame)
    merged = one.merge(two, on=["customer_id", "cutoff"], suffixes=("", "_2"))
    for col in COLUMNS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_2"], rtol=1e-9)


def test_fit_recovers_simulated_bgnbd_and_is_calibrated():
    horizon = 182
    frame, no_purchase = _simulate(8000, r=0.6, alpha=60.0, a=0.8, b=2.5, horizon=horizon)
    inputs = btyd_inputs(frame)
    fit = fit_params(inputs)
    assert fit.method == "bgnbd"
    assert fit.r == pytest.approx(0.6, rel=0.25)
    assert fit.alpha == pytest.approx(60.0, rel=0.3)
    assert fit.b / fit.a == pytest.approx(2.5 / 0.8, rel=0.35)
    pred = predict(fit, inputs, horizon)
    one_time = inputs["x"].to_numpy() == 0
    for group in (one_time, ~one_time):
        assert pred["btyd_p_no_purchase"][group].mean() == pytest.approx(
            no_purchase[group].mean(), abs=0.03)


def test_the_short_history_model_scores_without_labels_and_ranks_the_lapsed_higher():
    from models.churn.short_history import fit_short_history, lapsing

    rows = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(300)],
        "cutoff": pd.Timestamp("2024-06-30"),
        "split": "score",
        "frequency": [1 + (i % 4) for i in range(300)],
        "recency_days": [float(10 + (i * 7) % 170) for i in range(300)],
        "tenure_days": 180.0,
        "churned": np.nan,
    })
    model, info = fit_short_history(rows, horizon_days=365)
    assert info["score_source"] == "btyd" and info["calibrated_on_labelled_rows"] == 0
    p = model.predict_proba(rows)
    assert ((p >= 0) & (p <= 1)).all()
    same_but_lapsed = rows.assign(recency_days=rows["recency_days"] + 60)
    repeat = rows["frequency"] > 1
    assert (model.predict_proba(same_but_lapsed)[repeat] >= p[repeat] - 1e-9).all()
    leaving = lapsing(rows, model)
    assert 0.3 * len(rows) <= len(leaving) <= 0.5 * len(rows) and (leaving["churned"] == 1).all()


def _simulate_pareto(n: int, r: float, alpha: float, s: float, beta: float, horizon: int,
                     seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers drawn from the Pareto/NBD (days): Poisson orders at rate lambda until an
    exponential lifetime ends; features as of T and whether (T, T + horizon] had no order."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    life = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    T = rng.integers(30, 720, n).astype(float)
    x, last, future = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    t = np.zeros(n)
    active = np.ones(n, bool)
    while active.any():
        t = t + rng.exponential(1 / np.maximum(lam, 1e-12))
        active &= (t <= life) & (t <= T + horizon)
        in_cal = active & (t <= T)
        x[in_cal] += 1
        last[in_cal] = t[in_cal]
        future |= active & (t > T)
    frame = _rows("2024-06-30", x + 1, np.floor(T) - np.floor(last), T)
    return frame, ~future


def test_pareto_nbd_recovers_its_parameters_and_is_calibrated():
    horizon = 182
    frame, no_purchase = _simulate_pareto(8000, r=0.6, alpha=40.0, s=0.8, beta=300.0,
                                          horizon=horizon, seed=5)
    inputs = btyd_inputs(frame)
    fit = fit_params(inputs, method="paretonbd")
    assert fit.method == "paretonbd"
    assert fit.r == pytest.approx(0.6, rel=0.25)
    assert fit.alpha == pytest.approx(40.0, rel=0.35)
    pred = predict(fit, inputs, horizon)
    assert pred["btyd_p_alive"].between(0, 1).all()
    one_time = inputs["x"].to_numpy() == 0
    for group in (one_time, ~one_time):
        assert pred["btyd_p_no_purchase"][group].mean() == pytest.approx(
            no_purchase[group].mean(), abs=0.03)
    # a one-time buyer silent longer is likelier gone
    old, young = inputs.assign(T=600.0), inputs.assign(T=60.0)
    assert (predict(fit, old[one_time], horizon)["btyd_p_alive"].to_numpy()
            < predict(fit, young[one_time], horizon)["btyd_p_alive"].to_numpy()).all()


def test_a_purchase_is_a_distinct_order_day():
    frame = _rows("2024-06-30", [3, 3], [10, 10], [100, 100]).assign(purchase_days=[2, np.nan])
    inputs = btyd_inputs(frame)
    assert inputs["x"].tolist() == [1.0, 2.0]       # unknown days: the order count


def test_btyd_inputs_from_point_in_time_features():
    """One definition of a purchase for every BTYD use: distinct order days when known,
    else orders; t_x is the age at the last repeat purchase (0 for a one-time buyer)."""
    frame = pd.DataFrame({"frequency": [1, 3, 4], "purchase_days": [1, 3, np.nan],
                          "recency_days": [10, 5, 20], "tenure_days": [10, 100, 50]})
    data = btyd_inputs(frame)
    assert data["x"].tolist() == [0, 2, 3]
    assert data["t_x"].tolist() == [0.0, 95.0, 30.0]
    assert data["T"].tolist() == [10.0, 100.0, 50.0]
