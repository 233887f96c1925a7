"""Read a unified purchase history folder (Parquet or CSV) into typed lazy frames.

Each table is ``<name>.parquet`` or ``<name>.csv`` in the folder. Columns are cast to the contract
types of :mod:`features.contract`; unknown extra columns are kept. Reading does not validate the
rows: run :func:`features.validation.validate_history` first when the data comes from outside.
It does refuse a clients or transactions file with a column that looks like personal data (a
name, an e-mail, a phone number), the same columns validation reports, so that no command ever
loads one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contract import LOCAL_DATETIME, PERSONAL_DATA_TABLES, TABLES, UTC_DATETIME, Table
from features.errors import UserInputError


class HistoryError(UserInputError):
    """A history folder cannot be read: a missing folder or table file."""


class PersonalDataError(HistoryError):
    """A clients or transactions file holds a column that looks like personal data."""


@dataclass(frozen=True)
class PurchaseHistory:
    """The unified purchase history as typed lazy frames, one per contract table."""

    clients: pl.LazyFrame
    boutiques: pl.LazyFrame
    products: pl.LazyFrame
    transactions: pl.LazyFrame
    footfall: pl.LazyFrame
    fx_rates: pl.LazyFrame
    events: pl.LazyFrame

    def table(self, name: str) -> pl.LazyFrame:
        """The lazy frame of the table called ``name``."""
        return getattr(self, name)


def table_path(data_dir: Path, table: str) -> Path | None:
    """The file holding ``table`` in ``data_dir`` (Parquet preferred), or None when absent."""
    for suffix in (".parquet", ".csv"):
        candidate = Path(data_dir) / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def scan_raw(path: Path) -> pl.LazyFrame:
    """Scan one table file without casting: CSV columns all arrive as strings."""
    if path.suffix == ".csv":
        return pl.scan_csv(path, infer_schema=False)
    return pl.scan_parquet(path)


def cast_expression(name: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """An expression casting column ``name`` from ``source`` to the contract type ``target``.

    Strings are parsed (ISO 8601 dates and datetimes); naive datetimes of a UTC column are read
    as UTC. Values that cannot be converted become null: validation reports them.
    """
    column = pl.col(name)
    if source == target:
        return column
    if source == pl.String:
        if target == pl.Date:
            return column.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        if target == UTC_DATETIME:
            return column.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        if target == LOCAL_DATETIME:
            return column.str.to_datetime(time_unit="us", strict=False)
        if target == pl.Boolean:
            lowered = column.str.to_lowercase().str.strip_chars()
            return (
                pl.when(lowered.is_in(["true", "1", "yes", "y", "t"]))
                .then(True)
                .when(lowered.is_in(["false", "0", "no", "n", "f"]))
                .then(False)
                .otherwise(None)
            )
        return column.str.strip_chars().cast(target, strict=False)
    if target == UTC_DATETIME and isinstance(source, pl.Datetime):
        if source.time_zone is None:
            return column.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if target == LOCAL_DATETIME and isinstance(source, pl.Datetime):
        return column.dt.replace_time_zone(None).dt.cast_time_unit("us")
    if target == pl.Date and isinstance(source, pl.Datetime):
        return column.dt.date()
    return column.cast(target, strict=False)


def empty_table(table: Table) -> pl.LazyFrame:
    """An empty lazy frame with all the contract columns of ``table``."""
    return pl.LazyFrame(schema=table.schema())


def read_table(data_dir: Path, name: str) -> pl.LazyFrame:
    """Scan table ``name`` of ``data_dir`` and cast its contract columns to their types."""
    table = TABLES[name]
    path = table_path(data_dir, name)
    if path is None:
        if table.is_optional_table:
            return empty_table(table)
        raise HistoryError(f"{data_dir}: missing table {name!r} ({name}.parquet or {name}.csv)")
    raw = scan_raw(path)
    source_schema = raw.collect_schema()
    if name in PERSONAL_DATA_TABLES:
        refuse_personal_columns(path, source_schema.names())
    casts = [
        cast_expression(column.name, source_schema[column.name], column.dtype).alias(column.name)
        for column in table.columns
        if column.name in source_schema
    ]
    missing_optional = [
        pl.lit(None, dtype=column.dtype).alias(column.name)
        for column in table.optional
        if column.name not in source_schema
    ]
    return raw.with_columns(*casts, *missing_optional)


def refuse_personal_columns(path: Path, columns: list[str]) -> None:
    """Raise :class:`PersonalDataError` naming ``path`` and its columns that look like personal
    data, by the rule validation applies (:mod:`features.validation.personal_data`)."""
    # Imported here: the validation package itself reads tables through this module.
    from features.validation.personal_data import personal_column_pattern

    personal = {column: personal_column_pattern(column) for column in columns}
    refused = [f"{column!r} ({pattern})" for column, pattern in personal.items() if pattern]
    if refused:
        listed = ", ".join(refused)
        subject = f"column {listed} looks" if len(refused) == 1 else f"columns {listed} look"
        raise PersonalDataError(
            f"{path}: {subject} like personal data and cannot be loaded: clientcast works on "
            "pseudonymous ids only. Drop such columns from the file (`clientcast validate` "
            "reports them too)"
        )


def load_history(data_dir: Path | str) -> PurchaseHistory:
    """Open every contract table of ``data_dir`` as a typed lazy frame."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise HistoryError(f"{data_dir}: no such data folder")
    return PurchaseHistory(**{name: read_table(data_dir, name) for name in TABLES})
