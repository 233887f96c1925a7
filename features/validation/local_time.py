"""Local calendar dates of UTC instants in the boutiques' time zones, computed vectorised.

:func:`utc_offset_changes` tabulates, once per validation, every change of UTC offset of the
boutiques' zones since :data:`EARLIEST_DATE` (:class:`features.timezones.UtcOffsets`);
:func:`local_date` then looks each instant's offset up with one sorted search, and
:func:`local_time_exists` tells local wall-clock times that a daylight-saving change skips.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from features.contract import UTC_DATETIME
from features.timezones import EPOCH_SHIFT, ZONE_SPAN, UtcOffsets, utc_offsets
from features.validation.sources import POLARS_FAILURES

EARLIEST_DATE = date(1970, 1, 1)
"""The earliest date the contract accepts, and so the start of the offset tables."""


def local_date(utc: pl.Expr, zone: pl.Expr, offsets: UtcOffsets | None) -> pl.Expr:
    """The local calendar date of UTC instants ``utc`` in time zone number ``zone``.

    ``zone`` indexes the zones of ``offsets`` (see :func:`utc_offset_changes`); where it is null
    (an unknown boutique or time zone) the UTC date is kept: other rules report those.
    """
    if offsets is None:
        return utc.dt.date()
    return offsets.local_date(utc, zone)


def utc_offset_changes(zones: Sequence[str], until: date) -> UtcOffsets:
    """Every change of UTC offset of ``zones`` from :data:`EARLIEST_DATE` to ``until``."""
    return utc_offsets(zones, EARLIEST_DATE, until)


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


def local_time_exists(local: pl.Expr, zone: pl.Expr, offsets: UtcOffsets | None) -> pl.Expr:
    """True where the naive local date-time ``local`` happens in time zone number ``zone``.

    False for a wall-clock time skipped when the clocks go forward (02:30 on the last Sunday of
    March in Paris); null where the zone is unknown. One sorted search in the bounds of the
    skipped spans (:func:`skipped_local_spans`): an odd position falls inside one.
    """
    if offsets is None:
        return pl.lit(None, dtype=pl.Boolean)
    key = zone.cast(pl.Int64) * ZONE_SPAN + local.dt.epoch("s") + EPOCH_SHIFT
    position = pl.lit(skipped_local_spans(offsets)).search_sorted(key, side="right")
    return pl.when(key.is_not_null()).then(position % 2 == 0)


def skipped_local_spans(offsets: UtcOffsets) -> pl.Series:
    """The bounds of the local wall-clock spans that no instant shows, as sorted keys.

    Where a zone's offset grows from ``before`` to ``after`` at a transition, the local times
    from transition + ``before`` to transition + ``after`` (excluded) are skipped. Keys are
    those of :class:`features.timezones.UtcOffsets` read in local time: start, end, start, ...
    """
    seconds = pl.col("offset").dt.total_seconds()
    same_zone = pl.col("key") // ZONE_SPAN == pl.col("key").shift(1) // ZONE_SPAN
    spans = (
        pl.DataFrame({"key": offsets.keys, "offset": offsets.offsets})
        .with_columns(before=seconds.shift(1), after=seconds)
        .filter(same_zone & (pl.col("after") > pl.col("before")))
        .select(start=pl.col("key") + pl.col("before"), end=pl.col("key") + pl.col("after"))
    )
    return spans.select(pl.concat_list("start", "end").explode().cast(pl.Int64)).to_series().sort()
