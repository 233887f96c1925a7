"""Every script in benchmarks/ starts: its imports resolve to the packages, not to its siblings.

``benchmarks/features.py`` and ``benchmarks/serving.py`` are named like the ``features`` and
``serving`` packages; a script run as ``python benchmarks/x.py`` has its own folder first on the
import path, so each script must keep that folder off it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_benchmark_script_shows_its_help(script: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage" in result.stdout.lower()
