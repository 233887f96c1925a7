"""Read a unified purchase history folder (Parquet or CSV) into typed lazy frames.

Each table is ``<name>.parquet`` or ``<name>.csv`` in the folder. Columns are cast to the contract
types of :mod:`features.contract`; unknown extra columns are kept. Reading does not validate the
rows: run :func:`features.validation.validate_history` first when the data comes from outside.
It does refuse, with the message validation gives, what would otherwise be read silently wrong
or not at all: a clients or transactions file with a column that looks like personal data (a
name, an e-mail, a phone number), a file whose content is not what its name says (Parquet bytes
in a ``.csv``), and local wall-clock columns stored with a time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contract import LOCAL_DATETIME, PERSONAL_DATA_TABLES, TABLES, UTC_DATETIME, Table
from features.errors import UserInputError


class HistoryError(UserInputError):
    """A history folder cannot be read: a missing folder or table file."""


class PersonalDataError(HistoryError):
    """A clients or transactions file holds a column that looks like personal data."""


LOCAL_TIME_OFFSET = re.compile(
    r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?"  # the time of day, then an offset or a zone at the end
    r"\s*(?:[Zz]|UTC|[+-]\d{2}(?::?\d{2})?)$"
)
"""A date-time string ending with a UTC offset or zone (``+01:00``, ``Z``): not local time."""

PARQUET_MAGIC = b"PAR1"
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?): export the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: export the sheet as CSV"),
)
"""Leading bytes of files that are neither CSV nor Parquet, with what to do about them."""
SNIFFED_BYTES = 4096


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


def file_format_problem(path: Path) -> str | None:
    """What file ``path`` looks like when its content does not match its suffix, else None.

    A Parquet file starts with ``PAR1``: a ``.csv`` that does, or a ``.parquet`` holding text,
    was misnamed; ZIP (Excel), gzip and old Excel files are named as such. Reads a few bytes.
    """
    with path.open("rb") as file:
        head = file.read(SNIFFED_BYTES)
    if not head:
        return None
    csv_name, parquet_name = path.with_suffix(".csv").name, path.with_suffix(".parquet").name
    if path.suffix == ".csv" and head.startswith(PARQUET_MAGIC):
        return f"this is a Parquet file, not CSV: name it {parquet_name}"
    for signature, advice in SIGNATURES:
        if head.startswith(signature):
            return f"this is {advice}"
    if path.suffix == ".parquet" and not head.startswith(PARQUET_MAGIC) and b"\0" not in head:
        first_line = head.decode("utf-8", errors="replace").splitlines()[0][:80]
        return f"this is text, not Parquet (it starts {first_line!r}): if CSV, name it {csv_name}"
    return None


def zoned_local_columns(table: Table, schema: pl.Schema) -> dict[str, str]:
    """The local wall-clock columns of ``table`` that ``schema`` stores with a time zone.

    Maps each to its stored zone. Such a column cannot be read as local time without knowing
    each row's boutique zone, so it is refused rather than read with its zone dropped.
    """
    zoned = {}
    for column in table.columns:
        stored = schema.get(column.name)
        is_local = column.dtype == LOCAL_DATETIME
        if is_local and isinstance(stored, pl.Datetime) and stored.time_zone is not None:
            zoned[column.name] = stored.time_zone
    return zoned


def zoned_local_time_message(column: str, zone: str) -> str:
    """Why a local wall-clock column stored with time zone ``zone`` is refused, and the fix."""
    return (
        f"{column} is stored with time zone {zone}, but it is boutique-local wall-clock time "
        "without a zone: convert each boutique's hours to its own time zone and drop the zone "
        "(polars: .dt.convert_time_zone(boutique_zone).dt.replace_time_zone(None))"
    )


def cast_expression(name: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """An expression casting column ``name`` from ``source`` to the contract type ``target``.

    Strings are parsed (ISO 8601 dates and datetimes); naive datetimes of a UTC column are read
    as UTC. Values that cannot be converted become null: validation reports them, and local
    date-times written with a UTC offset among them. A local column stored with a time zone
    raises ValueError (see :func:`zoned_local_columns`): dropping its zone would shift it.
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
            local = pl.when(~column.str.contains(LOCAL_TIME_OFFSET.pattern)).then(column)
            return local.str.to_datetime(time_unit="us", strict=False)
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
        if source.time_zone is not None:
            raise ValueError(zoned_local_time_message(name, source.time_zone))
        return column.dt.cast_time_unit("us")
    if target == pl.Date and isinstance(source, pl.Datetime):
        return column.dt.date()
    return column.cast(target, strict=False)


def empty_table(table: Table) -> pl.LazyFrame:
    """An empty lazy frame with all the contract columns of ``table``."""
    return pl.LazyFrame(schema=table.schema())


def read_table(data_dir: Path, name: str) -> pl.LazyFrame:
    """Scan table ``name`` of ``data_dir`` and cast its contract columns to their types.

    Raises :class:`HistoryError` for a misnamed file, a column of personal data or a local
    wall-clock column stored with a time zone.
    """
    table = TABLES[name]
    path = table_path(data_dir, name)
    if path is None:
        if table.is_optional_table:
            return empty_table(table)
        raise HistoryError(f"{data_dir}: missing table {name!r} ({name}.parquet or {name}.csv)")
    if (problem := file_format_problem(path)) is not None:
        raise HistoryError(f"{path}: {problem}")
    raw = scan_raw(path)
    source_schema = raw.collect_schema()
    if name in PERSONAL_DATA_TABLES:
        refuse_personal_columns(path, source_schema.names())
    if zoned := zoned_local_columns(table, source_schema):
        column, zone = next(iter(zoned.items()))
        raise HistoryError(f"{path}: {zoned_local_time_message(column, zone)}")
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
