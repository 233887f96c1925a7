"""Train, backtest and tune the next-purchase model: the stages behind ``clientcast train``.

:func:`train_next_purchase` runs the whole recipe and records it:

1. client features and labels at every cutoff of the layout (:mod:`.layout`), stacked;
2. the backtest heads: fitted on the training cutoffs, stopped early and calibrated on the
   validation cutoff (:mod:`.models`);
3. the backtest: those heads and the baselines scored on the test cutoff (:mod:`.backtest`);
4. the production heads: the same recipe one horizon later (calibrated on the test cutoff);
5. MLflow: parameters, metrics, feature list, figures, the backtest table, the bundle
   (registered), then champion/challenger promotion where the current champion is re-scored on
   the same test frame whenever it did not learn from that window.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Group
from rich.table import Table

from features.errors import UserInputError
from features.history import PurchaseHistory, load_history
from training import tracking
from training.metrics.next_purchase import classification_metrics
from training.next_purchase.backtest import ModelPredictions, predict_cutoff, score_predictions
from training.next_purchase.bundle import NextPurchaseBundle
from training.next_purchase.frame import (
    LABELS,
    FeatureSpec,
    feature_spec,
    labelled_matrix,
)
from training.next_purchase.layout import CutoffLayout, cutoff_layout
from training.next_purchase.models import (
    BoostingSettings,
    NextPurchaseHeads,
    fit_heads,
    fit_purchase_booster,
)
from training.next_purchase.reasons import catalogue_templates
from training.next_purchase.search_space import booster_params, booster_space
from training.progress import Progress, announce
from training.store_urls import shown_url
from training.tuning import TunedParameters, study_name, tuned_parameters
from training.workspace import WorkspaceSettings

EXPERIMENT = "next-purchase"
STUDY_FAMILY = "next-purchase"
"""The family of the Optuna studies, named ``next-purchase@<data fingerprint>``."""
PROMOTION_METRIC = "backtest.log_loss"
MODEL_KEY = "clientcast"


@dataclass(frozen=True)
class RecipeOptions:
    """What the recipe may vary: horizon, cutoff spacing, boosting limits.

    ``params`` overrides booster parameters on top of the tuned (or default) ones.
    """

    horizon_days: int = 90
    step_days: int = 45
    n_training: int = 6
    min_history_days: int = 90
    max_rounds: int = 400
    early_stopping_rounds: int = 30
    num_threads: int = 2
    params: dict[str, Any] | None = None


@dataclass
class TrainingReport:
    """What ``clientcast train next-purchase`` wrote and why the model was promoted or not."""

    registered_name: str
    version: str
    alias: str
    promotion_reason: str
    run_id: str
    as_of: date
    layout: CutoffLayout
    backtest: pl.DataFrame
    spend_model: str
    features: int
    training_rows: int
    wall_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    params_source: str = ""

    def summary(self) -> str:
        """One line: version, alias, the reason and where the parameters come from."""
        return (
            f"{self.registered_name} v{self.version} is @{self.alias}: {self.promotion_reason}; "
            f"parameters: {self.params_source} ({self.wall_seconds:.0f} s)"
        )

    def __rich__(self) -> Group:
        table = Table(
            title=f"next-purchase backtest at {self.layout.test} ({self.layout.horizon_days} days)",
            title_justify="left",
        )
        columns = ["roc_auc", "log_loss", "brier", "ece", "count_mae", "spend_gini"]
        columns += ["division_top1_accuracy"]
        table.add_column("model")
        for column in columns:
            table.add_column(column, justify="right")
        for row in self.backtest.iter_rows(named=True):
            table.add_row(
                row["model"],
                *(
                    f"{row[c]:.3f}" if isinstance(row.get(c), float) and row[c] == row[c] else "–"
                    for c in columns
                ),
            )
        lines = [
            f"as of {self.as_of}: trained on cutoffs "
            f"{', '.join(d.isoformat() for d in self.layout.training)}, validated on "
            f"{self.layout.validation}, tested on {self.layout.test}; "
            f"{self.training_rows:,} training rows, {self.features} features, "
            f"spend head: {self.spend_model}",
            f"parameters: {self.params_source}",
            f"production model refitted on cutoffs up to {self.layout.validation} and calibrated "
            f"on {self.layout.test}; MLflow run {self.run_id}",
            f"[bold]{self.registered_name} v{self.version} -> @{self.alias}[/]: "
            f"{self.promotion_reason}",
        ]
        return Group(table, *lines)


def history_dates(history: PurchaseHistory, reference_currency: str) -> tuple[date, date]:
    """The first local purchase day and the day after the last one ("today" for the history).

    Local (boutique) dates, as the features and labels use them.
    """
    from features.normalise import normalised_lines

    bounds = (
        normalised_lines(history, reference_currency)
        .select(first=pl.col("purchase_date").min(), last=pl.col("purchase_date").max())
        .collect()
    )
    first, last = bounds.row(0)
    if first is None:
        raise UserInputError("the history holds no transaction: nothing to train on")
    return first, last + timedelta(days=1)


def client_frames(
    history: PurchaseHistory,
    cutoffs: Sequence[date],
    horizon_days: int,
    reference_currency: str,
) -> dict[date, pl.DataFrame]:
    """Features and labels of every client at each cutoff, collected once and split by cutoff."""
    from features.training_frame import build_client_training_frame

    built = build_client_training_frame(
        history, sorted(set(cutoffs)), horizon_days, reference_currency
    )
    frame = built.collect() if isinstance(built, pl.LazyFrame) else built
    frame = frame.with_columns(pl.col("cutoff").cast(pl.Date))
    return {
        cutoff: frame.filter(pl.col("cutoff") == cutoff).sort("client_id")
        for cutoff in sorted(set(cutoffs))
    }


def model_features(frame: pl.DataFrame) -> FeatureSpec:
    """The spec of the catalogued client features present in ``frame``."""
    from features.client_features import CATEGORICAL_CLIENT_FEATURES, CLIENT_FEATURES

    names = [name for name in CLIENT_FEATURES if name in frame.columns]
    return feature_spec(frame, names, CATEGORICAL_CLIENT_FEATURES)


def occasions_offset_feature(horizon_days: int) -> str:
    """The feature whose log offsets the occasions head: BG/NBD's expectation over the horizon."""
    return f"bgnbd_expected_{horizon_days}d"


