"""Client features and labels: a plain-Python reference, point-in-time properties, sharding."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.bgnbd import BetaGeoModel
from features.client_features import (
    BGNBD_FEATURES,
    CATEGORICAL_CLIENT_FEATURES,
    CLIENT_FEATURES,
    client_features,
    division_slug,
)
from features.client_labels import LABEL_DESCRIPTIONS, client_labels
from features.contract import DIVISIONS, TABLES
from features.history import PurchaseHistory

MODEL = BetaGeoModel.from_params(r=0.6, alpha=40.0, a=0.8, b=2.5)
BOUTIQUES = [
    {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
     "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1), "format": "boutique"},
    {"boutique_id": "NYC", "city": "New York", "country": "US", "currency": "USD",
     "timezone": "America/New_York", "opened_on": date(2000, 1, 1), "format": "flagship"},
    {"boutique_id": "WEB", "city": "Paris", "country": "FR", "currency": "EUR",
     "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1), "format": "online"},
]  # fmt: skip
PRODUCTS = [
    {"product_id": "bag", "division": "leather goods"},
    {"product_id": "shoe", "division": "shoes"},
    {"product_id": "ring", "division": "jewellery"},
]
USD_RATES = {
    date(2024, 1, 1): 0.91,
    date(2024, 2, 1): 0.92,
    date(2024, 3, 1): 0.90,
    date(2024, 3, 4): 0.95,
    date(2024, 5, 31): 0.92,
}
CUTOFF = date(2024, 6, 1)
ATTRIBUTES = {
    "tier", "age", "gender", "contact_opt_in", "home_country", "language", "home_boutique_country"
}  # fmt: skip


def table(name: str, rows: list[dict]) -> pl.LazyFrame:
    """A contract table from ``rows``; absent contract columns are null."""
    schema = TABLES[name].schema()
    return (pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)).lazy()


def make_history(
    transactions: list[dict],
    clients: list[dict],
    *,
    boutiques: list[dict] = BOUTIQUES,
    fx_rates: list[dict] | None = None,
    events: list[dict] | None = None,
) -> PurchaseHistory:
    if fx_rates is None:
        fx_rates = [
            {"date": day, "currency": "USD", "rate_to_reference": rate}
            for day, rate in USD_RATES.items()
        ]
    return PurchaseHistory(
        clients=table("clients", clients),
        boutiques=table("boutiques", boutiques),
        products=table("products", PRODUCTS),
        transactions=table("transactions", transactions),
        footfall=table("footfall", []),
        fx_rates=table("fx_rates", fx_rates),
        events=table("events", events or []),
    )


def line(
    transaction_id: str,
    receipt_id: str | None,
    client_id: str | None,
    boutique_id: str,
    at: datetime,
    product_id: str,
    amount: float,
) -> dict:
    currency = next(b["currency"] for b in BOUTIQUES if b["boutique_id"] == boutique_id)
    return {
        "transaction_id": transaction_id,
        "receipt_id": receipt_id,
        "client_id": client_id,
        "boutique_id": boutique_id,
        "product_id": product_id,
        "purchased_at": at.replace(tzinfo=UTC),
        "quantity": -1 if amount < 0 else 1,
        "amount": amount,
        "currency": currency,
    }


HAND_CLIENTS = [
    {"client_id": "c1", "home_boutique_id": "PAR", "first_purchase_date": date(2022, 6, 1),
     "home_country": "FR", "tier": "gold", "birth_year": 1980, "gender": "f",
     "contact_opt_in": True, "language": "fr"},
    # No home country: the home boutique's (US) stands in.
    {"client_id": "c2", "home_boutique_id": "NYC", "first_purchase_date": date(2024, 2, 1),
     "tier": "core", "birth_year": 1990},
]  # fmt: skip
HAND_TRANSACTIONS = [
    # c1: a receipt with a returned line, netted to 2300.
    line("t1", "r1", "c1", "PAR", datetime(2024, 1, 10, 10), "bag", 2000.0),
    line("t2", "r1", "c1", "PAR", datetime(2024, 1, 10, 10), "shoe", 500.0),
    line("t3", "r1", "c1", "PAR", datetime(2024, 1, 10, 10), "ring", -200.0),
    # c1 abroad in USD on 3 March, a day without a rate: 1 March's 0.90 applies.
    line("t4", "r2", "c1", "NYC", datetime(2024, 3, 3, 15), "ring", 1000.0),
    # c1 returns a pair of shoes: a return receipt, not an occasion.
    line("t5", "r3", "c1", "PAR", datetime(2024, 3, 20, 9), "shoe", -500.0),
    # 23:30 on 31 May in New York, already 1 June in UTC: before the cutoff, kept.
    line("t6", "r4", "c1", "NYC", datetime(2024, 6, 1, 3, 30), "shoe", 300.0),
    # Midnight on 1 June in Paris (22:00 UTC on 31 May): on the cutoff, excluded.
    line("t7", "r5", "c1", "PAR", datetime(2024, 5, 31, 22, 0), "bag", 5000.0),
    # c2 in New York, then online without receipt ids: one occasion for the day.
    line("t8", "r6", "c2", "NYC", datetime(2024, 2, 1, 17), "bag", 1500.0),
    line("t9", None, "c2", "WEB", datetime(2024, 4, 15, 9), "shoe", 400.0),
    line("t10", None, "c2", "WEB", datetime(2024, 4, 15, 11), "ring", 100.0),
    # A walk-in: never a client row.
    line("t11", "r7", None, "PAR", datetime(2024, 4, 1, 12), "bag", 3000.0),
    # After the cutoff: labels only.
    line("t12", "r8", "c2", "PAR", datetime(2024, 6, 20, 12), "bag", 800.0),
    line("t13", "r9", "c2", "PAR", datetime(2024, 7, 20, 12), "ring", 200.0),
]


def rate_on(rates: dict[str, dict[date, float]], currency: str, day: date) -> float:
    """The nearest earlier rate of ``currency`` (1 for EUR, the reference)."""
    if currency == "EUR":
        return 1.0
    return rates[currency][max(d for d in rates[currency] if d <= day)]


def main_division(amounts: dict[str, float]) -> str | None:
    """The division with the largest positive amount, the first in DIVISIONS order on ties."""
    positive = [d for d in DIVISIONS if amounts.get(d, 0.0) > 0]
    if not positive:
        return None
    largest = max(amounts[d] for d in positive)
    return next(d for d in positive if amounts[d] == largest)


def reference_client_features(
    transactions: list[dict],
    clients: list[dict],
    cutoff: date,
    *,
    boutiques: list[dict] = BOUTIQUES,
    rates: dict[str, dict[date, float]] | None = None,
    events: list[dict] = (),
) -> dict[str, dict[str, object]]:
    """The features, computed row by row in plain Python, as an independent check.

    Every feature of :data:`CLIENT_FEATURES` except the BG/NBD ones and the clients-table
    attributes.
    """
    rates = {"USD": USD_RATES} if rates is None else rates
    by_id = {b["boutique_id"]: b for b in boutiques}
    divisions = {p["product_id"]: p["division"] for p in PRODUCTS}
    home = {
        c["client_id"]: c.get("home_country") or by_id[c["home_boutique_id"]]["country"]
        for c in clients
    }
    event_days = defaultdict(set)
    for event in events:
        for boutique in boutiques:
            if event.get("boutique_id") in (None, boutique["boutique_id"]) and event.get(
                "country"
            ) in (None, boutique["country"]):
                event_days[event["kind"]].add((boutique["boutique_id"], event["date"]))
    receipts: dict[object, dict] = {}
    for row in transactions:
        boutique = by_id[row["boutique_id"]]
        local = row["purchased_at"].astimezone(ZoneInfo(boutique["timezone"])).replace(tzinfo=None)
        if local.date() >= cutoff or row["client_id"] is None:
            continue
        key = (
            (row["receipt_id"], row["client_id"])
            if row["receipt_id"]
            else (row["client_id"], local.date())
        )
        receipt = receipts.setdefault(
            key,
            {"client": row["client_id"], "local": local, "boutique": row["boutique_id"],
             "net": 0.0, "gross": 0.0, "returned": 0.0, "divisions": defaultdict(float)},
        )  # fmt: skip
        amount = row["amount"] * rate_on(rates, row["currency"], local.date())
        receipt["net"] += amount
        receipt["gross"] += max(amount, 0.0)
        receipt["returned"] += max(-amount, 0.0)
        receipt["divisions"][divisions[row["product_id"]]] += amount
        if local < receipt["local"]:
            receipt["local"], receipt["boutique"] = local, row["boutique_id"]
    per_client: dict[str, list[dict]] = defaultdict(list)
    for receipt in receipts.values():
        receipt["main"] = main_division(receipt["divisions"])
        per_client[receipt["client"]].append(receipt)
    features = {}
    for client, rows in per_client.items():
        occasions = sorted(
            (r for r in rows if r["net"] > 0),
            key=lambda r: (r["local"], r["net"], DIVISIONS.index(r["main"]) if r["main"] else 99),
        )
        if not occasions:
            continue
        n = len(occasions)
        dates = [r["local"].date() for r in occasions]
        gaps = [(later - earlier).days for earlier, later in pairwise(dates)]
        days_before = [(cutoff - day).days for day in dates]
        nets = [r["net"] for r in occasions]
        main = [r["main"] for r in occasions]
        recorded = next(c["first_purchase_date"] for c in clients if c["client_id"] == client)
        row: dict[str, object] = {
            "recency_days": days_before[-1],
            "frequency": n,
            "tenure_days": days_before[0],
            "client_since_days": (cutoff - min(recorded, dates[0])).days,
            "monetary_total": sum(nets),
            "monetary_mean": statistics.mean(nets),
            "monetary_max": max(nets),
            "last_occasion_spend": nets[-1],
        }
        for window in (30, 90, 180, 365):
            inside = [net for net, d in zip(nets, days_before, strict=True) if d <= window]
            row[f"occasions_{window}d"] = len(inside)
            row[f"spend_{window}d"] = sum(inside)
        previous = [net for net, d in zip(nets, days_before, strict=True) if 365 < d <= 730]
        row["occasions_prev_365d"] = len(previous)
        row["spend_prev_365d"] = sum(previous)
        total = row["spend_365d"] + row["spend_prev_365d"]
        row["spend_trend"] = (row["spend_365d"] - row["spend_prev_365d"]) / total if total else None
        gap_mean = statistics.mean(gaps) if gaps else None
        row |= {
            "gap_mean_days": gap_mean,
            "gap_std_days": statistics.pstdev(gaps) if gaps else None,
            "gap_last_days": gaps[-1] if gaps else None,
            "overdue_days": days_before[-1] - gap_mean if gaps else None,
        }
        known = [d for d in main if d is not None]
        for division in DIVISIONS:
            slug = division_slug(division)
            row[f"division_share_{slug}"] = known.count(division) / len(known) if known else None
            own = [d for d, m in zip(days_before, main, strict=True) if m == division]
            row[f"division_recency_{slug}"] = min(own) if own else None
        streak = 1
        while streak < n and main[-1 - streak] == main[-1]:
            streak += 1
        season = [(d, m) for d, m in zip(days_before, main, strict=True) if 275 < d <= 365]
        season_counts = [sum(m == division for _, m in season) for division in DIVISIONS]
        row |= {
            "last_division": main[-1],
            "n_divisions": len(set(known)),
            "n_boutiques": len({r["boutique"] for r in occasions}),
            "share_abroad": statistics.mean(
                by_id[r["boutique"]]["country"] != home[client] for r in occasions
            ),
            "share_online": statistics.mean(
                by_id[r["boutique"]]["format"] == "online" for r in occasions
            ),
            "returns_ratio": sum(r["returned"] for r in rows) / sum(r["gross"] for r in rows),
            "previous_division": main[-2] if n > 1 else None,
            "last_division_streak": streak,
            "last_division_share": main.count(main[-1]) / n,
            "season_last_year_division": DIVISIONS[season_counts.index(max(season_counts))]
            if max(season_counts, default=0) > 0
            else None,
            "season_last_year_occasions": len(season),
            "days_to_season_anniversary": 365 - max(d for d, _ in season) if season else None,
        }
        months = [day.month for day in dates]
        shares = [months.count(month) / n for month in range(1, 13)]
        habitual = shares.index(max(shares)) + 1
        start = date(cutoff.year + (habitual < cutoff.month), habitual, 1)
        for month, share in enumerate(shares, start=1):
            row[f"month_share_{month:02d}"] = share
        launches = sum((r["boutique"], r["local"].date()) in event_days["collection_launch"]
                       for r in occasions)  # fmt: skip
        private_sales = sum((r["boutique"], r["local"].date()) in event_days["private_sale"]
                            for r in occasions)  # fmt: skip
        row |= {
            "habitual_month": habitual,
            "habitual_month_share": max(shares),
            "days_to_habitual_month": 0 if habitual == cutoff.month else (start - cutoff).days,
            "launch_occasions": launches,
            "private_sale_occasions": private_sales,
            "launch_share": launches / n,
            "private_sale_share": private_sales / n,
            "recency_tenure_ratio": days_before[-1] / days_before[0],
            "occasions_per_year": n / (days_before[0] / 365.25),
        }
        features[client] = row
    return features


def assert_matches_reference(frame: pl.DataFrame, expected: dict[str, dict[str, object]]) -> None:
    """Every reference value equals the pipeline's (floats to 1e-12, relative)."""
    assert sorted(frame["client_id"]) == sorted(expected)
    for row in frame.iter_rows(named=True):
        for name, value in expected[row["client_id"]].items():
            if value is None or isinstance(value, str):
                assert row[name] == value, (row["client_id"], name)
            else:
                assert row[name] == pytest.approx(value, rel=1e-12, abs=1e-9), (
                    row["client_id"],
                    name,
                )


