"""`make clean` removes what clientcast generated and nothing else under data/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_clean_keeps_data_it_did_not_generate(tmp_path: Path) -> None:
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    generated = ["data/maison", "data/maison-400c-8b-2y", "snapshots", "forecasts"]
    kept = ["data/my-history", "data/maison-1000000c-seed3", "notebooks"]
    for folder in generated + kept:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "file.parquet").write_text("x")
    (tmp_path / "mlruns.db").write_text("x")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    for folder in generated:
        assert not (tmp_path / folder).exists(), folder
    for folder in kept:
        assert (tmp_path / folder / "file.parquet").is_file(), folder
    assert not (tmp_path / "mlruns.db").exists()
