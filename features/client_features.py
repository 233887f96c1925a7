"""Point-in-time client features: what was known about each client just before a cutoff.

:func:`client_features` returns one row per client whose first purchase occasion falls before the
cutoff ``t`` (boutique-local date), built only from purchase lines whose local date is before
``t``: the lines are filtered before receipts are netted, so nothing on or after ``t`` can leak in.
The static client attributes (tier, birth year, ...) come from the clients table.

Every feature depends only on the client's own history, except the BG/NBD quantities, whose model
is fitted on the whole population at ``t``; pass a fitted model to compute a shard of clients (a
hash partition of ``client_id``) and get the very rows the whole population would give.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from features.contract import DIVISIONS
from features.division_features import (
    CATEGORICAL_DIVISION_FEATURES,
    DIVISION_FEATURES,
    division_features,
)
from features.history import PurchaseHistory
from features.normalise import (
    BoutiqueTable,
    boutique_event_days,
    boutique_table,
    client_home_countries,
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


def client_occasions_before(
    history: PurchaseHistory,
    cutoff: date,
    lines: pl.LazyFrame | None,
    *,
    receipts: pl.LazyFrame | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Client receipts before ``cutoff``, split into (occasions, return receipts).

    The receipts are netted from ``lines`` (normalised), or given already netted as
    ``receipts`` (see :class:`features.normalise.ClientReceipts`). Occasions gain
    ``is_abroad``, ``days_before`` (cutoff minus local date), ``month`` and the event flags of
    their boutique and day.
    """
    boutiques = boutique_table(history.boutiques)
    if receipts is None:
        if lines is None:
            raise ValueError("client_occasions_before needs lines or receipts")
        client_lines = lines.filter(
            pl.col("client_id").is_not_null() & (pl.col("purchase_date") < cutoff)
        )
        receipts = netted_receipts(client_lines, boutiques, walk_ins=False)
    # Cached: the occasions and the return receipts share one netting.
    netted = receipts.filter(pl.col("purchase_date") < cutoff).cache()
    day_key = event_day_key(pl.col("boutique_code"), pl.col("purchase_date"))
    occasions = (
        netted.filter(pl.col("is_occasion"))
        .join(client_home_countries(history), on="client_id", how="left")
        .with_columns(
            is_abroad=pl.col("boutique_country") != pl.col("home_country"),
            days_before=days_between(pl.lit(cutoff), pl.col("purchase_date")),
            month=pl.col("purchase_date").dt.month(),
            **{
                flag: day_key.is_in(keys.implode())
                for flag, keys in event_day_keys(history, boutiques).items()
            },
        )
    )
    return occasions, netted.filter(~pl.col("is_occasion"))


def occasion_indicators(occasions: pl.LazyFrame) -> pl.LazyFrame:
    """Per-occasion columns that the per-client aggregation only sums, averages or takes the min of.

    Computing them before grouping keeps every aggregation a plain column reduction (the fast
    path of polars' group-by).
    """
    days_before = pl.col("days_before")
    net = pl.col("net_amount_ref")
    indicators: dict[str, pl.Expr] = {}
    for window in WINDOWS:
        inside = days_before <= window
        indicators[f"occasions_{window}d"] = inside
        indicators[f"spend_{window}d"] = net * inside
    previous_year = (days_before > 365) & (days_before <= 730)
    indicators["occasions_prev_365d"] = previous_year
    indicators["spend_prev_365d"] = net * previous_year
    for division in DIVISIONS:
        slug = division_slug(division)
        is_division = pl.col("division") == division
        indicators[f"division_share_{slug}"] = is_division
        indicators[f"division_recency_{slug}"] = pl.when(is_division).then(days_before)
    for month in MONTHS:
        indicators[f"month_share_{month:02d}"] = pl.col("month") == month
    return occasions.with_columns(**indicators)


SUMMED: tuple[str, ...] = (
    *(f"{kind}_{window}d" for window in WINDOWS for kind in ("occasions", "spend")),
    "occasions_prev_365d",
    "spend_prev_365d",
)
AVERAGED: tuple[str, ...] = (
    *(f"division_share_{division_slug(division)}" for division in DIVISIONS),
    *(f"month_share_{month:02d}" for month in MONTHS),
)
MINIMISED: tuple[str, ...] = tuple(
    f"division_recency_{division_slug(division)}" for division in DIVISIONS
)
# A client's occasions in time order; at the same instant the larger one last.
OCCASION_ORDER: tuple[str, ...] = ("client_id", "purchased_local", "net_amount_ref", "division")


def ordered_occasions(occasions: pl.LazyFrame) -> pl.LazyFrame:
    """The occasions sorted by :data:`OCCASION_ORDER`, computed once for every reader.

    On sorted clients a group-by works on contiguous slices (its fastest path), the gaps are a
    shift and the last occasion is ``last()``: grouping unsorted occasions with ``max_by`` and
    per-group sorts instead cost 40% more CPU than this one sort (10M lines). The result is a
    cached node, so the aggregates and the division features share one netting and one sort.
    """
    return occasions.sort(OCCASION_ORDER, nulls_last=True).cache()


