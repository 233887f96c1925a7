"""The forecast tables planners and associates open: footfall, next purchases, call lists.

Each function turns model outputs and history into one tidy table with local dates and
pseudonymous ids only; :func:`write_table` writes it as Parquet and, for spreadsheets, as CSV
(list columns joined into text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from features.calendar import public_holidays
from features.history import PurchaseHistory
from training.call_lists import build_call_list, reasons_by_client

SAME_WEEKDAY_LAST_YEAR = timedelta(days=364)
CALL_LIST_HORIZON_DAYS = 14
"""Call lists rank clients by their chance to buy within two weeks and propose quiet days in
those two weeks: the associate calls this week to invite the client on one of them."""
CALL_LIST_SIZE = 50
"""Clients per boutique on a weekly call list."""
QUANTILES = ("p10", "p50", "p90")
BASIS = {
    "model": "model",
    "cold_start": "similar boutiques (recently opened)",
    "closed": "planned closure",
}
"""The footfall model's ``method`` in words: what a forecast rests on."""
WEEKDAY = pl.col("date").dt.strftime("%A").alias("weekday")


def forecast_markers(
    history: PurchaseHistory, boutiques: pl.DataFrame, start: date, end: date
) -> pl.DataFrame:
    """Public holidays and maison events of each boutique's days in [start, end].

    Columns: boutique_id, date, kind ('holiday' or 'event') and label (the holiday's name, the
    event's label or its kind in words). A country-wide event applies to every boutique there.
    """
    located = boutiques.select("boutique_id", "country").drop_nulls()
    holidays = (
        public_holidays(located.get_column("country").unique().to_list(), start, end)
        .join(located, on="country", how="inner")
        .select(
            "boutique_id", "date", pl.lit("holiday").alias("kind"), pl.col("holiday").alias("label")
        )
    )
    kind = pl.col("kind").str.strip_chars().str.replace_all("_", " ")
    in_words = kind.str.slice(0, 1).str.to_uppercase() + kind.str.slice(1)
    events = history.events.filter(pl.col("date").is_between(start, end)).with_columns(
        pl.coalesce(pl.col("label"), in_words).alias("label")
    )
    at_boutique = events.filter(pl.col("boutique_id").is_not_null()).select(
        "boutique_id", "date", "label"
    )
    in_country = (
        events.filter(pl.col("boutique_id").is_null())
        .drop("boutique_id")
        .join(located.lazy(), on="country", how="inner")
        .select("boutique_id", "date", "label")
    )
    maison_events = (
        pl.concat([at_boutique, in_country])
        .join(located.lazy().select("boutique_id"), on="boutique_id", how="semi")
        .select("boutique_id", "date", pl.lit("event").alias("kind"), "label")
        .unique()
        .collect()
    )
    return pl.concat([holidays, maison_events]).sort("boutique_id", "date", "kind", "label")


def last_year_visitors(observed_daily: pl.DataFrame, forecast_daily: pl.DataFrame) -> pl.DataFrame:
    """For each forecast day, the visitors counted on the same weekday 52 weeks earlier.

    ``observed_daily`` holds boutique_id, date, visitors (null when not counted). Columns:
    boutique_id, date (the forecast day), visitors.
    """
    shifted = observed_daily.select(
        "boutique_id", (pl.col("date") + SAME_WEEKDAY_LAST_YEAR).alias("date"), "visitors"
    )
    return forecast_daily.select("boutique_id", "date").join(
        shifted, on=["boutique_id", "date"], how="left"
    )


def day_notes(markers: pl.DataFrame) -> pl.DataFrame:
    """boutique_id, date, holiday and event: the markers of a day as text columns."""
    return (
        markers.group_by("boutique_id", "date")
        .agg(
            pl.col("label")
            .filter(pl.col("kind") == "holiday")
            .unique()
            .sort()
            .str.join("; ")
            .alias("holiday"),
            pl.col("label")
            .filter(pl.col("kind") == "event")
            .unique()
            .sort()
            .str.join("; ")
            .alias("event"),
        )
        .with_columns(pl.col("holiday", "event").replace("", None))
    )


def forecast_basis(frame: pl.DataFrame) -> pl.Expr:
    """The ``basis`` column: the forecast's method in words, null when the frame has none."""
    if "method" not in frame.columns:
        return pl.lit(None, pl.String).alias("basis")
    return pl.col("method").replace_strict(BASIS, default=pl.col("method")).alias("basis")


def footfall_daily_table(
    forecast: pl.DataFrame,
    boutiques: pl.DataFrame,
    last_year: pl.DataFrame,
    markers: pl.DataFrame,
) -> pl.DataFrame:
    """Daily visitors per boutique and local date: P10/P50/P90, last year, holidays and events.

    ``forecast`` holds boutique_id, date, p10, p50, p90 (and the model's ``method``). Columns:
    boutique_id, city, date, weekday, p10, p50, p90, basis, visitors_last_year, holiday, event.
    """
    return (
        forecast.with_columns(forecast_basis(forecast))
        .join(boutiques.select("boutique_id", "city"), on="boutique_id", how="left")
        .join(
            last_year.rename({"visitors": "visitors_last_year"}),
            on=["boutique_id", "date"],
            how="left",
        )
        .join(day_notes(markers), on=["boutique_id", "date"], how="left")
        .select(
            "boutique_id",
            "city",
            "date",
            WEEKDAY,
            *QUANTILES,
            "basis",
            "visitors_last_year",
            "holiday",
            "event",
        )
        .sort("boutique_id", "date")
    )