@pytest.fixture(scope="module")
def hand_history() -> PurchaseHistory:
    return make_history(HAND_TRANSACTIONS, HAND_CLIENTS)


def test_features_match_a_plain_python_reference(hand_history: PurchaseHistory) -> None:
    frame = client_features(hand_history, CUTOFF, bgnbd=MODEL).collect()
    expected = reference_client_features(HAND_TRANSACTIONS, HAND_CLIENTS, CUTOFF)
    assert sorted(expected) == ["c1", "c2"]
    assert set(expected["c1"]) == set(CLIENT_FEATURES) - set(BGNBD_FEATURES) - ATTRIBUTES
    assert_matches_reference(frame, expected)


def test_hand_made_history_details(hand_history: PurchaseHistory) -> None:
    frame = client_features(hand_history, CUTOFF, bgnbd=MODEL).collect()
    c1 = frame.filter(pl.col("client_id") == "c1").row(0, named=True)
    # 2300 (Paris, netted) + 900 (1000 USD at 1 March's rate) + 276 (300 USD at 0.92).
    assert c1["monetary_total"] == pytest.approx(3476.0)
    assert c1["recency_days"] == 1  # 31 May in New York
    assert c1["returns_ratio"] == pytest.approx(700.0 / 3676.0)
    assert c1["share_abroad"] == pytest.approx(2 / 3)
    assert c1["age"] == 44 and c1["tier"] == "gold" and c1["home_country"] == "FR"
    assert c1["habitual_month"] == 1  # one occasion in each of Jan, Mar, May: the earliest
    assert c1["days_to_habitual_month"] == (date(2025, 1, 1) - CUTOFF).days
    c2 = frame.filter(pl.col("client_id") == "c2").row(0, named=True)
    assert c2["home_country"] == "US" and c2["home_boutique_country"] == "US"
    assert c2["share_online"] == 0.5 and c2["share_abroad"] == 0.5
    assert c2["frequency"] == 2 and c2["monetary_total"] == pytest.approx(1380.0 + 500.0)
    assert frame["cutoff"].unique().to_list() == [CUTOFF]
    assert 0.0 <= c2["bgnbd_p_alive"] <= 1.0


