"""Train, backtest and tune the footfall models: the stages behind ``clientcast train footfall``.

:func:`train_footfall` runs the whole recipe for the daily (days 1-56) and hourly (days 1-14)
models and records it:

1. feature frames at weekly cutoffs up to the as-of date (:mod:`features.boutique_features`);
2. the rolling backtest: the model refitted at each origin, its P10/P90 calibrated on the
   earlier origins' residuals, beside seasonal naive 7/364 and AutoETS (hourly: seasonal naive
   168), all scored on the same points (:mod:`.backtest`);
3. the production models, fitted on every row before the as-of date, their intervals
   calibrated on all the backtest residuals;
4. MLflow: parameters, metrics per model and horizon bucket (coverage included), the backtest
   table, forecast-versus-actual figures, the bundle (registered), then champion/challenger
   promotion on the mean MASE of the two models, the champion's recipe re-scored on the very
   same backtest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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
from training.footfall.backtest import (
    MODEL_KEY,
    BacktestResult,
    Fitter,
    run_backtest,
    training_frame,
)
from training.footfall.bundle import FootfallBundle
from training.footfall.forecaster import GranularityModel
from training.footfall.intervals import calibrate
from training.footfall.layout import (
    BacktestLayout,
    Granularity,
    backtest_origins,
    granularity,
)
from training.footfall.model_frame import DEFAULT_DISRUPTION_WEIGHT
from training.footfall.search_space import booster_params, booster_space
from training.footfall.strategies import observed_series, strategy_fitter
from training.progress import Progress, announce
from training.tuning import TunedParameters, study_name, tuned_parameters
from training.workspace import WorkspaceSettings

EXPERIMENT = "footfall"
PROMOTION_METRIC = "backtest.mase"
CHAMPION_KEY = "champion"
RECURSIVE_KEY = "clientcast_recursive"
DAY_PROFILE_KEY = "clientcast_day_profile"
STRATEGY = "direct"


@dataclass(frozen=True)
class FootfallOptions:
    """What the recipe may vary: backtest origins, training grid, threads, baselines.

    ``refit_every_origins`` refits the backtested models at every second origin by default
    (each fit then also serves the next origin), which halves the backtest's boosting time.
    """

    granularities: tuple[str, ...] = ("daily", "hourly")
    daily_origins: int = 6
    daily_origin_step_days: int = 28
    hourly_origins: int = 6
    hourly_origin_step_days: int = 14
    warmup_origins: int = 2
    daily_training_step_days: int = 7
    hourly_training_step_days: int = 14
    min_training_days: int = 182
    refit_every_origins: int = 2
    disruption_weight: float = DEFAULT_DISRUPTION_WEIGHT
    num_threads: int = 2
    autoets: bool = True
    plot_boutiques: int = 4
    param_overrides: Mapping[str, Any] = field(default_factory=dict)

    def origins(self, grain: Granularity) -> tuple[int, int, int]:
        """Scored origins, their spacing in days and the training-cutoff spacing of ``grain``."""
        if grain.name == "daily":
            return (
                self.daily_origins,
                self.daily_origin_step_days,
                self.daily_training_step_days,
            )
        return (
            self.hourly_origins,
            self.hourly_origin_step_days,
            self.hourly_training_step_days,
        )


def footfall_span(history: PurchaseHistory) -> tuple[date, date]:
    """The first footfall day and the day after the last one ("today" for the footfall)."""
    first, last = (
        history.footfall.filter(pl.col("visitors").is_not_null())
        .select(pl.col("hour_start").min(), pl.col("hour_start").max().alias("last"))
        .collect()
        .row(0)
    )
    if first is None:
        raise UserInputError("the history holds no footfall count: nothing to forecast from")
    return first.date(), last.date() + timedelta(days=1)


def resolve_as_of(history: PurchaseHistory, as_of: date | None) -> tuple[date, date]:
    """The first footfall day and the as-of date (default: the day after the last count)."""
    first_day, after_last = footfall_span(history)
    as_of = as_of or after_last
    if as_of <= first_day:
        raise UserInputError(f"--as-of {as_of} is not after the first footfall day ({first_day})")
    return first_day, as_of


def layout_for(
    grain: Granularity, first_day: date, as_of: date, options: FootfallOptions
) -> BacktestLayout:
    """The backtest origins of ``grain`` ending at ``as_of``."""
    n_origins, step, training_step = options.origins(grain)
    return backtest_origins(
        first_day,
        as_of,
        grain.horizon_days,
        n_origins,
        step,
        warmup=options.warmup_origins,
        training_step_days=training_step,
        min_training_days=options.min_training_days,
    )


def study_family(name: str) -> str:
    """The study family of granularity ``name``: ``footfall-daily`` or ``footfall-hourly``."""
    return f"{EXPERIMENT}-{name}"


def granularity_parameters(
    settings: WorkspaceSettings, name: str, data_dir: Path | None = None
) -> TunedParameters:
    """The Optuna study of granularity ``name`` tuned on the history in ``data_dir`` (default:
    ``settings.data_dir``) and its best parameters, if it has any
    (:func:`training.tuning.tuned_parameters`)."""
    return tuned_parameters(
        study_family(name), data_dir or settings.data_dir, settings.optuna_storage
    )


def recipe_params(tuned: TunedParameters, options: FootfallOptions) -> dict[str, Any]:
    """The booster parameters of a run: the defaults, the study's best on top, then the
    options' overrides."""
    return {**booster_params(tuned.best), **options.param_overrides}


