"""Check a history folder against the data contract and report every broken rule at once.

:func:`validate_history` opens each table of :mod:`features.contract` (Parquet or CSV, through
:func:`features.history.scan_raw`) and reports what is wrong with the files themselves (missing,
unreadable, missing columns, personal data, identifiers not stored as strings). The row rules
then describe, as polars expressions, which rows break them; all the rules of a table are
evaluated together in one lazy query over that table, and the tables' queries run in one
``collect_all``. The little reference data that rules of other tables need (boutique opening
periods and time zones, the first FX rate of each currency, the ids foreign keys point to) is
read first.

Each :class:`Violation` names the table, the file, the column and the rule, with the first
offending rows (their 1-based row number in the file) and the total count of offending rows.
Validation never raises on bad data: an unreadable file is itself a violation. Only a missing
folder raises :class:`features.errors.UserInputError`.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

from features.contract import (
    BOUTIQUE_FORMATS,
    EVENT_KINDS,
    LOCAL_DATETIME,
    PERSONAL_COLUMN_PATTERNS,
    PERSONAL_DATA_TABLES,
    TABLES,
    UTC_DATETIME,
    Table,
)
from features.errors import UserInputError
from features.history import cast_expression, scan_raw, table_path

EXAMPLE_ROWS = 5
EARLIEST_DATE = date(1970, 1, 1)

RULES: dict[str, str] = {
    "table_present": "every required table has a file, <table>.parquet or <table>.csv",
    "readable": "every file can be read as Parquet or CSV",
    "required_column": "every required column is present",
    "personal_data": "clients and transactions hold no names, e-mails, phones or addresses",
    "id_type": "identifier columns are stored as strings",
    "type": "every value converts to the column's contract type",
    "not_null": "required values are present (not null, not NaN)",
    "unique_key": "the table's key is unique",
    "foreign_key": "every reference names an existing row of the referenced table",
    "fx_coverage": "every sale's currency has a rate on or before the sale's local date",
    "fx_rate_positive": "FX rates are strictly positive",
    "fx_reference_rate": "rows of the reference currency have rate 1",
    "timezone": "boutique time zones are IANA names",
    "currency_code": "currencies are 3-letter upper-case ISO 4217 codes",
    "country_code": "countries are 2-letter upper-case ISO 3166-1 codes",
    "visitors_non_negative": "footfall visitors are not negative",
    "boutique_format": "a boutique's format, when given, is a known format",
    "event_kind": "an event's kind is a known kind",
    "event_target": "each event names a boutique_id or a country",
    "date_range": "dates lie between 1970-01-01 and tomorrow",
    "closed_after_opened": "a boutique closes on or after the day it opened",
    "boutique_open": "no sale or footfall in a boutique before it opened or after it closed",
    "sign_consistency": "quantity and amount have the same sign (a return is negative in both)",
    "quantity_non_zero": "quantity is not zero",
}
"""Every rule validation enforces, by name, with what it requires."""

# Leading name tokens of columns that describe a thing, not a person (``product_name``).
NON_PERSONAL_SUBJECTS = frozenset(
    {
        "boutique",
        "brand",
        "campaign",
        "category",
        "city",
        "collection",
        "country",
        "currency",
        "division",
        "event",
        "item",
        "product",
        "shop",
        "sku",
        "store",
    }
)
# Patterns without underscores, the first spelling kept (email and e_mail are both "email").
_COMPACT_PATTERNS: dict[str, str] = {}
for _pattern in PERSONAL_COLUMN_PATTERNS:
    _COMPACT_PATTERNS.setdefault(_pattern.replace("_", ""), _pattern)

# Hidden columns of the frames the rules see; reports show them under their plain names.
ROW = "__row__"
ROWS = "__rows__"
ZONE = "__zone__"
OPENED_ON = "__opened_on__"
CLOSED_ON = "__closed_on__"
LOCAL_DATE = "__local_date__"
FIRST_RATE_ON = "__first_rate_on__"
_ZONE_STRIDE = 2**34  # > seconds from 1970 to 2514: zone index * stride + epoch second is unique
_POLARS_FAILURES = (pl.exceptions.PolarsError, OSError, ValueError, pl.exceptions.PanicException)


@dataclass(frozen=True)
class Violation:
    """One broken rule in one column of one file, with its first offending rows."""

    table: str
    file: str
    column: str | None
    rule: str
    message: str
    examples: tuple[dict[str, object], ...] = ()
    count: int = 0

    def to_dict(self) -> dict[str, object]:
        """The violation as plain JSON-ready data."""
        return {
            "table": self.table,
            "file": self.file,
            "column": self.column,
            "rule": self.rule,
            "message": self.message,
            "count": self.count,
            "examples": [dict(example) for example in self.examples],
        }

    def render(self) -> RenderableType:
        """The violation for a terminal: where, which rule, why, and the first offending rows."""
        where = Text.assemble(("✗ ", "bold red"), (self.file, "bold"))
        if self.column is not None:
            where.append(" · column ")
            where.append(self.column, style="cyan")
        where.append(" · rule ")
        where.append(self.rule, style="magenta")
        if not self.examples:
            return Group(where, Padding(Text(self.message), (0, 0, 0, 2)))
        rows = f" ({self.count:,} row{'s' if self.count != 1 else ''})"
        why = Padding(Text(self.message + rows), (0, 0, 0, 2))
        examples = RichTable(box=box.SIMPLE, padding=(0, 1), show_edge=False)
        columns = list(dict.fromkeys(key for example in self.examples for key in example))
        for column in columns:
            examples.add_column(column, overflow="fold")
        for example in self.examples:
            examples.add_row(*(_display(example.get(column)) for column in columns))
        return Group(where, why, Padding(examples, (0, 0, 0, 2)))


@dataclass(frozen=True)
class TableChecked:
    """A table file that was opened, with its number of rows (None when unreadable)."""

    table: str
    file: str
    rows: int | None


@dataclass(frozen=True)
class ValidationReport:
    """Every violation of a history folder, and the tables that were checked."""

    data_dir: Path
    tables: tuple[TableChecked, ...]
    violations: tuple[Violation, ...]

    @property
    def ok(self) -> bool:
        """True when the history follows the contract: no violation at all."""
        return not self.violations

    def to_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready data."""
        return {
            "data_dir": str(self.data_dir),
            "ok": self.ok,
            "tables": [
                {"table": checked.table, "file": checked.file, "rows": checked.rows}
                for checked in self.tables
            ],
            "violations": [violation.to_dict() for violation in self.violations],
        }

    def render(self) -> RenderableType:
        """The report for a terminal: the tables, each violation, then a one-line summary."""
        tables = RichTable(title=f"History {self.data_dir}", box=box.SIMPLE, title_justify="left")
        tables.add_column("table")
        tables.add_column("file")
        tables.add_column("rows", justify="right")
        for checked in self.tables:
            rows = "-" if checked.rows is None else f"{checked.rows:,}"
            tables.add_row(checked.table, checked.file, rows)
        parts: list[RenderableType] = [tables, *(v.render() for v in self.violations)]
        if self.ok:
            rows = sum(checked.rows or 0 for checked in self.tables)
            tables_rows = f"{len(self.tables)} tables, {rows:,} rows"
            summary = Text(
                f"✓ {tables_rows}: the history follows the data contract", style="bold green"
            )
        else:
            broken = len({violation.table for violation in self.violations})
            summary = Text(
                f"✗ {len(self.violations)} violation{'s' if len(self.violations) != 1 else ''} "
                f"in {broken} table{'s' if broken != 1 else ''}: see docs/data-contract.md",
                style="bold red",
            )
        return Group(*parts, summary)


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
    offset_changes: pl.DataFrame | None = None
    first_rates: pl.DataFrame | None = None
    keys: dict[tuple[str, str], pl.Series] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationContext:
    """What the row rules see: the readable tables, their reference data and the settings."""

    sources: dict[str, SourceTable]
    reference: ReferenceData
    reference_currency: str
    today: date

    def usable(self, name: str, *columns: str) -> SourceTable | None:
        """Table ``name`` when it was read and holds ``columns``, else None (nothing to check)."""
        source = self.sources.get(name)
        if source is None or not source.has(*columns):
            return None
        return source


