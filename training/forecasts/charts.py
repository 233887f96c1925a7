"""The report's figures: matplotlib drawings turned into PNG ``data:`` URIs that work offline.

Every function takes small eager polars frames of one boutique (or of the maison) and returns a
:class:`matplotlib.figure.Figure` built without pyplot, so no global state or display is used;
:func:`png_data_uri` then embeds it in the HTML report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

BAND_COLOUR = "#9ecae1"
FORECAST_COLOUR = "#08519c"
LAST_YEAR_COLOUR = "#737373"
HOLIDAY_COLOUR = "#cb181d"
EVENT_COLOUR = "#6a51a3"
ACTUAL_COLOUR = "#000000"
FULL_WIDTH = 11.5
"""Inches: at 96 dpi a chart fills the report's column."""
DIVISION_COLOURS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
)


def new_figure(width: float, height: float, rows: int = 1, columns: int = 1) -> tuple[Any, Any]:
    """A figure of ``width`` × ``height`` inches with its axes, drawn by the Agg backend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes if rows * columns > 1 else axes[0, 0]


def png_data_uri(figure: Any, dpi: int = 96) -> str:
    """The figure as a base64 PNG ``data:`` URI for an ``<img src=...>``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def weekly_date_axis(axes: Any) -> None:
    """Ticks every Monday labelled like 'Mon 6 Jul', grid lines on them."""
    import matplotlib.dates as mdates

    axes.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    axes.grid(axis="both", color="#e0e0e0", linewidth=0.6)


def _values(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame.get_column(column).cast(pl.Float64).to_numpy()


def daily_footfall_figure(
    forecast: pl.DataFrame,
    last_year: pl.DataFrame,
    markers: pl.DataFrame,
    title: str,
) -> Any:
    """The next weeks of daily visitors: the P10–P90 band, the P50 line, last year and markers.

    ``forecast`` has date, p10, p50, p90; ``last_year`` has date (this year's date) and visitors
    (the same weekday 52 weeks earlier, null when unknown); ``markers`` has date, kind
    ('holiday' or 'event') and label, drawn as labelled vertical lines.
    """
    forecast = forecast.sort("date")
    dates = forecast.get_column("date").to_list()
    figure, axes = new_figure(FULL_WIDTH, 3.8)
    axes.fill_between(
        dates,
        _values(forecast, "p10"),
        _values(forecast, "p90"),
        color=BAND_COLOUR,
        alpha=0.7,
        linewidth=0,
        label="likely range (8 days in 10)",
    )
    axes.plot(
        dates,
        _values(forecast, "p50"),
        color=FORECAST_COLOUR,
        linewidth=2.0,
        label="expected visitors",
    )
    previous = last_year.sort("date").drop_nulls("visitors")
    if previous.height:
        axes.plot(
            previous.get_column("date").to_list(),
            _values(previous, "visitors"),
            color=LAST_YEAR_COLOUR,
            linestyle="--",
            linewidth=1.2,
            label="same weekdays last year",
        )
    top = float(np.nanmax(_values(forecast, "p90"), initial=1.0))
    seen: set[str] = set()
    for kind, day, label in markers.sort("date").select("kind", "date", "label").iter_rows():
        colour = HOLIDAY_COLOUR if kind == "holiday" else EVENT_COLOUR
        legend = "public holiday" if kind == "holiday" else "maison event"
        axes.axvline(
            day,
            color=colour,
            linestyle=":",
            linewidth=1.2,
            label=None if legend in seen else legend,
        )
        seen.add(legend)
        axes.annotate(
            str(label)[:28],
            (day, top),
            xytext=(2, -2),
            textcoords="offset points",
            rotation=90,
            fontsize=7,
            color=colour,
            va="top",
        )
    axes.set_ylim(bottom=0, top=top * 1.05)
    axes.set_ylabel("visitors per day")
    axes.set_title(title, loc="left", fontsize=11)
    weekly_date_axis(axes)
    axes.legend(loc="upper left", fontsize=8, ncols=5, frameon=False, bbox_to_anchor=(0, -0.28))
    return figure


def ranking_figure(labels: Sequence[str], values: Sequence[float], xlabel: str, title: str) -> Any:
    """Horizontal bars, largest at the top, each labelled with its value."""
    order = np.argsort(np.asarray(values, dtype=np.float64), kind="stable")
    figure, axes = new_figure(FULL_WIDTH, 0.3 * len(labels) + 1.2)
    ordered = [float(values[i]) for i in order]
    bars = axes.barh([labels[i] for i in order], ordered, color=FORECAST_COLOUR)
    axes.bar_label(bars, labels=[f"{value:,.0f}" for value in ordered], padding=3, fontsize=8)
    axes.set_xlabel(xlabel)
    axes.set_title(title, loc="left", fontsize=11)
    axes.margins(x=0.12)
    axes.tick_params(axis="y", labelsize=8)
    return figure


def division_spend_figure(spend: pl.DataFrame, currency: str, title: str) -> Any:
    """Stacked horizontal bars of expected spend per boutique, one colour per division.

    ``spend`` has label (the boutique), division and expected_spend (in ``currency``).
    """
    wide = spend.pivot(on="division", index="label", values="expected_spend").fill_null(0.0)
    divisions = [column for column in wide.columns if column != "label"]
    wide = wide.with_columns(pl.sum_horizontal(divisions).alias("total")).sort("total")
    labels = wide.get_column("label").to_list()
    figure, axes = new_figure(FULL_WIDTH, 0.3 * len(labels) + 1.8)
    left = np.zeros(len(labels))
    for position, division in enumerate(divisions):
        values = wide.get_column(division).to_numpy() / 1_000.0
        colour = DIVISION_COLOURS[position % len(DIVISION_COLOURS)]
        axes.barh(labels, values, left=left, color=colour, label=division)
        left += values
    axes.set_xlabel(f"expected spend, thousands of {currency}")
    axes.set_title(title, loc="left", fontsize=11)
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(fontsize=8, ncols=4, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.12))
    return figure


def forecast_vs_actual_figure(frames: dict[str, pl.DataFrame], title: str) -> Any:
    """Small multiples: what was forecast (band and P50) and what happened, per boutique.

    ``frames`` maps a boutique label to a frame with date, p10, p50, p90 and actual.
    """
    count = max(len(frames), 1)
    columns = 2 if count > 1 else 1
    rows = -(-count // columns)
    figure, grid = new_figure(FULL_WIDTH, 2.8 * rows, rows, columns)
    panels = np.atleast_1d(grid).ravel()
    for axes, (label, frame) in zip(panels, frames.items(), strict=False):
        frame = frame.sort("date")
        dates = frame.get_column("date").to_list()
        axes.fill_between(
            dates,
            _values(frame, "p10"),
            _values(frame, "p90"),
            color=BAND_COLOUR,
            alpha=0.7,
            linewidth=0,
            label="forecast range",
        )
        axes.plot(dates, _values(frame, "p50"), color=FORECAST_COLOUR, label="forecast")
        axes.plot(
            dates,
            _values(frame, "actual"),
            color=ACTUAL_COLOUR,
            marker=".",
            linewidth=0.8,
            label="what happened",
        )
        axes.set_title(label, loc="left", fontsize=10)
        axes.set_ylim(bottom=0)
        axes.set_ylabel("visitors per day", fontsize=8)
        weekly_date_axis(axes)
    for axes in panels[len(frames) :]:
        axes.set_visible(False)
    panels[0].legend(fontsize=8, frameon=False, loc="upper left")
    figure.suptitle(title, x=0.01, ha="left", fontsize=11)
    return figure
