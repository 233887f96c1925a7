"""Boutique footfall features: point in time, gaps kept missing, covariates, lifecycle, layout."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.boutique_features import (
    BOUTIQUE_FEATURES,
    BOUTIQUE_PROFILE_COLUMNS,
    CATEGORICAL_BOUTIQUE_FEATURES,
    DAILY_BOUTIQUE_FEATURES,
    HOURLY_BOUTIQUE_FEATURES,
    boutique_daily_features,
    boutique_hourly_features,
    boutique_profile_features,
    build_boutique_training_frame,
    daily_footfall,
    hourly_footfall,
    opening_hours,
)
from features.calendar import HOLIDAY_FEATURES
from features.contract import TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory, empty_table

START = date(2024, 1, 1)  # a Monday
OPEN_HOURS = range(10, 18)
BOUTIQUE_DEFAULTS = {
    "city": "Paris",
    "country": "FR",
    "currency": "EUR",
    "timezone": "Europe/Paris",
    "opened_on": date(2020, 1, 1),
    "closed_on": None,
    "format": "boutique",
    "latitude": None,
    "longitude": None,
}
DAILY_KEYS = ["boutique_id", "cutoff", "target_date"]
HOURLY_KEYS = [*DAILY_KEYS, "target_hour"]


def boutiques_frame(*specs: dict[str, object]) -> pl.LazyFrame:
    """A boutiques table: each spec overrides the defaults (a Paris boutique open since 2020)."""
    return pl.LazyFrame(
        [{**BOUTIQUE_DEFAULTS, **spec} for spec in specs], schema=TABLES["boutiques"].schema()
    )


def at_hour(day: date, hour: int = 0) -> datetime:
    """The local datetime of ``hour`` o'clock on ``day``."""
    return datetime(day.year, day.month, day.day, hour)


def footfall_frame(rows: list[tuple[str, datetime, int | None]]) -> pl.DataFrame:
    """A footfall table from (boutique_id, hour_start, visitors) rows."""
    return pl.DataFrame(rows, schema=TABLES["footfall"].schema(), orient="row")


def regular_footfall(boutique_id: str, days: int, start: date = START) -> pl.DataFrame:
    """Counts for every open hour (10:00-17:00) of ``days`` days, all positive, never missing."""
    return footfall_frame(
        [
            (
                boutique_id,
                at_hour(start + timedelta(days=day), hour),
                reference_count(day, hour),
            )
            for day in range(days)
            for hour in OPEN_HOURS
        ]
    )


def reference_count(day: int, hour: int) -> int:
    """The visitors of the regular series on day index ``day`` at ``hour``."""
    return (day % 5 + 1) * (hour - 8) + day % 3


def make_history(
    boutiques: pl.LazyFrame, footfall: pl.DataFrame, events: pl.DataFrame | None = None
) -> PurchaseHistory:
    """A history with only boutiques, footfall and events; the other tables empty."""
    tables = {name: empty_table(table) for name, table in TABLES.items()}
    tables["boutiques"] = boutiques
    tables["footfall"] = footfall.lazy()
    if events is not None:
        tables["events"] = events.lazy()
    return PurchaseHistory(**tables)


def truncated(history: PurchaseHistory, cutoff: date) -> PurchaseHistory:
    """The history as it was known at ``cutoff``: footfall strictly before it."""
    midnight = at_hour(cutoff)
    return replace(history, footfall=history.footfall.filter(pl.col("hour_start") < midnight))


def events_frame(rows: list[tuple[date, str, str | None, str | None]]) -> pl.DataFrame:
    """An events table of (date, kind, boutique_id, country) rows."""
    schema = TABLES["events"].schema()
    return pl.DataFrame(
        [(day, kind, boutique, country, "test") for day, kind, boutique, country in rows],
        schema={name: schema[name] for name in ("date", "kind", "boutique_id", "country", "label")},
        orient="row",
    )


# --- gaps are missing, never zero -------------------------------------------------------------

GAP_DAYS = 70
ABSENT_HOUR = (60, 12)  # day index, hour: the row is absent
NULL_HOUR = (63, 15)  # the row is there, visitors null
DARK_DAY = 65  # the sensor sent nothing all day


