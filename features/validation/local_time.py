"""Local calendar dates of UTC instants in the boutiques' time zones, computed vectorised.

:func:`utc_offset_changes` tabulates, once per validation, every change of UTC offset of the
boutiques' zones since :data:`EARLIEST_DATE`; :func:`local_date` then looks each instant's
offset up with one sorted search, where converting every row to its own zone would be slow.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import polars as pl

from features.contract import UTC_DATETIME
from features.validation.sources import POLARS_FAILURES

EARLIEST_DATE = date(1970, 1, 1)
"""The earliest date the contract accepts, and so the start of the offset tables."""

_ZONE_STRIDE = 2**34  # > seconds from 1970 to 2514: zone index * stride + epoch second is unique


def local_date(utc: pl.Expr, zone: pl.Expr, offset_changes: pl.DataFrame | None) -> pl.Expr:
    """The local calendar date of UTC instants ``utc`` in time zone number ``zone``.

    ``zone`` indexes the zones of ``offset_changes`` (see :func:`utc_offset_changes`); where it
    is null (an unknown boutique or time zone) the UTC date is kept: other rules report those.
    """
    utc_date = utc.dt.date()
    if offset_changes is None or offset_changes.is_empty():
        return utc_date
    second = utc.dt.epoch("s").clip(0, _ZONE_STRIDE - 1)
    key = zone.cast(pl.Int64) * _ZONE_STRIDE + second
    changes = pl.lit(offset_changes["key"])
    position = (changes.search_sorted(key, side="right").cast(pl.Int64) - 1).clip(0)
    offset = pl.lit(offset_changes["offset"]).gather(position)
    local = ((second + offset) // 86_400).cast(pl.Int32).cast(pl.Date)
    return pl.when(key.is_not_null()).then(local).otherwise(utc_date)


def utc_offset_changes(zones: Sequence[str], until: date) -> pl.DataFrame:
    """Every change of UTC offset of ``zones`` from 1970 to ``until``, found to the quarter hour.

    One row per change: ``key`` = zone index * stride + epoch second from which ``offset``
    (seconds east of UTC) applies, sorted. A sorted search of a row's key then gives its offset
    in one vectorised step, where converting every row to its own zone would be slow. Offsets
    are sampled daily, then every 15 minutes on the days they change.
    """
    start = datetime(EARLIEST_DATE.year, 1, 1)
    end = datetime.combine(until, datetime.min.time())
    days = pl.datetime_range(start, end, "1d", time_zone="UTC", eager=True)
    quarters = pl.Series([timedelta(minutes=15 * k) for k in range(1, 96)])
    frames = []
    for position, zone in enumerate(zones):
        daily = _utc_offsets(days, zone)
        changed_days = days.filter(daily != daily.shift(1, fill_value=daily[0]))
        refined = (
            pl.DataFrame({"day": changed_days})
            .join(pl.DataFrame({"back": quarters}), how="cross")
            .select((pl.col("day") - pl.col("back")).alias("at"))
            .to_series()
        )
        instants = pl.concat([days, refined]).unique().sort()
        offsets = _utc_offsets(instants, zone)
        frames.append(
            pl.DataFrame({"at": instants, "offset": offsets})
            .filter(pl.col("offset") != pl.col("offset").shift(1, fill_value=offsets[0] + 1))
            .select((position * _ZONE_STRIDE + pl.col("at").dt.epoch("s")).alias("key"), "offset")
        )
    if not frames:
        return pl.DataFrame(schema={"key": pl.Int64, "offset": pl.Int64})
    return pl.concat(frames).sort("key")


def valid_time_zones(names: Sequence[str]) -> tuple[str, ...]:
    """The ``names`` that are IANA time zones polars can convert to, in their given order."""
    available = zoneinfo.available_timezones()
    probe = pl.Series([datetime(2000, 1, 1)], dtype=UTC_DATETIME)
    valid = []
    for name in names:
        if name not in available:
            continue
        try:
            probe.dt.convert_time_zone(name)
        except POLARS_FAILURES:
            continue
        valid.append(name)
    return tuple(valid)


def _utc_offsets(instants: pl.Series, zone: str) -> pl.Series:
    """Seconds east of UTC of ``zone`` at each UTC instant."""
    wall = instants.dt.convert_time_zone(zone).dt.replace_time_zone(None)
    return (wall - instants.dt.replace_time_zone(None)).dt.total_seconds()
