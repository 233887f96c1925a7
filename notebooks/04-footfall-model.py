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
# # 04 · The footfall model
#
# One global LightGBM per granularity (daily, 1-56 days; hourly, 1-14 days) forecasts every
# boutique at once, with the horizon as a feature. We look at its rolling-origin backtest beside
# the baselines (seasonal naive, AutoETS), then boutique by boutique: how far off, and whether
# the P10-P90 interval holds 80 % of the days it should.
#
# Parameters as in notebook 01 (`CLIENTCAST_NOTEBOOK_CLIENTS`, `..._BOUTIQUES`, `..._YEARS`,
# `..._DIR`), plus `CLIENTCAST_NOTEBOOK_QUICK=1` for a light recipe (fewer backtest origins,
# monthly training cutoffs), which the test suite uses.

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
import matplotlib.pyplot as plt
import polars as pl
import rich
from IPython.display import Image, display
from mlflow import MlflowClient

from clientcast.settings import workspace_settings
from features.history import load_history
from features.synthetic import MaisonConfig, ensure_maison
from training import tracking
from training.footfall import FootfallOptions, train_footfall
from training.footfall.layout import granularity
from training.footfall.pipeline import resolve_as_of
from training.footfall.plots import busiest_boutiques, forecast_figure

config = MaisonConfig(clients=CLIENTS, boutiques=BOUTIQUES, years=YEARS)
settings = workspace_settings(WORKDIR, data_dir=WORKDIR / "data" / config.folder_name)
data_dir = ensure_maison(settings.data_dir, config)
tracking.configure_tracking(settings.tracking_uri, settings.mlflow_artifact_dir)
light = dict(
    daily_origins=1,
    hourly_origins=1,
    warmup_origins=1,
    autoets=False,
    daily_training_step_days=28,
    hourly_training_step_days=56,
    plot_boutiques=2,
)
# The notebook's own recipe backtests 2 daily and 2 hourly origins and learns from training
# cutoffs every 14 days (the CLI's `clientcast train footfall`: 6 origins of each, weekly
# cutoffs): the same model, fewer origins to score it and fewer rows to learn from.
notebook_recipe = dict(
    daily_origins=2, hourly_origins=2, warmup_origins=1, daily_training_step_days=14
)
options = FootfallOptions(**(light if QUICK else notebook_recipe))

# %% [markdown]
# ## Train, backtest, register
# At each backtest origin the model is refitted on the rows before it and forecasts the next
# 56 days (14 for hours); its interval is calibrated on the residuals of the earlier origins,
# so the coverage we measure is out of sample. The production model then learns from
# everything; it becomes `@champion` only if its mean MASE beats the champion's on the same
# origins. With the notebook's recipe, training takes about a minute and a half on the default
# maison; when the store already holds a champion (after `make demo`) we study that one.

# %%
if tracking.alias_version(settings.footfall_model, tracking.CHAMPION) is None:
    rich.print(train_footfall(settings, None, options=options))
bundle, info = tracking.load_bundle(settings.footfall_model)
client = MlflowClient()
backtest = pl.read_csv(client.download_artifacts(info["run_id"], "backtest.csv"))
print(f"{info['name']} v{info['version']} (@{info['alias']}) as of {bundle.metadata['as_of']}")
backtest.filter(pl.col("horizon") == "all").select(
    "granularity", "model", "mase", "wape", "coverage_80", "pinball_mean"
)

# %% [markdown]
# ## Interval coverage by horizon
# A good P10-P90 interval holds about 80 % of the actuals at every horizon, not only on average.

# %%
by_horizon = backtest.filter(pl.col("model") == "clientcast", pl.col("horizon") != "all")
by_horizon.select("granularity", "horizon", "mase", "wape", "coverage_80")

# %% [markdown]
# ## Boutique by boutique
# The run also logged the backtest's forecasts themselves (every origin, every boutique, with
# what happened): we score them per boutique and draw the busiest ones against the actuals.
# `backtest_footfall(settings, options=...)` recomputes such a table without logging anything.

# %%
daily_forecasts = pl.read_parquet(
    client.download_artifacts(info["run_id"], "backtest_forecasts_daily.parquet")
)
forecasts = daily_forecasts.filter(pl.col("actual").is_not_null())
error = pl.col("actual") - pl.col("p50")
per_boutique = (
    forecasts.group_by("boutique_id")
    .agg(
        pl.len().alias("days"),
        (error.abs().sum() / pl.col("actual").sum()).alias("wape"),
        pl.col("actual").is_between(pl.col("p10"), pl.col("p90")).mean().alias("coverage_80"),
        (pl.col("method") == "cold_start").any().alias("cold_start"),
    )
    .sort("wape")
)
per_boutique

# %%
shown = busiest_boutiques(daily_forecasts, 3)
figure = forecast_figure(daily_forecasts, granularity("daily"), shown)
# %matplotlib inline
figure

# %% [markdown]
# ## The next weeks
# The champion forecasts every open boutique from the day after the data, with the rules that
# are certain applied last: planned closures and closed hours are zero.

# %%
history = load_history(data_dir)
_, as_of = resolve_as_of(history, None)
daily = bundle.forecast(history, as_of, 56, "daily")
boutique = shown[0]
one = daily.filter(pl.col("boutique_id") == boutique).sort("date")
figure, axes = plt.subplots(figsize=(11, 3.5))
axes.fill_between(one["date"].to_list(), one["p10"], one["p90"], alpha=0.3, label="P10-P90")
axes.plot(one["date"].to_list(), one["p50"], label="P50")
axes.set_title(f"{boutique}: daily visitors from {as_of}")
axes.legend()
plt.show()
daily.group_by("method").len()

# %%
hourly = bundle.forecast(history, as_of, 14, "hourly").filter(pl.col("boutique_id") == boutique)
grid = hourly.pivot(on="hour", index="date", values="p50", sort_columns=True).sort("date")
figure, axes = plt.subplots(figsize=(11, 4))
image = axes.imshow(grid.drop("date").to_numpy(), aspect="auto", cmap="Blues")
axes.set_yticks(range(grid.height), [str(day) for day in grid["date"]])
axes.set_xticks(range(grid.width - 1), grid.columns[1:])
axes.set_xlabel("local hour")
axes.set_title(f"{boutique}: expected visitors per hour (P50), next 14 days")
figure.colorbar(image)
plt.show()

# %% [markdown]
# ## The MLflow run
# The training run logged the backtest table (model and baselines, by horizon), the interval
# calibration, the feature list and forecast-versus-actual figures for the busiest boutiques.

# %%
print([item.path for item in client.list_artifacts(info["run_id"])])
display(Image(filename=client.download_artifacts(info["run_id"], "forecast_vs_actual_daily.png")))
