"""The global LightGBM footfall model: one booster per granularity, horizon as a feature.

The booster predicts the ratio of :mod:`.model_frame` (visitors over the boutique's level) for
every boutique and every horizon at once (the direct multi-step strategy); the P50 in visitors is
that ratio times the level. Categorical features are encoded with the levels seen in training,
stored with the model so that a loaded model encodes new frames the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl

from features.errors import UserInputError
from features.random_seed import DEFAULT_SEED
from training.footfall.model_frame import TARGET, WEIGHT

FloatArray = npt.NDArray[np.float64]
BOOSTING_KEYS = ("num_boost_round",)


@dataclass(frozen=True)
class FeatureSpec:
    """The feature columns of a model in matrix order, and the levels of its categoricals."""

    names: tuple[str, ...]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of the categorical columns in the matrix."""
        return [index for index, name in enumerate(self.names) if name in self.categories]

    def matrix(self, frame: pl.DataFrame) -> FloatArray:
        """The float matrix of ``frame``: booleans as 0/1, categoricals as level codes, nulls
        and unseen levels as NaN. Raises :class:`UserInputError` naming missing columns."""
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise UserInputError(f"footfall model: the feature frame lacks {', '.join(missing)}")
        columns = [
            pl.col(name)
            .cast(pl.String)
            .replace_strict(levels, list(range(len(levels))), default=None, return_dtype=pl.Float64)
            if (levels := self.categories.get(name)) is not None
            else pl.col(name).cast(pl.Float64)
            for name in self.names
        ]
        values = frame.select(columns).to_numpy()
        return np.asarray(values, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"names": list(self.names), "categories": self.categories}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> FeatureSpec:
        """The spec written by :meth:`to_dict`."""
        return cls(tuple(payload["names"]), {k: list(v) for k, v in payload["categories"].items()})


def feature_spec(
    frame: pl.DataFrame, names: Sequence[str], categorical: Sequence[str]
) -> FeatureSpec:
    """The spec of the features ``names`` present in ``frame``, levels read from ``frame``."""
    present = tuple(name for name in names if name in frame.columns)
    categories = {
        name: sorted(frame.get_column(name).cast(pl.String).drop_nulls().unique().to_list())
        for name in categorical
        if name in present
    }
    return FeatureSpec(present, categories)


def lightgbm_params(params: Mapping[str, Any], seed: int, num_threads: int) -> dict[str, Any]:
    """LightGBM's own parameters from ours: the boosting-round count is not one of them."""
    booster = {key: value for key, value in params.items() if key not in BOOSTING_KEYS}
    booster.update(
        bagging_freq=1 if booster.get("bagging_fraction", 1.0) < 1.0 else 0,
        seed=seed,
        num_threads=num_threads,
        verbosity=-1,
        deterministic=True,
        force_row_wise=True,
    )
    return booster


def fit_booster(
    rows: pl.DataFrame,
    spec: FeatureSpec,
    params: Mapping[str, Any],
    seed: int = DEFAULT_SEED,
    num_threads: int = 2,
    callbacks: Sequence[Callable[..., Any]] = (),
    validation: pl.DataFrame | None = None,
) -> lgb.Booster:
    """Fit the ratio booster on training ``rows`` (:func:`.model_frame.training_rows`).

    ``validation`` rows, when given, are evaluated each round (for pruning callbacks).
    """
    if rows.height == 0:
        raise UserInputError("footfall model: no training row (no observed footfall to learn)")
    dataset = lgb.Dataset(
        spec.matrix(rows),
        label=rows.get_column(TARGET).to_numpy(),
        weight=rows.get_column(WEIGHT).to_numpy() if WEIGHT in rows.columns else None,
        feature_name=list(spec.names),
        categorical_feature=spec.categorical_indices,
        free_raw_data=True,
    )
    valid_sets = []
    if validation is not None:
        valid_sets = [
            lgb.Dataset(
                spec.matrix(validation),
                label=validation.get_column(TARGET).to_numpy(),
                reference=dataset,
            )
        ]
    return lgb.train(
        lightgbm_params(params, seed, num_threads),
        dataset,
        num_boost_round=int(params.get("num_boost_round", 400)),
        valid_sets=valid_sets,
        callbacks=list(callbacks),
    )


def predict_ratio(booster: lgb.Booster, spec: FeatureSpec, frame: pl.DataFrame) -> FloatArray:
    """The predicted ratio of every row of ``frame`` (a scaled feature frame)."""
    if frame.height == 0:
        return np.zeros(0, dtype=np.float64)
    return np.asarray(booster.predict(spec.matrix(frame)), dtype=np.float64)
