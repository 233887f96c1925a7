"""The footfall P50 combined with AutoETS: the blend, its point-in-time fits, and the model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import UserInputError
from training.footfall.combination import (
    STATISTICAL_P50,
    CombinedModel,
    autoets_by_cutoff,
    combined_fitter,
    combined_ratio,
)
from training.footfall.forecaster import GranularityModel
from training.footfall.intervals import BucketQuantiles, IntervalCalibration
from training.footfall.layout import granularity
from training.footfall.models import FeatureSpec, FloatArray

CUTOFF = date(2024, 3, 4)
FIRST_DAY = date(2023, 6, 1)


@pytest.fixture(scope="module")
def daily_series() -> pl.DataFrame:
    """Two boutiques over 300 days: a weekly pattern around 100 and 400 visitors, noise, a gap."""
    rng = np.random.default_rng(3)
    days = [FIRST_DAY + timedelta(days=k) for k in range(300)]
    weekly = np.array([1.0, 1.1, 1.1, 1.2, 1.4, 0.8, 0.5])[[d.weekday() for d in days]]
    frames = []
    for boutique, level in (("B1", 100.0), ("B2", 400.0)):
        visitors = rng.poisson(level * weekly).astype(float)
        frames.append(pl.DataFrame({"boutique_id": boutique, "time": days, "visitors": visitors}))
    series = pl.concat(frames)
    gap = (pl.col("boutique_id") == "B1") & (pl.col("time") == date(2024, 1, 10))
    return series.with_columns(
        pl.when(gap).then(None).otherwise(pl.col("visitors")).alias("visitors")
    )


def rows_at(cutoff: date, levels: dict[str, float], days: int = 3) -> pl.DataFrame:
    """Forecast rows (boutique_id, cutoff, target_date, level) of ``days`` days from ``cutoff``."""
    return pl.DataFrame(
        [
            {
                "boutique_id": boutique,
                "cutoff": cutoff,
                "target_date": cutoff + timedelta(days=k),
                "level": level,
            }
            for boutique, level in levels.items()
            for k in range(days)
        ]
    )


def statistical_at(cutoff: date, p50: dict[str, float], days: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "boutique_id": boutique,
                "cutoff": cutoff,
                "target_date": cutoff + timedelta(days=k),
                STATISTICAL_P50: value,
            }
            for boutique, value in p50.items()
            for k in range(days)
        ]
    )


def test_combination_weights_the_statistical_forecast_as_a_ratio_to_level() -> None:
    rows = rows_at(CUTOFF, {"B1": 100.0, "B2": 400.0})
    statistical = statistical_at(CUTOFF, {"B1": 150.0, "B2": 200.0})
    own = np.full(rows.height, 1.0)
    combined = combined_ratio(own, rows, statistical, 0.2)
    expected = np.array([0.8 + 0.2 * 1.5] * 3 + [0.8 + 0.2 * 0.5] * 3)
    np.testing.assert_allclose(combined, expected)
    np.testing.assert_allclose(combined_ratio(own, rows, statistical, 0.0), own)
    np.testing.assert_allclose(combined_ratio(own, rows, statistical, 1.0), [1.5] * 3 + [0.5] * 3)


def test_rows_without_a_forecast_from_their_own_cutoff_keep_the_model() -> None:
    rows = rows_at(CUTOFF, {"B1": 100.0, "B2": 400.0})
    # B1's statistical forecast comes from an earlier cutoff (it must not be used), B2 has none;
    # a negative statistical forecast counts as zero.
    earlier = statistical_at(CUTOFF - timedelta(days=7), {"B1": 300.0}, days=10)
    negative = statistical_at(CUTOFF, {"B1": -50.0}, days=1)
    own = np.linspace(0.5, 1.5, rows.height)
    combined = combined_ratio(own, rows, pl.concat([earlier, negative]), 0.5)
    np.testing.assert_allclose(combined, [own[0] * 0.5, *own[1:]])


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_zero_one_is_a_user_error(weight: float) -> None:
    rows = rows_at(CUTOFF, {"B1": 100.0})
    with pytest.raises(UserInputError, match="weight must be in"):
        combined_ratio(np.ones(rows.height), rows, statistical_at(CUTOFF, {"B1": 1.0}), weight)


def test_autoets_forecasts_every_boutique_over_the_horizon(daily_series: pl.DataFrame) -> None:
    forecasts = autoets_by_cutoff(daily_series, [CUTOFF, CUTOFF + timedelta(days=7)], 14)
    assert forecasts.columns == ["boutique_id", "cutoff", "target_date", STATISTICAL_P50]
    assert forecasts.height == 2 * 2 * 14
    per_cutoff = forecasts.group_by("boutique_id", "cutoff").agg(
        pl.col("target_date").min().alias("first"), pl.col("target_date").max().alias("last")
    )
    assert (per_cutoff["first"] == per_cutoff["cutoff"]).all()
    assert (per_cutoff["last"] == per_cutoff["cutoff"] + timedelta(days=13)).all()
    mean = forecasts.group_by("boutique_id").agg(pl.col(STATISTICAL_P50).mean()).sort("boutique_id")
    np.testing.assert_allclose(mean[STATISTICAL_P50], [103.0, 412.0], rtol=0.15)


@settings(max_examples=4, deadline=None)
@given(offset=st.integers(min_value=0, max_value=60), factor=st.floats(0.0, 20.0))
def test_autoets_reads_only_days_before_the_cutoff(
    daily_series: pl.DataFrame, offset: int, factor: float
) -> None:
    cutoff = CUTOFF + timedelta(days=offset)
    changed = daily_series.with_columns(
        pl.when(pl.col("time") >= cutoff)
        .then(pl.col("visitors") * factor)
        .otherwise(pl.col("visitors"))
        .alias("visitors")
    )
    before = autoets_by_cutoff(daily_series, [cutoff], 7)
    after = autoets_by_cutoff(changed, [cutoff], 7)
    assert before.height == 14
    assert before.equals(after)


def test_missing_statsforecast_is_a_user_error_with_the_install_hint(
    daily_series: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "statsforecast" else real_find_spec(name, *args),
    )
    with pytest.raises(UserInputError, match=r"bench extra"):
        autoets_by_cutoff(daily_series, [CUTOFF], 7)


def test_a_series_too_short_to_fit_gets_no_forecast(daily_series: pl.DataFrame) -> None:
    assert autoets_by_cutoff(daily_series, [FIRST_DAY + timedelta(days=20)], 7).height == 0
    assert autoets_by_cutoff(daily_series, [], 7).height == 0


@dataclass
class ConstantModel(GranularityModel):
    """A stand-in for a fitted model: every ratio is ``ratio``."""

    ratio: float = 1.0

    def predict_warm_ratio(self, warm: pl.DataFrame) -> FloatArray:
        return np.full(warm.height, self.ratio)


def constant_model() -> ConstantModel:
    booster = lgb.train(
        {"verbosity": -1, "num_threads": 1},
        lgb.Dataset(np.arange(20.0).reshape(-1, 1), label=np.arange(20.0)),
        num_boost_round=1,
    )
    return ConstantModel(granularity("daily"), FeatureSpec(("x",)), booster, ratio=1.2)


def test_the_fitted_model_combines_its_ratio_and_keeps_it_with_a_calibration() -> None:
    rows = rows_at(CUTOFF, {"B1": 100.0, "B2": 400.0})
    statistical = statistical_at(CUTOFF, {"B1": 200.0, "B2": 400.0})
    fitted: list[pl.DataFrame] = []

    def fit(frame: pl.DataFrame) -> GranularityModel:
        fitted.append(frame)
        return constant_model()

    model = combined_fitter(fit, statistical, 0.25)(rows)
    assert isinstance(model, CombinedModel) and fitted[0] is rows
    assert model.params["statistical_weight"] == 0.25
    expected = [0.75 * 1.2 + 0.25 * 2.0] * 3 + [0.75 * 1.2 + 0.25 * 1.0] * 3
    np.testing.assert_allclose(model.predict_warm_ratio(rows), expected)
    calibration = IntervalCalibration((BucketQuantiles(1, 28, -0.1, 0.1, 50),))
    np.testing.assert_allclose(
        model.with_calibration(calibration).predict_warm_ratio(rows), expected
    )


def test_a_combined_model_without_its_fitted_model_is_a_user_error() -> None:
    inner = constant_model()
    model = CombinedModel(inner.granularity, inner.spec, inner.booster)
    with pytest.raises(UserInputError, match="no fitted model"):
        model.predict_warm_ratio(rows_at(CUTOFF, {"B1": 100.0}))
