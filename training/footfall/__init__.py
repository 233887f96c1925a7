"""Footfall forecasting: a global LightGBM over boutiques, daily (1-56 d) and hourly (1-14 d).

Public entry points, wired into ``clientcast train|tune|backtest footfall`` and
``clientcast forecast``: :func:`train_footfall`, :func:`backtest_footfall`,
:func:`tune_footfall`, :func:`forecast_footfall` and the :class:`FootfallBundle`.

Only the bundle is imported eagerly: the pipeline needs Optuna, and the service, which imports
this package to load a bundle, must not. The other names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from training.footfall.bundle import FootfallBundle

if TYPE_CHECKING:
    from training.footfall.forecast import FootfallForecast, forecast_footfall
    from training.footfall.pipeline import (
        FootfallBacktest,
        FootfallOptions,
        TrainingReport,
        backtest_footfall,
        train_footfall,
        tune_footfall,
    )

LAZY_NAMES = {
    "FootfallForecast": "forecast",
    "forecast_footfall": "forecast",
    "FootfallBacktest": "pipeline",
    "FootfallOptions": "pipeline",
    "TrainingReport": "pipeline",
    "backtest_footfall": "pipeline",
    "train_footfall": "pipeline",
    "tune_footfall": "pipeline",
}

__all__ = [
    "FootfallBacktest",
    "FootfallBundle",
    "FootfallForecast",
    "FootfallOptions",
    "TrainingReport",
    "backtest_footfall",
    "forecast_footfall",
    "train_footfall",
    "tune_footfall",
]


def __getattr__(name: str) -> Any:
    """The pipeline's and the forecast's names, imported when first asked for (PEP 562)."""
    if name in LAZY_NAMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
