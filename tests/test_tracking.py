"""The MLflow module: experiments, bundles through the registry, champion/challenger promotion."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from training import tracking


class TinyBundle:
    """A bundle of one native LightGBM booster, enough to exercise the registry round trip."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster

    def save(self, directory: Path) -> None:
        self.booster.save_model(str(directory / "model.lgb"))

    @classmethod
    def load(cls, directory: Path) -> TinyBundle:
        return cls(lgb.Booster(model_file=str(directory / "model.lgb")))

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(frame.to_numpy(), num_threads=1)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    tracking.configure_tracking(f"sqlite:///{tmp_path / 'mlruns.db'}", tmp_path / "mlartifacts")
    return tmp_path


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    rng = np.random.default_rng(0)
    features = rng.random((300, 3))
    target = (features[:, 0] + 0.1 * rng.random(300) > 0.5).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(features, target), num_boost_round=10)


def register(booster: lgb.Booster, auc: float) -> tracking.PromotionDecision:
    with tracking.training_run("tests", run_name="unit"):
        tracking.log_metrics({"backtest": {"auc": auc}})
        version = tracking.log_bundle(TinyBundle(booster), "test-model")
        return tracking.promote("test-model", version, {"backtest.auc": auc}, "backtest.auc", True)


def test_bundle_round_trip_through_the_registry(store: Path, booster: lgb.Booster) -> None:
    register(booster, 0.8)
    bundle, info = tracking.load_bundle("test-model")
    rows = pd.DataFrame(np.linspace(0, 1, 12).reshape(4, 3))
    np.testing.assert_allclose(bundle.predict_frame(rows), booster.predict(rows.to_numpy()))
    assert info["version"] == "1"
    assert info["metrics"]["backtest.auc"] == pytest.approx(0.8)
    assert Path(store / "mlartifacts").is_dir()


def test_worse_challenger_stays_challenger_and_says_why(store: Path, booster: lgb.Booster) -> None:
    first = register(booster, 0.8)
    worse = register(booster, 0.7)
    better = register(booster, 0.9)
    assert first.alias == tracking.CHAMPION
    assert worse.alias == tracking.CHALLENGER
    assert "does not beat champion v1" in worse.reason
    assert better.alias == tracking.CHAMPION
    assert str(tracking.alias_version("test-model", tracking.CHAMPION).version) == better.version


def test_champion_value_scored_by_the_caller_wins_over_the_logged_one(
    store: Path, booster: lgb.Booster
) -> None:
    register(booster, 0.8)
    with tracking.training_run("tests", run_name="rescored"):
        version = tracking.log_bundle(TinyBundle(booster), "test-model")
        decision = tracking.promote(
            "test-model", version, {"auc": 0.75}, "auc", True, champion_value=0.7
        )
    assert decision.alias == tracking.CHAMPION
    assert decision.champion_value == 0.7


def test_missing_champion_is_a_user_error(store: Path) -> None:
    from features.errors import UserInputError

    with pytest.raises(UserInputError, match="clientcast train"):
        tracking.load_bundle("no-such-model")


def test_flatten_metrics_drops_non_finite_values() -> None:
    flat = tracking.flatten_metrics({"a": {"b": 1, "c": float("nan")}, "d": "text", "e": 2.5})
    assert flat == {"a.b": 1.0, "e": 2.5}


def test_a_version_that_already_is_the_champion_is_left_as_it_is(
    store: Path, booster: lgb.Booster
) -> None:
    first = register(booster, 0.8)
    again = tracking.promote("test-model", first.version, {"auc": 0.8}, "auc", True)
    assert again.alias == tracking.CHAMPION
    assert "already is the champion" in again.reason
    assert tracking.alias_version("test-model", tracking.CHALLENGER) is None
    assert str(tracking.alias_version("test-model", tracking.CHAMPION).version) == first.version


def test_a_champion_without_the_metric_is_named_as_such(store: Path, booster: lgb.Booster) -> None:
    register(booster, 0.8)  # logs backtest.auc only
    with tracking.training_run("tests", run_name="other metric"):
        version = tracking.log_bundle(TinyBundle(booster), "test-model")
        decision = tracking.promote("test-model", version, {"gini": 0.5}, "gini", True)
    assert decision.alias == tracking.CHAMPION
    assert decision.reason == "champion v1 has no gini to compare with"


