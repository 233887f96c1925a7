"""Boutique-local time of UTC instants, vectorised over many time zones.

polars converts a column to one literal time zone at a time. Converting once per distinct zone
and coalescing cost 5.0 CPU-s on 10M lines in 12 zones; an as-of join on a table of offset
transitions must sort the lines (2.7 s wall); an equi-join on a (zone, UTC day) offset table took
5.2 s. :class:`UtcOffsets` instead finds every offset transition of the zones over a span (to the
minute, with polars' own conversions on a small grid) and looks each instant up with one
``search_sorted`` over a few hundred keys: 0.8 CPU-s for the same 10M lines, exact around every
transition. Normalisation (local purchase times) and validation (local sale dates) both use it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import polars as pl


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA time zone names this machine can convert to."""
    return frozenset(zoneinfo.available_timezones())


def local_datetime(utc: pl.Expr, time_zone: pl.Expr, zones: Sequence[str]) -> pl.Expr:
    """The naive local datetime of the UTC instants ``utc`` in the per-row ``time_zone``.

    ``zones`` lists every value ``time_zone`` can take: one conversion is evaluated per zone, so
    this suits small frames; :class:`UtcOffsets` converts large ones.
    """
    if len(zones) == 1:
        return utc.dt.convert_time_zone(zones[0]).dt.replace_time_zone(None)
    return pl.coalesce(
        pl.when(time_zone == zone).then(utc.dt.convert_time_zone(zone).dt.replace_time_zone(None))
        for zone in zones
    )


ZONE_SPAN = 2**34  # seconds: each zone's instants get a range of 544 years in a transition key
EPOCH_SHIFT = 2**33  # seconds added to the Unix time so that years 1698 to 2242 are >= 0


@dataclass(frozen=True)
class UtcOffsets:
    """Every UTC-offset transition of some time zones over a period, as one sorted table.

    A row's local time is its UTC time plus the offset of the last transition of its zone at or
    before it: a binary search (``search_sorted``) in a few hundred keys, instead of one full
    time-zone conversion of the column per zone. Transitions are found to the minute (the tz
    database has none at finer times in this era).
    """

    keys: pl.Series
    offsets: pl.Series
    zones: tuple[str, ...]

    def local_date(self, utc: pl.Expr, zone_index: pl.Expr) -> pl.Expr:
        """The local calendar date of ``utc``; the UTC date where the zone is unknown (null)."""
        return pl.coalesce(self.local(utc, zone_index).dt.date(), utc.dt.date())

    def local(self, utc: pl.Expr, zone_index: pl.Expr) -> pl.Expr:
        """The naive local datetime of ``utc`` (UTC Datetime) in zone number ``zone_index``."""
        if self.keys.len() == 0:
            return pl.lit(None, dtype=pl.Datetime("us"))
        key = zone_index.cast(pl.Int64) * ZONE_SPAN + utc.dt.epoch("s") + EPOCH_SHIFT
        position = pl.lit(self.keys).search_sorted(key, side="right").cast(pl.Int64) - 1
        offset = pl.when(key.is_not_null() & (position >= 0)).then(
            pl.lit(self.offsets).gather(position)
        )
        return utc.dt.replace_time_zone(None) + offset


def utc_offsets(zones: Sequence[str], first_day: date, last_day: date) -> UtcOffsets:
    """The UTC-offset transitions of ``zones`` between ``first_day`` and ``last_day`` (UTC).

    The offsets are sampled at every UTC midnight, then hourly in the days where they change,
    then minute by minute in the hours where they change.
    """
    zone_frame = pl.DataFrame({"zone": zones, "zone_index": range(len(zones))})
    days = pl.datetime_range(
        first_day - timedelta(days=1),
        last_day + timedelta(days=2),
        "1d",
        time_zone="UTC",
        eager=True,
    ).alias("instant")
    daily = with_offsets(zone_frame.join(days.to_frame(), how="cross"), zones)
    minutes = finer_offsets(finer_offsets(daily, "1h", zones), "1m", zones)
    changes = (
        pl.concat(
            [
                daily.group_by("zone_index").agg(pl.col("instant", "offset").first()),
                minutes.select("zone_index", "instant", "offset"),
            ]
        )
        .sort("zone_index", "instant")
        .filter((pl.col("offset") != pl.col("offset").shift(1).over("zone_index")).fill_null(True))
        .select(
            key=pl.col("zone_index").cast(pl.Int64) * ZONE_SPAN
            + pl.col("instant").dt.epoch("s")
            + EPOCH_SHIFT,
            offset="offset",
        )
    )
    return UtcOffsets(changes["key"], changes["offset"], tuple(zones))


def with_offsets(grid: pl.DataFrame, zones: Sequence[str]) -> pl.DataFrame:
    """``grid`` (zone, zone_index, instant) with the UTC offset of each zone at each instant."""
    instant = pl.col("instant")
    local = local_datetime(instant, pl.col("zone"), zones)
    return grid.with_columns(offset=local - instant.dt.replace_time_zone(None)).sort(
        "zone_index", "instant"
    )


def finer_offsets(grid: pl.DataFrame, interval: str, zones: Sequence[str]) -> pl.DataFrame:
    """The offsets every ``interval`` between consecutive grid instants whose offsets differ."""
    changed = pl.col("offset") != pl.col("offset").shift(-1).over("zone_index")
    finer = (
        grid.with_columns(following=pl.col("instant").shift(-1).over("zone_index"))
        .filter(changed.fill_null(False))
        .select(
            "zone",
            "zone_index",
            instant=pl.datetime_ranges("instant", "following", interval, closed="both"),
        )
        .explode("instant")
    )
    return with_offsets(finer, zones)
