"""Call lists: which clients a boutique should contact, why, and on which quiet days to invite them.

One rule set, shared by the service (``POST /call_list``) and the planners' forecasts, so that an
associate's phone and the planner's table never disagree:

- a client belongs to the call list of its *home boutique* only, so no client is called twice;
- clients without an explicit contact opt-in (``contact_opt_in`` true) are never listed; a
  clients table without that column lists nobody;
- clients are ranked by the probability of buying within the horizon (times the probability of
  the requested division, given a purchase, when a division is asked for);
- each row carries the client's pseudonymous id only, the probabilities, the most likely (or the
  requested) division, the top reasons and the boutique's quietest forecast days within the
  horizon, when an associate has time for an appointment.

The probability of buying within ``h`` days comes from the model's 30- and 90-day probabilities
with a constant hazard between them: ``1 - (1 - p30) ** (h / 30)`` up to 30 days, then
``1 - (1 - p30) * ((1 - p90) / (1 - p30)) ** ((h - 30) / 60)`` up to 90. It equals ``p_buy_30d``
at 30 days and ``p_buy_90d`` at 90 and never decreases with ``h``.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from features.errors import UserInputError

MODEL_HORIZON_DAYS = 90
OPEN_MIN_VISITORS = 0.5
"""A day or hour whose P50 forecast is below half a visitor (it rounds to nobody) counts as
closed: never a quiet day to invite a client, never among the busiest or quietest days, left out
of the hourly map."""
MAX_CALL_LIST = 200
INVITE_DAYS = 3
CALL_LIST_COLUMNS: dict[str, pl.DataType] = {
    "boutique_id": pl.String,
    "rank": pl.Int32,
    "client_id": pl.String,
    "p_buy": pl.Float64,
    "p_buy_30d": pl.Float64,
    "p_buy_90d": pl.Float64,
    "division": pl.String,
    "p_division": pl.Float64,
    "expected_spend_90d": pl.Float64,
    "days_to_next_p50": pl.Float64,
    "reasons": pl.List(pl.String),
    "invite_days": pl.List(pl.Date),
}
PREDICTION_COLUMNS: tuple[str, ...] = (
    "client_id",
    "p_buy_30d",
    "p_buy_90d",
    "expected_spend_90d",
    "next_division",
    "days_to_next_p50",
)


def division_probability_column(division: str) -> str:
    """The prediction column of ``division``'s probability: ``p_division_leather_goods``."""
    from training.next_purchase.bundle import division_column

    return division_column(division)


def probability_within(horizon_days: int) -> pl.Expr:
    """P(at least one purchase within ``horizon_days``) from ``p_buy_30d`` and ``p_buy_90d``."""
    if not 1 <= horizon_days <= MODEL_HORIZON_DAYS:
        raise UserInputError(
            f"horizon_days must be between 1 and {MODEL_HORIZON_DAYS} (the model's horizon), "
            f"got {horizon_days}"
        )
    ceiling = 1.0 - 1e-12
    stay_30 = 1.0 - pl.col("p_buy_30d").clip(0.0, ceiling)
    stay_90 = 1.0 - pl.max_horizontal("p_buy_30d", "p_buy_90d").clip(0.0, ceiling)
    if horizon_days <= 30:
        return 1.0 - stay_30.pow(horizon_days / 30)
    return 1.0 - stay_30 * (stay_90 / stay_30).pow((horizon_days - 30) / 60)


