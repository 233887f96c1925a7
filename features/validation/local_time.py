"""Local calendar dates of UTC instants in the boutiques' time zones, computed vectorised.

:func:`utc_offset_changes` tabulates, once per validation, every change of UTC offset of the
boutiques' zones since :data:`EARLIEST_DATE` (:class:`features.timezones.UtcOffsets`);
:func:`local_date` then looks each instant's offset up with one sorted search.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from features.contract import UTC_DATETIME
from features.timezones import UtcOffsets, utc_offsets
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
