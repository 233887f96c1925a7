"""Per-boutique footfall features at any cutoff, daily and hourly, direct multi-horizon layout.

A frame at cutoff t has one row per boutique and target day (or hour) in [t, t + horizon): the
features from footfall strictly before t, the covariates known in advance for the target (the
calendar, the country's public holidays, the maison's events, the usual opening hours, the
boutique's age and format) and the label, the target's visitors (null when missing). One model
per granularity then forecasts every horizon at once, with ``horizon`` as a feature.

Several cutoffs are computed in one lazy query (every statistic is grouped by boutique and
cutoff), which is what :func:`build_boutique_training_frame` does for training.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

import polars as pl

from features.calendar import (
    CALENDAR_FEATURES,
    EVENT_FEATURES,
    HOLIDAY_FEATURES,
    RETAIL_PERIOD_FEATURES,
    calendar_features,
    check_countries,
    event_flags,
    holiday_calendar,
    retail_period_features,
)
from features.errors import UserInputError
from features.footfall_series import (
    HOURS,
    cutoff_frame,
    daily_footfall,
    daily_from_hourly,
    hour_of_week_profile,
    hourly_footfall,
    opening_hours,
    physical_boutiques,
)
from features.history import PurchaseHistory

__all__ = [
    "BOUTIQUE_FEATURES",
    "BOUTIQUE_PROFILE_COLUMNS",
    "CATEGORICAL_BOUTIQUE_FEATURES",
    "DAILY_BOUTIQUE_FEATURES",
    "HOURLY_BOUTIQUE_FEATURES",
    "boutique_daily_features",
    "boutique_hourly_features",
    "boutique_profile_features",
    "build_boutique_training_frame",
    "daily_footfall",
    "hourly_footfall",
    "opening_hours",
]

MAX_HOURLY_HORIZON_DAYS = 14
COLD_START_DAYS = 56
"""A boutique with fewer observed days than this (8 weeks) is a cold start."""
ROLLING_DAYS = (7, 28, 91)
SAME_DAY_LAST_YEAR = timedelta(days=364)
LABEL = "visitors"
DAILY_KEYS = ("boutique_id", "cutoff", "target_date")
HOURLY_KEYS = ("boutique_id", "cutoff", "target_date", "target_hour")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

HISTORY_FEATURES: dict[str, str] = {
    "visitors_last": "Visitors of the last observed day before the cutoff.",
    "days_since_last_observed": "Days from the last observed day to the cutoff.",
    **{
        f"visitors_{statistic}_{days}": f"{label} of daily visitors over the last {days} observed "
        "days before the cutoff (missing days skipped)."
        for days in ROLLING_DAYS
        for statistic, label in (("mean", "Mean"), ("median", "Median"), ("std", "Std"))
    },
    "same_weekday_mean_4w": "Mean visitors of the target's weekday over the 4 weeks before the "
    "cutoff (observed days only).",
    "same_weekday_mean_8w": "Mean visitors of the target's weekday over the 8 weeks before the "
    "cutoff (observed days only).",
    "same_day_last_year": "Visitors 364 days before the target date, when that is before the "
    "cutoff.",
    "level_trend_28": "Log ratio of mean visitors in the 28 days before the cutoff to the 28 "
    "days before those.",
    "level_vs_last_year_28": "Log ratio of mean visitors in the 28 days before the cutoff to the "
    "same 28 days a year (364 days) earlier.",
    "missing_share_28": "Share of missing days among the boutique's days in the 28 days before "
    "the cutoff.",
    "days_observed": "Number of observed days before the cutoff.",
}

TARGET_FEATURES: dict[str, str] = {
    "horizon": "Days ahead of the cutoff, 1 for the cutoff day itself.",
    "open_hours": "Usual open hours on the target's weekday, inferred from the 8 weeks before "
    "the cutoff.",
    "boutique_age_days": "Days since the boutique opened, at the target date.",
    "format": "Boutique format: flagship, boutique, corner or outlet.",
    "country": "Country of the boutique (ISO 3166-1 alpha-2).",
}

HOURLY_ONLY_FEATURES: dict[str, str] = {
    "hour": "Hour of the day of the target hour (0-23, local time).",
    "is_open_hour": "The boutique is usually open at the target's weekday and hour (8 weeks "
    "before the cutoff); false hours are expected to have no visitors.",
    "hour_of_week_mean_4w": "Mean visitors at the target's weekday and hour over the 4 weeks "
    "before the cutoff (observed hours only).",
    "hour_of_week_mean_8w": "Mean visitors at the target's weekday and hour over the 8 weeks "
    "before the cutoff (observed hours only).",
    "same_hour_last_week": "Visitors 168 hours before the target hour, when that is before the "
    "cutoff.",
}

DAILY_BOUTIQUE_FEATURES: tuple[str, ...] = (
    "horizon",
    *HISTORY_FEATURES,
    *CALENDAR_FEATURES,
    *RETAIL_PERIOD_FEATURES,
    *HOLIDAY_FEATURES,
    *EVENT_FEATURES,
    "open_hours",
    "boutique_age_days",
    "format",
    "country",
)
"""The feature columns of :func:`boutique_daily_features`, in frame order."""

HOURLY_BOUTIQUE_FEATURES: tuple[str, ...] = (*DAILY_BOUTIQUE_FEATURES, *HOURLY_ONLY_FEATURES)
"""The feature columns of :func:`boutique_hourly_features`, in frame order."""

BOUTIQUE_FEATURES: dict[str, str] = {
    name: {
        **HISTORY_FEATURES,
        **TARGET_FEATURES,
        **CALENDAR_FEATURES,
        **RETAIL_PERIOD_FEATURES,
        **HOLIDAY_FEATURES,
        **EVENT_FEATURES,
        **HOURLY_ONLY_FEATURES,
    }[name]
    for name in HOURLY_BOUTIQUE_FEATURES
}
"""Every feature column of the daily and hourly boutique frames, with a one-line description."""

CATEGORICAL_BOUTIQUE_FEATURES: tuple[str, ...] = ("format", "country")

BOUTIQUE_PROFILE_COLUMNS: dict[str, str] = {
    "boutique_age_days": "Days since the boutique opened, at the cutoff (negative before).",
    "days_observed": HISTORY_FEATURES["days_observed"],
    "is_cold_start": f"Fewer than {COLD_START_DAYS} observed days before the cutoff.",
    "days_since_last_observed": HISTORY_FEATURES["days_since_last_observed"],
    "visitors_last": HISTORY_FEATURES["visitors_last"],
    "visitors_mean_28": HISTORY_FEATURES["visitors_mean_28"],
    "visitors_median_28": HISTORY_FEATURES["visitors_median_28"],
    "visitors_std_28": HISTORY_FEATURES["visitors_std_28"],
    "level_trend_28": HISTORY_FEATURES["level_trend_28"],
    "missing_share_28": HISTORY_FEATURES["missing_share_28"],
    **{
        f"weekday_profile_{name}": f"Mean visitors on {name.title()} over the 8 weeks before the "
        "cutoff, relative to the mean over all weekdays."
        for name in WEEKDAY_NAMES
    },
    **{
        f"open_hours_{name}": f"Usual open hours on {name.title()} (8 weeks before the cutoff)."
        for name in WEEKDAY_NAMES
    },
}
"""The columns of :func:`boutique_profile_features` besides boutique_id and cutoff; the
boutique's own attributes (country, format, dates) stay in the boutiques table."""


