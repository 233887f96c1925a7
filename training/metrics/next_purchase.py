"""Next-purchase metrics: will the client buy, how often, how much, and in which division.

Each function takes plain arrays (one entry per client) and returns a flat ``{name: float}`` dict
ready to log to MLflow or to print in a benchmark table. scikit-learn computes what it has; the
rest (equal-mass calibration error, lift, normalised Gini) is a few lines of numpy here. A metric
that is undefined on the given data (AUC with one class, a share of a zero total) is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import metrics

FloatArray = NDArray[np.float64]

DEFAULT_ECE_BINS = 15


def _paired(name: str, first: ArrayLike, second: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Two finite, non-empty 1-d float arrays of the same length."""
    left = np.asarray(first, dtype=np.float64).ravel()
    right = np.asarray(second, dtype=np.float64).ravel()
    if left.shape != right.shape:
        raise ValueError(f"{name}: {left.size} actual values but {right.size} predictions")
    if left.size == 0:
        raise ValueError(f"{name}: no values to score")
    if not (np.all(np.isfinite(left)) and np.all(np.isfinite(right))):
        raise ValueError(f"{name}: values must be finite (no NaN or infinity)")
    return left, right


def expected_calibration_error(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = DEFAULT_ECE_BINS
) -> float:
    """Expected calibration error over equal-mass bins of the predicted probability.

    Clients are sorted by ``p`` and cut into ``n_bins`` groups of (nearly) equal size; the error
    is the size-weighted mean of ``|observed rate - mean predicted probability|`` per group.
    Equal-mass bins keep every bin populated when probabilities crowd near 0, as they do for
    purchase propensities.
    """
    y, prob = _paired("ece", y_true, p)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    order = np.argsort(prob, kind="stable")
    sizes = np.array([len(part) for part in np.array_split(order, min(n_bins, y.size))])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    observed = np.add.reduceat(y[order], starts) / sizes
    predicted = np.add.reduceat(prob[order], starts) / sizes
    return float(np.sum(sizes * np.abs(observed - predicted)) / y.size)


def top_decile_lift(y_true: ArrayLike, p: ArrayLike) -> float:
    """Buy rate among the 10% highest-scored clients divided by the overall buy rate."""
    y, prob = _paired("top_decile_lift", y_true, p)
    base_rate = y.mean()
    if base_rate == 0:
        return float("nan")
    top = np.argsort(-prob, kind="stable")[: max(1, int(np.ceil(0.1 * y.size)))]
    return float(y[top].mean() / base_rate)


def classification_metrics(
    y_true: ArrayLike, p: ArrayLike, n_bins: int = DEFAULT_ECE_BINS
) -> dict[str, float]:
    """Scores of a purchase probability ``p`` against the 0/1 outcome ``y_true``.

    Returns ``roc_auc``, ``pr_auc`` (average precision), ``log_loss``, ``brier``, ``ece``
    (equal-mass bins) and ``top_decile_lift``.
    """
    y, prob = _paired("classification_metrics", y_true, p)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("classification_metrics: y_true must hold only 0 and 1")
    if np.any((prob < 0) | (prob > 1)):
        raise ValueError("classification_metrics: probabilities must lie in [0, 1]")
    both_classes = 0 < y.sum() < y.size
    return {
        "roc_auc": float(metrics.roc_auc_score(y, prob)) if both_classes else float("nan"),
        "pr_auc": float(metrics.average_precision_score(y, prob)) if both_classes else float("nan"),
        "log_loss": float(metrics.log_loss(y, prob, labels=[0, 1])),
        "brier": float(metrics.brier_score_loss(y, prob, pos_label=1)),
        "ece": expected_calibration_error(y, prob, n_bins),
        "top_decile_lift": top_decile_lift(y, prob),
    }


