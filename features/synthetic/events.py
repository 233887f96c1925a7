"""The maison's event calendar: collection launches, private sales, a renovation, closures.

Events are planned first (they shape traffic and sales), then written to the ``events`` table
together with the public-holiday closures found by the boutique calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.synthetic.config import MaisonConfig

PRIVATE_SALE_WINDOWS: tuple[tuple[int, int, int], ...] = ((6, 12, 10), (11, 20, 10))
"""(month, first possible day, spread in days) of the two yearly private sales."""
PRIVATE_SALE_DAYS = 2
RENOVATION_DAYS = (14, 22)

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "kind": pl.String(),
    "boutique_id": pl.String(),
    "country": pl.String(),
    "label": pl.String(),
}


@dataclass(frozen=True)
class EventPlan:
    """Planned events as boutique x day masks (for the calendar) and as table rows."""

    launch: np.ndarray
    private_sale: np.ndarray
    disruption: np.ndarray
    rows: pl.DataFrame


def plan_events(
    boutiques: pl.DataFrame,
    collections: pl.DataFrame,
    is_open: np.ndarray,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> EventPlan:
    """Launches per country, two private sales a year per boutique, one renovation, a closure.

    Private sales take place on days the boutique trades (``is_open``, boutique x day).
    """
    n_boutiques, n_days, start = boutiques.height, config.n_days, config.start
    countries = boutiques["country"].to_numpy()
    physical = (boutiques["format"] != "online").to_numpy()
    ids = boutiques["boutique_id"].to_numpy()
    rows: list[dict[str, object]] = []

    launch = np.zeros((n_boutiques, n_days), dtype=bool)
    for label, launch_date in collections.select("label", "launch_date").iter_rows():
        day = (launch_date - start).days
        if not 0 <= day < n_days:
            continue
        launch[:, day] = True
        for country in sorted(set(countries[physical])):
            rows.append(
                event_row(launch_date, "collection_launch", None, country, f"{label} launch")
            )

    private_sale = np.zeros((n_boutiques, n_days), dtype=bool)
    hosts = np.flatnonzero(physical & (boutiques["format"] != "outlet").to_numpy())
    for year in range(config.start.year, config.end.year + 1):
        for month, first_day, spread in PRIVATE_SALE_WINDOWS:
            offsets = rng.integers(0, spread, size=hosts.size)
            for host, offset in zip(hosts, offsets, strict=True):
                first = (date(year, month, first_day) - start).days + int(offset)
                if not 0 <= first < n_days:
                    continue
                trading = first + np.flatnonzero(is_open[host, first : first + 7])
                for day in trading[:PRIVATE_SALE_DAYS]:
                    private_sale[host, day] = True
                    rows.append(
                        event_row(
                            start + timedelta(days=int(day)),
                            "private_sale",
                            ids[host],
                            None,
                            "Private sale for clients",
                        )
                    )

    disruption = np.zeros((n_boutiques, n_days), dtype=bool)
    regular = np.flatnonzero((boutiques["role"] == "regular").to_numpy() & physical)
    renovated = int(rng.choice(regular))
    length = int(rng.integers(*RENOVATION_DAYS))
    first_day = int(rng.integers(int(0.15 * n_days), max(int(0.8 * n_days) - length, 1)))
    disruption[renovated, first_day : first_day + length] = True
    for day in range(first_day, min(first_day + length, n_days)):
        rows.append(
            event_row(start + timedelta(days=day), "disruption", ids[renovated], None, "Renovation")
        )

    for boutique_id, closed_on in (
        boutiques.filter(pl.col("closed_on").is_not_null())
        .select("boutique_id", "closed_on")
        .iter_rows()
    ):
        rows.append(event_row(closed_on, "closure", boutique_id, None, "Boutique closed for good"))

    frame = pl.DataFrame(rows, schema=EVENT_SCHEMA, orient="row") if rows else empty_events()
    return EventPlan(launch, private_sale, disruption, frame)


def events_table(plan: EventPlan, holiday_closures: pl.DataFrame) -> pl.DataFrame:
    """The ``events`` table: planned events plus one closure row per boutique holiday closure."""
    closures = holiday_closures.select(
        pl.col("date"),
        pl.lit("closure").alias("kind"),
        pl.col("boutique_id"),
        pl.lit(None, dtype=pl.String).alias("country"),
        pl.format("Closed for {}", pl.col("holiday")).alias("label"),
    )
    return (
        pl.concat([plan.rows, closures.cast(EVENT_SCHEMA)])
        .sort("date", "kind", "boutique_id", "country", nulls_last=True)
        .unique(maintain_order=True)
    )


def active_mask(boutiques: pl.DataFrame, start: date, n_days: int) -> np.ndarray:
    """Boutique x day mask of the days a boutique is open for business (opened, not yet closed)."""
    opened = np.array([(day - start).days for day in boutiques["opened_on"].to_list()])
    closed = np.array(
        [n_days if day is None else (day - start).days for day in boutiques["closed_on"].to_list()]
    )
    days = np.arange(n_days)
    return (days[None, :] >= opened[:, None]) & (days[None, :] < closed[:, None])


def event_row(
    day: date, kind: str, boutique_id: str | None, country: str | None, label: str
) -> dict[str, object]:
    """One row of the events table."""
    return {
        "date": day,
        "kind": kind,
        "boutique_id": boutique_id,
        "country": country,
        "label": label,
    }


def empty_events() -> pl.DataFrame:
    """An events table without rows."""
    return pl.DataFrame(schema=EVENT_SCHEMA)
