"""The product catalogue over the seven divisions, and its local price lists.

Every collection brings new products; a permanent line is always on sale. Products are stored
grouped by (collection, division) and sorted by price, so that choosing "a product of this
division, this collection, at this price quantile" is index arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.contract import DIVISIONS


@dataclass(frozen=True)
class DivisionProfile:
    """How a division sells: categories, price level (EUR), shares and return rate."""

    name: str
    categories: tuple[str, ...]
    median_price_eur: float
    price_sigma: float
    catalogue_share: float
    client_affinity: float
    walk_in_share: float
    gift_share: float
    return_rate: float
    extra_quantity: float


DIVISION_PROFILES: tuple[DivisionProfile, ...] = (
    DivisionProfile(
        "ready-to-wear",
        ("coats", "jackets", "dresses", "knitwear", "shirts", "trousers", "skirts"),
        1_900.0,
        0.6,
        0.30,
        0.20,
        0.12,
        0.04,
        0.08,
        0.0,
    ),
    DivisionProfile(
        "leather goods",
        ("handbags", "small leather goods", "travel bags", "belts"),
        2_400.0,
        0.75,
        0.18,
        0.24,
        0.18,
        0.20,
        0.03,
        0.0,
    ),
    DivisionProfile(
        "shoes",
        ("sneakers", "loafers", "pumps", "boots", "sandals"),
        950.0,
        0.35,
        0.14,
        0.14,
        0.13,
        0.04,
        0.06,
        0.0,
    ),
    DivisionProfile(
        "jewellery",
        ("rings", "necklaces", "earrings", "bracelets"),
        5_500.0,
        1.0,
        0.10,
        0.10,
        0.06,
        0.20,
        0.02,
        0.0,
    ),
    DivisionProfile(
        "watches",
        ("automatic", "quartz", "complications"),
        11_000.0,
        0.9,
        0.06,
        0.06,
        0.03,
        0.06,
        0.01,
        0.0,
    ),
    DivisionProfile(
        "fragrance & beauty",
        ("eau de parfum", "lipstick", "skincare", "candles"),
        160.0,
        0.5,
        0.10,
        0.12,
        0.33,
        0.32,
        0.01,
        0.4,
    ),
    DivisionProfile(
        "accessories",
        ("silk scarves", "sunglasses", "ties", "hats", "keyrings"),
        480.0,
        0.45,
        0.12,
        0.14,
        0.15,
        0.14,
        0.03,
        0.1,
    ),
)
assert tuple(profile.name for profile in DIVISION_PROFILES) == DIVISIONS

PERMANENT_PRODUCTS = 560
PRODUCTS_PER_COLLECTION = 56
PRICE_BANDS: tuple[tuple[str, float], ...] = (
    ("entry", 0.30),
    ("core", 0.75),
    ("high", 0.95),
    ("exceptional", 1.0),
)
REGIONAL_PRICE_PREMIUM: dict[str, float] = {
    "EUR": 1.0, "GBP": 0.88, "CHF": 0.98, "USD": 1.12, "JPY": 1.18, "CNY": 1.25,
    "HKD": 1.08, "KRW": 1.15, "SGD": 1.1, "TWD": 1.12, "THB": 1.15, "AED": 1.05,
    "SAR": 1.08, "QAR": 1.08, "AUD": 1.15, "CAD": 1.12, "MXN": 1.2, "BRL": 1.35,
}  # fmt: skip
"""Local list price relative to the euro price at typical exchange rates."""
ANNUAL_PRICE_INCREASE = 0.05
ZERO_DECIMAL_CURRENCIES: frozenset[str] = frozenset({"JPY", "KRW", "TWD"})


@dataclass(frozen=True)
class Catalogue:
    """Products and the lookup arrays used to choose them quickly.

    ``offsets[g, d]`` and ``counts[g, d]`` locate the products of group ``g`` (0 = permanent line,
    ``k`` = k-th collection) and division ``d``, sorted by price; ``launch_days[k - 1]`` is the day
    index (from the start of history, possibly negative) of collection ``k``.
    """

    products: pl.DataFrame
    price_eur: np.ndarray
    division: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    launch_days: np.ndarray


def build_catalogue(collections: pl.DataFrame, start: date, rng: np.random.Generator) -> Catalogue:
    """Products of the permanent line and of every collection, with prices and bands."""
    shares = np.array([profile.catalogue_share for profile in DIVISION_PROFILES])
    group_sizes = [PERMANENT_PRODUCTS] + [PRODUCTS_PER_COLLECTION] * collections.height
    group_labels = ["Permanent", *collections["label"].to_list()]

    groups, divisions = [], []
    for group, size in enumerate(group_sizes):
        counts = rng.multinomial(size, shares / shares.sum())
        groups.append(np.full(size, group, dtype=np.int32))
        divisions.append(np.repeat(np.arange(len(DIVISIONS), dtype=np.int32), counts))
    group = np.concatenate(groups)
    division = np.concatenate(divisions)
    medians = np.array([profile.median_price_eur for profile in DIVISION_PROFILES])[division]
    sigmas = np.array([profile.price_sigma for profile in DIVISION_PROFILES])[division]
    price = nice_price(rng.lognormal(np.log(medians), sigmas))

    order = np.lexsort((price, division, group))
    group, division, price = group[order], division[order], price[order]
    category_names = np.array([name for p in DIVISION_PROFILES for name in p.categories])
    category_counts = np.array([len(profile.categories) for profile in DIVISION_PROFILES])
    category_offsets = np.concatenate([[0], np.cumsum(category_counts)[:-1]])
    category = category_names[
        category_offsets[division] + rng.integers(0, category_counts[division])
    ]
    counts = np.zeros((len(group_sizes), len(DIVISIONS)), dtype=np.int64)
    np.add.at(counts, (group, division), 1)
    offsets = np.concatenate([[0], np.cumsum(counts.ravel())[:-1]]).reshape(counts.shape)

    products = pl.DataFrame(
        {
            "product_id": [f"P{index + 1:05d}" for index in range(price.size)],
            "division": np.array(DIVISIONS)[division],
            "category": category,
            "collection": np.array(group_labels)[group],
            "price_eur": price,
        }
    ).with_columns(price_band=price_band_expression())
    launch_days = np.array(
        [(launch - start).days for launch in collections["launch_date"].to_list()], dtype=np.int64
    )
    return Catalogue(products, price, division, offsets, counts, launch_days)


def price_band_expression() -> pl.Expr:
    """Price band from the product's price rank within its division."""
    rank = pl.col("price_eur").rank("ordinal").over("division")
    share = rank / pl.len().over("division")
    expression = pl.when(share <= PRICE_BANDS[0][1]).then(pl.lit(PRICE_BANDS[0][0]))
    for band, upper in PRICE_BANDS[1:]:
        expression = expression.when(share <= upper).then(pl.lit(band))
    return expression.otherwise(pl.lit(PRICE_BANDS[-1][0]))


