"""``report.html``: the forecasts for a planner, in one self-contained page that works offline.

The page has four sections: the maison overview (boutiques ranked by expected visitors, expected
buyers and spend by division), one part per boutique (the next weeks of daily visitors against
the same weeks last year with holidays and events, the busiest and quietest days, an hourly map
of the next two weeks), how accurate the last forecasts were, and how to read the page. Charts
are PNG images embedded as ``data:`` URIs and the style sheet is inline: no script, no network.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from training.call_lists import MODEL_HORIZON_DAYS, OPEN_MIN_VISITORS
from training.forecasts import charts
from training.forecasts.accuracy import BacktestSummary, FootfallAccuracy, ForecastAccuracy
from training.forecasts.wording import coming_period, long_date, number, percent

HEATMAP_DAYS = 14
BUSIEST_COUNT = 3

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       color: #1a1a1a; background: #fafafa; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 22px; border-bottom: 2px solid #08519c; padding-bottom: 4px; margin-top: 40px; }
h3 { font-size: 18px; margin: 32px 0 8px; }
h4 { font-size: 15px; margin: 16px 0 6px; }
p.lead { color: #444; margin-top: 0; }
nav ul { columns: 3; padding-left: 18px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f0f4f8; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
table.heatmap td { min-width: 34px; padding: 2px 4px; font-size: 12px; }
table.heatmap th { font-size: 12px; padding: 2px 6px; }
img.chart { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.days { display: flex; gap: 32px; flex-wrap: wrap; }
.note { color: #555; font-size: 13px; }
"""


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, as small eager frames (local dates throughout).

    * ``boutiques``: boutique_id, city, country (and format, to name online boutiques).
    * ``daily``: boutique_id, date, p10, p50, p90 (visitors per day).
    * ``hourly``: boutique_id, date, hour, p50 (visitors per hour).
    * ``last_year``: boutique_id, date, visitors (the same weekday 52 weeks before ``date``).
    * ``markers``: boutique_id, date, kind ('holiday' or 'event'), label.
    * ``overview``: boutique_id, expected_visitors (over the daily horizon), expected_buyers and
      expected_spend (next :data:`~training.call_lists.MODEL_HORIZON_DAYS` days, clients
      looked after by the boutique).
    * ``division_spend``: boutique_id, division, expected_spend (the same days).
    """

    as_of: date
    created_at: str
    reference_currency: str
    horizon_days: int
    boutiques: pl.DataFrame
    daily: pl.DataFrame
    hourly: pl.DataFrame
    last_year: pl.DataFrame
    markers: pl.DataFrame
    overview: pl.DataFrame
    division_spend: pl.DataFrame
    accuracy: ForecastAccuracy | None = None
    models: tuple[str, ...] = ()


def escape(text: object) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(text), quote=True)


def html_table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """A plain HTML table; ``numeric`` column positions are right-aligned. Cells are escaped."""
    numeric = numeric or set()

    def cell(tag: str, position: int, text: str) -> str:
        css = ' class="number"' if position in numeric else ""
        return f"<{tag}{css}>{escape(text)}</{tag}>"

    head = "".join(cell("th", i, text) for i, text in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, text) for i, text in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image(figure: object, alt: str) -> str:
    """An ``<img>`` holding the figure as an embedded PNG."""
    return f'<img class="chart" alt="{escape(alt)}" src="{charts.png_data_uri(figure)}">'


def boutique_labels(boutiques: pl.DataFrame) -> dict[str, str]:
    """boutique_id -> 'City (B001)', or 'City online (B009)' for an online boutique."""
    formats = (
        boutiques.get_column("format")
        if "format" in boutiques.columns
        else pl.Series([None] * boutiques.height, dtype=pl.String)
    )
    return {
        boutique_id: f"{city}{' online' if kind == 'online' else ''} ({boutique_id})"
        for boutique_id, city, kind in zip(
            boutiques.get_column("boutique_id"), boutiques.get_column("city"), formats, strict=True
        )
    }


def busiest_and_quietest(daily: pl.DataFrame, count: int = BUSIEST_COUNT) -> pl.DataFrame:
    """Per boutique, the ``count`` open days with the most and the fewest expected visitors.

    Columns: boutique_id, which ('busiest' or 'quietest'), date, p10, p50, p90. A day with less
    than half an expected visitor counts as closed and is never called quiet.
    """
    open_days = daily.filter(pl.col("p50") >= OPEN_MIN_VISITORS)
    rank = pl.col("p50").rank("ordinal", descending=True).over("boutique_id")
    low_rank = pl.col("p50").rank("ordinal").over("boutique_id")
    busiest = open_days.filter(rank <= count).with_columns(pl.lit("busiest").alias("which"))
    quietest = open_days.filter(low_rank <= count).with_columns(pl.lit("quietest").alias("which"))
    return pl.concat([busiest.sort("p50", descending=True), quietest.sort("p50")]).select(
        "boutique_id", "which", "date", "p10", "p50", "p90"
    )


def overview_section(inputs: ReportInputs, labels: dict[str, str]) -> str:
    """The maison overview: the ranking table and the two charts."""
    currency = inputs.reference_currency
    ranked = inputs.overview.sort("expected_visitors", descending=True, nulls_last=True)
    rows = [
        [
            str(position),
            labels.get(row["boutique_id"], row["boutique_id"]),
            number(row["expected_visitors"]),
            number(row["expected_buyers"]),
            number(row["expected_spend"]),
        ]
        for position, row in enumerate(ranked.iter_rows(named=True), start=1)
    ]
    period = coming_period(inputs.horizon_days)
    clients_period = coming_period(MODEL_HORIZON_DAYS)
    headers = [
        "rank",
        "boutique",
        f"expected visitors ({period})",
        f"clients expected to buy ({clients_period})",
        f"expected client spend, {currency} ({clients_period})",
    ]
    visitors = ranked.drop_nulls("expected_visitors")
    parts = [
        '<section id="overview"><h2>Maison overview</h2>',
        f'<p class="lead">Boutiques ranked by the visitors we expect over the {period}, with the '
        f"clients each boutique looks after who are expected to buy in the {clients_period} and "
        "what "
        f"they are expected to spend (in {escape(currency)}, all currencies converted).</p>",
        html_table(headers, rows, numeric={0, 2, 3, 4}),
    ]
    if visitors.height:
        parts.append(
            image(
                charts.ranking_figure(
                    [labels.get(b, b) for b in visitors["boutique_id"].to_list()],
                    visitors["expected_visitors"].to_list(),
                    f"expected visitors, {period}",
                    f"Expected visitors per boutique, {period}",
                ),
                "Expected visitors per boutique",
            )
        )
    spend = inputs.division_spend.filter(pl.col("expected_spend") > 0)
    if spend.height:
        spend = spend.with_columns(
            pl.col("boutique_id")
            .replace_strict(labels, default=pl.col("boutique_id"))
            .alias("label")
        )
        parts.append(
            image(
                charts.division_spend_figure(
                    spend, currency, f"Expected client spend by division, {clients_period}"
                ),
                "Expected client spend by division and boutique",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def days_table(days: pl.DataFrame, markers: pl.DataFrame) -> str:
    """A table of days with their expected visitors, likely range and what is on that day."""
    notes = markers.group_by("date").agg(pl.col("label").unique().sort().str.join(", "))
    days = days.join(notes, on="date", how="left")
    rows = [
        [
            long_date(row["date"]),
            number(row["p50"]),
            f"{number(row['p10'])} – {number(row['p90'])}",
            row["label"] or "",
        ]
        for row in days.iter_rows(named=True)
    ]
    return html_table(["day", "expected visitors", "likely range", "on that day"], rows, {1, 2})


def heat_colour(intensity: float) -> str:
    """A blue from almost white (0) to dark blue (1) as a CSS hex colour."""
    low, high = (247, 251, 255), (8, 48, 107)
    mixed = (
        round(a + (b - a) * min(max(intensity, 0.0), 1.0)) for a, b in zip(low, high, strict=True)
    )
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def hourly_heatmap(hourly: pl.DataFrame) -> str:
    """A table of expected visitors (P50) by day and hour, cells shaded by their value.

    ``hourly`` has date, hour and p50 for one boutique; hours with no expected visitor on any
    day are left out, so the columns are the opening hours.
    """
    hours = (
        hourly.group_by("hour")
        .agg(pl.col("p50").max())
        .filter(pl.col("p50") >= OPEN_MIN_VISITORS)
        .sort("hour")
        .get_column("hour")
        .to_list()
    )
    if not hours:
        return "<p>No visitors expected in these hours.</p>"
    wide = (
        hourly.filter(pl.col("hour").is_in(hours))
        .with_columns(pl.col("hour").cast(pl.String))
        .pivot(on="hour", index="date", values="p50", sort_columns=False)
        .sort("date")
    )
    columns = [str(hour) for hour in hours]
    peak = max(float(hourly.get_column("p50").max() or 0.0), 1.0)
    header = "<th>day</th>" + "".join(f'<th class="number">{hour:02d}h</th>' for hour in hours)
    rows = []
    for row in wide.iter_rows(named=True):
        cells = []
        for column in columns:
            value = row.get(column)
            value = 0.0 if value is None else float(value)
            shade = heat_colour(value / peak)
            ink = "#fff" if value > 0.55 * peak else "#1a1a1a"
            cells.append(
                f'<td class="number" style="background:{shade};color:{ink}">{value:.0f}</td>'
            )
        rows.append(f"<tr><th>{escape(long_date(row['date']))}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="heatmap"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}'
        "</tbody></table>"
    )


def marker_list(markers: pl.DataFrame) -> str:
    """'Tue 14 Jul 2026 National Day (public holiday), ...' in date order."""
    kinds = {"holiday": "public holiday", "event": "maison event"}
    return ", ".join(
        f"{long_date(day)} {label} ({kinds.get(kind, kind)})"
        for day, kind, label in markers.sort("date", "kind").select("date", "kind", "label").rows()
    )


def boutique_section(
    boutique_id: str, label: str, inputs: ReportInputs, extremes: pl.DataFrame
) -> str:
    """One boutique: the daily chart, its busiest and quietest days, the hourly map."""
    mine = pl.col("boutique_id") == boutique_id
    daily = inputs.daily.filter(mine)
    markers = inputs.markers.filter(mine)
    parts = [f'<article id="boutique-{escape(boutique_id)}"><h3>{escape(label)}</h3>']
    if daily.height == 0:
        parts.append("<p>No footfall forecast for this boutique (no recent sensor data).</p>")
        return "".join(parts) + "</article>"
    first, last = daily["date"].min(), daily["date"].max()
    parts.append(
        image(
            charts.daily_footfall_figure(
                daily,
                inputs.last_year.filter(mine),
                markers,
                f"{label}: visitors per day, {long_date(first)} to {long_date(last)}",
            ),
            f"Daily visitors forecast for {label}",
        )
    )
    if markers.height:
        parts.append(f"<p><b>Holidays and events:</b> {escape(marker_list(markers))}.</p>")
    mine_extremes = extremes.filter(mine)
    parts.append('<div class="days">')
    for which, heading in (("busiest", "Busiest days"), ("quietest", "Quietest open days")):
        days = mine_extremes.filter(pl.col("which") == which)
        if days.height:
            parts.append(f"<div><h4>{heading}</h4>{days_table(days, markers)}</div>")
    parts.append("</div>")
    hourly = inputs.hourly.filter(mine & (pl.col("date") < first + timedelta(days=HEATMAP_DAYS)))
    if hourly.height:
        parts.append(
            f"<h4>Expected visitors per hour, next {HEATMAP_DAYS} days</h4>"
            + hourly_heatmap(hourly)
        )
    parts.append("</article>")
    return "".join(parts)


def boutiques_section(inputs: ReportInputs, labels: dict[str, str]) -> str:
    """Every boutique with a forecast, in the order of the overview ranking."""
    order = (
        inputs.overview.sort("expected_visitors", descending=True, nulls_last=True)
        .get_column("boutique_id")
        .to_list()
    )
    forecast_ids = set(inputs.daily.get_column("boutique_id").to_list())
    order = [b for b in order if b in forecast_ids] + sorted(forecast_ids - set(order))
    extremes = busiest_and_quietest(inputs.daily)
    parts = [
        f'<section id="boutiques"><h2>Boutiques: the {coming_period(inputs.horizon_days)}</h2>',
        '<p class="lead">For each boutique: visitors expected each day, the range they will most '
        "likely fall in, the same weekdays last year, public holidays and maison events; then "
        "the busiest and quietest days and an hour-by-hour map of the next two weeks.</p>",
    ]
    parts += [boutique_section(b, labels.get(b, b), inputs, extremes) for b in order]
    parts.append("</section>")
    return "".join(parts)


def accuracy_section(accuracy: ForecastAccuracy | None, labels: dict[str, str]) -> str:
    """How the forecasts made before the latest weeks compare with what happened."""
    parts = ['<section id="accuracy"><h2>How accurate were our last forecasts?</h2>']
    if accuracy is None:
        parts.append("<p>Not enough history yet to check past forecasts.</p></section>")
        return "".join(parts)
    parts.append(accuracy_html(accuracy, labels))
    parts.append("</section>")
    return "".join(parts)


def backtest_html(summary: BacktestSummary) -> str:
    """The footfall model's test before training, in words."""
    return (
        "<h3>Visitors</h3><p>Before it was put to work, the footfall model was tested on the "
        "weeks before its training: each test forecast used only the counts before it and was "
        "compared with the visitors counted.</p><ul>"
        f"<li>Typical error: it was off by <b>{percent(summary.wape)}</b> of the visitors counted "
        "(a simple rule, repeating each weekday of the week before, was off by "
        f"{percent(summary.baseline_wape)}).</li>"
        f"<li><b>{percent(summary.coverage_80)}</b> of the days fell inside the likely range "
        "(it is built to hold 8 days in 10).</li></ul>"
    )


