"""Generate a whole synthetic maison, stage by stage, and write it atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from features.synthetic.boutiques import build_boutiques
from features.synthetic.calendar_effects import build_calendar, trading_hours
from features.synthetic.clients import clients_table, draw_clients
from features.synthetic.collections import collection_calendar
from features.synthetic.config import MaisonConfig
from features.synthetic.events import events_table, plan_events
from features.synthetic.footfall import simulate_footfall
from features.synthetic.fx import fx_rates
from features.synthetic.products import build_catalogue
from features.synthetic.purchases import simulate_transactions
from features.synthetic.summary import GenerationSummary
from features.synthetic.writer import check_target, write_maison

STAGES: tuple[str, ...] = (
    "boutiques, products and calendar",
    "FX rates",
    "footfall",
    "clients",
    "transactions",
    "writing Parquet",
)
RANDOM_STREAMS: tuple[str, ...] = (
    "boutiques",
    "products",
    "events",
    "calendar",
    "fx",
    "footfall",
    "clients",
    "transactions",
)


def ensure_maison(out_dir: Path, config: MaisonConfig | None = None) -> Path:
    """``out_dir`` holding a maison: generated from ``config`` when the folder does not exist.

    Notebooks and examples call it so that a second run reuses the maison of the first.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        generate_maison(out_dir, config)
    return out_dir


def generate_maison(
    out_dir: Path,
    config: MaisonConfig | None = None,
    progress: Progress | None = None,
) -> GenerationSummary:
    """Generate the synthetic maison described by ``config`` into ``out_dir``.

    Deterministic: one ``numpy.random.Generator(PCG64(seed))`` spawns an independent stream
    per stage, so the same config gives the same tables. ``out_dir`` is replaced atomically;
    it must be new, empty or a previous maison. Shows a progress bar (one task per stage) on
    standard error unless a ``progress`` is given.
    """
    config = config or MaisonConfig()
    out_dir = Path(out_dir)
    check_target(out_dir)
    started = time.perf_counter()
    with stage_tracker(progress) as stage:
        root = np.random.Generator(np.random.PCG64(config.seed))
        streams = dict(zip(RANDOM_STREAMS, root.spawn(len(RANDOM_STREAMS)), strict=True))

        with stage(STAGES[0]):
            boutiques = build_boutiques(config, streams["boutiques"])
            collections = collection_calendar(config.start, config.end)
            catalogue = build_catalogue(collections, config.start, streams["products"])
            hours = trading_hours(boutiques, config)
            plan = plan_events(boutiques, collections, hours.is_open, config, streams["events"])
            calendar = build_calendar(boutiques, hours, plan, config, streams["calendar"])
        with stage(STAGES[1]):
            currencies = boutiques["currency"].unique().sort().to_list()
            fx = fx_rates(
                currencies, config.start, config.n_days, config.reference_currency, streams["fx"]
            )
        with stage(STAGES[2]):
            footfall = simulate_footfall(boutiques, calendar, streams["footfall"])
        with stage(STAGES[3]):
            population = draw_clients(boutiques, config, streams["clients"])
        with stage(STAGES[4]):
            transactions = simulate_transactions(
                population,
                boutiques,
                calendar,
                footfall.daily_visitors,
                catalogue,
                plan,
                config,
                streams["transactions"],
            )
            clients = clients_table(
                population, boutiques, transactions.first_purchase_day, config.start
            )
        with stage(STAGES[5]):
            rows = write_maison(
                {
                    "clients": clients,
                    "boutiques": boutiques,
                    "products": catalogue.products,
                    "transactions": transactions.table,
                    "footfall": footfall.table,
                    "fx_rates": fx,
                    "events": events_table(plan, calendar.holiday_closures),
                },
                out_dir,
            )
    return GenerationSummary(
        out_dir=out_dir, rows=rows, seconds=time.perf_counter() - started, config=config
    )


@contextmanager
def stage_tracker(
    progress: Progress | None,
) -> Iterator[Callable[[str], AbstractContextManager[None]]]:
    """A ``stage(name)`` context manager that shows each stage as a task of ``progress``.

    Without a ``progress``, one is created on standard error for the duration of the run.
    """
    own = progress is None
    progress = progress or Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        task = progress.add_task(name, total=1)
        yield
        progress.update(task, completed=1)

    if own:
        with progress:
            yield stage
    else:
        yield stage
