"""Database URLs of the MLflow and Optuna stores: how to print one, and which file it names.

Both stores take SQLAlchemy URLs (``sqlite:///mlruns.db``, ``postgresql://user:pw@host/db``);
a folder path is not one and passes through unchanged.
"""

from __future__ import annotations

from pathlib import Path


def shown_url(url: str) -> str:
    """``url`` as it may be printed: a password in it is masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # a folder path: nothing to hide
        return url


def sqlite_database(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL; None for any other store (or in memory)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
