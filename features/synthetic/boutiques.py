"""The boutique network: real cities with their country, currency and IANA time zone.

The catalogue is ordered so that any prefix of it is a plausible maison (flagships first, then
boutiques across regions, then corners and outlets); ``--boutiques M`` takes the first M - 1
physical locations plus one online boutique. Beyond the catalogue, department-store corners are
added in the main cities. Two roles are always assigned: the last physical boutique opened in
the six months before the end of history, the one before it closed during the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.synthetic.config import MaisonConfig


@dataclass(frozen=True)
class Location:
    """A point of sale in the catalogue."""

    city: str
    country: str
    currency: str
    timezone: str
    latitude: float
    longitude: float
    format: str
    tourist_appeal: float


LOCATIONS: tuple[Location, ...] = (
    Location("Paris", "FR", "EUR", "Europe/Paris", 48.8686, 2.3090, "flagship", 1.0),
    Location("London", "GB", "GBP", "Europe/London", 51.5136, -0.1450, "flagship", 0.7),
    Location("New York", "US", "USD", "America/New_York", 40.7626, -73.9740, "flagship", 0.5),
    Location("Tokyo", "JP", "JPY", "Asia/Tokyo", 35.6717, 139.7650, "flagship", 0.45),
    Location("Shanghai", "CN", "CNY", "Asia/Shanghai", 31.2304, 121.4737, "boutique", 0.1),
    Location("Milan", "IT", "EUR", "Europe/Rome", 45.4685, 9.1955, "boutique", 0.6),
    Location("Dubai", "AE", "AED", "Asia/Dubai", 25.1972, 55.2744, "boutique", 0.4),
    Location("Hong Kong", "HK", "HKD", "Asia/Hong_Kong", 22.2783, 114.1747, "boutique", 0.35),
    Location("Seoul", "KR", "KRW", "Asia/Seoul", 37.5241, 127.0227, "boutique", 0.3),
    Location("Singapore", "SG", "SGD", "Asia/Singapore", 1.3048, 103.8318, "boutique", 0.25),
    Location("Geneva", "CH", "CHF", "Europe/Zurich", 46.2044, 6.1432, "boutique", 0.2),
    Location(
        "Los Angeles", "US", "USD", "America/Los_Angeles", 34.0696, -118.4053, "boutique", 0.25
    ),
    Location("Munich", "DE", "EUR", "Europe/Berlin", 48.1391, 11.5802, "boutique", 0.15),
    Location("Paris", "FR", "EUR", "Europe/Paris", 48.8736, 2.3320, "corner", 0.5),
    Location("London", "GB", "GBP", "Europe/London", 51.4994, -0.1632, "corner", 0.4),
    Location("Beijing", "CN", "CNY", "Asia/Shanghai", 39.9087, 116.4604, "boutique", 0.05),
    Location("Osaka", "JP", "JPY", "Asia/Tokyo", 34.6937, 135.5023, "boutique", 0.25),
    Location("Madrid", "ES", "EUR", "Europe/Madrid", 40.4259, -3.6880, "boutique", 0.2),
    Location("Serravalle Scrivia", "IT", "EUR", "Europe/Rome", 44.7216, 8.8577, "outlet", 0.35),
    Location("Miami", "US", "USD", "America/New_York", 25.8130, -80.1926, "boutique", 0.25),
    Location("Sydney", "AU", "AUD", "Australia/Sydney", -33.8688, 151.2093, "boutique", 0.1),
    Location("Toronto", "CA", "CAD", "America/Toronto", 43.6708, -79.3899, "boutique", 0.05),
    Location("Zurich", "CH", "CHF", "Europe/Zurich", 47.3717, 8.5390, "boutique", 0.15),
    Location("Bicester", "GB", "GBP", "Europe/London", 51.8919, -1.1545, "outlet", 0.4),
    Location("Chengdu", "CN", "CNY", "Asia/Shanghai", 30.6570, 104.0810, "boutique", 0.02),
    Location("Tokyo", "JP", "JPY", "Asia/Tokyo", 35.6870, 139.7690, "corner", 0.2),
    Location("Las Vegas", "US", "USD", "America/Los_Angeles", 36.1212, -115.1697, "boutique", 0.3),
    Location("Cannes", "FR", "EUR", "Europe/Paris", 43.5513, 7.0128, "boutique", 0.3),
    Location("Vienna", "AT", "EUR", "Europe/Vienna", 48.2082, 16.3719, "boutique", 0.15),
    Location("Amsterdam", "NL", "EUR", "Europe/Amsterdam", 52.3584, 4.8811, "boutique", 0.15),
    Location("Monaco", "MC", "EUR", "Europe/Monaco", 43.7396, 7.4276, "boutique", 0.25),
    Location("Taipei", "TW", "TWD", "Asia/Taipei", 25.0375, 121.5637, "boutique", 0.1),
    Location("Bangkok", "TH", "THB", "Asia/Bangkok", 13.7466, 100.5393, "boutique", 0.15),
    Location("Riyadh", "SA", "SAR", "Asia/Riyadh", 24.6936, 46.6850, "boutique", 0.05),
    Location("Doha", "QA", "QAR", "Asia/Qatar", 25.3712, 51.5507, "boutique", 0.05),
    Location(
        "Mexico City", "MX", "MXN", "America/Mexico_City", 19.4326, -99.1911, "boutique", 0.05
    ),
    Location("São Paulo", "BR", "BRL", "America/Sao_Paulo", -23.5874, -46.6576, "boutique", 0.05),
    Location("Chicago", "US", "USD", "America/Chicago", 41.8998, -87.6244, "boutique", 0.1),
    Location("Serris", "FR", "EUR", "Europe/Paris", 48.8547, 2.7836, "outlet", 0.4),
    Location("Shenzhen", "CN", "CNY", "Asia/Shanghai", 22.5431, 114.0579, "boutique", 0.02),
    Location("Hangzhou", "CN", "CNY", "Asia/Shanghai", 30.2741, 120.1551, "boutique", 0.02),
    Location("Busan", "KR", "KRW", "Asia/Seoul", 35.1796, 129.0756, "corner", 0.05),
    Location("Rome", "IT", "EUR", "Europe/Rome", 41.9055, 12.4823, "boutique", 0.4),
    Location("Berlin", "DE", "EUR", "Europe/Berlin", 52.5033, 13.3320, "boutique", 0.1),
    Location("Houston", "US", "USD", "America/Chicago", 29.7398, -95.4610, "boutique", 0.05),
)

ONLINE = Location("Paris", "FR", "EUR", "Europe/Paris", float("nan"), float("nan"), "online", 0.0)

TRAFFIC_BY_FORMAT: dict[str, float] = {
    "flagship": 1.0,
    "boutique": 0.5,
    "corner": 0.35,
    "outlet": 0.8,
    "online": 2.2,
}
"""Relative daily visitors of each format (flagship = 1); online: web sessions."""

WALK_IN_CONVERSION: dict[str, float] = {
    "flagship": 0.007,
    "boutique": 0.0085,
    "corner": 0.013,
    "outlet": 0.014,
    "online": 0.010,
}
"""Share of visitors (online: sessions) who buy without being a known client."""

FLAGSHIP_DAILY_VISITORS = 1_100.0
REFERENCE_CLIENTS_PER_BOUTIQUE = 20_000 / 29
NEW_BOUTIQUE_MIN_DAYS, NEW_BOUTIQUE_MAX_DAYS = 45, 170


def select_locations(n_physical: int) -> list[Location]:
    """The first ``n_physical`` catalogue locations, extended with corners in the main cities."""
    chosen = list(LOCATIONS[:n_physical])
    main_cities = [location for location in LOCATIONS if location.format != "outlet"][:12]
    extra = 0
    while len(chosen) < n_physical:
        base = main_cities[extra % len(main_cities)]
        jitter = 0.01 * (1 + extra // len(main_cities))
        chosen.append(
            Location(
                base.city,
                base.country,
                base.currency,
                base.timezone,
                round(base.latitude + jitter, 4),
                round(base.longitude - jitter, 4),
                "corner",
                base.tourist_appeal * 0.3,
            )
        )
        extra += 1
    return chosen


def traffic_scale(config: MaisonConfig) -> float:
    """How busy boutiques are relative to the default maison: grows with clients per boutique."""
    clients_per_boutique = config.clients / max(config.boutiques - 1, 1)
    return float(np.clip(np.sqrt(clients_per_boutique / REFERENCE_CLIENTS_PER_BOUTIQUE), 0.1, 20))


def build_boutiques(config: MaisonConfig, rng: np.random.Generator) -> pl.DataFrame:
    """The boutiques table with the internal columns the other stages need.

    Contract columns: boutique_id, city, country, currency, timezone, opened_on, closed_on, format,
    latitude, longitude. Internal: ``index``, ``traffic_level`` (expected daily visitors of an
    ordinary day), ``walk_in_conversion``, ``tourist_appeal``, ``successor`` (index of the boutique
    that takes over the clients of a closed one) and ``role`` (regular, new, closed, online).
    """
    n_physical = config.boutiques - 1
    locations = [*select_locations(n_physical), ONLINE]
    n = len(locations)
    start, end = config.start, config.end
    span = config.n_days

    opened_years_before = rng.uniform(1.5, 25.0, size=n)
    opened_on = [start - timedelta(days=int(365.25 * years)) for years in opened_years_before]
    closed_on: list[date | None] = [None] * n
    roles = ["regular"] * n
    roles[-1] = "online"

    new_index, closed_index = n_physical - 1, n_physical - 2
    new_age = int(rng.integers(NEW_BOUTIQUE_MIN_DAYS, NEW_BOUTIQUE_MAX_DAYS + 1))
    opened_on[new_index] = end - timedelta(days=min(new_age, span // 2))
    roles[new_index] = "new"
    closed_after = int(span * rng.uniform(0.55, 0.75))
    closed_on[closed_index] = start + timedelta(days=min(closed_after, span - 30))
    roles[closed_index] = "closed"

    scale = traffic_scale(config)
    size_noise = rng.lognormal(0.0, 0.2, size=n)
    traffic_level = [
        FLAGSHIP_DAILY_VISITORS * scale * TRAFFIC_BY_FORMAT[location.format] * noise
        for location, noise in zip(locations, size_noise, strict=True)
    ]
    successor = [
        successor_of(index, locations, roles) if roles[index] == "closed" else index
        for index in range(n)
    ]
    width = max(3, len(str(n)))
    return pl.DataFrame(
        {
            "boutique_id": [f"B{index + 1:0{width}d}" for index in range(n)],
            "city": [location.city for location in locations],
            "country": [location.country for location in locations],
            "currency": [location.currency for location in locations],
            "timezone": [location.timezone for location in locations],
            "opened_on": opened_on,
            "closed_on": closed_on,
            "format": [location.format for location in locations],
            "latitude": [location.latitude for location in locations],
            "longitude": [location.longitude for location in locations],
            "index": list(range(n)),
            "traffic_level": traffic_level,
            "walk_in_conversion": [WALK_IN_CONVERSION[location.format] for location in locations],
            "tourist_appeal": [location.tourist_appeal for location in locations],
            "successor": successor,
            "role": roles,
        },
        schema_overrides={"opened_on": pl.Date, "closed_on": pl.Date, "index": pl.Int32},
    ).with_columns(pl.col("latitude", "longitude").fill_nan(None))


def successor_of(closed: int, locations: list[Location], roles: list[str]) -> int:
    """The boutique inheriting a closed boutique's clients: same country first, else the first."""
    candidates = [
        index
        for index, location in enumerate(locations)
        if roles[index] == "regular" and location.format != "online"
    ]
    same_country = [i for i in candidates if locations[i].country == locations[closed].country]
    return (same_country or candidates)[0]