@pytest.fixture
def gappy_history() -> PurchaseHistory:
    """One boutique, 10 weeks of counts 10:00-17:00 with an absent hour, a null hour, a dark day
    and a zero count at 22:00 (outside opening hours, so no gap)."""
    rows = [
        row
        for row in regular_footfall("PAR", GAP_DAYS).iter_rows()
        if (row[1].date() - START).days != DARK_DAY
        and ((row[1].date() - START).days, row[1].hour) != ABSENT_HOUR
    ]
    rows = [
        (b, hour, None if ((hour.date() - START).days, hour.hour) == NULL_HOUR else v)
        for b, hour, v in rows
    ]
    rows.append(("PAR", datetime(2024, 3, 3, 22), 0))  # day 62
    return make_history(boutiques_frame({"boutique_id": "PAR"}), footfall_frame(rows))


def reference_daily() -> list[int | None]:
    """The daily totals of the gappy series, by plain Python."""
    missing = {ABSENT_HOUR[0], NULL_HOUR[0], DARK_DAY}
    return [
        None if day in missing else sum(reference_count(day, hour) for hour in OPEN_HOURS)
        for day in range(GAP_DAYS)
    ]


def test_hourly_series_keeps_gaps_null(gappy_history: PurchaseHistory) -> None:
    hourly = hourly_footfall(gappy_history).collect()
    assert hourly.height == GAP_DAYS * 24  # a complete grid of the boutique's span
    at = {row["hour_start"]: row["visitors"] for row in hourly.iter_rows(named=True)}
    day, hour = ABSENT_HOUR
    assert at[at_hour(START + timedelta(days=day), hour)] is None
    assert at[datetime(2024, 3, 3, 22)] == 0
    assert (
        hourly.filter(pl.col("date") == START + timedelta(days=DARK_DAY))["visitors"].null_count()
        == 24
    )
    # Open hours of every day but the dark one, less the absent and the null hour, plus 22:00.
    assert hourly["visitors"].is_not_null().sum() == (GAP_DAYS - 1) * len(OPEN_HOURS) - 2 + 1


def test_day_with_a_missing_open_hour_is_null(gappy_history: PurchaseHistory) -> None:
    daily = daily_footfall(gappy_history).collect()
    assert daily["date"].to_list() == [START + timedelta(days=n) for n in range(GAP_DAYS)]
    assert daily["visitors"].to_list() == reference_daily()


def test_rolling_statistics_skip_missing_days(gappy_history: PurchaseHistory) -> None:
    cutoff_index = 68
    cutoff = START + timedelta(days=cutoff_index)
    frame = boutique_daily_features(gappy_history, cutoff, 2).collect()
    assert frame["target_date"].to_list() == [cutoff, cutoff + timedelta(days=1)]
    reference = reference_daily()
    past = reference[:cutoff_index]
    observed = [value for value in past if value is not None]
    row = frame.row(0, named=True)
    for days in (7, 28, 91):
        window = observed[-days:]
        assert row[f"visitors_mean_{days}"] == pytest.approx(statistics.mean(window))
        assert row[f"visitors_median_{days}"] == pytest.approx(statistics.median(window))
        assert row[f"visitors_std_{days}"] == pytest.approx(statistics.stdev(window))
    assert row["visitors_last"] == past[-1]
    assert row["days_since_last_observed"] == 1
    assert row["days_observed"] == len(observed) == cutoff_index - 3
    assert row["missing_share_28"] == pytest.approx(3 / 28)
    same_weekday = [past[day] for day in range(cutoff_index - 7, -1, -7)]
    four = [value for value in same_weekday[:4] if value is not None]
    eight = [value for value in same_weekday[:8] if value is not None]
    assert row["same_weekday_mean_4w"] == pytest.approx(statistics.mean(four))
    assert row["same_weekday_mean_8w"] == pytest.approx(statistics.mean(eight))
    recent = [value for value in past[-28:] if value is not None]
    prior = [value for value in past[-56:-28] if value is not None]
    assert row["level_trend_28"] == pytest.approx(
        math.log1p(statistics.mean(recent)) - math.log1p(statistics.mean(prior))
    )
    assert row["level_vs_last_year_28"] is None
    assert row["same_day_last_year"] is None
    assert row["open_hours"] == len(OPEN_HOURS)
    assert frame["visitors"].to_list() == reference[cutoff_index:]


