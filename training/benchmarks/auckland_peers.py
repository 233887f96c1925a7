"""The Auckland footfall benchmark: seasonal-naive baselines and the Nixtla peers, same origins.

Every model forecasts every series from every protocol origin (:mod:`auckland_data`) with a
P10/P50/P90, and is scored by :mod:`training.metrics.forecast` against the raw series, whose
missing days stay missing.

The peers, as a practitioner would set them up:

* **statsforecast AutoETS**, 80 % prediction interval as P10-P90, the point forecast as P50.
  Daily: season 7, full model search ("ZZZ"), fitted on all the training data (from
  2022-01-01). Hourly: season 24, the longest season statsforecast's ETS accepts (it drops
  seasonality above 24, so 168 is out of reach and the weekly pattern with it), fitted on the
  last 28 days before each origin, as fitting ETS to 35,000 hourly points per series is
  neither usual nor affordable; the search is kept to additive seasonality ("ZZA"). With the
  full search, AICc picked non-seasonal models for several sensors (a flat line) and a
  multiplicative trend for one, whose interval exploded: on the hourly validation origins
  MASE 6.6 and a pinball loss of 6e7, against 1.27 and 26.6 with "ZZA".
* **mlforecast LightGBM** (recursive): daily lags 7, 14, 28, rolling means of lag 7 over 7 and
  28 days, weekday, month and day of year, and an Auckland public-holiday flag from the
  ``holidays`` package (country NZ, subdivision AUK); hourly lags 24, 48, 168, 336, rolling
  means of lag 24 over 24 hours and of lag 168 over 168 hours, hour, weekday and month, and the
  same holiday flag on the protocol day (06:00-05:59) of the hour. Targets are standardised per
  series (``LocalStandardScaler``) so that one global model serves sensors of very different
  sizes. P10-P90 is mlforecast's conformal 80 % interval (per series and step, from the last
  12 horizon-long windows of the training data, 8 for hourly); P50 is the point forecast.
  The scaler and the number of conformal windows (like the hourly ETS search above) were
  chosen on validation origins whose windows end by 2025-01-29, before the first test window
  (six daily, three hourly origins), never on the test origins:
  scaling took the daily MASE from 0.99 to 0.91, and 12 windows the daily coverage from 64 %
  (3 windows) to 81 %; hourly, 8 windows gave 75 % against 59 % with 2.

``n_jobs`` (default 2) is the number of statsforecast worker processes and of mlforecast's
feature threads. LightGBM itself trains single-threaded (``lgbm_params``): its data is small, and
on a shared 2-core machine its OpenMP threads oversubscribe; a 2-thread fit ran ten times slower.

The peers cannot fit series with holes, so each origin's training data is filled for fitting
only, using nothing after the origin: a missing value takes the value one season earlier (7
days, or 168 hours) when there is one, up to four seasons back; what remains is interpolated
linearly and the tail carried forward. Leading gaps are dropped. Scoring always uses the raw
series.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import holidays
import polars as pl

from features.errors import UserInputError
from training.baselines.footfall import seasonal_naive
from training.benchmarks.auckland_data import (
    DAY_START_HOUR,
    daily_from_hourly,
    last_complete_date,
    protocol,
    protocol_origins,
    series,
)
from training.metrics.forecast import (
    forecast_metrics,
    forecast_metrics_by_horizon,
    seasonal_naive_scale,
    series_step,
)

PEERS: tuple[str, ...] = ("autoets", "mlforecast")
FORECAST_COLUMNS: tuple[str, ...] = ("model", "unique_id", "origin", "ds", "p10", "p50", "p90")
FILL_SEASONS_BACK = 4
HOLIDAY_COUNTRY = "NZ"
HOLIDAY_SUBDIVISION = "AUK"

Origin = date | datetime
BENCH_HINT = "install the bench extra: .venv/bin/python -m pip install -e '.[bench]'"


def require_bench_extra() -> None:
    """Raise :class:`UserInputError` with the install hint unless the peers' packages import."""
    missing = [
        package
        for package in ("statsforecast", "mlforecast")
        if importlib.util.find_spec(package) is None
    ]
    if missing:
        raise UserInputError(f"the Auckland peers need {', '.join(missing)}: {BENCH_HINT}")


@dataclass(frozen=True)
class PeerConfig:
    """How the peers are set up for one granularity (see the module docstring)."""

    freq: str
    fill_season: int
    ets_season: int
    ets_window: int | None
    ets_model: str
    lags: tuple[int, ...]
    rolling_means: dict[int, tuple[int, ...]]
    date_features: tuple[str, ...]
    day_start: timedelta
    conformal_windows: int
    lgbm_params: dict[str, Any] = field(default_factory=dict)
    standardise_target: bool = True


