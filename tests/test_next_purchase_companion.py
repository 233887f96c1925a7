"""The recency-frequency companion and the stacked calibrator of the purchase heads."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.next_purchase.bundle import NextPurchaseBundle
from training.next_purchase.calibration import Calibrator, fit_calibrator
from training.next_purchase.companion import (
    FEATURES,
    RecencyFrequencyCompanion,
    fit_companion,
)
from training.next_purchase.frame import feature_spec
from training.next_purchase.models import BoostingSettings
from training.next_purchase.pipeline import fit_recipe
from training.next_purchase.search_space import booster_params

HORIZON = 90
CUTOFFS = [date(2024, 1, 1) + timedelta(days=45 * k) for k in range(5)]
NAMES = ["frequency", "recency_days", "tenure_days", "monetary_total"]


def client_frame(cutoff: date, clients: int, seed: int) -> pl.DataFrame:
    """Clients whose purchases follow a smooth recency-frequency rate (what the rule models)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(30, 700, clients)
    frequency = 1 + rng.poisson(tenure / 150)
    since_last = np.where(frequency > 1, rng.integers(0, tenure + 1), tenure)
    rate = (frequency / (tenure + 60.0)) * np.exp2(-since_last / 120.0)
    occasions = rng.poisson(HORIZON * rate)
    bought = occasions > 0
    wait = rng.integers(0, HORIZON, clients)
    return pl.DataFrame(
        {
            "client_id": [f"c{i:04d}" for i in range(clients)],
            "cutoff": [cutoff] * clients,
            "frequency": frequency,
            "recency_days": since_last,
            "tenure_days": tenure,
            "monetary_total": rng.gamma(2.0, 300.0, clients) * frequency,
            "label_occasions": occasions,
            "label_bought": bought,
            "label_bought_30d": bought & (wait < 30),
            "label_spend": np.where(bought, rng.gamma(2.0, 300.0, clients) * occasions, 0.0),
            "label_division": pl.Series(["shoes" if b else None for b in bought], dtype=pl.String),
            "label_days_to_next": pl.Series(
                [int(w) if b else None for w, b in zip(wait, bought, strict=True)],
                dtype=pl.Int64,
            ),
            "label_censored": ~bought,
        }
    )


@pytest.fixture(scope="module")
def frames() -> dict[date, pl.DataFrame]:
    return {cutoff: client_frame(cutoff, 2500, seed) for seed, cutoff in enumerate(CUTOFFS)}


@pytest.fixture(scope="module")
def bundle(frames: dict[date, pl.DataFrame]) -> NextPurchaseBundle:
    spec = feature_spec(frames[CUTOFFS[0]], NAMES)
    boosting = BoostingSettings(
        booster_params(), max_rounds=40, early_stopping_rounds=10, num_threads=1
    )
    heads = fit_recipe(frames, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON)
    return NextPurchaseBundle(spec, heads, heads)


def matrix(frame: pl.DataFrame) -> np.ndarray:
    return frame.select(pl.col(NAMES).cast(pl.Float64)).to_numpy()


def test_companion_needs_its_three_features(frames: dict[date, pl.DataFrame]) -> None:
    features = matrix(frames[CUTOFFS[0]])
    assert fit_companion(features, NAMES) is not None
    assert fit_companion(features[:, 1:], NAMES[1:]) is None  # no frequency
    assert fit_companion(np.full_like(features, np.nan), NAMES) is None


def test_companion_falls_with_recency_rises_with_frequency_and_horizon(
    frames: dict[date, pl.DataFrame],
) -> None:
    companion = fit_companion(matrix(frames[CUTOFFS[0]]), NAMES)
    assert companion is not None
    # columns: frequency, days since the last occasion, days since the first, spend
    clients = np.array(
        [[3, 10, 300, 0.0], [3, 200, 300, 0.0], [8, 10, 300, 0.0], [np.nan] * 4], dtype=float
    )
    p90 = companion.p_at_least_one(clients, 90)
    p30 = companion.p_at_least_one(clients, 30)
    assert np.all(np.isfinite(p90)) and np.all((p90 > 0) & (p90 < 1))
    assert p90[0] > p90[1]  # recent beats lapsed
    assert p90[2] > p90[0]  # frequent beats occasional
    assert np.all(p30 < p90)
    assert RecencyFrequencyCompanion.from_dict(companion.to_dict()) == companion


