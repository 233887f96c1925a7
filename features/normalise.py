"""Normalise the purchase history: money in one reference currency, time in boutique-local time.

Everything downstream (client features, labels, boutique features) reads the frames built here:

- :func:`purchase_lines`: one row per transaction line, with its boutique, its product's division,
  its boutique-local datetime and date, and its amount in the reference currency.
- :func:`receipts`: one row per receipt (or per client-day where ``receipt_id`` is null), returns
  netted within the receipt; a receipt whose net amount is <= 0 is a return.
- :func:`purchase_occasions`: the receipts that are purchase occasions (net amount > 0).
- :func:`returns`: the receipts that hand goods back, with the value returned.

The local date decides on which side of a cutoff an event falls: a feature at cutoff ``t`` reads
``purchase_date < t``, a label reads ``t <= purchase_date < t + H``. Every function takes an
optional ``start``/``end`` window on the local date and filters the lines before receipts are
netted, so that nothing after a cutoff can reach a feature.

The small tables (boutiques, products, FX rates) are collected when the query is built; the large
one (transactions) stays lazy. Boutiques, products, currencies and divisions become ``pl.Enum``
so that the per-line work compares and gathers integers (a cast to an Enum and a gather cost
half a hash-map ``replace``):

- Time zones: local times come from the offset transitions of
  :class:`features.timezones.UtcOffsets`, one sorted search per line instead of a time-zone
  conversion per zone, added in integer microseconds (:func:`local_datetime`).
- FX: the rates are forward-filled into a dense (currency, day) table with an as-of join by
  currency (the nearest earlier rate), then looked up per line by position, with no hash join.
  A line without any earlier rate gets a null ``amount_ref`` (validation's ``fx_coverage`` rule
  reports it).
- Netting: a receipt's earliest line and its boutique are one integer key (:class:`FirstLine`),
  so that the netting group-by only takes minima and sums, its fast path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl

from features.contract import DIVISIONS
from features.errors import UserInputError
from features.history import PurchaseHistory
from features.timezones import (
    EPOCH_SHIFT,
    ZONE_SPAN,
    UtcOffsets,
    known_time_zones,
    utc_offsets,
)


@dataclass(frozen=True)
class BoutiqueTable:
    """The boutiques table, collected, with Enum types for its per-line lookups."""

    frame: pl.DataFrame
    zones: tuple[str, ...]

    @property
    def ids(self) -> pl.Enum:
        """The Enum of boutique ids."""
        return pl.Enum(self.frame["boutique_id"])

    def lookup(self, boutique_id: pl.Expr, column: str, dtype: pl.DataType) -> pl.Expr:
        """The boutiques' ``column`` for each value of ``boutique_id`` (null when unknown)."""
        return boutique_id.replace_strict(
            self.frame["boutique_id"], self.frame[column], default=None, return_dtype=dtype
        )

    def code(self, boutique_id: pl.Expr) -> pl.Expr:
        """The Enum code of ``boutique_id`` (null when unknown): one string lookup per row."""
        return boutique_id.cast(self.ids, strict=False)

    def by_code(self, code: pl.Expr, column: str) -> pl.Expr:
        """The boutiques' ``column`` for each Enum ``code``: a gather, no hashing."""
        return pl.lit(self.frame[column]).gather(code.to_physical())


def boutique_table(boutiques: pl.LazyFrame) -> BoutiqueTable:
    """Collect the boutiques and check that every time zone is an IANA name."""
    frame = (
        boutiques.select("boutique_id", "country", "currency", "timezone", "format")
        .drop_nulls("boutique_id")
        .unique("boutique_id", keep="first", maintain_order=True)
        .collect()
    )
    bad = frame.filter(
        pl.col("timezone").is_null() | ~pl.col("timezone").is_in(sorted(known_time_zones()))
    )
    if bad.height:
        boutique_id, zone = bad.row(0, named=True)["boutique_id"], bad["timezone"][0]
        raise UserInputError(
            f"boutiques: column 'timezone' of boutique {boutique_id!r} is {zone!r}, "
            "not an IANA time zone such as 'Europe/Paris'"
        )
    return BoutiqueTable(frame, tuple(sorted(frame["timezone"].unique())))


