"""What differs between the daily and the hourly footfall models, and where backtest origins fall.

A :class:`Granularity` names the feature columns, the key of a forecast row, the horizon and the
seasons of the baselines. :func:`backtest_origins` lays rolling origins back from the end of the
data: the first ``warmup`` of them are not scored, they only feed the conformal calibration of
the later ones (:mod:`.intervals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from features.boutique_features import (
    CATEGORICAL_BOUTIQUE_FEATURES,
    DAILY_BOUTIQUE_FEATURES,
    HOURLY_BOUTIQUE_FEATURES,
    MAX_HOURLY_HORIZON_DAYS,
)
from features.errors import UserInputError

GranularityName = Literal["daily", "hourly"]
IDENTITY_FEATURES: tuple[str, ...] = ("boutique_id",)
"""The boutique itself, a categorical feature: what its lags and profile do not say about it
(chosen on the Auckland validation origins: MASE 0.942 without, 0.927 with)."""
HORIZON_BUCKETS: dict[str, tuple[tuple[int, int], ...]] = {
    "daily": ((1, 7), (8, 14), (15, 28), (29, 56)),
    "hourly": ((1, 7), (8, 14)),
}


@dataclass(frozen=True)
class Granularity:
    """One footfall model: its rows, features, horizon and baselines."""

    name: GranularityName
    horizon_days: int
    time_column: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    naive_seasons: tuple[int, ...]
    scale_season: int

    @property
    def keys(self) -> tuple[str, ...]:
        """The key of a forecast row."""
        return ("boutique_id", "cutoff", self.time_column)

    @property
    def buckets(self) -> tuple[tuple[int, int], ...]:
        """The horizon buckets (first and last forecast day) metrics are reported by."""
        return tuple(
            bucket for bucket in HORIZON_BUCKETS[self.name] if bucket[0] <= self.horizon_days
        )

    def with_horizon(self, horizon_days: int) -> Granularity:
        """The same granularity with another horizon (checked against its maximum)."""
        maximum = MAX_HOURLY_HORIZON_DAYS if self.name == "hourly" else None
        if horizon_days < 1 or (maximum is not None and horizon_days > maximum):
            limit = f"1..{maximum}" if maximum else ">= 1"
            raise UserInputError(f"{self.name} horizon must be {limit} days, got {horizon_days}")
        return Granularity(
            self.name,
            horizon_days,
            self.time_column,
            self.features,
            self.categorical,
            self.naive_seasons,
            self.scale_season,
        )


DAILY = Granularity(
    name="daily",
    horizon_days=56,
    time_column="target_date",
    features=(*DAILY_BOUTIQUE_FEATURES, *IDENTITY_FEATURES),
    categorical=(*CATEGORICAL_BOUTIQUE_FEATURES, *IDENTITY_FEATURES),
    naive_seasons=(7, 364),
    scale_season=7,
)
HOURLY = Granularity(
    name="hourly",
    horizon_days=MAX_HOURLY_HORIZON_DAYS,
    time_column="target_hour",
    features=(*HOURLY_BOUTIQUE_FEATURES, *IDENTITY_FEATURES),
    categorical=(*CATEGORICAL_BOUTIQUE_FEATURES, *IDENTITY_FEATURES),
    naive_seasons=(168,),
    scale_season=168,
)
GRANULARITIES: dict[str, Granularity] = {"daily": DAILY, "hourly": HOURLY}


def granularity(name: str) -> Granularity:
    """The :class:`Granularity` called ``name`` ("daily" or "hourly")."""
    if name not in GRANULARITIES:
        raise UserInputError(f"granularity must be 'daily' or 'hourly', got {name!r}")
    return GRANULARITIES[name]


@dataclass(frozen=True)
class BacktestLayout:
    """Rolling backtest origins (forecast start dates), oldest first, and the training grid."""

    origins: tuple[date, ...]
    warmup: int
    horizon_days: int
    training_start: date
    training_step_days: int

    @property
    def scored(self) -> tuple[date, ...]:
        """The origins whose forecasts are scored (after the warm-up ones)."""
        return self.origins[self.warmup :]

    def training_cutoffs(self, end: date) -> list[date]:
        """Training cutoffs every ``training_step_days`` back from ``end`` (excluded) to the
        start: weekly cutoffs aligned on ``end`` so each origin sees the same weekdays."""
        step = timedelta(days=self.training_step_days)
        count = (end - self.training_start) // step
        return sorted(end - step * k for k in range(1, count + 1))

    def describe(self) -> dict[str, str | int]:
        """Parameters worth logging."""
        return {
            "backtest.origins": len(self.scored),
            "backtest.warmup_origins": self.warmup,
            "backtest.first_origin": self.scored[0].isoformat() if self.scored else "",
            "backtest.last_origin": self.origins[-1].isoformat() if self.origins else "",
            "backtest.horizon_days": self.horizon_days,
            "training.start": self.training_start.isoformat(),
            "training.step_days": self.training_step_days,
        }


def backtest_origins(
    first_day: date,
    end: date,
    horizon_days: int,
    n_origins: int,
    step_days: int,
    warmup: int = 2,
    training_step_days: int = 7,
    min_training_days: int = 182,
) -> BacktestLayout:
    """``warmup + n_origins`` origins ``step_days`` apart, the last forecast window ending at
    ``end`` (exclusive), each with at least ``min_training_days`` of data after ``first_day``.

    Origins that would leave too little training data are dropped (warm-up ones first); a
    history too short for even one scored origin is a :class:`UserInputError`.
    """
    last = end - timedelta(days=horizon_days)
    wanted = warmup + n_origins
    origins = [last - timedelta(days=step_days * k) for k in reversed(range(wanted))]
    earliest = first_day + timedelta(days=min_training_days)
    kept = [origin for origin in origins if origin >= earliest]
    if len(kept) < 1 + min(warmup, 1):
        raise UserInputError(
            f"footfall backtest: the history from {first_day} to {end} is too short for a "
            f"{horizon_days}-day horizon after {min_training_days} days of training"
        )
    kept_warmup = max(1, warmup - (wanted - len(kept))) if warmup else 0
    kept_warmup = min(kept_warmup, len(kept) - 1)
    return BacktestLayout(
        origins=tuple(kept),
        warmup=kept_warmup,
        horizon_days=horizon_days,
        training_start=first_day,
        training_step_days=training_step_days,
    )
