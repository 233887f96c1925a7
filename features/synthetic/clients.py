"""The client population: who the clients are and how they buy ("buy till you die").

Each client has a Poisson purchase rate drawn from a gamma and a dropout probability drawn from
a beta (after each purchase the client may leave for good, as in BG/NBD), a spend level (gamma),
division affinities (Dirichlet), a home boutique, an online share, for travellers a share of
purchases made abroad, and for some a yearly ritual (the same division in the same season every
year, e.g. a Christmas gift or leather goods every spring). Attributes are pseudonymous: no
names, e-mails or phones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.synthetic.config import MaisonConfig
from features.synthetic.products import DIVISION_PROFILES

PRE_HISTORY_SHARE = 0.5
PRE_HISTORY_YEARS = 6
ONLINE_HOME_SHARE = 0.07
RATE_SHAPE, RATE_MEAN = 0.8, 8.0
DROPOUT_BETA = (1.2, 30.0)
SPEND_SHAPE = 2.5
AFFINITY_CONCENTRATION = 1.4
RITUAL_SHARE = 0.35
TIERS: tuple[tuple[str, float], ...] = (("top", 0.03), ("gold", 0.12), ("silver", 0.25))
ORIGIN_GROUPS: dict[str, int] = {"CN": 0, "HK": 0, "TW": 0, "SG": 0, "JP": 1, "KR": 1}
"""Travel-season group of a home country: 0 Chinese-speaking, 1 Japanese/Korean, 2 others."""
N_ORIGIN_GROUPS = 3
TRAVELLER_SHARE: dict[str, float] = {"CN": 0.35, "HK": 0.4, "AE": 0.45, "SA": 0.45, "QA": 0.45}
DEFAULT_TRAVELLER_SHARE = 0.15
LANGUAGES: dict[str, tuple[tuple[str, float], ...]] = {
    "FR": (("fr", 1.0),), "GB": (("en", 1.0),), "US": (("en", 0.85), ("es", 0.15)),
    "JP": (("ja", 1.0),), "CN": (("zh", 1.0),), "IT": (("it", 1.0),),
    "AE": (("ar", 0.45), ("en", 0.55)), "HK": (("zh", 0.8), ("en", 0.2)), "KR": (("ko", 1.0),),
    "SG": (("en", 0.7), ("zh", 0.3)), "CH": (("fr", 0.5), ("de", 0.4), ("it", 0.1)),
    "DE": (("de", 1.0),), "ES": (("es", 1.0),), "AU": (("en", 1.0),),
    "CA": (("en", 0.8), ("fr", 0.2)), "AT": (("de", 1.0),), "NL": (("nl", 0.7), ("en", 0.3)),
    "MC": (("fr", 1.0),), "TW": (("zh", 1.0),), "TH": (("th", 1.0),), "SA": (("ar", 1.0),),
    "QA": (("ar", 1.0),), "MX": (("es", 1.0),), "BR": (("pt", 1.0),),
}  # fmt: skip
# Ritual kind: (share, first day of year, last day of year); "own" = the client's favourite
# division, else the division weights of the ritual.
RITUALS: tuple[tuple[str, float, int, int], ...] = (
    ("christmas", 0.35, 339, 354),
    ("spring", 0.25, 69, 120),
    ("summer", 0.15, 166, 212),
    ("autumn", 0.15, 253, 304),
    ("birthday", 0.10, 1, 365),
)
SPRING_DIVISIONS = np.array([0.3, 0.5, 0.2, 0.0, 0.0, 0.0, 0.0])
MALE_AFFINITY_TILT = np.array([0.9, 0.8, 1.3, 0.5, 2.2, 0.8, 1.1])


@dataclass(frozen=True)
class ClientPopulation:
    """Per-client latent behaviour and attributes, arrays indexed by client number."""

    home: np.ndarray
    join_day: np.ndarray
    rate: np.ndarray
    purchases_before_dropout: np.ndarray
    spend: np.ndarray
    affinity: np.ndarray
    online_share: np.ndarray
    abroad_share: np.ndarray
    origin: np.ndarray
    home_country: np.ndarray
    ritual_division: np.ndarray
    ritual_day_of_year: np.ndarray
    tier: np.ndarray
    attributes: pl.DataFrame

    @property
    def size(self) -> int:
        """Number of clients."""
        return int(self.home.size)


def draw_clients(
    boutiques: pl.DataFrame, config: MaisonConfig, rng: np.random.Generator
) -> ClientPopulation:
    """Draw ``config.clients`` clients: home boutique, join date, behaviour and attributes."""
    n = config.clients
    home, join_day = draw_homes_and_joins(boutiques, config, rng)
    countries = boutiques["country"].to_numpy()
    online_index = int(np.flatnonzero((boutiques["format"] == "online").to_numpy())[0])
    home_country = countries[home]
    web_clients = home == online_index
    physical_traffic = np.where(
        (boutiques["format"] != "online").to_numpy(), boutiques["traffic_level"].to_numpy(), 0.0
    )
    home_country[web_clients] = countries[
        rng.choice(
            boutiques.height,
            size=int(web_clients.sum()),
            p=physical_traffic / physical_traffic.sum(),
        )
    ]

    rate = rng.gamma(RATE_SHAPE, RATE_MEAN / RATE_SHAPE, size=n)
    dropout = rng.beta(*DROPOUT_BETA, size=n)
    purchases_before_dropout = rng.geometric(np.clip(dropout, 1e-4, 1.0))
    spend = rng.gamma(SPEND_SHAPE, 1.0 / SPEND_SHAPE, size=n)
    gender = rng.choice(np.array(["F", "M", ""]), size=n, p=[0.6, 0.36, 0.04])

    base = np.array([profile.client_affinity for profile in DIVISION_PROFILES])
    alpha = (
        AFFINITY_CONCENTRATION
        * base[None, :]
        * np.where((gender == "M")[:, None], MALE_AFFINITY_TILT[None, :], 1.0)
    )
    draws = rng.gamma(alpha)
    affinity = draws / draws.sum(axis=1, keepdims=True)

    codes, country_index = np.unique(home_country, return_inverse=True)
    origin = np.array([ORIGIN_GROUPS.get(code, 2) for code in codes], dtype=np.int8)[country_index]
    traveller_share = np.array(
        [TRAVELLER_SHARE.get(code, DEFAULT_TRAVELLER_SHARE) for code in codes]
    )[country_index]
    traveller = rng.random(n) < traveller_share
    abroad_share = np.where(traveller, rng.beta(2.0, 5.0, size=n), 0.0)
    online_share = np.where(web_clients, 0.85, rng.beta(1.0, 9.0, size=n))

    ritual_division, ritual_day = draw_rituals(affinity, rng)
    median_price = np.array([profile.median_price_eur for profile in DIVISION_PROFILES])
    value = np.log(rate * spend * (affinity @ median_price)) + rng.normal(0.0, 0.5, size=n)
    tier = tiers_from_value(value)

    age_mean = np.where(origin == 0, 34.0, 44.0)
    age = np.clip(rng.normal(age_mean, 12.0), 18, 90).astype(np.int32)
    opt_in = rng.random(n) < np.where(np.isin(tier, ["top", "gold"]), 0.85, 0.74)
    attributes = pl.DataFrame(
        {
            "home_country": home_country,
            "tier": tier,
            "birth_year": (config.end.year - age).astype(np.int32),
            "gender": gender,
            "contact_opt_in": opt_in,
            "language": draw_languages(home_country, rng),
        }
    ).with_columns(pl.col("gender").replace("", None))
    return ClientPopulation(
        home=home,
        join_day=join_day,
        rate=rate,
        purchases_before_dropout=purchases_before_dropout,
        spend=spend,
        affinity=affinity,
        online_share=online_share,
        abroad_share=abroad_share,
        origin=origin,
        home_country=home_country,
        ritual_division=ritual_division,
        ritual_day_of_year=ritual_day,
        tier=tier,
        attributes=attributes,
    )


def draw_homes_and_joins(
    boutiques: pl.DataFrame, config: MaisonConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Home boutique and day of first purchase (negative: before the history) of each client.

    Larger boutiques look after more clients; outlets fewer; the online boutique a small share.
    A new boutique's clients joined after it opened; a closed boutique's before it closed.
    """
    n, n_days, start = config.clients, config.n_days, config.start
    shop_format = boutiques["format"].to_numpy()
    roles = boutiques["role"].to_numpy()
    weight = boutiques["traffic_level"].to_numpy() * np.where(shop_format == "outlet", 0.4, 1.0)
    opened = np.array([(day - start).days for day in boutiques["opened_on"].to_list()])
    closed = np.array(
        [n_days if day is None else (day - start).days for day in boutiques["closed_on"].to_list()]
    )
    weight = np.where(roles == "new", weight * (n_days - opened) / n_days, weight)
    online = shop_format == "online"
    weight[online] = 0.0
    weight = weight / weight.sum() * (1 - ONLINE_HOME_SHARE)
    weight[online] = ONLINE_HOME_SHARE
    home = rng.choice(boutiques.height, size=n, p=weight).astype(np.int32)

    first_allowed = np.clip(opened, 0, None)[home]
    last_allowed = closed[home]
    in_history = (rng.random(n) >= PRE_HISTORY_SHARE) | (opened[home] >= 0)
    in_history_day = first_allowed + np.floor(
        rng.random(n) * (last_allowed - first_allowed)
    ).astype(np.int64)
    before_history = -rng.integers(1, int(PRE_HISTORY_YEARS * 365.25), size=n)
    join_day = np.where(in_history, in_history_day, before_history)
    return home, join_day


