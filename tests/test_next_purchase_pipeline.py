"""The next-purchase pipeline end to end on a tiny synthetic maison and a temporary MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from rich.console import Console

from clientcast.settings import Settings, load_settings
from features.errors import UserInputError
from features.synthetic import MaisonConfig, generate_maison
from training import tracking
from training.next_purchase import (
    NextPurchaseBundle,
    RecipeOptions,
    backtest_next_purchase,
    train_next_purchase,
    tune_next_purchase,
)

pytestmark = pytest.mark.slow

FAST = RecipeOptions(
    n_training=3,
    max_rounds=30,
    early_stopping_rounds=5,
    num_threads=1,
    params={"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 30},
)
# No split can be made: every head predicts a constant, a model that must lose.
CRIPPLED = RecipeOptions(
    n_training=3, max_rounds=5, num_threads=1, params={"min_data_in_leaf": 1_000_000}
)


@pytest.fixture(scope="module")
def maison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("maison") / "maison"
    generate_maison(out, MaisonConfig(clients=800, boutiques=8, years=2.0, seed=3))
    return out


@pytest.fixture(scope="module")
def settings(maison: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    store = tmp_path_factory.mktemp("store")
    return load_settings(
        data_dir=maison,
        mlflow_tracking_uri=f"sqlite:///{store / 'mlruns.db'}",
        mlflow_artifact_dir=store / "mlartifacts",
        optuna_storage=f"sqlite:///{store / 'optuna.db'}",
        next_purchase_model="test-next-purchase",
    )


@pytest.fixture(scope="module")
def trained(settings: Settings, monkeypatch_module: pytest.MonkeyPatch) -> list:
    """A first (champion) run, then a crippled challenger on the same data and as-of date."""
    monkeypatch_module.delenv("MLFLOW_TRACKING_URI", raising=False)
    messages: list[str] = []
    first = train_next_purchase(settings, None, messages.append, FAST)
    second = train_next_purchase(settings, None, messages.append, CRIPPLED)
    return [first, second, messages]


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_first_model_becomes_champion_with_its_backtest(trained: list) -> None:
    first, _, messages = trained
    assert first.alias == tracking.CHAMPION
    assert "no champion yet" in first.promotion_reason
    models = set(first.backtest["model"].to_list())
    assert {"clientcast", "bgnbd", "rf_heuristic", "most_frequent_division"} <= models
    clientcast = first.backtest.filter(pl.col("model") == "clientcast").row(0, named=True)
    assert 0.0 <= clientcast["brier"] <= 0.25
    assert clientcast["roc_auc"] > 0.5
    assert first.layout.validation < first.layout.test
    assert any("fitting the production heads" in m for m in messages)


def test_worse_challenger_stays_challenger_and_says_why(trained: list) -> None:
    first, second, _ = trained
    assert second.alias == tracking.CHALLENGER, (first.summary(), second.summary())
    assert "does not beat champion v" in second.promotion_reason
    assert "re-scored with its backtest heads" in second.promotion_reason
    console = Console(record=True, width=160)
    console.print(second)
    text = console.export_text()
    assert "@challenger" in text and "does not beat" in text
    champion = tracking.alias_version("test-next-purchase", tracking.CHAMPION)
    assert str(champion.version) == first.version


def test_registered_bundle_round_trip_gives_identical_predictions(
    trained: list, settings: Settings, tmp_path: Path
) -> None:
    import mlflow.pyfunc

    from features.client_features import client_features
    from features.history import load_history

    bundle, info = tracking.load_bundle("test-next-purchase", tracking.CHAMPION)
    assert isinstance(bundle, NextPurchaseBundle)
    assert info["version"] == trained[0].version
    history = load_history(settings.data_dir)
    features = client_features(history, trained[0].as_of, "EUR").collect()
    predicted = bundle.predict(features)
    assert predicted["p_buy_90d"].is_between(0, 1).all()
    bundle.save(tmp_path)
    assert NextPurchaseBundle.load(tmp_path).predict(features).equals(predicted)
    pyfunc = mlflow.pyfunc.load_model("models:/test-next-purchase@champion")
    through_mlflow = pyfunc.predict(features.to_pandas())
    np.testing.assert_allclose(
        through_mlflow["p_buy_90d"].to_numpy(), predicted["p_buy_90d"].to_numpy()
    )


def test_rolling_origin_backtest_scores_every_origin(settings: Settings) -> None:
    table = backtest_next_purchase(settings, n_origins=2, options=FAST)
    assert table["cutoff"].n_unique() == 2
    for cutoff in table["cutoff"].unique():
        models = table.filter(pl.col("cutoff") == cutoff)["model"].to_list()
        assert {"clientcast", "bgnbd", "rf_heuristic"} <= set(models)


def test_tuning_persists_a_study_that_training_reads(settings: Settings) -> None:
    from training.next_purchase.pipeline import STUDY_FAMILY, recipe_params, study_parameters
    from training.tuning import best_params, study_name

    result = tune_next_purchase(settings, 2, options=FAST)
    assert result["trials"] >= 2
    assert result["best_value"] is not None
    assert result["study_name"] == study_name(STUDY_FAMILY, settings.data_dir)
    assert best_params(result["study_name"], settings.optuna_storage) == result["best_params"]
    params = recipe_params(study_parameters(settings), RecipeOptions())
    assert params["num_leaves"] == result["best_params"]["num_leaves"]
    with pytest.raises(UserInputError):
        tune_next_purchase(settings, 0)


def test_too_short_history_is_a_user_error(settings: Settings) -> None:
    from features.history import load_history
    from training.next_purchase.pipeline import history_dates

    first_day, _ = history_dates(load_history(settings.data_dir), "EUR")
    with pytest.raises(UserInputError, match="too short"):
        train_next_purchase(settings, first_day + timedelta(days=200), None, FAST)
