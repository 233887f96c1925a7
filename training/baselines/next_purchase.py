"""Next-purchase baselines: BG/NBD with Gamma-Gamma, a recency-frequency rule, the usual division.

The two purchase baselines take one entry per client summarising the history strictly before the
cutoff, in days (the units of :mod:`features.client_features`):

- ``frequency``: repeat purchase occasions (occasions after the first one);
- ``recency``: days from the first to the last occasion (0 when ``frequency`` is 0);
- ``T``: days from the first occasion to the cutoff;
- ``monetary_value``: mean value of the repeat occasions (ignored when ``frequency`` is 0).

They return a :class:`NextPurchaseForecast` for a window of ``horizon_days`` after the cutoff.
:class:`MostFrequentDivision` works on the purchase lines themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from features.bgnbd import BetaGeoModel, repeat_history
from features.gamma_gamma import GammaGammaModel

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class NextPurchaseForecast:
    """Per-client predictions for the window ``[cutoff, cutoff + horizon_days)``."""

    horizon_days: float
    expected_occasions: FloatArray
    p_at_least_one: FloatArray
    expected_spend: FloatArray


def _repeat_value(frequency: FloatArray, monetary_value: ArrayLike) -> FloatArray:
    """The clients' mean repeat value, NaN where there is none (no repeat, or not positive)."""
    value = np.broadcast_to(np.asarray(monetary_value, dtype=np.float64), frequency.shape)
    with np.errstate(invalid="ignore"):
        return np.where((frequency > 0) & (value > 0), value, np.nan)


class BGNBDBaseline:
    """BG/NBD for occasions and P(at least one), Gamma-Gamma for the value of each occasion.

    ``fit`` estimates both models on the population at the cutoff (no labels needed);
    ``predict`` gives the expected occasions in the window, ``P(>= 1)`` from BG/NBD's count
    distribution, and the expected spend = expected occasions × Gamma-Gamma expected value.
    Clients whose repeat value is not positive (free goods, net returns) get the population
    value, like clients without repeat purchases.
    """

    name = "bgnbd"

    def __init__(self, penalizer: float = 0.0) -> None:
        self.purchases = BetaGeoModel(penalizer=penalizer)
        self.spend = GammaGammaModel()

    def fit(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary_value: ArrayLike
    ) -> BGNBDBaseline:
        """Fit BG/NBD on every client and Gamma-Gamma on those with a positive repeat value."""
        history = repeat_history(frequency, recency, T)
        self.purchases.fit(history.frequency, history.recency, history.T)
        value = _repeat_value(history.frequency, monetary_value)
        known = np.isfinite(value)
        self.spend.fit(history.frequency[known], value[known])
        return self

    def predict(
        self,
        horizon_days: float,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
    ) -> NextPurchaseForecast:
        """Expected occasions, P(>= 1) and expected spend in the next ``horizon_days``."""
        history = repeat_history(frequency, recency, T)
        args = (history.frequency, history.recency, history.T)
        expected = self.purchases.expected_purchases(horizon_days, *args)
        value = _repeat_value(history.frequency, monetary_value)
        known = np.isfinite(value)
        per_occasion = self.spend.expected_spend(np.where(known, history.frequency, 0.0), value)
        return NextPurchaseForecast(
            horizon_days=float(horizon_days),
            expected_occasions=expected,
            p_at_least_one=self.purchases.prob_at_least_one(horizon_days, *args),
            expected_spend=expected * per_occasion,
        )


