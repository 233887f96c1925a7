"""How accurate the last forecasts were: forecasts made before the latest weeks, against what
happened.

Footfall is checked day by day and boutique by boutique on the first source available of:

1. the forecast published before this one (``forecast_dir/<earlier date>/footfall_daily``),
   on the days since then that were counted;
2. the footfall champion itself, when it was trained at least 28 days ago: its forecast from
   28 days ago, which used nothing after that day;
3. the champion's own backtest, when its training run logged the daily forecasts of its last
   backtest origin (``backtest_forecasts_daily.csv``).

Beside each forecast, a simple rule (each weekday as it was in the week before the forecast
started) gives the error to beat. The maison-level figures of the champion's backtest (its error
and the simple rule's, the share of days inside the likely range) come from its training run.
Clients are checked on the probabilities given 90 days ago by heads that had not seen those 90
days, against who bought. :mod:`.report` words the figures for a planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from features.errors import UserInputError
from features.history import PurchaseHistory
from training.call_lists import MODEL_HORIZON_DAYS
from training.forecasts.wording import long_date
from training.workspace import WorkspaceSettings

EXAMPLE_BOUTIQUES = 4
TOP_SHARE = 0.1
ACCURACY_DAYS = 28
"""Days re-forecast by a champion trained long enough ago."""
BASELINE_SEASON_DAYS = 7
BACKTEST_FORECASTS = "backtest_forecasts_daily.csv"
BACKTEST_TABLE = "backtest.csv"
MODEL_KEY = "clientcast"
BASELINE_KEY = "seasonal_naive_7"


@dataclass(frozen=True)
class FootfallAccuracy:
    """Daily footfall forecasts made at ``origin`` for ``days`` days, scored on what happened.

    ``source`` says which forecast was checked (in words); ``by_boutique``: boutique_id, days
    (observed), actual, forecast (P50 sum over those days), wape, baseline_wape and
    coverage_80; ``overall`` the same pooled over boutiques; ``examples`` a few boutiques'
    daily frames (date, p10, p50, p90, actual) for a chart.
    """

    origin: date
    days: int
    by_boutique: pl.DataFrame
    overall: dict[str, float]
    examples: dict[str, pl.DataFrame] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class BacktestSummary:
    """The footfall champion's daily backtest, pooled over boutiques and origins, from its run."""

    wape: float
    baseline_wape: float
    coverage_80: float
    points: int


@dataclass(frozen=True)
class ClientAccuracy:
    """Purchase probabilities given at ``cutoff`` against who bought in the next 90 days."""

    cutoff: date
    clients: int
    expected_buyers: float
    actual_buyers: int
    top_share_bought: float
    overall_share_bought: float


@dataclass(frozen=True)
class ForecastAccuracy:
    """The accuracy section of the report: footfall, clients, and notes on what was left out."""

    footfall: FootfallAccuracy | None
    clients: ClientAccuracy | None
    notes: tuple[str, ...] = ()
    backtest: BacktestSummary | None = None


# -- scoring ---------------------------------------------------------------------------------


def wape(actual: pl.Expr, forecast: pl.Expr) -> pl.Expr:
    """Absolute errors summed over actuals summed; null when nobody was counted (no scale)."""
    counted = actual.abs().sum()
    return pl.when(counted > 0).then((actual - forecast).abs().sum() / counted)


def _accuracy_columns() -> list[pl.Expr]:
    actual, p50 = pl.col("actual"), pl.col("p50")
    return [
        pl.len().alias("days"),
        actual.sum().alias("actual"),
        p50.sum().alias("forecast"),
        wape(actual, p50).alias("wape"),
        wape(actual, pl.col("baseline")).alias("baseline_wape"),
        actual.is_between(pl.col("p10"), pl.col("p90")).mean().alias("coverage_80"),
    ]


def score_footfall(
    scored: pl.DataFrame, origin: date, examples: int = EXAMPLE_BOUTIQUES, source: str = ""
) -> FootfallAccuracy:
    """Score daily forecasts against actuals, per boutique and pooled.

    ``scored`` has boutique_id, date, p10, p50, p90, actual (null when not counted) and
    baseline (the simple rule's forecast). Days without an actual are left out; nothing is
    filled. A WAPE over days with no visitor counted is null (shown as "–"), not infinite.
    ``examples`` boutiques with the most visitors are kept for the chart.
    """
    observed = scored.filter(pl.col("actual").is_not_null() & pl.col("p50").is_not_null())
    by_boutique = observed.group_by("boutique_id").agg(_accuracy_columns()).sort("boutique_id")
    overall = observed.select(_accuracy_columns()).row(0, named=True)
    top = by_boutique.sort("actual", descending=True).head(examples)["boutique_id"].to_list()
    shown = {
        boutique_id: scored.filter(pl.col("boutique_id") == boutique_id)
        .select("date", "p10", "p50", "p90", "actual")
        .sort("date")
        for boutique_id in top
    }
    return FootfallAccuracy(
        origin=origin,
        days=observed.get_column("date").n_unique(),
        by_boutique=by_boutique,
        overall={
            key: float("nan") if value is None else float(value) for key, value in overall.items()
        },
        examples=shown,
        source=source,
    )


