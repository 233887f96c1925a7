"""Forecast-versus-actual figures of the footfall backtest, logged with each MLflow run."""

from __future__ import annotations

from typing import Any

import polars as pl

from training.footfall.layout import Granularity


def busiest_boutiques(forecasts: pl.DataFrame, count: int) -> list[str]:
    """The ``count`` boutiques with the most actual visitors in ``forecasts``, busiest first."""
    return (
        forecasts.filter(pl.col("method") == "model")
        .group_by("boutique_id")
        .agg(pl.col("actual").sum())
        .sort("actual", descending=True)
        .head(count)
        .get_column("boutique_id")
        .to_list()
    )


def forecast_figure(forecasts: pl.DataFrame, grain: Granularity, boutiques: list[str]) -> Any:
    """One panel per boutique: the P10-P90 band, the P50 and the actuals of the last origin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    origin = forecasts.get_column("origin").max()
    last = forecasts.filter(pl.col("origin") == origin)
    figure, axes = plt.subplots(
        len(boutiques), 1, figsize=(10, 2.4 * max(len(boutiques), 1)), squeeze=False
    )
    for axis, boutique in zip(axes[:, 0], boutiques, strict=True):
        rows = last.filter(pl.col("boutique_id") == boutique).sort(grain.time_column)
        time = rows.get_column(grain.time_column).to_list()
        axis.fill_between(
            time, rows["p10"].to_list(), rows["p90"].to_list(), alpha=0.3, label="P10-P90"
        )
        axis.plot(time, rows["p50"].to_list(), label="P50")
        axis.plot(time, rows["actual"].to_list(), ".", color="black", markersize=3, label="actual")
        axis.set_title(f"{boutique}: {grain.name} forecast from {origin}", fontsize=9)
        axis.set_ylabel("visitors")
    if boutiques:
        axes[0, 0].legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure
