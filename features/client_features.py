"""Point-in-time client features: what was known about each client just before a cutoff.

:func:`client_features` returns one row per client whose first purchase occasion falls before the
cutoff ``t`` (boutique-local date), built only from purchase lines whose local date is before
``t``: the lines are filtered before receipts are netted, so nothing on or after ``t`` can leak in.
The static client attributes (tier, birth year, ...) come from the clients table.

Every feature depends only on the client's own history, except the BG/NBD quantities, whose model
is fitted on the whole population at ``t``; pass a fitted model to compute a shard of clients (a
hash partition of ``client_id``) and get the very rows the whole population would give.

The work is one pass over the lines, built for speed (issue #3: within a few times a bare polars
group-by over the same file):

1. the client lines before ``t`` are normalised and netted into receipts by one group-by
   (:func:`features.normalise.netted_receipts`);
2. the purchase occasions are put in client and time order by two single-key sorts
   (:func:`client_time_order`), and the per-occasion columns that need that order (gaps, runs
   of one division) are shifts;
3. each client's occasions are imploded into lists, which costs a copy since a client's rows
   are together (:func:`occasion_lists`), and every aggregate is a list kernel over all clients
   at once (:func:`occasion_aggregates`): counts, sums, minima, first and last items, slices
   for the time windows (the latest occasions are at the end of the lists);
4. the BG/NBD model is fitted in a second thread while polars computes the aggregates.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from features.contract import DIVISIONS
from features.division_features import (
    CATEGORICAL_DIVISION_FEATURES,
    DIVISION_FEATURES,
    SEQUENCE_COLUMNS,
    count_columns,
    division_list_counts,
    division_list_features,
    division_sequence_columns,
)
from features.history import PurchaseHistory
from features.normalise import (
    BoutiqueTable,
    boutique_event_days,
    boutique_table,
    netted_receipts,
    normalised_lines,
)

if TYPE_CHECKING:
    from features.bgnbd import BetaGeoModel

WINDOWS: tuple[int, ...] = (30, 90, 180, 365)
BGNBD_HORIZONS: tuple[int, ...] = (30, 90)
BGNBD_FIT_CLIENTS = 100_000
DAY_SPAN = 10_000_000  # more days than any date's number (since 1970) can reach
MONTHS: range = range(1, 13)
MONTH_NAMES: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def division_slug(division: str) -> str:
    """The column-name form of ``division``: 'fragrance & beauty' -> 'fragrance_beauty'."""
    return re.sub(r"[^a-z0-9]+", "_", division.lower()).strip("_")


def describe_client_features() -> dict[str, str]:
    """Name -> one-line description of every column :func:`client_features` adds."""
    docs: dict[str, str] = {
        "recency_days": "Days from the last purchase occasion to the cutoff.",
        "frequency": "Number of purchase occasions before the cutoff.",
        "tenure_days": "Days from the first purchase occasion in the history to the cutoff.",
        "client_since_days": "Days since the client's first purchase, as recorded or observed.",
        "monetary_total": "Net spend over all occasions, in the reference currency.",
        "monetary_mean": "Mean net spend per occasion, in the reference currency.",
        "monetary_max": "Largest net spend of one occasion, in the reference currency.",
        "last_occasion_spend": "Net spend of the last occasion, in the reference currency.",
    }
    for window in WINDOWS:
        docs[f"occasions_{window}d"] = f"Purchase occasions in the {window} days before the cutoff."
        docs[f"spend_{window}d"] = f"Net spend in the {window} days before the cutoff."
    docs |= {
        "occasions_prev_365d": "Purchase occasions between 730 and 366 days before the cutoff.",
        "spend_prev_365d": "Net spend between 730 and 366 days before the cutoff.",
        "spend_trend": "(last 365 days - previous 365 days) / their sum, in [-1, 1].",
        "gap_mean_days": "Mean days between consecutive occasions.",
        "gap_std_days": "Standard deviation of the days between consecutive occasions.",
        "gap_last_days": "Days between the last two occasions.",
        "overdue_days": "Recency minus the mean gap: days past the client's usual rhythm.",
    }
    for division in DIVISIONS:
        slug = division_slug(division)
        docs[f"division_share_{slug}"] = f"Share of occasions mainly in {division}."
        docs[f"division_recency_{slug}"] = f"Days since the last occasion mainly in {division}."
    docs |= {
        "last_division": "Main division of the last occasion.",
        "n_divisions": "Number of distinct main divisions of the occasions.",
        "n_boutiques": "Number of distinct boutiques of the occasions.",
        "share_abroad": "Share of occasions outside the client's home country.",
        "share_online": "Share of occasions in online boutiques.",
        "returns_ratio": "Value returned over value bought (gross), all receipts.",
    }
    docs |= DIVISION_FEATURES
    for month, name in enumerate(MONTH_NAMES, start=1):
        docs[f"month_share_{month:02d}"] = f"Share of occasions in {name}."
    docs |= {
        "habitual_month": "Month of the year with the most occasions (earliest on ties).",
        "habitual_month_share": "Share of occasions in the habitual month.",
        "days_to_habitual_month": "Days from the cutoff to the next start of the habitual month"
        " (0 inside it).",
        "launch_occasions": "Occasions on a collection-launch day at their boutique.",
        "private_sale_occasions": "Occasions on a private-sale day at their boutique.",
        "launch_share": "Share of occasions on a collection-launch day.",
        "private_sale_share": "Share of occasions on a private-sale day.",
        "recency_tenure_ratio": "Recency over tenure: 0 just bought, 1 not since the first.",
        "occasions_per_year": "Occasions per year of tenure.",
        "bgnbd_p_alive": "BG/NBD probability that the client is still active.",
    }
    for horizon in BGNBD_HORIZONS:
        docs[f"bgnbd_expected_{horizon}d"] = (
            f"BG/NBD expected occasions in the next {horizon} days."
        )
        docs[f"bgnbd_p_buy_{horizon}d"] = f"BG/NBD probability of >= 1 occasion in {horizon} days."
    docs |= {
        "tier": "Clienteling tier.",
        "age": "Age at the cutoff, from the birth year.",
        "gender": "Declared gender.",
        "contact_opt_in": "The client agreed to be contacted.",
        "home_country": "Country of residence (the home boutique's when not given).",
        "language": "Preferred language.",
        "home_boutique_country": "Country of the client's home boutique.",
    }
    return docs


CLIENT_FEATURES: dict[str, str] = describe_client_features()
CATEGORICAL_CLIENT_FEATURES: tuple[str, ...] = (
    "last_division",
    *CATEGORICAL_DIVISION_FEATURES,
    "habitual_month",
    "tier",
    "gender",
    "home_country",
    "language",
    "home_boutique_country",
)
BGNBD_FEATURES: tuple[str, ...] = tuple(
    name for name in CLIENT_FEATURES if name.startswith("bgnbd")
)


def days_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """Whole days from ``earlier`` to ``later`` (dates), as Int64."""
    return (later - earlier).dt.total_days()


def safe_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null where the denominator is zero or null."""
    return pl.when(denominator != 0).then(numerator / denominator)