def recipe_fitter(
    strategy: str,
    grain: Granularity,
    params: Mapping[str, Any],
    seed: int,
    options: FootfallOptions,
    series: Mapping[str, pl.DataFrame] | None = None,
) -> Fitter:
    """A function fitting ``strategy``'s model of ``grain`` with the recipe's threads and
    disruption weight (:func:`training.footfall.strategies.strategy_fitter`)."""
    return strategy_fitter(
        strategy, grain, params, seed, options.num_threads, options.disruption_weight, series
    )


def recipe(params: Mapping[str, Mapping[str, Any]], options: FootfallOptions) -> dict[str, Any]:
    """What defines a model beyond its data: the parameters, the strategy, the weighting."""
    return {
        "strategy": STRATEGY,
        "params": {name: dict(values) for name, values in params.items()},
        "disruption_weight": options.disruption_weight,
    }


@dataclass
class GranularityRun:
    """One granularity's frame, backtest and production model."""

    grain: Granularity
    layout: BacktestLayout
    frame: pl.DataFrame
    backtest: BacktestResult
    model: GranularityModel


def _champion(
    settings: WorkspaceSettings, as_of: date
) -> tuple[FootfallBundle | None, dict[str, Any], str]:
    """The current champion bundle and its version facts, or None with the reason; None for a
    champion trained after ``as_of``, which a back-dated model never replaces (so its recipe
    is not re-fitted for a comparison)."""
    if tracking.alias_version(settings.footfall_model, tracking.CHAMPION) is None:
        return None, {}, "no champion yet"
    newer = tracking.newer_champion(settings.footfall_model, as_of)
    if newer is not None:
        return None, {}, f"champion v{newer.version} was trained on later data: not compared"
    try:
        bundle, info = tracking.load_bundle(settings.footfall_model, tracking.CHAMPION)
    except Exception as error:  # an unloadable champion is compared by its logged metric
        return None, {}, f"champion could not be loaded ({type(error).__name__})"
    if not isinstance(bundle, FootfallBundle):
        return None, info, "champion is not a footfall bundle"
    return bundle, info, f"champion v{info['version']}"


@dataclass(frozen=True)
class GranularityBacktest:
    """A granularity's backtest with what it was built from: layout, training frame, fitters."""

    layout: BacktestLayout
    frame: pl.DataFrame
    fitters: dict[str, Fitter]
    result: BacktestResult


