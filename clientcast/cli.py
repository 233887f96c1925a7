"""The clientcast command line: one typer app, one command per stage.

Commands import their stage lazily so that ``--help`` stays fast. Every command that reads a
history checks it first (:func:`clientcast.history_check.check_history`: the data contract, then
``--as-of``), so bad input stops it before any work. A user mistake
(:class:`features.errors.UserInputError`) ends with a red message and exit code 2; anything else
is an internal failure and exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clientcast.settings import DEFAULT_SEED, Settings, load_settings
from clientcast.steps import step_progress
from features.atomic_write import check_writable_folder

app = typer.Typer(
    name="clientcast",
    help="Next-purchase and footfall forecasting for luxury retail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

DataOption = Annotated[
    Path | None,
    typer.Option("--data", help="History folder (default: data/maison, the demo maison)."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Use only data before this ISO date, as if today were DATE."),
]


@contextmanager
def command_errors() -> Iterator[None]:
    """Turn user mistakes into exit code 2 with a message, internal failures into exit 1."""
    from features.errors import UserInputError

    try:
        yield
    except UserInputError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as error:  # an internal failure: show it, exit 1
        console.print_exception(show_locals=False, max_frames=8)
        console.print(f"[bold red]internal error:[/] {type(error).__name__}: {error}")
        raise typer.Exit(1) from None


def parse_date(value: str | None, option: str) -> date | None:
    """Parse an ISO date given to ``option``, with a clear error when it is not one."""
    from features.errors import UserInputError

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{option}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def settings_for(data: Path | None = None) -> Settings:
    """Settings from the environment with the command-line overrides applied."""
    return load_settings(data_dir=data)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the maison into.")],
    clients: Annotated[int, typer.Option(min=10, help="Number of clients.")] = 20_000,
    boutiques: Annotated[int, typer.Option(min=8, help="Number of boutiques.")] = 30,
    years: Annotated[float, typer.Option(min=0.5, max=20, help="Years of history.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same maison.")] = DEFAULT_SEED,
    end: Annotated[
        str | None, typer.Option(help="Last day of history (ISO) (default: fixed demo date).")
    ] = None,
) -> None:
    """Generate a synthetic luxury maison that follows the data contract."""
    with command_errors():
        from features.synthetic import MaisonConfig, generate_maison

        config_fields: dict[str, object] = {
            "reference_currency": settings_for().reference_currency,
            "clients": clients,
            "boutiques": boutiques,
            "years": years,
            "seed": seed,
        }
        end_date = parse_date(end, "--end")
        if end_date is not None:
            config_fields["end"] = end_date
        summary = generate_maison(out_dir, MaisonConfig(**config_fields))
        out.print(summary)


@app.command()
def validate(
    data_dir: Annotated[Path, typer.Argument(help="History folder to check.")],
) -> None:
    """Check a history folder against the data contract; report every broken rule."""
    with command_errors():
        from features.validation import validate_history

        report = validate_history(data_dir, reference_currency=settings_for().reference_currency)
        out.print(report.render())
        if not report.ok:
            raise typer.Exit(2)


class ModelFamily(StrEnum):
    """The model families `train`, `tune` and `backtest` work on."""

    next_purchase = "next-purchase"
    footfall = "footfall"


class TrainTarget(StrEnum):
    """What `train` fits: one family or both."""

    next_purchase = "next-purchase"
    footfall = "footfall"
    all = "all"


class ForecastTarget(StrEnum):
    """What `forecast` writes: everything, or the footfall tables alone."""

    all = "all"
    footfall = "footfall"


class Benchmark(StrEnum):
    """The public benchmarks."""

    cdnow = "cdnow"
    auckland = "auckland"


@app.command()
def features(
    data: DataOption = None,
    as_of: AsOfOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Snapshot root (default: snapshots/).")
    ] = None,
) -> None:
    """Write the online snapshot: the latest client and boutique features."""
    with command_errors():
        from clientcast.history_check import check_history
        from features.snapshot import write_snapshot

        settings = load_settings(data_dir=data, snapshot_dir=out_dir)
        cutoff = parse_date(as_of, "--as-of")
        check_history(settings, cutoff, console, "features")
        check_writable_folder(settings.snapshot_dir)
        with step_progress(console, "features") as progress:
            progress(f"computing the online snapshot of {settings.data_dir}")
            info = write_snapshot(
                settings.data_dir, cutoff, settings.snapshot_dir, settings.reference_currency
            )
        out.print(info)


@app.command()
def train(
    target: Annotated[TrainTarget, typer.Argument(help="Which models to train.")] = TrainTarget.all,
    data: DataOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Build training frames, fit, backtest against the baselines, register in MLflow."""
    with command_errors():
        from clientcast.history_check import check_history

        settings = settings_for(data)
        cutoff = parse_date(as_of, "--as-of")
        check_history(settings, cutoff, console, "train")
        configure_tracking(settings, writes=True)
        if target in (TrainTarget.next_purchase, TrainTarget.all):
            from training.next_purchase.pipeline import train_next_purchase

            with step_progress(console, "next-purchase") as progress:
                report = train_next_purchase(settings, cutoff, progress=progress)
            out.print(report)
        if target in (TrainTarget.footfall, TrainTarget.all):
            from training.footfall.pipeline import train_footfall

            with step_progress(console, "footfall") as progress:
                footfall_report = train_footfall(settings, cutoff, progress=progress)
            out.print(footfall_report)


