"""Validation messages for files and times that used to be read silently wrong or explained
poorly: misnamed files, other CSV separators, local times with an offset or a zone, empty
tables, infinite numbers, and the warnings (off-the-hour and non-existent local hours,
outliers, stale FX rates)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_validation import write_history
from typer.testing import CliRunner

from clientcast.cli import app
from features.contract import LOCAL_DATETIME, UTC_DATETIME
from features.history import HistoryError, cast_expression, file_format_problem, load_history
from features.validation import (
    AMOUNT_OUTLIER_FACTOR,
    FX_STALE_DAYS,
    VISITORS_OUTLIER_FACTOR,
    ValidationReport,
    local_time_exists,
    utc_offset_changes,
    validate_history,
)

TODAY = date(2025, 6, 30)
Frames = dict[str, pl.DataFrame]


def small_maison() -> Frames:
    """A valid maison: a Paris and a Tokyo boutique, daily FX rates, a day of footfall."""
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(10)]
    transactions = pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(8)],
            "receipt_id": [f"r{i}" for i in range(8)],
            "client_id": ["c1", "c2", "c1", None, "c2", "c1", "c2", "c1"],
            "boutique_id": ["b1", "b1", "b2", "b1", "b2", "b1", "b2", "b1"],
            "product_id": ["p1", "p2", "p1", "p2", "p2", "p1", "p1", "p2"],
            "purchased_at": [datetime(2024, 3, 1 + i, 10) for i in range(8)],
            "quantity": [1, 1, 1, 2, 1, 1, 1, 1],
            "amount": [2500.0, 900.0, 310_000.0, 1800.0, 95_000.0, 2100.0, 400_000.0, 3100.0],
            "currency": ["EUR", "EUR", "JPY", "EUR", "JPY", "EUR", "JPY", "EUR"],
        },
        schema_overrides={"quantity": pl.Int32, "purchased_at": UTC_DATETIME},
    )
    hours = [datetime(2024, 3, 1, 10) + timedelta(hours=h) for h in range(8)]
    return {
        "clients": pl.DataFrame(
            {
                "client_id": ["c1", "c2"],
                "home_boutique_id": ["b1", "b2"],
                "first_purchase_date": [date(2023, 1, 1), date(2023, 6, 1)],
            }
        ),
        "boutiques": pl.DataFrame(
            {
                "boutique_id": ["b1", "b2"],
                "city": ["Paris", "Tokyo"],
                "country": ["FR", "JP"],
                "currency": ["EUR", "JPY"],
                "timezone": ["Europe/Paris", "Asia/Tokyo"],
                "opened_on": [date(2010, 1, 1), date(2012, 1, 1)],
            }
        ),
        "products": pl.DataFrame(
            {"product_id": ["p1", "p2"], "division": ["leather goods", "watches"]}
        ),
        "transactions": transactions,
        "footfall": pl.DataFrame(
            {
                "boutique_id": ["b1"] * 8 + ["b2"] * 8,
                "hour_start": hours + hours,
                "visitors": [30, 42, 38, 51, 47, 40, 36, 29, 60, 72, 65, 80, 77, 70, 66, 58],
            }
        ),
        "fx_rates": pl.DataFrame(
            {
                "date": days,
                "currency": ["JPY"] * 10,
                "rate_to_reference": [0.0062] * 10,
            }
        ),
    }


def validate(frames: Frames, folder: Path, file_format: str = "parquet") -> ValidationReport:
    return validate_history(write_history(frames, folder, file_format), today=TODAY)


def rules(report: ValidationReport) -> list[tuple[str, str, str]]:
    """(severity, file, rule) of each violation, in report order."""
    return [(v.severity, v.file, v.rule) for v in report.violations]


@pytest.fixture
def maison() -> Frames:
    return small_maison()


def test_the_small_maison_has_neither_errors_nor_warnings(tmp_path: Path, maison: Frames) -> None:
    for file_format in ("parquet", "csv"):
        report = validate(maison, tmp_path / file_format, file_format)
        assert report.violations == (), report.to_dict()


# F12: files whose content is not what their name says.


def test_parquet_named_csv_is_one_readable_violation(tmp_path: Path, maison: Frames) -> None:
    folder = write_history(maison, tmp_path / "m")
    (folder / "clients.parquet").rename(folder / "clients.csv")
    report = validate_history(folder, today=TODAY)
    [violation] = report.violations
    assert (violation.file, violation.rule) == ("clients.csv", "readable")
    assert "Parquet file" in violation.message and "name it clients.parquet" in violation.message
    assert "PAR1" not in violation.message


def test_csv_named_parquet_says_it_is_text(tmp_path: Path, maison: Frames) -> None:
    folder = write_history(maison, tmp_path / "m")
    maison["products"].write_csv(folder / "products.parquet")
    [violation] = validate_history(folder, today=TODAY).violations
    assert (violation.file, violation.rule) == ("products.parquet", "readable")
    assert "name it products.csv" in violation.message
    assert "product_id,division" in violation.message


@pytest.mark.parametrize(
    ("head", "expected"), [(b"PK\x03\x04rest", "Excel"), (b"\x1f\x8b\x08rest", "gzip")]
)
def test_workbooks_and_archives_are_named(tmp_path: Path, head: bytes, expected: str) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(head + b"\0" * 20)
    assert expected in (file_format_problem(path) or "")


def test_a_well_named_file_has_no_format_problem(tmp_path: Path, maison: Frames) -> None:
    folder = write_history(maison, tmp_path / "m")
    maison["clients"].write_csv(folder / "clients.csv")
    assert file_format_problem(folder / "clients.parquet") is None
    assert file_format_problem(folder / "clients.csv") is None


def test_load_history_refuses_a_misnamed_file(tmp_path: Path, maison: Frames) -> None:
    folder = write_history(maison, tmp_path / "m")
    (folder / "clients.parquet").rename(folder / "clients.csv")
    with pytest.raises(HistoryError, match=r"clients\.csv: this is a Parquet file"):
        load_history(folder)


# F15: CSV separated by something else than commas.


@pytest.mark.parametrize(("separator", "shown"), [(";", "';'"), ("\t", "a tab")])
def test_other_separator_is_one_hint(
    tmp_path: Path, maison: Frames, separator: str, shown: str
) -> None:
    folder = write_history(maison, tmp_path / "m", "csv")
    maison["boutiques"].write_csv(folder / "boutiques.csv", separator=separator)
    report = validate_history(folder, today=TODAY)
    [violation] = report.violations
    assert (violation.file, violation.rule, violation.severity) == (
        "boutiques.csv",
        "csv_separator",
        "error",
    )
    assert f"one column containing {shown}" in violation.message
    assert "export it with ',' as the separator" in violation.message


def test_a_semicolon_inside_an_extra_column_name_is_fine(tmp_path: Path, maison: Frames) -> None:
    boutiques = maison["boutiques"].with_columns(pl.lit("x").alias("note;1"))
    assert validate({**maison, "boutiques": boutiques}, tmp_path / "m", "csv").ok


# F13 and F14: footfall hours with an offset or a time zone.


def footfall_text(maison: Frames, suffix: str) -> pl.DataFrame:
    """The footfall hours as ISO text ending with ``suffix`` (an offset, or nothing)."""
    text = pl.col("hour_start").dt.strftime("%Y-%m-%dT%H:%M:%S") + pl.lit(suffix)
    return maison["footfall"].with_columns(text.alias("hour_start"))


@pytest.mark.parametrize("suffix", ["+01:00", "Z", "-0500"])
@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_offsets_in_local_hours_are_one_clear_violation(
    tmp_path: Path, maison: Frames, suffix: str, file_format: str
) -> None:
    frames = {**maison, "footfall": footfall_text(maison, suffix)}
    report = validate(frames, tmp_path / "m", file_format)
    [violation] = report.violations
    assert (violation.column, violation.rule, violation.severity) == (
        "hour_start",
        "local_time",
        "error",
    )
    assert violation.count == 16
    assert violation.examples[0] == {
        "row": 1,
        "boutique_id": "b1",
        "hour_start": f"2024-03-01T10:00:00{suffix}",
    }
    assert "write the local time without an offset" in violation.message


def test_an_offset_is_reported_apart_from_unparseable_hours(tmp_path: Path, maison: Frames) -> None:
    footfall = footfall_text(maison, "")
    values = footfall["hour_start"].to_list()
    values[3] = values[3] + "+02:00"
    values[5] = "2024-03-01"  # a date alone (-01 at the end) is not an offset: it reads as 00:00
    values[6] = "01/03/2024 16:00"
    footfall = footfall.with_columns(pl.Series("hour_start", values))
    report = validate({**maison, "footfall": footfall}, tmp_path / "m", "csv")
    found = {v.rule: [example["row"] for example in v.examples] for v in report.violations}
    assert found == {"local_time": [4], "type": [7]}


def test_zoned_parquet_hours_are_refused_not_shifted(tmp_path: Path, maison: Frames) -> None:
    zoned = maison["footfall"].with_columns(pl.col("hour_start").dt.replace_time_zone("UTC"))
    folder = write_history({**maison, "footfall": zoned}, tmp_path / "m")
    [violation] = validate_history(folder, today=TODAY).violations
    assert (violation.column, violation.rule, violation.severity) == (
        "hour_start",
        "local_time",
        "error",
    )
    assert "stored with time zone UTC" in violation.message
    with pytest.raises(HistoryError, match="hour_start is stored with time zone UTC"):
        load_history(folder)


def test_casting_a_zoned_column_to_local_time_raises() -> None:
    with pytest.raises(ValueError, match="time zone Europe/Paris"):
        cast_expression("hour_start", pl.Datetime("us", "Europe/Paris"), LOCAL_DATETIME)


def test_naive_hours_of_another_time_unit_load_unchanged(tmp_path: Path, maison: Frames) -> None:
    footfall = maison["footfall"].with_columns(pl.col("hour_start").dt.cast_time_unit("ns"))
    folder = write_history({**maison, "footfall": footfall}, tmp_path / "m")
    assert validate_history(folder, today=TODAY).ok
    loaded = load_history(folder).footfall.collect()
    assert loaded["hour_start"].to_list() == maison["footfall"]["hour_start"].to_list()


# Empty tables and infinite numbers: errors.


def test_header_only_transactions_are_an_error(tmp_path: Path, maison: Frames) -> None:
    frames = {**maison, "transactions": maison["transactions"].head(0)}
    report = validate(frames, tmp_path / "m", "csv")
    assert rules(report) == [("error", "transactions.csv", "table_not_empty")]


def test_empty_fx_rates_are_fine_when_every_sale_is_in_the_reference_currency(
    tmp_path: Path, maison: Frames
) -> None:
    euros = maison["transactions"].filter(pl.col("currency") == "EUR")
    frames = {**maison, "transactions": euros, "fx_rates": maison["fx_rates"].head(0)}
    assert validate(frames, tmp_path / "m").violations == ()


def test_empty_footfall_is_fine_but_uncounted_footfall_is_a_warning(
    tmp_path: Path, maison: Frames
) -> None:
    # An online shop has no sensor; rows without a single count are a broken export.
    empty = validate({**maison, "footfall": maison["footfall"].head(0)}, tmp_path / "empty")
    assert empty.violations == ()
    uncounted = maison["footfall"].with_columns(pl.lit(None, pl.Int64).alias("visitors"))
    report = validate({**maison, "footfall": uncounted}, tmp_path / "uncounted")
    assert report.ok
    assert rules(report) == [("warning", "footfall.parquet", "no_footfall")]
    assert report.violations[0].count == 16


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_infinite_amounts_are_an_error_and_not_an_outlier(
    tmp_path: Path, maison: Frames, value: float
) -> None:
    amounts = maison["transactions"]["amount"].to_list()
    quantities = maison["transactions"]["quantity"].to_list()
    amounts[1], quantities[1] = value, 1 if value > 0 else -1
    transactions = maison["transactions"].with_columns(
        pl.Series("amount", amounts), pl.Series("quantity", quantities, dtype=pl.Int32)
    )
    report = validate({**maison, "transactions": transactions}, tmp_path / "m", "csv")
    assert rules(report) == [("error", "transactions.csv", "finite")]
    assert report.violations[0].examples[0]["row"] == 2


# Warnings (F16): reported, the history stays usable.


def with_footfall_value(maison: Frames, row: int, column: str, value: object) -> Frames:
    footfall = maison["footfall"]
    values = footfall[column].to_list()
    values[row] = value
    return {**maison, "footfall": footfall.with_columns(pl.Series(column, values))}


def test_an_hour_off_the_hour_is_a_warning(tmp_path: Path, maison: Frames) -> None:
    frames = with_footfall_value(maison, 2, "hour_start", datetime(2024, 3, 1, 12, 30))
    report = validate(frames, tmp_path / "m")
    assert report.ok
    assert rules(report) == [("warning", "footfall.parquet", "on_the_hour")]
    assert report.warnings[0].examples[0]["hour_start"] == "2024-03-01T12:30:00"


def test_a_skipped_local_hour_is_a_warning_naming_the_zone(tmp_path: Path, maison: Frames) -> None:
    # Paris skips 02:00-03:00 on 31 March 2024; Tokyo has no daylight saving.
    frames = with_footfall_value(maison, 0, "hour_start", datetime(2024, 3, 31, 2))
    frames = with_footfall_value(frames, 8, "hour_start", datetime(2024, 3, 31, 2))
    report = validate(frames, tmp_path / "m")
    assert rules(report) == [("warning", "footfall.parquet", "local_time_exists")]
    [violation] = report.violations
    assert violation.count == 1
    assert violation.examples[0]["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("visitors", "flagged"), [(2_000_000_000, True), (40 * VISITORS_OUTLIER_FACTOR // 2, False)]
)
def test_absurd_footfall_is_a_warning(
    tmp_path: Path, maison: Frames, visitors: int, flagged: bool
) -> None:
    report = validate(with_footfall_value(maison, 3, "visitors", visitors), tmp_path / "m")
    assert report.ok
    assert rules(report) == ([("warning", "footfall.parquet", "outlier")] if flagged else [])


@pytest.mark.parametrize(
    ("factor", "flagged"), [(AMOUNT_OUTLIER_FACTOR * 10, True), (AMOUNT_OUTLIER_FACTOR / 2, False)]
)
def test_absurd_amounts_are_a_warning_per_currency(
    tmp_path: Path, maison: Frames, factor: float, flagged: bool
) -> None:
    # EUR lines have a median of 2,100: the JPY lines, far larger, are not outliers.
    amounts = maison["transactions"]["amount"].to_list()
    amounts[0] = 2100.0 * factor
    transactions = maison["transactions"].with_columns(pl.Series("amount", amounts))
    report = validate({**maison, "transactions": transactions}, tmp_path / "m")
    assert report.ok
    expected = [("warning", "transactions.parquet", "outlier")] if flagged else []
    assert rules(report) == expected


def jpy_rates(*days: date) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": list(days), "currency": ["JPY"] * len(days), "rate_to_reference": 0.0062}
    )


def test_stale_fx_rates_are_a_warning(tmp_path: Path, maison: Frames) -> None:
    # The JPY sales are on 3, 5 and 7 March (local dates).
    fx = jpy_rates(date(2024, 2, 28), date(2024, 3, 7) - timedelta(days=FX_STALE_DAYS))
    fresh = validate({**maison, "fx_rates": fx}, tmp_path / "fresh")
    assert fresh.violations == ()
    fx = jpy_rates(date(2024, 2, 27), date(2024, 3, 7) - timedelta(days=FX_STALE_DAYS + 1))
    stale = validate({**maison, "fx_rates": fx}, tmp_path / "stale")
    assert stale.ok
    assert rules(stale) == [("warning", "transactions.parquet", "fx_stale")]
    [violation] = stale.violations
    assert violation.examples == (
        {
            "row": 7,
            "transaction_id": "t6",
            "currency": "JPY",
            "local_date": "2024-03-07",
            "last_rate_on": "2024-02-28",
        },
    )


def test_a_gap_in_the_middle_of_the_rates_is_stale_too(tmp_path: Path, maison: Frames) -> None:
    fx = jpy_rates(date(2024, 2, 26), date(2024, 5, 1))
    report = validate({**maison, "fx_rates": fx}, tmp_path / "m")
    [violation] = report.violations
    assert violation.rule == "fx_stale"
    assert [e["local_date"] for e in violation.examples] == ["2024-03-05", "2024-03-07"]


# The report and the command line.


def test_report_counts_errors_and_warnings(tmp_path: Path, maison: Frames) -> None:
    frames = with_footfall_value(maison, 2, "hour_start", datetime(2024, 3, 1, 12, 30))
    frames = {**frames, "transactions": frames["transactions"].head(0)}
    data = validate(frames, tmp_path / "m").to_dict()
    assert (data["ok"], data["errors"], data["warnings"]) == (False, 1, 1)
    assert [v["severity"] for v in data["violations"]] == ["error", "warning"]


runner = CliRunner()


def test_cli_exits_0_with_warnings_and_shows_them(tmp_path: Path, maison: Frames) -> None:
    frames = with_footfall_value(maison, 2, "hour_start", datetime(2024, 3, 1, 12, 30))
    folder = write_history(frames, tmp_path / "m")
    result = runner.invoke(app, ["validate", str(folder)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "! warning footfall.parquet" in result.output and "on_the_hour" in result.output
    assert "follows the data contract (1 warning above)" in result.output


def test_cli_exits_2_on_an_error_beside_a_warning(tmp_path: Path, maison: Frames) -> None:
    frames = with_footfall_value(maison, 2, "hour_start", datetime(2024, 3, 1, 12, 30))
    folder = write_history(frames, tmp_path / "m")
    (folder / "clients.parquet").rename(folder / "clients.csv")
    result = runner.invoke(app, ["validate", str(folder)], terminal_width=200)
    assert result.exit_code == 2
    assert "1 violation in 1 table (1 warning above)" in result.output
    assert "Traceback" not in result.output


# The daylight-saving gap test agrees with polars' own conversion.

ZONES = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
OFFSETS = utc_offset_changes(ZONES, date(2031, 1, 1))


@settings(max_examples=40, deadline=None)
@given(
    year=st.integers(min_value=1971, max_value=2030),
    month=st.sampled_from([3, 4, 9, 10, 11]),
    minute=st.sampled_from([0, 15, 30, 59]),
    zone=st.integers(min_value=0, max_value=len(ZONES) - 1),
)
def test_local_time_exists_matches_polars(year: int, month: int, minute: int, zone: int) -> None:
    # Every hour of a month when clocks change in one hemisphere or the other.
    start = datetime(year, month, 1, 0, minute)
    local = [start + timedelta(hours=h) for h in range(31 * 24)]
    frame = pl.DataFrame({"local": local}, schema={"local": pl.Datetime("us")})
    expected = frame.select(
        pl.col("local")
        .dt.replace_time_zone(ZONES[zone], non_existent="null", ambiguous="earliest")
        .is_not_null()
    )
    found = frame.select(local_time_exists(pl.col("local"), pl.lit(zone), OFFSETS))
    assert found.to_series().to_list() == expected.to_series().to_list()
