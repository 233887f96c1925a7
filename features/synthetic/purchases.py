"""Transactions: client purchase occasions, walk-in sales, receipt lines and returns.

*Client occasions* come from each client's process: the first purchase on joining, then repeat
purchases at the client's Poisson rate until dropout (BG/NBD: after each purchase the client
leaves with probability p), plus the yearly ritual and invitations to private sales. Where and
when: at the home boutique, online, or abroad for travellers (seasons of Golden Weeks, Chinese
New Year, summer); the day follows that boutique's traffic and the hour its hourly profile.
*Walk-in receipts* (no client) scale with the counted visitors of each boutique-day.
Each receipt has one or more lines (the first line's division follows the cross-sell progression
from the client's previous receipt half of the time, else the client's affinities; product from
the current collections at the client's price level); a few percent of lines are returned later in
the same boutique on a new receipt, with negative quantity and amount.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import polars as pl

from features.contract import DIVISIONS, UTC_DATETIME
from features.synthetic.calendar_effects import (
    BoutiqueCalendar,
    day_parts,
    lunar_new_year_offsets,
)
from features.synthetic.clients import N_ORIGIN_GROUPS, ClientPopulation
from features.synthetic.config import MaisonConfig
from features.synthetic.events import EventPlan
from features.synthetic.fx import FX_LEVELS_TO_EUR
from features.synthetic.local_time import utc_microseconds
from features.synthetic.products import DIVISION_PROFILES, Catalogue, CurrencyPricing
from features.synthetic.sampling import NO_DRAW, RowSampler

WALK_IN = -1
NO_DIVISION = -1
RITUAL_KEEP = 0.85
RITUAL_JITTER_DAYS = 5.0
PRIVATE_SALE_ATTENDANCE = 0.35
EXTRA_LINES_CLIENT, EXTRA_LINES_WALK_IN, EXTRA_LINES_DECEMBER = 0.35, 0.2, 0.25
MAX_LINES = 6
SAME_DIVISION_SHARE = 0.4
DECEMBER_GIFT_SHARE = 0.3
CROSS_SELL_SHARE = 0.5
CROSS_SELL_NEXT: dict[str, str] = {
    "ready-to-wear": "shoes",
    "shoes": "leather goods",
    "leather goods": "jewellery",
    "jewellery": "watches",
    "watches": "jewellery",
    "fragrance & beauty": "accessories",
    "accessories": "leather goods",
}
"""Cross-sell progression: the division a client is steered to after buying in a division."""
SEASONAL_PRODUCT_SHARE = 0.45
OUTLET_DISCOUNT = 0.6
RETURN_DELAY_SHAPE, RETURN_DELAY_SCALE = 2.0, 5.0
RETURN_ONLINE_FACTOR, RETURN_WALK_IN_FACTOR = 1.8, 0.6


@dataclass(frozen=True)
class Receipts:
    """Receipts before lines: who bought where and when (local day index and second of day)."""

    client: np.ndarray
    boutique: np.ndarray
    day: np.ndarray
    division: np.ndarray

    @classmethod
    def concat(cls, parts: list[Receipts]) -> Receipts:
        """Receipts of all ``parts`` in order."""
        return cls(
            *(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls))
        )

    def take(self, keep: np.ndarray) -> Receipts:
        """The receipts selected by the boolean mask or index array ``keep``."""
        return Receipts(*(getattr(self, f.name)[keep] for f in fields(self)))


@dataclass(frozen=True)
class Transactions:
    """The transactions table and the day of each client's first purchase."""

    table: pl.DataFrame
    first_purchase_day: np.ndarray