def occasion_aggregates(ordered: pl.LazyFrame) -> pl.LazyFrame:
    """Per client, every aggregate of the occasions the features are derived from.

    ``ordered`` holds the occasions sorted by :data:`OCCASION_ORDER` (see
    :func:`ordered_occasions`): a group keeps the order of its rows, so the first and last
    occasions are ``first()`` and ``last()`` and the gaps a shift.
    """
    days_before = pl.col("days_before")
    net = pl.col("net_amount_ref")
    same_client = pl.col("client_id") == pl.col("client_id").shift(1)
    return (
        occasion_indicators(ordered)
        .with_columns(gap=pl.when(same_client).then(days_before.shift(1) - days_before))
        .group_by("client_id")
        .agg(
            pl.len().alias("frequency"),
            days_before.last().alias("recency_days"),
            days_before.first().alias("tenure_days"),
            pl.col("purchase_date").first().alias("first_occasion_date"),
            net.sum().alias("monetary_total"),
            net.mean().alias("monetary_mean"),
            net.max().alias("monetary_max"),
            net.last().alias("last_occasion_spend"),
            pl.col("division").last().alias("last_division"),
            pl.col("gap").std(ddof=0).alias("gap_std_days"),
            pl.col("gap").last().alias("gap_last_days"),
            pl.col(SUMMED).sum(),
            pl.col(AVERAGED).mean(),
            pl.col(MINIMISED).min(),
            pl.col("division").drop_nulls().n_unique().alias("n_divisions"),
            pl.col("boutique_code").n_unique().alias("n_boutiques"),
            pl.col("is_abroad").mean().alias("share_abroad"),
            pl.col("is_online").mean().alias("share_online"),
            pl.col("is_launch").sum().alias("launch_occasions"),
            pl.col("is_private_sale").sum().alias("private_sale_occasions"),
            pl.col("gross_amount_ref").sum().alias("gross_bought"),
            pl.col("returned_amount_ref").sum().alias("value_returned"),
        )
    )


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
    frequency, recency, tenure = bgnbd_inputs(frame)
    quantities = {"bgnbd_p_alive": model.p_alive(frequency, recency, tenure)}
    for horizon in BGNBD_HORIZONS:
        quantities[f"bgnbd_expected_{horizon}d"] = model.expected_purchases(
            horizon, frequency, recency, tenure
        )
        quantities[f"bgnbd_p_buy_{horizon}d"] = model.prob_at_least_one(
            horizon, frequency, recency, tenure
        )
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
    case the query stays lazy. ``lines`` may pass :func:`features.normalise.normalised_lines`
    collected once to reuse across cutoffs (they must be in ``reference_currency``);
    ``receipts`` may pass client receipts netted once for many cutoffs instead
    (:meth:`features.normalise.ClientReceipts.window`), and then no line is read.
    """
    if lines is None and receipts is None:
        lines = normalised_lines(history, reference_currency, end=cutoff)
    occasions, return_receipts = client_occasions_before(history, cutoff, lines, receipts=receipts)
    occasions = ordered_occasions(occasions)
    returned = return_receipts.group_by("client_id").agg(
        extra_gross=pl.col("gross_amount_ref").sum(),
        extra_returned=pl.col("returned_amount_ref").sum(),
    )
    frame = (
        occasion_aggregates(occasions)
        .join(division_features(occasions), on="client_id", how="left")
        .join(returned, on="client_id", how="left")
        .with_columns(
            gross_bought=pl.col("gross_bought") + pl.col("extra_gross").fill_null(0.0),
            value_returned=pl.col("value_returned") + pl.col("extra_returned").fill_null(0.0),
        )
        .with_columns(**derived_features(cutoff))
        .with_columns(
            habitual_month_share=pl.max_horizontal(f"month_share_{month:02d}" for month in MONTHS),
            days_to_habitual_month=days_to_month(cutoff, pl.col("habitual_month")),
        )
        .join(client_attributes(history, cutoff), on="client_id", how="left")
        .with_columns(
            cutoff=pl.lit(cutoff),
            client_since_days=days_between(
                pl.lit(cutoff),
                pl.min_horizontal("first_occasion_date", "first_purchase_date"),
            ),
        )
    )
    columns = ["client_id", "cutoff", *CLIENT_FEATURES]
    if bgnbd is not None:
        return with_bgnbd(frame, bgnbd).select(columns)
    collected = frame.collect()
    if collected.height == 0:
        empty = collected.with_columns(
            pl.lit(None, dtype=pl.Float64).alias(c) for c in BGNBD_FEATURES
        )
        return empty.lazy().select(columns)
    return with_bgnbd(collected.lazy(), fit_bgnbd(collected)).select(columns)
