"""Benchmark ``clientcast generate``: wall time, CPU time, peak memory and rows per table.

Each size runs in its own subprocess (the real command line), so that its peak resident memory
is measured alone (``os.wait4`` returns the child's resource usage). Results are printed as a
markdown table and written to ``benchmarks/results/generate.md`` with the machine and the date.

    python benchmarks/generate.py                       # 20,000 and 1,000,000 clients
    python benchmarks/generate.py --clients 20000 100000 --years 3
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psutil

# benchmarks/features.py is named like the features package: keep this folder off the import
# path, so that ``import features`` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from features.contract import TABLES  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "generate.md"


@dataclass(frozen=True)
class Measurement:
    """One generation run: its size and what it cost."""

    clients: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_gib: float
    rows: dict[str, int]
    exit_code: int


def measure(clients: int, args: argparse.Namespace, workdir: Path) -> Measurement:
    """Run ``clientcast generate`` for ``clients`` in a subprocess and measure it."""
    out = workdir / f"maison-{clients}"
    command = [
        sys.executable,
        "-m",
        "clientcast",
        "generate",
        "--out",
        str(out),
        "--clients",
        str(clients),
        "--boutiques",
        str(args.boutiques),
        "--years",
        str(args.years),
        "--seed",
        str(args.seed),
    ]
    log = workdir / f"maison-{clients}.log"
    with log.open("wb") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    exit_code = os.waitstatus_to_exitcode(status)
    if exit_code != 0:
        print(log.read_text(errors="replace"), file=sys.stderr)
    rows = {
        name: pl.scan_parquet(out / f"{name}.parquet").select(pl.len()).collect().item()
        for name in TABLES
        if (out / f"{name}.parquet").exists()
    }
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return Measurement(
        clients=clients,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_gib=usage.ru_maxrss / 1024**2,  # ru_maxrss is in KiB on Linux
        rows=rows,
        exit_code=exit_code,
    )


def markdown_table(measurements: list[Measurement]) -> str:
    """The measurements as a markdown table, one row per size."""
    names = list(TABLES)
    header = ["clients", "wall s", "CPU s", "peak RSS GiB", *names, "exit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for m in measurements:
        cells = [
            f"{m.clients:,}",
            f"{m.wall_seconds:.1f}",
            f"{m.cpu_seconds:.1f}",
            f"{m.peak_rss_gib:.2f}",
            *(f"{m.rows.get(name, 0):,}" for name in names),
            str(m.exit_code),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_description() -> str:
    """Cores, memory, load and library versions of this machine."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    import numpy

    return (
        f"{os.cpu_count()} cores (nproc), {psutil.virtual_memory().total / 1024**3:.1f} GiB RAM, "
        f"load average at start {load}; Python {platform.python_version()}, "
        f"polars {pl.__version__}, numpy {numpy.__version__}"
    )


def report(measurements: list[Measurement], argv: list[str], machine: str) -> str:
    """The results page: command, machine, date and the table."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/generate.py " + " ".join(argv)
    return (
        "# `clientcast generate` benchmark\n\n"
        f"- command: `{command.strip()}`\n"
        f"- machine: {machine}\n"
        f"- date: {when}\n\n"
        "Each size runs `python -m clientcast generate` in its own process; wall time includes "
        "start-up and writing Parquet; CPU s is user + system time of that process; peak RSS is "
        "its maximum resident memory. Rows are per contract table.\n\n"
        f"{markdown_table(measurements)}\n"
    )


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--boutiques", type=int, default=30)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="Where maisons are written [temporary].")
    parser.add_argument("--keep", action="store_true", help="Keep the generated maisons.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="Markdown file to write.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark for every requested size and write the results page."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    machine = machine_description()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientcast-generate-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    measurements = []
    for clients in args.clients:
        measurement = measure(clients, args, workdir)
        print(
            f"{clients:>10,} clients: {measurement.wall_seconds:6.1f} s wall, "
            f"{measurement.cpu_seconds:6.1f} s CPU, {measurement.peak_rss_gib:5.2f} GiB peak, "
            f"{measurement.rows.get('transactions', 0):,} transaction lines",
            flush=True,
        )
        measurements.append(measurement)
    if args.workdir is None and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    page = report(measurements, argv, machine)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    staging = args.results.with_suffix(".md.tmp")
    staging.write_text(page)
    staging.replace(args.results)
    print(page)
    return 0 if all(m.exit_code == 0 for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