def test_hourly_rows_flag_open_hours_and_keep_absent_labels_null(
    gappy_history: PurchaseHistory,
) -> None:
    cutoff_index = 68
    cutoff = START + timedelta(days=cutoff_index)
    frame = boutique_hourly_features(gappy_history, cutoff, 2).collect()
    assert frame.height == 2 * 24
    rows = {row["target_hour"]: row for row in frame.iter_rows(named=True)}
    midnight = at_hour(cutoff)
    noon, night = rows[midnight + timedelta(hours=12)], rows[midnight + timedelta(hours=3)]
    assert noon["is_open_hour"] is True
    assert night["is_open_hour"] is False
    assert noon["visitors"] == reference_count(cutoff_index, 12)
    assert night["visitors"] is None  # absent, not zero
    assert noon["same_hour_last_week"] == reference_count(cutoff_index - 7, 12)
    same_slot = [reference_count(day, 12) for day in range(cutoff_index - 7, cutoff_index - 57, -7)]
    assert noon["hour_of_week_mean_4w"] == pytest.approx(statistics.mean(same_slot[:4]))
    assert noon["hour_of_week_mean_8w"] == pytest.approx(statistics.mean(same_slot))
    assert night["hour_of_week_mean_8w"] is None
    assert frame.filter(pl.col("is_open_hour"))["hour"].unique().sort().to_list() == list(
        OPEN_HOURS
    )


def test_same_day_last_year_only_when_before_the_cutoff() -> None:
    history = make_history(boutiques_frame({"boutique_id": "PAR"}), regular_footfall("PAR", 20))
    cutoff = START + timedelta(days=10)
    frame = boutique_daily_features(history, cutoff, 370).collect()
    by_target = {
        row["target_date"]: row["same_day_last_year"] for row in frame.iter_rows(named=True)
    }
    total = sum(reference_count(9, hour) for hour in OPEN_HOURS)
    assert by_target[START + timedelta(days=9 + 364)] == total
    assert by_target[START + timedelta(days=10 + 364)] is None  # that day is the cutoff itself


# --- opening hours ----------------------------------------------------------------------------


def test_opening_hours_are_inferred_from_the_weeks_before_the_cutoff() -> None:
    rows = [
        # Closed on Sundays: the sensor counts zero there; a zero at 09:00 every day.
        (b, hour, 0 if hour.isoweekday() == 7 else v)
        for b, hour, v in regular_footfall("PAR", 63).iter_rows()
    ]
    rows += [("PAR", at_hour(START + timedelta(days=n), 9), 0) for n in range(63)]
    history = make_history(
        boutiques_frame(
            {"boutique_id": "PAR"}, {"boutique_id": "NEW", "opened_on": date(2024, 3, 1)}
        ),
        footfall_frame(rows),
    )
    hours = opening_hours(history, START + timedelta(days=63)).collect()
    paris = hours.filter(pl.col("boutique_id") == "PAR")
    assert paris.height == 7 * 24
    open_slots = {
        (row["weekday"], row["hour"])
        for row in paris.filter(pl.col("is_open")).iter_rows(named=True)
    }
    assert open_slots == {(weekday, hour) for weekday in range(1, 7) for hour in OPEN_HOURS}
    per_weekday = dict(paris.select("weekday", "open_hours").unique().iter_rows())
    assert per_weekday == {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 0}
    assert hours.filter(pl.col("boutique_id") == "NEW").height == 0  # no footfall yet


# --- point in time ----------------------------------------------------------------------------


