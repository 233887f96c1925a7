"""The footfall model's multi-step strategies, and the function fitting each on a feature frame.

- ``direct``: one model with the horizon as a feature (:mod:`.forecaster`);
- ``recursive``: a one-step model rolled forward over the horizon (:mod:`.recursive`), which
  reads the observed series for its lags;
- ``day_profile`` (hourly): the direct hourly model blended with the daily model spread by each
  weekday's hour shares (:mod:`.day_profile`), which reads the hourly and daily series.

The training pipeline and the Auckland benchmark both build their fitters here, so a strategy
means the same model wherever it is measured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import polars as pl

from features.history import PurchaseHistory
from training.footfall.backtest import Fitter, footfall_series
from training.footfall.day_profile import fit_day_profile_model
from training.footfall.forecaster import GranularityModel, fit_granularity_model
from training.footfall.layout import Granularity, granularity
from training.footfall.recursive import fit_recursive_model

FIT_MODEL: dict[str, Callable[..., GranularityModel]] = {
    "direct": fit_granularity_model,
    "recursive": fit_recursive_model,
    "day_profile": fit_day_profile_model,
}
"""The fitting function of each strategy."""


def observed_series(
    strategy: str, history: PurchaseHistory, grain: Granularity, before: date | None = None
) -> dict[str, pl.DataFrame]:
    """The observed series ``strategy``'s fitting function reads, by argument name (none for
    the direct model), keeping only the counts before ``before`` when given."""

    def observed(of: Granularity) -> pl.DataFrame:
        counts = footfall_series(history, of)
        return counts if before is None else counts.filter(pl.col("time").cast(pl.Date) < before)

    if strategy == "recursive":
        return {"series": observed(grain)}
    if strategy == "day_profile":
        return {"hourly_series": observed(grain), "daily_series": observed(granularity("daily"))}
    return {}


def strategy_fitter(
    strategy: str,
    grain: Granularity,
    params: Mapping[str, Any],
    seed: int,
    num_threads: int,
    disruption_weight: float,
    series: Mapping[str, pl.DataFrame] | None = None,
) -> Fitter:
    """A function fitting ``strategy``'s model of ``grain`` on a feature frame; ``series`` are
    the observed counts it reads (:func:`observed_series`)."""
    return functools.partial(
        FIT_MODEL[strategy],
        grain=grain,
        params=params,
        seed=seed,
        num_threads=num_threads,
        disruption_weight=disruption_weight,
        **(series or {}),
    )
