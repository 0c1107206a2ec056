"""BTYD ("buy 'til you die") quantities as point-in-time model features.

For every customer x cutoff row of the features table, a BG/NBD model (Fader, Hardie & Lee 2005)
fitted on that cutoff's own rows gives

- ``btyd_p_alive``: P(the customer is still active at the cutoff T);
- ``btyd_expected_purchases``: expected completed orders in (T, T + horizon];
- ``btyd_p_no_purchase``: P(no completed order in (T, T + horizon]), the BTYD churn score.
  Never use 1 - P(alive) as a churn score: BG/NBD's P(alive) is 1 for every one-time buyer.

Point in time: a cutoff's rows hold only what was known at that cutoff (``frequency``,
``recency_days``, ``tenure_days``), and each cutoff gets its own fit, so nothing after T reaches
a row of cutoff T, and changing another cutoff's rows changes nothing here.

How it is fitted: maximum likelihood of the BG/NBD over the distinct (x, t_x, T) triples of the
cutoff, weighted by their counts (scipy L-BFGS on log-parameters; tens of milliseconds for 20,000
customers), on a deterministic sample of at most ``max_fit_customers`` customers (the smallest
md5(customer_id)). This is the model of pymc-marketing's ``BetaGeoModel`` (benchmarks/public.py
fits it there, MAP, for comparison), but a pymc-marketing fit costs 2-7 s per cutoff on this
machine (a new PyTensor graph each time, plus ~4 s to import), too slow for 13 cutoffs per
run, and its priors are not scale-free (``alpha ~ Weibull(2, 10)`` assumes a time unit near
weeks, while features count days). The three quantities are computed here in closed form from
the four parameters: pymc-marketing 0.19's ``expected_probability_no_purchase`` leaves out the
x > 0 indicator of the dropout term (Fader & Hardie 2019, eq. 34), so it overstates the
no-purchase probability of one-time buyers, the majority of customers.

Fallback: a cutoff with too few repeat buyers (< ``MIN_REPEAT_BUYERS``), too few rows, or a fit
that fails or gives non-finite values gets a simple exponential recency model fitted on the same
rows (see ``_fallback``). Nothing here raises on data the features stage produces.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

log = logging.getLogger(__name__)

COLUMNS = ["btyd_p_alive", "btyd_expected_purchases", "btyd_p_no_purchase"]
#: fewer repeat buyers (or rows) than this in a cutoff: the fallback model, not BG/NBD
MIN_REPEAT_BUYERS = 10
MIN_ROWS = 30
#: ridge on the log-parameters (per customer): keeps a degenerate fit finite, negligible otherwise
PENALTY = 1e-4
_CACHE_SIZE = 256
_CACHE: OrderedDict[str, BgnbdFit] = OrderedDict()


@dataclass(frozen=True)
class BgnbdFit:
    """The fitted BG/NBD or Pareto/NBD parameters (days), or the fallback's pooled rate."""
    method: str                 # "bgnbd", "paretonbd" or "fallback"
    r: float = float("nan")
    alpha: float = float("nan")
    a: float = float("nan")     # Pareto/NBD: s (dropout shape)
    b: float = float("nan")     # Pareto/NBD: beta (dropout rate scale, days)
    rate: float = float("nan")  # fallback: pooled repeat orders per customer-day
    rows: int = 0
    reason: str = ""


def btyd_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """BG/NBD's x (repeat purchases), t_x (age at the last order) and T (age at the cutoff), in
    days, from point-in-time features. A purchase is a distinct order day (`purchase_days`,
    as BTYD models count transactions; `frequency`, the order count, when absent). Missing or
    inconsistent values are made consistent (0 <= t_x <= T, x >= 0), never dropped."""
    freq = pd.to_numeric(frame["frequency"], errors="coerce")
    if "purchase_days" in frame.columns:
        freq = pd.to_numeric(frame["purchase_days"], errors="coerce").fillna(freq)
    freq = freq.to_numpy(float)
    rec = pd.to_numeric(frame["recency_days"], errors="coerce").to_numpy(float)
    ten = pd.to_numeric(frame["tenure_days"], errors="coerce").to_numpy(float)
    x = np.nan_to_num(freq - 1.0, nan=0.0).clip(min=0.0).round()
    T = np.nan_to_num(ten, nan=0.0).clip(min=0.0)
    t_x = np.clip(np.nan_to_num(T - rec, nan=0.0), 0.0, T)
    t_x = np.where(x > 0, t_x, 0.0)  # no repeat order: "age at the last repeat order" is 0
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T}, index=frame.index)


