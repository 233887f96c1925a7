"""Read the little reference data that rules of one table look up in another.

Boutique opening periods and time zones, the first FX rate date of each currency, the days on
which a currency's last rate is stale, and the ids that foreign keys point to are read once,
before the row rules run over every table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import polars as pl

from features.timezones import UtcOffsets
from features.validation.hidden_columns import (
    CLOSED_ON,
    FIRST_RATE_ON,
    LAST_RATE_ON,
    LOCAL_DATE,
    OPENED_ON,
    ZONE,
)
from features.validation.local_time import utc_offset_changes, valid_time_zones
from features.validation.report import Violation
from features.validation.sources import POLARS_FAILURES, SourceTable, unreadable_violation


@dataclass(frozen=True)
class ReferenceData:
    """The small tables that rules of other tables look up, read once before the row rules.

    ``boutiques`` has one row per boutique id with its time-zone index into ``zones`` and its
    opening period; ``offset_changes`` maps a zone's instants to UTC offsets (see
    :func:`utc_offset_changes`); ``first_rates`` gives each currency's first rate date;
    ``keys`` holds the distinct ids that foreign keys point to.
    """

    boutiques: pl.DataFrame | None = None
    zones: tuple[str, ...] = ()
    offset_changes: UtcOffsets | None = None
    first_rates: pl.DataFrame | None = None
    stale_rate_days: pl.DataFrame | None = None
    keys: dict[tuple[str, str], pl.Series] = field(default_factory=dict)


def read_reference_data(
    sources: dict[str, SourceTable], today: date, stale_days: int
) -> tuple[ReferenceData, list[Violation]]:
    """Read what rules of other tables look up; a table that fails to read is reported.

    A rate is stale on the days more than ``stale_days`` after it, until the next rate of its
    currency (after the last one: until the day after tomorrow, as far as sales may go).
    """
    unreadable: dict[str, Violation] = {}

    def collect(name: str, query: pl.LazyFrame) -> pl.DataFrame | None:
        try:
            return query.collect()
        except POLARS_FAILURES as error:
            unreadable.setdefault(name, unreadable_violation(name, sources[name].file, error))
            return None

    reference = ReferenceData()
    boutiques = sources.get("boutiques")
    if boutiques is not None and boutiques.has("boutique_id", "timezone", "opened_on"):
        periods = collect(
            "boutiques",
            boutiques.frame.filter(pl.col("boutique_id").is_not_null())
            .unique("boutique_id", keep="first", maintain_order=True)
            .select(
                "boutique_id",
                pl.col("timezone").alias(ZONE),
                pl.col("opened_on").alias(OPENED_ON),
                pl.col("closed_on").alias(CLOSED_ON),
            ),
        )
        if periods is not None:
            zones = valid_time_zones(periods[ZONE].drop_nulls().unique().sort().to_list())
            index = {zone: position for position, zone in enumerate(zones)}
            periods = periods.with_columns(
                pl.col(ZONE).replace_strict(index, default=None, return_dtype=pl.Int64)
            )
            reference = replace(
                reference,
                boutiques=periods,
                zones=zones,
                offset_changes=(
                    utc_offset_changes(zones, today + timedelta(days=2)) if zones else None
                ),
            )
    fx = sources.get("fx_rates")
    if fx is not None and fx.has("date", "currency", "rate_to_reference"):
        first_rates = collect(
            "fx_rates",
            fx.frame.filter(pl.col("rate_to_reference") > 0, pl.col("currency").is_not_null())
            .group_by("currency")
            .agg(pl.col("date").min().alias(FIRST_RATE_ON)),
        )
        rate_dates = collect(
            "fx_rates",
            fx.frame.filter(
                pl.col("rate_to_reference") > 0,
                pl.col("currency").is_not_null(),
                pl.col("date").is_not_null(),
            )
            .select("currency", "date")
            .unique(),
        )
        stale = None
        if rate_dates is not None:
            stale = stale_rate_days(rate_dates, stale_days, today + timedelta(days=2))
        reference = replace(reference, first_rates=first_rates, stale_rate_days=stale)
    keys = {}
    for source in sources.values():
        for parent_name, parent_column in source.table.foreign_keys.values():
            parent = sources.get(parent_name)
            if parent is None or not parent.has(parent_column):
                continue
            query = parent.frame.select(pl.col(parent_column).drop_nulls().unique())
            if (values := collect(parent_name, query)) is not None:
                keys[(parent_name, parent_column)] = values.to_series()
    return replace(reference, keys=keys), list(unreadable.values())


def stale_rate_days(rate_dates: pl.DataFrame, stale_days: int, until: date) -> pl.DataFrame:
    """Per currency, each day up to ``until`` whose last rate is over ``stale_days`` days old.

    ``rate_dates`` holds the (currency, date) pairs with a rate. The result has the currency,
    the day (as the hidden local-date column sales are joined on) and the last rate's date. It
    is small: only the days inside gaps between rates, and after a currency's last rate.
    """
    gap_start = pl.col(LAST_RATE_ON) + timedelta(days=stale_days + 1)
    return (
        rate_dates.sort("currency", "date")
        .select(
            "currency",
            pl.col("date").alias(LAST_RATE_ON),
            pl.col("date")
            .shift(-1)
            .over("currency")
            .dt.offset_by("-1d")
            .fill_null(until)
            .alias("gap_end"),
        )
        .filter(gap_start <= pl.col("gap_end"))
        .select(
            "currency",
            LAST_RATE_ON,
            pl.date_ranges(gap_start, pl.col("gap_end")).alias(LOCAL_DATE),
        )
        .explode(LOCAL_DATE)
        .select("currency", LOCAL_DATE, LAST_RATE_ON)
    )