def reasons_by_client(reasons: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """``client_id`` and ``reasons`` (a list, strongest first) from ``NextPurchaseBundle.explain``
    rows (``client_id``, ``rank``, ``reason``): what ``build_call_list`` expects beside the
    predictions."""
    return (
        reasons.lazy()
        .sort("client_id", "rank")
        .group_by("client_id", maintain_order=True)
        .agg(pl.col("reason").alias("reasons"))
    )


def quiet_days(
    footfall_daily: pl.DataFrame | pl.LazyFrame,
    start: date,
    horizon_days: int,
    count: int = INVITE_DAYS,
) -> pl.LazyFrame:
    """Per boutique, the ``count`` open days of [start, start + horizon) with the lowest P50.

    ``footfall_daily`` holds ``boutique_id``, ``date`` and ``p50``. A day forecast at no
    visitors (below :data:`OPEN_MIN_VISITORS`, or absent) is a closed day and is never proposed.
    Quietest first, then by date.
    """
    end = start + timedelta(days=horizon_days)
    return (
        footfall_daily.lazy()
        .filter(pl.col("date") >= start, pl.col("date") < end, pl.col("p50") >= OPEN_MIN_VISITORS)
        .sort("boutique_id", "p50", "date")
        .group_by("boutique_id", maintain_order=True)
        .agg(pl.col("date").head(count).alias("invite_days"))
    )


def _checked(
    frame: pl.DataFrame | pl.LazyFrame, required: tuple[str, ...], name: str
) -> pl.LazyFrame:
    lazy = frame.lazy()
    missing = [column for column in required if column not in lazy.collect_schema()]
    if missing:
        raise UserInputError(f"{name} lacks the columns {missing} that call lists need")
    return lazy


def build_call_list(
    predictions: pl.DataFrame | pl.LazyFrame,
    clients: pl.DataFrame | pl.LazyFrame,
    footfall_daily: pl.DataFrame | pl.LazyFrame,
    boutique_id: str | None,
    n: int,
    horizon_days: int,
    division: str | None = None,
    *,
    start: date | None = None,
) -> pl.DataFrame:
    """The ``n`` clients of ``boutique_id`` (of every boutique when None) most likely to buy.

    ``predictions``: one row per client as ``NextPurchaseBundle.predict`` returns it
    (``client_id``, ``p_buy_30d``, ``p_buy_90d``, ``expected_spend_90d``, ``next_division``, the
    ``p_division_*`` columns, ``days_to_next_p50``), optionally with ``reasons`` (a list of
    phrases, see :func:`reasons_by_client`). ``clients``: ``client_id``, ``home_boutique_id`` and
    ``contact_opt_in``. ``footfall_daily``: ``boutique_id``, ``date``, ``p50``. ``start`` is the
    first day of the horizon (default: the first forecast day). Returns the columns of
    :data:`CALL_LIST_COLUMNS`, ``rank`` 1 first, per boutique. A ``division`` the predictions
    hold no probability for raises :class:`UserInputError` (never a silently empty list).
    """
    if not 1 <= n <= MAX_CALL_LIST:
        raise UserInputError(f"n must be between 1 and {MAX_CALL_LIST}, got {n}")
    p_within = probability_within(horizon_days)
    scores = _checked(predictions, PREDICTION_COLUMNS, "the predictions")
    footfall = _checked(footfall_daily, ("boutique_id", "date", "p50"), "the footfall forecast")
    client_table = _checked(clients, ("client_id", "home_boutique_id"), "the clients table")
    schema = scores.collect_schema()
    if division is None:
        division_name = pl.col("next_division")
        division_probability = _chosen_division_probability(schema)
        purchase_probability = pl.col("p_within")
    else:
        column = division_probability_column(division)
        if column not in schema:
            known = sorted(
                n.removeprefix("p_division_") for n in schema if n.startswith("p_division_")
            )
            raise UserInputError(
                f"division {division!r}: the predictions have no {column} column; the model "
                f"predicts the divisions {known}"
            )
        division_name = pl.lit(division)
        division_probability = pl.col(column)
        purchase_probability = pl.col("p_within") * pl.col("p_division")
    reasons = pl.col("reasons") if "reasons" in schema else pl.lit([], dtype=pl.List(pl.String))

    if "contact_opt_in" in client_table.collect_schema():
        opted_in = pl.col("contact_opt_in").fill_null(False)
    else:
        opted_in = pl.lit(False)
    homes = (
        client_table.filter(opted_in)
        .select("client_id", boutique_id=pl.col("home_boutique_id"))
        .unique("client_id", keep="first")
    )
    if boutique_id is not None:
        homes = homes.filter(pl.col("boutique_id") == boutique_id)

    first_day = start
    if first_day is None:
        first_day = footfall.select(pl.col("date").min()).collect().item()
    invites = (
        quiet_days(footfall, first_day, horizon_days)
        if first_day is not None
        else pl.LazyFrame(schema={"boutique_id": pl.String, "invite_days": pl.List(pl.Date)})
    )

    ranked = (
        scores.join(homes, on="client_id", how="inner")
        .select(
            "boutique_id",
            "client_id",
            "p_buy_30d",
            "p_buy_90d",
            "expected_spend_90d",
            "days_to_next_p50",
            p_within=p_within,
            division=division_name,
            p_division=division_probability,
            reasons=reasons,
        )
        .with_columns(p_buy=purchase_probability)
        .filter(pl.col("p_buy") > 0)
        .sort(["boutique_id", "p_buy", "client_id"], descending=[False, True, False])
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("boutique_id"))
        .filter(pl.col("rank") <= n)
        .join(invites, on="boutique_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("invite_days").fill_null(pl.lit([], dtype=pl.List(pl.Date))),
        )
    )
    return ranked.select(
        pl.col(name).cast(dtype) for name, dtype in CALL_LIST_COLUMNS.items()
    ).collect()


def _chosen_division_probability(schema: pl.Schema) -> pl.Expr:
    """The probability of each row's ``next_division``, read from its ``p_division_*`` column."""
    slug = "p_division_" + pl.col("next_division").str.to_lowercase().str.replace_all(
        "[^0-9a-z]+", "_"
    ).str.strip_chars("_")
    probability = pl.lit(None, dtype=pl.Float64)
    for column in (name for name in schema if name.startswith("p_division_")):
        probability = pl.when(slug == column).then(pl.col(column)).otherwise(probability)
    return probability
