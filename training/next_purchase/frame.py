"""From a training frame (one row per client and cutoff) to the numeric matrices LightGBM reads.

The frame comes from :func:`features.training_frame.build_client_training_frame`: ``client_id``,
``cutoff``, the client features of :data:`features.client_features.CLIENT_FEATURES` and the
``label_*`` columns of :mod:`features.client_labels`. A :class:`FeatureSpec` fixes the column order
and the levels of each categorical feature, learned on the training rows and stored in the
bundle, so that training, batch scoring and the single-row path of the service agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from features.errors import UserInputError
from training.next_purchase.models import FloatArray, LabelledMatrix

LABELS: dict[str, str] = {
    "bought_30d": "label_bought_30d",
    "bought": "label_bought",
    "occasions": "label_occasions",
    "spend": "label_spend",
    "division": "label_division",
    "days_to_next": "label_days_to_next",
}
KEY_COLUMNS: tuple[str, ...] = ("client_id", "cutoff")


@dataclass(frozen=True)
class FeatureSpec:
    """The model's features in order, with the known levels of the categorical ones."""

    names: tuple[str, ...]
    categorical_levels: dict[str, tuple[str, ...]]
    codes: dict[str, dict[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = {
            name: {level: code for code, level in enumerate(levels)}
            for name, levels in self.categorical_levels.items()
        }
        object.__setattr__(self, "codes", codes)

    @property
    def categorical_indices(self) -> list[int]:
        """Positions of the categorical features, for LightGBM."""
        return [i for i, name in enumerate(self.names) if name in self.categorical_levels]

    def expressions(self) -> list[pl.Expr]:
        """One float expression per feature: numbers as they are, categories as level codes."""
        columns = []
        for name in self.names:
            levels = self.categorical_levels.get(name)
            if levels is None:
                columns.append(pl.col(name).cast(pl.Float64))
            else:
                codes = (
                    pl.col(name)
                    .cast(pl.String)
                    .replace_strict(
                        list(levels),
                        list(range(len(levels))),
                        default=None,
                        return_dtype=pl.Float64,
                    )
                )
                columns.append(codes.alias(name))
        return columns

    def matrix(self, frame: pl.DataFrame) -> FloatArray:
        """The ``(rows, features)`` float matrix of ``frame``; missing values are NaN."""
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise UserInputError(f"the feature frame lacks the model's features: {missing[:5]}")
        if frame.height == 0:
            return np.empty((0, len(self.names)), dtype=np.float64)
        values = frame.select(self.expressions()).to_numpy(order="c")
        return np.asarray(values, dtype=np.float64)

    def row(self, values: Mapping[str, Any]) -> FloatArray:
        """One ``(1, features)`` row from a mapping of feature values: the fast serving path."""
        row = np.full((1, len(self.names)), np.nan)
        for position, name in enumerate(self.names):
            value = values.get(name)
            if value is None:
                continue
            levels = self.categorical_levels.get(name)
            if levels is not None:
                value = self.codes[name].get(str(value))
                if value is None:
                    continue
            row[0, position] = float(value)
        return row

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description, read back by :meth:`from_dict`."""
        return {
            "names": list(self.names),
            "categorical_levels": {k: list(v) for k, v in self.categorical_levels.items()},
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> FeatureSpec:
        """The spec described by :meth:`to_dict`."""
        return cls(
            tuple(payload["names"]),
            {k: tuple(v) for k, v in payload["categorical_levels"].items()},
        )


def feature_spec(
    frame: pl.DataFrame, names: Sequence[str], categorical: Iterable[str] = ()
) -> FeatureSpec:
    """The spec of ``names`` with each categorical feature's levels as seen in ``frame``.

    String, categorical and enum columns are categorical even when not listed.
    """
    schema = frame.collect_schema()
    categorical_names = set(categorical) | {
        name
        for name in names
        if schema.get(name) is not None
        and (schema[name] == pl.String or isinstance(schema[name], pl.Categorical | pl.Enum))
    }
    levels = {
        name: tuple(sorted(frame.get_column(name).cast(pl.String).drop_nulls().unique().to_list()))
        for name in names
        if name in categorical_names
    }
    return FeatureSpec(tuple(names), levels)


def labelled_matrix(frame: pl.DataFrame, spec: FeatureSpec, horizon_days: int) -> LabelledMatrix:
    """Features and labels of ``frame``; no purchase in the window counts as ``H`` days to wait."""
    missing = [column for column in LABELS.values() if column not in frame.columns]
    if missing:
        raise UserInputError(f"the training frame lacks the label columns {missing}")
    labels = frame.select(
        pl.col(LABELS["bought_30d"]).cast(pl.Float64),
        pl.col(LABELS["bought"]).cast(pl.Float64),
        pl.col(LABELS["occasions"]).cast(pl.Float64).fill_null(0.0),
        pl.col(LABELS["spend"]).cast(pl.Float64).fill_null(0.0),
        pl.col(LABELS["days_to_next"])
        .cast(pl.Float64)
        .fill_null(float(horizon_days))
        .clip(0.0, float(horizon_days)),
    )
    columns = labels.to_numpy().T
    return LabelledMatrix(
        features=spec.matrix(frame),
        bought_30d=columns[0],
        bought=columns[1],
        occasions=columns[2],
        spend=columns[3],
        division=np.asarray(frame.get_column(LABELS["division"]).to_list(), dtype=object),
        days_to_next=columns[4],
        cutoff=(
            frame.get_column("cutoff").rank("dense").cast(pl.Int64).to_numpy() - 1
            if "cutoff" in frame.columns and frame.height
            else None
        ),
    )
