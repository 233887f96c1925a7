"""The notebooks benchmark's verdict against the 2-minute target."""

from __future__ import annotations

from types import ModuleType

import pytest
from benchmark_scripts import load_benchmark_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/notebooks.py as a module."""
    return load_benchmark_script("notebooks")


def test_a_notebook_passes_only_when_fast_and_without_errors(bench: ModuleType) -> None:
    runs = [
        bench.NotebookRun("01-fast", wall_s=30.0, cpu_s=35.0, images=2, errors=0),
        bench.NotebookRun("02-slow", wall_s=121.0, cpu_s=150.0, images=1, errors=0),
        bench.NotebookRun("03-broken", wall_s=5.0, cpu_s=5.0, images=0, errors=1),
    ]
    rows = bench.runs_table(runs).splitlines()[2:]
    assert [row.rsplit("|", 2)[1].strip() for row in rows] == ["yes", "**no**", "**no**"]
    assert rows[1].startswith("| 02-slow | 121.0 | 150.0 | 1 | 0 |")
