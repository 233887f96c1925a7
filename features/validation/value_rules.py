"""Row rules on the values of one table: codes, allowed values, date ranges, signs, FX rates.

Each rule returns checks whose expressions run over the frames of
:func:`features.validation.evaluation.rule_frame`.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from features.contract import BOUTIQUE_FORMATS, EVENT_KINDS, LOCAL_DATETIME, UTC_DATETIME
from features.validation.checks import Check, ValidationContext, label_columns
from features.validation.local_time import EARLIEST_DATE


def rule_fx_rates(context: ValidationContext) -> list[Check]:
    """fx_rate_positive and fx_reference_rate: rates above zero, the reference at exactly 1."""
    if context.usable("fx_rates", "date", "currency", "rate_to_reference") is None:
        return []
    rate = pl.col("rate_to_reference")
    shown = ("date", "currency", "rate_to_reference")
    reference = (pl.col("currency") == context.reference_currency) & (rate != 1)
    return [
        Check(
            "fx_rates",
            "rate_to_reference",
            "fx_rate_positive",
            "rate_to_reference must be strictly positive",
            rate <= 0,
            shown,
        ),
        Check(
            "fx_rates",
            "rate_to_reference",
            "fx_reference_rate",
            f"the reference currency {context.reference_currency} must have rate 1",
            reference,
            shown,
        ),
    ]


def rule_codes(context: ValidationContext) -> list[Check]:
    """timezone, currency_code, country_code: IANA zones and ISO codes."""
    codes = {
        "currency_code": (r"^[A-Z]{3}$", "a 3-letter upper-case ISO 4217 code such as EUR"),
        "country_code": (r"^[A-Z]{2}$", "a 2-letter upper-case ISO 3166-1 code such as FR"),
    }
    columns = (
        ("currency_code", "boutiques", "currency"),
        ("currency_code", "transactions", "currency"),
        ("currency_code", "fx_rates", "currency"),
        ("country_code", "boutiques", "country"),
        ("country_code", "clients", "home_country"),
        ("country_code", "events", "country"),
    )
    checks = []
    for rule, table, column in columns:
        source = context.usable(table, column)
        if source is None:
            continue
        pattern, description = codes[rule]
        value = pl.col(column)
        broken = value.is_not_null() & ~value.str.contains(pattern)
        message = f"{column} must be {description}"
        shown = (*label_columns(source, column), column)
        checks.append(Check(table, column, rule, message, broken, shown))
    boutiques = context.usable("boutiques", "timezone")
    if boutiques is not None:
        zone = pl.col("timezone")
        broken = zone.is_not_null() & ~zone.is_in(list(context.reference.zones))
        message = "timezone must be an IANA time zone name such as Europe/Paris"
        shown = ("boutique_id", "timezone") if boutiques.has("boutique_id") else ("timezone",)
        checks.append(Check("boutiques", "timezone", "timezone", message, broken, shown))
    return checks


def rule_domains(context: ValidationContext) -> list[Check]:
    """visitors_non_negative, boutique_format, event_kind, event_target: allowed values."""
    checks = []
    footfall = context.usable("footfall", "visitors")
    if footfall is not None:
        message = "visitors must not be negative (a missing hour is absent or null, never < 0)"
        shown = (*label_columns(footfall, "visitors"), "visitors")
        broken = pl.col("visitors") < 0
        checks.append(
            Check("footfall", "visitors", "visitors_non_negative", message, broken, shown)
        )
    boutiques = context.usable("boutiques", "format")
    if boutiques is not None:
        value = pl.col("format")
        broken = value.is_not_null() & ~value.is_in(BOUTIQUE_FORMATS)
        message = f"format must be one of {', '.join(BOUTIQUE_FORMATS)} when given"
        shown = (*label_columns(boutiques, "format"), "format")
        checks.append(Check("boutiques", "format", "boutique_format", message, broken, shown))
    events = context.usable("events", "date", "kind")
    if events is not None:
        value = pl.col("kind")
        broken = value.is_not_null() & ~value.is_in(EVENT_KINDS)
        message = f"kind must be one of {', '.join(EVENT_KINDS)}"
        checks.append(Check("events", "kind", "event_kind", message, broken, ("date", "kind")))
        nowhere = pl.col("boutique_id").is_null() & pl.col("country").is_null()
        message = "each event must name a boutique_id or a country"
        shown = ("date", "kind", "boutique_id", "country")
        checks.append(
            Check("events", "boutique_id, country", "event_target", message, nowhere, shown)
        )
    return checks


def rule_date_range(context: ValidationContext) -> list[Check]:
    """date_range: purchase, first purchase, footfall and FX dates from 1970 to tomorrow."""
    latest = context.today + timedelta(days=1)
    columns = (
        ("clients", "first_purchase_date"),
        ("transactions", "purchased_at"),
        ("footfall", "hour_start"),
        ("fx_rates", "date"),
    )
    checks = []
    for table, column in columns:
        source = context.usable(table, column)
        if source is None:
            continue
        day = pl.col(column)
        if source.table.column(column).dtype in (UTC_DATETIME, LOCAL_DATETIME):
            day = day.dt.date()
        broken = (day < EARLIEST_DATE) | (day > latest)
        message = f"{column} must lie between {EARLIEST_DATE} and {latest} (tomorrow)"
        shown = (*label_columns(source, column), column)
        checks.append(Check(table, column, "date_range", message, broken, shown))
    return checks


def rule_signs(context: ValidationContext) -> list[Check]:
    """sign_consistency and quantity_non_zero: a line sells or returns, in both columns."""
    transactions = context.usable("transactions", "quantity", "amount")
    if transactions is None:
        return []
    quantity, amount = pl.col("quantity"), pl.col("amount")
    shown = (*label_columns(transactions, "quantity"), "quantity", "amount")
    return [
        Check(
            "transactions",
            "quantity, amount",
            "sign_consistency",
            "quantity and amount must have the same sign (a return is negative in both)",
            quantity.cast(pl.Float64) * amount < 0,
            shown,
        ),
        Check(
            "transactions",
            "quantity",
            "quantity_non_zero",
            "quantity must not be 0 (a sale is positive, a return negative)",
            quantity == 0,
            shown,
        ),
    ]