def test_the_bundle_loaded_is_the_version_the_alias_was_resolved_to(
    store: Path, booster: lgb.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc

    register(booster, 0.8)
    loaded: list[str] = []
    real_load = mlflow.pyfunc.load_model

    def recording_load(uri: str, *args: object, **kwargs: object) -> object:
        loaded.append(uri)
        return real_load(uri, *args, **kwargs)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", recording_load)
    _, info = tracking.load_bundle("test-model")
    assert loaded == ["models:/test-model/1"] and info["version"] == "1"


def test_only_a_missing_model_or_alias_reads_as_no_version(
    store: Path, booster: lgb.Booster, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.exceptions import MlflowException

    assert tracking.alias_version("no-such-model", tracking.CHAMPION) is None
    register(booster, 0.8)
    assert tracking.alias_version("test-model", "no-such-alias") is None

    class BrokenRegistry:
        def get_model_version_by_alias(self, name: str, alias: str) -> None:
            raise MlflowException("database is locked", error_code="INTERNAL_ERROR")

        def get_registered_model(self, name: str) -> None:
            raise MlflowException("database is locked", error_code="INTERNAL_ERROR")

    monkeypatch.setattr(tracking, "_client", BrokenRegistry)
    with pytest.raises(tracking.RegistryError, match="INTERNAL_ERROR: database is locked"):
        tracking.alias_version("test-model", tracking.CHAMPION)


def test_a_logged_parquet_table_reads_back_whole(store: Path) -> None:
    import polars as pl
    from mlflow import MlflowClient

    frame = pl.DataFrame({"boutique_id": ["B1", "B2"], "p50": [12.5, None]})
    with tracking.training_run("tables", "parquet") as run_id:
        tracking.log_parquet(frame, "backtest_forecasts_daily.parquet")
        tracking.log_parquet(frame, "nested/forecasts.parquet")
    client = MlflowClient()
    for artifact in ("backtest_forecasts_daily.parquet", "nested/forecasts.parquet"):
        back = pl.read_parquet(client.download_artifacts(run_id, artifact))
        assert back.equals(frame)


def register_trained(
    booster: lgb.Booster, auc: float, trained: str, champion_auc: float = 0.5
) -> tracking.PromotionDecision:
    """Register a version trained as of ``trained`` (ISO date); promote it by ``auc`` against
    ``champion_auc``."""
    from datetime import date

    as_of = date.fromisoformat(trained)
    with tracking.training_run("tests", run_name=f"trained {trained}"):
        version = tracking.log_bundle(TinyBundle(booster), "test-model", trained_as_of=as_of)
        return tracking.promote(
            "test-model", version, {"auc": auc}, "auc", True, champion_auc, as_of
        )


def test_a_back_dated_version_never_replaces_a_newer_champion(
    store: Path, booster: lgb.Booster
) -> None:
    assert register_trained(booster, 0.7, "2026-06-01").alias == tracking.CHAMPION
    back_dated = register_trained(booster, 0.9, "2026-05-01")
    assert back_dated.alias == tracking.CHALLENGER
    assert back_dated.reason.startswith(
        "trained as of 2026-05-01, before champion v1 (2026-06-01): a back-dated model never"
    )
    newer = register_trained(booster, 0.9, "2026-06-01")  # same date: the metric decides
    assert newer.alias == tracking.CHAMPION


def test_the_newest_version_trained_by_a_date_is_found_with_its_alias(
    store: Path, booster: lgb.Booster
) -> None:
    from datetime import date

    register(booster, 0.8)  # untagged, like versions registered before the tag existed
    assert register_trained(booster, 0.7, "2026-03-01").alias == tracking.CHAMPION  # v2
    register_trained(booster, 0.6, "2026-05-01", champion_auc=0.7)  # v3, then no alias
    register_trained(booster, 0.6, "2026-04-01", champion_auc=0.7)  # v4, @challenger
    assert tracking.latest_version_trained_by("test-model", date(2026, 2, 28)) is None
    found = tracking.latest_version_trained_by("test-model", date(2026, 4, 15))
    assert str(found.version) == "4" and tracking.version_trained_as_of(found) == date(2026, 4, 1)
    assert list(found.aliases) == [tracking.CHALLENGER]
    latest = tracking.latest_version_trained_by("test-model", date(2026, 12, 31))
    assert str(latest.version) == "3" and not latest.aliases
    bundle, info = tracking.load_version("test-model", latest)
    assert info["alias"] is None and info["trained_as_of"] == date(2026, 5, 1)
    assert isinstance(bundle, TinyBundle)