DEFAULT_LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "colsample_bytree": 0.8,
    "random_state": 7,
    "n_jobs": 1,
    "verbosity": -1,
}

PEER_CONFIGS: dict[str, PeerConfig] = {
    "daily": PeerConfig(
        freq="1d",
        fill_season=7,
        ets_season=7,
        ets_window=None,
        ets_model="ZZZ",
        lags=(7, 14, 28),
        rolling_means={7: (7, 28)},
        date_features=("weekday", "month", "ordinal_day"),
        day_start=timedelta(0),
        conformal_windows=12,
        lgbm_params=DEFAULT_LGBM_PARAMS,
    ),
    "hourly": PeerConfig(
        freq="1h",
        fill_season=168,
        ets_season=24,
        ets_window=28 * 24,
        ets_model="ZZA",
        lags=(24, 48, 168, 336),
        rolling_means={24: (24,), 168: (168,)},
        date_features=("hour", "weekday", "month"),
        day_start=timedelta(hours=DAY_START_HOUR),
        conformal_windows=8,
        lgbm_params=DEFAULT_LGBM_PARAMS,
    ),
}


@dataclass(frozen=True)
class ForecastRun:
    """Forecasts of some models (columns :data:`FORECAST_COLUMNS`) and each model's wall time."""

    forecasts: pl.DataFrame
    wall_s: dict[str, float]


@dataclass(frozen=True)
class AucklandRun:
    """One granularity of the benchmark: metrics per model, by horizon, and the forecasts."""

    granularity: str
    metrics: dict[str, dict[str, float]]
    by_horizon: dict[str, dict[str, dict[str, float]]]
    forecasts: pl.DataFrame
    origins: list[Origin]
    sensors: list[str]


def fill_for_fitting(
    history: pl.DataFrame | pl.LazyFrame, origin: Origin, season: int
) -> pl.DataFrame:
    """The training data up to ``origin`` on a regular grid without holes, for fitting peers.

    Each series runs from its first observed step to ``origin``; a missing value takes the
    observed value 1, 2, ... up to 4 seasons earlier, then linear interpolation, then the last
    value. Only data up to ``origin`` is read. Never score against this frame.
    """
    history = history.lazy()
    ds_dtype = history.collect_schema()["ds"]
    step = series_step(ds_dtype)
    observed = history.filter(
        pl.col("ds") <= origin, pl.col("y").is_not_null() & pl.col("y").is_not_nan()
    ).select("unique_id", "ds", pl.col("y").cast(pl.Float64))
    ranges = (
        pl.date_ranges(pl.col("first"), pl.lit(origin), interval=step)
        if ds_dtype == pl.Date
        else pl.datetime_ranges(pl.col("first"), pl.lit(origin), interval=step)
    )
    grid = (
        observed.group_by("unique_id")
        .agg(pl.col("ds").min().alias("first"))
        .select("unique_id", ranges.alias("ds"))
        .explode("ds")
    )
    seasonal_values = [
        pl.col("y").shift(season * k).over("unique_id", order_by="ds")
        for k in range(1, FILL_SEASONS_BACK + 1)
    ]
    return (
        grid.join(observed, on=["unique_id", "ds"], how="left")
        .sort("unique_id", "ds")
        .with_columns(pl.coalesce(pl.col("y"), *seasonal_values).alias("y"))
        .with_columns(pl.col("y").interpolate().forward_fill().over("unique_id", order_by="ds"))
        .collect()
    )


def auckland_holidays(first_year: int, last_year: int) -> list[date]:
    """Public holidays observed in Auckland (NZ, subdivision AUK) over the years given."""
    calendar = holidays.country_holidays(
        HOLIDAY_COUNTRY, subdiv=HOLIDAY_SUBDIVISION, years=range(first_year, last_year + 1)
    )
    return sorted(calendar)


def holiday_feature(days: Sequence[date], day_start: timedelta) -> Callable[[pl.Expr], pl.Expr]:
    """An mlforecast date feature ``is_holiday``: 1 on the protocol days listed in ``days``.

    ``day_start`` is subtracted from datetimes first, so the hours up to 05:59 count in the
    protocol day they close.
    """
    holiday_days = pl.Series("holidays", list(days), dtype=pl.Date)

    def is_holiday(dates: pl.Expr) -> pl.Expr:
        return (dates - day_start).cast(pl.Date).is_in(holiday_days.implode()).cast(pl.Int8)

    return is_holiday


