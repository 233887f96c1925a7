"""Hourly door-counter readings of the physical boutiques, with realistic sensor outages.

Counts follow the opening hours and the expected visitors of each boutique-day (the calendar),
spread over the hours by the day's profile, with hour-level overdispersion. The sensor then
loses data: whole days (outages; rows absent), a long outage in one boutique, and scattered
hours or blocks of hours (rows absent or ``visitors`` null). A gap is never a zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.contract import LOCAL_DATETIME
from features.synthetic.calendar_effects import BoutiqueCalendar
from features.synthetic.local_time import local_microseconds

HOURLY_DISPERSION = 30.0
OUTAGES_PER_YEAR = 3.0
LONG_OUTAGE_DAYS = (8, 21)
MISSING_HOUR_SHARE = 0.003
BLOCK_OUTAGE_DAY_SHARE = 0.008
NULL_SHARE = 0.5


@dataclass(frozen=True)
class Footfall:
    """The footfall table and the true daily visitors (sessions online) behind it."""

    table: pl.DataFrame
    daily_visitors: np.ndarray


def simulate_footfall(
    boutiques: pl.DataFrame, calendar: BoutiqueCalendar, rng: np.random.Generator
) -> Footfall:
    """Hourly visitors of every open hour of every physical boutique, then sensor gaps."""
    online = (boutiques["format"] == "online").to_numpy()
    open_cells = calendar.is_open & ~online[:, None]
    boutique, day = np.nonzero(open_cells)
    hours = (calendar.close_hour[boutique, day] - calendar.open_hour[boutique, day]).astype(
        np.int64
    )
    cell = np.repeat(np.arange(boutique.size), hours)
    hour = calendar.open_hour[boutique, day][cell] + within_group_position(hours)
    expected = (
        calendar.expected_visitors[boutique, day][cell]
        * calendar.hourly_profiles[calendar.profile[boutique, day][cell], hour]
    )
    noise = rng.gamma(HOURLY_DISPERSION, 1.0 / HOURLY_DISPERSION, size=expected.size)
    # The counter also sees staff and deliveries: an open hour never reads zero.
    visitors = np.maximum(rng.poisson(expected * noise), 1)

    daily = np.zeros(calendar.expected_visitors.shape)
    np.add.at(daily, (boutique[cell], day[cell]), visitors)
    daily[online] = rng.poisson(calendar.expected_visitors[online])

    lost_day = outage_days(open_cells, rng)[boutique, day][cell]
    lost_hour = lost_hours(cell, hour, boutique.size, rng)
    absent = lost_day | (lost_hour & (rng.random(cell.size) >= NULL_SHARE))
    blank = lost_hour & ~absent
    keep = ~absent

    ids = boutiques["boutique_id"].to_numpy()
    hour_start = local_microseconds(calendar.start, day[cell][keep], hour[keep] * 3600)
    table = pl.DataFrame(
        {
            "boutique_id": ids[boutique[cell][keep]],
            "hour_start": pl.Series(hour_start).cast(LOCAL_DATETIME),
            "visitors": visitors[keep],
            "blank": blank[keep],
        }
    ).select(
        "boutique_id",
        "hour_start",
        pl.when(pl.col("blank"))
        .then(None)
        .otherwise(pl.col("visitors"))
        .cast(pl.Int64)
        .alias("visitors"),
    )
    return Footfall(table=table, daily_visitors=daily)


def within_group_position(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size - 1 for each group laid end to end (e.g. the hours of each open day)."""
    starts = np.cumsum(sizes) - sizes
    return np.arange(int(sizes.sum())) - np.repeat(starts, sizes)


def outage_days(open_cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boutique x day mask of sensor outages: short ones everywhere, one long one somewhere."""
    n_boutiques, n_days = open_cells.shape
    lost = np.zeros_like(open_cells)
    counts = rng.poisson(OUTAGES_PER_YEAR * n_days / 365.25, size=n_boutiques)
    owner = np.repeat(np.arange(n_boutiques), counts)
    first = rng.integers(0, n_days, size=owner.size)
    length = rng.geometric(0.45, size=owner.size)
    for offset in range(int(length.max(initial=0))):
        alive = length > offset
        lost[owner[alive], np.minimum(first[alive] + offset, n_days - 1)] = True
    physical = np.flatnonzero(open_cells.any(axis=1))
    if physical.size:
        victim = int(rng.choice(physical))
        begin = int(rng.integers(0, max(n_days - LONG_OUTAGE_DAYS[1], 1)))
        lost[victim, begin : begin + int(rng.integers(*LONG_OUTAGE_DAYS))] = True
    return lost & open_cells


def lost_hours(
    cell: np.ndarray, hour: np.ndarray, n_cells: int, rng: np.random.Generator
) -> np.ndarray:
    """Mask of hourly rows lost by the sensor: scattered hours and blocks of 2 to 4 hours."""
    scattered = rng.random(cell.size) < MISSING_HOUR_SHARE
    block_day = rng.random(n_cells) < BLOCK_OUTAGE_DAY_SHARE
    block_start = rng.integers(10, 18, size=n_cells)
    block_length = rng.integers(2, 5, size=n_cells)
    in_block = (
        block_day[cell]
        & (hour >= block_start[cell])
        & (hour < block_start[cell] + block_length[cell])
    )
    return scattered | in_block
