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
# # 01 · Explore the purchase history
#
# What a maison's unified purchase history looks like once it follows the data contract
# (`docs/data-contract.md`): clients, boutiques, products, receipt lines, hourly footfall, FX
# rates and events. We generate the synthetic maison (or reuse it), validate it, and look at
# the patterns the models will learn: purchase rhythms, divisions, seasons, and footfall by
# weekday and hour, with its sensor gaps.
#
# **Parameters.** The maison's size comes from environment variables so that the test suite
# can run this notebook on a small maison: `CLIENTCAST_NOTEBOOK_CLIENTS`,
# `CLIENTCAST_NOTEBOOK_BOUTIQUES`, `CLIENTCAST_NOTEBOOK_YEARS` and `CLIENTCAST_NOTEBOOK_DIR`
# (where the maison, the MLflow store and the outputs go; by default the project folder, so
# the default size is the `make demo` maison).

# %% tags=["parameters"]
# ruff: noqa: E402, B018  (a notebook: imports per cell, cells end with the value shown)
import os
from pathlib import Path

CLIENTS = int(os.environ.get("CLIENTCAST_NOTEBOOK_CLIENTS", "20000"))
BOUTIQUES = int(os.environ.get("CLIENTCAST_NOTEBOOK_BOUTIQUES", "30"))
YEARS = float(os.environ.get("CLIENTCAST_NOTEBOOK_YEARS", "3"))
WORKDIR = Path(os.environ.get("CLIENTCAST_NOTEBOOK_DIR", "..")).resolve()

# %%
import matplotlib.pyplot as plt
import polars as pl
import rich

from clientcast.settings import workspace_settings
from features.footfall_series import daily_footfall
from features.history import load_history
from features.normalise import purchase_occasions
from features.synthetic import MaisonConfig, ensure_maison
from features.validation import validate_history

config = MaisonConfig(clients=CLIENTS, boutiques=BOUTIQUES, years=YEARS)
settings = workspace_settings(WORKDIR, data_dir=WORKDIR / "data" / config.folder_name)
data_dir = ensure_maison(settings.data_dir, config)
data_dir

# %% [markdown]
# ## Does the folder follow the contract?
# Validation reports every broken rule at once, naming the file, the column, the rule and the
# first offending rows. A clean report is what every later stage assumes.

# %%
report = validate_history(data_dir, reference_currency=settings.reference_currency)
print("follows the contract" if report.ok else "breaks the contract")
rich.print(report.render())

# %%
history = load_history(data_dir)
pl.DataFrame(
    {
        "table": ["clients", "boutiques", "products", "transactions", "footfall", "events"],
        "rows": [
            history.table(name).select(pl.len()).collect().item()
            for name in ("clients", "boutiques", "products", "transactions", "footfall", "events")
        ],
    }
)

# %%
history.boutiques.collect()

# %% [markdown]
# ## Purchase occasions
# A *purchase occasion* is one receipt whose net amount is positive, in the boutique's local
# time and converted to the reference currency. Walk-ins have no client id.

# %%
occasions = purchase_occasions(history, settings.reference_currency).collect()
occasions.select(
    pl.len().alias("occasions"),
    pl.col("client_id").is_null().mean().alias("share_walk_in"),
    pl.col("net_amount_ref").median().alias(f"median_basket_{settings.reference_currency}"),
    pl.col("purchase_date").min().alias("first_day"),
    pl.col("purchase_date").max().alias("last_day"),
)

# %%
monthly = (
    occasions.with_columns(pl.col("purchase_date").dt.truncate("1mo").alias("month"))
    .group_by("month", "division")
    .agg(pl.col("net_amount_ref").sum().alias("spend"))
    .pivot(on="division", index="month", values="spend")
    .sort("month")
    .fill_null(0.0)
)
figure, axes = plt.subplots(figsize=(11, 4))
bottom = None
for division in monthly.columns[1:]:
    values = monthly[division].to_numpy() / 1e6
    axes.bar(monthly["month"].to_list(), values, width=25, bottom=bottom, label=division)
    bottom = values if bottom is None else bottom + values
axes.set_ylabel(f"net spend, millions of {settings.reference_currency}")
axes.set_title("Spend per month by division: December and the collection launches stand out")
axes.legend(fontsize=8, ncols=4)
plt.show()

# %% [markdown]
# ## Client rhythms
# Buy-till-you-die behaviour: most clients buy a few times, a few buy often; the gap between
# two occasions says when the next one is due.

# %%
clients = (
    occasions.filter(pl.col("client_id").is_not_null())
    .sort("client_id", "purchase_date")
    .group_by("client_id")
    .agg(
        pl.len().alias("occasions"),
        pl.col("purchase_date").diff().dt.total_days().mean().alias("mean_gap_days"),
        pl.col("net_amount_ref").sum().alias("spend"),
    )
)
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
left.hist(clients["occasions"].clip(upper_bound=30).to_numpy(), bins=30)
left.set_xlabel("purchase occasions per client (capped at 30)")
left.set_ylabel("clients")
right.hist(clients["mean_gap_days"].drop_nulls().to_numpy(), bins=40)
right.set_xlabel("mean days between occasions")
plt.show()
clients.describe()

# %% [markdown]
# ## Footfall
# Hourly sensor counts in local time. Missing hours stay missing: a day with a usually-open
# hour missing is a missing day, never a low one.

# %%
daily = daily_footfall(history).collect()
daily.group_by("boutique_id").agg(
    pl.col("visitors").mean().alias("mean_daily_visitors"),
    pl.col("visitors").is_null().mean().alias("share_missing_days"),
).sort("mean_daily_visitors", descending=True)

# %%
busiest = (daily.group_by("boutique_id").agg(pl.col("visitors").mean()).sort("visitors").tail(3))[
    "boutique_id"
].to_list()
figure, axes = plt.subplots(figsize=(11, 4))
for boutique_id in busiest:
    series = daily.filter(pl.col("boutique_id") == boutique_id)
    axes.plot(series["date"].to_list(), series["visitors"].to_numpy(), label=boutique_id, lw=0.8)
axes.set_ylabel("visitors per day")
axes.set_title("Daily footfall of the three busiest boutiques (gaps are sensor outages)")
axes.legend()
plt.show()

# %%
weekday_hour = (
    history.footfall.filter(pl.col("boutique_id") == busiest[-1])
    .with_columns(
        pl.col("hour_start").dt.weekday().alias("weekday"),
        pl.col("hour_start").dt.hour().alias("hour"),
    )
    .group_by("weekday", "hour")
    .agg(pl.col("visitors").mean())
    .collect()
    .pivot(on="hour", index="weekday", values="visitors", sort_columns=True)
    .sort("weekday")
    .fill_null(0)
)
figure, axes = plt.subplots(figsize=(11, 3))
image = axes.imshow(weekday_hour.drop("weekday").to_numpy(), aspect="auto", cmap="Blues")
axes.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
axes.set_xticks(range(len(weekday_hour.columns) - 1), weekday_hour.columns[1:])
axes.set_xlabel("local hour")
axes.set_title(f"{busiest[-1]}: mean visitors by weekday and hour")
figure.colorbar(image)
plt.show()

# %% [markdown]
# ## Events
# Collection launches, private sales, closures and disruptions, by boutique or by country: the
# footfall model reads them as covariates known in advance.

# %%
history.events.group_by("kind").agg(pl.len().alias("events")).sort("kind").collect()
