"""Every command refuses bad input before it works: the data contract, --as-of, the settings,
the port; refusals exit 2 with a message naming what is wrong, never a traceback."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from typer.testing import CliRunner

from clientcast.cli import app

runner = CliRunner()

HISTORY_COMMANDS: dict[str, list[str]] = {
    "features": ["features"],
    "train": ["train"],
    "tune": ["tune", "next-purchase", "--trials", "1"],
    "backtest": ["backtest", "next-purchase"],
    "forecast": ["forecast"],
    "forecast footfall": ["forecast", "footfall"],
}
"""Every command that reads a history, as its command line without --data."""

AS_OF_COMMANDS = ("features", "train", "backtest", "forecast", "forecast footfall")


@pytest.fixture(scope="module")
def tiny_maison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic maison (40 clients, 8 boutiques, one year to 2026-06-30)."""
    from features.synthetic import MaisonConfig, generate_maison

    data_dir = tmp_path_factory.mktemp("input-checks") / "maison"
    generate_maison(data_dir, MaisonConfig(clients=40, boutiques=8, years=1))
    return data_dir


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory: any default output (MLflow store, snapshots) would land here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield tmp_path


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace every stage a command runs after its checks; return the stages that were called."""
    import clientcast.cli
    import features.snapshot
    import training.footfall.pipeline as footfall
    import training.forecasts as forecasts
    import training.next_purchase.pipeline as next_purchase

    called: list[str] = []

    def stage(name: str) -> object:
        def run(*args: object, **kwargs: object) -> str:
            called.append(name)
            return f"{name} ran"

        return run

    monkeypatch.setattr(clientcast.cli, "configure_tracking", stage("configure_tracking"))
    monkeypatch.setattr(features.snapshot, "write_snapshot", stage("write_snapshot"))
    for module, names in (
        (next_purchase, ("train_next_purchase", "backtest_next_purchase", "tune_next_purchase")),
        (footfall, ("train_footfall", "backtest_footfall", "tune_footfall")),
        (forecasts, ("write_forecasts", "write_footfall_forecasts")),
    ):
        for name in names:
            monkeypatch.setattr(module, name, stage(name))
    return called


@pytest.fixture
def contract_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation finds nothing: for tests of what the commands check after it."""
    import features.validation

    report = SimpleNamespace(ok=True, violations=(), render=lambda: "")
    monkeypatch.setattr(features.validation, "validate_history", lambda *a, **k: report)


def broken_copy(maison: Path, root: Path) -> Path:
    """A copy of ``maison`` whose transactions call ``amount`` 'Amount' (a renamed column)."""
    data_dir = root / "renamed_col"
    shutil.copytree(maison, data_dir)
    path = data_dir / "transactions.parquet"
    pl.read_parquet(path).rename({"amount": "Amount"}).write_parquet(path)
    return data_dir


def invoke(arguments: list[str]) -> SimpleNamespace:
    """Run the command line; the output with its lines joined (rich wraps long messages)."""
    result = runner.invoke(app, arguments, terminal_width=300)
    return SimpleNamespace(exit_code=result.exit_code, output=" ".join(result.output.split()))


# -- the data contract ------------------------------------------------------------------------


