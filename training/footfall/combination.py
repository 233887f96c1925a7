"""The footfall model's P50 combined with a statistical model's (forecast combination).

The M4 and M5 competitions' lesson: a combination of models of different families beats each of
them, because their errors differ. Here the one-step LightGBM model (:mod:`.recursive`) is
combined with statsforecast AutoETS (weekly season), fitted per boutique on the daily series
strictly before each cutoff:

    p50 = (1 - weight) * model + weight * AutoETS

with a fixed ``weight`` (no weight is learnt, so nothing is tuned on the forecast windows). The
combination replaces the model's P50 before the interval calibration, so P10/P90 come from the
residuals of the combined forecast (:mod:`.intervals`). Rows without an AutoETS forecast (a
series too short to fit) keep the model's P50; the model's own recursion reads its own
forecasts, not the combined ones.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.errors import UserInputError
from training.footfall.backtest import Fitter, autoets_points, long_series
from training.footfall.forecaster import GranularityModel
from training.footfall.layout import granularity
from training.footfall.models import FloatArray

STATISTICAL_P50 = "statistical_p50"
STATSFORECAST_HINT = (
    "forecast combination needs statsforecast: "
    "install the bench extra: .venv/bin/python -m pip install -e '.[bench]'"
)
PEER_KEYS: tuple[str, ...] = ("boutique_id", "cutoff", "target_date")


def autoets_by_cutoff(
    series: pl.DataFrame, cutoffs: Sequence[date], horizon_days: int, n_jobs: int = 1
) -> pl.DataFrame:
    """AutoETS (season 7) P50 of every boutique for ``horizon_days`` from each of ``cutoffs``.

    ``series`` is the daily series (boutique_id, time, visitors; a gap is null). Each fit reads
    only the days strictly before its cutoff (the last two years of them, gaps filled as the
    peers fill them), as the backtest's AutoETS baseline does; a boutique with fewer than 28
    days before a cutoff gets no forecast from it. Returns boutique_id, cutoff, target_date and
    :data:`STATISTICAL_P50`. Raises :class:`UserInputError` when statsforecast is missing.
    """
    if importlib.util.find_spec("statsforecast") is None:
        raise UserInputError(STATSFORECAST_HINT)
    grain = granularity("daily").with_horizon(horizon_days)
    known = long_series(series).filter(pl.col("y").is_not_null())
    schema = {"boutique_id": pl.String, "cutoff": pl.Date, "target_date": pl.Date}
    empty = pl.DataFrame(schema=schema | {STATISTICAL_P50: pl.Float64})
    if not cutoffs or known.height == 0:
        return empty
    points = autoets_points(known, sorted(set(cutoffs)), grain, n_jobs)
    if not points:
        return empty
    return points[0].select(
        pl.col("unique_id").alias("boutique_id"),
        (pl.col("origin") + timedelta(days=1)).alias("cutoff"),
        pl.col("ds").alias("target_date"),
        pl.col("p50").cast(pl.Float64).alias(STATISTICAL_P50),
    )


def combined_ratio(
    own: FloatArray, rows: pl.DataFrame, statistical: pl.DataFrame, weight: float
) -> FloatArray:
    """The ratio to level of ``(1 - weight) * own + weight * statistical`` for each of ``rows``
    (boutique_id, cutoff, target_date, level; ``own`` is the model's ratio of each row). A row
    without a statistical forecast from its own cutoff keeps ``own``."""
    if not 0.0 <= weight <= 1.0:
        raise UserInputError(f"forecast combination: weight must be in [0, 1], got {weight}")
    matched = rows.select(*PEER_KEYS, "level").join(
        statistical.select(*PEER_KEYS, STATISTICAL_P50),
        on=list(PEER_KEYS),
        how="left",
        maintain_order="left",
    )
    peer = matched.select(
        (pl.col(STATISTICAL_P50).clip(lower_bound=0.0) / pl.col("level")).fill_nan(None)
    ).to_series()
    peer_ratio = peer.to_numpy().astype(float)
    return np.where(np.isnan(peer_ratio), own, (1.0 - weight) * own + weight * peer_ratio)


@dataclass
class CombinedModel(GranularityModel):
    """A fitted model whose established boutiques' P50 is combined with a statistical one.

    Made for backtests (the Auckland benchmark): its manifest describes the inner booster and
    the weight, not the statistical forecasts, so a saved bundle would not reproduce it.
    """

    inner: GranularityModel | None = None
    statistical: pl.DataFrame = field(default_factory=pl.DataFrame)
    weight: float = 0.0

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        """The inner model's ratio combined with the statistical forecast's (see the module)."""
        if self.inner is None:
            raise UserInputError("forecast combination: no fitted model to combine")
        own = np.asarray(self.inner.predict_warm_ratio(warm), dtype=float)
        return combined_ratio(own, warm, self.statistical, self.weight)


def combined_fitter(fit: Fitter, statistical: pl.DataFrame, weight: float) -> Fitter:
    """``fit`` whose fitted model forecasts the combination of its P50 and ``statistical``'s
    (:func:`autoets_by_cutoff` of the cutoffs it will forecast from) with ``weight``."""

    def fit_combined(frame: pl.DataFrame) -> GranularityModel:
        model = fit(frame)
        return CombinedModel(
            model.granularity,
            model.spec,
            model.booster,
            model.calibration,
            dict(model.params) | {"statistical_weight": weight},
            inner=model,
            statistical=statistical,
            weight=weight,
        )

    return fit_combined
