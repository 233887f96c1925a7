"""The recursive multi-step strategy, kept to be measured against the direct one.

A one-step model learns the next day (or the hours of the next day) from the last days'
visitors (lags of 1-7, 14, 21 and 28 days and the mean of the last 7) plus the covariates known
in advance; it is trained on the first week after each training cutoff, where every lag is an
actual value. To forecast 56 days it runs day by day: day ``d`` reads its lags from the actuals
before the cutoff and from its own forecasts of days 1..d-1. Every step forecasts all boutiques
at once. The backtest runs it beside the direct model (``compare_strategies``); the measured
figures decide which strategy ships (``benchmarks/results/footfall.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from features.random_seed import DEFAULT_SEED
from training.footfall.forecaster import GranularityModel
from training.footfall.layout import Granularity
from training.footfall.model_frame import DEFAULT_DISRUPTION_WEIGHT, training_rows
from training.footfall.models import FloatArray, feature_spec, fit_booster, predict_ratio

LAG_DAYS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 14, 21, 28)
LAG_FEATURES: tuple[str, ...] = (*(f"lag_{k}d" for k in LAG_DAYS), "lag_mean_7d")
TRAINING_HORIZON_DAYS = 7


def with_lags(rows: pl.DataFrame, series: pl.DataFrame, time_column: str) -> pl.DataFrame:
    """Add the lag features of every row from ``series`` (boutique_id, time, visitors), as
    ratios to the row's ``level``; a lag missing from the series is null."""
    lagged = rows
    for days in LAG_DAYS:
        shifted = series.select(
            "boutique_id",
            (pl.col("time") + timedelta(days=days)).alias(time_column),
            pl.col("visitors").cast(pl.Float64).alias(f"lag_{days}d"),
        )
        lagged = lagged.join(shifted, on=["boutique_id", time_column], how="left")
    recent = [f"lag_{days}d" for days in LAG_DAYS if days <= 7]
    return lagged.with_columns(
        *(pl.col(name) / pl.col("level") for name in LAG_FEATURES[:-1]),
        (pl.mean_horizontal(recent) / pl.col("level")).alias("lag_mean_7d"),
    )


@dataclass
class RecursiveModel(GranularityModel):
    """A one-step model rolled forward day by day over the actual ``series`` before each cutoff."""

    series: pl.DataFrame = field(default_factory=pl.DataFrame)

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """Forecast day 1, append it to the series, forecast day 2, ... for every cutoff."""
        time_column = self.granularity.time_column
        ratios = np.full(warm.height, np.nan)
        indexed = warm.with_row_index("_row")
        for cutoff in indexed.get_column("cutoff").unique().sort().to_list():
            start = pl.lit(cutoff).cast(self.series.schema["time"])
            known = self.series.filter(pl.col("time") < start)
            rows = indexed.filter(pl.col("cutoff") == cutoff)
            for day in rows.get_column("horizon").unique().sort().to_list():
                step = with_lags(rows.filter(pl.col("horizon") == day), known, time_column)
                predicted = predict_ratio(self.booster, self.spec, step).clip(min=0.0)
                ratios[step.get_column("_row").to_numpy()] = predicted
                known = pl.concat(
                    [
                        known,
                        step.select(
                            "boutique_id",
                            pl.col(time_column).alias("time"),
                            (pl.Series(predicted) * pl.col("level")).alias("visitors"),
                        ),
                    ],
                    how="vertical_relaxed",
                )
        return ratios


def fit_recursive_model(
    frame: pl.DataFrame,
    series: pl.DataFrame,
    grain: Granularity,
    params: Mapping[str, Any],
    seed: int = DEFAULT_SEED,
    num_threads: int = 2,
    disruption_weight: float = DEFAULT_DISRUPTION_WEIGHT,
) -> RecursiveModel:
    """Fit the one-step model on the first week after each cutoff of ``frame``; ``series``
    (boutique_id, time, visitors) holds the actuals its lags read, at training and forecast."""
    first_week = frame.filter(pl.col("horizon") <= TRAINING_HORIZON_DAYS)
    rows = with_lags(
        training_rows(first_week, grain.name == "hourly", disruption_weight),
        series,
        grain.time_column,
    )
    names = [name for name in grain.features if name != "horizon"] + list(LAG_FEATURES)
    spec = feature_spec(rows, names, grain.categorical)
    booster = fit_booster(rows, spec, params, seed=seed, num_threads=num_threads)
    return RecursiveModel(grain, spec, booster, None, dict(params), series=series)
