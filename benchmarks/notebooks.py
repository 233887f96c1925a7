"""Time the five notebooks on the default synthetic maison, in order, in one fresh work folder.

Each notebook (``notebooks/NN-*.py``, jupytext percent format) is executed top to bottom by
nbclient on the project's Python kernel, exactly as a data scientist would run it, with its
parameters left at their defaults except the work folder: 20,000 clients, 30 boutiques, 3 years.
The folder starts empty, so notebook 01 generates the maison, 03 and 04 train and register the
models they study, and 05 promotes and serves them. Wall time counts from the kernel's start to
its shutdown; CPU time is the kernel's (user + system, all threads) and this process's own.

The issue's target is under 2 minutes per notebook on 2 cores. The page is written to
``benchmarks/results/notebooks.md`` and docs/BENCHMARKS.md is reassembled.

    python benchmarks/notebooks.py
    python benchmarks/notebooks.py --workdir /tmp/nb --no-record --only 04
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# benchmarks/features.py and benchmarks/serving.py are named like the packages: keep this folder
# off the import path, so that ``import features`` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import jupytext  # noqa: E402
import nbclient  # noqa: E402

from training.benchmarks.record import command_line, record_result, result_page  # noqa: E402

ROOT = HERE.parent
NOTEBOOK_DIR = ROOT / "notebooks"
TARGET_SECONDS = 120.0
CELL_TIMEOUT_S = 900


@dataclass(frozen=True)
class NotebookRun:
    """One notebook's execution: its wall and CPU seconds, figures drawn, and errors raised."""

    name: str
    wall_s: float
    cpu_s: float
    images: int
    errors: int


def children_cpu_seconds() -> float:
    """User + system seconds of this process and its finished children (the kernels)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_notebook(path: Path, workdir: Path) -> NotebookRun:
    """Execute one notebook in ``workdir`` and measure it."""
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    cpu_before, started = children_cpu_seconds(), time.perf_counter()
    with contextlib.suppress(nbclient.exceptions.CellExecutionError):
        client.execute()  # a failing cell is counted below from the outputs
    wall = time.perf_counter() - started
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    return NotebookRun(
        name=path.stem,
        wall_s=wall,
        cpu_s=children_cpu_seconds() - cpu_before,
        images=sum("image/png" in output.get("data", {}) for output in outputs),
        errors=sum(output.get("output_type") == "error" for output in outputs),
    )


def runs_table(runs: list[NotebookRun]) -> str:
    """The Markdown table of the runs, with each against the 2-minute target."""
    lines = [
        "| notebook | wall s | CPU s | figures | errors | under 2 min |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        verdict = "yes" if run.wall_s < TARGET_SECONDS and not run.errors else "**no**"
        lines.append(
            f"| {run.name} | {run.wall_s:.1f} | {run.cpu_s:.1f} | {run.images} | {run.errors} "
            f"| {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the notebooks, print the table, record the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="an empty folder (default: a temporary one)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only the notebooks whose name starts so"
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="clientcast-notebooks-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for variable in ("MLFLOW_TRACKING_URI", "CLIENTCAST_API_TOKEN", "MPLBACKEND"):
        os.environ.pop(variable, None)
    os.environ["CLIENTCAST_NOTEBOOK_DIR"] = str(workdir)
    load_at_start = os.getloadavg()[0]

    runs = []
    notebooks = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.py"))
    if args.only:
        notebooks = [path for path in notebooks if path.stem.startswith(tuple(args.only))]
    for path in notebooks:
        runs.append(run_notebook(path, workdir))
        print(runs_table(runs[-1:]).splitlines()[-1], flush=True)
    table = runs_table(runs)
    print(table)
    note = (
        f"Work folder {workdir}, empty at the start; default parameters (20,000 clients, "
        "30 boutiques, 3 years). Notebook 01 generates the maison, 03 and 04 train and register "
        "their models, 05 promotes and serves them. 1-minute load average at the start: "
        f"{load_at_start:.1f}."
    )
    if not args.no_record:
        page = result_page("Notebooks on the default maison", command_line(), {"Runs": table}, note)
        for path in record_result("notebooks", page, args.results, args.doc):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
