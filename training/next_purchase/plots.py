"""The figures logged with each training run: importance, calibration and lift.

Each function returns a matplotlib figure (no pyplot, nothing shown) that
:func:`training.tracking.log_figure` stores as an image artifact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def _figure(width: float = 6.0, height: float = 4.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def importance_figure(names: Sequence[str], gains: ArrayLike, top: int = 20) -> Any:
    """Horizontal bars of the ``top`` features by total split gain of the p_buy_90d booster."""
    gain = np.asarray(gains, dtype=np.float64)
    order = np.argsort(gain)[-top:]
    figure, axes = _figure(7.0, max(3.0, 0.3 * len(order)))
    axes.barh([names[i] for i in order], gain[order] / max(gain.sum(), 1e-12))
    axes.set_xlabel("share of total gain")
    axes.set_title("p_buy_90d: feature importance")
    return figure


def calibration_figure(
    outcomes: ArrayLike, probabilities: Mapping[str, ArrayLike], bins: int = 15
) -> Any:
    """Reliability curves (equal-mass bins) of each model's probabilities against the outcome."""
    y = np.asarray(outcomes, dtype=np.float64)
    figure, axes = _figure()
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name, values in probabilities.items():
        p = np.asarray(values, dtype=np.float64)
        groups = np.array_split(np.argsort(p, kind="stable"), bins)
        axes.plot(
            [p[g].mean() for g in groups if g.size],
            [y[g].mean() for g in groups if g.size],
            marker="o",
            label=name,
        )
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed share of buyers")
    axes.set_title("calibration on the test cutoff")
    axes.legend()
    return figure


def lift_figure(outcomes: ArrayLike, probabilities: Mapping[str, ArrayLike]) -> Any:
    """Cumulative gain: share of buyers captured against share of clients called, per model."""
    y = np.asarray(outcomes, dtype=np.float64)
    figure, axes = _figure()
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    share = np.arange(1, y.size + 1) / max(y.size, 1)
    for name, values in probabilities.items():
        order = np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")
        axes.plot(share, np.cumsum(y[order]) / max(y.sum(), 1.0), label=name)
    axes.set_xlabel("share of clients, by decreasing probability")
    axes.set_ylabel("share of buyers reached")
    axes.set_title("cumulative gain on the test cutoff")
    axes.legend()
    return figure