def simulate_transactions(
    population: ClientPopulation,
    boutiques: pl.DataFrame,
    calendar: BoutiqueCalendar,
    daily_visitors: np.ndarray,
    catalogue: Catalogue,
    plan: EventPlan,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> Transactions:
    """Every receipt line of the history, returns included, ready to write."""
    days = TradingDays.build(population, boutiques, calendar)
    first_day = first_purchase_days(population, days, rng)
    repeats, death_day = repeat_occasions(population, days, first_day, config, rng)
    rituals = ritual_occasions(population, days, first_day, death_day, config, rng)
    private = private_sale_occasions(population, boutiques, plan, first_day, death_day, rng)
    joiners = np.flatnonzero(population.join_day >= 0)
    first = Receipts(
        client=joiners,
        boutique=days.boutique_on(population.home[joiners], first_day[joiners]),
        day=first_day[joiners],
        division=np.full(joiners.size, NO_DIVISION),
    )
    walk_ins = walk_in_receipts(boutiques, calendar, daily_visitors, rng)
    receipts = Receipts.concat([first, repeats, rituals, private, walk_ins])
    receipts = receipts.take(np.flatnonzero(receipts.day >= 0))
    receipts = with_lead_divisions(receipts, population, config, rng)
    if not calendar.is_open[receipts.boutique, receipts.day].all():
        raise AssertionError("a receipt was placed on a day its boutique does not trade")

    hourly = RowSampler.from_weights(calendar.hourly_profiles)
    second = seconds_of_day(hourly, calendar.profile[receipts.boutique, receipts.day], rng)
    lines = receipt_lines(receipts, population, boutiques, catalogue, config, rng)
    sales = assemble(receipts, second, lines, np.arange(receipts.client.size))
    returned = returns(receipts, lines, days, calendar, hourly, config, rng)
    table = transactions_table(
        pl.concat([sales, returned]),
        boutiques,
        catalogue.products["product_id"],
        population.size,
        calendar,
        config,
    )
    first_purchase_day = np.where(population.join_day >= 0, first_day, population.join_day)
    return Transactions(table=table, first_purchase_day=first_purchase_day)


@dataclass(frozen=True)
class TradingDays:
    """Samplers of purchase days over boutique traffic, and where a client's purchase lands.

    Rows of ``occasion_days``: one "home" row per boutique (a closed boutique's row continues
    with its successor's traffic), then for each origin group one travel row per destination
    (traffic times that group's travel seasons). ``boutique_days`` samples a boutique's own
    open days (for returns); ``destinations`` a trip's boutique for each home country (row
    ``country_row`` of a client), weighted by tourist appeal.
    """

    n_boutiques: int
    online: int
    closed_day: np.ndarray
    successor: np.ndarray
    occasion_days: RowSampler
    boutique_days: RowSampler
    destinations: RowSampler
    country_row: np.ndarray

    @classmethod
    def build(
        cls, population: ClientPopulation, boutiques: pl.DataFrame, calendar: BoutiqueCalendar
    ) -> TradingDays:
        """Prepare the samplers from the calendar's expected visitors."""
        traffic = calendar.expected_visitors
        n_boutiques, n_days = traffic.shape
        n_days_range = np.arange(n_days)
        closed_day = np.array(
            [
                n_days if day is None else (day - calendar.start).days
                for day in boutiques["closed_on"].to_list()
            ]
        )
        successor = boutiques["successor"].to_numpy()
        level = boutiques["traffic_level"].to_numpy()
        home_rows = traffic.copy()
        for boutique in np.flatnonzero(closed_day < n_days):
            after = n_days_range >= closed_day[boutique]
            ratio = level[boutique] / level[successor[boutique]]
            home_rows[boutique, after] = traffic[successor[boutique], after] * ratio

        dates = np.datetime64(calendar.start, "D") + n_days_range
        seasons = travel_seasons(dates)
        roles = boutiques["role"].to_numpy()
        regular = (roles == "regular").astype(float)
        travel_rows = (seasons[:, None, :] * (traffic * regular[:, None])[None, :, :]).reshape(
            -1, n_days
        )
        countries = boutiques["country"].to_numpy()
        origin_countries, country_row = np.unique(population.home_country, return_inverse=True)
        appeal = boutiques["tourist_appeal"].to_numpy() * regular
        destination_weights = np.stack(
            [appeal * (countries != country) for country in origin_countries]
        )
        online = int(np.flatnonzero((boutiques["format"] == "online").to_numpy())[0])
        return cls(
            n_boutiques=n_boutiques,
            online=online,
            closed_day=closed_day,
            successor=successor,
            occasion_days=RowSampler.from_weights(np.vstack([home_rows, travel_rows])),
            boutique_days=RowSampler.from_weights(traffic),
            destinations=RowSampler.from_weights(destination_weights),
            country_row=country_row,
        )

    def boutique_on(self, home: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The boutique serving a home-boutique purchase on ``day`` (a successor after closing)."""
        moved = day >= self.closed_day[home]
        return np.where(moved, self.successor[home], home)

    def travel_row(self, origin: np.ndarray, destination: np.ndarray) -> np.ndarray:
        """Row of ``occasion_days`` for a trip of an origin group to a destination."""
        return self.n_boutiques * (1 + origin.astype(np.int64)) + destination


def travel_seasons(dates: np.ndarray) -> np.ndarray:
    """Relative intensity of trips abroad per origin group and day (groups x days).

    Chinese-speaking clients travel in the October Golden Week and the Chinese New Year week,
    Japanese and Korean clients in the spring Golden Week and at New Year, everyone in summer.
    """
    _, month, day = day_parts(dates)
    lunar = lunar_new_year_offsets(dates)
    summer = ((month == 7) | (month == 8)).astype(float)
    china_golden = ((month == 10) & (day <= 7)).astype(float)
    new_year_week = ((lunar >= 0) & (lunar <= 6)).astype(float)
    japan_golden = (((month == 4) & (day >= 29)) | ((month == 5) & (day <= 5))).astype(float)
    year_end = (((month == 12) & (day >= 28)) | ((month == 1) & (day <= 3))).astype(float)
    seasons = np.ones((N_ORIGIN_GROUPS, dates.size))
    seasons[0] += 4.0 * china_golden + 2.5 * new_year_week + 0.5 * summer
    seasons[1] += 4.0 * japan_golden + 1.5 * year_end + 0.5 * (month == 8)
    seasons[2] += 1.0 * summer + 0.3 * (month == 12)
    return seasons


def first_purchase_days(
    population: ClientPopulation, days: TradingDays, rng: np.random.Generator
) -> np.ndarray:
    """Day of each in-history joiner's first purchase: a trading day near the join day.

    Pre-history clients get their (negative) join day. A joiner's first purchase is at the home
    boutique within two weeks of joining (later if the boutique is closed that long).
    """
    join = population.join_day
    first = join.copy()
    joiners = np.flatnonzero(join >= 0)
    rows = population.home[joiners]
    day = days.occasion_days.sample(rows, rng, low=join[joiners], high=join[joiners] + 13)
    late = day == NO_DRAW
    day[late] = days.occasion_days.sample(rows[late], rng, low=join[joiners][late])
    still = day == NO_DRAW
    day[still] = days.occasion_days.sample(rows[still], rng)
    first[joiners] = day
    return first


def repeat_occasions(
    population: ClientPopulation,
    days: TradingDays,
    first_day: np.ndarray,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> tuple[Receipts, np.ndarray]:
    """Repeat purchases within the history until dropout, and each client's dropout day.

    Purchases before the history are only counted (they use up the client's purchases before
    dropout). The dropout day is ``n_days`` for clients still active at the end and -1 for
    clients lost before the history.
    """
    n_days = config.n_days
    before = population.join_day < 0
    years_before = np.where(before, -population.join_day, 0) / 365.25
    purchases_before = rng.poisson(population.rate * years_before)
    allowed = population.purchases_before_dropout - 1 - purchases_before
    window_start = np.where(before, 0, first_day)
    window_years = (n_days - window_start) / 365.25
    potential = np.where(allowed > 0, rng.poisson(population.rate * window_years), 0)

    owner = np.repeat(np.arange(population.size), potential)
    channel = rng.random(owner.size)
    online = channel < population.online_share[owner]
    abroad = ~online & (channel < population.online_share[owner] + population.abroad_share[owner])
    rows = np.where(online, days.online, population.home[owner]).astype(np.int64)
    travellers = owner[abroad]
    destination = days.destinations.sample(days.country_row[travellers], rng)
    rows[abroad] = np.where(
        destination == NO_DRAW,
        population.home[travellers],
        days.travel_row(population.origin[travellers], np.maximum(destination, 0)),
    )
    day = days.occasion_days.sample(rows, rng, low=window_start[owner])

    valid = day != NO_DRAW
    owner, rows, day = owner[valid], rows[valid], day[valid]
    order = np.lexsort((rng.random(owner.size), day, owner))
    owner, rows, day = owner[order], rows[order], day[order]
    rank = within_owner_rank(owner)
    kept = rank < allowed[owner]

    death_day = np.full(population.size, n_days, dtype=np.int64)
    death_day[before & (allowed <= 0)] = -1
    died_at_first = ~before & (allowed <= 0)
    death_day[died_at_first] = first_day[died_at_first]
    last_purchase = rank == allowed[owner] - 1
    death_day[owner[last_purchase]] = day[last_purchase]

    owner, rows, day = owner[kept], rows[kept], day[kept]
    boutique = np.where(
        rows < days.n_boutiques,
        days.boutique_on(np.minimum(rows, days.n_boutiques - 1), day),
        rows % days.n_boutiques,
    )
    receipts = Receipts(
        client=owner, boutique=boutique, day=day, division=np.full(owner.size, NO_DIVISION)
    )
    return receipts, death_day


def within_owner_rank(owner: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of the sorted array ``owner``."""
    if owner.size == 0:
        return owner.copy()
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    lengths = np.diff(np.r_[starts, owner.size])
    return np.arange(owner.size) - np.repeat(starts, lengths)


def ritual_occasions(
    population: ClientPopulation,
    days: TradingDays,
    first_day: np.ndarray,
    death_day: np.ndarray,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> Receipts:
    """The yearly ritual purchases (same division, same season) of active ritual clients."""
    clients = np.flatnonzero((population.ritual_division >= 0) & (death_day >= 0))
    years = np.arange(config.start.year, config.end.year + 1)
    owner = np.repeat(clients, years.size)
    new_year_day = (
        np.array([f"{y}-01-01" for y in years], dtype="datetime64[D]")
        - np.datetime64(config.start, "D")
    ).astype(np.int64)
    centre = np.tile(new_year_day, clients.size) + population.ritual_day_of_year[owner] - 1
    target = centre + np.round(rng.normal(0.0, RITUAL_JITTER_DAYS, size=owner.size)).astype(
        np.int64
    )
    window_start = np.where(population.join_day[owner] < 0, 0, first_day[owner] + 1)
    alive = (target >= window_start) & (target <= np.minimum(death_day[owner], config.n_days - 1))
    keep = alive & (rng.random(owner.size) < RITUAL_KEEP)
    owner, target, window_start = owner[keep], target[keep], window_start[keep]
    rows = population.home[owner].astype(np.int64)
    day = days.occasion_days.sample(
        rows, rng, low=np.maximum(target - 3, window_start), high=target + 3
    )
    return Receipts(
        client=owner,
        boutique=days.boutique_on(population.home[owner], np.maximum(day, 0)),
        day=day,
        division=population.ritual_division[owner].astype(np.int64),
    )


def private_sale_occasions(
    population: ClientPopulation,
    boutiques: pl.DataFrame,
    plan: EventPlan,
    first_day: np.ndarray,
    death_day: np.ndarray,
    rng: np.random.Generator,
) -> Receipts:
    """Top and gold clients invited to their boutique's private sales; about a third come."""
    invited = np.flatnonzero(np.isin(population.tier, ["top", "gold"]) & (death_day >= 0))
    by_home = {
        int(home): invited[population.home[invited] == home]
        for home in np.unique(population.home[invited])
    }
    opening = (
        plan.private_sale & ~np.c_[np.zeros((boutiques.height, 1), bool), plan.private_sale[:, :-1]]
    )
    parts: list[Receipts] = []
    for boutique, day in zip(*np.nonzero(opening), strict=True):
        guests = by_home.get(int(boutique), np.zeros(0, dtype=np.int64))
        present = (
            (np.where(population.join_day[guests] < 0, 0, first_day[guests]) <= day)
            & (death_day[guests] >= day)
            & (rng.random(guests.size) < PRIVATE_SALE_ATTENDANCE)
        )
        guests = guests[present]
        second_day = plan.private_sale[boutique, min(day + 1, plan.private_sale.shape[1] - 1)]
        shift = (rng.random(guests.size) < 0.5) & second_day
        parts.append(
            Receipts(
                client=guests,
                boutique=np.full(guests.size, boutique),
                day=day + shift.astype(np.int64),
                division=np.full(guests.size, NO_DIVISION),
            )
        )
    return Receipts.concat(parts) if parts else empty_receipts()


def walk_in_receipts(
    boutiques: pl.DataFrame,
    calendar: BoutiqueCalendar,
    daily_visitors: np.ndarray,
    rng: np.random.Generator,
) -> Receipts:
    """Receipts without a client: visitors (sessions online) times the walk-in conversion."""
    conversion = boutiques["walk_in_conversion"].to_numpy()[:, None]
    counts = rng.poisson(daily_visitors * conversion * calendar.is_open)
    boutique, day = np.nonzero(counts)
    repeats = counts[boutique, day]
    return Receipts(
        client=np.full(int(repeats.sum()), WALK_IN),
        boutique=np.repeat(boutique, repeats),
        day=np.repeat(day, repeats),
        division=np.full(int(repeats.sum()), NO_DIVISION),
    )


def cross_sell_powers(steps: int) -> np.ndarray:
    """``powers[j, d]``: the division reached from division ``d`` after ``j`` cross-sell steps."""
    successor = np.array([DIVISIONS.index(CROSS_SELL_NEXT[name]) for name in DIVISIONS])
    powers = np.empty((steps + 1, successor.size), dtype=np.int64)
    powers[0] = np.arange(successor.size)
    for step in range(1, steps + 1):
        powers[step] = successor[powers[step - 1]]
    return powers


def with_lead_divisions(
    receipts: Receipts,
    population: ClientPopulation,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> Receipts:
    """The receipts with the division of each client receipt's first line decided.

    A ritual keeps its division. Any other client receipt after the client's first one follows
    the cross-sell progression with probability :data:`CROSS_SELL_SHARE` (the successor of the
    previous receipt's lead division, :data:`CROSS_SELL_NEXT`); otherwise its division is drawn
    from the client's affinities (a gift division for some December receipts). The chain is
    resolved without a loop: a run of ``j`` cross-sells after a freely drawn receipt applies
    the successor ``j`` times to that receipt's division.
    """
    clients = np.flatnonzero(receipts.client >= 0)
    order = clients[np.lexsort((receipts.day[clients], receipts.client[clients]))]
    owner = receipts.client[order]
    drawn = RowSampler.from_weights(population.affinity).sample(owner, rng)
    dates = np.datetime64(config.start, "D") + receipts.day[order]
    _, month, day_of_month = day_parts(dates)
    gift = (month == 12) & (day_of_month <= 24) & (rng.random(owner.size) < DECEMBER_GIFT_SHARE)
    gift_shares = np.array([profile.gift_share for profile in DIVISION_PROFILES])
    drawn[gift] = rng.choice(
        gift_shares.size, size=int(gift.sum()), p=gift_shares / gift_shares.sum()
    )
    ritual = receipts.division[order] >= 0
    drawn[ritual] = receipts.division[order][ritual]
    first_of_client = np.r_[True, owner[1:] != owner[:-1]] if owner.size else owner.astype(bool)
    follows = ~ritual & ~first_of_client & (rng.random(owner.size) < CROSS_SELL_SHARE)
    position = np.arange(owner.size)
    anchor = np.maximum.accumulate(np.where(follows, 0, position)) if owner.size else position
    steps = position - anchor
    lead = cross_sell_powers(int(steps.max(initial=0)))[steps, drawn[anchor]]
    division = receipts.division.copy()
    division[order] = lead
    return Receipts(receipts.client, receipts.boutique, receipts.day, division)


def empty_receipts() -> Receipts:
    """No receipts."""
    empty = np.zeros(0, dtype=np.int64)
    return Receipts(empty, empty, empty, empty)


def seconds_of_day(hourly: RowSampler, profile: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Local second of day of each receipt: an hour from the day's profile, a uniform second."""
    hour = hourly.sample(profile, rng)
    return hour.astype(np.int64) * 3600 + rng.integers(0, 3600, size=profile.size)


@dataclass(frozen=True)
class Lines:
    """Receipt lines: receipt index, line number, division, product, quantity and amount."""

    receipt: np.ndarray
    line: np.ndarray
    division: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray


def receipt_lines(
    receipts: Receipts,
    population: ClientPopulation,
    boutiques: pl.DataFrame,
    catalogue: Catalogue,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> Lines:
    """The lines of every receipt: divisions, products, quantities and local amounts."""
    is_client = receipts.client >= 0
    client = np.where(is_client, receipts.client, 0)
    dates = np.datetime64(config.start, "D") + receipts.day
    _, month, day_of_month = day_parts(dates)
    gift_season = (month == 12) & (day_of_month <= 24)

    extra = np.where(is_client, EXTRA_LINES_CLIENT * np.sqrt(population.spend[client]), 0.0)
    extra = np.where(is_client, extra, EXTRA_LINES_WALK_IN) + EXTRA_LINES_DECEMBER * gift_season
    count = np.minimum(1 + rng.poisson(extra), MAX_LINES)
    receipt = np.repeat(np.arange(count.size), count)
    line = np.arange(receipt.size) - np.repeat(np.cumsum(count) - count, count)

    affinity = RowSampler.from_weights(population.affinity)
    division = affinity.sample(client[receipt], rng)
    walk_in_shares = np.array([profile.walk_in_share for profile in DIVISION_PROFILES])
    gift_shares = np.array([profile.gift_share for profile in DIVISION_PROFILES])
    from_walk_in = ~is_client[receipt]
    division[from_walk_in] = rng.choice(
        len(DIVISIONS), size=int(from_walk_in.sum()), p=walk_in_shares / walk_in_shares.sum()
    )
    gift = gift_season[receipt] & (rng.random(receipt.size) < DECEMBER_GIFT_SHARE)
    division[gift] = rng.choice(
        len(DIVISIONS), size=int(gift.sum()), p=gift_shares / gift_shares.sum()
    )
    forced = (receipts.division[receipt] >= 0) & (line == 0)
    division[forced] = receipts.division[receipt][forced]
    first_line = np.cumsum(count) - count
    same = (line > 0) & (rng.random(receipt.size) < SAME_DIVISION_SHARE)
    division[same] = division[first_line[receipt[same]]]

    outlet = (boutiques["format"] == "outlet").to_numpy()[receipts.boutique][receipt]
    product = choose_products(
        catalogue,
        division,
        receipts.day[receipt],
        outlet,
        np.where(is_client[receipt], population.spend[client[receipt]], 0.0),
        rng,
    )
    extra_units = np.array([profile.extra_quantity for profile in DIVISION_PROFILES])[division]
    quantity = 1 + rng.poisson(extra_units)

    pricing = CurrencyPricing.of(boutiques["currency"].to_list(), FX_LEVELS_TO_EUR)
    currency = receipts.boutique[receipt]  # one price list per boutique, in its currency
    year_offset = dates.astype("datetime64[Y]").astype(int) + 1970 - config.end.year
    unit = pricing.unit_prices(catalogue.price_eur[product], currency, year_offset[receipt])
    amount = pricing.round(unit * quantity * np.where(outlet, OUTLET_DISCOUNT, 1.0), currency)
    return Lines(receipt, line, division, product, quantity.astype(np.int32), amount)


def choose_products(
    catalogue: Catalogue,
    division: np.ndarray,
    day: np.ndarray,
    outlet: np.ndarray,
    spend: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A product of each line's division: current or previous collection, or the permanent line.

    Clients choose a price quantile that rises with their spend level; walk-ins (spend 0) lean
    to the cheaper end. Outlets sell collections from two to four seasons back.
    """
    launched = np.searchsorted(catalogue.launch_days, day, side="right")
    back = np.where(outlet, rng.integers(2, 5, size=day.size), rng.integers(0, 2, size=day.size))
    group = np.clip(launched - back, 0, None)
    seasonal = rng.random(day.size) < np.where(outlet, 0.8, SEASONAL_PRODUCT_SHARE)
    group = np.where(seasonal & (catalogue.counts[group, division] > 0), group, 0)

    uniform = rng.random(day.size).clip(1e-9, 1 - 1e-9)
    tilt = np.where(spend > 0, 1.1 * np.log(np.maximum(spend, 1e-9)), -0.6)
    quantile = 1.0 / (1.0 + np.exp(-(np.log(uniform / (1 - uniform)) + tilt)))
    count = catalogue.counts[group, division]
    position = np.minimum((quantile * count).astype(np.int64), count - 1)
    return catalogue.offsets[group, division] + position


def returns(
    receipts: Receipts,
    lines: Lines,
    days: TradingDays,
    calendar: BoutiqueCalendar,
    hourly: RowSampler,
    config: MaisonConfig,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Returned lines: later, in the same boutique, on a new receipt, negative quantity/amount.

    Returned lines of one receipt come back together, 1 to about 30 days after the purchase, on
    a day the boutique trades; returns that would fall after the history are not recorded.
    """
    rate = np.array([profile.return_rate for profile in DIVISION_PROFILES])[lines.division]
    boutique = receipts.boutique[lines.receipt]
    rate = rate * np.where(boutique == days.online, RETURN_ONLINE_FACTOR, 1.0)
    rate = rate * np.where(receipts.client[lines.receipt] < 0, RETURN_WALK_IN_FACTOR, 1.0)
    returned = rng.random(rate.size) < rate

    candidates = np.unique(lines.receipt[returned])
    delay = 1 + np.floor(rng.gamma(RETURN_DELAY_SHAPE, RETURN_DELAY_SCALE, candidates.size))
    earliest = receipts.day[candidates] + delay.astype(np.int64)
    return_day = np.full(receipts.day.size, NO_DRAW)
    return_day[candidates] = days.boutique_days.sample(
        receipts.boutique[candidates],
        rng,
        low=earliest,
        high=np.minimum(earliest + 6, config.n_days - 1),
    )
    returned &= return_day[lines.receipt] != NO_DRAW
    originals = np.unique(lines.receipt[returned])
    new_receipts = Receipts(
        client=receipts.client[originals],
        boutique=receipts.boutique[originals],
        day=return_day[originals],
        division=np.full(originals.size, NO_DIVISION),
    )
    second = seconds_of_day(hourly, calendar.profile[new_receipts.boutique, new_receipts.day], rng)
    receipt_number = np.full(receipts.day.size, -1)
    receipt_number[originals] = np.arange(originals.size)
    picked = np.flatnonzero(returned)
    returned_lines = Lines(
        receipt=receipt_number[lines.receipt[picked]],
        line=lines.line[picked],
        division=lines.division[picked],
        product=lines.product[picked],
        quantity=-lines.quantity[picked],
        amount=-lines.amount[picked],
    )
    keys = receipts.day.size + np.arange(originals.size)
    return assemble(new_receipts, second, returned_lines, keys)


def assemble(
    receipts: Receipts, second: np.ndarray, lines: Lines, receipt_keys: np.ndarray
) -> pl.DataFrame:
    """One row per line with its receipt's key, client, boutique, day and second (internal)."""
    return pl.DataFrame(
        {
            "receipt_key": receipt_keys[lines.receipt].astype(np.int64),
            "line": lines.line.astype(np.int32),
            "client": receipts.client[lines.receipt].astype(np.int64),
            "boutique": receipts.boutique[lines.receipt].astype(np.int32),
            "day": receipts.day[lines.receipt].astype(np.int64),
            "second": second[lines.receipt].astype(np.int64),
            "product": lines.product.astype(np.int32),
            "quantity": lines.quantity.astype(np.int32),
            "amount": lines.amount.astype(np.float64),
        }
    )


def transactions_table(
    rows: pl.DataFrame,
    boutiques: pl.DataFrame,
    product_ids: pl.Series,
    n_clients: int,
    calendar: BoutiqueCalendar,
    config: MaisonConfig,
) -> pl.DataFrame:
    """The ``transactions`` table: lines in time order, receipts numbered, times in UTC."""
    boutique = rows["boutique"].to_numpy()
    day = rows["day"].to_numpy()
    utc = utc_microseconds(
        config.start, day, rows["second"].to_numpy(), calendar.utc_offset[boutique, day]
    )
    rows = rows.with_columns(purchased_at=pl.Series(utc)).sort(
        "purchased_at", "receipt_key", "line"
    )
    width = max(9, len(str(rows.height)))
    client_width = max(7, len(str(n_clients)))
    new_receipt = pl.col("receipt_key") != pl.col("receipt_key").shift(1)
    return rows.select(
        ("T" + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(width)).alias(
            "transaction_id"
        ),
        ("R" + new_receipt.fill_null(True).cum_sum().cast(pl.String).str.zfill(width)).alias(
            "receipt_id"
        ),
        pl.when(pl.col("client") >= 0)
        .then("C" + (pl.col("client") + 1).cast(pl.String).str.zfill(client_width))
        .alias("client_id"),
        pl.lit(boutiques["boutique_id"]).gather(pl.col("boutique")).alias("boutique_id"),
        pl.lit(product_ids).gather(pl.col("product")).alias("product_id"),
        pl.col("purchased_at").cast(UTC_DATETIME),
        pl.col("quantity"),
        pl.col("amount"),
        pl.lit(boutiques["currency"]).gather(pl.col("boutique")).alias("currency"),
    )
