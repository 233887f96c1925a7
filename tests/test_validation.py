"""Behaviour of `features.validation`: every contract rule, reported together, in any format."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from clientcast.cli import app
from features.contract import LOCAL_DATETIME, PERSONAL_COLUMN_PATTERNS, TABLES, UTC_DATETIME
from features.errors import UserInputError
from features.validation import (
    EXAMPLE_ROWS,
    NON_PERSONAL_SUBJECTS,
    RULES,
    WARNING_RULES,
    ValidationReport,
    local_date,
    personal_column_pattern,
    utc_offset_changes,
    validate_history,
)

TODAY = date(2025, 6, 30)
DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"
Frames = dict[str, pl.DataFrame]  # a table may also be raw bytes, to write a corrupt file


def utc(*parts: int) -> datetime:
    """A naive datetime, read as UTC by the contract."""
    return datetime(*parts)


def valid_frames() -> Frames:
    """A tiny maison that follows the contract.

    Two open boutiques in two currencies and time zones and a closed outlet; a walk-in (null
    client) and a return; a Tokyo sale whose UTC date (2023-12-31) has no JPY rate but whose
    local date (2024-01-01) has; a EUR sale before the first EUR rate (the reference currency
    needs none); an extra column in every table.
    """
    clients = pl.DataFrame(
        {
            "client_id": ["c1", "c2", "c3"],
            "home_boutique_id": ["b1", "b2", "b1"],
            "first_purchase_date": [date(2023, 1, 10), date(2023, 12, 31), date(2024, 1, 15)],
            "home_country": ["FR", "JP", None],
            "contact_opt_in": [True, False, None],
            "segment_note": ["x", "y", "z"],
        }
    )
    boutiques = pl.DataFrame(
        {
            "boutique_id": ["b1", "b2", "b3"],
            "city": ["Paris", "Tokyo", "Milan"],
            "country": ["FR", "JP", "IT"],
            "currency": ["EUR", "JPY", "EUR"],
            "timezone": ["Europe/Paris", "Asia/Tokyo", "Europe/Rome"],
            "opened_on": [date(2010, 5, 1), date(2015, 9, 1), date(2020, 3, 1)],
            "closed_on": [None, None, date(2023, 12, 31)],
            "format": ["flagship", "boutique", "outlet"],
            "latitude": [48.8686, 35.6717, 45.4685],
            "floor_area_m2": [820, 640, 300],
        }
    )
    products = pl.DataFrame(
        {
            "product_id": ["1001", "1002", "1003"],
            "division": ["leather goods", "watches", "fragrance & beauty"],
            "product_name": ["Sac 1", "Montre 2", "Parfum 3"],
        }
    )
    transactions = pl.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(1, 11)],
            "receipt_id": ["r1", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"],
            "client_id": ["c1", "c1", "c2", None, "c1", "c3", "c2", "c3", None, "c1"],
            "boutique_id": ["b1", "b1", "b2", "b1", "b1", "b1", "b2", "b1", "b2", "b1"],
            "product_id": [f"100{n}" for n in (1, 3, 2, 3, 1, 2, 3, 1, 3, 2)],
            "purchased_at": [
                utc(2023, 1, 10, 10, 0),
                utc(2023, 1, 10, 10, 0),
                utc(2023, 12, 31, 16, 30),
                utc(2024, 2, 1, 15, 0),
                utc(2024, 2, 3, 11, 0),
                utc(2024, 1, 15, 9, 0),
                utc(2024, 3, 1, 5, 0),
                utc(2024, 3, 2, 14, 0),
                utc(2024, 3, 3, 3, 0),
                utc(2024, 3, 4, 16, 0),
            ],
            "quantity": [1, 2, 1, 1, -1, 1, 1, 1, 3, 1],
            "amount": [
                2500.0,
                240.0,
                1_450_000.0,
                95.0,
                -2500.0,
                8900.0,
                21000.0,
                2600.0,
                36000.0,
                9100.0,
            ],
            "currency": ["EUR", "EUR", "JPY", "EUR", "EUR", "EUR", "JPY", "EUR", "JPY", "EUR"],
            "channel": ["store"] * 10,
        },
        schema_overrides={"quantity": pl.Int32, "purchased_at": UTC_DATETIME},
    )
    footfall = pl.DataFrame(
        {
            "boutique_id": ["b1", "b1", "b1", "b2", "b2"],
            "hour_start": [
                datetime(2024, 3, 1, 10),
                datetime(2024, 3, 1, 11),
                datetime(2024, 3, 1, 12),
                datetime(2024, 3, 1, 11),
                datetime(2024, 3, 1, 12),
            ],
            "visitors": [31, None, 44, 0, 57],
            "sensor": ["door"] * 5,
        }
    )
    fx_rates = pl.DataFrame(
        {
            "date": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)],
            "currency": ["EUR", "JPY", "JPY", "JPY"],
            "rate_to_reference": [1.0, 0.0064, 0.0063, 0.0062],
            "source": ["ecb"] * 4,
        }
    )
    events = pl.DataFrame(
        {
            "date": [date(2024, 3, 5), date(2024, 7, 1)],
            "kind": ["collection_launch", "private_sale"],
            "boutique_id": ["b1", None],
            "country": [None, "JP"],
            "label": ["Spring", None],
        }
    )
    return {
        "clients": clients,
        "boutiques": boutiques,
        "products": products,
        "transactions": transactions,
        "footfall": footfall,
        "fx_rates": fx_rates,
        "events": events,
    }


def write_history(frames: Frames, folder: Path, file_format: str = "parquet") -> Path:
    """Write ``frames`` as one file per table into ``folder``; bytes are written as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if isinstance(frame, bytes):
            (folder / f"{name}.{file_format}").write_bytes(frame)
        elif file_format == "csv":
            frame.write_csv(folder / f"{name}.csv")
        else:
            frame.write_parquet(folder / f"{name}.parquet")
    return folder


