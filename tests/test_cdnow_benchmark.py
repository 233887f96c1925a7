"""The CDNOW benchmark runner on a 500-customer subset: same code path, protocol-shaped output."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from training.benchmarks.cdnow import MODELS, markdown_table, run_cdnow_benchmark
from training.benchmarks.cdnow_data import cdnow_master_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    try:
        cdnow_master_path()
    except Exception:  # the lifetimes wheel is a bench dependency
        pytest.skip("the lifetimes package with CDNOW_master.txt is not installed")
    out = tmp_path_factory.mktemp("cdnow") / "cdnow.json"
    return run_cdnow_benchmark(out, customers=500, num_threads=1), out


def test_runner_writes_the_protocol_json(results: tuple[dict, Path]) -> None:
    values, path = results
    assert json.loads(path.read_text()) == values
    assert set(values) == set(MODELS)
    expected_keys = {
        "auc",
        "log_loss",
        "brier",
        "count_mae",
        "count_rmse",
        "total_count_pct_error",
        "spend_mae",
        "spend_gini",
    }
    for model in MODELS:
        assert set(values[model]) == expected_keys
        assert all(math.isfinite(v) for v in values[model].values())
    assert "| clientcast |" in markdown_table(values)


def test_every_model_ranks_buyers_better_than_chance(results: tuple[dict, Path]) -> None:
    values, _ = results
    for model in MODELS:
        assert 0.6 < values[model]["auc"] <= 1.0
        assert 0.0 < values[model]["brier"] < 0.25
        assert values[model]["count_mae"] > 0
