"""The maison's seasonal collection calendar: four launches a year, as luxury houses do."""

from __future__ import annotations

from datetime import date

import polars as pl

SEASONS: tuple[tuple[str, str, int, int], ...] = (
    ("SS", "Spring-Summer", 1, 20),
    ("PF", "Pre-Fall", 5, 20),
    ("FW", "Fall-Winter", 7, 20),
    ("CR", "Cruise", 11, 15),
)
"""Code, season name and launch (month, day); Cruise, launched in November, bears next year."""


def collection_calendar(start: date, end: date) -> pl.DataFrame:
    """Collections launched from the January of the year before ``start`` to ``end``, oldest first.

    Columns: ``collection`` (e.g. "FW25"), ``label`` (e.g. "Fall-Winter 2025"), ``launch_date``.
    The launches before the history provide the collections on sale when the history begins.
    """
    rows: list[tuple[str, str, date]] = []
    for year in range(start.year - 1, end.year + 1):
        for code, season, month, day in SEASONS:
            launch = date(year, month, day)
            if launch > end:
                continue
            named_year = year + 1 if code == "CR" else year
            rows.append((f"{code}{named_year % 100:02d}", f"{season} {named_year}", launch))
    schema = {"collection": pl.String, "label": pl.String, "launch_date": pl.Date}
    return pl.DataFrame(rows, schema=schema, orient="row").sort("launch_date")