def test_columns_match_the_declared_features(hand_history: PurchaseHistory) -> None:
    frame = client_features(hand_history, CUTOFF, bgnbd=MODEL).collect()
    assert frame.columns == ["client_id", "cutoff", *CLIENT_FEATURES]
    assert set(CATEGORICAL_CLIENT_FEATURES) <= set(CLIENT_FEATURES)
    assert frame.filter(pl.col("client_id") == "c1")["division_share_leather_goods"][0] == 1 / 3


def test_a_single_occasion_has_no_gaps(hand_history: PurchaseHistory) -> None:
    frame = client_features(hand_history, date(2024, 2, 2), bgnbd=MODEL).sort("client_id")
    rows = frame.collect()
    assert rows["frequency"].to_list() == [1, 1]
    for name in ("gap_mean_days", "gap_std_days", "gap_last_days", "overdue_days"):
        assert rows[name].is_null().all(), name
    assert rows["recency_tenure_ratio"].to_list() == [1.0, 1.0]


def test_a_client_with_only_returns_before_the_cutoff_is_not_known(
    hand_history: PurchaseHistory,
) -> None:
    frame = client_features(hand_history, date(2024, 1, 10), bgnbd=MODEL).collect()
    assert frame.height == 0
    assert frame.columns == ["client_id", "cutoff", *CLIENT_FEATURES]


