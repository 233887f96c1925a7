"""Write files and folders atomically: readers see the previous version or the new one, whole.

Everything is written under a hidden temporary name beside its final place (same file system, so
the last step is a rename). When the work fails, the temporary file or folder is deleted and the
final one is left as it was. A folder replaces its previous version in two renames (Linux cannot
swap two directories in one call): the old folder is moved aside, the new one renamed into
place, the old one put back if that fails and deleted only once it succeeded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` to write to; rename it to ``final`` on success.

    On any exception the temporary file is removed, ``final`` is untouched and the exception
    propagates. The temporary name keeps ``final``'s suffix, so writers that infer the format
    from the suffix still work.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{final.stem}.", suffix=final.suffix, dir=final.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, final)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_text_atomically(text: str, final: Path) -> Path:
    """Write ``text`` (UTF-8) to ``final`` through a temporary file renamed into place."""
    with staged_file(final) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(final)


def staging_sibling(final: Path, purpose: str = "tmp") -> Path:
    """A hidden, unique sibling path of ``final``: ``.<purpose>-<name>-<random>``."""
    return final.with_name(f".{purpose}-{final.name}-{uuid.uuid4().hex[:12]}")


def replace_directory(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, deleting a previous ``final`` only once that is done."""
    previous = staging_sibling(final, "old") if final.exists() else None
    if previous is not None:
        final.rename(previous)
    try:
        staging.rename(final)
    except BaseException:
        if previous is not None:
            previous.rename(final)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


@contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; publish it as ``final`` on success.

    On any exception the temporary folder is removed, ``final`` is untouched and the exception
    propagates.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_sibling(final)
    staging.mkdir()
    try:
        yield staging
        replace_directory(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