def draw_rituals(affinity: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ritual division (-1 for none) and centre day of year of each client's yearly ritual."""
    n = affinity.shape[0]
    shares = np.array([share for _, share, _, _ in RITUALS])
    kind = rng.choice(len(RITUALS), size=n, p=shares / shares.sum())
    first = np.array([low for _, _, low, _ in RITUALS])[kind]
    last = np.array([high for _, _, _, high in RITUALS])[kind]
    day_of_year = rng.integers(first, last + 1).astype(np.int16)

    favourite = affinity.argmax(axis=1)
    gifts = np.array([profile.gift_share for profile in DIVISION_PROFILES])
    gift = rng.choice(gifts.size, size=n, p=gifts / gifts.sum())
    spring = rng.choice(SPRING_DIVISIONS.size, size=n, p=SPRING_DIVISIONS)
    names = np.array([name for name, _, _, _ in RITUALS])[kind]
    division = np.where(names == "christmas", gift, np.where(names == "spring", spring, favourite))
    has_ritual = rng.random(n) < RITUAL_SHARE
    return np.where(has_ritual, division, -1).astype(np.int8), day_of_year


def tiers_from_value(value: np.ndarray) -> np.ndarray:
    """Clienteling tier from the CRM's value estimate: top, gold, silver, then core."""
    order = np.argsort(-value, kind="stable")
    tier = np.full(value.size, "core", dtype=object)
    position = 0
    for name, share in TIERS:
        count = round(share * value.size)
        tier[order[position : position + count]] = name
        position += count
    return tier.astype(str)


def draw_languages(home_country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Preferred language (ISO 639-1) from the languages spoken in the home country."""
    language = np.full(home_country.size, "en", dtype=object)
    for country in np.unique(home_country):
        options = LANGUAGES.get(str(country), (("en", 1.0),))
        members = np.flatnonzero(home_country == country)
        codes = np.array([code for code, _ in options])
        weights = np.array([weight for _, weight in options])
        language[members] = codes[rng.choice(codes.size, size=members.size, p=weights)]
    return language.astype(str)


def clients_table(
    population: ClientPopulation,
    boutiques: pl.DataFrame,
    first_purchase_day: np.ndarray,
    start: date,
) -> pl.DataFrame:
    """The ``clients`` table; a closed boutique's clients are handed to its successor."""
    successor = boutiques["successor"].to_numpy()
    ids = boutiques["boutique_id"].to_numpy()
    return pl.DataFrame(
        {
            "client_id": client_ids(population.size),
            "home_boutique_id": ids[successor[population.home]],
            "first_purchase_date": np.datetime64(start, "D") + first_purchase_day,
        }
    ).hstack(population.attributes)


def client_ids(count: int) -> pl.Series:
    """Pseudonymous client identifiers C0000001, C0000002, ..."""
    width = max(7, len(str(count)))
    numbers = pl.int_range(1, count + 1, eager=True).cast(pl.String).str.zfill(width)
    return ("C" + numbers).alias("client_id")