def checked_cutoffs(cutoffs: list[date]) -> list[date]:
    """The distinct cutoffs in order, or UserInputError when there are none or one is no date."""
    if not cutoffs:
        raise UserInputError("boutique features: give at least one cutoff date")
    for cutoff in cutoffs:
        if isinstance(cutoff, datetime) or not isinstance(cutoff, date):
            raise UserInputError(f"boutique features: cutoff {cutoff!r} must be a date, not a time")
    return sorted(set(cutoffs))


def checked_horizon(horizon_days: int, maximum: int | None = None) -> int:
    """``horizon_days`` when it is a whole number of days within [1, maximum]."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise UserInputError(f"boutique features: horizon_days must be >= 1, got {horizon_days!r}")
    if maximum is not None and horizon_days > maximum:
        raise UserInputError(
            f"boutique features: hourly horizon_days must be <= {maximum}, got {horizon_days}"
        )
    return horizon_days


def boutique_table(history: PurchaseHistory) -> pl.DataFrame:
    """The physical boutiques, read once (a small table), with their countries checked."""
    boutiques = physical_boutiques(history).collect()
    try:
        check_countries(boutiques["country"].to_list())
    except UserInputError as error:
        raise UserInputError(f"boutiques: column 'country': {error}") from None
    return boutiques


def history_statistics(daily: pl.LazyFrame, cutoffs: pl.LazyFrame) -> pl.LazyFrame:
    """Per boutique and cutoff, the level statistics of the daily series strictly before it."""
    days_before = {days: pl.col("cutoff") - timedelta(days=days) for days in (28, 56, 364, 392)}
    day, visitors = pl.col("date"), pl.col("visitors")
    observed = visitors.sort_by("date").drop_nulls()
    rolling = [
        getattr(observed.tail(days), statistic)().alias(f"visitors_{statistic}_{days}")
        for days in ROLLING_DAYS
        for statistic in ("mean", "median", "std")
    ]
    recent = visitors.filter(day >= days_before[28])
    prior = visitors.filter(day.is_between(days_before[56], days_before[28], closed="left"))
    last_year = visitors.filter(day.is_between(days_before[392], days_before[364], closed="left"))
    return (
        daily.join_where(cutoffs, day < pl.col("cutoff"))
        .group_by("boutique_id", "cutoff")
        .agg(
            observed.last().alias("visitors_last"),
            (pl.col("cutoff").first() - day.filter(visitors.is_not_null()).max())
            .dt.total_days()
            .cast(pl.Int32)
            .alias("days_since_last_observed"),
            *rolling,
            recent.mean().log1p().alias("recent_level"),
            prior.mean().log1p().alias("prior_level"),
            last_year.mean().log1p().alias("last_year_level"),
            recent.is_null().mean().alias("missing_share_28"),
            visitors.is_not_null().sum().cast(pl.Int32).alias("days_observed"),
        )
        .with_columns(
            (pl.col("recent_level") - pl.col("prior_level")).alias("level_trend_28"),
            (pl.col("recent_level") - pl.col("last_year_level")).alias("level_vs_last_year_28"),
        )
        .drop("recent_level", "prior_level", "last_year_level")
    )


def weekday_statistics(daily: pl.LazyFrame, cutoffs: pl.LazyFrame) -> pl.LazyFrame:
    """Per boutique, cutoff and weekday: mean visitors over the 4 and 8 weeks before the cutoff."""
    visitors = pl.col("visitors")
    return (
        daily.join_where(
            cutoffs,
            pl.col("date") < pl.col("cutoff"),
            pl.col("date") >= pl.col("window_start"),
        )
        .group_by("boutique_id", "cutoff", "weekday")
        .agg(
            visitors.filter(pl.col("date") >= pl.col("cutoff") - timedelta(weeks=4))
            .mean()
            .alias("same_weekday_mean_4w"),
            visitors.mean().alias("same_weekday_mean_8w"),
        )
    )


def target_days(boutiques: pl.LazyFrame, cutoffs: pl.LazyFrame, horizon_days: int) -> pl.LazyFrame:
    """Every (boutique, cutoff, target_date) with target_date in [cutoff, cutoff + horizon) on
    which the boutique is open: from ``opened_on`` on and before ``closed_on``."""
    target_date = pl.col("target_date")
    return (
        boutiques.join(cutoffs.select("cutoff"), how="cross")
        .with_columns(
            pl.date_ranges("cutoff", pl.col("cutoff") + timedelta(days=horizon_days - 1)).alias(
                "target_date"
            )
        )
        .explode("target_date")
        .filter(
            (target_date >= pl.col("opened_on"))
            & (pl.col("closed_on").is_null() | (target_date < pl.col("closed_on")))
        )
        .with_columns(
            ((target_date - pl.col("cutoff")).dt.total_days() + 1).cast(pl.Int32).alias("horizon"),
            (target_date - pl.col("opened_on"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("boutique_age_days"),
        )
    )


def daily_frame(
    history: PurchaseHistory,
    boutiques: pl.DataFrame,
    hourly: pl.LazyFrame,
    daily: pl.LazyFrame,
    cutoffs: list[date],
    horizon_days: int,
) -> pl.LazyFrame:
    """The daily feature frame of several cutoffs, from the hourly and daily series."""
    cutoff_rows = cutoff_frame(cutoffs)
    open_hours = (
        hour_of_week_profile(hourly, cutoff_rows)
        .select("boutique_id", "cutoff", "weekday", "open_hours")
        .unique(["boutique_id", "cutoff", "weekday"])
    )
    holidays = holiday_calendar(
        boutiques["country"].to_list(),
        min(cutoffs),
        max(cutoffs) + timedelta(days=horizon_days - 1),
    ).rename({"date": "target_date"})
    targets = target_days(boutiques.lazy(), cutoff_rows, horizon_days).with_columns(
        *calendar_features("target_date"), *retail_period_features("target_date")
    )
    last_year = daily.select(
        "boutique_id",
        (pl.col("date") + SAME_DAY_LAST_YEAR).alias("target_date"),
        pl.col("date").alias("last_year_date"),
        pl.col("visitors").alias("same_day_last_year"),
    )
    label = daily.select("boutique_id", pl.col("date").alias("target_date"), LABEL)
    frame = (
        targets.join(
            history_statistics(daily, cutoff_rows), on=["boutique_id", "cutoff"], how="left"
        )
        .join(
            weekday_statistics(daily, cutoff_rows),
            on=["boutique_id", "cutoff", "weekday"],
            how="left",
        )
        .join(open_hours, on=["boutique_id", "cutoff", "weekday"], how="left")
        .join(last_year, on=["boutique_id", "target_date"], how="left")
        .with_columns(
            pl.when(pl.col("last_year_date") < pl.col("cutoff")).then(pl.col("same_day_last_year"))
        )
        .join(holidays.lazy(), on=["country", "target_date"], how="left")
        .join(label, on=["boutique_id", "target_date"], how="left")
        .with_columns(pl.col("days_observed").fill_null(0))
    )
    frame = event_flags(history.events, boutiques.lazy(), frame, date_column="target_date")
    return frame.select(*DAILY_KEYS, *DAILY_BOUTIQUE_FEATURES, LABEL).sort(
        "cutoff", "boutique_id", "target_date"
    )


def hourly_frame(
    history: PurchaseHistory,
    boutiques: pl.DataFrame,
    hourly: pl.LazyFrame,
    daily: pl.LazyFrame,
    cutoffs: list[date],
    horizon_days: int,
) -> pl.LazyFrame:
    """The hourly feature frame of several cutoffs: the daily rows times the 24 hours."""
    profile = hour_of_week_profile(hourly, cutoff_frame(cutoffs)).select(
        "boutique_id",
        "cutoff",
        "weekday",
        "hour",
        pl.col("is_open").alias("is_open_hour"),
        "hour_of_week_mean_4w",
        "hour_of_week_mean_8w",
    )
    last_week = hourly.select(
        "boutique_id",
        (pl.col("hour_start") + timedelta(weeks=1)).alias("target_hour"),
        pl.col("visitors").alias("same_hour_last_week"),
    )
    label = hourly.select("boutique_id", pl.col("hour_start").alias("target_hour"), LABEL)
    days = daily_frame(history, boutiques, hourly, daily, cutoffs, horizon_days).drop(LABEL)
    last_week_is_past = (pl.col("target_hour") - timedelta(weeks=1)) < pl.col("cutoff").cast(
        pl.Datetime("us")
    )
    return (
        days.join(HOURS, how="cross")
        .with_columns(
            (
                pl.col("target_date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour"))
            ).alias("target_hour")
        )
        .join(profile, on=["boutique_id", "cutoff", "weekday", "hour"], how="left")
        .join(last_week, on=["boutique_id", "target_hour"], how="left")
        .with_columns(pl.when(last_week_is_past).then(pl.col("same_hour_last_week")))
        .join(label, on=["boutique_id", "target_hour"], how="left")
        .select(*HOURLY_KEYS, *HOURLY_BOUTIQUE_FEATURES, LABEL)
        .sort("cutoff", "boutique_id", "target_hour")
    )


def boutique_daily_features(
    history: PurchaseHistory, cutoff: date, horizon_days: int
) -> pl.LazyFrame:
    """One row per (boutique_id, cutoff, target_date) for target dates in [cutoff, cutoff + H).

    Features use footfall strictly before ``cutoff``; covariates describe the target date; the
    label ``visitors`` is the target date's daily footfall (null when missing). Closed boutiques
    and the online boutique get no rows; a boutique opening within the horizon gets rows from
    its ``opened_on`` on. Columns: :data:`DAILY_BOUTIQUE_FEATURES` between the keys and label.
    """
    (cutoff,) = checked_cutoffs([cutoff])
    horizon_days = checked_horizon(horizon_days)
    boutiques = boutique_table(history)
    hourly = hourly_footfall(history, until=cutoff + timedelta(days=horizon_days))
    daily = daily_from_hourly(hourly)
    return daily_frame(history, boutiques, hourly, daily, [cutoff], horizon_days)


def boutique_hourly_features(
    history: PurchaseHistory, cutoff: date, horizon_days: int
) -> pl.LazyFrame:
    """One row per (boutique_id, cutoff, target_hour) for the hours of [cutoff, cutoff + H).

    The daily features of the target date plus the hour, the usual opening of that weekday and
    hour, the hour-of-week level of the last 4 and 8 weeks and the same hour a week earlier; the
    label is the hour's visitors (null when missing). ``horizon_days`` is at most 14.
    """
    (cutoff,) = checked_cutoffs([cutoff])
    horizon_days = checked_horizon(horizon_days, MAX_HOURLY_HORIZON_DAYS)
    boutiques = boutique_table(history)
    hourly = hourly_footfall(history, until=cutoff + timedelta(days=horizon_days))
    daily = daily_from_hourly(hourly)
    return hourly_frame(history, boutiques, hourly, daily, [cutoff], horizon_days)


def build_boutique_training_frame(
    history: PurchaseHistory,
    cutoffs: list[date],
    horizon_days: int,
    granularity: Literal["daily", "hourly"] = "daily",
) -> pl.DataFrame:
    """The daily or hourly feature frames of several cutoffs, stacked and sorted by cutoff.

    Equal to concatenating :func:`boutique_daily_features` (or the hourly one) per cutoff, but
    computed in one query over one cleaned series.
    """
    cutoffs = checked_cutoffs(list(cutoffs))
    if granularity not in ("daily", "hourly"):
        raise UserInputError(
            f"boutique features: granularity must be 'daily' or 'hourly', got {granularity!r}"
        )
    maximum = MAX_HOURLY_HORIZON_DAYS if granularity == "hourly" else None
    horizon_days = checked_horizon(horizon_days, maximum)
    boutiques = boutique_table(history)
    # The cleaned series feed several statistics: materialise them once rather than per use.
    hourly = hourly_footfall(history, until=max(cutoffs) + timedelta(days=horizon_days)).collect()
    daily = daily_from_hourly(hourly.lazy()).collect()
    build = daily_frame if granularity == "daily" else hourly_frame
    return build(history, boutiques, hourly.lazy(), daily.lazy(), cutoffs, horizon_days).collect()


def boutique_profile_features(history: PurchaseHistory, cutoff: date) -> pl.LazyFrame:
    """The latest footfall summary of each physical boutique not closed by ``cutoff``.

    Level, weekly profile, opening hours and days observed from footfall before the cutoff: what
    the online snapshot serves and what a cold start (fewer than 8 observed weeks) leans on.
    Columns: boutique_id, cutoff and :data:`BOUTIQUE_PROFILE_COLUMNS`.
    """
    (cutoff,) = checked_cutoffs([cutoff])
    boutiques = boutique_table(history).filter(
        pl.col("closed_on").is_null() | (pl.col("closed_on") > cutoff)
    )
    hourly = hourly_footfall(history, until=cutoff, before=cutoff)
    daily = daily_from_hourly(hourly)
    cutoff_rows = cutoff_frame([cutoff])
    weekly = (
        weekday_statistics(daily, cutoff_rows)
        .join(
            hour_of_week_profile(hourly, cutoff_rows)
            .select("boutique_id", "weekday", "open_hours")
            .unique(["boutique_id", "weekday"]),
            on=["boutique_id", "weekday"],
            how="left",
        )
        .with_columns(
            (
                pl.col("same_weekday_mean_8w")
                / pl.col("same_weekday_mean_8w").mean().over("boutique_id")
            ).alias("weekday_profile")
        )
        .group_by("boutique_id")
        .agg(
            *(
                pl.col(column).filter(pl.col("weekday") == number).first().alias(f"{column}_{name}")
                for column in ("weekday_profile", "open_hours")
                for number, name in enumerate(WEEKDAY_NAMES, start=1)
            )
        )
    )
    return (
        boutiques.lazy()
        .with_columns(
            pl.lit(cutoff).alias("cutoff"),
            (pl.lit(cutoff) - pl.col("opened_on"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("boutique_age_days"),
        )
        .join(history_statistics(daily, cutoff_rows).drop("cutoff"), on="boutique_id", how="left")
        .join(weekly, on="boutique_id", how="left")
        .with_columns(
            pl.col("days_observed").fill_null(0),
            (pl.col("days_observed").fill_null(0) < COLD_START_DAYS).alias("is_cold_start"),
        )
        .select("boutique_id", "cutoff", *BOUTIQUE_PROFILE_COLUMNS)
        .sort("boutique_id")
    )
