"""Every MLflow call of clientcast lives here: experiments, runs, logging, the model registry.

Models are saved by their own family as a *bundle directory* (native LightGBM ``.lgb`` files plus a
JSON manifest) and logged as an MLflow pyfunc whose loader is the bundle class, so that the
service can unwrap the bundle and call the boosters directly. The logged model carries what it
needs to be loaded elsewhere: the project's ``features`` and ``training`` packages as code, and
its third-party requirements pinned to the versions it was trained with. Promotion follows the
champion/challenger rule: a new version becomes ``@champion`` only when it beats the current
champion on the same backtest; otherwise it stays ``@challenger``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from features.errors import UserInputError

CHAMPION = "champion"
CHALLENGER = "challenger"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"

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
    """Point MLflow at the store (``sqlite:///mlruns.db`` by default) and return its URI.

    Called when a command runs, never at import. ``MLFLOW_TRACKING_URI`` in the environment wins
    (the settings already resolve it).
    """
    import mlflow

    _quiet_mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    os.environ["CLIENTCAST_ARTIFACT_ROOT"] = str(Path(artifact_dir).resolve())
    return tracking_uri


def _artifact_root() -> Path:
    return Path(os.environ.get("CLIENTCAST_ARTIFACT_ROOT", "mlartifacts")).resolve()


def ensure_experiment(name: str) -> str:
    """The id of experiment ``name``, created with an absolute artifact location if missing."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = _artifact_root() / name
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
) -> str:
    """Log ``bundle`` as a pyfunc model in the active run, register it; return the version."""
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
    return str(info.registered_model_version)


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


class RegistryError(RuntimeError):
    """The model registry answered with an error other than "no such model or alias"."""


def alias_version(registered_name: str, alias: str) -> Any | None:
    """The model version holding ``alias``; None when the model or the alias does not exist.

    Any other registry failure (an unreachable server, a locked or corrupt store) raises
    :class:`RegistryError`: it must not read as "no champion yet".
    """
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        return client.get_model_version_by_alias(registered_name, alias)
    except MlflowException as error:
        if error.error_code == RESOURCE_DOES_NOT_EXIST:
            return None
        failure = error
    # MLflow answers INVALID_PARAMETER_VALUE for a missing alias of an existing model: confirm.
    try:
        aliases = client.get_registered_model(registered_name).aliases
    except MlflowException:
        aliases = None
    if aliases is not None and alias not in aliases:
        return None
    raise RegistryError(
        f"cannot read alias @{alias} of model {registered_name!r} from {_tracking_uri()}: "
        f"{failure.error_code}: {failure.message}"
    ) from failure


def run_metrics(run_id: str) -> dict[str, float]:
    """The metrics logged in run ``run_id``."""
    return dict(_client().get_run(run_id).data.metrics)


def promote(
    registered_name: str,
    version: str,
    metrics: Mapping[str, float],
    metric: str,
    higher_is_better: bool,
    champion_value: float | None = None,
) -> PromotionDecision:
    """Make ``version`` the champion when it beats the champion's ``metric`` on the same backtest.

    ``champion_value`` is the current champion scored by the caller on the very backtest that
    produced ``metrics``; when omitted, the value logged on the champion's own run is used.
    Without a champion, or with a champion that has no ``metric`` to compare with, the new version
    wins (the reason says which). A version that already is the champion is left as it is.
    """
    client = _client()
    value = float(metrics[metric])
    champion = alias_version(registered_name, CHAMPION)
    if champion is not None and str(champion.version) == str(version):
        reason = f"v{version} already is the champion"
        return PromotionDecision(
            registered_name, str(version), CHAMPION, reason, metric, value, champion_value
        )
    if champion is not None and champion_value is None and champion.run_id:
        champion_value = run_metrics(champion.run_id).get(metric)
    if champion is None:
        beats, reason = True, "no champion yet"
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
    client.set_registered_model_alias(registered_name, alias, version)
    client.set_model_version_tag(registered_name, version, "promotion", reason)
    return PromotionDecision(registered_name, version, alias, reason, metric, value, champion_value)


def load_bundle(registered_name: str, alias: str = CHAMPION) -> tuple[Any, dict[str, Any]]:
    """Load the version holding ``alias``; return the unwrapped bundle and its version facts.

    The alias is resolved once and that version loaded (``models:/<name>/<version>``), so the
    bundle and the facts describe the same version even if the alias moves meanwhile.
    """
    import mlflow.pyfunc

    version = alias_version(registered_name, alias)
    if version is None:
        raise UserInputError(
            f"no model {registered_name!r} with alias @{alias} in {_tracking_uri()}: "
            "run `clientcast train` first"
        )
    with import_path_kept():
        model = mlflow.pyfunc.load_model(f"models:/{registered_name}/{version.version}")
    bundle = model.unwrap_python_model().bundle
    run_metrics_logged = run_metrics(version.run_id) if version.run_id else {}
    info = {
        "name": registered_name,
        "version": str(version.version),
        "alias": alias,
        "run_id": version.run_id,
        "created_at_ms": version.creation_timestamp,
        "metrics": run_metrics_logged,
    }
    return bundle, info


def _tracking_uri() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


def optuna_callback(metric_name: str) -> Any:
    """An Optuna callback logging each trial as a nested run of the active MLflow run."""
    import mlflow
    from optuna_integration.mlflow import MLflowCallback

    return MLflowCallback(
        tracking_uri=mlflow.get_tracking_uri(),
        metric_name=metric_name,
        create_experiment=False,
        mlflow_kwargs={"nested": True},
    )
