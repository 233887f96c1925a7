"""LightGBM parameters of the footfall models: the defaults and the Optuna search space.

Plain functions of an Optuna trial, so that ``clientcast tune footfall`` and the tests share
them. A study's best parameters override the defaults key by key (:func:`booster_params`).
The defaults were chosen on the Auckland validation origins of 2024, before the benchmark's
evaluation origins (see ``benchmarks/results/auckland.md``).
"""

from __future__ import annotations

from typing import Any

import optuna

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "l1",
    "learning_rate": 0.05,
    "num_boost_round": 400,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "lambda_l2": 1.0,
}
OBJECTIVES: tuple[str, ...] = ("l1", "huber", "l2")


def booster_space(trial: optuna.Trial) -> dict[str, Any]:
    """The footfall booster parameters sampled for one trial."""
    return {
        "objective": trial.suggest_categorical("objective", list(OBJECTIVES)),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.15, log=True),
        "num_boost_round": trial.suggest_int("num_boost_round", 100, 800, step=50),
        "num_leaves": trial.suggest_int("num_leaves", 15, 127, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
    }


def booster_params(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default parameters with ``overrides`` (e.g. a study's best) applied."""
    return {**DEFAULT_PARAMS, **(overrides or {})}
