"""Optuna search spaces for the next-purchase boosters, as plain functions of a trial.

The defaults are the parameters used when no study has run yet; a study's best parameters
(:func:`training.tuning.best_params`) override them key by key.
"""

from __future__ import annotations

from typing import Any

import optuna

DEFAULT_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "lambda_l2": 1.0,
}


def booster_space(trial: optuna.Trial) -> dict[str, Any]:
    """The LightGBM parameters shared by every head, sampled for one trial."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


def booster_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default parameters with ``overrides`` (e.g. a study's best) applied."""
    return {**DEFAULT_PARAMS, **(overrides or {})}
