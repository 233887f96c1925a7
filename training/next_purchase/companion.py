"""The recency-frequency companion score that the purchase calibrators stack with the boosters.

The boosters rank clients well but learn from younger cutoffs; the recency-frequency rule of
:class:`training.baselines.next_purchase.RecencyFrequencyHeuristic` (a client's own purchase rate
faded by the time since the last purchase) is smooth in recency and frequency where trees are
step functions. Stacked on the logit scale with the booster's score by the calibrator
(:mod:`.calibration`), fitted on the validation cutoff, it lowers the log loss and calibration
error of ``p_buy`` on CDNOW's inner split (``benchmarks/results/next_purchase.md``).

The rule is unsupervised: its population rate and half-life are fitted on the features of the
validation cutoff (no label) and stored as three numbers, so that batch scoring and the
single-row path of the service compute it from the same client features as the boosters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from training.baselines.next_purchase import RecencyFrequencyHeuristic

FloatArray = NDArray[np.float64]

FEATURES: tuple[str, str, str] = ("frequency", "recency_days", "tenure_days")
"""Occasions before the cutoff, days since the last one, days since the first one."""


@dataclass(frozen=True)
class RecencyFrequencyCompanion:
    """The fitted recency-frequency rule, read from the model's feature matrix.

    ``columns`` are the positions of :data:`FEATURES` in the matrix; a client whose features are
    missing counts as a one-time client of ``default_tenure_days`` (the fitted median tenure).
    """

    columns: tuple[int, int, int]
    population_rate: float
    half_life_days: float
    prior_days: float
    default_tenure_days: float

    def p_at_least_one(self, features: FloatArray, horizon_days: float) -> FloatArray:
        """P(at least one purchase within ``horizon_days``) for each row of ``features``."""
        occasions, since_last, tenure = (features[:, c] for c in self.columns)
        known = np.isfinite(occasions) & np.isfinite(since_last) & np.isfinite(tenure)
        repeat = np.where(known, np.maximum(occasions - 1.0, 0.0), 0.0)
        age = np.where(known, np.maximum(tenure, 0.0), self.default_tenure_days)
        idle = np.where(known, np.clip(since_last, 0.0, age), age)
        rate = (repeat + self.prior_days * self.population_rate) / np.maximum(
            age + self.prior_days, 1.0
        )
        expected = horizon_days * rate * np.exp2(-idle / self.half_life_days)
        return -np.expm1(-expected)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, read back by :meth:`from_dict`."""
        return {
            "columns": list(self.columns),
            "population_rate": self.population_rate,
            "half_life_days": self.half_life_days,
            "prior_days": self.prior_days,
            "default_tenure_days": self.default_tenure_days,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RecencyFrequencyCompanion:
        """The companion described by :meth:`to_dict`."""
        first, second, third = (int(c) for c in payload["columns"])
        return cls(
            columns=(first, second, third),
            population_rate=float(payload["population_rate"]),
            half_life_days=float(payload["half_life_days"]),
            prior_days=float(payload["prior_days"]),
            default_tenure_days=float(payload["default_tenure_days"]),
        )


def fit_companion(
    features: FloatArray, feature_names: Sequence[str]
) -> RecencyFrequencyCompanion | None:
    """Fit the rule on the rows of ``features`` (no labels); None when a feature it reads is
    not among ``feature_names`` or no row has them all."""
    if any(name not in feature_names for name in FEATURES):
        return None
    first, second, third = (list(feature_names).index(name) for name in FEATURES)
    occasions, since_last, tenure = (features[:, c] for c in (first, second, third))
    known = np.isfinite(occasions) & np.isfinite(since_last) & np.isfinite(tenure)
    known &= occasions >= 1
    if not known.any() or tenure[known].sum() <= 0:
        return None
    repeat = occasions[known] - 1.0
    age = np.maximum(tenure[known], 0.0)
    first_to_last = np.where(repeat > 0, np.clip(age - since_last[known], 0.0, age), 0.0)
    rule = RecencyFrequencyHeuristic().fit(repeat, first_to_last, age, np.zeros_like(age))
    assert rule.population_rate_ is not None and rule.half_life_days_ is not None
    return RecencyFrequencyCompanion(
        columns=(first, second, third),
        population_rate=rule.population_rate_,
        half_life_days=rule.half_life_days_,
        prior_days=rule.prior_days,
        default_tenure_days=float(np.median(age)),
    )
