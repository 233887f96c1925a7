"""The CDNOW next-purchase benchmark (DESIGN.md's protocol), run through the project's pipeline.

The CDNOW purchase log (23,570 clients who first bought in the first quarter of 1997, followed to
1998-06-30) is written as a clientcast history folder (:mod:`training.benchmarks.cdnow_data`);
client features and labels come from :mod:`features.training_frame` and the heads from
:mod:`training.next_purchase` exactly as for a maison:

- test cutoff ``T = 1998-04-01``, horizon 90 days, labels in ``[T, T + 90 d)``;
- training cutoffs every 30 days whose label windows end on or before the validation cutoff
  ``T - 90 d``; early stopping, calibration and the spend-model choice on that validation cutoff,
  whose window ends on ``T``: nothing is chosen on the test window;
- scored on *every* customer (a same-day set of lines is one purchase occasion, whatever its
  amount), beside BG/NBD + Gamma-Gamma (``bgnbd``) and the recency-frequency rule
  (``rf_heuristic``) fitted on the same histories.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from features.atomic_write import write_text_atomically
from features.random_seed import DEFAULT_SEED
from training.next_purchase.frame import LABELS
from training.progress import Progress

TEST_CUTOFF = date(1998, 4, 1)
HORIZON_DAYS = 90
STEP_DAYS = 30
N_TRAINING = 7
METRICS: dict[str, str] = {
    "auc": "roc_auc",
    "log_loss": "log_loss",
    "brier": "brier",
    "count_mae": "count_mae",
    "count_rmse": "count_rmse",
    "total_count_pct_error": "total_count_pct_error",
    "spend_mae": "spend_mae",
    "spend_gini": "spend_gini",
}
MODELS: tuple[str, ...] = ("clientcast", "bgnbd", "rf_heuristic")


def subset_master_file(source: Path, out_file: Path, customers: int) -> Path:
    """Write the lines of the first ``customers`` customer ids of a CDNOW master file."""
    from training.benchmarks.cdnow_data import read_cdnow

    purchases = read_cdnow(source)
    keep = purchases.get_column("customer_id").unique().sort().head(customers)
    subset = purchases.filter(pl.col("customer_id").is_in(keep.implode()))
    lines = subset.select(
        pl.format(
            "{} {} {} {}",
            "customer_id",
            pl.col("date").dt.strftime("%Y%m%d"),
            "cds",
            pl.col("dollars").round(2),
        )
    ).get_column("customer_id")
    out_file.write_text("customer_id date cds dollars\n" + "\n".join(lines.to_list()) + "\n")
    return out_file


def protocol_occasions(history: Any) -> pl.LazyFrame:
    """One row per customer and local day with a purchase, whatever its amount (the protocol)."""
    from features.normalise import normalised_lines

    return (
        normalised_lines(history, "USD")
        .filter(pl.col("client_id").is_not_null())
        .group_by("client_id", "purchase_date")
        .agg(net_amount_ref=pl.col("amount_ref").sum(), division=pl.col("division").first())
    )


def evaluation_frame(
    history: Any, occasions: pl.LazyFrame, features_at_test: pl.DataFrame
) -> pl.DataFrame:
    """Every customer of the clients table, its features at ``T`` (null when it has none) and
    the protocol's labels over ``[T, T + 90 d)``."""
    end = TEST_CUTOFF + timedelta(days=HORIZON_DAYS)
    window = occasions.filter(pl.col("purchase_date").is_between(TEST_CUTOFF, end, closed="left"))
    labels = window.group_by("client_id").agg(
        pl.len().alias(LABELS["occasions"]),
        pl.col("net_amount_ref").sum().clip(lower_bound=0.0).alias(LABELS["spend"]),
        (pl.col("purchase_date").min() - pl.lit(TEST_CUTOFF))
        .dt.total_days()
        .alias(LABELS["days_to_next"]),
        pl.col("division").first().alias(LABELS["division"]),
    )
    features = features_at_test.drop(
        [c for c in features_at_test.columns if c.startswith("label_")]
    )
    return (
        history.clients.select("client_id")
        .join(features.lazy(), on="client_id", how="left")
        .join(labels, on="client_id", how="left")
        .with_columns(
            pl.col(LABELS["occasions"]).fill_null(0),
            pl.col(LABELS["spend"]).fill_null(0.0),
            (pl.col(LABELS["occasions"]).fill_null(0) > 0).alias(LABELS["bought"]),
            (pl.col(LABELS["days_to_next"]) < 30).fill_null(False).alias(LABELS["bought_30d"]),
        )
        .sort("client_id")
        .collect()
    )


