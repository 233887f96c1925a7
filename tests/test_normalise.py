"""Normalisation: boutique-local time, FX with the nearest earlier rate, receipts, returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.contract import TABLES
from features.errors import UserInputError
from features.history import PurchaseHistory
from features.normalise import (
    boutique_event_days,
    boutique_table,
    client_receipts,
    netted_receipts,
    normalised_lines,
    purchase_lines,
    purchase_occasions,
    receipts,
    returns,
    window_filter,
)

ZONES = (
    "Europe/Paris",
    "Asia/Tokyo",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",  # +05:45
    "Australia/Adelaide",  # +09:30 / +10:30
    "Australia/Lord_Howe",  # a 30-minute daylight-saving shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 / -02:30
    "America/Sao_Paulo",  # daylight saving abolished in 2019
)


def table(name: str, rows: list[dict]) -> pl.LazyFrame:
    """A contract table from ``rows``; absent contract columns are null."""
    schema = TABLES[name].schema()
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame.lazy()


def make_history(
    transactions: list[dict],
    *,
    boutiques: list[dict] | None = None,
    clients: list[dict] | None = None,
    products: list[dict] | None = None,
    fx_rates: list[dict] | None = None,
    events: list[dict] | None = None,
) -> PurchaseHistory:
    """A history with two default boutiques (Paris EUR, Tokyo JPY) and three products."""
    boutiques = boutiques or [
        {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
         "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1), "format": "flagship"},
        {"boutique_id": "TYO", "city": "Tokyo", "country": "JP", "currency": "JPY",
         "timezone": "Asia/Tokyo", "opened_on": date(2000, 1, 1), "format": "online"},
    ]  # fmt: skip
    clients = clients or [
        {"client_id": "c1", "home_boutique_id": "PAR", "first_purchase_date": date(2020, 1, 1),
         "home_country": "FR"},
        {"client_id": "c2", "home_boutique_id": "TYO", "first_purchase_date": date(2020, 1, 1)},
    ]  # fmt: skip
    products = products or [
        {"product_id": "bag", "division": "leather goods"},
        {"product_id": "belt", "division": "leather goods"},
        {"product_id": "ring", "division": "jewellery"},
    ]
    return PurchaseHistory(
        clients=table("clients", clients),
        boutiques=table("boutiques", boutiques),
        products=table("products", products),
        transactions=table("transactions", transactions),
        footfall=table("footfall", []),
        fx_rates=table("fx_rates", fx_rates or []),
        events=table("events", events or []),
    )


def line(
    transaction_id: str,
    at: datetime,
    amount: float,
    *,
    receipt_id: str | None = "r1",
    client_id: str | None = "c1",
    boutique_id: str = "PAR",
    product_id: str = "bag",
    currency: str = "EUR",
) -> dict:
    """One transaction line; a negative amount is a return of one unit."""
    return {
        "transaction_id": transaction_id,
        "receipt_id": receipt_id,
        "client_id": client_id,
        "boutique_id": boutique_id,
        "product_id": product_id,
        "purchased_at": at,
        "quantity": -1 if amount < 0 else 1,
        "amount": amount,
        "currency": currency,
    }


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    instants=st.lists(
        st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31)),
        min_size=1,
        max_size=30,
    ),
    zone_indices=st.lists(st.integers(0, len(ZONES) - 1), min_size=30, max_size=30),
)
def test_local_time_matches_zoneinfo_in_every_zone(
    instants: list[datetime], zone_indices: list[int]
) -> None:
    boutiques = [
        {"boutique_id": zone, "city": zone, "country": "XX", "currency": "EUR", "timezone": zone,
         "opened_on": date(2000, 1, 1)}
        for zone in ZONES
    ]  # fmt: skip
    zones = [ZONES[index] for index in zone_indices[: len(instants)]]
    transactions = [
        line(str(i), instant.replace(tzinfo=UTC), 10.0, receipt_id=str(i), boutique_id=zone)
        for i, (instant, zone) in enumerate(zip(instants, zones, strict=True))
    ]
    history = make_history(transactions, boutiques=boutiques)
    lines = purchase_lines(history).sort(pl.col("transaction_id").cast(pl.Int64)).collect()
    expected = [
        instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        for instant, zone in zip(instants, zones, strict=True)
    ]
    assert lines["purchased_local"].to_list() == expected
    assert lines["purchase_date"].to_list() == [moment.date() for moment in expected]


def test_daylight_saving_switch_and_local_date_differs_from_utc_date() -> None:
    history = make_history(
        [
            # 01:30 UTC on the night Paris springs forward: 03:30 local (CEST).
            line("a", utc(2024, 3, 31, 1, 30), 10.0, receipt_id="a"),
            # 23:30 UTC on 31 Dec is already 1 January in Paris.
            line("b", utc(2024, 12, 31, 23, 30), 10.0, receipt_id="b"),
            # 15:30 UTC is 00:30 the next day in Tokyo.
            line(
                "c",
                utc(2024, 6, 1, 15, 30),
                10.0,
                receipt_id="c",
                boutique_id="TYO",
                currency="JPY",
            ),
        ]
    )
    lines = purchase_lines(history).sort("transaction_id").collect()
    assert lines["purchased_local"].to_list() == [
        datetime(2024, 3, 31, 3, 30),
        datetime(2025, 1, 1, 0, 30),
        datetime(2024, 6, 2, 0, 30),
    ]


def test_fx_takes_the_nearest_earlier_rate_and_reference_is_one() -> None:
    fx = [
        {"date": date(2024, 3, 1), "currency": "JPY", "rate_to_reference": 0.0062},
        {"date": date(2024, 3, 4), "currency": "JPY", "rate_to_reference": 0.0060},
        {"date": date(2024, 3, 1), "currency": "EUR", "rate_to_reference": 2.0},  # ignored
    ]
    history = make_history(
        [
            line("before", utc(2024, 2, 28, 3), 1000.0, receipt_id="a", currency="JPY"),
            line("on", utc(2024, 3, 1, 3), 1000.0, receipt_id="b", currency="JPY"),
            line("gap", utc(2024, 3, 3, 3), 1000.0, receipt_id="c", currency="JPY"),
            line("next", utc(2024, 3, 4, 3), 1000.0, receipt_id="d", currency="JPY"),
            line("after", utc(2024, 5, 1, 3), 1000.0, receipt_id="e", currency="JPY"),
            line("eur", utc(2024, 3, 3, 3), 1000.0, receipt_id="f"),
            line("usd", utc(2024, 3, 3, 3), 1000.0, receipt_id="g", currency="USD"),
        ],
        fx_rates=fx,
    )
    lines = purchase_lines(history).collect()
    rates = dict(zip(lines["transaction_id"], lines["fx_rate"], strict=True))
    assert rates == {
        "before": None,  # no earlier rate
        "on": 0.0062,
        "gap": 0.0062,  # 2 and 3 March missing: 1 March's rate
        "next": 0.0060,
        "after": 0.0060,  # after the table ends: its last rate
        "eur": 1.0,  # the reference currency is 1 whatever the table says
        "usd": None,  # a currency without any rate
    }
    amounts = dict(zip(lines["transaction_id"], lines["amount_ref"], strict=True))
    assert amounts["gap"] == pytest.approx(6.2)


def test_other_reference_currency() -> None:
    fx = [{"date": date(2024, 1, 1), "currency": "EUR", "rate_to_reference": 160.0}]
    history = make_history([line("a", utc(2024, 3, 3, 3), 10.0)], fx_rates=fx)
    assert purchase_lines(history, "JPY").collect()["amount_ref"].to_list() == [1600.0]


def test_line_flags_and_home_country_fallback() -> None:
    history = make_history(
        [
            line("a", utc(2024, 1, 1, 12), 10.0, receipt_id="a"),
            line(
                "b", utc(2024, 1, 1, 12), -10.0, receipt_id="b", boutique_id="TYO", currency="EUR"
            ),
            line("c", utc(2024, 1, 1, 12), 10.0, receipt_id="c", client_id="c2"),
            line("d", utc(2024, 1, 1, 12), 10.0, receipt_id="d", client_id=None),
        ]
    )
    lines = purchase_lines(history).sort("transaction_id").collect()
    assert lines["is_return"].to_list() == [False, True, False, False]
    assert lines["is_online"].to_list() == [False, True, False, False]
    # c2 has no home country: its home boutique (Tokyo) says JP, so Paris is abroad.
    assert lines["is_abroad"].to_list() == [False, True, True, None]
    assert lines["division"].cast(pl.String).to_list() == ["leather goods"] * 4
    assert lines["boutique_country"].to_list() == ["FR", "JP", "FR", "FR"]


def test_receipts_net_returns_and_pick_the_dominant_division() -> None:
    at = utc(2024, 5, 2, 10)
    history = make_history(
        [
            # One ring (900) against two leather lines (500 + 600): leather goods dominates.
            line("1", at, 900.0, receipt_id="r1", product_id="ring"),
            line("2", at, 500.0, receipt_id="r1", product_id="bag"),
            line("3", at, 600.0, receipt_id="r1", product_id="belt"),
            line("4", at, -200.0, receipt_id="r1", product_id="ring"),
            # A return receipt.
            line("5", at + timedelta(days=3), -500.0, receipt_id="r2"),
            # No receipt id: the client's lines of one local day are one occasion.
            line("6", utc(2024, 5, 3, 8), 100.0, receipt_id=None, product_id="ring"),
            line("7", utc(2024, 5, 3, 20), 50.0, receipt_id=None),
            line("8", utc(2024, 5, 3, 23), 70.0, receipt_id=None),  # 4 May in Paris
            # Walk-ins without receipt id: every line is its own receipt.
            line("9", at, 10.0, receipt_id=None, client_id=None),
            line("10", at, 20.0, receipt_id=None, client_id=None),
        ]
    )
    frame = receipts(history).collect()
    assert frame.height == 6
    r1 = frame.filter(pl.col("receipt_id") == "r1").row(0, named=True)
    assert r1["net_amount_ref"] == pytest.approx(1800.0)
    assert r1["gross_amount_ref"] == pytest.approx(2000.0)
    assert r1["returned_amount_ref"] == pytest.approx(200.0)
    assert r1["net_quantity"] == 2
    assert r1["lines"] == 4
    assert r1["division"] == "leather goods"
    assert r1["is_occasion"]
    r2 = frame.filter(pl.col("receipt_id") == "r2").row(0, named=True)
    assert not r2["is_occasion"]
    day = frame.filter(pl.col("receipt_id").is_null() & pl.col("client_id").is_not_null())
    assert sorted(day["net_amount_ref"].to_list()) == [70.0, 150.0]
    assert day.sort("net_amount_ref")["purchase_date"].to_list() == [
        date(2024, 5, 4),
        date(2024, 5, 3),
    ]
    assert frame.filter(pl.col("client_id").is_null()).height == 2
    occasions = purchase_occasions(history).collect()
    assert occasions.height == 5 and occasions["is_occasion"].all()
    assert sorted(returns(history).collect()["receipt_id"].to_list()) == ["r1", "r2"]


def test_a_receipt_takes_the_boutique_and_time_of_its_earliest_line() -> None:
    history = make_history(
        [
            # Tokyo first (01:00 UTC), then Paris: the receipt is Tokyo's, at Tokyo's local time.
            line("1", utc(2024, 5, 2, 9), 100.0, receipt_id="r1"),
            line("2", utc(2024, 5, 2, 1), 200.0, receipt_id="r1", boutique_id="TYO"),
            # Two boutiques at the same instant: the first boutique of the table (Paris).
            line("3", utc(2024, 5, 3, 9), 100.0, receipt_id="r2", boutique_id="TYO"),
            line("4", utc(2024, 5, 3, 9), 100.0, receipt_id="r2"),
        ],
        fx_rates=[{"date": date(2024, 1, 1), "currency": "JPY", "rate_to_reference": 0.006}],
    )
    frame = receipts(history).sort("receipt_id").collect()
    assert frame["boutique_id"].to_list() == ["TYO", "PAR"]
    assert frame["purchased_local"].to_list() == [
        datetime(2024, 5, 2, 10),
        datetime(2024, 5, 3, 11),
    ]
    assert frame["purchase_date"].to_list() == [date(2024, 5, 2), date(2024, 5, 3)]
    assert frame["is_online"].to_list() == [True, False]


def test_netting_without_the_integer_key_gives_the_same_receipts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above MAX_BOUTIQUES, each receipt's lines are sorted by time instead: same receipts."""
    import features.normalise

    rows = [
        line("1", utc(2024, 5, 2, 9), 100.0, receipt_id="r1"),
        line("2", utc(2024, 5, 2, 1), 200.0, receipt_id="r1", boutique_id="TYO"),
        line("3", utc(2024, 5, 3, 9), -50.0, receipt_id="r2", product_id="ring"),
        line("4", utc(2024, 5, 3, 8), 70.0, receipt_id=None, client_id="c2", boutique_id="TYO"),
    ]
    fx = [{"date": date(2024, 1, 1), "currency": "JPY", "rate_to_reference": 0.006}]
    history = make_history(rows, fx_rates=fx)
    keyed = receipts(history).sort("receipt_id", "client_id").collect()
    monkeypatch.setattr(features.normalise, "MAX_BOUTIQUES", 1)
    assert_frame_equal(receipts(history).sort("receipt_id", "client_id").collect(), keyed)


