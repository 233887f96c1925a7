"""Which cutoffs train, validate, test and refit the next-purchase model.

For a horizon ``H`` and an as-of date (the first day *without* data), the default layout is::

    test        = as_of - H                       label window [test, as_of) closes at as_of
    validation  = test - H                        window closes on the test cutoff
    training    = validation - H - k × step       windows close on or before the validation cutoff
                  for k = 0 .. n_training - 1, while at least ``min_history_days`` of history

The backtest model is fitted on ``training``, stopped early and calibrated on ``validation`` and
scored on ``test``: no label it learns from or is calibrated on falls in the test window. The
*production* model repeats the same recipe one horizon later: fitted on the cutoffs whose
windows close on or before the test cutoff, stopped early and calibrated on the test cutoff, so
it learns from the freshest complete windows while its calibration still comes from a window it
was not fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from features.errors import UserInputError


@dataclass(frozen=True)
class CutoffLayout:
    """The cutoffs of one backtest and of the production refit that follows it."""

    horizon_days: int
    training: tuple[date, ...]
    validation: date
    test: date
    production_training: tuple[date, ...]

    @property
    def production_validation(self) -> date:
        """The cutoff that stops and calibrates the production model: the test cutoff."""
        return self.test

    def describe(self) -> dict[str, str]:
        """The layout as strings, for MLflow parameters and reports."""
        return {
            "horizon_days": str(self.horizon_days),
            "training_cutoffs": ",".join(day.isoformat() for day in self.training),
            "validation_cutoff": self.validation.isoformat(),
            "test_cutoff": self.test.isoformat(),
            "production_training_cutoffs": ",".join(
                day.isoformat() for day in self.production_training
            ),
        }


def _stepped_back(last: date, step_days: int, count: int, earliest: date) -> tuple[date, ...]:
    """Up to ``count`` cutoffs ``last, last - step, ...`` not before ``earliest``, oldest first."""
    cutoffs = [last - timedelta(days=k * step_days) for k in range(count)]
    return tuple(sorted(day for day in cutoffs if day >= earliest))


def cutoff_layout(
    as_of: date,
    first_day: date,
    horizon_days: int = 90,
    step_days: int = 45,
    n_training: int = 6,
    min_history_days: int = 90,
) -> CutoffLayout:
    """The default layout for data from ``first_day`` up to (not including) ``as_of``.

    ``min_history_days`` keeps the first training cutoff that far after the first purchase, so
    that features at it describe some history. Raises UserInputError when the history is too
    short for one training cutoff.
    """
    if horizon_days <= 0 or step_days <= 0 or n_training <= 0:
        raise UserInputError("horizon_days, step_days and n_training must be positive")
    test = as_of - timedelta(days=horizon_days)
    validation = test - timedelta(days=horizon_days)
    earliest = first_day + timedelta(days=min_history_days)
    training = _stepped_back(
        validation - timedelta(days=horizon_days), step_days, n_training, earliest
    )
    production = _stepped_back(validation, step_days, n_training, earliest)
    if not training:
        needed = min_history_days + 3 * horizon_days
        raise UserInputError(
            f"history from {first_day} to {as_of} is too short to train the next-purchase model: "
            f"it needs at least {needed} days ({min_history_days} of history before the first "
            f"training cutoff, then training, validation and test windows of {horizon_days} days)"
        )
    return CutoffLayout(horizon_days, training, validation, test, production)