@st.composite
def random_histories(draw: st.DrawFn) -> tuple[PurchaseHistory, date, int]:
    """2-3 boutiques with random openings, closings, gaps, nulls, faults; a cutoff and horizon."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    count = draw(st.integers(2, 3))
    days = 84
    ids = [f"B{n}" for n in range(count)]
    opened = [START + timedelta(days=int(rng.integers(-30, 40))) for _ in ids]
    closed = [
        START + timedelta(days=int(rng.integers(50, 110))) if rng.random() < 0.4 else None
        for _ in ids
    ]
    boutiques = boutiques_frame(
        *(
            {"boutique_id": b, "opened_on": o, "closed_on": c, "country": ["FR", "JP", "US"][n]}
            for n, (b, o, c) in enumerate(zip(ids, opened, closed, strict=True))
        )
    )
    grid = pl.DataFrame({"boutique_id": ids}).join(
        pl.DataFrame(
            {
                "hour_start": pl.datetime_range(
                    at_hour(START),
                    at_hour(START + timedelta(days=days)),
                    "1h",
                    closed="left",
                    eager=True,
                )
            }
        ),
        how="cross",
    )
    hour = grid["hour_start"].dt.hour().to_numpy()
    is_open = (hour >= 10) & (hour < 18)
    visitors = np.where(is_open, rng.poisson(15, grid.height), 0)
    visitors = np.where(rng.random(grid.height) < 0.01, -3, visitors)  # sensor faults
    absent = rng.random(grid.height) < draw(st.sampled_from([0.0, 0.02, 0.1]))
    absent |= ~is_open & (rng.random(grid.height) < 0.7)  # most sensors skip closed hours
    nulls = rng.random(grid.height) < 0.02
    footfall = (
        grid.with_columns(visitors=pl.Series(visitors, dtype=pl.Int64))
        .with_columns(pl.when(~pl.Series(nulls)).then(pl.col("visitors")).alias("visitors"))
        .filter(~pl.Series(absent))
    )
    cutoff = START + timedelta(days=draw(st.integers(1, days + 3)))
    return make_history(boutiques, footfall), cutoff, draw(st.integers(1, 9))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_histories())
def test_features_use_only_footfall_before_the_cutoff(
    case: tuple[PurchaseHistory, date, int],
) -> None:
    history, cutoff, horizon = case
    past = truncated(history, cutoff)
    daily = boutique_daily_features(history, cutoff, horizon).collect()
    hourly = boutique_hourly_features(history, cutoff, horizon).collect()
    assert_frame_equal(
        daily.drop("visitors"),
        boutique_daily_features(past, cutoff, horizon).collect().drop("visitors"),
    )
    assert_frame_equal(
        hourly.drop("visitors"),
        boutique_hourly_features(past, cutoff, horizon).collect().drop("visitors"),
    )
    end = cutoff + timedelta(days=horizon)
    assert daily["target_date"].is_between(cutoff, end, closed="left").all()
    # Daily labels are the cleaned daily series of [cutoff, cutoff + H) ...
    series = (
        daily_footfall(history)
        .collect()
        .select(
            "boutique_id", pl.col("date").alias("target_date"), pl.col("visitors").alias("expected")
        )
    )
    labels = daily.join(series, on=["boutique_id", "target_date"], how="left")
    assert labels["visitors"].eq_missing(labels["expected"]).all()
    # ... each a plain sum of the raw counts of its day when not missing,
    raw = (
        history.footfall.filter(pl.col("visitors") >= 0)
        .group_by("boutique_id", pl.col("hour_start").dt.date().alias("target_date"))
        .agg(pl.col("visitors").sum().alias("raw_sum"))
        .collect()
    )
    known = labels.filter(pl.col("visitors").is_not_null()).join(
        raw, on=["boutique_id", "target_date"], how="left"
    )
    assert (known["visitors"] == known["raw_sum"]).all()
    # ... and hourly labels are the raw hourly counts, null when absent, null or faulty.
    raw_hours = history.footfall.select(
        "boutique_id",
        pl.col("hour_start").alias("target_hour"),
        pl.when(pl.col("visitors") >= 0).then(pl.col("visitors")).alias("expected"),
    ).collect()
    hourly_labels = hourly.join(raw_hours, on=["boutique_id", "target_hour"], how="left")
    assert hourly_labels["visitors"].eq_missing(hourly_labels["expected"]).all()


# --- covariates known in advance --------------------------------------------------------------


@pytest.fixture
def three_boutiques() -> PurchaseHistory:
    """Two Paris boutiques and one in Tokyo, 10 weeks of regular counts."""
    footfall = pl.concat([regular_footfall(b, 70) for b in ("PAR", "LYO", "TYO")])
    boutiques = boutiques_frame(
        {"boutique_id": "PAR"},
        {"boutique_id": "LYO", "city": "Lyon"},
        {"boutique_id": "TYO", "city": "Tokyo", "country": "JP", "timezone": "Asia/Tokyo"},
    )
    return make_history(boutiques, footfall)


def differing_cells(left: pl.DataFrame, right: pl.DataFrame) -> set[tuple[str, date, str]]:
    """The (boutique_id, target_date, column) cells where two aligned frames differ."""
    assert left.select(DAILY_KEYS).equals(right.select(DAILY_KEYS))
    cells = set()
    for column in left.columns:
        changed = ~left[column].eq_missing(right[column])
        for boutique, target in (
            left.filter(changed).select("boutique_id", "target_date").iter_rows()
        ):
            cells.add((boutique, target, column))
    return cells


def test_an_event_changes_its_own_rows_covariate_and_nothing_else(
    three_boutiques: PurchaseHistory,
) -> None:
    cutoff = date(2024, 3, 4)
    before = boutique_daily_features(three_boutiques, cutoff, 14).collect()
    events = events_frame(
        [
            (date(2024, 3, 9), "collection_launch", "PAR", None),
            (date(2024, 3, 12), "private_sale", None, "FR"),
        ]
    )
    after = boutique_daily_features(replace(three_boutiques, events=events.lazy()), cutoff, 14)
    assert differing_cells(before, after.collect()) == {
        ("PAR", date(2024, 3, 9), "event_collection_launch"),
        ("PAR", date(2024, 3, 12), "event_private_sale"),
        ("LYO", date(2024, 3, 12), "event_private_sale"),
    }


def holiday_on(frame: pl.DataFrame, boutique: str, day: date) -> bool:
    """The is_public_holiday covariate of one boutique's row for ``day``."""
    row = frame.filter((pl.col("boutique_id") == boutique) & (pl.col("target_date") == day))
    return row["is_public_holiday"].item()


