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
one stays readable. ``LATEST`` names the snapshot with the newest as-of date: a back-dated look
(``--as-of`` before the as-of of the snapshot ``LATEST`` names) is written beside it but does not
become what the service loads. :class:`OnlineSnapshot` loads one and looks client ids up through
a hash index.

:func:`checked_as_of` is the one rule every command applies to ``--as-of``: after the history's
first purchase and at most :data:`AS_OF_GRACE_DAYS` days after its last data.
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

from features.atomic_write import check_writable_folder, staging_sibling, write_text_atomically
from features.errors import UserInputError
from features.history import PurchaseHistory, load_history, table_path

LATEST = "LATEST"
MANIFEST = "manifest.json"
NO_PURCHASE_TABLE = "clients_without_purchase"
"""The snapshot table of clients listed without a purchase before its as-of date."""
DAILY_HORIZON_DAYS = 56
HOURLY_HORIZON_DAYS = 14
AS_OF_GRACE_DAYS = 7
"""How many days after the day following the history's last data an ``--as-of`` may lie."""
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
    published: bool = True
    notes: tuple[str, ...] = ()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(title=f"online snapshot as of {self.as_of}", title_justify="left")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, count in self.rows.items():
            table.add_row(name, f"{count:,}")
        yield table
        for note in self.notes:
            yield f"[yellow]note:[/] {note}"
        yield f"written to [bold]{self.path}[/]"


@dataclass(frozen=True)
class HistorySpan:
    """The days a history covers, in boutique-local time: its first purchase (its first footfall
    day when it has no transaction) and its last day with a sale or a footfall count."""

    first_day: date
    last_day: date

    @property
    def default_as_of(self) -> date:
        """The day after the last data: "today" for the history."""
        return self.last_day + timedelta(days=1)


def history_span(history: PurchaseHistory) -> HistorySpan:
    """The first and last days of ``history``, read in boutique-local time.

    A sale at 20:00 in New York on 30 June is a 30 June sale, although it is 1 July in UTC, so
    that forecasts start on the first day without data. Raises UserInputError when the history
    has neither transactions nor footfall.
    """
    from features.normalise import normalised_lines

    sales = normalised_lines(history).select(
        first=pl.col("purchase_date").min(), last=pl.col("purchase_date").max()
    )
    counts = history.footfall.select(
        first=pl.col("hour_start").min().dt.date(), last=pl.col("hour_start").max().dt.date()
    )
    (first_sale, last_sale), (first_count, last_count) = (
        frame.row(0) for frame in pl.collect_all([sales, counts])
    )
    last_days = [day for day in (last_sale, last_count) if day is not None]
    if not last_days:
        raise UserInputError("the history has neither transactions nor footfall")
    first_day = first_sale if first_sale is not None else first_count
    return HistorySpan(first_day=first_day, last_day=max(last_days))


def default_as_of(history: PurchaseHistory) -> date:
    """The day after the last transaction or footfall hour: "today" for a history."""
    return history_span(history).default_as_of


def checked_as_of(history: PurchaseHistory, as_of: date | None) -> date:
    """``as_of`` when the history can describe it, else :func:`default_as_of` when None.

    Features at a cutoff use the days before it, so a cutoff on or before the first purchase
    sees nothing (an empty snapshot, no client scored); one more than :data:`AS_OF_GRACE_DAYS`
    days after the day following the last data describes a future the history knows nothing
    of. Both are a UserInputError naming the dates, the same for every command.
    """
    span = history_span(history)
    if as_of is None:
        return span.default_as_of
    if as_of <= span.first_day:
        raise UserInputError(
            f"--as-of {as_of} is not after the history's first purchase ({span.first_day}): "
            "features at it would see no purchase"
        )
    if as_of > span.default_as_of + timedelta(days=AS_OF_GRACE_DAYS):
        days = (as_of - span.last_day).days
        raise UserInputError(
            f"--as-of {as_of} is {days:,} days after the history's last data "
            f"({span.last_day}): it may be at most {AS_OF_GRACE_DAYS} days after "
            f"{span.default_as_of}, the day after (the default)"
        )
    return as_of


def clients_without_purchase(
    history: PurchaseHistory, scored: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """The ``client_id`` of every client of the clients table known before ``as_of`` (first
    purchase date before it, or none given) and absent from ``scored``: clients without a
    purchase in the history before ``as_of``, whom no model scores.

    The snapshot keeps them so that the service can tell such a client ("no purchase history")
    from an id it has never heard of; clients whose first purchase is on or after ``as_of`` are
    left out, as anything from after the cutoff is.
    """
    return (
        history.clients.filter(
            pl.col("first_purchase_date").is_null() | (pl.col("first_purchase_date") < as_of)
        )
        .select(pl.col("client_id").drop_nulls().unique())
        .join(scored.lazy().select("client_id"), on="client_id", how="anti")
        .sort("client_id")
        .collect()
    )


def unscored_clients_note(
    unscored: pl.DataFrame, as_of: date, data_dir: Path | None = None
) -> str | None:
    """A sentence counting the clients without a purchase before ``as_of``
    (:func:`clients_without_purchase`); None when every client is scored."""
    if unscored.height == 0:
        return None
    path = table_path(data_dir, "clients") if data_dir is not None else None
    source = path.name if path is not None else "the clients table"
    count = unscored.height
    clients = "client" if count == 1 else "clients"
    return f"{count:,} {clients} of {source} without a purchase before {as_of}: not scored"


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
        NO_PURCHASE_TABLE: clients_without_purchase(history, clients_frame, as_of),
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
    """Compute the snapshot of ``data_dir`` at ``as_of``; write it atomically under ``root``.

    ``as_of`` None means the day after the last data (:func:`checked_as_of` refuses one the
    history cannot describe). The new snapshot becomes ``LATEST`` unless ``LATEST`` names one
    with a later as-of date: a back-dated look never replaces what the service serves. The
    returned info says whether it was published and counts the clients left unscored.
    """
    history = load_history(data_dir)
    as_of = checked_as_of(history, as_of)
    tables = snapshot_tables(history, as_of, reference_currency)
    unscored = unscored_clients_note(tables[NO_PURCHASE_TABLE], as_of, Path(data_dir))
    created_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    check_writable_folder(root)
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
    notes = [unscored] if unscored else []
    current = published_as_of(root)
    published = current is None or current[1] <= as_of
    if published:
        write_text_atomically(final.name + "\n", root / LATEST)
    elif current is not None:
        notes.append(
            f"not published: {root / LATEST} still names {current[0]}, as of {current[1]}, "
            "newer than this back-dated snapshot, and the service keeps serving that one"
        )
    return SnapshotInfo(
        final, as_of, created_at, reference_currency, manifest["rows"], published, tuple(notes)
    )


def published_as_of(root: Path) -> tuple[str, date] | None:
    """The folder name and as-of date of the snapshot ``LATEST`` names under ``root``; None when
    there is none or it cannot be read (a new snapshot then replaces it)."""
    try:
        path = latest_snapshot(root)
        manifest = json.loads((path / MANIFEST).read_text())
        return path.name, date.fromisoformat(str(manifest["as_of"]))
    except (UserInputError, OSError, ValueError, KeyError, TypeError):
        return None


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
