"""Optuna studies persist in SQLite, log to MLflow and hand their best parameters back."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from training import tracking, tuning


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


def test_best_params_of_a_missing_study_is_none(tmp_path: Path) -> None:
    assert tuning.best_params("nothing", f"sqlite:///{tmp_path / 'optuna.db'}") is None
