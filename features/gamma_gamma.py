"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").

A client's purchase values are Gamma(p, ν) around their own mean value ``p/ν``; across clients
``ν ~ Gamma(q, v)``. Given a client's ``frequency`` (number of repeat purchases, at least 1 to
fit) and ``monetary_value`` (their mean purchase value over those purchases), the model shrinks
the observed mean towards the population mean ``p v / (q - 1)``, more so for clients with few
purchases. Money is in whatever currency the caller uses (clientcast: the reference currency).

References: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4); Fader & Hardie, "The Gamma-Gamma Model of Monetary
Value" (2013 note).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]


def _spend_history(
    frequency: ArrayLike, monetary_value: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Broadcast and check frequency (finite, >= 0) and monetary value (finite, > 0 if repeat)."""
    x, m = np.broadcast_arrays(
        np.asarray(frequency, dtype=np.float64), np.asarray(monetary_value, dtype=np.float64)
    )
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("frequency must be finite and non-negative")
    repeat = x > 0
    if not np.all(np.isfinite(m[repeat])) or np.any(m[repeat] <= 0):
        rows = np.flatnonzero(np.ravel(repeat & ~(m > 0)))[:5].tolist()
        raise ValueError(
            f"monetary_value must be positive for clients with frequency > 0 (rows {rows})"
        )
    return x, m


class GammaGammaModel:
    """The Gamma-Gamma spend model: fit ``p, q, v`` on repeat clients, predict mean spend.

    Attributes
    ----------
    p, q, v:
        The fitted (or given) parameters; ``v`` is in the caller's currency.
    log_likelihood_:
        Mean log-likelihood per repeat client at the optimum.
    """

    def __init__(self) -> None:
        self.p: float | None = None
        self.q: float | None = None
        self.v: float | None = None
        self.log_likelihood_: float | None = None

    @classmethod
    def from_params(cls, p: float, q: float, v: float) -> GammaGammaModel:
        """A model with known parameters (published ones, or saved from an earlier fit)."""
        if min(p, q, v) <= 0:
            raise ValueError("p, q and v must all be positive")
        model = cls()
        model.p, model.q, model.v = float(p), float(q), float(v)
        return model

    @property
    def params(self) -> dict[str, float]:
        """The parameters as a dict ``{p, q, v}``."""
        p, q, v = self._params()
        return {"p": p, "q": q, "v": v}

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
        """Estimate ``p, q, v`` by maximum likelihood on the clients with ``frequency > 0``.

        Clients without repeat purchases carry no information on spend per purchase and are
        left out; ``monetary_value`` is each repeat client's mean value per purchase.
        """
        x, m = _spend_history(frequency, monetary_value)
        repeat = np.ravel(x) > 0
        x, m = np.ravel(x)[repeat], np.ravel(m)[repeat]
        if x.size < 2:
            raise ValueError("Gamma-Gamma needs at least 2 clients with frequency > 0")
        # Method-of-moments-like start: q a little above 1 keeps the mean finite.
        start = np.log([1.0, 2.0, float(np.mean(m))])
        result = optimize.minimize(
            _negative_log_likelihood,
            start,
            args=(x, m),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-20.0, 20.0)] * 3,
        )
        if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
            raise RuntimeError(f"Gamma-Gamma fit failed: {result.message}")
        if not result.success:
            warnings.warn(f"Gamma-Gamma fit did not converge: {result.message}", stacklevel=2)
        self.p, self.q, self.v = (float(value) for value in np.exp(result.x))
        self.log_likelihood_ = -float(result.fun)
        return self

    def population_mean(self) -> float:
        """Mean value per purchase across clients, ``p v / (q - 1)`` (infinite when q <= 1)."""
        p, q, v = self._params()
        return p * v / (q - 1.0) if q > 1.0 else float("inf")

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Expected mean value per purchase of each client, given their history.

        ``(p (v + x m)) / (p x + q - 1)``: a weighted average of the population mean and the
        client's own mean ``m``. Clients with ``frequency == 0`` get the population mean, whatever
        their ``monetary_value`` (it may be NaN).
        """
        p, q, v = self._params()
        if q <= 1.0:
            raise ValueError(f"the expected spend is infinite when q <= 1 (q = {q:.3g})")
        x, m = _spend_history(frequency, monetary_value)
        own = np.where(x > 0, x * m, 0.0)
        return p * (v + own) / (p * x + q - 1.0)

    def _params(self) -> tuple[float, float, float]:
        if self.p is None or self.q is None or self.v is None:
            raise RuntimeError("GammaGammaModel is not fitted: call fit() or from_params() first")
        return self.p, self.q, self.v


def _negative_log_likelihood(
    log_params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood of the repeat clients and its gradient in the log-params."""
    p, q, v = np.exp(log_params)
    px = p * x
    log_total = np.log(x * m + v)
    loglik = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_total
    )
    psi_pxq = special.digamma(px + q)
    d_p = np.mean(x * (psi_pxq - special.digamma(px) + np.log(m) + np.log(x) - log_total))
    d_q = np.mean(psi_pxq - special.digamma(q) + np.log(v) - log_total)
    d_v = np.mean(q / v - (px + q) / (x * m + v))
    gradient = -np.array([d_p, d_q, d_v]) * np.array([p, q, v])
    return float(-np.mean(loglik)), gradient
