"""A broken MLflow store stops a command at once with a message naming the store and what to do:
never a traceback, never after a full training, never minutes of silent retries."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import mlflow
import pytest

from features.errors import UserInputError
from training import tracking


def configure(tmp_path: Path, store: Path) -> None:
    tracking.configure_tracking(f"sqlite:///{store}", tmp_path / "mlartifacts")


def interrupt_mlflow_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of MLflow's first use of a store, where the audit's `timeout -s INT
    3.1 clientcast forecast` hit it: the migration creating ``datasets`` has run, its revision
    is not recorded yet."""
    import sqlalchemy
    from alembic.runtime.migration import HeadMaintainer

    record_revision = HeadMaintainer.update_to_step

    def interrupted(self: HeadMaintainer, step: object) -> None:
        if "datasets" in sqlalchemy.inspect(self.context.connection).get_table_names():
            raise KeyboardInterrupt
        record_revision(self, step)

    monkeypatch.setattr(HeadMaintainer, "update_to_step", interrupted)


def test_a_file_that_is_not_a_database_is_named_with_what_to_do(tmp_path: Path) -> None:
    store = tmp_path / "mlruns.db"
    store.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(UserInputError) as raised:
        configure(tmp_path, store)
    message = str(raised.value)
    assert message.startswith(f"cannot use the MLflow store sqlite:///{store}")
    assert "(file is not a database)" in message
    assert "repair or remove it, or point MLFLOW_TRACKING_URI at another store" in message


def test_a_half_initialised_store_says_to_remove_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store MLflow leaves when its first use is interrupted (built here the way MLflow does,
    without clientcast's staging): every later command must say what it is."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = tmp_path / "mlruns.db"
    with monkeypatch.context() as patch:
        interrupt_mlflow_migrations(patch)
        with pytest.raises(KeyboardInterrupt):
            SqlAlchemyStore(f"sqlite:///{store}", str(tmp_path / "mlartifacts"))
    assert store.is_file()
    with pytest.raises(UserInputError, match="already exists") as raised:
        configure(tmp_path, store)
    assert f"half-initialised, its creation was interrupted: remove {store}" in str(raised.value)


def test_an_interrupted_first_use_leaves_no_store_and_the_next_creates_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "workspace" / "mlruns.db"
    with monkeypatch.context() as patch:
        interrupt_mlflow_migrations(patch)
        with pytest.raises(KeyboardInterrupt):
            configure(tmp_path, store)
    assert list(store.parent.iterdir()) == [], "no half-made store, no temporary file"
    configure(tmp_path, store)
    tables = sqlite3.connect(store).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("experiments",) in tables and ("registered_model_aliases",) in tables
    assert [p.name for p in store.parent.iterdir()] == ["mlruns.db"]
    experiment = tracking.ensure_experiment("kept")
    configure(tmp_path, store)
    assert tracking.ensure_experiment("kept") == experiment, "an existing store is kept as it is"


def test_a_folder_store_says_mlflow_no_longer_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(UserInputError, match="maintenance mode") as raised:
        tracking.configure_tracking(str(tmp_path / "mlruns"), tmp_path / "mlartifacts")
    assert f"cannot use the MLflow store {tmp_path / 'mlruns'}" in str(raised.value)
    assert "a database store such as sqlite:///mlruns.db" in str(raised.value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_answers_in_seconds_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's own retries would take minutes; the probe asks once. The user's HTTP settings
    are restored for the rest of the command."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "77")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    uri = f"http://user:s3cret@127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with pytest.raises(UserInputError, match="connection refused") as raised:
        tracking.configure_tracking(uri, tmp_path / "mlartifacts")
    assert time.perf_counter() - started < 30
    message = str(raised.value)
    assert "s3cret" not in message and "cannot use the MLflow store http://user:***@" in message
    assert "start that MLflow server" in message
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "77"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


def test_a_registry_failing_under_the_champion_lookup_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store breaks after the probe (another process, a disk): the champion lookups of
    `train` and `forecast` name it instead of a SQLAlchemy traceback."""
    from sqlalchemy.exc import OperationalError

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")

    class BrokenStore:
        def __getattr__(self, name: str) -> object:
            def fail(*args: object, **kwargs: object) -> None:
                raise OperationalError("SELECT", {}, sqlite3.OperationalError("disk I/O error"))

            return fail

    monkeypatch.setattr(tracking, "_client", BrokenStore)
    for lookup in (
        lambda: tracking.alias_version("clients", tracking.CHAMPION),
        lambda: tracking.load_bundle("clients"),
        lambda: tracking.run_metrics("0123"),
    ):
        with pytest.raises(UserInputError, match=r"\(disk I/O error\): repair or remove it"):
            lookup()


def test_a_locked_store_says_to_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")

    class LockedRegistry:
        def get_model_version_by_alias(self, name: str, alias: str) -> None:
            raise MlflowException("database is locked", error_code="INTERNAL_ERROR")

        def get_registered_model(self, name: str) -> None:
            raise MlflowException("database is locked", error_code="INTERNAL_ERROR")

    monkeypatch.setattr(tracking, "_client", LockedRegistry)
    with pytest.raises(UserInputError, match="another process is writing to it"):
        tracking.alias_version("clients", tracking.CHAMPION)


@pytest.mark.parametrize(
    ("failure", "advice"),
    [
        ("unable to open database file", "make it and its folder writable"),
        ("attempt to write a readonly database", "make it and its folder writable"),
        ("database is locked", "another process is writing to it"),
        ("file is not a database", "repair or remove it"),
    ],
)
def test_the_advice_fits_the_failure(failure: str, advice: str) -> None:
    from sqlalchemy.exc import OperationalError

    uri = "sqlite:///workspace/mlruns.db"
    with pytest.raises(UserInputError) as raised, tracking.tracking_store_errors(uri):
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError(failure))
    assert str(raised.value).startswith(f"cannot use the MLflow store {uri} ({failure}): {advice}")


def test_an_artifact_folder_that_cannot_be_made_is_a_user_error(tmp_path: Path) -> None:
    blocking = tmp_path / "mlartifacts"
    blocking.write_text("a file where the artifact folder should be")
    tracking.configure_tracking(f"sqlite:///{tmp_path / 'mlruns.db'}", blocking)
    with pytest.raises(UserInputError, match=f"{blocking} is a file, not a folder$") as raised:
        tracking.ensure_experiment("next-purchase")
    assert str(raised.value).startswith(f"cannot write to {blocking / 'next-purchase'}: ")