def _objective(log_params: np.ndarray, x, t_x, T, w) -> tuple[float, np.ndarray]:
    """Minus the weighted mean BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) plus the
    ridge, and its gradient in the log-parameters (r, alpha, a, b)."""
    r, alpha, a, b = theta = np.exp(log_params)
    repeat = x > 0
    bx1 = np.maximum(b + x - 1, 1e-12)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    dead = np.where(repeat, betaln(a + 1, bx1) - betaln(a, b)
                    - (r + x) * np.log(alpha + t_x), -np.inf)
    both = np.logaddexp(alive, dead)
    ll = common + both
    w_alive = np.exp(alive - both)
    w_dead = np.where(repeat, 1.0 - w_alive, 0.0)
    pab, pabx = digamma(a + b), digamma(a + b + x)
    grads = (
        digamma(r + x) - digamma(r) + np.log(alpha)
        - w_alive * np.log(alpha + T) - w_dead * np.log(alpha + t_x),
        r / alpha - w_alive * (r + x) / (alpha + T) - w_dead * (r + x) / (alpha + t_x),
        w_alive * (pab - pabx) + w_dead * (digamma(a + 1) - digamma(a) + pab - pabx),
        w_alive * (digamma(b + x) - digamma(b) + pab - pabx)
        + w_dead * (digamma(bx1) - digamma(b) + pab - pabx),
    )
    total = w.sum()
    value = -(w @ ll) / total + PENALTY * float(log_params @ log_params)
    grad = -np.array([w @ g for g in grads]) * theta / total + 2 * PENALTY * log_params
    if not (np.isfinite(value) and np.all(np.isfinite(grad))):
        return 1e10, np.zeros(4)
    return float(value), grad


def _pareto_term(r, alpha, s, beta, x, end) -> np.ndarray:
    """log 2F1(r+s+x, p; r+s+x+1; |alpha-beta| / (max + end)) - (r+s+x) log(max + end), the
    hypergeometric piece shared by A_0 (note 009, eq. 19-20) and B_2, B_3 (note 028)."""
    lo, hi = min(alpha, beta), max(alpha, beta)
    p = r + x if alpha < beta else s + 1.0
    rsx = r + s + x
    return np.log(hyp2f1(rsx, p, rsx + 1.0, (hi - lo) / (hi + end))) - rsx * np.log(hi + end)


