"""Each boutique's trading calendar: opening hours, closures and expected daily visitors.

Expected visitors multiply a boutique's size by weekday, yearly season, Christmas, Valentine's
Day, Chinese New Year, the Chinese and Japanese Golden Weeks (tourists in Europe), summer and
winter sales, each country's public holidays (``holidays`` package), the maison's events, a
slow trend, an opening buzz for a new boutique and autocorrelated daily noise. The online
boutique has sessions instead of visitors and never closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from scipy.signal import lfilter

from features.calendar import public_holidays
from features.synthetic.config import MaisonConfig
from features.synthetic.events import EventPlan, active_mask
from features.synthetic.local_time import utc_offsets

LUNAR_NEW_YEAR: tuple[str, ...] = (
    "2000-02-05", "2001-01-24", "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09",
    "2006-01-29", "2007-02-18", "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03",
    "2012-01-23", "2013-02-10", "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28",
    "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22",
    "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
    "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31", "2034-02-19", "2035-02-08",
    "2036-01-28", "2037-02-15", "2038-02-04", "2039-01-24", "2040-02-12", "2041-02-01",
    "2042-01-22", "2043-02-10", "2044-01-30", "2045-02-17", "2046-02-06", "2047-01-26",
    "2048-02-14", "2049-02-02", "2050-01-23",
)  # fmt: skip
"""First day of the lunar new year, 2000-2050 (from the ``holidays`` lunisolar calendar)."""

# Weekday, Saturday and Sunday opening hours (open, close); None: closed on Sundays.
OPENING_HOURS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int] | None]] = {
    "FR": ((10, 19), (10, 19), (11, 19)),
    "GB": ((10, 20), (10, 20), (12, 18)),
    "US": ((10, 19), (10, 19), (12, 18)),
    "JP": ((11, 20), (11, 20), (11, 20)),
    "CN": ((10, 22), (10, 22), (10, 22)),
    "IT": ((10, 19), (10, 19), (11, 19)),
    "AE": ((10, 22), (10, 22), (10, 22)),
    "HK": ((11, 21), (11, 21), (11, 21)),
    "KR": ((10, 20), (10, 20), (10, 20)),
    "SG": ((11, 21), (11, 21), (11, 21)),
    "CH": ((10, 19), (10, 18), None),
    "DE": ((10, 20), (10, 20), None),
    "AT": ((10, 19), (10, 18), None),
    "ES": ((10, 20), (10, 20), (12, 20)),
    "AU": ((10, 18), (10, 18), (11, 17)),
    "CA": ((10, 19), (10, 19), (11, 18)),
}
DEFAULT_OPENING_HOURS = ((10, 19), (10, 19), (11, 18))

CHRISTIAN_HOLIDAY_COUNTRIES = frozenset(
    {"FR", "GB", "US", "IT", "CH", "DE", "ES", "AU", "CA", "AT", "NL", "MC", "MX", "BR"}
)
STRICT_CLOSING_COUNTRIES = frozenset({"DE", "AT", "CH"})
"""Shops close on every public holiday there."""
MAY_DAY_CLOSING_COUNTRIES = frozenset({"FR", "IT", "ES", "DE", "AT"})
EUROPE = frozenset({"FR", "GB", "IT", "CH", "DE", "ES", "AT", "NL", "MC"})
CHINESE_NEW_YEAR_COUNTRIES = frozenset({"CN", "HK", "TW", "SG", "KR"})
STRONG_WEEKEND_COUNTRIES = frozenset({"CN", "HK", "JP", "KR", "TW", "SG", "TH"})

WEEKDAY_EFFECT = np.array([0.82, 0.85, 0.9, 0.97, 1.12, 1.45, 1.0])
WEEKDAY_EFFECT_ASIA = np.array([0.8, 0.82, 0.86, 0.92, 1.05, 1.4, 1.35])
WEEKDAY_EFFECT_ONLINE = np.array([1.1, 1.0, 0.95, 0.95, 0.88, 0.85, 1.2])


@dataclass(frozen=True)
class TradingHours:
    """Opening and closing hour of each boutique-day (-1 when closed) and its public holidays."""

    open_hour: np.ndarray
    close_hour: np.ndarray
    is_holiday: np.ndarray
    holiday_closures: pl.DataFrame

    @property
    def is_open(self) -> np.ndarray:
        """Whether each boutique trades on each day."""
        return self.open_hour >= 0


@dataclass(frozen=True)
class BoutiqueCalendar:
    """Day-level trading facts, arrays of shape boutiques x days (days from the start)."""

    start: date
    open_hour: np.ndarray
    close_hour: np.ndarray
    expected_visitors: np.ndarray
    profile: np.ndarray
    hourly_profiles: np.ndarray
    utc_offset: np.ndarray
    holiday_closures: pl.DataFrame

    @property
    def is_open(self) -> np.ndarray:
        """Whether each boutique trades on each day."""
        return self.open_hour >= 0


def day_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekday (Monday = 0), month (1-12) and day of month of ``datetime64[D]`` dates."""
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    month = dates.astype("datetime64[M]").astype(int) % 12 + 1
    day_of_month = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    return weekday, month, day_of_month


