"""What a row rule is: a function from a :class:`ValidationContext` to a list of checks.

A check names the table, column and rule, and describes as polars expressions which rows
break it and which of their columns an example shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from features.validation.reference import ReferenceData
from features.validation.sources import SourceTable


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


def label_columns(source: SourceTable, column: str) -> list[str]:
    """The columns labelling an example row: the key (else the required columns), but ``column``."""
    label = source.table.key or tuple(required.name for required in source.table.required)
    return [name for name in label if name != column and name in source.schema]
