"""Every MLflow call of clientcast lives here: experiments, runs, logging, the model registry.

Models are saved by their own family as a *bundle directory* (native LightGBM ``.lgb`` files plus a
JSON manifest) and logged as an MLflow pyfunc whose loader is the bundle class, so that the
service can unwrap the bundle and call the boosters directly. The logged model carries what it
needs to be loaded elsewhere: the project's ``features`` and ``training`` packages as code, and
its third-party requirements pinned to the versions it was trained with. Promotion follows the
champion/challenger rule: a new version becomes ``@champion`` only when it beats the current
champion on the same backtest; otherwise it stays ``@challenger``. Every version is tagged
with the date it was trained as of, so that a back-dated model never replaces a champion trained
on later data, and a back-dated forecast can find the newest version that saw nothing after it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from features.atomic_write import output_errors
from features.errors import UserInputError
from training.store_urls import shown_url, sqlite_database

CHAMPION = "champion"
CHALLENGER = "challenger"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
TRAINED_AS_OF_TAG = "trained_as_of"
"""The model version tag holding the ISO date a version was trained as of."""

MODEL_REQUIREMENTS: tuple[str, ...] = (
    "cloudpickle",  # the pyfunc wrapper is pickled with it
    "holidays",  # features.calendar: the footfall models' holiday features
    "lightgbm",  # the boosters
    "numpy",
    "pandas",  # the pyfunc's input and output frames
    "polars",  # the bundles' own frames
    "pyarrow",  # polars <-> pandas
    "scikit-learn",  # the next-purchase calibrators
    "scipy",  # features.bgnbd, features.gamma_gamma
)
"""The distributions a logged bundle imports to load and predict (MLflow adds ``mlflow``)."""
MODEL_CODE_PACKAGES: tuple[str, ...] = ("features", "training")
"""The project's packages a bundle's loader imports, shipped inside every logged model."""
PROBE_HTTP_SETTINGS: dict[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
"""MLflow's HTTP settings while :func:`check_tracking_store` probes a server: an unreachable one
answers within seconds instead of after MLflow's default retries (minutes)."""
UNWRITABLE_STORE_REASONS: tuple[str, ...] = (
    "read-only",
    "readonly",
    "permission denied",
    "unable to open database file",
)
"""Words of a failure that says the store's file or folder cannot be written."""

logger = logging.getLogger(__name__)


