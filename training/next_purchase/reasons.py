"""Reasons an associate can read: the strongest feature contributions turned into short phrases.

LightGBM's ``pred_contrib`` splits each client's ``p_buy_90d`` score (in log-odds) into one
contribution per feature. The features that push the score up the most are looked up in the
feature catalogue (:func:`features.catalogue.feature_catalogue`), whose reason templates are
filled with the client's own values: "last visit {value} days ago" becomes "last visit 12 days
ago". Features without a template, and missing values, never make a reason. The client
attributes (age, gender, language, tier, country: :data:`features.catalogue.CLIENT_ATTRIBUTES`)
have no template, so a phrase is about what the client does, never who they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from training.next_purchase.models import FloatArray

PLACEHOLDER = "{value}"
REASON_COLUMNS: dict[str, pl.DataType] = {
    "client_id": pl.String,
    "rank": pl.Int32,
    "feature": pl.String,
    "contribution": pl.Float64,
    "reason": pl.String,
}


def catalogue_templates() -> dict[str, str]:
    """The reason template of every catalogued client feature that has one (client attributes
    have none)."""
    from features.catalogue import feature_catalogue

    return {
        doc.name: doc.reason
        for doc in feature_catalogue()
        if doc.entity == "client" and doc.reason is not None
    }


def formatted_value(column: pl.Expr) -> pl.Expr:
    """A feature value as an associate reads it: whole numbers without decimals, else one."""
    number = column.cast(pl.Float64, strict=False)
    whole = number.round(0)
    return (
        pl.when(number.is_null())
        .then(column.cast(pl.String))
        .when((number - whole).abs() < 0.05)
        .then(whole.cast(pl.Int64).cast(pl.String))
        .otherwise(number.round(1).cast(pl.String))
    )


def format_value(value: object) -> str:
    """One value as :func:`formatted_value` writes it, without polars (the single-row path)."""
    if isinstance(value, int | float):
        number = float(value)
        if abs(number - round(number)) < 0.05:
            return str(round(number))
        return f"{round(number, 1)}"
    return str(value)


def top_reasons(
    client_ids: Sequence[str] | pl.Series,
    contributions: FloatArray,
    values: pl.DataFrame,
    feature_names: Sequence[str],
    templates: Mapping[str, str],
    top_k: int = 3,
) -> pl.DataFrame:
    """The ``top_k`` positive contributions per client with a template, as phrases.

    ``contributions`` is ``pred_contrib`` output (one column per feature, then the bias);
    ``values`` holds the clients' raw feature values in the same row order. Returns one row per
    client and reason: ``client_id``, ``rank`` (1 = strongest), ``feature``, ``contribution``,
    ``reason``.
    """
    named = [name for name in feature_names if name in templates and name in values.columns]
    if not named or len(client_ids) == 0:
        return pl.DataFrame(schema=REASON_COLUMNS)
    positions = [list(feature_names).index(name) for name in named]
    contribution_frame = pl.DataFrame(
        np.asarray(contributions)[:, positions], schema=named, orient="row"
    ).with_columns(pl.Series("client_id", client_ids, dtype=pl.String))
    value_frame = values.select(
        *(formatted_value(pl.col(name)).alias(name) for name in named)
    ).with_columns(pl.Series("client_id", client_ids, dtype=pl.String))
    template_frame = pl.DataFrame(
        {"feature": named, "template": [templates[name] for name in named]}
    )
    long_contributions = contribution_frame.with_row_index("row").unpivot(
        index=["row", "client_id"], variable_name="feature", value_name="contribution"
    )
    long_values = value_frame.with_row_index("row").unpivot(
        index=["row", "client_id"], variable_name="feature", value_name="value"
    )
    return (
        long_contributions.join(long_values, on=["row", "client_id", "feature"])
        .filter(pl.col("contribution") > 0, pl.col("value").is_not_null())
        .join(template_frame, on="feature")
        .with_columns(
            reason=pl.col("template").str.replace_all(PLACEHOLDER, pl.col("value"), literal=True)
        )
        .sort(["row", "contribution"], descending=[False, True])
        .unique(subset=["row", "reason"], keep="first", maintain_order=True)
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int32).over("row"))
        .filter(pl.col("rank") <= top_k)
        .select(list(REASON_COLUMNS))
    )
