"""Footfall forecasting: a global LightGBM over boutiques, daily (1-56 d) and hourly (1-14 d).

Public entry points, wired into ``clientcast train|tune|backtest footfall`` and
``clientcast forecast``: :func:`train_footfall`, :func:`backtest_footfall`,
:func:`tune_footfall`, :func:`forecast_footfall` and the :class:`FootfallBundle`.
"""

from __future__ import annotations

from training.footfall.bundle import FootfallBundle
from training.footfall.forecast import FootfallForecast, forecast_footfall
from training.footfall.pipeline import (
    FootfallBacktest,
    FootfallOptions,
    TrainingReport,
    backtest_footfall,
    train_footfall,
    tune_footfall,
)

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
