"""Next-purchase heads, calibration, bundle and reasons on a small synthetic training frame."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import DIVISIONS
from training.next_purchase.bundle import NextPurchaseBundle, division_column
from training.next_purchase.calibration import Calibrator, fit_calibrator
from training.next_purchase.frame import feature_spec
from training.next_purchase.layout import cutoff_layout
from training.next_purchase.models import BoostingSettings
from training.next_purchase.pipeline import fit_recipe
from training.next_purchase.reasons import catalogue_templates
from training.next_purchase.search_space import booster_params

HORIZON = 90
CUTOFFS = [date(2024, 1, 1) + timedelta(days=45 * k) for k in range(5)]
FEATURES = ["recency_days", "frequency", "monetary_total", "last_division", "tier"]
PERSONAL_WORDS = ("name", "email", "e-mail", "phone", "address", "passport")


def synthetic_frame(cutoff: date, clients: int, seed: int) -> pl.DataFrame:
    """Clients whose chance to buy falls with recency and rises with frequency."""
    rng = np.random.default_rng(seed)
    recency = rng.integers(1, 400, clients)
    frequency = rng.integers(1, 12, clients)
    spend = rng.gamma(2.0, 800.0, clients) * frequency
    divisions = rng.choice(DIVISIONS[:4], clients)
    rate = np.exp(-recency / 120) * (0.3 + 0.15 * frequency)
    occasions = rng.poisson(rate)
    bought = occasions > 0
    wait = rng.integers(0, HORIZON, clients)
    days = [int(d) if b else None for d, b in zip(wait, bought, strict=True)]
    # buyers mostly come back for the division they bought last
    next_division = np.where(rng.random(clients) < 0.8, divisions, rng.choice(DIVISIONS[:4]))
    return pl.DataFrame(
        {
            "client_id": [f"c{i:04d}" for i in range(clients)],
            "cutoff": [cutoff] * clients,
            "recency_days": recency,
            "frequency": frequency,
            "monetary_total": spend,
            "last_division": divisions,
            "tier": rng.choice(["core", "gold", "top"], clients),
            "label_occasions": occasions,
            "label_bought": bought,
            "label_bought_30d": bought & (wait < 30),
            "label_spend": np.where(bought, rng.gamma(2.0, 500.0, clients) * occasions, 0.0),
            "label_division": pl.Series(
                [str(d) if b else None for d, b in zip(next_division, bought, strict=True)],
                dtype=pl.String,
            ),
            "label_days_to_next": pl.Series(days, dtype=pl.Int64),
            "label_censored": ~bought,
        }
    )


@pytest.fixture(scope="module")
def frames() -> dict[date, pl.DataFrame]:
    return {cutoff: synthetic_frame(cutoff, 1500, seed) for seed, cutoff in enumerate(CUTOFFS)}


@pytest.fixture(scope="module")
def bundle(frames: dict[date, pl.DataFrame]) -> NextPurchaseBundle:
    spec = feature_spec(frames[CUTOFFS[0]], FEATURES, ["last_division", "tier"])
    boosting = BoostingSettings(
        booster_params(), max_rounds=40, early_stopping_rounds=10, num_threads=1
    )
    heads = fit_recipe(frames, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON)
    templates = {name: t for name, t in catalogue_templates().items() if name in FEATURES}
    return NextPurchaseBundle(spec, heads, heads, templates, {"as_of": "2024-09-01"})


def test_predictions_are_probabilities_and_ordered(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame]
) -> None:
    predicted = bundle.predict(frames[CUTOFFS[4]])
    assert predicted.height == frames[CUTOFFS[4]].height
    for column in ("p_buy_30d", "p_buy_90d"):
        assert predicted[column].is_between(0.0, 1.0).all()
    assert (predicted["p_buy_30d"] <= predicted["p_buy_90d"] + 1e-12).all()
    assert (predicted["expected_spend_90d"] >= 0).all()
    divisions = predicted.select(division_column(d) for d in bundle.division_classes)
    np.testing.assert_allclose(divisions.sum_horizontal().to_numpy(), 1.0, atol=1e-9)
    days = predicted.select("days_to_next_p10", "days_to_next_p50", "days_to_next_p90")
    assert (days["days_to_next_p10"] <= days["days_to_next_p50"]).all()
    assert (days["days_to_next_p50"] <= days["days_to_next_p90"]).all()
    assert days.to_numpy().max() <= HORIZON
    assert bundle.production.spend_model in ("tweedie", "hurdle")


def test_model_learns_the_signal(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame]
) -> None:
    from training.metrics.next_purchase import classification_metrics, division_metrics

    test = frames[CUTOFFS[4]]
    predicted = bundle.predict(test)
    scores = classification_metrics(test["label_bought"].cast(int), predicted["p_buy_90d"])
    assert scores["roc_auc"] > 0.7
    buyers = test["label_bought"].to_numpy()
    probabilities = predicted.select(division_column(d) for d in bundle.division_classes)
    top1 = division_metrics(
        test["label_division"].to_numpy()[buyers],
        probabilities.to_numpy()[buyers],
        bundle.division_classes,
    )["top1_accuracy"]
    assert top1 > 0.6  # the last division repeats 80 % of the time, 4 classes


def test_bundle_round_trip_gives_identical_predictions(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame], tmp_path: Path
) -> None:
    bundle.save(tmp_path)
    assert sorted(p.name for p in (tmp_path / "production").iterdir())[0].endswith(".lgb")
    loaded = NextPurchaseBundle.load(tmp_path)
    test = frames[CUTOFFS[4]]
    assert loaded.predict(test).equals(bundle.predict(test))
    assert loaded.explain(test.head(20)).equals(bundle.explain(test.head(20)))
    assert loaded.metadata["as_of"] == "2024-09-01"


def test_single_row_path_equals_batch_and_is_fast(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame]
) -> None:
    test = frames[CUTOFFS[4]].head(25)
    batch = bundle.predict(test)
    for row, expected in zip(test.iter_rows(named=True), batch.iter_rows(named=True), strict=True):
        single = bundle.predict_one(row)
        for name, value in expected.items():
            if isinstance(value, float):
                assert single[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
            else:
                assert single[name] == value, name


def test_reasons_are_catalogue_phrases_without_personal_data(
    bundle: NextPurchaseBundle, frames: dict[date, pl.DataFrame]
) -> None:
    test = frames[CUTOFFS[4]].head(200)
    reasons = bundle.explain(test, top_k=3)
    assert reasons.columns == ["client_id", "rank", "feature", "contribution", "reason"]
    assert reasons.group_by("client_id").len()["len"].max() <= 3
    assert (reasons["contribution"] > 0).all()
    templates = catalogue_templates()
    for row in reasons.iter_rows(named=True):
        template = templates[row["feature"]]
        prefix = template.split("{value}")[0]
        assert row["reason"].startswith(prefix)
        assert "{" not in row["reason"]
        assert not any(word in row["reason"].lower() for word in PERSONAL_WORDS)
    # the single-client path gives the same phrases in the same order
    first = test.row(0, named=True)
    expected = reasons.filter(pl.col("client_id") == first["client_id"]).sort("rank")["reason"]
    assert bundle.explain_one(first) == expected.to_list()
    assert any("last bought" in r for r in reasons["reason"].to_list())
    assert "tier" not in set(reasons["feature"])


def test_calibration_uses_only_the_validation_cutoff(frames: dict[date, pl.DataFrame]) -> None:
    spec = feature_spec(frames[CUTOFFS[0]], FEATURES, ["last_division", "tier"])
    boosting = BoostingSettings(
        booster_params(), max_rounds=20, early_stopping_rounds=5, num_threads=1
    )
    scrambled = dict(frames)
    test = frames[CUTOFFS[4]]
    scrambled[CUTOFFS[4]] = test.with_columns(~pl.col("label_bought"), pl.col("label_spend") * 9)
    first = fit_recipe(frames, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON)
    second = fit_recipe(scrambled, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON)
    assert first.calibrators == second.calibrators
    changed = dict(frames)
    changed[CUTOFFS[3]] = frames[CUTOFFS[3]].with_columns(~pl.col("label_bought"))
    assert fit_recipe(changed, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON).calibrators != (
        first.calibrators
    )


def test_default_layout_keeps_every_window_before_the_next_stage() -> None:
    layout = cutoff_layout(date(2026, 6, 1), date(2023, 6, 1))
    horizon = timedelta(days=layout.horizon_days)
    assert layout.test == date(2026, 6, 1) - horizon
    assert all(cutoff + horizon <= layout.validation for cutoff in layout.training)
    assert layout.validation + horizon <= layout.test
    assert all(cutoff + horizon <= layout.test for cutoff in layout.production_training)
    assert max(layout.production_training) == layout.validation
    assert len(layout.training) >= 3


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.floats(0.001, 0.999), min_size=40, max_size=200),
    st.integers(0, 2**16),
)
def test_calibrators_are_monotone_probabilities(scores: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.asarray(scores)
    outcomes = (rng.random(values.size) < values).astype(float)
    outcomes[:2] = [0.0, 1.0]
    calibrator = fit_calibrator(values, outcomes, seed=seed)
    grid = np.linspace(0.0, 1.0, 101)
    calibrated = calibrator.transform(grid)
    assert np.all((calibrated >= 0) & (calibrated <= 1))
    assert np.all(np.diff(calibrated) >= -1e-12)
    assert Calibrator.from_dict(calibrator.to_dict()) == calibrator


def test_occasions_level_comes_from_bgnbd_not_from_earlier_windows(
    frames: dict[date, pl.DataFrame],
) -> None:
    """With BG/NBD's expectation among the features the occasions head learns each client's
    ratio to its cutoff's level: doubling the purchases of the training and validation windows
    (a younger, busier population) leaves the predicted total at the scored cutoff unchanged."""
    names = [*FEATURES, "bgnbd_expected_90d"]
    with_bgnbd = {
        cutoff: frame.with_columns(
            bgnbd_expected_90d=np.exp(-pl.col("recency_days") / 120)
            * (0.3 + 0.15 * pl.col("frequency"))
        )
        for cutoff, frame in frames.items()
    }
    busier = {
        cutoff: frame.with_columns(pl.col("label_occasions") * 2) if cutoff < CUTOFFS[4] else frame
        for cutoff, frame in with_bgnbd.items()
    }
    spec = feature_spec(with_bgnbd[CUTOFFS[0]], names, ["last_division", "tier"])
    boosting = BoostingSettings(
        booster_params(), max_rounds=40, early_stopping_rounds=10, num_threads=1
    )
    test = with_bgnbd[CUTOFFS[4]]
    totals = []
    for data in (with_bgnbd, busier):
        heads = fit_recipe(data, CUTOFFS[:3], CUTOFFS[3], spec, boosting, HORIZON)
        predicted = NextPurchaseBundle(spec, heads, reason_templates={}).predict(test)
        totals.append(predicted["expected_occasions_90d"].sum())
        assert heads.occasions_scale == 1.0
        training = pl.concat([data[c] for c in CUTOFFS[:3]])["bgnbd_expected_90d"]
        assert heads.occasions_default_base == pytest.approx(training.median())
    assert totals[1] == pytest.approx(totals[0], rel=0.1)
    assert totals[0] == pytest.approx(test["bgnbd_expected_90d"].sum(), rel=0.15)