def footfall_hourly_table(forecast: pl.DataFrame, boutiques: pl.DataFrame) -> pl.DataFrame:
    """Hourly visitors per boutique and local hour: P10/P50/P90.

    ``forecast`` holds boutique_id, hour_start (local, naive) and p10, p50, p90 (and the
    model's ``method``). Columns: boutique_id, city, date, weekday, hour, hour_start, p10, p50,
    p90, basis.
    """
    return (
        forecast.join(boutiques.select("boutique_id", "city"), on="boutique_id", how="left")
        .with_columns(
            pl.col("hour_start").dt.date().alias("date"),
            pl.col("hour_start").dt.hour().cast(pl.Int8).alias("hour"),
            forecast_basis(forecast),
        )
        .select("boutique_id", "city", "date", WEEKDAY, "hour", "hour_start", *QUANTILES, "basis")
        .sort("boutique_id", "hour_start")
    )


def next_purchase_table(
    predictions: pl.DataFrame, reasons: pl.DataFrame, clients: pl.DataFrame
) -> pl.DataFrame:
    """Per client: the boutique that looks after them, the model's predictions and reasons.

    ``predictions`` is ``NextPurchaseBundle.predict`` output, ``reasons`` its ``explain``
    output, ``clients`` holds client_id and home_boutique_id. Only the pseudonymous id, the
    home boutique and model outputs are kept.
    """
    homes = clients.select("client_id", "home_boutique_id").unique("client_id", keep="first")
    return (
        predictions.join(homes, on="client_id", how="left")
        .join(reasons_by_client(reasons).collect(), on="client_id", how="left")
        .with_columns(pl.col("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .select("client_id", "home_boutique_id", pl.exclude("client_id", "home_boutique_id"))
        .sort("client_id")
    )


def call_list_table(
    next_purchase: pl.DataFrame,
    clients: pl.DataFrame,
    footfall_daily: pl.DataFrame,
    start: date,
    horizon_days: int = CALL_LIST_HORIZON_DAYS,
    size: int = CALL_LIST_SIZE,
) -> pl.DataFrame:
    """Per boutique, the ``size`` opted-in clients it looks after most likely to buy soon.

    The rules (home boutique only, explicit opt-in only, ids only, quiet invitation days) are
    :func:`training.call_lists.build_call_list`'s, shared with the service. ``p_buy`` is renamed
    ``p_buy_<horizon>d`` so the file says which window it means.
    """
    call_list = build_call_list(
        next_purchase, clients, footfall_daily, None, size, horizon_days, start=start
    )
    return call_list.rename({"p_buy": f"p_buy_{horizon_days}d"})


def maison_overview(
    footfall_daily: pl.DataFrame,
    next_purchase: pl.DataFrame,
    boutiques: pl.DataFrame,
    divisions: Sequence[str],
    division_columns: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per boutique: expected visitors, buyers and spend; and the spend split by division.

    Visitors are summed over the footfall horizon; buyers (the sum of ``p_buy_90d``) and spend
    (``expected_spend_90d``) over the clients each boutique looks after, for the next 90 days.
    Spend by division is each client's expected spend times the probability that the next
    purchase is in that division. Returns (overview, division_spend).
    """
    visitors = footfall_daily.group_by("boutique_id").agg(
        pl.col("p50").sum().alias("expected_visitors")
    )
    by_home = next_purchase.rename({"home_boutique_id": "boutique_id"})
    clients = by_home.group_by("boutique_id").agg(
        pl.col("p_buy_90d").sum().alias("expected_buyers"),
        pl.col("expected_spend_90d").sum().alias("expected_spend"),
    )
    overview = (
        boutiques.select("boutique_id")
        .join(visitors, on="boutique_id", how="left")
        .join(clients, on="boutique_id", how="left")
        .filter(pl.col("expected_visitors").is_not_null() | pl.col("expected_buyers").is_not_null())
        .sort("boutique_id")
    )
    names = dict(zip(division_columns, divisions, strict=True))
    division_spend = (
        by_home.select(
            "boutique_id",
            *(
                (pl.col("expected_spend_90d") * pl.col(column)).alias(column)
                for column in division_columns
            ),
        )
        .group_by("boutique_id")
        .agg(pl.col(list(division_columns)).sum())
        .unpivot(index="boutique_id", variable_name="division", value_name="expected_spend")
        .with_columns(pl.col("division").replace_strict(names))
        .drop_nulls("boutique_id")
        .sort("boutique_id", "division")
    )
    return overview, division_spend


def spreadsheet_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with list columns joined into text ('; ' between phrases, ' ' between dates)."""
    joined = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            separator = "; " if dtype.inner == pl.String else " "
            joined.append(pl.col(name).cast(pl.List(pl.String)).list.join(separator))
    return frame.with_columns(joined) if joined else frame


def write_table(frame: pl.DataFrame, directory: Path, name: str, csv: bool = True) -> list[Path]:
    """Write ``frame`` as ``<name>.parquet`` (and ``<name>.csv``) in ``directory``."""
    parquet = Path(directory) / f"{name}.parquet"
    frame.write_parquet(parquet)
    written = [parquet]
    if csv:
        csv_path = Path(directory) / f"{name}.csv"
        spreadsheet_frame(frame).write_csv(csv_path, float_precision=3)
        written.append(csv_path)
    return written


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """Write ``frame`` as a CSV file a spreadsheet opens (list columns joined into text)."""
    spreadsheet_frame(frame).write_csv(path, float_precision=3)
    return Path(path)
