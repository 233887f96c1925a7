"""Calendar covariates: calendar columns, public holidays, retail periods and event flags."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.calendar import (
    CALENDAR_FEATURES,
    EVENT_FEATURES,
    HOLIDAY_FEATURES,
    RETAIL_PERIOD_FEATURES,
    calendar_features,
    event_flags,
    holiday_calendar,
    holiday_features,
    public_holidays,
    retail_period_features,
)
from features.contract import EVENT_KINDS, TABLES
from features.errors import UserInputError


@pytest.fixture
def boutiques() -> pl.LazyFrame:
    """Two boutiques in France, one in Japan."""
    return pl.LazyFrame(
        {
            "boutique_id": ["PAR", "LYO", "TYO"],
            "country": ["FR", "FR", "JP"],
        }
    )


def events_frame(rows: list[tuple[date, str, str | None, str | None]]) -> pl.LazyFrame:
    """An events table of (date, kind, boutique_id, country) rows with the contract types."""
    schema = TABLES["events"].schema()
    return pl.LazyFrame(
        [(day, kind, boutique, country, None) for day, kind, boutique, country in rows],
        schema={name: schema[name] for name in ("date", "kind", "boutique_id", "country", "label")},
        orient="row",
    )


def test_public_holidays_are_each_countrys_own() -> None:
    table = public_holidays(["JP", "FR"], date(2024, 7, 1), date(2024, 7, 31))
    assert table.columns == ["country", "date", "holiday"]
    france = table.filter(pl.col("country") == "FR")
    assert france["date"].to_list() == [date(2024, 7, 14)]
    assert table.filter(pl.col("country") == "JP")["date"].to_list() == [date(2024, 7, 15)]


def test_public_holidays_bounds_are_inclusive() -> None:
    table = public_holidays(["FR"], date(2024, 7, 14), date(2024, 8, 15))
    assert table["date"].to_list() == [date(2024, 7, 14), date(2024, 8, 15)]


def test_public_holidays_refuse_unknown_countries_and_reversed_spans() -> None:
    with pytest.raises(UserInputError, match="'XX'"):
        public_holidays(["FR", "XX"], date(2024, 1, 1), date(2024, 12, 31))
    with pytest.raises(UserInputError, match="before start"):
        public_holidays(["FR"], date(2024, 2, 1), date(2024, 1, 1))


@pytest.mark.parametrize("cap", [5, 30])
def test_holiday_distances_match_a_plain_reference(cap: int) -> None:
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    calendar = holiday_calendar(["FR", "JP"], start, end, cap=cap)
    assert calendar.height == 2 * 366
    for country in ("FR", "JP"):
        known = set(holidays.country_holidays(country, years=range(2023, 2026)))
        rows = calendar.filter(pl.col("country") == country).iter_rows(named=True)
        for row in rows:
            day = row["date"]
            after = next(n for n in range(1, 400) if day + timedelta(days=n) in known)
            before = next(n for n in range(1, 400) if day - timedelta(days=n) in known)
            assert row["is_public_holiday"] == (day in known), day
            assert row["days_to_next_holiday"] == min(after, cap), day
            assert row["days_since_last_holiday"] == min(before, cap), day


def test_holiday_features_join_the_frames_own_countries() -> None:
    frame = pl.LazyFrame(
        {
            "country": ["FR", "JP", "FR"],
            "day": [date(2024, 7, 14), date(2024, 7, 14), date(2024, 7, 15)],
            "row": [1, 2, 3],
        }
    )
    result = holiday_features(frame, date_column="day").sort("row").collect()
    assert result.columns == ["country", "day", "row", *HOLIDAY_FEATURES]
    assert result["is_public_holiday"].to_list() == [True, False, False]
    assert result["days_to_next_holiday"].to_list() == [30, 1, 30]
    assert result["days_since_last_holiday"].to_list() == [30, 30, 1]


def test_holiday_features_of_an_empty_frame_are_empty() -> None:
    frame = pl.LazyFrame(schema={"country": pl.String, "date": pl.Date})
    result = holiday_features(frame).collect()
    assert result.height == 0
    assert set(HOLIDAY_FEATURES) <= set(result.columns)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_calendar_features_agree_with_the_standard_library(day: date) -> None:
    row = pl.DataFrame({"date": [day]}).select(calendar_features()).row(0, named=True)
    assert set(row) == set(CALENDAR_FEATURES)
    assert row["weekday"] == day.isoweekday()
    assert row["week_of_year"] == day.isocalendar().week
    assert (row["month"], row["day_of_month"]) == (day.month, day.day)
    assert row["day_of_year"] == day.timetuple().tm_yday
    assert row["is_weekend"] == (day.isoweekday() >= 6)


def retail_flags(days: list[date]) -> dict[date, dict[str, bool]]:
    """The retail-period flags of each day."""
    frame = pl.DataFrame({"date": days}).with_columns(retail_period_features())
    return {row.pop("date"): row for row in frame.iter_rows(named=True)}


def test_retail_periods_have_the_documented_boundaries() -> None:
    expectations = {
        "is_christmas_run_up": ([date(2024, 12, 1), date(2024, 12, 24)], [date(2024, 11, 30)]),
        # Chinese New Year fell on 10 Feb 2024 and 29 Jan 2025.
        "is_chinese_new_year_window": (
            [date(2024, 1, 27), date(2024, 2, 17), date(2025, 1, 15), date(2025, 2, 5)],
            [date(2024, 1, 26), date(2024, 2, 18), date(2025, 2, 6), date(2024, 12, 25)],
        ),
        "is_golden_week_china": ([date(2024, 10, 1), date(2024, 10, 7)], [date(2024, 10, 8)]),
        "is_golden_week_japan": (
            [date(2024, 4, 29), date(2024, 5, 5)],
            [date(2024, 4, 28), date(2024, 5, 6)],
        ),
    }
    assert set(expectations) == set(RETAIL_PERIOD_FEATURES)
    for flag, (inside, outside) in expectations.items():
        flags = retail_flags(inside + outside)
        assert [flags[day][flag] for day in inside] == [True] * len(inside), flag
        assert [flags[day][flag] for day in outside] == [False] * len(outside), flag
    assert not any(retail_flags([date(2024, 12, 25)])[date(2024, 12, 25)].values())


def test_event_flags_follow_boutiques_and_countries(boutiques: pl.LazyFrame) -> None:
    events = events_frame(
        [
            (date(2024, 3, 5), "collection_launch", "PAR", None),
            (date(2024, 3, 6), "private_sale", None, "FR"),
            (date(2024, 3, 6), "Disruption ", "TYO", None),
            (date(2024, 3, 7), "closure", "LYO", "FR"),
            (date(2024, 3, 7), "unknown_kind", "PAR", None),
        ]
    )
    days = [date(2024, 3, 4) + timedelta(days=n) for n in range(4)]
    dates = pl.LazyFrame({"boutique_id": ["PAR", "LYO", "TYO"]}).join(
        pl.LazyFrame({"day": days}), how="cross"
    )
    result = event_flags(events, boutiques, dates, date_column="day").collect()
    assert result.height == 12
    assert result.columns == ["boutique_id", "day", *EVENT_FEATURES]
    assert list(EVENT_FEATURES) == [f"event_{kind}" for kind in EVENT_KINDS]
    raised = {
        (row["boutique_id"], row["day"], name)
        for row in result.iter_rows(named=True)
        for name in EVENT_FEATURES
        if row[name]
    }
    assert raised == {
        ("PAR", date(2024, 3, 5), "event_collection_launch"),
        ("PAR", date(2024, 3, 6), "event_private_sale"),
        ("LYO", date(2024, 3, 6), "event_private_sale"),
        ("TYO", date(2024, 3, 6), "event_disruption"),
        ("LYO", date(2024, 3, 7), "event_closure"),
    }


def test_event_flags_without_events_are_all_false(boutiques: pl.LazyFrame) -> None:
    dates = pl.LazyFrame({"boutique_id": ["PAR"], "date": [date(2024, 3, 5)]})
    result = event_flags(events_frame([]), boutiques, dates).collect()
    assert result.select(list(EVENT_FEATURES)).row(0) == (False,) * len(EVENT_KINDS)