def trading_hours(boutiques: pl.DataFrame, config: MaisonConfig) -> TradingHours:
    """When each boutique trades: shop hours, days in business, public-holiday closures.

    The online boutique trades around the clock every day.
    """
    start, n_days = config.start, config.n_days
    dates = np.datetime64(start, "D") + np.arange(n_days)
    weekday, month, day_of_month = day_parts(dates)
    countries = boutiques["country"].to_list()
    online = (boutiques["format"] == "online").to_numpy()

    holiday_frame = public_holidays(countries, start, config.end)
    is_holiday, is_closing_holiday = holiday_masks(holiday_frame, countries, online, start, n_days)
    open_hour, close_hour = opening_hours(boutiques, weekday, month, day_of_month)
    closed = ~active_mask(boutiques, start, n_days) | is_closing_holiday
    open_hour[closed], close_hour[closed] = -1, -1
    open_hour[online], close_hour[online] = 0, 24
    closures = holiday_closures(boutiques, holiday_frame, is_closing_holiday, start)
    return TradingHours(open_hour, close_hour, is_holiday, closures)


def build_calendar(
    boutiques: pl.DataFrame,
    hours: TradingHours,
    plan: EventPlan,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> BoutiqueCalendar:
    """Expected visitors and hourly profiles of every boutique-day, on top of trading hours."""
    start, n_days = config.start, config.n_days
    dates = np.datetime64(start, "D") + np.arange(n_days)
    weekday, month, day_of_month = day_parts(dates)
    online = (boutiques["format"] == "online").to_numpy()
    open_hour, close_hour = hours.open_hour, hours.close_hour

    effect = traffic_effects(
        boutiques, plan, hours.is_holiday, dates, weekday, month, day_of_month, rng
    )
    hours_ratio = np.where(open_hour >= 0, (close_hour - open_hour) / 9.0, 0.0) ** 0.6
    hours_ratio[online] = 1.0
    level = boutiques["traffic_level"].to_numpy()[:, None]
    expected = np.where(open_hour >= 0, level * effect * hours_ratio, 0.0)

    profile, hourly_profiles = hourly_profile_table(open_hour, close_hour, weekday, online)
    return BoutiqueCalendar(
        start=start,
        open_hour=open_hour,
        close_hour=close_hour,
        expected_visitors=expected,
        profile=profile,
        hourly_profiles=hourly_profiles,
        utc_offset=utc_offsets(boutiques["timezone"].to_list(), start, n_days),
        holiday_closures=hours.holiday_closures,
    )


def holiday_masks(
    holiday_frame: pl.DataFrame,
    countries: list[str],
    online: np.ndarray,
    start: date,
    n_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Boutique x day masks: public holiday in the boutique's country; holiday it closes on."""
    n = len(countries)
    is_holiday = np.zeros((n, n_days), dtype=bool)
    closing = np.zeros((n, n_days), dtype=bool)
    for country, day, name in holiday_frame.iter_rows():
        index = (day - start).days
        rows = [i for i, c in enumerate(countries) if c == country and not online[i]]
        is_holiday[rows, index] = True
        if closes_on_holiday(country, day, name):
            closing[rows, index] = True
    return is_holiday, closing


def closes_on_holiday(country: str, day: date, name: str) -> bool:
    """Whether boutiques of ``country`` close on this public holiday."""
    if country in STRICT_CLOSING_COUNTRIES:
        return True
    if country in CHRISTIAN_HOLIDAY_COUNTRIES and (day.month, day.day) in {(1, 1), (12, 25)}:
        return True
    if country in MAY_DAY_CLOSING_COUNTRIES and (day.month, day.day) == (5, 1):
        return True
    if country == "US" and "Thanksgiving" in name:
        return True
    return country == "JP" and (day.month, day.day) == (1, 1)


def opening_hours(
    boutiques: pl.DataFrame, weekday: np.ndarray, month: np.ndarray, day_of_month: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Opening and closing hour of each boutique-day from its country's shop hours and format.

    Corners follow department stores (an hour later); outlets open 10:00-20:00 where Sunday
    trading is allowed; Western boutiques close at 17:00 on Christmas Eve and New Year's Eve.
    """
    n = boutiques.height
    open_hour = np.empty((n, weekday.size), dtype=np.int16)
    close_hour = np.empty((n, weekday.size), dtype=np.int16)
    short_eve = (month == 12) & ((day_of_month == 24) | (day_of_month == 31))
    for index, (country, shop_format) in enumerate(
        boutiques.select("country", "format").iter_rows()
    ):
        week, saturday, sunday = OPENING_HOURS.get(country, DEFAULT_OPENING_HOURS)
        if shop_format == "outlet":
            week, saturday = (10, 20), (10, 20)
            sunday = None if sunday is None else (10, 19)
        late = 1 if shop_format == "corner" else 0
        sunday_hours = (-1, -1) if sunday is None else (sunday[0], sunday[1] + late)
        table = np.array(
            [(week[0], week[1] + late)] * 5 + [(saturday[0], saturday[1] + late)] + [sunday_hours]
        )
        open_hour[index] = table[weekday, 0]
        close_hour[index] = table[weekday, 1]
        if country in CHRISTIAN_HOLIDAY_COUNTRIES:
            eve = short_eve & (open_hour[index] >= 0)
            close_hour[index, eve] = np.minimum(close_hour[index, eve], 17)
    return open_hour, close_hour


def traffic_effects(
    boutiques: pl.DataFrame,
    plan: EventPlan,
    is_holiday: np.ndarray,
    dates: np.ndarray,
    weekday: np.ndarray,
    month: np.ndarray,
    day_of_month: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Multiplicative effect on visitors of every boutique-day (1 = an ordinary day)."""
    n, n_days = boutiques.height, dates.size
    countries = np.array(boutiques["country"].to_list())
    shop_format = np.array(boutiques["format"].to_list())
    online = shop_format == "online"
    appeal = boutiques["tourist_appeal"].to_numpy()[:, None]
    europe = np.isin(countries, list(EUROPE))[:, None]
    asia_weekend = np.isin(countries, list(STRONG_WEEKEND_COUNTRIES))[:, None]
    outlet = (shop_format == "outlet")[:, None]
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(int) + 1

    weekly = np.where(asia_weekend, WEEKDAY_EFFECT_ASIA[weekday], WEEKDAY_EFFECT[weekday])
    weekly[online] = WEEKDAY_EFFECT_ONLINE[weekday]
    angle = 2 * np.pi * day_of_year / 365.25
    season = (
        1
        + 0.10 * np.cos(angle - 2 * np.pi * 355 / 365.25)
        + 0.05 * np.cos(2 * angle - 2 * np.pi * 400 / 365.25)
    )
    effect = weekly * season[None, :]

    december = month == 12
    run_up = np.where(december & (day_of_month <= 24), (day_of_month / 24.0) ** 2, 0.0)
    christmas_strength = np.where(np.isin(countries, list(CHRISTIAN_HOLIDAY_COUNTRIES)), 0.9, 0.45)
    christmas_strength[online] = 1.3
    effect *= 1 + christmas_strength[:, None] * run_up[None, :]
    effect *= np.where(december & (day_of_month >= 26), 1.2, 1.0)[None, :]
    effect *= np.where((month == 2) & (day_of_month >= 7) & (day_of_month <= 14), 1.12, 1.0)

    lunar = lunar_new_year_offsets(dates)
    chinese_market = np.isin(countries, list(CHINESE_NEW_YEAR_COUNTRIES))[:, None]
    before_new_year = ((lunar >= -14) & (lunar <= -1))[None, :]
    new_year_days = ((lunar >= 0) & (lunar <= 2))[None, :]
    new_year_week = ((lunar >= 0) & (lunar <= 6))[None, :]
    effect *= np.where(chinese_market & before_new_year, 1.45, 1.0)
    effect *= np.where((countries == "CN")[:, None] & new_year_days, 0.7, 1.0)
    effect *= np.where(~chinese_market & new_year_week, 1 + 0.35 * appeal, 1.0)

    china_golden = ((month == 10) & (day_of_month <= 7))[None, :]
    japan_golden = (((month == 4) & (day_of_month >= 29)) | ((month == 5) & (day_of_month <= 5)))[
        None, :
    ]
    effect *= np.where(
        china_golden, np.where(countries[:, None] == "CN", 1.3, 1 + 0.45 * appeal), 1
    )
    effect *= np.where(
        japan_golden, np.where(countries[:, None] == "JP", 1.2, 1 + 0.25 * appeal), 1
    )

    summer = ((month == 7) | (month == 8))[None, :]
    effect *= np.where(europe & summer, 1 + 0.25 * appeal, 1.0)
    effect *= np.where(europe & (month == 8)[None, :], 0.9, 1.0)
    summer_sales = sales_period(dates, month=6, week_offset=0)
    winter_sales = sales_period(dates, month=1, week_offset=1)
    effect *= np.where(europe & outlet & summer_sales[None, :], 1.4, 1.0)
    effect *= np.where(europe & outlet & winter_sales[None, :], 1.3, 1.0)
    effect *= np.where(europe & ~outlet & summer_sales[None, :], 1.05, 1.0)

    holiday_boost = np.where(asia_weekend, 1.35, 1.2)
    effect *= np.where(is_holiday, holiday_boost, 1.0)

    after_launch = launch_echo(plan.launch)
    effect *= np.where(plan.launch, 1.5, np.where(after_launch, 1.15, 1.0))
    effect *= np.where(plan.private_sale, 1.25, 1.0)
    effect *= np.where(plan.disruption, 0.35, 1.0)

    growth = rng.normal(0.03, 0.03, size=n)[:, None]
    effect *= np.exp(growth * (np.arange(n_days) - n_days / 2)[None, :] / 365.25)
    effect *= opening_buzz(boutiques, dates)
    shocks = rng.normal(0.0, 0.06, size=(n, n_days))
    effect *= np.exp(lfilter([1.0], [1.0, -0.6], shocks, axis=1))
    return effect


def lunar_new_year_offsets(dates: np.ndarray) -> np.ndarray:
    """Days from the nearest lunar new year (negative before it) for each date."""
    new_years = np.array(LUNAR_NEW_YEAR, dtype="datetime64[D]")
    following = np.searchsorted(new_years, dates, side="left").clip(0, new_years.size - 1)
    previous = (following - 1).clip(0)
    to_next = (dates - new_years[following]).astype(int)
    to_previous = (dates - new_years[previous]).astype(int)
    return np.where(np.abs(to_next) <= np.abs(to_previous), to_next, to_previous)


def sales_period(dates: np.ndarray, month: int, week_offset: int) -> np.ndarray:
    """Four weeks of seasonal sales from the last Wednesday of June or the second of January."""
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    in_sales = np.zeros(dates.size, dtype=bool)
    for year in np.unique(years):
        first = date(int(year), month, 1)
        wednesdays = [first + timedelta(days=k) for k in range(31)]
        wednesdays = [d for d in wednesdays if d.month == month and d.weekday() == 2]
        opening = wednesdays[-1] if month == 6 else wednesdays[week_offset]
        begin = np.datetime64(opening, "D")
        in_sales |= (dates >= begin) & (dates < begin + 28)
    return in_sales


def launch_echo(launch: np.ndarray, days: int = 6) -> np.ndarray:
    """The ``days`` days following each launch day (not the day itself)."""
    echo = np.zeros_like(launch)
    for lag in range(1, days + 1):
        echo[:, lag:] |= launch[:, :-lag]
    return echo & ~launch


def opening_buzz(boutiques: pl.DataFrame, dates: np.ndarray) -> np.ndarray:
    """Extra traffic in a new boutique's first weeks, decaying from +80 %."""
    opened = np.array(boutiques["opened_on"].to_list(), dtype="datetime64[D]")[:, None]
    age = (dates[None, :] - opened).astype(int)
    return np.where(age >= 0, 1 + 0.8 * np.exp(-np.clip(age, 0, None) / 12.0), 1.0)


def hourly_profile_table(
    open_hour: np.ndarray, close_hour: np.ndarray, weekday: np.ndarray, online: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the hourly visit profile of each boutique-day (-1 if closed) and the profiles.

    A profile depends only on the opening hours, weekend or not, and online or not, so a few
    dozen profiles (rows of weights over the 24 hours) cover every boutique-day.
    """
    weekend = np.broadcast_to((weekday >= 5)[None, :], open_hour.shape)
    is_online = np.broadcast_to(online[:, None], open_hour.shape)
    key = ((open_hour.astype(np.int64) + 1) * 32 + close_hour + 1) * 4 + weekend * 2 + is_online
    keys, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(open_hour.shape)
    profiles = np.zeros((keys.size, 24))
    middle = np.arange(24) + 0.5
    for row, packed in enumerate(keys):
        packed = int(packed)
        is_web, is_weekend = packed % 2, (packed // 2) % 2
        close, start = (packed // 4) % 32 - 1, packed // 128 - 1
        if start < 0:
            continue
        if is_web:
            weights = 0.04 + np.exp(-(((middle - 21.0) / 2.2) ** 2))
            weights += 0.5 * np.exp(-(((middle - 13.0) / 1.5) ** 2))
        else:
            peak = 15.0 if is_weekend else 15.8
            weights = 0.35 + np.exp(-(((middle - peak) / 2.6) ** 2))
            weights += 0.3 * np.exp(-(((middle - 12.8) / 1.0) ** 2))
            weights += 0.5 * np.exp(-(((middle - 19.5) / 1.5) ** 2)) * (close >= 21)
        weights[(np.arange(24) < start) | (np.arange(24) >= close)] = 0.0
        profiles[row] = weights / weights.sum()
    profile = np.where(open_hour >= 0, inverse, -1).astype(np.int32)
    return profile, profiles


def holiday_closures(
    boutiques: pl.DataFrame, holiday_frame: pl.DataFrame, closing: np.ndarray, start: date
) -> pl.DataFrame:
    """One row per boutique closed for a public holiday while otherwise in business."""
    active = active_mask(boutiques, start, closing.shape[1])
    rows, days = np.nonzero(closing & active)
    frame = pl.DataFrame(
        {
            "boutique_id": boutiques["boutique_id"].to_numpy()[rows],
            "country": boutiques["country"].to_numpy()[rows],
            "date": np.datetime64(start, "D") + days,
        },
        schema={"boutique_id": pl.String, "country": pl.String, "date": pl.Date},
    )
    names = holiday_frame.group_by("country", "date").agg(pl.col("holiday").first())
    return frame.join(names, on=["country", "date"], how="left").sort("date", "boutique_id")
