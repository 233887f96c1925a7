"""Training frames: rolling-origin cutoffs, stacked client rows, labels from the window only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.client_features import CLIENT_FEATURES, client_features
from features.client_labels import LABEL_DESCRIPTIONS, NO_PURCHASE_LABELS, client_labels
from features.contract import TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory
from features.normalise import purchase_occasions
from features.training_frame import (
    build_client_training_frame,
    build_training_frame,
    rolling_origin_cutoffs,
    sink_client_training_frame,
)

LAST_DAY = date(2024, 5, 31)


def table(name: str, rows: list[dict]) -> pl.LazyFrame:
    schema = TABLES[name].schema()
    return (pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)).lazy()


@pytest.fixture(scope="module")
def history() -> PurchaseHistory:
    """80 clients buying in Paris and Tokyo from June 2022 to the end of May 2024."""
    rng = np.random.default_rng(11)
    boutiques = [
        {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
         "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1)},
        {"boutique_id": "TYO", "city": "Tokyo", "country": "JP", "currency": "JPY",
         "timezone": "Asia/Tokyo", "opened_on": date(2000, 1, 1)},
    ]  # fmt: skip
    clients = [
        {
            "client_id": f"c{i:02d}",
            "home_boutique_id": "PAR",
            "first_purchase_date": date(2022, 6, 1),
        }
        for i in range(80)
    ]
    first = datetime(2022, 6, 1, tzinfo=UTC)
    span_minutes = int((datetime(2024, 5, 31, 12, tzinfo=UTC) - first).total_seconds() // 60)
    rows = []
    for receipt in range(600):
        boutique = boutiques[rng.integers(0, 2)]
        amount = float(rng.choice([-100.0, 250.0, 900.0]))
        rows.append(
            {
                "transaction_id": f"t{receipt}",
                "receipt_id": f"r{receipt}",
                "client_id": f"c{rng.integers(0, 80):02d}",
                "boutique_id": boutique["boutique_id"],
                "product_id": ["bag", "ring"][rng.integers(0, 2)],
                "purchased_at": first + timedelta(minutes=int(rng.integers(0, span_minutes))),
                "quantity": -1 if amount < 0 else 1,
                "amount": amount * (150.0 if boutique["currency"] == "JPY" else 1.0),
                "currency": boutique["currency"],
            }
        )
    # The last day of the history, in Paris.
    last = {"transaction_id": "last", "receipt_id": "last", "boutique_id": "PAR", "currency": "EUR"}
    rows.append(rows[0] | last | {"purchased_at": datetime(2024, 5, 31, 12, tzinfo=UTC)})
    return PurchaseHistory(
        clients=table("clients", clients),
        boutiques=table("boutiques", boutiques),
        products=table(
            "products",
            [
                {"product_id": "bag", "division": "leather goods"},
                {"product_id": "ring", "division": "jewellery"},
            ],
        ),
        transactions=table("transactions", rows),
        footfall=table("footfall", []),
        fx_rates=table(
            "fx_rates", [{"date": date(2022, 1, 1), "currency": "JPY", "rate_to_reference": 0.0065}]
        ),
        events=table("events", []),
    )


@settings(max_examples=60, deadline=None)
@given(
    test_cutoff=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)),
    horizon=st.integers(1, 400),
    n_cutoffs=st.integers(1, 30),
    step=st.integers(1, 120),
)
def test_rolling_origin_cutoffs_never_cross_the_test_cutoff(
    test_cutoff: date, horizon: int, n_cutoffs: int, step: int
) -> None:
    cutoffs = rolling_origin_cutoffs(test_cutoff, horizon, n_cutoffs, step)
    assert len(cutoffs) == n_cutoffs
    assert all(c + timedelta(days=horizon) <= test_cutoff for c in cutoffs)
    assert cutoffs[-1] + timedelta(days=horizon) == test_cutoff
    assert all((later - earlier).days == step for earlier, later in pairwise(cutoffs))


@pytest.mark.parametrize(
    ("horizon", "n_cutoffs", "step", "message"),
    [(0, 3, 7, "horizon_days"), (30, 0, 7, "n_cutoffs"), (30, 3, 0, "step_days")],
)
def test_rolling_origin_cutoffs_refuse_bad_arguments(
    horizon: int, n_cutoffs: int, step: int, message: str
) -> None:
    with pytest.raises(UserInputError, match=message):
        rolling_origin_cutoffs(date(2024, 1, 1), horizon, n_cutoffs, step)


def test_rolling_origin_cutoffs_refuse_layouts_before_the_history() -> None:
    assert rolling_origin_cutoffs(date(2024, 4, 1), 90, 3, 30, earliest=date(2023, 11, 3)) == [
        date(2023, 11, 3),
        date(2023, 12, 3),
        date(2024, 1, 2),
    ]
    with pytest.raises(UserInputError, match="before the earliest allowed day"):
        rolling_origin_cutoffs(date(2024, 4, 1), 90, 4, 30, earliest=date(2023, 11, 3))
    with pytest.raises(UserInputError, match="year 1"):
        rolling_origin_cutoffs(date(1, 6, 1), 90, 10, 30)


def test_training_frame_stacks_features_and_labels(history: PurchaseHistory) -> None:
    cutoffs = [date(2023, 9, 1), date(2023, 6, 1)]
    frame = build_client_training_frame(history, cutoffs, 90)
    assert frame.columns == ["client_id", "cutoff", *CLIENT_FEATURES, *LABEL_DESCRIPTIONS]
    assert frame["cutoff"].unique().sort().to_list() == sorted(cutoffs)
    assert frame.select("client_id", "cutoff").is_unique().all()
    occasions = purchase_occasions(history).filter(pl.col("client_id").is_not_null()).collect()
    for cutoff in cutoffs:
        rows = frame.filter(pl.col("cutoff") == cutoff)
        features = client_features(history, cutoff).collect().sort("client_id")
        assert_frame_equal(rows.select(features.columns), features)
        window = occasions.filter(
            pl.col("purchase_date").is_between(cutoff, cutoff + timedelta(days=89))
        )
        buyers = set(window["client_id"]) & set(rows["client_id"])
        assert set(rows.filter("label_bought")["client_id"]) == buyers
        assert 0 < len(buyers) < rows.height
        counts = window.group_by("client_id").len()
        joined = rows.join(counts, on="client_id", how="left").with_columns(
            pl.col("len").fill_null(0)
        )
        assert (joined["label_occasions"] == joined["len"]).all()
    idle = frame.filter(~pl.col("label_bought"))
    for name, value in NO_PURCHASE_LABELS.items():
        assert (idle[name] == value).all(), name
    assert idle["label_days_to_next"].is_null().all() and idle["label_division"].is_null().all()
    assert frame.filter("label_bought")["label_days_to_next"].is_between(0, 89).all()


def with_midnight_receipts(history: PurchaseHistory) -> PurchaseHistory:
    """``history`` plus receipts whose lines straddle a local midnight, one of them a cutoff's,
    and client-days without receipt ids: the receipts netted once must still split there."""
    rows = history.transactions.collect().to_dicts()
    base = {"boutique_id": "PAR", "currency": "EUR", "product_id": "bag"}
    extra = [
        # 31 August 23:30 and 1 September 00:30 in Paris: across the cutoff of 1 September.
        ("m1", "m", "c01", datetime(2023, 8, 31, 21, 30, tzinfo=UTC), 900.0),
        ("m2", "m", "c01", datetime(2023, 8, 31, 22, 30, tzinfo=UTC), -400.0),
        # Across an ordinary midnight, in the label window of 1 June.
        ("n1", "n", "c02", datetime(2023, 6, 10, 21, 0, tzinfo=UTC), 500.0),
        ("n2", "n", "c02", datetime(2023, 6, 10, 23, 0, tzinfo=UTC), 700.0),
        # A client-day without receipt id.
        ("d1", None, "c03", datetime(2023, 5, 3, 9, 0, tzinfo=UTC), 300.0),
        ("d2", None, "c03", datetime(2023, 5, 3, 15, 0, tzinfo=UTC), -100.0),
    ]
    for transaction_id, receipt_id, client_id, at, amount in extra:
        rows.append(
            base
            | {
                "transaction_id": transaction_id,
                "receipt_id": receipt_id,
                "client_id": client_id,
                "purchased_at": at,
                "quantity": -1 if amount < 0 else 1,
                "amount": amount,
            }
        )
    return PurchaseHistory(
        **{name: history.table(name) for name in TABLES if name != "transactions"},
        transactions=table("transactions", rows),
    )


def test_training_frame_equals_features_and_labels_cutoff_by_cutoff(
    history: PurchaseHistory,
) -> None:
    """The optimised frame (lines normalised and netted once, sunk cutoff by cutoff) holds the
    rows of the plain path: each cutoff's features and labels computed from the raw history."""
    history = with_midnight_receipts(history)
    cutoffs = [date(2023, 6, 1), date(2023, 9, 1), date(2024, 1, 15)]
    frame = build_client_training_frame(history, cutoffs, 90)
    plain = []
    for cutoff in cutoffs:
        labels = client_labels(history, cutoff, 90).drop("cutoff")
        plain.append(
            client_features(history, cutoff)
            .join(labels, on="client_id", how="left")
            .with_columns(
                pl.col(name).fill_null(pl.lit(value)) for name, value in NO_PURCHASE_LABELS.items()
            )
            .collect()
        )
    expected = pl.concat(plain).sort("cutoff", "client_id")
    assert_frame_equal(frame, expected)
    # The receipt across the cutoff of 1 September: 900 before it, a 400 return after it.
    c01 = frame.filter((pl.col("client_id") == "c01") & (pl.col("cutoff") == date(2023, 9, 1)))
    assert c01["recency_days"].item() == 1


