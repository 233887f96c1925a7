"""Forecasts for boutiques with fewer than 8 observed weeks: similar boutiques' profile, scaled.

A young boutique has too little history for its own lags, so its P50 borrows the shape the
model forecasts for its *peers* (the established boutiques of the same format, or all of them
when it has no such peer) and takes its size from its own observations:

* the peers' profile on a target day (or hour) is the median of their forecast ratios
  ``p50 / level`` on that day (hour);
* the young boutique's level ``L`` is the mean, over the weekdays it was observed on in the last
  8 weeks, of its mean visitors on that weekday divided by the peers' mean day ratio on that
  weekday, so three observed Saturdays do not pass for an average week; without any such
  weekday it is its mean over its observed days;
* its P50 is ``L`` times the peers' profile. A boutique never observed gets no forecast.
"""

from __future__ import annotations

import polars as pl

from training.footfall.model_frame import is_cold_start

COLD_START_WIDENING = 1.5
"""Cold-start intervals widen the calibrated residual quantiles by this factor: their errors
cannot be calibrated on their own past, and are larger than established boutiques' errors."""


def _peer_ratios(peers: pl.LazyFrame, keys: list[str], hourly: bool) -> pl.LazyFrame:
    """Median forecast ratio of the peers at each key (hourly: peers open at that hour)."""
    rows = peers.filter(pl.col("is_open_hour").fill_null(False)) if hourly else peers
    return rows.group_by(keys).agg(pl.col("peer_ratio").median())


# Sums and means sort their values first: joins do not keep row order, and a float sum taken
# in another order may differ in its last bit, which would make forecasts irreproducible.


def cold_start_p50(frame: pl.LazyFrame, time_column: str, hourly: bool) -> pl.LazyFrame:
    """Fill ``p50`` on the cold-start rows of ``frame`` from their peers (module docstring).

    ``frame`` holds one cutoff's scaled rows with ``p50`` forecast by the model on established
    boutiques (null elsewhere), ``level``, weekday, same_weekday_mean_8w (as a ratio to the
    level), days_observed, format and, hourly, is_open_hour. Adds ``is_cold_start``.
    """
    frame = frame.with_columns(is_cold_start().alias("is_cold_start"))
    peers = frame.filter(
        ~pl.col("is_cold_start") & pl.col("p50").is_not_null() & (pl.col("level") > 0)
    ).with_columns((pl.col("p50") / pl.col("level")).alias("peer_ratio"))
    by_format = _peer_ratios(peers, ["cutoff", "format", time_column], hourly)
    overall = _peer_ratios(peers, ["cutoff", time_column], hourly).rename(
        {"peer_ratio": "all_peer_ratio"}
    )
    day_keys = ["cutoff", "boutique_id", "target_date"]
    peer_days = peers.group_by(*day_keys, "format", "weekday").agg(
        pl.col("peer_ratio").sort().sum().alias("day_ratio")
    )
    weekday_profile = peer_days.group_by("cutoff", "format", "weekday").agg(
        pl.col("day_ratio").sort().mean().alias("format_weekday_ratio")
    )
    weekday_overall = peer_days.group_by("cutoff", "weekday").agg(
        pl.col("day_ratio").sort().mean().alias("all_weekday_ratio")
    )
    weekday_ratio = pl.coalesce("format_weekday_ratio", "all_weekday_ratio")
    observed_weekday = pl.col("same_weekday_mean_8w") * pl.col("level")
    cold_levels = (
        frame.filter(pl.col("is_cold_start") & (pl.col("level") > 0))
        .unique(["cutoff", "boutique_id", "weekday"])
        .join(weekday_profile, on=["cutoff", "format", "weekday"], how="left")
        .join(weekday_overall, on=["cutoff", "weekday"], how="left")
        .group_by("cutoff", "boutique_id")
        .agg(
            (observed_weekday / weekday_ratio)
            .filter(observed_weekday.is_not_null() & (weekday_ratio > 0))
            .sort()
            .mean()
            .alias("cold_level"),
            pl.col("level").first().alias("observed_level"),
        )
        .select("cutoff", "boutique_id", pl.coalesce("cold_level", "observed_level").alias("L"))
    )
    peer_ratio = pl.coalesce("peer_ratio", "all_peer_ratio")
    return (
        frame.join(by_format, on=["cutoff", "format", time_column], how="left")
        .join(overall, on=["cutoff", time_column], how="left")
        .join(cold_levels, on=["cutoff", "boutique_id"], how="left")
        .with_columns(
            pl.when(pl.col("is_cold_start"))
            .then(pl.col("L") * peer_ratio)
            .otherwise(pl.col("p50"))
            .alias("p50"),
            pl.when(pl.col("is_cold_start"))
            .then(pl.col("L"))
            .otherwise(pl.col("level"))
            .alias("level"),
        )
        .drop("peer_ratio", "all_peer_ratio", "L")
    )
