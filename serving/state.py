"""What the service answers from, loaded once and swapped whole on reload.

:func:`load_serving_state` reads the ``@champion`` next-purchase and footfall bundles from the
MLflow registry and the latest online snapshot, then prepares everything the request path needs
(:mod:`serving.scoring`, :mod:`serving.footfall`, :mod:`serving.call_lists`). The result is an
immutable :class:`ServingState`; :class:`StateSlot` holds the current one. A request reads the
slot once and works on that state to the end, so a reload that swaps in a new state (one
reference assignment, atomic in CPython) never changes models under a request in flight: those
finish on the old state, which is freed when the last of them returns.

A snapshot with duplicate keys or without a client is refused before any work
(:mod:`serving.snapshot_checks`): the load raises, so a reload answers 409 and the previous state
keeps serving. A snapshot far from the champions' training dates is served with a warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from features.errors import UserInputError
from features.snapshot import (
    DAILY_HORIZON_DAYS,
    HOURLY_HORIZON_DAYS,
    NO_PURCHASE_TABLE,
    OnlineSnapshot,
)
from serving.call_lists import CLIENT_COLUMNS, CallLists
from serving.client_scores import client_scores
from serving.footfall import FootfallForecasts
from serving.schemas import ModelFacts, ModelInfoResponse, SnapshotFacts
from serving.scoring import NextPurchaseScorer
from serving.snapshot_checks import snapshot_problems, training_gap_warnings
from training.workspace import WorkspaceSettings

logger = logging.getLogger(__name__)

NEXT_PURCHASE = "next_purchase"
FOOTFALL = "footfall"
LoadedModel = tuple[Any, dict[str, Any]]
"""A bundle and its registry facts, as :func:`training.tracking.load_bundle` returns them."""
"""Optional snapshot table: ``client_id`` of every client of the clients table without a purchase
before the as-of date (so without a row in ``clients.parquet``)."""


@dataclass(frozen=True)
class ServingState:
    """Champion models and snapshot, prepared for the request path."""

    next_purchase: NextPurchaseScorer
    footfall: FootfallForecasts
    call_lists: CallLists
    info: ModelInfoResponse


def model_facts(role: str, bundle: Any, info: dict[str, Any]) -> ModelFacts:
    """Name, version, registration and training dates and backtest metrics of a champion."""
    metadata = getattr(bundle, "metadata", {}) or {}
    metrics = {k: float(v) for k, v in (info.get("metrics") or {}).items()}
    backtest = {k: v for k, v in metrics.items() if k.startswith("backtest")} or metrics
    created = info.get("created_at_ms")
    as_of = metadata.get("as_of")
    return ModelFacts(
        role=role,
        name=str(info["name"]),
        version=str(info["version"]),
        alias=str(info.get("alias", "champion")),
        run_id=info.get("run_id"),
        registered_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
        trained_as_of=date.fromisoformat(str(as_of)[:10]) if as_of else None,
        backtest_metrics=backtest,
    )


def snapshot_facts(snapshot: OnlineSnapshot) -> SnapshotFacts:
    """The loaded snapshot's date, name and size."""
    return SnapshotFacts(
        as_of=snapshot.as_of,
        name=Path(snapshot.path).name,
        created_at=str(snapshot.manifest.get("created_at", "")),
        reference_currency=str(snapshot.manifest.get("reference_currency", "EUR")),
        clients=snapshot.clients.height,
        boutiques=snapshot.boutiques.height,
    )


def client_directory(snapshot: OnlineSnapshot) -> pl.DataFrame:
    """``client_id``, ``home_boutique_id``, ``contact_opt_in`` of the snapshot's clients.

    Taken from the snapshot when it holds them, else joined from the clients table of the
    history the snapshot was computed from (its manifest's ``data_dir``). Only these three
    columns are ever read: the service holds no other client attribute.
    """
    columns = snapshot.clients.columns
    if all(column in columns for column in CLIENT_COLUMNS):
        return snapshot.clients.select(CLIENT_COLUMNS)
    from features.history import read_table

    data_dir = snapshot.manifest.get("data_dir")
    if not data_dir or not Path(data_dir).is_dir():
        raise UserInputError(
            f"snapshot {snapshot.path} has no home boutiques and its history folder "
            f"{data_dir!r} is not readable: rerun `clientcast features`"
        )
    table = read_table(Path(data_dir), "clients")
    available = table.collect_schema()
    wanted = ["client_id", *(c for c in CLIENT_COLUMNS[1:] if c in available and c not in columns)]
    directory = snapshot.clients.select(
        "client_id", *(c for c in CLIENT_COLUMNS[1:] if c in columns)
    ).join(
        table.select(wanted).unique("client_id", keep="first").collect(),
        on="client_id",
        how="left",
    )
    if "contact_opt_in" not in directory.columns:
        directory = directory.with_columns(contact_opt_in=pl.lit(None, dtype=pl.Boolean))
    return directory.select(CLIENT_COLUMNS)


