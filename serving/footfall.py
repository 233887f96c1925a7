"""The footfall request path: slices of forecasts computed once, when the state loads.

At start-up the champion forecasts every boutique's next 56 days and 14 days of hours from the
snapshot's future rows; :class:`FootfallForecasts` keeps them per boutique as ready-made response
periods sorted by time. A request is a range check and two binary searches.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from features.snapshot import DAILY_HORIZON_DAYS, HOURLY_HORIZON_DAYS
from serving.errors import RequestRejected
from serving.schemas import FootfallPeriod, FootfallResponse, Granularity

DAILY_COLUMNS = ("boutique_id", "date", "p10", "p50", "p90")
HOURLY_COLUMNS = ("boutique_id", "hour_start", "p10", "p50", "p90")


@dataclass(frozen=True)
class PeriodSeries:
    """One boutique's forecast periods at one granularity, sorted by start."""

    starts: tuple[datetime, ...]
    periods: tuple[FootfallPeriod, ...]

    def between(self, first: datetime, end: datetime) -> list[FootfallPeriod]:
        """The periods starting in [first, end)."""
        return list(self.periods[bisect_left(self.starts, first) : bisect_left(self.starts, end)])


def _series(frame: pl.DataFrame, start_column: str) -> dict[str, PeriodSeries]:
    """Per boutique, its periods as response objects (built once; requests only slice them)."""
    starts = pl.col(start_column).cast(pl.Datetime("us")).alias("start")
    grouped = (
        frame.select("boutique_id", starts, "p10", "p50", "p90")
        .sort("boutique_id", "start")
        .partition_by("boutique_id", as_dict=True, maintain_order=True)
    )
    series: dict[str, PeriodSeries] = {}
    for (boutique_id,), rows in grouped.items():
        periods = tuple(
            FootfallPeriod.model_construct(**row) for row in rows.drop("boutique_id").to_dicts()
        )
        series[str(boutique_id)] = PeriodSeries(tuple(p.start for p in periods), periods)
    return series


@dataclass(frozen=True)
class FootfallForecasts:
    """Every boutique's daily and hourly forecast from the snapshot date on."""

    first_day: date
    timezones: Mapping[str, str]
    daily: Mapping[str, PeriodSeries]
    hourly: Mapping[str, PeriodSeries]
    daily_frame: pl.DataFrame
    snapshot_date: date
    model_version: str

    @classmethod
    def build(
        cls,
        daily: pl.DataFrame,
        hourly: pl.DataFrame,
        timezones: Mapping[str, str],
        snapshot_date: date,
        model_version: str,
    ) -> FootfallForecasts:
        """Index forecast frames: ``daily`` (boutique_id, date, p10, p50, p90) and ``hourly``
        (boutique_id, hour_start, p10, p50, p90), both boutique-local."""
        daily = daily.select(DAILY_COLUMNS).sort("boutique_id", "date")
        return cls(
            first_day=snapshot_date,
            timezones=dict(timezones),
            daily=_series(daily, "date"),
            hourly=_series(hourly.select(HOURLY_COLUMNS), "hour_start"),
            daily_frame=daily,
            snapshot_date=snapshot_date,
            model_version=model_version,
        )

    def window(
        self, boutique_id: str, start: date, days: int, granularity: Granularity
    ) -> FootfallResponse:
        """``days`` days of forecast from ``start``; RequestRejected names the field at fault."""
        if boutique_id not in self.timezones:
            raise RequestRejected("boutique_id", f"unknown boutique {boutique_id!r}", 404)
        horizon = DAILY_HORIZON_DAYS if granularity == "daily" else HOURLY_HORIZON_DAYS
        last_day = self.first_day + timedelta(days=horizon - 1)
        if not self.first_day <= start <= last_day:
            raise RequestRejected(
                "start",
                f"{start} is outside the {granularity} forecast range "
                f"{self.first_day} to {last_day}",
            )
        if start + timedelta(days=days - 1) > last_day:
            allowed = (last_day - start).days + 1
            raise RequestRejected(
                "days",
                f"{days} days from {start} run past the last {granularity} forecast day "
                f"{last_day}; at most {allowed} from that start",
            )
        series = (self.daily if granularity == "daily" else self.hourly).get(boutique_id)
        if series is None:
            raise RequestRejected(
                "boutique_id",
                f"boutique {boutique_id!r} has no footfall forecast (online, closed or unsensored)",
                404,
            )
        first = datetime.combine(start, time())
        periods = series.between(first, first + timedelta(days=days))
        return FootfallResponse.model_construct(
            boutique_id=boutique_id,
            granularity=granularity,
            timezone=self.timezones[boutique_id],
            snapshot_date=self.snapshot_date,
            model_version=self.model_version,
            periods=periods,
        )
