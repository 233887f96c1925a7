"""The clientcast command line: one typer app, one command per stage.

Commands import their stage lazily so that ``--help`` stays fast. A user mistake
(:class:`features.errors.UserInputError`) ends with a red message and exit code 2; anything else
is an internal failure and exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clientcast.settings import Settings, load_settings

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
    typer.Option("--data", help="History folder [default: data/maison, the demo maison]."),
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
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same maison.")] = 7,
    end: Annotated[
        str | None, typer.Option(help="Last day of history (ISO) [default: fixed demo date].")
    ] = None,
) -> None:
    """Generate a synthetic luxury maison that follows the data contract."""
    with command_errors():
        from features.synthetic import MaisonConfig, generate_maison

        config_fields: dict[str, object] = {
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

        report = validate_history(data_dir)
        out.print(report.render())
        if not report.ok:
            raise typer.Exit(2)


def main() -> None:
    """Entry point for ``python -m clientcast``."""
    app(prog_name="clientcast")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
