"""Planners' forecasts: tables, call-list rules at the file level, the report, atomic writing.

The first tests use small hand-made frames. The later ones share one trained set-up (a tiny
maison, its snapshot, tiny models in a temporary sqlite MLflow store and one forecast run),
built once per test session by :func:`forecast_setup`, which the browser and notebook tests
import too.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clientcast.cli import app
from clientcast.settings import Settings, workspace_settings
from features.contract import DIVISIONS, PERSONAL_COLUMN_PATTERNS, TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory, empty_table
from training.call_lists import OPEN_MIN_VISITORS
from training.forecasts import (
    ForecastResult,
    pipeline,
    tables,
    write_footfall_forecasts,
    write_forecasts,
)
from training.forecasts.accuracy import ForecastAccuracy, score_clients, score_footfall
from training.forecasts.report import (
    ReportInputs,
    busiest_and_quietest,
    hourly_heatmap,
    render_report,
)
from training.next_purchase.bundle import division_column

AS_OF = date(2026, 7, 1)  # a Wednesday
BOUTIQUES = pl.DataFrame(
    {
        "boutique_id": ["B001", "B002", "B003"],
        "city": ["Paris", "Tokyo", "Lyon"],
        "country": ["FR", "JP", "FR"],
    }
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- hand-made frames ----------------------------------------------------------------------


def daily_forecast(days: int = 56, boutiques: tuple[str, ...] = ("B001", "B002")) -> pl.DataFrame:
    """P10/P50/P90 per boutique and day: closed on Sundays, busier on Saturdays."""
    frame = pl.DataFrame({"boutique_id": list(boutiques)}).join(
        pl.DataFrame({"date": pl.date_range(AS_OF, AS_OF + timedelta(days=days - 1), eager=True)}),
        how="cross",
    )
    weekday = pl.col("date").dt.weekday()
    p50 = (
        pl.when(weekday == 7)
        .then(0.0)
        .when(weekday == 6)
        .then(300.0)
        .otherwise(100.0 + pl.col("date").dt.day().cast(pl.Float64))
    )
    return frame.with_columns(p50.alias("p50")).with_columns(
        (pl.col("p50") * 0.8).alias("p10"), (pl.col("p50") * 1.25).alias("p90")
    )


def hourly_forecast(boutiques: tuple[str, ...] = ("B001", "B002")) -> pl.DataFrame:
    """Visitors per hour for 14 days, open 10:00-18:00."""
    return (
        daily_forecast(14, boutiques)
        .join(pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross")
        .with_columns(
            pl.when(pl.col("hour").is_between(10, 17))
            .then(pl.col("p50") / 8)
            .otherwise(0.0)
            .alias("p50")
        )
        .select("boutique_id", "date", "hour", "p50")
    )


def client_predictions(count: int, seed: int = 0) -> pl.DataFrame:
    """Predictions shaped like ``NextPurchaseBundle.predict`` output, with reasons."""
    rng = np.random.default_rng(seed)
    p90 = rng.uniform(0.01, 0.95, count)
    division_p = rng.dirichlet(np.ones(len(DIVISIONS)), count)
    return pl.DataFrame(
        {
            "client_id": [f"C{i:05d}" for i in range(count)],
            "p_buy_30d": p90 * 0.5,
            "p_buy_90d": p90,
            "expected_occasions_90d": p90 * 1.2,
            "expected_spend_90d": p90 * 4_000.0,
            "next_division": [DIVISIONS[i] for i in division_p.argmax(axis=1)],
            **{division_column(d): division_p[:, i] for i, d in enumerate(DIVISIONS)},
            "days_to_next_p10": np.full(count, 10.0),
            "days_to_next_p50": np.full(count, 40.0),
            "days_to_next_p90": np.full(count, 120.0),
        }
    )


def client_reasons(predictions: pl.DataFrame) -> pl.DataFrame:
    """Two reasons per client, as ``NextPurchaseBundle.explain`` returns them."""
    ids = predictions["client_id"].to_list()
    return pl.DataFrame(
        {
            "client_id": ids * 2,
            "rank": [1] * len(ids) + [2] * len(ids),
            "feature": ["recency_days"] * len(ids) + ["frequency"] * len(ids),
            "contribution": [0.5] * len(ids) + [0.2] * len(ids),
            "reason": ["last visit 12 days ago"] * len(ids) + ["bought 5 times"] * len(ids),
        },
        schema_overrides={"rank": pl.Int32},
    )


def history_with_events(events: list[dict[str, object]]) -> PurchaseHistory:
    """A history holding only an events table (the other tables empty)."""
    frames = {name: empty_table(table) for name, table in TABLES.items()}
    frames["events"] = pl.LazyFrame(events, schema=TABLES["events"].schema())
    return PurchaseHistory(**frames)


def report_inputs(accuracy: ForecastAccuracy | None = None) -> ReportInputs:
    """Report inputs for two boutiques, with a holiday and an event."""
    daily = daily_forecast()
    markers = pl.DataFrame(
        {
            "boutique_id": ["B001", "B002"],
            "date": [date(2026, 7, 14), date(2026, 7, 20)],
            "kind": ["holiday", "event"],
            "label": ["National Day", "Private sale"],
        }
    )
    overview = daily.group_by("boutique_id").agg(pl.col("p50").sum().alias("expected_visitors"))
    overview = overview.with_columns(
        pl.lit(12.5).alias("expected_buyers"), pl.lit(50_000.0).alias("expected_spend")
    )
    division_spend = pl.DataFrame({"boutique_id": ["B001", "B002"]}).join(
        pl.DataFrame({"division": list(DIVISIONS), "expected_spend": [1_000.0] * len(DIVISIONS)}),
        how="cross",
    )
    return ReportInputs(
        as_of=AS_OF,
        created_at="2026-07-01 06:00 UTC",
        reference_currency="EUR",
        horizon_days=56,
        boutiques=BOUTIQUES,
        daily=daily,
        hourly=hourly_forecast(),
        last_year=daily.select("boutique_id", "date", (pl.col("p50") * 0.9).alias("visitors")),
        markers=markers,
        overview=overview,
        division_spend=division_spend,
        accuracy=accuracy,
        models=("footfall: test v1 (@champion)",),
    )


class PageParser(HTMLParser):
    """Headings, image sources and every URL-valued attribute of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = ""
        if tag == "img":
            self.images.append(values.get("src") or "")
        for name in ("src", "href"):
            if values.get(name):
                self.links.append(values[name] or "")

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append(self._heading.strip())
            self._heading = None


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


