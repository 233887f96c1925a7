"""The cleaned footfall series of each physical boutique, hourly and daily, with gaps kept missing.

The footfall table holds hourly sensor counts in boutique-local time; a missing hour is absent or
null, never zero. This module lays each boutique's hours on a complete grid so that a gap is an
explicit null, infers the usual opening hours from the counts themselves, and totals days: a day
with any usually-open hour missing is missing, not a partial sum.

"Usually open" at a weekday and hour means: the median of the observed counts of that weekday
and hour over the previous 8 weeks is above zero. For a day it uses the 8 weeks before that day,
so each day's completeness depends only on its past; at a cutoff it uses the 8 weeks before the
cutoff (:func:`opening_hours`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl

from features.history import PurchaseHistory

OPENING_WINDOW_WEEKS = 8
"""Weeks of footfall that decide whether a weekday and hour is usually open."""

HOURS = pl.LazyFrame({"hour": list(range(24))}, schema={"hour": pl.Int8})


def cutoff_datetime(cutoff: date) -> datetime:
    """Midnight at the start of ``cutoff``: footfall strictly before it is the past."""
    return datetime.combine(cutoff, time())


def physical_boutiques(history: PurchaseHistory) -> pl.LazyFrame:
    """The boutiques that have a door (every format but online), with their dates and country."""
    return history.boutiques.filter(
        pl.col("boutique_id").is_not_null()
        & pl.col("format").str.to_lowercase().ne_missing("online")
    ).select("boutique_id", "country", "format", "opened_on", "closed_on")


def footfall_observations(history: PurchaseHistory, before: date | None = None) -> pl.LazyFrame:
    """The footfall rows of physical boutiques while open, one per boutique and hour.

    Negative counts are sensor faults and become null; a repeated hour keeps its largest count;
    rows before ``opened_on`` or from ``closed_on`` on are dropped. With ``before``, only hours
    strictly before that day's midnight are kept.
    """
    rows = history.footfall.select(
        "boutique_id",
        pl.col("hour_start").dt.truncate("1h"),
        pl.when(pl.col("visitors") >= 0).then(pl.col("visitors")).alias("visitors"),
    ).filter(pl.col("boutique_id").is_not_null() & pl.col("hour_start").is_not_null())
    if before is not None:
        rows = rows.filter(pl.col("hour_start") < cutoff_datetime(before))
    day = pl.col("hour_start").dt.date()
    return (
        rows.join(physical_boutiques(history), on="boutique_id", how="inner")
        .filter(
            (day >= pl.col("opened_on"))
            & (pl.col("closed_on").is_null() | (day < pl.col("closed_on")))
        )
        .group_by("boutique_id", "hour_start")
        .agg(pl.col("visitors").max())
    )


def boutique_spans(
    history: PurchaseHistory, observations: pl.LazyFrame, until: date | None
) -> pl.LazyFrame:
    """Per boutique, the days [start, end) its footfall series covers.

    It starts at the first observed hour (a sensor installed after the opening is no gap) and
    ends at ``closed_on`` or ``until``, by default the day after the last footfall of any
    boutique, so that a sensor that went silent shows as missing days.
    """
    first_observed = (
        observations.filter(pl.col("visitors").is_not_null())
        .group_by("boutique_id")
        .agg(pl.col("hour_start").min().dt.date().alias("first_observed"))
    )
    if until is None:
        end_of_data = observations.select(
            (pl.col("hour_start").max().dt.date() + pl.duration(days=1)).alias("until")
        )
    else:
        end_of_data = pl.LazyFrame({"until": [until]}, schema={"until": pl.Date})
    return (
        first_observed.join(physical_boutiques(history), on="boutique_id", how="inner")
        .join(end_of_data, how="cross")
        .select(
            "boutique_id",
            pl.max_horizontal("first_observed", "opened_on").alias("start"),
            pl.min_horizontal("closed_on", "until").alias("end"),
        )
        .filter(pl.col("start") < pl.col("end"))
    )


def usually_open(observed: pl.Expr, positive: pl.Expr) -> pl.Expr:
    """Whether the median of ``observed`` non-negative counts, ``positive`` of them above zero,
    is above zero: at least half of them are positive. False when nothing was observed."""
    return (observed > 0) & (2 * positive >= observed)


def previous_weeks_count(condition: pl.Expr) -> pl.Expr:
    """How many of the previous 8 same weekday-and-hour slots of the boutique meet ``condition``.

    On the complete hourly grid the rows of a (boutique, weekday, hour) slot are one week apart,
    so a rolling sum over the slot's previous 8 rows covers exactly the 8 weeks before.
    """
    return (
        condition.fill_null(False)
        .cast(pl.Int32)
        .rolling_sum(OPENING_WINDOW_WEEKS, min_samples=1)
        .shift(1)
        .fill_null(0)
        .over("boutique_id", "weekday", "hour", order_by="date")
    )


def hourly_footfall(
    history: PurchaseHistory, until: date | None = None, *, before: date | None = None
) -> pl.LazyFrame:
    """The cleaned hourly series: every hour of every day of each boutique's span, gaps null.

    Columns: boutique_id, hour_start (local), date, weekday (1 = Monday), hour, visitors (null
    when absent or null in the source, never zero-filled) and is_usually_open (the boutique was
    usually open at that weekday and hour over the 8 weeks before that day). ``until`` ends the
    grid (exclusive); ``before`` ignores footfall from that day on, as if it were today.
    """
    observations = footfall_observations(history, before)
    visitors = pl.col("visitors")
    hour_start = pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour"))
    return (
        boutique_spans(history, observations, until)
        .select("boutique_id", pl.date_ranges("start", "end", closed="left").alias("date"))
        .explode("date")
        .join(HOURS, how="cross")
        .with_columns(hour_start.alias("hour_start"), pl.col("date").dt.weekday().alias("weekday"))
        .join(observations, on=["boutique_id", "hour_start"], how="left")
        .with_columns(
            usually_open(
                previous_weeks_count(visitors.is_not_null()), previous_weeks_count(visitors > 0)
            ).alias("is_usually_open")
        )
        .select(
            "boutique_id", "hour_start", "date", "weekday", "hour", "visitors", "is_usually_open"
        )
    )


def daily_from_hourly(hourly: pl.LazyFrame) -> pl.LazyFrame:
    """Daily totals of an :func:`hourly_footfall` frame, null when a usually-open hour is missing.

    A day with no observed hour at all is missing too: absent counts are never read as zero.
    """
    visitors = pl.col("visitors")
    return (
        hourly.group_by("boutique_id", "date")
        .agg(
            visitors.sum().alias("total"),
            visitors.is_not_null().sum().cast(pl.Int32).alias("observed_hours"),
            (pl.col("is_usually_open") & visitors.is_null())
            .sum()
            .cast(pl.Int32)
            .alias("missing_open_hours"),
        )
        .select(
            "boutique_id",
            "date",
            pl.col("date").dt.weekday().alias("weekday"),
            pl.when((pl.col("missing_open_hours") == 0) & (pl.col("observed_hours") > 0))
            .then(pl.col("total"))
            .alias("visitors"),
            "observed_hours",
            "missing_open_hours",
        )
        .sort("boutique_id", "date")
    )


def daily_footfall(
    history: PurchaseHistory, until: date | None = None, *, before: date | None = None
) -> pl.LazyFrame:
    """Daily visitors per boutique and local date; a day with a usually-open hour missing is null.

    Columns: boutique_id, date, weekday, visitors, observed_hours, missing_open_hours. Every day
    of the boutique's span has a row, so missing days are explicit. ``until`` and ``before`` as
    in :func:`hourly_footfall`.
    """
    return daily_from_hourly(hourly_footfall(history, until, before=before))


def cutoff_frame(cutoffs: list[date]) -> pl.LazyFrame:
    """The cutoffs as a lazy frame, with the first day of their opening-hours window."""
    window = timedelta(weeks=OPENING_WINDOW_WEEKS)
    return pl.LazyFrame({"cutoff": sorted(set(cutoffs))}, schema={"cutoff": pl.Date}).with_columns(
        (pl.col("cutoff") - window).alias("window_start")
    )


def hour_of_week_profile(hourly: pl.LazyFrame, cutoffs: pl.LazyFrame) -> pl.LazyFrame:
    """Per boutique, cutoff, weekday and hour: the 8 weeks before the cutoff summarised.

    Columns: is_open (usually open; null when the boutique has no observation at all in the
    window), hour_of_week_mean_4w and hour_of_week_mean_8w (mean observed visitors over the last
    4 and 8 weeks, null when none) and open_hours (usually-open hours of that weekday).
    """
    four_weeks_ago = pl.col("cutoff") - timedelta(weeks=4)
    visitors = pl.col("visitors")
    return (
        hourly.join_where(
            cutoffs,
            pl.col("date") < pl.col("cutoff"),
            pl.col("date") >= pl.col("window_start"),
        )
        .group_by("boutique_id", "cutoff", "weekday", "hour")
        .agg(
            visitors.is_not_null().sum().alias("observed"),
            (visitors > 0).sum().alias("positive"),
            visitors.filter(pl.col("date") >= four_weeks_ago).mean().alias("hour_of_week_mean_4w"),
            visitors.mean().alias("hour_of_week_mean_8w"),
        )
        .with_columns(
            pl.when(pl.col("observed").sum().over("boutique_id", "cutoff") > 0)
            .then(usually_open(pl.col("observed"), pl.col("positive")))
            .alias("is_open")
        )
        .with_columns(
            pl.col("is_open")
            .sum()
            .over("boutique_id", "cutoff", "weekday")
            .cast(pl.Int32)
            .alias("open_hours")
        )
        .with_columns(
            pl.when(pl.col("is_open").is_not_null()).then(pl.col("open_hours")).alias("open_hours")
        )
        .drop("observed", "positive")
    )


def opening_hours(history: PurchaseHistory, cutoff: date) -> pl.LazyFrame:
    """The usual opening hours of each boutique at ``cutoff``, from the 8 weeks before it.

    One row per boutique, weekday (1 = Monday) and hour: ``is_open`` when the median of the
    observed counts at that weekday and hour is above zero (an hour never observed while the
    sensor worked counts as closed; null when the boutique has no footfall in the window), and
    ``open_hours``, the number of open hours of that weekday: a covariate known in advance.
    """
    hourly = hourly_footfall(history, until=cutoff, before=cutoff)
    return (
        hour_of_week_profile(hourly, cutoff_frame([cutoff]))
        .select("boutique_id", "cutoff", "weekday", "hour", "is_open", "open_hours")
        .sort("boutique_id", "weekday", "hour")
    )
