"""Division features: hand-made occasions, row order and sharding, point in time via the client
features."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.bgnbd import BetaGeoModel
from features.client_features import CATEGORICAL_CLIENT_FEATURES, CLIENT_FEATURES, client_features
from features.contract import DIVISIONS, TABLES
from features.division_features import (
    CATEGORICAL_DIVISION_FEATURES,
    DIVISION_FEATURES,
    division_features,
)
from features.history import PurchaseHistory

CUTOFF = date(2025, 3, 1)
DIVISION = pl.Enum(list(DIVISIONS))
MODEL = BetaGeoModel.from_params(r=0.6, alpha=40.0, a=0.8, b=2.5)


def occasions(rows: list[tuple[str, date, str | None]]) -> pl.LazyFrame:
    """Occasions before :data:`CUTOFF` as the client features build them."""
    frame = pl.DataFrame(
        {
            "client_id": [client for client, _, _ in rows],
            "purchased_local": [datetime(d.year, d.month, d.day, 12) for _, d, _ in rows],
            "net_amount_ref": [100.0] * len(rows),
            "division": pl.Series([division for _, _, division in rows], dtype=DIVISION),
        }
    )
    return frame.with_columns(
        days_before=(pl.lit(CUTOFF) - pl.col("purchased_local").dt.date()).dt.total_days()
    ).lazy()


HAND = [
    ("A", date(2024, 1, 10), "shoes"),
    ("A", date(2024, 3, 1), "leather goods"),  # 365 days before: first day of last year's season
    ("A", date(2024, 3, 20), "jewellery"),
    ("A", date(2024, 5, 29), "jewellery"),  # 276 days before: last day of last year's season
    ("A", date(2024, 11, 2), "leather goods"),
    ("A", date(2025, 1, 5), "leather goods"),
    ("B", date(2024, 5, 30), "watches"),  # 275 days before: just after last year's season
    ("C", date(2024, 4, 1), "shoes"),
    ("C", date(2024, 4, 2), "jewellery"),
]


def by_client(frame: pl.LazyFrame) -> dict[str, dict]:
    return {row["client_id"]: row for row in frame.collect().iter_rows(named=True)}


def test_hand_made_occasions() -> None:
    rows = by_client(division_features(occasions(HAND)))
    a, b, c = rows["A"], rows["B"], rows["C"]
    assert a["previous_division"] == "leather goods"
    assert a["last_division_streak"] == 2
    assert a["last_division_share"] == pytest.approx(3 / 6)
    assert a["season_last_year_division"] == "jewellery"  # 2 jewellery against 1 leather goods
    assert a["season_last_year_occasions"] == 3
    assert a["days_to_season_anniversary"] == 0  # the 2024-03-01 purchase turns one today
    assert b["previous_division"] is None
    assert b["last_division_streak"] == 1
    assert b["season_last_year_occasions"] == 0
    assert b["season_last_year_division"] is None
    assert b["days_to_season_anniversary"] is None
    assert c["season_last_year_division"] == "shoes"  # a tie: the first in division order
    assert c["days_to_season_anniversary"] == 365 - 334
    assert c["last_division_share"] == pytest.approx(0.5)


def test_columns_are_declared_and_catalogued_by_the_client_features() -> None:
    frame = division_features(occasions(HAND)).collect()
    assert frame.columns == ["client_id", *DIVISION_FEATURES]
    assert set(DIVISION_FEATURES) <= set(CLIENT_FEATURES)
    assert set(CATEGORICAL_DIVISION_FEATURES) <= set(CATEGORICAL_CLIENT_FEATURES)


occasion_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D"]),
        st.dates(min_value=CUTOFF - timedelta(days=800), max_value=CUTOFF - timedelta(days=1)),
        st.sampled_from([*DIVISIONS[:3], None]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(rows=occasion_rows, seed=st.integers(0, 1000))
def test_row_order_and_shards_do_not_change_a_client_row(rows: list, seed: int) -> None:
    whole = division_features(occasions(rows)).collect().sort("client_id")
    shuffled = occasions(rows).collect().sample(fraction=1.0, shuffle=True, seed=seed)
    assert_frame_equal(division_features(shuffled.lazy()).collect().sort("client_id"), whole)
    shard = [row for row in rows if row[0] in ("A", "C")]
    if shard:
        part = division_features(occasions(shard)).collect().sort("client_id")
        assert_frame_equal(part, whole.filter(pl.col("client_id").is_in(["A", "C"])))


# A small history through the client features: the point-in-time rule holds for the new columns.
BOUTIQUES = [
    {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
     "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1), "format": "boutique"},
]  # fmt: skip
PRODUCTS = [
    {"product_id": "bag", "division": "leather goods"},
    {"product_id": "shoe", "division": "shoes"},
    {"product_id": "ring", "division": "jewellery"},
]


def table(name: str, rows: list[dict]) -> pl.LazyFrame:
    schema = TABLES[name].schema()
    return (pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)).lazy()


def history(sales: list[tuple[str, date, str]]) -> PurchaseHistory:
    transactions = [
        {
            "transaction_id": f"t{index}",
            "receipt_id": f"r{index}",
            "client_id": client,
            "boutique_id": "PAR",
            "product_id": product,
            "purchased_at": datetime(day.year, day.month, day.day, 11, tzinfo=UTC),
            "quantity": 1,
            "amount": 500.0,
            "currency": "EUR",
        }
        for index, (client, day, product) in enumerate(sales)
    ]
    clients = [
        {"client_id": client, "home_boutique_id": "PAR", "first_purchase_date": date(2023, 1, 1)}
        for client in sorted({client for client, _, _ in sales})
    ]
    return PurchaseHistory(
        clients=table("clients", clients),
        boutiques=table("boutiques", BOUTIQUES),
        products=table("products", PRODUCTS),
        transactions=table("transactions", transactions),
        footfall=table("footfall", []),
        fx_rates=table("fx_rates", [FX_ROW]),
        events=table("events", []),
    )


FX_ROW = {"date": date(2023, 1, 1), "currency": "EUR", "rate_to_reference": 1.0}
SALES = [
    ("X", date(2024, 3, 5), "bag"),
    ("X", date(2024, 9, 1), "shoe"),
    ("X", date(2025, 2, 28), "ring"),
    ("X", date(2025, 3, 1), "bag"),  # on the cutoff: invisible
    ("Y", date(2024, 12, 1), "ring"),
    ("Y", date(2025, 4, 1), "shoe"),  # after the cutoff: invisible
]


def test_client_features_carry_the_division_features_point_in_time() -> None:
    full = client_features(history(SALES), CUTOFF, bgnbd=MODEL).collect()
    before = [sale for sale in SALES if sale[1] < CUTOFF]
    truncated = client_features(history(before), CUTOFF, bgnbd=MODEL).collect()
    assert_frame_equal(full.sort("client_id"), truncated.sort("client_id"))
    x = full.filter(pl.col("client_id") == "X").row(0, named=True)
    assert x["last_division"] == "jewellery"
    assert x["previous_division"] == "shoes"
    assert x["season_last_year_division"] == "leather goods"
    assert x["days_to_season_anniversary"] == 365 - (CUTOFF - date(2024, 3, 5)).days