def division_enum(products: pl.DataFrame) -> pl.Enum:
    """The divisions as an Enum: the contract's divisions first, then any other, sorted."""
    extra = sorted(set(products["division"].drop_nulls()) - set(DIVISIONS))
    return pl.Enum([*DIVISIONS, *extra])


def product_divisions(products: pl.LazyFrame) -> tuple[pl.DataFrame, pl.Enum]:
    """The (product_id, division) table, collected, and the Enum of its divisions."""
    frame = (
        products.select("product_id", "division")
        .drop_nulls("product_id")
        .unique("product_id", keep="first", maintain_order=True)
        .collect()
    )
    divisions = division_enum(frame)
    return frame.with_columns(pl.col("division").cast(divisions)), divisions


def product_division(product_id: pl.Expr, products: pl.DataFrame) -> pl.Expr:
    """The division (Enum) of each ``product_id`` in ``products``, null when unknown.

    A cast to the Enum of the product ids and a gather: half the cost of a hash-map replace.
    """
    code = product_id.cast(pl.Enum(products["product_id"]), strict=False).to_physical()
    return pl.lit(products["division"]).gather(code)


@dataclass(frozen=True)
class DailyRates:
    """FX rates forward-filled to every day between the first and last rate of the table."""

    rates: pl.Series
    currencies: tuple[str, ...]
    first_day: date | None
    days: int

    def rate(self, currency: pl.Expr, day: pl.Expr, reference_currency: str) -> pl.Expr:
        """The rate of ``currency`` on ``day``: the nearest earlier rate, 1 for the reference.

        Null for a currency without rates or a day before its first rate.
        """
        reference = pl.when(currency == reference_currency).then(pl.lit(1.0))
        if self.first_day is None:
            return reference
        offset = (day - pl.lit(self.first_day)).dt.total_days()
        currency_code = currency.cast(pl.Enum(self.currencies), strict=False).to_physical()
        position = currency_code.cast(pl.Int64) * self.days + offset.clip(upper_bound=self.days - 1)
        looked_up = pl.when(offset >= 0).then(pl.lit(self.rates).gather(position))
        return reference.otherwise(looked_up)


def daily_rates(fx_rates: pl.LazyFrame) -> DailyRates:
    """Collect the FX table into a dense (currency, day) grid, as-of joined by currency."""
    rates = (
        fx_rates.select("currency", "date", "rate_to_reference")
        .drop_nulls()
        .unique(["currency", "date"], keep="first")
        .sort("currency", "date")
        .collect()
    )
    if rates.height == 0:
        return DailyRates(pl.Series([], dtype=pl.Float64), (), None, 0)
    first_day, last_day = rates["date"].min(), rates["date"].max()
    currencies = tuple(rates["currency"].unique().sort())
    calendar = pl.date_range(first_day, last_day, "1d", eager=True).alias("date")
    grid = (
        pl.DataFrame({"currency": currencies})
        .join(calendar.to_frame(), how="cross")
        .sort("currency", "date")
        .join_asof(rates, on="date", by="currency", strategy="backward", check_sortedness=False)
    )
    return DailyRates(grid["rate_to_reference"], currencies, first_day, calendar.len())


def history_utc_offsets(transactions: pl.LazyFrame, zones: Sequence[str]) -> UtcOffsets:
    """The offset transitions of ``zones`` over the days the transactions span (UTC)."""
    span = transactions.select(
        first=pl.col("purchased_at").min().dt.date(), last=pl.col("purchased_at").max().dt.date()
    ).collect()
    first_day, last_day = span["first"][0], span["last"][0]
    if first_day is None or not zones:
        return UtcOffsets(pl.Series([], dtype=pl.Int64), pl.Series([], dtype=pl.Duration("us")), ())
    return utc_offsets(zones, first_day, last_day)