def test_sink_writes_one_file_per_cutoff_in_order(history: PurchaseHistory, tmp_path: Path) -> None:
    cutoffs = [date(2023, 9, 1), date(2023, 6, 1)]
    paths = sink_client_training_frame(history, cutoffs, 90, tmp_path / "frame")
    assert [path.name for path in paths] == [
        "cutoff=2023-06-01.parquet",
        "cutoff=2023-09-01.parquet",
    ]
    assert sorted(p.name for p in (tmp_path / "frame").iterdir()) == [p.name for p in paths]
    assert_frame_equal(
        pl.scan_parquet(paths).collect(), build_client_training_frame(history, cutoffs, 90)
    )
    assert pl.read_parquet(paths[0])["cutoff"].unique().to_list() == [date(2023, 6, 1)]


def test_training_frame_refuses_windows_past_the_history(history: PurchaseHistory) -> None:
    build_client_training_frame(history, [LAST_DAY - timedelta(days=89)], 90)  # ends on LAST_DAY
    with pytest.raises(UserInputError, match="after the last day of the history"):
        build_client_training_frame(history, [LAST_DAY - timedelta(days=88)], 90)
    with pytest.raises(UserInputError, match="at least one cutoff"):
        build_client_training_frame(history, [], 90)
    with pytest.raises(UserInputError, match="horizon_days"):
        build_client_training_frame(history, [date(2023, 1, 1)], 0)


def test_build_training_frame_dispatches_on_the_entity(
    history: PurchaseHistory, monkeypatch: pytest.MonkeyPatch
) -> None:
    cutoffs = [date(2023, 6, 1)]
    assert_frame_equal(
        build_training_frame(history, cutoffs, 30, "client"),
        build_client_training_frame(history, cutoffs, 30),
    )
    calls = []

    def fake_boutique_frame(*args: object) -> pl.DataFrame:
        calls.append(args)
        return pl.DataFrame({"boutique_id": ["PAR"]})

    import features.boutique_features

    monkeypatch.setattr(
        features.boutique_features, "build_boutique_training_frame", fake_boutique_frame
    )
    assert build_training_frame(history, cutoffs, 30, "boutique").height == 1
    assert calls == [(history, cutoffs, 30)]
    with pytest.raises(UserInputError, match="entity"):
        build_training_frame(history, cutoffs, 30, "store")  # type: ignore[arg-type]
