"""What the synthetic maison generator is asked to produce, checked before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from features.errors import UserInputError
from features.random_seed import DEFAULT_SEED
from features.synthetic.fx import FX_LEVELS_TO_EUR

DEFAULT_END = date(2026, 6, 30)
"""Fixed last day of the demo history so that the demo maison is the same on every machine."""

MIN_BOUTIQUES = 8
MAX_BOUTIQUES = 200
MIN_CLIENTS = 10
MAX_CLIENTS = 10_000_000
MIN_YEARS = 0.5
MAX_YEARS = 20.0
EARLIEST_START = date(2000, 1, 1)
LATEST_END = date(2050, 12, 31)


@dataclass(frozen=True)
class MaisonConfig:
    """Size, span and seed of a synthetic maison; the same config always gives the same maison."""

    clients: int = 20_000
    boutiques: int = 30
    years: float = 3.0
    seed: int = DEFAULT_SEED
    end: date = DEFAULT_END
    reference_currency: str = "EUR"

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise UserInputError("invalid maison configuration: " + "; ".join(problems))

    @property
    def n_days(self) -> int:
        """Number of days of history, the last one being ``end``."""
        return round(self.years * 365.25)

    @property
    def start(self) -> date:
        """First day of history."""
        return self.end - timedelta(days=self.n_days - 1)

    @property
    def folder_name(self) -> str:
        """'maison' for the demo maison, else a name that tells the size: 'maison-400c-8b-2y'."""
        if self == MaisonConfig():
            return "maison"
        return f"maison-{self.clients}c-{self.boutiques}b-{self.years:g}y"


def config_problems(config: MaisonConfig) -> list[str]:
    """Every rule ``config`` breaks, as messages naming the field and the accepted range."""
    problems: list[str] = []

    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not is_int(config.clients) or not MIN_CLIENTS <= config.clients <= MAX_CLIENTS:
        problems.append(
            f"clients must be an integer in [{MIN_CLIENTS:,}, {MAX_CLIENTS:,}], "
            f"got {config.clients!r}"
        )
    if not is_int(config.boutiques) or not MIN_BOUTIQUES <= config.boutiques <= MAX_BOUTIQUES:
        problems.append(
            f"boutiques must be an integer in [{MIN_BOUTIQUES}, {MAX_BOUTIQUES}] (one of them is "
            f"the online boutique), got {config.boutiques!r}"
        )
    if not isinstance(config.years, int | float) or not MIN_YEARS <= config.years <= MAX_YEARS:
        problems.append(f"years must be in [{MIN_YEARS}, {MAX_YEARS}], got {config.years!r}")
    if not is_int(config.seed) or config.seed < 0:
        problems.append(f"seed must be a non-negative integer, got {config.seed!r}")
    if not isinstance(config.end, date):
        problems.append(f"end must be a date, got {config.end!r}")
    elif not problems and not (config.start >= EARLIEST_START and config.end <= LATEST_END):
        problems.append(
            f"the history must lie within {EARLIEST_START} and {LATEST_END}, "
            f"got {config.start} to {config.end}"
        )
    if config.reference_currency not in FX_LEVELS_TO_EUR:
        known = ", ".join(sorted(FX_LEVELS_TO_EUR))
        problems.append(
            f"reference_currency must be one of {known}, got {config.reference_currency!r}"
        )
    return problems
