"""The next-purchase request path: look rows up, run the boosters, shape the answer.

Everything a request needs is prepared once when the state loads: the snapshot's client features
as one C-contiguous float64 matrix in the boosters' column order (the bundle's
:class:`~training.next_purchase.frame.FeatureSpec`), the id-to-row hash index, and each client's
top reasons (``pred_contrib`` over the whole snapshot is heavy: :mod:`serving.client_scores`
computes it once per champion and snapshot, never per request).
A request then costs a fancy-index into the matrix and one ``Booster.predict`` per head with
``num_threads=1`` on exactly the requested rows; BentoML's adaptive batching hands this method the
ids of many concurrent requests at once.

An id the snapshot has no features for is answered without the model: ``no_purchase_history``
when the snapshot lists it among the clients without a purchase before its date, else
``unknown_client``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pydantic import TypeAdapter

from serving.schemas import TOP_DIVISIONS, NextPurchaseItem

FloatMatrix = NDArray[np.float64]
ITEMS = TypeAdapter(list[NextPurchaseItem])


def feature_matrix(bundle: Any, clients: pl.DataFrame) -> FloatMatrix:
    """The clients' features as a C-contiguous float64 matrix in the boosters' column order."""
    return np.ascontiguousarray(bundle.spec.matrix(clients), dtype=np.float64)


@dataclass(frozen=True)
class NextPurchaseScorer:
    """Scores snapshot clients by id with the champion's production heads."""

    heads: Any
    division_classes: tuple[str, ...]
    matrix: FloatMatrix
    client_rows: Mapping[str, int]
    reasons: tuple[tuple[str, ...], ...]
    currency: str
    snapshot_date: date
    model_version: str
    no_purchase_history: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        bundle: Any,
        clients: pl.DataFrame,
        client_rows: Mapping[str, int],
        reasons: pl.Series,
        currency: str,
        snapshot_date: date,
        model_version: str,
        no_purchase_history: Iterable[str] = (),
    ) -> NextPurchaseScorer:
        """Prepare the matrix of the snapshot's ``clients`` for ``bundle``; ``reasons`` holds
        each client's reasons in the same row order (see :mod:`serving.client_scores`);
        ``no_purchase_history`` the ids of the clients without a purchase before the snapshot."""
        names = list(bundle.spec.names)
        for head, booster in bundle.production.boosters.items():
            if booster.feature_name() != names:
                raise ValueError(f"booster {head!r} does not read the bundle's feature order")
        return cls(
            heads=bundle.production,
            division_classes=tuple(bundle.division_classes),
            matrix=feature_matrix(bundle, clients),
            client_rows=client_rows,
            reasons=tuple(tuple(r) for r in reasons.to_list()),
            currency=currency,
            snapshot_date=snapshot_date,
            model_version=model_version,
            no_purchase_history=frozenset(no_purchase_history),
        )

    def predict_rows(self, rows: Sequence[int]) -> dict[str, FloatMatrix]:
        """The heads' predictions for matrix ``rows`` (one thread: the fastest for few rows)."""
        return self.heads.predict_matrix(self.matrix[np.asarray(rows, dtype=np.intp)], 1)

    def score(self, client_ids: Sequence[str]) -> list[NextPurchaseItem]:
        """One item per requested id, in order; an id without features gets its status only
        (``no_purchase_history`` or ``unknown_client``).

        Items are assembled as plain dicts and validated in one call (pydantic-core builds the
        models far faster than Python code constructing them one by one).
        """
        positions = [self.client_rows.get(client_id) for client_id in client_ids]
        known = [position for position in positions if position is not None]
        answers: list[dict[str, Any]] = []
        if known:
            answers = self._known_answers(known)
        items: list[dict[str, Any]] = []
        index = 0
        for client_id, position in zip(client_ids, positions, strict=True):
            if position is None:
                items.append(self._unknown(client_id))
            else:
                items.append({"client_id": client_id, **answers[index]})
                index += 1
        return ITEMS.validate_python(items)

    def _known_answers(self, rows: list[int]) -> list[dict[str, Any]]:
        """The prediction fields of each row, in order."""
        predicted = self.predict_rows(rows)
        divisions = predicted["division"]
        top = np.argsort(-divisions, axis=1, kind="stable")[:, :TOP_DIVISIONS]
        top_probabilities = np.take_along_axis(divisions, top, axis=1).tolist()
        names = self.division_classes
        columns = zip(
            predicted["p_buy_30d"].tolist(),
            predicted["p_buy_90d"].tolist(),
            predicted["expected_spend_90d"].tolist(),
            predicted["days_to_next_p10"].tolist(),
            predicted["days_to_next_p50"].tolist(),
            predicted["days_to_next_p90"].tolist(),
            top.tolist(),
            top_probabilities,
            rows,
            strict=True,
        )
        return [
            {
                "status": "ok",
                "p_buy_30d": p30,
                "p_buy_90d": p90,
                "expected_spend_90d": spend,
                "currency": self.currency,
                "top_divisions": [
                    {"division": names[k], "probability": p}
                    for k, p in zip(classes, probabilities, strict=True)
                ],
                "days_to_next_purchase": {"p10": d10, "p50": d50, "p90": d90},
                "reasons": self.reasons[row],
                "snapshot_date": self.snapshot_date,
                "model_version": self.model_version,
            }
            for p30, p90, spend, d10, d50, d90, classes, probabilities, row in columns
        ]

    def _unknown(self, client_id: str) -> dict[str, Any]:
        known = client_id in self.no_purchase_history
        return {
            "client_id": client_id,
            "status": "no_purchase_history" if known else "unknown_client",
            "currency": self.currency,
            "snapshot_date": self.snapshot_date,
            "model_version": self.model_version,
        }
