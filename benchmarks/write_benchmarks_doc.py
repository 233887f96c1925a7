"""Assemble docs/BENCHMARKS.md from the result pages in benchmarks/results/.

Each benchmark writes its own ``benchmarks/results/<name>.md``; this script puts them in one
document, in the order of :data:`training.benchmarks.record.ORDER`. Run it after any benchmark
script (``clientcast benchmark`` does it by itself).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# benchmarks/features.py is named like the features package: keep this folder off the import
# path, so that ``import features`` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from training.benchmarks.record import write_benchmarks_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Write docs/BENCHMARKS.md atomically."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    print(f"wrote {write_benchmarks_document(args.results, args.out)}")


if __name__ == "__main__":
    main()