def test_holidays_are_the_boutiques_country(three_boutiques: PurchaseHistory) -> None:
    """Moving Paris to Japan changes holiday covariates only: 14 July is French, not Japanese."""
    summer = replace(
        three_boutiques,
        footfall=pl.concat(
            [regular_footfall(b, 70, date(2024, 5, 1)) for b in ("PAR", "TYO")]
        ).lazy(),
    )
    cutoff = date(2024, 7, 8)
    french = boutique_daily_features(summer, cutoff, 14).collect()
    in_japan = replace(
        summer,
        boutiques=summer.boutiques.with_columns(
            pl.when(pl.col("boutique_id") == "PAR")
            .then(pl.lit("JP"))
            .otherwise("country")
            .alias("country")
        ),
    )
    japanese = boutique_daily_features(in_japan, cutoff, 14).collect()
    changed = {column for _, _, column in differing_cells(french, japanese)}
    assert changed <= {*HOLIDAY_FEATURES, "country"}
    assert {boutique for boutique, _, _ in differing_cells(french, japanese)} == {"PAR"}

    assert holiday_on(french, "PAR", date(2024, 7, 14))
    assert not holiday_on(japanese, "PAR", date(2024, 7, 14))
    assert not holiday_on(french, "TYO", date(2024, 7, 14))
    assert holiday_on(french, "TYO", date(2024, 7, 15))  # Marine Day
    assert holiday_on(japanese, "PAR", date(2024, 7, 15))


