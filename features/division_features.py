"""Point-in-time division features: which division a client is likely to buy next, and when.

The features read a client's purchase occasions before a cutoff (already limited to local dates
strictly before it), in time order, and give one row per client:

- the order of the latest divisions (the one before the last, how long the client has stayed in
  the last one, how much of the history it covers): a client moving from leather goods to
  jewellery reads differently from one who always buys leather goods;
- the same season a year earlier: the division bought in the 90 days that start exactly one year
  before the cutoff, how often, and how many days remain until the first anniversary of those
  purchases (a yearly ritual: "leather goods every spring", "a Christmas gift every December").

They are computed in two vectorised steps that :mod:`features.client_features` shares with its
other aggregates: :func:`division_sequence_columns` adds per-occasion columns to the ordered
occasions, and :func:`division_list_features` reduces each client's lists of them (one row per
client, the occasions imploded in time order). Every feature depends only on the client's own
occasions, so a shard of clients gives the same rows as the whole population.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

YEAR_DAYS = 365
SEASON_DAYS = 90
ORDER: tuple[str, ...] = ("client_id", "purchased_local", "net_amount_ref", "division")

DIVISION_FEATURES: dict[str, str] = {
    "previous_division": "Main division of the occasion before the last one.",
    "last_division_streak": "Number of latest consecutive occasions in the last division.",
    "last_division_share": "Share of occasions in the division of the last occasion.",
    "season_last_year_division": (
        "Main division bought most often in the 90 days starting 365 days before the cutoff"
        " (the same season a year earlier; on ties the first in the order of DIVISIONS)."
    ),
    "season_last_year_occasions": "Occasions in the 90 days starting 365 days before the cutoff.",
    "days_to_season_anniversary": (
        "Days from the cutoff to the first anniversary of an occasion of the same season a year"
        " earlier (0 to 89)."
    ),
}
CATEGORICAL_DIVISION_FEATURES: tuple[str, ...] = ("previous_division", "season_last_year_division")
# The per-occasion columns of division_sequence_columns that division_list_features reads.
SEQUENCE_COLUMNS: tuple[str, ...] = (
    "division",
    "division_streak",
    "season_days",
    "season_division",
)


def division_sequence_columns(same_client: pl.Expr) -> dict[str, pl.Expr]:
    """Per-occasion columns of occasions in client and time order (``same_client``: the row
    before belongs to the same client).

    ``division_streak`` counts the occasions of the current run of one division (1 on a change
    of division or client); ``season_days`` and ``season_division`` are the occasion's
    ``days_before`` and division inside last year's season, null outside it.
    """
    division = pl.col("division")
    days_before = pl.col("days_before")
    new_run = ~same_client | division.ne_missing(division.shift(1))
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    run_start = pl.when(new_run).then(row).forward_fill()
    in_season = (days_before > YEAR_DAYS - SEASON_DAYS) & (days_before <= YEAR_DAYS)
    return {
        "division_streak": (row - run_start + 1).cast(pl.Int32),
        "season_days": pl.when(in_season).then(days_before),
        "season_division": pl.when(in_season).then(division),
    }


def count_columns(lists: str, categories: Sequence[str]) -> dict[str, pl.Expr]:
    """``<lists>_<n>``: how many items of each list column ``lists`` equal ``categories[n]``."""
    column = pl.col(lists)
    return {
        f"{lists}_{number}": column.list.count_matches(category)
        for number, category in enumerate(categories)
    }


def first_largest(counts: Sequence[str], categories: Sequence[str], dtype: pl.DataType) -> pl.Expr:
    """The category of the largest positive count column, the first one on ties; null when all
    are 0."""
    largest = pl.max_horizontal(counts)
    chosen = pl.when(largest == 0).then(pl.lit(None, dtype=pl.String))
    for count, category in zip(counts, categories, strict=True):
        chosen = chosen.when(pl.col(count) == largest).then(pl.lit(category))
    return chosen.cast(dtype)


def division_list_counts(categories: Sequence[str]) -> dict[str, pl.Expr]:
    """The counts :func:`division_list_features` reads, from the lists of
    :data:`SEQUENCE_COLUMNS`: each category among all divisions (``division_<n>``) and in last
    year's season (``season_division_<n>``), and the occasions without a division."""
    return {
        **count_columns("division", categories),
        **count_columns("season_division", categories),
        "division_missing": pl.col("division").list.eval(pl.element().is_null()).list.sum(),
    }


def division_list_features(categories: Sequence[str], dtype: pl.DataType) -> dict[str, pl.Expr]:
    """The features of :data:`DIVISION_FEATURES` from each client's lists of
    :data:`SEQUENCE_COLUMNS` (occasions in time order) and their
    :func:`division_list_counts`; ``categories`` are those of the ``division`` Enum ``dtype``.

    Clients with a single occasion have no previous division; clients without an occasion in
    last year's season have no season features (null), except ``season_last_year_occasions``
    which is 0.
    """
    division = pl.col("division")
    last = division.list.last()
    last_count = pl.when(last.is_null()).then(pl.col("division_missing"))
    for number, category in enumerate(categories):
        last_count = last_count.when(last == category).then(pl.col(f"division_{number}"))
    season_days = pl.col("season_days")
    season_counts = [f"season_division_{number}" for number in range(len(categories))]
    return {
        "previous_division": division.list.get(-2, null_on_oob=True),
        "last_division_streak": pl.col("division_streak").list.last(),
        "last_division_share": last_count / division.list.len(),
        "season_last_year_division": first_largest(season_counts, categories, dtype),
        "season_last_year_occasions": (
            season_days.list.len() - season_days.list.eval(pl.element().is_null()).list.sum()
        ).cast(pl.Int32),
        "days_to_season_anniversary": (YEAR_DAYS - season_days.list.max()).cast(pl.Int32),
    }


def division_features(occasions: pl.LazyFrame) -> pl.LazyFrame:
    """Division-sequence and same-season-last-year features per client, keyed by ``client_id``.

    ``occasions`` holds one row per purchase occasion before the cutoff with ``client_id``,
    ``purchased_local``, ``net_amount_ref``, ``division`` (Enum) and ``days_before`` (cutoff
    minus the occasion's local date, at least 1), in any order. See
    :func:`division_list_features` for the nulls.
    """
    dtype = occasions.collect_schema()["division"]
    same_client = pl.col("client_id") == pl.col("client_id").shift(1)
    return (
        occasions.sort(ORDER, nulls_last=True)
        .with_columns(**division_sequence_columns(same_client.fill_null(False)))
        .group_by("client_id")
        .agg(pl.col(SEQUENCE_COLUMNS))
        .with_columns(**division_list_counts(dtype.categories))
        .select("client_id", **division_list_features(dtype.categories, dtype))
    )
