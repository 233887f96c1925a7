"""The CDNOW purchase log as a clientcast history folder, for the next-purchase benchmark.

``CDNOW_master.txt`` ships inside the ``lifetimes`` wheel (installed without its dependencies;
it is never imported here): 69,659 purchase lines of the 23,570 clients who first bought at the
online music retailer CDNOW in the first quarter of 1997, followed until 1998-06-30. Each line
is a customer id, a day (YYYYMMDD), a number of CDs and a dollar amount, separated by runs of
spaces. The history written here has one online boutique in New York's time zone, one product in
the division "music", one receipt per customer and day (a purchase occasion), sales at noon local
time, amounts in USD and an FX table of USD at rate 1: run the benchmark with reference currency
USD.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import polars as pl

from features.atomic_write import staged_directory
from features.contract import TABLES
from features.errors import UserInputError

BOUTIQUE_ID = "cdnow-online"
PRODUCT_ID = "cdnow-cd"
DIVISION = "music"
CURRENCY = "USD"
TIMEZONE = "America/New_York"
INSTALL_HINT = "install it with: pip install --no-deps lifetimes"

_LINE = (
    r"^\s*(?<customer_id>\d+)\s+(?<date>\d{8})\s+(?<cds>-?\d+)\s+(?<dollars>-?\d+(?:\.\d*)?)\s*$"
)


def lifetimes_dataset_path(filename: str) -> Path:
    """The path of a data file shipped in the installed ``lifetimes`` package's ``datasets``.

    The package is located without being imported (importing it needs its old dependencies).
    """
    spec = importlib.util.find_spec("lifetimes")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise UserInputError(f"the lifetimes package (CDNOW data) is not installed; {INSTALL_HINT}")
    for location in locations:
        candidate = Path(location) / "datasets" / filename
        if candidate.is_file():
            return candidate
    raise UserInputError(
        f"{filename} is missing from the lifetimes package at {locations[0]}; {INSTALL_HINT}"
    )


def cdnow_master_path() -> Path:
    """The path of ``CDNOW_master.txt`` in the installed ``lifetimes`` package."""
    return lifetimes_dataset_path("CDNOW_master.txt")


def read_cdnow(path: Path | str) -> pl.DataFrame:
    """Read a CDNOW master file: ``customer_id`` (string), ``date``, ``cds`` and ``dollars``.

    The first line is a header; every other non-blank line must hold the four fields, or a
    UserInputError names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: no such CDNOW file")
    lines = pl.read_csv(
        path,
        has_header=False,
        new_columns=["line"],
        separator="\x1f",
        quote_char=None,
        skip_rows=1,
        schema_overrides={"line": pl.String},
    ).with_row_index("line_number", offset=2)
    fields = (
        lines.filter(pl.col("line").str.strip_chars() != "")
        .with_columns(pl.col("line").str.extract_groups(_LINE).alias("fields"))
        .unnest("fields")
    )
    malformed = fields.filter(pl.col("customer_id").is_null())
    if malformed.height:
        first = malformed.row(0, named=True)
        raise UserInputError(
            f"{path}: line {first['line_number']} is not 'customer_id YYYYMMDD cds dollars': "
            f"{first['line'].strip()!r} ({malformed.height} malformed lines)"
        )
    frame = fields.select(
        "line_number",
        "customer_id",
        pl.col("date").str.to_date("%Y%m%d", strict=False),
        pl.col("cds").cast(pl.Int32),
        pl.col("dollars").cast(pl.Float64),
    )
    bad_dates = frame.filter(pl.col("date").is_null())
    if bad_dates.height:
        raise UserInputError(
            f"{path}: line {bad_dates['line_number'][0]} has an impossible date "
            f"({bad_dates.height} such lines)"
        )
    return frame.drop("line_number")


