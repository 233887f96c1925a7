"""Probability calibration on the validation cutoff: isotonic, Platt or stacked, whichever scores
better.

A booster trained on earlier cutoffs is miscalibrated on later ones (clients age, seasons move),
so its raw scores are mapped to probabilities with a calibrator fitted on the *validation* cutoff,
the latest one whose label window closes before the test cutoff. The test window is never seen.
The *stacked* calibrator is Platt's logistic regression with a second input, the logit of a
companion probability (the recency-frequency rule of :mod:`.companion`): the calibration step
then also blends the booster with a smooth score it cannot represent with steps.

Every calibrator is plain numbers (isotonic thresholds, logistic coefficients) so that a bundle
stores it in its JSON manifest and applies it with numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

FloatArray = NDArray[np.float64]
EPSILON = 1e-6


def _logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    return np.log(clipped / (1 - clipped))


@dataclass(frozen=True)
class Calibrator:
    """A map from raw scores to probabilities: isotonic steps, Platt's sigmoid or a stack.

    ``kind`` is ``"isotonic"`` (``x``/``y`` are the step thresholds, interpolated linearly and
    clipped at the ends), ``"platt"`` (``y = sigmoid(slope * logit(score) + intercept)``) or
    ``"stacked"`` (Platt plus ``companion_slope * logit(companion)``, non-decreasing in both).
    """

    kind: Literal["isotonic", "platt", "stacked"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0
    companion_slope: float = 0.0

    @property
    def needs_companion(self) -> bool:
        """Whether :meth:`transform` reads a companion probability."""
        return self.kind == "stacked"

    def transform(self, scores: ArrayLike, companion: ArrayLike | None = None) -> FloatArray:
        """Calibrated probabilities in [0, 1] for raw scores in [0, 1] (and, for a stacked
        calibrator, the companion probabilities of the same rows)."""
        values = np.asarray(scores, dtype=np.float64)
        if self.kind == "isotonic":
            calibrated = np.interp(values, self.x, self.y)
        else:
            linear = self.slope * _logit(values) + self.intercept
            if self.kind == "stacked":
                if companion is None:
                    raise ValueError("a stacked calibrator needs the companion probabilities")
                other = np.asarray(companion, dtype=np.float64)
                linear = linear + self.companion_slope * _logit(other)
            calibrated = 1.0 / (1.0 + np.exp(-linear))
        return np.clip(calibrated, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, read back by :meth:`from_dict`."""
        if self.kind == "isotonic":
            return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}
        described = {"kind": self.kind, "slope": self.slope, "intercept": self.intercept}
        if self.kind == "stacked":
            described["companion_slope"] = self.companion_slope
        return described

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Calibrator:
        """The calibrator described by :meth:`to_dict`."""
        if payload["kind"] == "isotonic":
            return cls("isotonic", x=tuple(payload["x"]), y=tuple(payload["y"]))
        return cls(
            payload["kind"],
            slope=float(payload["slope"]),
            intercept=float(payload["intercept"]),
            companion_slope=float(payload.get("companion_slope", 0.0)),
        )


def fit_isotonic(scores: ArrayLike, outcomes: ArrayLike) -> Calibrator:
    """Fit an isotonic (non-decreasing step) calibrator."""
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(np.asarray(scores, dtype=np.float64), np.asarray(outcomes, dtype=np.float64))
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in model.X_thresholds_),
        y=tuple(float(v) for v in model.y_thresholds_),
    )


def fit_platt(scores: ArrayLike, outcomes: ArrayLike) -> Calibrator:
    """Fit Platt scaling: a logistic regression on the logit of the raw score."""
    features = _logit(np.asarray(scores, dtype=np.float64)).reshape(-1, 1)
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(features, np.asarray(outcomes, dtype=np.int64))
    return Calibrator("platt", slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))


