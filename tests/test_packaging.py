"""The built wheel ships the four packages and the command line entry point."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("clientcast", "features", "training", "serving")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("clientcast-*.whl")
    return built


def test_wheel_contains_all_four_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names, f"{package} missing from {wheel.name}"
    assert not any(name.startswith(("tests/", "notebooks/", "benchmarks/")) for name in names)


def test_wheel_declares_the_clientcast_command(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
    assert "clientcast = clientcast.cli:app" in archive.read(entry_points).decode()