@dataclass(frozen=True)
class Check:
    """One rule over one table: the rows that break it and what to show of them."""

    table: str
    column: str | None
    rule: str
    message: str
    broken: pl.Expr
    shown: tuple[pl.Expr | str, ...]


Rule = Callable[[ValidationContext], list[Check]]


def validate_history(
    data_dir: Path | str,
    reference_currency: str = "EUR",
    today: date | None = None,
) -> ValidationReport:
    """Check every table of ``data_dir`` against the contract and report all broken rules.

    ``reference_currency`` is always covered by the FX table; ``today`` (default: the current
    date) bounds dates from above at today plus one day. Raises UserInputError only when
    ``data_dir`` is not a folder; anything wrong inside it becomes a :class:`Violation`.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserInputError(f"{data_dir}: no such data folder")
    violations: list[Violation] = []
    sources: dict[str, SourceTable] = {}
    files: dict[str, str] = {}
    for table in TABLES.values():
        source, found = open_table(data_dir, table)
        violations.extend(found)
        if source is not None:
            sources[table.name] = source
        if (path := table_path(data_dir, table.name)) is not None:
            files[table.name] = path.name
    today = today or date.today()
    reference, unreadable = read_reference_data(sources, today)
    violations.extend(unreadable)
    for violation in unreadable:
        sources.pop(violation.table, None)
    context = ValidationContext(sources, reference, reference_currency.upper(), today)
    checks = [check for rule in ROW_RULES for check in rule(context)]
    rows, found = evaluate(context, checks)
    for name, source in sources.items():
        violations.extend(file_violations(source, rows.get(name) or 0))
    violations.extend(found)
    order = {name: index for index, name in enumerate(TABLES)}
    violations.sort(key=lambda violation: order[violation.table])  # stable: rules keep order
    checked = tuple(TableChecked(name, file, rows.get(name)) for name, file in files.items())
    return ValidationReport(data_dir, checked, tuple(violations))


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
    except _POLARS_FAILURES as error:
        return None, [_unreadable(table.name, path.name, error)]
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


def read_reference_data(
    sources: dict[str, SourceTable], today: date
) -> tuple[ReferenceData, list[Violation]]:
    """Read what rules of other tables look up; a table that fails to read is reported."""
    unreadable: dict[str, Violation] = {}

    def collect(name: str, query: pl.LazyFrame) -> pl.DataFrame | None:
        try:
            return query.collect()
        except _POLARS_FAILURES as error:
            unreadable.setdefault(name, _unreadable(name, sources[name].file, error))
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
                offset_changes=utc_offset_changes(zones, today + timedelta(days=2)),
            )
    fx = sources.get("fx_rates")
    if fx is not None and fx.has("date", "currency", "rate_to_reference"):
        first_rates = collect(
            "fx_rates",
            fx.frame.filter(pl.col("rate_to_reference") > 0, pl.col("currency").is_not_null())
            .group_by("currency")
            .agg(pl.col("date").min().alias(FIRST_RATE_ON)),
        )
        reference = replace(reference, first_rates=first_rates)
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
    except _POLARS_FAILURES:
        results = [_collect_or_error(query) for query in queries]
    rows: dict[str, int] = {}
    violations: list[Violation] = []
    for name, result in zip(names, results, strict=True):
        source = context.sources[name]
        if isinstance(result, BaseException):
            violations.append(_unreadable(name, source.file, result))
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

    Transactions gain their boutique's opening period, the sale's local date and the first FX
    rate date of their currency; footfall gains its boutique's opening period.
    """
    source = context.sources[name]
    frame = source.frame
    if name not in ("transactions", "footfall"):
        return frame
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
    return frame


