"""The footfall recipe end to end on a tiny synthetic maison: backtest, MLflow registration,
champion/challenger promotion, the planners' forecast tables, the recursive strategy and the
hourly day-profile blend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from clientcast.settings import Settings
from features.history import load_history
from features.synthetic import MaisonConfig, generate_maison
from training import tracking
from training.footfall.forecast import forecast_footfall
from training.footfall.pipeline import (
    FootfallOptions,
    backtest_footfall,
    resolve_as_of,
    train_footfall,
    tune_footfall,
)

FAST = FootfallOptions(
    daily_origins=2,
    hourly_origins=2,
    warmup_origins=1,
    daily_origin_step_days=28,
    hourly_origin_step_days=14,
    hourly_training_step_days=28,
    daily_training_step_days=14,
    num_threads=1,
    autoets=False,
    plot_boutiques=2,
    param_overrides={"num_boost_round": 40, "learning_rate": 0.1, "min_data_in_leaf": 20},
)
WORSE = FootfallOptions(
    **{
        **FAST.__dict__,
        "param_overrides": {"num_boost_round": 1, "learning_rate": 0.01},
    }
)


@pytest.fixture(scope="module")
def maison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("maison") / "maison"
    generate_maison(folder, MaisonConfig(clients=10, boutiques=8, years=1.5, seed=3))
    return folder


@pytest.fixture
def settings(maison: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Settings(
        data_dir=maison,
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}",
        mlflow_artifact_dir=tmp_path / "mlartifacts",
        optuna_storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        footfall_model="footfall-under-test",
    )


def test_train_registers_then_keeps_a_worse_challenger(settings: Settings) -> None:
    first = train_footfall(settings, options=FAST)
    assert (first.version, first.alias) == ("1", tracking.CHAMPION)
    table = first.backtest
    assert {"clientcast", "seasonal_naive_7", "seasonal_naive_364", "seasonal_naive_168"} <= set(
        table["model"]
    )
    daily = table.filter((pl.col("granularity") == "daily") & (pl.col("horizon") != "all"))
    assert set(daily["horizon"]) >= {"1-7", "8-14", "15-28", "29-56"}
    assert daily["coverage_80"].is_not_null().all()
    clientcast = table.filter((pl.col("model") == "clientcast") & (pl.col("horizon") == "all"))
    naive = table.filter((pl.col("model") == "seasonal_naive_7") & (pl.col("horizon") == "all"))
    assert clientcast.filter(pl.col("granularity") == "daily")["mase"].item() < (
        naive["mase"].item()
    )

    second = train_footfall(settings, options=WORSE)
    assert (second.version, second.alias) == ("2", tracking.CHALLENGER)
    assert "re-fitted" in second.promotion_reason
    champion = tracking.alias_version(settings.footfall_model, tracking.CHAMPION)
    assert str(champion.version) == "1"
    rescored = second.backtest.filter(
        (pl.col("model") == "champion") & (pl.col("horizon") == "all")
    )
    assert rescored.height == 2

    forecast = forecast_footfall(settings, horizon_days=56, out_dir=settings.forecast_dir)
    assert forecast.model_version == "1"
    names = sorted(path.name for path in forecast.paths)
    assert names == [
        "footfall_daily.csv",
        "footfall_daily.parquet",
        "footfall_hourly.csv",
        "footfall_hourly.parquet",
    ]
    assert not [p for p in settings.forecast_dir.iterdir() if p.name.startswith(".")]
    written = pl.read_parquet(settings.forecast_dir / "footfall_daily.parquet")
    assert written.equals(forecast.daily)
    _, as_of = resolve_as_of(load_history(settings.data_dir), None)
    assert written["date"].min() == as_of
    assert written["date"].max() == as_of + timedelta(days=55)
    hourly = pl.read_parquet(settings.forecast_dir / "footfall_hourly.parquet")
    assert hourly["date"].max() == as_of + timedelta(days=13)
    assert (hourly["hour_start"].dt.date() == hourly["date"]).all()
    boutiques = load_history(settings.data_dir).boutiques.collect()
    gone = boutiques.filter(pl.col("closed_on") <= as_of)["boutique_id"].to_list()
    online = boutiques.filter(pl.col("format") == "online")["boutique_id"].to_list()
    assert not set(gone + online) & set(written["boutique_id"])


def test_forecast_without_a_model_is_a_user_error(settings: Settings) -> None:
    from features.errors import UserInputError

    with pytest.raises(UserInputError, match="clientcast train"):
        forecast_footfall(settings)


def test_backtest_compares_direct_and_recursive(settings: Settings) -> None:
    options = FootfallOptions(**{**FAST.__dict__, "granularities": ("daily",)})
    result = backtest_footfall(settings, options=options, compare_strategies=True)
    metrics = result.results["daily"].metrics
    assert {"clientcast", "clientcast_recursive", "seasonal_naive_7"} <= set(metrics)
    assert metrics["clientcast"]["points"] == metrics["clientcast_recursive"]["points"]
    assert "daily MASE" in result.summary()


def test_backtest_compares_the_hourly_day_profile_blend(settings: Settings) -> None:
    options = FootfallOptions(**{**FAST.__dict__, "granularities": ("hourly",)})
    result = backtest_footfall(settings, options=options, compare_strategies=True)
    metrics = result.results["hourly"].metrics
    assert {"clientcast", "clientcast_recursive", "clientcast_day_profile"} <= set(metrics)
    assert metrics["clientcast"]["points"] == metrics["clientcast_day_profile"]["points"]
    assert metrics["clientcast_day_profile"]["mase"] != metrics["clientcast"]["mase"]
    assert metrics["clientcast_day_profile"]["mase"] < metrics["seasonal_naive_168"]["mase"]


def test_tune_searches_before_the_backtest_windows(settings: Settings) -> None:
    options = FootfallOptions(**{**FAST.__dict__, "granularities": ("daily",)})
    summary = tune_footfall(settings, trials=2, options=options, tuning_origins=1)
    daily = summary["daily"]
    assert daily["trials"] == 2
    assert daily["best_params"]
    first_backtest_origin = resolve_as_of(load_history(settings.data_dir), None)[1] - timedelta(
        days=56 + 28
    )
    assert all(origin < first_backtest_origin.isoformat() for origin in daily["tuning_origins"])
