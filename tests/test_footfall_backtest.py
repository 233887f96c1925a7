"""Rolling-origin backtest loop: how often models are refitted and what each fit may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
import pytest

from features.errors import UserInputError
from training.footfall.backtest import autoets_points, rolling_forecasts
from training.footfall.layout import DAILY, BacktestLayout

START = date(2024, 1, 1)
HORIZON = 7


def stacked_frame(cutoffs: list[date]) -> pl.DataFrame:
    """A minimal stacked frame: five boutiques (enough residuals to calibrate on), ``HORIZON``
    target days after each cutoff."""
    rows = [
        {
            "boutique_id": f"b{boutique}",
            "cutoff": cutoff,
            "target_date": cutoff + timedelta(days=h),
            "horizon": h + 1,
            "visitors": 100.0 + h + boutique,
        }
        for boutique in range(5)
        for cutoff in cutoffs
        for h in range(HORIZON)
    ]
    return pl.DataFrame(rows)


@dataclass
class RecordingModel:
    """A stand-in model that remembers the last target it was trained on."""

    fitted_at: int
    last_seen: date
    calibrated: bool = False

    def with_calibration(self, calibration: object) -> RecordingModel:
        return RecordingModel(self.fitted_at, self.last_seen, True)

    def forecast(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            "boutique_id",
            "cutoff",
            "target_date",
            "horizon",
            pl.lit(100.0).alias("p10"),
            pl.lit(100.0).alias("p50"),
            pl.lit(100.0).alias("p90"),
            pl.lit("model").alias("method"),
            pl.lit(100.0).alias("level"),
            pl.col("visitors").alias("actual"),
            pl.lit(self.fitted_at).alias("fitted_at"),
            pl.lit(self.last_seen).alias("last_seen"),
        )


@dataclass
class RecordingFitter:
    """Counts fits and hands out :class:`RecordingModel` instances."""

    fits: list[date] = field(default_factory=list)

    def __call__(self, rows: pl.DataFrame) -> RecordingModel:
        self.fits.append(rows["target_date"].max())
        return RecordingModel(len(self.fits), rows["target_date"].max())


def layout(n_origins: int) -> BacktestLayout:
    origins = tuple(START + timedelta(days=70 + 14 * k) for k in range(n_origins))
    return BacktestLayout(origins, 1, HORIZON, START, 7)


@pytest.mark.parametrize(("refit_every", "expected_fits"), [(1, 5), (2, 3), (3, 2), (9, 1)])
def test_models_are_refitted_every_n_origins_and_never_see_the_window(
    refit_every: int, expected_fits: int
) -> None:
    plan = layout(5)
    frame = stacked_frame([START + timedelta(days=7 * k) for k in range(20)])
    fitter = RecordingFitter()
    forecasts = rolling_forecasts(
        frame, DAILY.with_horizon(HORIZON), plan, fitter, refit_every=refit_every
    )
    assert len(fitter.fits) == expected_fits
    assert forecasts["origin"].unique().sort().to_list() == list(plan.origins)
    # Whatever model forecasts an origin was trained only on targets before that origin.
    assert (forecasts["last_seen"] < forecasts["origin"]).all()
    fitted_at = forecasts.group_by("origin").agg(pl.col("fitted_at").first()).sort("origin")
    assert fitted_at["fitted_at"].to_list() == [1 + k // refit_every for k in range(5)]


def test_refit_every_must_be_positive() -> None:
    frame = stacked_frame([START + timedelta(days=7 * k) for k in range(20)])
    with pytest.raises(UserInputError, match="refit_every"):
        rolling_forecasts(frame, DAILY.with_horizon(HORIZON), layout(3), RecordingFitter(), None, 0)


def test_autoets_over_stacked_origins_matches_one_fit_per_origin() -> None:
    from training.benchmarks.auckland_peers import PEER_CONFIGS, autoets_forecasts

    days = pl.date_range(START, START + timedelta(days=139), eager=True)
    weekly = [120.0, 100.0, 105.0, 110.0, 130.0, 180.0, 160.0]
    long = pl.concat(
        [
            pl.DataFrame(
                {
                    "unique_id": name,
                    "ds": days,
                    "y": [weekly[k % 7] * scale + (k * 7919 % 13) for k in range(len(days))],
                }
            )
            for name, scale in (("b@1", 1.0), ("b2", 3.0))
        ]
    )
    origins = [START + timedelta(days=100), START + timedelta(days=112)]
    grain = DAILY.with_horizon(HORIZON)
    (stacked,) = autoets_points(long, origins, grain, n_jobs=1, window_days=60)
    assert stacked.height == 2 * len(origins) * HORIZON
    assert sorted(stacked["unique_id"].unique().to_list()) == ["b2", "b@1"]
    for origin in origins:
        step = origin - timedelta(days=1)
        window = long.filter((pl.col("ds") <= step) & (pl.col("ds") > step - timedelta(days=60)))
        alone = autoets_forecasts(window, HORIZON, PEER_CONFIGS["daily"]).sort("unique_id", "ds")
        mine = stacked.filter(pl.col("origin") == step).sort("unique_id", "ds")
        assert mine["ds"].to_list() == alone["ds"].cast(pl.Date).to_list()
        assert mine["p50"].to_list() == pytest.approx(alone["p50"].to_list())
