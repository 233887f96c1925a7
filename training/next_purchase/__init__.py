"""The next-purchase models: who will buy in 30/90 days, how much, which division, when, and why.

Entry points for the command line: :func:`train_next_purchase`, :func:`backtest_next_purchase`,
:func:`tune_next_purchase`; the service loads a :class:`NextPurchaseBundle`.

The pipeline's names are imported on first use: the pipeline needs Optuna, and the service, which
imports this package to load a bundle, must not (its image does not install it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from training.next_purchase.bundle import NextPurchaseBundle

if TYPE_CHECKING:
    from training.next_purchase.pipeline import (
        RecipeOptions,
        TrainingReport,
        backtest_next_purchase,
        train_next_purchase,
        tune_next_purchase,
    )

PIPELINE_NAMES = frozenset(
    {
        "RecipeOptions",
        "TrainingReport",
        "backtest_next_purchase",
        "train_next_purchase",
        "tune_next_purchase",
    }
)

__all__ = [
    "NextPurchaseBundle",
    "RecipeOptions",
    "TrainingReport",
    "backtest_next_purchase",
    "train_next_purchase",
    "tune_next_purchase",
]


def __getattr__(name: str) -> Any:
    """The pipeline's entry points, imported when first asked for (PEP 562)."""
    if name in PIPELINE_NAMES:
        from training.next_purchase import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