def event_day_keys(history: PurchaseHistory, boutiques: BoutiqueTable) -> dict[str, pl.Series]:
    """The (boutique, day) keys of launch days and of private-sale days, as integers.

    A key is the boutique's Enum code times :data:`DAY_SPAN` plus the day number: an occasion
    is then flagged with ``is_in`` on a handful of integers rather than joined to the events.
    """
    days = boutique_event_days(history).collect()
    keys = days.select(
        key=event_day_key(pl.col("boutique_id").cast(boutiques.ids, strict=False), pl.col("date")),
        is_launch="is_launch",
        is_private_sale="is_private_sale",
    ).drop_nulls("key")
    return {
        "is_launch": keys.filter("is_launch")["key"],
        "is_private_sale": keys.filter("is_private_sale")["key"],
    }


def event_day_key(boutique_code: pl.Expr, day: pl.Expr) -> pl.Expr:
    """An integer identifying a boutique (Enum code) and a day."""
    return boutique_code.to_physical().cast(pl.Int64) * DAY_SPAN + day.cast(pl.Int64)


# The receipt columns the features read.
RECEIPT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "boutique_code",
    "purchased_local",
    "purchase_date",
    "net_amount_ref",
    "gross_amount_ref",
    "returned_amount_ref",
    "division",
    "is_online",
    "is_occasion",
)
# A client's occasions in time order; at the same instant the larger one last.
OCCASION_ORDER: tuple[str, ...] = ("client_id", "purchased_local", "net_amount_ref", "division")