def set_value(frames: Frames, table: str, row: int, column: str, value: object) -> Frames:
    """A copy of ``frames`` where one cell (0-based ``row``) of ``table`` holds ``value``."""
    frame = frames[table]
    values = frame[column].to_list()
    values[row] = value
    column_values = pl.Series(column, values, dtype=frame.schema[column])
    return {**frames, table: frame.with_columns(column_values)}


def with_frame(frames: Frames, table: str, frame: pl.DataFrame) -> Frames:
    """A copy of ``frames`` with ``table`` replaced."""
    return {**frames, table: frame}


def without(frames: Frames, table: str) -> Frames:
    """A copy of ``frames`` without ``table``."""
    return {name: frame for name, frame in frames.items() if name != table}


def check(frames: Frames, folder: Path, file_format: str = "parquet") -> ValidationReport:
    """Write ``frames`` and validate them as of TODAY."""
    return validate_history(write_history(frames, folder, file_format), today=TODAY)


def comparable(report: ValidationReport) -> list[tuple[object, ...]]:
    """The violations without the file suffix, to compare a CSV and a Parquet report."""
    return [
        (
            violation.table,
            re.sub(r"\.(csv|parquet)", "", violation.file),
            violation.column,
            violation.rule,
            violation.message,
            violation.count,
            violation.examples,
        )
        for violation in report.violations
    ]


@pytest.fixture
def frames() -> Frames:
    """The valid tiny maison as DataFrames, ready to be broken."""
    return valid_frames()


@pytest.fixture
def history(tmp_path: Path, frames: Frames) -> Path:
    """The valid tiny maison written as Parquet."""
    return write_history(frames, tmp_path / "maison")


def test_valid_history_passes(history: Path) -> None:
    report = validate_history(history, today=TODAY)
    assert report.ok, report.to_dict()["violations"]
    rows = {checked.table: checked.rows for checked in report.tables}
    assert rows == {
        "clients": 3,
        "boutiques": 3,
        "products": 3,
        "transactions": 10,
        "footfall": 5,
        "fx_rates": 4,
        "events": 2,
    }


def test_events_table_is_optional(tmp_path: Path, frames: Frames) -> None:
    report = check(without(frames, "events"), tmp_path)
    assert report.ok
    assert "events" not in {checked.table for checked in report.tables}


def test_extra_columns_pass(tmp_path: Path, frames: Frames) -> None:
    extra = {
        name: frame.with_columns(pl.lit("kept").alias("zz_extra")) for name, frame in frames.items()
    }
    assert check(extra, tmp_path).ok


def test_reference_currency_needs_no_rate(tmp_path: Path, frames: Frames) -> None:
    fx_without_eur = frames["fx_rates"].filter(pl.col("currency") != "EUR")
    assert check(with_frame(frames, "fx_rates", fx_without_eur), tmp_path).ok