def test_stacked_calibrator_wins_when_the_companion_carries_signal() -> None:
    rng = np.random.default_rng(3)
    size = 6000
    booster, companion = rng.uniform(0.02, 0.9, size), rng.uniform(0.02, 0.9, size)
    logit = np.log(booster / (1 - booster)) + np.log(companion / (1 - companion))
    outcomes = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype(float)
    stacked = fit_calibrator(booster, outcomes, seed=1, companion=companion)
    assert stacked.kind == "stacked"
    assert stacked.slope > 0 and stacked.companion_slope > 0
    assert Calibrator.from_dict(stacked.to_dict()) == stacked
    with pytest.raises(ValueError, match="companion"):
        stacked.transform(booster)
    # without the companion the choice stays between isotonic and Platt
    assert fit_calibrator(booster, outcomes, seed=1).kind in ("isotonic", "platt")


def test_stacked_calibrator_is_not_chosen_for_a_useless_companion() -> None:
    rng = np.random.default_rng(4)
    size = 6000
    booster = rng.uniform(0.02, 0.9, size)
    outcomes = (rng.random(size) < booster).astype(float)
    noise = rng.uniform(0.02, 0.9, size)
    chosen = fit_calibrator(booster, outcomes, seed=1, companion=noise)
    if chosen.kind == "stacked":  # allowed only when it is harmless
        assert abs(chosen.companion_slope) < 0.1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16), st.floats(-2.0, 2.0), st.floats(-2.0, 2.0))
def test_stacked_calibrators_are_monotone_in_both_inputs(
    seed: int, weight: float, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    booster, companion = rng.uniform(0.01, 0.99, 300), rng.uniform(0.01, 0.99, 300)
    logit = np.log(booster / (1 - booster)) + weight * np.log(companion / (1 - companion)) + shift
    outcomes = (rng.random(300) < 1 / (1 + np.exp(-logit))).astype(float)
    outcomes[:2] = [0.0, 1.0]
    calibrator = fit_calibrator(booster, outcomes, seed=seed, companion=companion)
    grid = np.linspace(0.0, 1.0, 51)
    for fixed in (0.05, 0.5, 0.95):
        along_score = calibrator.transform(grid, np.full_like(grid, fixed))
        along_companion = calibrator.transform(np.full_like(grid, fixed), grid)
        for values in (along_score, along_companion):
            assert np.all((values >= 0) & (values <= 1))
            assert np.all(np.diff(values) >= -1e-12)


def test_heads_keep_the_companion_through_save_and_load(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame], tmp_path: Path
) -> None:
    heads = bundle.production
    assert heads.companion is not None
    assert [NAMES[c] for c in heads.companion.columns] == list(FEATURES)
    # the fixture's purchases follow the rule: stacking it is what the validation cutoff picks
    assert heads.calibrators["p_buy_90d"].kind == "stacked"
    bundle.save(tmp_path)
    loaded = NextPurchaseBundle.load(tmp_path)
    assert loaded.production.companion == heads.companion
    test = frames[CUTOFFS[4]]
    assert loaded.predict(test).equals(bundle.predict(test))
    row = test.row(7, named=True)
    one = loaded.predict_one(row)
    batch = bundle.predict(test).row(7, named=True)
    assert one["p_buy_90d"] == pytest.approx(batch["p_buy_90d"], rel=1e-9)
    assert one["p_buy_30d"] == pytest.approx(batch["p_buy_30d"], rel=1e-9)


def test_a_client_without_features_still_gets_a_probability(bundle: NextPurchaseBundle) -> None:
    predicted = bundle.predict_one({"client_id": "new"})
    assert 0.0 < predicted["p_buy_90d"] < 1.0
    assert predicted["p_buy_30d"] <= predicted["p_buy_90d"]


def test_a_constant_booster_is_not_rescued_by_the_companion() -> None:
    rng = np.random.default_rng(5)
    companion = rng.uniform(0.02, 0.9, 3000)
    outcomes = (rng.random(3000) < companion).astype(float)
    chosen = fit_calibrator(np.full(3000, 0.2), outcomes, seed=1, companion=companion)
    assert chosen.kind != "stacked"