def backtest_granularity(
    history: PurchaseHistory,
    grain: Granularity,
    first_day: date,
    as_of: date,
    params: Mapping[str, Any],
    seed: int,
    options: FootfallOptions,
    champion_params: Mapping[str, Any] | None = None,
    compare_strategies: bool = False,
    progress: Progress | None = None,
) -> GranularityBacktest:
    """Backtest ``grain`` beside its baselines (and the champion's recipe; when asked, the
    recursive strategy and, hourly, the day-profile blend), on features and targets before
    ``as_of``."""
    layout = layout_for(grain, first_day, as_of, options)
    announce(progress, f"{grain.name}: building features at {len(layout.origins)} origins")
    frame = training_frame(history, grain, layout, as_of).filter(pl.col("target_date") < as_of)
    fitters = {MODEL_KEY: recipe_fitter(STRATEGY, grain, params, seed, options)}
    if champion_params is not None:
        fitters[CHAMPION_KEY] = recipe_fitter(STRATEGY, grain, champion_params, seed, options)
    if compare_strategies:
        compared = {RECURSIVE_KEY: "recursive"}
        if grain.name == "hourly":
            compared[DAY_PROFILE_KEY] = "day_profile"
        for key, strategy in compared.items():
            series = observed_series(strategy, history, grain, before=as_of)
            fitters[key] = recipe_fitter(strategy, grain, params, seed, options, series)
    result = run_backtest(
        history,
        grain,
        layout,
        fitters,
        frame,
        autoets=options.autoets,
        progress=progress,
        refit_every=options.refit_every_origins,
    )
    return GranularityBacktest(layout, frame, fitters, result)


def fit_granularity(
    history: PurchaseHistory,
    grain: Granularity,
    first_day: date,
    as_of: date,
    params: Mapping[str, Any],
    seed: int,
    options: FootfallOptions,
    champion_params: Mapping[str, Any] | None = None,
    compare_strategies: bool = False,
    progress: Progress | None = None,
) -> GranularityRun:
    """Backtest ``grain`` (with the champion's recipe when given) and fit its production model."""
    backtest = backtest_granularity(
        history,
        grain,
        first_day,
        as_of,
        params,
        seed,
        options,
        champion_params,
        compare_strategies,
        progress,
    )
    announce(progress, f"{grain.name}: fitting the production model")
    calibration = calibrate(backtest.result.pool, grain.buckets)
    model = backtest.fitters[MODEL_KEY](backtest.frame).with_calibration(calibration)
    return GranularityRun(grain, backtest.layout, backtest.frame, backtest.result, model)


def backtest_table(runs: Mapping[str, GranularityRun]) -> pl.DataFrame:
    """Every granularity's backtest table, stacked."""
    return pl.concat([run.backtest.table() for run in runs.values()], how="diagonal_relaxed")


def promotion_value(runs: Mapping[str, GranularityRun], model: str) -> float | None:
    """Mean MASE of ``model`` over the granularities (None when one lacks it)."""
    values = [run.backtest.metrics.get(model, {}).get("mase") for run in runs.values()]
    if any(value is None for value in values):
        return None
    return float(sum(values) / len(values))


@dataclass
class TrainingReport:
    """What ``clientcast train footfall`` wrote and why the model was promoted or not."""

    registered_name: str
    version: str
    alias: str
    promotion_reason: str
    run_id: str
    as_of: date
    backtest: pl.DataFrame
    layouts: dict[str, BacktestLayout]
    training_rows: dict[str, int]
    wall_seconds: float
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    params_sources: dict[str, str] = field(default_factory=dict)

    def parameters_line(self) -> str:
        """Where each granularity's booster parameters come from (an Optuna study or the
        defaults)."""
        return "parameters: " + "; ".join(
            f"{name}: {source}" for name, source in self.params_sources.items()
        )

    def summary(self) -> str:
        """One line: version, alias, the reason and where the parameters come from."""
        return (
            f"{self.registered_name} v{self.version} is @{self.alias}: {self.promotion_reason}; "
            f"{self.parameters_line()} ({self.wall_seconds:.0f} s)"
        )

    def __rich__(self) -> Group:
        return Group(
            backtest_rich_table(self.backtest, f"footfall backtest before {self.as_of}"),
            *(
                f"{name}: {len(layout.scored)} origins from {layout.scored[0]} every "
                f"{(layout.origins[1] - layout.origins[0]).days if len(layout.origins) > 1 else 0}"
                f" days, {layout.horizon_days}-day horizon; "
                f"{self.training_rows.get(name, 0):,} production training rows"
                for name, layout in self.layouts.items()
            ),
            self.parameters_line(),
            f"MLflow run {self.run_id}",
            f"[bold]{self.registered_name} v{self.version} -> @{self.alias}[/]: "
            f"{self.promotion_reason}",
        )


