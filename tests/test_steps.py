"""Step progress: each announced step ends up in the log as done, or failed, with its duration."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from clientcast.steps import step_progress


def recording_console() -> Console:
    return Console(file=io.StringIO(), width=120, force_terminal=False, record=True)


def test_every_step_is_logged_as_done_in_order() -> None:
    console = recording_console()
    with step_progress(console, "train") as progress:
        progress("building features")
        progress("fitting")
    lines = [line.strip() for line in console.export_text().splitlines() if line.strip()]
    assert [line.split(" (")[0] for line in lines] == [
        "✓ train: building features",
        "✓ train: fitting",
    ]
    assert all(line.endswith(" s)") for line in lines)


def test_the_running_step_is_marked_failed_and_the_error_propagates() -> None:
    console = recording_console()
    with pytest.raises(ValueError, match="boom"), step_progress(console, "train") as progress:
        progress("building features")
        progress("fitting")
        raise ValueError("boom")
    text = console.export_text()
    assert "✓ train: building features" in text
    assert "✗ train: fitting" in text


def test_nothing_is_logged_without_steps() -> None:
    console = recording_console()
    with step_progress(console, "train"):
        pass
    assert console.export_text().strip() == ""
