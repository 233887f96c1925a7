"""Seasonal-naive footfall forecasts with empirical P10/P90: the floor every model must beat.

The forecast for ``origin + h`` is the last observed value one season earlier: the value at
``origin + h - k * season`` for the smallest ``k`` that lands in the training data, and when
that value is missing (a sensor gap), the value one more season back, up to ``max_fallback``
more seasons. The P10 and P90 add to the P50 the 10 % and 90 % quantiles of the in-sample
residuals ``y[t] - y[t - k * season]`` of the same series and the same ``k``, so a forecast two
seasons ahead gets the wider spread of two-season differences. The interval always contains
the P50 (a quantile above zero counts as zero for the P10, and below zero for the P90).

Frames are in the long format (unique_id, ds, y): ``ds`` holds dates (one step a day) or naive
datetimes (one step an hour); a missing value is a null ``y`` or an absent row. Only the rows
up to ``origin`` are read, so the forecast is point-in-time correct.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from training.metrics.forecast import series_step

DEFAULT_MAX_FALLBACK = 3


def _seasons_back(h: pl.Expr, season: int) -> pl.Expr:
    """The fewest seasons ``k`` such that ``origin + h - k * season`` is at or before origin."""
    return ((h + season - 1) // season).cast(pl.Int64)


def seasonal_residual_quantiles(
    insample: pl.LazyFrame,
    season: int,
    max_seasons: int,
    step: timedelta,
    quantiles: tuple[float, float] = (0.1, 0.9),
) -> pl.LazyFrame:
    """Quantiles of ``y[t] - y[t - k * season]`` per series and k in 1..max_seasons.

    Columns: unique_id, k, lo, hi (the two ``quantiles``, linear interpolation).
    """
    lags = pl.LazyFrame({"k": range(1, max_seasons + 1)}, schema={"k": pl.Int64})
    lagged = insample.join(lags, how="cross").select(
        "unique_id",
        "k",
        (pl.col("ds") + pl.lit(step * season) * pl.col("k")).alias("ds"),
        pl.col("y").alias("y_lagged"),
    )
    return (
        insample.join(lagged, on=["unique_id", "ds"], how="inner")
        .group_by("unique_id", "k")
        .agg(
            (pl.col("y") - pl.col("y_lagged"))
            .quantile(quantiles[0], interpolation="linear")
            .alias("lo"),
            (pl.col("y") - pl.col("y_lagged"))
            .quantile(quantiles[1], interpolation="linear")
            .alias("hi"),
        )
    )


def seasonal_naive(
    history_frame: pl.DataFrame | pl.LazyFrame,
    origin: date | datetime,
    horizon: int,
    season: int,
    max_fallback: int = DEFAULT_MAX_FALLBACK,
) -> pl.DataFrame:
    """Seasonal-naive P10/P50/P90 forecasts of every series for ``horizon`` steps after ``origin``.

    ``history_frame`` holds unique_id, ds, y; ``origin`` is the last training step (a date for
    daily series, a datetime for hourly ones) and ``season`` counts steps (7 or 364 days, 168
    hours). Returns unique_id, origin, ds, p10, p50, p90, sorted. A point whose seasonal values
    are all missing, ``max_fallback`` extra seasons back included, gets null forecasts; when no
    in-sample residual exists for its lag the interval collapses onto the P50.
    """
    if horizon < 1 or season < 1 or max_fallback < 0:
        raise ValueError(
            f"need horizon >= 1, season >= 1, max_fallback >= 0; got {horizon}, {season}, "
            f"{max_fallback}"
        )
    history = history_frame.lazy()
    step = series_step(history.collect_schema()["ds"])
    insample = (
        history.filter(pl.col("ds") <= origin)
        .filter(pl.col("y").is_not_null() & pl.col("y").is_not_nan())
        .select("unique_id", "ds", pl.col("y").cast(pl.Float64))
    )
    max_seasons = -(-horizon // season) + max_fallback
    targets = (
        insample.select(pl.col("unique_id").unique())
        .join(pl.LazyFrame({"h": range(1, horizon + 1)}, schema={"h": pl.Int64}), how="cross")
        .join(
            pl.LazyFrame({"fallback": range(max_fallback + 1)}, schema={"fallback": pl.Int64}),
            how="cross",
        )
        .with_columns(
            (pl.lit(origin) + pl.lit(step) * pl.col("h")).alias("target"),
            (_seasons_back(pl.col("h"), season) + pl.col("fallback")).alias("k"),
        )
        .with_columns((pl.col("target") - pl.lit(step * season) * pl.col("k")).alias("ds"))
    )
    point = (
        targets.join(insample, on=["unique_id", "ds"], how="left")
        .sort("unique_id", "h", "fallback")
        .group_by("unique_id", "h", "target")
        .agg(
            pl.col("y").drop_nulls().first().alias("p50"),
            pl.col("k").filter(pl.col("y").is_not_null()).first().alias("k"),
        )
    )
    spread = seasonal_residual_quantiles(insample, season, max_seasons, step)
    return (
        point.join(spread, on=["unique_id", "k"], how="left")
        .select(
            "unique_id",
            pl.lit(origin).alias("origin"),
            pl.col("target").alias("ds"),
            (pl.col("p50") + pl.col("lo").fill_null(0.0).clip(upper_bound=0.0)).alias("p10"),
            "p50",
            (pl.col("p50") + pl.col("hi").fill_null(0.0).clip(lower_bound=0.0)).alias("p90"),
        )
        .sort("unique_id", "ds")
        .collect()
    )
