"""Training frames: features before each cutoff, labels from ``[cutoff, cutoff + H)``, stacked.

A model learns from several cutoffs at once (a stacked frame of (client_id, cutoff) rows) and is
evaluated on a later test cutoff. :func:`rolling_origin_cutoffs` lays the training cutoffs out so
that no label window crosses the test cutoff: nothing the model learns from happened on or after
the day it is tested on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from features.client_features import client_features
from features.client_labels import NO_PURCHASE_LABELS, check_horizon, client_labels
from features.errors import UserInputError
from features.history import PurchaseHistory
from features.normalise import (
    ClientReceipts,
    boutique_table,
    client_receipts,
    normalised_lines,
)

# The line columns the client features and labels read (the rest is dropped from memory).
CLIENT_LINE_COLUMNS: tuple[str, ...] = (
    "receipt_id",
    "client_id",
    "boutique_code",
    "purchased_local",
    "purchase_date",
    "quantity",
    "amount_ref",
    "division",
)


def rolling_origin_cutoffs(
    test_cutoff: date,
    horizon_days: int,
    n_cutoffs: int,
    step_days: int,
    *,
    earliest: date | None = None,
) -> list[date]:
    """``n_cutoffs`` training cutoffs ``step_days`` apart, oldest first, the last one ``H`` days
    before ``test_cutoff``: every label window ``[c, c + H)`` ends on or before the test cutoff.

    Raises :class:`UserInputError` for non-positive arguments and, when ``earliest`` is given
    (e.g. the first day of the history), for a layout whose oldest cutoff falls before it.
    """
    check_horizon(horizon_days)
    if n_cutoffs < 1:
        raise UserInputError(f"n_cutoffs must be at least 1, got {n_cutoffs}")
    if step_days < 1:
        raise UserInputError(f"step_days must be at least 1 day, got {step_days}")
    try:
        last = test_cutoff - timedelta(days=horizon_days)
        oldest = last - timedelta(days=step_days * (n_cutoffs - 1))
    except OverflowError:
        raise UserInputError(
            f"{n_cutoffs} cutoffs every {step_days} days before {test_cutoff} - {horizon_days} "
            "days reach before year 1"
        ) from None
    if earliest is not None and oldest < earliest:
        raise UserInputError(
            f"{n_cutoffs} cutoffs every {step_days} days with a {horizon_days}-day horizon before "
            f"the test cutoff {test_cutoff} start on {oldest}, before the earliest allowed day "
            f"{earliest}: use fewer cutoffs or a shorter step"
        )
    return [oldest + timedelta(days=step_days * index) for index in range(n_cutoffs)]


def checked_cutoffs(cutoffs: Sequence[date]) -> list[date]:
    """The distinct cutoffs, oldest first; refuse an empty list."""
    distinct = sorted(set(cutoffs))
    if not distinct:
        raise UserInputError("a training frame needs at least one cutoff")
    return distinct


def client_training_lines(
    history: PurchaseHistory,
    cutoffs: Sequence[date],
    horizon_days: int,
    reference_currency: str,
) -> pl.DataFrame:
    """The normalised client lines every cutoff reads, collected once: up to the last window.

    Raises :class:`UserInputError` when a label window runs past the last day of the history.
    """
    lines = (
        normalised_lines(history, reference_currency)
        .filter(pl.col("client_id").is_not_null())
        .select(CLIENT_LINE_COLUMNS)
        .collect()
    )
    last_day = lines["purchase_date"].max()
    window_end = cutoffs[-1] + timedelta(days=horizon_days)
    if last_day is None or window_end > last_day + timedelta(days=1):
        raise UserInputError(
            f"the label window of cutoff {cutoffs[-1]} ({horizon_days} days) ends on "
            f"{window_end - timedelta(days=1)}, after the last day of the history ({last_day}): "
            "use an earlier cutoff or a shorter horizon"
        )
    return lines.filter(pl.col("purchase_date") < window_end)


def client_cutoff_rows(
    history: PurchaseHistory,
    cutoff: date,
    horizon_days: int,
    reference_currency: str,
    receipts: ClientReceipts,
) -> pl.LazyFrame:
    """The rows of one cutoff: features before it, labels after it, sorted by client."""
    end = cutoff + timedelta(days=horizon_days)
    features = client_features(
        history, cutoff, reference_currency, receipts=receipts.window(end=cutoff)
    )
    labels = client_labels(
        history, cutoff, horizon_days, reference_currency, receipts=receipts.window(cutoff, end)
    ).drop("cutoff")
    return (
        features.join(labels, on="client_id", how="left")
        .with_columns(
            pl.col(name).fill_null(pl.lit(value)) for name, value in NO_PURCHASE_LABELS.items()
        )
        .sort("client_id")
    )


def sink_client_training_frame(
    history: PurchaseHistory,
    cutoffs: Sequence[date],
    horizon_days: int,
    folder: Path,
    reference_currency: str = "EUR",
) -> list[Path]:
    """Write the training frame of :func:`build_client_training_frame` to ``folder``, one
    Parquet file per cutoff (``cutoff=<date>.parquet``, oldest first), and return their paths.

    Only one cutoff's rows are in memory at a time: read the files in order with
    ``pl.scan_parquet`` to get the frame sorted by cutoff and client. Each file is written under
    a temporary name, then renamed.
    """
    cutoffs = checked_cutoffs(cutoffs)
    check_horizon(horizon_days)
    lines = client_training_lines(history, cutoffs, horizon_days, reference_currency)
    receipts = client_receipts(lines, boutique_table(history.boutiques))
    del lines  # the receipts hold all the cutoffs need
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for cutoff in cutoffs:
        path = folder / f"cutoff={cutoff.isoformat()}.parquet"
        staging = folder / f".{path.name}.tmp"
        rows = client_cutoff_rows(history, cutoff, horizon_days, reference_currency, receipts)
        rows.sink_parquet(staging)
        staging.replace(path)
        paths.append(path)
    return paths


def build_client_training_frame(
    history: PurchaseHistory,
    cutoffs: Sequence[date],
    horizon_days: int,
    reference_currency: str = "EUR",
) -> pl.DataFrame:
    """Stacked (client_id, cutoff) rows: client features before each cutoff, labels after it.

    The rows of a cutoff are the clients known before it (see
    :func:`features.client_features.client_features`, BG/NBD fitted at that cutoff); clients
    without a receipt in the window get :data:`features.client_labels.NO_PURCHASE_LABELS`.
    Raises :class:`UserInputError` when a label window runs past the last day of the history
    (the labels would be silently truncated). The lines are normalised and netted into
    receipts once for all cutoffs (:func:`features.normalise.client_receipts`); each cutoff's
    rows go to a temporary Parquet file (:func:`sink_client_training_frame`), so that the
    memory holds the receipts and one cutoff's work, then only the finished frame.
    """
    with tempfile.TemporaryDirectory(prefix="clientcast-training-frame-") as folder:
        paths = sink_client_training_frame(
            history, cutoffs, horizon_days, Path(folder), reference_currency
        )
        return pl.scan_parquet(paths).collect()


def build_training_frame(
    history: PurchaseHistory,
    cutoffs: Sequence[date],
    horizon_days: int,
    entity: Literal["client", "boutique"],
    reference_currency: str = "EUR",
) -> pl.DataFrame:
    """The training frame of ``entity``: clients (next purchase) or boutiques (daily footfall)."""
    if entity == "client":
        return build_client_training_frame(history, cutoffs, horizon_days, reference_currency)
    if entity == "boutique":
        from features.boutique_features import build_boutique_training_frame

        return build_boutique_training_frame(history, list(cutoffs), horizon_days)
    raise UserInputError(f"entity must be 'client' or 'boutique', got {entity!r}")
