"""Boutique-local wall-clock time to UTC, through each boutique's IANA time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl

MICROSECONDS = 1_000_000


def utc_offsets(timezones: Sequence[str], start: date, n_days: int) -> np.ndarray:
    """UTC offset in seconds of each time zone on each day, shape zones x days.

    The offset is taken at local noon: daylight-saving switches happen at night, when boutiques
    are closed, so noon gives the offset of every trading hour of the day.
    """
    days = pl.date_range(start, start + timedelta(days=n_days - 1), "1d", eager=True)
    noon = days.cast(pl.Datetime("us")) + timedelta(hours=12)
    by_zone: dict[str, np.ndarray] = {}
    for zone in sorted(set(timezones)):
        utc = noon.dt.replace_time_zone(zone).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        by_zone[zone] = ((noon - utc).dt.total_seconds()).to_numpy().astype(np.int32)
    return np.stack([by_zone[zone] for zone in timezones])


def utc_microseconds(
    start: date, day: np.ndarray, second_of_day: np.ndarray, offset_seconds: np.ndarray
) -> np.ndarray:
    """Microseconds since the epoch (UTC) of second ``second_of_day`` of local ``day``."""
    epoch_day = (start - date(1970, 1, 1)).days + day.astype(np.int64)
    local_seconds = epoch_day * 86_400 + second_of_day.astype(np.int64)
    return (local_seconds - offset_seconds.astype(np.int64)) * MICROSECONDS


def local_microseconds(start: date, day: np.ndarray, second_of_day: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch of a naive local datetime (for local-time columns)."""
    epoch_day = (start - date(1970, 1, 1)).days + day.astype(np.int64)
    return (epoch_day * 86_400 + second_of_day.astype(np.int64)) * MICROSECONDS