class ModelBundle(Protocol):
    """What a model family saves and loads: a directory of native model files."""

    def save(self, directory: Path) -> None:
        """Write the bundle into ``directory``."""

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        """Read a bundle written by :meth:`save`."""


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of a champion/challenger comparison."""

    registered_name: str
    version: str
    alias: str
    reason: str
    metric: str
    challenger_value: float
    champion_value: float | None


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")


def configure_tracking(tracking_uri: str, artifact_dir: Path) -> str:
    """Point MLflow at the store (``sqlite:///mlruns.db`` by default), check that it can be
    used (:func:`check_tracking_store`) and return its URI.

    Called when a command runs, never at import, so that a broken store stops the command before
    its work. ``MLFLOW_TRACKING_URI`` in the environment wins (the settings already resolve it).
    """
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    os.environ["CLIENTCAST_ARTIFACT_ROOT"] = str(Path(artifact_dir).resolve())
    check_tracking_store(tracking_uri)
    return tracking_uri


def _innermost_cause(error: BaseException) -> BaseException:
    """The first failure of the chain that led to ``error`` (e.g. the refused connection
    under MLflow's "API request failed", the sqlite3 error under SQLAlchemy's)."""
    seen = {id(error)}
    while True:
        cause = error.__cause__ or error.__context__ or getattr(error, "orig", None)
        if not isinstance(cause, BaseException) or id(cause) in seen:
            return error
        seen.add(id(cause))
        error = cause


def store_failure_reason(error: BaseException) -> str:
    """What went wrong with the store, in one line: ``file is not a database``, ``connection
    refused``, the first sentence of MLflow's own message..."""
    cause = _innermost_cause(error)
    if isinstance(cause, OSError) and cause.strerror:
        text = cause.strerror if cause.filename is None else f"{cause.strerror}: {cause.filename}"
    else:
        text = getattr(cause, "message", None) or str(cause) or type(cause).__name__
    text = " ".join(str(text).split())
    first_sentence = text.split(". ")[0].rstrip(".")
    if len(first_sentence) > 200:
        first_sentence = first_sentence[:197] + "..."
    if first_sentence[1:2].islower():  # "File is not..." reads "file is not...", "API" stays
        first_sentence = first_sentence[:1].lower() + first_sentence[1:]
    return first_sentence


def _store_advice(tracking_uri: str, reason: str) -> str:
    """What the user can do about an unusable store, depending on its kind and the failure."""
    elsewhere = "or point MLFLOW_TRACKING_URI at another store"
    if tracking_uri.startswith(("http://", "https://")):
        return f"start that MLflow server or check its address and credentials, {elsewhere}"
    if "maintenance mode" in reason:
        return (
            "MLflow 3 no longer writes folder stores: point MLFLOW_TRACKING_URI at a database "
            "store such as sqlite:///mlruns.db (or set MLFLOW_ALLOW_FILE_STORE=true)"
        )
    if "out-of-date database schema" in reason:
        return f"back it up and run `mlflow db upgrade {shown_url(tracking_uri)}`"
    if "locked" in reason:
        return "another process is writing to it: run again once it has finished"
    if any(words in reason.lower() for words in UNWRITABLE_STORE_REASONS):
        return f"make it and its folder writable, {elsewhere}"
    database = sqlite_database(tracking_uri)
    if database is not None and "already exists" in reason:
        return (
            f"it is half-initialised, its creation was interrupted: remove {database} and run "
            f"again, {elsewhere}"
        )
    return f"repair or remove it, {elsewhere}"


@contextmanager
def tracking_store_errors(tracking_uri: str | None = None) -> Iterator[None]:
    """Turn a failure to use the MLflow store (not a database, half-initialised, an old schema,
    a folder store, an unreachable server) into a :class:`UserInputError` naming the store, the
    reason and what to do, instead of a traceback."""
    import requests
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (MlflowException, SQLAlchemyError, requests.RequestException, OSError) as error:
        uri = tracking_uri or _tracking_uri()
        reason = store_failure_reason(error)
        raise UserInputError(
            f"cannot use the MLflow store {shown_url(uri)} ({reason}): {_store_advice(uri, reason)}"
        ) from error


@contextmanager
def _impatient_http() -> Iterator[None]:
    """Apply :data:`PROBE_HTTP_SETTINGS` for the duration of a probe, then restore."""
    saved = {name: os.environ.get(name) for name in PROBE_HTTP_SETTINGS}
    os.environ.update(PROBE_HTTP_SETTINGS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _create_sqlite_store(database: Path) -> None:
    """Create a new SQLite store's tables under a hidden temporary name, then link it into place.

    MLflow's first use of a store runs its migrations for seconds; interrupted (Ctrl-C), it would
    leave a half-initialised file that every later command fails on. Made aside, the store
    appears whole or not at all; a store another process made meanwhile is kept.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    database.parent.mkdir(parents=True, exist_ok=True)
    staging = database.with_name(f".{database.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        SqlAlchemyStore(f"sqlite:///{staging.resolve()}", str(_artifact_root())).engine.dispose()
        try:
            os.link(staging, database)
        except FileExistsError:
            pass  # another process created the store meanwhile: theirs is kept
        except OSError:  # a file system without hard links
            if not database.exists():
                os.replace(staging, database)
    finally:
        staging.unlink(missing_ok=True)


def check_tracking_store(tracking_uri: str | None = None) -> None:
    """Open the MLflow store once (search one experiment) so that a broken one stops a command
    before its work, not after a full training: raises :class:`UserInputError` naming the store
    and what to do (:func:`tracking_store_errors`).

    A new SQLite store is created whole first (:func:`_create_sqlite_store`); a server is asked
    without MLflow's long retries (:data:`PROBE_HTTP_SETTINGS`). ``tracking_uri`` defaults to
    the configured one.
    """
    from mlflow import MlflowClient

    uri = tracking_uri or _tracking_uri()
    with tracking_store_errors(uri), _impatient_http():
        database = sqlite_database(uri)
        if database is not None and not database.exists():
            _create_sqlite_store(database)
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


def _artifact_root() -> Path:
    return Path(os.environ.get("CLIENTCAST_ARTIFACT_ROOT", "mlartifacts")).resolve()


def ensure_experiment(name: str) -> str:
    """The id of experiment ``name``, created with an absolute artifact location if missing
    (an artifact folder that cannot be made raises :class:`UserInputError`)."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = _artifact_root() / name
    with output_errors(location):
        location.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=location.as_uri())


@contextmanager
def training_run(
    experiment: str, run_name: str, tags: Mapping[str, str] | None = None, nested: bool = False
) -> Iterator[str]:
    """Open an MLflow run in ``experiment``; yields the run id."""
    import mlflow

    experiment_id = ensure_experiment(experiment)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {}), nested=nested
    ) as run:
        yield run.info.run_id


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested metric dicts into ``a.b.c`` keys, keeping finite numbers only."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        elif isinstance(value, int | float) and value == value and abs(value) != float("inf"):
            flat[name] = float(value)
    return flat


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters (values stringified by MLflow)."""
    import mlflow

    mlflow.log_params({key: value for key, value in params.items() if value is not None})


def log_metrics(metrics: Mapping[str, Any], prefix: str = "", step: int | None = None) -> None:
    """Log (possibly nested) metrics under ``prefix``."""
    import mlflow

    flat = flatten_metrics(metrics, prefix=prefix)
    if flat:
        mlflow.log_metrics(flat, step=step)


def log_table(frame: pl.DataFrame, artifact_file: str) -> None:
    """Log a table as a JSON artifact the MLflow UI renders (and as CSV beside it)."""
    import mlflow

    mlflow.log_table(frame.to_pandas(), artifact_file=artifact_file)
    mlflow.log_text(frame.write_csv(), artifact_file.rsplit(".", 1)[0] + ".csv")


def log_parquet(frame: pl.DataFrame, artifact_file: str) -> None:
    """Log a table as a Parquet artifact, for notebooks to read back whole."""
    import mlflow

    target = Path(artifact_file)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / target.name
        frame.write_parquet(path)
        parent = None if target.parent == Path(".") else str(target.parent)
        mlflow.log_artifact(str(path), artifact_path=parent)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Log a matplotlib figure as an image artifact."""
    import mlflow

    mlflow.log_figure(figure, artifact_file)


