"""Row rules for data that is legal but suspicious: their violations are warnings.

A footfall hour that does not start on the hour or does not exist locally (a daylight-saving
gap), a count or an amount out of all proportion, a sale converted with an FX rate weeks
old, a footfall table without a single count: each is reported, and none stops a command.
The thresholds are named here.
"""

from __future__ import annotations

import polars as pl

from features.history import zoned_local_columns
from features.validation.checks import Check, ValidationContext, label_columns
from features.validation.hidden_columns import (
    LAST_RATE_ON,
    LOCAL_DATE,
    MEDIAN_HOUR,
    MEDIAN_LINE,
    ZONE,
)
from features.validation.local_time import local_time_exists

FX_STALE_DAYS = 7
"""A sale whose currency's last rate is more days older than its local date is flagged: rates
are daily, and week-ends and holidays leave gaps of 4 days at most."""
VISITORS_OUTLIER_FACTOR = 100
"""An hour counting more than this many times its boutique's median counted hour is flagged."""
VISITORS_OUTLIER_FLOOR = 100
"""Counts up to this are never flagged, however quiet the boutique's median hour."""
AMOUNT_OUTLIER_FACTOR = 1_000
"""A line amount more than this many times its currency's median line (in absolute value)."""


def rule_footfall_hours(context: ValidationContext) -> list[Check]:
    """on_the_hour, local_time_exists, no_footfall: hours that cannot be a sensor's hour."""
    footfall = context.usable("footfall", "boutique_id", "hour_start", "visitors")
    if footfall is None:
        return []
    hour, visitors = pl.col("hour_start"), pl.col("visitors")
    shown = ("boutique_id", "hour_start", "visitors")
    checks = [
        Check(
            "footfall",
            "hour_start",
            "on_the_hour",
            "hour_start should be the start of an hour (minutes and seconds 0): it is read as "
            "the hour it falls in, and of two counts in one hour only the larger is kept (sum "
            "half-hourly counts per hour first)",
            hour != hour.dt.truncate("1h"),
            shown,
        ),
        Check(
            "footfall",
            "visitors",
            "no_footfall",
            "footfall has rows but no hour holds a count (every visitors value is null): a "
            "broken export? Footfall cannot be forecast (an online shop leaves the table empty)",
            visitors.is_null() & visitors.is_not_null().any().not_(),
            shown,
        ),
    ]
    zoned = "hour_start" in zoned_local_columns(footfall.table, footfall.schema)
    offsets = context.reference.offset_changes
    if not zoned and offsets is not None and context.reference.boutiques is not None:
        checks.append(
            Check(
                "footfall",
                "hour_start",
                "local_time_exists",
                "this local hour does not exist in the boutique's time zone (the clocks went "
                "forward): the sensor's clock is probably not on local time",
                ~local_time_exists(hour, pl.col(ZONE), offsets),
                (
                    *shown,
                    pl.col(ZONE)
                    .replace_strict(
                        dict(enumerate(context.reference.zones)),
                        default=None,
                        return_dtype=pl.String,
                    )
                    .alias("timezone"),
                ),
            )
        )
    return checks


def rule_outliers(context: ValidationContext) -> list[Check]:
    """outlier: visitors per hour and line amounts out of all proportion with the usual ones."""
    checks = []
    footfall = context.usable("footfall", "boutique_id", "visitors")
    if footfall is not None:
        visitors = pl.col("visitors")
        usual = pl.col(MEDIAN_HOUR)
        threshold = pl.max_horizontal(VISITORS_OUTLIER_FACTOR * usual, VISITORS_OUTLIER_FLOOR)
        message = (
            f"more than {VISITORS_OUTLIER_FACTOR} times the boutique's median hour (and more "
            f"than {VISITORS_OUTLIER_FLOOR}): a sensor fault? Write a faulty hour as null"
        )
        shown = (*label_columns(footfall, "visitors"), "visitors", usual.alias("median_hour"))
        checks.append(
            Check("footfall", "visitors", "outlier", message, visitors > threshold, shown)
        )
    transactions = context.usable("transactions", "amount", "currency")
    if transactions is not None:
        size = pl.col("amount").abs()
        usual = pl.col(MEDIAN_LINE)
        message = (
            f"more than {AMOUNT_OUTLIER_FACTOR:,} times the median line in this currency: "
            "a unit error (cents, thousands) or a test line?"
        )
        shown = (
            *label_columns(transactions, "amount"),
            "amount",
            "currency",
            usual.alias("median_line"),
        )
        broken = size.is_finite() & (size > AMOUNT_OUTLIER_FACTOR * usual)
        checks.append(Check("transactions", "amount", "outlier", message, broken, shown))
    return checks


def rule_fx_staleness(context: ValidationContext) -> list[Check]:
    """fx_stale: sales converted with a rate more than :data:`FX_STALE_DAYS` days old."""
    transactions = context.usable("transactions", "purchased_at", "currency")
    if transactions is None or context.reference.stale_rate_days is None:
        return []
    message = (
        f"the last rate of this currency is more than {FX_STALE_DAYS} days older than the "
        "sale's local date: the amount is converted with that old rate. Add the missing rates"
    )
    shown = (
        *label_columns(transactions, "currency"),
        "currency",
        pl.col(LOCAL_DATE).alias("local_date"),
        pl.col(LAST_RATE_ON).alias("last_rate_on"),
    )
    broken = pl.col(LAST_RATE_ON).is_not_null() & (pl.col("currency") != context.reference_currency)
    return [Check("transactions", "currency", "fx_stale", message, broken, shown)]
