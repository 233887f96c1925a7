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
Most rules are errors; those of :data:`WARNING_RULES` (suspicious but legal data) are warnings,
which leave :attr:`ValidationReport.ok` true. Validation never raises on bad data: an
unreadable file is itself a violation. Only a missing folder raises
:class:`features.errors.UserInputError`.

The modules, each with one job: :mod:`~features.validation.report` (the report model),
:mod:`~features.validation.sources` (opening files, file-level rules),
:mod:`~features.validation.reference` (reference data), :mod:`~features.validation.local_time`
(local dates), :mod:`~features.validation.personal_data` (personal column names),
:mod:`~features.validation.checks` (what a row rule is), the row rules in
:mod:`~features.validation.schema_rules`, :mod:`~features.validation.value_rules` and
:mod:`~features.validation.cross_table_rules`, the warnings in
:mod:`~features.validation.warning_rules`, and :mod:`~features.validation.evaluation` (running
them).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from features.contract import TABLES
from features.errors import UserInputError
from features.history import table_path
from features.validation.checks import Check, Rule, ValidationContext
from features.validation.cross_table_rules import rule_fx_coverage, rule_opening_period
from features.validation.evaluation import EXAMPLE_ROWS, evaluate, rule_frame, table_query
from features.validation.local_time import (
    EARLIEST_DATE,
    local_date,
    local_time_exists,
    utc_offset_changes,
    valid_time_zones,
)
from features.validation.personal_data import NON_PERSONAL_SUBJECTS, personal_column_pattern
from features.validation.reference import ReferenceData, read_reference_data
from features.validation.report import (
    RULES,
    WARNING_RULES,
    TableChecked,
    ValidationReport,
    Violation,
)
from features.validation.schema_rules import (
    rule_finite,
    rule_foreign_keys,
    rule_local_times,
    rule_not_null,
    rule_types,
    rule_unique_key,
)
from features.validation.sources import SourceTable, file_violations, open_table
from features.validation.value_rules import (
    rule_codes,
    rule_date_range,
    rule_domains,
    rule_fx_rates,
    rule_signs,
)
from features.validation.warning_rules import (
    AMOUNT_OUTLIER_FACTOR,
    FX_STALE_DAYS,
    VISITORS_OUTLIER_FACTOR,
    VISITORS_OUTLIER_FLOOR,
    rule_footfall_hours,
    rule_fx_staleness,
    rule_outliers,
)

__all__ = [
    "AMOUNT_OUTLIER_FACTOR",
    "EARLIEST_DATE",
    "EXAMPLE_ROWS",
    "FX_STALE_DAYS",
    "NON_PERSONAL_SUBJECTS",
    "ROW_RULES",
    "RULES",
    "VISITORS_OUTLIER_FACTOR",
    "VISITORS_OUTLIER_FLOOR",
    "WARNING_RULES",
    "Check",
    "ReferenceData",
    "Rule",
    "SourceTable",
    "TableChecked",
    "ValidationContext",
    "ValidationReport",
    "Violation",
    "evaluate",
    "file_violations",
    "local_date",
    "local_time_exists",
    "open_table",
    "personal_column_pattern",
    "read_reference_data",
    "rule_frame",
    "table_query",
    "utc_offset_changes",
    "valid_time_zones",
    "validate_history",
]

ROW_RULES: tuple[Rule, ...] = (
    rule_types,
    rule_local_times,
    rule_not_null,
    rule_finite,
    rule_unique_key,
    rule_foreign_keys,
    rule_fx_coverage,
    rule_fx_rates,
    rule_codes,
    rule_domains,
    rule_date_range,
    rule_opening_period,
    rule_signs,
    rule_footfall_hours,
    rule_outliers,
    rule_fx_staleness,
)
"""The row rules, in report order within a table (the warnings last)."""


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
    reference, unreadable = read_reference_data(sources, today, FX_STALE_DAYS)
    violations.extend(unreadable)
    for violation in unreadable:
        sources.pop(violation.table, None)
    context = ValidationContext(sources, reference, reference_currency.upper(), today)
    checks = [check for rule in ROW_RULES for check in rule(context)]
    rows, found = evaluate(context, checks)
    for name, source in sources.items():
        violations.extend(file_violations(source, rows.get(name)))
    violations.extend(found)
    order = {name: index for index, name in enumerate(TABLES)}
    violations.sort(key=lambda violation: order[violation.table])  # stable: rules keep order
    checked = tuple(TableChecked(name, file, rows.get(name)) for name, file in files.items())
    return ValidationReport(data_dir, checked, tuple(violations))
