"""Forecast metrics: hand-computed values, missing actuals, M4-style MASE, horizon buckets."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.metrics.forecast import (
    coverage,
    forecast_metrics,
    forecast_metrics_by_horizon,
    horizon_day,
    mase,
    pinball_loss,
    pinball_mean,
    seasonal_naive_scale,
    wape,
)

ORIGIN = date(2025, 1, 31)


def forecast_frame(unique_id: str, actual: list[float | None], p50: list[float]) -> pl.DataFrame:
    """Forecasts for days 1.. after ORIGIN with a ±1 interval."""
    days = [ORIGIN + timedelta(days=h) for h in range(1, len(actual) + 1)]
    return pl.DataFrame(
        {
            "unique_id": unique_id,
            "origin": ORIGIN,
            "ds": days,
            "y": actual,
            "p10": [value - 1 for value in p50],
            "p50": p50,
            "p90": [value + 1 for value in p50],
        },
        schema_overrides={"y": pl.Float64},
    )


def test_mase_is_mae_over_scale_on_observed_actuals() -> None:
    assert mase([1, 2, 3], [2, 2, 2], scale=2.0) == pytest.approx(1 / 3)
    assert mase([1, np.nan, 3], [2, 50, 2], scale=1.0) == pytest.approx(1.0)
    assert mase([1, None, 3], [2, 50, 2], scale=1.0) == pytest.approx(1.0)
    assert math.isnan(mase([1, 2], [1, 2], scale=0.0))
    assert math.isnan(mase([np.nan], [1], scale=1.0))


def test_wape_is_pooled_absolute_error_over_actuals() -> None:
    assert wape([10, 20, None], [12, 15, 100]) == pytest.approx(7 / 30)
    assert math.isnan(wape([0, 0], [1, 1]))


def test_coverage_counts_bounds_as_inside() -> None:
    assert coverage([1, 5, 10, np.nan], [0, 6, 9, 0], [2, 8, 10, 0]) == pytest.approx(2 / 3)
    assert coverage([1, 2], [1, 2], [1, 2]) == 1.0


def test_pinball_loss_weights_under_and_over_forecasts() -> None:
    assert pinball_loss([10], [8], 0.9) == pytest.approx(1.8)
    assert pinball_loss([10], [12], 0.9) == pytest.approx(0.2)
    assert pinball_loss([10, np.nan], [12, 0], 0.5) == pytest.approx(1.0)
    expected = (pinball_loss([10], [7], 0.1) + 1.0 + pinball_loss([10], [13], 0.9)) / 3
    assert pinball_mean([10], [7], [12], [13]) == pytest.approx(expected)


def test_seasonal_naive_scale_uses_pairs_one_season_apart() -> None:
    insample = pl.DataFrame(
        {
            "unique_id": ["a"] * 5 + ["b"] * 4,
            "ds": [date(2025, 1, d) for d in (1, 2, 3, 4, 5)]
            + [date(2025, 1, d) for d in (1, 2, 4, 5)],
            "y": [1.0, 2.0, 3.0, 4.0, 9.0, 10.0, 10.0, 16.0, None],
        }
    )
    scales = seasonal_naive_scale(insample, season=2)
    # a: |3-1|, |4-2|, |9-3| -> 10/3; b: only 4th minus 2nd is a pair (3rd absent, 5th null).
    assert scales["unique_id"].to_list() == ["a", "b"]
    assert scales["scale"].to_list() == pytest.approx([10 / 3, 6.0])


def test_seasonal_naive_scale_steps_hours_for_datetimes_and_groups_by_origin() -> None:
    start = datetime(2025, 1, 1, 6)
    insample = pl.DataFrame(
        {
            "unique_id": "a",
            "origin": [start + timedelta(hours=2)] * 3 + [start + timedelta(hours=3)] * 4,
            "ds": [start + timedelta(hours=h) for h in (0, 1, 2, 0, 1, 2, 3)],
            "y": [1.0, 5.0, 2.0, 1.0, 5.0, 2.0, 11.0],
        }
    )
    scales = seasonal_naive_scale(insample, season=1)
    assert scales["scale"].to_list() == pytest.approx([(4 + 3) / 2, (4 + 3 + 9) / 3])


def test_mase_is_the_mean_of_per_series_ratios_not_pooled() -> None:
    frame = pl.concat(
        [
            forecast_frame("small", [10.0, 10.0], [11.0, 11.0]),
            forecast_frame("big", [100.0, 100.0], [90.0, 90.0]),
        ]
    )
    scales = pl.DataFrame({"unique_id": ["small", "big"], "scale": [1.0, 100.0]})
    metrics = forecast_metrics(frame, scales)
    assert metrics["mase"] == pytest.approx((1.0 + 0.1) / 2)
    assert metrics["wape"] == pytest.approx((2 * 1 + 2 * 10) / 220)
    assert metrics["coverage_80"] == pytest.approx(0.5)
    assert set(metrics) == {"mase", "wape", "coverage_80", "pinball_mean"}


def test_scales_may_differ_by_origin() -> None:
    early = forecast_frame("a", [10.0], [12.0])
    late = early.with_columns(
        pl.col("origin") + timedelta(days=28), pl.col("ds") + timedelta(days=28)
    )
    scales = pl.DataFrame(
        {
            "unique_id": ["a", "a"],
            "origin": [ORIGIN, ORIGIN + timedelta(days=28)],
            "scale": [1.0, 4.0],
        }
    )
    assert forecast_metrics(pl.concat([early, late]), scales)["mase"] == pytest.approx(
        (2 + 0.5) / 2
    )


def test_missing_actuals_are_excluded_everywhere() -> None:
    frame = forecast_frame("a", [10.0, None, float("nan"), 20.0], [12.0, 1e6, 1e6, 20.0])
    metrics = forecast_metrics(frame, pl.DataFrame({"unique_id": ["a"], "scale": [2.0]}))
    assert metrics["mase"] == pytest.approx(((2 + 0) / 2) / 2)
    assert metrics["wape"] == pytest.approx(2 / 30)
    assert metrics["coverage_80"] == pytest.approx(0.5)
    assert metrics["pinball_mean"] == pytest.approx(
        pinball_mean([10, 20], [11, 19], [12, 20], [13, 21])
    )


def test_series_without_a_positive_scale_are_left_out_of_mase() -> None:
    frame = pl.concat([forecast_frame("flat", [5.0], [6.0]), forecast_frame("a", [5.0], [7.0])])
    scales = pl.DataFrame({"unique_id": ["flat", "a"], "scale": [0.0, 1.0]})
    assert forecast_metrics(frame, scales)["mase"] == pytest.approx(2.0)


def test_a_missing_forecast_for_an_observed_actual_is_an_error() -> None:
    frame = forecast_frame("a", [10.0, 11.0], [10.0, 11.0]).with_columns(
        pl.when(pl.col("ds") == ORIGIN + timedelta(days=2))
        .then(None)
        .otherwise(pl.col("p50"))
        .alias("p50")
    )
    with pytest.raises(ValueError, match="1 observed actual"):
        forecast_metrics(frame, pl.DataFrame({"unique_id": ["a"], "scale": [1.0]}))


def test_metrics_by_horizon_bucket() -> None:
    actual = [10.0] * 10
    p50 = [10.0] * 7 + [14.0] * 3
    by_horizon = forecast_metrics_by_horizon(
        forecast_frame("a", actual, p50), pl.DataFrame({"unique_id": ["a"], "scale": [2.0]})
    )
    assert list(by_horizon) == ["1-7", "8-14"]
    assert by_horizon["1-7"]["mase"] == 0.0
    assert by_horizon["8-14"]["mase"] == pytest.approx(2.0)
    assert by_horizon["8-14"]["wape"] == pytest.approx(0.4)


def test_hours_count_in_their_forecast_day() -> None:
    origin = datetime(2025, 1, 1, 5)
    frame = pl.DataFrame(
        {"origin": origin, "ds": [origin + timedelta(hours=h) for h in (1, 24, 25, 168)]}
    )
    days = frame.select(horizon_day(pl.col("ds"), pl.col("origin")))["ds"].to_list()
    assert days == [1, 1, 2, 7]


values = st.floats(min_value=0, max_value=1e4, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(
    actual=st.lists(st.one_of(values, st.none()), min_size=1, max_size=20),
    noise=st.lists(st.floats(min_value=-50, max_value=50), min_size=20, max_size=20),
    scale=st.floats(min_value=0.1, max_value=100),
)
def test_frame_metrics_agree_with_the_array_metrics(
    actual: list[float | None], noise: list[float], scale: float
) -> None:
    p50 = [(a or 0.0) + n for a, n in zip(actual, noise, strict=False)]
    frame = forecast_frame("a", actual, p50)
    observed = [a for a in actual if a is not None]
    if not observed or sum(observed) == 0:
        return
    metrics = forecast_metrics(frame, pl.DataFrame({"unique_id": ["a"], "scale": [scale]}))
    arrays = frame.select(pl.col("y", "p10", "p50", "p90").cast(pl.Float64)).to_numpy().T
    y, p10, p50_array, p90 = arrays
    assert metrics["mase"] == pytest.approx(mase(y, p50_array, scale))
    assert metrics["wape"] == pytest.approx(wape(y, p50_array))
    assert metrics["coverage_80"] == pytest.approx(coverage(y, p10, p90))
    assert metrics["pinball_mean"] == pytest.approx(pinball_mean(y, p10, p50_array, p90))
    assert 0.0 <= metrics["coverage_80"] <= 1.0