def test_window_filters_lines_before_netting() -> None:
    history = make_history(
        [
            line("1", utc(2024, 5, 1, 10), 100.0, receipt_id="a"),
            line("2", utc(2024, 5, 9, 10), -100.0, receipt_id="b"),
            line("3", utc(2024, 5, 10, 10), 300.0, receipt_id="c"),
        ]
    )
    inside = receipts(history, start=date(2024, 5, 2), end=date(2024, 5, 10)).collect()
    assert inside["receipt_id"].to_list() == ["b"]
    assert purchase_lines(history, end=date(2024, 5, 10)).collect().height == 2


def test_country_events_apply_to_every_boutique_of_the_country() -> None:
    boutiques = [
        {"boutique_id": b, "city": b, "country": country, "currency": "EUR",
         "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1)}
        for b, country in (("P1", "FR"), ("P2", "FR"), ("M1", "IT"))
    ]  # fmt: skip
    events = [
        {"date": date(2024, 3, 1), "kind": "private_sale", "country": "FR"},
        {"date": date(2024, 3, 1), "kind": "collection_launch", "boutique_id": "P1"},
        {"date": date(2024, 3, 2), "kind": "closure", "boutique_id": "M1"},
    ]
    history = make_history([], boutiques=boutiques, events=events)
    days = boutique_event_days(history).sort("boutique_id").collect()
    assert days.rows() == [
        ("P1", date(2024, 3, 1), True, True),
        ("P2", date(2024, 3, 1), False, True),
    ]


def test_unknown_time_zone_is_a_user_error() -> None:
    boutiques = [
        {"boutique_id": "X", "city": "X", "country": "FR", "currency": "EUR",
         "timezone": "Mars/Olympus", "opened_on": date(2000, 1, 1)}
    ]  # fmt: skip
    history = make_history([], boutiques=boutiques)
    with pytest.raises(UserInputError, match=r"boutique 'X'.*Mars/Olympus"):
        purchase_lines(history)


def zoneinfo_transitions(zone: str, year: int) -> list[datetime]:
    """The UTC instants of ``year`` where ``zone``'s offset changes, found with zoneinfo."""
    info = ZoneInfo(zone)
    moments = [datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(8784)]
    found = []
    for earlier, later in pairwise(moments):
        if earlier.astimezone(info).utcoffset() != later.astimezone(info).utcoffset():
            minutes = [earlier + timedelta(minutes=m) for m in range(61)]
            offsets = [moment.astimezone(info).utcoffset() for moment in minutes]
            found += [
                m for m, o, p in zip(minutes[1:], offsets[1:], offsets[:-1], strict=True) if o != p
            ]
    return found


def test_local_time_is_exact_around_every_transition() -> None:
    boutiques = [
        {"boutique_id": zone, "city": zone, "country": "XX", "currency": "EUR", "timezone": zone,
         "opened_on": date(2000, 1, 1)}
        for zone in ZONES
    ]  # fmt: skip
    shifts = [timedelta(seconds=s) for s in (-1800, -61, -1, 0, 1, 59, 1800)]
    moments = [
        (zone, transition + shift)
        for zone in ZONES
        for transition in zoneinfo_transitions(zone, 2024)
        for shift in shifts
    ]
    assert len(moments) >= 7 * 2 * 6  # at least six zones change twice in 2024
    transactions = [
        line(str(i), moment, 10.0, receipt_id=str(i), boutique_id=zone)
        for i, (zone, moment) in enumerate(moments)
    ]
    lines = purchase_lines(make_history(transactions, boutiques=boutiques))
    local = lines.sort(pl.col("transaction_id").cast(pl.Int64)).collect()["purchased_local"]
    expected = [moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for zone, moment in moments]
    assert local.to_list() == expected


# --- Client receipts netted once for many windows -------------------------------------------

RECEIPT_ORDER = ["receipt_id", "client_id", "purchase_date"]


@st.composite
def receipts_across_midnight(draw: st.DrawFn) -> list[dict]:
    """Receipts of 1-3 lines up to 30 hours apart (so some span a local midnight), some
    without a receipt id, with returns, for two clients in Paris and Tokyo."""
    rows = []
    for index in range(draw(st.integers(1, 10))):
        first = draw(st.datetimes(datetime(2024, 1, 1), datetime(2024, 1, 20))).replace(tzinfo=UTC)
        receipt = draw(st.sampled_from([f"r{index}", f"r{index}", None]))
        client = draw(st.sampled_from(["c1", "c2"]))
        boutique, currency = draw(st.sampled_from([("PAR", "EUR"), ("TYO", "JPY")]))
        for number in range(draw(st.integers(1, 3))):
            at = first + timedelta(minutes=draw(st.integers(0, 30 * 60)))
            amount = draw(st.sampled_from([-300.0, 120.0, 450.0, 1000.0]))
            rows.append(
                line(
                    f"t{index}-{number}",
                    at,
                    amount,
                    receipt_id=receipt,
                    client_id=client,
                    boutique_id=boutique,
                    product_id=draw(st.sampled_from(["bag", "belt", "ring"])),
                    currency=currency,
                )
            )
    return rows


@settings(max_examples=40, deadline=None)
@given(
    rows=receipts_across_midnight(),
    start=st.none() | st.dates(date(2023, 12, 31), date(2024, 1, 23)),
    days=st.none() | st.integers(1, 10),
)
def test_client_receipts_net_any_window_like_its_lines(
    rows: list[dict], start: date | None, days: int | None
) -> None:
    history = make_history(rows, fx_rates=[{"date": date(2023, 1, 1), "currency": "JPY",
                                             "rate_to_reference": 0.0065}])  # fmt: skip
    end = None if days is None else (start or date(2024, 1, 1)) + timedelta(days=days)
    boutiques = boutique_table(history.boutiques)
    lines = normalised_lines(history).collect()
    netted_once = client_receipts(lines, boutiques)
    expected = netted_receipts(
        lines.lazy().filter(window_filter(start, end)), boutiques, walk_ins=False
    ).collect()
    window = netted_once.window(start, end).collect()
    assert window.columns == expected.columns
    assert_frame_equal(window.sort(RECEIPT_ORDER), expected.sort(RECEIPT_ORDER))


def test_receipts_spanning_midnight_are_netted_again_per_window() -> None:
    history = make_history(
        [
            line("1", utc(2024, 5, 1, 21, 50), 900.0, receipt_id="late"),  # 23:50 in Paris
            line("2", utc(2024, 5, 1, 22, 10), -300.0, receipt_id="late"),  # 00:10, 2 May
            line("3", utc(2024, 5, 1, 10), 100.0, receipt_id="day"),
        ]
    )
    netted_once = client_receipts(
        normalised_lines(history).collect(), boutique_table(history.boutiques)
    )
    assert netted_once.single_day["receipt_id"].to_list() == ["day"]
    assert netted_once.spanning_lines["transaction_id"].sort().to_list() == ["1", "2"]
    first_day = netted_once.window(end=date(2024, 5, 2)).sort("receipt_id").collect()
    assert first_day["net_amount_ref"].to_list() == [100.0, 900.0]
    both_days = netted_once.window().sort("receipt_id").collect()
    assert both_days["net_amount_ref"].to_list() == [100.0, 600.0]
    assert both_days["last_line_date"].to_list() == [date(2024, 5, 1), date(2024, 5, 2)]
