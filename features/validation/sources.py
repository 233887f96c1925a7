"""Open the table files of a history folder and check the files themselves.

:func:`open_table` reports a table that is missing or unreadable and otherwise opens it as a
:class:`SourceTable`, whose lazy frame the row rules query; :func:`file_violations` reports
what is wrong with a file's columns (required ones missing, personal data, id types).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contract import PERSONAL_DATA_TABLES, Table
from features.history import cast_expression, scan_raw, table_path
from features.validation.hidden_columns import ROW, raw_name
from features.validation.personal_data import personal_column_pattern
from features.validation.report import Violation

POLARS_FAILURES = (pl.exceptions.PolarsError, OSError, ValueError, pl.exceptions.PanicException)
"""What polars raises on a file or a value it cannot read; validation reports it, never raises."""


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
        raw = scan_raw(path)
        schema = raw.collect_schema()
    except POLARS_FAILURES as error:
        return None, [unreadable_violation(table.name, path.name, error)]
    stored = [
        pl.col(column.name).alias(raw_name(column.name))
        for column in table.columns
        if column.name in schema and schema[column.name] != column.dtype
    ]
    converted = [
        cast_expression(column.name, schema[column.name], column.dtype).alias(column.name)
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


def file_violations(source: SourceTable, rows: int) -> list[Violation]:
    """Violations of a file's columns: required ones missing, personal data, id types."""
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
                Violation(table.name, file, column, "personal_data", message, (), rows)
            )
    for column in table.columns:
        if not column.name.endswith("_id") or column.name not in schema:
            continue
        stored = schema[column.name]
        if stored in (pl.String, pl.Categorical, pl.Null) or isinstance(stored, pl.Enum):
            continue
        message = (
            f"identifiers must be stored as strings, not {stored}: numbers lose leading zeros "
            "and do not match the string ids of the other tables"
        )
        violations.append(Violation(table.name, file, column.name, "id_type", message, (), rows))
    return violations


def unreadable_violation(table: str, file: str, error: BaseException) -> Violation:
    """The violation of a file that cannot be read, with the reader's first line of error."""
    kind = "CSV" if file.endswith(".csv") else "Parquet"
    message = f"cannot be read as {kind}: {_first_line(error)}"
    return Violation(table, file, None, "readable", message)


def _first_line(error: BaseException) -> str:
    """The first line of an error message, for a one-line violation."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
