"""Personal data is refused by every command that loads a history, not only by `validate`."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from clientcast.cli import app
from features.contract import TABLES
from features.errors import UserInputError
from features.history import PersonalDataError, load_history
from features.validation import personal_column_pattern
from features.validation.sources import file_violations, open_table


def write_history(folder: Path, extra: dict[str, dict[str, pl.Series]] | None = None) -> Path:
    """A folder holding every required table, empty but typed, plus ``extra`` columns."""
    folder.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    for name, table in TABLES.items():
        if table.is_optional_table:
            continue
        frame = pl.DataFrame(schema=table.schema())
        for column, values in extra.get(name, {}).items():
            frame = frame.with_columns(values.alias(column))
        frame.write_parquet(folder / f"{name}.parquet")
    return folder


def personal(column: str) -> dict[str, dict[str, pl.Series]]:
    return {"clients": {column: pl.Series([], dtype=pl.String)}}


@pytest.mark.parametrize("column", ["email", "client_phone", "lastName", "name_hash"])
def test_load_history_refuses_a_personal_column_naming_file_and_column(
    tmp_path: Path, column: str
) -> None:
    folder = write_history(tmp_path / "maison", personal(column))
    with pytest.raises(PersonalDataError) as raised:
        load_history(folder)
    assert isinstance(raised.value, UserInputError)
    assert "clients.parquet" in str(raised.value) and repr(column) in str(raised.value)


def test_transactions_are_checked_too_and_every_column_is_named(tmp_path: Path) -> None:
    extra = {"transactions": {name: pl.Series([], dtype=pl.String) for name in ("email", "tel")}}
    folder = write_history(tmp_path / "maison", extra)
    with pytest.raises(PersonalDataError, match=r"transactions\.parquet") as raised:
        load_history(folder)
    assert "'email'" in str(raised.value)


def test_other_tables_and_ordinary_extra_columns_load(tmp_path: Path) -> None:
    extra = {
        "boutiques": {"name": pl.Series([], dtype=pl.String)},
        "clients": {"segment": pl.Series([], dtype=pl.String)},
        "transactions": {"product_name": pl.Series([], dtype=pl.String)},
    }
    history = load_history(write_history(tmp_path / "maison", extra))
    assert "segment" in history.clients.collect_schema().names()


@pytest.mark.parametrize(
    "arguments",
    [["features"], ["train", "next-purchase"], ["forecast", "footfall"], ["backtest", "footfall"]],
)
def test_commands_that_load_the_history_exit_2_on_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLIENTCAST_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = write_history(tmp_path / "maison", personal("client_email"))
    result = CliRunner().invoke(app, [*arguments, "--data", str(folder)], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "client_email" in result.output and "personal data" in result.output
    assert "Traceback" not in result.output


def test_validation_and_loading_refuse_the_same_columns(tmp_path: Path) -> None:
    folder = write_history(tmp_path / "maison", personal("homePhone"))
    source, _ = open_table(folder, TABLES["clients"])
    assert source is not None
    refused = [v.column for v in file_violations(source, 0) if v.rule == "personal_data"]
    assert refused == ["homePhone"]
    with pytest.raises(PersonalDataError, match="homePhone"):
        load_history(folder)


@pytest.mark.parametrize(
    "column", ["name_hash", "email_sha256", "hashed_phone", "client_surname_md5"]
)
def test_hashes_of_personal_data_are_refused(column: str) -> None:
    # Decided: an unsalted hash of a name, e-mail or phone is found again by hashing candidates.
    assert personal_column_pattern(column) is not None


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        ("tel", "tel"),
        ("client_tel", "tel"),
        ("work_mail", "mail"),
        ("cell", "cell"),
        ("gsm2", "gsm"),
        ("WhatsApp", "whatsapp"),
        ("whatsappNumber", "whatsapp"),
    ],
)
def test_short_patterns_match_whole_tokens(column: str, pattern: str) -> None:
    assert personal_column_pattern(column) == pattern


@pytest.mark.parametrize("column", ["hotel_id", "mailing_segment", "cellar_visits", "telemetry"])
def test_short_patterns_do_not_match_inside_words(column: str) -> None:
    assert personal_column_pattern(column) is None


@pytest.mark.parametrize("column", ["tel", "work_mail", "cell", "gsm", "whatsapp"])
def test_messaging_handles_are_in_the_contract_patterns(column: str) -> None:
    assert personal_column_pattern(column) is not None