def footfall_accuracy_html(footfall: FootfallAccuracy, labels: dict[str, str]) -> str:
    """Day-by-day accuracy of one earlier footfall forecast, per boutique, with a chart."""
    overall = footfall.overall
    parts = [
        f"<h4>Day by day: {escape(footfall.source)}</h4><p>{number(footfall.days)} days since "
        f"{long_date(footfall.origin)} were counted. The forecast was off by "
        f"<b>{percent(overall['wape'])}</b> of the visitors (the simple rule: "
        f"{percent(overall.get('baseline_wape'))}); <b>{percent(overall['coverage_80'])}</b> "
        "of the days fell inside the likely range.</p>"
    ]
    rows = [
        [
            labels.get(row["boutique_id"], row["boutique_id"]),
            number(row["days"]),
            number(row["actual"]),
            number(row["forecast"]),
            percent(row["wape"]),
            percent(row["baseline_wape"]),
            percent(row["coverage_80"]),
        ]
        for row in footfall.by_boutique.sort("boutique_id").iter_rows(named=True)
    ]
    headers = [
        "boutique",
        "days checked",
        "visitors counted",
        "visitors forecast",
        "typical error",
        "simple rule's error",
        "days inside the likely range",
    ]
    parts.append(html_table(headers, rows, {1, 2, 3, 4, 5, 6}))
    if footfall.examples:
        parts.append(
            image(
                charts.forecast_vs_actual_figure(
                    {labels.get(b, b): frame for b, frame in footfall.examples.items()},
                    "Forecast against what happened",
                ),
                "Forecast against counted visitors for a few boutiques",
            )
        )
    return "".join(parts)