def read_clients_without_purchase(snapshot: OnlineSnapshot) -> list[str]:
    """Ids of the snapshot's clients without a purchase before its date; empty when the snapshot
    does not list them (:data:`NO_PURCHASE_TABLE`): those ids are then ``unknown_client``."""
    path = Path(snapshot.path) / f"{NO_PURCHASE_TABLE}.parquet"
    if not path.is_file():
        return []
    return pl.read_parquet(path, columns=["client_id"]).get_column("client_id").to_list()


def refuse_unservable(snapshot: OnlineSnapshot) -> None:
    """Raise UserInputError naming every reason the snapshot must not be served, if any."""
    tables = {
        "clients": snapshot.clients,
        "boutiques": snapshot.boutiques,
        "boutique_daily": snapshot.boutique_daily,
        "boutique_hourly": snapshot.boutique_hourly,
    }
    problems = snapshot_problems(Path(snapshot.path).name, tables)
    if problems:
        raise UserInputError("cannot serve " + "; ".join(problems))


def footfall_forecast_frames(bundle: Any, snapshot: OnlineSnapshot) -> tuple[pl.DataFrame, ...]:
    """The champion's daily (56 days) and hourly (14 days) forecasts of every boutique, from the
    snapshot's precomputed future rows."""
    daily = bundle.forecast(snapshot, snapshot.as_of, DAILY_HORIZON_DAYS, granularity="daily")
    hourly = bundle.forecast(snapshot, snapshot.as_of, HOURLY_HORIZON_DAYS, granularity="hourly")
    return daily, hourly


def build_state(
    snapshot: OnlineSnapshot,
    next_purchase: LoadedModel,
    footfall: LoadedModel,
    explain_threads: int | None = None,
) -> ServingState:
    """Prepare the request path for ``snapshot`` and the two champions.

    Refuses a snapshot with duplicate keys or without a client (UserInputError) before any
    work. ``explain_threads`` caps the threads explaining the snapshot's clients when their
    cache is missing (:mod:`serving.client_scores`); None uses every core.
    """
    refuse_unservable(snapshot)
    np_bundle, np_info = next_purchase
    ff_bundle, ff_info = footfall
    facts = snapshot_facts(snapshot)
    versions = {NEXT_PURCHASE: str(np_info["version"]), FOOTFALL: str(ff_info["version"])}
    scores = client_scores(np_bundle, np_info, snapshot.path, snapshot.clients, explain_threads)
    scorer = NextPurchaseScorer.build(
        np_bundle,
        snapshot.clients,
        snapshot.client_rows,
        scores.get_column("reasons"),
        facts.reference_currency,
        snapshot.as_of,
        versions[NEXT_PURCHASE],
        read_clients_without_purchase(snapshot),
    )
    daily, hourly = footfall_forecast_frames(ff_bundle, snapshot)
    timezones = dict(
        snapshot.boutiques.select("boutique_id", "timezone").iter_rows()  # a few hundred rows
    )
    forecasts = FootfallForecasts.build(
        daily, hourly, timezones, snapshot.as_of, versions[FOOTFALL]
    )
    call_lists = CallLists.build(
        scores,
        client_directory(snapshot),
        forecasts.daily_frame,
        list(timezones),
        tuple(np_bundle.division_classes),
        facts.reference_currency,
        snapshot.as_of,
        versions,
    )
    models = [
        model_facts(NEXT_PURCHASE, np_bundle, np_info),
        model_facts(FOOTFALL, ff_bundle, ff_info),
    ]
    warnings = training_gap_warnings(snapshot.as_of, models)
    for warning in warnings:
        logger.warning(warning)
    info = ModelInfoResponse(
        models=models, snapshot=facts, loaded_at=datetime.now(UTC), warnings=warnings
    )
    return ServingState(scorer, forecasts, call_lists, info)


def load_serving_state(
    settings: WorkspaceSettings, explain_threads: int | None = None
) -> ServingState:
    """Load the champions and the latest snapshot named by ``settings`` and prepare them
    (see :func:`build_state` for ``explain_threads``)."""
    from training.tracking import configure_tracking, load_bundle

    configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    next_purchase = load_bundle(settings.next_purchase_model)
    footfall = load_bundle(settings.footfall_model)
    snapshot = OnlineSnapshot.load(settings.snapshot_dir)
    state = build_state(snapshot, next_purchase, footfall, explain_threads)
    logger.info(
        "serving next-purchase v%s, footfall v%s, snapshot %s (%d clients)",
        state.info.models[0].version,
        state.info.models[1].version,
        state.info.snapshot.name,
        state.info.snapshot.clients,
    )
    return state


class StateSlot:
    """Holds the current :class:`ServingState`; :meth:`replace` swaps in a new one atomically."""

    def __init__(self, state: ServingState) -> None:
        self._state = state
        self._lock = threading.Lock()

    @property
    def current(self) -> ServingState:
        """The state new requests use; read it once per request."""
        return self._state

    def replace(self, load: Callable[[], ServingState]) -> tuple[ServingState, ServingState]:
        """Build a new state with ``load`` (outside any request) and swap it in.

        One reload at a time; if ``load`` fails the current state stays. Returns the previous
        and the new state.
        """
        with self._lock:
            new_state = load()
            previous, self._state = self._state, new_state
        return previous, new_state
