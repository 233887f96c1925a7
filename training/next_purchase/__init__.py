"""The next-purchase models: who will buy in 30/90 days, how much, which division, when, and why.

Entry points for the command line: :func:`train_next_purchase`, :func:`backtest_next_purchase`,
:func:`tune_next_purchase`; the service loads a :class:`NextPurchaseBundle`.
"""

from training.next_purchase.bundle import NextPurchaseBundle
from training.next_purchase.pipeline import (
    RecipeOptions,
    TrainingReport,
    backtest_next_purchase,
    train_next_purchase,
    tune_next_purchase,
)

__all__ = [
    "NextPurchaseBundle",
    "RecipeOptions",
    "TrainingReport",
    "backtest_next_purchase",
    "train_next_purchase",
    "tune_next_purchase",
]