def test_unknown_country_is_a_user_error(three_boutiques: PurchaseHistory) -> None:
    history = replace(
        three_boutiques,
        boutiques=three_boutiques.boutiques.with_columns(pl.lit("XX").alias("country")),
    )
    with pytest.raises(UserInputError, match=r"boutiques: column 'country'.*'XX'"):
        boutique_daily_features(history, date(2024, 3, 4), 7)


# --- which boutiques get rows ------------------------------------------------------------------


def test_rows_follow_openings_and_closings() -> None:
    cutoff = date(2024, 3, 4)
    boutiques = boutiques_frame(
        {"boutique_id": "OPEN"},
        {"boutique_id": "CLOSING", "closed_on": cutoff + timedelta(days=10)},
        {"boutique_id": "NEW", "opened_on": cutoff + timedelta(days=5)},
        {"boutique_id": "GONE", "closed_on": cutoff},
        {"boutique_id": "WEB", "format": "online"},
    )
    footfall = pl.concat([regular_footfall(b, 63) for b in ("OPEN", "CLOSING", "GONE", "WEB")])
    history = make_history(boutiques, footfall)
    daily = boutique_daily_features(history, cutoff, 20).collect()
    targets = {
        boutique: group["target_date"].to_list()
        for (boutique,), group in daily.group_by("boutique_id")
    }
    window = [cutoff + timedelta(days=n) for n in range(20)]
    assert targets == {"OPEN": window, "CLOSING": window[:10], "NEW": window[5:]}
    new = daily.filter(pl.col("boutique_id") == "NEW")
    assert new["boutique_age_days"].to_list() == list(range(15))
    assert new["days_observed"].to_list() == [0] * 15
    assert new["visitors_mean_28"].is_null().all()
    assert new["horizon"].to_list() == list(range(6, 21))
    hourly = boutique_hourly_features(history, cutoff, 14).collect()
    assert set(hourly["boutique_id"]) == {"OPEN", "CLOSING", "NEW"}
    assert hourly.filter(pl.col("boutique_id") == "CLOSING")["target_date"].max() == window[9]
    assert hourly.filter(pl.col("boutique_id") == "NEW")["target_date"].min() == window[5]
    profiles = boutique_profile_features(history, cutoff).collect()
    assert profiles["boutique_id"].to_list() == ["CLOSING", "NEW", "OPEN"]


# --- layout, stacking, profiles ---------------------------------------------------------------


def test_every_feature_column_is_described(three_boutiques: PurchaseHistory) -> None:
    cutoff = date(2024, 3, 4)
    daily = boutique_daily_features(three_boutiques, cutoff, 3).collect()
    hourly = boutique_hourly_features(three_boutiques, cutoff, 1).collect()
    assert daily.columns == [*DAILY_KEYS, *DAILY_BOUTIQUE_FEATURES, "visitors"]
    assert hourly.columns == [*HOURLY_KEYS, *HOURLY_BOUTIQUE_FEATURES, "visitors"]
    assert set(BOUTIQUE_FEATURES) == set(HOURLY_BOUTIQUE_FEATURES) >= set(DAILY_BOUTIQUE_FEATURES)
    assert set(CATEGORICAL_BOUTIQUE_FEATURES) <= set(DAILY_BOUTIQUE_FEATURES)
    for description in (*BOUTIQUE_FEATURES.values(), *BOUTIQUE_PROFILE_COLUMNS.values()):
        assert description.strip() and "\n" not in description


def test_training_frame_stacks_the_per_cutoff_frames(three_boutiques: PurchaseHistory) -> None:
    cutoffs = [date(2024, 2, 19), date(2024, 3, 4), date(2024, 2, 26)]
    for granularity, single, horizon in (
        ("daily", boutique_daily_features, 10),
        ("hourly", boutique_hourly_features, 3),
    ):
        stacked = build_boutique_training_frame(three_boutiques, cutoffs, horizon, granularity)
        expected = pl.concat(
            [single(three_boutiques, c, horizon).collect() for c in sorted(cutoffs)]
        )
        assert_frame_equal(stacked, expected)


