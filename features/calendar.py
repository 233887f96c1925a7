"""Covariates known in advance for any date: the calendar, public holidays, retail periods, events.

Everything here depends on the date (and the country or boutique) only, never on footfall or
sales, so it may be computed for future target dates without leaking anything. Public holidays
are the national holidays of the ``holidays`` package; an event naming a country applies to every
boutique of that country.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

import holidays
import polars as pl

from features.contract import EVENT_KINDS
from features.errors import UserInputError

HOLIDAY_DISTANCE_CAP = 30
"""Days to the next (or since the last) public holiday are capped at this value."""

CHINESE_NEW_YEAR_WINDOW = (-14, 7)
"""Days around Chinese New Year flagged as its retail window: 2 weeks of gifting, 1 of travel."""

CALENDAR_FEATURES: dict[str, str] = {
    "weekday": "Day of the week of the target date, 1 = Monday to 7 = Sunday.",
    "week_of_year": "ISO week number of the target date (1-53).",
    "month": "Month of the target date (1-12).",
    "day_of_month": "Day of the month of the target date (1-31).",
    "day_of_year": "Day of the year of the target date (1-366).",
    "is_weekend": "The target date is a Saturday or a Sunday.",
}

RETAIL_PERIOD_FEATURES: dict[str, str] = {
    "is_christmas_run_up": "The target date falls between 1 and 24 December.",
    "is_chinese_new_year_window": "The target date is from 14 days before to 7 days after Chinese "
    "New Year.",
    "is_golden_week_china": "The target date falls in China's National Day Golden Week (1-7 Oct).",
    "is_golden_week_japan": "The target date falls in Japan's Golden Week (29 Apr - 5 May).",
}

HOLIDAY_FEATURES: dict[str, str] = {
    "is_public_holiday": "The target date is a public holiday in the boutique's country.",
    "days_to_next_holiday": "Days from the target date to the country's next public holiday, "
    f"capped at {HOLIDAY_DISTANCE_CAP}.",
    "days_since_last_holiday": "Days since the country's last public holiday before the target "
    f"date, capped at {HOLIDAY_DISTANCE_CAP}.",
}

EVENT_FEATURES: dict[str, str] = {
    f"event_{kind}": f"A {kind.replace('_', ' ')} event is planned at the boutique (or in its "
    "country) on the target date."
    for kind in EVENT_KINDS
}


def calendar_features(date_column: str = "date") -> list[pl.Expr]:
    """Expressions for the plain calendar columns of :data:`CALENDAR_FEATURES` of a date column."""
    day = pl.col(date_column)
    weekday = day.dt.weekday()
    return [
        weekday.alias("weekday"),
        day.dt.week().alias("week_of_year"),
        day.dt.month().alias("month"),
        day.dt.day().alias("day_of_month"),
        day.dt.ordinal_day().alias("day_of_year"),
        (weekday >= 6).alias("is_weekend"),
    ]


@cache
def chinese_new_year_dates() -> dict[int, date]:
    """The date of Chinese New Year for every year the ``holidays`` package covers (1950-2099)."""
    years = range(1950, 2100)
    china = holidays.country_holidays("CN", years=years, language="en_US")
    first_days: dict[int, date] = {}
    for day, name in sorted(china.items()):
        if name.startswith("Chinese New Year (Spring Festival)"):
            first_days.setdefault(day.year, day)
    return first_days


def retail_period_features(date_column: str = "date") -> list[pl.Expr]:
    """Expressions flagging the retail periods of :data:`RETAIL_PERIOD_FEATURES`.

    They are global, not per country: luxury footfall follows travelling shoppers, so Chinese
    New Year and Golden Week move boutiques far from China and Japan too.
    """
    day = pl.col(date_column)
    month, day_of_month = day.dt.month(), day.dt.day()
    new_year = day.dt.year().replace_strict(
        chinese_new_year_dates(), default=None, return_dtype=pl.Date
    )
    days_from_new_year = (day - new_year).dt.total_days()
    before, after = CHINESE_NEW_YEAR_WINDOW
    return [
        ((month == 12) & (day_of_month <= 24)).alias("is_christmas_run_up"),
        days_from_new_year.is_between(before, after)
        .fill_null(False)
        .alias("is_chinese_new_year_window"),
        ((month == 10) & (day_of_month <= 7)).alias("is_golden_week_china"),
        (((month == 4) & (day_of_month >= 29)) | ((month == 5) & (day_of_month <= 5))).alias(
            "is_golden_week_japan"
        ),
    ]


def check_countries(countries: Iterable[str]) -> list[str]:
    """The sorted distinct country codes, or UserInputError naming those ``holidays`` lacks."""
    codes = sorted({code for code in countries if code is not None})
    supported = holidays.list_supported_countries()
    unknown = [code for code in codes if code not in supported]
    if unknown:
        raise UserInputError(
            f"unknown country code(s) {unknown}: public holidays need ISO 3166-1 alpha-2 codes "
            "the holidays package knows (e.g. FR, JP, US)"
        )
    return codes


def public_holidays(countries: Iterable[str], start: date, end: date) -> pl.DataFrame:
    """The national public holidays of each country between ``start`` and ``end`` inclusive.

    One row per (country, date) with the holiday's English name; observed (substitute) days
    count, as boutiques and shoppers treat them as holidays.
    """
    if end < start:
        raise UserInputError(f"public holidays: end {end} is before start {start}")
    codes = check_countries(countries)
    years = range(start.year, end.year + 1)
    rows = [
        (code, day, name)
        for code in codes
        for day, name in holidays.country_holidays(code, years=years, language="en_US").items()
        if start <= day <= end
    ]
    return pl.DataFrame(
        rows,
        schema={"country": pl.String, "date": pl.Date, "holiday": pl.String},
        orient="row",
    ).sort("country", "date")


def holiday_calendar(
    countries: Iterable[str], start: date, end: date, cap: int = HOLIDAY_DISTANCE_CAP
) -> pl.DataFrame:
    """One row per country and day in [start, end] with the :data:`HOLIDAY_FEATURES` columns.

    Distances count days to the nearest holiday strictly after (or before) the day, so the day
    after a holiday has ``days_since_last_holiday == 1``; holidays beyond ``cap`` days give ``cap``.
    """
    codes = check_countries(countries)
    margin = timedelta(days=cap + 1)
    holiday_days = public_holidays(codes, start - margin, end + margin).select(
        "country", "date", pl.lit(True).alias("is_public_holiday")
    )
    days = pl.DataFrame({"country": codes}, schema={"country": pl.String}).join(
        pl.DataFrame({"date": pl.date_range(start - margin, end + margin, eager=True)}),
        how="cross",
    )
    holiday_date = pl.when(pl.col("is_public_holiday")).then(pl.col("date"))
    next_holiday = holiday_date.shift(-1).backward_fill().over("country", order_by="date")
    last_holiday = holiday_date.shift(1).forward_fill().over("country", order_by="date")
    return (
        days.join(holiday_days, on=["country", "date"], how="left")
        .with_columns(pl.col("is_public_holiday").fill_null(False))
        .with_columns(
            (next_holiday - pl.col("date"))
            .dt.total_days()
            .clip(upper_bound=cap)
            .fill_null(cap)
            .cast(pl.Int32)
            .alias("days_to_next_holiday"),
            (pl.col("date") - last_holiday)
            .dt.total_days()
            .clip(upper_bound=cap)
            .fill_null(cap)
            .cast(pl.Int32)
            .alias("days_since_last_holiday"),
        )
        .filter(pl.col("date").is_between(start, end))
        .sort("country", "date")
    )


def holiday_features(
    frame: pl.LazyFrame,
    *,
    country_column: str = "country",
    date_column: str = "date",
    cap: int = HOLIDAY_DISTANCE_CAP,
) -> pl.LazyFrame:
    """Add the :data:`HOLIDAY_FEATURES` columns to a lazy frame with a country and a date column.

    The countries and the date span are read from the frame first (one small aggregation); a
    caller that already knows them can join :func:`holiday_calendar` itself instead.
    """
    span = frame.select(
        pl.col(country_column).drop_nulls().unique().implode().alias("countries"),
        pl.col(date_column).min().alias("start"),
        pl.col(date_column).max().alias("end"),
    ).collect()
    start, end = span["start"].item(), span["end"].item()
    if start is None:
        return frame.with_columns(
            pl.lit(None, pl.Boolean).alias("is_public_holiday"),
            pl.lit(None, pl.Int32).alias("days_to_next_holiday"),
            pl.lit(None, pl.Int32).alias("days_since_last_holiday"),
        )
    calendar = holiday_calendar(span["countries"].item().to_list(), start, end, cap)
    return frame.join(
        calendar.lazy(),
        left_on=[country_column, date_column],
        right_on=["country", "date"],
        how="left",
    )


def event_flags(
    events: pl.LazyFrame,
    boutiques: pl.LazyFrame,
    dates: pl.LazyFrame,
    *,
    date_column: str = "date",
) -> pl.LazyFrame:
    """Add one boolean :data:`EVENT_FEATURES` column per event kind to a (boutique_id, date) frame.

    An event naming a boutique applies to that boutique; one naming only a country applies to
    every boutique of that country. Unknown kinds are ignored (validation reports them).
    """
    kind = pl.col("kind").str.strip_chars().str.to_lowercase()
    at_boutique = events.filter(pl.col("boutique_id").is_not_null()).select(
        "boutique_id", "date", kind
    )
    in_country = (
        events.filter(pl.col("boutique_id").is_null() & pl.col("country").is_not_null())
        .select("country", "date", kind)
        .join(boutiques.select("boutique_id", "country"), on="country", how="inner")
        .select("boutique_id", "date", "kind")
    )
    names = list(EVENT_FEATURES)
    flags = (
        pl.concat([at_boutique, in_country])
        .group_by("boutique_id", "date")
        .agg(
            (pl.col("kind") == event_kind).any().alias(name)
            for event_kind, name in zip(EVENT_KINDS, names, strict=True)
        )
        .rename({"date": date_column})
    )
    return dates.join(flags, on=["boutique_id", date_column], how="left").with_columns(
        pl.col(names).fill_null(False)
    )
