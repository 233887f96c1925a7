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
# # 02 · Client and boutique features
#
# The models see the past only through features computed at a *cutoff* `t`: what was known
# just before `t`, from events strictly before `t`. This notebook computes them with the
# `features` package, reads their meaning from the feature catalogue, checks point-in-time
# correctness on a real client, and writes the online snapshot the service looks clients up in.
#
# Parameters as in notebook 01 (`CLIENTCAST_NOTEBOOK_CLIENTS`, `..._BOUTIQUES`, `..._YEARS`,
# `..._DIR`).

# %% tags=["parameters"]
# ruff: noqa: E402, B018  (a notebook: imports per cell, cells end with the value shown)
import os
from pathlib import Path

CLIENTS = int(os.environ.get("CLIENTCAST_NOTEBOOK_CLIENTS", "20000"))
BOUTIQUES = int(os.environ.get("CLIENTCAST_NOTEBOOK_BOUTIQUES", "30"))
YEARS = float(os.environ.get("CLIENTCAST_NOTEBOOK_YEARS", "3"))
WORKDIR = Path(os.environ.get("CLIENTCAST_NOTEBOOK_DIR", "..")).resolve()

# %%
from dataclasses import replace
from datetime import timedelta

import matplotlib.pyplot as plt
import polars as pl
from polars.testing import assert_frame_equal

from clientcast.settings import workspace_settings
from features.boutique_features import boutique_daily_features, boutique_hourly_features
from features.catalogue import feature_catalogue
from features.client_features import client_features
from features.history import load_history
from features.snapshot import OnlineSnapshot, default_as_of, write_snapshot
from features.synthetic import MaisonConfig, ensure_maison

config = MaisonConfig(clients=CLIENTS, boutiques=BOUTIQUES, years=YEARS)
settings = workspace_settings(WORKDIR, data_dir=WORKDIR / "data" / config.folder_name)
data_dir = ensure_maison(settings.data_dir, config)
history = load_history(data_dir)
as_of = default_as_of(history)
as_of

# %% [markdown]
# ## The catalogue
# Every feature has a description and the phrase an associate reads when the feature pushes a
# client's prediction up (the *reason*).

# %%
catalogue = pl.DataFrame(
    [
        {
            "feature": doc.name,
            "entity": doc.entity,
            "description": doc.description,
            "reason": doc.reason,
        }
        for doc in feature_catalogue()
    ]
)
catalogue.group_by("entity").len()

# %%
catalogue.filter(pl.col("entity") == "client").head(15)

# %% [markdown]
# ## Client features at a cutoff
# One row per client with a purchase occasion before the cutoff: recency, frequency, spend in
# the reference currency, rhythm between visits, division mix, seasonality, BG/NBD quantities.

# %%
cutoff = as_of - timedelta(days=90)
clients = client_features(history, cutoff, settings.reference_currency).collect()
clients.select(
    "client_id",
    "recency_days",
    "frequency",
    "monetary_total",
    "gap_mean_days",
    "overdue_days",
    "last_division",
    "bgnbd_p_buy_90d",
).head()

# %%
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
left.scatter(clients["recency_days"], clients["frequency"], s=4, alpha=0.4)
left.set_xlabel("recency (days)")
left.set_ylabel("purchase occasions")
left.set_yscale("log")
right.hist(clients["bgnbd_p_buy_90d"].drop_nulls(), bins=40)
right.set_xlabel("BG/NBD P(buy within 90 days)")
plt.show()

# %% [markdown]
# ## Point in time
# Features at `t` use only purchases strictly before `t` (boutique-local date). Dropping every
# purchase made two days or more after the cutoff (in UTC, so surely on or after `t` in any
# time zone) must leave the features at `t` exactly as they were.

# %%
late = pl.lit(cutoff + timedelta(days=2)).cast(pl.Datetime("us", "UTC"))
without_future = replace(
    history, transactions=history.transactions.filter(pl.col("purchased_at") < late)
)
same = client_features(without_future, cutoff, settings.reference_currency).collect()
assert_frame_equal(same.sort("client_id"), clients.sort("client_id"))  # up to float rounding
print(f"{clients.height:,} clients: identical features with and without the future")

# %% [markdown]
# ## Boutique features
# One row per boutique and future day (or hour): the footfall history before the cutoff, the
# calendar, each country's public holidays and the maison's events, known in advance.

# %%
daily = boutique_daily_features(history, as_of, 56).collect()
daily.select(
    "boutique_id",
    "target_date",
    "horizon",
    "weekday",
    "is_public_holiday",
    "same_weekday_mean_4w",
    "same_day_last_year",
    "open_hours",
).head(10)

# %%
hourly = boutique_hourly_features(history, as_of, 14).collect()
hourly.group_by("hour").agg(pl.col("is_open_hour").mean().alias("share_open")).sort("hour")

# %% [markdown]
# ## The online snapshot
# `clientcast features` writes the latest features of every client and boutique, atomically,
# in a versioned folder; the service loads it once and looks clients up by id.

# %%
info = write_snapshot(data_dir, as_of, settings.snapshot_dir, settings.reference_currency)
snapshot = OnlineSnapshot.load(info.path)
some_client = snapshot.clients["client_id"][0]
print(info.path, snapshot.as_of, snapshot.clients.height, "clients")
snapshot.clients.row(snapshot.client_positions([some_client])[0], named=True)["recency_days"]