def fit_recipe(
    frames: dict[date, pl.DataFrame],
    training: Sequence[date],
    validation: date,
    spec: FeatureSpec,
    settings: BoostingSettings,
    horizon_days: int,
    progress: Progress | None = None,
) -> NextPurchaseHeads:
    """Fit the heads on the ``training`` cutoffs, stop early and calibrate on ``validation``."""
    stacked = pl.concat([frames[cutoff] for cutoff in training], how="vertical_relaxed")
    return fit_heads(
        labelled_matrix(stacked, spec, horizon_days),
        labelled_matrix(frames[validation], spec, horizon_days),
        settings,
        spec.names,
        spec.categorical_indices,
        horizon_days,
        progress=None if progress is None else (lambda head: progress(f"fitting {head}")),
        occasions_offset=(
            spec.names.index(offset)
            if (offset := occasions_offset_feature(horizon_days)) in spec.names
            else None
        ),
    )


def _occasions(history: PurchaseHistory, reference_currency: str, end: date) -> pl.LazyFrame:
    from features.normalise import purchase_occasions

    return purchase_occasions(history, reference_currency, end=end).filter(
        pl.col("client_id").is_not_null()
    )


def study_parameters(settings: WorkspaceSettings, data_dir: Path | None = None) -> TunedParameters:
    """The Optuna study tuned on the history in ``data_dir`` (default: ``settings.data_dir``)
    and its best parameters, if it has any (:func:`training.tuning.tuned_parameters`)."""
    return tuned_parameters(STUDY_FAMILY, data_dir or settings.data_dir, settings.optuna_storage)


def recipe_params(tuned: TunedParameters, options: RecipeOptions) -> dict[str, Any]:
    """The booster parameters of a run: the defaults, the study's best on top, then the
    options' overrides."""
    return {**booster_params(tuned.best), **(options.params or {})}