class RecencyFrequencyHeuristic:
    """A transparent rule: a client's own purchase rate, faded by the time since the last one.

    For a window of ``H`` days::

        rate     = (frequency + prior_days × population_rate) / (T + prior_days)
        activity = 0.5 ** ((T - recency) / half_life_days)
        expected = H × rate × activity
        P(>= 1)  = 1 - exp(-expected)                # Poisson with that mean
        spend    = expected × (own mean repeat value, else the population's)

    ``rate`` is the repeat occasions per day of tenure, shrunk towards the population's rate
    (``Σ frequency / Σ T``) with the weight of ``prior_days`` of tenure so that new and one-time
    clients are not scored 0; ``activity`` halves every ``half_life_days`` since the last
    occasion. ``fit`` sets the population rate and value and, unless given, the half-life to the
    median gap between occasions of repeat clients (``recency / frequency``).
    """

    name = "rf_heuristic"

    def __init__(self, half_life_days: float | None = None, prior_days: float = 365.0) -> None:
        if half_life_days is not None and half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days}")
        if prior_days < 0:
            raise ValueError(f"prior_days must be non-negative, got {prior_days}")
        self.half_life_days = half_life_days
        self.prior_days = prior_days
        self.half_life_days_: float | None = None
        self.population_rate_: float | None = None
        self.population_value_: float | None = None

    def fit(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, monetary_value: ArrayLike
    ) -> RecencyFrequencyHeuristic:
        """Learn the population rate, the population value and (if not given) the half-life."""
        history = repeat_history(frequency, recency, T)
        x, t_x, age = (np.ravel(v) for v in (history.frequency, history.recency, history.T))
        if x.size == 0 or age.sum() <= 0:
            raise ValueError("cannot fit the heuristic on zero clients or zero total tenure")
        self.population_rate_ = float(x.sum() / age.sum())
        value = np.ravel(_repeat_value(history.frequency, monetary_value))
        known = np.isfinite(value)
        self.population_value_ = float(value[known].mean()) if known.any() else 0.0
        if self.half_life_days is not None:
            self.half_life_days_ = float(self.half_life_days)
        else:
            gaps = t_x[x > 0] / x[x > 0]
            median_gap = float(np.median(gaps)) if gaps.size else 0.0
            self.half_life_days_ = max(median_gap, 1.0)
        return self

    def predict(
        self,
        horizon_days: float,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
    ) -> NextPurchaseForecast:
        """Expected occasions, P(>= 1) and expected spend in the next ``horizon_days``."""
        if self.population_rate_ is None or self.half_life_days_ is None:
            raise RuntimeError("RecencyFrequencyHeuristic is not fitted: call fit() first")
        if horizon_days < 0:
            raise ValueError(f"horizon_days must be non-negative, got {horizon_days}")
        history = repeat_history(frequency, recency, T)
        x, t_x, age = history.frequency, history.recency, history.T
        rate = (x + self.prior_days * self.population_rate_) / np.maximum(
            age + self.prior_days, 1.0
        )
        activity = np.exp2(-(age - t_x) / self.half_life_days_)
        expected = horizon_days * rate * activity
        value = _repeat_value(x, monetary_value)
        per_occasion = np.where(np.isfinite(value), value, self.population_value_)
        return NextPurchaseForecast(
            horizon_days=float(horizon_days),
            expected_occasions=expected,
            p_at_least_one=-np.expm1(-expected),
            expected_spend=expected * per_occasion,
        )


