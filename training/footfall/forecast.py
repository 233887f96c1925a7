"""The planners' footfall tables: daily (days 1-56) and hourly (days 1-14) P10/P50/P90.

:func:`forecast_footfall` loads the ``@champion`` bundle from the registry, forecasts every open
boutique from the as-of date and, with ``out_dir``, writes ``footfall_daily`` and
``footfall_hourly`` as Parquet and CSV. Dates and hours are boutique-local, as the footfall
table records them. Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table

from features.atomic_write import staged_file
from features.boutique_features import MAX_HOURLY_HORIZON_DAYS
from features.errors import UserInputError
from features.history import load_history
from training import tracking
from training.footfall.bundle import FootfallBundle
from training.footfall.pipeline import resolve_as_of
from training.workspace import WorkspaceSettings

TABLE_NAMES: tuple[str, ...] = ("footfall_daily", "footfall_hourly")


@dataclass
class FootfallForecast:
    """The daily and hourly forecast tables and where they were written."""

    as_of: date
    daily: pl.DataFrame
    hourly: pl.DataFrame
    model_version: str = ""
    paths: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """One line: boutiques, days and files."""
        boutiques = self.daily.get_column("boutique_id").n_unique() if self.daily.height else 0
        days = int(self.daily.get_column("horizon").max() or 0) if self.daily.height else 0
        where = f", written to {self.paths[0].parent}" if self.paths else ""
        return (
            f"footfall forecast from {self.as_of}: {boutiques} boutiques, {days} days daily, "
            f"{self.hourly.height:,} hourly rows (model v{self.model_version}){where}"
        )

    def __rich__(self) -> Group:
        table = Table(title=f"daily footfall, first week from {self.as_of}", title_justify="left")
        for column in ("boutique_id", "days", "p10", "p50", "p90"):
            table.add_column(column, justify="left" if column == "boutique_id" else "right")
        week = (
            self.daily.filter(pl.col("horizon") <= 7)
            .group_by("boutique_id")
            .agg(pl.len().alias("days"), pl.col("p10", "p50", "p90").sum())
            .sort("boutique_id")
        )
        for row in week.iter_rows(named=True):
            table.add_row(
                row["boutique_id"],
                str(row["days"]),
                *(f"{row[name]:,.0f}" for name in ("p10", "p50", "p90")),
            )
        return Group(table, self.summary())


def write_table_atomically(frame: pl.DataFrame, directory: Path, name: str) -> list[Path]:
    """Write ``frame`` as ``name.parquet`` and ``name.csv`` in ``directory``, each under a
    temporary name first and then renamed, so a reader never sees a partial file."""
    written = []
    for suffix in (".parquet", ".csv"):
        target = directory / f"{name}{suffix}"
        with staged_file(target) as temporary:
            if suffix == ".parquet":
                frame.write_parquet(temporary)
            else:
                frame.write_csv(temporary)
        written.append(target)
    return written


def forecast_tables(
    bundle: FootfallBundle, source: Any, as_of: date, horizon_days: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The daily table over ``horizon_days`` and the hourly one over at most 14 days."""
    if horizon_days < 1:
        raise UserInputError(f"--horizon must be at least 1 day, got {horizon_days}")
    daily_limit = bundle.model("daily").granularity.horizon_days
    if horizon_days > daily_limit:
        raise UserInputError(
            f"--horizon {horizon_days}: the daily model forecasts at most {daily_limit} days"
        )
    daily = bundle.forecast(source, as_of, horizon_days, "daily")
    hourly_days = min(horizon_days, MAX_HOURLY_HORIZON_DAYS)
    hourly = (
        bundle.forecast(source, as_of, hourly_days, "hourly")
        if "hourly" in bundle.models
        else pl.DataFrame()
    )
    return daily, hourly


def forecast_footfall(
    settings: WorkspaceSettings,
    as_of: date | None = None,
    horizon_days: int = 56,
    out_dir: Path | None = None,
    alias: str = tracking.CHAMPION,
) -> FootfallForecast:
    """Forecast every open boutique from ``as_of`` with the registered ``@champion`` bundle.

    ``as_of`` None means the day after the last footfall count; forecasts start on it. With
    ``out_dir`` the tables are written there (Parquet and CSV, atomically).
    """
    history = load_history(settings.data_dir)
    _, as_of = resolve_as_of(history, as_of)
    tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    bundle, info = tracking.load_bundle(settings.footfall_model, alias)
    if not isinstance(bundle, FootfallBundle):
        raise UserInputError(f"{settings.footfall_model}@{alias} is not a footfall model")
    daily, hourly = forecast_tables(bundle, history, as_of, horizon_days)
    paths: list[Path] = []
    if out_dir is not None:
        for name, frame in zip(TABLE_NAMES, (daily, hourly), strict=True):
            if frame.width:
                paths.extend(write_table_atomically(frame, Path(out_dir), name))
    return FootfallForecast(as_of, daily, hourly, str(info.get("version", "")), paths)
