"""Hourly footfall blended with a daily forecast spread over the day by the recent hour profile.

The direct hourly booster learns each hour on its own and sees the day's dynamics only through
daily summaries. The *day profile* forecast of an hour is the daily model's forecast of its day
(the one-step model rolled forward, :mod:`.recursive`) times that hour's share of the
boutique's visitors on the same weekday, over the days of the last :data:`PROFILE_WEEKS` weeks
before the cutoff whose daily total is observed. :class:`DayProfileModel` averages the two
ratios with weight :data:`PROFILE_WEIGHT` on the profile; where the profile is unknown (no
observed day of that weekday in the window) the direct ratio stands alone. Both parts read only
the actuals before the cutoff.

*Recurring days* are fixed calendar dates that drew a crowd in each of the last
:data:`RECURRING_YEARS` years (a New Year's Eve countdown, a yearly festival): on the same date
of every earlier year the boutique counted more than :data:`RECURRING_THRESHOLD` times the mean
of the same weekday over the :data:`BASELINE_WEEKS` weeks before it. Neither model can learn
such a day from two or three examples among thousands, and the weekday profile spreads it like
an ordinary day; so on a recurring day the forecast of an hour is the daily model's forecast
times the geometric mean of those earlier excesses times the mean share of that hour on the
same date of the earlier years. Only excesses count: the dates that were quieter than usual are
mostly public holidays, which both models already know from the calendar features.

The daily part learns from the hourly frame's own cutoffs, one row per boutique, cutoff and
target day with the daily total as label (``daily_series``), so it needs no second feature
frame. Weight, window and the recurring days' threshold were chosen on the Auckland hourly
validation origins (the protocol origins a year earlier): see ``benchmarks/results/auckland.md``.
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
RECURRING_YEARS = 2
RECURRING_THRESHOLD = 1.3
BASELINE_WEEKS = 4
DAY_KEYS: tuple[str, ...] = ("boutique_id", "cutoff", "target_date")


def observed_day_hours(hourly_series: pl.DataFrame, daily_series: pl.DataFrame) -> pl.DataFrame:
    """boutique_id, date, weekday, hour and visitors of the hours of the days whose daily total
    is observed (not null). A missing hour of such a day is a usually-closed hour: zero."""
    observed_days = daily_series.filter(pl.col("visitors").is_not_null()).select(
        "boutique_id", pl.col("time").cast(pl.Date).alias("date")
    )
    return hourly_series.select(
        "boutique_id",
        pl.col("time").dt.date().alias("date"),
        pl.col("time").dt.date().dt.weekday().alias("weekday"),
        pl.col("time").dt.hour().cast(pl.Int32).alias("hour"),
        pl.col("visitors").cast(pl.Float64).fill_null(0.0),
    ).join(observed_days, on=["boutique_id", "date"], how="semi")


def hour_shares(
    hourly_series: pl.DataFrame, daily_series: pl.DataFrame, cutoffs: pl.Series, weeks: int
) -> pl.DataFrame:
    """Per boutique, cutoff, weekday and hour: the hour's share of that weekday's visitors over
    the observed days (daily total not null) of the ``weeks`` weeks before the cutoff.

    ``hourly_series`` holds boutique_id, time (the local hour start) and visitors;
    ``daily_series`` boutique_id, time (the date) and visitors. A missing hour of an observed
    day is a usually-closed hour and counts as zero.
    """
    hours = observed_day_hours(hourly_series, daily_series)
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


def day_excesses(daily_series: pl.DataFrame, weeks: int = BASELINE_WEEKS) -> pl.DataFrame:
    """Per boutique and observed day: ``excess``, the day's visitors over the mean of the
    observed same weekdays of the ``weeks`` weeks before it (days without one are absent)."""
    days = daily_series.filter(pl.col("visitors").is_not_null()).select(
        "boutique_id",
        pl.col("time").cast(pl.Date).alias("date"),
        pl.col("visitors").cast(pl.Float64),
    )
    baseline = (
        pl.concat(
            days.with_columns(pl.col("date") + timedelta(weeks=k)) for k in range(1, weeks + 1)
        )
        .group_by("boutique_id", "date")
        .agg(pl.col("visitors").mean().alias("baseline"))
    )
    return (
        days.join(baseline, on=["boutique_id", "date"], how="inner")
        .filter(pl.col("baseline") > 0)
        .select("boutique_id", "date", (pl.col("visitors") / pl.col("baseline")).alias("excess"))
    )


def recurring_day_shares(
    hourly_series: pl.DataFrame,
    daily_series: pl.DataFrame,
    days: pl.DataFrame,
    years: int = RECURRING_YEARS,
    threshold: float = RECURRING_THRESHOLD,
) -> pl.DataFrame:
    """Per recurring day of ``days`` (boutique_id, cutoff, target_date) and hour:
    ``recurring_share``, the geometric mean of the excesses (:func:`day_excesses`) of the same
    calendar date in each of the last ``years`` years times the hour's mean share of those
    dates' visitors. A day recurs when every one of those dates is observed before the cutoff
    and each excess is above ``threshold``; other days are absent.
    """
    earlier = pl.concat(
        days.select(*DAY_KEYS, pl.col("target_date").dt.offset_by(f"-{y}y").alias("date"))
        for y in range(1, years + 1)
    ).filter(pl.col("date") < pl.col("cutoff"))
    recurring = (
        earlier.join(day_excesses(daily_series), on=["boutique_id", "date"], how="inner")
        .group_by(DAY_KEYS)
        .agg(
            pl.len().alias("years"),
            pl.col("excess").min().alias("lowest"),
            pl.col("excess").log().mean().exp().alias("factor"),
        )
        .filter((pl.col("years") == years) & (pl.col("lowest") > threshold))
    )
    dated_keys = [*DAY_KEYS, "date"]
    return (
        earlier.join(recurring.select(*DAY_KEYS, "factor"), on=list(DAY_KEYS), how="inner")
        .join(
            observed_day_hours(hourly_series, daily_series).drop("weekday"),
            on=["boutique_id", "date"],
            how="inner",
        )
        .with_columns(
            (pl.col("visitors") / pl.col("visitors").sum().over(dated_keys)).alias("share")
        )
        .filter(pl.col("share").is_not_nan())
        .group_by(*DAY_KEYS, "hour")
        .agg((pl.col("share").sum() / years * pl.col("factor").first()).alias("recurring_share"))
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
    """The direct hourly booster averaged with a daily model's forecast times hour shares, and
    the daily forecast spread by the earlier years' shape on recurring days."""

    daily: GranularityModel | None = None
    hourly_series: pl.DataFrame = field(default_factory=pl.DataFrame)
    daily_series: pl.DataFrame = field(default_factory=pl.DataFrame)
    weight: float = PROFILE_WEIGHT
    weeks: int = PROFILE_WEEKS
    recurring_threshold: float | None = RECURRING_THRESHOLD
    recurring_years: int = RECURRING_YEARS

    def profile_ratios(self, warm: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
        """The day-profile ratio and the recurring-day ratio of every row of the scaled hourly
        ``warm`` rows: NaN where the hour's share is unknown, and where the day does not recur
        (or :attr:`recurring_threshold` is None)."""
        unknown = np.full(warm.height, np.nan)
        if self.daily is None or warm.height == 0:
            return unknown, unknown.copy()
        days = warm.unique(list(DAY_KEYS), keep="first", maintain_order=True)
        days = days.with_columns(pl.Series("day_ratio", self.daily.predict_warm_ratio(days)))
        shares = hour_shares(self.hourly_series, self.daily_series, warm["cutoff"], self.weeks)
        recurring = pl.DataFrame(
            schema={**days.select(DAY_KEYS).schema, "hour": pl.Int32, "recurring_share": pl.Float64}
        )
        if self.recurring_threshold is not None:
            recurring = recurring_day_shares(
                self.hourly_series,
                self.daily_series,
                days.select(DAY_KEYS),
                self.recurring_years,
                self.recurring_threshold,
            )
        day_ratio = pl.col("day_ratio").clip(lower_bound=0.0)
        ratios = (
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
            .join(recurring, on=[*DAY_KEYS, "hour"], how="left", maintain_order="left")
            .select(
                (day_ratio * pl.col("share")).fill_null(np.nan).alias("profile"),
                (day_ratio * pl.col("recurring_share")).fill_null(np.nan).alias("recurring"),
            )
        )
        return (
            ratios["profile"].to_numpy().astype(np.float64),
            ratios["recurring"].to_numpy().astype(np.float64),
        )

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """The direct ratio averaged with the day-profile ratio where that one is known; the
        recurring-day ratio alone on a recurring day."""
        direct = predict_ratio(self.booster, self.spec, warm)
        profile, recurring = self.profile_ratios(warm)
        blended = (1.0 - self.weight) * direct + self.weight * profile
        blended = np.where(np.isnan(profile), direct, blended)
        return np.where(np.isnan(recurring), blended, recurring)


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
    recurring_threshold: float | None = RECURRING_THRESHOLD,
) -> DayProfileModel:
    """Fit the direct hourly model and the recursive daily model on the hourly ``frame``.

    ``hourly_series`` and ``daily_series`` (boutique_id, time, visitors) hold the actuals the
    daily model's lags, the hour shares and the recurring days read; at a forecast only those
    before the cutoff are read. ``recurring_threshold`` None leaves recurring days out.
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
        recurring_threshold=recurring_threshold,
    )
