"""`train` uses the parameters of the Optuna study tuned on the very history it trains on, and
says which: in its report (what the command line prints) and in the MLflow run's params and tags.

Two histories hold the same rows in two folders: a study tuned on one must not feed the other.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from rich.console import Console
from typer.testing import CliRunner

from clientcast.cli import app
from clientcast.settings import Settings, workspace_settings
from features.errors import UserInputError
from features.synthetic import MaisonConfig, generate_maison
from training import tuning
from training.footfall.pipeline import FootfallOptions, study_family, train_footfall
from training.next_purchase.pipeline import (
    STUDY_FAMILY,
    RecipeOptions,
    train_next_purchase,
    tune_next_purchase,
)
from training.next_purchase.search_space import DEFAULT_PARAMS

pytestmark = pytest.mark.slow

LIGHT = RecipeOptions(n_training=2, max_rounds=20, early_stopping_rounds=5, num_threads=1)
LIGHT_FOOTFALL = FootfallOptions(
    granularities=("daily",),
    daily_origins=1,
    warmup_origins=1,
    daily_training_step_days=28,
    num_threads=1,
    autoets=False,
    plot_boutiques=1,
)
FOOTFALL_BEST = {"num_boost_round": 30, "num_leaves": 7}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """History ``a`` and its copy ``b``, one MLflow store and one Optuna storage for both."""
    root = tmp_path_factory.mktemp("tuned-training")
    generate_maison(root / "a", MaisonConfig(clients=200, boutiques=8, years=1.5, seed=5))
    shutil.copytree(root / "a", root / "b")
    patch = pytest.MonkeyPatch()
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield root
    patch.undo()


def settings_for(root: Path, history: str) -> Settings:
    return workspace_settings(root, data_dir=root / history)


@pytest.fixture(scope="module")
def tuned(workspace: Path) -> dict:
    """``clientcast tune next-purchase`` on history ``a``: two trials."""
    return tune_next_purchase(settings_for(workspace, "a"), 2, options=LIGHT)


def printed(report: object) -> str:
    """What the command line shows of a training report."""
    console = Console(record=True, width=400)
    console.print(report)
    return console.export_text()


def squeezed(text: str) -> str:
    """``text`` without whitespace: the terminal wraps long lines, and paths, where it likes."""
    return "".join(text.split())


def run_record(run_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """The params and tags of an MLflow run."""
    run = MlflowClient().get_run(run_id)
    return dict(run.data.params), dict(run.data.tags)


def test_the_study_is_named_after_the_tuned_history(workspace: Path, tuned: dict) -> None:
    assert tuned["study_name"] == tuning.study_name(STUDY_FAMILY, workspace / "a")
    assert tuned["study_name"] != tuning.study_name(STUDY_FAMILY, workspace / "b")
    assert tuned["completed"] >= 1 and tuned["best_params"]


def test_training_on_other_data_uses_the_defaults_and_says_so(workspace: Path, tuned: dict) -> None:
    report = train_next_purchase(settings_for(workspace, "b"), None, options=LIGHT)
    other_study = tuning.study_name(STUDY_FAMILY, workspace / "b")
    assert report.params == DEFAULT_PARAMS
    assert report.params_source.startswith(f"defaults: no Optuna study {other_study}")
    assert f"parameters: defaults: no Optuna study {other_study}" in report.summary()
    assert f"parameters: defaults: no Optuna study {other_study}" in printed(report)
    params, tags = run_record(report.run_id)
    assert params["params_source"] == tags["params_source"] == "defaults"
    assert params["optuna_study"] == tags["optuna_study"] == other_study


def test_training_on_the_tuned_data_uses_the_best_and_says_so(workspace: Path, tuned: dict) -> None:
    report = train_next_purchase(settings_for(workspace, "a"), None, options=LIGHT)
    assert report.params == {**DEFAULT_PARAMS, **tuned["best_params"]}
    assert report.params != DEFAULT_PARAMS
    source = f"best of {tuned['completed']} trials of Optuna study {tuned['study_name']}"
    assert report.params_source == source
    assert f"parameters: {source}" in report.summary()
    assert f"parameters: {source}" in printed(report)
    params, tags = run_record(report.run_id)
    assert params["params_source"] == tags["params_source"] == "optuna"
    assert params["optuna_study"] == tags["optuna_study"] == tuned["study_name"]
    assert int(params["lgb.num_leaves"]) == tuned["best_params"]["num_leaves"]


def test_an_unreadable_study_storage_stops_training(workspace: Path) -> None:
    broken = workspace / "broken-optuna.db"
    broken.write_bytes(b"not a database" * 100)
    settings = settings_for(workspace, "a").model_copy(
        update={"optuna_storage": f"sqlite:///{broken}"}
    )
    with pytest.raises(UserInputError, match=f"cannot read the Optuna study .*{broken}"):
        train_next_purchase(settings, None, options=LIGHT)


def test_footfall_training_names_the_study_of_each_granularity(workspace: Path) -> None:
    """A footfall study recorded for history ``a`` (as `clientcast tune footfall` leaves it):
    training on ``a`` uses it, training on its copy ``b`` does not."""
    import optuna

    settings_a, settings_b = settings_for(workspace, "a"), settings_for(workspace, "b")
    daily_study = tuning.study_name(study_family("daily"), settings_a.data_dir)
    study = optuna.create_study(study_name=daily_study, storage=settings_a.optuna_storage)
    distributions = {key: optuna.distributions.IntDistribution(2, 1000) for key in FOOTFALL_BEST}
    study.add_trial(
        optuna.trial.create_trial(params=FOOTFALL_BEST, distributions=distributions, value=1.0)
    )

    tuned_run = train_footfall(settings_a, None, options=LIGHT_FOOTFALL)
    assert tuned_run.params["daily"]["num_leaves"] == FOOTFALL_BEST["num_leaves"]
    assert tuned_run.params_sources == {"daily": f"best of 1 trials of Optuna study {daily_study}"}
    assert f"daily: best of 1 trials of Optuna study {daily_study}" in printed(tuned_run)
    params, tags = run_record(tuned_run.run_id)
    assert params["daily.params_source"] == tags["daily.params_source"] == "optuna"
    assert params["daily.optuna_study"] == daily_study

    default_run = train_footfall(settings_b, None, options=LIGHT_FOOTFALL)
    other_study = tuning.study_name(study_family("daily"), settings_b.data_dir)
    assert default_run.params["daily"]["num_leaves"] != FOOTFALL_BEST["num_leaves"]
    assert default_run.params_sources["daily"].startswith(
        f"defaults: no Optuna study {other_study}"
    )
    assert "parameters: daily: defaults: no Optuna study" in default_run.summary()
    params, tags = run_record(default_run.run_id)
    assert params["daily.params_source"] == tags["daily.params_source"] == "defaults"


def test_the_train_command_stops_on_an_unreadable_study_storage(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = workspace / "unreadable-optuna.db"
    broken.write_bytes(b"\x00garbage" * 200)
    monkeypatch.setenv("CLIENTCAST_OPTUNA_STORAGE", f"sqlite:///{broken}")
    monkeypatch.setenv("CLIENTCAST_MLFLOW_TRACKING_URI", f"sqlite:///{workspace / 'cli.db'}")
    monkeypatch.setenv("CLIENTCAST_MLFLOW_ARTIFACT_DIR", str(workspace / "cli-artifacts"))
    result = CliRunner().invoke(app, ["train", "next-purchase", "--data", str(workspace / "a")])
    assert result.exit_code == 2, result.output
    assert squeezed("cannot read the Optuna study") in squeezed(result.output)
    assert squeezed(str(broken)) in squeezed(result.output)


def test_the_tune_command_names_the_study_and_the_data_it_serves(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage itself is replaced: only what the command prints is under test here."""
    import training.footfall.pipeline

    data = workspace / "a"

    def tuned_footfall(settings: Settings, trials: int, **_: object) -> dict:
        return {
            name: {"study_name": tuning.study_name(study_family(name), settings.data_dir)}
            for name in ("daily", "hourly")
        }

    monkeypatch.setattr(training.footfall.pipeline, "tune_footfall", tuned_footfall)
    monkeypatch.setenv("CLIENTCAST_MLFLOW_TRACKING_URI", f"sqlite:///{workspace / 'cli.db'}")
    result = CliRunner().invoke(app, ["tune", "footfall", "--trials", "1", "--data", str(data)])
    assert result.exit_code == 0, result.output
    for name in ("daily", "hourly"):
        assert squeezed(tuning.study_name(study_family(name), data)) in squeezed(result.output)
    assert squeezed(f"clientcast train footfall --data {data}") in squeezed(result.output)