def local_datetime(offsets: UtcOffsets, utc: pl.Expr, zone_index: pl.Expr) -> pl.Expr:
    """:meth:`UtcOffsets.local` in integer microseconds: the same values at two thirds the cost.

    Adding an Int64 offset to the physical UTC value, rather than a Duration to a Datetime,
    spares a conditional and a time-zone replacement per line.
    """
    if offsets.keys.len() == 0:
        return pl.lit(None, dtype=pl.Datetime("us"))
    utc_us = utc.dt.cast_time_unit("us").to_physical()
    key = zone_index.cast(pl.Int64) * ZONE_SPAN + utc_us // 1_000_000 + EPOCH_SHIFT
    # The transitions start before the first instant of every zone: a known zone and instant
    # always find one of their own zone.
    position = pl.lit(offsets.keys).search_sorted(key, side="right").cast(pl.Int64) - 1
    offset = pl.lit(offsets.offsets.dt.total_microseconds()).gather(
        pl.when(zone_index.is_not_null() & utc_us.is_not_null()).then(position)
    )
    return (utc_us + offset).cast(pl.Datetime("us"))


def window_filter(start: date | None, end: date | None) -> pl.Expr:
    """The predicate ``start <= purchase_date < end`` (a missing bound is open)."""
    predicate = pl.lit(True)
    if start is not None:
        predicate &= pl.col("purchase_date") >= start
    if end is not None:
        predicate &= pl.col("purchase_date") < end
    return predicate


def utc_window_filter(start: date | None, end: date | None) -> pl.Expr:
    """A looser predicate on ``purchased_at`` (UTC) that every line of the local window meets.

    Local offsets stay within -12 h and +14 h of UTC, so a day's lines lie between the UTC
    midnights one day before and one day after it. Filtering on the raw column first lets the
    scan skip what is far outside the window.
    """
    predicate = pl.lit(True)
    if start is not None:
        predicate &= pl.col("purchased_at") >= utc_midnight(start - timedelta(days=1))
    if end is not None:
        predicate &= pl.col("purchased_at") < utc_midnight(end + timedelta(days=1))
    return predicate