REPORT_SECTIONS = (
    "Maison overview",
    "Boutiques: the next 8 weeks",
    "How accurate were our last forecasts?",
    "How to read this report",
)


def assert_offline_page(text: str) -> PageParser:
    """The page's sections are there, its images are embedded PNGs and it links nowhere."""
    page = parse_page(text)
    for section in REPORT_SECTIONS:
        assert section in page.headings
    assert page.images
    for source in page.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert all(link.startswith(("#", "data:")) for link in page.links), page.links
    assert not re.search(r"https?://", text)
    return page


# -- tables ----------------------------------------------------------------------------------


def test_markers_put_country_holidays_and_events_on_each_boutique_there() -> None:
    history = history_with_events(
        [
            {"date": date(2026, 7, 20), "kind": "private_sale", "boutique_id": "B002"},
            {
                "date": date(2026, 7, 3),
                "kind": "collection_launch",
                "country": "FR",
                "label": "Resort launch",
            },
            {"date": date(2026, 9, 30), "kind": "closure", "boutique_id": "B001"},
        ]
    )
    markers = tables.forecast_markers(history, BOUTIQUES, AS_OF, date(2026, 7, 31))
    holidays = markers.filter(pl.col("kind") == "holiday")
    assert holidays.filter(pl.col("date") == date(2026, 7, 14))["boutique_id"].sort().to_list() == [
        "B001",
        "B003",
    ]  # Bastille Day in France only
    events = markers.filter(pl.col("kind") == "event").sort("boutique_id", "date")
    assert events.select("boutique_id", "date", "label").rows() == [
        ("B001", date(2026, 7, 3), "Resort launch"),
        ("B002", date(2026, 7, 20), "Private sale"),
        ("B003", date(2026, 7, 3), "Resort launch"),
    ]


def test_last_year_is_the_same_weekday_52_weeks_earlier() -> None:
    forecast = daily_forecast(7, ("B001",))
    observed = pl.DataFrame(
        {
            "boutique_id": ["B001"] * 3,
            "date": [AS_OF - timedelta(days=364), AS_OF - timedelta(days=363), AS_OF],
            "visitors": [111, None, 999],
        }
    )
    last_year = tables.last_year_visitors(observed, forecast).sort("date")
    assert last_year.height == 7
    assert last_year["visitors"].to_list()[:3] == [111, None, None]
    shifted = last_year.filter(pl.col("visitors").is_not_null())["date"]
    assert (shifted.dt.weekday() == (AS_OF - timedelta(days=364)).isoweekday()).all()


def test_daily_table_has_local_dates_quantiles_and_day_notes() -> None:
    forecast = daily_forecast(14)
    markers = pl.DataFrame(
        {
            "boutique_id": ["B001", "B001"],
            "date": [date(2026, 7, 14)] * 2,
            "kind": ["holiday", "event"],
            "label": ["National Day", "Private sale"],
        }
    )
    last_year = forecast.select("boutique_id", "date", pl.lit(50).alias("visitors"))
    table = tables.footfall_daily_table(forecast, BOUTIQUES, last_year, markers)
    assert table.columns == [
        "boutique_id", "city", "date", "weekday", "p10", "p50", "p90", "basis",
        "visitors_last_year", "holiday", "event",
    ]  # fmt: skip
    assert table.height == forecast.height
    day = table.filter(pl.col("boutique_id") == "B001", pl.col("date") == date(2026, 7, 14))
    assert day.select("weekday", "holiday", "event").row(0) == (
        "Tuesday",
        "National Day",
        "Private sale",
    )
    assert table.filter(pl.col("holiday").is_not_null()).height == 1
    assert (table["p10"] <= table["p50"]).all() and (table["p50"] <= table["p90"]).all()