def backtest_rich_table(table: pl.DataFrame, title: str) -> Table:
    """The backtest table as a rich table (the "all" rows and the horizon buckets)."""
    rich_table = Table(title=title, title_justify="left")
    columns = ["granularity", "model", "horizon", "mase", "wape", "coverage_80", "pinball_mean"]
    for column in columns:
        rich_table.add_column(column, justify="left" if column in columns[:3] else "right")
    for row in table.iter_rows(named=True):
        cells = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, float):
                cells.append(f"{value:.3f}" if value == value else "–")
            else:
                cells.append(str(value))
        rich_table.add_row(*cells)
    return rich_table


def _log_run(
    runs: Mapping[str, GranularityRun],
    params: Mapping[str, Mapping[str, Any]],
    tuned: Mapping[str, TunedParameters],
    options: FootfallOptions,
    table: pl.DataFrame,
) -> None:
    """Parameters (with the Optuna study each granularity's come from), metrics, the backtest
    table, calibrations and figures of the active run."""
    from training.footfall.plots import busiest_boutiques, forecast_figure

    tracking.log_params({"strategy": STRATEGY, "disruption_weight": options.disruption_weight})
    for name, source in tuned.items():
        tracking.log_params(source.record(prefix=f"{name}."))
        tracking.set_tags(source.record(prefix=f"{name}."))
    for name, run in runs.items():
        tracking.log_params(
            {f"{name}.{key}": value for key, value in run.layout.describe().items()}
        )
        tracking.log_params({f"{name}.lgb.{key}": value for key, value in params[name].items()})
        for model, values in run.backtest.metrics.items():
            tracking.log_metrics(values, prefix=f"backtest.{name}.{model}.")
        for model, buckets in run.backtest.by_horizon.items():
            tracking.log_metrics(buckets, prefix=f"backtest.{name}.{model}.")
        if run.model.calibration is not None:
            tracking.log_dict(run.model.calibration.to_dict(), f"calibration_{name}.json")
        tracking.log_text("\n".join(run.model.spec.names), f"features_{name}.txt")
        tracking.log_parquet(run.backtest.forecasts, f"backtest_forecasts_{name}.parquet")
        boutiques = busiest_boutiques(run.backtest.forecasts, options.plot_boutiques)
        if boutiques:
            figure = forecast_figure(run.backtest.forecasts, run.grain, boutiques)
            tracking.log_figure(figure, f"forecast_vs_actual_{name}.png")
    tracking.log_table(table, "backtest.json")


