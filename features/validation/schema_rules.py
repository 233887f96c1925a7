"""Row rules every table gets from its contract description: types, required values, keys.

Local date-times written with a UTC offset are reported once, by the ``local_time`` rule, not
as well by the ``type`` rule (the conversion leaves them null).

Each rule returns checks whose expressions run over the frames of
:func:`features.validation.evaluation.rule_frame`.
"""

from __future__ import annotations

import polars as pl

from features.contract import LOCAL_DATETIME, UTC_DATETIME
from features.history import LOCAL_TIME_OFFSET
from features.validation.checks import Check, ValidationContext, label_columns
from features.validation.sources import SourceTable


def rule_types(context: ValidationContext) -> list[Check]:
    """type: values present in the file that do not convert to the contract type."""
    checks = []
    for source in context.sources.values():
        for column in source.table.columns:
            if column.name not in source.schema or source.schema[column.name] == column.dtype:
                continue
            stored = source.stored(column.name)
            broken = stored.is_not_null() & pl.col(column.name).is_null()
            if (offset := _local_time_offset(source, column.name)) is not None:
                broken = broken & ~offset
            if column.dtype.is_integer() and source.schema[column.name].is_float():
                broken = broken | (stored != stored.round(0))
            shown = (*label_columns(source, column.name), stored.cast(pl.String).alias(column.name))
            message = f"values do not convert to {_type_description(column.dtype)}"
            checks.append(Check(source.table.name, column.name, "type", message, broken, shown))
    return checks


def rule_local_times(context: ValidationContext) -> list[Check]:
    """local_time: local date-times written with a UTC offset or a zone (``+01:00``, ``Z``).

    Footfall hours are boutique-local wall-clock time; an offset says they were written as
    instants, and dropping it would shift them. (A column stored with a time zone is reported
    by :func:`features.validation.sources.file_violations`.)
    """
    checks = []
    for source in context.sources.values():
        for column in source.table.columns:
            offset = _local_time_offset(source, column.name)
            if offset is None:
                continue
            message = (
                f"{column.name} is boutique-local wall-clock time, but these values carry a UTC "
                "offset or zone: write the local time without an offset "
                "(2024-12-30T10:00:00, not 2024-12-30T10:00:00+01:00)"
            )
            stored = source.stored(column.name).alias(column.name)
            shown = (*label_columns(source, column.name), stored)
            checks.append(
                Check(source.table.name, column.name, "local_time", message, offset, shown)
            )
    return checks


def rule_not_null(context: ValidationContext) -> list[Check]:
    """not_null: empty values (null, or NaN for numbers) in columns the contract requires.

    Nulls are read before conversion, so that an unparseable value is reported once, by the
    ``type`` rule.
    """
    checks = []
    for source in context.sources.values():
        for column in source.table.columns:
            if column.nullable or column.name not in source.schema:
                continue
            broken = source.stored(column.name).is_null()
            if column.dtype.is_float():
                broken = broken | pl.col(column.name).is_nan()
            message = f"{column.name} is required: it must not be empty (null or NaN)"
            checks.append(
                Check(
                    source.table.name,
                    column.name,
                    "not_null",
                    message,
                    broken,
                    (*label_columns(source, column.name), column.name),
                )
            )
    return checks


def rule_finite(context: ValidationContext) -> list[Check]:
    """finite: infinite numbers, which every sum or mean they enter turns infinite too."""
    checks = []
    for source in context.sources.values():
        for column in source.table.columns:
            if not column.dtype.is_float() or column.name not in source.schema:
                continue
            broken = pl.col(column.name).is_infinite()
            message = f"{column.name} must be a finite number (not inf or -inf)"
            shown = (*label_columns(source, column.name), column.name)
            checks.append(Check(source.table.name, column.name, "finite", message, broken, shown))
    return checks


def rule_unique_key(context: ValidationContext) -> list[Check]:
    """unique_key: rows sharing the table's key with another row."""
    checks = []
    for source in context.sources.values():
        key = source.table.key
        if not key or not source.has(*key):
            continue
        complete = pl.all_horizontal(pl.col(column).is_not_null() for column in key)
        shared = pl.col(key[0]) if len(key) == 1 else pl.struct(key)
        broken = complete & shared.is_duplicated()
        message = f"the key ({', '.join(key)}) must be unique; these rows share theirs"
        checks.append(Check(source.table.name, ", ".join(key), "unique_key", message, broken, key))
    return checks


def rule_foreign_keys(context: ValidationContext) -> list[Check]:
    """foreign_key: references to rows that do not exist in the referenced table."""
    checks = []
    for source in context.sources.values():
        for column, (parent, parent_column) in source.table.foreign_keys.items():
            known = context.reference.keys.get((parent, parent_column))
            if known is None or not source.has(column):
                continue
            value = pl.col(column)
            broken = value.is_not_null() & ~value.is_in(known.implode())
            message = f"{column} must name an existing {parent}.{parent_column}"
            shown = (*label_columns(source, column), column)
            checks.append(Check(source.table.name, column, "foreign_key", message, broken, shown))
    return checks


def _local_time_offset(source: SourceTable, column: str) -> pl.Expr | None:
    """Where local date-time ``column`` is stored as text, its values ending with an offset."""
    if column not in source.schema or source.table.column(column).dtype != LOCAL_DATETIME:
        return None
    if source.schema[column] != pl.String:
        return None
    return source.stored(column).str.contains(LOCAL_TIME_OFFSET.pattern)


def _type_description(dtype: pl.DataType) -> str:
    """What a value of contract type ``dtype`` looks like, for messages."""
    if dtype == pl.Date:
        return "an ISO 8601 date (YYYY-MM-DD)"
    if dtype == UTC_DATETIME:
        return "an ISO 8601 date-time (UTC unless it carries an offset; one format per column)"
    if dtype == LOCAL_DATETIME:
        return "an ISO 8601 local date-time without offset (YYYY-MM-DDTHH:MM:SS)"
    if dtype.is_integer():
        return f"a whole number ({dtype})"
    if dtype.is_float():
        return "a number (decimal point, no thousands separator)"
    if dtype == pl.Boolean:
        return "true or false"
    return str(dtype)