def test_overview_sums_visitors_buyers_and_splits_spend_by_division() -> None:
    predictions = client_predictions(40)
    homes = ["B001", "B002", "B003", "B004"]
    next_purchase = predictions.with_columns(
        pl.Series("home_boutique_id", [homes[i % 4] for i in range(40)])
    )
    boutiques = pl.concat(
        [
            BOUTIQUES,
            pl.DataFrame(
                {
                    "boutique_id": ["B004", "B009"],
                    "city": ["Online", "Nice"],
                    "country": ["FR", "FR"],
                }
            ),
        ]
    )
    daily = daily_forecast(56, ("B001", "B002", "B003"))
    columns = [division_column(d) for d in DIVISIONS]
    overview, spend = tables.maison_overview(daily, next_purchase, boutiques, DIVISIONS, columns)
    assert overview["boutique_id"].to_list() == ["B001", "B002", "B003", "B004"]  # B009: nothing
    expected = daily.group_by("boutique_id").agg(pl.col("p50").sum()).sort("boutique_id")
    assert overview["expected_visitors"].to_list()[:3] == pytest.approx(expected["p50"].to_list())
    assert overview["expected_visitors"][3] is None  # the online boutique has no door
    assert overview["expected_buyers"].sum() == pytest.approx(predictions["p_buy_90d"].sum())
    assert set(spend["division"].unique()) == set(DIVISIONS)
    per_boutique = spend.group_by("boutique_id").agg(pl.col("expected_spend").sum())
    joined = overview.join(per_boutique, on="boutique_id")
    assert joined["expected_spend"].to_list() == pytest.approx(
        joined["expected_spend_right"].to_list()
    )  # the division probabilities sum to one


def test_next_purchase_table_keeps_ids_outputs_and_reasons_only() -> None:
    predictions = client_predictions(5)
    clients = pl.DataFrame(
        {
            "client_id": predictions["client_id"],
            "home_boutique_id": ["B001"] * 5,
            "contact_opt_in": [True] * 5,
            "gender": ["F"] * 5,
        }
    )
    table = tables.next_purchase_table(predictions, client_reasons(predictions), clients)
    assert table.columns[:2] == ["client_id", "home_boutique_id"]
    assert "gender" not in table.columns and "contact_opt_in" not in table.columns
    assert table["reasons"].to_list()[0] == ["last visit 12 days ago", "bought 5 times"]


def invite_dates(column: pl.Series) -> pl.Series:
    """The dates of a call-list CSV's ``invite_days`` column (space-separated ISO dates)."""
    days = column.cast(pl.String).str.split(" ").explode()
    return days.filter(days.is_not_null() & (days != "")).str.to_date()


def assert_call_list_rules(call_list: pl.DataFrame, clients: pl.DataFrame) -> None:
    """Opted-in clients only, each once, at their home boutique; no personal columns."""
    for column in call_list.columns:
        words = set(column.lower().split("_"))
        assert not words & set(PERSONAL_COLUMN_PATTERNS), column
        assert column not in ("gender", "birth_year", "age", "language", "home_country")
    assert call_list["client_id"].is_unique().all()
    joined = call_list.join(clients, on="client_id", how="left")
    assert joined["contact_opt_in"].fill_null(False).all()
    assert (joined["boutique_id"] == joined["home_boutique_id"]).all()
    assert call_list["client_id"].str.contains(r"^C\d+$").all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opt_in=st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=60),
    homes=st.lists(st.sampled_from(["B001", "B002", "B003"]), min_size=60, max_size=60),
    size=st.integers(1, 10),
    seed=st.integers(0, 1_000),
)
def test_call_list_file_follows_the_rules(
    tmp_path_factory: pytest.TempPathFactory,
    opt_in: list[bool | None],
    homes: list[str],
    size: int,
    seed: int,
) -> None:
    count = len(opt_in)
    predictions = client_predictions(count, seed)
    clients = pl.DataFrame(
        {
            "client_id": predictions["client_id"],
            "home_boutique_id": homes[:count],
            "contact_opt_in": opt_in,
        },
        schema_overrides={"contact_opt_in": pl.Boolean},
    )
    next_purchase = tables.next_purchase_table(predictions, client_reasons(predictions), clients)
    call_list = tables.call_list_table(next_purchase, clients, daily_forecast(21), AS_OF, size=size)
    path = tables.write_csv(call_list, tmp_path_factory.mktemp("calls") / "call_lists.csv")
    written = pl.read_csv(path, schema_overrides={"client_id": pl.String})
    assert_call_list_rules(written, clients)
    opted_in = clients.filter(pl.col("contact_opt_in").fill_null(False))
    per_boutique = opted_in.group_by("home_boutique_id").len()
    assert written.height == sum(min(size, n) for n in per_boutique["len"].to_list())
    ranked = written.group_by("boutique_id").agg(pl.col("p_buy_14d").is_sorted(descending=True))
    assert ranked["p_buy_14d"].all()
    if written.height:
        invites = invite_dates(written["invite_days"])
        assert invites.dt.weekday().ne(7).all()  # never a closed Sunday
        assert invites.is_between(AS_OF, AS_OF + timedelta(days=13)).all()
        assert written["reasons"][0] == "last visit 12 days ago; bought 5 times"


# -- report ----------------------------------------------------------------------------------


