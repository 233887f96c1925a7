"""The day-profile hourly model: hour shares from past days only, the blend of the direct
hourly forecast with the daily forecast spread over the day, and recurring days.

The history is built here: three boutiques open 10:00-19:59 whose hour-of-day profile differs
between weekdays and Saturdays, a weekly pattern and a little noise. Recurring days get their
own earlier years, written as plain series.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.boutique_features import build_boutique_training_frame
from features.contract import TABLES
from features.history import PurchaseHistory, load_history
from training.footfall.backtest import footfall_series
from training.footfall.day_profile import (
    DAY_KEYS,
    RECURRING_THRESHOLD,
    DayProfileModel,
    daily_rows,
    day_excesses,
    fit_day_profile_model,
    hour_shares,
    recurring_day_shares,
)
from training.footfall.layout import DAILY, HOURLY
from training.footfall.search_space import booster_params

START = date(2024, 1, 1)
FORECAST_START = date(2024, 10, 7)
OPEN_HOURS = range(10, 20)
WEEKDAY_PROFILE = np.array([1, 2, 3, 4, 4, 3, 3, 3, 2, 1], dtype=float)
SATURDAY_PROFILE = np.array([1, 1, 1, 2, 3, 4, 5, 5, 4, 2], dtype=float)
LEVELS = {"A": 800.0, "B": 400.0, "C": 250.0}
WEEKDAY_FACTOR = np.array([0.9, 0.9, 1.0, 1.0, 1.2, 1.6, 0.6])
PARAMS = booster_params({"num_boost_round": 40, "learning_rate": 0.1, "min_data_in_leaf": 20})


def profile(day: date) -> np.ndarray:
    """The true share of each open hour on ``day``."""
    shape = SATURDAY_PROFILE if day.weekday() == 5 else WEEKDAY_PROFILE
    return shape / shape.sum()


def hourly_counts(noise: float = 0.05, seed: int = 0) -> pl.DataFrame:
    """Hourly counts of the open hours of every day before the forecast start."""
    rng = np.random.default_rng(seed)
    days = pl.date_range(START, FORECAST_START - timedelta(days=1), eager=True).to_list()
    rows: list[dict[str, object]] = []
    for boutique, level in LEVELS.items():
        for day in days:
            total = level * WEEKDAY_FACTOR[day.weekday()] * rng.lognormal(0.0, noise)
            for hour, share in zip(OPEN_HOURS, profile(day), strict=True):
                rows.append(
                    {
                        "boutique_id": boutique,
                        "hour_start": datetime.combine(day, datetime.min.time())
                        + timedelta(hours=hour),
                        "visitors": round(total * share),
                    }
                )
    return pl.DataFrame(rows)


def write_history(folder: Path, footfall: pl.DataFrame) -> Path:
    """A history folder holding ``footfall`` and three French boutiques."""
    folder.mkdir(parents=True, exist_ok=True)
    boutiques = pl.DataFrame(
        {
            "boutique_id": list(LEVELS),
            "city": "Paris",
            "country": "FR",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "opened_on": date(2020, 1, 1),
            "closed_on": None,
            "format": "boutique",
        },
        schema_overrides={"closed_on": pl.Date},
    )
    tables = {
        "boutiques": boutiques,
        "footfall": footfall,
        **{
            name: pl.DataFrame(schema=TABLES[name].schema())
            for name in ("clients", "products", "transactions", "fx_rates", "events")
        },
    }
    for name, table in tables.items():
        table.write_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> PurchaseHistory:
    return load_history(write_history(tmp_path_factory.mktemp("profile"), hourly_counts()))


@pytest.fixture(scope="module")
def series(history: PurchaseHistory) -> tuple[pl.DataFrame, pl.DataFrame]:
    return footfall_series(history, HOURLY), footfall_series(history, DAILY)


@pytest.fixture(scope="module")
def frame(history: PurchaseHistory) -> pl.DataFrame:
    cutoffs = [FORECAST_START - timedelta(weeks=k) for k in range(0, 24, 2)]
    return build_boutique_training_frame(history, cutoffs, 7, "hourly")


@pytest.fixture(scope="module")
def model(frame: pl.DataFrame, series: tuple[pl.DataFrame, pl.DataFrame]) -> DayProfileModel:
    hourly, daily = series
    past = frame.filter(pl.col("target_date") < FORECAST_START)
    return fit_day_profile_model(past, hourly, daily, HOURLY.with_horizon(7), PARAMS, num_threads=1)


def test_hour_shares_recover_each_weekdays_profile(
    series: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    hourly, daily = series
    cutoff = pl.Series([FORECAST_START])
    shares = hour_shares(hourly, daily, cutoff, weeks=4)
    sums = shares.group_by("boutique_id", "weekday").agg(pl.col("share").sum())
    assert np.allclose(sums["share"].to_numpy(), 1.0)
    saturday = shares.filter((pl.col("boutique_id") == "A") & (pl.col("weekday") == 6))
    open_hours = saturday.filter(pl.col("hour").is_in(list(OPEN_HOURS))).sort("hour")
    expected = SATURDAY_PROFILE / SATURDAY_PROFILE.sum()
    assert np.allclose(open_hours["share"].to_numpy(), expected, atol=0.005)
    closed = saturday.filter(~pl.col("hour").is_in(list(OPEN_HOURS)))
    assert closed.height == 0 or closed["share"].max() == 0.0


@settings(max_examples=10, deadline=None)
@given(days_before=st.integers(min_value=0, max_value=27), factor=st.floats(0.0, 10.0))
def test_hour_shares_read_only_days_before_the_cutoff(days_before: int, factor: float) -> None:
    hourly = hourly_counts(noise=0.0).select(
        "boutique_id", pl.col("hour_start").alias("time"), "visitors"
    )
    daily = hourly.group_by("boutique_id", pl.col("time").dt.date()).agg(pl.col("visitors").sum())
    cutoff = FORECAST_START - timedelta(days=days_before)
    later = pl.col("time").dt.date() >= cutoff
    changed = hourly.with_columns(
        pl.when(later & (pl.col("time").dt.hour() == 12))
        .then((pl.col("visitors") * factor).round().cast(pl.Int64))
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    before = hour_shares(hourly, daily, pl.Series([cutoff]), weeks=2).sort(pl.all())
    after = hour_shares(changed, daily, pl.Series([cutoff]), weeks=2).sort(pl.all())
    assert before.equals(after)


def test_days_with_a_missing_total_are_left_out() -> None:
    hourly = hourly_counts(noise=0.0).select(
        "boutique_id", pl.col("hour_start").alias("time"), "visitors"
    )
    daily = hourly.group_by("boutique_id", pl.col("time").dt.date()).agg(pl.col("visitors").sum())
    broken_day = FORECAST_START - timedelta(days=3)
    spike_hour = datetime.combine(broken_day, datetime.min.time()) + timedelta(hours=11)
    spiked = hourly.with_columns(
        pl.when(pl.col("time") == spike_hour)
        .then(100_000)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    missing = daily.with_columns(
        pl.when(pl.col("time") == broken_day)
        .then(None)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    cutoff = pl.Series([FORECAST_START])
    clean = hour_shares(hourly, daily, cutoff, weeks=2).sort(pl.all())
    assert hour_shares(spiked, missing, cutoff, weeks=2).sort(pl.all()).equals(clean)
    assert not hour_shares(spiked, daily, cutoff, weeks=2).sort(pl.all()).equals(clean)


def test_daily_rows_are_one_per_day_with_the_daily_total(
    frame: pl.DataFrame, series: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    _, daily = series
    rows = daily_rows(frame, daily)
    assert rows.height == frame.select("boutique_id", "cutoff", "target_date").n_unique()
    assert "hour" not in rows.columns
    totals = frame.group_by("boutique_id", "target_date").agg(pl.col("visitors").sum())
    checked = rows.join(totals, on=["boutique_id", "target_date"], suffix="_hours")
    checked = checked.filter(pl.col("visitors").is_not_null())
    assert checked.height > 0
    assert (checked["visitors"] == checked["visitors_hours"]).all()


def test_weight_zero_is_the_direct_forecast_and_one_spreads_the_daily_forecast(
    model: DayProfileModel, frame: pl.DataFrame
) -> None:
    future = frame.filter(pl.col("cutoff") == FORECAST_START)
    direct = DayProfileModel(model.granularity, model.spec, model.booster)
    blended = model.forecast(future)
    only_direct = replace(model, weight=0.0).forecast(future)
    assert np.allclose(only_direct["p50"].to_numpy(), direct.forecast(future)["p50"].to_numpy())
    only_profile = replace(model, weight=1.0).forecast(future)
    assert model.daily is not None
    daily = model.daily.forecast(daily_rows(future, model.daily_series))
    spread = only_profile.group_by(
        "boutique_id", pl.col("target_hour").dt.date().alias("target_date")
    ).agg(pl.col("p50").sum())
    compared = spread.join(
        daily.select("boutique_id", "target_date", pl.col("p50").alias("daily")),
        on=["boutique_id", "target_date"],
    )
    assert compared.height == 3 * 7
    assert np.allclose(compared["p50"].to_numpy(), compared["daily"].to_numpy(), rtol=1e-6)
    halfway = 0.5 * only_direct["p50"].to_numpy() + 0.5 * only_profile["p50"].to_numpy()
    assert np.allclose(blended["p50"].to_numpy(), halfway)
    saturday = only_profile.filter(pl.col("target_hour").dt.weekday() == 6)
    peak = saturday.sort("p50", descending=True)["target_hour"][0]
    assert peak.hour in (16, 17)


def test_without_hour_shares_the_direct_forecast_stands(
    model: DayProfileModel, frame: pl.DataFrame
) -> None:
    future = frame.filter(pl.col("cutoff") == FORECAST_START)
    empty = model.hourly_series.clear()
    unprofiled = replace(model, hourly_series=empty)
    direct = DayProfileModel(model.granularity, model.spec, model.booster)
    assert np.allclose(
        unprofiled.forecast(future)["p50"].to_numpy(), direct.forecast(future)["p50"].to_numpy()
    )


RECURRING_DATE = date(2024, 10, 10)
RECURRING_HOUR = 12


def earlier_years(
    boutique: str, excess: tuple[float, float], start: date = date(2022, 7, 1)
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly and daily series of ``boutique`` from ``start`` to the end of 2023: 100 visitors
    an hour from 10:00 to 19:59 every day, except on 10 October 2022 and 2023, which draw
    ``excess`` times the usual day, all of it at noon."""
    days = pl.date_range(start, date(2023, 12, 31), eager=True)
    special = {date(2022, 10, 10): excess[0], date(2023, 10, 10): excess[1]}
    rows = []
    for day in days.to_list():
        for hour in OPEN_HOURS:
            visitors = 100.0 * len(OPEN_HOURS) * special[day] if day in special else 100.0
            if day in special and hour != RECURRING_HOUR:
                visitors = 0.0
            rows.append(
                {
                    "boutique_id": boutique,
                    "time": datetime.combine(day, datetime.min.time()) + timedelta(hours=hour),
                    "visitors": visitors,
                }
            )
    hourly = pl.DataFrame(rows)
    daily = hourly.group_by("boutique_id", pl.col("time").dt.date()).agg(pl.col("visitors").sum())
    return hourly, daily.sort("time")


