"""The root bentofile.yaml builds a Bento of the service (``bentoml build``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_bentofile_names_the_service_and_its_packages() -> None:
    spec = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    assert spec["service"] == "serving.service:Clientcast"
    packages = " ".join(spec["python"]["packages"])
    for requirement in ("bentoml>=1.4.37", "lightgbm", "mlflow", "polars", "fastapi"):
        assert requirement in packages
    for package in ("clientcast", "features", "training", "serving"):
        assert f"{package}/**/*.py" in spec["include"]


@pytest.mark.slow
def test_bentoml_build_succeeds(tmp_path: Path) -> None:
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    command = [sys.executable, "-m", "bentoml", "build", str(ROOT), "--output", "tag"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (bento,) = [p for p in (tmp_path / "bentoml" / "bentos" / "clientcast").iterdir() if p.is_dir()]
    built = yaml.safe_load((bento / "bento.yaml").read_text())
    assert built["service"] == "serving.service:Clientcast"
    assert (bento / "src" / "serving" / "service.py").is_file()
    assert not (bento / "src" / "tests").exists()


def test_the_fast_server_and_the_services_imports_are_declared() -> None:
    """docs/serving.md relies on uvloop and httptools; the service imports fastapi and
    threadpoolctl; the image leaves out Optuna, which only the training pipelines use."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {requirement.split(">")[0].split("[")[0].strip() for requirement in declared}
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    bento_names = {requirement.split(">")[0].strip() for requirement in bento}
    for package in ("fastapi", "uvloop", "httptools", "threadpoolctl"):
        assert package in names, package
        assert package in bento_names, package
    assert all(">=" in requirement for requirement in declared)
    assert "optuna" not in bento_names