def test_fx_coverage_uses_the_local_date(tmp_path: Path, frames: Frames) -> None:
    # 14:30 UTC on 31 December is 23:30 in Tokyo, still 2023: no JPY rate yet.
    broken = set_value(frames, "transactions", 2, "purchased_at", utc(2023, 12, 31, 14, 30))
    report = check(broken, tmp_path)
    [violation] = report.violations
    assert (violation.rule, violation.column, violation.count) == ("fx_coverage", "currency", 1)
    assert violation.examples[0]["local_date"] == "2023-12-31"
    assert violation.examples[0]["transaction_id"] == "t3"


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no such data folder"):
        validate_history(tmp_path / "absent")


def amount_as_text(frames: Frames) -> Frames:
    amounts = frames["transactions"]["amount"].cast(pl.String).to_list()
    amounts[3] = "abc"
    broken = frames["transactions"].with_columns(pl.Series("amount", amounts))
    return with_frame(frames, "transactions", broken)


def first_purchase_as_text(frames: Frames) -> Frames:
    dates = frames["clients"]["first_purchase_date"].cast(pl.String).to_list()
    dates[1] = "2024-13-45"
    broken = frames["clients"].with_columns(pl.Series("first_purchase_date", dates))
    return with_frame(frames, "clients", broken)


def product_ids_as_numbers(frames: Frames) -> Frames:
    return with_frame(
        frames, "products", frames["products"].with_columns(pl.col("product_id").cast(pl.Int64))
    )


def duplicate_transaction_id(frames: Frames) -> Frames:
    return set_value(frames, "transactions", 5, "transaction_id", "t2")


def corrupt_products(frames: Frames) -> Frames:
    return {**frames, "products": b"PAR1 not really parquet"}


def drop_jpy_rates(frames: Frames) -> Frames:
    return with_frame(frames, "fx_rates", frames["fx_rates"].filter(pl.col("currency") != "JPY"))


def early_eur_rate(frames: Frames) -> Frames:
    early = pl.DataFrame(
        {"date": [date(1969, 12, 31)], "currency": ["EUR"], "rate_to_reference": [1.0]}
    )
    fx = pl.concat([frames["fx_rates"], early], how="diagonal")
    return with_frame(frames, "fx_rates", fx)


def sale_after_closing(frames: Frames) -> Frames:
    """A sale in the Milan outlet, closed since the end of 2023."""
    return set_value(frames, "transactions", 3, "boutique_id", "b3")


def sale_on_the_closing_day(frames: Frames) -> Frames:
    """Paris closes on 4 March 2024 (its first closed day), the day of its last sale."""
    return set_value(frames, "boutiques", 0, "closed_on", date(2024, 3, 4))


def header_only_transactions(frames: Frames) -> Frames:
    return with_frame(frames, "transactions", frames["transactions"].head(0))


def zoned_footfall_hours(frames: Frames) -> Frames:
    """Footfall hours stored as UTC-aware date-times instead of local wall-clock time."""
    zoned = frames["footfall"].with_columns(pl.col("hour_start").dt.replace_time_zone("UTC"))
    return with_frame(frames, "footfall", zoned)


def busy_b1_hours(frames: Frames, peak: int) -> Frames:
    """Ten ordinary hours of b1 on 2 March 2024 (about 40 visitors), the last one at ``peak``."""
    counts = [38, 41, 35, 44, 40, 39, 42, 37, 43, peak]
    hours = pl.DataFrame(
        {
            "boutique_id": ["b1"] * 10,
            "hour_start": [datetime(2024, 3, 2, 10 + i) for i in range(10)],
            "visitors": counts,
            "sensor": ["door"] * 10,
        }
    )
    return with_frame(frames, "footfall", pl.concat([frames["footfall"], hours]))


def drop_last_jpy_rate(frames: Frames) -> Frames:
    """JPY sales of 1 and 3 March 2024 then only have the rate of 1 February."""
    fx = frames["fx_rates"].filter(pl.col("date") != date(2024, 3, 1))
    return with_frame(frames, "fx_rates", fx)


def uncounted_footfall(frames: Frames) -> Frames:
    footfall = frames["footfall"].with_columns(pl.lit(None, pl.Int64).alias("visitors"))
    return with_frame(frames, "footfall", footfall)