def test_busiest_and_quietest_days_skip_closed_days() -> None:
    days = busiest_and_quietest(daily_forecast())
    quiet = days.filter(pl.col("which") == "quietest")
    busy = days.filter(pl.col("which") == "busiest")
    assert quiet.group_by("boutique_id").len()["len"].to_list() == [3, 3]
    assert quiet["p50"].min() >= OPEN_MIN_VISITORS  # Sundays (closed) are never "quiet"
    assert busy["date"].dt.weekday().eq(6).all()  # Saturdays are the busiest
    assert busy["p50"].min() > quiet["p50"].max()


def test_report_is_a_self_contained_page_with_every_section() -> None:
    past = daily_forecast(28, ("B001", "B002")).with_columns(
        (pl.col("date") - timedelta(days=28)).alias("date"),
        (pl.col("p50") * 1.1).alias("actual"),
        (pl.col("p50") * 1.3).alias("baseline"),
    )
    footfall = score_footfall(past, AS_OF - timedelta(days=28))
    rng = np.random.default_rng(1)
    clients = score_clients(
        pl.DataFrame({"p_buy_90d": rng.random(200), "bought": rng.random(200) < 0.3}),
        AS_OF - timedelta(days=90),
    )
    text = render_report(report_inputs(ForecastAccuracy(footfall, clients, ("a note",))))
    page = assert_offline_page(text)
    assert {"Paris (B001)", "Tokyo (B002)"} <= set(page.headings)
    assert "Lyon (B003)" not in page.headings  # no forecast for it
    assert len(page.images) == 2 + 2 + 1  # overview x2, one daily chart per boutique, accuracy
    assert "National Day" in text and "Private sale" in text
    assert "Expected visitors per hour, next 14 days" in page.headings
    assert "Wed 1 Jul 2026" in text  # local dates written out
    assert "a note" in text


def test_report_without_accuracy_says_so() -> None:
    text = render_report(report_inputs(None))
    assert "Not enough history yet" in text


def test_footfall_accuracy_scores_observed_days_only() -> None:
    scored = pl.DataFrame(
        {
            "boutique_id": ["B001"] * 4,
            "date": [AS_OF + timedelta(days=i) for i in range(4)],
            "p10": [80.0, 80.0, 80.0, 80.0],
            "p50": [100.0, 100.0, 100.0, 100.0],
            "p90": [120.0, 120.0, 120.0, 120.0],
            "actual": [100.0, 150.0, None, 90.0],
            "baseline": [100.0, 100.0, 100.0, 60.0],
        }
    )
    accuracy = score_footfall(scored, AS_OF)
    row = accuracy.by_boutique.row(0, named=True)
    assert row["days"] == 3
    assert row["wape"] == pytest.approx(60 / 340)
    assert row["baseline_wape"] == pytest.approx(80 / 340)
    assert row["coverage_80"] == pytest.approx(2 / 3)
    assert accuracy.overall["wape"] == pytest.approx(60 / 340)
    assert list(accuracy.examples) == ["B001"]


def test_client_accuracy_compares_the_top_tenth_with_everyone() -> None:
    scored = pl.DataFrame(
        {"p_buy_90d": [0.9, 0.8] + [0.1] * 18, "bought": [True, True] + [False] * 17 + [True]}
    )
    accuracy = score_clients(scored, AS_OF)
    assert accuracy.clients == 20
    assert accuracy.actual_buyers == 3
    assert accuracy.expected_buyers == pytest.approx(1.7 + 1.8)
    assert accuracy.top_share_bought == 1.0
    assert accuracy.overall_share_bought == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("days", "words"),
    [(56, "next 8 weeks"), (7, "next week"), (1, "next day"), (10, "next 10 days")],
)
def test_report_headings_word_short_horizons(days: int, words: str) -> None:
    inputs = dataclasses.replace(
        report_inputs(), horizon_days=days, daily=daily_forecast(days, ("B001", "B002"))
    )
    text = render_report(inputs)
    assert f"Boutiques: the {words}" in text
    assert f"expected visitors ({words})" in text
    assert "0 weeks" not in text and "1 weeks" not in text


def test_closed_days_and_hours_share_one_threshold() -> None:
    assert OPEN_MIN_VISITORS == 0.5
    daily = pl.DataFrame(
        {
            "boutique_id": ["B001"] * 4,
            "date": [AS_OF + timedelta(days=i) for i in range(4)],
            "p10": [0.0, 0.0, 0.0, 5.0],
            "p50": [0.3, 0.7, 2.0, 9.0],
            "p90": [1.0, 2.0, 4.0, 12.0],
        }
    )
    quiet = busiest_and_quietest(daily, count=3).filter(pl.col("which") == "quietest")
    assert quiet["p50"].to_list() == [0.7, 2.0, 9.0]  # 0.3 rounds to nobody: closed
    hourly = pl.DataFrame(
        {"date": [AS_OF] * 3, "hour": [8, 10, 11], "p50": [0.4, 0.6, 3.0]},
        schema_overrides={"hour": pl.Int8},
    )
    heatmap = hourly_heatmap(hourly)
    assert "10h" in heatmap and "11h" in heatmap and "08h" not in heatmap


