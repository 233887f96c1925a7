"""The LightGBM heads of the next-purchase model: stacked cutoffs, checked on a later cutoff.

Each head is a native :class:`lightgbm.Booster` trained on the rows of the training cutoffs with
early stopping on the validation cutoff (the latest cutoff whose label window closes before the
test cutoff):

- ``p_buy_30d``, ``p_buy_90d``: binary, then calibrated on the validation cutoff
  (:mod:`training.next_purchase.calibration`), possibly stacked with the recency-frequency
  companion score (:mod:`training.next_purchase.companion`) when that scores better there;
- ``occasions``: Poisson regression of the number of purchase occasions in the window. When the
  features hold BG/NBD's expected occasions, the booster starts from them times the level of
  the row's cutoff (that cutoff's actual total over BG/NBD's; ``log`` of it as the offset) and
  learns each client's ratio to that level: the population's level comes from BG/NBD, refitted
  at every cutoff, which carries the ageing of the clients that trees cannot extrapolate and that
  the younger training cutoffs would otherwise teach as a level. Without BG/NBD features the
  total is rescaled to the validation cutoff's;
- ``spend``: either one Tweedie regression of the window's spend, or the *hurdle* product
  ``p_buy_90d × E[spend | purchase]`` (a Gamma regression fitted on buyers); both are fitted and
  the one with the better normalised Gini on the validation cutoff is kept;
- ``division``: multiclass over the divisions of the window's first purchase, fitted on buyers;
- ``days_p10/p50/p90``: quantile regressions of the days to the next purchase on every client,
  where a client who does not buy within the horizon counts as ``horizon_days`` (the time is only
  known to exceed it). The check loss only asks whether a value lies above or below the
  prediction, so this censoring leaves every quantile that falls inside the horizon unbiased; a
  quantile at the horizon reads "not within the horizon".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from numpy.typing import NDArray

from features.random_seed import DEFAULT_SEED
from training.metrics.next_purchase import normalized_gini
from training.next_purchase.calibration import Calibrator, fit_calibrator
from training.next_purchase.companion import RecencyFrequencyCompanion, fit_companion

FloatArray = NDArray[np.float64]
QUANTILES: dict[str, float] = {"days_p10": 0.1, "days_p50": 0.5, "days_p90": 0.9}
BINARY_HEADS: dict[str, str] = {"p_buy_30d": "bought_30d", "p_buy_90d": "bought"}
BINARY_WINDOWS: dict[str, int] = {"p_buy_30d": 30}
"""Window of a binary head when it is not the horizon."""
SPEND_MODELS: tuple[str, ...] = ("tweedie", "hurdle")


@dataclass(frozen=True)
class LabelledMatrix:
    """Features (one row per client and cutoff) and the labels of each row's window."""

    features: FloatArray
    bought_30d: FloatArray
    bought: FloatArray
    occasions: FloatArray
    spend: FloatArray
    division: NDArray[np.object_]
    days_to_next: FloatArray
    cutoff: NDArray[np.int64] | None = None
    """Which cutoff each row belongs to (0, 1, ...); None: all rows share one cutoff."""

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.features.shape[0])


@dataclass(frozen=True)
class BoostingSettings:
    """How the boosters are grown: shared LightGBM parameters, rounds and threads."""

    params: dict[str, Any]
    max_rounds: int = 400
    early_stopping_rounds: int = 30
    num_threads: int = 2
    seed: int = DEFAULT_SEED


@dataclass
class NextPurchaseHeads:
    """The fitted heads with what turns their raw outputs into predictions."""

    boosters: dict[str, lgb.Booster]
    calibrators: dict[str, Calibrator]
    division_classes: tuple[str, ...]
    spend_model: str
    occasions_scale: float
    horizon_days: int
    occasions_offset: int | None = None
    occasions_default_base: float = 1.0
    validation: dict[str, float] = field(default_factory=dict)
    companion: RecencyFrequencyCompanion | None = None

    def purchase_probability(self, head: str, raw: FloatArray, features: FloatArray) -> FloatArray:
        """The calibrated probability of binary ``head`` from its booster's ``raw`` scores."""
        calibrator = self.calibrators[head]
        if not calibrator.needs_companion:
            return calibrator.transform(raw)
        if self.companion is None:
            raise ValueError(f"the {head} calibrator is stacked but the heads have no companion")
        window = BINARY_WINDOWS.get(head, self.horizon_days)
        return calibrator.transform(raw, self.companion.p_at_least_one(features, window))

    def predict_matrix(self, features: FloatArray, num_threads: int = 0) -> dict[str, FloatArray]:
        """Every prediction for the rows of ``features`` (columns in the model's order).

        ``division`` is an ``(n, classes)`` array of probabilities; the others are 1-d.
        """
        raw = {
            name: booster.predict(features, num_threads=num_threads)
            for name, booster in self.boosters.items()
        }
        if self.occasions_offset is not None:
            raw["occasions"] = raw["occasions"] * occasions_base(
                features, self.occasions_offset, self.occasions_default_base
            )
        p_buy_90d = self.purchase_probability("p_buy_90d", raw["p_buy_90d"], features)
        p_buy_30d = np.minimum(
            self.purchase_probability("p_buy_30d", raw["p_buy_30d"], features), p_buy_90d
        )
        if self.spend_model == "hurdle":
            spend = p_buy_90d * raw["spend_given_purchase"]
        else:
            spend = raw["spend"]
        days = np.sort(np.column_stack([raw[name] for name in QUANTILES]), axis=1)
        days = np.clip(days, 0.0, float(self.horizon_days))
        return {
            "p_buy_30d": p_buy_30d,
            "p_buy_90d": p_buy_90d,
            "expected_occasions_90d": raw["occasions"] * self.occasions_scale,
            "expected_spend_90d": spend,
            "division": self._division(raw.get("division"), features.shape[0]),
            "days_to_next_p10": days[:, 0],
            "days_to_next_p50": days[:, 1],
            "days_to_next_p90": days[:, 2],
        }

    def _division(self, raw: FloatArray | None, rows: int) -> FloatArray:
        if raw is None:  # a single division: certain
            return np.ones((rows, len(self.division_classes)))
        return np.asarray(raw, dtype=np.float64).reshape(rows, len(self.division_classes))