def _pareto_log_a0(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """log A_0 of the Pareto/NBD likelihood, the integral over a dropout between the last order
    and T: log(exp(term(t_x)) - exp(term(T))), the first never smaller."""
    a1, a2 = _pareto_term(r, alpha, s, beta, x, t_x), _pareto_term(r, alpha, s, beta, x, T)
    return a1 + np.log1p(-np.exp(np.minimum(a2 - a1, -1e-15)))


def _pareto_loglik(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood (note 009, eq. 18)."""
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) - np.log(r + s + x) + _pareto_log_a0(r, alpha, s, beta, x, t_x, T)
    return head + np.logaddexp(alive, dead)


def _objective_paretonbd(log_params: np.ndarray, x, t_x, T, w) -> float:
    """Minus the weighted mean Pareto/NBD log-likelihood plus the ridge."""
    r, alpha, s, beta = np.exp(log_params)
    ll = _pareto_loglik(r, alpha, s, beta, x, t_x, T)
    value = -(w @ ll) / w.sum() + PENALTY * float(log_params @ log_params)
    return float(value) if np.isfinite(value) else 1e10


def _pareto_predict(fit: BgnbdFit, x, t_x, T, t: float) -> tuple[np.ndarray, ...]:
    """P(alive) (note 009, eq. 36-37), P(no order in (T, T + t]) (note 028, eq. 16 with n = 0)
    and expected orders in t (note 009, eq. 41)."""
    r, alpha, s, beta = fit.r, fit.alpha, fit.a, fit.b
    ll = _pareto_loglik(r, alpha, s, beta, x, t_x, T)
    base = r * np.log(alpha) + s * np.log(beta) - gammaln(r)
    log_alive = gammaln(r + x) + base - (r + x) * np.log(alpha + T) - s * np.log(beta + T)
    p_alive = np.exp(log_alive - ll)

    def log_b(end: np.ndarray) -> np.ndarray:   # B_2 (end = T) and B_3, i = 0 (end = T + t)
        return (base + gammaln(r + s + x) + betaln(r + x, s + 1) - gammaln(s)
                + _pareto_term(r, alpha, s, beta, x, end))

    log_b1 = gammaln(r + x) + base - (r + x) * np.log(alpha + T + t) - s * np.log(beta + T + t)
    p_none = (1.0 - p_alive) + np.exp(log_b1 - ll) + np.exp(log_b(T) - ll) \
        - np.exp(log_b(T + t) - ll)
    grow = (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1) if abs(s - 1) > 1e-9 \
        else np.log((beta + T + t) / (beta + T))
    expected = p_alive * (r + x) * (beta + T) / (alpha + T) * grow
    return p_alive, p_none, expected


def _summary(inputs: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Distinct (x, t_x, T) and their counts: the fit's whole input."""
    grouped = inputs.groupby(["x", "t_x", "T"], sort=True).size().reset_index(name="w")
    return tuple(grouped[c].to_numpy(float) for c in ("x", "t_x", "T", "w"))


def _fit_mle(x, t_x, T, w, method: str = "bgnbd") -> tuple[np.ndarray, bool]:
    start = np.log([1.0, max(float(w @ T / w.sum()), 1.0), 1.0, 1.0])
    objective, jac = {"bgnbd": (_objective, True),
                      "paretonbd": (_objective_paretonbd, False)}[method]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = minimize(objective, start, args=(x, t_x, T, w), jac=jac, method="L-BFGS-B",
                       bounds=[(-12.0, 12.0)] * 4)
    return np.exp(res.x), bool(res.success or res.status == 2) and np.isfinite(res.fun)


def _fallback(x, t_x, T, w, rows: int, reason: str) -> BgnbdFit:
    """The pooled repeat-order rate of the rows, (sum x + 1) / (sum T + 1): with it each
    customer's rate is a gamma-Poisson posterior mean (x + 1) / (T + 1/rate), and the chance
    that a still-active buyer at that rate stays silent as long as they have is P(alive)."""
    rate = float((w @ x + 1.0) / (w @ T + 1.0))
    return BgnbdFit("fallback", rate=rate, rows=rows, reason=reason)


def fit_params(inputs: pd.DataFrame, method: str = "bgnbd") -> BgnbdFit:
    """The BG/NBD (or, with method "paretonbd", Pareto/NBD) fit of one cutoff's (x, t_x, T)
    rows, or the fallback's rate. Never raises."""
    x, t_x, T, w = _summary(inputs)
    rows = int(w.sum())
    repeat = int(w[x > 0].sum())
    if rows < MIN_ROWS or repeat < MIN_REPEAT_BUYERS:
        return _fallback(x, t_x, T, w, rows, f"{repeat} repeat buyers in {rows} rows")
    try:
        (r, alpha, a, b), ok = _fit_mle(x, t_x, T, w, method)
    except Exception as exc:  # noqa: BLE001 - a failed fit falls back, never fails the run
        return _fallback(x, t_x, T, w, rows, f"fit failed: {exc}")
    if not ok or not np.all(np.isfinite([r, alpha, a, b])):
        return _fallback(x, t_x, T, w, rows, "fit did not converge")
    return BgnbdFit(method, r=float(r), alpha=float(alpha), a=float(a), b=float(b), rows=rows)


def predict(fit: BgnbdFit, inputs: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """P(alive), expected purchases and P(no purchase) in (T, T + horizon] per row."""
    x, t_x, T = (inputs[c].to_numpy(float) for c in ("x", "t_x", "T"))
    t = float(horizon_days)
    with np.errstate(all="ignore"):
        if fit.method == "bgnbd":
            r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
            # P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))
            log_odds_dead = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                             + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
            p_alive = np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_odds_dead, 700))), 1.0)
            # an active customer buys at a rate ~ Gamma(r + x, alpha + T) until their next order,
            # and can only drop out right after one: P(no order in t | active) is the gamma's
            # Laplace transform
            silent = ((alpha + T) / (alpha + T + t)) ** (r + x)
            p_none = 1.0 - p_alive * (1.0 - silent)
            # expected orders in t (eq. 10), defined for a > 1; otherwise (or when hyp2f1 fails)
            # the active customer's rate times t, an upper bound that ignores dropout within t
            expected = _expected_bgnbd(r, alpha, a, b, x, T, t, p_alive)
        elif fit.method == "paretonbd":
            p_alive, p_none, expected = _pareto_predict(fit, x, t_x, T, t)
        else:
            rate_i = (x + 1.0) / (T + 1.0 / fit.rate)
            silence = T - t_x
            p_alive = np.exp(-rate_i * silence)
            p_none = 1.0 - p_alive * (1.0 - np.exp(-rate_i * t))
            expected = p_alive * rate_i * t
    out = pd.DataFrame({
        "btyd_p_alive": np.clip(np.nan_to_num(p_alive, nan=1.0), 0.0, 1.0),
        "btyd_expected_purchases": np.clip(np.nan_to_num(expected, nan=0.0, posinf=0.0), 0, None),
        "btyd_p_no_purchase": np.clip(np.nan_to_num(p_none, nan=1.0), 0.0, 1.0),
    }, index=inputs.index)
    return out


