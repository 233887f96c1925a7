"""Call-list rules: home boutique only, opt-in only, ranked by the horizon's probability."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.errors import UserInputError
from training.call_lists import (
    CALL_LIST_COLUMNS,
    build_call_list,
    probability_within,
    quiet_days,
    reasons_by_client,
)

START = date(2026, 7, 1)


@pytest.fixture
def predictions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": ["a", "b", "c", "d", "e", "f"],
            "p_buy_30d": [0.10, 0.50, 0.20, 0.90, 0.30, 0.40],
            "p_buy_90d": [0.30, 0.60, 0.70, 0.95, 0.50, 0.80],
            "expected_spend_90d": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0],
            "next_division": ["shoes", "watches", "shoes", "shoes", "watches", "shoes"],
            "p_division_shoes": [0.6, 0.2, 0.7, 0.5, 0.1, 0.9],
            "p_division_watches": [0.4, 0.8, 0.3, 0.5, 0.9, 0.1],
            "days_to_next_p50": [40.0, 10.0, 20.0, 5.0, 30.0, 15.0],
            "reasons": [["bought shoes"], ["a regular"], [], None, ["x"], ["y"]],
        }
    )


@pytest.fixture
def clients() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": ["a", "b", "c", "d", "e", "f"],
            "home_boutique_id": ["B1", "B1", "B2", "B1", "B1", "B2"],
            "contact_opt_in": [True, True, True, None, False, True],
            "tier": ["gold", "core", "top", "core", "gold", "core"],
        }
    )


@pytest.fixture
def footfall() -> pl.DataFrame:
    days = [START + timedelta(days=offset) for offset in range(10)]
    p50 = [50.0, 30.0, 0.0, 40.0, 20.0, 80.0, 90.0, 10.0, 15.0, 12.0]
    return pl.DataFrame(
        {
            "boutique_id": ["B1"] * 10 + ["B2"] * 10,
            "date": days * 2,
            "p50": p50 + [value + 1 for value in p50],
        }
    )


def test_lists_only_opted_in_clients_of_their_home_boutique(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, None, 10, 30)
    assert dict(listed.select("client_id", "boutique_id").iter_rows()) == {
        "a": "B1",
        "b": "B1",
        "c": "B2",
        "f": "B2",
    }
    assert listed.get_column("client_id").is_unique().all()
    one_boutique = build_call_list(predictions, clients, footfall, "B2", 10, 30)
    assert set(one_boutique.get_column("client_id")) == {"c", "f"}


def test_ranks_by_the_probability_within_the_horizon_and_keeps_n_per_boutique(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, None, 1, 30)
    assert listed.select("boutique_id", "rank", "client_id").rows() == [
        ("B1", 1, "b"),
        ("B2", 1, "f"),
    ]
    at_30 = build_call_list(predictions, clients, footfall, "B1", 10, 30)
    assert at_30.get_column("p_buy").to_list() == pytest.approx([0.5, 0.1])
    assert at_30.get_column("rank").to_list() == [1, 2]


def test_a_division_ranks_by_the_probability_of_buying_in_it(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, "B2", 10, 30, "watches")
    assert listed.get_column("client_id").to_list() == ["c", "f"]
    assert listed.get_column("division").unique().to_list() == ["watches"]
    assert listed.get_column("p_buy").to_list() == pytest.approx([0.2 * 0.3, 0.4 * 0.1])
    with pytest.raises(UserInputError, match=r"'jewellery'.*\['shoes', 'watches'\]"):
        build_call_list(predictions, clients, footfall, "B2", 10, 30, "jewellery")


def test_without_a_division_the_most_likely_one_is_named_with_its_probability(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, "B1", 10, 30)
    rows = {row["client_id"]: row for row in listed.to_dicts()}
    assert rows["b"]["division"] == "watches"
    assert rows["b"]["p_division"] == pytest.approx(0.8)
    assert rows["a"]["reasons"] == ["bought shoes"]


def test_invites_on_the_quietest_open_days_within_the_horizon(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, "B1", 10, 7, start=START)
    # within 7 days: 50, 30, closed (0), 40, 20, 80, 90 -> 20, 30, 40
    expected = [START + timedelta(days=offset) for offset in (4, 1, 3)]
    assert listed.get_column("invite_days").to_list() == [expected, expected]


def test_only_pseudonymous_ids_and_model_outputs_leave(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients, footfall, None, 10, 30)
    assert dict(listed.schema) == CALL_LIST_COLUMNS
    assert "tier" not in listed.columns


def test_a_clients_table_without_consent_lists_nobody(
    predictions: pl.DataFrame, clients: pl.DataFrame, footfall: pl.DataFrame
) -> None:
    listed = build_call_list(predictions, clients.drop("contact_opt_in"), footfall, None, 10, 30)
    assert listed.height == 0
    assert dict(listed.schema) == CALL_LIST_COLUMNS


@pytest.mark.parametrize(
    ("n", "horizon", "message"),
    [(0, 30, "n must be between 1 and 200"), (201, 30, "n must be"), (5, 91, "horizon_days")],
)
def test_out_of_range_requests_are_user_errors(
    predictions: pl.DataFrame,
    clients: pl.DataFrame,
    footfall: pl.DataFrame,
    n: int,
    horizon: int,
    message: str,
) -> None:
    with pytest.raises(UserInputError, match=message):
        build_call_list(predictions, clients, footfall, None, n, horizon)


def test_missing_columns_are_named(clients: pl.DataFrame, footfall: pl.DataFrame) -> None:
    with pytest.raises(UserInputError, match="p_buy_90d"):
        build_call_list(pl.DataFrame({"client_id": ["a"]}), clients, footfall, None, 5, 30)


def test_reasons_are_gathered_strongest_first() -> None:
    explained = pl.DataFrame(
        {"client_id": ["a", "a", "b"], "rank": [2, 1, 1], "reason": ["second", "first", "only"]}
    )
    gathered = reasons_by_client(explained).collect()
    assert dict(gathered.iter_rows()) == {"a": ["first", "second"], "b": ["only"]}


def test_quiet_days_skip_closed_days_and_the_days_outside_the_horizon(
    footfall: pl.DataFrame,
) -> None:
    days = quiet_days(footfall, START + timedelta(days=1), 3, count=5).collect()
    invites = dict(days.iter_rows())
    assert invites["B1"] == [START + timedelta(days=1), START + timedelta(days=3)]


probabilities = st.floats(0.0, 1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(p30=probabilities, extra=probabilities, horizons=st.lists(st.integers(1, 90), min_size=2))
def test_the_horizon_probability_interpolates_30_and_90_days_and_never_decreases(
    p30: float, extra: float, horizons: list[int]
) -> None:
    p90 = p30 + (1 - p30) * extra
    frame = pl.DataFrame({"p_buy_30d": [p30], "p_buy_90d": [p90]})
    values = {h: frame.select(probability_within(h)).item() for h in sorted(set(horizons))}
    ordered = [values[h] for h in sorted(values)]
    assert all(0.0 <= v <= 1.0 for v in ordered)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(ordered))
    assert frame.select(probability_within(30)).item() == pytest.approx(p30, abs=1e-9)
    assert frame.select(probability_within(90)).item() == pytest.approx(p90, abs=1e-6)
