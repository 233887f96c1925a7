"""Row rules that look a sale or an hour of footfall up in another table.

A sale needs an FX rate on or before its local date, and sales and footfall must fall inside
their boutique's opening period. Each rule returns checks whose expressions run over the
frames of :func:`features.validation.evaluation.rule_frame`, which joins what they look up.
"""

from __future__ import annotations

import polars as pl

from features.validation.checks import Check, ValidationContext, label_columns
from features.validation.hidden_columns import CLOSED_ON, FIRST_RATE_ON, LOCAL_DATE, OPENED_ON


def rule_fx_coverage(context: ValidationContext) -> list[Check]:
    """fx_coverage: sales in a currency with no rate on or before the sale's local date."""
    transactions = context.usable("transactions", "purchased_at", "currency")
    if transactions is None or context.reference.first_rates is None:
        return []
    currency, day, first = pl.col("currency"), pl.col(LOCAL_DATE), pl.col(FIRST_RATE_ON)
    broken = (
        currency.is_not_null()
        & day.is_not_null()
        & (currency != context.reference_currency)
        & (first.is_null() | (day < first))
    )
    message = (
        "no rate in fx_rates for this currency on or before the sale's local date "
        f"(the reference currency {context.reference_currency} needs none)"
    )
    shown = (
        *label_columns(transactions, "currency"),
        "currency",
        day.alias("local_date"),
        first.alias("first_rate_on"),
    )
    return [Check("transactions", "currency", "fx_coverage", message, broken, shown)]


def rule_opening_period(context: ValidationContext) -> list[Check]:
    """closed_after_opened and boutique_open: sales and footfall inside opening periods."""
    checks = []
    if context.usable("boutiques", "boutique_id", "opened_on") is not None:
        broken = pl.col("closed_on") < pl.col("opened_on")
        message = "closed_on must be on or after opened_on"
        shown = ("boutique_id", "opened_on", "closed_on")
        checks.append(
            Check("boutiques", "closed_on", "closed_after_opened", message, broken, shown)
        )
    if context.reference.boutiques is None:
        return checks
    opened, closed = pl.col(OPENED_ON).alias("opened_on"), pl.col(CLOSED_ON).alias("closed_on")
    transactions = context.usable("transactions", "boutique_id", "purchased_at")
    if transactions is not None:
        day = pl.col(LOCAL_DATE)
        broken = (day < pl.col(OPENED_ON)) | (day >= pl.col(CLOSED_ON))
        message = (
            "sale outside its boutique's opening period "
            "(local date before opened_on, or on or after closed_on)"
        )
        shown = (
            *label_columns(transactions, "purchased_at"),
            "boutique_id",
            "purchased_at",
            day.alias("local_date"),
            opened,
            closed,
        )
        checks.append(
            Check("transactions", "purchased_at", "boutique_open", message, broken, shown)
        )
    footfall = context.usable("footfall", "boutique_id", "hour_start")
    if footfall is not None:
        day = pl.col("hour_start").dt.date()
        broken = (day < pl.col(OPENED_ON)) | (day >= pl.col(CLOSED_ON))
        message = (
            "footfall outside its boutique's opening period "
            "(before opened_on, or on or after closed_on)"
        )
        shown = ("boutique_id", "hour_start", opened, closed)
        checks.append(Check("footfall", "hour_start", "boutique_open", message, broken, shown))
    return checks
