"""Optuna studies for the model families: TPE sampling, median pruning, SQLite persistence.

Each family supplies an objective and a search space (plain functions in its ``search_space``
module); this module runs the study inside a parent MLflow run, one nested run per trial, and
reads back the best parameters that ``clientcast train`` then uses.

A study is tuned on one history and named after it, ``<family>@<fingerprint>`` (for example
``footfall-daily@3f2a9c01b7e4``; :func:`study_name` is the one place that builds the name), so
that training on another history finds no study and uses the defaults, saying so, instead of
parameters chosen on other data; retraining on the same folder after new sales arrived keeps them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna

from features.errors import UserInputError
from features.history import HistoryError
from features.random_seed import DEFAULT_SEED
from training import tracking
from training.store_urls import shown_url, sqlite_database

Objective = Callable[[optuna.Trial], float]

FINGERPRINT_LENGTH = 12
"""Hexadecimal digits of the data fingerprint kept in a study name (48 bits)."""

PARAMS_FROM_STUDY = "optuna"
PARAMS_FROM_DEFAULTS = "defaults"


def data_fingerprint(data_dir: Path | str) -> str:
    """A short hash naming the data source in ``data_dir``: its resolved folder path.

    A study belongs to the history it was tuned on. The folder, not its contents, names that
    history: a maison's folder receives new days of sales between retrainings, and the daily
    ``train`` on the refreshed history should keep the parameters tuned on it (re-run ``tune``
    to refresh them), whereas another folder (``--data B``) is another source whose study, if
    any, is its own. Hashing the contents would also cost seconds on every ``train``.
    """
    folder = Path(data_dir).resolve()
    if not folder.is_dir():
        raise HistoryError(f"{data_dir}: no such data folder")
    return hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


def study_name(family: str, data_dir: Path | str) -> str:
    """The name of ``family``'s study tuned on the history in ``data_dir``:
    ``<family>@<data fingerprint>`` (see :func:`data_fingerprint`)."""
    return f"{family}@{data_fingerprint(data_dir)}"


def open_study(
    study_name: str,
    storage: str,
    direction: Literal["minimize", "maximize"],
    seed: int = DEFAULT_SEED,
) -> optuna.Study:
    """Create or resume the study ``study_name`` in ``storage`` with TPE and median pruning.

    An unreadable storage raises :class:`UserInputError` (:func:`storage_errors`), as reading
    a study does.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with storage_errors(study_name, storage):
        return optuna.create_study(
            study_name=study_name,
            storage=storage,
            direction=direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
            load_if_exists=True,
        )


def run_study(
    objective: Objective,
    study_name: str,
    storage: str,
    n_trials: int,
    direction: Literal["minimize", "maximize"],
    mlflow_experiment: str,
    metric_name: str = "validation_score",
    seed: int = DEFAULT_SEED,
    show_progress: bool = True,
) -> optuna.Study:
    """Run ``n_trials`` of ``objective`` in a parent MLflow run; return the study.

    An unreadable storage raises :class:`UserInputError` before the first trial
    (:func:`open_study`).
    """
    study = open_study(study_name, storage, direction, seed=seed)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    with tracking.training_run(mlflow_experiment, run_name=f"tune-{study_name}") as _:
        callback = tracking.optuna_callback(metric_name)
        study.optimize(
            objective, n_trials=n_trials, callbacks=[callback], show_progress_bar=show_progress
        )
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if completed:
            tracking.log_params({f"best.{key}": value for key, value in study.best_params.items()})
            tracking.log_metrics({f"best_{metric_name}": study.best_value})
    return study


def _sqlite_file_missing(storage: str) -> bool:
    """Whether ``storage`` is a SQLite file that does not exist (so holds no study): opening it
    would create it. Any other URL, even a bad one, is left to Optuna to report."""
    database = sqlite_database(storage)
    return database is not None and not database.exists()