def cdnow_tables(purchases: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The contract tables of the CDNOW history, from the frame :func:`read_cdnow` returns."""
    first_day, last_day = purchases["date"].min(), purchases["date"].max()
    if not isinstance(first_day, date) or not isinstance(last_day, date):
        raise UserInputError("the CDNOW data holds no purchase")
    receipts = purchases.with_columns(
        (pl.col("customer_id") + "-" + pl.col("date").dt.strftime("%Y%m%d")).alias("receipt_id")
    )
    transactions = receipts.select(
        (
            pl.col("receipt_id")
            + "-"
            + (pl.int_range(pl.len()).over("receipt_id") + 1).cast(pl.String)
        ).alias("transaction_id"),
        "receipt_id",
        pl.col("customer_id").alias("client_id"),
        pl.lit(BOUTIQUE_ID).alias("boutique_id"),
        pl.lit(PRODUCT_ID).alias("product_id"),
        (pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=12))
        .dt.replace_time_zone(TIMEZONE)
        .dt.convert_time_zone("UTC")
        .alias("purchased_at"),
        pl.col("cds").alias("quantity"),
        pl.col("dollars").alias("amount"),
        pl.lit(CURRENCY).alias("currency"),
    )
    clients = (
        purchases.group_by("customer_id")
        .agg(pl.col("date").min().alias("first_purchase_date"))
        .sort("customer_id")
        .select(
            pl.col("customer_id").alias("client_id"),
            pl.lit(BOUTIQUE_ID).alias("home_boutique_id"),
            "first_purchase_date",
            pl.lit("US").alias("home_country"),
        )
    )
    boutiques = pl.DataFrame(
        {
            "boutique_id": [BOUTIQUE_ID],
            "city": ["online"],
            "country": ["US"],
            "currency": [CURRENCY],
            "timezone": [TIMEZONE],
            "opened_on": [first_day],
            "format": ["online"],
        }
    )
    products = pl.DataFrame(
        {"product_id": [PRODUCT_ID], "division": [DIVISION], "category": ["compact disc"]}
    )
    fx_rates = pl.DataFrame(
        {"date": pl.date_range(first_day, last_day, "1d", eager=True)}
    ).with_columns(pl.lit(CURRENCY).alias("currency"), pl.lit(1.0).alias("rate_to_reference"))
    footfall = pl.DataFrame(schema=TABLES["footfall"].schema())
    tables = {
        "clients": clients,
        "boutiques": boutiques,
        "products": products,
        "transactions": transactions,
        "footfall": footfall,
        "fx_rates": fx_rates,
    }
    return {name: _with_contract_types(name, frame) for name, frame in tables.items()}


def _with_contract_types(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Cast the contract columns of ``frame`` to the types of table ``name``."""
    schema = TABLES[name].schema()
    return frame.with_columns(
        pl.col(column).cast(dtype) for column, dtype in schema.items() if column in frame.columns
    )


def write_cdnow_history(out_dir: Path | str, path: Path | str | None = None) -> Path:
    """Write the CDNOW history folder (Parquet) to ``out_dir`` atomically and return it.

    ``path`` defaults to the master file of the installed ``lifetimes``. The tables are written
    to a temporary folder next to ``out_dir``, then renamed into place; an existing history
    folder there is replaced, any other non-empty folder is refused.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not _is_replaceable(out_dir):
        raise UserInputError(
            f"{out_dir}: exists and is not an empty folder or a history folder; "
            "choose another output folder"
        )
    tables = cdnow_tables(read_cdnow(cdnow_master_path() if path is None else path))
    with staged_directory(out_dir) as staging:
        for name, frame in tables.items():
            frame.write_parquet(staging / f"{name}.parquet")
    return out_dir


def _is_replaceable(folder: Path) -> bool:
    """An empty folder, or one holding a history (its clients table), may be overwritten."""
    if not folder.is_dir():
        return False
    return not any(folder.iterdir()) or any(
        (folder / f"clients{suffix}").is_file() for suffix in (".parquet", ".csv")
    )
