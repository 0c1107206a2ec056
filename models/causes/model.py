"""Why a lapsed customer left: a cause model of its own, learned without labels.

The SHAP-based reason (models/reasons.py) explains churn against staying, not one cause against
another. This module learns the cause by programmatic weak supervision:

1. **Labelling functions** (`LABELLING_FUNCTIONS`), written from the signatures in the domain
   notes (one order then silence = forgot; returns, low ratings, complaints = satisfaction;
   category spread, new arrivals, browsing without buying, thinning orders = choice; sale
   weeks, discounts, coupons, cheap end = price; "changed mind" = other). Each votes for its
   cause or abstains (-1); one whose table the shop lacks abstains everywhere. Thresholds are
   generic and fixed (module constants), never fitted to a shop. One more function is the
   older method: the churn model's SHAP reason (`shap_reason`, passed in by the pipeline),
   which may name any cause; it abstains where the column is absent or empty.
2. **Label model** (`LabelModel`): Dawid-Skene EM with class-conditional error rates, the
   class prior fixed to the domain shares. A one-sided function fires at its own rate on each
   cause (a one-time buyer's sale-week order is common among forgetful leavers, rare among
   dissatisfied ones); the SHAP function gets a confusion matrix (on a shop without events it
   cannot see forgetting and names price or choice instead). Each cause stays defined by its
   own functions: the SHAP function is measured against the causes they anchor, and no
   function may be stronger evidence for another cause than for its own (a free confusion
   matrix for every function let EM turn "choice" into "bought in sales"; a weak cause would
   become "the customers none of its functions fire for"). What the domain notes say about
   *who* leaves is fixed rather than estimated: "bought once" fires on price and other leavers
   at its overall rate (all customers alike) and rarely on choice (2+ orders), and a
   purchase's price facts fire on forgetful leavers at their overall rate, and so (that is
   what "says nothing about forgetting" implies) on the other causes together too: the
   function's own cause takes only what is left of that rate, so EM cannot turn a one-time
   buyer's sale-week order into price while forgetful buyers keep firing at the overall rate.
   The SHAP function reads the same features as the others and is measured against the
   posterior without its own vote. A function counts
   only in its *scope* (the choice signatures among customers with 2+ orders, a return reason
   among customers who returned something): one fact is one vote (a one-time buyer's order
   in a sale week, on discount or at the cheap end is one function, not three). Known causes
   (`gold`) are clamped in EM. A cause no one-sided function can vote for is off target for
   every function: such causes keep their prior ratio and are reported as indistinct.
3. **Discriminative model**: LightGBM multiclass (small, n_jobs=1) on churn features + cause
   evidence, fitted on the lapsed customers with the label model's probabilities as soft
   labels (each row once per cause, weighted by that cause's probability), so it generalises
   past the rules' coverage. Its probabilities are the five `p_<cause>`.
   Cross-fitted in 3 folds by customer: a training customer is explained by the fold model
   that never saw them, anyone else by one model fitted on all of them (each row goes through
   one model: explain stays fast).
4. **Confidence**: `reason_confidence` is the top probability mapped by isotonic regression,
   fitted on the out-of-fold probabilities against the chance that the reason is right:
   1/0 on gold rows when there are at least `MIN_GOLD_FOR_CALIBRATION` of them, otherwise the
   label model's probability of the predicted cause (calibrated *to the label model*: as good
   as its own calibration, the documented choice when nothing is labelled).

`reason_evidence` says in words what the fired labelling functions of the reason saw
("returned 2 of 4 orders, last one as poor quality; rated 1 star"), `reason_basis` which tables
that came from, and notes the causes the shop's tables cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.causes import CAUSES, DEFAULT_PRIOR, IDX, K
from common.errors import ChurnError
from features.evidence import evidence_columns
from features.registry import BY_NAME
from models.causes.functions import (
    ABSTAIN,
    LABELLING_FUNCTIONS,
    LF_BY_NAME,
    LabellingFunction,
    apply_lfs,
    fixed_rates,
    independent_of,
    lf_scopes,
    tables_telling_apart,
)
from models.causes.label_model import LabelModel
from models.causes.signals import col, days_since
from models.causes.words import evidence_sentences, reason_basis

PROBA_COLUMNS = [f"p_{c}" for c in CAUSES]
EXPLAIN_COLUMNS = ["reason", "reason_confidence", *PROBA_COLUMNS, "reason_evidence",
                   "reason_basis"]
MIN_GOLD_FOR_CALIBRATION = 50
#: LightGBM threads at explain (the scoring machine's 2 cores)
PREDICT_THREADS = 2
_TEXT_COLUMNS = {"last_return_reason", "last_complaint_detail"}
_NOT_FEATURES = {"customer_id", "cutoff", "split", "churned", "membership_tier"}


# --- discriminative model ---------------------------------------------------------------------
@dataclass(frozen=True)
class CauseParams:
    n_estimators: int = 60      # x 5 causes x 3 folds trees per row at explain: keep it small
    learning_rate: float = 0.1
    num_leaves: int = 15
    min_child_samples: int = 20
    max_rows: int = 60_000
    folds: int = 3


def model_features(frame: pd.DataFrame) -> list[str]:
    """Registry features and numeric evidence present in the frame with any value."""
    cols = [c for c in frame.columns
            if (c in BY_NAME or c in evidence_columns([c])) and c not in _NOT_FEATURES
            and c not in _TEXT_COLUMNS]
    return [c for c in cols if pd.to_numeric(frame[c], errors="coerce").notna().any()]


def _fit_classifier(X: pd.DataFrame, Q: np.ndarray, seed: int, p: CauseParams):
    import lightgbm as lgb

    n = len(X)
    Xr = pd.concat([X] * K, ignore_index=True)
    y = np.repeat(np.arange(K), n)
    w = Q.T.ravel()
    keep = w > 1e-3
    for k in range(K):  # every cause must appear for a 5-class model
        if not keep[y == k].any():
            keep[np.where(y == k)[0][np.argmax(w[y == k])]] = True
    clf = lgb.LGBMClassifier(
        objective="multiclass", n_estimators=p.n_estimators, learning_rate=p.learning_rate,
        num_leaves=p.num_leaves, min_child_samples=p.min_child_samples, subsample=0.8,
        subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, n_jobs=1, random_state=seed,
        verbose=-1)
    clf.fit(Xr[keep], y[keep], sample_weight=np.maximum(w[keep], 1e-6))
    return clf


def _proba(clf, X: pd.DataFrame | np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    p = clf.booster_.predict(X, num_threads=PREDICT_THREADS)
    if p.ndim == 1:  # a model that saw one class only
        p = p[:, None]
    out = np.zeros((len(X), K))
    out[:, np.asarray(clf.classes_, dtype=int)] = p
    return out


def _folds(frame: pd.DataFrame, k: int, seed: int) -> np.ndarray:
    """Fold per customer (all their cutoffs together), stable across runs."""
    if "customer_id" in frame.columns:
        h = pd.util.hash_pandas_object(frame["customer_id"].astype(str), index=False,
                                       hash_key=f"causes{seed:08d}"[:16].ljust(16, "0"))
        return (h.to_numpy() % k).astype(int)
    return np.random.default_rng(seed).integers(0, k, len(frame))


def gold_vector(frame: pd.DataFrame, gold: pd.DataFrame | None) -> np.ndarray:
    """Per frame row, the known cause index of the lapse it belongs to, else -1: the
    customer's earliest label dated at or after their last order before the cutoff."""
    out = np.full(len(frame), -1, dtype=np.int64)
    if gold is None or len(gold) == 0 or "customer_id" not in frame.columns:
        return out
    g = gold.loc[gold["cause"].isin(CAUSES), ["customer_id", "label_ts", "cause"]].copy()
    g["customer_id"] = g["customer_id"].astype(str)
    g["label_ts"] = pd.to_datetime(g["label_ts"])
    rows = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(),
                         "row": np.arange(len(frame))})
    if "cutoff" in frame.columns:
        last = (pd.to_datetime(frame["cutoff"]).reset_index(drop=True)
                - pd.to_timedelta(np.nan_to_num(days_since(frame)), unit="D")).to_numpy()
    else:
        last = np.full(len(frame), np.datetime64("1900-01-01"))
    rows["last_order"] = last
    j = rows.merge(g, on="customer_id")
    j = j[j["label_ts"] >= j["last_order"]].sort_values(["row", "label_ts"])
    j = j.drop_duplicates("row")
    out[j["row"].to_numpy()] = j["cause"].map(IDX).to_numpy()
    return out


