"""Next-purchase metrics on hand-computed examples, their invariants, and the division baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from training.baselines.next_purchase import MostFrequentDivision
from training.metrics.next_purchase import (
    classification_metrics,
    count_metrics,
    division_metrics,
    expected_calibration_error,
    gini,
    normalized_gini,
    spend_metrics,
    top_decile_lift,
)

# --- classification ------------------------------------------------------------------------


def test_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.8])
    scores = classification_metrics(y, p, n_bins=2)
    # Pairs (positive, negative) ranked right: (0.4 > 0.1), (0.8 > 0.1), (0.8 > 0.6) -> 3 of 4.
    assert scores["roc_auc"] == pytest.approx(0.75)
    assert scores["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.04) / 4)
    log_loss = -(np.log(0.9) + np.log(0.4) + np.log(0.4) + np.log(0.8)) / 4
    assert scores["log_loss"] == pytest.approx(log_loss)
    # Average precision: precision 1 at recall 1/2 (0.8), 2/3 at recall 1 (0.4) -> 5/6.
    assert scores["pr_auc"] == pytest.approx(5 / 6)
    # Equal-mass bins {0.1, 0.4} and {0.6, 0.8}: |0.5 - 0.25| and |0.5 - 0.7|, each half.
    assert scores["ece"] == pytest.approx(0.5 * 0.25 + 0.5 * 0.2)
    # The top decile of 4 clients is the best-scored one (a buyer): lift 1 / 0.5 = 2.
    assert scores["top_decile_lift"] == pytest.approx(2.0)


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    p = np.repeat([0.2, 0.5], 10)
    y = np.array([1, 1] + [0] * 8 + [1] * 5 + [0] * 5)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.0)


def test_top_decile_lift_of_a_perfect_ranking() -> None:
    y = np.array([1] * 10 + [0] * 90)
    assert top_decile_lift(y, np.linspace(1, 0, 100)) == pytest.approx(10.0)
    assert np.isnan(top_decile_lift(np.zeros(10), np.linspace(1, 0, 10)))


def test_one_class_has_no_auc_but_other_scores() -> None:
    scores = classification_metrics(np.zeros(5), np.full(5, 0.1))
    assert np.isnan(scores["roc_auc"]) and np.isnan(scores["pr_auc"])
    assert scores["brier"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "2 actual values but 1 predictions"),
        ([0, 2], [0.5, 0.5], "only 0 and 1"),
        ([0, 1], [0.5, 1.5], r"in \[0, 1\]"),
        ([0, 1], [0.5, np.nan], "finite"),
        ([], [], "no values"),
    ],
)
def test_bad_classification_input_is_refused(y, p, message) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y, p)


@settings(max_examples=50, deadline=None)
@given(
    p=arrays(np.float64, st.integers(2, 200), elements=st.floats(0, 1)),
    n_bins=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_ece_and_brier_stay_in_unit_interval(p: np.ndarray, n_bins: int, seed: int) -> None:
    y = (np.random.default_rng(seed).uniform(size=p.size) < 0.3).astype(int)
    scores = classification_metrics(y, p, n_bins=n_bins)
    assert 0 <= scores["ece"] <= 1 and 0 <= scores["brier"] <= 1


# --- counts and spend ---------------------------------------------------------------------


def test_count_metrics_by_hand() -> None:
    scores = count_metrics([0, 1, 3], [0.5, 1.0, 1.0])
    assert scores["count_mae"] == pytest.approx(2.5 / 3)
    assert scores["count_rmse"] == pytest.approx(np.sqrt(4.25 / 3))
    assert scores["total_count_pct_error"] == pytest.approx((2.5 - 4) / 4 * 100)
    assert np.isnan(count_metrics([0, 0], [1, 1])["total_count_pct_error"])


def test_spend_metrics_by_hand() -> None:
    actual = np.array([0.0, 10.0, 30.0, 60.0])
    scores = spend_metrics(actual, [5.0, 5.0, 20.0, 100.0])
    assert scores["spend_mae"] == pytest.approx((5 + 5 + 10 + 40) / 4)
    # Ranking 60, 30, then {0, 10} tied: gain curve (0,0) (.25,.6) (.5,.9) (1,1).
    area = 0.25 * 0.3 + 0.25 * 0.75 + 0.5 * 0.95
    # Perfect ranking: (0,0) (.25,.6) (.5,.9) (.75,1) (1,1).
    best = 0.25 * 0.3 + 0.25 * 0.75 + 0.25 * 0.95 + 0.25 * 1.0
    assert gini(actual, [5.0, 5.0, 20.0, 100.0]) == pytest.approx(area - 0.5)
    assert scores["spend_gini"] == pytest.approx((area - 0.5) / (best - 0.5))


def test_normalized_gini_of_perfect_reversed_constant_and_random_rankings() -> None:
    rng = np.random.default_rng(0)
    actual = rng.gamma(0.5, 100.0, 20_000)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, 2 * actual + 3) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) == pytest.approx(-1.0)
    assert normalized_gini(actual, np.ones_like(actual)) == pytest.approx(0.0)
    assert abs(normalized_gini(actual, rng.uniform(size=actual.size))) < 0.03


@settings(max_examples=60, deadline=None)
@given(
    actual=arrays(np.float64, st.integers(2, 100), elements=st.floats(0, 1e4)).filter(
        lambda a: a.sum() > 0 and np.ptp(a) > 0
    ),
    seed=st.integers(0, 2**16),
)
def test_normalized_gini_is_bounded_and_rank_invariant(actual: np.ndarray, seed: int) -> None:
    predicted = np.random.default_rng(seed).integers(0, 5, actual.size).astype(float)
    score = normalized_gini(actual, predicted)
    assert -1 - 1e-9 <= score <= 1 + 1e-9
    assert normalized_gini(actual, np.exp(predicted)) == pytest.approx(score)


# --- divisions -------------------------------------------------------------------------------


def test_division_metrics_by_hand_with_unsorted_classes() -> None:
    classes = ["watches", "bags", "shoes", "jewellery"]
    proba = np.array(
        [
            [0.1, 0.6, 0.2, 0.1],  # bags first, shoes second, then a tie
            [0.7, 0.1, 0.15, 0.05],  # watches, shoes, bags, jewellery
        ]
    )
    scores = division_metrics(["bags", "jewellery"], proba, classes)
    assert scores["top1_accuracy"] == pytest.approx(0.5)
    assert scores["top3_accuracy"] == pytest.approx(0.5)
    assert scores["multi_log_loss"] == pytest.approx(-(np.log(0.6) + np.log(0.05)) / 2)


def test_division_metrics_with_two_classes() -> None:
    scores = division_metrics(["b", "a", "b"], [[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]], ["a", "b"])
    assert scores["top1_accuracy"] == pytest.approx(2 / 3)
    assert scores["top3_accuracy"] == 1.0


@pytest.mark.parametrize(
    ("labels", "proba", "message"),
    [
        (["c"], [[0.5, 0.5]], "labels not in classes"),
        (["a"], [[0.5, 0.6]], "sum to 1"),
        (["a", "b"], [[0.5, 0.5]], "shape"),
    ],
)
def test_bad_division_input_is_refused(labels, proba, message) -> None:
    with pytest.raises(ValueError, match=message):
        division_metrics(labels, proba, ["a", "b"])


def at(day: int) -> datetime:
    return datetime(2024, 1, day, 12, tzinfo=UTC)


@pytest.fixture
def purchases() -> pl.LazyFrame:
    """Client a: 2 shoes, 2 watches (watches later); b: one receipt with bags and shoes;
    c: bags, and shoes after the cutoff; a walk-in line without client."""
    return pl.LazyFrame(
        {
            "client_id": ["a", "a", "a", "a", "b", "b", "c", "c", None],
            "division": [
                *("shoes", "watches", "shoes", "watches"),
                *("shoes", "bags", "bags", "shoes", "watches"),
            ],
            "purchased_at": [at(1), at(2), at(3), at(4), at(2), at(2), at(3), at(20), at(4)],
        }
    )


CUTOFF = date(2024, 1, 10)


def test_most_frequent_division_breaks_ties_by_recency(purchases: pl.LazyFrame) -> None:
    predicted = MostFrequentDivision().fit(purchases, CUTOFF).predict(purchases, CUTOFF)
    assert predicted.rows() == [("a", "watches"), ("b", "bags"), ("c", "bags")]


def test_most_frequent_division_ignores_purchases_from_the_cutoff_on(
    purchases: pl.LazyFrame,
) -> None:
    late = pl.LazyFrame(
        {"client_id": ["c"] * 3, "division": ["shoes"] * 3, "purchased_at": [at(10)] * 3}
    )
    both = pl.concat([purchases, late])
    predicted = MostFrequentDivision().fit(both, CUTOFF).predict(both, CUTOFF)
    assert dict(predicted.rows())["c"] == "bags"


def test_most_frequent_division_probabilities(purchases: pl.LazyFrame) -> None:
    model = MostFrequentDivision(smoothing=1.0).fit(purchases, CUTOFF)
    assert model.classes_ == ["bags", "shoes", "watches"]
    # Before the cutoff: bags 2, shoes 3, watches 2 lines; +0.5 each -> 2.5, 3.5, 2.5 of 8.5.
    assert model.prior_ == pytest.approx(
        {"bags": 2.5 / 8.5, "shoes": 3.5 / 8.5, "watches": 2.5 / 8.5}
    )
    proba = model.predict_proba(purchases, CUTOFF, client_ids=["c", "new", "a"])
    assert proba["client_id"].to_list() == ["c", "new", "a"]
    assert proba.columns == ["client_id", "bags", "shoes", "watches"]
    values = proba.select(model.classes_).to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0)
    np.testing.assert_allclose(values[1], list(model.prior_.values()))
    # Client a: shoes 2, watches 2 + 0.5 (the pick), smoothed by one pseudo-purchase.
    expected_a = (np.array([0.0, 2.0, 2.5]) + np.array(list(model.prior_.values()))) / 5.5
    np.testing.assert_allclose(values[2], expected_a)
    # The probabilities feed the division metrics directly.
    scores = division_metrics(["bags", "bags", "watches"], values, model.classes_)
    assert scores["top1_accuracy"] == pytest.approx(2 / 3)