def score_clients(
    scored: pl.DataFrame, cutoff: date, top_share: float = TOP_SHARE
) -> ClientAccuracy:
    """Compare each client's ``p_buy_90d`` with ``bought`` (whether they bought within 90 days).

    The top share is the ``top_share`` of clients with the highest probabilities (at least one).
    """
    clients = scored.height
    top_count = max(1, round(top_share * clients))
    top = scored.sort("p_buy_90d", descending=True, maintain_order=True).head(top_count)
    bought = pl.col("bought").cast(pl.Float64)
    return ClientAccuracy(
        cutoff=cutoff,
        clients=clients,
        expected_buyers=float(scored.select(pl.col("p_buy_90d").sum()).item() or 0.0),
        actual_buyers=int(scored.select(bought.sum()).item() or 0),
        top_share_bought=float(top.select(bought.mean()).item() or 0.0),
        overall_share_bought=float(scored.select(bought.mean()).item() or 0.0),
    )


# -- footfall --------------------------------------------------------------------------------


def with_actuals(
    forecast: pl.DataFrame, observed_daily: pl.DataFrame, origin: date
) -> pl.DataFrame:
    """``forecast`` (boutique_id, date, p10, p50, p90) with the counted visitors as ``actual``
    and the simple rule's forecast from ``origin`` as ``baseline``; days not yet past dropped."""
    from training.baselines.footfall import seasonal_naive

    last_day = observed_daily.get_column("date").max()
    forecast = forecast.filter(pl.col("date") >= origin, pl.col("date") <= last_day)
    if forecast.height == 0:
        return forecast.with_columns(
            pl.lit(None, pl.Float64).alias("actual"), pl.lit(None, pl.Float64).alias("baseline")
        )
    days = (forecast.get_column("date").max() - origin).days + 1
    series = observed_daily.select(
        pl.col("boutique_id").alias("unique_id"),
        pl.col("date").alias("ds"),
        pl.col("visitors").cast(pl.Float64).alias("y"),
    )
    baseline = seasonal_naive(
        series.filter(pl.col("ds") < origin), origin - timedelta(days=1), days, BASELINE_SEASON_DAYS
    ).select(
        pl.col("unique_id").alias("boutique_id"),
        pl.col("ds").alias("date"),
        pl.col("p50").alias("baseline"),
    )
    actual = observed_daily.select(
        "boutique_id", "date", pl.col("visitors").cast(pl.Float64).alias("actual")
    )
    return (
        forecast.select("boutique_id", "date", "p10", "p50", "p90")
        .join(actual, on=["boutique_id", "date"], how="left")
        .join(baseline, on=["boutique_id", "date"], how="left")
    )


def previous_forecast(forecast_dir: Path, as_of: date) -> tuple[date, pl.DataFrame] | None:
    """The latest forecast published under ``forecast_dir`` for a date before ``as_of``."""
    earlier = []
    for folder in Path(forecast_dir).glob("*/footfall_daily.parquet"):
        try:
            published = date.fromisoformat(folder.parent.name)
        except ValueError:
            continue
        if published < as_of:
            earlier.append((published, folder))
    if not earlier:
        return None
    published, path = max(earlier)
    return published, pl.read_parquet(path)


def logged_backtest_forecasts(run_id: str | None) -> pl.DataFrame | None:
    """The daily forecasts of the last backtest origin logged with a footfall training run."""
    if not run_id:
        return None
    from mlflow import MlflowClient

    client = MlflowClient()
    if BACKTEST_FORECASTS not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    path = client.download_artifacts(run_id, BACKTEST_FORECASTS)
    return pl.read_csv(path, try_parse_dates=True).rename({"target_date": "date"}, strict=False)


def backtest_summary(run_id: str | None) -> BacktestSummary | None:
    """The champion's daily backtest figures (model and simple rule) from its training run."""
    if not run_id:
        return None
    from mlflow import MlflowClient

    client = MlflowClient()
    if BACKTEST_TABLE not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    table = pl.read_csv(client.download_artifacts(run_id, BACKTEST_TABLE))
    overall = table.filter(pl.col("granularity") == "daily", pl.col("horizon") == "all")
    rows = {row["model"]: row for row in overall.iter_rows(named=True)}
    if MODEL_KEY not in rows:
        return None
    model = rows[MODEL_KEY]
    baseline = rows.get(BASELINE_KEY, {})
    return BacktestSummary(
        wape=float(model["wape"]),
        baseline_wape=float(baseline.get("wape") or float("nan")),
        coverage_80=float(model["coverage_80"]),
        points=int(model.get("points") or 0),
    )