def train_footfall(
    settings: WorkspaceSettings,
    as_of: date | None = None,
    progress: Progress | None = None,
    options: FootfallOptions | None = None,
) -> TrainingReport:
    """Train, backtest, log, register and (maybe) promote the footfall models.

    ``as_of`` None means the day after the last footfall count. Parameters are the best of the
    Optuna studies tuned on this very history (``clientcast tune footfall``), else the defaults
    of :mod:`.search_space`; the report, the run's params and its tags say which. The
    current champion's recipe is backtested on the same origins when it differs from this one
    (an identical recipe scores identically), and the new version becomes ``@champion`` only
    when its mean MASE is lower.
    """
    started = time.perf_counter()
    options = options or FootfallOptions()
    history = load_history(settings.data_dir)
    first_day, as_of = resolve_as_of(history, as_of)
    tuned = {name: granularity_parameters(settings, name) for name in options.granularities}
    params = {name: recipe_params(tuned[name], options) for name in options.granularities}
    this_recipe = recipe(params, options)

    tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    champion, _, champion_note = _champion(settings, as_of)
    champion_recipe = champion.metadata.get("recipe") if champion is not None else None
    rescore = champion_recipe is not None and champion_recipe != this_recipe
    runs: dict[str, GranularityRun] = {}
    for name in options.granularities:
        grain = granularity(name)
        champion_params = None
        if rescore and name in champion_recipe.get("params", {}):
            champion_params = champion_recipe["params"][name]
        runs[name] = fit_granularity(
            history,
            grain,
            first_day,
            as_of,
            params[name],
            settings.seed,
            options,
            champion_params,
            progress=progress,
        )
    value = promotion_value(runs, MODEL_KEY)
    if value is None:
        raise UserInputError("footfall backtest: no scored point for the project's model")
    champion_value: float | None = None
    if champion_recipe == this_recipe:
        champion_value = value
        champion_note += ": same recipe, re-scored identically on this backtest"
    elif rescore:
        champion_value = promotion_value(runs, CHAMPION_KEY)
        champion_note += ": its recipe re-fitted and scored on this backtest"
    elif champion is not None:
        champion_note += ": no recipe stored, its logged metric is used"

    table = backtest_table(runs)
    bundle = FootfallBundle(
        {name: run.model for name, run in runs.items()},
        {
            "as_of": as_of.isoformat(),
            "strategy": STRATEGY,
            "recipe": this_recipe,
            "backtest_metrics": {
                name: run.backtest.metrics.get(MODEL_KEY, {}) for name, run in runs.items()
            },
        },
    )
    announce(progress, "logging to MLflow")
    with tracking.training_run(EXPERIMENT, run_name=f"footfall-{as_of.isoformat()}") as run_id:
        _log_run(runs, params, tuned, options, table)
        first = next(iter(runs.values()))
        example = first.frame.filter(pl.col("cutoff") == first.frame["cutoff"].max()).head(5)
        version = tracking.log_bundle(
            bundle,
            settings.footfall_model,
            input_example=example.to_pandas(),
            trained_as_of=as_of,
        )
        decision = tracking.promote(
            settings.footfall_model,
            version,
            {PROMOTION_METRIC: value},
            PROMOTION_METRIC,
            higher_is_better=False,
            champion_value=champion_value,
            trained_as_of=as_of,
        )
        tracking.log_metrics({PROMOTION_METRIC: value})
        tracking.log_params({"promotion": decision.alias})
        tracking.log_text(f"{decision.reason}; {champion_note}", "promotion.txt")
    return TrainingReport(
        registered_name=settings.footfall_model,
        version=version,
        alias=decision.alias,
        promotion_reason=f"{decision.reason} ({champion_note})",
        run_id=run_id,
        as_of=as_of,
        backtest=table,
        layouts={name: run.layout for name, run in runs.items()},
        training_rows={name: run.frame.height for name, run in runs.items()},
        wall_seconds=time.perf_counter() - started,
        params=params,
        params_sources={
            name: source.describe(options.param_overrides) for name, source in tuned.items()
        },
    )


@dataclass
class FootfallBacktest:
    """The result of ``clientcast backtest footfall``: one backtest per granularity."""

    as_of: date
    results: dict[str, BacktestResult]
    wall_seconds: float
    cpu_seconds: float

    def table(self) -> pl.DataFrame:
        """Every granularity's backtest table, stacked."""
        return pl.concat([r.table() for r in self.results.values()], how="diagonal_relaxed")

    def summary(self) -> str:
        """One line: the project's MASE per granularity and the time taken."""
        parts = [
            f"{name} MASE {result.metrics.get(MODEL_KEY, {}).get('mase', float('nan')):.3f}"
            for name, result in self.results.items()
        ]
        return (
            f"footfall backtest before {self.as_of}: {', '.join(parts)} "
            f"({self.wall_seconds:.0f} s wall, {self.cpu_seconds:.0f} s CPU)"
        )

    def __rich__(self) -> Group:
        return Group(
            backtest_rich_table(self.table(), f"footfall backtest before {self.as_of}"),
            self.summary(),
        )


