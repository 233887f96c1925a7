"""Point-in-time division features: which division a client is likely to buy next, and when.

:func:`division_features` reads a client's purchase occasions before a cutoff (the frame
:func:`features.client_features.client_occasions_before` builds, already limited to local dates
strictly before the cutoff) and returns one row per client:

- the order of the latest divisions (the one before the last, how long the client has stayed in
  the last one, how much of the history it covers): a client moving from leather goods to
  jewellery reads differently from one who always buys leather goods;
- the same season a year earlier: the division bought in the 90 days that start exactly one year
  before the cutoff, how often, and how many days remain until the first anniversary of those
  purchases (a yearly ritual: "leather goods every spring", "a Christmas gift every December").

Every feature depends only on the client's own occasions, so a shard of clients gives the same
rows as the whole population.
"""

from __future__ import annotations

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


def division_features(occasions: pl.LazyFrame) -> pl.LazyFrame:
    """Division-sequence and same-season-last-year features per client, keyed by ``client_id``.

    ``occasions`` holds one row per purchase occasion before the cutoff with ``client_id``,
    ``purchased_local``, ``net_amount_ref``, ``division`` and ``days_before`` (cutoff minus the
    occasion's local date, at least 1). Clients with a single occasion have no previous division;
    clients without an occasion in last year's season have no season features (null), except
    ``season_last_year_occasions`` which is 0.
    """
    division = pl.col("division")
    run = division.rle_id()
    sequence = (
        occasions.sort(ORDER, nulls_last=True)
        .group_by("client_id")
        .agg(
            division.get(-2, null_on_oob=True).alias("previous_division"),
            (run == run.max()).sum().cast(pl.Int32).alias("last_division_streak"),
            (division.eq_missing(division.last())).mean().alias("last_division_share"),
        )
    )
    in_season = (pl.col("days_before") > YEAR_DAYS - SEASON_DAYS) & (
        pl.col("days_before") <= YEAR_DAYS
    )
    last_season = occasions.filter(in_season)
    season_counts = last_season.group_by("client_id").agg(
        pl.len().cast(pl.Int32).alias("season_last_year_occasions"),
        (YEAR_DAYS - pl.col("days_before").max())
        .cast(pl.Int32)
        .alias("days_to_season_anniversary"),
    )
    season_division = (
        last_season.filter(division.is_not_null())
        .group_by("client_id", "division")
        .agg(pl.len().alias("count"))
        .sort(["client_id", "count", "division"], descending=[False, True, False])
        .group_by("client_id")
        .agg(division.first().alias("season_last_year_division"))
    )
    return (
        sequence.join(season_counts, on="client_id", how="left")
        .join(season_division, on="client_id", how="left")
        .with_columns(pl.col("season_last_year_occasions").fill_null(0))
        .select("client_id", *DIVISION_FEATURES)
    )
