"""The online snapshot: the latest features per client and per boutique, ready for key look-ups.

``clientcast features --as-of DATE`` writes a versioned folder under the snapshot root::

    snapshots/
      2026-06-01_20261124T181500Z/
        manifest.json          as-of date, creation time, currency, row counts, columns
        clients.parquet        client features at the as-of date, sorted by client_id
        boutiques.parquet      boutique attributes and profile features
        boutique_daily.parquet  future-known rows of the footfall model, next 56 days
        boutique_hourly.parquet the same for the next 14 days, hour by hour
      LATEST                   name of the newest complete snapshot

A snapshot is written into a temporary folder, renamed into place, and only then named in
``LATEST`` (itself replaced by a rename), so readers never see a partial snapshot and the previous
one stays readable. :class:`OnlineSnapshot` loads one and looks client ids up through a hash index.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from features.atomic_write import staging_sibling, write_text_atomically
from features.errors import UserInputError
from features.history import PurchaseHistory, load_history

LATEST = "LATEST"
MANIFEST = "manifest.json"
DAILY_HORIZON_DAYS = 56
HOURLY_HORIZON_DAYS = 14
CLIENT_DIRECTORY: tuple[str, ...] = ("home_boutique_id", "contact_opt_in")
"""Clients-table columns the snapshot carries beside the features, for the call lists."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot holds: where it is, its as-of date, its tables and their row counts."""

    path: Path
    as_of: date
    created_at: str
    reference_currency: str
    rows: dict[str, int]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(title=f"online snapshot as of {self.as_of}", title_justify="left")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, count in self.rows.items():
            table.add_row(name, f"{count:,}")
        yield table
        yield f"written to [bold]{self.path}[/]"


def default_as_of(history: PurchaseHistory) -> date:
    """The day after the last transaction or footfall hour: "today" for a history.

    Both are read in boutique-local time (a sale at 20:00 in New York on 30 June is a 30 June
    sale, although it is 1 July in UTC), so that forecasts start on the first day without data.
    """
    from features.normalise import normalised_lines

    last_sale = normalised_lines(history).select(pl.col("purchase_date").max()).collect().item()
    last_hour = history.footfall.select(pl.col("hour_start").max()).collect().item()
    if last_hour is not None:
        last_hour = last_hour.date()
    candidates = [value for value in (last_sale, last_hour) if value is not None]
    if not candidates:
        raise UserInputError("the history has neither transactions nor footfall")
    return max(candidates) + timedelta(days=1)


def snapshot_tables(
    history: PurchaseHistory, as_of: date, reference_currency: str
) -> dict[str, pl.DataFrame]:
    """Compute every table of a snapshot at ``as_of`` from the history."""
    from features.boutique_features import (
        boutique_daily_features,
        boutique_hourly_features,
        boutique_profile_features,
    )
    from features.client_features import client_features

    clients = client_features(history, as_of, reference_currency=reference_currency)
    profiles = boutique_profile_features(history, as_of)
    daily = boutique_daily_features(history, as_of, DAILY_HORIZON_DAYS)
    hourly = boutique_hourly_features(history, as_of, HOURLY_HORIZON_DAYS)
    collected = pl.collect_all([_lazy(frame) for frame in (clients, profiles, daily, hourly)])
    clients_frame, profiles_frame, daily_frame, hourly_frame = collected
    boutiques = history.boutiques.collect().join(profiles_frame, on="boutique_id", how="left")
    return {
        "clients": with_client_directory(clients_frame, history).sort("client_id"),
        "boutiques": boutiques.sort("boutique_id"),
        "boutique_daily": daily_frame,
        "boutique_hourly": hourly_frame,
    }


def with_client_directory(clients: pl.DataFrame, history: PurchaseHistory) -> pl.DataFrame:
    """``clients`` with each client's :data:`CLIENT_DIRECTORY` columns from the clients table.

    The call lists need every client's home boutique and contact consent; keeping them in the
    snapshot makes it self-contained, so the service never reads the history folder.
    """
    available = history.clients.collect_schema()
    wanted = [c for c in CLIENT_DIRECTORY if c in available and c not in clients.columns]
    if not wanted:
        return clients
    directory = history.clients.select("client_id", *wanted).unique("client_id", keep="first")
    return clients.join(directory.collect(), on="client_id", how="left")


def _lazy(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def write_snapshot(
    data_dir: Path,
    as_of: date | None,
    root: Path,
    reference_currency: str = "EUR",
) -> SnapshotInfo:
    """Compute the snapshot of ``data_dir`` at ``as_of``; publish it atomically under ``root``."""
    history = load_history(data_dir)
    as_of = as_of or default_as_of(history)
    tables = snapshot_tables(history, as_of, reference_currency)
    created_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{as_of.isoformat()}_{created_at}"
    if final.exists():
        final = final.with_name(f"{final.name}-{uuid.uuid4().hex[:6]}")
    manifest = {
        "as_of": as_of.isoformat(),
        "created_at": created_at,
        "reference_currency": reference_currency,
        "data_dir": str(Path(data_dir).resolve()),
        "rows": {name: frame.height for name, frame in tables.items()},
        "columns": {name: frame.columns for name, frame in tables.items()},
    }
    staging = staging_sibling(final)
    staging.mkdir()
    try:
        for name, frame in tables.items():
            frame.write_parquet(staging / f"{name}.parquet")
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        staging.rename(final)  # a new, unique name: never replaces an earlier snapshot
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_text_atomically(final.name + "\n", root / LATEST)
    return SnapshotInfo(final, as_of, created_at, reference_currency, manifest["rows"])


def latest_snapshot(root: Path) -> Path:
    """The folder of the newest complete snapshot under ``root``."""
    pointer = Path(root) / LATEST
    if not pointer.is_file():
        raise UserInputError(f"no snapshot in {root}: run `clientcast features` first")
    path = Path(root) / pointer.read_text().strip()
    if not (path / MANIFEST).is_file():
        raise UserInputError(f"{pointer} names {path.name}, which is not a complete snapshot")
    return path


@dataclass
class OnlineSnapshot:
    """A loaded snapshot: its tables in memory and a hash index from client_id to row."""

    path: Path
    manifest: dict[str, Any]
    clients: pl.DataFrame
    boutiques: pl.DataFrame
    boutique_daily: pl.DataFrame
    boutique_hourly: pl.DataFrame
    client_rows: dict[str, int] = field(repr=False, default_factory=dict)

    @property
    def as_of(self) -> date:
        """The snapshot's as-of date."""
        return date.fromisoformat(self.manifest["as_of"])

    @classmethod
    def load(cls, path: Path) -> OnlineSnapshot:
        """Read the snapshot folder ``path`` (or the latest under it when it is a root)."""
        path = Path(path)
        if not (path / MANIFEST).is_file():
            path = latest_snapshot(path)
        manifest = json.loads((path / MANIFEST).read_text())
        tables = {
            name: pl.read_parquet(path / f"{name}.parquet")
            for name in ("clients", "boutiques", "boutique_daily", "boutique_hourly")
        }
        client_ids = tables["clients"].get_column("client_id").to_list()
        return cls(
            path=path,
            manifest=manifest,
            client_rows={client_id: row for row, client_id in enumerate(client_ids)},
            **tables,
        )

    def client_positions(self, client_ids: list[str]) -> list[int | None]:
        """Row of each client id in :attr:`clients`, None for an unknown id."""
        return [self.client_rows.get(client_id) for client_id in client_ids]