def _champion_value(
    settings: WorkspaceSettings, test_frame: pl.DataFrame, test_cutoff: date, as_of: date
) -> tuple[float | None, str]:
    """The current champion's log loss on this very test frame, when it is fair to compute.

    A model whose labels reached past the test cutoff has seen the test window: its own
    production heads are used only when they stop before the test cutoff, else its backtest
    heads when those do; otherwise None (the champion's logged metric is used instead). A
    champion trained after ``as_of`` is not loaded: a back-dated model never replaces it.
    """
    if tracking.alias_version(settings.next_purchase_model, tracking.CHAMPION) is None:
        return None, "no champion yet"
    newer = tracking.newer_champion(settings.next_purchase_model, as_of)
    if newer is not None:
        return None, f"champion v{newer.version} was trained on later data: not compared"
    try:
        champion, info = tracking.load_bundle(settings.next_purchase_model, tracking.CHAMPION)
    except Exception as error:  # an unloadable champion is compared by its logged metric
        return None, f"champion could not be loaded ({type(error).__name__})"
    if not isinstance(champion, NextPurchaseBundle):
        return None, "champion is not a next-purchase bundle"
    for heads, key in (("production", "label_end"), ("backtest", "backtest_label_end")):
        label_end = champion.metadata.get(key)
        if heads in champion.heads and label_end and date.fromisoformat(label_end) <= test_cutoff:
            try:
                predictions = champion.predict(test_frame, heads=heads)
            except UserInputError:
                break  # the champion needs features this frame no longer has
            bought = test_frame.get_column(LABELS["bought"]).cast(pl.Float64).to_numpy()
            p = predictions.get_column("p_buy_90d").to_numpy()
            value = classification_metrics(bought, p)["log_loss"]
            return value, f"champion v{info['version']} re-scored with its {heads} heads"
    return None, f"champion v{info['version']} saw this test window: its logged backtest is used"


def _log_run(
    bundle: NextPurchaseBundle,
    layout: CutoffLayout,
    params: dict[str, Any],
    backtest: pl.DataFrame,
    test_frame: pl.DataFrame,
    predictions: Mapping[str, ModelPredictions],
    backtest_heads: NextPurchaseHeads,
) -> None:
    """Parameters, metrics, feature list, figures and the backtest table of the active run."""
    from training.next_purchase.plots import calibration_figure, importance_figure, lift_figure

    tracking.log_params({**layout.describe(), **{f"lgb.{k}": v for k, v in params.items()}})
    tracking.log_params(
        {
            "spend_model": backtest_heads.spend_model,
            "calibrator.p_buy_90d": backtest_heads.calibrators["p_buy_90d"].kind,
            "calibrator.p_buy_30d": backtest_heads.calibrators["p_buy_30d"].kind,
            "features": len(bundle.spec.names),
        }
    )
    for row in backtest.iter_rows(named=True):
        values = {k: v for k, v in row.items() if isinstance(v, float)}
        prefix = "backtest." if row["model"] == MODEL_KEY else f"backtest.{row['model']}."
        tracking.log_metrics(values, prefix=prefix)
    tracking.log_metrics(backtest_heads.validation, prefix="validation.")
    tracking.log_table(backtest.with_columns(pl.col("cutoff").cast(pl.String)), "backtest.json")
    tracking.log_text("\n".join(bundle.spec.names), "features.txt")
    booster = backtest_heads.boosters["p_buy_90d"]
    tracking.log_figure(
        importance_figure(bundle.spec.names, booster.feature_importance("gain")),
        "importance.png",
    )
    bought = test_frame.get_column(LABELS["bought"]).cast(pl.Float64).to_numpy()
    probabilities = {
        name: predicted.p_buy
        for name, predicted in predictions.items()
        if predicted.p_buy is not None
    }
    tracking.log_figure(calibration_figure(bought, probabilities), "calibration.png")
    tracking.log_figure(lift_figure(bought, probabilities), "lift.png")


@dataclass
class PreparedData:
    """Everything a recipe run reads: the layout, frames per cutoff, occasions and features."""

    history: PurchaseHistory
    as_of: date
    layout: CutoffLayout
    frames: dict[date, pl.DataFrame]
    occasions: pl.LazyFrame
    spec: FeatureSpec