@dataclass
class CauseModel:
    """The fitted cause model. `classifiers[k]` was trained without fold k of the training
    customers: a training customer is predicted by the model that never saw them (their
    probabilities are out of fold, like the confidence calibration), anyone else by
    `classifier`, fitted on all of them (one model per row keeps explain fast), or by the mean
    of the fold models when there is none."""
    label_model: LabelModel
    classifiers: list
    features: list[str]
    calibrator: object | None
    tables: frozenset[str]
    prior: dict[str, float]
    lf_names: list[str]
    #: causes no available labelling function can vote for (told apart from nothing)
    indistinct: tuple[str, ...] = ()
    lf_accuracy: dict[str, float] = field(default_factory=dict)
    lf_coverage: dict[str, float] = field(default_factory=dict)
    calibrated_on: str = "label_model"
    classifier: object | None = None
    train_rows: int = 0
    train_customers: frozenset[str] = frozenset()
    fold_seed: int = 0

    @property
    def lfs(self) -> list[LabellingFunction]:
        return [LF_BY_NAME[n] for n in self.lf_names]

    def _X(self, frame: pd.DataFrame) -> np.ndarray:
        if not self.features:
            return np.empty((len(frame), 0))
        return np.column_stack([col(frame, c) for c in self.features])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """n x 5 cause probabilities (CAUSES order) from the discriminative models."""
        X = self._X(frame)
        models = [(k, clf) for k, clf in enumerate(self.classifiers) if clf is not None]
        P = np.zeros((len(X), K))
        rest = np.ones(len(X), bool)  # each row goes through the models it needs, only
        if "customer_id" in frame.columns and self.train_customers:
            seen = frame["customer_id"].astype(str).isin(self.train_customers).to_numpy()
            fold = _folds(frame, len(self.classifiers), self.fold_seed)
            for k, clf in models:
                rows = seen & (fold == k)
                if rows.any():
                    P[rows] = _proba(clf, X[rows])
                    rest &= ~rows
        if rest.any():
            Xr = X if rest.all() else X[rest]
            P[rest] = (_proba(self.classifier, Xr) if self.classifier is not None
                       else np.mean([_proba(clf, Xr) for _, clf in models], axis=0))
        return P

    def label_model_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.label_model.predict_proba(apply_lfs(frame, self.tables, self.lfs),
                                              lf_scopes(frame, self.tables, self.lfs))

    def confidence(self, top: np.ndarray) -> np.ndarray:
        if self.calibrator is None:
            return top
        return np.clip(self.calibrator.predict(top), 0.0, 1.0)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """reason, reason_confidence, p_<cause> x5, reason_evidence, reason_basis per row."""
        P = self.predict_proba(frame)
        top = P.argmax(axis=1)
        reason = np.asarray(CAUSES, dtype=object)[top]
        out = pd.DataFrame({"reason": reason,
                            "reason_confidence": np.round(self.confidence(P.max(axis=1)), 4)})
        for i, c in enumerate(CAUSES):
            out[f"p_{c}"] = np.round(P[:, i], 4)
        # what the label model learnt from: a function silent or uninformative in training
        # (e.g. no SHAP reason then) is no evidence now
        L = np.where(self.label_model.active_, apply_lfs(frame, self.tables, self.lfs), ABSTAIN)
        out["reason_evidence"] = evidence_sentences(frame, reason, L, self.lfs).to_numpy()
        out["reason_basis"] = reason_basis(
            reason, L, self.lfs, self.tables, self.indistinct,
            tables_telling_apart(self.indistinct, self.tables)).to_numpy()
        out.index = frame.index
        return out[EXPLAIN_COLUMNS]

    def summary(self) -> pd.DataFrame:
        """Per labelling function: cause, estimated accuracy, coverage on the training rows.
        Accuracy is NaN for a function that never fires, or always fires, within its scope
        (nothing to learn from it there)."""
        return pd.DataFrame([{"function": n, "cause": LF_BY_NAME[n].cause,
                              "accuracy": self.lf_accuracy.get(n, np.nan),
                              "coverage": self.lf_coverage.get(n, 0.0)}
                             for n in self.lf_names])