def accuracy_html(accuracy: ForecastAccuracy, labels: dict[str, str]) -> str:
    """The footfall and client parts of the accuracy section."""
    parts: list[str] = []
    if accuracy.backtest is not None:
        parts.append(backtest_html(accuracy.backtest))
    footfall = accuracy.footfall
    if footfall is not None and footfall.by_boutique.height:
        if accuracy.backtest is None:
            parts.append("<h3>Visitors</h3>")
        parts.append(footfall_accuracy_html(footfall, labels))
    clients = accuracy.clients
    if clients is not None:
        parts.append(
            f"<h3>Clients</h3><p>On {long_date(clients.cutoff)} the client model (one that had not "
            f"seen the {MODEL_HORIZON_DAYS} days after) rated {number(clients.clients)} "
            f"clients.</p><ul><li>It expected <b>{number(clients.expected_buyers)}</b> of them to "
            f"buy within {MODEL_HORIZON_DAYS} days; <b>{number(clients.actual_buyers)}</b> did."
            "</li>"
            f"<li>Of the tenth it rated most likely to buy, <b>{percent(clients.top_share_bought)}"
            f"</b> bought, against {percent(clients.overall_share_bought)} of all clients.</li>"
            "</ul>"
        )
    for note in accuracy.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    if not parts:
        parts.append("<p>Not enough history yet to check past forecasts.</p>")
    return "".join(parts)