def prepare_data(
    history: PurchaseHistory,
    as_of: date | None,
    reference_currency: str,
    options: RecipeOptions,
    progress: Progress | None = None,
) -> PreparedData:
    """Lay out the cutoffs before ``as_of`` and build every client frame they need."""
    first_day, last_day = history_dates(history, reference_currency)
    as_of = as_of or last_day
    if as_of <= first_day:
        raise UserInputError(f"--as-of {as_of} is not after the first purchase ({first_day})")
    layout = cutoff_layout(
        as_of,
        first_day,
        options.horizon_days,
        options.step_days,
        options.n_training,
        options.min_history_days,
    )
    cutoffs = [*layout.training, layout.validation, layout.test, *layout.production_training]
    announce(progress, f"building client features at {len(set(cutoffs))} cutoffs")
    frames = client_frames(history, cutoffs, options.horizon_days, reference_currency)
    empty = [cutoff.isoformat() for cutoff, frame in frames.items() if frame.height == 0]
    if empty:
        raise UserInputError(f"no client has purchased before the cutoffs {empty}")
    spec = model_features(pl.concat([frames[c] for c in layout.training], how="vertical_relaxed"))
    occasions = _occasions(history, reference_currency, as_of)
    return PreparedData(history, as_of, layout, frames, occasions, spec)


def boosting_settings(
    options: RecipeOptions, params: dict[str, Any], seed: int
) -> BoostingSettings:
    """The boosting settings of a run from the options and the (tuned) parameters."""
    return BoostingSettings(
        params=params,
        max_rounds=options.max_rounds,
        early_stopping_rounds=options.early_stopping_rounds,
        num_threads=options.num_threads,
        seed=seed,
    )


def fit_bundle(
    data: PreparedData,
    settings: BoostingSettings,
    templates: dict[str, str],
    metadata: dict[str, Any],
    progress: Progress | None = None,
) -> tuple[NextPurchaseBundle, pl.DataFrame, dict[str, ModelPredictions]]:
    """Backtest heads, their scores beside the baselines on the test cutoff, production heads."""
    layout, horizon = data.layout, data.layout.horizon_days
    announce(progress, "fitting the backtest heads")
    backtest_heads = fit_recipe(
        data.frames, layout.training, layout.validation, data.spec, settings, horizon, progress
    )
    announce(progress, "fitting the production heads")
    production_heads = fit_recipe(
        data.frames,
        layout.production_training,
        layout.production_validation,
        data.spec,
        settings,
        horizon,
        progress,
    )
    bundle = NextPurchaseBundle(
        data.spec,
        production_heads,
        backtest_heads,
        templates,
        {
            **metadata,
            "as_of": data.as_of.isoformat(),
            "label_end": data.as_of.isoformat(),
            "backtest_label_end": layout.test.isoformat(),
            "layout": layout.describe(),
        },
    )
    announce(progress, f"backtest on {layout.test}")
    test_frame = data.frames[layout.test]
    predictions = predict_cutoff(
        test_frame, data.occasions, layout.test, horizon, {MODEL_KEY: bundle}, heads="backtest"
    )
    backtest = score_predictions(test_frame, predictions, bundle.division_classes).select(
        pl.lit(layout.test).alias("cutoff"), pl.lit(test_frame.height).alias("clients"), pl.all()
    )
    clientcast_row = backtest.filter(pl.col("model") == MODEL_KEY).row(0, named=True)
    bundle.metadata["backtest_metrics"] = {
        k: v for k, v in clientcast_row.items() if isinstance(v, float)
    }
    return bundle, backtest, predictions