@pytest.mark.parametrize(
    ("cutoffs", "horizon", "granularity", "message"),
    [
        ([], 7, "daily", "at least one cutoff"),
        ([date(2024, 3, 4)], 0, "daily", "horizon_days must be >= 1"),
        ([date(2024, 3, 4)], 15, "hourly", "must be <= 14"),
        ([date(2024, 3, 4)], 7, "weekly", "granularity"),
        ([datetime(2024, 3, 4, 12)], 7, "daily", "must be a date"),
    ],
)
def test_bad_requests_are_user_errors(
    three_boutiques: PurchaseHistory,
    cutoffs: list[date],
    horizon: int,
    granularity: str,
    message: str,
) -> None:
    with pytest.raises(UserInputError, match=message):
        build_boutique_training_frame(three_boutiques, cutoffs, horizon, granularity)  # type: ignore


def test_profiles_summarise_level_week_and_cold_start(three_boutiques: PurchaseHistory) -> None:
    history = replace(
        three_boutiques,
        footfall=pl.concat(
            [regular_footfall("PAR", 70), regular_footfall("TYO", 20, START + timedelta(days=50))]
        ).lazy(),
    )
    cutoff = START + timedelta(days=70)
    profiles = boutique_profile_features(history, cutoff).collect()
    assert profiles.columns == ["boutique_id", "cutoff", *BOUTIQUE_PROFILE_COLUMNS]
    rows = {row["boutique_id"]: row for row in profiles.iter_rows(named=True)}
    assert rows["PAR"]["days_observed"] == 70 and not rows["PAR"]["is_cold_start"]
    assert rows["TYO"]["days_observed"] == 20 and rows["TYO"]["is_cold_start"]
    assert rows["LYO"]["days_observed"] == 0 and rows["LYO"]["is_cold_start"]
    assert rows["LYO"]["visitors_mean_28"] is None
    weekly = [
        rows["PAR"][f"weekday_profile_{name}"]
        for name in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ]
    assert statistics.mean(weekly) == pytest.approx(1.0)
    assert rows["PAR"]["open_hours_sun"] == len(OPEN_HOURS)
    daily_totals = [sum(reference_count(day, hour) for hour in OPEN_HOURS) for day in range(70)]
    assert rows["PAR"]["visitors_mean_28"] == pytest.approx(statistics.mean(daily_totals[-28:]))


# --- performance --------------------------------------------------------------------------------


def test_thirty_boutiques_three_years_eight_cutoffs(capsys: pytest.CaptureFixture[str]) -> None:
    """The daily frame of 8 cutoffs x 56 days over 30 boutiques' 3 years of hourly counts.

    Reports the wall time (not asserted: machines differ); checks the layout."""
    rng = np.random.default_rng(7)
    ids = [f"B{n:02d}" for n in range(30)]
    days = 3 * 365
    boutiques = boutiques_frame(
        *(
            {"boutique_id": b, "country": ["FR", "JP", "US", "IT", "CN"][n % 5]}
            for n, b in enumerate(ids)
        )
    )
    hours = pl.DataFrame(
        {
            "hour_start": pl.datetime_range(
                datetime(2022, 1, 1),
                datetime(2022, 1, 1) + timedelta(days=days),
                "1h",
                closed="left",
                eager=True,
            )
        }
    ).filter(pl.col("hour_start").dt.hour().is_between(10, 19))
    footfall = (
        pl.DataFrame({"boutique_id": ids})
        .join(hours, how="cross")
        .with_columns(visitors=pl.Series(rng.poisson(25, len(ids) * hours.height), dtype=pl.Int64))
        .filter(pl.Series(rng.random(len(ids) * hours.height) > 0.005))
    )
    history = make_history(boutiques, footfall)
    cutoffs = [date(2024, 3, 4) + timedelta(weeks=4 * n) for n in range(8)]
    started = time.perf_counter()
    frame = build_boutique_training_frame(history, cutoffs, 56)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n30 boutiques x 3 years, 8 cutoffs x 56 days: {frame.height} rows in {elapsed:.2f}s"
        )
    assert frame.height == 30 * 8 * 56
    assert frame["visitors"].null_count() < frame.height // 5
    assert frame["visitors_mean_7"].null_count() == 0
