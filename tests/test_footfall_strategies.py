"""The footfall strategies: each fits its own model, reading only the series it needs."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from features.history import load_history
from features.synthetic import MaisonConfig, generate_maison
from training.footfall import strategies
from training.footfall.layout import granularity

BEFORE = date(2026, 3, 1)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("maison") / "maison"
    generate_maison(folder, MaisonConfig(clients=10, boutiques=8, years=1, seed=3))
    return load_history(folder)


def test_each_strategy_reads_only_its_series_and_only_before_the_cutoff(history: Any) -> None:
    hourly = granularity("hourly")
    assert strategies.observed_series("direct", history, hourly, BEFORE) == {}
    recursive = strategies.observed_series("recursive", history, hourly, BEFORE)
    profile = strategies.observed_series("day_profile", history, hourly, BEFORE)
    assert set(recursive) == {"series"}
    assert set(profile) == {"hourly_series", "daily_series"}
    for frame in (*recursive.values(), *profile.values()):
        assert frame.height > 0
        assert frame["time"].cast(pl.Date).max() < BEFORE
    assert profile["daily_series"]["time"].dtype == pl.Date
    everything = strategies.observed_series("recursive", history, hourly)["series"]
    assert everything.height > recursive["series"].height


@pytest.mark.parametrize("strategy", ["direct", "recursive", "day_profile"])
def test_a_strategy_fitter_calls_its_model_with_the_recipe(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[pl.DataFrame, dict[str, Any]]] = []
    monkeypatch.setitem(
        strategies.FIT_MODEL, strategy, lambda frame, **kwargs: calls.append((frame, kwargs))
    )
    frame = pl.DataFrame({"x": [1]})
    series = {"series": pl.DataFrame({"time": [BEFORE]})}
    fit = strategies.strategy_fitter(strategy, granularity("daily"), {"a": 1}, 5, 1, 0.2, series)
    fit(frame)
    ((called_frame, kwargs),) = calls
    assert called_frame is frame
    assert kwargs["params"] == {"a": 1} and kwargs["seed"] == 5 and kwargs["num_threads"] == 1
    assert kwargs["disruption_weight"] == 0.2 and kwargs["series"] is series["series"]