def local_date(utc: pl.Expr, zone: pl.Expr, offset_changes: pl.DataFrame | None) -> pl.Expr:
    """The local calendar date of UTC instants ``utc`` in time zone number ``zone``.

    ``zone`` indexes the zones of ``offset_changes`` (see :func:`utc_offset_changes`); where it
    is null (an unknown boutique or time zone) the UTC date is kept: other rules report those.
    """
    utc_date = utc.dt.date()
    if offset_changes is None or offset_changes.is_empty():
        return utc_date
    second = utc.dt.epoch("s").clip(0, _ZONE_STRIDE - 1)
    key = zone.cast(pl.Int64) * _ZONE_STRIDE + second
    changes = pl.lit(offset_changes["key"])
    position = (changes.search_sorted(key, side="right").cast(pl.Int64) - 1).clip(0)
    offset = pl.lit(offset_changes["offset"]).gather(position)
    local = ((second + offset) // 86_400).cast(pl.Int32).cast(pl.Date)
    return pl.when(key.is_not_null()).then(local).otherwise(utc_date)


def utc_offset_changes(zones: Sequence[str], until: date) -> pl.DataFrame:
    """Every change of UTC offset of ``zones`` from 1970 to ``until``, found to the quarter hour.

    One row per change: ``key`` = zone index * stride + epoch second from which ``offset``
    (seconds east of UTC) applies, sorted. A sorted search of a row's key then gives its offset
    in one vectorised step, where converting every row to its own zone would be slow. Offsets
    are sampled daily, then every 15 minutes on the days they change.
    """
    start = datetime(EARLIEST_DATE.year, 1, 1)
    end = datetime.combine(until, datetime.min.time())
    days = pl.datetime_range(start, end, "1d", time_zone="UTC", eager=True)
    quarters = pl.Series([timedelta(minutes=15 * k) for k in range(1, 96)])
    frames = []
    for position, zone in enumerate(zones):
        daily = _utc_offsets(days, zone)
        changed_days = days.filter(daily != daily.shift(1, fill_value=daily[0]))
        refined = (
            pl.DataFrame({"day": changed_days})
            .join(pl.DataFrame({"back": quarters}), how="cross")
            .select((pl.col("day") - pl.col("back")).alias("at"))
            .to_series()
        )
        instants = pl.concat([days, refined]).unique().sort()
        offsets = _utc_offsets(instants, zone)
        frames.append(
            pl.DataFrame({"at": instants, "offset": offsets})
            .filter(pl.col("offset") != pl.col("offset").shift(1, fill_value=offsets[0] + 1))
            .select((position * _ZONE_STRIDE + pl.col("at").dt.epoch("s")).alias("key"), "offset")
        )
    if not frames:
        return pl.DataFrame(schema={"key": pl.Int64, "offset": pl.Int64})
    return pl.concat(frames).sort("key")


def valid_time_zones(names: Sequence[str]) -> tuple[str, ...]:
    """The ``names`` that are IANA time zones polars can convert to, in their given order."""
    available = zoneinfo.available_timezones()
    probe = pl.Series([datetime(2000, 1, 1)], dtype=UTC_DATETIME)
    valid = []
    for name in names:
        if name not in available:
            continue
        try:
            probe.dt.convert_time_zone(name)
        except _POLARS_FAILURES:
            continue
        valid.append(name)
    return tuple(valid)


# --- row rules: each returns checks, expressions over the frames of :func:`rule_frame` --------


def rule_types(context: ValidationContext) -> list[Check]:
    """type: values present in the file that do not convert to the contract type."""
    checks = []
    for source in context.sources.values():
        for column in source.table.columns:
            if column.name not in source.schema or source.schema[column.name] == column.dtype:
                continue
            stored = source.stored(column.name)
            broken = stored.is_not_null() & pl.col(column.name).is_null()
            if column.dtype.is_integer() and source.schema[column.name].is_float():
                broken = broken | (stored != stored.round(0))
            shown = (*_keys(source, column.name), stored.cast(pl.String).alias(column.name))
            message = f"values do not convert to {_type_description(column.dtype)}"
            checks.append(Check(source.table.name, column.name, "type", message, broken, shown))
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
                    (*_keys(source, column.name), column.name),
                )
            )
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
            shown = (*_keys(source, column), column)
            checks.append(Check(source.table.name, column, "foreign_key", message, broken, shown))
    return checks


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
        *_keys(transactions, "currency"),
        "currency",
        day.alias("local_date"),
        first.alias("first_rate_on"),
    )
    return [Check("transactions", "currency", "fx_coverage", message, broken, shown)]


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
        shown = (*_keys(source, column), column)
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
        shown = (*_keys(footfall, "visitors"), "visitors")
        broken = pl.col("visitors") < 0
        checks.append(
            Check("footfall", "visitors", "visitors_non_negative", message, broken, shown)
        )
    boutiques = context.usable("boutiques", "format")
    if boutiques is not None:
        value = pl.col("format")
        broken = value.is_not_null() & ~value.is_in(BOUTIQUE_FORMATS)
        message = f"format must be one of {', '.join(BOUTIQUE_FORMATS)} when given"
        shown = (*_keys(boutiques, "format"), "format")
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
        shown = (*_keys(source, column), column)
        checks.append(Check(table, column, "date_range", message, broken, shown))
    return checks


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
        broken = (day < pl.col(OPENED_ON)) | (day > pl.col(CLOSED_ON))
        message = (
            "sale outside its boutique's opening period "
            "(local date before opened_on or after closed_on)"
        )
        shown = (
            *_keys(transactions, "purchased_at"),
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
        broken = (day < pl.col(OPENED_ON)) | (day > pl.col(CLOSED_ON))
        message = (
            "footfall outside its boutique's opening period (before opened_on or after closed_on)"
        )
        shown = ("boutique_id", "hour_start", opened, closed)
        checks.append(Check("footfall", "hour_start", "boutique_open", message, broken, shown))
    return checks


def rule_signs(context: ValidationContext) -> list[Check]:
    """sign_consistency and quantity_non_zero: a line sells or returns, in both columns."""
    transactions = context.usable("transactions", "quantity", "amount")
    if transactions is None:
        return []
    quantity, amount = pl.col("quantity"), pl.col("amount")
    shown = (*_keys(transactions, "quantity"), "quantity", "amount")
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


ROW_RULES: tuple[Rule, ...] = (
    rule_types,
    rule_not_null,
    rule_unique_key,
    rule_foreign_keys,
    rule_fx_coverage,
    rule_fx_rates,
    rule_codes,
    rule_domains,
    rule_date_range,
    rule_opening_period,
    rule_signs,
)
"""The row rules, in report order within a table."""


def personal_column_pattern(column: str) -> str | None:
    """The personal-data pattern that column name ``column`` matches, or None.

    Names are split into tokens at underscores, other separators, camel-case humps and digits
    (``lastName`` -> last, name; ``phone2`` -> phone, 2). A name matches when a token or run of
    tokens spells a pattern (``email``, ``e_mail``, ``phone_number``), or a token starts or ends
    with a pattern of five letters or more (``emailaddress``, ``homephone``). Names about a thing
    rather than a person (``product_name``, ``boutique_phone``) do not match.
    """
    tokens = _name_tokens(column)
    if not tokens or tokens[0] in NON_PERSONAL_SUBJECTS:
        return None
    for size in (3, 2, 1):
        for start in range(len(tokens) - size + 1):
            joined = "".join(tokens[start : start + size])
            if joined in _COMPACT_PATTERNS:
                return _COMPACT_PATTERNS[joined]
    for token in tokens:
        for compact, pattern in _COMPACT_PATTERNS.items():
            if len(compact) >= 5 and (token.startswith(compact) or token.endswith(compact)):
                return pattern
    return None


def raw_name(column: str) -> str:
    """The hidden name under which a converted column keeps its stored values."""
    return f"__raw__{column}"


def _keys(source: SourceTable, column: str) -> list[str]:
    """The columns labelling an example row: the key (else the required columns), but ``column``."""
    label = source.table.key or tuple(required.name for required in source.table.required)
    return [name for name in label if name != column and name in source.schema]


def _utc_offsets(instants: pl.Series, zone: str) -> pl.Series:
    """Seconds east of UTC of ``zone`` at each UTC instant."""
    wall = instants.dt.convert_time_zone(zone).dt.replace_time_zone(None)
    return (wall - instants.dt.replace_time_zone(None)).dt.total_seconds()


def _name_tokens(column: str) -> list[str]:
    """Lower-case tokens of a column name split at separators, camel-case humps and digits."""
    spaced = re.sub(r"([a-zA-Z])([0-9])", r"\1_\2", column)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return [token for token in re.split(r"[^0-9a-zA-Z]+", spaced.lower()) if token]


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


def _example(row: dict[str, object]) -> dict[str, object]:
    """An offending row as JSON-ready data, its row number first under ``row``."""
    example: dict[str, object] = {"row": row[ROW]}
    for name, value in row.items():
        if name != ROW:
            example[name] = value.isoformat() if isinstance(value, date) else value
    return example


def _display(value: object) -> str:
    """A cell of an example table."""
    return "null" if value is None else str(value)


def _unreadable(table: str, file: str, error: BaseException) -> Violation:
    """The violation of a file that cannot be read, with the reader's first line of error."""
    kind = "CSV" if file.endswith(".csv") else "Parquet"
    message = f"cannot be read as {kind}: {_first_line(error)}"
    return Violation(table, file, None, "readable", message)


def _first_line(error: BaseException) -> str:
    """The first line of an error message, for a one-line violation."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _collect_or_error(query: pl.LazyFrame) -> pl.DataFrame | BaseException:
    """Collect ``query``, or return the error that stopped it."""
    try:
        return query.collect()
    except _POLARS_FAILURES as error:
        return error
