"""Atomic writes: a reader sees the previous file or folder or the new one, whole, never a part."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.atomic_write import staged_directory, staged_file, write_text_atomically


def test_a_staged_file_appears_only_when_written_whole(tmp_path: Path) -> None:
    final = tmp_path / "out" / "table.csv"
    with staged_file(final) as temporary:
        assert temporary.suffix == ".csv" and temporary.parent == final.parent
        temporary.write_text("a,b\n")
        assert not final.exists()
    assert final.read_text() == "a,b\n"
    assert sorted(p.name for p in final.parent.iterdir()) == ["table.csv"]


def test_a_failed_file_write_keeps_the_previous_file(tmp_path: Path) -> None:
    final = write_text_atomically("first", tmp_path / "page.md")
    with pytest.raises(RuntimeError, match="boom"), staged_file(final) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert final.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.md"]


def test_a_staged_directory_replaces_the_previous_one_whole(tmp_path: Path) -> None:
    final = tmp_path / "forecasts" / "2026-07-01"
    with staged_directory(final) as staging:
        (staging / "a.txt").write_text("first")
        assert not final.exists()
    with staged_directory(final) as staging:
        (staging / "b.txt").write_text("second")
        assert (final / "a.txt").read_text() == "first"
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in final.parent.iterdir()) == ["2026-07-01"]


def test_a_failure_while_staging_leaves_the_previous_folder_untouched(tmp_path: Path) -> None:
    final = tmp_path / "2026-07-01"
    with staged_directory(final) as staging:
        (staging / "a.txt").write_text("first")
    with pytest.raises(RuntimeError, match="boom"), staged_directory(final) as staging:
        (staging / "a.txt").write_text("half-written")
        raise RuntimeError("boom")
    assert (final / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-07-01"]