class MostFrequentDivision:
    """Predict the division a client buys most often; ties go to the most recently bought.

    Works on purchase rows with ``client_id``, ``division`` and ``purchased_at`` (lines or
    occasions: the caller chooses what a count means), keeping only those strictly before the
    cutoff. Probabilities are the client's own shares, smoothed towards the population's shares
    with ``smoothing`` pseudo-purchases so that log loss stays finite; the predicted division
    gets half a pseudo-purchase more, so it is always the most probable one.
    """

    name = "most_frequent_division"

    def __init__(self, smoothing: float = 1.0) -> None:
        if smoothing <= 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        self.smoothing = smoothing
        self.classes_: list[str] | None = None
        self.prior_: dict[str, float] | None = None

    def fit(
        self,
        purchases: pl.LazyFrame | pl.DataFrame,
        cutoff: date | datetime,
        classes: Sequence[str] | None = None,
    ) -> MostFrequentDivision:
        """Learn the divisions (sorted, or ``classes``) and their population shares."""
        counts = _before(purchases, cutoff).group_by("division").agg(pl.len().alias("n")).collect()
        seen = dict(zip(counts["division"].to_list(), counts["n"].to_list(), strict=True))
        self.classes_ = sorted(seen) if classes is None else list(classes)
        if not self.classes_:
            raise ValueError("no purchase before the cutoff: cannot learn the divisions")
        unknown = sorted(set(seen) - set(self.classes_))
        if unknown:
            raise ValueError(f"divisions missing from classes: {unknown[:5]}")
        # Every class keeps a little mass, so that no probability is exactly 0.
        weights = {division: seen.get(division, 0) + 0.5 for division in self.classes_}
        total = sum(weights.values())
        self.prior_ = {division: weight / total for division, weight in weights.items()}
        return self

    def predict(
        self, purchases: pl.LazyFrame | pl.DataFrame, cutoff: date | datetime
    ) -> pl.DataFrame:
        """One row per client with a purchase before the cutoff: ``client_id``, ``division``."""
        return (
            self._scores(purchases, cutoff)
            .filter(pl.col("is_predicted"))
            .select("client_id", "division")
            .sort("client_id")
            .collect()
        )

    def predict_proba(
        self,
        purchases: pl.LazyFrame | pl.DataFrame,
        cutoff: date | datetime,
        client_ids: Sequence[str] | pl.Series | None = None,
    ) -> pl.DataFrame:
        """Division probabilities: ``client_id`` then one column per class, in ``classes_`` order.

        With ``client_ids``, exactly those clients in that order; clients without a purchase
        before the cutoff get the population shares.
        """
        if self.classes_ is None or self.prior_ is None:
            raise RuntimeError("MostFrequentDivision is not fitted: call fit() first")
        prior = pl.DataFrame(
            {"division": list(self.prior_), "prior": list(self.prior_.values())},
            schema={"division": pl.String, "prior": pl.Float64},
        ).lazy()
        scores = self._scores(purchases, cutoff).select(
            "client_id",
            "division",
            (pl.col("n") + 0.5 * pl.col("is_predicted").cast(pl.Float64)).alias("score"),
        )
        clients = scores.select("client_id").unique()
        if client_ids is not None:
            clients = pl.LazyFrame({"client_id": pl.Series(client_ids, dtype=pl.String)})
        grid = clients.with_row_index("position").join(prior, how="cross")
        proba = (
            grid.join(scores, on=["client_id", "division"], how="left")
            .with_columns(pl.col("score").fill_null(0.0))
            .with_columns(
                (
                    (pl.col("score") + self.smoothing * pl.col("prior"))
                    / (pl.col("score").sum().over("client_id") + self.smoothing)
                ).alias("probability")
            )
            .collect()
            .pivot(on="division", index=["position", "client_id"], values="probability")
        )
        ordered = proba.sort("position") if client_ids is not None else proba.sort("client_id")
        return ordered.select("client_id", *self.classes_)

    def _scores(
        self, purchases: pl.LazyFrame | pl.DataFrame, cutoff: date | datetime
    ) -> pl.LazyFrame:
        """Per client and division: purchase count, last purchase, and whether it is the pick.

        The pick has the most purchases, then the latest one, then the first name (one receipt
        spanning two divisions).
        """
        recent = _before(purchases, cutoff)
        if self.classes_ is not None:
            recent = recent.filter(pl.col("division").is_in(self.classes_))
        per_division = recent.group_by("client_id", "division").agg(
            pl.len().cast(pl.Float64).alias("n"), pl.col("purchased_at").max().alias("last")
        )
        pick = (
            pl.col("division")
            .sort_by(["n", "last", "division"], descending=[True, True, False])
            .first()
            .over("client_id")
        )
        return per_division.with_columns((pl.col("division") == pick).alias("is_predicted"))


def _before(purchases: pl.LazyFrame | pl.DataFrame, cutoff: date | datetime) -> pl.LazyFrame:
    """The purchases of identified clients strictly before the cutoff."""
    return (
        purchases.lazy()
        .select("client_id", "division", "purchased_at")
        .filter(pl.col("client_id").is_not_null(), pl.col("purchased_at") < cutoff)
    )
