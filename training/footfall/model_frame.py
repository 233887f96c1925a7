"""Feature frames made scale-free for one global model, and the rows it may learn from.

Boutiques differ by orders of magnitude in traffic, so the model learns *ratios*: the target and
every feature counted in visitors are divided by the boutique's level at the cutoff, the mean of
its last 28 observed days (:data:`LEVEL_COLUMN`). A forecast is the predicted ratio times that
level. The rows a model learns from exclude what would teach it wrong things:

* a missing label (a sensor gap) is never read as zero: the row is dropped;
* boutiques with fewer than 8 observed weeks (cold starts, forecast by :mod:`.cold_start`);
* planned closures and, for the hourly model, hours the boutique is usually closed (both are
  forecast as zero by :mod:`.rules`);
* days flagged as a disruption (a renovation, a lockdown) keep only ``disruption_weight`` of
  their weight, so a few abnormal weeks do not bend the normal pattern.
"""

from __future__ import annotations

import polars as pl

from features.boutique_features import COLD_START_DAYS, HISTORY_FEATURES, HOURLY_ONLY_FEATURES

LEVEL_COLUMN = "visitors_mean_28"
LABEL = "visitors"
TARGET = "ratio"
WEIGHT = "weight"
DEFAULT_DISRUPTION_WEIGHT = 0.1

VISITOR_FEATURES: tuple[str, ...] = (
    *(
        name
        for name in HISTORY_FEATURES
        if name.startswith("visitors_") or name.startswith("same_")
    ),
    *(name for name in HOURLY_ONLY_FEATURES if name.startswith(("hour_of_week", "same_"))),
)
"""Features counted in visitors: divided by the level so that boutiques share one scale."""


def scaled_frame(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with visitor-count features divided by the level and the ratio target added.

    The level itself is kept in visitors (a feature of size) as ``level``; rows without a
    positive level get null ratios. Columns absent from ``frame`` are skipped.
    """
    lazy = frame.lazy()
    columns = lazy.collect_schema().names()
    level = pl.when(pl.col(LEVEL_COLUMN) > 0).then(pl.col(LEVEL_COLUMN).cast(pl.Float64))
    ratios = [
        (pl.col(name).cast(pl.Float64) / pl.col("level")).alias(name)
        for name in VISITOR_FEATURES
        if name in columns and name != LEVEL_COLUMN
    ]
    target = []
    if LABEL in columns:
        target = [(pl.col(LABEL).cast(pl.Float64) / pl.col("level")).alias(TARGET)]
    return lazy.with_columns(level.alias("level")).with_columns(*ratios, *target)


def is_cold_start() -> pl.Expr:
    """True on rows of a boutique with fewer than 8 observed weeks before the cutoff."""
    return pl.col("days_observed").fill_null(0) < COLD_START_DAYS


def is_closed(hourly: bool) -> pl.Expr:
    """True on rows forecast as zero: a planned closure, or an hour usually closed."""
    closure = pl.col("event_closure").fill_null(False)
    if hourly:
        return closure | ~pl.col("is_open_hour").fill_null(False)
    return closure


def training_rows(
    frame: pl.DataFrame | pl.LazyFrame,
    hourly: bool,
    disruption_weight: float = DEFAULT_DISRUPTION_WEIGHT,
) -> pl.DataFrame:
    """The rows a model learns from, scaled, with a ``weight`` column (see the module docs)."""
    return (
        scaled_frame(frame)
        .filter(
            pl.col(TARGET).is_not_null()
            & pl.col(TARGET).is_not_nan()
            & ~is_cold_start()
            & ~is_closed(hourly)
        )
        .with_columns(
            pl.when(pl.col("event_disruption").fill_null(False))
            .then(pl.lit(disruption_weight))
            .otherwise(pl.lit(1.0))
            .alias(WEIGHT)
        )
        .filter(pl.col(WEIGHT) > 0)
        .collect()
    )