def train_next_purchase(
    settings: WorkspaceSettings,
    as_of: date | None = None,
    progress: Progress | None = None,
    options: RecipeOptions | None = None,
) -> TrainingReport:
    """Train, backtest, log, register and (maybe) promote the next-purchase model.

    ``as_of`` None means the day after the last transaction. The booster parameters are the
    best of the Optuna study tuned on this very history (``clientcast tune next-purchase``),
    else the defaults of :mod:`.search_space`; the report, the run's params and its tags say
    which.
    """
    started = time.perf_counter()
    options = options or RecipeOptions()
    history = load_history(settings.data_dir)
    tuned = study_parameters(settings)
    params = recipe_params(tuned, options)
    data = prepare_data(history, as_of, settings.reference_currency, options, progress)
    boosting = boosting_settings(options, params, settings.seed)
    metadata = {"reference_currency": settings.reference_currency, "params": params}
    bundle, backtest, predictions = fit_bundle(
        data, boosting, catalogue_templates(), metadata, progress
    )

    tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    test_frame = data.frames[data.layout.test]
    champion_value, champion_note = _champion_value(
        settings, test_frame, data.layout.test, data.as_of
    )
    announce(progress, "logging to MLflow")
    with tracking.training_run(
        EXPERIMENT, run_name=f"next-purchase-{data.as_of.isoformat()}"
    ) as run_id:
        _log_run(
            bundle, data.layout, params, backtest, test_frame, predictions, bundle.heads["backtest"]
        )
        tracking.log_params(tuned.record())
        tracking.set_tags(tuned.record())
        tracking.log_metrics({"fit_seconds": time.perf_counter() - started})
        example = test_frame.select("client_id", *data.spec.names).head(5).to_pandas()
        version = tracking.log_bundle(
            bundle, settings.next_purchase_model, input_example=example, trained_as_of=data.as_of
        )
        metrics = {PROMOTION_METRIC: bundle.metadata["backtest_metrics"]["log_loss"]}
        decision = tracking.promote(
            settings.next_purchase_model,
            version,
            metrics,
            PROMOTION_METRIC,
            higher_is_better=False,
            champion_value=champion_value,
            trained_as_of=data.as_of,
        )
        tracking.log_params({"promotion": decision.alias})
        tracking.log_text(f"{decision.reason}; {champion_note}", "promotion.txt")
    wall = time.perf_counter() - started
    return TrainingReport(
        registered_name=settings.next_purchase_model,
        version=version,
        alias=decision.alias,
        promotion_reason=(
            decision.reason
            if champion_note == decision.reason
            else f"{decision.reason} ({champion_note})"
        ),
        run_id=run_id,
        as_of=data.as_of,
        layout=data.layout,
        backtest=backtest,
        spend_model=bundle.production.spend_model,
        features=len(data.spec.names),
        training_rows=sum(data.frames[c].height for c in data.layout.training),
        wall_seconds=wall,
        params=params,
        params_source=tuned.describe(options.params or {}),
    )


def backtest_next_purchase(
    settings: WorkspaceSettings,
    data_dir: Path | None = None,
    as_of: date | None = None,
    n_origins: int = 3,
    origin_step_days: int | None = None,
    progress: Progress | None = None,
    options: RecipeOptions | None = None,
) -> pl.DataFrame:
    """Rolling-origin backtest: metrics per origin and per model, baselines included.

    The latest origin is the test cutoff of :func:`train_next_purchase`'s layout; each earlier
    one moves the whole layout back by ``origin_step_days`` (default: one horizon, so that the
    test windows do not overlap). Every origin refits the recipe on its own training cutoffs,
    with the parameters of the study tuned on the backtested history, else the defaults.
    Nothing is logged or registered.
    """
    options = options or RecipeOptions()
    step = origin_step_days or options.horizon_days
    data_dir = data_dir or settings.data_dir
    history = load_history(data_dir)
    first_day, last_day = history_dates(history, settings.reference_currency)
    latest = as_of or last_day
    layouts = []
    for k in range(n_origins):
        try:
            layouts.append(
                cutoff_layout(
                    latest - timedelta(days=k * step),
                    first_day,
                    options.horizon_days,
                    options.step_days,
                    options.n_training,
                    options.min_history_days,
                )
            )
        except UserInputError:
            if not layouts:
                raise
            break
    cutoffs = {c for layout in layouts for c in (*layout.training, layout.validation, layout.test)}
    announce(progress, f"building client features at {len(cutoffs)} cutoffs")
    frames = client_frames(
        history, sorted(cutoffs), options.horizon_days, settings.reference_currency
    )
    occasions = _occasions(history, settings.reference_currency, latest)
    params = recipe_params(study_parameters(settings, data_dir), options)
    boosting = boosting_settings(options, params, settings.seed)
    results = []
    for layout in sorted(layouts, key=lambda layout: layout.test):
        spec = model_features(
            pl.concat([frames[c] for c in layout.training], how="vertical_relaxed")
        )
        announce(progress, f"origin {layout.test}: fitting")
        heads = fit_recipe(
            frames, layout.training, layout.validation, spec, boosting, options.horizon_days
        )
        bundle = NextPurchaseBundle(spec, heads, reason_templates={})
        announce(progress, f"origin {layout.test}: scoring")
        test_frame = frames[layout.test]
        predictions = predict_cutoff(
            test_frame, occasions, layout.test, options.horizon_days, {MODEL_KEY: bundle}
        )
        scores = score_predictions(test_frame, predictions, bundle.division_classes)
        results.append(
            scores.select(
                pl.lit(layout.test).alias("cutoff"),
                pl.lit(test_frame.height).alias("clients"),
                pl.all(),
            )
        )
    return pl.concat(results, how="diagonal_relaxed")


