"""Planners' forecasts: footfall and next-purchase tables, call lists and a self-contained report.

``write_forecasts(settings, as_of, horizon_days)`` writes them atomically under
``settings.forecast_dir / <as-of date>/`` and returns a :class:`ForecastResult`;
``write_footfall_forecasts`` refreshes the footfall tables alone.
"""

from training.forecasts.pipeline import (
    FootfallTablesResult,
    ForecastResult,
    write_footfall_forecasts,
    write_forecasts,
)

__all__ = ["FootfallTablesResult", "ForecastResult", "write_footfall_forecasts", "write_forecasts"]
