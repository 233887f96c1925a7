"""``clientcast forecast``: the champion models' forecasts as tables, call lists and a report.

:func:`write_forecasts` computes everything at the as-of date (features strictly before it) and
writes, under ``settings.forecast_dir / <as-of date>/``::

    footfall_daily.parquet / .csv    P10/P50/P90 visitors per boutique and local date
    footfall_hourly.parquet / .csv   the same per local hour, next 14 days
    next_purchase.parquet            per client: probabilities, spend, division, reasons
    call_lists.csv                   per boutique: the opted-in clients to contact this week
    report.html                      the planners' report, self-contained
    manifest.json                    which run wrote the folder: kind, as-of, models, files

:func:`write_footfall_forecasts` (``clientcast forecast footfall``) publishes the footfall
tables and the manifest alone. It replaces the whole dated folder: the call lists and the report
of an earlier full run rest on the footfall forecast it supersedes (quiet days, visitors), so a
folder always holds the files of one run, and its manifest says which.

The folder is written in a temporary sibling and renamed into place at the end, so a failed run
leaves the previous forecasts of that date untouched.

Both refuse an as-of the history cannot describe (:func:`features.snapshot.checked_as_of`).
A back-dated forecast never uses a model trained as of a later date, which saw the days it
forecasts and would look better than any real one: when a champion is such a model, the newest
version trained on or before the as-of date stands in for it (:func:`forecasting_model`, after
``clientcast train --as-of``), and without one the forecast is refused
(:func:`check_no_look_ahead`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from features.atomic_write import staged_directory
from features.errors import UserInputError
from features.history import PurchaseHistory, load_history
from features.snapshot import (
    DAILY_HORIZON_DAYS,
    checked_as_of,
    clients_without_purchase,
    unscored_clients_note,
)
from training.forecasts import accuracy, tables
from training.forecasts.report import ReportInputs, write_report
from training.progress import Progress, announce
from training.workspace import WorkspaceSettings

REPORT = "report.html"
MANIFEST = "manifest.json"
FULL_RUN_FILES = ("next_purchase.parquet", "call_lists.csv", REPORT)
"""What a full run writes beside the footfall tables, and a footfall-only run does not."""


def rows_table(title: str, rows: dict[str, int]) -> Table:
    """The files written and their row counts, as a rich table."""
    table = Table(title=title, title_justify="left")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}")
    return table


@dataclass(frozen=True)
class ForecastResult:
    """Where the forecasts went and what they hold."""

    directory: Path
    report: Path
    as_of: date
    horizon_days: int
    rows: dict[str, int]
    models: tuple[str, ...]
    seconds: float
    notes: tuple[str, ...] = field(default=())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield rows_table(
            f"forecasts as of {self.as_of} ({days(self.horizon_days)} of daily footfall)",
            self.rows,
        )
        for model in self.models:
            yield f"model: {model}"
        for note in self.notes:
            yield f"[yellow]note:[/] {note}"
        yield f"forecasts written to [bold]{self.directory}[/] in {self.seconds:.0f} s"
        yield f"report: [bold]{self.report}[/]"


def days(count: int) -> str:
    """'1 day', '28 days'."""
    return f"{count} day" if count == 1 else f"{count} days"


def checked_horizon(horizon_days: int) -> int:
    """``horizon_days`` when it is a whole number of days within the daily footfall horizon."""
    valid = isinstance(horizon_days, int) and not isinstance(horizon_days, bool)
    if not valid or not 1 <= horizon_days <= DAILY_HORIZON_DAYS:
        raise UserInputError(
            f"--horizon must be a whole number of days between 1 and {DAILY_HORIZON_DAYS}, "
            f"got {horizon_days!r}"
        )
    return horizon_days


def write_manifest(
    directory: Path,
    kind: str,
    as_of: date,
    horizon_days: int,
    models: Sequence[str],
    rows: dict[str, int],
) -> Path:
    """Write ``manifest.json``: which run (``all`` or ``footfall``) wrote the folder, as of which
    day, with which models, and the row count of each table."""
    manifest = {
        "kind": kind,
        "as_of": as_of.isoformat(),
        "created_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "horizon_days": horizon_days,
        "models": list(models),
        "rows": rows,
    }
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def model_label(kind: str, info: dict[str, Any]) -> str:
    """'footfall: clientcast-footfall v3 (@champion)' for the report and the summary; a version
    without an alias is named by its training date instead."""
    alias = info.get("alias")
    held = f"@{alias}" if alias else f"trained as of {info.get('trained_as_of')}"
    return f"{kind}: {info['name']} v{info['version']} ({held})"


@dataclass(frozen=True)
class ForecastModel:
    """A registered model a forecast uses for one ``train`` target: the target that refits it,
    its version facts and its bundle, and a note when it stands in for a look-ahead champion."""

    target: str
    info: dict[str, Any]
    bundle: Any
    note: str | None = None

    @property
    def trained_as_of(self) -> date | None:
        """The as-of date it was trained at (its bundle's metadata), None when not recorded."""
        recorded = (getattr(self.bundle, "metadata", None) or {}).get("as_of")
        return date.fromisoformat(str(recorded)[:10]) if recorded else None


def forecasting_model(target: str, registered_name: str, as_of: date) -> ForecastModel:
    """The champion of ``registered_name``, unless it was trained as of a date after ``as_of``:
    then the newest version trained on or before ``as_of`` (what the maison would have had that
    day, e.g. registered by ``clientcast train --as-of``), with a note saying so. A look-ahead
    champion without such a version is returned as it is, for :func:`check_no_look_ahead`."""
    from training.tracking import latest_version_trained_by, load_bundle, load_version

    bundle, info = load_bundle(registered_name)
    champion = ForecastModel(target, info, bundle)
    trained = champion.trained_as_of
    if trained is None or trained <= as_of:
        return champion
    earlier = latest_version_trained_by(registered_name, as_of)
    if earlier is None:
        return champion
    bundle, info = load_version(registered_name, earlier)
    stand_in = ForecastModel(target, info, bundle)
    note = (
        f"{target}: champion v{champion.info['version']} was trained as of {trained}, after "
        f"{as_of}; the forecast uses v{stand_in.info['version']}, trained as of "
        f"{stand_in.trained_as_of} (no look-ahead)"
    )
    return replace(stand_in, note=note)


def check_no_look_ahead(champions: Sequence[ForecastModel], as_of: date, data_dir: Path) -> None:
    """Refuse to forecast as of ``as_of`` with a champion trained as of a later date.

    Such a model learnt from the very days it would forecast (look-ahead): its forecast would
    look better than any real one. The UserInputError names each champion and its training
    date, and the ``clientcast train`` command that fits models fit for ``as_of``.
    """
    ahead = [
        champion
        for champion in champions
        if champion.trained_as_of is not None and champion.trained_as_of > as_of
    ]
    if not ahead:
        return
    described = "; ".join(
        f"{champion.info['name']} v{champion.info['version']} was trained as of "
        f"{champion.trained_as_of}"
        for champion in ahead
    )
    command = "clientcast train" if len(ahead) > 1 else f"clientcast train {ahead[0].target}"
    latest = max(champion.trained_as_of for champion in ahead if champion.trained_as_of)
    raise UserInputError(
        f"forecasting as of {as_of} would use a champion trained on later data (look-ahead): "
        f"{described}, after {as_of}. Run `{command} --data {data_dir} --as-of {as_of}` first, "
        f"or forecast as of {latest} or later"
    )


def division_mismatch_note(history: PurchaseHistory, known: Sequence[str]) -> str | None:
    """A warning when the products' divisions differ from those the next-purchase champion
    learnt (``known``): its division probabilities then describe another catalogue, and the
    features of an unseen division mean nothing to it. None when they agree."""
    divisions = set(
        history.products.select(pl.col("division").drop_nulls().unique().cast(pl.String))
        .collect()
        .to_series()
        .to_list()
    )
    unseen, absent = sorted(divisions - set(known)), sorted(set(known) - divisions)
    if not unseen and not absent:
        return None
    parts = []
    if unseen:
        parts.append(f"the products have divisions the champion never saw: {', '.join(unseen)}")
    if absent:
        parts.append(f"the champion knows divisions no product has: {', '.join(absent)}")
    return f"{'; '.join(parts)}: retrain the next-purchase model on this history"


def client_table(history: PurchaseHistory) -> pl.DataFrame:
    """client_id, home_boutique_id and contact_opt_in: all the call-list rules need."""
    return history.clients.select("client_id", "home_boutique_id", "contact_opt_in").collect()


@dataclass(frozen=True)
class PlannerFootfall:
    """The footfall forecast at an as-of date, raw and as the planners' two tables."""

    daily_forecast: pl.DataFrame
    hourly_forecast: pl.DataFrame
    observed_daily: pl.DataFrame
    markers: pl.DataFrame
    last_year: pl.DataFrame
    daily: pl.DataFrame
    hourly: pl.DataFrame

    def write(self, directory: Path) -> list[Path]:
        """Write ``footfall_daily`` and ``footfall_hourly`` (Parquet and CSV) in ``directory``."""
        return [
            *tables.write_table(self.daily, directory, "footfall_daily"),
            *tables.write_table(self.hourly, directory, "footfall_hourly"),
        ]


def planner_footfall(
    history: PurchaseHistory, footfall_model: Any, as_of: date, horizon_days: int
) -> PlannerFootfall:
    """Forecast every open boutique from ``as_of`` and lay it out for planners: local dates,
    last year's visitors on the same weekday, holidays and events."""
    from features.footfall_series import daily_footfall
    from training.footfall.forecast import forecast_tables

    boutiques = history.boutiques.collect()
    daily_forecast, hourly_forecast = forecast_tables(footfall_model, history, as_of, horizon_days)
    observed_daily = daily_footfall(history, before=as_of).collect()
    last_day = as_of + timedelta(days=horizon_days - 1)
    markers = tables.forecast_markers(history, boutiques, as_of, last_day)
    last_year = tables.last_year_visitors(observed_daily, daily_forecast)
    return PlannerFootfall(
        daily_forecast=daily_forecast,
        hourly_forecast=hourly_forecast,
        observed_daily=observed_daily,
        markers=markers,
        last_year=last_year,
        daily=tables.footfall_daily_table(daily_forecast, boutiques, last_year, markers),
        hourly=tables.footfall_hourly_table(hourly_forecast, boutiques),
    )


@dataclass(frozen=True)
class FootfallTablesResult:
    """Where ``clientcast forecast footfall`` wrote the two footfall tables; ``replaced`` lists
    the files of an earlier full run of that date that the new folder no longer holds."""

    directory: Path
    as_of: date
    horizon_days: int
    rows: dict[str, int]
    model: str
    seconds: float
    replaced: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield rows_table(
            f"footfall forecast as of {self.as_of} ({days(self.horizon_days)} daily)", self.rows
        )
        yield f"model: {self.model}"
        for note in self.notes:
            yield f"[yellow]note:[/] {note}"
        if self.replaced:
            yield (
                f"[yellow]note:[/] the earlier full forecast of {self.as_of} was replaced: its "
                f"{', '.join(self.replaced)} rested on the footfall forecast this one supersedes; "
                "run `clientcast forecast` to write them again"
            )
        yield f"footfall tables written to [bold]{self.directory}[/] in {self.seconds:.0f} s"


def write_footfall_forecasts(
    settings: WorkspaceSettings,
    as_of: date | None = None,
    horizon_days: int = DAILY_HORIZON_DAYS,
    *,
    progress: Progress | None = None,
) -> FootfallTablesResult:
    """Forecast footfall only and publish ``footfall_daily`` / ``footfall_hourly`` (Parquet and
    CSV) with a manifest under ``settings.forecast_dir / <as-of>``.

    The folder is replaced as a whole, atomically: an earlier full run's call lists and report of
    that date rest on the footfall forecast this one supersedes, so they are not carried over
    (the result lists them, the manifest says the folder is a footfall-only run).
    """
    from training.tracking import configure_tracking

    started = time.perf_counter()
    horizon_days = checked_horizon(horizon_days)
    history = load_history(settings.data_dir)
    as_of = checked_as_of(history, as_of)
    announce(progress, "loading the footfall champion")
    configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    chosen = forecasting_model("footfall", settings.footfall_model, as_of)
    check_no_look_ahead([chosen], as_of, Path(settings.data_dir))
    footfall_model, footfall_info = chosen.bundle, chosen.info
    model = model_label("footfall", footfall_info)
    announce(progress, f"forecasting footfall from {as_of}")
    footfall = planner_footfall(history, footfall_model, as_of, horizon_days)
    directory = Path(settings.forecast_dir) / as_of.isoformat()
    replaced = tuple(name for name in FULL_RUN_FILES if (directory / name).is_file())
    rows = {"footfall_daily": footfall.daily.height, "footfall_hourly": footfall.hourly.height}
    announce(progress, f"writing {directory}")
    with staged_directory(directory) as staging:
        footfall.write(staging)
        write_manifest(staging, "footfall", as_of, horizon_days, [model], rows)
    return FootfallTablesResult(
        directory=directory,
        as_of=as_of,
        horizon_days=horizon_days,
        rows=rows,
        model=model,
        seconds=time.perf_counter() - started,
        replaced=replaced,
        notes=(chosen.note,) if chosen.note else (),
    )


def write_forecasts(
    settings: WorkspaceSettings,
    as_of: date | None = None,
    horizon_days: int = DAILY_HORIZON_DAYS,
    *,
    progress: Progress | None = None,
) -> ForecastResult:
    """Forecast footfall and next purchases at ``as_of`` with the champions; write the tables,
    call lists and report atomically under ``settings.forecast_dir / <as-of>``.

    ``settings`` is :class:`clientcast.settings.Settings`; ``as_of`` None means the day after the
    last transaction or footfall hour. Raises UserInputError when a model is not trained yet.
    """
    from features.client_features import client_features
    from training.tracking import configure_tracking

    started = time.perf_counter()
    horizon_days = checked_horizon(horizon_days)
    history = load_history(settings.data_dir)
    as_of = checked_as_of(history, as_of)
    announce(progress, "loading the champion models")
    configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    chosen = [
        forecasting_model("next-purchase", settings.next_purchase_model, as_of),
        forecasting_model("footfall", settings.footfall_model, as_of),
    ]
    check_no_look_ahead(chosen, as_of, Path(settings.data_dir))
    purchase_model, purchase_info = chosen[0].bundle, chosen[0].info
    footfall_model, footfall_info = chosen[1].bundle, chosen[1].info
    stand_ins = tuple(choice.note for choice in chosen if choice.note)
    models = (model_label("clients", purchase_info), model_label("footfall", footfall_info))

    boutiques = history.boutiques.collect()

    announce(progress, f"forecasting footfall from {as_of}")
    footfall = planner_footfall(history, footfall_model, as_of, horizon_days)
    daily_forecast, hourly_forecast = footfall.daily_forecast, footfall.hourly_forecast

    announce(progress, f"scoring clients as of {as_of}")
    clients = client_table(history)
    # Category values as text: the reasons quote them ("last bought leather goods").
    features = (
        client_features(history, as_of, settings.reference_currency)
        .with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
        .collect()
    )
    next_purchase = tables.next_purchase_table(
        purchase_model.predict(features), purchase_model.explain(features), clients
    )
    call_list = tables.call_list_table(next_purchase, clients, daily_forecast, as_of)
    unscored = unscored_clients_note(
        clients_without_purchase(history, next_purchase, as_of), as_of, Path(settings.data_dir)
    )
    divisions = division_mismatch_note(history, purchase_model.division_classes)

    announce(progress, "comparing with last year and the calendar")
    observed_daily, markers, last_year = (
        footfall.observed_daily,
        footfall.markers,
        footfall.last_year,
    )
    division_columns = [
        column for column in next_purchase.columns if column.startswith("p_division_")
    ]
    overview, division_spend = tables.maison_overview(
        daily_forecast,
        next_purchase,
        boutiques,
        purchase_model.division_classes,
        division_columns,
    )

    announce(progress, "checking the last forecasts against what happened")
    checked = accuracy.forecast_accuracy(
        settings,
        history,
        as_of,
        purchase_model,
        footfall_model,
        footfall_info.get("run_id"),
        observed_daily,
    )

    directory = Path(settings.forecast_dir) / as_of.isoformat()
    announce(progress, f"writing {directory}")
    inputs = ReportInputs(
        as_of=as_of,
        created_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        reference_currency=settings.reference_currency,
        horizon_days=horizon_days,
        boutiques=boutiques.select("boutique_id", "city", "country", "format"),
        daily=daily_forecast,
        hourly=hourly_forecast.select("boutique_id", "date", "hour", "p50"),
        last_year=last_year,
        markers=markers,
        overview=overview,
        division_spend=division_spend,
        accuracy=checked,
        models=models,
    )
    rows = {
        "footfall_daily": footfall.daily.height,
        "footfall_hourly": footfall.hourly.height,
        "next_purchase": next_purchase.height,
        "call_lists": call_list.height,
    }
    with staged_directory(directory) as staging:
        footfall.write(staging)
        tables.write_table(next_purchase, staging, "next_purchase", csv=False)
        tables.write_csv(call_list, staging / "call_lists.csv")
        write_report(inputs, staging / REPORT)
        write_manifest(staging, "all", as_of, horizon_days, models, rows)
    return ForecastResult(
        directory=directory,
        report=directory / REPORT,
        as_of=as_of,
        horizon_days=horizon_days,
        rows=rows,
        models=models,
        seconds=time.perf_counter() - started,
        notes=(*stand_ins, *(note for note in (unscored, divisions) if note), *checked.notes),
    )