@pytest.mark.parametrize("command", HISTORY_COMMANDS)
def test_a_history_breaking_the_contract_stops_every_command_before_any_work(
    command: str, tiny_maison: Path, workspace: Path, no_work: list[str]
) -> None:
    data_dir = broken_copy(tiny_maison, workspace)
    result = invoke([*HISTORY_COMMANDS[command], "--data", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    # validate's own report: the file, the column, the rule; then one line saying what it means
    assert "transactions.parquet · column amount · rule required_column" in result.output
    assert f"validating {data_dir}" in result.output
    assert f"{data_dir} breaks the data contract" in result.output
    assert no_work == []  # not even the MLflow store was opened
    assert sorted(path.name for path in workspace.iterdir()) == ["renamed_col"]


def test_the_demo_checks_an_existing_history_the_same_way(
    tiny_maison: Path, workspace: Path, no_work: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = broken_copy(tiny_maison, workspace)
    monkeypatch.setenv("CLIENTCAST_DATA_DIR", str(data_dir))
    result = invoke(["demo"])
    assert result.exit_code == 2, result.output
    assert "rule required_column" in result.output
    assert f"{data_dir} breaks the data contract" in result.output
    assert no_work == []


def test_the_commands_print_the_report_validate_prints(
    tiny_maison: Path, workspace: Path, no_work: list[str]
) -> None:
    data_dir = broken_copy(tiny_maison, workspace)
    validated = runner.invoke(app, ["validate", str(data_dir)], terminal_width=300)
    refused = runner.invoke(app, ["features", "--data", str(data_dir)], terminal_width=300)
    assert validated.exit_code == refused.exit_code == 2
    report = [line for line in validated.output.splitlines() if line.strip()]
    assert report and all(line in refused.output for line in report)


def test_warnings_are_printed_and_the_command_goes_on(
    tiny_maison: Path, workspace: Path, no_work: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.validation

    warned = SimpleNamespace(ok=True, violations=("one",), render=lambda: "! warning: odd hours")
    monkeypatch.setattr(features.validation, "validate_history", lambda *a, **k: warned)
    result = invoke(["features", "--data", str(tiny_maison)])
    assert result.exit_code == 0, result.output
    assert "! warning: odd hours" in result.output
    assert no_work == ["write_snapshot"]


def test_validation_uses_the_settings_reference_currency(
    tiny_maison: Path, workspace: Path, no_work: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.validation

    validate = features.validation.validate_history
    seen: list[str] = []

    def recording_validate(data_dir: Path, reference_currency: str = "EUR") -> object:
        seen.append(reference_currency)
        return validate(data_dir, reference_currency=reference_currency)

    monkeypatch.setattr(features.validation, "validate_history", recording_validate)
    monkeypatch.setenv("CLIENTCAST_REFERENCE_CURRENCY", "chf")
    invoke(["features", "--data", str(tiny_maison)])
    assert seen == ["CHF"]


def test_a_valid_history_is_validated_then_worked_on(
    tiny_maison: Path, workspace: Path, no_work: list[str]
) -> None:
    result = invoke(["features", "--data", str(tiny_maison)])
    assert result.exit_code == 0, result.output
    validated = result.output.index(f"✓ features: validating {tiny_maison}")
    assert validated < result.output.index("✓ features: computing the online snapshot")
    assert no_work == ["write_snapshot"]


# -- --as-of ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", AS_OF_COMMANDS)
def test_an_as_of_before_the_first_purchase_is_refused_alike_by_every_command(
    command: str, tiny_maison: Path, workspace: Path, no_work: list[str], contract_followed: None
) -> None:
    from features.history import load_history
    from features.snapshot import history_span

    first_day = history_span(load_history(tiny_maison)).first_day
    arguments = [*HISTORY_COMMANDS[command], "--data", str(tiny_maison), "--as-of", "2020-01-01"]
    result = invoke(arguments)
    assert result.exit_code == 2, result.output
    expected = f"--as-of 2020-01-01 is not after the history's first purchase ({first_day})"
    assert expected in result.output
    assert no_work == []


@pytest.mark.parametrize("command", AS_OF_COMMANDS)
def test_an_as_of_long_after_the_last_data_is_refused_with_both_dates(
    command: str, tiny_maison: Path, workspace: Path, no_work: list[str], contract_followed: None
) -> None:
    arguments = [*HISTORY_COMMANDS[command], "--data", str(tiny_maison), "--as-of", "2030-01-01"]
    result = invoke(arguments)
    assert result.exit_code == 2, result.output
    assert "--as-of 2030-01-01 is 1,281 days after the history's last data (2026-06-30)" in (
        result.output
    )
    assert no_work == []


def test_an_as_of_a_few_days_after_the_last_data_is_accepted(tiny_maison: Path) -> None:
    from features.history import load_history
    from features.snapshot import AS_OF_GRACE_DAYS, checked_as_of, history_span

    history = load_history(tiny_maison)
    span = history_span(history)
    assert checked_as_of(history, None) == span.default_as_of == date(2026, 7, 1)
    latest = date.fromordinal(span.default_as_of.toordinal() + AS_OF_GRACE_DAYS)
    assert checked_as_of(history, latest) == latest
    assert checked_as_of(history, span.last_day) == span.last_day


# -- settings, demo, serve ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("CLIENTCAST_SEED", "abc", "valid integer"),
        ("CLIENTCAST_REFERENCE_CURRENCY", "euro", "3-letter ISO 4217 code"),
    ],
)
def test_a_bad_environment_variable_is_a_user_error_naming_it(
    variable: str, value: str, words: str, tiny_maison: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    result = invoke(["validate", str(tiny_maison)])
    assert result.exit_code == 2, result.output
    assert f"{variable}: {value!r} is not valid" in result.output and words in result.output
    assert "Traceback" not in result.output


def test_demo_with_a_file_for_its_data_folder_names_the_variable(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / "afile").write_text("not a folder")
    monkeypatch.setenv("CLIENTCAST_DATA_DIR", str(workspace / "afile"))
    result = invoke(["demo"])
    assert result.exit_code == 2, result.output
    assert "CLIENTCAST_DATA_DIR" in result.output and "--out" not in result.output


@pytest.fixture
def serving_stubs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record what `serve` would exec instead of replacing the test process; no readiness work."""
    import os

    import serving.startup

    executed: list[list[str]] = []
    monkeypatch.setattr(serving.startup, "check_ready_to_serve", lambda settings: None)
    monkeypatch.setattr(os, "execvpe", lambda file, args, env: executed.append(list(args)))
    return executed


def test_serve_refuses_a_port_in_use_before_starting(
    serving_stubs: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.startup

    def not_reached(settings: object) -> None:
        raise AssertionError("the port is checked before the models and snapshot are loaded")

    monkeypatch.setattr(serving.startup, "check_ready_to_serve", not_reached)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = invoke(["serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"port {port} on 127.0.0.1 is in use" in result.output
    assert serving_stubs == []


def test_serve_becomes_the_bentoml_server(serving_stubs: list[list[str]]) -> None:
    with socket.socket() as probe:  # a port free right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke(["serve", "--port", str(port)])
    assert result.exit_code == 0, result.output
    [command] = serving_stubs
    assert command[1:5] == ["-m", "bentoml", "serve", "serving.service:Clientcast"]
    assert command[-4:] == ["--host", "127.0.0.1", "--port", str(port)]


def test_serve_names_a_host_this_machine_does_not_have(serving_stubs: list[list[str]]) -> None:
    result = invoke(["serve", "--host", "192.0.2.1", "--port", "3999"])  # TEST-NET-1
    assert result.exit_code == 2, result.output
    assert "192.0.2.1 is not an address of this machine" in result.output