def test_events_count_launch_and_private_sale_occasions() -> None:
    events = [
        {"date": date(2024, 1, 10), "kind": "collection_launch", "boutique_id": "PAR"},
        {"date": date(2024, 4, 15), "kind": "private_sale", "country": "FR"},
        {"date": date(2024, 3, 3), "kind": "private_sale", "country": "FR"},  # c1 is in NYC
    ]
    history = make_history(HAND_TRANSACTIONS, HAND_CLIENTS, events=events)
    frame = client_features(history, CUTOFF, bgnbd=MODEL).sort("client_id").collect()
    assert frame["launch_occasions"].to_list() == [1, 0]
    assert frame["private_sale_occasions"].to_list() == [0, 1]
    assert frame["private_sale_share"].to_list() == [0.0, 0.5]


def test_labels_of_the_hand_made_history(hand_history: PurchaseHistory) -> None:
    labels = client_labels(hand_history, CUTOFF, 30).collect()
    assert labels.columns == ["client_id", "cutoff", *LABEL_DESCRIPTIONS]
    # c1's midnight purchase of 1 June (Paris) is the first day of the window.
    c1 = labels.filter(pl.col("client_id") == "c1").row(0, named=True)
    assert c1["label_occasions"] == 1 and c1["label_days_to_next"] == 0
    assert c1["label_spend"] == 5000.0 and c1["label_division"] == "leather goods"
    assert c1["label_bought_30d"] and not c1["label_censored"]
    c2 = labels.filter(pl.col("client_id") == "c2").row(0, named=True)
    assert c2["label_days_to_next"] == 19 and c2["label_spend"] == 800.0
    longer = client_labels(hand_history, CUTOFF, 60).collect()
    assert longer.filter(pl.col("client_id") == "c2")["label_occasions"].to_list() == [2]


