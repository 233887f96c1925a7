"""The footfall model on a small synthetic history: covariates, robustness rules, intervals,
bundles.

The history is built here: five established boutiques (France and Britain) with a weekly
pattern and a strong public-holiday dip, sensor gaps, a renovation flagged as a disruption, a
boutique opened three weeks before the forecast start and one closed a month before it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.boutique_features import (
    boutique_daily_features,
    boutique_hourly_features,
    build_boutique_training_frame,
)
from features.calendar import public_holidays
from features.contract import TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory, load_history
from training import tracking
from training.footfall.bundle import FootfallBundle
from training.footfall.forecaster import GranularityModel, fit_granularity_model
from training.footfall.intervals import (
    BucketQuantiles,
    IntervalCalibration,
    calibrate,
    with_intervals,
)
from training.footfall.layout import DAILY, HOURLY
from training.footfall.model_frame import training_rows
from training.footfall.search_space import booster_params

START = date(2023, 9, 4)
FORECAST_START = date(2025, 3, 3)
OPEN_HOURS = range(10, 20)
WEEKDAY_FACTOR = np.array([0.8, 0.85, 0.9, 1.0, 1.2, 1.6, 0.7])
HOLIDAY_FACTOR = 0.3
BOUTIQUES = {
    # boutique_id: (country, format, daily level, opened_on, closed_on)
    "P1": ("FR", "flagship", 900.0, date(2015, 1, 1), None),
    "P2": ("FR", "boutique", 400.0, date(2016, 1, 1), None),
    "P3": ("FR", "boutique", 300.0, date(2017, 1, 1), None),
    "P4": ("GB", "boutique", 500.0, date(2018, 1, 1), None),
    "P5": ("GB", "flagship", 700.0, date(2012, 1, 1), None),
    "NEW": ("FR", "boutique", 600.0, FORECAST_START - timedelta(days=21), None),
    "SHUT": ("FR", "boutique", 350.0, date(2014, 1, 1), FORECAST_START - timedelta(days=30)),
}
GAP_DAYS = [date(2024, 6, 3) + timedelta(days=k) for k in range(0, 40, 4)]
RENOVATION = [date(2024, 9, 2) + timedelta(days=k) for k in range(14)]
PARAMS = booster_params({"num_boost_round": 80, "learning_rate": 0.1, "min_data_in_leaf": 20})


def synthetic_footfall(seed: int = 0) -> pl.DataFrame:
    """Hourly counts of every boutique from its first day to the day before the forecast."""
    rng = np.random.default_rng(seed)
    days = pl.date_range(START, FORECAST_START - timedelta(days=1), eager=True)
    holiday_rows = public_holidays(["FR", "GB"], START, FORECAST_START)
    by_country = {
        country: set(holiday_rows.filter(pl.col("country") == country)["date"].to_list())
        for country in ("FR", "GB")
    }
    hourly_share = np.array([0.05, 0.08, 0.1, 0.12, 0.12, 0.11, 0.11, 0.11, 0.1, 0.1])
    frames = []
    for boutique, (country, _, level, opened, closed) in BOUTIQUES.items():
        live = [d for d in days if d >= opened and (closed is None or d < closed)]
        weekday = np.array([d.weekday() for d in live])
        factor = WEEKDAY_FACTOR[weekday] * np.where(
            [d in by_country[country] for d in live], HOLIDAY_FACTOR, 1.0
        )
        if boutique == "P3":
            factor = factor * np.where([d in RENOVATION for d in live], 0.3, 1.0)
        daily = level * factor * rng.lognormal(0.0, 0.06, len(live))
        expected = daily[:, None] * hourly_share[None, :]
        counts = rng.poisson(expected)
        hours = [
            datetime.combine(d, datetime.min.time()) + timedelta(hours=h)
            for d in live
            for h in OPEN_HOURS
        ]
        frame = pl.DataFrame(
            {
                "boutique_id": boutique,
                "hour_start": hours,
                "visitors": counts.reshape(-1).astype(np.int64),
            }
        )
        if boutique == "P2":
            frame = frame.filter(~pl.col("hour_start").dt.date().is_in(GAP_DAYS))
        frames.append(frame)
    return pl.concat(frames)


def write_history(folder: Path) -> Path:
    """The synthetic history as a folder of Parquet tables."""
    folder.mkdir(parents=True, exist_ok=True)
    boutiques = pl.DataFrame(
        [
            {
                "boutique_id": boutique,
                "city": "Paris" if country == "FR" else "London",
                "country": country,
                "currency": "EUR" if country == "FR" else "GBP",
                "timezone": "Europe/Paris" if country == "FR" else "Europe/London",
                "opened_on": opened,
                "closed_on": closed,
                "format": format_,
            }
            for boutique, (country, format_, _, opened, closed) in BOUTIQUES.items()
        ],
        schema_overrides={"closed_on": pl.Date},
    )
    events = pl.DataFrame(
        {
            "date": RENOVATION,
            "kind": "disruption",
            "boutique_id": "P3",
            "country": None,
            "label": "Renovation",
        },
        schema_overrides={"country": pl.String},
    )
    tables = {
        "boutiques": boutiques,
        "footfall": synthetic_footfall(),
        "events": events,
        **{
            name: pl.DataFrame(schema=TABLES[name].schema())
            for name in ("clients", "products", "transactions", "fx_rates")
        },
    }
    for name, table in tables.items():
        table.write_parquet(folder / f"{name}.parquet")
    return folder


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> PurchaseHistory:
    return load_history(write_history(tmp_path_factory.mktemp("footfall") / "history"))


def weekly_cutoffs(last: date, count: int) -> list[date]:
    return [last - timedelta(weeks=k) for k in range(count)]


@pytest.fixture(scope="module")
def daily_frame(history: PurchaseHistory) -> pl.DataFrame:
    cutoffs = weekly_cutoffs(FORECAST_START - timedelta(weeks=8), 50)
    return build_boutique_training_frame(history, cutoffs, 56, "daily").filter(
        pl.col("target_date") < FORECAST_START
    )


TEST_CALIBRATION = IntervalCalibration(
    (BucketQuantiles(1, 28, -0.15, 0.12, 100), BucketQuantiles(29, 56, -0.25, 0.2, 100))
)


@pytest.fixture(scope="module")
def daily_model(daily_frame: pl.DataFrame) -> GranularityModel:
    model = fit_granularity_model(daily_frame, DAILY, PARAMS, num_threads=1)
    return model.with_calibration(TEST_CALIBRATION)


@pytest.fixture(scope="module")
def hourly_model(history: PurchaseHistory) -> GranularityModel:
    cutoffs = weekly_cutoffs(FORECAST_START - timedelta(weeks=2), 20)
    frame = build_boutique_training_frame(history, cutoffs, 14, "hourly").filter(
        pl.col("target_date") < FORECAST_START
    )
    calibration = IntervalCalibration((BucketQuantiles(1, 14, -0.3, 0.3, 100),))
    model = fit_granularity_model(frame, HOURLY, PARAMS, num_threads=1)
    return model.with_calibration(calibration)


@pytest.fixture(scope="module")
def future_daily(history: PurchaseHistory) -> pl.DataFrame:
    return boutique_daily_features(history, FORECAST_START, 56).collect()


@pytest.fixture(scope="module")
def future_hourly(history: PurchaseHistory) -> pl.DataFrame:
    return boutique_hourly_features(history, FORECAST_START, 14).collect()


# -- training rows ---------------------------------------------------------------------------


def test_sensor_gaps_are_missing_targets_never_zero(daily_frame: pl.DataFrame) -> None:
    gap_rows = daily_frame.filter(
        (pl.col("boutique_id") == "P2") & pl.col("target_date").is_in(GAP_DAYS)
    )
    assert gap_rows.height > 0
    assert gap_rows["visitors"].null_count() == gap_rows.height
    rows = training_rows(daily_frame, hourly=False)
    learnt = rows.filter((pl.col("boutique_id") == "P2") & pl.col("target_date").is_in(GAP_DAYS))
    assert learnt.height == 0
    assert rows["ratio"].min() > 0
    assert rows["ratio"].null_count() == 0


def test_disruption_days_are_down_weighted(daily_frame: pl.DataFrame) -> None:
    rows = training_rows(daily_frame, hourly=False, disruption_weight=0.1)
    renovation = rows.filter(
        (pl.col("boutique_id") == "P3") & pl.col("target_date").is_in(RENOVATION)
    )
    normal = rows.filter(~pl.col("target_date").is_in(RENOVATION))
    assert renovation.height > 0
    assert renovation["weight"].unique().to_list() == [0.1]
    assert normal["weight"].unique().to_list() == [1.0]
    excluded = training_rows(daily_frame, hourly=False, disruption_weight=0.0)
    assert (
        excluded.filter(
            pl.col("target_date").is_in(RENOVATION) & (pl.col("boutique_id") == "P3")
        ).height
        == 0
    )


def test_cold_start_rows_are_not_learnt(daily_frame: pl.DataFrame) -> None:
    rows = training_rows(daily_frame, hourly=False)
    assert rows["days_observed"].min() >= 56


# -- forecasts -------------------------------------------------------------------------------


def test_flipping_a_future_holiday_changes_that_days_forecast(
    daily_model: GranularityModel, future_daily: pl.DataFrame
) -> None:
    regular = future_daily.filter((pl.col("boutique_id") == "P1") & ~pl.col("is_public_holiday"))
    chosen = [row for row in regular.iter_rows(named=True) if row["horizon"] in (5, 30, 52)]
    assert len(chosen) == 3
    days = [row["target_date"] for row in chosen]
    flipped = future_daily.with_columns(
        pl.when((pl.col("boutique_id") == "P1") & pl.col("target_date").is_in(days))
        .then(True)
        .otherwise(pl.col("is_public_holiday"))
        .alias("is_public_holiday")
    )
    before = daily_model.forecast(future_daily).filter(pl.col("target_date").is_in(days))
    after = daily_model.forecast(flipped).filter(pl.col("target_date").is_in(days))
    pairs = before.join(after, on=["boutique_id", "target_date"], suffix="_flipped")
    at_p1 = pairs.filter(pl.col("boutique_id") == "P1")
    assert at_p1.height == 3
    assert (at_p1["p50_flipped"] < 0.8 * at_p1["p50"]).all()
    others = pairs.filter((pl.col("boutique_id") != "P1") & (pl.col("method") == "model"))
    assert (others["p50_flipped"] == others["p50"]).all()


def test_closed_boutique_gets_no_forecast(
    daily_model: GranularityModel,
    hourly_model: GranularityModel,
    future_daily: pl.DataFrame,
    future_hourly: pl.DataFrame,
) -> None:
    daily = daily_model.forecast(future_daily)
    hourly = hourly_model.forecast(future_hourly)
    assert "SHUT" not in daily["boutique_id"].to_list()
    assert "SHUT" not in hourly["boutique_id"].to_list()
    assert set(daily["boutique_id"]) == {"P1", "P2", "P3", "P4", "P5", "NEW"}


def test_cold_start_boutique_gets_its_peers_profile_at_its_own_level(
    daily_model: GranularityModel, future_daily: pl.DataFrame
) -> None:
    forecast = daily_model.forecast(future_daily, keep=("weekday",))
    young = forecast.filter(pl.col("boutique_id") == "NEW")
    assert young.height == 56
    assert young["method"].unique().to_list() == ["cold_start"]
    true_level = BOUTIQUES["NEW"][2] * WEEKDAY_FACTOR.mean()
    assert 0.7 * true_level < young["p50"].mean() < 1.4 * true_level
    by_weekday = young.group_by("weekday").agg(pl.col("p50").mean()).sort("weekday")
    saturday, tuesday = by_weekday["p50"][5], by_weekday["p50"][1]
    assert saturday > 1.3 * tuesday
    assert (young["p90"] - young["p10"]).min() > 0
    established = forecast.filter(pl.col("boutique_id") != "NEW")
    assert established["method"].unique().to_list() == ["model"]


def test_quantiles_are_ordered_and_non_negative(
    daily_model: GranularityModel,
    hourly_model: GranularityModel,
    future_daily: pl.DataFrame,
    future_hourly: pl.DataFrame,
) -> None:
    for forecast in (daily_model.forecast(future_daily), hourly_model.forecast(future_hourly)):
        assert forecast.height > 0
        assert forecast.select(pl.col("p10", "p50", "p90").null_count().sum()).row(0) == (0, 0, 0)
        assert (forecast["p10"] >= 0).all()
        assert (forecast["p10"] <= forecast["p50"]).all()
        assert (forecast["p50"] <= forecast["p90"]).all()


def test_hourly_forecast_is_zero_outside_opening_hours(
    hourly_model: GranularityModel, future_hourly: pl.DataFrame
) -> None:
    forecast = hourly_model.forecast(future_hourly, keep=("hour",))
    established = forecast.filter(pl.col("boutique_id") == "P1")
    assert established.height == 14 * 24
    closed = established.filter(~pl.col("hour").is_in(list(OPEN_HOURS)))
    open_ = established.filter(pl.col("hour").is_in(list(OPEN_HOURS)))
    assert closed.select(pl.col("p10", "p50", "p90").max()).row(0) == (0.0, 0.0, 0.0)
    assert (closed["method"] == "closed").all()
    assert (open_["p50"] > 0).all()
    young = forecast.filter((pl.col("boutique_id") == "NEW") & pl.col("hour").is_in([3, 22]))
    assert (young["p90"] == 0).all()


def test_hourly_forecast_sums_close_to_the_daily_one(
    daily_model: GranularityModel,
    hourly_model: GranularityModel,
    future_daily: pl.DataFrame,
    future_hourly: pl.DataFrame,
) -> None:
    daily = daily_model.forecast(future_daily).filter(pl.col("horizon") <= 14)
    hourly = (
        hourly_model.forecast(future_hourly)
        .group_by("boutique_id", pl.col("target_hour").dt.date().alias("target_date"))
        .agg(pl.col("p50").sum().alias("hourly_total"))
    )
    both = daily.join(hourly, on=["boutique_id", "target_date"])
    ratio = both["hourly_total"].sum() / both["p50"].sum()
    assert 0.85 < ratio < 1.15


# -- intervals -------------------------------------------------------------------------------


def test_calibration_reaches_the_nominal_coverage_on_exchangeable_residuals() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    p50 = rng.uniform(50, 500, n)
    actual = p50 * (1 + rng.normal(0, 0.2, n))
    frame = pl.DataFrame(
        {"horizon": rng.integers(1, 57, n), "actual": actual, "p50": p50, "level": p50}
    )
    calibration = calibrate(frame.head(n // 2), DAILY.buckets)
    test = with_intervals(frame.tail(n // 2), calibration).collect()
    coverage = test.select(pl.col("actual").is_between(pl.col("p10"), pl.col("p90")).mean()).item()
    assert 0.76 < coverage < 0.84
    assert [b.residuals > 0 for b in calibration.buckets] == [True] * 4


def test_calibration_refuses_too_few_residuals() -> None:
    frame = pl.DataFrame(
        {"horizon": [1, 2], "actual": [1.0, 2.0], "p50": [1.0, 1.0], "level": [1.0, 1.0]}
    )
    with pytest.raises(UserInputError, match="residuals"):
        calibrate(frame, DAILY.buckets)


def test_buckets_without_residuals_borrow_from_a_shorter_one() -> None:
    rng = np.random.default_rng(2)
    frame = pl.DataFrame(
        {
            "horizon": rng.integers(1, 8, 200),
            "actual": rng.uniform(80, 120, 200),
            "p50": 100.0,
            "level": 100.0,
        }
    )
    calibration = calibrate(frame, DAILY.buckets)
    first, *rest = calibration.buckets
    assert first.residuals == 200
    assert all((b.lo, b.hi) == (first.lo, first.hi) for b in rest)


@settings(max_examples=60, deadline=None)
@given(
    p50=st.lists(st.floats(0, 1e5), min_size=1, max_size=20),
    lo=st.floats(-3, 0),
    hi=st.floats(0, 3),
    level=st.floats(0, 1e5),
    horizon=st.integers(1, 80),
)
def test_intervals_are_ordered_and_non_negative_for_any_quantiles(
    p50: list[float], lo: float, hi: float, level: float, horizon: int
) -> None:
    calibration = IntervalCalibration((BucketQuantiles(1, 56, lo, hi, 10),))
    frame = pl.DataFrame({"p50": p50, "level": level, "horizon": horizon})
    result = with_intervals(frame, calibration).collect()
    assert (result["p10"] >= 0).all()
    assert (result["p10"] <= result["p50"]).all()
    assert (result["p50"] <= result["p90"]).all()


# -- bundles ---------------------------------------------------------------------------------


def assert_same_models(loaded: GranularityModel, original: GranularityModel) -> None:
    """The booster, features, levels, calibration and parameters survived unchanged."""
    assert loaded.booster.model_to_string() == original.booster.model_to_string()
    assert loaded.manifest() == original.manifest()


def assert_same_forecasts(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Same rows, keys and methods; numbers equal to the last bits polars' float reductions
    may reorder (joins do not keep row order)."""
    assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def bundle_of(daily: GranularityModel, hourly: GranularityModel) -> FootfallBundle:
    return FootfallBundle({"daily": daily, "hourly": hourly}, {"as_of": FORECAST_START.isoformat()})