def occasions_base(features: FloatArray, column: int, default: float) -> FloatArray:
    """The offset of the occasions head: BG/NBD's expected occasions, floored at 1e-4;
    ``default`` (the training median) where it is missing."""
    base = features[:, column]
    return np.where(np.isfinite(base), np.maximum(base, 1e-4), default)


def cutoff_levels(data: LabelledMatrix, base: FloatArray) -> FloatArray:
    """Per row, its cutoff's actual occasions over the ``base`` expectation (both totals).

    The level of the population at that cutoff: what the occasions head must not learn from
    the training cutoffs, since it moves as the clients age.
    """
    groups = data.cutoff if data.cutoff is not None else np.zeros(data.rows, dtype=np.int64)
    actual = np.bincount(groups, weights=data.occasions)
    expected = np.bincount(groups, weights=base)
    return (actual / np.maximum(expected, 1e-9))[groups]


def _train(
    settings: BoostingSettings,
    objective: dict[str, Any],
    train: tuple[FloatArray, FloatArray],
    validation: tuple[FloatArray, FloatArray],
    categorical: Sequence[int],
    feature_names: Sequence[str],
    callbacks: Sequence[Callable[..., Any]] = (),
    init_scores: tuple[FloatArray | None, FloatArray | None] = (None, None),
) -> lgb.Booster:
    """One booster with early stopping on the validation rows (optional raw-score offsets)."""
    params = {
        **settings.params,
        **objective,
        "num_threads": settings.num_threads,
        "seed": settings.seed,
        "bagging_freq": 1,
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
    }
    common = {"feature_name": list(feature_names), "categorical_feature": list(categorical)}
    train_set = lgb.Dataset(train[0], train[1], init_score=init_scores[0], **common)
    valid_set = lgb.Dataset(
        validation[0], validation[1], init_score=init_scores[1], reference=train_set, **common
    )
    return lgb.train(
        params,
        train_set,
        num_boost_round=settings.max_rounds,
        valid_sets=[valid_set],
        callbacks=[
            lgb.early_stopping(settings.early_stopping_rounds, verbose=False),
            *callbacks,
        ],
    )


def fit_purchase_booster(
    train: LabelledMatrix,
    validation: LabelledMatrix,
    settings: BoostingSettings,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    callbacks: Sequence[Callable[..., Any]] = (),
) -> lgb.Booster:
    """The raw ``p_buy_90d`` booster alone (binary log loss, early stopping on validation).

    What a tuning trial fits: ``callbacks`` may report the validation ``binary_logloss`` to a
    pruner.
    """
    return _train(
        settings,
        {"objective": "binary", "metric": "binary_logloss"},
        (train.features, train.bought),
        (validation.features, validation.bought),
        categorical,
        feature_names,
        callbacks,
    )


def _division_codes(divisions: NDArray[np.object_], classes: Sequence[str]) -> FloatArray:
    """The index of each division in ``classes``; -1 for none or an unseen one."""
    codes = pl.Series(divisions.tolist(), dtype=pl.String).replace_strict(
        list(classes), list(range(len(classes))), default=-1, return_dtype=pl.Float64
    )
    return codes.fill_null(-1.0).to_numpy()


