"""Score the next-purchase model and its baselines on the same cutoff, with the same metrics.

At a test cutoff every model predicts for the same clients (those with a purchase before the
cutoff) and is scored against the same labels:

- ``clientcast``: the LightGBM heads;
- ``bgnbd``: BG/NBD for occasions and P(at least one), Gamma-Gamma for spend, fitted on the
  clients' histories before the cutoff (no labels needed);
- ``rf_heuristic``: the recency-frequency rule;
- ``most_frequent_division``: each client's most frequent past division (division metrics only).

The result is one row per (cutoff, model) with every metric that applies to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.errors import UserInputError
from training.baselines.next_purchase import (
    BGNBDBaseline,
    MostFrequentDivision,
    NextPurchaseForecast,
    RecencyFrequencyHeuristic,
)
from training.metrics.next_purchase import (
    classification_metrics,
    count_metrics,
    division_metrics,
    spend_metrics,
)
from training.next_purchase.bundle import NextPurchaseBundle, division_column
from training.next_purchase.frame import LABELS
from training.next_purchase.models import FloatArray

REPEAT_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T", "monetary_value")


def repeat_summary(occasions: pl.LazyFrame, cutoff: date) -> pl.LazyFrame:
    """BG/NBD's summary of each client's occasions strictly before ``cutoff``, in days.

    ``occasions`` has ``client_id``, ``purchase_date`` and ``net_amount_ref`` (one row per
    purchase occasion). Returns ``client_id``, ``frequency`` (repeat occasions), ``recency``
    (first to last occasion), ``T`` (first occasion to the cutoff) and ``monetary_value`` (mean
    value of the repeat occasions, 0 without one).
    """
    days = pl.col("purchase_date")
    return (
        occasions.filter(pl.col("client_id").is_not_null(), days < cutoff)
        .group_by("client_id", "purchase_date")
        .agg(pl.col("net_amount_ref").sum())
        .sort("client_id", "purchase_date")
        .group_by("client_id")
        .agg(
            frequency=(pl.len() - 1).cast(pl.Float64),
            recency=(days.max() - days.min()).dt.total_days().cast(pl.Float64),
            T=(pl.lit(cutoff) - days.min()).dt.total_days().cast(pl.Float64),
            monetary_value=pl.col("net_amount_ref").slice(1).mean().fill_null(0.0),
        )
    )


def baseline_forecasts(summary: pl.DataFrame, horizon_days: int) -> dict[str, NextPurchaseForecast]:
    """BG/NBD + Gamma-Gamma and the recency-frequency rule, fitted and applied on ``summary``."""
    arrays = [summary.get_column(name).to_numpy() for name in REPEAT_COLUMNS]
    forecasts = {}
    for baseline in (BGNBDBaseline(), RecencyFrequencyHeuristic()):
        baseline.fit(*arrays)
        forecasts[baseline.name] = baseline.predict(horizon_days, *arrays)
    return forecasts


@dataclass
class ModelPredictions:
    """One model's predictions for the clients of a test frame, in its row order."""

    p_buy: FloatArray | None = None
    occasions: FloatArray | None = None
    spend: FloatArray | None = None
    p_buy_30d: FloatArray | None = None
    division: FloatArray | None = None