# (rule, table, column, breaker, row rule shows rows)
BREAKS: list[tuple[str, str, str | None, Callable[[Frames], Frames], bool]] = [
    ("table_present", "products", None, lambda f: without(f, "products"), False),
    ("readable", "products", None, corrupt_products, False),
    (
        "required_column",
        "products",
        "division",
        lambda f: with_frame(f, "products", f["products"].drop("division")),
        False,
    ),
    (
        "personal_data",
        "clients",
        "lastName",
        lambda f: with_frame(f, "clients", f["clients"].with_columns(lastName=pl.lit("X"))),
        False,
    ),
    ("id_type", "products", "product_id", product_ids_as_numbers, False),
    ("type", "transactions", "amount", amount_as_text, True),
    ("type", "clients", "first_purchase_date", first_purchase_as_text, True),
    (
        "not_null",
        "products",
        "division",
        lambda f: set_value(f, "products", 1, "division", None),
        True,
    ),
    ("unique_key", "transactions", "transaction_id", duplicate_transaction_id, True),
    (
        "foreign_key",
        "transactions",
        "product_id",
        lambda f: set_value(f, "transactions", 4, "product_id", "9999"),
        True,
    ),
    (
        "foreign_key",
        "clients",
        "home_boutique_id",
        lambda f: set_value(f, "clients", 0, "home_boutique_id", "b9"),
        True,
    ),
    (
        "foreign_key",
        "events",
        "boutique_id",
        lambda f: set_value(f, "events", 0, "boutique_id", "b9"),
        True,
    ),
    ("fx_coverage", "transactions", "currency", drop_jpy_rates, True),
    (
        "fx_rate_positive",
        "fx_rates",
        "rate_to_reference",
        lambda f: set_value(f, "fx_rates", 3, "rate_to_reference", 0.0),
        True,
    ),
    (
        "fx_reference_rate",
        "fx_rates",
        "rate_to_reference",
        lambda f: set_value(f, "fx_rates", 0, "rate_to_reference", 1.1),
        True,
    ),
    (
        "timezone",
        "boutiques",
        "timezone",
        lambda f: set_value(f, "boutiques", 0, "timezone", "Paris"),
        True,
    ),
    (
        "currency_code",
        "boutiques",
        "currency",
        lambda f: set_value(f, "boutiques", 0, "currency", "eur"),
        True,
    ),
    (
        "country_code",
        "clients",
        "home_country",
        lambda f: set_value(f, "clients", 0, "home_country", "France"),
        True,
    ),
    (
        "visitors_non_negative",
        "footfall",
        "visitors",
        lambda f: set_value(f, "footfall", 2, "visitors", -3),
        True,
    ),
    (
        "boutique_format",
        "boutiques",
        "format",
        lambda f: set_value(f, "boutiques", 1, "format", "popup"),
        True,
    ),
    ("event_kind", "events", "kind", lambda f: set_value(f, "events", 0, "kind", "sale"), True),
    (
        "event_target",
        "events",
        "boutique_id, country",
        lambda f: set_value(f, "events", 1, "country", None),
        True,
    ),
    (
        "date_range",
        "clients",
        "first_purchase_date",
        lambda f: set_value(f, "clients", 2, "first_purchase_date", date(2030, 1, 1)),
        True,
    ),
    ("date_range", "fx_rates", "date", early_eur_rate, True),
    (
        "closed_after_opened",
        "boutiques",
        "closed_on",
        lambda f: set_value(f, "boutiques", 2, "closed_on", date(2019, 1, 1)),
        True,
    ),
    (
        "boutique_open",
        "transactions",
        "purchased_at",
        lambda f: set_value(f, "transactions", 3, "purchased_at", utc(2009, 6, 1, 12)),
        True,
    ),
    ("boutique_open", "transactions", "purchased_at", sale_after_closing, True),
    ("boutique_open", "transactions", "purchased_at", sale_on_the_closing_day, True),
    (
        "boutique_open",
        "footfall",
        "hour_start",
        lambda f: set_value(f, "footfall", 3, "boutique_id", "b3"),
        True,
    ),
    (
        "boutique_open",
        "footfall",
        "hour_start",
        lambda f: set_value(f, "footfall", 0, "hour_start", datetime(2010, 4, 30, 10)),
        True,
    ),
    (
        "sign_consistency",
        "transactions",
        "quantity, amount",
        lambda f: set_value(f, "transactions", 0, "amount", -2500.0),
        True,
    ),
    (
        "quantity_non_zero",
        "transactions",
        "quantity",
        lambda f: set_value(f, "transactions", 0, "quantity", 0),
        True,
    ),
    ("table_not_empty", "transactions", None, header_only_transactions, False),
    ("local_time", "footfall", "hour_start", zoned_footfall_hours, False),
    (
        "finite",
        "transactions",
        "amount",
        lambda f: set_value(f, "transactions", 1, "amount", float("inf")),
        True,
    ),
    # Warnings: the history stays usable.
    (
        "on_the_hour",
        "footfall",
        "hour_start",
        lambda f: set_value(f, "footfall", 1, "hour_start", datetime(2024, 3, 1, 11, 30)),
        True,
    ),
    (
        "local_time_exists",
        "footfall",
        "hour_start",
        # Paris skips 02:00-03:00 on 31 March 2024.
        lambda f: set_value(f, "footfall", 0, "hour_start", datetime(2024, 3, 31, 2)),
        True,
    ),
    ("outlier", "footfall", "visitors", lambda f: busy_b1_hours(f, 2_000_000_000), True),
    (
        "outlier",
        "transactions",
        "amount",
        lambda f: set_value(f, "transactions", 1, "amount", 1e9),
        True,
    ),
    ("fx_stale", "transactions", "currency", drop_last_jpy_rate, True),
    ("no_footfall", "footfall", "visitors", uncounted_footfall, True),
]


