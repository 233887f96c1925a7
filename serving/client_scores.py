"""Every snapshot client's predictions and reasons, computed once per champion and snapshot.

The reasons come from LightGBM's ``pred_contrib`` (TreeSHAP) over the whole snapshot: about
1.5 ms of CPU per client, so some 24 s of CPU for 16,000 clients, far too long for a service
start-up or a reload request. They depend only on the champion and the snapshot, so they are
computed once per (snapshot, model version), written next to the snapshots::

    snapshots/.serving-cache/<snapshot name>/<registered name>-v<version>.parquet

and read back by every later start-up, worker and reload (a fraction of a second).
``clientcast serve`` computes the file before starting the workers when it is missing
(:func:`serving.startup.check_ready_to_serve`), so that no worker has to at start-up. After a
promotion or a new snapshot, a reload computes it in a background thread limited to
``num_threads`` OpenMP threads (one), so that the request path keeps the other cores. The call
lists rank clients with these predictions; ``/next_purchase`` still runs the boosters on the
requested rows, so its numbers are the same.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import polars as pl
from threadpoolctl import threadpool_limits

from features.atomic_write import staged_file
from features.errors import UserInputError
from training.call_lists import reasons_by_client

logger = logging.getLogger(__name__)

CACHE_FOLDER = ".serving-cache"
TOP_REASONS = 3


def scores_path(snapshot_path: Path, model_name: str, version: str) -> Path:
    """Where the scores of model ``model_name`` v``version`` on a snapshot are kept."""
    snapshot_path = Path(snapshot_path)
    folder = snapshot_path.parent / CACHE_FOLDER / snapshot_path.name
    return folder / f"{model_name}-v{version}.parquet"


def compute_client_scores(
    bundle: Any, clients: pl.DataFrame, num_threads: int | None = None
) -> pl.DataFrame:
    """``bundle.predict`` of every client with ``reasons``, its top reasons strongest first.

    ``num_threads`` caps the OpenMP threads LightGBM uses for it (None: all cores).
    """
    # Reasons quote values as text: enum and categorical columns (last_division) go in as strings.
    as_text = clients.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    limit = (
        nullcontext()
        if num_threads is None
        else threadpool_limits(limits=num_threads, user_api="openmp")
    )
    with limit:
        reasons = reasons_by_client(bundle.explain(as_text, top_k=TOP_REASONS))
        predictions = bundle.predict(clients)
    return (
        predictions.lazy()
        .join(reasons, on="client_id", how="left", maintain_order="left")
        .with_columns(pl.col("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .collect()
    )


def client_scores(
    bundle: Any,
    info: dict[str, Any],
    snapshot_path: Path,
    clients: pl.DataFrame,
    num_threads: int | None = None,
) -> pl.DataFrame:
    """The cached scores of the snapshot's ``clients`` for this champion, computed if missing
    (on at most ``num_threads`` threads; None: all cores).

    Rows follow ``clients``. A cache that cannot be written (a read-only volume) only costs
    the computation at each start-up.
    """
    path = scores_path(snapshot_path, str(info["name"]), str(info["version"]))
    if path.is_file():
        cached = pl.read_parquet(path)
        if cached.height == clients.height and cached["client_id"].equals(clients["client_id"]):
            return cached
        logger.warning("%s does not match the snapshot's clients; recomputing", path)
    logger.info("computing reasons for %d clients (once per champion and snapshot)", clients.height)
    scores = compute_client_scores(bundle, clients, num_threads)
    try:
        with staged_file(path) as temporary:
            scores.write_parquet(temporary)
    except (OSError, UserInputError) as error:  # a read-only volume, a file in the way
        logger.warning("cannot cache the client scores in %s: %s", path.parent, error)
    return scores
