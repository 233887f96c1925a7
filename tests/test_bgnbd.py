"""BG/NBD and Gamma-Gamma: published CDNOW estimates, the count distribution, the baselines."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import special
from sklearn.metrics import roc_auc_score

from features.bgnbd import BetaGeoModel, RepeatCounts
from features.gamma_gamma import GammaGammaModel
from training.baselines.next_purchase import BGNBDBaseline, RecencyFrequencyHeuristic
from training.benchmarks.cdnow_data import lifetimes_dataset_path

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def cdnow_summary() -> pl.DataFrame:
    """The 1/10 CDNOW sample, 39-week calibration: x, t_x, T (weeks) and mean repeat value."""
    return pl.read_csv(lifetimes_dataset_path("cdnow_customers_summary_with_transactions.csv"))


@pytest.fixture(scope="module")
def cdnow_rft() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frequency, recency, T of ``cdnow_customers_summary.csv``."""
    frame = pl.read_csv(lifetimes_dataset_path("cdnow_customers_summary.csv"))
    return tuple(frame[name].to_numpy().astype(float) for name in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def published() -> BetaGeoModel:
    return BetaGeoModel.from_params(**PUBLISHED_BGNBD)


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Histories drawn from the BG/NBD process itself (vectorised over clients)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    age = rng.uniform(20.0, 80.0, n)
    frequency, recency, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        clock = clock + rng.exponential(1.0 / np.maximum(rate, 1e-12))
        bought = alive & (clock < age)
        frequency[bought] += 1
        recency[bought] = clock[bought]
        alive = bought & (rng.uniform(size=n) > dropout)
    return frequency, recency, age


# --- published CDNOW figures ---------------------------------------------------------------


def test_fit_reproduces_the_published_cdnow_parameters(cdnow_rft) -> None:
    model = BetaGeoModel().fit(*cdnow_rft)
    for name, value in PUBLISHED_BGNBD.items():
        assert model.params[name] == pytest.approx(value, rel=1e-2), name
    assert model.converged_
    # Fader, Hardie & Lee (2005) report LL = -9582.4 on these 2,357 clients.
    assert model.log_likelihood_ * len(cdnow_rft[0]) == pytest.approx(-9582.4, abs=0.1)


def test_published_conditional_expectation_of_customer_one(published: BetaGeoModel) -> None:
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 weeks, 39 weeks ahead.
    assert published.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_fit_is_a_maximum_of_the_log_likelihood(cdnow_rft) -> None:
    model = BetaGeoModel().fit(*cdnow_rft)
    best = model.log_likelihood(*cdnow_rft).sum()
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.98, 1.02):
            params = model.params | {name: model.params[name] * factor}
            moved = BetaGeoModel.from_params(**params).log_likelihood(*cdnow_rft).sum()
            assert moved < best, (name, factor)


def test_alpha_carries_the_time_unit(cdnow_rft) -> None:
    frequency, recency, age = cdnow_rft
    weeks = BetaGeoModel().fit(frequency, recency, age)
    days = BetaGeoModel().fit(frequency, recency * 7, age * 7)
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params[name] == pytest.approx(weeks.params[name], rel=1e-4)


def test_weights_are_repeated_clients(cdnow_rft) -> None:
    frequency, recency, age = (v[:600] for v in cdnow_rft)
    weights = np.random.default_rng(3).integers(1, 4, frequency.size)
    repeated = [np.repeat(v, weights) for v in (frequency, recency, age)]
    weighted = BetaGeoModel().fit(frequency, recency, age, weights=weights)
    expanded = BetaGeoModel().fit(*repeated)
    for name in ("r", "alpha", "a", "b"):
        assert weighted.params[name] == pytest.approx(expanded.params[name], rel=1e-3)


def test_fit_recovers_simulated_parameters() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0}
    model = BetaGeoModel().fit(*simulate_bgnbd(30_000, **truth))
    assert model.r / model.alpha == pytest.approx(truth["r"] / truth["alpha"], rel=0.1)
    assert model.r == pytest.approx(truth["r"], rel=0.15)
    assert model.a / (model.a + model.b) == pytest.approx(0.9 / 3.9, rel=0.15)


