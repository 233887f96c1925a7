"""Seasonal-naive footfall baselines and the Nixtla peers' runner on small synthetic series."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import UserInputError
from training.baselines.footfall import seasonal_naive
from training.benchmarks import auckland_peers
from training.benchmarks.auckland_peers import (
    FORECAST_COLUMNS,
    PEER_CONFIGS,
    fill_for_fitting,
    run_auckland_benchmark,
    run_peers,
)
from training.metrics.forecast import forecast_metrics, seasonal_naive_scale

START = date(2024, 1, 1)
WEEK = [120.0, 100.0, 105.0, 110.0, 130.0, 180.0, 160.0]


def periodic_series(
    unique_id: str, n_days: int, noisy_days: int = 0, seed: int = 0
) -> pl.DataFrame:
    """A weekly pattern, with noise on the first ``noisy_days`` days only."""
    rng = np.random.default_rng(seed)
    y = np.array([WEEK[d % 7] for d in range(n_days)])
    y[:noisy_days] += rng.normal(0, 10, noisy_days)
    return pl.DataFrame(
        {
            "unique_id": unique_id,
            "ds": pl.date_range(START, START + timedelta(days=n_days - 1), eager=True),
            "y": y,
        }
    )


def scored(history: pl.DataFrame, forecasts: pl.DataFrame) -> pl.DataFrame:
    return forecasts.join(history, on=["unique_id", "ds"], how="left")


def test_perfectly_periodic_series_has_mase_zero_and_full_coverage() -> None:
    history = pl.concat(
        [periodic_series("a", 120, noisy_days=28), periodic_series("b", 120, 28, 1)]
    )
    origin = START + timedelta(days=89)
    scales = seasonal_naive_scale(history.filter(pl.col("ds") <= origin), 7)
    assert (scales["scale"] > 0).all()
    for season in (7, 28):
        forecasts = seasonal_naive(history, origin, horizon=28, season=season)
        assert forecasts.columns == ["unique_id", "origin", "ds", "p10", "p50", "p90"]
        assert forecasts.height == 2 * 28
        metrics = forecast_metrics(scored(history, forecasts), scales)
        assert metrics["mase"] == 0.0
        assert metrics["wape"] == 0.0
        assert metrics["coverage_80"] == 1.0


def test_forecasts_cover_the_steps_after_the_origin() -> None:
    history = periodic_series("a", 60)
    origin = START + timedelta(days=40)
    forecasts = seasonal_naive(history, origin, horizon=10, season=7)
    assert forecasts["ds"].to_list() == [origin + timedelta(days=h) for h in range(1, 11)]
    assert forecasts["origin"].unique().to_list() == [origin]


def test_a_missing_seasonal_value_falls_back_one_season() -> None:
    history = periodic_series("a", 60).with_columns(
        pl.when(pl.col("ds") == START + timedelta(days=34))
        .then(999.0)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    origin = START + timedelta(days=41)
    gap_null = history.with_columns(
        pl.when(pl.col("ds") == START + timedelta(days=41))
        .then(None)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    gap_absent = history.filter(pl.col("ds") != START + timedelta(days=41))
    for frame in (gap_null, gap_absent):
        forecasts = seasonal_naive(frame, origin, horizon=7, season=7)
        # day 48 would copy day 41 (missing), so it copies day 34 (999).
        day_48 = forecasts.filter(pl.col("ds") == START + timedelta(days=48))
        assert day_48["p50"].item() == 999.0
        assert forecasts["p50"].null_count() == 0


def test_interval_width_grows_with_the_seasons_looked_back() -> None:
    # Each week is 5 above the previous one: one-season residuals are 5, two-season ones 10.
    history = periodic_series("a", 70).with_columns(
        (pl.col("y") + 5.0 * (pl.int_range(pl.len()) // 7)).alias("y")
    )
    origin = START + timedelta(days=69)
    forecasts = seasonal_naive(history, origin, horizon=14, season=7)
    width = (forecasts["p90"] - forecasts["p50"]).to_list()
    assert width == pytest.approx([5.0] * 7 + [10.0] * 7)
    assert (forecasts["p10"] <= forecasts["p50"]).all()


def test_noisy_series_get_about_80_percent_coverage() -> None:
    history = pl.concat([periodic_series(f"s{i}", 400, noisy_days=400, seed=i) for i in range(30)])
    frames = []
    for origin in (START + timedelta(days=300), START + timedelta(days=340)):
        frames.append(scored(history, seasonal_naive(history, origin, horizon=28, season=7)))
    scales = seasonal_naive_scale(history, 7)
    metrics = forecast_metrics(pl.concat(frames), scales)
    assert 0.74 <= metrics["coverage_80"] <= 0.86
    assert 0.8 <= metrics["mase"] <= 1.2


def test_hourly_series_step_in_hours() -> None:
    hours = 24 * 10
    start = datetime(2024, 1, 1, 6)
    history = pl.DataFrame(
        {
            "unique_id": "a",
            "ds": [start + timedelta(hours=h) for h in range(hours)],
            "y": [float(h % 24) for h in range(hours)],
        }
    )
    origin = start + timedelta(hours=24 * 8 - 1)
    forecasts = seasonal_naive(history, origin, horizon=48, season=24)
    assert forecasts["ds"][0] == origin + timedelta(hours=1)
    assert forecasts["p50"].to_list() == [float(h % 24) for h in range(48)]


@settings(max_examples=25, deadline=None)
@given(
    future=st.lists(st.floats(min_value=0, max_value=1e4), min_size=14, max_size=14),
    season=st.sampled_from([7, 14]),
)
def test_data_after_the_origin_is_never_read(future: list[float], season: int) -> None:
    history = periodic_series("a", 60, noisy_days=60)
    origin = START + timedelta(days=45)
    changed = history.with_columns(
        pl.when(pl.col("ds") > origin)
        .then(pl.Series([0.0] * 46 + future))
        .otherwise(pl.col("y"))
        .alias("y")
    )
    expected = seasonal_naive(history, origin, horizon=14, season=season)
    assert seasonal_naive(changed, origin, horizon=14, season=season).equals(expected)
    assert fill_for_fitting(changed, origin, 7).equals(fill_for_fitting(history, origin, 7))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="horizon"):
        seasonal_naive(periodic_series("a", 30), START + timedelta(days=20), horizon=0, season=7)


def test_filling_for_the_peers_uses_the_previous_season_then_interpolates() -> None:
    history = periodic_series("a", 40).with_columns(
        pl.when(pl.col("ds").is_in([START + timedelta(days=d) for d in (0, 1, 30)]))
        .then(None)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    origin = START + timedelta(days=35)
    filled = fill_for_fitting(history.filter(pl.col("ds") != START + timedelta(days=33)), origin, 7)
    assert filled["ds"].to_list() == [START + timedelta(days=d) for d in range(2, 36)]
    assert filled["y"].null_count() == 0
    by_day = dict(zip(filled["ds"].to_list(), filled["y"].to_list(), strict=True))
    assert by_day[START + timedelta(days=30)] == WEEK[30 % 7]
    assert by_day[START + timedelta(days=33)] == WEEK[33 % 7]


def test_filling_extends_a_series_that_stops_early_to_the_origin() -> None:
    history = periodic_series("a", 20)
    origin = START + timedelta(days=24)
    filled = fill_for_fitting(history, origin, 7)
    assert filled["ds"].max() == origin
    assert filled.filter(pl.col("ds") > START + timedelta(days=19))["y"].to_list() == [
        WEEK[d % 7] for d in range(20, 25)
    ]


TINY_DAILY = dataclasses.replace(
    PEER_CONFIGS["daily"],
    conformal_windows=2,
    lgbm_params={"n_estimators": 10, "num_leaves": 7, "n_jobs": 1, "verbosity": -1},
)


def test_the_peers_runner_returns_the_documented_shape() -> None:
    history = pl.concat([periodic_series(f"s{i}", 130, noisy_days=130, seed=i) for i in range(3)])
    history = history.with_columns(
        pl.when(pl.col("ds") == START + timedelta(days=100))
        .then(None)
        .otherwise(pl.col("y"))
        .alias("y")
    )
    origins = [START + timedelta(days=108), START + timedelta(days=115)]
    run = run_peers(history, origins, horizon=7, granularity="daily", n_jobs=1, config=TINY_DAILY)
    forecasts = run.forecasts
    assert tuple(forecasts.columns) == FORECAST_COLUMNS
    assert forecasts.height == 2 * 3 * 2 * 7
    assert set(run.wall_s) == {"autoets", "mlforecast"}
    assert all(seconds > 0 for seconds in run.wall_s.values())
    assert forecasts.select("p10", "p50", "p90").null_count().row(0) == (0, 0, 0)
    assert (forecasts["p10"] <= forecasts["p90"]).all()
    first = forecasts.group_by("model", "origin").agg(
        pl.col("ds").min(), pl.col("ds").max().alias("last")
    )
    for row in first.iter_rows(named=True):
        assert row["ds"] == row["origin"] + timedelta(days=1)
        assert row["last"] == row["origin"] + timedelta(days=7)


def test_the_benchmark_runner_reports_the_design_metric_keys() -> None:
    history = pl.concat([periodic_series(f"s{i}", 800, noisy_days=800, seed=i) for i in range(2)])
    run = run_auckland_benchmark("daily", models=("seasonal_naive",), history=history)
    assert list(run.metrics) == ["seasonal_naive_7", "seasonal_naive_364"]
    for metrics in run.metrics.values():
        assert set(metrics) == {"mase", "wape", "coverage_80", "pinball_mean", "wall_s"}
    assert len(run.origins) == 12
    assert run.origins[-1] == history["ds"].max() - timedelta(days=28)
    assert list(run.by_horizon["seasonal_naive_7"]) == ["1-7", "8-14", "15-28"]
    assert run.sensors == ["s0", "s1"]


def test_unknown_or_missing_models_are_user_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    history = periodic_series("a", 60)
    origins = [START + timedelta(days=50)]
    with pytest.raises(UserInputError, match="unknown peer"):
        run_peers(history, origins, horizon=7, granularity="daily", models=["prophet"])
    with pytest.raises(UserInputError, match="at least one model"):
        run_auckland_benchmark("daily", models=(), history=history)
    monkeypatch.setattr(auckland_peers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserInputError, match=r"pip install -e '\.\[bench\]'"):
        run_peers(history, origins, horizon=7, granularity="daily")
