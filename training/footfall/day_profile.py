"""Hourly footfall blended with a daily forecast spread over the day by the recent hour profile.

The direct hourly booster learns each hour on its own and sees the day's dynamics only through
daily summaries. The *day profile* forecast of an hour is the daily model's forecast of its day
(the one-step model rolled forward, :mod:`.recursive`) times that hour's share of the
boutique's visitors on the same weekday, over the days of the last :data:`PROFILE_WEEKS` weeks
before the cutoff whose daily total is observed. :class:`DayProfileModel` averages the two
ratios with weight :data:`PROFILE_WEIGHT` on the profile; where the profile is unknown (no
observed day of that weekday in the window) the direct ratio stands alone. Both parts read only
the actuals before the cutoff.

The daily part learns from the hourly frame's own cutoffs, one row per boutique, cutoff and
target day with the daily total as label (``daily_series``), so it needs no second feature
frame. Weight and window were chosen on the Auckland hourly validation origins (the protocol
origins a year earlier): see ``benchmarks/results/auckland.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from features.boutique_features import HOURLY_ONLY_FEATURES
from features.random_seed import DEFAULT_SEED
from training.footfall.forecaster import GranularityModel, fit_granularity_model
from training.footfall.layout import Granularity, granularity
from training.footfall.model_frame import DEFAULT_DISRUPTION_WEIGHT, LABEL
from training.footfall.models import FloatArray, predict_ratio
from training.footfall.recursive import fit_recursive_model

PROFILE_WEEKS = 12
PROFILE_WEIGHT = 0.5
DAY_KEYS: tuple[str, ...] = ("boutique_id", "cutoff", "target_date")


def hour_shares(
    hourly_series: pl.DataFrame, daily_series: pl.DataFrame, cutoffs: pl.Series, weeks: int
) -> pl.DataFrame:
    """Per boutique, cutoff, weekday and hour: the hour's share of that weekday's visitors over
    the observed days (daily total not null) of the ``weeks`` weeks before the cutoff.

    ``hourly_series`` holds boutique_id, time (the local hour start) and visitors;
    ``daily_series`` boutique_id, time (the date) and visitors. A missing hour of an observed
    day is a usually-closed hour and counts as zero.
    """
    observed_days = daily_series.filter(pl.col("visitors").is_not_null()).select(
        "boutique_id", pl.col("time").cast(pl.Date).alias("date")
    )
    hours = hourly_series.select(
        "boutique_id",
        pl.col("time").dt.date().alias("date"),
        pl.col("time").dt.date().dt.weekday().alias("weekday"),
        pl.col("time").dt.hour().cast(pl.Int32).alias("hour"),
        pl.col("visitors").cast(pl.Float64).fill_null(0.0),
    ).join(observed_days, on=["boutique_id", "date"], how="semi")
    windows = pl.DataFrame({"cutoff": cutoffs.unique()}).with_columns(
        (pl.col("cutoff") - timedelta(weeks=weeks)).alias("window_start")
    )
    keys = ["boutique_id", "cutoff", "weekday"]
    return (
        hours.lazy()
        .join_where(
            windows.lazy(),
            pl.col("date") < pl.col("cutoff"),
            pl.col("date") >= pl.col("window_start"),
        )
        .group_by(*keys, "hour")
        .agg(pl.col("visitors").sum())
        .with_columns((pl.col("visitors") / pl.col("visitors").sum().over(keys)).alias("share"))
        .filter(pl.col("share").is_not_nan())
        .select(*keys, "hour", "share")
        .collect()
    )


def daily_rows(frame: pl.DataFrame, daily_series: pl.DataFrame) -> pl.DataFrame:
    """The hourly feature ``frame`` as one row per boutique, cutoff and target day, labelled
    with the day's total from ``daily_series`` (null when the day is missing)."""
    hourly_columns = [*HOURLY_ONLY_FEATURES, "target_hour", LABEL]
    labels = daily_series.select(
        "boutique_id", pl.col("time").cast(pl.Date).alias("target_date"), LABEL
    )
    return (
        frame.drop([name for name in hourly_columns if name in frame.columns])
        .unique(list(DAY_KEYS), keep="first", maintain_order=True)
        .join(labels, on=["boutique_id", "target_date"], how="left")
    )


@dataclass
class DayProfileModel(GranularityModel):
    """The direct hourly booster averaged with a daily model's forecast times hour shares."""

    daily: GranularityModel | None = None
    hourly_series: pl.DataFrame = field(default_factory=pl.DataFrame)
    daily_series: pl.DataFrame = field(default_factory=pl.DataFrame)
    weight: float = PROFILE_WEIGHT
    weeks: int = PROFILE_WEEKS

    def profile_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """The day-profile ratio of every row of the scaled hourly ``warm`` rows (NaN where
        the hour's share is unknown)."""
        if self.daily is None or warm.height == 0:
            return np.full(warm.height, np.nan)
        days = warm.unique(list(DAY_KEYS), keep="first", maintain_order=True)
        days = days.with_columns(pl.Series("day_ratio", self.daily.predict_warm_ratio(days)))
        shares = hour_shares(self.hourly_series, self.daily_series, warm["cutoff"], self.weeks)
        profiled = (
            warm.select(*DAY_KEYS, pl.col("hour").cast(pl.Int32))
            .with_columns(pl.col("target_date").dt.weekday().alias("weekday"))
            .join(
                days.select(*DAY_KEYS, "day_ratio"),
                on=list(DAY_KEYS),
                how="left",
                maintain_order="left",
            )
            .join(
                shares,
                on=["boutique_id", "cutoff", "weekday", "hour"],
                how="left",
                maintain_order="left",
            )
            .select((pl.col("day_ratio").clip(lower_bound=0.0) * pl.col("share")).fill_null(np.nan))
        )
        return profiled.to_series().to_numpy().astype(np.float64)

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """The direct ratio averaged with the day-profile ratio where that one is known."""
        direct = predict_ratio(self.booster, self.spec, warm)
        profile = self.profile_ratio(warm)
        blended = (1.0 - self.weight) * direct + self.weight * profile
        return np.where(np.isnan(profile), direct, blended)


def fit_day_profile_model(
    frame: pl.DataFrame,
    hourly_series: pl.DataFrame,
    daily_series: pl.DataFrame,
    grain: Granularity,
    params: Mapping[str, Any],
    seed: int = DEFAULT_SEED,
    num_threads: int = 2,
    disruption_weight: float = DEFAULT_DISRUPTION_WEIGHT,
    weight: float = PROFILE_WEIGHT,
    weeks: int = PROFILE_WEEKS,
) -> DayProfileModel:
    """Fit the direct hourly model and the recursive daily model on the hourly ``frame``.

    ``hourly_series`` and ``daily_series`` (boutique_id, time, visitors) hold the actuals the
    daily model's lags and the hour shares read; at a forecast only those before the cutoff
    are read.
    """
    direct = fit_granularity_model(frame, grain, params, seed, num_threads, disruption_weight)
    day_grain = granularity("daily").with_horizon(grain.horizon_days)
    daily = fit_recursive_model(
        daily_rows(frame, daily_series),
        daily_series,
        day_grain,
        params,
        seed,
        num_threads,
        disruption_weight,
    )
    return DayProfileModel(
        direct.granularity,
        direct.spec,
        direct.booster,
        None,
        dict(params),
        daily=daily,
        hourly_series=hourly_series,
        daily_series=daily_series,
        weight=weight,
        weeks=weeks,
    )