def occasion_order() -> list[pl.Expr]:
    """The sort keys of :data:`OCCASION_ORDER`, nulls last.

    Only the division can be null; sorting its Enum code with nulls replaced by the largest
    code keeps polars' sort on its fast path (``nulls_last=True`` makes it four times slower).
    """
    *others, division = OCCASION_ORDER
    last_code = pl.lit(2**32 - 1, dtype=pl.UInt32)
    return [*map(pl.col, others), pl.col(division).to_physical().fill_null(last_code)]


SUMMED: tuple[str, ...] = ("gross_amount_ref", "returned_amount_ref")
MINIMISED: tuple[str, ...] = tuple(
    f"division_recency_{division_slug(division)}" for division in DIVISIONS
)
LISTED: tuple[str, ...] = (
    "days_before",
    "net_amount_ref",
    "boutique_code",
    "country",
    "month",
    "is_online",
    "is_launch",
    "is_private_sale",
    "gap",
    *SUMMED,
    *MINIMISED,
    *SEQUENCE_COLUMNS,
)


def client_receipts_before(
    history: PurchaseHistory,
    cutoff: date,
    reference_currency: str,
    lines: pl.LazyFrame | None,
    receipts: pl.LazyFrame | None,
) -> pl.LazyFrame:
    """The client receipts whose local date is before ``cutoff``, netted from lines before it.

    The receipts are netted from ``lines`` (normalised; read from the history when None) or
    given already netted as ``receipts`` (see :class:`features.normalise.ClientReceipts`).
    """
    if receipts is None:
        if lines is None:
            lines = normalised_lines(history, reference_currency, end=cutoff)
        client_lines = lines.filter(
            pl.col("client_id").is_not_null() & (pl.col("purchase_date") < cutoff)
        )
        receipts = netted_receipts(client_lines, boutique_table(history.boutiques), walk_ins=False)
    return receipts.filter(pl.col("purchase_date") < cutoff)


@dataclass(frozen=True)
class BoutiqueCountries:
    """The countries of the boutiques as small integers: an occasion's country is a gather."""

    names: tuple[str, ...]
    of_boutique: pl.Series

    @classmethod
    def of(cls, boutiques: BoutiqueTable) -> BoutiqueCountries:
        """Number the distinct countries of ``boutiques``, in sorted order."""
        names = tuple(sorted(boutiques.frame["country"].drop_nulls().unique()))
        codes = boutiques.frame["country"].replace_strict(
            names, range(len(names)), default=None, return_dtype=pl.UInt32
        )
        return cls(names, codes)

    def code(self, boutique_code: pl.Expr) -> pl.Expr:
        """The country number of each boutique (Enum code), null when unknown."""
        return pl.lit(self.of_boutique).gather(boutique_code.to_physical())

    def in_home_country(self, home_country: pl.Expr) -> pl.Expr:
        """Each client's occasions in ``home_country``, from the ``country_<n>`` counts."""
        count = pl.lit(0, dtype=pl.UInt32)
        for number, name in reversed(list(enumerate(self.names))):
            count = pl.when(home_country == name).then(pl.col(f"country_{number}")).otherwise(count)
        return count


