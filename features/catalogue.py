"""The feature catalogue: every model feature with its meaning and the words shown to associates.

Each :class:`FeatureDoc` carries a ``reason``: a short phrase an associate understands, shown when
the feature pushes a prediction up ("buys mostly leather goods"). Reasons speak of behaviour
only: the client attributes read from the clients table (:data:`CLIENT_ATTRIBUTES`: age, gender,
language, tier, country, contact consent) have no reason, so an answer never words who a client
is. ``docs/features.md`` is rendered
from the catalogue; regenerate it after adding a feature::

    python -m features.catalogue --out docs/features.md
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from features.atomic_write import write_text_atomically
from features.client_features import (
    BGNBD_FIT_CLIENTS,
    BGNBD_HORIZONS,
    CATEGORICAL_CLIENT_FEATURES,
    CLIENT_FEATURES,
    MONTH_NAMES,
    WINDOWS,
    division_slug,
)
from features.contract import DIVISIONS

Entity = Literal["client", "boutique"]
DEFAULT_OUT = Path("docs/features.md")


@dataclass(frozen=True)
class FeatureDoc:
    """One feature: its column name, entity, description and associate-facing reason."""

    name: str
    entity: Entity
    description: str
    reason: str | None
    categorical: bool = False

    @property
    def needs_value(self) -> bool:
        """The reason is a template with a ``{value}`` placeholder (e.g. "last bought {value}")."""
        return self.reason is not None and "{value}" in self.reason

    def explain(self, value: object = None) -> str:
        """The reason as shown to an associate, ``{value}`` replaced by the feature's value."""
        if self.reason is None:
            raise ValueError(f"{self.name!r} is a client attribute and never gives a reason")
        if not self.needs_value:
            return self.reason
        if value is None:
            raise ValueError(f"the reason of {self.name!r} needs the feature's value")
        return self.reason.format(value=value)


CLIENT_ATTRIBUTES: frozenset[str] = frozenset(
    {"age", "gender", "language", "tier", "home_country", "home_boutique_country", "contact_opt_in"}
)
"""Client features read from the clients table: who the client is, not what they do. The model
uses them; reasons never word them ("lives in Japan", "Gold tier client")."""


def client_reasons() -> dict[str, str]:
    """Name -> reason phrase of every client feature that describes behaviour."""
    reasons = {
        "recency_days": "bought recently",
        "frequency": "has bought many times",
        "tenure_days": "a client for a long time",
        "client_since_days": "a long-standing client",
        "monetary_total": "has spent a lot with the maison",
        "monetary_mean": "spends generously per visit",
        "monetary_max": "has made a large purchase",
        "last_occasion_spend": "spent generously on the last visit",
        "occasions_prev_365d": "bought often the year before",
        "spend_prev_365d": "spent a lot the year before",
        "spend_trend": "spending more than the year before",
        "gap_mean_days": "usually comes back at this rhythm",
        "gap_std_days": "buys at a steady rhythm",
        "gap_last_days": "came back quickly last time",
        "overdue_days": "is due for a visit by their usual rhythm",
        "last_division": "last bought {value}",
        "n_divisions": "buys across several divisions",
        "n_boutiques": "visits several boutiques",
        "share_abroad": "often buys while travelling",
        "share_online": "often buys online",
        "returns_ratio": "keeps what they buy",
        "previous_division": "bought {value} the time before",
        "last_division_streak": "keeps coming back to the same division",
        "last_division_share": "mostly buys in the division of the last purchase",
        "season_last_year_division": "bought {value} at this time last year",
        "season_last_year_occasions": "bought at this time last year",
        "days_to_season_anniversary": "a yearly purchase anniversary is coming up",
        "habitual_month": "has a favourite time of year to buy",
        "habitual_month_share": "buys at the same time every year",
        "days_to_habitual_month": "usually buys around this time of year",
        "launch_occasions": "comes to collection launches",
        "private_sale_occasions": "comes to private sales",
        "launch_share": "often buys at collection launches",
        "private_sale_share": "often buys at private sales",
        "recency_tenure_ratio": "bought recently for a client of their standing",
        "occasions_per_year": "buys several times a year",
        "bgnbd_p_alive": "still an active client",
    }
    for window in WINDOWS:
        reasons[f"occasions_{window}d"] = f"bought in the last {window} days"
        reasons[f"spend_{window}d"] = f"spent a lot in the last {window} days"
    for division in DIVISIONS:
        slug = division_slug(division)
        reasons[f"division_share_{slug}"] = f"buys mostly {division}"
        reasons[f"division_recency_{slug}"] = f"bought {division} recently"
    for month, name in enumerate(MONTH_NAMES, start=1):
        reasons[f"month_share_{month:02d}"] = f"often buys in {name}"
    for horizon in BGNBD_HORIZONS:
        reasons[f"bgnbd_expected_{horizon}d"] = "buying rhythm points to a purchase soon"
        reasons[f"bgnbd_p_buy_{horizon}d"] = "buying rhythm points to a purchase soon"
    return reasons


