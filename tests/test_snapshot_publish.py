"""Publishing an online snapshot: a complete, uniquely named folder first, then ``LATEST``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features import snapshot as snapshot_module
from features.snapshot import LATEST, MANIFEST, OnlineSnapshot, latest_snapshot, write_snapshot

AS_OF = date(2026, 7, 1)


@pytest.fixture
def tiny_tables(monkeypatch: pytest.MonkeyPatch) -> dict[str, pl.DataFrame]:
    """Skip the feature pipelines: the snapshot writes these four small tables."""
    tables = {
        "clients": pl.DataFrame({"client_id": ["a", "b"], "x": [1.0, 2.0]}),
        "boutiques": pl.DataFrame({"boutique_id": ["B1"], "timezone": ["Europe/Paris"]}),
        "boutique_daily": pl.DataFrame({"boutique_id": ["B1"], "horizon": [1]}),
        "boutique_hourly": pl.DataFrame({"boutique_id": ["B1"], "horizon": [1]}),
    }
    monkeypatch.setattr(snapshot_module, "load_history", lambda data_dir: None)
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
