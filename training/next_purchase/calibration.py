"""Probability calibration on the validation cutoff: isotonic or Platt, whichever scores better.

A booster trained on earlier cutoffs is miscalibrated on later ones (clients age, seasons move),
so its raw scores are mapped to probabilities with a calibrator fitted on the *validation* cutoff,
the latest one whose label window closes before the test cutoff. The test window is never seen.

Both calibrators are plain numbers (isotonic thresholds, Platt's two coefficients) so that a
bundle stores them in its JSON manifest and applies them with numpy alone.
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
    """A monotone map from raw scores to probabilities: isotonic steps or Platt's sigmoid.

    ``kind`` is ``"isotonic"`` (``x``/``y`` are the step thresholds, interpolated linearly and
    clipped at the ends) or ``"platt"`` (``y = sigmoid(slope * logit(score) + intercept)``).
    """

    kind: Literal["isotonic", "platt"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def transform(self, scores: ArrayLike) -> FloatArray:
        """Calibrated probabilities in [0, 1] for raw scores in [0, 1]."""
        values = np.asarray(scores, dtype=np.float64)
        if self.kind == "isotonic":
            calibrated = np.interp(values, self.x, self.y)
        else:
            calibrated = 1.0 / (1.0 + np.exp(-(self.slope * _logit(values) + self.intercept)))
        return np.clip(calibrated, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, read back by :meth:`from_dict`."""
        if self.kind == "isotonic":
            return {"kind": "isotonic", "x": list(self.x), "y": list(self.y)}
        return {"kind": "platt", "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Calibrator:
        """The calibrator described by :meth:`to_dict`."""
        if payload["kind"] == "isotonic":
            return cls("isotonic", x=tuple(payload["x"]), y=tuple(payload["y"]))
        return cls("platt", slope=float(payload["slope"]), intercept=float(payload["intercept"]))


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


def _log_loss(outcomes: FloatArray, probabilities: FloatArray) -> float:
    p = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return float(-np.mean(outcomes * np.log(p) + (1 - outcomes) * np.log(1 - p)))


def fit_calibrator(scores: ArrayLike, outcomes: ArrayLike, seed: int = 0) -> Calibrator:
    """Isotonic or Platt, chosen by 2-fold cross-fitted log loss on the given (validation) rows.

    Isotonic regression always wins on the rows it was fitted on, so each candidate is fitted on
    one half and scored on the other; the winner is refitted on all rows. Both maps are
    non-decreasing (a Platt fit with a non-positive slope is discarded). Needs both outcomes.
    """
    score_array = np.asarray(scores, dtype=np.float64)
    outcome_array = np.asarray(outcomes, dtype=np.float64)
    if score_array.shape != outcome_array.shape or score_array.size == 0:
        raise ValueError("fit_calibrator: scores and outcomes must be non-empty and aligned")
    if np.unique(outcome_array).size < 2:
        raise ValueError("fit_calibrator: the validation rows hold only one outcome")
    folds = np.random.default_rng(seed).permutation(score_array.size) % 2
    losses = {"isotonic": 0.0, "platt": 0.0}
    for fold in (0, 1):
        fit_rows, score_rows = folds != fold, folds == fold
        for kind, fit in (("isotonic", fit_isotonic), ("platt", fit_platt)):
            if np.unique(outcome_array[fit_rows]).size < 2:
                continue
            calibrator = fit(score_array[fit_rows], outcome_array[fit_rows])
            if calibrator.slope <= 0:  # a decreasing map: scores carry no usable signal
                losses[kind] = np.inf
                continue
            predicted = calibrator.transform(score_array[score_rows])
            losses[kind] += _log_loss(outcome_array[score_rows], predicted)
    if losses["platt"] < losses["isotonic"]:
        platt = fit_platt(score_array, outcome_array)
        if platt.slope > 0:
            return platt
    return fit_isotonic(score_array, outcome_array)
