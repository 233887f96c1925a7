# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · From MLflow to serving
#
# A model's way to production: find its run in MLflow, compare it with the `@champion` on the
# same backtest, promote it (or keep it `@challenger`), then call the service that loads the
# champions and the latest online snapshot.
#
# Run notebooks 03 and 04 first, or this one trains what it needs. Parameters as in notebook 01
# (`CLIENTCAST_NOTEBOOK_CLIENTS`, `..._BOUTIQUES`, `..._YEARS`, `..._DIR`, `..._QUICK`).

# %% tags=["parameters"]
# ruff: noqa: E402, B018  (a notebook: imports per cell, cells end with the value shown)
import os
from pathlib import Path

CLIENTS = int(os.environ.get("CLIENTCAST_NOTEBOOK_CLIENTS", "20000"))
BOUTIQUES = int(os.environ.get("CLIENTCAST_NOTEBOOK_BOUTIQUES", "30"))
YEARS = float(os.environ.get("CLIENTCAST_NOTEBOOK_YEARS", "3"))
WORKDIR = Path(os.environ.get("CLIENTCAST_NOTEBOOK_DIR", "..")).resolve()
QUICK = os.environ.get("CLIENTCAST_NOTEBOOK_QUICK", "0") == "1"

# %%
import polars as pl
import rich
from mlflow import MlflowClient

from clientcast.settings import settings_environment, workspace_settings
from features.snapshot import write_snapshot
from features.synthetic import MaisonConfig, ensure_maison
from training import tracking
from training.footfall import FootfallOptions, train_footfall
from training.next_purchase.pipeline import PROMOTION_METRIC, RecipeOptions, train_next_purchase

config = MaisonConfig(clients=CLIENTS, boutiques=BOUTIQUES, years=YEARS)
settings = workspace_settings(WORKDIR, data_dir=WORKDIR / "data" / config.folder_name)
data_dir = ensure_maison(settings.data_dir, config)
os.environ.update(settings_environment(settings))  # the service reads its settings from there
tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
client = MlflowClient()

# %% [markdown]
# ## Champions in the registry
# Every `clientcast train` registers a new version; the `@champion` alias is what the service
# loads. Without a champion yet (this notebook run alone), we train both families now.

# %%
quick_footfall = FootfallOptions(
    daily_origins=1, hourly_origins=1, warmup_origins=1, autoets=False,
    daily_training_step_days=28, hourly_training_step_days=56,
)  # fmt: skip
if tracking.alias_version(settings.next_purchase_model, tracking.CHAMPION) is None:
    rich.print(train_next_purchase(settings, None, options=RecipeOptions(n_training=2)))
if tracking.alias_version(settings.footfall_model, tracking.CHAMPION) is None:
    rich.print(train_footfall(settings, None, options=quick_footfall if QUICK else None))

[
    (found.version, client.get_model_version(found.name, found.version).aliases)
    for found in client.search_model_versions(f"name = '{settings.next_purchase_model}'")
]

# %% [markdown]
# ## A challenger
# We train a variant (fewer training cutoffs and boosting rounds) as a challenger. Its run
# logs the same backtest as the champion's; the registry compares them on the same test window
# and decides.

# %%
challenger = train_next_purchase(
    settings, None, options=RecipeOptions(n_training=1 if QUICK else 3, max_rounds=60)
)
rich.print(challenger.summary())

# %% [markdown]
# ## Find runs and compare
# Runs are searchable by metric: here every next-purchase run, best backtest log loss first,
# with the baselines' figures logged beside the model's.

# %%
experiment = client.get_experiment_by_name("next-purchase")
runs = client.search_runs(
    [experiment.experiment_id], order_by=[f"metrics.`{PROMOTION_METRIC}` ASC"], max_results=20
)
pl.DataFrame(
    [
        {
            "run": run.info.run_name,
            "run_id": run.info.run_id,
            "log_loss": run.data.metrics.get(PROMOTION_METRIC),
            "roc_auc": run.data.metrics.get("backtest.roc_auc"),
            "bgnbd_log_loss": run.data.metrics.get("backtest.bgnbd.log_loss"),
            "promotion": run.data.params.get("promotion"),
        }
        for run in runs
    ]
)

# %%
champion = tracking.alias_version(settings.next_purchase_model, tracking.CHAMPION)
candidate = client.get_model_version(settings.next_purchase_model, challenger.version)
comparison = pl.DataFrame(
    [
        {
            "role": role,
            "version": version.version,
            **{
                key: value
                for key, value in tracking.run_metrics(version.run_id).items()
                if key.startswith("backtest.") and key.count(".") == 1
            },
        }
        for role, version in (("champion", champion), ("candidate", candidate))
    ]
)
comparison.select("role", "version", "backtest.log_loss", "backtest.roc_auc", "backtest.brier")

# %% [markdown]
# ## Promote
# `tracking.promote` applies the rule: the candidate becomes `@champion` only when it beats the
# champion's backtest log loss; otherwise it stays `@challenger`, with the reason as a tag.

# %%
decision = tracking.promote(
    settings.next_purchase_model,
    candidate.version,
    tracking.run_metrics(candidate.run_id),
    PROMOTION_METRIC,
    higher_is_better=False,
)
print(decision.alias, "-", decision.reason)
pl.DataFrame(
    [
        {
            "version": int(v.version),
            "aliases": ", ".join(v.aliases),
            "promotion": v.tags.get("promotion", ""),
            "run_id": v.run_id,
        }
        for v in client.search_model_versions(f"name = '{settings.next_purchase_model}'")
    ]
).sort("version")

# %% [markdown]
# ## Call the service
# The service loads the champions and the latest online snapshot at start-up. In-process (the
# same app `clientcast serve` runs), we ask for next purchases, a week of footfall and a call
# list.

# %%
from starlette.testclient import TestClient

from serving.service import Clientcast

info = write_snapshot(data_dir, None, settings.snapshot_dir, settings.reference_currency)
with TestClient(Clientcast.to_asgi()) as service:
    model_info = service.get("/model_info").json()
    some_clients = pl.read_parquet(info.path / "clients.parquet")["client_id"].head(3).to_list()
    next_purchase = service.post("/next_purchase", json={"client_ids": some_clients}).json()
    boutique = pl.read_parquet(info.path / "boutique_daily.parquet")["boutique_id"][0]
    footfall = service.post(
        "/footfall",
        json={"boutique_id": boutique, "start": str(info.as_of), "days": 7, "granularity": "daily"},
    ).json()
    call_list = service.post(
        "/call_list", json={"boutique_id": boutique, "n": 5, "horizon_days": 14}
    ).json()
[(model["role"], model["version"]) for model in model_info["models"]]

# %%
pl.DataFrame(next_purchase).select("client_id", "p_buy_30d", "p_buy_90d", "reasons")

# %%
pl.DataFrame(footfall["periods"])

# %%
call_list