def nice_price(values: np.ndarray) -> np.ndarray:
    """Round prices to three significant digits, as price lists are (2,350; 412,000)."""
    values = np.asarray(values, dtype=np.float64)
    magnitude = np.maximum(10.0 ** (np.floor(np.log10(np.maximum(values, 1.0))) - 2), 1.0)
    return np.round(values / magnitude) * magnitude


@dataclass(frozen=True)
class CurrencyPricing:
    """Price-list facts of a set of currencies (arrays aligned with ``codes``)."""

    codes: tuple[str, ...]
    premium: np.ndarray
    euro_value: np.ndarray
    zero_decimals: np.ndarray

    @classmethod
    def of(cls, codes: list[str], fx_levels_to_eur: dict[str, float]) -> CurrencyPricing:
        """Regional premium, typical euro value and minor unit of each currency in ``codes``."""
        return cls(
            codes=tuple(codes),
            premium=np.array([REGIONAL_PRICE_PREMIUM.get(code, 1.1) for code in codes]),
            euro_value=np.array([fx_levels_to_eur[code] for code in codes]),
            zero_decimals=np.array([code in ZERO_DECIMAL_CURRENCIES for code in codes]),
        )

    def unit_prices(
        self, price_eur: np.ndarray, currency: np.ndarray, year_offset: np.ndarray
    ) -> np.ndarray:
        """Local list price of each line: euro price, regional premium, yearly increases.

        ``currency`` indexes ``codes``; ``year_offset`` is the year of sale minus the last year
        of history (price lists rise every January).
        """
        increase = (1.0 + ANNUAL_PRICE_INCREASE) ** year_offset
        return nice_price(price_eur * self.premium[currency] * increase / self.euro_value[currency])

    def round(self, amounts: np.ndarray, currency: np.ndarray) -> np.ndarray:
        """Round to each currency's minor unit (none for yen, won and Taiwan dollar)."""
        return np.where(self.zero_decimals[currency], np.round(amounts), np.round(amounts, 2))
