"""The synthetic maison: contract, consistency, determinism, realism, atomic writing, CLI."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from features.contract import EVENT_KINDS, PERSONAL_COLUMN_PATTERNS, TABLES
from features.errors import UserInputError
from features.history import load_history
from features.synthetic import GenerationSummary, MaisonConfig, generate_maison
from features.synthetic.boutiques import build_boutiques
from features.synthetic.fx import FX_LEVELS_TO_EUR
from features.synthetic.purchases import CROSS_SELL_NEXT
from features.synthetic.sampling import NO_DRAW, RowSampler

SMALL = MaisonConfig(clients=400, boutiques=8, years=1.0, seed=11)


@pytest.fixture(scope="module")
def maison_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small maison generated once for the whole module."""
    out = tmp_path_factory.mktemp("synthetic") / "maison"
    generate_maison(out, SMALL)
    return out


@pytest.fixture(scope="module")
def tables(maison_dir: Path) -> dict[str, pl.DataFrame]:
    """Every table of the small maison, read through the project's own loader."""
    history = load_history(maison_dir)
    return {name: history.table(name).collect() for name in TABLES}


@pytest.fixture(scope="module")
def local_sales(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Transactions with their boutique-local date and hour."""
    zones = tables["boutiques"].select("boutique_id", "timezone")
    parts = [
        part.with_columns(
            local=pl.col("purchased_at")
            .dt.convert_time_zone(part["timezone"][0])
            .dt.replace_time_zone(None)
        )
        for part in tables["transactions"].join(zones, on="boutique_id").partition_by("timezone")
    ]
    return pl.concat(parts).with_columns(local_date=pl.col("local").dt.date())


def boutique_with_role(tables: dict[str, pl.DataFrame], column: str) -> dict[str, object]:
    """The boutique row whose ``column`` (opened_on of the newest, closed_on) is notable."""
    boutiques = tables["boutiques"]
    if column == "closed_on":
        return boutiques.filter(pl.col("closed_on").is_not_null()).row(0, named=True)
    physical = boutiques.filter(pl.col("format") != "online")
    return physical.sort("opened_on").row(-1, named=True)


def test_every_contract_table_is_written_with_contract_types(maison_dir: Path) -> None:
    for name, table in TABLES.items():
        frame = pl.read_parquet(maison_dir / f"{name}.parquet")
        assert frame.height > 0, name
        assert frame.schema == pl.Schema(table.schema()), name


def test_keys_are_unique(tables: dict[str, pl.DataFrame]) -> None:
    for name, table in TABLES.items():
        if table.key:
            assert not tables[name].select(table.key).is_duplicated().any(), name


def test_every_reference_resolves(tables: dict[str, pl.DataFrame]) -> None:
    for name, table in TABLES.items():
        for column, (target, target_column) in table.foreign_keys.items():
            values = tables[name].select(pl.col(column).drop_nulls().unique())
            known = tables[target].select(pl.col(target_column).alias(column))
            missing = values.join(known, on=column, how="anti")
            assert missing.is_empty(), f"{name}.{column}: {missing.head(3)}"


def test_fx_covers_every_currency_on_every_sale_day(
    tables: dict[str, pl.DataFrame], local_sales: pl.DataFrame
) -> None:
    fx = tables["fx_rates"]
    for day in (pl.col("local_date"), pl.col("purchased_at").dt.date()):
        needed = local_sales.select("currency", day.alias("date")).unique()
        assert needed.join(fx, on=["currency", "date"], how="anti").is_empty()
    reference = fx.filter(pl.col("currency") == SMALL.reference_currency)
    assert (reference["rate_to_reference"] == 1.0).all()
    assert reference.height >= SMALL.n_days
    assert (
        fx.filter(pl.col("currency") == "JPY")["rate_to_reference"].is_between(0.004, 0.009).all()
    )


def test_same_seed_same_tables_other_seed_other_tables(
    tmp_path: Path, tables: dict[str, pl.DataFrame]
) -> None:
    generate_maison(tmp_path / "again", SMALL)
    again = load_history(tmp_path / "again")
    for name in TABLES:
        assert again.table(name).collect().equals(tables[name]), name
    other = MaisonConfig(clients=SMALL.clients, boutiques=8, years=1.0, seed=SMALL.seed + 1)
    generate_maison(tmp_path / "other", other)
    changed = pl.read_parquet(tmp_path / "other" / "transactions.parquet")
    assert not changed.equals(tables["transactions"])


def test_footfall_gaps_are_absent_or_null_never_zero(
    tables: dict[str, pl.DataFrame], local_sales: pl.DataFrame
) -> None:
    footfall = tables["footfall"]
    assert footfall["visitors"].null_count() > 0
    assert (footfall["visitors"].drop_nulls() > 0).all()
    counted_days = footfall.select("boutique_id", local_date=pl.col("hour_start").dt.date())
    physical = tables["boutiques"].filter(pl.col("format") != "online")["boutique_id"]
    sale_days = local_sales.filter(pl.col("boutique_id").is_in(physical.implode())).select(
        "boutique_id", "local_date"
    )
    # Whole-day sensor outages: the boutique sold that day, the counter has no row at all.
    outage_days = sale_days.unique().join(counted_days.unique(), on=sale_days.columns, how="anti")
    assert outage_days.height > 0


def test_footfall_follows_opening_hours_and_closures(tables: dict[str, pl.DataFrame]) -> None:
    footfall = tables["footfall"].join(tables["boutiques"], on="boutique_id")
    hours = footfall["hour_start"].dt.hour()
    assert hours.min() >= 10 and hours.max() <= 21
    assert (footfall["hour_start"].dt.minute() == 0).all()
    christmas = footfall.filter(
        pl.col("country").is_in(["FR", "GB", "US", "IT"]),
        pl.col("hour_start").dt.month() == 12,
        pl.col("hour_start").dt.day() == 25,
    )
    assert christmas.is_empty()
    per_weekday = footfall.group_by("boutique_id", weekday=pl.col("hour_start").dt.weekday()).agg(
        open_hours=pl.col("hour_start").dt.hour().n_unique()
    )
    london = per_weekday.filter(pl.col("boutique_id") == "B002").sort("weekday")["open_hours"]
    assert london[6] < london[2]  # shorter Sunday trading hours in the UK


def test_nothing_after_closing_or_before_opening(
    tables: dict[str, pl.DataFrame], local_sales: pl.DataFrame
) -> None:
    closed = boutique_with_role(tables, "closed_on")
    new = boutique_with_role(tables, "opened_on")
    assert SMALL.start < closed["closed_on"] < SMALL.end
    assert SMALL.end - timedelta(days=183) <= new["opened_on"] <= SMALL.end
    footfall = tables["footfall"].with_columns(local_date=pl.col("hour_start").dt.date())
    for frame in (footfall, local_sales):
        after = frame.filter(
            pl.col("boutique_id") == closed["boutique_id"],
            pl.col("local_date") >= closed["closed_on"],
        )
        before = frame.filter(
            pl.col("boutique_id") == new["boutique_id"],
            pl.col("local_date") < new["opened_on"],
        )
        assert after.is_empty() and before.is_empty()
    assert local_sales.filter(pl.col("boutique_id") == new["boutique_id"]).height > 0


def test_walk_ins_and_returns_are_present(tables: dict[str, pl.DataFrame]) -> None:
    transactions = tables["transactions"]
    walk_in_share = transactions["client_id"].is_null().mean()
    return_share = (transactions["quantity"] < 0).mean()
    assert 0.2 < walk_in_share < 0.95
    assert 0.005 < return_share < 0.1
    assert ((transactions["quantity"] < 0) == (transactions["amount"] < 0)).all()
    assert (transactions["quantity"] != 0).all()


def test_returns_come_later_in_the_same_boutique_on_a_new_receipt(
    tables: dict[str, pl.DataFrame],
) -> None:
    transactions = tables["transactions"]
    returns = transactions.filter(pl.col("quantity") < 0)
    sales = transactions.filter(pl.col("quantity") > 0)
    keys = ["boutique_id", "product_id", "client_id"]
    matched = returns.join(sales, on=keys, how="left", nulls_equal=True, suffix="_sale").filter(
        pl.col("purchased_at_sale") < pl.col("purchased_at"),
        (-pl.col("amount"))
        == pl.col("amount_sale") * (-pl.col("quantity") / pl.col("quantity_sale")),
    )
    assert matched["transaction_id"].n_unique() == returns.height
    mixed = transactions.group_by("receipt_id").agg((pl.col("quantity") < 0).n_unique() > 1)
    assert not mixed["quantity"].any()


def test_online_boutique_sells_but_counts_no_visitors(tables: dict[str, pl.DataFrame]) -> None:
    online = tables["boutiques"].filter(pl.col("format") == "online")
    assert online.height == 1
    online_id = online["boutique_id"][0]
    assert tables["transactions"].filter(pl.col("boutique_id") == online_id).height > 0
    assert tables["footfall"].filter(pl.col("boutique_id") == online_id).is_empty()


def test_first_purchase_date_matches_the_first_local_purchase(
    tables: dict[str, pl.DataFrame], local_sales: pl.DataFrame
) -> None:
    first = (
        local_sales.filter(pl.col("client_id").is_not_null())
        .group_by("client_id")
        .agg(first_local=pl.col("local_date").min())
    )
    clients = tables["clients"].join(first, on="client_id", how="left")
    joined_before = clients.filter(pl.col("first_purchase_date") < SMALL.start)
    joined_during = clients.filter(pl.col("first_purchase_date") >= SMALL.start)
    assert joined_before.height > 0 and joined_during.height > 0
    assert (joined_during["first_local"] == joined_during["first_purchase_date"]).all()
    assert joined_before.filter(pl.col("first_local") < pl.col("first_purchase_date")).is_empty()


def test_clients_are_pseudonymous_and_plausible(tables: dict[str, pl.DataFrame]) -> None:
    clients = tables["clients"]
    for column in clients.columns:
        assert not any(pattern in column.lower() for pattern in PERSONAL_COLUMN_PATTERNS), column
    assert 0.6 < clients["contact_opt_in"].mean() < 0.9
    assert set(clients["tier"].unique()) == {"top", "gold", "silver", "core"}
    assert clients["birth_year"].is_between(SMALL.end.year - 90, SMALL.end.year - 18).all()
    assert clients["client_id"].str.contains(r"^C\d{7}$").all()


def test_products_cover_divisions_with_realistic_price_levels(
    tables: dict[str, pl.DataFrame],
) -> None:
    sales = (
        tables["transactions"]
        .filter(pl.col("quantity") > 0, pl.col("currency") == "EUR")
        .join(tables["products"], on="product_id")
        .group_by("division")
        .agg(median_unit=(pl.col("amount") / pl.col("quantity")).median())
    )
    median = dict(sales.iter_rows())
    assert len(tables["products"]["division"].unique()) == 7
    assert median["fragrance & beauty"] < median["shoes"] < median["jewellery"]
    assert median["watches"] > 10 * median["fragrance & beauty"]


def test_events_are_well_formed_and_the_renovation_lowers_footfall(
    tables: dict[str, pl.DataFrame],
) -> None:
    events = tables["events"]
    assert set(events["kind"].unique()) <= set(EVENT_KINDS)
    assert {"collection_launch", "private_sale", "disruption", "closure"} <= set(events["kind"])
    assert events.filter(pl.col("boutique_id").is_null() & pl.col("country").is_null()).is_empty()

    renovation = events.filter(pl.col("kind") == "disruption")
    boutique = renovation["boutique_id"][0]
    daily = (
        tables["footfall"]
        .filter(pl.col("boutique_id") == boutique)
        .group_by(date=pl.col("hour_start").dt.date())
        .agg(visitors=pl.col("visitors").sum())
        .with_columns(renovated=pl.col("date").is_in(renovation["date"].implode()))
    )
    by_state = dict(daily.group_by("renovated").agg(pl.col("visitors").median()).iter_rows())
    assert by_state[True] < 0.6 * by_state[False]


def test_sales_peak_before_christmas(local_sales: pl.DataFrame) -> None:
    monthly = local_sales.group_by(month=pl.col("local_date").dt.month()).len()
    counts = dict(monthly.iter_rows())
    assert counts[12] > 1.3 * float(np.median(list(counts.values())))


def test_default_network_spans_countries_currencies_and_formats() -> None:
    config = MaisonConfig()
    boutiques = build_boutiques(config, np.random.default_rng(0))
    assert boutiques.height == 30
    assert boutiques["country"].n_unique() >= 10
    assert boutiques["currency"].n_unique() >= 6
    assert set(boutiques["format"]) == {"flagship", "boutique", "corner", "outlet", "online"}
    for zone in boutiques["timezone"]:
        ZoneInfo(zone)


@settings(max_examples=25, deadline=None)
@given(count=st.integers(min_value=8, max_value=200), seed=st.integers(0, 2**32 - 1))
def test_any_boutique_count_gives_a_complete_network(count: int, seed: int) -> None:
    config = MaisonConfig(clients=100, boutiques=count, years=1.0)
    boutiques = build_boutiques(config, np.random.default_rng(seed))
    assert boutiques.height == count
    assert boutiques["boutique_id"].is_unique().all()
    assert (boutiques["format"] == "online").sum() == 1
    new = boutiques.filter(pl.col("opened_on") > config.start)
    assert new.height == 1 and config.end - new["opened_on"][0] <= timedelta(days=183)
    closed = boutiques.filter(pl.col("closed_on").is_not_null())
    assert closed.height == 1 and config.start < closed["closed_on"][0] < config.end
    assert set(boutiques["currency"]) <= set(FX_LEVELS_TO_EUR)


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(
        st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0]), min_size=6, max_size=6),
        min_size=1,
        max_size=4,
    ),
    low=st.integers(0, 5),
    width=st.integers(0, 5),
    seed=st.integers(0, 1000),
)
def test_row_sampler_draws_only_weighted_columns_within_bounds(
    weights: list[list[float]], low: int, width: int, seed: int
) -> None:
    matrix = np.array(weights)
    sampler = RowSampler.from_weights(matrix)
    rows = np.repeat(np.arange(matrix.shape[0]), 50)
    high = min(low + width, 5)
    drawn = sampler.sample(
        rows,
        np.random.default_rng(seed),
        low=np.full(rows.size, low),
        high=np.full(rows.size, high),
    )
    possible = matrix[:, low : high + 1].sum(axis=1) > 0
    assert ((drawn == NO_DRAW) == ~possible[rows]).all()
    hits = drawn != NO_DRAW
    assert ((drawn[hits] >= low) & (drawn[hits] <= high)).all()
    assert (matrix[rows[hits], drawn[hits]] > 0).all()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("boutiques", 5, "boutiques"),
        ("clients", 0, "clients"),
        ("years", 0.1, "years"),
        ("seed", -1, "seed"),
        ("reference_currency", "XXX", "reference_currency"),
        ("end", date(2099, 1, 1), "history must lie"),
    ],
)
def test_nonsense_configs_are_user_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        MaisonConfig(**{field: value})


def test_refuses_to_overwrite_a_folder_that_is_not_a_maison(tmp_path: Path) -> None:
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="not maison tables"):
        generate_maison(precious, MaisonConfig(clients=20, boutiques=8, years=0.5))
    assert (precious / "notes.txt").read_text() == "keep me"


def test_regenerating_replaces_the_maison_and_leaves_no_temporary_folder(tmp_path: Path) -> None:
    out = tmp_path / "maison"
    generate_maison(out, MaisonConfig(clients=20, boutiques=8, years=0.5, seed=1))
    summary = generate_maison(out, MaisonConfig(clients=30, boutiques=8, years=0.5, seed=2))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["maison"]
    assert pl.read_parquet(out / "clients.parquet").height == 30
    assert summary.rows["clients"] == 30


def test_summary_renders_tables_rows_and_time(maison_dir: Path) -> None:
    summary = GenerationSummary(maison_dir, {"clients": 400, "boutiques": 8}, 1.5, SMALL)
    console = Console(record=True, width=160)
    console.print(summary)
    text = console.export_text()
    assert "clients" in text and "400" in text and "1.5 s" in text
    assert str(summary).startswith("wrote 2 tables (408 rows)")


def test_cli_generate_writes_a_maison(tmp_path: Path) -> None:
    from clientcast.cli import app

    out = tmp_path / "cli-maison"
    arguments = ["generate", "--out", str(out), "--clients", "300", "--boutiques", "8"]
    result = CliRunner().invoke(app, [*arguments, "--years", "1"])
    assert result.exit_code == 0, result.output
    assert "wrote 7 tables" in result.output
    assert pl.read_parquet(out / "clients.parquet").height == 300


@pytest.mark.parametrize(
    "options",
    [["--boutiques", "3"], ["--end", "2099-01-01"], ["--end", "yesterday"]],
)
def test_cli_generate_bad_option_exits_2(tmp_path: Path, options: list[str]) -> None:
    from clientcast.cli import app

    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "m"), *options])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "m").exists()


def test_generated_maison_validates_clean(maison_dir: Path) -> None:
    validation = pytest.importorskip("features.validation")
    report = validation.validate_history(maison_dir)
    assert report.ok, report.to_dict()


def test_ensure_maison_generates_once_into_a_folder_named_by_size(tmp_path: Path) -> None:
    from features.synthetic import ensure_maison

    assert MaisonConfig().folder_name == "maison"
    config = MaisonConfig(clients=40, boutiques=8, years=0.5)
    assert config.folder_name == "maison-40c-8b-0.5y"
    folder = ensure_maison(tmp_path / config.folder_name, config)
    clients = folder / "clients.parquet"
    written = clients.stat().st_mtime_ns
    assert ensure_maison(folder, config) == folder
    assert clients.stat().st_mtime_ns == written


def test_repeat_purchases_follow_the_cross_sell_progression(
    tables: dict[str, pl.DataFrame],
) -> None:
    """About half of the repeat receipts lead with the successor of the previous one's division
    (about a tenth would by the affinities alone)."""
    leads = (
        tables["transactions"]
        .filter(pl.col("client_id").is_not_null() & (pl.col("quantity") > 0))
        .sort("transaction_id")
        .group_by("receipt_id")
        .agg(pl.col("client_id", "purchased_at", "product_id").first())
        .join(tables["products"].select("product_id", "division"), on="product_id")
        .sort("client_id", "purchased_at")
        .with_columns(previous=pl.col("division").shift(1).over("client_id"))
        .filter(pl.col("previous").is_not_null())
    )
    follows = leads.select(
        (pl.col("previous").replace_strict(CROSS_SELL_NEXT) == pl.col("division")).mean()
    ).item()
    assert leads.height > 300
    assert 0.4 < follows < 0.7
