"""The label model: Dawid-Skene EM over the labelling functions' votes, with the class prior
fixed to the domain shares and constraints that keep each cause defined by its own functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.causes.functions import ABSTAIN


# --- label model ------------------------------------------------------------------------------
@dataclass
class LabelModel:
    """EM over labelling functions' votes with a fixed class prior (Dawid-Skene with
    class-conditional error rates, constrained so that each cause stays defined by its own
    functions).

    A one-sided function j (it only ever votes for cause c) fires with probability
    `rho[j, c]` when the cause is c and `rho[j, y]` when it is another cause y: abstaining is
    informative, and a function may fire on one wrong cause more than on another (a sale-week
    order is common among forgetful one-time buyers, rarer among the dissatisfied). The
    off-target rates are shrunk towards the function's pooled off-target rate by `shrinkage`
    pseudo-rows, so a small cause borrows strength, and may not exceed the on-target rate: a
    function is never evidence *against* its own cause and for another (no worse than random,
    the usual identifiability assumption); one that fires less on its cause than off it becomes
    uninformative. Every cause is defined by its own functions only, so EM cannot relabel the
    causes (a free per-cause confusion matrix let it turn "choice" into "bought in sales").

    A function voting for several causes (the SHAP reason) gets a confusion matrix within its
    scope, P(vote v | cause y), shrunk towards "right with one accuracy, wrong votes spread
    evenly", with the same constraint per vote (a vote for v is never stronger evidence for
    another cause than for v). It is left out of the starting posterior: the causes are first
    anchored by the one-sided functions, then its confusion is measured against them. Where it
    abstains within its scope, it does so at one cause-independent rate.

    A cause no one-sided function votes for (and no gold row names) is "off target" for every
    function: such causes share one set of rates and keep their prior ratio (they cannot be
    told apart). `phi[j, y, v]`: P(vote v - 1 | cause y), v = 0 abstain; after the constraint a
    multi-cause function's rows need not sum to one exactly (only ratios within a vote matter).
    """
    prior: np.ndarray
    smoothing: float = 2.0
    #: pseudo-rows pulling a cause's own error rates towards the function's pooled ones
    shrinkage: float = 50.0
    class_conditional: bool = True
    init_accuracy: float = 0.7
    max_iter: int = 500
    tol: float = 1e-6
    # fitted (by `fit`): phi_ (m x k x k+1 vote probabilities), active_ (informative
    # functions), observable_ (causes some function or gold row can see), targets_ (the causes
    # each function votes for), class_mass_ (per function, the causes' shares in its scope),
    # fixed_ (rates known beforehand), independent_ (fixed at the overall rate: the fact says
    # nothing about the cause), dependent_ (measured against the posterior without its own
    # vote), prior_ (the normalised prior), n_iter_

    @staticmethod
    def _scope(L: np.ndarray, scope: np.ndarray | None) -> np.ndarray:
        return np.ones(L.shape, bool) if scope is None else np.asarray(scope, bool)

    def _loglik(self, L: np.ndarray, S: np.ndarray) -> np.ndarray:
        out = np.zeros((len(L), len(self.prior_)))
        logphi = np.log(np.clip(self.phi_, 1e-12, None))
        for j in np.where(self.active_)[0]:
            out += np.where(S[:, j, None], logphi[j][:, L[:, j] + 1].T, 0.0)
        return out

    @staticmethod
    def _normalise(logp: np.ndarray) -> np.ndarray:
        logp = logp - logp.max(axis=1, keepdims=True)
        p = np.exp(logp)
        return p / p.sum(axis=1, keepdims=True)

    def _multi(self, j: int) -> bool:
        return len(self.targets_[j]) > 1

    def _init_posterior(self, L: np.ndarray) -> np.ndarray:
        """One-sided votes weighted by one assumed accuracy, abstentions ignored: anchors each
        cause to the functions voting for it before EM."""
        k = len(self.prior_)
        a = self.init_accuracy
        logp = np.tile(np.log(self.prior_), (len(L), 1))
        for j in np.where(self.active_)[0]:
            if self._multi(j):
                continue
            voted = L[:, j] >= 0
            hit = np.zeros((voted.sum(), k), bool)
            hit[np.arange(voted.sum()), L[voted, j]] = True
            logp[voted] += np.where(hit, np.log(a), np.log((1 - a) / (k - 1)))
        return self._normalise(logp)

    def _one_sided(self, c: int, fires: np.ndarray, mass: np.ndarray,
                   coverage: float, fixed: np.ndarray,
                   independent: np.ndarray | None = None) -> np.ndarray:
        """Firing rate per cause of a function voting for c (fires, mass: per cause); `fixed`:
        rates known from the domain (NaN: estimate), which the others are estimated around."""
        # an indistinct cause keeps the shared rates: the causes no function can see stay
        # at their prior ratio
        known = ~np.isnan(fixed) & self.observable_
        mass_all = mass
        fires, mass = fires.copy(), mass.copy()
        fires[known], mass[known] = 0.0, 0.0
        s = self.smoothing
        on = (fires[c] + s * coverage) / (mass[c] + s)
        off = (fires.sum() - fires[c] + s * coverage) / (mass.sum() - mass[c] + s)
        if on < off:
            # no worse than random: EM may not turn a function against its own cause, it
            # becomes uninformative instead
            return np.full(len(mass), coverage)
        rho = np.full(len(mass), off)
        if self.class_conditional:
            own = self.observable_.copy()
            own[c] = False
            rho[own] = np.minimum(
                (fires[own] + self.shrinkage * off) / (mass[own] + self.shrinkage), on)
        rho[c] = on
        rho = np.where(known, fixed, rho)
        if independent is not None:
            rho = self._consistent(rho, c, mass_all, coverage, independent & known, known)
        return rho

    @staticmethod
    def _consistent(rho: np.ndarray, c: int, mass: np.ndarray, coverage: float,
                    independent: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Rates that honour "the fact says nothing about the `independent` causes": it fires
        on them at its overall rate, so it fires at that rate on the other causes together
        too (P(fire | y in I) = P(fire) implies P(fire | y not in I) = P(fire)). The function's
        own cause c takes what the other causes' rates leave of that mass-weighted mean
        (without this EM puts the rows the function fires on into c while the independent
        causes keep firing at the overall rate: the fact would count for c twice)."""
        rest = ~independent
        if not independent.any() or not rest[c] or known[c] or mass[c] <= 0:
            return rho
        others = rest.copy()
        others[c] = False
        want = coverage * mass[rest].sum() - (mass[others] * rho[others]).sum()
        out = rho.copy()
        out[c] = np.clip(want / mass[c], 1e-4, 1 - 1e-4)
        return out

    def _confusion(self, t: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """P(vote | cause, it votes) of a multi-cause function voting for `t` (k x k)."""
        k = len(self.prior_)
        s = self.smoothing
        n = counts.sum()
        acc = (np.trace(counts) + s * self.init_accuracy) / (n + s)
        acc = max(acc, 1 / len(t))
        base = np.zeros((k, k))
        for y in range(k):
            if y in t:
                base[y, t] = (1 - acc) / (len(t) - 1)
                base[y, y] = acc
            else:
                base[y, t] = 1 / len(t)
        if not self.class_conditional:
            return base
        h = self.shrinkage
        conf = (counts + h * base) / (counts.sum(axis=1, keepdims=True) + h)
        tied = ~self.observable_
        if tied.any():
            conf[tied] = ((counts[tied].sum(axis=0) + h * base[tied].mean(axis=0))
                          / (counts[tied].sum() + h))
        for v in t:  # a vote for v is never stronger evidence for another cause than for v
            if self.observable_[v]:
                others = np.arange(k) != v
                conf[others, v] = np.minimum(conf[others, v], conf[v, v])
        return conf

    def _posteriors_without(self, L: np.ndarray, S: np.ndarray,
                            logp: np.ndarray) -> dict[int, np.ndarray]:
        """Per `dependent` function, the posterior without its own vote: it is measured
        against the causes the other functions anchor, not against itself. The SHAP reason
        reads the same features as the one-sided functions; with its vote in the posterior it
        is measured against, EM counts that shared evidence twice and the vote looks as right
        as it is confident (a conditionally independent function keeps plain EM: against a
        posterior without it its accuracy would come out too low)."""
        out = {}
        logphi = np.log(np.clip(self.phi_, 1e-12, None))
        for j in np.where(self.active_ & self.dependent_)[0]:
            own = np.where(S[:, j, None], logphi[j][:, L[:, j] + 1].T, 0.0)
            out[j] = self._normalise(logp - own)
        return out

    def _m_step(self, L: np.ndarray, q: np.ndarray, S: np.ndarray,
                q_without: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
        k = len(self.prior_)
        phi = np.zeros((L.shape[1], k, k + 1))
        phi[:, :, 0] = 1.0  # a silent function always abstains
        for j in np.where(self.active_)[0]:
            votes = L[S[:, j], j]
            q_j = (q if q_without is None or j not in q_without else q_without[j])[S[:, j]]
            fire = votes >= 0
            coverage = fire.mean()
            t = self.targets_[j]
            if not self._multi(j):
                rho = self._one_sided(t[0], q_j[fire].sum(axis=0), q_j.sum(axis=0), coverage,
                                      self.fixed_[j], self.independent_[j])
                phi[j, :, 0] = 1 - rho
                phi[j, :, t[0] + 1] = rho
            else:
                counts = q_j[fire].T @ np.eye(k)[votes[fire]]
                phi[j, :, 0] = 1 - coverage
                phi[j, :, 1:] = coverage * self._confusion(t, counts)
        return phi

    def fit(self, L: np.ndarray, gold: np.ndarray | None = None,
            scope: np.ndarray | None = None, fixed: np.ndarray | None = None,
            independent: np.ndarray | None = None,
            dependent: np.ndarray | None = None) -> LabelModel:
        """`L`: n x m votes (-1 abstain); `gold`: known cause index or -1 per row; `scope`:
        n x m booleans, where a vote or abstention counts (default everywhere); `fixed`: m x k
        firing rates known beforehand (NaN: estimate; one-sided functions only);
        `independent`: m x k, where a fixed rate is the overall rate of a fact that says
        nothing about the cause (the function's own cause then takes what keeps its rate on
        the other causes together at the overall rate too); `dependent`: m booleans, functions
        not conditionally independent of the others (they read the same features), measured
        against the posterior without their own vote."""
        L = np.asarray(L, dtype=np.int64)
        S = self._scope(L, scope)
        L = np.where(S, L, ABSTAIN)
        self.prior_ = np.asarray(self.prior, float) / np.sum(self.prior)
        k = len(self.prior_)
        self.fixed_ = (np.full((L.shape[1], k), np.nan) if fixed is None
                       else np.asarray(fixed, float))
        self.independent_ = (np.zeros((L.shape[1], k), bool) if independent is None
                             else np.asarray(independent, bool) & ~np.isnan(self.fixed_))
        self.dependent_ = (np.zeros(L.shape[1], bool) if dependent is None
                           else np.asarray(dependent, bool))
        self.targets_ = [np.unique(L[:, j][L[:, j] >= 0]) for j in range(L.shape[1])]
        # informative: it fires, and abstains somewhere in its scope or names several causes
        self.active_ = np.array([len(t) > 1 or (len(t) == 1 and (S[:, j] & (L[:, j] < 0)).any())
                                for j, t in enumerate(self.targets_)], dtype=bool)
        self.observable_ = np.zeros(k, bool)
        for j in np.where(self.active_)[0]:
            if not self._multi(j):
                self.observable_[self.targets_[j]] = True
        gold = None if gold is None else np.asarray(gold, dtype=np.int64)
        known = None if gold is None else gold >= 0
        q = self._init_posterior(L)
        if known is not None and known.any():
            self.observable_[np.unique(gold[known])] = True
            q[known] = np.eye(k)[gold[known]]
        self.phi_ = self._m_step(L, q, S)
        for it in range(self.max_iter):
            logp = np.log(self.prior_) + self._loglik(L, S)
            q = self._normalise(logp)
            q_without = self._posteriors_without(L, S, logp)
            if known is not None and known.any():
                q[known] = np.eye(k)[gold[known]]
                for qj in q_without.values():
                    qj[known] = np.eye(k)[gold[known]]
            phi = self._m_step(L, q, S, q_without)
            change = np.abs(phi - self.phi_).max()
            self.phi_ = phi
            self.n_iter_ = it + 1
            if change < self.tol:
                break
        # the causes' shares where each function counts: its accuracy is relative to those
        self.class_mass_ = np.stack([q[S[:, j]].mean(axis=0) if S[:, j].any() else self.prior_
                                    for j in range(L.shape[1])]) if L.shape[1] else None
        return self

    def predict_proba(self, L: np.ndarray, scope: np.ndarray | None = None) -> np.ndarray:
        L = np.asarray(L, dtype=np.int64)
        S = self._scope(L, scope)
        return self._normalise(np.log(self.prior_) + self._loglik(np.where(S, L, ABSTAIN), S))

    def accuracies(self) -> np.ndarray:
        """Per function: P(its vote is the true cause | it votes); NaN for a silent one."""
        k = len(self.prior_)
        w = (self.class_mass_ if self.class_mass_ is not None
             else np.tile(self.prior_, (len(self.phi_), 1)))
        right = (w * self.phi_[:, np.arange(k), np.arange(k) + 1]).sum(axis=1)
        votes = (w * (1 - self.phi_[:, :, 0])).sum(axis=1)
        acc = np.divide(right, votes, out=np.full(len(votes), np.nan), where=votes > 1e-9)
        return np.where(self.active_, acc, np.nan)