def fit_stacked(scores: ArrayLike, outcomes: ArrayLike, companion: ArrayLike) -> Calibrator:
    """Fit the stacked calibrator: a logistic regression on the logits of the raw score and of
    the companion probability."""
    features = np.column_stack(
        [
            _logit(np.asarray(scores, dtype=np.float64)),
            _logit(np.asarray(companion, dtype=np.float64)),
        ]
    )
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(features, np.asarray(outcomes, dtype=np.int64))
    return Calibrator(
        "stacked",
        slope=float(model.coef_[0, 0]),
        intercept=float(model.intercept_[0]),
        companion_slope=float(model.coef_[0, 1]),
    )


def _increasing(calibrator: Calibrator) -> bool:
    """Whether the map is non-decreasing in every input (else its inputs carry no usable signal)."""
    if calibrator.kind == "isotonic":
        return True
    return calibrator.slope > 0 and calibrator.companion_slope >= 0


def _log_loss(outcomes: FloatArray, probabilities: FloatArray) -> float:
    p = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return float(-np.mean(outcomes * np.log(p) + (1 - outcomes) * np.log(1 - p)))


def fit_calibrator(
    scores: ArrayLike, outcomes: ArrayLike, seed: int = 0, companion: ArrayLike | None = None
) -> Calibrator:
    """Isotonic, Platt or (given ``companion``) stacked, chosen by 2-fold cross-fitted log loss
    on the given (validation) rows.

    Isotonic regression always wins on the rows it was fitted on, so each candidate is fitted on
    one half and scored on the other; the winner is refitted on all rows. Every map is
    non-decreasing in its inputs (a logistic fit with a negative slope is discarded). The stacked
    candidate needs scores that vary: a constant booster is calibrated alone. Needs both outcomes.
    """
    score_array = np.asarray(scores, dtype=np.float64)
    outcome_array = np.asarray(outcomes, dtype=np.float64)
    if score_array.shape != outcome_array.shape or score_array.size == 0:
        raise ValueError("fit_calibrator: scores and outcomes must be non-empty and aligned")
    if np.unique(outcome_array).size < 2:
        raise ValueError("fit_calibrator: the validation rows hold only one outcome")
    companion_array = None if companion is None else np.asarray(companion, dtype=np.float64)
    if companion_array is not None and companion_array.shape != score_array.shape:
        raise ValueError("fit_calibrator: the companion probabilities must align with the scores")

    def fit(kind: str, rows: NDArray[np.bool_]) -> Calibrator:
        if kind == "isotonic":
            return fit_isotonic(score_array[rows], outcome_array[rows])
        if kind == "platt":
            return fit_platt(score_array[rows], outcome_array[rows])
        assert companion_array is not None
        return fit_stacked(score_array[rows], outcome_array[rows], companion_array[rows])

    # The companion supplements the booster's ranking; it does not stand in for a booster whose
    # scores are constant (one that learned nothing).
    stackable = companion_array is not None and np.ptp(score_array) > 0
    kinds = ["isotonic", "platt"] + (["stacked"] if stackable else [])
    folds = np.random.default_rng(seed).permutation(score_array.size) % 2
    losses = dict.fromkeys(kinds, 0.0)
    for fold in (0, 1):
        fit_rows, score_rows = folds != fold, folds == fold
        if np.unique(outcome_array[fit_rows]).size < 2:
            continue
        for kind in kinds:
            calibrator = fit(kind, fit_rows)
            if not _increasing(calibrator):
                losses[kind] = np.inf
                continue
            predicted = calibrator.transform(
                score_array[score_rows],
                None if companion_array is None else companion_array[score_rows],
            )
            losses[kind] += _log_loss(outcome_array[score_rows], predicted)
    everything = np.ones(score_array.size, dtype=bool)
    for kind in sorted(kinds, key=lambda name: (losses[name], kinds.index(name))):
        calibrator = fit(kind, everything)
        if _increasing(calibrator):
            return calibrator
    return fit_isotonic(score_array, outcome_array)