@pytest.mark.parametrize(
    ("rule", "table", "column", "breaker", "shows_rows"),
    BREAKS,
    ids=[f"{rule}-{table}-{column}" for rule, table, column, *_ in BREAKS],
)
def test_each_rule_is_reported(
    tmp_path: Path,
    frames: Frames,
    rule: str,
    table: str,
    column: str | None,
    breaker: Callable[[Frames], Frames],
    shows_rows: bool,
) -> None:
    report = check(breaker(frames), tmp_path)
    if rule in WARNING_RULES:
        assert report.ok and not report.errors, report.to_dict()
        assert {violation.rule for violation in report.warnings} == {rule}, report.to_dict()
    else:
        assert not report.ok
        assert {violation.rule for violation in report.errors} == {rule}, report.to_dict()
    violation = next(
        v for v in report.violations if v.table == table and v.column == column and v.rule == rule
    )
    assert violation.file.startswith(table)
    assert rule in RULES
    assert violation.message
    if shows_rows:
        assert 1 <= len(violation.examples) <= EXAMPLE_ROWS
        assert violation.count >= len(violation.examples)
        assert all(isinstance(example["row"], int) for example in violation.examples)
        if column is not None and "," not in column:
            assert column in violation.examples[0]
    rendered = render_text(report)
    assert violation.file in rendered and rule in rendered


def test_offending_rows_are_numbered_in_file_order(tmp_path: Path, frames: Frames) -> None:
    broken = set_value(
        set_value(frames, "products", 0, "division", None), "products", 2, "division", None
    )
    [violation] = check(broken, tmp_path).violations
    assert [example["row"] for example in violation.examples] == [1, 3]
    assert [example["product_id"] for example in violation.examples] == ["1001", "1003"]
    assert violation.count == 2


def test_type_violation_shows_the_unparseable_value(tmp_path: Path, frames: Frames) -> None:
    [violation] = check(amount_as_text(frames), tmp_path).violations
    assert violation.examples == ({"row": 4, "transaction_id": "t4", "amount": "abc"},)
    assert "number" in violation.message


def test_personal_data_message_explains_and_hides_values(tmp_path: Path, frames: Frames) -> None:
    clients = frames["clients"].with_columns(client_email=pl.lit("jane@example.com"))
    [violation] = check(with_frame(frames, "clients", clients), tmp_path).violations
    assert "personal" in violation.message and "pseudonymous" in violation.message
    assert "Drop the column" in violation.message
    assert "jane@example.com" not in str(violation.to_dict())