# --- Point-in-time properties on random histories -------------------------------------------

RANDOM_BOUTIQUES = [
    {"boutique_id": "PAR", "city": "Paris", "country": "FR", "currency": "EUR",
     "timezone": "Europe/Paris", "opened_on": date(2000, 1, 1), "format": "boutique"},
    {"boutique_id": "TYO", "city": "Tokyo", "country": "JP", "currency": "JPY",
     "timezone": "Asia/Tokyo", "opened_on": date(2000, 1, 1), "format": "online"},
]  # fmt: skip
RANDOM_CLIENTS = [
    {"client_id": f"c{i}", "home_boutique_id": "PAR" if i % 2 else "TYO",
     "first_purchase_date": date(2023, 1, 1), "home_country": [None, "FR", "JP"][i % 3]}
    for i in range(4)
]  # fmt: skip
START = datetime(2023, 1, 1)
END = datetime(2024, 12, 31)
ZONES = {b["boutique_id"]: ZoneInfo(b["timezone"]) for b in RANDOM_BOUTIQUES}


@st.composite
def random_transactions(draw: st.DrawFn) -> list[dict]:
    """Receipts of 1-3 lines at one instant: random clients (or walk-ins), boutiques, returns."""
    rows = []
    for index in range(draw(st.integers(1, 14))):
        boutique = draw(st.sampled_from(RANDOM_BOUTIQUES))
        at = draw(st.datetimes(min_value=START, max_value=END)).replace(tzinfo=UTC)
        client = draw(st.sampled_from([None, "c0", "c1", "c2", "c3"]))
        receipt = draw(st.sampled_from([f"r{index}", f"r{index}", None]))
        for number in range(draw(st.integers(1, 3))):
            amount = draw(st.sampled_from([-300.0, 120.0, 450.0, 1000.0, 2500.0]))
            rows.append(
                {
                    "transaction_id": f"t{index}-{number}",
                    "receipt_id": receipt,
                    "client_id": client,
                    "boutique_id": boutique["boutique_id"],
                    "product_id": draw(st.sampled_from(["bag", "shoe", "ring"])),
                    "purchased_at": at,
                    "quantity": -1 if amount < 0 else 1,
                    "amount": amount * (150.0 if boutique["currency"] == "JPY" else 1.0),
                    "currency": boutique["currency"],
                }
            )
    return rows


