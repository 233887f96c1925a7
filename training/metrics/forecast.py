"""Forecast accuracy for footfall: MASE, WAPE, interval coverage and pinball loss.

Frames are in the long format shared with the baselines and the Nixtla peers: ``unique_id``,
``ds`` (a date, or a naive datetime for hourly series), the actual ``y`` and the quantile
forecasts ``p10``, ``p50``, ``p90``, plus the forecast ``origin`` (the last training step) when
several origins are scored together.

How each figure aggregates, over series and origins:

* Missing actuals (null or NaN) are left out of every metric; nothing is ever filled.
* **MASE** is the M4 definition: for each series and origin, the mean absolute error of the P50
  over the horizon divided by that series' in-sample seasonal-naive MAE (computed on the
  training data of that origin, :func:`seasonal_naive_scale`); the reported MASE is the plain
  mean of these ratios over the (series, origin) pairs. Pairs whose scale is zero or undefined
  (a constant or too short history) are left out.
* **WAPE** is pooled: the sum of absolute P50 errors over all scored points divided by the sum of
  the absolute actuals.
* **coverage_80** is the share of scored actuals inside [P10, P90], bounds included.
* **pinball_mean** is the pinball loss averaged over scored points and then over the three
  quantiles 0.1, 0.5 and 0.9, in the units of ``y`` (visitors).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

QUANTILE_COLUMNS: dict[str, float] = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
HORIZON_BUCKETS: tuple[tuple[int, int], ...] = ((1, 7), (8, 14), (15, 28), (29, 56))
METRIC_NAMES: tuple[str, ...] = ("mase", "wape", "coverage_80", "pinball_mean")

ArrayLike = npt.ArrayLike


def _as_float(values: ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def _observed(actual: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    return np.isfinite(actual)


def mase(actual: ArrayLike, forecast: ArrayLike, scale: float) -> float:
    """Mean absolute error of ``forecast`` divided by ``scale``, over the observed actuals.

    NaN when no actual is observed or the scale is not positive.
    """
    actual, forecast = _as_float(actual), _as_float(forecast)
    observed = _observed(actual)
    if not observed.any() or not scale > 0:
        return float("nan")
    return float(np.mean(np.abs(actual[observed] - forecast[observed])) / scale)


def wape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Weighted absolute percentage error: sum of absolute errors over sum of absolute actuals."""
    actual, forecast = _as_float(actual), _as_float(forecast)
    observed = _observed(actual)
    denominator = np.abs(actual[observed]).sum()
    if denominator == 0:
        return float("nan")
    return float(np.abs(actual[observed] - forecast[observed]).sum() / denominator)