def autoets_forecasts(
    train: pl.DataFrame, horizon: int, config: PeerConfig, n_jobs: int = 1
) -> pl.DataFrame:
    """statsforecast AutoETS P10/P50/P90 for ``horizon`` steps after the end of ``train``.

    ``train`` must be hole-free (:func:`fill_for_fitting`). Returns unique_id, ds, p10, p50, p90.
    """
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    if config.ets_window is not None:
        train = train.filter(
            pl.int_range(pl.len()).over("unique_id")
            >= pl.len().over("unique_id") - config.ets_window
        )
    model = StatsForecast(
        models=[AutoETS(season_length=config.ets_season, model=config.ets_model)],
        freq=config.freq,
        n_jobs=n_jobs,
    )
    forecasts = model.forecast(df=train, h=horizon, level=[80])
    return forecasts.select(
        "unique_id",
        "ds",
        pl.col("AutoETS-lo-80").alias("p10"),
        pl.col("AutoETS").alias("p50"),
        pl.col("AutoETS-hi-80").alias("p90"),
    )


def mlforecast_forecasts(
    train: pl.DataFrame, horizon: int, config: PeerConfig, n_jobs: int = 1
) -> pl.DataFrame:
    """mlforecast LightGBM P10/P50/P90 (conformal 80 %) for ``horizon`` steps after ``train``.

    ``train`` must be hole-free (:func:`fill_for_fitting`). Returns unique_id, ds, p10, p50, p90.
    """
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import LocalStandardScaler
    from mlforecast.utils import PredictionIntervals

    horizon_end = train["ds"].max() + series_step(train.schema["ds"]) * horizon
    is_holiday = holiday_feature(
        auckland_holidays(train["ds"].min().year, horizon_end.year + 1), config.day_start
    )
    model = MLForecast(
        models={"lgbm": LGBMRegressor(**config.lgbm_params)},
        freq=config.freq,
        num_threads=n_jobs,
        lags=list(config.lags),
        lag_transforms={
            lag: [RollingMean(window_size=window) for window in windows]
            for lag, windows in config.rolling_means.items()
        },
        date_features=[*config.date_features, is_holiday],
        target_transforms=[LocalStandardScaler()] if config.standardise_target else None,
    )
    model.fit(
        train.select("unique_id", "ds", "y"),
        static_features=[],
        prediction_intervals=PredictionIntervals(n_windows=config.conformal_windows, h=horizon),
    )
    forecasts = model.predict(h=horizon, level=[80])
    return forecasts.select(
        "unique_id",
        "ds",
        pl.col("lgbm-lo-80").alias("p10"),
        pl.col("lgbm").alias("p50"),
        pl.col("lgbm-hi-80").alias("p90"),
    )


PEER_FORECASTERS: dict[str, Callable[[pl.DataFrame, int, PeerConfig, int], pl.DataFrame]] = {
    "autoets": autoets_forecasts,
    "mlforecast": mlforecast_forecasts,
}


def run_peers(
    history: pl.DataFrame,
    origins: Sequence[Origin],
    horizon: int,
    granularity: str,
    models: Sequence[str] = PEERS,
    n_jobs: int = 2,
    config: PeerConfig | None = None,
) -> ForecastRun:
    """Forecast every series of ``history`` from every origin with each peer in ``models``.

    ``history`` is the raw long frame (unique_id, ds, y; gaps allowed); each origin's training
    data is :func:`fill_for_fitting`. Returns the forecasts (model, unique_id, origin, ds, p10,
    p50, p90) and each model's wall time in seconds, fitting included.
    """
    unknown = sorted(set(models) - set(PEER_FORECASTERS))
    if unknown:
        raise UserInputError(f"unknown peer(s) {', '.join(unknown)}: choose among {PEERS}")
    require_bench_extra()
    config = config or PEER_CONFIGS[protocol(granularity).granularity]
    frames: list[pl.DataFrame] = []
    wall_s: dict[str, float] = {}
    for name in models:
        started = time.perf_counter()
        for origin in origins:
            train = fill_for_fitting(history, origin, config.fill_season)
            frames.append(
                PEER_FORECASTERS[name](train, horizon, config, n_jobs).select(
                    pl.lit(name).alias("model"),
                    "unique_id",
                    pl.lit(origin, dtype=history.schema["ds"]).alias("origin"),
                    pl.col("ds").cast(history.schema["ds"]),
                    "p10",
                    "p50",
                    "p90",
                )
            )
        wall_s[name] = time.perf_counter() - started
    forecasts = pl.concat(frames) if frames else _empty_forecasts(history)
    return ForecastRun(forecasts=forecasts, wall_s=wall_s)


def _empty_forecasts(history: pl.DataFrame) -> pl.DataFrame:
    ds = history.schema["ds"]
    return pl.DataFrame(
        schema={
            "model": pl.String,
            "unique_id": pl.String,
            "origin": ds,
            "ds": ds,
            "p10": pl.Float64,
            "p50": pl.Float64,
            "p90": pl.Float64,
        }
    )


