"""One fitted footfall model (daily or hourly) turning a feature frame into P10/P50/P90.

:meth:`GranularityModel.forecast` runs the whole path on all boutiques at once:

1. scale the frame (:mod:`.model_frame`);
2. the booster's P50 for established boutiques (:mod:`.models`);
3. the peers' profile for cold starts (:mod:`.cold_start`);
4. the calibrated interval (:mod:`.intervals`), wider for cold starts;
5. the certain rules: closures and closed hours are zero, quantiles ordered (:mod:`.rules`).

A boutique never observed (no level) gets no row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import lightgbm as lgb
import polars as pl

from features.random_seed import DEFAULT_SEED
from training.footfall.cold_start import COLD_START_WIDENING, cold_start_p50
from training.footfall.intervals import IntervalCalibration, with_intervals
from training.footfall.layout import Granularity, granularity
from training.footfall.model_frame import (
    DEFAULT_DISRUPTION_WEIGHT,
    LABEL,
    is_closed,
    is_cold_start,
    scaled_frame,
    training_rows,
)
from training.footfall.models import (
    FeatureSpec,
    FloatArray,
    feature_spec,
    fit_booster,
    predict_ratio,
)
from training.footfall.rules import apply_rules

OUTPUT_COLUMNS: tuple[str, ...] = ("horizon", "p10", "p50", "p90", "method")


@dataclass
class GranularityModel:
    """A fitted booster with its features, its interval calibration and its parameters."""

    granularity: Granularity
    spec: FeatureSpec
    booster: lgb.Booster
    calibration: IntervalCalibration | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def hourly(self) -> bool:
        """Whether this is the hourly model."""
        return self.granularity.name == "hourly"

    def with_calibration(self, calibration: IntervalCalibration) -> GranularityModel:
        """The same model with another interval calibration."""
        return replace(self, calibration=calibration)

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """The booster's ratio for the established boutiques' rows (direct: one call)."""
        return predict_ratio(self.booster, self.spec, warm)

    def point_forecast(self, frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Scaled rows of ``frame`` with ``p50`` (model or cold start) and ``method``; rows of
        boutiques never observed are dropped."""
        scaled = scaled_frame(frame).collect()
        modelled = ~is_cold_start() & (pl.col("level") > 0) & ~is_closed(self.hourly)
        mask = scaled.select(modelled.fill_null(False)).to_series()
        warm = scaled.filter(mask)
        ratio = self.predict_warm_ratio(warm)
        warm = warm.with_columns(
            (pl.Series("ratio_hat", ratio).clip(lower_bound=0.0) * pl.col("level")).alias("p50")
        )
        rest = scaled.filter(~mask).with_columns(pl.lit(None, pl.Float64).alias("p50"))
        combined = pl.concat([warm, rest], how="vertical_relaxed").lazy()
        return (
            cold_start_p50(combined, self.granularity.time_column, self.hourly)
            .with_columns(
                pl.when(pl.col("is_cold_start"))
                .then(pl.lit("cold_start"))
                .otherwise(pl.lit("model"))
                .alias("method")
            )
            .filter(pl.col("p50").is_not_null() | is_closed(self.hourly))
            .with_columns(pl.col("p50").fill_null(0.0), pl.col("level").fill_null(0.0))
            .collect()
        )

    def forecast(
        self, frame: pl.DataFrame | pl.LazyFrame, keep: tuple[str, ...] = ()
    ) -> pl.DataFrame:
        """P10/P50/P90 of every row of the feature ``frame`` (see the module docstring).

        Returns the keys, ``horizon``, p10, p50, p90, ``method`` ("model", "cold_start" or
        "closed"), ``level``, the label as ``actual`` when the frame has it, and ``keep``.
        """
        points = self.point_forecast(frame)
        if self.calibration is None:
            intervals = points.lazy().with_columns(
                pl.col("p50").alias("p10"), pl.col("p50").alias("p90")
            )
        else:
            widening = pl.when(pl.col("is_cold_start")).then(COLD_START_WIDENING).otherwise(1.0)
            intervals = with_intervals(points, self.calibration, widening)
        actual = [pl.col(LABEL).cast(pl.Float64).alias("actual")] if LABEL in points.columns else []
        return (
            apply_rules(intervals, self.hourly)
            .select(*self.granularity.keys, *OUTPUT_COLUMNS, "level", *actual, *keep)
            .sort(*self.granularity.keys)
            .collect()
        )

    def manifest(self) -> dict[str, Any]:
        """The JSON-ready description stored beside the booster."""
        return {
            "granularity": self.granularity.name,
            "horizon_days": self.granularity.horizon_days,
            "features": self.spec.to_dict(),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "params": self.params,
        }

    @classmethod
    def from_manifest(cls, payload: Mapping[str, Any], booster: lgb.Booster) -> GranularityModel:
        """The model described by :meth:`manifest`, around a loaded ``booster``."""
        calibration = payload.get("calibration")
        return cls(
            granularity(payload["granularity"]).with_horizon(int(payload["horizon_days"])),
            FeatureSpec.from_dict(payload["features"]),
            booster,
            None if calibration is None else IntervalCalibration.from_dict(calibration),
            dict(payload.get("params", {})),
        )


def fit_granularity_model(
    frame: pl.DataFrame,
    grain: Granularity,
    params: Mapping[str, Any],
    seed: int = DEFAULT_SEED,
    num_threads: int = 2,
    disruption_weight: float = DEFAULT_DISRUPTION_WEIGHT,
) -> GranularityModel:
    """Fit the direct model of ``grain`` on the labelled feature ``frame`` (many cutoffs).

    The caller decides which rows are the past: every labelled row of ``frame`` is learnt from.
    The model has no interval calibration yet (see :mod:`.intervals`).
    """
    rows = training_rows(frame, grain.name == "hourly", disruption_weight)
    spec = feature_spec(rows, grain.features, grain.categorical)
    booster = fit_booster(rows, spec, params, seed=seed, num_threads=num_threads)
    return GranularityModel(grain, spec, booster, None, dict(params))
