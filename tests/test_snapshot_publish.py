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
