"""Daily exchange rates: a mean-reverting random walk around realistic levels, pegs included."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import polars as pl
from scipy.signal import lfilter

FX_LEVELS_TO_EUR: dict[str, float] = {
    "EUR": 1.0,
    "USD": 0.92,
    "GBP": 1.17,
    "CHF": 1.04,
    "JPY": 0.0062,
    "CNY": 0.127,
    "HKD": 0.118,
    "KRW": 0.00068,
    "SGD": 0.685,
    "TWD": 0.0285,
    "THB": 0.026,
    "AED": 0.25,
    "SAR": 0.245,
    "QAR": 0.252,
    "AUD": 0.61,
    "CAD": 0.68,
    "MXN": 0.05,
    "BRL": 0.17,
}
"""Typical value of one unit of each currency in euros, around which the rates wander."""

ANNUAL_VOLATILITY: dict[str, float] = {
    "EUR": 0.0,
    "USD": 0.07,
    "GBP": 0.06,
    "CHF": 0.05,
    "JPY": 0.10,
    "CNY": 0.05,
    "KRW": 0.08,
    "SGD": 0.05,
    "TWD": 0.06,
    "THB": 0.07,
    "AUD": 0.09,
    "CAD": 0.07,
    "MXN": 0.12,
    "BRL": 0.15,
}
USD_PEGS: frozenset[str] = frozenset({"HKD", "AED", "SAR", "QAR"})
"""Currencies pegged to the US dollar: they follow it with a tiny band of noise."""

MEAN_REVERSION_DAYS = 730.0
TRADING_DAYS = 365.25


def fx_rates(
    currencies: Iterable[str],
    start: date,
    n_days: int,
    reference_currency: str,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """The ``fx_rates`` table: one rate per currency and day, reference-currency units per unit.

    Covers ``n_days`` days from ``start`` plus one day on each side, so that both the local and
    the UTC date of every sale have a rate. Each log rate against the euro is an AR(1) around
    its typical level (daily volatility from the annual one); pegged currencies move with the
    dollar. The reference currency has rate 1.
    """
    start, n_days = start - timedelta(days=1), n_days + 2
    wanted = sorted(set(currencies) | {reference_currency})
    walked = sorted(set(wanted) | {"USD"})
    log_to_eur = log_rates_to_eur(walked, n_days, rng)
    reference_row = log_to_eur[walked.index(reference_currency)]
    rows = np.stack([log_to_eur[walked.index(code)] - reference_row for code in wanted])
    dates = pl.date_range(start, start + timedelta(days=n_days - 1), "1d", eager=True)
    return pl.DataFrame(
        {
            "date": np.tile(dates.to_numpy(), len(wanted)),
            "currency": np.repeat(np.array(wanted), n_days),
            "rate_to_reference": np.exp(rows).ravel().round(10),
        },
        schema={"date": pl.Date, "currency": pl.String, "rate_to_reference": pl.Float64},
    )


def log_rates_to_eur(currencies: list[str], n_days: int, rng: np.random.Generator) -> np.ndarray:
    """Log euro value of one unit of each currency per day, shape currencies x days."""
    persistence = np.exp(-1.0 / MEAN_REVERSION_DAYS)
    shocks = rng.standard_normal((len(currencies), n_days))
    daily_volatility = np.array(
        [ANNUAL_VOLATILITY.get(code, 0.07) for code in currencies]
    ) / np.sqrt(TRADING_DAYS)
    start_offset = rng.normal(0.0, 0.03, size=len(currencies))
    shocks[:, 0] = start_offset / daily_volatility.clip(min=1e-12)
    deviations = lfilter([1.0], [1.0, -persistence], shocks, axis=1)
    deviations *= daily_volatility[:, None]
    levels = np.log(np.array([FX_LEVELS_TO_EUR[code] for code in currencies]))[:, None]
    log_rates = levels + deviations
    usd = log_rates[currencies.index("USD")] - levels[currencies.index("USD")]
    for row, code in enumerate(currencies):
        if code in USD_PEGS:
            band = 0.0005 * rng.standard_normal(n_days)
            log_rates[row] = levels[row] + usd + band
        if code == "EUR":
            log_rates[row] = 0.0
    return log_rates