def test_penalizer_shrinks_a_and_b(cdnow_rft) -> None:
    free = BetaGeoModel().fit(*cdnow_rft)
    penalised = BetaGeoModel(penalizer=0.1).fit(*cdnow_rft)
    assert penalised.a**2 + penalised.b**2 < free.a**2 + free.b**2


def test_gamma_gamma_reproduces_the_published_cdnow_parameters(cdnow_summary) -> None:
    model = GammaGammaModel().fit(cdnow_summary["x"], cdnow_summary["zbar"])
    for name, value in PUBLISHED_GAMMA_GAMMA.items():
        assert model.params[name] == pytest.approx(value, rel=1e-2), name


# --- behaviour on edge cases and bad input ---------------------------------------------------


def test_one_time_clients_are_alive(published: BetaGeoModel) -> None:
    assert np.all(published.p_alive(np.zeros(3), np.zeros(3), [1.0, 30.0, 500.0]) == 1.0)


def test_long_silence_lowers_p_alive_and_expectation(published: BetaGeoModel) -> None:
    recency = np.array([38.0, 20.0, 5.0])
    p_alive = published.p_alive(3, recency, 39.0)
    expected = published.expected_purchases(10, 3, recency, 39.0)
    assert np.all(np.diff(p_alive) < 0) and np.all(np.diff(expected) < 0)


def test_zero_horizon_means_no_purchase(published: BetaGeoModel) -> None:
    assert published.expected_purchases(0, 2, 10, 30) == 0
    assert published.prob_at_least_one(0, 2, 10, 30) == 0
    assert published.prob_purchases([0, 1], 0, 2, 10, 30).tolist() == [1.0, 0.0]


def test_extreme_histories_stay_finite(published: BetaGeoModel) -> None:
    frequency = np.array([0, 1, 500, 2000, 50])
    recency = np.array([0, 1e-3, 4000, 9999, 1])
    age = np.array([1e-6, 1e-3, 5000, 10000, 10000])
    for values in (
        published.expected_purchases(365, frequency, recency, age),
        published.prob_at_least_one(365, frequency, recency, age),
        published.prob_purchases(3, 365, frequency, recency, age),
        published.p_alive(frequency, recency, age),
    ):
        assert np.all(np.isfinite(values))


def test_a_million_clients(published: BetaGeoModel) -> None:
    rng = np.random.default_rng(0)
    age = rng.uniform(1, 300, 1_000_000)
    frequency = rng.poisson(2, age.size).astype(float)
    recency = np.where(frequency > 0, rng.uniform(0, 1, age.size) * age, 0.0)
    probability = published.prob_at_least_one(13, frequency, recency, age)
    assert probability.shape == (1_000_000,) and np.all((probability >= 0) & (probability <= 1))


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "message"),
    [
        (-1, 0, 10, "frequency holds negative"),
        (1, -1, 10, "recency holds negative"),
        (2, 11, 10, "recency exceeds T"),
        (0, 3, 10, "recency must be 0 when frequency is 0"),
        (np.nan, 0, 10, "frequency holds NaN"),
    ],
)
def test_invalid_histories_are_refused(frequency, recency, age, message) -> None:
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit([1, frequency], [1, recency], [20, age])
    with pytest.raises(ValueError, match=message):
        BetaGeoModel.from_params(**PUBLISHED_BGNBD).p_alive(frequency, recency, age)


def test_unfitted_models_say_so() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeoModel().p_alive(1, 1, 2)
    with pytest.raises(RuntimeError, match="not fitted"):
        GammaGammaModel().expected_spend(1, 10.0)


def test_gamma_gamma_shrinks_towards_the_population_mean() -> None:
    model = GammaGammaModel.from_params(**PUBLISHED_GAMMA_GAMMA)
    population = model.population_mean()
    assert model.expected_spend(0, np.nan) == pytest.approx(population)
    few, many = model.expected_spend([1, 50], [100.0, 100.0])
    assert population < few < many < 100.0
    with pytest.raises(ValueError, match="monetary_value must be positive"):
        model.expected_spend([1, 2], [10.0, 0.0])


# --- properties of the conditional count distribution -------------------------------------