def ordered_occasions(
    receipts: pl.DataFrame,
    cutoff: date,
    event_keys: dict[str, pl.Series],
    countries: BoutiqueCountries,
) -> pl.LazyFrame:
    """The purchase occasions in client and time order, with their per-occasion columns.

    The order is :data:`OCCASION_ORDER` within a client, and each client's occasions are
    together (:func:`client_time_order`: eager sorts on polars' in-memory engine, whose sorts
    cost 40% less CPU here than the streaming engine's). Adds ``days_before`` (cutoff minus
    local date), ``month``, ``country`` (number), the event flags, ``gap`` (days since the
    client's previous occasion), ``new_client``, the columns of :func:`occasion_indicators`
    and :func:`features.division_features.division_sequence_columns`.
    """
    day_key = event_day_key(pl.col("boutique_code"), pl.col("purchase_date"))
    days_before = pl.col("days_before")
    same_client = (pl.col("client_id") == pl.col("client_id").shift(1)).fill_null(False)
    occasions = client_time_order(receipts.filter(pl.col("is_occasion")).drop("is_occasion"))
    return (
        occasions.lazy()
        .with_columns(
            days_before=days_between(pl.lit(cutoff), pl.col("purchase_date")),
            month=pl.col("purchase_date").dt.month(),
            country=countries.code(pl.col("boutique_code")),
            **{flag: day_key.is_in(keys.implode()) for flag, keys in event_keys.items()},
        )
        .with_columns(
            gap=pl.when(same_client).then(days_before.shift(1) - days_before),
            new_client=~same_client,
            **occasion_indicators(),
            **division_sequence_columns(same_client),
        )
    )


def client_time_order(occasions: pl.DataFrame) -> pl.DataFrame:
    """``occasions`` with each client's rows together and in :data:`OCCASION_ORDER`.

    Two single-key sorts, by local time and then (stable) by a hash of the client, cost 40%
    less than one sort by both keys and give the same order, but for the rare rows of a client
    at the same instant: those are put in order among themselves (by amount, then division).
    Should two clients share a hash, every row is sorted again with every key.
    """
    client_hash = pl.col("client_id").hash().alias("client_hash")
    quick = (
        occasions.sort("purchased_local")
        .with_columns(client_hash)
        .sort("client_hash", maintain_order=True)
    )
    same_hash = pl.col("client_hash") == pl.col("client_hash").shift(1)
    shared_hash = same_hash & (pl.col("client_id") != pl.col("client_id").shift(1))
    if quick.select(shared_hash.any()).item():
        return occasions.sort(client_hash, *occasion_order())
    tie = same_hash & (pl.col("purchased_local") == pl.col("purchased_local").shift(1))
    tied = quick.select(pl.arg_where(tie | tie.shift(-1, fill_value=False))).to_series()
    if tied.len() == 0:
        return quick.drop("client_hash")
    # The tied rows sit together, groups in order: sorting them alone and putting them back
    # in the same places orders each group.
    within = quick[tied].with_row_index("row").sort("client_hash", *occasion_order()[1:])
    order = pl.int_range(quick.height, eager=True).scatter(tied, tied.gather(within["row"]))
    return quick[order].drop("client_hash")


def occasion_indicators() -> dict[str, pl.Expr]:
    """Per-occasion days that a client's aggregates take the min of: since each division."""
    days_before = pl.col("days_before")
    return {
        f"division_recency_{division_slug(division)}": pl.when(pl.col("division") == division).then(
            days_before
        )
        for division in DIVISIONS
    }


def occasion_lists(ordered: pl.LazyFrame) -> pl.LazyFrame:
    """One row per client: ``client_id`` and the list of each of its occasions' columns.

    ``ordered`` comes from :func:`ordered_occasions`, each client's occasions together: a
    running number of the clients is a sorted key, whose groups are slices, and imploding a
    slice is a copy. Every aggregate is then a list kernel over all clients at once (a few
    milliseconds each) rather than a per-group reduction (tens of milliseconds each).
    """
    client_number = pl.col("new_client").cum_sum().set_sorted()
    return (
        ordered.with_columns(client_number=client_number)
        .group_by("client_number")
        .agg(pl.col("client_id").first(), pl.col(LISTED))
        .drop("client_number")
    )


