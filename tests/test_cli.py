"""The command line: every command documents itself; user mistakes exit 2 without a traceback."""

from __future__ import annotations

from pathlib import Path

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
