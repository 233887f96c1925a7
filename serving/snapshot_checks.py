"""Is a snapshot fit to serve? Refusals (duplicate keys, no client) and warnings (an old model).

A snapshot with a client on two rows lists that client twice in a call list and answers
``/next_purchase`` from one of the rows at random; a snapshot without a client answers
``unknown_client`` to everyone. Neither is served: :func:`snapshot_problems` says why, and the
service refuses it at start-up (``clientcast serve`` exits 2) and on reload (409, the previous
state keeps serving). A snapshot far from the date the champions were trained as of is served,
with a warning in the log and in ``GET /model_info`` (:func:`training_gap_warnings`).

Messages name the snapshot, the table and the key; never a client id (boutique ids, which are
not personal, are named).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from serving.schemas import ModelFacts

MAX_SNAPSHOT_MODEL_GAP_DAYS = 60
"""Days between a snapshot's as-of date and a champion's training date beyond which the service
warns: the model then scores a world it never saw (or, snapshot before training, one it saw)."""

UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "clients": ("client_id",),
    "boutiques": ("boutique_id",),
    "boutique_daily": ("boutique_id", "target_date"),
    "boutique_hourly": ("boutique_id", "target_hour"),
}
"""The key of each snapshot table: one row per key value."""

NAMED_KEYS = 3
REBUILD = "fix the history (`clientcast validate` names the rows) and rerun `clientcast features`"


def snapshot_problems(name: str, tables: Mapping[str, pl.LazyFrame | pl.DataFrame]) -> list[str]:
    """Why the snapshot ``name`` must not be served: duplicate keys, no client, no boutique.

    ``tables`` maps table names to their frames; only the key columns are read.
    """
    names = [table for table in UNIQUE_KEYS if table in tables]
    queries = [
        tables[table]
        .lazy()
        .group_by(UNIQUE_KEYS[table])
        .len()
        .select(
            keys=pl.len(),
            duplicated=(pl.col("len") > 1).sum(),
            extra_rows=(pl.col("len") - 1).sum(),
            examples=pl.when(pl.col("len") > 1)
            .then(pl.col(UNIQUE_KEYS[table][0]))
            .drop_nulls()
            .unique()
            .sort()
            .head(NAMED_KEYS)
            .implode(),
        )
        for table in names
    ]
    problems = []
    for table, (keys, duplicated, extra_rows, examples) in zip(
        names, (frame.row(0) for frame in pl.collect_all(queries)), strict=True
    ):
        key = ", ".join(UNIQUE_KEYS[table])
        if table in ("clients", "boutiques") and keys == 0:
            problems.append(
                f"snapshot {name}: {table}.parquet holds no {table[:-1]} (is its as-of date "
                "before the history starts?); rerun `clientcast features`"
            )
        elif duplicated:
            shown = "" if table == "clients" else f": {', '.join(map(repr, examples))}"
            problems.append(
                f"snapshot {name}: {table}.parquet lists {duplicated:,} {key} value(s) on "
                f"several rows ({extra_rows:,} extra row(s){shown}); {REBUILD}"
            )
    return problems


def stored_snapshot_problems(path: Path) -> list[str]:
    """:func:`snapshot_problems` of the snapshot folder ``path``, reading only its key columns;
    a table that cannot be read is a problem too."""
    path = Path(path)
    tables: dict[str, pl.LazyFrame] = {}
    problems = []
    for table, key in UNIQUE_KEYS.items():
        file = path / f"{table}.parquet"
        try:
            tables[table] = pl.read_parquet(file, columns=list(key)).lazy()
        except (pl.exceptions.PolarsError, OSError) as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            problems.append(f"snapshot {path.name}: cannot read {file.name}: {first_line}")
    return problems + snapshot_problems(path.name, tables)


def training_gap_warnings(
    as_of: date, models: Sequence[ModelFacts], max_days: int = MAX_SNAPSHOT_MODEL_GAP_DAYS
) -> list[str]:
    """One warning per champion trained as of a date more than ``max_days`` from ``as_of``."""
    warnings = []
    for model in models:
        if model.trained_as_of is None:
            continue
        gap = (as_of - model.trained_as_of).days
        if abs(gap) <= max_days:
            continue
        if gap > 0:
            advice = "retrain it (`clientcast train`) on the recent history"
            relation = f"{gap:,} days after"
        else:
            advice = "it has seen what it is asked to predict: serve a recent snapshot"
            relation = f"{-gap:,} days before"
        warnings.append(
            f"snapshot as of {as_of} is {relation} the {model.role} champion "
            f"({model.name} v{model.version}) was trained as of {model.trained_as_of} "
            f"(more than {max_days} days): {advice}"
        )
    return warnings