def test_names_of_things_are_not_personal_data(tmp_path: Path, frames: Frames) -> None:
    transactions = frames["transactions"].with_columns(product_name=pl.lit("Sac"))
    boutiques = frames["boutiques"].with_columns(name=pl.lit("Paris Vendôme"))
    assert check({**frames, "transactions": transactions, "boutiques": boutiques}, tmp_path).ok


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        ("email", "email"),
        ("client_email", "email"),
        ("eMail", "email"),
        ("phone_number", "phone"),
        ("lastName", "last_name"),
        ("FirstName", "first_name"),
        ("full-name", "full_name"),
        ("emailaddress", "email"),
        ("homePhone", "phone"),
        ("client_surname", "surname"),
        ("name", "name"),
    ],
)
def test_personal_column_names_are_recognised(column: str, pattern: str) -> None:
    assert personal_column_pattern(column) == pattern


@pytest.mark.parametrize(
    "column",
    [
        "client_id",
        "home_boutique_id",
        "product_name",
        "boutique_phone",
        "tier",
        "language",
        "contact_opt_in",
        "receipt_id",
        "channel",
        "birth_year",
    ],
)
def test_ordinary_column_names_are_not_personal(column: str) -> None:
    assert personal_column_pattern(column) is None


words = st.sampled_from(["client", "home", "work", "primary", "main", "contact", "alt"])


@given(
    pattern=st.sampled_from(PERSONAL_COLUMN_PATTERNS),
    before=st.lists(words, max_size=2),
    after=st.lists(st.sampled_from(["value", "raw", "1", "text"]), max_size=2),
    camel=st.booleans(),
)
def test_any_spelling_of_a_personal_pattern_is_refused(
    pattern: str, before: list[str], after: list[str], camel: bool
) -> None:
    tokens = [*before, *pattern.split("_"), *after]
    if camel:
        column = tokens[0] + "".join(token.capitalize() for token in tokens[1:])
    else:
        column = "_".join(tokens)
    assert personal_column_pattern(column) is not None
    assert personal_column_pattern(f"{sorted(NON_PERSONAL_SUBJECTS)[0]}_{column}") is None


# Zones with DST in either hemisphere, 30- and 45-minute offsets, abolished DST, a skipped day.
ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Asia/Tokyo",
)
OFFSET_CHANGES = utc_offset_changes(ZONES, date(2031, 1, 1))


@settings(max_examples=60, deadline=None)
@given(
    instants=st.lists(
        st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2030, 12, 31)),
        min_size=1,
        max_size=40,
    ),
    zone=st.integers(min_value=0, max_value=len(ZONES) - 1),
)
def test_local_date_matches_time_zone_conversion(instants: list[datetime], zone: int) -> None:
    frame = pl.DataFrame({"at": instants}, schema={"at": UTC_DATETIME})
    expected = frame.select(pl.col("at").dt.convert_time_zone(ZONES[zone]).dt.date())
    found = frame.select(local_date(pl.col("at"), pl.lit(zone), OFFSET_CHANGES))
    assert found.to_series().to_list() == expected.to_series().to_list()


def test_local_date_falls_back_to_utc_without_a_zone() -> None:
    frame = pl.DataFrame({"at": [datetime(2024, 1, 1, 23)]}, schema={"at": UTC_DATETIME})
    found = frame.select(local_date(pl.col("at"), pl.lit(None, pl.Int64), OFFSET_CHANGES))
    assert found.item() == date(2024, 1, 1)


def test_all_violations_are_reported_together(tmp_path: Path, frames: Frames) -> None:
    broken = set_value(frames, "transactions", 0, "quantity", 0)
    broken = set_value(broken, "footfall", 1, "visitors", -1)
    broken = with_frame(broken, "products", broken["products"].drop("division"))
    report = check(broken, tmp_path)
    assert sorted(violation.rule for violation in report.violations) == [
        "quantity_non_zero",
        "required_column",
        "visitors_non_negative",
    ]
    rendered = render_text(report)
    assert "3 violations in 3 tables" in rendered


def test_csv_and_parquet_give_identical_reports(tmp_path: Path, frames: Frames) -> None:
    broken = amount_as_text(frames)
    broken = set_value(broken, "transactions", 0, "quantity", 0)
    broken = set_value(broken, "transactions", 5, "transaction_id", "t2")
    broken = set_value(broken, "clients", 0, "home_country", "France")
    broken = set_value(broken, "footfall", 0, "hour_start", datetime(2010, 4, 30, 10))
    broken = set_value(broken, "products", 1, "division", None)
    broken = first_purchase_as_text(drop_jpy_rates(broken))
    parquet = check(broken, tmp_path / "parquet")
    csv = check(broken, tmp_path / "csv", "csv")
    assert len(parquet.violations) == 8
    assert comparable(csv) == comparable(parquet)
    assert [t.rows for t in csv.tables] == [t.rows for t in parquet.tables]
    assert check(frames, tmp_path / "good-csv", "csv").ok


