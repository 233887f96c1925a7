"""`clientcast demo` follows the settings: their reference currency and their MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from clientcast import demo
from clientcast.settings import Settings, workspace_settings


class Stop(Exception):
    """Ends the demo once the checked step has run."""


def recording_console() -> Console:
    return Console(record=True, width=300, force_terminal=False)


def test_the_demo_maison_uses_the_reference_currency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import features.synthetic

    seen = {}

    def fake_generate(out: Path, config: object) -> None:
        seen["config"] = config
        raise Stop

    monkeypatch.setattr(features.synthetic, "generate_maison", fake_generate)
    settings = workspace_settings(tmp_path, reference_currency="CHF", seed=11)
    with pytest.raises(Stop):
        demo.run_demo(settings, recording_console())
    assert seen["config"].reference_currency == "CHF"
    assert seen["config"].seed == 11


def test_the_demo_names_the_mlflow_store_of_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.footfall.pipeline
    import training.next_purchase.pipeline
    import training.tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(training.tracking, "configure_tracking", lambda uri, artifacts: None)
    for module, name in (
        (training.next_purchase.pipeline, "train_next_purchase"),
        (training.footfall.pipeline, "train_footfall"),
    ):
        monkeypatch.setattr(module, name, lambda settings, as_of, progress=None: "trained")
    settings: Settings = workspace_settings(tmp_path)
    train = next(stage for stage in demo.demo_stages() if "training" in stage.title)
    written = dict(train.run(settings, recording_console()))
    assert written["MLflow store"] == settings.tracking_uri
    assert str(tmp_path) in settings.tracking_uri
    console = recording_console()
    console.print(demo.summary(list(written.items()), settings.tracking_uri))
    text = console.export_text()
    assert f"mlflow ui --backend-store-uri {settings.tracking_uri}" in text
    assert "sqlite:///mlruns.db" not in text
