"""Record benchmark figures in the project's docs: one result page per benchmark, one document.

Each benchmark writes ``benchmarks/results/<name>.md`` (a page with the command, the date, the
machine and its tables); :func:`write_benchmarks_document` assembles every page, in a fixed
order, into ``docs/BENCHMARKS.md``. ``clientcast benchmark cdnow|auckland`` records its own run
this way; the scripts in ``benchmarks/`` write their pages and call the same assembly.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from features.atomic_write import write_text_atomically

ORDER: tuple[str, ...] = (
    "generate",
    "features",
    "next_purchase",
    "cdnow_run",
    "auckland",
    "auckland_run",
    "auckland_peers",
    "auckland_tuning_daily",
    "auckland_tuning_hourly",
    "footfall",
    "serving",
    "notebooks",
)
"""Sections of docs/BENCHMARKS.md in reading order; pages not listed follow, by name."""

PREFACE = """# Benchmarks

Every figure here was measured by a script in `benchmarks/` (or a `clientcast benchmark` command)
on the project's development machine: 2 cores (AMD EPYC), 23.5 GiB RAM, Python 3.11.7, polars
2.1.0, LightGBM 4.7.0. Each section is the page a benchmark wrote
(`benchmarks/results/<name>.md`), with its command, date and load. Several runs of 2026-11-24
were taken while other test suites shared the two cores (their pages give the load average):
their wall times are pessimistic, and CPU times are given beside them where the script records
them. Targets that were missed say so.
"""


def machine_description() -> str:
    """'2 cores, Linux x86_64, Python 3.11.7' and the load average when it is known."""
    cores = os.cpu_count() or 0
    system = f"{platform.system()} {platform.machine()}"
    text = f"{cores} cores, {system}, Python {platform.python_version()}"
    if hasattr(os, "getloadavg"):
        text += f", load average {os.getloadavg()[0]:.1f} at the end"
    return text


def metrics_table(
    results: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
    percent: Sequence[str] = (),
) -> str:
    """A Markdown table: one row per model, one column per metric (``percent`` ones as %)."""
    header = "| model | " + " | ".join(metrics) + " |"
    rule = "|---|" + "---:|" * len(metrics)
    rows = []
    for model, values in results.items():
        cells = []
        for metric in metrics:
            value = values.get(metric)
            if value is None or value != value:
                cells.append("–")
            elif metric in percent:
                cells.append(f"{100 * value:.1f} %")
            else:
                cells.append(f"{value:.3f}")
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def result_page(title: str, command: str, sections: Mapping[str, str], note: str = "") -> str:
    """A result page: title, command, date and machine, then one ``### heading`` per table."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"# {title}",
        "",
        f"- command: `{command}`",
        f"- date: {when}",
        f"- machine: {machine_description()}",
    ]
    if note:
        parts += ["", note.strip()]
    for heading, table in sections.items():
        parts += ["", f"## {heading}", "", table.strip()]
    return "\n".join(parts) + "\n"


def demote_headings(markdown: str) -> str:
    """Shift every heading one level down so that a result page becomes a section."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def benchmarks_document(results_dir: Path) -> str:
    """The whole BENCHMARKS.md text from the result pages present in ``results_dir``."""
    results_dir = Path(results_dir)
    names = [name for name in ORDER if (results_dir / f"{name}.md").is_file()]
    names += sorted(p.stem for p in results_dir.glob("*.md") if p.stem not in ORDER)
    sections = [demote_headings((results_dir / f"{name}.md").read_text()) for name in names]
    return "\n\n".join([PREFACE.rstrip(), *sections]) + "\n"


def write_benchmarks_document(results_dir: Path, out: Path) -> Path:
    """Assemble the result pages of ``results_dir`` into ``out`` (docs/BENCHMARKS.md)."""
    return write_text_atomically(benchmarks_document(results_dir), out)


def record_result(name: str, page: str, results_dir: Path, document: Path | None) -> list[Path]:
    """Write the page ``<results_dir>/<name>.md`` and, with ``document``, reassemble it."""
    written = [write_text_atomically(page, Path(results_dir) / f"{name}.md")]
    if document is not None:
        written.append(write_benchmarks_document(results_dir, document))
    return written


def command_line() -> str:
    """The command that is running, as typed (program name without its folder)."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
