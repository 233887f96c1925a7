"""Every command that reads a history checks it before any work: the contract, then ``--as-of``.

:func:`check_history` runs :func:`features.validation.validate_history` (about a second on the
default 20,000-client maison) with the settings' reference currency. A history that breaks the
data contract stops the command with the very report ``clientcast validate`` prints and exit 2,
instead of a traceback or a silently wrong answer minutes later; warnings are printed and the
command goes on. An ``--as-of`` is then held to :func:`features.snapshot.checked_as_of`, the one
rule every command shares (after the first purchase, at most a few days after the last data).
"""

from __future__ import annotations

from datetime import date

from rich.console import Console

from clientcast.settings import Settings
from clientcast.steps import step_progress
from features.errors import UserInputError
from features.validation import ValidationReport


class HistoryBreaksContract(UserInputError):
    """The history breaks the data contract; the validation report was printed above."""


def check_history(
    settings: Settings, as_of: date | None, console: Console, title: str
) -> ValidationReport:
    """Validate ``settings.data_dir`` and check ``as_of`` against it, showing the steps under
    ``title`` on ``console``; return the report.

    Prints the report when it has anything to say (errors or warnings); raises
    :class:`HistoryBreaksContract` when the history breaks the contract and UserInputError when
    ``as_of`` lies outside what the history can describe.
    """
    from features.history import load_history
    from features.snapshot import checked_as_of
    from features.validation import validate_history

    data_dir = settings.data_dir
    with step_progress(console, title) as progress:
        progress(f"validating {data_dir}")
        report = validate_history(data_dir, reference_currency=settings.reference_currency)
        if report.violations:
            console.print(report.render())
        if not report.ok:
            raise HistoryBreaksContract(
                f"{data_dir} breaks the data contract (see the report above): nothing was done"
            )
        if as_of is not None:
            progress(f"checking --as-of {as_of} against the history")
            checked_as_of(load_history(data_dir), as_of)
    return report