def test_unreadable_csv_is_a_violation(tmp_path: Path, frames: Frames) -> None:
    folder = write_history(frames, tmp_path / "maison")
    (folder / "events.parquet").unlink()
    (folder / "events.csv").write_text("date,kind\n2024-01-01,closure,extra,fields\n")
    [violation] = validate_history(folder, today=TODAY).violations
    assert (violation.rule, violation.file) == ("readable", "events.csv")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flipped=st.sets(st.integers(min_value=0, max_value=9), min_size=1))
def test_count_and_examples_match_the_broken_rows(
    tmp_path_factory: pytest.TempPathFactory, flipped: set[int]
) -> None:
    frames = valid_frames()
    amounts = frames["transactions"]["amount"]
    negated = [-a if i in flipped else a for i, a in enumerate(amounts.to_list())]
    broken = with_frame(
        frames, "transactions", frames["transactions"].with_columns(amount=pl.Series(negated))
    )
    [violation] = check(broken, tmp_path_factory.mktemp("maison")).violations
    assert violation.rule == "sign_consistency"
    assert violation.count == len(flipped)
    assert [example["row"] for example in violation.examples] == sorted(i + 1 for i in flipped)[
        :EXAMPLE_ROWS
    ]


def test_report_to_dict_is_plain_data(tmp_path: Path, frames: Frames) -> None:
    import json

    report = check(set_value(frames, "footfall", 2, "visitors", -3), tmp_path)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    [violation] = data["violations"]
    assert violation["examples"] == [
        {"row": 3, "boutique_id": "b1", "hour_start": "2024-03-01T12:00:00", "visitors": -3}
    ]


def render_text(report: ValidationReport) -> str:
    """The report as the terminal would show it, without colours, on a wide console."""
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    with console.capture() as captured:
        console.print(report.render())
    return captured.get()


runner = CliRunner()


def test_cli_accepts_a_valid_history(history: Path) -> None:
    result = runner.invoke(app, ["validate", str(history)])
    assert result.exit_code == 0, result.output
    assert "follows the data contract" in result.output


def test_cli_rejects_a_broken_history_without_traceback(tmp_path: Path, frames: Frames) -> None:
    broken = amount_as_text(set_value(frames, "footfall", 2, "visitors", -3))
    folder = write_history(broken, tmp_path / "maison")
    (folder / "products.parquet").write_bytes(b"garbage")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 2
    for expected in ("transactions.parquet", "amount", "type", "visitors_non_negative", "readable"):
        assert expected in result.output
    assert "Traceback" not in result.output


def test_cli_missing_folder_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no such data folder" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def doc_sections() -> dict[str, str]:
    """The sections of docs/data-contract.md by their `### ` heading."""
    sections = re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {section.split("\n", 1)[0].strip(" `"): section for section in sections[1:]}


def doc_type(dtype: pl.DataType) -> str:
    """How docs/data-contract.md names a contract type."""
    if dtype == UTC_DATETIME:
        return "date-time, UTC"
    if dtype == LOCAL_DATETIME:
        return "date-time, local"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "number"
    return {pl.String: "string", pl.Date: "date", pl.Boolean: "boolean"}[dtype]


def test_doc_column_tables_follow_the_contract() -> None:
    sections = doc_sections()
    for table in TABLES.values():
        assert table.name in sections, f"docs/data-contract.md has no '### {table.name}' section"
        rows = re.findall(
            r"^\| `(\w+)` \| ([^|]+) \| (\w+) \| (\w+) \|", sections[table.name], re.M
        )
        documented = {name: (kind, status, nulls) for name, kind, status, nulls in rows}
        expected = {
            column.name: (
                doc_type(column.dtype),
                "required" if column in table.required else "optional",
                "allowed" if column.nullable else "no",
            )
            for column in table.columns
        }
        assert documented == expected, table.name


def test_doc_explains_every_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    for rule in RULES:
        assert f"`{rule}`" in text, rule
