"""Atomic writes: a reader sees the previous file or folder or the new one, whole, never a part."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from features.atomic_write import (
    check_writable_folder,
    staged_directory,
    staged_file,
    write_text_atomically,
)
from features.errors import UserInputError


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


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], ids=oct)
def test_a_staged_file_gets_the_usual_permissions(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        written = write_text_atomically("LATEST", tmp_path / "LATEST")
        with staged_file(tmp_path / "table.parquet") as temporary:
            temporary.write_bytes(b"rows")
            staged_mode = stat.S_IMODE(os.stat(temporary).st_mode)
        plain = tmp_path / "plain.csv"
        plain.write_text("a,b\n")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert stat.S_IMODE(os.stat(plain).st_mode) == expected, "what any other output gets"
    assert stat.S_IMODE(os.stat(written).st_mode) == expected
    assert stat.S_IMODE(os.stat(tmp_path / "table.parquet").st_mode) == expected
    assert staged_mode == expected


def test_a_file_where_a_folder_should_be_is_a_user_error_naming_it(tmp_path: Path) -> None:
    blocking = tmp_path / "afile"
    blocking.write_text("a file")
    cases = [
        (lambda: check_writable_folder(blocking), "it is a file, not a folder"),
        (lambda: check_writable_folder(blocking / "sub"), f"{blocking} is a file, not a folder"),
        (lambda: write_text_atomically("{}", blocking / "cdnow.json"), f"{blocking} is a file"),
        (lambda: staged_directory(blocking / "2026-07-01").__enter__(), f"{blocking} is a file"),
        (lambda: staged_file(blocking / "a" / "b.md").__enter__(), f"{blocking} is a file"),
    ]
    for attempt, reason in cases:
        with pytest.raises(UserInputError, match=f"^cannot write to {tmp_path}/afile") as raised:
            attempt()
        assert reason in str(raised.value)
    assert blocking.read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"], "no temporary left behind"


def test_a_folder_where_a_file_should_be_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "LATEST").mkdir()
    with pytest.raises(UserInputError, match="LATEST: it is a folder, not a file"):
        write_text_atomically("snapshot\n", tmp_path / "LATEST")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LATEST"]


def test_check_writable_folder_makes_the_folder_and_leaves_nothing_in_it(tmp_path: Path) -> None:
    folder = tmp_path / "forecasts" / "nested"
    assert check_writable_folder(folder) == folder
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert check_writable_folder(folder) == folder, "an existing folder is fine"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
        (errno.ENOSPC, "no space left on device"),
    ],
)
def test_an_unwritable_place_is_a_user_error_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    """The file system refuses (as a read-only mount does even for root): the reason is named."""
    real_open = os.open

    def refusing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(UserInputError, match=f"^cannot write to .*snaps: {reason}$"):
        check_writable_folder(tmp_path / "snaps")
    with pytest.raises(UserInputError, match=f"^cannot write to .*LATEST: {reason}$"):
        write_text_atomically("x\n", tmp_path / "snaps" / "LATEST")


def read_only_mount_available() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and sys.platform == "linux"


@pytest.mark.skipif(not read_only_mount_available(), reason="needs root and unshare for a mount")
def test_a_read_only_mount_is_a_user_error_naming_the_path(tmp_path: Path) -> None:
    """The audit's case: the output folder is bind-mounted read-only (chmod does not stop root)."""
    mounted = tmp_path / "ro"
    mounted.mkdir()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from features.atomic_write import check_writable_folder, staged_directory, "
        "write_text_atomically\n"
        "from features.errors import UserInputError\n"
        "attempts = [lambda: check_writable_folder(Path('ro/snaps')),\n"
        "            lambda: write_text_atomically('x', Path('ro/cdnow.json')),\n"
        "            lambda: staged_directory(Path('ro/fc/2026-07-01')).__enter__()]\n"
        "for attempt in attempts:\n"
        "    try:\n"
        "        attempt()\n"
        "    except UserInputError as error:\n"
        "        print(error)\n"
    )
    mount = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    command = ["unshare", "-m", "bash", "-c", mount, "_", str(mounted), sys.executable, "-c"]
    completed = subprocess.run(
        [*command, script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    if "mount" in completed.stderr and completed.returncode != 0:
        pytest.skip(f"no bind mount here: {completed.stderr.strip()}")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "cannot write to ro/snaps: read-only file system",
        "cannot write to ro/cdnow.json: read-only file system",
        "cannot write to ro/fc/2026-07-01: read-only file system",
    ]
    assert list(mounted.iterdir()) == []