def occasion_aggregates(lists: pl.LazyFrame, countries: BoutiqueCountries) -> pl.LazyFrame:
    """Per client, every aggregate of the occasions the features are derived from.

    ``lists`` holds each client's occasions in time order (:func:`occasion_lists`), so the
    first and last occasions are the lists' first and last items. Shares are counts over
    lengths (``count_matches``: a list kernel, where the mean of a boolean list is ten times
    slower); like a mean they leave out nulls.
    """
    division_type = lists.collect_schema()["division"].inner
    categories = list(division_type.categories)
    days_before = pl.col("days_before")
    net = pl.col("net_amount_ref")
    frequency = days_before.list.len()
    counts = {
        **count_columns("month", list(MONTHS)),
        **count_columns("country", list(range(len(countries.names)))),
        **division_list_counts(categories),
        "countries_missing": pl.col("country").list.eval(pl.element().is_null()).list.sum(),
        **{
            f"occasions_{window}d": days_before.list.eval(pl.element() <= window).list.sum()
            for window in (*WINDOWS, 730)
        },
    }
    aggregates: dict[str, pl.Expr] = {
        "frequency": frequency,
        "recency_days": days_before.list.last(),
        "tenure_days": days_before.list.first(),
        "monetary_total": net.list.sum(),
        "monetary_mean": net.list.mean(),
        "monetary_max": net.list.max(),
        "last_occasion_spend": net.list.last(),
        "last_division": pl.col("division").list.last(),
        "gap_std_days": pl.col("gap").list.std(ddof=0),
        "gap_last_days": pl.col("gap").list.last(),
        "n_boutiques": pl.col("boutique_code").list.n_unique(),
        "share_online": pl.col("is_online").list.count_matches(True) / frequency,
        "launch_occasions": pl.col("is_launch").list.count_matches(True),
        "private_sale_occasions": pl.col("is_private_sale").list.count_matches(True),
        "gross_bought": pl.col("gross_amount_ref").list.sum(),
        "value_returned": pl.col("returned_amount_ref").list.sum(),
        "countries_known": frequency - pl.col("countries_missing"),
        **{f"country_{number}": f"country_{number}" for number in range(len(countries.names))},
    }
    # Time order puts the occasions of the last N days at the end of a client's lists.
    for window in WINDOWS:
        inside = pl.col(f"occasions_{window}d")
        aggregates[f"occasions_{window}d"] = inside
        aggregates[f"spend_{window}d"] = net.list.tail(inside).list.sum()
    last_two_years = pl.col("occasions_730d")
    previous_year = last_two_years - pl.col("occasions_365d")
    aggregates["occasions_prev_365d"] = previous_year
    aggregates["spend_prev_365d"] = net.list.slice(
        frequency - last_two_years, previous_year
    ).list.sum()
    with_division = frequency - pl.col("division_missing")
    for division_name in DIVISIONS:
        slug = division_slug(division_name)
        count = pl.col(f"division_{categories.index(division_name)}")
        aggregates[f"division_share_{slug}"] = safe_ratio(count, with_division)
        aggregates[f"division_recency_{slug}"] = pl.col(f"division_recency_{slug}").list.min()
    aggregates["n_divisions"] = pl.sum_horizontal(
        pl.col(f"division_{number}") > 0 for number in range(len(categories))
    ).cast(pl.UInt32)
    for number in MONTHS:
        aggregates[f"month_share_{number:02d}"] = pl.col(f"month_{number - 1}") / frequency
    aggregates |= division_list_features(categories, division_type)
    return lists.with_columns(**counts).select("client_id", **aggregates)


def habitual_month(shares: list[str]) -> pl.Expr:
    """The month (1-12) of the largest share column, the earliest on ties."""
    largest = pl.max_horizontal(shares)
    month = pl.when(pl.col(shares[0]) == largest).then(pl.lit(1, dtype=pl.Int8))
    for number, share in enumerate(shares[1:], start=2):
        month = month.when(pl.col(share) == largest).then(pl.lit(number, dtype=pl.Int8))
    return month


def days_to_month(cutoff: date, month: pl.Expr) -> pl.Expr:
    """Days from ``cutoff`` to the next first day of ``month`` (0 when the cutoff is in it)."""
    year = pl.lit(cutoff.year) + (month < cutoff.month).cast(pl.Int32)
    start = pl.date(year, month, 1)
    return pl.when(month == cutoff.month).then(0).otherwise(days_between(start, pl.lit(cutoff)))