def fit_cause_model(frame: pd.DataFrame, available_tables: Iterable[str],
                    prior: Mapping[str, float] | None = None, seed: int = 0,
                    gold: pd.DataFrame | None = None, *, lapsed_only: bool = True,
                    params: CauseParams = CauseParams()) -> CauseModel:
    """Fit on the lapsed rows of `frame` (churned == 1 when the column exists): features +
    evidence per customer x cutoff. `available_tables`: the shop's table names (a function
    needing another abstains). `gold`: optional (customer_id, label_ts, cause)."""
    tables = frozenset(available_tables)
    prior = dict(DEFAULT_PRIOR if prior is None else prior)
    train = frame
    if lapsed_only and "churned" in frame.columns:
        train = frame[frame["churned"] == 1]
    key = [c for c in ("customer_id", "cutoff") if c in train.columns]
    if key:  # the same rows in any order give the same model
        train = train.sort_values(key, kind="stable")
    if len(train) > params.max_rows:
        train = train.sample(params.max_rows, random_state=seed)
    train = train.reset_index(drop=True)
    if len(train) < 20:
        raise ChurnError(f"cause model: {len(train)} lapsed customers to learn from; need 20+")
    lfs = [lf for lf in LABELLING_FUNCTIONS if lf.available(tables)]
    L = apply_lfs(train, tables, lfs)
    S = lf_scopes(train, tables, lfs)
    g = gold_vector(train, gold)
    pi = np.array([float(prior.get(c, 0.0)) for c in CAUSES]) + 1e-6
    lm = LabelModel(prior=pi).fit(L, g, S, fixed_rates(lfs, L, S), independent_of(lfs),
                                  np.array([lf.dependent for lf in lfs], bool))
    Q = lm.predict_proba(L, S)
    known = g >= 0
    Q[known] = np.eye(K)[g[known]]

    features = model_features(train)
    X = pd.DataFrame({c: col(train, c) for c in features})
    folds = _folds(train, params.folds, seed)
    oof = np.full((len(train), K), 1.0 / K)
    classifiers: list = []
    for k in range(params.folds):
        fit_rows = folds != k
        if fit_rows.all() or not fit_rows.any():
            classifiers.append(None)
            continue
        clf = _fit_classifier(X[fit_rows].reset_index(drop=True), Q[fit_rows], seed, params)
        oof[~fit_rows] = _proba(clf, X[~fit_rows].reset_index(drop=True))
        classifiers.append(clf)
    if all(c is None for c in classifiers):  # too few customers for folds: one model
        classifiers = [_fit_classifier(X, Q, seed, params)]
        oof = _proba(classifiers[0], X)
        full = None
    else:
        full = _fit_classifier(X, Q, seed, params)
    top = oof.argmax(axis=1)
    conf = oof.max(axis=1)
    if known.sum() >= MIN_GOLD_FOR_CALIBRATION:
        target, rows, on = (top == g).astype(float)[known], known, "gold"
    else:
        target, rows, on = Q[np.arange(len(Q)), top], np.ones(len(Q), bool), "label_model"
    calibrator = None
    if rows.sum() >= 20 and conf[rows].std() > 0:
        from sklearn.isotonic import IsotonicRegression

        calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip",
                                        increasing=True).fit(conf[rows], target)
    observable = lm.observable_
    acc = lm.accuracies()
    return CauseModel(
        label_model=lm, classifiers=classifiers, features=features, calibrator=calibrator,
        tables=tables, prior=prior, lf_names=[lf.name for lf in lfs],
        indistinct=tuple(c for c, seen in zip(CAUSES, observable, strict=True) if not seen),
        lf_accuracy={lf.name: float(a) for lf, a in zip(lfs, acc, strict=True)},
        lf_coverage={lf.name: float((L[:, j] >= 0).mean()) for j, lf in enumerate(lfs)},
        calibrated_on=on, train_rows=len(train), fold_seed=seed, classifier=full,
        train_customers=(frozenset(train["customer_id"].astype(str))
                         if "customer_id" in train.columns and len(classifiers) > 1
                         else frozenset()))

