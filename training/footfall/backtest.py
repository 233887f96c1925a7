"""Rolling-origin backtests of the footfall models beside the baselines, on the same points.

At each origin (a forecast start date) the model is refitted on the rows whose target lies
before the origin, then forecasts the horizon; its P10/P90 come from the residuals of the
earlier origins that the origin already knows (conformal calibration on rolling residuals,
:mod:`.intervals`), so the interval coverage measured here is out of sample too. The first
``warmup`` origins only feed that calibration.

The baselines forecast the same series from the same origins: seasonal naive 7 and 364 days and
statsforecast AutoETS for the daily model, seasonal naive 168 hours for the hourly one. Every
model is scored on the points *all* of them forecast (a young boutique has no naive-364
forecast), with :mod:`training.metrics.forecast`; the project's model is also scored on all the
points it forecasts (cold starts included) as ``clientcast_all_points``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from features.boutique_features import build_boutique_training_frame
from features.errors import UserInputError
from features.footfall_series import daily_footfall, hourly_footfall
from features.history import PurchaseHistory
from training.baselines.footfall import seasonal_naive
from training.footfall.forecaster import GranularityModel
from training.footfall.intervals import calibrate
from training.footfall.layout import BacktestLayout, Granularity
from training.metrics.forecast import (
    forecast_metrics,
    forecast_metrics_by_horizon,
    seasonal_naive_scale,
)
from training.progress import Progress

MODEL_KEY = "clientcast"
AUTOETS_WINDOW_DAYS = 728
"""AutoETS fits the last two years before each origin: a weekly-seasonal state-space model
needs no more, and the fit time grows with the series length."""
ORIGIN_SEPARATOR = "@"
ALL_POINTS_KEY = "clientcast_all_points"
Fitter = Callable[[pl.DataFrame], GranularityModel]


@dataclass
class BacktestResult:
    """One granularity's backtest: forecasts, metrics per model and per horizon bucket."""

    granularity: str
    layout: BacktestLayout
    forecasts: pl.DataFrame
    metrics: dict[str, dict[str, float]]
    by_horizon: dict[str, dict[str, dict[str, float]]]
    pool: pl.DataFrame
    wall_s: dict[str, float] = field(default_factory=dict)

    def table(self) -> pl.DataFrame:
        """One row per model and horizon bucket ("all" first) with the four metrics."""
        rows: list[dict[str, Any]] = []
        for model, values in self.metrics.items():
            rows.append(
                {"granularity": self.granularity, "model": model, "horizon": "all"} | values
            )
            for bucket, bucket_values in self.by_horizon.get(model, {}).items():
                rows.append(
                    {"granularity": self.granularity, "model": model, "horizon": bucket}
                    | bucket_values
                )
        return pl.DataFrame(rows)


def footfall_series(history: PurchaseHistory, grain: Granularity) -> pl.DataFrame:
    """The cleaned series of ``grain``: boutique_id, time (date or local hour), visitors (null
    on a gap, never zero-filled)."""
    if grain.name == "daily":
        return (
            daily_footfall(history)
            .select("boutique_id", pl.col("date").alias("time"), "visitors")
            .collect()
        )
    return (
        hourly_footfall(history)
        .select("boutique_id", pl.col("hour_start").alias("time"), "visitors")
        .collect()
    )


def long_series(series: pl.DataFrame) -> pl.DataFrame:
    """The series in the long format of the metrics and baselines: unique_id, ds, y."""
    return series.select(
        pl.col("boutique_id").alias("unique_id"),
        pl.col("time").alias("ds"),
        pl.col("visitors").cast(pl.Float64).alias("y"),
    )


def last_step(origin: date, grain: Granularity) -> date | datetime:
    """The last training step before forecast start ``origin``: the day or hour before it."""
    if grain.name == "daily":
        return origin - timedelta(days=1)
    return datetime.combine(origin, datetime.min.time()) - timedelta(hours=1)


def training_frame(
    history: PurchaseHistory, grain: Granularity, layout: BacktestLayout, end: date
) -> pl.DataFrame:
    """The feature frame of every training cutoff up to ``end`` and every origin."""
    cutoffs = sorted(set(layout.training_cutoffs(end)) | set(layout.origins))
    return build_boutique_training_frame(history, cutoffs, grain.horizon_days, grain.name)


