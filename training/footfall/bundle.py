"""The footfall bundle: the daily and hourly boosters as native ``.lgb`` files plus a manifest.

On disk a bundle is a directory::

    manifest.json     per granularity: features, categorical levels, interval calibration,
                      parameters; and the training facts (as-of date, strategy, backtest metrics)
    daily.lgb         the daily booster (days 1-56)
    hourly.lgb        the hourly booster (days 1-14)

:meth:`FootfallBundle.forecast` forecasts every boutique at once from a history, a history
folder or an online snapshot (whose feature rows are precomputed), which is what the service
does at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import lightgbm as lgb
import polars as pl

from features.errors import UserInputError
from features.history import PurchaseHistory, load_history
from training.footfall.forecaster import GranularityModel
from training.footfall.layout import granularity

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class FootfallBundle:
    """The fitted daily and hourly footfall models and the facts of their training."""

    def __init__(
        self, models: Mapping[str, GranularityModel], metadata: Mapping[str, Any] | None = None
    ) -> None:
        if not models:
            raise ValueError("a footfall bundle needs at least one model")
        self.models = dict(models)
        self.metadata = dict(metadata or {})

    def model(self, name: str) -> GranularityModel:
        """The model of granularity ``name``, or :class:`UserInputError` when absent."""
        granularity(name)
        if name not in self.models:
            raise UserInputError(f"this footfall bundle has no {name} model")
        return self.models[name]

    # -- persistence -------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the boosters and the manifest into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, model in self.models.items():
            model.booster.save_model(str(directory / f"{name}.lgb"))
        manifest = {
            "format_version": FORMAT_VERSION,
            "models": {name: model.manifest() for name, model in self.models.items()},
            "metadata": self.metadata,
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))

    @classmethod
    def load(cls, directory: Path) -> FootfallBundle:
        """Read a bundle written by :meth:`save`."""
        directory = Path(directory)
        path = directory / MANIFEST
        if not path.is_file():
            raise UserInputError(f"{directory}: not a footfall bundle (no {MANIFEST})")
        manifest = json.loads(path.read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise UserInputError(
                f"{path}: bundle format {manifest.get('format_version')} is not {FORMAT_VERSION}"
            )
        models = {
            name: GranularityModel.from_manifest(
                payload, lgb.Booster(model_file=str(directory / f"{name}.lgb"))
            )
            for name, payload in manifest["models"].items()
        }
        return cls(models, manifest.get("metadata", {}))

    # -- forecasting -------------------------------------------------------------------------

    def predict_frame(self, frame: Any) -> Any:
        """MLflow pyfunc entry point: feature rows (pandas or polars) in, forecasts out (pandas).

        Rows with a ``target_hour`` column go to the hourly model, others to the daily one.
        """
        features = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
        name = "hourly" if "target_hour" in features.columns else "daily"
        return self.model(name).forecast(features).to_pandas()

    def feature_frame(
        self, source: PurchaseHistory | Path | str | Any, start: date, days: int, name: str
    ) -> pl.DataFrame:
        """The feature rows of ``days`` days from ``start`` for model ``name``.

        ``source`` is a :class:`PurchaseHistory`, a history folder, or an online snapshot
        (``features.snapshot.OnlineSnapshot``) taken at ``start``.
        """
        from features.boutique_features import boutique_daily_features, boutique_hourly_features

        grain = self.model(name).granularity.with_horizon(days)
        if hasattr(source, "boutique_daily") and hasattr(source, "as_of"):
            if source.as_of != start:
                raise UserInputError(
                    f"the snapshot is as of {source.as_of}; a forecast from {start} needs a "
                    "snapshot taken that day (or the history)"
                )
            rows = source.boutique_daily if name == "daily" else source.boutique_hourly
            available = int(rows.get_column("horizon").max() or 0)
            if days > available:
                raise UserInputError(
                    f"the snapshot holds {available} days of {name} rows, {days} were asked"
                )
            return rows.filter(pl.col("horizon") <= days)
        history = source if isinstance(source, PurchaseHistory) else load_history(Path(str(source)))
        build = boutique_daily_features if name == "daily" else boutique_hourly_features
        return build(history, start, grain.horizon_days).collect()

    def forecast(
        self,
        source: PurchaseHistory | Path | str | Any,
        start: date,
        days: int,
        granularity: str = "daily",
    ) -> pl.DataFrame:
        """P10/P50/P90 visitors of every open boutique for ``days`` days from ``start``.

        Daily: boutique_id, date (boutique-local), horizon, p10, p50, p90, method. Hourly:
        boutique_id, date, hour_start (boutique-local), hour, horizon, p10, p50, p90, method;
        hours outside the usual opening hours are zero. ``method`` is "model", "cold_start"
        (fewer than 8 observed weeks: peers' profile scaled to the boutique's level) or
        "closed" (a planned closure). Closed and never-observed boutiques get no row.
        """
        if days < 1:
            raise UserInputError(f"forecast days must be at least 1, got {days}")
        return self.forecast_rows(self.feature_frame(source, start, days, granularity), granularity)

    def forecast_rows(self, frame: pl.DataFrame | pl.LazyFrame, granularity: str) -> pl.DataFrame:
        """The forecasts of precomputed feature rows (``boutique_daily_features`` or the
        hourly ones, e.g. a snapshot's), in the layout of :meth:`forecast`."""
        model = self.model(granularity)
        forecasts = model.forecast(frame, keep=("hour",) if model.hourly else ())
        quantiles = ("horizon", "p10", "p50", "p90", "method")
        if model.hourly:
            return forecasts.select(
                "boutique_id",
                pl.col("target_hour").dt.date().alias("date"),
                pl.col("target_hour").alias("hour_start"),
                pl.col("hour").cast(pl.Int8),
                *quantiles,
            )
        return forecasts.select("boutique_id", pl.col("target_date").alias("date"), *quantiles)