def test_wape_of_a_boutique_without_visitors_counted_is_unknown_not_infinite() -> None:
    scored = pl.DataFrame(
        {
            "boutique_id": ["B001", "B001", "B002"],
            "date": [AS_OF, AS_OF + timedelta(days=1), AS_OF],
            "p10": [0.0, 0.0, 80.0],
            "p50": [3.0, 2.0, 100.0],
            "p90": [6.0, 5.0, 120.0],
            "actual": [0.0, 0.0, 110.0],
            "baseline": [1.0, 1.0, 90.0],
        }
    )
    accuracy = score_footfall(scored, AS_OF)
    empty = accuracy.by_boutique.filter(pl.col("boutique_id") == "B001").row(0, named=True)
    assert empty["wape"] is None and empty["baseline_wape"] is None
    assert accuracy.overall["wape"] == pytest.approx(15 / 110)
    text = render_report(report_inputs(ForecastAccuracy(accuracy, None)))
    assert "inf%" not in text and "nan%" not in text
    row = re.search(r"<tr><td>Paris \(B001\)</td>(.*?)</tr>", text)
    assert row is not None and '<td class="number">–</td>' in row.group(1)


# -- the shared trained set-up ---------------------------------------------------------------

SETUP_MAISON = {"clients": 400, "boutiques": 8, "years": 2.0, "seed": 11}
LIGHT_BOOSTER = {"num_boost_round": 60, "num_leaves": 15}
"""Tuned footfall parameters seeded for the tiny models: few, small trees."""
LIGHT_FOOTFALL = {
    "daily_origins": 1,
    "hourly_origins": 1,
    "warmup_origins": 1,
    "autoets": False,
    "daily_training_step_days": 28,
    "hourly_training_step_days": 56,
    "plot_boutiques": 2,
}
PERSONAL_OR_PROFILE_COLUMNS = ("gender", "birth_year", "age", "language", "home_country", "tier")


@dataclass(frozen=True)
class ForecastSetup:
    """A tiny maison with its snapshot, tiny champion models and one forecast run."""

    root: Path
    settings: Settings
    result: ForecastResult

    @property
    def boutique_labels(self) -> list[str]:
        """'City (B001)' of every boutique with a footfall forecast."""
        daily = pl.read_parquet(self.result.directory / "footfall_daily.parquet")
        labels = daily.select(pl.format("{} ({})", "city", "boutique_id")).unique()
        return labels.to_series().to_list()


def setup_settings(root: Path) -> Settings:
    """Settings whose every path (data, snapshots, forecasts, MLflow, Optuna) is under root."""
    return workspace_settings(root, data_dir=root / "maison")


def seed_tuned_footfall_params(storage: str, data_dir: Path | None = None) -> None:
    """Record :data:`LIGHT_BOOSTER` as the best trial of the footfall studies tuned on the
    history in ``data_dir``, which training on that history reads as tuned parameters (what
    ``clientcast tune footfall --data data_dir`` would leave).

    Studies are named after the history they were tuned on, so there is nothing to record
    before it exists: without ``data_dir`` nothing is recorded and training uses the defaults.
    """
    import optuna

    from training.footfall.pipeline import study_family
    from training.tuning import study_name

    if data_dir is None:
        return
    distributions = {
        "num_boost_round": optuna.distributions.IntDistribution(10, 1000),
        "num_leaves": optuna.distributions.IntDistribution(2, 255),
    }
    for name in ("daily", "hourly"):
        study = optuna.create_study(
            study_name=study_name(study_family(name), data_dir), storage=storage
        )
        study.add_trial(
            optuna.trial.create_trial(params=LIGHT_BOOSTER, distributions=distributions, value=1.0)
        )


def train_tiny_models(settings: Settings) -> None:
    """Register both model families with a light recipe (two cutoffs, few origins, small trees).

    The footfall model is trained four weeks before the end of the data, so that the report
    can check its forecast of those four weeks day by day.
    """
    from features.history import load_history
    from features.snapshot import default_as_of
    from training.footfall import FootfallOptions, train_footfall
    from training.next_purchase.pipeline import RecipeOptions, train_next_purchase

    train_next_purchase(
        settings, None, options=RecipeOptions(n_training=2, max_rounds=40, early_stopping_rounds=10)
    )
    footfall_as_of = default_as_of(load_history(settings.data_dir)) - timedelta(days=28)
    seed_tuned_footfall_params(settings.optuna_storage, settings.data_dir)
    train_footfall(settings, footfall_as_of, options=FootfallOptions(**LIGHT_FOOTFALL))


def build_forecast_setup(root: Path) -> ForecastResult:
    """Generate the maison, write its snapshot, train the models, write the forecasts."""
    from features.snapshot import write_snapshot
    from features.synthetic import MaisonConfig, generate_maison

    settings = setup_settings(root)
    generate_maison(settings.data_dir, MaisonConfig(**SETUP_MAISON))
    write_snapshot(settings.data_dir, None, settings.snapshot_dir, settings.reference_currency)
    train_tiny_models(settings)
    return write_forecasts(settings, None)