def rolling_forecasts(
    frame: pl.DataFrame,
    grain: Granularity,
    layout: BacktestLayout,
    fit: Fitter,
    progress: Progress | None = None,
    refit_every: int = 1,
) -> pl.DataFrame:
    """The model's forecasts from every origin of ``layout``, refitted every ``refit_every``
    origins (1: at each one).

    A model fitted at an origin only knows targets before it, so reusing it at the next
    origins leaks nothing; it only forecasts from a slightly older fit, as a production model
    refitted less often than it forecasts would. Intervals at an origin are calibrated on the
    earlier origins' forecasts of targets before it (none for the first origin). Returns the
    forecaster's columns plus ``origin``.
    """
    if refit_every < 1:
        raise UserInputError(f"footfall backtest: refit_every must be >= 1, got {refit_every}")
    outputs: list[pl.DataFrame] = []
    model: GranularityModel | None = None
    for position, origin in enumerate(layout.origins):
        if progress is not None:
            progress(f"{grain.name} origin {origin} ({position + 1}/{len(layout.origins)})")
        if model is None or position % refit_every == 0:
            model = fit(frame.filter(pl.col("target_date") < origin))
        pool = residual_pool(outputs, before=origin)
        calibrated = model
        if pool.height:
            calibrated = model.with_calibration(calibrate(pool, grain.buckets))
        forecast = calibrated.forecast(frame.filter(pl.col("cutoff") == origin))
        outputs.append(forecast.with_columns(pl.lit(origin).alias("origin")))
    return pl.concat(outputs, how="vertical_relaxed")


def residual_pool(outputs: Sequence[pl.DataFrame], before: date | None = None) -> pl.DataFrame:
    """The model's out-of-sample point forecasts with an actual, for interval calibration:
    established boutiques only, targets before ``before`` when given."""
    if not outputs:
        return pl.DataFrame()
    pool = pl.concat(outputs, how="vertical_relaxed").filter(
        (pl.col("method") == "model") & pl.col("actual").is_not_null()
    )
    if before is not None:
        days_known = (pl.lit(before) - pl.col("cutoff")).dt.total_days()
        pool = pool.filter(days_known >= pl.col("horizon"))
    return pool.select("horizon", "actual", "p50", "level")


def model_points(forecasts: pl.DataFrame, grain: Granularity, name: str) -> pl.DataFrame:
    """The scored origins' forecasts in the metrics' long format (model, unique_id, origin, ds,
    p10, p50, p90)."""
    origin = (
        pl.col("origin") - timedelta(days=1)
        if grain.name == "daily"
        else pl.col("origin").cast(pl.Datetime("us")) - timedelta(hours=1)
    )
    return forecasts.select(
        pl.lit(name).alias("model"),
        pl.col("boutique_id").alias("unique_id"),
        origin.alias("origin"),
        pl.col(grain.time_column).alias("ds"),
        "p10",
        "p50",
        "p90",
    )


def baseline_points(
    series: pl.DataFrame, grain: Granularity, origins: Sequence[date], autoets: bool
) -> tuple[pl.DataFrame, dict[str, float]]:
    """Seasonal-naive (and, daily, AutoETS) forecasts from every origin, and their wall times."""
    long = long_series(series)
    horizon = grain.horizon_days * (24 if grain.name == "hourly" else 1)
    frames: list[pl.DataFrame] = []
    wall_s: dict[str, float] = {}
    for season in grain.naive_seasons:
        name = f"seasonal_naive_{season}"
        started = time.perf_counter()
        for origin in origins:
            frames.append(
                seasonal_naive(long, last_step(origin, grain), horizon, season).select(
                    pl.lit(name).alias("model"), "unique_id", "origin", "ds", "p10", "p50", "p90"
                )
            )
        wall_s[name] = time.perf_counter() - started
    if autoets and grain.name == "daily":
        started = time.perf_counter()
        frames.extend(autoets_points(long, origins, grain))
        wall_s["autoets"] = time.perf_counter() - started
    return pl.concat(frames, how="vertical_relaxed"), wall_s


def autoets_points(
    long: pl.DataFrame,
    origins: Sequence[date],
    grain: Granularity,
    n_jobs: int = 2,
    window_days: int = AUTOETS_WINDOW_DAYS,
) -> list[pl.DataFrame]:
    """statsforecast AutoETS (season 7, 80 % interval) from every origin, as the Auckland peer
    is set up, fitted on the last ``window_days`` before each origin; series with fewer than
    four weeks of data before an origin are left out.

    Every (series, origin) pair becomes one series of a single statsforecast call, so that its
    ``n_jobs`` worker processes share all the fits of the backtest rather than one origin's.
    """
    from training.benchmarks.auckland_peers import (
        PEER_CONFIGS,
        autoets_forecasts,
        fill_for_fitting,
    )

    config = PEER_CONFIGS["daily"]
    windows = []
    for origin in origins:
        step = last_step(origin, grain)
        train = fill_for_fitting(long, step, config.fill_season).filter(
            pl.col("ds") > step - timedelta(days=window_days)
        )
        windows.append(train.with_columns(pl.lit(step).alias("origin")))
    stacked = pl.concat(windows).filter(pl.len().over("unique_id", "origin") >= 28)
    if stacked.height == 0:
        return []
    key = pl.col("unique_id") + pl.lit(ORIGIN_SEPARATOR) + pl.col("origin").cast(pl.String)
    forecasts = autoets_forecasts(
        stacked.select(key.alias("unique_id"), "ds", "y"), grain.horizon_days, config, n_jobs
    )
    # The key ends with "@YYYY-MM-DD": split from the right, whatever the boutique id holds.
    iso_date = len(ORIGIN_SEPARATOR) + 10
    return [
        forecasts.select(
            pl.lit("autoets").alias("model"),
            pl.col("unique_id").str.head(-iso_date).alias("unique_id"),
            pl.col("unique_id").str.tail(10).str.to_date().alias("origin"),
            pl.col("ds").cast(pl.Date),
            "p10",
            "p50",
            "p90",
        )
    ]


