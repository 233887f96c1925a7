"""How the planners' outputs write dates, numbers and shares: plainly, the same everywhere."""

from __future__ import annotations

from datetime import date


def long_date(day: date) -> str:
    """'Sat 4 Jul 2026': a date as people write it, without a locale-dependent format."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def number(value: float | None, decimals: int = 0) -> str:
    """A number with thousands separators, or an en dash when unknown."""
    if value is None or value != value:
        return "–"
    return f"{value:,.{decimals}f}"


def percent(value: float | None) -> str:
    """A share as a whole percentage, or an en dash when unknown."""
    return "–" if value is None or value != value else f"{100 * value:.0f}%"


def coming_period(days: int) -> str:
    """'next 8 weeks', 'next week', 'next 10 days' or 'next day': the days from the as-of date,
    in weeks when they are whole weeks."""
    weeks, extra = divmod(days, 7)
    if extra == 0 and weeks > 0:
        return "next week" if weeks == 1 else f"next {weeks} weeks"
    return "next day" if days == 1 else f"next {days} days"