BOUTIQUE_REASONS: dict[str, str] = {
    "horizon": "close to the forecast day",
    "visitors_last": "busy on the last day",
    "days_since_last_observed": "recent counts are missing",
    "same_weekday_mean_4w": "this weekday has been busy lately",
    "same_weekday_mean_8w": "this weekday is usually busy",
    "same_day_last_year": "busy on the same day last year",
    "level_trend_28": "traffic is rising",
    "level_vs_last_year_28": "busier than a year ago",
    "missing_share_28": "recent counts are missing",
    "days_observed": "long sensor history",
    "weekday": "busy day of the week",
    "week_of_year": "busy time of year",
    "month": "busy month",
    "day_of_month": "busy time of the month",
    "day_of_year": "busy time of year",
    "is_weekend": "weekend",
    "is_christmas_run_up": "Christmas shopping season",
    "is_chinese_new_year_window": "Chinese New Year",
    "is_golden_week_china": "Golden Week in China",
    "is_golden_week_japan": "Golden Week in Japan",
    "is_public_holiday": "public holiday",
    "days_to_next_holiday": "a holiday is near",
    "days_since_last_holiday": "just after a holiday",
    "event_collection_launch": "collection launch",
    "event_private_sale": "private sale",
    "event_closure": "closure planned",
    "event_disruption": "disruption planned",
    "open_hours": "long opening hours",
    "boutique_age_days": "established boutique",
    "format": "{value} format",
    "country": "in {value}",
    "hour": "busy hour of the day",
    "is_open_hour": "the boutique is open",
    "hour_of_week_mean_4w": "this hour has been busy lately",
    "hour_of_week_mean_8w": "this hour is usually busy",
    "same_hour_last_week": "busy at this hour last week",
}


def boutique_reason(name: str, description: str) -> str:
    """The reason of a boutique feature: its own phrase, or one derived from its name."""
    if name in BOUTIQUE_REASONS:
        return BOUTIQUE_REASONS[name]
    if name.startswith("visitors_"):
        return "busy lately"
    return description.rstrip(".").lower()


def boutique_catalogue() -> list[FeatureDoc]:
    """The boutique features, or none while :mod:`features.boutique_features` is unavailable."""
    try:
        from features.boutique_features import (
            BOUTIQUE_FEATURES,
            CATEGORICAL_BOUTIQUE_FEATURES,
        )
    except ImportError:
        return []
    return [
        FeatureDoc(
            name,
            "boutique",
            description,
            boutique_reason(name, description),
            name in CATEGORICAL_BOUTIQUE_FEATURES,
        )
        for name, description in BOUTIQUE_FEATURES.items()
    ]