@st.composite
def random_fx(draw: st.DrawFn) -> list[dict]:
    """JPY rates on the first day and on a random subset of later days."""
    days = draw(st.sets(st.integers(1, 730), max_size=20)) | {0}
    return [
        {"date": START.date() + timedelta(days=day), "currency": "JPY",
         "rate_to_reference": draw(st.floats(0.005, 0.008))}
        for day in sorted(days)
    ]  # fmt: skip


def local_date(row: dict) -> date:
    return row["purchased_at"].astimezone(ZONES[row["boutique_id"]]).date()


def random_history(transactions: list[dict], fx: list[dict]) -> PurchaseHistory:
    return make_history(transactions, RANDOM_CLIENTS, boutiques=RANDOM_BOUTIQUES, fx_rates=fx)


def cutoffs_near(transactions: list[dict]) -> st.SearchStrategy[date]:
    """Any date, or (more often) the local date of a purchase or the day after: the edges."""
    edges = [local_date(row) + timedelta(days=shift) for row in transactions for shift in (0, 1)]
    anywhere = st.dates(min_value=date(2023, 1, 2), max_value=date(2025, 1, 1))
    return st.one_of(anywhere, st.sampled_from(edges), st.sampled_from(edges))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transactions=random_transactions(), fx=random_fx(), data=st.data())
def test_features_ignore_everything_on_or_after_the_cutoff(
    transactions: list[dict], fx: list[dict], data: st.DataObject
) -> None:
    cutoff = data.draw(cutoffs_near(transactions), label="cutoff")
    truncated = [row for row in transactions if local_date(row) < cutoff]
    full = client_features(random_history(transactions, fx), cutoff, bgnbd=MODEL)
    before = client_features(random_history(truncated, fx), cutoff, bgnbd=MODEL)
    assert_frame_equal(full.sort("client_id").collect(), before.sort("client_id").collect())


@st.composite
def random_events(draw: st.DrawFn) -> list[dict]:
    """Launches and private sales at a boutique or across a country, on days of the history."""
    days = st.dates(min_value=START.date(), max_value=END.date())
    place = st.sampled_from([{"boutique_id": "PAR"}, {"boutique_id": "TYO"}, {"country": "JP"}])
    kind = st.sampled_from(["collection_launch", "private_sale"])
    return [
        {"date": draw(days), "kind": draw(kind), **draw(place)}
        for _ in range(draw(st.integers(0, 6)))
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transactions=random_transactions(), fx=random_fx(), events=random_events(), data=st.data())
def test_random_histories_match_the_plain_python_reference(
    transactions: list[dict], fx: list[dict], events: list[dict], data: st.DataObject
) -> None:
    cutoff = data.draw(cutoffs_near(transactions), label="cutoff")
    # Events on the days of the purchases, so that the flags are exercised.
    events = events + [
        {"date": local_date(row), "kind": "private_sale", "boutique_id": row["boutique_id"]}
        for row in transactions[:2]
    ]
    history = make_history(
        transactions, RANDOM_CLIENTS, boutiques=RANDOM_BOUTIQUES, fx_rates=fx, events=events
    )
    rates = {"JPY": {row["date"]: row["rate_to_reference"] for row in fx}}
    expected = reference_client_features(
        transactions, RANDOM_CLIENTS, cutoff, boutiques=RANDOM_BOUTIQUES, rates=rates,
        events=events,
    )  # fmt: skip
    assert_matches_reference(client_features(history, cutoff, bgnbd=MODEL).collect(), expected)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    transactions=random_transactions(),
    fx=random_fx(),
    data=st.data(),
    horizon=st.integers(1, 120),
)
def test_labels_only_read_their_window(
    transactions: list[dict], fx: list[dict], data: st.DataObject, horizon: int
) -> None:
    cutoff = data.draw(
        st.one_of(
            cutoffs_near(transactions),
            cutoffs_near(transactions).map(lambda day: day - timedelta(days=horizon)),
        ),
        label="cutoff",
    )
    end = cutoff + timedelta(days=horizon)
    inside = [row for row in transactions if cutoff <= local_date(row) < end]
    # Outside the window, purchases become returns and returns purchases.
    flipped = [
        row | {"amount": -row["amount"], "quantity": -row["quantity"]}
        for row in transactions
        if not cutoff <= local_date(row) < end
    ]
    labels = client_labels(random_history(transactions, fx), cutoff, horizon)
    perturbed = client_labels(random_history(inside + flipped, fx), cutoff, horizon)
    expected = labels.sort("client_id").collect()
    assert_frame_equal(expected, perturbed.sort("client_id").collect())
    assert (expected["label_days_to_next"].drop_nulls() < horizon).all()


