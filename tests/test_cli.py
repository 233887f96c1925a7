"""The command line: every command documents itself; user mistakes exit 2 without a traceback."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from clientcast.cli import app

COMMANDS = (
    "generate",
    "validate",
    "features",
    "train",
    "tune",
    "backtest",
    "forecast",
    "serve",
    "benchmark",
    "demo",
)

runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_a_bad_date_is_a_user_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--data", str(tmp_path), "--as-of", "2024-13-40"])
    assert result.exit_code == 2
    assert "--as-of" in result.output
    assert "not an ISO date" in result.output
    assert "Traceback" not in result.output


def test_a_missing_data_folder_is_a_user_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "nowhere" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_model_family_is_refused() -> None:
    result = runner.invoke(app, ["tune", "churn"])
    assert result.exit_code == 2


def test_a_benchmark_outside_the_repository_refuses_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["benchmark", "cdnow"])
    assert result.exit_code == 2
    assert "benchmarks/results" in result.output and "--no-record" in result.output
    assert not (tmp_path / "docs").exists()


def test_features_shows_its_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import features.snapshot
    import features.validation

    def fake_snapshot(data_dir: Path, as_of: object, root: Path, currency: str) -> str:
        return f"snapshot of {data_dir}"

    followed = SimpleNamespace(ok=True, violations=(), render=lambda: "")
    monkeypatch.setattr(features.validation, "validate_history", lambda *a, **k: followed)
    monkeypatch.setattr(features.snapshot, "write_snapshot", fake_snapshot)
    result = runner.invoke(app, ["features", "--data", str(tmp_path)], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "✓ features: validating" in result.output
    assert "✓ features: computing the online snapshot" in result.output


@pytest.mark.parametrize("name", ["cdnow", "auckland"])
def test_benchmark_shows_the_steps_it_announces(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import training.benchmarks.auckland as auckland
    import training.benchmarks.cdnow as cdnow

    def fake_run(json_path: Path | None = None, *, progress: object = None) -> dict:
        assert callable(progress)
        progress("fitting the peers")
        return {}

    monkeypatch.setattr(cdnow, "run_cdnow_benchmark", fake_run)
    monkeypatch.setattr(cdnow, "markdown_table", lambda results: "table")
    monkeypatch.setattr(auckland, "run_auckland_benchmark", fake_run)
    monkeypatch.setattr(auckland, "auckland_tables", lambda results: {"daily": "table"})
    result = runner.invoke(app, ["benchmark", name, "--no-record"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert f"✓ benchmark {name}: fitting the peers" in result.output


def test_forecast_horizon_beyond_the_daily_horizon_is_a_user_error(tmp_path: Path) -> None:
    from features.snapshot import DAILY_HORIZON_DAYS

    arguments = ["forecast", "--data", str(tmp_path), "--horizon", str(DAILY_HORIZON_DAYS + 1)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert f"between 1 and {DAILY_HORIZON_DAYS}" in result.output


def test_generate_seed_defaults_to_the_settings_seed() -> None:
    from clientcast.settings import DEFAULT_SEED, Settings
    from training.tuning import open_study

    assert Settings.model_fields["seed"].default == DEFAULT_SEED
    seed = next(p for p in click_params("generate") if p.name == "seed")
    assert seed.default == DEFAULT_SEED
    assert inspect.signature(open_study).parameters["seed"].default == DEFAULT_SEED


def click_params(command: str) -> list:
    """The click parameters of a command of the app."""
    import typer.main

    group = typer.main.get_command(app)
    return group.commands[command].params  # type: ignore[attr-defined]