def derived_features(cutoff: date) -> dict[str, pl.Expr]:
    """Features computed from the per-client aggregates of :func:`occasion_aggregates`."""
    month_shares = [f"month_share_{month:02d}" for month in MONTHS]
    frequency = pl.col("frequency")
    repeat = frequency - 1
    gap_mean = safe_ratio(pl.col("tenure_days") - pl.col("recency_days"), repeat)
    return {
        "gap_mean_days": gap_mean,
        "gap_std_days": pl.when(repeat > 0).then(pl.col("gap_std_days")),
        "overdue_days": pl.col("recency_days") - gap_mean,
        "spend_trend": safe_ratio(
            pl.col("spend_365d") - pl.col("spend_prev_365d"),
            pl.col("spend_365d") + pl.col("spend_prev_365d"),
        ),
        "returns_ratio": safe_ratio(pl.col("value_returned"), pl.col("gross_bought")),
        "habitual_month": habitual_month(month_shares),
        "launch_share": pl.col("launch_occasions") / frequency,
        "private_sale_share": pl.col("private_sale_occasions") / frequency,
        "recency_tenure_ratio": pl.col("recency_days") / pl.col("tenure_days"),
        "occasions_per_year": frequency / (pl.col("tenure_days") / 365.25),
    }


def client_attributes(history: PurchaseHistory, cutoff: date) -> pl.LazyFrame:
    """The clients table's attributes as features at ``cutoff`` (one row per client)."""
    boutiques = boutique_table(history.boutiques)
    home_boutique_country = boutiques.lookup(pl.col("home_boutique_id"), "country", pl.String)
    return history.clients.select(
        "client_id",
        "first_purchase_date",
        "tier",
        age=pl.lit(cutoff.year) - pl.col("birth_year"),
        gender="gender",
        contact_opt_in="contact_opt_in",
        home_country=pl.coalesce("home_country", home_boutique_country),
        language="language",
        home_boutique_country=home_boutique_country,
    )