def forecast_setup(tmp_path_factory: pytest.TempPathFactory) -> ForecastSetup:
    """The session's shared set-up: built by the first test file that asks, reused after.

    The set-up lives in the session's base temporary folder with a marker file written last,
    so every test module (this one, the browser test) finds the same one on disk.
    """
    root = tmp_path_factory.getbasetemp() / "forecast-setup"
    marker = root / "setup.json"
    # MLflow exports the last tracking URI it was given, which the settings would then prefer.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if not marker.is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        result = build_forecast_setup(root)
        record = {
            "directory": str(result.directory),
            "report": str(result.report),
            "as_of": result.as_of.isoformat(),
            "horizon_days": result.horizon_days,
            "rows": result.rows,
            "models": list(result.models),
            "seconds": result.seconds,
        }
        marker.write_text(json.dumps(record))
    record = json.loads(marker.read_text())
    result = ForecastResult(
        directory=Path(record["directory"]),
        report=Path(record["report"]),
        as_of=date.fromisoformat(record["as_of"]),
        horizon_days=record["horizon_days"],
        rows=record["rows"],
        models=tuple(record["models"]),
        seconds=record["seconds"],
    )
    return ForecastSetup(root, setup_settings(root), result)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> ForecastSetup:
    return forecast_setup(tmp_path_factory)


