"""Publish a folder of outputs atomically: readers see the previous folder or the new one, whole.

Everything is written into a hidden temporary sibling of the final folder (same file system, so
the final step is a rename). When the work fails, the sibling is deleted and the final folder is
left as it was; when it succeeds, a previous folder of the same name is moved aside, the new one
renamed into place and only then the old one deleted.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_sibling(final: Path, purpose: str = "tmp") -> Path:
    """A hidden, unique sibling path of ``final``: ``.<purpose>-<name>-<random>``."""
    return final.with_name(f".{purpose}-{final.name}-{uuid.uuid4().hex[:12]}")


def replace_directory(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, replacing a previous ``final`` only once the rename is done.

    Linux cannot swap two directories in one call: the previous folder is first renamed aside,
    then put back if the second rename fails, so the old outputs are never lost.
    """
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