def bgnbd_inputs(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD's (frequency, recency, T) in days: repeats, first to last, first to cutoff."""
    frequency = (frame["frequency"] - 1).cast(pl.Float64).to_numpy()
    tenure = frame["tenure_days"].cast(pl.Float64).to_numpy()
    recency = tenure - frame["recency_days"].cast(pl.Float64).to_numpy()
    return frequency, recency, tenure


def bgnbd_quantities(model: BetaGeoModel, frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """P(alive), expected occasions and P(>= 1 occasion) over the BG/NBD horizons."""
    predictions = model.predictions(BGNBD_HORIZONS, *bgnbd_inputs(frame))
    quantities = {"bgnbd_p_alive": predictions["p_alive"]}
    for horizon in BGNBD_HORIZONS:
        quantities[f"bgnbd_expected_{horizon}d"] = predictions[f"expected_{horizon}"]
        quantities[f"bgnbd_p_buy_{horizon}d"] = predictions[f"p_at_least_one_{horizon}"]
    return {name: np.asarray(values, dtype=np.float64) for name, values in quantities.items()}


def with_bgnbd(frame: pl.LazyFrame, model: BetaGeoModel) -> pl.LazyFrame:
    """Add the BG/NBD columns of a fitted ``model``, lazily and row by row independent."""

    def compute(batch: pl.Series) -> pl.Series:
        return pl.DataFrame(bgnbd_quantities(model, batch.struct.unnest())).to_struct()

    return frame.with_columns(
        pl.struct("frequency", "recency_days", "tenure_days")
        .map_batches(
            compute,
            return_dtype=pl.Struct(dict.fromkeys(BGNBD_FEATURES, pl.Float64)),
            is_elementwise=True,
        )
        .struct.unnest()
    )


def fit_bgnbd(frame: pl.DataFrame, max_clients: int = BGNBD_FIT_CLIENTS) -> BetaGeoModel:
    """Fit a BG/NBD model on the population of ``frame`` (one row per client).

    Above ``max_clients`` clients the fit uses a deterministic sample of about that many (chosen
    by a hash of ``client_id``): four parameters are estimated as well from 100k clients as from
    millions, ten times faster.
    """
    from features.bgnbd import BetaGeoModel

    if frame.height > max_clients:
        keep = pl.col("client_id").hash(seed=0) % frame.height < max_clients
        frame = frame.filter(keep)
    frequency, recency, tenure = bgnbd_inputs(frame)
    # The same clients in any row order must give the same parameters, to the last digit.
    order = np.lexsort((tenure, recency, frequency))
    return BetaGeoModel().fit(frequency[order], recency[order], tenure[order])


def client_features(
    history: PurchaseHistory,
    cutoff: date,
    reference_currency: str = "EUR",
    bgnbd: BetaGeoModel | None = None,
    *,
    lines: pl.LazyFrame | None = None,
    receipts: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Client features at ``cutoff`` from the purchases strictly before it (local date).

    One row per client with at least one purchase occasion before ``cutoff``: ``client_id``,
    ``cutoff`` and the columns of :data:`CLIENT_FEATURES`. Money is in ``reference_currency``.
    The BG/NBD model is fitted on this population unless ``bgnbd`` (fitted) is given, in which
    case the per-client aggregates are returned as a lazy query (the receipts and the lists
    they are computed from are collected first). ``lines`` may pass
    :func:`features.normalise.normalised_lines` collected once to reuse across cutoffs (they
    must be in ``reference_currency``); ``receipts`` may pass client receipts netted once for
    many cutoffs instead (:meth:`features.normalise.ClientReceipts.window`), and then no line
    is read.

    The pipeline nets the lines into receipts (one group-by), orders the occasions by client
    and time (two single-key sorts), implodes each client's occasions into lists and computes
    every aggregate with list kernels: no other group-by, join or sort runs over the occasions.
    The BG/NBD fit (NumPy, one thread) runs in a second thread while polars computes the
    other aggregates: it needs only each client's frequency, recency and tenure.
    """
    boutiques = boutique_table(history.boutiques)
    countries = BoutiqueCountries.of(boutiques)
    netted = (
        client_receipts_before(history, cutoff, reference_currency, lines, receipts)
        .select(RECEIPT_COLUMNS)
        .collect()
    )
    ordered = ordered_occasions(netted, cutoff, event_day_keys(history, boutiques), countries)
    lists = occasion_lists(ordered).collect()
    returned = (
        netted.lazy()
        .filter(~pl.col("is_occasion"))
        .group_by("client_id")
        .agg(
            extra_gross=pl.col("gross_amount_ref").sum(),
            extra_returned=pl.col("returned_amount_ref").sum(),
        )
    )
    attributes = client_attributes(history, cutoff)
    frame = (
        occasion_aggregates(lists.lazy(), countries)
        .join(returned, on="client_id", how="left")
        .join(attributes, on="client_id", how="left")
        .with_columns(
            gross_bought=pl.col("gross_bought") + pl.col("extra_gross").fill_null(0.0),
            value_returned=pl.col("value_returned") + pl.col("extra_returned").fill_null(0.0),
            share_abroad=pl.when(pl.col("home_country").is_not_null()).then(
                safe_ratio(
                    pl.col("countries_known") - countries.in_home_country(pl.col("home_country")),
                    pl.col("countries_known"),
                )
            ),
        )
        .with_columns(**derived_features(cutoff))
        .with_columns(
            habitual_month_share=pl.max_horizontal(f"month_share_{month:02d}" for month in MONTHS),
            days_to_habitual_month=days_to_month(cutoff, pl.col("habitual_month")),
            cutoff=pl.lit(cutoff),
            client_since_days=pl.max_horizontal(
                "tenure_days", days_between(pl.lit(cutoff), pl.col("first_purchase_date"))
            ),
        )
    )
    columns = ["client_id", "cutoff", *CLIENT_FEATURES]
    if bgnbd is not None:
        return with_bgnbd(frame, bgnbd).select(columns)
    if lists.height == 0:
        empty = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in BGNBD_FEATURES)
        return empty.select(columns).collect().lazy()
    with ThreadPoolExecutor(max_workers=1) as pool:
        fitted = pool.submit(fit_bgnbd, bgnbd_population(lists))
        collected = frame.collect()
        model = fitted.result()
    return with_bgnbd(collected.lazy(), model).select(columns)


def bgnbd_population(lists: pl.DataFrame) -> pl.DataFrame:
    """The columns :func:`fit_bgnbd` reads, from the clients' :func:`occasion_lists`."""
    days_before = pl.col("days_before")
    return lists.select(
        "client_id",
        frequency=days_before.list.len(),
        recency_days=days_before.list.last(),
        tenure_days=days_before.list.first(),
    )
