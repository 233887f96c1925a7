"""The settings the training and serving stages read, as a typing Protocol.

The stages sit below the command line: they cannot import :mod:`clientcast.settings` (the CLI on
top of them), yet each is called with its :class:`~clientcast.settings.Settings`. This Protocol
names the fields they read, so that their signatures say what they need and a type checker (or
``isinstance``: it is runtime-checkable) can tell whether an object provides it. Any object with
these attributes will do: a test's namespace, another application's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class WorkspaceSettings(Protocol):
    """Where the stages read the history and write their outputs, and what they call them."""

    data_dir: Path
    """Folder of the unified purchase history."""
    snapshot_dir: Path
    """Root of the online snapshots."""
    forecast_dir: Path
    """Root of the planners' forecasts."""
    reference_currency: str
    """The currency every amount is converted to."""
    mlflow_artifact_dir: Path
    """Artifact root of the default SQLite MLflow store."""
    optuna_storage: str
    """Optuna storage URL of the tuning studies."""
    next_purchase_model: str
    """Registered name of the next-purchase model."""
    footfall_model: str
    """Registered name of the footfall model."""
    seed: int
    """Seed of sampling and model training."""

    @property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI the stages log to and load models from."""
        ...