# --- Sharding ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def population() -> PurchaseHistory:
    """150 clients with a few receipts each over two years, in Paris and New York."""
    rng = np.random.default_rng(3)
    clients = [
        {
            "client_id": f"k{i:03d}",
            "home_boutique_id": "PAR",
            "first_purchase_date": date(2022, 1, 1),
        }
        for i in range(150)
    ]
    rows = []
    for receipt in range(900):
        client = f"k{rng.integers(0, 150):03d}"
        boutique = ["PAR", "NYC"][rng.integers(0, 2)]
        at = datetime(2022, 6, 1) + timedelta(minutes=int(rng.integers(0, 2 * 365 * 24 * 60)))
        for number in range(int(rng.integers(1, 3))):
            product = ["bag", "shoe", "ring"][rng.integers(0, 3)]
            amount = float(rng.choice([-200.0, 300.0, 800.0, 1500.0]))
            rows.append(
                line(f"t{receipt}-{number}", f"r{receipt}", client, boutique, at, product, amount)
            )
    fx = [{"date": date(2022, 1, 1), "currency": "USD", "rate_to_reference": 0.9}]
    return make_history(rows, clients, fx_rates=fx)


def shard(history: PurchaseHistory, index: int, shards: int) -> PurchaseHistory:
    """The history of the clients whose hashed id falls in shard ``index``."""
    in_shard = pl.col("client_id").hash(seed=1) % shards == index
    return PurchaseHistory(
        clients=history.clients.filter(in_shard),
        boutiques=history.boutiques,
        products=history.products,
        transactions=history.transactions.filter(in_shard),
        footfall=history.footfall,
        fx_rates=history.fx_rates,
        events=history.events,
    )


def test_shards_give_the_rows_of_the_whole_population(population: PurchaseHistory) -> None:
    cutoff = date(2024, 1, 1)
    whole = client_features(population, cutoff).collect()  # BG/NBD fitted on everyone
    model = BetaGeoModel().fit(
        whole["frequency"].to_numpy() - 1,
        (whole["tenure_days"] - whole["recency_days"]).to_numpy(),
        whole["tenure_days"].to_numpy(),
    )
    assert whole["bgnbd_p_alive"].is_between(0.0, 1.0).all()
    whole = client_features(population, cutoff, bgnbd=model).collect().sort("client_id")
    parts = [
        client_features(shard(population, index, 3), cutoff, bgnbd=model).collect()
        for index in range(3)
    ]
    assert all(part.height > 0 for part in parts)
    assert_frame_equal(pl.concat(parts).sort("client_id"), whole)
    assert whole.height > 100


def test_without_a_model_the_fit_uses_the_population(population: PurchaseHistory) -> None:
    cutoff = date(2024, 1, 1)
    fitted = client_features(population, cutoff).collect().sort("client_id")
    again = client_features(population, cutoff).collect().sort("client_id")
    assert_frame_equal(fitted, again)
    assert fitted.select(pl.col("^bgnbd_.*$").is_not_null().all()).row(0) == (True,) * 5
    # A single shard fits its own model: its BG/NBD columns differ from the population's.
    alone = client_features(shard(population, 0, 3), cutoff).collect().sort("client_id")
    joined = alone.join(fitted, on="client_id", suffix="_all")
    assert not np.allclose(joined["bgnbd_p_buy_90d"], joined["bgnbd_p_buy_90d_all"])


def test_default_as_of_is_the_day_after_the_last_local_sale() -> None:
    from features.snapshot import default_as_of

    # 30 May 2024 at 22:30 in New York is 31 May 02:30 UTC: the last local day is 30 May.
    late = line("t9", "r9", "c2", "NYC", datetime(2024, 5, 31, 2, 30), "ring", 100.0)
    history = make_history([late], HAND_CLIENTS)
    assert default_as_of(history) == date(2024, 5, 31)