def utc_midnight(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def normalised_lines(
    history: PurchaseHistory,
    reference_currency: str = "EUR",
    *,
    start: date | None = None,
    end: date | None = None,
) -> pl.LazyFrame:
    """Transaction lines in local time and reference currency, without the clients table.

    The core of :func:`purchase_lines`, which :func:`receipts` groups: the transaction columns
    plus ``boutique_code`` (Enum of the boutique ids), ``boutique_country``,
    ``boutique_timezone``, ``boutique_format``, ``division`` (Enum),
    ``purchased_local``, ``purchase_date``, ``fx_rate``, ``amount_ref``, ``is_return`` and
    ``is_online``. Lines are kept when ``start <= purchase_date < end``.
    """
    boutiques = boutique_table(history.boutiques)
    products, _ = product_divisions(history.products)
    rates = daily_rates(history.fx_rates)
    offsets = history_utc_offsets(history.transactions, boutiques.zones)
    zone_index = boutiques.frame["timezone"].replace_strict(
        boutiques.zones, range(len(boutiques.zones)), return_dtype=pl.Int64
    )
    code = pl.col("boutique_code")
    return (
        history.transactions.filter(utc_window_filter(start, end))
        .with_columns(boutique_code=boutiques.code(pl.col("boutique_id")))
        .with_columns(
            boutique_country=boutiques.by_code(code, "country"),
            boutique_timezone=boutiques.by_code(code, "timezone"),
            boutique_format=boutiques.by_code(code, "format"),
            division=product_division(pl.col("product_id"), products),
            purchased_local=local_datetime(
                offsets, pl.col("purchased_at"), pl.lit(zone_index).gather(code.to_physical())
            ),
        )
        .with_columns(purchase_date=pl.col("purchased_local").dt.date())
        .filter(window_filter(start, end))
        .with_columns(
            fx_rate=rates.rate(pl.col("currency"), pl.col("purchase_date"), reference_currency)
        )
        .with_columns(
            amount_ref=pl.col("amount") * pl.col("fx_rate"),
            is_return=pl.col("quantity") < 0,
            is_online=(pl.col("boutique_format") == "online").fill_null(False),
        )
    )


def client_home_countries(history: PurchaseHistory) -> pl.LazyFrame:
    """Each client's home country, or the country of the home boutique when it is not given.

    Client ids are unique (validation checks the key), so this joins one row per client.
    """
    boutiques = boutique_table(history.boutiques)
    home_boutique_country = boutiques.lookup(pl.col("home_boutique_id"), "country", pl.String)
    return history.clients.select(
        "client_id", home_country=pl.coalesce("home_country", home_boutique_country)
    )


def purchase_lines(
    history: PurchaseHistory,
    reference_currency: str = "EUR",
    *,
    start: date | None = None,
    end: date | None = None,
) -> pl.LazyFrame:
    """One row per transaction line, normalised to local time and to the reference currency.

    Adds the boutique's country, time zone and format, the product's division (Enum),
    ``purchased_local`` (naive boutique-local datetime), ``purchase_date`` (local date),
    ``fx_rate`` and ``amount_ref`` (amount times the rate of the local purchase date, the nearest
    earlier rate when that day is missing; 1 for the reference currency), ``is_return``
    (quantity < 0), ``is_online`` (online format), ``home_country`` and ``is_abroad`` (boutique
    country differs from the client's home country, or from the home boutique's country when the
    home country is not given; null for walk-ins). Lines are kept when
    ``start <= purchase_date < end``.
    """
    return (
        normalised_lines(history, reference_currency, start=start, end=end)
        .join(client_home_countries(history), on="client_id", how="left")
        .with_columns(is_abroad=pl.col("boutique_country") != pl.col("home_country"))
    )


def dominant_division(amounts: Sequence[str], divisions: Sequence[str]) -> pl.Expr:
    """The division whose amount column is the largest and positive (the first one on ties)."""
    if not amounts:
        return pl.lit(None, dtype=pl.String)
    largest = pl.max_horizontal(amounts)
    chosen = pl.when(largest <= 0).then(pl.lit(None, dtype=pl.String))
    for amount, division in zip(amounts, divisions, strict=True):
        chosen = chosen.when(pl.col(amount) == largest).then(pl.lit(division))
    return chosen


# Local microseconds up to the year 2200 times this many codes stay within an Int64; with more
# boutiques, netting sorts each receipt's lines by time instead (20% slower).
MAX_BOUTIQUES = 1000


@dataclass(frozen=True)
class FirstLine:
    """A receipt's earliest line and its boutique as one integer, so that netting takes a min.

    The key is the local time in microseconds times ``boutiques + 1`` plus the boutique's Enum
    code (``boutiques`` for an unknown boutique): its minimum over a receipt's lines is the
    earliest line, the lowest boutique code on a tie; a line without a local time (its boutique
    unknown) is passed over. A plain ``min`` is the fast path of a group-by, where sorting each
    receipt's lines by time to take the first boutique is not.
    """

    boutiques: int

    @classmethod
    def of(cls, boutiques: BoutiqueTable) -> FirstLine | None:
        """The keys of ``boutiques``; None when there are more than an Int64 key can hold."""
        if boutiques.frame.height >= MAX_BOUTIQUES:
            return None
        return cls(boutiques.frame.height)

    def aggregation(self, local: pl.Expr, boutique_code: pl.Expr) -> pl.Expr:
        """The aggregation of a receipt's lines into its key, ``first_line``."""
        return self.key(local, boutique_code).min().alias("first_line")

    def key(self, local: pl.Expr, boutique_code: pl.Expr) -> pl.Expr:
        """The key of each line (null without a local time)."""
        code = boutique_code.to_physical().cast(pl.Int64).fill_null(self.boutiques)
        return local.dt.cast_time_unit("us").to_physical() * (self.boutiques + 1) + code

    def local(self, key: pl.Expr) -> pl.Expr:
        """The local time of the line of ``key``."""
        return (key // (self.boutiques + 1)).cast(pl.Datetime("us"))

    def boutique_code(self, key: pl.Expr, boutiques: BoutiqueTable) -> pl.Expr:
        """The boutique (Enum) of the line of ``key``, null when unknown."""
        code = key % (self.boutiques + 1)
        ids = boutiques.frame["boutique_id"].cast(boutiques.ids)
        return pl.lit(ids).gather(pl.when(code < self.boutiques).then(code))


def netted_receipts(
    lines: pl.LazyFrame, boutiques: BoutiqueTable, *, walk_ins: bool = True
) -> pl.LazyFrame:
    """Group normalised lines into receipts: the core of :func:`receipts`, without the clients.

    The boutique is ``boutique_code`` (an Enum of the boutique ids), there is no
    ``is_abroad`` and ``last_line_date`` is the local date of the receipt's latest line. With
    ``walk_ins=False`` the lines must all have a client, which spares the per-line key of
    walk-ins without a receipt.
    """
    schema = lines.collect_schema()
    divisions = schema["division"]
    division_names = list(divisions.categories) if isinstance(divisions, pl.Enum) else []
    division_amounts = [f"division_amount_{index}" for index in range(len(division_names))]
    no_receipt = pl.col("receipt_id").is_null()
    amount = pl.col("amount_ref")
    keys = {"day_key": pl.when(no_receipt).then(pl.col("purchase_date"))}
    if walk_ins:
        keys["line_key"] = pl.when(no_receipt & pl.col("client_id").is_null()).then(
            pl.col("transaction_id")
        )
    # Per-line amounts first, so that the group-by only sums plain columns (its fast path).
    per_line = {
        "gross_amount_ref": amount.clip(lower_bound=0.0),
        "returned_amount_ref": -amount.clip(upper_bound=0.0),
        **{
            column: pl.when(pl.col("division") == division).then(amount).otherwise(0.0)
            for division, column in zip(division_names, division_amounts, strict=True)
        },
    }
    summed = ["net_amount_ref", "net_quantity", *per_line]
    code = (
        pl.col("boutique_code")
        if "boutique_code" in schema
        else boutiques.code(pl.col("boutique_id"))
    )
    local = pl.col("purchased_local")
    first_line = FirstLine.of(boutiques)
    if first_line is None:  # too many boutiques for one key: sort each receipt's lines
        first = [pl.col("boutique_code").sort_by(local, nulls_last=True).first(), local.min()]
        boutique_code, first_local = pl.col("boutique_code"), local
    else:
        first = [first_line.aggregation(local, pl.col("boutique_code"))]
        boutique_code = first_line.boutique_code(pl.col("first_line"), boutiques)
        first_local = first_line.local(pl.col("first_line"))
    grouped = (
        lines.with_columns(
            boutique_code=code,
            net_amount_ref=amount,
            net_quantity=pl.col("quantity"),
            **keys,
            **per_line,
        )
        .group_by("receipt_id", "client_id", *keys)
        .agg(
            *first,
            local.max().alias("last_local"),
            pl.col(summed).sum(),
            pl.len().alias("lines"),
        )
    )
    return grouped.select(
        "receipt_id",
        "client_id",
        boutique_code=boutique_code,
        purchased_local=first_local,
        purchase_date=first_local.dt.date(),
        last_line_date=pl.col("last_local").dt.date(),
        net_amount_ref="net_amount_ref",
        gross_amount_ref="gross_amount_ref",
        returned_amount_ref="returned_amount_ref",
        net_quantity="net_quantity",
        lines="lines",
        division=dominant_division(division_amounts, division_names).cast(
            divisions if isinstance(divisions, pl.Enum) else pl.String
        ),
        boutique_country=boutiques.by_code(boutique_code, "country"),
        is_online=(boutiques.by_code(boutique_code, "format") == "online").fill_null(False),
        is_occasion=pl.col("net_amount_ref") > 0,
    )


@dataclass(frozen=True)
class ClientReceipts:
    """Client receipts netted once over a whole period, to serve many windows of it.

    A receipt whose lines share one local date is inside a window or outside it as a whole, so
    its netting over the period is its netting in any window: ``single_day`` keeps those. The
    few receipts whose lines span midnight are netted again per window from ``spanning_lines``.
    """

    single_day: pl.DataFrame
    spanning_lines: pl.DataFrame
    boutiques: BoutiqueTable

    def window(self, start: date | None = None, end: date | None = None) -> pl.LazyFrame:
        """The receipts :func:`netted_receipts` makes of the lines ``start <= date < end``."""
        in_window = window_filter(start, end)
        return pl.concat(
            [
                self.single_day.lazy().filter(in_window),
                netted_receipts(
                    self.spanning_lines.lazy().filter(in_window), self.boutiques, walk_ins=False
                ),
            ]
        )


def client_receipts(lines: pl.DataFrame, boutiques: BoutiqueTable) -> ClientReceipts:
    """Net the client ``lines`` (normalised, all with a client) once for many windows.

    Lines without a local date belong to no window and are left out.
    """
    dated = lines.lazy().filter(pl.col("purchase_date").is_not_null())
    netted = netted_receipts(dated, boutiques, walk_ins=False).collect()
    same_day = pl.col("last_line_date") == pl.col("purchase_date")
    spanning = netted.filter(~same_day).select("receipt_id", "client_id")
    spanning_lines = dated.join(
        spanning.lazy(), on=["receipt_id", "client_id"], how="semi"
    ).collect()
    return ClientReceipts(netted.filter(same_day), spanning_lines, boutiques)


def receipts(
    history: PurchaseHistory,
    reference_currency: str = "EUR",
    *,
    start: date | None = None,
    end: date | None = None,
    lines: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """One row per receipt, its lines netted; where ``receipt_id`` is null, one per client-day.

    Columns: ``receipt_id``, ``client_id`` (null for walk-ins), ``boutique_id`` (of the earliest
    line), ``purchased_local`` and ``purchase_date`` of the earliest line, ``net_amount_ref``,
    ``gross_amount_ref`` (sold lines), ``returned_amount_ref`` (value of returned lines, >= 0),
    ``net_quantity``, ``lines``, ``division`` (Enum: the division with the largest positive net
    amount in the receipt), ``is_online``, ``is_abroad`` (see :func:`purchase_lines`) and
    ``is_occasion`` (net amount > 0: a purchase occasion; otherwise the receipt is a return).
    Only lines with ``start <= purchase_date < end`` count; a line of a walk-in without a receipt
    is a receipt of its own.

    ``lines`` may pass :func:`normalised_lines` collected once and reused for many windows.
    """
    if lines is None:
        lines = normalised_lines(history, reference_currency, start=start, end=end)
    else:
        lines = lines.filter(window_filter(start, end))
    netted = netted_receipts(lines, boutique_table(history.boutiques))
    return (
        netted.join(client_home_countries(history), on="client_id", how="left")
        .with_columns(
            boutique_id=pl.col("boutique_code").cast(pl.String),
            is_abroad=pl.col("boutique_country") != pl.col("home_country"),
        )
        .select(
            "receipt_id",
            "client_id",
            "boutique_id",
            "purchased_local",
            "purchase_date",
            "net_amount_ref",
            "gross_amount_ref",
            "returned_amount_ref",
            "net_quantity",
            "lines",
            "division",
            "is_online",
            "is_abroad",
            "is_occasion",
        )
    )


def purchase_occasions(
    history: PurchaseHistory,
    reference_currency: str = "EUR",
    *,
    start: date | None = None,
    end: date | None = None,
    lines: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The purchase occasions: receipts (or client-days) whose net amount is positive.

    Walk-ins (null ``client_id``) are kept for boutique-level use; filter them out for clients.
    """
    return receipts(history, reference_currency, start=start, end=end, lines=lines).filter(
        pl.col("is_occasion")
    )


def returns(
    history: PurchaseHistory,
    reference_currency: str = "EUR",
    *,
    start: date | None = None,
    end: date | None = None,
    lines: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The receipts that hand goods back (``returned_amount_ref > 0``), netted or not.

    Per client, the sum of ``returned_amount_ref`` over the sum of ``gross_amount_ref`` of all
    receipts is the returns ratio.
    """
    return receipts(history, reference_currency, start=start, end=end, lines=lines).filter(
        pl.col("returned_amount_ref") > 0
    )


def boutique_event_days(history: PurchaseHistory) -> pl.LazyFrame:
    """One row per (boutique_id, date) with an event, flagged by kind.

    Country-wide events apply to every boutique of that country. Columns: ``boutique_id``,
    ``date``, ``is_launch`` (collection launch) and ``is_private_sale``.
    """
    events = history.events.select("boutique_id", "country", "date", "kind").drop_nulls("date")
    country_events = (
        events.filter(pl.col("boutique_id").is_null())
        .drop("boutique_id")
        .join(history.boutiques.select("boutique_id", "country"), on="country", how="inner")
    )
    return (
        pl.concat(
            [
                events.filter(pl.col("boutique_id").is_not_null()).select(
                    "boutique_id", "date", "kind"
                ),
                country_events.select("boutique_id", "date", "kind"),
            ]
        )
        .group_by("boutique_id", "date")
        .agg(
            is_launch=(pl.col("kind") == "collection_launch").any(),
            is_private_sale=(pl.col("kind") == "private_sale").any(),
        )
        .filter(pl.col("is_launch") | pl.col("is_private_sale"))
    )