def fit_heads(
    train: LabelledMatrix,
    validation: LabelledMatrix,
    settings: BoostingSettings,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    horizon_days: int,
    progress: Callable[[str], None] | None = None,
    occasions_offset: int | None = None,
) -> NextPurchaseHeads:
    """Fit every head on ``train``, stop early and calibrate on ``validation``.

    ``occasions_offset`` is the position of BG/NBD's expected occasions among the features,
    used as the offset of the occasions head (None: no offset).
    """
    for name, data in (("training", train), ("validation", validation)):
        if np.unique(data.bought).size < 2:
            raise ValueError(f"the {name} cutoffs hold only buyers or only non-buyers")

    def fit(
        head: str,
        objective: dict[str, Any],
        target: Callable[[LabelledMatrix], FloatArray],
        rows: Callable[[LabelledMatrix], NDArray[np.bool_]] | None = None,
        offset: Callable[[LabelledMatrix], FloatArray] | None = None,
    ) -> lgb.Booster:
        if progress is not None:
            progress(head)
        parts, scores = [], []
        for data in (train, validation):
            mask = rows(data) if rows is not None else np.ones(data.rows, dtype=bool)
            parts.append((data.features[mask], target(data)[mask]))
            scores.append(None if offset is None else offset(data)[mask])
        return _train(
            settings,
            objective,
            parts[0],
            parts[1],
            categorical,
            feature_names,
            init_scores=(scores[0], scores[1]),
        )

    boosters: dict[str, lgb.Booster] = {}
    calibrators: dict[str, Calibrator] = {}
    companion = fit_companion(validation.features, feature_names)
    for head, target in BINARY_HEADS.items():
        boosters[head] = fit(head, {"objective": "binary"}, lambda d, t=target: getattr(d, t))
        raw = boosters[head].predict(validation.features)
        window = BINARY_WINDOWS.get(head, horizon_days)
        calibrators[head] = fit_calibrator(
            raw,
            getattr(validation, target),
            seed=settings.seed,
            companion=(
                None if companion is None else companion.p_at_least_one(validation.features, window)
            ),
        )

    log_base, default_base = None, 1.0
    if occasions_offset is not None:
        known = train.features[:, occasions_offset]
        known = known[np.isfinite(known)]
        default_base = float(np.median(np.maximum(known, 1e-4))) if known.size else 1.0

        def log_base(data: LabelledMatrix) -> FloatArray:
            base = occasions_base(data.features, occasions_offset, default_base)
            return np.log(base * np.maximum(cutoff_levels(data, base), 1e-3))

    boosters["occasions"] = fit(
        "occasions", {"objective": "poisson"}, lambda d: d.occasions, offset=log_base
    )
    predicted_occasions = boosters["occasions"].predict(validation.features)
    if occasions_offset is not None:
        predicted_occasions = predicted_occasions * occasions_base(
            validation.features, occasions_offset, default_base
        )
    validation_ratio = float(validation.occasions.sum() / max(predicted_occasions.sum(), 1e-9))
    # With the BG/NBD offset the population's level is BG/NBD's at the scored cutoff: rescaling
    # to the validation window's total would carry that window's level (its season, a younger
    # population) forward. The ratio is kept as a diagnostic.
    occasions_scale = 1.0 if occasions_offset is not None else validation_ratio

    tweedie = {"objective": "tweedie", "tweedie_variance_power": 1.5}
    boosters["spend"] = fit("spend", tweedie, lambda d: d.spend)
    boosters["spend_given_purchase"] = fit(
        "spend_given_purchase", {"objective": "gamma"}, lambda d: d.spend, lambda d: d.spend > 0
    )
    calibrated = NextPurchaseHeads(
        boosters, calibrators, (), "", 1.0, horizon_days, companion=companion
    )
    p_buy_90d = calibrated.purchase_probability(
        "p_buy_90d", boosters["p_buy_90d"].predict(validation.features), validation.features
    )
    candidates = {
        "tweedie": boosters["spend"].predict(validation.features),
        "hurdle": p_buy_90d * boosters["spend_given_purchase"].predict(validation.features),
    }
    spend_gini = {name: normalized_gini(validation.spend, v) for name, v in candidates.items()}
    spend_model = max(SPEND_MODELS, key=lambda name: spend_gini[name])
    del boosters["spend_given_purchase" if spend_model == "tweedie" else "spend"]

    buyers_divisions = pl.Series(train.division[train.bought > 0].tolist(), dtype=pl.String)
    classes = tuple(buyers_divisions.drop_nulls().unique().sort().to_list())
    if len(classes) > 1:
        boosters["division"] = fit(
            "division",
            {"objective": "multiclass", "num_class": len(classes)},
            lambda d: _division_codes(d.division, classes),
            lambda d: _division_codes(d.division, classes) >= 0,
        )
    for head, alpha in QUANTILES.items():
        boosters[head] = fit(
            head,
            {"objective": "quantile", "alpha": alpha},
            lambda d: np.minimum(d.days_to_next, horizon_days),
        )
    return NextPurchaseHeads(
        boosters=boosters,
        calibrators=calibrators,
        division_classes=classes or ("unknown",),
        spend_model=spend_model,
        occasions_scale=occasions_scale,
        horizon_days=horizon_days,
        occasions_offset=occasions_offset,
        occasions_default_base=default_base,
        validation={
            **{f"spend_gini_{name}": value for name, value in spend_gini.items()},
            "occasions_validation_ratio": validation_ratio,
        },
        companion=companion,
    )