def test_bundle_save_load_round_trip_is_identical(
    tmp_path: Path,
    daily_model: GranularityModel,
    hourly_model: GranularityModel,
    history: PurchaseHistory,
) -> None:
    bundle = bundle_of(daily_model, hourly_model)
    bundle.save(tmp_path / "bundle")
    loaded = FootfallBundle.load(tmp_path / "bundle")
    for granularity, days in (("daily", 56), ("hourly", 14)):
        frame = bundle.feature_frame(history, FORECAST_START, days, granularity)
        expected = bundle.forecast_rows(frame, granularity)
        assert expected.height > 0
        assert_same_forecasts(loaded.forecast_rows(frame, granularity), expected)
        assert_same_models(loaded.model(granularity), bundle.model(granularity))
    assert loaded.metadata == bundle.metadata
    daily = loaded.forecast(history, FORECAST_START, 10, "daily")
    assert daily["date"].min() == FORECAST_START
    assert daily["date"].max() == FORECAST_START + timedelta(days=9)
    hourly = loaded.forecast(history, FORECAST_START, 2, "hourly")
    assert hourly.columns[:4] == ["boutique_id", "date", "hour_start", "hour"]


def test_bundle_round_trip_through_the_registry(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    daily_model: GranularityModel,
    hourly_model: GranularityModel,
    future_daily: pl.DataFrame,
) -> None:
    monkeypatch.chdir(tmp_path)
    tracking.configure_tracking(f"sqlite:///{tmp_path / 'mlruns.db'}", tmp_path / "mlartifacts")
    bundle = bundle_of(daily_model, hourly_model)
    with tracking.training_run("footfall-tests", run_name="round-trip"):
        version = tracking.log_bundle(
            bundle, "footfall-test", input_example=future_daily.head(3).to_pandas()
        )
        tracking.promote("footfall-test", version, {"mase": 0.5}, "mase", higher_is_better=False)
    loaded, info = tracking.load_bundle("footfall-test")
    assert isinstance(loaded, FootfallBundle)
    assert info["version"] == version
    assert_same_models(loaded.model("daily"), daily_model)
    assert_same_forecasts(
        loaded.forecast_rows(future_daily, "daily"), bundle.forecast_rows(future_daily, "daily")
    )
    through_pyfunc = loaded.predict_frame(future_daily.to_pandas())
    assert np.allclose(
        np.sort(through_pyfunc["p50"].to_numpy()),
        np.sort(daily_model.forecast(future_daily)["p50"].to_numpy()),
    )


def test_forecast_rejects_a_snapshot_of_another_day(
    daily_model: GranularityModel, hourly_model: GranularityModel, future_daily: pl.DataFrame
) -> None:
    class Snapshot:
        as_of = FORECAST_START
        boutique_daily = future_daily
        boutique_hourly = future_daily.head(0)

    bundle = bundle_of(daily_model, hourly_model)
    from_snapshot = bundle.forecast(Snapshot(), FORECAST_START, 56, "daily")
    assert from_snapshot.height > 0
    with pytest.raises(UserInputError, match="snapshot is as of"):
        bundle.forecast(Snapshot(), FORECAST_START + timedelta(days=1), 56, "daily")
    with pytest.raises(UserInputError, match="at least 1"):
        bundle.forecast(Snapshot(), FORECAST_START, 0, "daily")
