"""The next-purchase bundle: native LightGBM boosters plus a JSON manifest, and its predictions.

On disk a bundle is a directory::

    manifest.json                 features, categorical levels, calibrators, the calibrators'
                                  recency-frequency companion, division classes, reason
                                  templates, training dates, backtest metrics
    production/<head>.lgb         the heads the service uses
    backtest/<head>.lgb           the same recipe fitted before the test window, kept so that a
                                  later challenger can re-score this model on its own backtest

The batch path (:meth:`NextPurchaseBundle.predict`) scores a polars frame of client features; the
single-row path (:meth:`NextPurchaseBundle.predict_one`) builds one numpy row in the stored
column order and calls each booster with one thread, which is what the service needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from features.client_features import division_slug
from features.errors import UserInputError
from training.next_purchase.calibration import Calibrator
from training.next_purchase.companion import RecencyFrequencyCompanion
from training.next_purchase.frame import FeatureSpec
from training.next_purchase.models import FloatArray, NextPurchaseHeads
from training.next_purchase.reasons import PLACEHOLDER, REASON_COLUMNS, format_value, top_reasons

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
HEAD_SETS: tuple[str, ...] = ("production", "backtest")
SCALAR_OUTPUTS: tuple[str, ...] = (
    "p_buy_30d",
    "p_buy_90d",
    "expected_occasions_90d",
    "expected_spend_90d",
    "days_to_next_p10",
    "days_to_next_p50",
    "days_to_next_p90",
)


def division_column(division: str) -> str:
    """The output column holding the probability of ``division``: ``p_division_leather_goods``."""
    return "p_division_" + division_slug(division)


class NextPurchaseBundle:
    """Everything needed to score clients: the heads, their features and reason templates."""

    def __init__(
        self,
        spec: FeatureSpec,
        production: NextPurchaseHeads,
        backtest: NextPurchaseHeads | None = None,
        reason_templates: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.heads = {"production": production}
        if backtest is not None:
            self.heads["backtest"] = backtest
        self.reason_templates = dict(reason_templates or {})
        self.metadata = dict(metadata or {})

    @property
    def production(self) -> NextPurchaseHeads:
        """The heads the service uses."""
        return self.heads["production"]

    @property
    def division_classes(self) -> tuple[str, ...]:
        """The divisions the model predicts, in column order."""
        return self.production.division_classes

    def output_columns(self) -> list[str]:
        """The columns of :meth:`predict`, after ``client_id``."""
        divisions = [division_column(d) for d in self.division_classes]
        return [*SCALAR_OUTPUTS[:4], "next_division", *divisions, *SCALAR_OUTPUTS[4:]]

    # -- scoring ---------------------------------------------------------------------------

    def _outputs(self, predictions: dict[str, FloatArray]) -> dict[str, Any]:
        """Named output columns from the heads' prediction arrays."""
        division = predictions["division"]
        classes = np.asarray(self.division_classes, dtype=object)
        columns: dict[str, Any] = {name: predictions[name] for name in SCALAR_OUTPUTS}
        columns["next_division"] = classes[np.argmax(division, axis=1)]
        for position, name in enumerate(self.division_classes):
            columns[division_column(name)] = division[:, position]
        return columns

    def predict(self, features: pl.DataFrame, heads: str = "production") -> pl.DataFrame:
        """One row per client of ``features``: probabilities, spend, division, days to next.

        ``features`` holds ``client_id`` and the model's feature columns (extra ones are
        ignored). ``heads="backtest"`` scores with the model fitted before the test window.
        """
        if "client_id" not in features.columns:
            raise UserInputError("the feature frame has no client_id column")
        predictions = self.heads[heads].predict_matrix(self.spec.matrix(features))
        columns = self._outputs(predictions)
        frame = pl.DataFrame({"client_id": features.get_column("client_id").cast(pl.String)})
        return frame.with_columns(
            pl.Series(name, columns[name], dtype=pl.String if name == "next_division" else None)
            for name in self.output_columns()
        )

    def predict_frame(self, frame: Any) -> Any:
        """MLflow pyfunc entry point: a pandas (or polars) frame in, a pandas frame out."""
        features = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
        return self.predict(features).to_pandas()

    def predict_one(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Predictions for one client from a mapping of feature values (the serving path)."""
        row = self.spec.row(values)
        columns = self._outputs(self.production.predict_matrix(row, num_threads=1))
        result: dict[str, Any] = {"client_id": values.get("client_id")}
        for name in self.output_columns():
            value = columns[name][0]
            result[name] = value if isinstance(value, str) else float(value)
        return result

    # -- reasons ---------------------------------------------------------------------------

    def contributions(self, matrix: FloatArray, num_threads: int = 0) -> FloatArray:
        """``pred_contrib`` of the ``p_buy_90d`` booster: one column per feature, then the bias."""
        booster = self.production.boosters["p_buy_90d"]
        return np.asarray(booster.predict(matrix, pred_contrib=True, num_threads=num_threads))

    def explain(self, features: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
        """The ``top_k`` reasons per client: ``client_id``, ``rank``, ``feature``,
        ``contribution`` (log-odds) and ``reason`` (a catalogue phrase with the client's value).
        """
        if features.height == 0:
            return pl.DataFrame(schema=REASON_COLUMNS)
        contributions = self.contributions(self.spec.matrix(features))
        return top_reasons(
            features.get_column("client_id").cast(pl.String),
            contributions,
            features,
            self.spec.names,
            self.reason_templates,
            top_k,
        )

    def explain_one(self, values: Mapping[str, Any], top_k: int = 3) -> list[str]:
        """The reasons of one client, strongest first (the serving path)."""
        contributions = self.contributions(self.spec.row(values), num_threads=1)[0, :-1]
        reasons: list[str] = []
        for position in np.argsort(-contributions, kind="stable"):
            name = self.spec.names[position]
            template = self.reason_templates.get(name)
            value = values.get(name)
            if contributions[position] <= 0 or len(reasons) == top_k:
                break
            if template is None or value is None:
                continue
            phrase = template.replace(PLACEHOLDER, format_value(value))
            if phrase not in reasons:
                reasons.append(phrase)
        return reasons

    # -- persistence -----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the boosters (native ``.lgb`` text) and the JSON manifest into ``directory``."""
        directory = Path(directory)
        heads_manifest: dict[str, Any] = {}
        for set_name, heads in self.heads.items():
            (directory / set_name).mkdir(parents=True, exist_ok=True)
            for head, booster in heads.boosters.items():
                booster.save_model(str(directory / set_name / f"{head}.lgb"))
            heads_manifest[set_name] = {
                "boosters": sorted(heads.boosters),
                "calibrators": {k: c.to_dict() for k, c in heads.calibrators.items()},
                "division_classes": list(heads.division_classes),
                "spend_model": heads.spend_model,
                "occasions_scale": heads.occasions_scale,
                "horizon_days": heads.horizon_days,
                "occasions_offset": heads.occasions_offset,
                "occasions_default_base": heads.occasions_default_base,
                "validation": heads.validation,
                "companion": None if heads.companion is None else heads.companion.to_dict(),
            }
        manifest = {
            "format_version": FORMAT_VERSION,
            "features": self.spec.to_dict(),
            "heads": heads_manifest,
            "reason_templates": self.reason_templates,
            "metadata": self.metadata,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        (directory / MANIFEST).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> NextPurchaseBundle:
        """Read a bundle written by :meth:`save`."""
        directory = Path(directory)
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise UserInputError(f"{directory}: not a next-purchase bundle (no {MANIFEST})")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format_version") != FORMAT_VERSION:
            raise UserInputError(
                f"{manifest_path}: bundle format {manifest.get('format_version')} is not "
                f"{FORMAT_VERSION}; retrain the model"
            )
        heads = {}
        for set_name, entry in manifest["heads"].items():
            heads[set_name] = NextPurchaseHeads(
                boosters={
                    head: lgb.Booster(model_file=str(directory / set_name / f"{head}.lgb"))
                    for head in entry["boosters"]
                },
                calibrators={k: Calibrator.from_dict(c) for k, c in entry["calibrators"].items()},
                division_classes=tuple(entry["division_classes"]),
                spend_model=entry["spend_model"],
                occasions_scale=float(entry["occasions_scale"]),
                horizon_days=int(entry["horizon_days"]),
                occasions_offset=entry["occasions_offset"],
                occasions_default_base=float(entry["occasions_default_base"]),
                validation=dict(entry["validation"]),
                companion=(
                    RecencyFrequencyCompanion.from_dict(entry["companion"])
                    if entry.get("companion")
                    else None
                ),
            )
        return cls(
            FeatureSpec.from_dict(manifest["features"]),
            heads["production"],
            heads.get("backtest"),
            manifest["reason_templates"],
            manifest["metadata"],
        )
