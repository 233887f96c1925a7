"""Run the row rules' checks: one lazy query per table, all tables in one ``collect_all``.

Each table's query reads the frame its rules see (:func:`rule_frame`: the table plus what they
look up) and aggregates, per check, the count of offending rows and the first of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from features.validation.checks import Check, ValidationContext
from features.validation.hidden_columns import (
    CLOSED_ON,
    LOCAL_DATE,
    MEDIAN_HOUR,
    MEDIAN_LINE,
    OPENED_ON,
    ROW,
    ROWS,
    ZONE,
)
from features.validation.local_time import local_date
from features.validation.report import Violation
from features.validation.sources import POLARS_FAILURES, unreadable_violation

EXAMPLE_ROWS = 5
"""How many offending rows a violation shows, in file order."""


def evaluate(
    context: ValidationContext, checks: Sequence[Check]
) -> tuple[dict[str, int], list[Violation]]:
    """Run every check, one query per table, and return the row counts and the violations.

    The tables' queries run together in one ``collect_all``; should one fail (a file that
    cannot be parsed to its end), each runs on its own and the failing table is reported as
    unreadable.
    """
    names = list(context.sources)
    queries = [table_query(context, name, [c for c in checks if c.table == name]) for name in names]
    try:
        results: list[pl.DataFrame | BaseException] = list(pl.collect_all(queries))
    except POLARS_FAILURES:
        results = [_collect_or_error(query) for query in queries]
    rows: dict[str, int] = {}
    violations: list[Violation] = []
    for name, result in zip(names, results, strict=True):
        source = context.sources[name]
        if isinstance(result, BaseException):
            violations.append(unreadable_violation(name, source.file, result))
            continue
        rows[name] = result.item(0, ROWS)
        for index, check in enumerate(c for c in checks if c.table == name):
            count = result.item(0, f"count_{index}")
            if count:
                examples = result.item(0, f"examples_{index}").to_list()
                violations.append(
                    Violation(
                        table=name,
                        file=source.file,
                        column=check.column,
                        rule=check.rule,
                        message=check.message,
                        examples=tuple(_example(row) for row in examples),
                        count=count,
                    )
                )
    return rows, violations


def table_query(context: ValidationContext, name: str, checks: Sequence[Check]) -> pl.LazyFrame:
    """One lazy query over table ``name``: its row count, then each check's count and rows."""
    aggregations = [pl.len().alias(ROWS)]
    for index, check in enumerate(checks):
        broken = check.broken.fill_null(False)
        shown = pl.struct(ROW, *check.shown).filter(broken).head(EXAMPLE_ROWS).implode()
        aggregations += [broken.sum().alias(f"count_{index}"), shown.alias(f"examples_{index}")]
    return rule_frame(context, name).select(aggregations)


def rule_frame(context: ValidationContext, name: str) -> pl.LazyFrame:
    """The frame the rules of table ``name`` see: its own, plus what they look up.

    Transactions gain their boutique's opening period, the sale's local date, the first FX
    rate date of their currency and, when that currency's last rate is stale on the sale's
    local date, that rate's date; footfall gains its boutique's time zone and opening period.
    The usual sizes outliers are measured against are computed once here: the median absolute
    line amount of each currency, the median count of each boutique's hours.
    """
    source = context.sources[name]
    frame = source.frame
    if name not in ("transactions", "footfall"):
        return frame
    if name == "transactions" and source.has("amount", "currency"):
        size = pl.col("amount").abs()
        usual = pl.when(size > 0).then(size).median().over("currency")
        frame = frame.with_columns(usual.alias(MEDIAN_LINE))
    if name == "footfall" and source.has("boutique_id", "visitors"):
        frame = frame.with_columns(
            pl.col("visitors").median().over("boutique_id").alias(MEDIAN_HOUR)
        )
    periods = context.reference.boutiques
    if periods is not None and source.has("boutique_id"):
        frame = frame.join(periods.lazy(), on="boutique_id", how="left", maintain_order="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Int64).alias(ZONE),
            pl.lit(None, pl.Date).alias(OPENED_ON),
            pl.lit(None, pl.Date).alias(CLOSED_ON),
        )
    if name == "transactions" and source.has("purchased_at"):
        sale_date = local_date(
            pl.col("purchased_at"), pl.col(ZONE), context.reference.offset_changes
        )
        frame = frame.with_columns(sale_date.alias(LOCAL_DATE))
        first_rates = context.reference.first_rates
        if first_rates is not None and source.has("currency"):
            frame = frame.join(first_rates.lazy(), on="currency", how="left", maintain_order="left")
        stale = context.reference.stale_rate_days
        if stale is not None and source.has("currency"):
            frame = frame.join(
                stale.lazy(), on=["currency", LOCAL_DATE], how="left", maintain_order="left"
            )
    return frame


def _example(row: dict[str, object]) -> dict[str, object]:
    """An offending row as JSON-ready data, its row number first under ``row``."""
    example: dict[str, object] = {"row": row[ROW]}
    for name, value in row.items():
        if name != ROW:
            example[name] = value.isoformat() if isinstance(value, date) else value
    return example


def _collect_or_error(query: pl.LazyFrame) -> pl.DataFrame | BaseException:
    """Collect ``query``, or return the error that stopped it."""
    try:
        return query.collect()
    except POLARS_FAILURES as error:
        return error