def about_section(inputs: ReportInputs) -> str:
    """How to read the figures, in plain words."""
    models = "".join(f"<li>{escape(model)}</li>" for model in inputs.models)
    return (
        '<section id="about"><h2>How to read this report</h2><ul>'
        "<li><b>Expected visitors</b> is our central estimate: as likely to be exceeded as not."
        "</li><li>The <b>likely range</b> (the shaded band) should hold the real count on about 8 "
        "days in 10; wider bands mean more uncertainty.</li>"
        "<li>All dates and hours are local to each boutique.</li>"
        f"<li>Money is in {escape(inputs.reference_currency)}, converted at the day's rate.</li>"
        "<li><b>Last year</b> shows the same weekday 52 weeks earlier, so weekends line up.</li>"
        "<li>Clients are counted at the boutique that looks after them.</li></ul>"
        + (f'<p class="note">Models used:</p><ul class="note">{models}</ul>' if models else "")
        + "</section>"
    )


def render_report(inputs: ReportInputs) -> str:
    """The complete HTML page of the report."""
    labels = boutique_labels(inputs.boutiques)
    title = f"Forecasts as of {long_date(inputs.as_of)}"
    last_day = long_date(inputs.as_of - timedelta(days=1))
    navigation = (
        "<nav><ul>"
        '<li><a href="#overview">Maison overview</a></li>'
        '<li><a href="#boutiques">Boutiques</a></li>'
        '<li><a href="#accuracy">How accurate were our last forecasts?</a></li>'
        '<li><a href="#about">How to read this report</a></li>'
        "</ul></nav>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<header><h1>{escape(title)}</h1><p class='lead'>Visitors expected in each boutique and "
        "clients likely to buy, from the data up to "
        f"{escape(last_day)} (prepared {escape(inputs.created_at)})."
        "</p></header>"
        + navigation
        + overview_section(inputs, labels)
        + boutiques_section(inputs, labels)
        + accuracy_section(inputs.accuracy, labels)
        + about_section(inputs)
        + "</main></body></html>"
    )


def write_report(inputs: ReportInputs, path: Path) -> Path:
    """Render the report and write it to ``path`` (UTF-8); return the path."""
    Path(path).write_text(render_report(inputs), encoding="utf-8")
    return Path(path)