@contextmanager
def storage_errors(study_name: str | None, storage: str) -> Iterator[None]:
    """Turn a failure to read ``storage`` (not a database, a schema of another Optuna version,
    a missing driver, a bad URL, a locked file) into a :class:`UserInputError` naming it (and
    the study ``study_name``, if given): it must not read as "no study", which would train on
    the defaults without a word."""
    from sqlalchemy.exc import SQLAlchemyError

    subject = (
        "the Optuna storage" if study_name is None else f"the Optuna study {study_name!r} from"
    )

    try:
        yield
    except (
        SQLAlchemyError,
        optuna.exceptions.StorageInternalError,
        RuntimeError,  # the storage's schema belongs to another Optuna version
        ImportError,  # no driver for the storage URL's database
        OSError,
    ) as error:
        raise UserInputError(
            f"cannot read {subject} {shown_url(storage)} "
            f"({type(error).__name__}: {str(error).splitlines()[0]}): repair or remove that "
            "storage, or point CLIENTCAST_OPTUNA_STORAGE at another one"
        ) from error


def check_study_storage(storage: str) -> None:
    """Open the Optuna ``storage`` once (list its studies) so that an unreadable one stops `tune`
    or `train` before their work: raises :class:`UserInputError` (:func:`storage_errors`). A
    missing SQLite file holds no study yet and is not created."""
    if _sqlite_file_missing(storage):
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with storage_errors(None, storage):
        optuna.get_all_study_names(storage=storage)


def load_existing_study(study_name: str, storage: str) -> optuna.Study | None:
    """The study ``study_name`` of ``storage``; None when there is none. An unreadable storage
    raises :class:`UserInputError` (:func:`storage_errors`)."""
    if _sqlite_file_missing(storage):
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with storage_errors(study_name, storage):
        try:
            return optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:  # Optuna's answer for a study name the storage does not hold
            return None


def completed_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials of ``study`` that finished with a value."""
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def best_params(study_name: str, storage: str) -> dict[str, Any] | None:
    """The best parameters of a finished study, or None when it does not exist or has none.

    An unreadable storage raises :class:`UserInputError` (:func:`storage_errors`).
    """
    study = load_existing_study(study_name, storage)
    if study is None:
        return None
    with storage_errors(study_name, storage):
        return dict(study.best_params) if completed_trials(study) else None


@dataclass(frozen=True)
class TunedParameters:
    """The parameters a run takes from Optuna, and where from: the study tuned on its data.

    ``best`` is None when that study does not exist or has no completed trial: the run then
    uses the family's defaults.
    """

    study_name: str
    storage: str
    best: dict[str, Any] | None
    study_found: bool
    completed_trials: int

    @property
    def source(self) -> str:
        """``optuna`` when the study's best parameters are used, else ``defaults``."""
        return PARAMS_FROM_STUDY if self.best is not None else PARAMS_FROM_DEFAULTS

    def describe(self, overridden: Iterable[str] = ()) -> str:
        """Where the parameters come from, in words (and which keys the recipe overrode)."""
        if self.best is not None:
            text = f"best of {self.completed_trials} trials of Optuna study {self.study_name}"
        elif self.study_found:
            text = f"defaults: Optuna study {self.study_name} has no completed trial"
        else:
            text = (
                f"defaults: no Optuna study {self.study_name} for this data in "
                f"{shown_url(self.storage)}"
            )
        overrides = sorted(overridden)
        return f"{text}; overridden: {', '.join(overrides)}" if overrides else text

    def record(self, prefix: str = "") -> dict[str, str]:
        """What a training run logs of it (MLflow params and tags): the source and the study."""
        return {f"{prefix}params_source": self.source, f"{prefix}optuna_study": self.study_name}


def tuned_parameters(family: str, data_dir: Path | str, storage: str) -> TunedParameters:
    """``family``'s study tuned on the history in ``data_dir`` (:func:`study_name`) and its
    best parameters; ``best`` is None, for the defaults, when there is no such finished study.

    An unreadable storage raises :class:`UserInputError`: never silently the defaults.
    """
    name = study_name(family, data_dir)
    study = load_existing_study(name, storage)
    if study is None:
        return TunedParameters(name, storage, None, study_found=False, completed_trials=0)
    with storage_errors(name, storage):
        completed = completed_trials(study)
        best = dict(study.best_params) if completed else None
    return TunedParameters(name, storage, best, study_found=True, completed_trials=len(completed))
