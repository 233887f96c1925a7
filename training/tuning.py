"""Optuna studies for the model families: TPE sampling, median pruning, SQLite persistence.

Each family supplies an objective and a search space (plain functions in its ``search_space``
module); this module runs the study inside a parent MLflow run, one nested run per trial, and
reads back the best parameters that ``clientcast train`` then uses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import optuna

from clientcast.settings import DEFAULT_SEED
from training import tracking

Objective = Callable[[optuna.Trial], float]


def open_study(
    study_name: str,
    storage: str,
    direction: Literal["minimize", "maximize"],
    seed: int = DEFAULT_SEED,
) -> optuna.Study:
    """Create or resume the study ``study_name`` in ``storage`` with TPE and median pruning."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
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
    """Run ``n_trials`` of ``objective`` in a parent MLflow run; return the study."""
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


def best_params(study_name: str, storage: str) -> dict[str, Any] | None:
    """The best parameters of a finished study, or None when it does not exist or has none."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        return None
    return dict(study.best_params)
