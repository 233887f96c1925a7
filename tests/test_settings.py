"""Settings: embedded defaults, environment overrides, command-line overrides, nothing at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from clientcast.settings import load_settings, settings_environment, workspace_settings
from features.errors import UserInputError


def test_defaults_follow_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()
    assert settings.tracking_uri == "sqlite:///mlruns.db"
    assert settings.mlflow_artifact_dir == Path("mlartifacts")
    assert settings.reference_currency == "EUR"
    assert settings.data_dir == Path("data/maison")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_REFERENCE_CURRENCY", "usd")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    settings = load_settings()
    assert settings.reference_currency == "USD"
    assert settings.tracking_uri == "sqlite:///elsewhere.db"


def test_command_line_overrides_win_and_none_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_DATA_DIR", "from-env")
    assert load_settings(data_dir=Path("cli")).data_dir == Path("cli")
    assert load_settings(data_dir=None).data_dir == Path("from-env")


def test_invalid_currency_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_REFERENCE_CURRENCY", "euro")
    with pytest.raises(UserInputError, match="3-letter") as refused:
        load_settings()
    assert str(refused.value).startswith("CLIENTCAST_REFERENCE_CURRENCY: 'euro' is not valid")


def test_every_bad_variable_is_named_in_one_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_SEED", "abc")
    monkeypatch.setenv("CLIENTCAST_SNAPSHOT_DIR", "snaps")
    with pytest.raises(UserInputError) as refused:
        load_settings(reference_currency="eu")
    message = str(refused.value)
    assert "CLIENTCAST_SEED: 'abc' is not valid: input should be a valid integer" in message
    assert "setting reference_currency: 'eu' is not valid" in message  # an override, not the env
    assert "SNAPSHOT" not in message
    assert not isinstance(refused.value, ValidationError)


def test_a_bad_secret_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserInputError, match="setting api_token") as refused:
        load_settings(api_token=["s3cret-token"])
    assert "s3cret" not in str(refused.value)


def test_api_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_API_TOKEN", "s3cret-token")
    settings = load_settings()
    assert settings.api_token is not None
    assert "s3cret-token" not in repr(settings)
    assert settings.api_token.get_secret_value() == "s3cret-token"


def test_importing_creates_nothing(tmp_path: Path) -> None:
    code = "import clientcast.cli, clientcast.settings, features, training, serving"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []


def test_workspace_settings_keep_every_output_under_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = workspace_settings(tmp_path, reference_currency="chf")
    assert settings.data_dir == tmp_path / "data" / "maison"
    assert settings.reference_currency == "CHF"
    for path in (settings.snapshot_dir, settings.forecast_dir, settings.mlflow_artifact_dir):
        assert path.parent == tmp_path
    for uri in (settings.tracking_uri, settings.optuna_storage):
        assert uri.startswith(f"sqlite:///{tmp_path}/")
    for name, value in settings_environment(settings).items():
        monkeypatch.setenv(name, value)
    assert load_settings(reference_currency="CHF") == settings
