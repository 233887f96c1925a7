"""Optuna studies persist in SQLite, log to MLflow and hand their best parameters back, to a
run on the very history they were tuned on only; an unreadable storage is an error, never the
defaults in silence."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from features.errors import UserInputError
from training import tracking, tuning
from training.store_urls import shown_url


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -4.0, 4.0)
    return (x - 1.0) ** 2


def test_study_finds_the_minimum_and_persists(tmp_path: Path) -> None:
    tracking.configure_tracking(f"sqlite:///{tmp_path / 'mlruns.db'}", tmp_path / "art")
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = tuning.run_study(
        quadratic,
        "quad",
        storage,
        n_trials=25,
        direction="minimize",
        mlflow_experiment="tune-tests",
        show_progress=False,
    )
    assert study.best_value < 0.1
    best = tuning.best_params("quad", storage)
    assert best is not None
    assert best["x"] == pytest.approx(1.0, abs=0.4)
    resumed = tuning.open_study("quad", storage, "minimize")
    assert len(resumed.trials) == 25
    import mlflow

    trials = mlflow.search_runs(
        experiment_names=["tune-tests"], filter_string="tags.trial_state = 'COMPLETE'"
    )
    assert len(trials) == 25  # one nested run per trial, under the study's parent run
    assert set(trials["tags.mlflow.parentRunId"]) == {
        mlflow.search_runs(
            experiment_names=["tune-tests"], filter_string="tags.mlflow.runName = 'tune-quad'"
        )["run_id"][0]
    }
    assert trials["metrics.validation_score"].min() == pytest.approx(study.best_value)
    assert set(trials["tags.optuna_study"]) == {"quad"}


def test_best_params_of_a_missing_study_is_none(tmp_path: Path) -> None:
    assert tuning.best_params("nothing", f"sqlite:///{tmp_path / 'optuna.db'}") is None


def write_history(folder: Path) -> Path:
    """A stand-in history folder: the fingerprint reads only the table files' metadata."""
    folder.mkdir(parents=True)
    for table in ("clients", "boutiques", "transactions"):
        (folder / f"{table}.parquet").write_bytes(b"rows of " + table.encode())
    return folder


def seed_study(name: str, storage: str, params: dict[str, int]) -> None:
    """A study holding one completed trial with ``params``."""
    distributions = {key: optuna.distributions.IntDistribution(1, 1000) for key in params}
    study = optuna.create_study(study_name=name, storage=storage)
    study.add_trial(
        optuna.trial.create_trial(params=params, distributions=distributions, value=0.5)
    )


def test_study_name_is_the_family_at_the_data_fingerprint(tmp_path: Path) -> None:
    data = write_history(tmp_path / "maison")
    name = tuning.study_name("footfall-daily", data)
    family, fingerprint = name.split("@")
    assert family == "footfall-daily"
    assert len(fingerprint) == tuning.FINGERPRINT_LENGTH
    assert int(fingerprint, 16) >= 0
    assert tuning.study_name("footfall-daily", tmp_path / "maison" / ".." / "maison") == name
    assert tuning.study_name("next-purchase", data) == f"next-purchase@{fingerprint}"


def test_the_fingerprint_names_the_folder_not_its_contents(tmp_path: Path) -> None:
    data = write_history(tmp_path / "a")
    first = tuning.data_fingerprint(data)
    copied = tmp_path / "b"
    shutil.copytree(data, copied)
    assert tuning.data_fingerprint(copied) != first, "another folder, another study"
    (data / "transactions.parquet").write_bytes(b"rows of transactions and one more")
    (data / "events.csv").write_text("boutique_id,date,kind\n")
    assert tuning.data_fingerprint(data) == first, "new sales in the same source keep its study"


def test_the_fingerprint_of_a_missing_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no such data folder"):
        tuning.data_fingerprint(tmp_path / "nowhere")