def coverage(actual: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    """Share of the observed actuals inside [lo, hi], bounds included."""
    actual, lo, hi = _as_float(actual), _as_float(lo), _as_float(hi)
    observed = _observed(actual)
    if not observed.any():
        return float("nan")
    inside = (actual[observed] >= lo[observed]) & (actual[observed] <= hi[observed])
    return float(inside.mean())


def pinball_loss(actual: ArrayLike, q_pred: ArrayLike, q: float) -> float:
    """Mean pinball (quantile) loss of the ``q`` quantile forecast ``q_pred``."""
    actual, q_pred = _as_float(actual), _as_float(q_pred)
    observed = _observed(actual)
    if not observed.any():
        return float("nan")
    error = actual[observed] - q_pred[observed]
    return float(np.mean(np.maximum(q * error, (q - 1) * error)))


def pinball_mean(actual: ArrayLike, p10: ArrayLike, p50: ArrayLike, p90: ArrayLike) -> float:
    """Mean of the pinball losses of the P10, P50 and P90 forecasts."""
    losses = [
        pinball_loss(actual, pred, q)
        for pred, q in zip((p10, p50, p90), (0.1, 0.5, 0.9), strict=True)
    ]
    return float(np.mean(losses))


def series_step(ds_dtype: pl.DataType) -> timedelta:
    """One step of a series: a day when ``ds`` holds dates, an hour when it holds datetimes."""
    if ds_dtype == pl.Date:
        return timedelta(days=1)
    if isinstance(ds_dtype, pl.Datetime):
        return timedelta(hours=1)
    raise TypeError(f"ds must hold dates or datetimes, not {ds_dtype}")


def seasonal_naive_scale(
    insample: pl.DataFrame | pl.LazyFrame, season: int, every: timedelta | None = None
) -> pl.DataFrame:
    """The in-sample MAE of the seasonal-naive forecast of each series: the MASE scale.

    It is the mean of ``|y[t] - y[t - season]|`` over the times where both values are observed;
    ``season`` counts steps of ``every`` (default: :func:`series_step` of ``ds``). Series are
    grouped by ``unique_id`` and, when the frame has one, ``origin``. Returns those keys and
    ``scale`` (null for a series without any such pair).
    """
    insample = insample.lazy()
    keys = ["unique_id", *(["origin"] if "origin" in insample.collect_schema().names() else [])]
    step = every if every is not None else series_step(insample.collect_schema()["ds"])
    observed = insample.select(*keys, "ds", "y").filter(pl.col("y").is_not_nan())
    lagged = observed.select(
        *keys, (pl.col("ds") + step * season).alias("ds"), pl.col("y").alias("y_lagged")
    )
    differences = observed.join(lagged, on=[*keys, "ds"], how="left")
    return (
        differences.group_by(keys)
        .agg((pl.col("y") - pl.col("y_lagged")).abs().mean().alias("scale"))
        .sort(keys)
        .collect()
    )


def horizon_day(ds: pl.Expr, origin: pl.Expr) -> pl.Expr:
    """Forecast day 1, 2, ... of ``ds`` after ``origin``: hour steps count in their day."""
    return ((ds - origin).dt.total_hours() / 24).ceil().cast(pl.Int32)


def _scored(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """The rows of ``frame`` with an observed actual; raises when one lacks a forecast."""
    scored = frame.lazy().filter(pl.col("y").is_not_null() & pl.col("y").is_not_nan())
    lacking = (
        scored.filter(pl.any_horizontal(pl.col(list(QUANTILE_COLUMNS)).is_null()))
        .select(pl.len())
        .collect()
        .item()
    )
    if lacking:
        raise ValueError(f"{lacking} observed actual(s) have no P10/P50/P90 forecast")
    return scored


def _metrics(scored: pl.LazyFrame, scales: pl.LazyFrame) -> dict[str, float]:
    """The four metrics of the already filtered rows ``scored`` (see the module docstring)."""
    keys = [key for key in ("unique_id", "origin") if key in scales.collect_schema().names()]
    error = pl.col("y") - pl.col("p50")
    ratios = (
        scored.group_by("unique_id", "origin")
        .agg(error.abs().mean().alias("mae"))
        .join(scales, on=keys, how="left")
        .filter(pl.col("scale") > 0)
        .select((pl.col("mae") / pl.col("scale")).mean().alias("mase"))
    )
    pinball = [
        pl.max_horizontal(
            q * (pl.col("y") - pl.col(column)), (q - 1) * (pl.col("y") - pl.col(column))
        ).mean()
        for column, q in QUANTILE_COLUMNS.items()
    ]
    pooled = scored.select(
        (error.abs().sum() / pl.col("y").abs().sum()).alias("wape"),
        pl.col("y").is_between(pl.col("p10"), pl.col("p90")).mean().alias("coverage_80"),
        (pl.sum_horizontal(pinball) / len(pinball)).alias("pinball_mean"),
    )
    row = pl.concat([ratios, pooled], how="horizontal").collect().row(0, named=True)
    return {name: float("nan") if row[name] is None else float(row[name]) for name in METRIC_NAMES}


def forecast_metrics(
    frame: pl.DataFrame | pl.LazyFrame, scales: pl.DataFrame | pl.LazyFrame
) -> dict[str, float]:
    """MASE, WAPE, coverage_80 and pinball_mean of the forecasts in ``frame``.

    ``frame`` holds unique_id, origin, ds, y, p10, p50, p90; ``scales`` holds the MASE scale of
    each unique_id (and origin, when scales differ by origin) as :func:`seasonal_naive_scale`
    returns it. Aggregation as the module docstring says. Raises ``ValueError`` when an observed
    actual has no forecast: every model must forecast every scored point.
    """
    return _metrics(_scored(frame), scales.lazy())


def forecast_metrics_by_horizon(
    frame: pl.DataFrame | pl.LazyFrame,
    scales: pl.DataFrame | pl.LazyFrame,
    buckets: Sequence[tuple[int, int]] = HORIZON_BUCKETS,
) -> dict[str, dict[str, float]]:
    """:func:`forecast_metrics` for each bucket of forecast days, keyed "1-7", "8-14", ...

    A bucket (first, last) holds the points whose forecast day (:func:`horizon_day`) lies in
    [first, last]; buckets without a scored point are left out.
    """
    scored = _scored(frame).with_columns(
        horizon_day(pl.col("ds"), pl.col("origin")).alias("horizon_day")
    )
    by_horizon: dict[str, dict[str, float]] = {}
    for first, last in buckets:
        bucket = scored.filter(pl.col("horizon_day").is_between(first, last))
        if bucket.select(pl.len()).collect().item():
            by_horizon[f"{first}-{last}"] = _metrics(bucket, scales.lazy())
    return by_horizon
