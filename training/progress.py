"""How training pipelines report progress: a callback that receives the name of each step.

Pipelines know nothing of the terminal; the command line turns the callback into a spinner
(:mod:`clientcast.steps`), tests and notebooks pass nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
"""Called with the name of the step that starts now."""


def announce(progress: Progress | None, step: str) -> None:
    """Tell ``progress`` (when there is one) that ``step`` starts now."""
    if progress is not None:
        progress(step)