def _expected_bgnbd(r, alpha, a, b, x, T, t, p_alive) -> np.ndarray:
    crude = p_alive * (r + x) / (alpha + T) * t
    if a <= 1.0 + 1e-6:
        return crude
    z = t / (alpha + T + t)
    silent = ((alpha + T) / (alpha + T + t)) ** (r + x)
    term = 1.0 - silent * hyp2f1(r + x, b + x, a + b + x - 1, z)
    value = (a + b + x - 1) / (a - 1) * term * p_alive
    ok = np.isfinite(value) & (value >= 0) & (value <= crude * 1.0001 + 1e-9)
    return np.where(ok, value, crude)


def _sample_mask(ids: pd.Series, limit: int) -> np.ndarray:
    """The `limit` rows with the smallest md5(customer_id): deterministic, engine-independent,
    and mostly the same customers at every cutoff."""
    if len(ids) <= limit:
        return np.ones(len(ids), bool)
    keys = np.array([hashlib.md5(str(i).encode()).hexdigest() for i in ids])
    order = np.argsort(keys, kind="stable")
    mask = np.zeros(len(ids), bool)
    mask[order[:limit]] = True
    return mask


def _cache_key(inputs: pd.DataFrame, method: str) -> str:
    x, t_x, T, w = _summary(inputs)
    digest = hashlib.md5(method.encode())
    for arr in (x, t_x, T, w):
        digest.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
    return digest.hexdigest()


def cached_fit(inputs: pd.DataFrame, method: str = "bgnbd") -> BgnbdFit:
    """`fit_params`, memoised in process by a hash of the fitting input (the same cutoff is
    fitted by the features of several stages)."""
    key = _cache_key(inputs, method)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    fit = _CACHE[key] = fit_params(inputs, method)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return fit


def btyd_features(frame: pd.DataFrame, horizon_days: int, max_fit_customers: int = 20000,
                  method: str = "bgnbd") -> pd.DataFrame:
    """customer_id, cutoff and the three BTYD columns for every row of `frame` (same order).

    One BG/NBD per cutoff, fitted on that cutoff's rows only (a deterministic md5 sample of at
    most `max_fit_customers`), predicted for all of them (deterministic: no seed). The fits,
    by cutoff, are in ``result.attrs["btyd_fits"]``."""
    out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(),
                        "cutoff": frame["cutoff"].to_numpy()}, index=frame.index)
    for col in COLUMNS:
        out[col] = np.nan
    fits: dict[str, dict] = {}
    if frame.empty:
        out.attrs["btyd_fits"] = fits
        return out.reset_index(drop=True)
    inputs = btyd_inputs(frame)
    for cutoff, idx in frame.groupby("cutoff", sort=True).indices.items():
        rows = inputs.iloc[idx]
        mask = _sample_mask(frame["customer_id"].iloc[idx], max(1, int(max_fit_customers)))
        try:
            fit = cached_fit(rows[mask], method)
            values = predict(fit, rows, horizon_days)
        except Exception as exc:  # noqa: BLE001 - never fail the features stage
            log.warning("BTYD features for cutoff %s fell back: %s", cutoff, exc)
            x, t_x, T, w = _summary(rows)
            fit = _fallback(x, t_x, T, w, len(rows), f"error: {exc}")
            values = predict(fit, rows, horizon_days)
        out.iloc[idx, 2:] = values[COLUMNS].to_numpy()
        fits[str(pd.Timestamp(cutoff).date())] = asdict(fit)
    out.attrs["btyd_fits"] = fits
    return out.reset_index(drop=True)