@app.command()
def tune(
    family: Annotated[ModelFamily, typer.Argument(help="Which model family to tune.")],
    trials: Annotated[int, typer.Option(min=1, max=1000, help="Number of Optuna trials.")] = 20,
    data: DataOption = None,
) -> None:
    """Tune a model family with Optuna (TPE, pruning); `train` then uses the best parameters."""
    with command_errors():
        from clientcast.history_check import check_history
        from training.tuning import check_study_storage

        settings = settings_for(data)
        check_history(settings, None, console, f"tune {family.value}")
        configure_tracking(settings, writes=True)
        check_study_storage(settings.optuna_storage)
        if family is ModelFamily.next_purchase:
            from training.next_purchase.pipeline import tune_next_purchase as run
        else:
            from training.footfall.pipeline import tune_footfall as run
        with step_progress(console, f"tune {family.value}") as progress:
            study = run(settings, trials, progress=progress)
        out.print(study)
        studies = [study] if "study_name" in study else list(study.values())
        names = ", ".join(tuned["study_name"] for tuned in studies)
        out.print(
            f"tuned {names} on {settings.data_dir}: `clientcast train {family.value} --data "
            f"{settings.data_dir}` uses the best parameters (a study belongs to its data folder)"
        )


@app.command()
def backtest(
    family: Annotated[ModelFamily, typer.Argument(help="Which model family to backtest.")],
    data: DataOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Rolling-origin backtest of a model family beside its baselines."""
    with command_errors():
        from clientcast.history_check import check_history

        settings = settings_for(data)
        cutoff = parse_date(as_of, "--as-of")
        check_history(settings, cutoff, console, f"backtest {family.value}")
        configure_tracking(settings)
        if family is ModelFamily.next_purchase:
            from training.next_purchase.pipeline import backtest_next_purchase as run
        else:
            from training.footfall.pipeline import backtest_footfall as run
        with step_progress(console, f"backtest {family.value}") as progress:
            result = run(settings, as_of=cutoff, progress=progress)
        out.print(result)


@app.command()
def forecast(
    what: Annotated[
        ForecastTarget,
        typer.Argument(help="all: every table and the report; footfall: the footfall tables."),
    ] = ForecastTarget.all,
    data: DataOption = None,
    as_of: AsOfOption = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Forecast root (default: forecasts/).")
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1, help="Days of daily footfall (default: the model's whole daily horizon)."
        ),
    ] = None,
) -> None:
    """Write forecasts for planners under forecasts/<as-of>/: footfall tables, next purchases,
    call lists and the report (or, with `footfall`, a folder of the footfall tables alone)."""
    with command_errors():
        from clientcast.history_check import check_history
        from features.snapshot import DAILY_HORIZON_DAYS
        from training.forecasts import write_footfall_forecasts, write_forecasts
        from training.forecasts.pipeline import checked_horizon

        settings = load_settings(data_dir=data, forecast_dir=out_dir)
        cutoff = parse_date(as_of, "--as-of")
        horizon_days = checked_horizon(DAILY_HORIZON_DAYS if horizon is None else horizon)
        check_history(settings, cutoff, console, f"forecast {what.value}")
        check_writable_folder(settings.forecast_dir)
        configure_tracking(settings)
        run = write_footfall_forecasts if what is ForecastTarget.footfall else write_forecasts
        with step_progress(console, f"forecast {what.value}") as progress:
            result = run(settings, cutoff, horizon_days=horizon_days, progress=progress)
        out.print(result)


@app.command()
def serve(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Start the BentoML service (champion models and the latest snapshot).

    The command becomes the BentoML server (the process is replaced, same PID), so a supervisor's
    SIGTERM or a Ctrl-C reaches the server itself and never leaves one running orphaned.
    """
    import os

    with command_errors():
        from clientcast.ports import check_port_free
        from serving.startup import check_ready_to_serve

        settings = load_settings()
        check_port_free(host, port)
        check_ready_to_serve(settings)
        command = [sys.executable, "-m", "bentoml", "serve", "serving.service:Clientcast"]
        command += ["--host", host, "--port", str(port)]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execvpe(command[0], command, os.environ.copy())


@app.command()
def benchmark(
    name: Annotated[Benchmark, typer.Argument(help="Which public benchmark to run.")],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the results as JSON here.")
    ] = None,
    results_dir: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="Folder of the benchmark result pages (default: benchmarks/results, which must "
            "exist: run from the repository root).",
        ),
    ] = None,
    document: Annotated[
        Path, typer.Option("--doc", help="The benchmarks document assembled from the pages.")
    ] = Path("docs/BENCHMARKS.md"),
    record: Annotated[
        bool, typer.Option(help="Write the result page and reassemble the document.")
    ] = True,
) -> None:
    """Run a public benchmark (CDNOW or Auckland footfall) beside the baselines and record it
    in docs/BENCHMARKS.md."""
    with command_errors():
        from features.errors import UserInputError
        from training.benchmarks.record import command_line, record_result, result_page

        if results_dir is None:
            results_dir = Path("benchmarks/results")
            if record and not results_dir.is_dir():
                raise UserInputError(
                    f"{results_dir}: no such folder of result pages here; run from the "
                    "repository root, pass --results and --doc, or --no-record"
                )
        for folder in [
            *([json_path.parent] if json_path is not None else []),
            *([results_dir, document.parent] if record else []),
        ]:
            check_writable_folder(folder)  # before minutes of work, not after
        if name is Benchmark.cdnow:
            from training.benchmarks.cdnow import markdown_table, run_cdnow_benchmark

            with step_progress(console, "benchmark cdnow") as progress:
                table = markdown_table(run_cdnow_benchmark(json_path, progress=progress))
            out.print(table)
            page = result_page(
                "Latest `clientcast benchmark cdnow` run",
                command_line(),
                {"All 23,570 customers, T = 1998-04-01, 90 days": table},
            )
        else:
            from training.benchmarks.auckland import auckland_tables, run_auckland_benchmark

            with step_progress(console, "benchmark auckland") as progress:
                tables = auckland_tables(run_auckland_benchmark(json_path, progress=progress))
            page = result_page("Latest `clientcast benchmark auckland` run", command_line(), tables)
        if record:
            for path in record_result(f"{name.value}_run", page, results_dir, document):
                out.print(f"wrote {path}")


@app.command()
def demo() -> None:
    """Generate the demo maison if missing, then run every stage end to end."""
    with command_errors():
        from clientcast.demo import run_demo

        run_demo(load_settings(), out)


def configure_tracking(settings: Settings, writes: bool = False) -> None:
    """Point MLflow at the configured store (the probe of
    :func:`training.tracking.configure_tracking` reports a broken one). A command that ``writes``
    runs also checks, before its work, that the default store's artifact folder is writable."""
    from training.tracking import configure_tracking as configure

    configure(settings.tracking_uri, settings.mlflow_artifact_dir)
    if writes and settings.tracking_uri == settings.mlflow_tracking_uri:
        check_writable_folder(settings.mlflow_artifact_dir)


def main() -> None:
    """Entry point for ``python -m clientcast``."""
    app(prog_name="clientcast")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