def feature_catalogue() -> list[FeatureDoc]:
    """Every client feature then every boutique feature, in their frames' column order."""
    reasons = client_reasons()
    clients = [
        FeatureDoc(
            name,
            "client",
            description,
            None if name in CLIENT_ATTRIBUTES else reasons[name],
            name in CATEGORICAL_CLIENT_FEATURES,
        )
        for name, description in CLIENT_FEATURES.items()
    ]
    return clients + boutique_catalogue()


CONVENTIONS: tuple[str, ...] = (
    "## How the client features are computed",
    "",
    "- **Local time.** Each line's UTC time is converted to its boutique's time zone; the local",
    "  date decides on which side of a cutoff it falls. A purchase at 23:30 in New York counts on",
    "  that day even though it is already the next day in UTC.",
    "- **Money.** Amounts are converted to the reference currency (EUR by default) at the rate of",
    "  the local purchase date, or the nearest earlier rate when that day has none.",
    "- **Purchase occasions.** A receipt is one occasion (a client-day where receipt ids are",
    "  missing). Its lines are netted: a receipt whose net amount is not positive is a return,",
    "  not an occasion. Its main division is the division with the largest net amount. Walk-ins",
    "  (no client) never enter client features.",
    "- **Point in time.** Features at *t* read only lines dated before *t*; labels read only",
    "  `[t, t + H)`. Clients appear once they have an occasion before *t*.",
    "- **BG/NBD.** The model is fitted at each cutoff on the clients known then (a deterministic",
    f"  sample of {BGNBD_FIT_CLIENTS:,} when there are more); a shard of clients computed with the",
    "  population's model gives the same rows as the whole.",
    "- **Labels.** `label_occasions`, `label_bought`, `label_bought_30d`, `label_spend` (net,",
    "  clipped at 0), `label_division` (main division of the first occasion),",
    "  `label_days_to_next` and `label_censored` (no occasion in the window).",
)


def markdown_cell(text: str) -> str:
    """``text`` made safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """The catalogue as the Markdown page ``docs/features.md``."""
    catalogue = feature_catalogue()
    lines = [
        "# Feature catalogue",
        "",
        "<!-- Generated by `python -m features.catalogue --out docs/features.md`: do not edit. -->",
        "",
        "Every feature the models see, computed at a cutoff *t* from events strictly before *t*",
        "(boutique-local dates). The *reason* is what an associate reads when the feature pushes a",
        "prediction up; `{value}` is replaced by the feature's value. Client attributes (age,",
        "gender, language, tier, country, contact consent) have none (—): reasons speak of",
        "behaviour, never of who a client is. *cat.* marks categorical features.",
        "",
        *CONVENTIONS,
    ]
    titles = {
        "client": "Client features (next purchase)",
        "boutique": "Boutique features (footfall)",
    }
    for entity, title in titles.items():
        docs = [doc for doc in catalogue if doc.entity == entity]
        lines += ["", f"## {title}", ""]
        if not docs:
            lines.append("_Not available yet._")
            continue
        lines += ["| feature | description | reason | cat. |", "|---|---|---|---|"]
        lines += [
            f"| `{doc.name}` | {markdown_cell(doc.description)} "
            f"| {markdown_cell(doc.reason or '—')} | {'yes' if doc.categorical else ''} |"
            for doc in docs
        ]
    return "\n".join(lines) + "\n"


def write_markdown(out: Path) -> Path:
    """Write :func:`render_markdown` to ``out`` atomically (a temporary file, then a rename)."""
    return write_text_atomically(render_markdown(), out)


def main(argv: list[str] | None = None) -> None:
    """``python -m features.catalogue [--out PATH]``: write the catalogue page."""
    parser = argparse.ArgumentParser(prog="python -m features.catalogue", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown file to write.")
    arguments = parser.parse_args(argv)
    path = write_markdown(arguments.out)
    print(f"wrote {len(feature_catalogue())} features to {path}")


if __name__ == "__main__":
    main()
