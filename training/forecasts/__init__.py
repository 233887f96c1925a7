"""Planners' forecasts: footfall and next-purchase tables, call lists and a self-contained report.

``write_forecasts(settings, as_of, horizon_days)`` writes them atomically under
``settings.forecast_dir / <as-of date>/`` and returns a :class:`ForecastResult`.
"""

from training.forecasts.pipeline import ForecastResult, write_forecasts

__all__ = ["ForecastResult", "write_forecasts"]