params = st.fixed_dictionaries(
    {
        "r": st.floats(0.1, 3.0),
        "alpha": st.floats(1.0, 100.0),
        "a": st.floats(0.2, 5.0).filter(lambda a: abs(a - 1.0) > 1e-3),
        "b": st.floats(0.5, 10.0),
    }
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[float, float, float]:
    age = draw(st.floats(1.0, 200.0))
    frequency = draw(st.integers(0, 20))
    recency = draw(st.floats(0.0, 1.0)) * age if frequency else 0.0
    return float(frequency), recency, age


@settings(max_examples=60, deadline=None)
@given(params=params, history=histories(), horizon=st.floats(0.5, 60.0))
def test_count_distribution_is_a_distribution_with_the_right_mean(
    params: dict[str, float], history: tuple[float, float, float], horizon: float
) -> None:
    model = BetaGeoModel.from_params(**params)
    expected = float(model.expected_purchases(horizon, *history))
    assume(expected < 50)
    counts = np.arange(0, 4000)
    probability = model.prob_purchases(counts, horizon, *history)
    assume(probability[-100:].sum() < 1e-10)  # the tail beyond 4,000 is negligible
    assert np.all((probability >= 0) & (probability <= 1))
    assert probability.sum() == pytest.approx(1.0, abs=1e-7)
    assert np.sum(counts * probability) == pytest.approx(expected, rel=1e-5, abs=1e-8)
    at_least_one = float(model.prob_at_least_one(horizon, *history))
    assert at_least_one == pytest.approx(1.0 - probability[0], abs=1e-10)
    assert 0.0 <= at_least_one <= float(model.p_alive(*history)) + 1e-12


@settings(max_examples=40, deadline=None)
@given(params=params, history=histories(), horizons=st.lists(st.floats(0, 400), min_size=2))
def test_probabilities_stay_in_unit_interval_and_grow_with_the_horizon(
    params: dict[str, float], history: tuple[float, float, float], horizons: list[float]
) -> None:
    model = BetaGeoModel.from_params(**params)
    horizon = np.sort(np.array(horizons))
    at_least_one = model.prob_at_least_one(horizon, *history)
    expected = model.expected_purchases(horizon, *history)
    assert np.all((at_least_one >= 0) & (at_least_one <= 1))
    assert np.all(np.diff(at_least_one) >= -1e-12)
    assert np.all(np.diff(expected) >= -1e-9)


@settings(max_examples=40, deadline=None)
@given(params=params, age=st.floats(1e-3, 1e4))
def test_p_alive_is_one_without_repeat_purchases(params: dict[str, float], age: float) -> None:
    assert BetaGeoModel.from_params(**params).p_alive(0, 0, age) == 1.0


# --- baselines --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def population() -> tuple[np.ndarray, ...]:
    """Simulated clients in days, with a mean repeat value that depends on the client."""
    frequency, recency, age = simulate_bgnbd(5_000, r=0.4, alpha=30.0, a=0.8, b=2.5, seed=5)
    rng = np.random.default_rng(6)
    value = np.where(frequency > 0, rng.gamma(4.0, 25.0, frequency.size), np.nan)
    return frequency, recency * 7, age * 7, value


def test_bgnbd_baseline_predicts_from_both_models(population) -> None:
    baseline = BGNBDBaseline().fit(*population)
    forecast = baseline.predict(90, *population)
    frequency, recency, age, value = population
    assert forecast.horizon_days == 90
    np.testing.assert_allclose(
        forecast.p_at_least_one,
        baseline.purchases.prob_at_least_one(90, frequency, recency, age),
    )
    per_occasion = np.where(
        frequency > 0,
        baseline.spend.expected_spend(frequency, value),
        baseline.spend.population_mean(),
    )
    np.testing.assert_allclose(forecast.expected_spend, forecast.expected_occasions * per_occasion)


def test_bgnbd_baseline_treats_non_positive_values_as_unknown(population) -> None:
    frequency, recency, age, _ = population
    baseline = BGNBDBaseline().fit(*population)
    zero_value = np.where(frequency > 0, 0.0, np.nan)
    forecast = baseline.predict(30, frequency, recency, age, zero_value)
    population_mean = baseline.spend.population_mean()
    np.testing.assert_allclose(
        forecast.expected_spend, forecast.expected_occasions * population_mean
    )


def test_heuristic_follows_its_documented_formula() -> None:
    heuristic = RecencyFrequencyHeuristic(half_life_days=30.0, prior_days=100.0)
    frequency = np.array([0.0, 4.0, 4.0])
    recency = np.array([0.0, 200.0, 140.0])
    age = np.array([50.0, 200.0, 200.0])
    value = np.array([np.nan, 80.0, 80.0])
    heuristic.fit(frequency, recency, age, value)
    assert heuristic.population_rate_ == pytest.approx(8 / 450)
    forecast = heuristic.predict(90, frequency, recency, age, value)
    rate = (frequency + 100 * 8 / 450) / (age + 100)
    expected = 90 * rate * 0.5 ** ((age - recency) / 30)
    np.testing.assert_allclose(forecast.expected_occasions, expected)
    np.testing.assert_allclose(forecast.p_at_least_one, 1 - np.exp(-expected))
    np.testing.assert_allclose(forecast.expected_spend, expected * 80.0)
    # The client silent for two half-lives scores a quarter of the recent one.
    assert forecast.expected_occasions[2] == pytest.approx(forecast.expected_occasions[1] / 4)


def test_heuristic_half_life_defaults_to_the_median_gap(population) -> None:
    frequency, recency, _, _ = population
    heuristic = RecencyFrequencyHeuristic().fit(*population)
    repeat = frequency > 0
    assert heuristic.half_life_days_ == pytest.approx(
        np.median(recency[repeat] / frequency[repeat])
    )


def test_baselines_rank_buyers_as_well_as_the_true_model(population) -> None:
    """Fitted at the cutoff, both baselines rank future buyers about as well as the truth."""
    frequency, recency, age, _ = population
    truth = BetaGeoModel.from_params(r=0.4, alpha=30.0 * 7, a=0.8, b=2.5)
    p_true = truth.prob_at_least_one(90, frequency, recency, age)
    bought = np.random.default_rng(9).uniform(size=p_true.size) < p_true
    best = roc_auc_score(bought, p_true)
    assert best > 0.6
    for baseline in (BGNBDBaseline(), RecencyFrequencyHeuristic()):
        forecast = baseline.fit(*population).predict(90, *population)
        assert roc_auc_score(bought, forecast.p_at_least_one) > best - 0.02, baseline.name


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 60), min_size=1, max_size=200),
    shift=st.floats(0.01, 50.0),
)
def test_repeat_counts_give_the_values_of_a_direct_evaluation(
    counts: list[int], shift: float
) -> None:
    """Evaluating once per distinct count and gathering changes no value, not even a bit."""
    x = np.asarray(counts, dtype=np.float64)
    for function in (special.gammaln, special.digamma, lambda n: special.betaln(shift, n + 1)):
        direct = function(shift + x)
        gathered = RepeatCounts.of(x).apply(lambda n, f=function: f(shift + n))
        assert np.array_equal(gathered, direct)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 300), min_size=1, max_size=50)
    | st.lists(st.floats(0, 300, allow_nan=False), min_size=1, max_size=50)
)
def test_repeat_counts_of_whole_and_fractional_counts_are_those_of_np_unique(
    counts: list[float],
) -> None:
    x = np.asarray(counts, dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)
    found = RepeatCounts.of(x)
    np.testing.assert_array_equal(found.values, values)
    np.testing.assert_array_equal(found.inverse, inverse)
    np.testing.assert_array_equal(found.values[found.inverse], x)


def test_predictions_equal_the_single_quantities(published: BetaGeoModel) -> None:
    rng = np.random.default_rng(0)
    frequency = rng.integers(0, 20, 500).astype(float)
    age = rng.uniform(1, 80, 500)
    recency = np.where(frequency > 0, age * rng.uniform(0, 1, 500), 0.0)
    found = published.predictions((4, 13.5), frequency, recency, age)
    assert set(found) == {"p_alive", "expected_4", "p_at_least_one_4", "expected_13.5",
                          "p_at_least_one_13.5"}  # fmt: skip
    np.testing.assert_array_equal(found["p_alive"], published.p_alive(frequency, recency, age))
    for horizon in (4, 13.5):
        np.testing.assert_array_equal(
            found[f"expected_{horizon}"],
            published.expected_purchases(horizon, frequency, recency, age),
        )
        np.testing.assert_array_equal(
            found[f"p_at_least_one_{horizon}"],
            published.prob_at_least_one(horizon, frequency, recency, age),
        )