def log_dict(payload: Mapping[str, Any], artifact_file: str) -> None:
    """Log a JSON-serialisable mapping as an artifact."""
    import mlflow

    mlflow.log_dict(dict(payload), artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    """Log a text artifact (a feature list, a report)."""
    import mlflow

    mlflow.log_text(text, artifact_file)


def set_tags(tags: Mapping[str, str]) -> None:
    """Tag the active run (searchable in the MLflow UI, e.g. the Optuna study a run used)."""
    import mlflow

    mlflow.set_tags(dict(tags))


@contextmanager
def import_path_kept() -> Iterator[None]:
    """Restore ``sys.path`` after MLflow loads a model (logging one with an input example loads
    it too), which puts the model's code folder first so that its loader finds the packages.
    This process already imports the installed ones: the path is kept as it was rather than
    grown by one folder, often a deleted temporary one, per load (the service reloads)."""
    saved = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved


def model_requirements() -> list[str]:
    """:data:`MODEL_REQUIREMENTS` pinned to the installed versions (``name==version``), so that
    ``mlflow models serve`` or :func:`mlflow.pyfunc.get_model_dependencies` rebuild the
    environment the model was trained in."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_REQUIREMENTS]


def model_code_paths() -> list[str]:
    """The folders of :data:`MODEL_CODE_PACKAGES`, logged with each model as code: a process
    without clientcast installed loads the bundle from them."""
    return [
        str(Path(importlib.import_module(package).__file__).parent)
        for package in MODEL_CODE_PACKAGES
    ]


def _bundle_python_model() -> Any:
    import mlflow.pyfunc

    class BundleModel(mlflow.pyfunc.PythonModel):
        """Pyfunc wrapper that loads a clientcast bundle directory with its own class."""

        # The frames in and out are the bundle's own (its signature comes from the input
        # example): MLflow's type-hint check would only warn users about a missing hint.
        _skip_type_hint_validation = True

        def load_context(self, context: Any) -> None:
            module_name, class_name = context.model_config["bundle_class"].split(":")
            bundle_class = getattr(importlib.import_module(module_name), class_name)
            self.bundle = bundle_class.load(Path(context.artifacts["bundle"]))

        # No type hints: MLflow would try to infer a signature from them.
        def predict(self, context, model_input, params=None):
            return self.bundle.predict_frame(model_input)

    return BundleModel()


def log_bundle(
    bundle: ModelBundle,
    registered_name: str,
    input_example: Any = None,
    tags: Mapping[str, str] | None = None,
    trained_as_of: date | None = None,
) -> str:
    """Log ``bundle`` as a pyfunc model in the active run, register it; return the version.

    ``trained_as_of`` (the cutoff of its features and labels) is kept as the version's
    :data:`TRAINED_AS_OF_TAG`, which promotion and back-dated forecasts read.
    """
    import mlflow.pyfunc

    bundle_class = f"{type(bundle).__module__}:{type(bundle).__qualname__}"
    with tempfile.TemporaryDirectory(prefix="clientcast-bundle-") as tmp, import_path_kept():
        directory = Path(tmp) / "bundle"
        directory.mkdir()
        bundle.save(directory)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_bundle_python_model(),
            artifacts={"bundle": str(directory)},
            model_config={"bundle_class": bundle_class},
            input_example=input_example,
            registered_model_name=registered_name,
            tags=dict(tags or {}),
            pip_requirements=model_requirements(),
            code_paths=model_code_paths(),
        )
    version = str(info.registered_model_version)
    if trained_as_of is not None:
        with tracking_store_errors():
            _client().set_model_version_tag(
                registered_name, version, TRAINED_AS_OF_TAG, trained_as_of.isoformat()
            )
    return version


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


class RegistryError(UserInputError):
    """The model registry answered with an error other than "no such model or alias"."""


def alias_version(registered_name: str, alias: str) -> Any | None:
    """The model version holding ``alias``; None when the model or the alias does not exist.

    Any other registry failure (an unreachable server, a locked or corrupt store) raises
    :class:`RegistryError`: it must not read as "no champion yet".
    """
    from mlflow.exceptions import MlflowException

    with tracking_store_errors():
        client = _client()
        try:
            return client.get_model_version_by_alias(registered_name, alias)
        except MlflowException as error:
            if error.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            failure = error
        # MLflow answers INVALID_PARAMETER_VALUE for a missing alias of an existing model.
        try:
            aliases = client.get_registered_model(registered_name).aliases
        except MlflowException:
            aliases = None
    if aliases is not None and alias not in aliases:
        return None
    uri = _tracking_uri()
    raise RegistryError(
        f"cannot read alias @{alias} of model {registered_name!r} from "
        f"{shown_url(uri)}: {failure.error_code}: {failure.message} "
        f"({_store_advice(uri, failure.message)})"
    ) from failure


def version_trained_as_of(version: Any) -> date | None:
    """The date a registered model version was trained as of (its tag); None when untagged."""
    recorded = (getattr(version, "tags", None) or {}).get(TRAINED_AS_OF_TAG)
    return date.fromisoformat(recorded) if recorded else None


def trained_after(version: Any, as_of: date | None) -> date | None:
    """The date ``version`` was trained as of when that is after ``as_of`` (a training as of
    ``as_of`` is then back-dated against it); None otherwise, or when either date is unknown."""
    trained = version_trained_as_of(version) if version is not None else None
    return trained if trained is not None and as_of is not None and trained > as_of else None


def newer_champion(registered_name: str, as_of: date) -> Any | None:
    """The champion of ``registered_name`` when it was trained as of a date after ``as_of``: a
    model trained as of ``as_of`` never replaces it, so there is nothing to compare."""
    champion = alias_version(registered_name, CHAMPION)
    return champion if trained_after(champion, as_of) is not None else None


def latest_version_trained_by(registered_name: str, as_of: date) -> Any | None:
    """The newest version of ``registered_name`` trained as of ``as_of`` or earlier (latest
    training date, then highest version number): the model a forecast back-dated to ``as_of``
    may use without look-ahead. None when no tagged version qualifies."""
    with tracking_store_errors():
        versions = _client().search_model_versions(f"name = '{registered_name}'")
    dated = [
        (trained, int(version.version))
        for version in versions
        if (trained := version_trained_as_of(version)) is not None and trained <= as_of
    ]
    if not dated:
        return None
    # Searches leave the aliases out: read the chosen version itself.
    with tracking_store_errors():
        return _client().get_model_version(registered_name, str(max(dated)[1]))


def run_metrics(run_id: str) -> dict[str, float]:
    """The metrics logged in run ``run_id``."""
    with tracking_store_errors():
        return dict(_client().get_run(run_id).data.metrics)


def promote(
    registered_name: str,
    version: str,
    metrics: Mapping[str, float],
    metric: str,
    higher_is_better: bool,
    champion_value: float | None = None,
    trained_as_of: date | None = None,
) -> PromotionDecision:
    """Make ``version`` the champion when it beats the champion's ``metric`` on the same backtest.

    ``champion_value`` is the current champion scored by the caller on the very backtest that
    produced ``metrics``; when omitted, the value logged on the champion's own run is used.
    Without a champion, or with a champion that has no ``metric`` to compare with, the new version
    wins (the reason says which). A version that already is the champion is left as it is. A
    version ``trained_as_of`` an earlier date than the champion (a back-dated training) stays
    challenger whatever its metric: the service must not fall back to older knowledge.
    """
    client = _client()
    value = float(metrics[metric])
    champion = alias_version(registered_name, CHAMPION)
    if champion is not None and str(champion.version) == str(version):
        reason = f"v{version} already is the champion"
        return PromotionDecision(
            registered_name, str(version), CHAMPION, reason, metric, value, champion_value
        )
    champion_trained = trained_after(champion, trained_as_of)
    back_dated = champion_trained is not None
    if champion is not None and champion_value is None and champion.run_id and not back_dated:
        champion_value = run_metrics(champion.run_id).get(metric)
    if champion is None:
        beats, reason = True, "no champion yet"
    elif back_dated:
        beats = False
        reason = (
            f"trained as of {trained_as_of}, before champion v{champion.version} "
            f"({champion_trained}): a back-dated model never replaces a newer champion; "
            f"forecasts back-dated to {trained_as_of} use it"
        )
    elif champion_value is None:
        beats = True
        reason = f"champion v{champion.version} has no {metric} to compare with"
    else:
        beats = value > champion_value if higher_is_better else value < champion_value
        direction = "higher" if higher_is_better else "lower"
        comparison = "beats" if beats else "does not beat"
        reason = (
            f"{metric} {value:.4f} {comparison} champion v{champion.version} "
            f"({champion_value:.4f}; {direction} is better)"
        )
    alias = CHAMPION if beats else CHALLENGER
    with tracking_store_errors():
        client.set_registered_model_alias(registered_name, alias, version)
        client.set_model_version_tag(registered_name, version, "promotion", reason)
    return PromotionDecision(registered_name, version, alias, reason, metric, value, champion_value)


def load_bundle(registered_name: str, alias: str = CHAMPION) -> tuple[Any, dict[str, Any]]:
    """Load the version holding ``alias``; return the unwrapped bundle and its version facts.

    The alias is resolved once and that version loaded (``models:/<name>/<version>``), so the
    bundle and the facts describe the same version even if the alias moves meanwhile.
    """
    version = alias_version(registered_name, alias)
    if version is None:
        raise UserInputError(
            f"no model {registered_name!r} with alias @{alias} in "
            f"{shown_url(_tracking_uri())}: run `clientcast train` first"
        )
    return load_version(registered_name, version, alias)


def load_version(
    registered_name: str, version: Any, alias: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """Load registered model ``version`` (a registry entry); return the unwrapped bundle and its
    facts: name, version, ``alias`` (else the version's first alias, None without one), run,
    creation time, training date and the run's metrics."""
    import mlflow.pyfunc

    with tracking_store_errors(), import_path_kept():
        model = mlflow.pyfunc.load_model(f"models:/{registered_name}/{version.version}")
        run_metrics_logged = run_metrics(version.run_id) if version.run_id else {}
    bundle = model.unwrap_python_model().bundle
    aliases = list(getattr(version, "aliases", None) or [])
    info = {
        "name": registered_name,
        "version": str(version.version),
        "alias": alias or (aliases[0] if aliases else None),
        "run_id": version.run_id,
        "created_at_ms": version.creation_timestamp,
        "trained_as_of": version_trained_as_of(version),
        "metrics": run_metrics_logged,
    }
    return bundle, info


def _tracking_uri() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


def optuna_callback(metric_name: str) -> Callable[[Any, Any], None]:
    """An Optuna callback logging each finished trial as a nested run of the active MLflow run:
    its parameters, its value under ``metric_name`` (when it has one) and its state.

    Written here rather than taken from ``optuna_integration.mlflow.MLflowCallback``, which
    Optuna deprecated in 4.9.
    """
    import mlflow

    def log_trial(study: Any, trial: Any) -> None:
        parent = mlflow.active_run()
        experiment_id = parent.info.experiment_id if parent is not None else None
        with mlflow.start_run(
            run_name=f"trial-{trial.number}", nested=True, experiment_id=experiment_id
        ):
            mlflow.log_params(trial.params)
            mlflow.set_tags({"optuna_study": study.study_name, "trial_state": trial.state.name})
            if trial.value is not None:
                mlflow.log_metric(metric_name, trial.value)

    return log_trial
