"""What validation found: one :class:`Violation` per broken rule, gathered in a report.

A report renders for a terminal (``clientcast validate``) or as plain JSON-ready data; the
rules a violation can name are listed, with what each requires, in :data:`RULES`. Most rules
are errors: data that breaks them would be read wrong, or silently change features and
forecasts. The rules of :data:`WARNING_RULES` flag data that is legal but suspicious (a sensor
hour at 10:30, an amount a thousand times the usual): reported, yet the history stays usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table as RichTable
from rich.text import Text

RULES: dict[str, str] = {
    "table_present": "every required table has a file, <table>.parquet or <table>.csv",
    "readable": "every file can be read as Parquet or CSV, as its name says",
    "csv_separator": "CSV files are separated by commas",
    "required_column": "every required column is present",
    "table_not_empty": "clients, boutiques, products and transactions hold at least one row",
    "personal_data": "clients and transactions hold no names, e-mails, phones or addresses",
    "id_type": "identifier columns are stored as strings",
    "type": "every value converts to the column's contract type",
    "local_time": "footfall hours are boutique-local wall-clock time, without offset or time zone",
    "not_null": "required values are present (not null, not NaN)",
    "finite": "numbers are finite (not infinite)",
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
    "no_footfall": "footfall rows, when present, hold at least one count",
    "on_the_hour": "footfall hours start on the hour",
    "local_time_exists": "footfall hours exist in their boutique's time zone (no DST gap)",
    "outlier": "no count or amount out of all proportion with the usual ones",
    "fx_stale": "each sale's FX rate is at most a week older than the sale",
}
"""Every rule validation enforces, by name, with what it requires (see :data:`WARNING_RULES`)."""

WARNING_RULES: frozenset[str] = frozenset(
    {"no_footfall", "on_the_hour", "local_time_exists", "outlier", "fx_stale"}
)
"""Rules whose violations are warnings: suspicious data, reported, that does not stop a command."""

Severity = Literal["error", "warning"]


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

    @property
    def severity(self) -> Severity:
        """``"warning"`` for the rules of :data:`WARNING_RULES`, else ``"error"``."""
        return "warning" if self.rule in WARNING_RULES else "error"

    def to_dict(self) -> dict[str, object]:
        """The violation as plain JSON-ready data."""
        return {
            "table": self.table,
            "file": self.file,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "examples": [dict(example) for example in self.examples],
        }

    def render(self) -> RenderableType:
        """The violation for a terminal: where, which rule, why, and the first offending rows."""
        mark = ("✗ ", "bold red") if self.severity == "error" else ("! warning ", "bold yellow")
        where = Text.assemble(mark, (self.file, "bold"))
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
    def errors(self) -> tuple[Violation, ...]:
        """The violations that break the contract."""
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        """The violations that only flag suspicious data."""
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when the history follows the contract: no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, object]:
        """The report as plain JSON-ready data."""
        return {
            "data_dir": str(self.data_dir),
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
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
        warned = ""
        if self.warnings:
            warned = f" ({_count(len(self.warnings), 'warning')} above)"
        if self.ok:
            rows = sum(checked.rows or 0 for checked in self.tables)
            tables_rows = f"{len(self.tables)} tables, {rows:,} rows"
            summary = Text(
                f"✓ {tables_rows}: the history follows the data contract{warned}",
                style="bold green",
            )
        else:
            broken = len({violation.table for violation in self.errors})
            summary = Text(
                f"✗ {_count(len(self.errors), 'violation')} in {_count(broken, 'table')}"
                f"{warned}: see docs/data-contract.md",
                style="bold red",
            )
        return Group(*parts, summary)


def _count(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural when needed: 1 warning, 2 warnings."""
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _display(value: object) -> str:
    """A cell of an example table."""
    return "null" if value is None else str(value)