def origin_scales(
    series: pl.DataFrame, grain: Granularity, origins: Sequence[date]
) -> pl.DataFrame:
    """The MASE scale of each series at each origin (seasonal naive of ``grain``, in sample)."""
    long = long_series(series)
    frames = []
    for origin in origins:
        step = last_step(origin, grain)
        frames.append(
            seasonal_naive_scale(
                long.filter(pl.col("ds") <= step), grain.scale_season
            ).with_columns(pl.lit(step).alias("origin"))
        )
    return pl.concat(frames)


def score(
    points: pl.DataFrame,
    series: pl.DataFrame,
    scales: pl.DataFrame,
    grain: Granularity,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """Metrics per model on the points every model forecasts (see the module docstring)."""
    actuals = long_series(series).filter(pl.col("y").is_not_null())
    scored = points.join(actuals, on=["unique_id", "ds"], how="inner").filter(
        pl.col("p50").is_not_null() & pl.col("p10").is_not_null() & pl.col("p90").is_not_null()
    )
    models = points.get_column("model").unique(maintain_order=True).to_list()
    comparable = [name for name in models if name != ALL_POINTS_KEY]
    common = (
        scored.filter(pl.col("model").is_in(comparable))
        .group_by("unique_id", "origin", "ds")
        .agg(pl.col("model").n_unique().alias("models"))
        .filter(pl.col("models") == len(comparable))
        .drop("models")
    )
    metrics: dict[str, dict[str, float]] = {}
    by_horizon: dict[str, dict[str, dict[str, float]]] = {}
    for name in models:
        rows = scored.filter(pl.col("model") == name)
        if name != ALL_POINTS_KEY:
            rows = rows.join(common, on=["unique_id", "origin", "ds"], how="semi")
        if rows.height == 0:
            continue
        metrics[name] = forecast_metrics(rows, scales) | {"points": float(rows.height)}
        by_horizon[name] = forecast_metrics_by_horizon(rows, scales, grain.buckets)
    return metrics, by_horizon


def run_backtest(
    history: PurchaseHistory,
    grain: Granularity,
    layout: BacktestLayout,
    fitters: dict[str, Fitter],
    frame: pl.DataFrame | None = None,
    autoets: bool = True,
    progress: Progress | None = None,
    refit_every: int = 1,
) -> BacktestResult:
    """Backtest each model of ``fitters`` (name -> fit function) and the baselines.

    ``frame`` is the feature frame of :func:`training_frame` (built when None); models are
    refitted every ``refit_every`` origins (:func:`rolling_forecasts`). The first
    fitter is the project's model: its forecasts feed ``pool`` (every origin's residuals, for
    the production model's calibration) and ``clientcast_all_points``.
    """
    end = layout.origins[-1] + timedelta(days=layout.horizon_days)
    frame = training_frame(history, grain, layout, end) if frame is None else frame
    series = footfall_series(history, grain)
    scored = list(layout.scored)
    points: list[pl.DataFrame] = []
    wall_s: dict[str, float] = {}
    pool = pl.DataFrame()
    kept_forecasts = pl.DataFrame()
    for position, (name, fit) in enumerate(fitters.items()):
        started = time.perf_counter()
        forecasts = rolling_forecasts(frame, grain, layout, fit, progress, refit_every)
        wall_s[name] = time.perf_counter() - started
        on_scored = forecasts.filter(pl.col("origin").is_in(scored))
        points.append(model_points(on_scored, grain, name))
        if position == 0:
            pool = residual_pool([forecasts])
            kept_forecasts = on_scored
            points.append(model_points(on_scored, grain, ALL_POINTS_KEY))
    if progress is not None:
        progress(f"{grain.name} baselines")
    baselines, baseline_wall = baseline_points(series, grain, scored, autoets)
    wall_s |= baseline_wall
    all_points = pl.concat([*points, baselines.cast(points[0].schema)], how="vertical_relaxed")
    scales = origin_scales(series, grain, scored)
    metrics, by_horizon = score(all_points, series, scales, grain)
    for name, seconds in wall_s.items():
        if name in metrics:
            metrics[name]["wall_s"] = seconds
    return BacktestResult(grain.name, layout, kept_forecasts, metrics, by_horizon, pool, wall_s)
