"""The service's request and response models: what the OpenAPI spec at ``/docs.json`` describes.

Every limit a client can break lives here, so that pydantic rejects a bad request before any
work is done, with an error naming the field. Integer fields are strict (``true``, ``"2"`` and
``2.0`` are refused, not read as 1 and 2) and a date is an ISO string, never a number. Checks
that need the loaded snapshot (an unknown boutique, a start date outside the forecast range) are
made by the service and answered in the same :class:`ErrorBody` shape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from features.snapshot import DAILY_HORIZON_DAYS, HOURLY_HORIZON_DAYS
from training.call_lists import MAX_CALL_LIST

MAX_CLIENT_IDS = 1000
TOP_DIVISIONS = 3

# Ids are opaque: anything printable without spaces, so that no control character reaches a log.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$")
]
# Divisions are the champion's own classes (the contract does not restrict them): the service
# checks the name against them; here only its shape.
Division = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Granularity = Literal["daily", "hourly"]


class Request(BaseModel):
    """Base of the request bodies: unknown fields are refused rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NextPurchaseRequest(Request):
    """Clients to score, by pseudonymous id."""

    client_ids: list[Identifier] = Field(
        min_length=1,
        max_length=MAX_CLIENT_IDS,
        description=f"Pseudonymous client ids, 1 to {MAX_CLIENT_IDS}.",
        examples=[["C000001", "C000002"]],
    )


class FootfallRequest(Request):
    """A boutique's forecast window."""

    boutique_id: Identifier = Field(description="Boutique id.", examples=["B001"])
    start: date = Field(
        strict=True,  # an ISO date string only: a number is not read as a Unix timestamp
        description="First day, boutique-local; within the snapshot's forecast range.",
        examples=["2026-07-01"],
    )
    days: int = Field(
        7,
        ge=1,
        le=DAILY_HORIZON_DAYS,
        strict=True,
        description=f"Number of days: at most {DAILY_HORIZON_DAYS} daily, "
        f"{HOURLY_HORIZON_DAYS} hourly.",
    )
    granularity: Granularity = Field("daily", description="One period per day or per hour.")


class CallListRequest(Request):
    """Which boutique's call list, how long, over which horizon, for which division."""

    boutique_id: Identifier = Field(description="Boutique id.", examples=["B001"])
    n: int = Field(20, ge=1, le=MAX_CALL_LIST, strict=True, description="Clients to list.")
    horizon_days: int = Field(
        30,
        ge=1,
        le=DAILY_HORIZON_DAYS,
        strict=True,
        description="Days ahead: the purchase window and the days to invite clients on.",
    )
    division: Division | None = Field(
        None,
        description="Rank by the probability of buying in this division: one of the champion's "
        "divisions (an unknown one is answered 400 with the list).",
        examples=["leather goods"],
    )


class ErrorBody(BaseModel):
    """Every 4xx answer: a message naming the field(s) at fault."""

    error: str = Field(description="What is wrong, starting with the field name.")
    fields: list[str] = Field(default_factory=list, description="The fields at fault.")


class DivisionProbability(BaseModel):
    """One division and its probability, given a purchase."""

    division: str
    probability: float


class DaysToNextPurchase(BaseModel):
    """Days to the next purchase: P10, P50, P90 (a value at the horizon means 'not within')."""

    p10: float
    p50: float
    p90: float


ClientStatus = Literal["ok", "no_purchase_history", "unknown_client"]
"""``ok``: scored; ``no_purchase_history``: in the clients table but without a purchase before
the snapshot date, so not scored; ``unknown_client``: not in the snapshot at all."""


class NextPurchaseItem(BaseModel):
    """One requested client: its predictions, or why there are none (``status``)."""

    client_id: str
    status: ClientStatus = Field(
        description="ok: scored; no_purchase_history: a client without a purchase before the "
        "snapshot date (not scored); unknown_client: an id the snapshot does not know."
    )
    p_buy_30d: float | None = None
    p_buy_90d: float | None = None
    expected_spend_90d: float | None = None
    currency: str
    top_divisions: list[DivisionProbability] = Field(default_factory=list)
    days_to_next_purchase: DaysToNextPurchase | None = None
    reasons: list[str] = Field(default_factory=list)
    snapshot_date: date
    model_version: str


class FootfallPeriod(BaseModel):
    """Visitors forecast for one day or hour, boutique-local time."""

    start: datetime = Field(description="Start of the period, boutique-local (no offset).")
    p10: float
    p50: float
    p90: float


class FootfallResponse(BaseModel):
    """A boutique's forecast, one period per day or hour."""

    boutique_id: str
    granularity: Granularity
    timezone: str
    snapshot_date: date
    model_version: str
    periods: list[FootfallPeriod]


class CallListEntry(BaseModel):
    """One client to call: why, and on which quiet days to invite them."""

    rank: int
    client_id: str
    p_buy: float = Field(description="P(purchase within the horizon [in the division]).")
    p_buy_30d: float
    p_buy_90d: float
    division: str | None
    p_division: float | None = Field(description="P(division | purchase).")
    expected_spend_90d: float
    days_to_next_p50: float
    reasons: list[str]
    invite_days: list[date] = Field(description="The boutique's quietest forecast days.")


class CallListResponse(BaseModel):
    """A boutique's call list."""

    boutique_id: str
    horizon_days: int
    division: str | None
    currency: str
    snapshot_date: date
    model_versions: dict[str, str]
    clients: list[CallListEntry]


class ModelFacts(BaseModel):
    """A loaded champion: where it comes from and how it scored on its backtest."""

    role: Literal["next_purchase", "footfall"]
    name: str
    version: str
    alias: str
    run_id: str | None
    registered_at: datetime | None
    trained_as_of: date | None
    backtest_metrics: dict[str, float]


class SnapshotFacts(BaseModel):
    """The loaded online snapshot."""

    as_of: date
    name: str
    created_at: str
    reference_currency: str
    clients: int
    boutiques: int


class ModelInfoResponse(BaseModel):
    """What the service answers from."""

    models: list[ModelFacts]
    snapshot: SnapshotFacts
    loaded_at: datetime
    warnings: list[str] = Field(
        default_factory=list,
        description="What to look at, e.g. a snapshot far from the date a champion was "
        "trained as of.",
    )


class ReloadPending(BaseModel):
    """A reload still preparing the new state when the answer was due (202)."""

    reloaded: Literal[False] = False
    message: str = Field(description="What is still being prepared and how to see it finish.")


class ReloadResponse(BaseModel):
    """The state a reload swapped in, and the one it replaced."""

    reloaded: bool
    workers_notified: bool = Field(
        description="Whether the other worker processes were told to reload too."
    )
    previous: ModelInfoResponse
    current: ModelInfoResponse
    seconds: float
