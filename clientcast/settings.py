"""Typed settings: the one place where clientcast's defaults live.

Every field can be overridden by an environment variable prefixed ``CLIENTCAST_`` (for example
``CLIENTCAST_DATA_DIR``) and most by a command-line option. Nothing is read or created at import
time: call :func:`load_settings` when a command runs. A value that does not fit its field is a
:class:`features.errors.UserInputError` naming the variable, not a pydantic traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.errors import UserInputError
from features.random_seed import DEFAULT_SEED

ENV_PREFIX = "CLIENTCAST_"
SECRET_FIELDS = frozenset({"api_token"})
"""Fields whose value an error message never repeats."""

DEFAULT_DATA_DIR = Path("data/maison")


class Settings(BaseSettings):
    """clientcast's configuration, with the defaults of DESIGN.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Folder of the unified purchase history.")
    snapshot_dir: Path = Field(Path("snapshots"), description="Where online snapshots are written.")
    forecast_dir: Path = Field(Path("forecasts"), description="Where planners' forecasts go.")
    reference_currency: str = Field("EUR", description="Currency all money is converted to.")
    mlflow_tracking_uri: str = Field(
        "sqlite:///mlruns.db", description="MLflow store; MLFLOW_TRACKING_URI wins when set."
    )
    mlflow_artifact_dir: Path = Field(
        Path("mlartifacts"), description="Artifact root for the default sqlite store."
    )
    optuna_storage: str = Field("sqlite:///optuna.db", description="Optuna study storage.")
    next_purchase_model: str = Field("clientcast-next-purchase", description="Registered name.")
    footfall_model: str = Field("clientcast-footfall", description="Registered name.")
    api_token: SecretStr | None = Field(None, description="Bearer token the service requires.")
    seed: int = Field(DEFAULT_SEED, description="Seed for generation, sampling and model training.")

    @field_validator("reference_currency")
    @classmethod
    def _upper_iso_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code such as EUR")
        return value.upper()

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else the default store."""
        return os.environ.get("MLFLOW_TRACKING_URI") or self.mlflow_tracking_uri


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, then apply non-None command-line overrides.

    Raises UserInputError naming each variable (or overridden setting) whose value does not fit.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        raise UserInputError(settings_problems(error, given)) from None


def settings_problems(error: ValidationError, overrides: dict[str, object]) -> str:
    """One sentence per invalid field: the ``CLIENTCAST_*`` variable (or the setting, when the
    value came from an override), the value (never a secret's) and what is wrong with it."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "settings"
        name = f"setting {field}" if field in overrides else f"{ENV_PREFIX}{field.upper()}"
        reason = str(problem["msg"]).removeprefix("Value error, ")
        reason = reason[:1].lower() + reason[1:]
        value = "" if field in SECRET_FIELDS else f" {problem.get('input')!r}"
        problems.append(f"{name}:{value} is not valid: {reason}")
    return "; ".join(problems)


def workspace_settings(root: Path, data_dir: Path | None = None, **overrides: object) -> Settings:
    """Settings whose every output lives under ``root``: snapshots, forecasts, MLflow and Optuna.

    Notebooks, tests and benchmarks use it to work in one folder of their own; ``data_dir``
    defaults to ``root / data/maison``.
    """
    root = Path(root)
    paths: dict[str, object] = {
        "data_dir": data_dir or root / DEFAULT_DATA_DIR,
        "snapshot_dir": root / "snapshots",
        "forecast_dir": root / "forecasts",
        "mlflow_tracking_uri": f"sqlite:///{root / 'mlruns.db'}",
        "mlflow_artifact_dir": root / "mlartifacts",
        "optuna_storage": f"sqlite:///{root / 'optuna.db'}",
    }
    return load_settings(**{**paths, **overrides})


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``CLIENTCAST_*`` variables that give another process (the service) these paths."""
    return {
        "CLIENTCAST_DATA_DIR": str(settings.data_dir),
        "CLIENTCAST_SNAPSHOT_DIR": str(settings.snapshot_dir),
        "CLIENTCAST_FORECAST_DIR": str(settings.forecast_dir),
        "CLIENTCAST_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "CLIENTCAST_MLFLOW_ARTIFACT_DIR": str(settings.mlflow_artifact_dir),
        "CLIENTCAST_OPTUNA_STORAGE": settings.optuna_storage,
    }