def with_earlier_years(
    series: tuple[pl.DataFrame, pl.DataFrame], excess: tuple[float, float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The fixture's series of all boutiques with boutique A's earlier years in front."""
    hourly, daily = series
    early_hourly, early_daily = earlier_years("A", excess)
    return (
        pl.concat([early_hourly, hourly], how="vertical_relaxed"),
        pl.concat([early_daily, daily], how="vertical_relaxed"),
    )


def test_day_excesses_compare_a_day_with_its_earlier_same_weekdays() -> None:
    _, daily = earlier_years("A", (3.0, 2.0))
    excesses = day_excesses(daily, weeks=4)
    by_date = dict(zip(excesses["date"].to_list(), excesses["excess"].to_list(), strict=True))
    assert by_date[date(2022, 10, 10)] == pytest.approx(3.0)
    assert by_date[date(2023, 10, 10)] == pytest.approx(2.0)
    # the next same weekdays compare with a baseline holding the excess
    assert by_date[date(2022, 10, 17)] == pytest.approx(1.0 / 1.5)
    assert by_date[date(2022, 11, 14)] == pytest.approx(1.0)
    assert date(2022, 7, 7) not in by_date  # no earlier same weekday
    missing = daily.with_columns(
        pl.when(pl.col("time") == date(2022, 10, 10))
        .then(None)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    assert date(2022, 10, 10) not in day_excesses(missing)["date"].to_list()


def test_a_date_recurs_only_when_every_earlier_year_drew_a_crowd() -> None:
    days = pl.DataFrame(
        {
            "boutique_id": ["A", "A"],
            "cutoff": [date(2024, 10, 7)] * 2,
            "target_date": [RECURRING_DATE, RECURRING_DATE + timedelta(days=1)],
        }
    )
    hourly, daily = earlier_years("A", (3.0, 2.0))
    shares = recurring_day_shares(hourly, daily, days, years=2, threshold=RECURRING_THRESHOLD)
    assert shares.select(pl.col("target_date").unique()).to_series().to_list() == [RECURRING_DATE]
    by_hour = dict(zip(shares["hour"].to_list(), shares["recurring_share"].to_list(), strict=True))
    assert by_hour[RECURRING_HOUR] == pytest.approx(np.sqrt(3.0 * 2.0))
    assert sum(by_hour.values()) == pytest.approx(np.sqrt(6.0))
    for excess in [(3.0, 1.2), (0.5, 0.5)]:
        hourly, daily = earlier_years("A", excess)
        assert recurring_day_shares(hourly, daily, days, years=2).height == 0
    # two earlier years are needed: a history starting after the first one has too few
    hourly, daily = earlier_years("A", (3.0, 2.0), start=date(2023, 1, 1))
    assert recurring_day_shares(hourly, daily, days, years=2).height == 0


@settings(max_examples=10, deadline=None)
@given(cutoff_days_after=st.integers(min_value=-400, max_value=0), factor=st.floats(0.0, 10.0))
def test_recurring_days_read_only_days_before_the_cutoff(
    cutoff_days_after: int, factor: float
) -> None:
    hourly, daily = earlier_years("A", (3.0, 2.0))
    cutoff = date(2023, 12, 31) + timedelta(days=cutoff_days_after)
    days = pl.DataFrame(
        {
            "boutique_id": "A",
            "cutoff": cutoff,
            "target_date": pl.date_range(cutoff, cutoff + timedelta(days=13), eager=True),
        }
    )
    later = pl.col("time").cast(pl.Date) >= cutoff
    changed_hourly = hourly.with_columns(
        pl.when(later)
        .then(pl.col("visitors") * factor)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    changed_daily = daily.with_columns(
        pl.when(later)
        .then(pl.col("visitors") * factor)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    before = recurring_day_shares(hourly, daily, days).sort(pl.all())
    after = recurring_day_shares(changed_hourly, changed_daily, days).sort(pl.all())
    assert before.equals(after)


def test_a_recurring_day_spreads_the_daily_forecast_by_the_earlier_years(
    model: DayProfileModel, frame: pl.DataFrame, series: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    future = frame.filter(pl.col("cutoff") == FORECAST_START)
    hourly, daily = with_earlier_years(series, (3.0, 2.0))
    recurring = replace(model, hourly_series=hourly, daily_series=daily)
    forecast = recurring.forecast(future)
    plain = replace(recurring, recurring_threshold=None).forecast(future)
    assert np.allclose(plain["p50"].to_numpy(), model.forecast(future)["p50"].to_numpy())
    is_recurring = (pl.col("boutique_id") == "A") & (
        pl.col("target_hour").dt.date() == RECURRING_DATE
    )
    assert forecast.filter(~is_recurring).equals(plain.filter(~is_recurring))
    day = forecast.filter(is_recurring).sort("target_hour")
    assert model.daily is not None
    daily_p50 = (
        model.daily.forecast(daily_rows(future, model.daily_series))
        .filter((pl.col("boutique_id") == "A") & (pl.col("target_date") == RECURRING_DATE))
        .get_column("p50")
        .item()
    )
    noon = day.filter(pl.col("target_hour").dt.hour() == RECURRING_HOUR)["p50"].item()
    assert noon == pytest.approx(daily_p50 * np.sqrt(6.0), rel=1e-6)
    assert day.filter(pl.col("target_hour").dt.hour() != RECURRING_HOUR)["p50"].max() == 0.0
    assert set(DAY_KEYS) - {"target_date"} <= set(forecast.columns)
