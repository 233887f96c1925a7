"""Recording benchmark figures: result pages, the assembled document, and the CLI doing both."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clientcast.cli import app
from training.benchmarks import cdnow
from training.benchmarks.record import (
    benchmarks_document,
    metrics_table,
    record_result,
    result_page,
)

FIGURES = {
    "clientcast": {"mase": 0.8123, "wape": 0.1115, "coverage_80": float("nan")},
    "seasonal_naive_7": {"mase": 1.137, "wape": 0.156},
}


def test_metrics_table_formats_numbers_percentages_and_gaps() -> None:
    table = metrics_table(FIGURES, ("mase", "wape", "coverage_80"), percent=("wape",))
    lines = table.splitlines()
    assert lines[0] == "| model | mase | wape | coverage_80 |"
    assert lines[2] == "| clientcast | 0.812 | 11.2 % | – |"
    assert lines[3] == "| seasonal_naive_7 | 1.137 | 15.6 % | – |"


def test_a_recorded_page_becomes_a_section_of_the_document(tmp_path: Path) -> None:
    results, document = tmp_path / "results", tmp_path / "docs" / "BENCHMARKS.md"
    (results).mkdir()
    (results / "footfall.md").write_text("# Footfall\n\nolder page\n")
    page = result_page("Latest run", "clientcast benchmark auckland", {"daily": "| a |\n|---|"})
    written = record_result("auckland_run", page, results, document)
    assert written == [results / "auckland_run.md", document]
    text = document.read_text()
    assert text.startswith("# Benchmarks")
    assert "## Latest run" in text and "### daily" in text
    assert "- command: `clientcast benchmark auckland`" in text
    assert text.index("## Latest run") < text.index("## Footfall")
    assert text == benchmarks_document(results)
    assert not [path for path in tmp_path.rglob(".*")]


def test_cli_benchmark_records_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = {
        model: {key: 0.5 + index / 10 for key in cdnow.METRICS}
        for index, model in enumerate(cdnow.MODELS)
    }
    monkeypatch.setattr(cdnow, "run_cdnow_benchmark", lambda json_path=None, progress=None: figures)
    results, document = tmp_path / "results", tmp_path / "BENCHMARKS.md"
    arguments = ["benchmark", "cdnow", "--results", str(results), "--doc", str(document)]
    result = CliRunner().invoke(app, arguments, terminal_width=200)
    assert result.exit_code == 0, result.output
    page = (results / "cdnow_run.md").read_text()
    assert "| clientcast | 0.5000 |" in page and "| bgnbd | 0.6000 |" in page
    assert "| clientcast | 0.5000 |" in document.read_text()


def test_cli_benchmark_without_recording_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = {"clientcast": dict.fromkeys(cdnow.METRICS, 0.5)}
    monkeypatch.setattr(cdnow, "run_cdnow_benchmark", lambda json_path=None, progress=None: figures)
    arguments = ["benchmark", "cdnow", "--no-record", "--results", str(tmp_path / "r")]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "r").exists()
