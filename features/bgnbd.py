"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

A client buys at a Poisson rate ``λ`` while alive and, after each repeat purchase, drops out for
good with probability ``p``; across clients ``λ ~ Gamma(r, alpha)`` and ``p ~ Beta(a, b)``. A
client's history is summarised by ``frequency`` (number of repeat purchase occasions), ``recency``
(time from the first to the last purchase; 0 when frequency is 0) and ``T`` (time from the first
purchase to the cutoff). Times are in whatever unit the caller uses: clientcast uses days, the
published CDNOW parameters are in weeks. ``alpha`` carries the unit; ``r``, ``a`` and ``b`` don't.

The model is both a client feature (expected purchases, probability of being alive) and the
classic baseline of the CDNOW benchmark. Everything is vectorised numpy/scipy: one million clients
take about a second to score.

References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
the Pareto/NBD Model", Marketing Science 24(2); Fader & Hardie, "Implementing the BG/NBD Model
for Customer Base Analysis in Excel" (2013 note).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RepeatHistory:
    """Validated, broadcast per-client summaries: repeat count, recency and age."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray

    @property
    def is_repeat(self) -> NDArray[np.bool_]:
        """Clients with at least one repeat purchase."""
        return self.frequency > 0


def repeat_history(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> RepeatHistory:
    """Check and broadcast the per-client summaries; raise ValueError on impossible values.

    The rules: all finite, none negative, ``recency <= T``, ``recency == 0`` when ``frequency`` is
    0 (the time between a single purchase and itself).
    """
    arrays = np.broadcast_arrays(
        np.asarray(frequency, dtype=np.float64),
        np.asarray(recency, dtype=np.float64),
        np.asarray(T, dtype=np.float64),
    )
    for name, values in zip(("frequency", "recency", "T"), arrays, strict=True):
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"{name} holds NaN or infinite values ({_first_rows(~np.isfinite(values))})"
            )
        if np.any(values < 0):
            raise ValueError(f"{name} holds negative values ({_first_rows(values < 0)})")
    frequency_, recency_, T_ = arrays
    if np.any(recency_ > T_):
        raise ValueError(f"recency exceeds T ({_first_rows(recency_ > T_)})")
    if np.any((frequency_ == 0) & (recency_ > 0)):
        raise ValueError(
            "recency must be 0 when frequency is 0 "
            f"({_first_rows((frequency_ == 0) & (recency_ > 0))})"
        )
    return RepeatHistory(frequency_, recency_, T_)


def _first_rows(mask: NDArray[np.bool_], limit: int = 5) -> str:
    """The first offending positions of ``mask``, for error messages."""
    rows = np.flatnonzero(np.ravel(mask))[:limit]
    return f"rows {rows.tolist()}" if np.ndim(mask) else "scalar input"


def _horizon(t: ArrayLike) -> FloatArray:
    """A non-negative, finite prediction horizon."""
    horizon = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("the horizon t must be finite and non-negative")
    return horizon


class BetaGeoModel:
    """The BG/NBD model: fit on client summaries, then predict each client's future purchases.

    Parameters
    ----------
    penalizer:
        Weight of an L2 penalty ``penalizer * (a**2 + b**2)`` added to the mean negative
        log-likelihood (0 by default). A small value keeps ``a`` and ``b`` finite on populations
        with few repeat clients, where the likelihood is flat in them.

    Attributes
    ----------
    r, alpha, a, b:
        The fitted (or given) parameters; ``alpha`` is in the caller's time unit.
    log_likelihood_:
        Mean log-likelihood per client at the optimum (weighted when weights are given).
    converged_:
        Whether the optimiser reported convergence.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        if penalizer < 0:
            raise ValueError(f"penalizer must be non-negative, got {penalizer}")
        self.penalizer = penalizer
        self.r: float | None = None
        self.alpha: float | None = None
        self.a: float | None = None
        self.b: float | None = None
        self.log_likelihood_: float | None = None
        self.converged_: bool | None = None

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float) -> BetaGeoModel:
        """A model with known parameters (published ones, or saved from an earlier fit)."""
        if min(r, alpha, a, b) <= 0:
            raise ValueError("r, alpha, a and b must all be positive")
        model = cls()
        model.r, model.alpha, model.a, model.b = float(r), float(alpha), float(a), float(b)
        return model

    @property
    def params(self) -> dict[str, float]:
        """The parameters as a dict ``{r, alpha, a, b}``."""
        r, alpha, a, b = self._params()
        return {"r": r, "alpha": alpha, "a": a, "b": b}

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> BetaGeoModel:
        """Estimate ``r, alpha, a, b`` by maximum likelihood on the clients' summaries.

        L-BFGS-B on the log-parameters with the analytic gradient; ``weights`` count identical
        clients (or weigh them). Warns when the optimiser does not report convergence.
        """
        history = repeat_history(frequency, recency, T)
        x, t_x, age = (np.ravel(v) for v in (history.frequency, history.recency, history.T))
        if x.size == 0:
            raise ValueError("cannot fit BG/NBD on zero clients")
        w = np.ones_like(x) if weights is None else np.ravel(np.asarray(weights, np.float64))
        if w.shape != x.shape or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative, one per client, not all 0")
        w = w / w.sum()

        # Start from a population rate r/alpha close to the observed repeat rate.
        rate = max(float(np.sum(w * x) / max(np.sum(w * age), 1e-12)), 1e-6)
        start = np.log([1.0, 1.0 / rate, 1.0, 1.0])
        result = optimize.minimize(
            self._objective,
            start,
            args=(x, t_x, age, w, RepeatCounts.of(x)),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-20.0, 20.0)] * 4,
        )
        if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
            raise RuntimeError(f"BG/NBD fit failed: {result.message}")
        if not result.success:
            warnings.warn(f"BG/NBD fit did not converge: {result.message}", stacklevel=2)
        self.r, self.alpha, self.a, self.b = (float(v) for v in np.exp(result.x))
        self.log_likelihood_ = -float(result.fun) + self.penalizer * (self.a**2 + self.b**2)
        self.converged_ = bool(result.success)
        return self

    def _objective(
        self,
        log_params: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        age: FloatArray,
        w: FloatArray,
        counts: RepeatCounts,
    ) -> tuple[float, FloatArray]:
        """Penalised mean negative log-likelihood and its gradient in the log-parameters."""
        r, alpha, a, b = np.exp(log_params)
        log_alive, log_dead = _log_likelihood_terms(r, alpha, a, b, x, t_x, age, counts)
        total = np.logaddexp(log_alive, log_dead)
        w_alive = np.exp(log_alive - total)
        w_dead = 1.0 - w_alive
        repeat = x > 0
        constant = r * np.log(alpha) - special.gammaln(r) - special.betaln(a, b)
        loglik = constant + np.sum(w * total)

        psi_dead_b = np.where(
            repeat, counts.apply(lambda n: special.digamma(np.where(n > 0, b + n - 1, 1.0))), 0.0
        )
        psi_abx = counts.apply(lambda n: special.digamma(a + b + n))
        d_r = (
            np.log(alpha)
            - special.digamma(r)
            + np.sum(
                w
                * (
                    counts.apply(lambda n: special.digamma(r + n))
                    - w_alive * np.log(alpha + age)
                    - w_dead * np.log(alpha + t_x)
                )
            )
        )
        d_alpha = r / alpha - np.sum(
            w * (r + x) * (w_alive / (alpha + age) + w_dead / (alpha + t_x))
        )
        d_a = (
            special.digamma(a + b)
            - special.digamma(a)
            + np.sum(w * (w_alive * special.digamma(a) + w_dead * special.digamma(a + 1) - psi_abx))
        )
        d_b = (
            special.digamma(a + b)
            - special.digamma(b)
            + np.sum(
                w
                * (
                    w_alive * counts.apply(lambda n: special.digamma(b + n))
                    + w_dead * psi_dead_b
                    - psi_abx
                )
            )
        )
        gradient = -np.array([d_r, d_alpha, d_a, d_b]) * np.array([r, alpha, a, b])
        penalty = self.penalizer * (a**2 + b**2)
        gradient[2:] += self.penalizer * 2.0 * np.array([a**2, b**2])
        return float(-loglik + penalty), gradient

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Each client's log-likelihood of their history under the model's parameters."""
        r, alpha, a, b = self._params()
        history = repeat_history(frequency, recency, T)
        log_alive, log_dead = _log_likelihood_terms(
            r, alpha, a, b, history.frequency, history.recency, history.T
        )
        constant = r * np.log(alpha) - special.gammaln(r) - special.betaln(a, b)
        return constant + np.logaddexp(log_alive, log_dead)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each client is still alive (has not dropped out) at the cutoff."""
        r, alpha, a, b = self._params()
        history = repeat_history(frequency, recency, T)
        return self._p_alive(history, r, alpha, a, b)

    @staticmethod
    def _p_alive(history: RepeatHistory, r: float, alpha: float, a: float, b: float) -> FloatArray:
        """P(alive) of validated histories: the share of the likelihood where the client lives."""
        log_alive, log_dead = _log_likelihood_terms(
            r, alpha, a, b, history.frequency, history.recency, history.T
        )
        return np.exp(log_alive - np.logaddexp(log_alive, log_dead))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected number of purchases in the next ``t`` time units, given each history.

        Equation (10) of Fader, Hardie & Lee (2005), with the Gauss hypergeometric function
        (the formula divides by ``a - 1``: it needs ``a != 1``, which a fit never hits exactly).
        """
        history = repeat_history(frequency, recency, T)
        return self._p_alive(history, *self._params()) * self._expected_if_alive(history, t)

    def _expected_if_alive(self, history: RepeatHistory, t: ArrayLike) -> FloatArray:
        """Expected purchases in the next ``t`` of validated histories, given alive."""
        r, alpha, a, b = self._params()
        horizon = _horizon(t)
        x, age = history.frequency, history.T
        z = horizon / (alpha + age + horizon)
        log_q = np.log(alpha + age) - np.log(alpha + age + horizon)
        hypergeometric = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
        bracket = 1.0 - np.exp((r + x) * log_q) * hypergeometric
        expected = (a + b + x - 1.0) / (a - 1.0) * bracket
        return np.where(horizon > 0, expected, 0.0)

    def prob_purchases(
        self, n: ArrayLike, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(X(t) = n | history): the conditional distribution of the count in the next ``t``.

        Given ``λ, p`` and alive at the cutoff, ``n`` purchases happen either with the client
        surviving all ``n`` (Poisson count exactly ``n``) or dropping out at the ``n``-th
        (Poisson count at least ``n``); a client already dead makes 0. Integrating over the
        posterior of ``λ`` (Gamma) and ``p`` (Beta) gives negative-binomial terms, computed in
        log space.
        """
        r, alpha, a, b = self._params()
        history = repeat_history(frequency, recency, T)
        horizon = _horizon(t)
        count = np.asarray(n, dtype=np.float64)
        if np.any(count < 0) or np.any(count != np.round(count)):
            raise ValueError("n must hold non-negative integers")
        x, age = history.frequency, history.T
        log_alive, log_dead = _log_likelihood_terms(r, alpha, a, b, x, history.recency, age)
        log_total = np.logaddexp(log_alive, log_dead)
        shape = r + x
        # Posterior of λ when alive is Gamma(r + x, alpha + T): its Poisson mixture over the
        # horizon is negative binomial with success probability q.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_q = np.log(alpha + age) - np.log(alpha + age + horizon)
            log_one_minus_q = np.log(horizon) - np.log(alpha + age + horizon)
            log_nb_pmf = (
                special.gammaln(shape + count)
                - special.gammaln(shape)
                - special.gammaln(count + 1.0)
                + shape * log_q
                + np.where(count > 0, count * log_one_minus_q, 0.0)
            )
            nb_at_least = special.betainc(
                np.maximum(count, 1.0), shape, horizon / (alpha + age + horizon)
            )
            log_posterior_alive = special.gammaln(shape) - shape * np.log(alpha + age) - log_total
            survive_all = np.exp(
                special.betaln(a, b + x + count) + log_posterior_alive + log_nb_pmf
            )
            drop_at_n = (
                np.exp(special.betaln(a + 1.0, b + x + count - 1.0) + log_posterior_alive)
                * nb_at_least
            )
        dead = np.exp(log_dead - log_total)
        probability = np.where(
            count > 0, survive_all + np.nan_to_num(drop_at_n), survive_all + dead
        )
        # Rounding can push a near-certain outcome a few ulps above 1.
        probability = np.clip(probability, 0.0, 1.0)
        # A zero horizon: no purchase for sure.
        return np.where(horizon > 0, probability, (count == 0).astype(np.float64))

    def prob_at_least_one(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(X(t) >= 1 | history) = 1 - P(X(t) = 0 | history), from the count distribution.

        In closed form ``P(alive) * (1 - q**(r + x))`` with ``q = (alpha + T)/(alpha + T + t)``:
        a live client makes no purchase with the Gamma-Poisson probability ``q**(r + x)``.
        """
        history = repeat_history(frequency, recency, T)
        return self._p_alive(history, *self._params()) * self._some_if_alive(history, t)

    def _some_if_alive(self, history: RepeatHistory, t: ArrayLike) -> FloatArray:
        """P(at least one purchase in the next ``t``) of validated histories, given alive."""
        r, alpha, _, _ = self._params()
        horizon = _horizon(t)
        log_q = np.log(history.T + alpha) - np.log(history.T + alpha + horizon)
        return -np.expm1((r + history.frequency) * log_q)

    def predictions(
        self, horizons: Sequence[float], frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> dict[str, FloatArray]:
        """P(alive), and expected purchases and P(>= 1) over each horizon, in one pass.

        The values of :meth:`p_alive`, :meth:`expected_purchases` and
        :meth:`prob_at_least_one`, with the histories checked and P(alive) computed once:
        ``{"p_alive": ..., "expected_<t>": ..., "p_at_least_one_<t>": ...}``.
        """
        history = repeat_history(frequency, recency, T)
        p_alive = self._p_alive(history, *self._params())
        predictions = {"p_alive": p_alive}
        for horizon in horizons:
            predictions[f"expected_{horizon}"] = p_alive * self._expected_if_alive(history, horizon)
            predictions[f"p_at_least_one_{horizon}"] = p_alive * self._some_if_alive(
                history, horizon
            )
        return predictions

    def _params(self) -> tuple[float, float, float, float]:
        if self.r is None or self.alpha is None or self.a is None or self.b is None:
            raise RuntimeError("BetaGeoModel is not fitted: call fit() or from_params() first")
        return self.r, self.alpha, self.a, self.b


COUNTING_LIMIT = 1_000_000


@dataclass(frozen=True)
class RepeatCounts:
    """The distinct repeat counts of many clients, and which one each client has.

    Clients share a few dozen counts: a special function of ``parameter + x`` is evaluated once
    per distinct count and gathered, which gives the very same values at a fraction of the cost
    (the fit evaluates the likelihood a hundred times).
    """

    values: FloatArray
    inverse: NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray) -> RepeatCounts:
        """The distinct counts of ``x`` (sorted), as ``np.unique`` finds them.

        Whole counts below :data:`COUNTING_LIMIT` are tallied with ``np.bincount`` (linear),
        anything else sorted by ``np.unique``: the same values and positions either way.
        """
        whole = x.astype(np.int64) if x.size else np.zeros(0, dtype=np.int64)
        if (
            x.size
            and np.array_equal(whole, x)
            and whole.min() >= 0
            and whole.max() < COUNTING_LIMIT
        ):
            present = np.bincount(np.ravel(whole)) > 0
            position = np.cumsum(present) - 1
            return cls(np.flatnonzero(present).astype(np.float64), position[whole])
        values, inverse = np.unique(x, return_inverse=True)
        return cls(values, inverse.reshape(np.shape(x)))

    def apply(self, function: Callable[[FloatArray], FloatArray]) -> FloatArray:
        """``function(x)``, element by element, evaluated once per distinct count."""
        return function(self.values)[self.inverse]


def _log_likelihood_terms(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    counts: RepeatCounts | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The two parts of a client's log-likelihood, without the population constant.

    ``alive``: the client made ``x`` repeat purchases and is still alive at ``T``; ``dead``: the
    client dropped out right after the last purchase at ``t_x`` (impossible when ``x == 0``).
    The full log-likelihood is ``r log(alpha) - lnΓ(r) - ln B(a, b) + logaddexp(alive, dead)``.
    """
    counts = RepeatCounts.of(x) if counts is None else counts
    repeat = x > 0
    shared = counts.apply(lambda n: special.gammaln(r + n))
    log_alive = (
        counts.apply(lambda n: special.betaln(a, b + n)) + shared - (r + x) * np.log(alpha + age)
    )
    log_dead = np.where(
        repeat,
        counts.apply(lambda n: special.betaln(a + 1.0, b + np.where(n > 0, n, 1.0) - 1.0))
        + shared
        - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return log_alive, log_dead