def count_metrics(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """Errors of the predicted number of purchase occasions per client.

    Returns ``count_mae``, ``count_rmse`` and ``total_count_pct_error`` = (sum predicted - sum
    actual) / sum actual × 100: the bias on the total, which planners feel most.
    """
    y, pred = _paired("count_metrics", actual, predicted)
    total = y.sum()
    return {
        "count_mae": float(metrics.mean_absolute_error(y, pred)),
        "count_rmse": float(metrics.root_mean_squared_error(y, pred)),
        "total_count_pct_error": float((pred.sum() - total) / total * 100)
        if total != 0
        else float("nan"),
    }


def gini(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Gini of the ranking by ``predicted``: area between its gain curve and the diagonal.

    Clients are ranked by decreasing prediction; the gain curve is the cumulated share of the
    actual total against the share of clients. Tied predictions form one segment of the curve,
    which is the average over all orders of the tied clients (a constant prediction scores 0).
    """
    y, pred = _paired("gini", actual, predicted)
    total = y.sum()
    if total == 0:
        return float("nan")
    order = np.argsort(-pred, kind="stable")
    y_sorted, pred_sorted = y[order], pred[order]
    # The last position of each run of equal predictions closes a segment of the gain curve.
    ends = np.flatnonzero(np.append(np.diff(pred_sorted) != 0, True))
    share_clients = np.concatenate(([0.0], (ends + 1) / y.size))
    share_actual = np.concatenate(([0.0], np.cumsum(y_sorted)[ends] / total))
    area = np.trapezoid(share_actual, share_clients)
    return float(area - 0.5)


def normalized_gini(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Gini of the predicted ranking over the Gini of the perfect ranking (1 perfect, 0 random)."""
    best = gini(actual, actual)
    return gini(actual, predicted) / best if best != 0 else float("nan")


def spend_metrics(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    """Errors of the predicted spend per client: ``spend_mae`` and ``spend_gini`` (normalised)."""
    y, pred = _paired("spend_metrics", actual, predicted)
    return {
        "spend_mae": float(metrics.mean_absolute_error(y, pred)),
        "spend_gini": normalized_gini(y, pred),
    }


def division_metrics(
    actual_labels: Sequence[str] | ArrayLike, proba: ArrayLike, classes: Sequence[str]
) -> dict[str, float]:
    """Scores of division probabilities ``proba`` (one column per class in ``classes``).

    Returns ``top1_accuracy``, ``top3_accuracy`` (the true division among the 3 most likely)
    and ``multi_log_loss``. Every actual label must be one of ``classes``.
    """
    labels = np.asarray(actual_labels, dtype=object).ravel()
    scores = np.asarray(proba, dtype=np.float64)
    class_list = list(classes)
    if scores.ndim != 2 or scores.shape != (labels.size, len(class_list)):
        raise ValueError(
            f"division_metrics: proba must have shape ({labels.size}, {len(class_list)}), "
            f"got {scores.shape}"
        )
    if labels.size == 0:
        raise ValueError("division_metrics: no values to score")
    unknown = sorted(set(labels.tolist()) - set(class_list))
    if unknown:
        raise ValueError(f"division_metrics: labels not in classes: {unknown[:5]}")
    if len(class_list) < 2:
        raise ValueError("division_metrics: needs at least 2 classes")
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("division_metrics: probabilities must be finite and non-negative")
    row_sums = scores.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-6):
        bad = np.flatnonzero(~np.isclose(row_sums, 1.0, atol=1e-6))[:5].tolist()
        raise ValueError(f"division_metrics: probabilities must sum to 1 per row (rows {bad})")
    # scikit-learn indexes the columns by the sorted labels.
    order = np.argsort(np.asarray(class_list, dtype=object))
    sorted_classes = [class_list[i] for i in order]
    sorted_scores = scores[:, order] / row_sums[:, None]
    # ... and wants the binary case as the score of the second class.
    ranked = sorted_scores[:, 1] if len(class_list) == 2 else sorted_scores
    return {
        "top1_accuracy": _top_k(labels, ranked, sorted_classes, 1),
        "top3_accuracy": _top_k(labels, ranked, sorted_classes, 3),
        "multi_log_loss": float(metrics.log_loss(labels, sorted_scores, labels=sorted_classes)),
    }


def _top_k(labels: NDArray[np.object_], scores: FloatArray, classes: list[str], k: int) -> float:
    """Top-k accuracy; every label is in the top k when there are at most k classes."""
    if k >= len(classes):
        return 1.0
    return float(metrics.top_k_accuracy_score(labels, scores, k=k, labels=classes))
