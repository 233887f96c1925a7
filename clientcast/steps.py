"""Live progress for long commands: each step a pipeline announces, with its elapsed time.

The pipelines report progress as a plain ``Callable[[str], None]`` that receives the name of the
step starting now (they know nothing of the terminal). :func:`step_progress` turns that into a
rich spinner with a timer on standard error; when the next step starts, the previous one is
printed as done with its duration, so a finished command leaves a short log of where time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class StepLog:
    """The callback handed to a pipeline: starts a step, closing the previous one."""

    def __init__(self, progress: Progress, console: Console, title: str) -> None:
        self._progress = progress
        self._console = console
        self._title = title
        self._task: TaskID | None = None
        self._step = ""
        self._started = 0.0

    def __call__(self, step: str) -> None:
        self.close()
        self._step = step
        self._started = time.perf_counter()
        self._task = self._progress.add_task(f"{self._title}: {step}", total=None)

    def close(self, failed: bool = False) -> None:
        """Print the running step as done (or failed) and remove its spinner."""
        if self._task is None:
            return
        seconds = time.perf_counter() - self._started
        self._progress.remove_task(self._task)
        mark = "[red]✗[/]" if failed else "[green]✓[/]"
        self._console.print(f"  {mark} {self._title}: {self._step} [dim]({seconds:.0f} s)[/]")
        self._task = None


@contextmanager
def step_progress(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """Yield a progress callback that shows each step with a spinner and a timer."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        log = StepLog(progress, console, title)
        try:
            yield log
        except BaseException:
            log.close(failed=True)
            raise
        log.close()
