"""The CDNOW purchase log read from the lifetimes wheel and written as a clientcast history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from features.contract import PERSONAL_COLUMN_PATTERNS, TABLES
from features.errors import UserInputError
from features.history import load_history
from training.benchmarks import cdnow_data
from training.benchmarks.cdnow_data import cdnow_master_path, read_cdnow, write_cdnow_history

TINY_CDNOW = (
    " customer_id  date number_of_cds  dollar_value\r\n"
    " 00001 19970101  1   11.77\r\n"
    " 00002 19970112  1   12.00\r\n"
    " 00002 19970112  5   77.00\r\n"
    " 00002 19970705  2   25.50\r\n"
    " 00003 19970102  1    0.00\r\n"
)


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    """Five lines in the master file's layout (CRLF, runs of spaces), with a same-day pair."""
    path = tmp_path / "tiny_cdnow.txt"
    path.write_bytes(TINY_CDNOW.encode())
    return path


@pytest.fixture(scope="module")
def cdnow_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full CDNOW history folder, written once for the module."""
    return write_cdnow_history(tmp_path_factory.mktemp("cdnow") / "history")


def test_read_cdnow_parses_the_master_file() -> None:
    purchases = read_cdnow(cdnow_master_path())
    assert purchases.schema == pl.Schema(
        {"customer_id": pl.String, "date": pl.Date, "cds": pl.Int32, "dollars": pl.Float64}
    )
    assert purchases.height == 69_659
    assert purchases["customer_id"].n_unique() == 23_570
    assert purchases["date"].min() == date(1997, 1, 1)
    assert purchases["date"].max() == date(1998, 6, 30)
    assert purchases.row(0) == ("00001", date(1997, 1, 1), 1, 11.77)


def test_history_has_every_client_and_line(cdnow_history: Path) -> None:
    history = load_history(cdnow_history)
    clients = history.clients.collect()
    transactions = history.transactions.collect()
    assert clients.height == 23_570
    assert clients["client_id"].n_unique() == 23_570
    assert transactions.height == 69_659
    assert transactions["purchased_at"].min() == datetime(1997, 1, 1, 17, tzinfo=UTC)
    assert transactions["purchased_at"].max() == datetime(1998, 6, 30, 16, tzinfo=UTC)
    # Everyone first bought in the first quarter of 1997 (the cohort CDNOW followed).
    assert clients["first_purchase_date"].max() <= date(1997, 3, 31)
    # One receipt per customer and day: 67,591 purchase occasions.
    occasions = transactions.select("client_id", pl.col("purchased_at").dt.date()).unique()
    assert transactions["receipt_id"].n_unique() == occasions.height == 67_591


def test_history_loads_with_contract_types_and_passes_validation(cdnow_history: Path) -> None:
    history = load_history(cdnow_history)
    for name, table in TABLES.items():
        frame = history.table(name).collect()
        for column, dtype in table.schema().items():
            assert frame.schema[column] == dtype, (name, column)
    validation = pytest.importorskip("features.validation")
    report = validation.validate_history(cdnow_history, reference_currency="USD")
    assert report.violations == ()


def test_history_tables_describe_one_online_boutique(cdnow_history: Path) -> None:
    history = load_history(cdnow_history)
    boutique = history.boutiques.collect().row(0, named=True)
    assert boutique["boutique_id"] == "cdnow-online"
    assert (boutique["country"], boutique["currency"]) == ("US", "USD")
    assert (boutique["timezone"], boutique["format"]) == ("America/New_York", "online")
    assert history.products.collect().select("product_id", "division").rows() == [
        ("cdnow-cd", "music")
    ]
    assert history.footfall.collect().height == 0
    fx = history.fx_rates.collect()
    assert fx.height == (date(1998, 6, 30) - date(1997, 1, 1)).days + 1
    assert fx["currency"].unique().to_list() == ["USD"]
    assert fx["rate_to_reference"].unique().to_list() == [1.0]
    clients = history.clients.collect()
    assert not any(
        pattern in column for column in clients.columns for pattern in PERSONAL_COLUMN_PATTERNS
    )


def test_same_day_lines_form_one_receipt_at_local_noon(tiny_file: Path, tmp_path: Path) -> None:
    out = write_cdnow_history(tmp_path / "tiny", path=tiny_file)
    history = load_history(out)
    lines = history.transactions.sort("transaction_id").collect()
    assert lines["receipt_id"].to_list() == [
        "00001-19970101",
        "00002-19970112",
        "00002-19970112",
        "00002-19970705",
        "00003-19970102",
    ]
    assert lines["transaction_id"].n_unique() == 5
    receipts = lines.group_by("receipt_id").agg(pl.col("amount").sum(), pl.col("quantity").sum())
    assert dict(receipts.select("receipt_id", "amount").rows())["00002-19970112"] == 89.0
    assert dict(receipts.select("receipt_id", "quantity").rows())["00002-19970112"] == 6
    # Noon in New York: 17:00 UTC in winter (EST), 16:00 UTC in summer (EDT).
    at = dict(lines.select("receipt_id", "purchased_at").rows())
    assert at["00002-19970112"] == datetime(1997, 1, 12, 17, tzinfo=UTC)
    assert at["00002-19970705"] == datetime(1997, 7, 5, 16, tzinfo=UTC)
    # A free CD stays a zero-dollar sale, not a return.
    assert lines.filter(pl.col("client_id") == "00003")["amount"].to_list() == [0.0]
    first = dict(history.clients.collect().select("client_id", "first_purchase_date").rows())
    assert first == {
        "00001": date(1997, 1, 1),
        "00002": date(1997, 1, 12),
        "00003": date(1997, 1, 2),
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (" 00004 1997-01-03  1   10.00", "line 7 is not 'customer_id YYYYMMDD cds dollars'"),
        (" 00004 19970103  1", "line 7 is not"),
        (" 00004 19971345  1   10.00", "line 7 has an impossible date"),
    ],
)
def test_malformed_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(TINY_CDNOW + line + "\r\n")
    with pytest.raises(UserInputError, match=message):
        read_cdnow(path)


def test_missing_file_and_missing_package_are_user_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserInputError, match="no such CDNOW file"):
        read_cdnow(tmp_path / "absent.txt")
    monkeypatch.setattr(cdnow_data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserInputError, match=r"pip install --no-deps lifetimes"):
        cdnow_master_path()


def test_writing_replaces_a_history_but_refuses_other_folders(
    tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "history"
    write_cdnow_history(out, path=tiny_file)
    (out / "stale.txt").write_text("left from an earlier run")
    write_cdnow_history(out, path=tiny_file)
    assert not (out / "stale.txt").exists()
    assert load_history(out).clients.collect().height == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history", "tiny_cdnow.txt"]

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("not a history")
    with pytest.raises(UserInputError, match="not an empty folder or a history folder"):
        write_cdnow_history(other, path=tiny_file)
    assert (other / "keep.txt").exists()


def test_a_failed_read_leaves_no_folder_behind(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text(TINY_CDNOW + " oops\r\n")
    with pytest.raises(UserInputError):
        write_cdnow_history(tmp_path / "history", path=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]
