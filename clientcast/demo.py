"""`clientcast demo`: the whole flow on the built-in synthetic maison, from a clean clone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from clientcast.settings import Settings
from clientcast.steps import step_progress
from features.errors import UserInputError


def run_demo(settings: Settings, console: Console) -> list[tuple[str, Path | str]]:
    """Generate the maison when missing, validate it, then run every stage; return what it wrote."""
    from clientcast.history_check import check_history
    from features.synthetic import MaisonConfig, generate_maison

    written: list[tuple[str, Path | str]] = []
    data_dir = settings.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise UserInputError(
            f"{data_dir}: is a file; the demo's data folder (CLIENTCAST_DATA_DIR, default "
            "data/maison) must be a folder, or absent for the demo to generate the maison there"
        )
    if not data_dir.is_dir():
        console.rule("[bold]1 · synthetic maison")
        config = MaisonConfig(seed=settings.seed, reference_currency=settings.reference_currency)
        console.print(generate_maison(data_dir, config))
    else:
        console.print(f"Using the existing maison in [bold]{data_dir}[/]")
    written.append(("purchase history", data_dir))

    console.rule("[bold]2 · validation")
    check_history(settings, None, console, "demo")
    console.print(f"{data_dir} follows the data contract.")

    for stage in demo_stages():
        console.rule(f"[bold]{stage.title}")
        written.extend(stage.run(settings, console))

    console.print(summary(written, settings.tracking_uri))
    return written


@dataclass(frozen=True)
class DemoStage:
    """One step of the demo after validation: a title and a function returning what it wrote."""

    title: str
    run: Callable[[Settings, Console], list[tuple[str, Path | str]]]


def _snapshot(settings: Settings, console: Console) -> list[tuple[str, Path | str]]:
    from features.snapshot import write_snapshot

    info = write_snapshot(
        settings.data_dir, None, settings.snapshot_dir, settings.reference_currency
    )
    console.print(info)
    return [("online snapshot", info.path)]


def _train(settings: Settings, console: Console) -> list[tuple[str, Path | str]]:
    from training.footfall.pipeline import train_footfall
    from training.next_purchase.pipeline import train_next_purchase
    from training.tracking import configure_tracking

    configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    with step_progress(console, "next-purchase") as progress:
        next_purchase = train_next_purchase(settings, None, progress=progress)
    console.print(next_purchase)
    with step_progress(console, "footfall") as progress:
        footfall = train_footfall(settings, None, progress=progress)
    console.print(footfall)
    return [
        ("MLflow store", settings.tracking_uri),
        ("MLflow artifacts", settings.mlflow_artifact_dir),
    ]


def _forecast(settings: Settings, console: Console) -> list[tuple[str, Path | str]]:
    from training.forecasts import write_forecasts

    with step_progress(console, "forecast") as progress:
        result = write_forecasts(settings, None, progress=progress)
    console.print(result)
    return [("forecasts", result.directory), ("report", result.report)]


def demo_stages() -> list[DemoStage]:
    """The stages after validation, in order."""
    return [
        DemoStage("3 · features and online snapshot", _snapshot),
        DemoStage("4 · training, backtests and registration", _train),
        DemoStage("5 · forecasts, call lists and report", _forecast),
    ]


def summary(written: list[tuple[str, Path | str]], tracking_uri: str) -> Panel:
    """The closing panel: what was written and what to run next (``tracking_uri``: the MLflow
    store the settings name, for the ``mlflow ui`` line)."""
    table = Table.grid(padding=(0, 2))
    for label, path in written:
        table.add_row(label, str(path))
    table.add_row("", "")
    table.add_row("next", "clientcast serve")
    table.add_row("", f"mlflow ui --backend-store-uri {tracking_uri}")
    return Panel(table, title="clientcast demo: done", border_style="green")