def run_seasonal_naive(
    history: pl.DataFrame, origins: Sequence[Origin], horizon: int, seasons: Sequence[int]
) -> ForecastRun:
    """Seasonal-naive forecasts for each season, named ``seasonal_naive_<season>``."""
    frames: list[pl.DataFrame] = []
    wall_s: dict[str, float] = {}
    for season in seasons:
        name = f"seasonal_naive_{season}"
        started = time.perf_counter()
        for origin in origins:
            frames.append(
                seasonal_naive(history, origin, horizon, season).select(
                    pl.lit(name).alias("model"), *FORECAST_COLUMNS[1:]
                )
            )
        wall_s[name] = time.perf_counter() - started
    return ForecastRun(forecasts=pl.concat(frames), wall_s=wall_s)


def origin_scales(history: pl.DataFrame, origins: Sequence[Origin], season: int) -> pl.DataFrame:
    """The MASE scale of every series at every origin, from the data up to that origin."""
    return pl.concat(
        [
            seasonal_naive_scale(history.filter(pl.col("ds") <= origin), season).with_columns(
                pl.lit(origin).alias("origin")
            )
            for origin in origins
        ]
    )


def score_forecasts(
    forecasts: pl.DataFrame,
    history: pl.DataFrame,
    scales: pl.DataFrame,
    wall_s: dict[str, float],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]]]:
    """Metrics per model (with ``wall_s``) and per model and horizon bucket.

    Forecasts are joined to the raw ``history``: points whose actual is missing are not scored.
    """
    scored = forecasts.join(
        history.select("unique_id", "ds", "y"), on=["unique_id", "ds"], how="left"
    )
    metrics: dict[str, dict[str, float]] = {}
    by_horizon: dict[str, dict[str, dict[str, float]]] = {}
    for name in forecasts["model"].unique(maintain_order=True).to_list():
        model_frame = scored.filter(pl.col("model") == name)
        metrics[name] = forecast_metrics(model_frame, scales) | {"wall_s": wall_s.get(name, 0.0)}
        by_horizon[name] = forecast_metrics_by_horizon(model_frame, scales)
    return metrics, by_horizon


def peer_forecasts(
    name: str,
    history: pl.DataFrame,
    origins: Sequence[Origin],
    peers: Sequence[str],
    n_jobs: int = 2,
) -> ForecastRun:
    """The forecasts and wall times of ``peers`` ("seasonal_naive" for both seasons of the
    protocol of ``name``, "autoets", "mlforecast") from ``origins``."""
    spec = protocol(name)
    runs: list[ForecastRun] = []
    if "seasonal_naive" in peers:
        runs.append(run_seasonal_naive(history, origins, spec.horizon, spec.naive_seasons))
    others = [peer for peer in peers if peer != "seasonal_naive"]
    if others:
        runs.append(run_peers(history, origins, spec.horizon, name, others, n_jobs))
    return ForecastRun(
        forecasts=pl.concat([run.forecasts for run in runs]),
        wall_s={model: seconds for run in runs for model, seconds in run.wall_s.items()},
    )


def run_auckland_benchmark(
    granularity: str,
    models: Sequence[str] = ("seasonal_naive", *PEERS),
    n_jobs: int = 2,
    history: pl.DataFrame | None = None,
) -> AucklandRun:
    """Run the protocol of ``granularity`` ("daily" or "hourly") with the models named.

    ``models`` may hold "seasonal_naive" (both seasons of the protocol), "autoets" and
    "mlforecast". ``history`` defaults to the benchmark series of the installed data.
    """
    spec = protocol(granularity)
    if not models:
        raise UserInputError("name at least one model: seasonal_naive, autoets or mlforecast")
    history = series(granularity) if history is None else history
    daily = history if spec.granularity == "daily" else daily_from_hourly(history)
    origins = protocol_origins(granularity, last_complete_date(daily))
    run = peer_forecasts(granularity, history, origins, models, n_jobs)
    forecasts = run.forecasts
    scales = origin_scales(history, origins, spec.scale_season)
    metrics, by_horizon = score_forecasts(forecasts, history, scales, run.wall_s)
    return AucklandRun(
        granularity=spec.granularity,
        metrics=metrics,
        by_horizon=by_horizon,
        forecasts=forecasts,
        origins=list(origins),
        sensors=history["unique_id"].unique().sort().to_list(),
    )


def run_auckland_baselines(granularity: str, n_jobs: int = 2) -> dict[str, dict[str, float]]:
    """``{"<model>": {"mase", "wape", "coverage_80", "pinball_mean", "wall_s"}}`` for one
    granularity: seasonal naive (7 and 364 days, or 168 and 8736 hours), AutoETS, mlforecast.
    """
    return run_auckland_benchmark(granularity, n_jobs=n_jobs).metrics
