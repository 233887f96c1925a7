"""P10 and P90 by conformal calibration on rolling out-of-sample residuals, per horizon bucket.

The model gives the P50. Its errors on earlier forecast windows, each forecast made by a model
that had not seen that window (the rolling backtest), are normalised as

    r = (actual - p50) / (p50 + floor_share * level)

so that the spread scales with the forecast (a quiet Tuesday and a busy Saturday) without
blowing up on near-zero hours. The 10 % and 90 % quantiles of ``r`` in each horizon bucket
(days 1-7, 8-14, 15-28, 29-56) give the interval of a new forecast:
``p10 = p50 + q10 * spread`` and ``p90 = p50 + q90 * spread``, clipped at zero. A bucket without
residuals borrows the quantiles of the nearest shorter bucket that has some.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from features.errors import UserInputError

DEFAULT_FLOOR_SHARE = 0.05
QUANTILES = (0.1, 0.9)
MIN_RESIDUALS = 30


@dataclass(frozen=True)
class BucketQuantiles:
    """The residual quantiles of one horizon bucket and how many residuals gave them."""

    first: int
    last: int
    lo: float
    hi: float
    residuals: int


@dataclass(frozen=True)
class IntervalCalibration:
    """Per-bucket residual quantiles: what turns a P50 into a P10-P90 interval."""

    buckets: tuple[BucketQuantiles, ...]
    floor_share: float = DEFAULT_FLOOR_SHARE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "floor_share": self.floor_share,
            "buckets": [bucket.__dict__ for bucket in self.buckets],
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> IntervalCalibration:
        """The calibration written by :meth:`to_dict`."""
        return cls(
            tuple(BucketQuantiles(**bucket) for bucket in payload["buckets"]),
            float(payload["floor_share"]),
        )

    def table(self) -> pl.DataFrame:
        """One row per bucket: first, last, lo, hi, residuals."""
        return pl.DataFrame([bucket.__dict__ for bucket in self.buckets])


def spread(p50: pl.Expr, level: pl.Expr, floor_share: float) -> pl.Expr:
    """The scale residuals are measured in: the P50 plus a share of the boutique's level."""
    return p50 + floor_share * level.fill_null(0.0)


def normalised_residuals(
    forecasts: pl.DataFrame | pl.LazyFrame, floor_share: float = DEFAULT_FLOOR_SHARE
) -> pl.LazyFrame:
    """``horizon`` and the normalised residual ``r`` of every forecast with an observed actual.

    ``forecasts`` holds horizon (days ahead, 1 = the cutoff day), actual, p50 and level.
    """
    scale = spread(pl.col("p50"), pl.col("level"), floor_share)
    return (
        forecasts.lazy()
        .filter(pl.col("actual").is_not_null() & pl.col("p50").is_not_null() & (scale > 0))
        .select("horizon", ((pl.col("actual") - pl.col("p50")) / scale).alias("r"))
    )


def calibrate(
    forecasts: pl.DataFrame | pl.LazyFrame,
    buckets: Sequence[tuple[int, int]],
    floor_share: float = DEFAULT_FLOOR_SHARE,
    quantiles: tuple[float, float] = QUANTILES,
) -> IntervalCalibration:
    """The residual quantiles of each horizon bucket from out-of-sample ``forecasts``.

    Raises :class:`UserInputError` when no bucket has :data:`MIN_RESIDUALS` residuals.
    """
    residuals = normalised_residuals(forecasts, floor_share).collect()
    found: list[BucketQuantiles] = []
    for first, last in buckets:
        values = residuals.filter(pl.col("horizon").is_between(first, last)).get_column("r")
        if values.len() >= MIN_RESIDUALS:
            lo = float(values.quantile(quantiles[0], interpolation="linear"))
            hi = float(values.quantile(quantiles[1], interpolation="linear"))
            found.append(BucketQuantiles(first, last, min(lo, 0.0), max(hi, 0.0), values.len()))
        elif found:
            previous = found[-1]
            found.append(BucketQuantiles(first, last, previous.lo, previous.hi, 0))
        else:
            found.append(BucketQuantiles(first, last, float("nan"), float("nan"), 0))
    usable = [bucket for bucket in found if bucket.residuals > 0]
    if not usable:
        raise UserInputError(
            f"interval calibration: fewer than {MIN_RESIDUALS} out-of-sample residuals in every "
            "horizon bucket; the history is too short for a backtest"
        )
    # Leading buckets without residuals borrow from the first bucket that has some.
    first_usable = usable[0]
    completed = tuple(
        BucketQuantiles(b.first, b.last, first_usable.lo, first_usable.hi, 0) if b.lo != b.lo else b
        for b in found
    )
    return IntervalCalibration(completed, floor_share)


def with_intervals(
    frame: pl.DataFrame | pl.LazyFrame, calibration: IntervalCalibration, widening: pl.Expr = None
) -> pl.LazyFrame:
    """Add p10 and p90 around the ``p50`` of ``frame`` (with ``horizon`` and ``level``).

    ``widening`` (default 1) multiplies the residual quantiles row by row, e.g. for cold starts.
    Bounds are clipped at zero and ordered p10 <= p50 <= p90.
    """
    table = calibration.table().lazy()
    factor = pl.lit(1.0) if widening is None else widening
    scale = spread(pl.col("p50"), pl.col("level"), calibration.floor_share)
    horizon_bucket = (
        pl.LazyFrame({"horizon": range(1, int(calibration.buckets[-1].last) + 1)})
        .cast(pl.Int32)
        .join_where(
            table, pl.col("horizon") >= pl.col("first"), pl.col("horizon") <= pl.col("last")
        )
        .select("horizon", pl.col("lo").alias("_lo"), pl.col("hi").alias("_hi"))
    )
    last = calibration.buckets[-1]
    return (
        frame.lazy()
        .with_columns(pl.col("horizon").cast(pl.Int32))
        .join(horizon_bucket, on="horizon", how="left")
        .with_columns(pl.col("_lo").fill_null(last.lo), pl.col("_hi").fill_null(last.hi))
        .with_columns(
            (pl.col("p50") + pl.col("_lo") * factor * scale).clip(lower_bound=0.0).alias("p10"),
            (pl.col("p50") + pl.col("_hi") * factor * scale).alias("p90"),
        )
        .with_columns(
            pl.min_horizontal("p10", "p50").alias("p10"),
            pl.max_horizontal("p90", "p50").alias("p90"),
        )
        .drop("_lo", "_hi")
    )
