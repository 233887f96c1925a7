"""Publishing an online snapshot: a complete, uniquely named folder first, then ``LATEST``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features import snapshot as snapshot_module
from features.contract import TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory, empty_table
from features.snapshot import (
    LATEST,
    MANIFEST,
    NO_PURCHASE_TABLE,
    OnlineSnapshot,
    latest_snapshot,
    write_snapshot,
)

AS_OF = date(2026, 7, 1)


@pytest.fixture
def tiny_tables(monkeypatch: pytest.MonkeyPatch) -> dict[str, pl.DataFrame]:
    """Skip the feature pipelines: the snapshot writes these four small tables."""
    tables = {
        "clients": pl.DataFrame({"client_id": ["a", "b"], "x": [1.0, 2.0]}),
        "boutiques": pl.DataFrame({"boutique_id": ["B1"], "timezone": ["Europe/Paris"]}),
        "boutique_daily": pl.DataFrame({"boutique_id": ["B1"], "horizon": [1]}),
        "boutique_hourly": pl.DataFrame({"boutique_id": ["B1"], "horizon": [1]}),
        NO_PURCHASE_TABLE: pl.DataFrame({"client_id": ["c"]}),
    }
    history = {name: empty_table(table) for name, table in TABLES.items()}
    history["clients"] = pl.LazyFrame({"client_id": ["a", "b", "c"]})  # c never bought
    monkeypatch.setattr(
        snapshot_module, "load_history", lambda data_dir: PurchaseHistory(**history)
    )
    monkeypatch.setattr(snapshot_module, "checked_as_of", lambda history, as_of: as_of)
    monkeypatch.setattr(snapshot_module, "snapshot_tables", lambda *args: tables)
    return tables


def test_each_snapshot_gets_its_own_folder_and_latest_names_the_newest(
    tmp_path: Path, tiny_tables: dict[str, pl.DataFrame]
) -> None:
    root = tmp_path / "snapshots"
    first = write_snapshot(tmp_path, AS_OF, root)
    second = write_snapshot(tmp_path, AS_OF, root)  # same second: a distinct name all the same
    assert first.path != second.path and first.path.is_dir()
    assert latest_snapshot(root) == second.path
    assert (root / LATEST).read_text() == second.path.name + "\n"
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [LATEST, first.path.name, second.path.name]
    )  # no staging folder or temporary pointer left behind
    loaded = OnlineSnapshot.load(root)
    assert loaded.clients.equals(tiny_tables["clients"]) and loaded.client_rows == {"a": 0, "b": 1}
    assert second.rows == {name: frame.height for name, frame in tiny_tables.items()}


def test_a_failed_write_leaves_the_previous_snapshot_served(
    tmp_path: Path, tiny_tables: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "snapshots"
    kept = write_snapshot(tmp_path, AS_OF, root)

    def failing_dumps(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(snapshot_module.json, "dumps", failing_dumps)
    with pytest.raises(OSError, match="disk full"):
        write_snapshot(tmp_path, AS_OF, root)
    assert latest_snapshot(root) == kept.path
    assert sorted(p.name for p in root.iterdir()) == sorted([LATEST, kept.path.name])
    assert (kept.path / MANIFEST).is_file()


def test_a_snapshot_carries_home_boutiques_and_consent_so_it_stands_alone(tmp_path: Path) -> None:
    from features.history import load_history
    from features.synthetic import MaisonConfig, generate_maison
    from serving.state import client_directory

    data_dir = tmp_path / "maison"
    generate_maison(data_dir, MaisonConfig(clients=80, boutiques=8, years=1))
    clients = load_history(data_dir).clients.collect()
    info = write_snapshot(data_dir, None, tmp_path / "snapshots")
    snapshot = OnlineSnapshot.load(info.path)
    known = clients.filter(pl.col("first_purchase_date") < info.as_of)["client_id"]
    unscored = sorted(set(known) - set(snapshot.clients["client_id"]))
    stored = pl.read_parquet(info.path / f"{NO_PURCHASE_TABLE}.parquet")["client_id"].to_list()
    assert unscored and stored == unscored  # the service tells them from unknown ids
    assert info.notes[0] == (
        f"{len(unscored)} clients of clients.parquet without a purchase before {info.as_of}: "
        "not scored"
    )
    for outside in (date(2020, 1, 1), date(2030, 1, 1)):  # the library refuses, not only the CLI
        with pytest.raises(UserInputError, match="--as-of"):
            write_snapshot(data_dir, outside, tmp_path / "snapshots")
    for column in ("home_boutique_id", "contact_opt_in"):
        assert column in snapshot.clients.columns
    assert "birth_year" not in snapshot.clients.columns  # raw attributes stay in the history

    (data_dir / "clients.parquet").unlink()  # the service must not need the history any more
    directory = client_directory(snapshot)
    expected = clients.select("client_id", "home_boutique_id", "contact_opt_in")
    assert directory.sort("client_id").equals(
        expected.filter(pl.col("client_id").is_in(directory["client_id"].implode())).sort(
            "client_id"
        )
    )


def test_a_back_dated_snapshot_does_not_replace_the_one_served(
    tmp_path: Path, tiny_tables: dict[str, pl.DataFrame]
) -> None:
    root = tmp_path / "snapshots"
    served = write_snapshot(tmp_path, AS_OF, root)
    back_dated = write_snapshot(tmp_path, date(2025, 6, 1), root)
    assert served.published and not back_dated.published
    assert latest_snapshot(root) == served.path
    assert OnlineSnapshot.load(back_dated.path).as_of == date(2025, 6, 1)  # written all the same
    [note] = [note for note in back_dated.notes if "not published" in note]
    assert served.path.name in note and str(AS_OF) in note
    again = write_snapshot(tmp_path, AS_OF, root)  # the same as-of again: a refresh, published
    newer = write_snapshot(tmp_path, date(2026, 7, 3), root)
    assert again.published and newer.published
    assert latest_snapshot(root) == newer.path


def test_a_broken_latest_is_replaced(tmp_path: Path, tiny_tables: dict[str, pl.DataFrame]) -> None:
    root = tmp_path / "snapshots"
    root.mkdir()
    (root / LATEST).write_text("gone\n")
    info = write_snapshot(tmp_path, date(2025, 6, 1), root)
    assert info.published and latest_snapshot(root) == info.path


def test_the_summary_counts_the_clients_without_a_purchase(
    tmp_path: Path, tiny_tables: dict[str, pl.DataFrame]
) -> None:
    from rich.console import Console

    info = write_snapshot(tmp_path, AS_OF, tmp_path / "snapshots")
    assert info.notes == (
        f"1 client of the clients table without a purchase before {AS_OF}: not scored",
    )
    console = Console(record=True, width=300)
    console.print(info)
    assert "1 client of the clients table" in console.export_text()