def run_cdnow_benchmark(
    json_path: Path | None = None,
    *,
    customers: int | None = None,
    master_file: Path | None = None,
    work_dir: Path | None = None,
    progress: Progress | None = None,
    num_threads: int = 2,
    seed: int = DEFAULT_SEED,
) -> dict[str, dict[str, float]]:
    """Run the CDNOW protocol; return (and write to ``json_path``) ``{model: {metric: value}}``.

    ``customers`` keeps only the first N customer ids (a quick check of the code path; the
    benchmark is all 23,570). ``master_file`` defaults to the file shipped in ``lifetimes``.
    """
    from features.history import load_history
    from training.benchmarks.cdnow_data import cdnow_master_path, write_cdnow_history
    from training.next_purchase.backtest import predict_cutoff, score_predictions
    from training.next_purchase.bundle import NextPurchaseBundle
    from training.next_purchase.layout import cutoff_layout
    from training.next_purchase.models import BoostingSettings
    from training.next_purchase.pipeline import client_frames, fit_recipe, model_features
    from training.next_purchase.search_space import booster_params

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    with tempfile.TemporaryDirectory(prefix="clientcast-cdnow-") as scratch:
        root = Path(work_dir) if work_dir is not None else Path(scratch)
        source = Path(master_file) if master_file is not None else cdnow_master_path()
        if customers is not None:
            source = subset_master_file(source, root / "cdnow_subset.txt", customers)
        say("writing the CDNOW history")
        history = load_history(write_cdnow_history(root / "cdnow-history", path=source))
        layout = cutoff_layout(
            TEST_CUTOFF + timedelta(days=HORIZON_DAYS),
            date(1997, 1, 1),
            HORIZON_DAYS,
            STEP_DAYS,
            N_TRAINING,
        )
        cutoffs = [*layout.training, layout.validation, layout.test]
        say(f"client features and labels at {len(cutoffs)} cutoffs")
        frames = client_frames(history, cutoffs, HORIZON_DAYS, "USD")
        spec = model_features(pl.concat([frames[c] for c in layout.training], how="vertical"))
        boosting = BoostingSettings(booster_params(), num_threads=num_threads, seed=seed)
        say("fitting the heads")
        heads = fit_recipe(
            frames, layout.training, layout.validation, spec, boosting, HORIZON_DAYS, say
        )
        bundle = NextPurchaseBundle(spec, heads)
        say(f"scoring every customer at {TEST_CUTOFF}")
        occasions = protocol_occasions(history)
        test = evaluation_frame(history, occasions, frames[layout.test])
        predictions = predict_cutoff(
            test, occasions, TEST_CUTOFF, HORIZON_DAYS, {"clientcast": bundle}
        )
        scores = score_predictions(test, predictions, bundle.division_classes)
    results = {
        row["model"]: {key: float(row[column]) for key, column in METRICS.items()}
        for row in scores.iter_rows(named=True)
        if row["model"] in MODELS
    }
    if json_path is not None:
        write_json(results, Path(json_path))
    return results


def write_json(results: dict[str, dict[str, float]], path: Path) -> Path:
    """Write the results as JSON atomically (a temporary file renamed into place)."""
    return write_text_atomically(json.dumps(results, indent=2, sort_keys=True), path)


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    """The results as a Markdown table: one row per model, one column per metric."""
    header = "| model | " + " | ".join(METRICS) + " |"
    rule = "|---|" + "---:|" * len(METRICS)
    rows = [
        f"| {model} | " + " | ".join(f"{values[key]:.4f}" for key in METRICS) + " |"
        for model, values in results.items()
    ]
    return "\n".join([header, rule, *rows])
