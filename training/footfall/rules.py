"""What is known for certain, applied after the model: closures are zero, quantiles are ordered.

A planned closure (an event of kind "closure") and, for hourly forecasts, an hour outside the
boutique's usual opening hours get P10 = P50 = P90 = 0. Every forecast is non-negative and
ordered P10 <= P50 <= P90. Closed boutiques never reach this point: the feature frames hold no
rows after ``closed_on``.
"""

from __future__ import annotations

import polars as pl

from training.footfall.model_frame import is_closed

QUANTILE_COLUMNS: tuple[str, ...] = ("p10", "p50", "p90")


def apply_rules(frame: pl.LazyFrame, hourly: bool) -> pl.LazyFrame:
    """Zero the closed rows, clip at zero and order the quantiles; ``method`` says "closed"."""
    closed = is_closed(hourly)
    return frame.with_columns(
        *(
            pl.when(closed)
            .then(pl.lit(0.0))
            .otherwise(pl.col(name).clip(lower_bound=0.0))
            .alias(name)
            for name in QUANTILE_COLUMNS
        ),
        pl.when(closed).then(pl.lit("closed")).otherwise(pl.col("method")).alias("method"),
    ).with_columns(
        pl.min_horizontal("p10", "p50").alias("p10"),
        pl.max_horizontal("p90", "p50").alias("p90"),
    )