def tune_next_purchase(
    settings: WorkspaceSettings,
    trials: int,
    as_of: date | None = None,
    progress: Progress | None = None,
    options: RecipeOptions | None = None,
) -> dict[str, Any]:
    """Search the booster parameters with Optuna (TPE, median pruning) on the validation cutoff.

    Each trial fits the ``p_buy_90d`` booster on the training cutoffs and is scored (and pruned)
    by its binary log loss on the validation cutoff: the test cutoff is never built. The study
    lives in ``settings.optuna_storage``, named after the history it is tuned on
    (``next-purchase@<fingerprint>``: :func:`training.tuning.study_name`);
    :func:`train_next_purchase` on the same history then uses its best parameters. Returns the
    study name, storage, trial counts, best value and best parameters.
    """
    import optuna
    from optuna_integration import LightGBMPruningCallback

    from training.tuning import run_study

    if trials < 1:
        raise UserInputError(f"--trials must be at least 1, got {trials}")
    options = options or RecipeOptions()
    history = load_history(settings.data_dir)
    study = study_name(STUDY_FAMILY, settings.data_dir)
    first_day, last_day = history_dates(history, settings.reference_currency)
    layout = cutoff_layout(
        as_of or last_day,
        first_day,
        options.horizon_days,
        options.step_days,
        options.n_training,
        options.min_history_days,
    )
    announce(progress, "building client features for the training and validation cutoffs")
    frames = client_frames(
        history,
        [*layout.training, layout.validation],
        options.horizon_days,
        settings.reference_currency,
    )
    stacked = pl.concat([frames[c] for c in layout.training], how="vertical_relaxed")
    spec = model_features(stacked)
    train = labelled_matrix(stacked, spec, options.horizon_days)
    validation = labelled_matrix(frames[layout.validation], spec, options.horizon_days)

    def objective(trial: optuna.Trial) -> float:
        boosting = boosting_settings(options, booster_params(booster_space(trial)), settings.seed)
        pruning = LightGBMPruningCallback(trial, "binary_logloss")
        booster = fit_purchase_booster(
            train, validation, boosting, spec.names, spec.categorical_indices, [pruning]
        )
        return float(booster.best_score["valid_0"]["binary_logloss"])

    tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    finished = run_study(
        objective,
        study,
        settings.optuna_storage,
        trials,
        "minimize",
        EXPERIMENT,
        metric_name="validation_log_loss",
        seed=settings.seed,
        show_progress=progress is None,  # the command line's spinner replaces Optuna's bar
    )
    completed = [t for t in finished.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in finished.trials if t.state == optuna.trial.TrialState.PRUNED]
    return {
        "study_name": study,
        "storage": shown_url(settings.optuna_storage),
        "trials": len(finished.trials),
        "completed": len(completed),
        "pruned": len(pruned),
        "best_value": finished.best_value if completed else None,
        "best_params": dict(finished.best_params) if completed else {},
        "validation_cutoff": layout.validation.isoformat(),
    }
