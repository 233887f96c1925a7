"""Assemble docs/BENCHMARKS.md from the per-benchmark result files in benchmarks/results/.

Each benchmark script writes its own ``benchmarks/results/<name>.md``; this script puts them in
one document, in a fixed order, below a short preface. Run it after any benchmark.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = (
    "generate",
    "features",
    "next_purchase",
    "auckland",
    "auckland_peers",
    "footfall",
    "serving",
)
PREFACE = """# Benchmarks

Every figure here was measured by a script in `benchmarks/` (or a `clientcast benchmark` command)
on the project's development machine: 2 cores (AMD EPYC), 23.5 GiB RAM, Python 3.11.7, polars
2.1.0, LightGBM 4.7.0. **Most runs on 2026-11-24 were taken while several other test suites
shared the two cores (load average 7–12)**, so wall times are pessimistic; CPU times are given
beside them where the script records them. Targets that were missed say so. Each section is the
result file a benchmark script wrote (`benchmarks/results/<name>.md`), with its command.
"""


def demote_headings(markdown: str) -> str:
    """Shift every heading one level down so each result file becomes a section."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def benchmarks_document(results: Path) -> str:
    """The whole BENCHMARKS.md text from the result files present in ``results``."""
    names = [name for name in ORDER if (results / f"{name}.md").is_file()]
    names += sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    sections = [demote_headings((results / f"{name}.md").read_text()) for name in names]
    return "\n\n".join([PREFACE.rstrip(), *sections]) + "\n"


def main() -> None:
    """Write docs/BENCHMARKS.md atomically."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(benchmarks_document(args.results))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
