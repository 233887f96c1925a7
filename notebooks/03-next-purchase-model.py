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
# # 03 · The next-purchase model
#
# `clientcast train next-purchase` in slow motion: stacked cutoffs, LightGBM heads, the backtest
# beside the baselines (BG/NBD with Gamma-Gamma, a recency-frequency rule), then the diagnostic
# plots: calibration (do 30 % of the clients given 30 % buy?), lift (how many buyers does a call
# list of the top 10 % reach?), feature importance and the reasons associates read.
#
# Parameters as in notebook 01 (`CLIENTCAST_NOTEBOOK_CLIENTS`, `..._BOUTIQUES`, `..._YEARS`,
# `..._DIR`), plus `CLIENTCAST_NOTEBOOK_QUICK=1` for a light recipe (two training cutoffs, few
# boosting rounds), which the test suite uses; the MLflow store is `mlruns.db` in that folder.

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
from datetime import date, timedelta

import matplotlib.pyplot as plt
import polars as pl
import rich
from IPython.display import Image, display
from mlflow import MlflowClient

from clientcast.settings import workspace_settings
from features.history import load_history
from features.normalise import purchase_occasions
from features.synthetic import MaisonConfig, ensure_maison
from training import tracking
from training.next_purchase.backtest import predict_cutoff
from training.next_purchase.frame import LABELS
from training.next_purchase.pipeline import RecipeOptions, client_frames, train_next_purchase
from training.next_purchase.plots import calibration_figure, importance_figure, lift_figure

config = MaisonConfig(clients=CLIENTS, boutiques=BOUTIQUES, years=YEARS)
settings = workspace_settings(WORKDIR, data_dir=WORKDIR / "data" / config.folder_name)
data_dir = ensure_maison(settings.data_dir, config)
tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)

# %% [markdown]
# ## Train, backtest, register
# The backtest heads learn from training cutoffs whose label windows close before the
# validation cutoff, are stopped early and calibrated on it, and are scored on the test cutoff
# beside the baselines. The production heads repeat the recipe one horizon later. The new
# version becomes `@champion` only if it beats the champion on the same test window.
#
# Training the full recipe on the default maison takes minutes: when the store already holds a
# champion (after `make demo`), we study that one.

# %%
options = (
    RecipeOptions(n_training=2, max_rounds=60, early_stopping_rounds=15)
    if QUICK
    else RecipeOptions()
)
if tracking.alias_version(settings.next_purchase_model, tracking.CHAMPION) is None:
    rich.print(train_next_purchase(settings, None, options=options))
bundle, info = tracking.load_bundle(settings.next_purchase_model)
run = MlflowClient().get_run(info["run_id"])
layout = {key: value for key, value in run.data.params.items() if "cutoff" in key}
print(f"{info['name']} v{info['version']} (@{info['alias']}), run {info['run_id']}")
layout

# %% [markdown]
# The backtest the run logged: the model beside the baselines on the same test cutoff.

# %%
client = MlflowClient()
backtest = pl.read_csv(client.download_artifacts(info["run_id"], "backtest.csv"))
backtest.select(
    "model", "roc_auc", "log_loss", "brier", "ece", "count_mae", "spend_gini",
    "division_top1_accuracy",
)  # fmt: skip

# %% [markdown]
# ## Calibration and lift on the test cutoff
# We score the test cutoff again with the backtest heads (those that never saw it) and the
# baselines, and draw what the MLflow run logged.

# %%
test_cutoff = date.fromisoformat(layout["test_cutoff"])
horizon_days = int(run.data.params["horizon_days"])
history = load_history(data_dir)
test_frame = client_frames(history, [test_cutoff], horizon_days, settings.reference_currency)[
    test_cutoff
]
occasions = purchase_occasions(
    history, settings.reference_currency, end=test_cutoff + timedelta(days=horizon_days)
).filter(pl.col("client_id").is_not_null())
predictions = predict_cutoff(
    test_frame, occasions, test_cutoff, horizon_days, {"clientcast": bundle}, heads="backtest"
)
bought = test_frame[LABELS["bought"]].cast(pl.Float64).to_numpy()
probabilities = {name: p.p_buy for name, p in predictions.items() if p.p_buy is not None}
display(calibration_figure(bought, probabilities))
display(lift_figure(bought, probabilities))

# %%
top_tenth = max(1, len(bought) // 10)
pl.DataFrame(
    {
        "model": list(probabilities),
        "buyers_in_top_10pct": [
            float(bought[(-p).argsort(kind="stable")[:top_tenth]].mean())
            for p in probabilities.values()
        ],
        "buyers_overall": [float(bought.mean())] * len(probabilities),
    }
)

# %% [markdown]
# ## What drives the score
# Gain importance of the 90-day purchase head, then the reasons an associate reads: each
# client's strongest positive contributions turned into phrases of the feature catalogue.

# %%
booster = bundle.heads["backtest"].boosters["p_buy_90d"]
display(importance_figure(bundle.spec.names, booster.feature_importance("gain")))

# %%
most_likely = bundle.predict(test_frame).sort("p_buy_90d", descending=True).head(5)
chosen = test_frame.filter(pl.col("client_id").is_in(most_likely["client_id"].implode()))
bundle.explain(chosen.with_columns(pl.col(pl.Enum).cast(pl.String)))  # categories as words

# %% [markdown]
# ## The MLflow run
# Everything above is logged with the run: parameters, metrics per model (baselines included),
# the backtest table and the figures. `mlflow ui --backend-store-uri sqlite:///mlruns.db`
# shows them; here we list the run's artifacts and show one.

# %%
artifacts = [item.path for item in client.list_artifacts(info["run_id"])]
print(artifacts)
display(Image(filename=client.download_artifacts(info["run_id"], "lift.png")))
plt.close("all")
