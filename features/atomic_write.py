"""Write files and folders atomically: readers see the previous version or the new one, whole.

Everything is written under a hidden temporary name beside its final place (same file system, so
the last step is a rename). When the work fails, the temporary file or folder is deleted and the
final one is left as it was. A folder replaces its previous version in two renames (Linux cannot
swap two directories in one call): the old folder is moved aside, the new one renamed into
place, the old one put back if that fails and deleted only once it succeeded.

A place that cannot be written (a read-only file system, a file where a folder should be, a
folder without permission) is the user's to fix: making, staging or publishing an output raises
:class:`~features.errors.UserInputError` naming the path and the reason, and
:func:`check_writable_folder` lets a command find it out before its work rather than after.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from features.errors import UserInputError

FILE_MODE = 0o666
"""Mode a staged file is created with; the process umask applies, as for any other output."""


def _first_file_on_the_way(path: Path) -> Path | None:
    """The first of ``path``'s ancestors (or ``path`` itself) that exists and is not a folder."""
    for candidate in (*reversed(path.parents), path):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def unwritable_reason(error: OSError, path: Path) -> str:
    """Why ``path`` could not be written, in words: ``read-only file system``, ``afile is a
    file, not a folder``, ``permission denied``..."""
    if error.errno in (errno.EEXIST, errno.ENOTDIR):
        blocking = _first_file_on_the_way(path)
        if blocking == path:
            return "it is a file, not a folder"
        if blocking is not None:
            return f"{blocking} is a file, not a folder"
    if error.errno == errno.EISDIR:
        return "it is a folder, not a file"
    reason = error.strerror or str(error) or type(error).__name__
    return reason[:1].lower() + reason[1:]


@contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Turn an :class:`OSError` met while making or publishing the output ``path`` into a
    :class:`UserInputError` ("cannot write to ro/snaps: read-only file system")."""
    try:
        yield
    except OSError as error:
        raise UserInputError(
            f"cannot write to {path}: {unwritable_reason(error, Path(path))}"
        ) from error


def check_writable_folder(path: Path) -> Path:
    """Make the folder ``path`` if it is missing and prove it writable with a temporary file.

    Commands call it on their output folders before their work, so that an unwritable ``--out``
    fails at once rather than after minutes of computing. Raises :class:`UserInputError` naming
    the path and the reason otherwise; returns ``path``.
    """
    folder = Path(path)
    with output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
        _new_sibling_file(folder / "write-check").unlink()
    return folder


def _new_sibling_file(final: Path) -> Path:
    """Create an empty, hidden, uniquely named file beside ``final``, keeping its suffix.

    ``os.open`` with :data:`FILE_MODE` lets the umask decide the permissions (``0o644`` under
    the usual ``022``), unlike :func:`tempfile.mkstemp`'s private ``0o600``.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temporary = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:12]}{final.suffix}")
        try:
            os.close(os.open(temporary, flags, FILE_MODE))
        except FileExistsError:
            continue  # the random name is taken: draw another
        return temporary
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(final.parent))


@contextmanager
def staged_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` to write to; rename it to ``final`` on success.

    On any exception the temporary file is removed, ``final`` is untouched and the exception
    propagates. The temporary name keeps ``final``'s suffix, so writers that infer the format
    from the suffix still work; the file gets the usual permissions (``0o666`` less the umask).
    A place that cannot be written raises :class:`UserInputError` (:func:`output_errors`).
    """
    final = Path(final)
    with output_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = _new_sibling_file(final)
    try:
        yield temporary
        with output_errors(final):
            os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


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
    propagates. A place that cannot be written raises :class:`UserInputError`
    (:func:`output_errors`).
    """
    final = Path(final)
    staging = staging_sibling(final)
    with output_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    try:
        yield staging
        with output_errors(final):
            replace_directory(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