@pytest.fixture(autouse=True)
def own_tracking_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test names its MLflow store through the settings, not a URI MLflow exported."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_forecast_folder_holds_every_table_and_the_report(setup: ForecastSetup) -> None:
    directory = setup.result.directory
    assert directory == setup.settings.forecast_dir / setup.result.as_of.isoformat()
    assert sorted(p.name for p in directory.iterdir()) == [
        "call_lists.csv",
        "footfall_daily.csv",
        "footfall_daily.parquet",
        "footfall_hourly.csv",
        "footfall_hourly.parquet",
        "manifest.json",
        "next_purchase.parquet",
        "report.html",
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["kind"] == "all" and manifest["as_of"] == setup.result.as_of.isoformat()
    assert manifest["rows"] == setup.result.rows and len(manifest["models"]) == 2
    as_of = setup.result.as_of
    daily = pl.read_parquet(directory / "footfall_daily.parquet")
    boutiques = pl.read_parquet(setup.settings.data_dir / "boutiques.parquet")
    physical = boutiques.filter(pl.col("format") != "online", pl.col("closed_on").is_null())
    assert set(daily["boutique_id"]) == set(physical["boutique_id"])
    assert daily["date"].min() == as_of
    assert daily["date"].max() == as_of + timedelta(days=55)
    assert daily.group_by("boutique_id").len()["len"].max() == 56
    assert (daily["p10"] <= daily["p50"]).all() and (daily["p50"] <= daily["p90"]).all()
    assert (daily["p10"] >= 0).all()
    hourly = pl.read_parquet(directory / "footfall_hourly.parquet")
    assert hourly["hour_start"].min() == datetime.combine(as_of, datetime.min.time())
    assert hourly["date"].n_unique() == 14
    csv = pl.read_csv(directory / "footfall_daily.csv", try_parse_dates=True)
    assert csv.height == daily.height and csv["date"].min() == as_of
    next_purchase = pl.read_parquet(directory / "next_purchase.parquet")
    assert next_purchase["client_id"].is_unique().all()
    assert next_purchase["p_buy_90d"].is_between(0, 1).all()
    assert (next_purchase["p_buy_30d"] <= next_purchase["p_buy_90d"] + 1e-9).all()
    for table in (daily, hourly, next_purchase, pl.read_csv(directory / "call_lists.csv")):
        for column in table.columns:
            assert column not in PERSONAL_OR_PROFILE_COLUMNS
            assert not set(column.split("_")) & set(PERSONAL_COLUMN_PATTERNS), column


def test_call_lists_file_follows_the_rules(setup: ForecastSetup) -> None:
    call_list = pl.read_csv(
        setup.result.directory / "call_lists.csv", schema_overrides={"client_id": pl.String}
    )
    clients = pl.read_parquet(setup.settings.data_dir / "clients.parquet")
    assert call_list.height > 0
    assert_call_list_rules(call_list, clients)
    opted_out = clients.filter(~pl.col("contact_opt_in").fill_null(False))["client_id"]
    assert opted_out.len() > 0 and not call_list["client_id"].is_in(opted_out.implode()).any()
    assert (call_list.group_by("boutique_id").len()["len"] <= tables.CALL_LIST_SIZE).all()
    assert call_list["reasons"].drop_nulls().len() > 0
    as_of = setup.result.as_of
    invites = invite_dates(call_list["invite_days"])
    assert invites.len() > 0
    assert invites.is_between(as_of, as_of + timedelta(days=13)).all()


def test_report_of_the_trained_models_is_complete_and_offline(setup: ForecastSetup) -> None:
    text = setup.result.report.read_text(encoding="utf-8")
    page = assert_offline_page(text)
    assert set(setup.boutique_labels) <= set(page.headings)
    assert "Typical error" in text  # the footfall model's test before training
    assert "Day by day: the current model&#x27;s forecast from" in text  # the last 4 weeks
    assert "Forecast against counted visitors" in text  # with a chart
    assert "rated most likely to buy" in text  # the client backtest against who bought


def test_a_failed_run_leaves_the_previous_forecasts_untouched(
    setup: ForecastSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = setup.result.directory
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    def broken_report(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the report could not be drawn")

    monkeypatch.setattr(pipeline, "write_report", broken_report)
    with pytest.raises(RuntimeError, match="could not be drawn"):
        write_forecasts(setup.settings, setup.result.as_of)
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    assert [p.name for p in directory.parent.iterdir()] == [directory.name]  # no temp folder


def test_cli_forecast_writes_a_dated_folder_and_prints_its_paths(
    setup: ForecastSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CLIENTCAST_MLFLOW_TRACKING_URI": setup.settings.mlflow_tracking_uri,
        "CLIENTCAST_MLFLOW_ARTIFACT_DIR": str(setup.settings.mlflow_artifact_dir),
    }.items():
        monkeypatch.setenv(name, value)
    as_of = setup.result.as_of  # an earlier date would use a champion trained after it
    arguments = ["forecast", "--data", str(setup.settings.data_dir), "--as-of", str(as_of)]
    arguments += ["--out", str(tmp_path), "--horizon", "28"]
    result = CliRunner().invoke(app, arguments, terminal_width=200)
    assert result.exit_code == 0, result.output
    directory = tmp_path / as_of.isoformat()
    assert str(directory / "report.html") in result.output.replace("\n", "")
    clients = pl.read_parquet(setup.settings.data_dir / "clients.parquet")
    known = clients.filter(pl.col("first_purchase_date") < as_of)["client_id"]
    scored = pl.read_parquet(directory / "next_purchase.parquet")["client_id"]
    unscored = known.n_unique() - known.is_in(scored.implode()).sum()
    assert unscored > 0
    summary = " ".join(result.output.split())
    assert f"{unscored} clients of clients.parquet without a purchase before {as_of}" in summary
    daily = pl.read_parquet(directory / "footfall_daily.parquet")
    assert daily["date"].min() == as_of and daily["date"].max() == as_of + timedelta(days=27)


def test_cli_forecast_footfall_publishes_a_footfall_only_folder(
    setup: ForecastSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CLIENTCAST_MLFLOW_TRACKING_URI": setup.settings.mlflow_tracking_uri,
        "CLIENTCAST_MLFLOW_ARTIFACT_DIR": str(setup.settings.mlflow_artifact_dir),
    }.items():
        monkeypatch.setenv(name, value)
    as_of = setup.result.as_of
    directory = tmp_path / as_of.isoformat()
    shutil.copytree(setup.result.directory, directory)
    arguments = ["forecast", "footfall", "--data", str(setup.settings.data_dir)]
    arguments += ["--as-of", str(as_of), "--out", str(tmp_path), "--horizon", "21"]
    result = CliRunner().invoke(app, arguments, terminal_width=400)
    assert result.exit_code == 0, result.output
    assert "footfall tables written to" in result.output
    assert "forecast footfall: forecasting footfall from" in result.output  # progress shown
    # The earlier full run's call lists and report rested on the superseded footfall forecast.
    assert "was replaced" in result.output and "call_lists.csv" in result.output
    assert sorted(path.name for path in directory.iterdir()) == [
        "footfall_daily.csv",
        "footfall_daily.parquet",
        "footfall_hourly.csv",
        "footfall_hourly.parquet",
        "manifest.json",
    ]
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["kind"] == "footfall" and manifest["horizon_days"] == 21
    daily = pl.read_parquet(directory / "footfall_daily.parquet")
    assert daily["date"].max() == as_of + timedelta(days=20)
    assert manifest["rows"]["footfall_daily"] == daily.height
    assert pl.read_csv(directory / "footfall_daily.csv").height == daily.height
    hourly = pl.read_parquet(directory / "footfall_hourly.parquet")
    assert hourly["date"].n_unique() == 14
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_cli_forecast_without_trained_models_is_a_user_error(
    setup: ForecastSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIENTCAST_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("CLIENTCAST_MLFLOW_ARTIFACT_DIR", str(tmp_path / "artifacts"))
    arguments = ["forecast", "--data", str(setup.settings.data_dir), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2
    assert "clientcast train" in result.output
    assert not (tmp_path / setup.result.as_of.isoformat()).exists()


def test_a_forecast_before_the_champions_training_date_is_refused(
    setup: ForecastSetup,
) -> None:
    trained = setup.result.as_of  # the next-purchase champion; footfall's is 28 days earlier
    data_dir = setup.settings.data_dir
    cases = [
        (write_forecasts, trained - timedelta(days=10), "clientcast train next-purchase"),
        (write_footfall_forecasts, trained - timedelta(days=40), "clientcast train footfall"),
        (write_forecasts, trained - timedelta(days=40), "clientcast train --data"),
    ]
    for run, as_of, command in cases:
        with pytest.raises(UserInputError) as refused:
            run(setup.settings, as_of)
        message = str(refused.value)
        assert "look-ahead" in message and f"after {as_of}" in message
        assert f"`{command}" in message and f"--data {data_dir} --as-of {as_of}`" in message
        assert not (setup.settings.forecast_dir / as_of.isoformat()).exists()
    assert f"clientcast-next-purchase v1 was trained as of {trained}" in message
    footfall_trained = trained - timedelta(days=28)
    assert f"clientcast-footfall v1 was trained as of {footfall_trained}" in message
    assert f"forecast as of {trained} or later" in message


def test_a_back_dated_training_serves_back_dated_forecasts_and_never_takes_the_champion(
    setup: ForecastSetup, tmp_path: Path
) -> None:
    """The way out the look-ahead refusal names: `train --as-of D` registers a version that a
    forecast as of D then uses, while the champion (trained later) keeps serving."""
    from training import tracking
    from training.footfall import FootfallOptions, train_footfall

    for store in ("mlruns.db", "optuna.db"):  # a copy of the registry: v1 is the champion
        shutil.copy(setup.root / store, tmp_path / store)
    settings = workspace_settings(tmp_path, data_dir=setup.settings.data_dir)
    champion_as_of = setup.result.as_of - timedelta(days=28)
    back_dated = champion_as_of - timedelta(days=35)
    report = train_footfall(settings, back_dated, options=FootfallOptions(**LIGHT_FOOTFALL))
    assert report.version == "2" and report.alias == tracking.CHALLENGER
    assert f"trained as of {back_dated}, before champion v1 ({champion_as_of})" in (
        report.promotion_reason
    )
    assert "champion v1 was trained on later data: not compared" in report.promotion_reason
    assert str(tracking.alias_version(settings.footfall_model, tracking.CHAMPION).version) == "1"

    result = write_footfall_forecasts(settings, back_dated, 14)
    assert result.model == "footfall: clientcast-footfall v2 (@challenger)"
    assert result.notes == (
        f"footfall: champion v1 was trained as of {champion_as_of}, after {back_dated}; the "
        f"forecast uses v2, trained as of {back_dated} (no look-ahead)",
    )
    daily = pl.read_parquet(result.directory / "footfall_daily.parquet")
    assert daily["date"].min() == back_dated
    # From the champion's own date on, the champion forecasts again.
    assert write_footfall_forecasts(settings, champion_as_of, 14).notes == ()
    # Earlier than every version: still refused, naming the command.
    with pytest.raises(UserInputError, match="look-ahead"):
        write_footfall_forecasts(settings, back_dated - timedelta(days=1), 14)


def test_a_forecast_outside_the_history_is_refused_before_loading_models(
    setup: ForecastSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.tracking

    def not_reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the as-of is checked before the models are loaded")

    monkeypatch.setattr(training.tracking, "load_bundle", not_reached)
    for run in (write_forecasts, write_footfall_forecasts):
        with pytest.raises(UserInputError, match="is not after the history's first purchase"):
            run(setup.settings, date(2020, 1, 1))
        with pytest.raises(UserInputError, match="days after the history's last data"):
            run(setup.settings, setup.result.as_of + timedelta(days=30))


def test_a_one_day_horizon_is_one_day() -> None:
    from rich.console import Console

    result = ForecastResult(Path("f"), Path("f/report.html"), AS_OF, 1, {}, (), 1.0)
    footfall = pipeline.FootfallTablesResult(Path("f"), AS_OF, 1, {}, "footfall", 1.0)
    console = Console(record=True, width=300)
    console.print(result, footfall)
    text = " ".join(console.export_text().split())  # titles wrap to the width of the tables
    assert "(1 day of daily footfall)" in text and "(1 day daily)" in text
    assert "1 days" not in text


def test_training_runs_show_backtests_beside_baselines_and_diagnostic_plots(
    setup: ForecastSetup,
) -> None:
    from mlflow import MlflowClient

    from training.tracking import configure_tracking

    configure_tracking(setup.settings.tracking_uri, setup.settings.mlflow_artifact_dir)
    client = MlflowClient()
    for name in (setup.settings.next_purchase_model, setup.settings.footfall_model):
        version = client.get_model_version_by_alias(name, "champion")
        artifacts = {item.path for item in client.list_artifacts(version.run_id)}
        assert {"backtest.json"} <= artifacts, (name, artifacts)
        assert any(path.endswith(".png") for path in artifacts), (name, artifacts)
        backtest = json.loads(
            Path(client.download_artifacts(version.run_id, "backtest.json")).read_text()
        )
        models = {row[backtest["columns"].index("model")] for row in backtest["data"]}
        assert len(models) >= 2, models  # the model beside at least one baseline


def test_a_catalogue_the_champion_never_saw_is_flagged() -> None:
    from features.contract import TABLES
    from features.history import PurchaseHistory, empty_table
    from training.forecasts.pipeline import division_mismatch_note

    def history_with(divisions: list[str]) -> PurchaseHistory:
        tables = {name: empty_table(table) for name, table in TABLES.items()}
        tables["products"] = pl.LazyFrame({"product_id": divisions, "division": divisions})
        return PurchaseHistory(**tables)

    known = ("fragrance_beauty", "watches")
    assert division_mismatch_note(history_with(list(known)), known) is None
    note = division_mismatch_note(history_with(["fragrance_beauty", "home"]), known)
    assert note is not None
    assert "never saw: home" in note and "no product has: watches" in note
    assert note.endswith("retrain the next-purchase model on this history")
