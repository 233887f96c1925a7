"""The data contract of the unified purchase history: tables, columns, types and keys.

This module is the single source of truth for what a history folder must hold. Loading
(:mod:`features.history`), validation (:mod:`features.validation`), the synthetic maison and
``docs/data-contract.md`` all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

UTC_DATETIME = pl.Datetime("us", "UTC")
LOCAL_DATETIME = pl.Datetime("us")

DIVISIONS: tuple[str, ...] = (
    "ready-to-wear",
    "leather goods",
    "shoes",
    "jewellery",
    "watches",
    "fragrance & beauty",
    "accessories",
)
BOUTIQUE_FORMATS: tuple[str, ...] = ("flagship", "boutique", "corner", "outlet", "online")
EVENT_KINDS: tuple[str, ...] = ("collection_launch", "private_sale", "closure", "disruption")

# Column names that hold direct identifiers of a person. They are refused in the tables that
# describe clients and their purchases (clients, transactions), never loaded.
PERSONAL_COLUMN_PATTERNS: tuple[str, ...] = (
    "name",
    "first_name",
    "last_name",
    "surname",
    "full_name",
    "email",
    "e_mail",
    "phone",
    "mobile",
    "telephone",
    "address",
    "street",
    "passport",
    "mail",
    "tel",
    "cell",
    "gsm",
    "whatsapp",
)


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One table of the contract: its required and optional columns and its unique key."""

    name: str
    row: str
    required: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    key: tuple[str, ...] = ()
    is_optional_table: bool = False
    notes: str = ""
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[Column, ...]:
        """Required then optional columns."""
        return self.required + self.optional

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def schema(self) -> dict[str, pl.DataType]:
        """The polars schema of all known columns."""
        return {column.name: column.dtype for column in self.columns}


CLIENTS = Table(
    name="clients",
    row="client (pseudonymous)",
    required=(
        Column("client_id", pl.String, "Pseudonymous client identifier."),
        Column("home_boutique_id", pl.String, "Boutique that looks after the client."),
        Column("first_purchase_date", pl.Date, "Date of the client's first purchase."),
    ),
    optional=(
        Column("home_country", pl.String, "ISO 3166-1 alpha-2 country of residence.", True),
        Column("tier", pl.String, "Clienteling tier (e.g. core, gold, top).", True),
        Column("birth_year", pl.Int32, "Year of birth.", True),
        Column("gender", pl.String, "Declared gender.", True),
        Column("contact_opt_in", pl.Boolean, "Client agreed to be contacted.", True),
        Column("language", pl.String, "Preferred language (ISO 639-1).", True),
    ),
    key=("client_id",),
    foreign_keys={"home_boutique_id": ("boutiques", "boutique_id")},
    notes="No names, e-mails or phones: such columns are refused.",
)

BOUTIQUES = Table(
    name="boutiques",
    row="point of sale",
    required=(
        Column("boutique_id", pl.String, "Boutique identifier."),
        Column("city", pl.String, "City."),
        Column("country", pl.String, "ISO 3166-1 alpha-2 country code."),
        Column("currency", pl.String, "ISO 4217 currency of the till."),
        Column("timezone", pl.String, "IANA time zone, e.g. Europe/Paris."),
        Column("opened_on", pl.Date, "Opening date."),
    ),
    optional=(
        Column("closed_on", pl.Date, "First day closed for good (the last trading day + 1).", True),
        Column("format", pl.String, "flagship, boutique, corner, outlet or online.", True),
        Column("latitude", pl.Float64, "Latitude in degrees.", True),
        Column("longitude", pl.Float64, "Longitude in degrees.", True),
    ),
    key=("boutique_id",),
)

PRODUCTS = Table(
    name="products",
    row="product",
    required=(
        Column("product_id", pl.String, "Product identifier."),
        Column("division", pl.String, "Division, e.g. leather goods."),
    ),
    optional=(
        Column("category", pl.String, "Category within the division.", True),
        Column("collection", pl.String, "Collection the product belongs to.", True),
        Column("price_band", pl.String, "entry, core, high or exceptional.", True),
    ),
    key=("product_id",),
)

TRANSACTIONS = Table(
    name="transactions",
    row="line of a receipt",
    required=(
        Column("transaction_id", pl.String, "Line identifier."),
        Column("receipt_id", pl.String, "Receipt the line belongs to."),
        Column("client_id", pl.String, "Client; null for a walk-in.", True),
        Column("boutique_id", pl.String, "Boutique of the sale."),
        Column("product_id", pl.String, "Product sold."),
        Column("purchased_at", UTC_DATETIME, "Time of sale, ISO 8601; UTC when no offset given."),
        Column("quantity", pl.Int32, "Units; negative for a return."),
        Column("amount", pl.Float64, "Line amount in `currency`; negative for a return."),
        Column("currency", pl.String, "ISO 4217 currency of `amount`."),
    ),
    key=("transaction_id",),
    foreign_keys={
        "client_id": ("clients", "client_id"),
        "boutique_id": ("boutiques", "boutique_id"),
        "product_id": ("products", "product_id"),
    },
    notes="Returns are negative quantity and amount; client_id is null for walk-ins.",
)

FOOTFALL = Table(
    name="footfall",
    row="boutique and hour",
    required=(
        Column("boutique_id", pl.String, "Boutique of the sensor."),
        Column("hour_start", LOCAL_DATETIME, "Start of the hour, boutique-local time."),
        Column("visitors", pl.Int64, "Visitors counted in that hour; null when missing.", True),
    ),
    key=("boutique_id", "hour_start"),
    foreign_keys={"boutique_id": ("boutiques", "boutique_id")},
    notes="Missing hours are absent or null, never zero.",
)

FX_RATES = Table(
    name="fx_rates",
    row="day and currency",
    required=(
        Column("date", pl.Date, "Day of the rate."),
        Column("currency", pl.String, "ISO 4217 currency."),
        Column("rate_to_reference", pl.Float64, "Reference-currency units for one unit."),
    ),
    key=("date", "currency"),
    notes="The reference currency has rate 1.",
)

EVENTS = Table(
    name="events",
    row="event at a boutique or in a country",
    required=(
        Column("date", pl.Date, "Day of the event."),
        Column("kind", pl.String, "collection_launch, private_sale, closure or disruption."),
    ),
    optional=(
        Column("boutique_id", pl.String, "Boutique concerned (or null with a country).", True),
        Column("country", pl.String, "Country concerned (or null with a boutique).", True),
        Column("label", pl.String, "Label of the event, e.g. the collection.", True),
    ),
    is_optional_table=True,
    foreign_keys={"boutique_id": ("boutiques", "boutique_id")},
    notes="Each row names a boutique_id or a country.",
)

PERSONAL_DATA_TABLES: tuple[str, ...] = ("clients", "transactions")

TABLES: dict[str, Table] = {
    table.name: table
    for table in (CLIENTS, BOUTIQUES, PRODUCTS, TRANSACTIONS, FOOTFALL, FX_RATES, EVENTS)
}