def test_tuned_parameters_come_from_the_study_of_the_same_data_only(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    tuned_on, other = write_history(tmp_path / "a"), write_history(tmp_path / "b")
    seed_study(tuning.study_name("next-purchase", tuned_on), storage, {"num_leaves": 9})
    same = tuning.tuned_parameters("next-purchase", tuned_on, storage)
    assert same.best == {"num_leaves": 9} and same.source == "optuna"
    assert same.describe() == f"best of 1 trials of Optuna study {same.study_name}"
    assert same.record("daily.") == {
        "daily.params_source": "optuna",
        "daily.optuna_study": tuning.study_name("next-purchase", tuned_on),
    }
    elsewhere = tuning.tuned_parameters("next-purchase", other, storage)
    assert elsewhere.best is None and elsewhere.source == "defaults"
    assert elsewhere.study_name == tuning.study_name("next-purchase", other)
    assert elsewhere.describe().startswith(f"defaults: no Optuna study {elsewhere.study_name}")
    assert tuning.tuned_parameters("footfall-daily", tuned_on, storage).best is None


def test_a_study_without_a_completed_trial_gives_the_defaults_and_says_why(
    tmp_path: Path,
) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    data = write_history(tmp_path / "a")
    tuning.open_study(tuning.study_name("next-purchase", data), storage, "minimize")
    tuned = tuning.tuned_parameters("next-purchase", data, storage)
    assert tuned.best is None and tuned.study_found
    assert "has no completed trial" in tuned.describe()
    assert tuned.describe(["num_leaves"]).endswith("; overridden: num_leaves")


def test_a_missing_sqlite_storage_holds_no_study_and_is_not_created(tmp_path: Path) -> None:
    data = write_history(tmp_path / "a")
    storage_file = tmp_path / "absent" / "optuna.db"
    tuned = tuning.tuned_parameters("next-purchase", data, f"sqlite:///{storage_file}")
    assert tuned.best is None and not tuned.study_found
    assert not storage_file.exists()


def unreadable_storage(storage_file: Path, kind: str) -> str:
    """A SQLite storage URL whose file is ``kind``: "not a database" or "a folder"."""
    if kind == "a folder":
        storage_file.mkdir()
    else:
        storage_file.write_bytes(bytes(range(256)) * 8)
    return f"sqlite:///{storage_file}"


@pytest.mark.parametrize(
    ("kind", "error"),
    [("not a database", "DatabaseError"), ("a folder", "OperationalError")],
)
def test_an_unreadable_storage_is_a_user_error_naming_it(
    tmp_path: Path, kind: str, error: str
) -> None:
    data = write_history(tmp_path / "a")
    storage_file = tmp_path / "optuna.db"
    storage = unreadable_storage(storage_file, kind)
    with pytest.raises(UserInputError, match=error) as raised:
        tuning.tuned_parameters("next-purchase", data, storage)
    assert str(storage_file) in str(raised.value)
    with pytest.raises(UserInputError, match=error):
        tuning.best_params("quad", storage)


def test_a_storage_url_is_shown_without_its_password() -> None:
    shown = shown_url("postgresql://optuna:s3cret@db.internal/studies")
    assert "s3cret" not in shown and "db.internal/studies" in shown
    assert shown_url("sqlite:///optuna.db") == "sqlite:///optuna.db"


@pytest.mark.parametrize("kind", ["not a database", "a folder"])
def test_tuning_on_an_unreadable_storage_is_the_same_user_error_as_reading_it(
    tmp_path: Path, kind: str
) -> None:
    """`tune` on a corrupt optuna.db stops with the message `train` gives, before any trial."""
    storage_file = tmp_path / "optuna.db"
    storage = unreadable_storage(storage_file, kind)
    with pytest.raises(UserInputError) as reading:
        tuning.best_params("quad", storage)
    trials: list[int] = []

    def recorded(trial: optuna.Trial) -> float:
        trials.append(trial.number)
        return quadratic(trial)

    with pytest.raises(UserInputError) as tuning_run:
        tuning.run_study(
            recorded, "quad", storage, 2, "minimize", "tune-tests", show_progress=False
        )
    assert str(tuning_run.value) == str(reading.value)
    assert trials == []
    with pytest.raises(
        UserInputError, match=f"cannot read the Optuna storage sqlite:///{tmp_path}"
    ):
        tuning.check_study_storage(storage)


def test_checking_a_readable_or_missing_storage_passes_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "absent" / "optuna.db"
    tuning.check_study_storage(f"sqlite:///{missing}")
    assert not missing.parent.exists()
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    seed_study("kept", storage, {"num_leaves": 9})
    tuning.check_study_storage(storage)
    assert tuning.best_params("kept", storage) == {"num_leaves": 9}