def footfall_accuracy(
    history: PurchaseHistory,
    as_of: date,
    forecast_dir: Path,
    model: Any,
    run_id: str | None,
    observed_daily: pl.DataFrame,
) -> tuple[FootfallAccuracy | None, str | None]:
    """Day-by-day accuracy of the first source of the module docstring that has counted days;
    (None, why) when none has."""
    previous = previous_forecast(forecast_dir, as_of)
    if previous is not None:
        published, forecast = previous
        scored = with_actuals(forecast, observed_daily, published)
        if scored.get_column("actual").is_not_null().any():
            source = f"the forecast published for {long_date(published)}"
            return score_footfall(scored, published, source=source), None
    trained = model.metadata.get("as_of")
    origin = as_of - timedelta(days=ACCURACY_DAYS)
    if trained and date.fromisoformat(str(trained)) <= origin:
        forecast = model.forecast(history, origin, ACCURACY_DAYS, "daily")
        scored = with_actuals(forecast, observed_daily, origin)
        source = f"the current model's forecast from {long_date(origin)}"
        return score_footfall(scored, origin, source=source), None
    logged = logged_backtest_forecasts(run_id)
    if logged is not None and logged.height:
        origin = logged.get_column("origin").max()
        forecast = logged.filter(pl.col("origin") == origin)
        scored = with_actuals(forecast.drop("actual", strict=False), observed_daily, origin)
        source = f"the model's test forecast from {long_date(origin)}, made without later days"
        return score_footfall(scored, origin, source=source), None
    learnt_until = f" up to {long_date(date.fromisoformat(str(trained)) - timedelta(days=1))}"
    return None, (
        "No earlier footfall forecast can be checked day by day yet: the model learnt from the "
        f"counts{learnt_until if trained else ''}. Its test before training is summarised above."
    )


# -- clients ---------------------------------------------------------------------------------


def unseen_heads(metadata: dict[str, Any], cutoff: date) -> str | None:
    """Which heads of a bundle learnt nothing from on or after ``cutoff``: 'production' when its
    labels ended by then, else 'backtest' when those did, else None."""
    for heads, key in (("production", "label_end"), ("backtest", "backtest_label_end")):
        label_end = metadata.get(key)
        if label_end and date.fromisoformat(str(label_end)) <= cutoff:
            return heads
    return None


def client_accuracy(
    history: PurchaseHistory,
    as_of: date,
    reference_currency: str,
    model: Any,
    horizon_days: int = MODEL_HORIZON_DAYS,
) -> tuple[ClientAccuracy | None, str | None]:
    """The client model's probabilities at ``as_of - 90 days`` against who bought since.

    Uses the heads that had not seen those 90 days; returns (None, why) when none qualifies or
    the history cannot label them.
    """
    from features.training_frame import build_client_training_frame
    from training.next_purchase.frame import LABELS

    cutoff = as_of - timedelta(days=horizon_days)
    heads = unseen_heads(model.metadata, cutoff)
    if heads is None or heads not in model.heads:
        return None, (
            f"The client model learnt from purchases after {long_date(cutoff)}: its accuracy is "
            "the test logged with its training run."
        )
    try:
        frame = build_client_training_frame(history, [cutoff], horizon_days, reference_currency)
    except UserInputError as error:
        return None, f"The client model could not be checked: {error}."
    if frame.height == 0:
        return None, (
            f"No client had bought before {long_date(cutoff)}: the client model cannot be checked."
        )
    predictions = model.predict(frame, heads=heads).select("client_id", "p_buy_90d")
    scored = predictions.join(
        frame.select("client_id", pl.col(LABELS["bought"]).alias("bought")), on="client_id"
    )
    return score_clients(scored, cutoff), None


def forecast_accuracy(
    settings: WorkspaceSettings,
    history: PurchaseHistory,
    as_of: date,
    purchase_model: Any,
    footfall_model: Any,
    footfall_run_id: str | None,
    observed_daily: pl.DataFrame,
) -> ForecastAccuracy:
    """Everything the report's accuracy section shows (see the module docstring)."""
    footfall, footfall_note = footfall_accuracy(
        history, as_of, Path(settings.forecast_dir), footfall_model, footfall_run_id, observed_daily
    )
    clients, client_note = client_accuracy(
        history, as_of, settings.reference_currency, purchase_model
    )
    notes = tuple(note for note in (footfall_note, client_note) if note)
    return ForecastAccuracy(footfall, clients, notes, backtest_summary(footfall_run_id))
