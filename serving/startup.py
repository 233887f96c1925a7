"""Before ``bentoml serve`` starts: are the champions and a snapshot there? Prepare them.

``clientcast serve`` calls :func:`check_ready_to_serve` first, so that a missing model or
snapshot ends in one clear message (exit code 2) instead of a worker crash-looping inside BentoML.
The checks are cheap (registry aliases, the snapshot's ``LATEST`` pointer, the key columns of
its tables: a snapshot with duplicate keys or without a client is refused, see
:mod:`serving.snapshot_checks`). When they pass, the champion's explanations of the snapshot's
clients are computed if they are not cached yet (:mod:`serving.client_scores`), so that every
worker then starts in seconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from features.errors import UserInputError
from features.history import table_path
from features.snapshot import MANIFEST, latest_snapshot
from serving.snapshot_checks import stored_snapshot_problems
from training.workspace import WorkspaceSettings

SQLITE_PREFIX = "sqlite:///"


def sqlite_store_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI, None for any other store."""
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return None
    return Path(tracking_uri[len(SQLITE_PREFIX) :])


def client_directory_problems(snapshot: Path) -> list[str]:
    """Why the call lists could not learn each client's home boutique and consent, if they can't.

    They come from the snapshot when it holds them, else from the clients table of the history
    folder the snapshot was computed from, which must then still be readable.
    """
    manifest = json.loads((snapshot / MANIFEST).read_text())
    if "home_boutique_id" in manifest.get("columns", {}).get("clients", []):
        return []
    data_dir = manifest.get("data_dir")
    if data_dir and table_path(Path(data_dir), "clients") is not None:
        return []
    return [
        f"snapshot {snapshot.name} reads home boutiques from the history folder {data_dir!r}, "
        "which has no clients table any more: rerun `clientcast features` on the current history"
    ]


def check_ready_to_serve(settings: WorkspaceSettings) -> Path:
    """Raise UserInputError naming what is missing; return the snapshot folder to be served."""
    from training.tracking import CHAMPION, alias_version, configure_tracking

    problems: list[str] = []
    store = sqlite_store_path(settings.tracking_uri)
    if store is not None and not store.is_file():
        problems.append(
            f"no MLflow store at {store} (tracking URI {settings.tracking_uri}): "
            "run `clientcast train` first"
        )
    else:
        configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
        for name in (settings.next_purchase_model, settings.footfall_model):
            if alias_version(name, CHAMPION) is None:
                problems.append(
                    f"no @{CHAMPION} version of model {name!r} in {settings.tracking_uri}: "
                    "run `clientcast train` first"
                )
    snapshot: Path | None = None
    try:
        snapshot = latest_snapshot(settings.snapshot_dir)
    except UserInputError as error:
        problems.append(str(error))
    else:
        problems.extend(client_directory_problems(snapshot))
        problems.extend(stored_snapshot_problems(snapshot))
    if problems or snapshot is None:
        raise UserInputError("cannot serve: " + "; ".join(problems))
    warm_client_scores(settings, snapshot)
    return snapshot


def warm_client_scores(settings: WorkspaceSettings, snapshot: Path) -> Path:
    """Compute the champion's client scores on ``snapshot`` unless they are cached already.

    Explaining every client costs about 1.5 ms of CPU per client (24 s for 16,000): done here,
    once per champion and snapshot, every worker then starts in seconds (see
    :mod:`serving.client_scores`). Returns the cache file.
    """
    from features.snapshot import OnlineSnapshot
    from serving.client_scores import client_scores, scores_path
    from training.tracking import CHAMPION, alias_version, load_bundle

    name = settings.next_purchase_model
    champion = alias_version(name, CHAMPION)
    path = scores_path(snapshot, name, str(champion.version))
    if path.is_file():
        return path
    print(
        f"explaining every client of {snapshot.name} with {name} v{champion.version}, once per "
        "champion and snapshot (about 1.5 ms of CPU per client)...",
        file=sys.stderr,
    )
    bundle, info = load_bundle(name)
    loaded = OnlineSnapshot.load(snapshot)
    client_scores(bundle, info, loaded.path, loaded.clients)
    return path
