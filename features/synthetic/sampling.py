"""Inverse-CDF sampling from many discrete distributions at once, without a loop over them.

Each row of a weight matrix is one distribution (a boutique's daily traffic, a client's division
affinities, an hourly profile). The rows are normalised and laid end to end as ``row + cumulative
share``, a single increasing array, so one ``np.searchsorted`` draws for every entity together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_DRAW = -1
"""Column returned when the requested row (or column range) carries no weight."""


@dataclass(frozen=True)
class RowSampler:
    """Row-wise discrete distributions prepared for vectorised inverse-CDF draws."""

    flat: np.ndarray
    prefix: np.ndarray
    n_columns: int

    @classmethod
    def from_weights(cls, weights: np.ndarray) -> RowSampler:
        """Prepare the rows of ``weights`` (non-negative, shape rows x columns) for sampling."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 2:
            raise ValueError("weights must be a 2-d array (one distribution per row)")
        totals = weights.sum(axis=1, keepdims=True)
        safe_totals = np.where(totals > 0, totals, 1.0)
        shares = np.cumsum(weights, axis=1) / safe_totals
        shares[:, -1] = np.where(totals[:, 0] > 0, 1.0, 0.0)
        prefix = np.concatenate([np.zeros((weights.shape[0], 1)), shares], axis=1)
        rows = np.arange(weights.shape[0], dtype=np.float64)[:, None]
        return cls(flat=(rows + shares).ravel(), prefix=prefix, n_columns=weights.shape[1])

    def sample(
        self,
        rows: np.ndarray,
        rng: np.random.Generator,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw one column per entry of ``rows``, restricted to ``[low, high]`` when given.

        Returns :data:`NO_DRAW` where the row has no weight within the allowed columns.
        """
        rows = np.asarray(rows, dtype=np.int64)
        low = np.zeros_like(rows) if low is None else np.clip(low, 0, self.n_columns - 1)
        high = np.full_like(rows, self.n_columns - 1) if high is None else np.asarray(high)
        high = np.clip(high, -1, self.n_columns - 1)
        before = self.prefix[rows, low]
        through = self.prefix[rows, high + 1]
        mass = through - before
        drawable = (mass > 0) & (high >= low)
        targets = rows + before + (1.0 - rng.random(rows.shape[0])) * mass
        positions = np.searchsorted(self.flat, targets, side="left")
        columns = positions - rows * self.n_columns
        columns = np.clip(columns, low, np.maximum(high, low))
        return np.where(drawable, columns, NO_DRAW)