def backtest_footfall(
    settings: WorkspaceSettings,
    data_dir: Path | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    options: FootfallOptions | None = None,
    compare_strategies: bool = False,
) -> FootfallBacktest:
    """Rolling-origin backtest of the daily and hourly models beside the baselines.

    Nothing is logged or registered. The parameters are those of the studies tuned on the
    backtested history, else the defaults. ``compare_strategies`` adds the recursive strategy
    (``clientcast_recursive``) beside the direct one and, hourly, the day-profile blend
    (``clientcast_day_profile``).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    options = options or FootfallOptions()
    data_dir = data_dir or settings.data_dir
    history = load_history(data_dir)
    first_day, as_of = resolve_as_of(history, as_of)
    results: dict[str, BacktestResult] = {}
    for name in options.granularities:
        params = recipe_params(granularity_parameters(settings, name, data_dir), options)
        results[name] = backtest_granularity(
            history,
            granularity(name),
            first_day,
            as_of,
            params,
            settings.seed,
            options,
            compare_strategies=compare_strategies,
            progress=progress,
        ).result
    return FootfallBacktest(
        as_of, results, time.perf_counter() - started, time.process_time() - cpu_started
    )


def tuning_objective(
    history: PurchaseHistory,
    grain: Granularity,
    layout: BacktestLayout,
    end: date,
    seed: int,
    options: FootfallOptions,
) -> Callable[[Any], float]:
    """The Optuna objective of ``grain``: mean P50 MASE over the origins of ``layout``, the
    running mean reported after each origin so that the median pruner can stop a trial."""
    import optuna

    from training.footfall.backtest import footfall_series, last_step, long_series, origin_scales
    from training.metrics.forecast import forecast_metrics

    frame = training_frame(history, grain, layout, end).filter(pl.col("target_date") < end)
    series = footfall_series(history, grain)
    scales = origin_scales(series, grain, layout.origins)
    actuals = long_series(series)

    def objective(trial: optuna.Trial) -> float:
        fit = recipe_fitter(STRATEGY, grain, booster_params(booster_space(trial)), seed, options)
        values: list[float] = []
        for position, origin in enumerate(layout.origins):
            model = fit(frame.filter(pl.col("target_date") < origin))
            points = model.forecast(frame.filter(pl.col("cutoff") == origin)).select(
                pl.col("boutique_id").alias("unique_id"),
                pl.lit(last_step(origin, grain)).alias("origin"),
                pl.col(grain.time_column).alias("ds"),
                "p10",
                "p50",
                "p90",
            )
            scored = points.join(actuals, on=["unique_id", "ds"], how="inner")
            values.append(forecast_metrics(scored, scales)["mase"])
            trial.report(sum(values) / len(values), step=position)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return sum(values) / len(values)

    return objective


def tune_footfall(
    settings: WorkspaceSettings,
    trials: int,
    as_of: date | None = None,
    progress: Progress | None = None,
    options: FootfallOptions | None = None,
    tuning_origins: int = 3,
) -> dict[str, Any]:
    """Search the booster parameters of each model with Optuna (TPE, median pruning).

    A trial refits the model at ``tuning_origins`` origins that all end *before* the first
    scored backtest origin (the backtest windows are never used to choose parameters) and is
    scored by the mean MASE of its P50 (:func:`tuning_objective`). One study per granularity
    in ``settings.optuna_storage``, named after the history it is tuned on
    (``footfall-daily@<fingerprint>``, ``footfall-hourly@<fingerprint>``:
    :func:`training.tuning.study_name`); :func:`train_footfall` on the same history then uses
    the best parameters. Returns, per granularity, the study name, trial counts, best value and
    parameters.
    """
    import optuna

    from training.tuning import run_study

    if trials < 1:
        raise UserInputError(f"--trials must be at least 1, got {trials}")
    options = options or FootfallOptions()
    history = load_history(settings.data_dir)
    first_day, as_of = resolve_as_of(history, as_of)
    tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
    summary: dict[str, Any] = {}
    for name in options.granularities:
        grain = granularity(name)
        study = study_name(study_family(name), settings.data_dir)
        end = layout_for(grain, first_day, as_of, options).scored[0]
        _, step, training_step = options.origins(grain)
        layout = backtest_origins(
            first_day,
            end,
            grain.horizon_days,
            tuning_origins,
            step,
            warmup=0,
            training_step_days=training_step,
            min_training_days=options.min_training_days,
        )
        announce(progress, f"{name}: tuning on {len(layout.origins)} origins before {end}")
        finished = run_study(
            tuning_objective(history, grain, layout, end, settings.seed, options),
            study,
            settings.optuna_storage,
            trials,
            "minimize",
            EXPERIMENT,
            metric_name=f"tuning_mase_{name}",
            seed=settings.seed,
            show_progress=progress is None,  # the command line's spinner replaces Optuna's bar
        )
        completed = [t for t in finished.trials if t.state == optuna.trial.TrialState.COMPLETE]
        pruned = [t for t in finished.trials if t.state == optuna.trial.TrialState.PRUNED]
        summary[name] = {
            "study_name": study,
            "trials": len(finished.trials),
            "completed": len(completed),
            "pruned": len(pruned),
            "best_value": finished.best_value if completed else None,
            "best_params": dict(finished.best_params) if completed else {},
            "tuning_origins": [origin.isoformat() for origin in layout.origins],
        }
    return summary