def predict_cutoff(
    test_frame: pl.DataFrame,
    occasions: pl.LazyFrame,
    cutoff: date,
    horizon_days: int,
    models: Mapping[str, NextPurchaseBundle],
    heads: str = "production",
) -> dict[str, ModelPredictions]:
    """Predictions of every model in ``models`` and of the baselines for ``test_frame``.

    ``test_frame`` holds the features of the clients at ``cutoff``, in the order scored;
    ``occasions`` the purchase occasions (for the baselines' summaries and the usual division).
    ``heads`` picks which heads of each bundle predict.
    """
    summary = (
        test_frame.select("client_id")
        .lazy()
        .join(repeat_summary(occasions, cutoff), on="client_id", how="left", maintain_order="left")
        .collect()
    )
    if summary.select(pl.col("T").is_null().any()).item():
        raise UserInputError(f"some clients of the test frame have no purchase before {cutoff}")
    predictions: dict[str, ModelPredictions] = {}
    classes: tuple[str, ...] = ()
    for name, bundle in models.items():
        predicted = bundle.predict(test_frame, heads=heads)
        classes = bundle.division_classes
        predictions[name] = ModelPredictions(
            p_buy=predicted.get_column("p_buy_90d").to_numpy(),
            occasions=predicted.get_column("expected_occasions_90d").to_numpy(),
            spend=predicted.get_column("expected_spend_90d").to_numpy(),
            p_buy_30d=predicted.get_column("p_buy_30d").to_numpy(),
            division=predicted.select(division_column(d) for d in classes).to_numpy(),
        )
    for name, forecast in baseline_forecasts(summary, horizon_days).items():
        predictions[name] = ModelPredictions(
            p_buy=forecast.p_at_least_one,
            occasions=forecast.expected_occasions,
            spend=forecast.expected_spend,
        )
    if len(classes) > 1:
        purchases = occasions.select(
            "client_id", pl.col("division").cast(pl.String), purchased_at=pl.col("purchase_date")
        )
        usual = MostFrequentDivision().fit(purchases, cutoff, classes=classes)
        probabilities = usual.predict_proba(purchases, cutoff, test_frame.get_column("client_id"))
        predictions[usual.name] = ModelPredictions(
            division=probabilities.select(classes).to_numpy()
        )
    return predictions


def score_predictions(
    test_frame: pl.DataFrame,
    predictions: Mapping[str, ModelPredictions],
    classes: Sequence[str],
) -> pl.DataFrame:
    """One row per model with every metric its predictions allow, against the frame's labels."""
    label = {
        name: test_frame.get_column(column).cast(pl.Float64).to_numpy()
        for name, column in LABELS.items()
        if name != "division"
    }
    divisions = test_frame.get_column(LABELS["division"]).cast(pl.String)
    known = divisions.is_in(list(classes)).fill_null(False).to_numpy()
    rows: list[dict[str, float | str]] = []
    for model, predicted in predictions.items():
        row: dict[str, float | str] = {"model": model}
        if predicted.p_buy is not None:
            row.update(classification_metrics(label["bought"], np.clip(predicted.p_buy, 0, 1)))
        if predicted.occasions is not None:
            row.update(count_metrics(label["occasions"], predicted.occasions))
        if predicted.spend is not None:
            row.update(spend_metrics(label["spend"], predicted.spend))
        if predicted.division is not None and len(classes) > 1 and known.any():
            scores = division_metrics(
                divisions.to_numpy()[known], predicted.division[known], list(classes)
            )
            row.update({f"division_{name}": value for name, value in scores.items()})
        if predicted.p_buy_30d is not None:
            scores = classification_metrics(label["bought_30d"], predicted.p_buy_30d)
            row.update({f"p30_{name}": value for name, value in scores.items()})
        rows.append(row)
    return pl.DataFrame(rows)


def score_cutoff(
    test_frame: pl.DataFrame,
    occasions: pl.LazyFrame,
    cutoff: date,
    horizon_days: int,
    models: Mapping[str, NextPurchaseBundle],
    heads: str = "production",
) -> pl.DataFrame:
    """Metrics of every model and baseline at ``cutoff``: one row per (cutoff, model)."""
    predictions = predict_cutoff(test_frame, occasions, cutoff, horizon_days, models, heads)
    classes = next(iter(models.values())).division_classes if models else ()
    scores = score_predictions(test_frame, predictions, classes)
    return scores.select(
        pl.lit(cutoff).alias("cutoff"), pl.lit(test_frame.height).alias("clients"), pl.all()
    )
