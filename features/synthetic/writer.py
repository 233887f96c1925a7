"""Write a maison folder atomically: all tables into a temporary sibling, then one rename.

Readers never see a half-written maison: the tables are written into a hidden sibling folder
which then replaces the target. An existing target is replaced only when it looks like a maison
(holds nothing but contract table files), so that a mistyped ``--out`` cannot wipe a folder.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from features.atomic_write import staged_directory
from features.contract import TABLES
from features.errors import UserInputError

TABLE_SUFFIXES = (".parquet", ".csv")


def contract_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` reduced to the contract columns of table ``name``, in contract order and types."""
    table = TABLES[name]
    return frame.select([pl.col(column.name).cast(column.dtype) for column in table.columns])


def check_target(out_dir: Path) -> None:
    """Refuse a target that is a file or a folder holding anything but contract tables."""
    if out_dir.is_file():
        raise UserInputError(f"{out_dir}: is a file; --out must be a folder")
    if out_dir.is_dir():
        known = {f"{name}{suffix}" for name in TABLES for suffix in TABLE_SUFFIXES}
        foreign = sorted(entry.name for entry in out_dir.iterdir() if entry.name not in known)
        if foreign:
            shown = ", ".join(foreign[:5])
            raise UserInputError(
                f"{out_dir}: exists and holds files that are not maison tables ({shown}); "
                "choose an empty or new folder"
            )


def write_maison(tables: dict[str, pl.DataFrame], out_dir: Path) -> dict[str, int]:
    """Write every table as ``<name>.parquet`` into ``out_dir`` atomically; rows per table."""
    out_dir = Path(out_dir)
    check_target(out_dir)
    rows: dict[str, int] = {}
    with staged_directory(out_dir) as staging:
        for name, frame in tables.items():
            contract_frame(name, frame).write_parquet(
                staging / f"{name}.parquet", compression="zstd"
            )
            rows[name] = frame.height
    return rows
