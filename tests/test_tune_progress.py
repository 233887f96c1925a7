"""`clientcast tune` shows one progress display: the command's spinner, not Optuna's bar too."""

from __future__ import annotations

from pathlib import Path

import pytest

from clientcast.settings import workspace_settings
from features.synthetic import MaisonConfig, generate_maison
from training.next_purchase.pipeline import RecipeOptions, tune_next_purchase


class Stop(Exception):
    """Raised by the stand-in study once it has seen its arguments."""


@pytest.mark.parametrize("with_progress", [True, False])
def test_optuna_bar_only_without_a_progress_callback(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, with_progress: bool
) -> None:
    import training.tuning

    root = tmp_path_factory.getbasetemp() / "tune-progress"
    if not (root / "maison" / "clients.parquet").is_file():
        generate_maison(root / "maison", MaisonConfig(clients=200, boutiques=8, years=1.5))
    seen: dict[str, object] = {}

    def fake_run_study(*args: object, show_progress: bool = True, **kwargs: object) -> None:
        seen["show_progress"] = show_progress
        raise Stop

    monkeypatch.setattr(training.tuning, "run_study", fake_run_study)
    monkeypatch.setattr("training.tracking.configure_tracking", lambda uri, artifacts: None)
    settings = workspace_settings(Path(root), data_dir=root / "maison")
    options = RecipeOptions(n_training=2, num_threads=1)
    steps: list[str] = []
    with pytest.raises(Stop):
        tune_next_purchase(
            settings, 1, options=options, progress=steps.append if with_progress else None
        )
    assert seen["show_progress"] is (not with_progress)
