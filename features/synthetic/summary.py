"""What a generation run wrote, shown as a small table on the terminal."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text

from features.synthetic.config import MaisonConfig


@dataclass(frozen=True)
class GenerationSummary:
    """The folder written, the rows of each table, the time taken and the config used."""

    out_dir: Path
    rows: dict[str, int]
    seconds: float
    config: MaisonConfig

    @property
    def total_rows(self) -> int:
        """Rows over all tables."""
        return sum(self.rows.values())

    def __str__(self) -> str:
        return (
            f"wrote {len(self.rows)} tables ({self.total_rows:,} rows) to {self.out_dir} "
            f"in {self.seconds:.1f} s"
        )

    def __rich__(self) -> Group:
        config = self.config
        table = Table(
            title=f"Synthetic maison: {config.clients:,} clients, {config.boutiques} boutiques, "
            f"{config.start} to {config.end}, seed {config.seed}",
            title_justify="left",
        )
        table.add_column("table")
        table.add_column("rows", justify="right")
        table.add_column("file")
        for name, count in self.rows.items():
            table.add_row(name, f"{count:,}", str(self.out_dir / f"{name}.parquet"))
        return Group(table, Text(str(self), style="bold green"))
