"""The call-list request path: each boutique's candidates, prepared once, ranked per request.

When the state loads, every snapshot client is scored in one batch, their reasons attached, and
the opted-in clients split by home boutique together with that boutique's daily forecast. A
request then runs the shared rules of :func:`training.call_lists.build_call_list` on one
boutique's few hundred candidates (the horizon and the division change the ranking, so the
final sort happens per request), which is what the planners' forecasts run on every boutique.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import polars as pl

from features.snapshot import CLIENT_DIRECTORY
from serving.errors import RequestRejected
from serving.schemas import CallListEntry, CallListResponse
from training.call_lists import build_call_list

CLIENT_COLUMNS = ("client_id", *CLIENT_DIRECTORY)


@dataclass(frozen=True)
class BoutiqueCandidates:
    """One boutique's opted-in home clients with their predictions, and its daily forecast."""

    predictions: pl.DataFrame
    clients: pl.DataFrame
    footfall_daily: pl.DataFrame


@dataclass(frozen=True)
class CallLists:
    """Call-list candidates of every known boutique."""

    boutiques: Mapping[str, BoutiqueCandidates]
    division_classes: tuple[str, ...]
    first_day: date
    currency: str
    snapshot_date: date
    model_versions: Mapping[str, str]

    @classmethod
    def build(
        cls,
        predictions: pl.DataFrame,
        clients: pl.DataFrame,
        footfall_daily: pl.DataFrame,
        boutique_ids: list[str],
        division_classes: tuple[str, ...],
        currency: str,
        snapshot_date: date,
        model_versions: Mapping[str, str],
    ) -> CallLists:
        """Split ``predictions`` (with ``reasons``) and ``clients`` by home boutique;
        ``division_classes`` are the divisions the champion predicts."""
        opted_in = pl.col("contact_opt_in").fill_null(False)
        homes = clients.select(CLIENT_COLUMNS).filter(opted_in).unique("client_id", keep="first")
        candidates = predictions.join(homes.select("client_id", "home_boutique_id"), on="client_id")
        by_boutique = candidates.partition_by("home_boutique_id", as_dict=True)
        homes_by_boutique = homes.partition_by("home_boutique_id", as_dict=True)
        footfall_by_boutique = footfall_daily.partition_by("boutique_id", as_dict=True)
        empty_predictions = candidates.clear()
        boutiques = {
            boutique_id: BoutiqueCandidates(
                predictions=by_boutique.get((boutique_id,), empty_predictions).drop(
                    "home_boutique_id"
                ),
                clients=homes_by_boutique.get((boutique_id,), homes.clear()),
                footfall_daily=footfall_by_boutique.get((boutique_id,), footfall_daily.clear()),
            )
            for boutique_id in boutique_ids
        }
        return cls(
            boutiques,
            tuple(division_classes),
            snapshot_date,
            currency,
            snapshot_date,
            dict(model_versions),
        )

    def call_list(
        self, boutique_id: str, n: int, horizon_days: int, division: str | None
    ) -> CallListResponse:
        """The boutique's ``n`` clients most likely to buy within ``horizon_days``."""
        candidates = self.boutiques.get(boutique_id)
        if candidates is None:
            raise RequestRejected("boutique_id", f"unknown boutique {boutique_id!r}", 404)
        if division is not None and division not in self.division_classes:
            known = ", ".join(repr(name) for name in self.division_classes)
            raise RequestRejected(
                "division", f"unknown division {division!r}; the model knows {known}"
            )
        ranked = build_call_list(
            candidates.predictions,
            candidates.clients,
            candidates.footfall_daily,
            boutique_id,
            n,
            horizon_days,
            division,
            start=self.first_day,
        )
        entries = [
            CallListEntry.model_construct(**row) for row in ranked.drop("boutique_id").to_dicts()
        ]
        return CallListResponse.model_construct(
            boutique_id=boutique_id,
            horizon_days=horizon_days,
            division=division,
            currency=self.currency,
            snapshot_date=self.snapshot_date,
            model_versions=dict(self.model_versions),
            clients=entries,
        )
