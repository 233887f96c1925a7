"""Open the table files of a history folder and check the files themselves.

:func:`open_table` reports a table that is missing or unreadable (a file whose content is not
what its name says, a CSV not separated by commas) and otherwise opens it as a
:class:`SourceTable`, whose lazy frame the row rules query; :func:`file_violations` reports
what is wrong with a file's columns (required ones missing, personal data, id types, local
times stored with a zone) and an empty table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contract import PERSONAL_DATA_TABLES, Table
from features.history import (
    cast_expression,
    file_format_problem,
    scan_raw,
    table_path,
    zoned_local_columns,
    zoned_local_time_message,
)
from features.validation.hidden_columns import ROW, raw_name
from features.validation.personal_data import personal_column_pattern
from features.validation.report import Violation

POLARS_FAILURES = (pl.exceptions.PolarsError, OSError, ValueError, pl.exceptions.PanicException)
"""What polars raises on a file or a value it cannot read; validation reports it, never raises."""

NOT_NEEDING_ROWS: frozenset[str] = frozenset({"footfall", "fx_rates", "events"})
"""Tables that may hold no row: no sensor (footfall: an online shop), sales in the reference
currency only (fx_rates), no event. Every other table without rows leaves nothing to compute."""

OTHER_SEPARATORS = (";", "\t", "|")
"""Separators a CSV export may use instead of commas; a header holding one is reported once."""


@dataclass(frozen=True)
class SourceTable:
    """One table file opened for the row rules.

    ``frame`` holds a 1-based row number, every column of the file, the contract columns
    converted to their types (absent optional ones as nulls) and, for each contract column
    stored under another type, its stored values as ``__raw__<name>``.
    """

    table: Table
    path: Path
    schema: pl.Schema
    frame: pl.LazyFrame

    @property
    def file(self) -> str:
        """The file name, as reports show it."""
        return self.path.name

    def has(self, *columns: str) -> bool:
        """True when every column can be checked: present in the file, or optional."""
        optional = {column.name for column in self.table.optional}
        return all(column in self.schema or column in optional for column in columns)

    def stored(self, column: str) -> pl.Expr:
        """Column ``column`` as stored in the file, before conversion."""
        converted = self.schema[column] != self.table.column(column).dtype
        return pl.col(raw_name(column)) if converted else pl.col(column)


def open_table(data_dir: Path, table: Table) -> tuple[SourceTable | None, list[Violation]]:
    """Open one table file for the row rules; report it when it is absent or unreadable."""
    path = table_path(data_dir, table.name)
    if path is None:
        if table.is_optional_table:
            return None, []
        file = f"{table.name}.parquet or {table.name}.csv"
        message = f"required table {table.name!r} is missing: add {file} to {data_dir}"
        return None, [Violation(table.name, file, None, "table_present", message)]
    try:
        if (problem := file_format_problem(path)) is not None:
            return None, [Violation(table.name, path.name, None, "readable", problem)]
        raw = scan_raw(path)
        schema = raw.collect_schema()
    except POLARS_FAILURES as error:
        return None, [unreadable_violation(table.name, path.name, error)]
    separator = _other_separator(table, schema) if path.suffix == ".csv" else None
    if separator is not None:
        return None, [_separator_violation(table, path.name, schema, separator)]
    zoned = zoned_local_columns(table, schema)
    stored = [
        pl.col(column.name).alias(raw_name(column.name))
        for column in table.columns
        if column.name in schema and schema[column.name] != column.dtype
    ]
    # A zoned local column is reported by file_violations; its wall-clock time in its own zone
    # stands in for it, so that the other rules (keys, opening periods) still run.
    converted = [
        (
            pl.col(column.name).dt.replace_time_zone(None).dt.cast_time_unit("us")
            if column.name in zoned
            else cast_expression(column.name, schema[column.name], column.dtype)
        ).alias(column.name)
        for column in table.columns
        if column.name in schema
    ]
    absent_optional = [
        pl.lit(None, dtype=column.dtype).alias(column.name)
        for column in table.optional
        if column.name not in schema
    ]
    frame = raw.with_row_index(ROW, offset=1).with_columns(*stored, *converted, *absent_optional)
    return SourceTable(table, path, schema, frame), []


def file_violations(source: SourceTable, rows: int | None) -> list[Violation]:
    """Violations of a file's columns and size: required columns missing, personal data, id
    types, local times stored with a zone, and no row at all (``rows`` None: not counted)."""
    table, file, schema = source.table, source.file, source.schema
    present = ", ".join(schema.names()) or "no column"
    violations = [
        Violation(
            table.name,
            file,
            column.name,
            "required_column",
            f"required column {column.name!r} is missing (the file has: {present})",
        )
        for column in table.required
        if column.name not in schema
    ]
    if table.name in PERSONAL_DATA_TABLES:
        for column in schema.names():
            if (pattern := personal_column_pattern(column)) is None:
                continue
            message = (
                f"column {column!r} looks like personal data ({pattern}) and is refused: client "
                "data is personal and clientcast works on pseudonymous ids only. Drop the "
                "column before loading (its values are not shown here)"
            )
            violations.append(
                Violation(table.name, file, column, "personal_data", message, (), rows or 0)
            )
    for column in table.columns:
        if not column.name.endswith("_id") or column.name not in schema:
            continue
        stored = schema[column.name]
        if stored in (pl.String, pl.Categorical, pl.Null) or isinstance(stored, pl.Enum):
            continue
        message = (
            f"identifiers must be stored as strings, not {stored}: numbers lose leading zeros "
            "and do not match the string ids of the other tables (write them as strings, "
            "e.g. polars .cast(pl.String))"
        )
        violations.append(
            Violation(table.name, file, column.name, "id_type", message, (), rows or 0)
        )
    for column, zone in zoned_local_columns(table, schema).items():
        message = zoned_local_time_message(column, zone)
        violations.append(Violation(table.name, file, column, "local_time", message, (), rows or 0))
    if rows == 0 and table.name not in NOT_NEEDING_ROWS:
        message = (
            f"{file} holds no row (a header only?): clientcast needs at least one "
            f"{table.row} to compute anything"
        )
        violations.append(Violation(table.name, file, None, "table_not_empty", message))
    return violations


def _other_separator(table: Table, schema: pl.Schema) -> str | None:
    """The separator a CSV seems to use instead of commas, judged from its header, or None.

    Only a header that lacks some required column and holds one of :data:`OTHER_SEPARATORS`
    in a column name is suspect: a legitimate column name may contain any of them.
    """
    if all(column.name in schema for column in table.required):
        return None
    for separator in OTHER_SEPARATORS:
        if any(separator in name for name in schema.names()):
            return separator
    return None


def _separator_violation(table: Table, file: str, schema: pl.Schema, separator: str) -> Violation:
    """The one violation of a CSV separated by ``separator`` instead of commas."""
    shown = {";": "';'", "\t": "a tab", "|": "'|'"}[separator]
    header = ",".join(schema.names())
    header = header if len(header) <= 80 else header[:77] + "..."
    columns = "one column" if len(schema) == 1 else f"{len(schema)} columns"
    message = (
        f"the header is {columns} containing {shown} ({header!r}): is the file separated by "
        f"{shown}? clientcast reads comma-separated CSV: export it with ',' as the separator"
    )
    return Violation(table.name, file, None, "csv_separator", message)


def unreadable_violation(table: str, file: str, error: BaseException) -> Violation:
    """The violation of a file that cannot be read, with the reader's first line of error."""
    kind = "CSV" if file.endswith(".csv") else "Parquet"
    message = f"cannot be read as {kind}: {_first_line(error)}"
    return Violation(table, file, None, "readable", message)


def _first_line(error: BaseException) -> str:
    """The first line of an error message, for a one-line violation."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
