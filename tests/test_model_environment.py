"""A logged model carries its environment: pinned PyPI requirements and the project's own code.

``mlflow models serve`` and :func:`mlflow.pyfunc.get_model_dependencies` rebuild a model's
environment from its ``requirements.txt``; a process without clientcast installed must load the
bundle from the code logged beside it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from features.contract import DIVISIONS
from training import tracking
from training.next_purchase.bundle import NextPurchaseBundle
from training.next_purchase.frame import feature_spec
from training.next_purchase.models import BoostingSettings
from training.next_purchase.pipeline import fit_recipe
from training.next_purchase.search_space import booster_params

HORIZON = 90
CUTOFFS = [date(2025, 1, 1) + timedelta(days=45 * k) for k in range(4)]
FEATURES = ["recency_days", "frequency", "monetary_total", "last_division"]
REGISTERED = "environment-test"
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[0-9][^\s;]*)$")


def client_frame(cutoff: date, clients: int, seed: int) -> pl.DataFrame:
    """Clients whose chance to buy falls with recency: features and labels at ``cutoff``."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(1, 400, clients)
    frequency = rng.integers(1, 10, clients)
    bought = rng.random(clients) < np.exp(-recency / 150)
    wait = rng.integers(0, HORIZON, clients)
    divisions = rng.choice(DIVISIONS[:3], clients)
    return pl.DataFrame(
        {
            "client_id": [f"c{i:04d}" for i in range(clients)],
            "cutoff": [cutoff] * clients,
            "recency_days": recency,
            "frequency": frequency,
            "monetary_total": rng.gamma(2.0, 500.0, clients) * frequency,
            "last_division": divisions,
            "label_occasions": bought.astype(int),
            "label_bought": bought,
            "label_bought_30d": bought & (wait < 30),
            "label_spend": np.where(bought, rng.gamma(2.0, 400.0, clients), 0.0),
            "label_division": pl.Series(
                [str(d) if b else None for d, b in zip(divisions, bought, strict=True)],
                dtype=pl.String,
            ),
            "label_days_to_next": pl.Series(
                [int(w) if b else None for w, b in zip(wait, bought, strict=True)], dtype=pl.Int64
            ),
            "label_censored": ~bought,
        }
    )


@dataclass(frozen=True)
class Logged:
    """A bundle logged and registered, its model folder and ``sys.path`` around the logging."""

    model_dir: Path
    bundle: NextPurchaseBundle
    path_before: list[str]
    path_after: list[str]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """A small next-purchase bundle logged (with an input example, which MLflow loads the model
    to check) and registered as champion in a fresh store."""
    import mlflow.artifacts

    root = tmp_path_factory.mktemp("environment")
    frames = {cutoff: client_frame(cutoff, 400, seed) for seed, cutoff in enumerate(CUTOFFS)}
    spec = feature_spec(frames[CUTOFFS[0]], FEATURES, ["last_division"])
    boosting = BoostingSettings(
        booster_params(), max_rounds=10, early_stopping_rounds=5, num_threads=1
    )
    heads = fit_recipe(frames, CUTOFFS[:2], CUTOFFS[2], spec, boosting, HORIZON)
    bundle = NextPurchaseBundle(spec, heads, heads, {}, {"as_of": CUTOFFS[-1].isoformat()})
    tracking.configure_tracking(f"sqlite:///{root / 'mlruns.db'}", root / "mlartifacts")
    example = frames[CUTOFFS[-1]].select("client_id", *FEATURES).head(3).to_pandas()
    path_before = list(sys.path)
    with tracking.training_run("environment", run_name="bundle"):
        version = tracking.log_bundle(bundle, REGISTERED, input_example=example)
        tracking.promote(REGISTERED, version, {"auc": 0.7}, "auc", higher_is_better=True)
    path_after = list(sys.path)
    model_dir = mlflow.artifacts.download_artifacts(
        f"models:/{REGISTERED}/{version}", dst_path=str(root / "model")
    )
    return Logged(Path(model_dir), bundle, path_before, path_after)


def requirements(model_dir: Path) -> dict[str, str]:
    """The model's ``requirements.txt`` as {distribution: pinned version}."""
    lines = (model_dir / "requirements.txt").read_text().split()
    pinned = {}
    for line in lines:
        match = REQUIREMENT.match(line)
        assert match, f"{line!r} is not pinned as name==version"
        pinned[match["name"]] = match["version"]
    return pinned


def test_requirements_are_installed_distributions_pinned_to_their_versions(
    logged: Logged,
) -> None:
    import mlflow.pyfunc

    pinned = requirements(logged.model_dir)
    assert "clientcast" not in pinned, "not a PyPI distribution: the model ships its code instead"
    needed = {"mlflow", "lightgbm", "polars", "numpy", "pandas", "scikit-learn", "pyarrow"}
    assert needed <= set(pinned)
    for name, version in pinned.items():
        assert importlib.metadata.version(name) == version, name
    through_mlflow = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{REGISTERED}/1"))
    assert requirements(through_mlflow.parent) == pinned


def test_the_project_code_travels_with_the_model(logged: Logged) -> None:
    code = logged.model_dir / "code"
    assert (code / "training" / "next_purchase" / "bundle.py").is_file()
    assert (code / "features" / "errors.py").is_file()
    assert not list(code.rglob("__pycache__"))


LOADER = """
import json, sys
try:
    import training
except ModuleNotFoundError:
    pass
else:
    sys.exit(f"training is importable before loading: {training.__file__}")
import mlflow.pyfunc
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_json(sys.argv[2], orient="records")
predicted = model.predict(rows)
import training
print(json.dumps({"training": training.__file__, "p_buy_90d": predicted["p_buy_90d"].tolist()}))
"""


def test_a_process_without_clientcast_loads_and_predicts(logged: Logged, tmp_path: Path) -> None:
    """Python without its site hooks (so without the editable install of clientcast), the
    third-party packages on PYTHONPATH, run from a folder outside the repository."""
    model_dir, bundle = logged.model_dir, logged.bundle
    rows = client_frame(CUTOFFS[-1], 5, seed=11).select("client_id", *FEATURES)
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(rows.write_json())
    site_packages = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "MLFLOW", "CLIENTCAST"))
    }
    environment["PYTHONPATH"] = os.pathsep.join(sorted(site_packages))
    completed = subprocess.run(
        [sys.executable, "-S", "-c", LOADER, str(model_dir), str(rows_file)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert Path(answer["training"]).is_relative_to(model_dir / "code")
    expected = bundle.predict(rows)["p_buy_90d"].to_numpy()
    np.testing.assert_allclose(answer["p_buy_90d"], expected, rtol=1e-9)


def test_logging_and_loading_in_process_leave_the_import_path_as_it_was(
    logged: Logged,
) -> None:
    assert logged.path_after == logged.path_before
    before = list(sys.path)
    bundle, info = tracking.load_bundle(REGISTERED, tracking.CHAMPION)
    assert sys.path == before
    assert isinstance(bundle, NextPurchaseBundle), "the installed class, not the logged copy's"
    assert info["version"] == "1"
