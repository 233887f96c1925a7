"""Next-purchase labels: what each client did in the window ``[t, t + H)`` after a cutoff ``t``.

Labels read only the purchase lines whose boutique-local date falls in the window, so that moving
any event outside it leaves them unchanged. A client without any receipt in the window has no row:
:data:`NO_PURCHASE_LABELS` gives the values such a client takes (the training frame fills them).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from features.errors import UserInputError
from features.history import PurchaseHistory
from features.normalise import boutique_table, netted_receipts, normalised_lines, window_filter

LABEL_DESCRIPTIONS: dict[str, str] = {
    "label_occasions": "Purchase occasions in [t, t + H).",
    "label_bought": "At least one purchase occasion in [t, t + H).",
    "label_bought_30d": "First purchase occasion within 30 days of t (and within the window).",
    "label_spend": "Net spend in [t, t + H), returns included, clipped at 0.",
    "label_division": "Main division of the first occasion in the window.",
    "label_days_to_next": "Days from t to the first occasion; null when none in the window.",
    "label_censored": "No occasion in the window: days_to_next is censored at H.",
}
NO_PURCHASE_LABELS: dict[str, object] = {
    "label_occasions": 0,
    "label_bought": False,
    "label_bought_30d": False,
    "label_spend": 0.0,
    "label_censored": True,
}


def check_horizon(horizon_days: int) -> None:
    """Refuse a horizon that is not a positive number of days."""
    if horizon_days < 1:
        raise UserInputError(f"horizon_days must be at least 1 day, got {horizon_days}")


def client_labels(
    history: PurchaseHistory,
    cutoff: date,
    horizon_days: int,
    reference_currency: str = "EUR",
    *,
    lines: pl.LazyFrame | None = None,
    receipts: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """The labels of every client with a receipt in ``[cutoff, cutoff + horizon_days)``.

    Columns: ``client_id``, ``cutoff`` and those of :data:`LABEL_DESCRIPTIONS`. Money is in
    ``reference_currency``. ``lines`` may pass :func:`features.normalise.normalised_lines`
    collected once to reuse across cutoffs (they must be in ``reference_currency``);
    ``receipts`` may pass client receipts netted once for many cutoffs instead
    (:meth:`features.normalise.ClientReceipts.window`), and then no line is read.
    """
    check_horizon(horizon_days)
    end = cutoff + timedelta(days=horizon_days)
    if receipts is None:
        if lines is None:
            lines = normalised_lines(history, reference_currency, start=cutoff, end=end)
        receipts = netted_receipts(
            lines.filter(pl.col("client_id").is_not_null() & window_filter(cutoff, end)),
            boutique_table(history.boutiques),
            walk_ins=False,
        )
    window = receipts.filter(window_filter(cutoff, end))
    occasion = pl.col("is_occasion")
    days_after = (pl.col("purchase_date") - pl.lit(cutoff)).dt.total_days()
    return (
        # A group keeps the order of its rows: sorted by time, the first occasion comes first
        # (the larger one first when two share the same instant).
        window.sort(
            "purchased_local", "net_amount_ref", "division", descending=[False, True, False]
        )
        .group_by("client_id")
        .agg(
            label_occasions=occasion.sum(),
            label_spend=pl.col("net_amount_ref").sum().clip(lower_bound=0.0),
            label_days_to_next=days_after.filter(occasion).min(),
            label_division=pl.col("division").filter(occasion).first(),
        )
        .select(
            "client_id",
            cutoff=pl.lit(cutoff),
            label_occasions="label_occasions",
            label_bought=pl.col("label_occasions") > 0,
            label_bought_30d=(pl.col("label_days_to_next") < 30).fill_null(False),
            label_spend="label_spend",
            label_division="label_division",
            label_days_to_next="label_days_to_next",
            label_censored=pl.col("label_days_to_next").is_null(),
        )
    )
