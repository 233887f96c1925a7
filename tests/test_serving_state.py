"""The request path without HTTP: scoring by id, footfall windows, state swaps, reload notices,
and the fail-fast check of ``clientcast serve``."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from features.errors import UserInputError
from serving.call_lists import CallLists
from serving.errors import RequestRejected
from serving.footfall import FootfallForecasts
from serving.reload import BackgroundReload, ReloadNotice, failure_summary
from serving.schemas import ModelFacts
from serving.scoring import NextPurchaseScorer
from serving.startup import check_ready_to_serve, sqlite_store_path
from serving.state import StateSlot
from training.next_purchase.bundle import division_column

AS_OF = date(2026, 7, 1)


class LinearHeads:
    """Heads whose predictions are simple functions of the first feature: easy to check."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_matrix(self, features: np.ndarray, num_threads: int = 0) -> dict:
        self.calls.append(num_threads)
        x = features[:, 0]
        division = np.column_stack([x, 2 * x, np.full_like(x, 0.5), np.zeros_like(x)])
        return {
            "p_buy_30d": x / 20,
            "p_buy_90d": x / 10,
            "expected_spend_90d": 100 * x,
            "division": division / division.sum(axis=1, keepdims=True),
            "days_to_next_p10": x,
            "days_to_next_p50": 2 * x,
            "days_to_next_p90": 3 * x,
        }


@pytest.fixture
def scorer() -> NextPurchaseScorer:
    matrix = np.ascontiguousarray(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]))
    return NextPurchaseScorer(
        heads=LinearHeads(),
        division_classes=("shoes", "watches", "jewellery", "accessories"),
        matrix=matrix,
        client_rows={"c1": 0, "c2": 1, "c3": 2},
        reasons=(("first",), (), ("third", "again")),
        currency="EUR",
        snapshot_date=AS_OF,
        model_version="7",
    )


def test_scores_known_ids_in_request_order_and_answers_unknown_ones(
    scorer: NextPurchaseScorer,
) -> None:
    items = scorer.score(["c3", "nobody", "c1", "c3"])
    assert [item.client_id for item in items] == ["c3", "nobody", "c1", "c3"]
    assert [item.status for item in items] == ["ok", "unknown_client", "ok", "ok"]
    third = items[0]
    assert third.p_buy_90d == pytest.approx(0.3)
    assert third.expected_spend_90d == pytest.approx(300.0)
    assert third.currency == "EUR"
    assert third.days_to_next_purchase is not None
    assert third.days_to_next_purchase.p50 == pytest.approx(6.0)
    assert [d.division for d in third.top_divisions] == ["watches", "shoes", "jewellery"]
    probabilities = [d.probability for d in third.top_divisions]
    assert probabilities == sorted(probabilities, reverse=True)
    assert third.reasons == ["third", "again"]
    assert (third.snapshot_date, third.model_version) == (AS_OF, "7")
    unknown = items[1]
    assert unknown.p_buy_30d is None and unknown.top_divisions == [] and unknown.reasons == []
    assert scorer.heads.calls == [1]  # one booster call per batch, one thread


def test_a_batch_of_unknown_ids_never_reaches_the_model(scorer: NextPurchaseScorer) -> None:
    items = scorer.score(["x", "y"])
    assert [item.status for item in items] == ["unknown_client"] * 2
    assert scorer.heads.calls == []


@pytest.fixture
def forecasts() -> FootfallForecasts:
    days = [AS_OF + timedelta(days=offset) for offset in range(56)]
    hours = [datetime(2026, 7, 1) + timedelta(hours=offset) for offset in range(14 * 24)]
    daily = pl.DataFrame(
        {
            "boutique_id": ["B1"] * 56,
            "date": days,
            "p10": [8.0] * 56,
            "p50": [float(d.day) for d in days],
            "p90": [12.0] * 56,
        }
    )
    hourly = pl.DataFrame(
        {
            "boutique_id": ["B1"] * len(hours),
            "hour_start": hours,
            "p10": 1.0,
            "p50": [float(h.hour) for h in hours],
            "p90": 3.0,
        }
    )
    timezones = {"B1": "Europe/Paris", "B9": "Asia/Tokyo"}
    return FootfallForecasts.build(daily, hourly, timezones, AS_OF, "3")


def test_a_daily_window_is_a_slice_of_the_precomputed_forecast(
    forecasts: FootfallForecasts,
) -> None:
    answer = forecasts.window("B1", date(2026, 7, 10), 3, "daily")
    assert [p.start.date() for p in answer.periods] == [
        date(2026, 7, 10),
        date(2026, 7, 11),
        date(2026, 7, 12),
    ]
    assert [p.p50 for p in answer.periods] == [10.0, 11.0, 12.0]
    assert (answer.timezone, answer.model_version, answer.granularity) == (
        "Europe/Paris",
        "3",
        "daily",
    )


def test_an_hourly_window_has_24_periods_a_day(forecasts: FootfallForecasts) -> None:
    answer = forecasts.window("B1", date(2026, 7, 14), 1, "hourly")
    assert len(answer.periods) == 24
    assert answer.periods[0].start == datetime(2026, 7, 14, 0)
    assert answer.periods[13].p50 == 13.0


@pytest.mark.parametrize(
    ("boutique", "start", "days", "granularity", "field", "status"),
    [
        ("B404", date(2026, 7, 2), 3, "daily", "boutique_id", 404),
        ("B9", date(2026, 7, 2), 3, "daily", "boutique_id", 404),
        ("B1", date(2026, 6, 30), 3, "daily", "start", 400),
        ("B1", date(2026, 8, 26), 1, "daily", "start", 400),
        ("B1", date(2026, 8, 20), 7, "daily", "days", 400),
        ("B1", date(2026, 7, 1), 15, "hourly", "days", 400),
        ("B1", date(2026, 7, 15), 1, "hourly", "start", 400),
    ],
)
def test_out_of_range_windows_name_the_field(
    forecasts: FootfallForecasts,
    boutique: str,
    start: date,
    days: int,
    granularity: str,
    field: str,
    status: int,
) -> None:
    with pytest.raises(RequestRejected) as rejected:
        forecasts.window(boutique, start, days, granularity)  # type: ignore[arg-type]
    assert rejected.value.field == field
    assert rejected.value.status_code == status
    assert str(rejected.value).startswith(f"{field}: ")


def test_the_last_days_of_the_range_are_served(forecasts: FootfallForecasts) -> None:
    assert len(forecasts.window("B1", date(2026, 8, 20), 6, "daily").periods) == 6
    assert len(forecasts.window("B1", date(2026, 7, 14), 1, "hourly").periods) == 24


def test_a_swap_leaves_the_previous_state_to_the_requests_holding_it() -> None:
    slot = StateSlot("old")  # type: ignore[arg-type]
    held = slot.current
    previous, current = slot.replace(lambda: "new")  # type: ignore[arg-type,return-value]
    assert (held, previous, current, slot.current) == ("old", "old", "new", "new")

    def failing() -> str:
        raise UserInputError("no champion")

    with pytest.raises(UserInputError):
        slot.replace(failing)  # type: ignore[arg-type]
    assert slot.current == "new"


def test_a_published_notice_reloads_the_other_workers_only(tmp_path: Path) -> None:
    path = tmp_path / ".serving-reload"
    first, second = ReloadNotice(path), ReloadNotice(path)
    assert not first.changed() and not second.changed()
    assert first.publish()
    assert not first.changed()  # the publisher already reloaded
    assert second.changed()
    assert not second.changed()  # acknowledged once


def test_the_watcher_reloads_when_another_worker_publishes(tmp_path: Path) -> None:
    path = tmp_path / ".serving-reload"
    watcher, publisher = ReloadNotice(path), ReloadNotice(path)
    reloaded = threading.Event()
    stop = threading.Event()
    thread = watcher.watch(reloaded.set, stop, every=0.01)
    publisher.publish()
    assert reloaded.wait(5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_an_unwritable_notice_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    notice = ReloadNotice(tmp_path / "a-file" / ".serving-reload")
    assert notice.publish() is False


def test_a_published_notice_is_written_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    notice = ReloadNotice(tmp_path / ".serving-reload")
    assert notice.publish() and notice.publish()
    assert [path.name for path in tmp_path.iterdir()] == [".serving-reload"]
    assert len(notice.stamp() or "") == 32


def test_one_background_reload_at_a_time_and_its_failure_logged_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    runs: list[str] = []

    def slow_reload() -> str:
        runs.append(threading.current_thread().name)
        release.wait(5)
        return "new state"

    reloads = BackgroundReload(slow_reload)
    first = reloads.start()
    assert reloads.start() is first  # a second request joins the reload in progress
    assert not first.done()  # the caller is not blocked by the work
    release.set()
    assert first.result(5) == "new state"
    assert runs and runs[0] != threading.current_thread().name
    assert reloads.start().result(5) == "new state" and len(runs) == 2

    def broken_reload() -> str:
        raise ValueError("clients.parquet: invalid footer\nrow 3: C0000395 gold")

    failing = BackgroundReload(broken_reload)
    with caplog.at_level("WARNING", logger="serving.reload"):
        with pytest.raises(ValueError):
            failing.start().result(5)
        failing.shutdown()
    assert "ValueError: clients.parquet: invalid footer" in caplog.text
    assert "C0000395" not in caplog.text


def test_a_failure_is_summarised_by_class_and_first_line() -> None:
    assert failure_summary(OSError("no such file: x.parquet\ndetails")) == (
        "OSError: no such file: x.parquet"
    )
    assert failure_summary(KeyError()) == "KeyError"
    assert len(failure_summary(ValueError("x" * 1000))) < 220


class Settings:
    """The fields ``check_ready_to_serve`` reads."""

    def __init__(self, root: Path) -> None:
        self.tracking_uri = f"sqlite:///{root / 'mlruns.db'}"
        self.mlflow_artifact_dir = root / "mlartifacts"
        self.snapshot_dir = root / "snapshots"
        self.next_purchase_model = "np-test"
        self.footfall_model = "ff-test"


def test_serving_without_models_or_snapshot_fails_fast_naming_both(tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as error:
        check_ready_to_serve(Settings(tmp_path))
    message = str(error.value)
    assert "no MLflow store at" in message and "clientcast train" in message
    assert "no snapshot in" in message and "clientcast features" in message
    assert not (tmp_path / "mlruns.db").exists()  # the check creates no empty store


def test_the_command_line_exits_2_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clientcast.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.setenv("CLIENTCAST_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    result = CliRunner().invoke(app, ["serve", "--port", "3999"])
    assert result.exit_code == 2
    assert "cannot serve" in result.output


def test_only_sqlite_stores_are_checked_for_a_file() -> None:
    assert sqlite_store_path("sqlite:///mlruns.db") == Path("mlruns.db")
    assert sqlite_store_path("http://mlflow:5000") is None


def test_a_snapshot_whose_history_folder_is_gone_cannot_serve_call_lists(tmp_path: Path) -> None:
    from serving.startup import client_directory_problems

    snapshot = tmp_path / "2026-07-01_x"
    snapshot.mkdir()
    manifest = {"data_dir": str(tmp_path / "gone"), "columns": {"clients": ["client_id"]}}
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    (problem,) = client_directory_problems(snapshot)
    assert "rerun `clientcast features`" in problem
    (tmp_path / "gone").mkdir()
    pl.DataFrame({"client_id": ["a"]}).write_parquet(tmp_path / "gone" / "clients.parquet")
    assert client_directory_problems(snapshot) == []
    manifest["columns"]["clients"].append("home_boutique_id")
    manifest["data_dir"] = None
    (snapshot / "manifest.json").write_text(json.dumps(manifest))
    assert client_directory_problems(snapshot) == []


class Booster:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def feature_name(self) -> list[str]:
        return self.names


def test_boosters_reading_another_column_order_are_refused() -> None:
    from types import SimpleNamespace

    heads = SimpleNamespace(boosters={"p_buy_90d": Booster(["b", "a"])})
    bundle = SimpleNamespace(spec=SimpleNamespace(names=("a", "b")), production=heads)
    clients = pl.DataFrame({"client_id": ["c1"], "a": [1.0], "b": [2.0]})
    reasons = pl.Series([["a reason"]])
    with pytest.raises(ValueError, match="p_buy_90d"):
        NextPurchaseScorer.build(bundle, clients, {"c1": 0}, reasons, "EUR", AS_OF, "1")


class CountingBundle:
    """A bundle stand-in counting its (expensive) explain calls."""

    def __init__(self) -> None:
        self.explained = 0

    def predict(self, clients: pl.DataFrame) -> pl.DataFrame:
        return clients.select("client_id", p_buy_90d=pl.col("x") / 10)

    def explain(self, clients: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
        self.explained += 1
        assert clients.schema["kind"] == pl.String  # enums are explained as text
        return pl.DataFrame(
            {"client_id": ["b", "a", "b"], "rank": [2, 1, 1], "reason": ["b2", "a1", "b1"]}
        )


def test_client_scores_are_computed_once_per_champion_and_snapshot(tmp_path: Path) -> None:
    from serving.client_scores import client_scores, scores_path

    snapshot = tmp_path / "snapshots" / "2026-07-01_x"
    snapshot.mkdir(parents=True)
    kinds = pl.Enum(["new", "old"])
    clients = pl.DataFrame(
        {"client_id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "kind": ["new", "old", "new"]},
        schema_overrides={"kind": kinds},
    )
    bundle = CountingBundle()
    info = {"name": "np", "version": "4"}
    first = client_scores(bundle, info, snapshot, clients)
    assert first.get_column("reasons").to_list() == [["a1"], ["b1", "b2"], []]
    assert first.get_column("client_id").to_list() == ["a", "b", "c"]
    assert scores_path(snapshot, "np", "4").is_file()
    again = client_scores(bundle, info, snapshot, clients)
    assert again.equals(first) and bundle.explained == 1
    client_scores(bundle, {"name": "np", "version": "5"}, snapshot, clients)
    assert bundle.explained == 2  # a new champion is explained anew
    client_scores(bundle, info, snapshot, clients.head(2))
    assert bundle.explained == 3  # a cache that does not match the clients is not trusted


def test_an_unwritable_cache_only_costs_the_computation(tmp_path: Path) -> None:
    from serving.client_scores import CACHE_FOLDER, client_scores

    snapshot = tmp_path / "2026-07-01_x"
    snapshot.mkdir()
    (tmp_path / CACHE_FOLDER).write_text("a file where the cache folder should be")
    clients = pl.DataFrame({"client_id": ["a"], "x": [1.0], "kind": ["new"]})
    scores = client_scores(CountingBundle(), {"name": "np", "version": "1"}, snapshot, clients)
    assert scores.height == 1


def test_a_reload_explains_the_clients_on_the_threads_it_is_given(tmp_path: Path) -> None:
    from threadpoolctl import threadpool_info

    from serving.client_scores import client_scores

    class ThreadRecordingBundle(CountingBundle):
        def __init__(self) -> None:
            super().__init__()
            self.threads: list[int] = []

        def explain(self, clients: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
            openmp = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
            self.threads.extend(openmp)
            return super().explain(clients, top_k)

    snapshot = tmp_path / "2026-07-01_x"
    snapshot.mkdir()
    clients = pl.DataFrame({"client_id": ["a"], "x": [1.0], "kind": ["new"]})
    bundle = ThreadRecordingBundle()
    client_scores(bundle, {"name": "np", "version": "1"}, snapshot, clients, num_threads=1)
    assert bundle.threads and set(bundle.threads) == {1}


def call_lists_of(division_classes: tuple[str, ...]) -> CallLists:
    """Two opted-in clients of B1 with the division probabilities of ``division_classes``."""
    predictions = pl.DataFrame(
        {
            "client_id": ["a", "b"],
            "p_buy_30d": [0.2, 0.4],
            "p_buy_90d": [0.5, 0.7],
            "expected_spend_90d": [100.0, 200.0],
            "next_division": [division_classes[0]] * 2,
            "days_to_next_p50": [20.0, 10.0],
            "reasons": [["r"], []],
            **{division_column(name): [0.9, 0.1] for name in division_classes},
        }
    )
    clients = pl.DataFrame(
        {"client_id": ["a", "b"], "home_boutique_id": ["B1", "B1"], "contact_opt_in": [True] * 2}
    )
    daily = pl.DataFrame(
        {"boutique_id": ["B1"], "date": [AS_OF], "p10": [1.0], "p50": [2.0], "p90": [3.0]}
    )
    versions = {"next_purchase": "1", "footfall": "1"}
    return CallLists.build(
        predictions, clients, daily, ["B1"], division_classes, "EUR", AS_OF, versions
    )


def test_a_division_the_champion_never_saw_is_refused_naming_the_known_ones() -> None:
    lists = call_lists_of(("haute horlogerie", "shoes"))
    listed = lists.call_list("B1", 5, 30, "haute horlogerie")  # outside the synthetic seven
    assert [entry.client_id for entry in listed.clients] == ["a", "b"]
    with pytest.raises(RequestRejected) as rejected:
        lists.call_list("B1", 5, 30, "watches")
    assert (rejected.value.field, rejected.value.status_code) == ("division", 400)
    assert "'haute horlogerie', 'shoes'" in str(rejected.value)


def test_the_request_schema_leaves_divisions_to_the_champion() -> None:
    from pydantic import ValidationError

    from serving.schemas import CallListRequest

    assert CallListRequest(boutique_id="B1", division="haute horlogerie").division
    with pytest.raises(ValidationError):
        CallListRequest(boutique_id="B1", division="bad\x00name")


# -- snapshots the service refuses or warns about ---------------------------------------------


def write_snapshot_folder(
    folder: Path, client_ids: list[str], boutique_ids: list[str], as_of: date = AS_OF
) -> Path:
    """A snapshot folder with the tables and key columns the checks read."""
    folder.mkdir(parents=True)
    manifest = {"as_of": as_of.isoformat(), "columns": {"clients": ["client_id"]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    pl.DataFrame({"client_id": client_ids}, schema={"client_id": pl.String}).write_parquet(
        folder / "clients.parquet"
    )
    pl.DataFrame({"boutique_id": boutique_ids}).write_parquet(folder / "boutiques.parquet")
    days = [as_of + timedelta(days=k) for k in range(3)]
    pl.DataFrame(
        {
            "boutique_id": [b for b in boutique_ids for _ in days],
            "target_date": days * len(boutique_ids),
        }
    ).write_parquet(folder / "boutique_daily.parquet")
    hours = [datetime(as_of.year, as_of.month, as_of.day, h) for h in range(3)]
    pl.DataFrame(
        {
            "boutique_id": [b for b in boutique_ids for _ in hours],
            "target_hour": hours * len(boutique_ids),
        }
    ).write_parquet(folder / "boutique_hourly.parquet")
    return folder


def test_a_sound_snapshot_has_no_problem(tmp_path: Path) -> None:
    from serving.snapshot_checks import stored_snapshot_problems

    folder = write_snapshot_folder(tmp_path / "ok", ["C1", "C2"], ["B1", "B2"])
    assert stored_snapshot_problems(folder) == []


def test_duplicate_clients_are_refused_without_naming_them(tmp_path: Path) -> None:
    from serving.snapshot_checks import stored_snapshot_problems

    ids = ["C0000001", "C0000002", "C0000001", "C0000002", "C0000002", "C3"]
    folder = write_snapshot_folder(tmp_path / "dup", ids, ["B1"])
    (problem,) = stored_snapshot_problems(folder)
    assert problem.startswith("snapshot dup: clients.parquet lists 2 client_id value(s)")
    assert "(3 extra row(s))" in problem and "clientcast validate" in problem
    assert "C0000001" not in problem and "C0000002" not in problem  # pseudonymous, still not logged


def test_duplicate_boutiques_are_refused_naming_them(tmp_path: Path) -> None:
    from serving.snapshot_checks import stored_snapshot_problems

    folder = write_snapshot_folder(tmp_path / "dupb", ["C1"], ["B2", "B1", "B2", "B1", "B3"])
    problems = stored_snapshot_problems(folder)
    assert [p.split(" lists ")[0] for p in problems] == [
        "snapshot dupb: boutiques.parquet",
        "snapshot dupb: boutique_daily.parquet",
        "snapshot dupb: boutique_hourly.parquet",
    ]
    assert "2 boutique_id value(s)" in problems[0] and "'B1', 'B2'" in problems[0]
    assert "boutique_id, target_date" in problems[1]


def test_a_snapshot_without_a_client_is_refused(tmp_path: Path) -> None:
    from serving.snapshot_checks import stored_snapshot_problems

    folder = write_snapshot_folder(tmp_path / "empty", [], ["B1"], as_of=date(2020, 1, 1))
    (problem,) = stored_snapshot_problems(folder)
    assert "clients.parquet holds no client" in problem


def test_an_unreadable_table_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    from serving.snapshot_checks import stored_snapshot_problems

    folder = write_snapshot_folder(tmp_path / "cut", ["C1"], ["B1"])
    (folder / "boutiques.parquet").write_bytes(b"PAR1 cut short")
    (problem,) = stored_snapshot_problems(folder)
    assert problem.startswith("snapshot cut: cannot read boutiques.parquet: ")


def test_serve_refuses_a_snapshot_with_duplicate_clients_before_any_work(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    name = "2026-07-01_dup"
    write_snapshot_folder(settings.snapshot_dir / name, ["C1", "C1"], ["B1"])
    (settings.snapshot_dir / "LATEST").write_text(name + "\n")
    with pytest.raises(UserInputError) as error:
        check_ready_to_serve(settings)
    assert f"snapshot {name}: clients.parquet lists 1 client_id value(s)" in str(error.value)


def test_a_loaded_snapshot_with_duplicate_clients_cannot_become_the_state(tmp_path: Path) -> None:
    from features.snapshot import OnlineSnapshot
    from serving.state import build_state

    folder = write_snapshot_folder(tmp_path / "2026-07-01_dup", ["C1", "C2", "C1"], ["B1"])
    snapshot = OnlineSnapshot.load(folder)
    never = (None, {"name": "np", "version": "1"})  # refused before the models are touched
    with pytest.raises(UserInputError, match=r"clients\.parquet lists 1 client_id"):
        build_state(snapshot, never, never)  # type: ignore[arg-type]


def model(role: str, trained_as_of: date | None) -> ModelFacts:
    return ModelFacts(
        role=role,  # type: ignore[arg-type]
        name=f"clientcast-{role}",
        version="4",
        alias="champion",
        run_id=None,
        registered_at=None,
        trained_as_of=trained_as_of,
        backtest_metrics={},
    )


def test_a_snapshot_far_from_the_champions_training_dates_is_warned_about() -> None:
    from serving.snapshot_checks import MAX_SNAPSHOT_MODEL_GAP_DAYS, training_gap_warnings

    limit = timedelta(days=MAX_SNAPSHOT_MODEL_GAP_DAYS)
    models = [model("next_purchase", AS_OF), model("footfall", AS_OF - limit)]
    assert training_gap_warnings(AS_OF, models) == []
    assert training_gap_warnings(AS_OF - limit, models[:1]) == []
    (late,) = training_gap_warnings(AS_OF + timedelta(days=1), models)
    assert late.startswith(f"snapshot as of 2026-07-02 is {MAX_SNAPSHOT_MODEL_GAP_DAYS + 1} days")
    assert "footfall champion (clientcast-footfall v4)" in late and "retrain" in late
    (early,) = training_gap_warnings(date(2020, 1, 1), [model("next_purchase", AS_OF)])
    assert "2,373 days before" in early and "seen what it is asked to predict" in early
    assert training_gap_warnings(date(2031, 1, 2), [model("footfall", None)]) == []


def test_clients_without_a_purchase_are_told_apart_from_unknown_ids(
    scorer: NextPurchaseScorer,
) -> None:
    from dataclasses import replace

    dormant = replace(scorer, no_purchase_history=frozenset({"d1"}))
    items = dormant.score(["d1", "c1", "nobody"])
    assert [item.status for item in items] == ["no_purchase_history", "ok", "unknown_client"]
    assert items[0].p_buy_90d is None and items[0].reasons == []
    assert dormant.heads.calls == [1]


def test_the_snapshot_lists_its_clients_without_a_purchase_when_it_can(tmp_path: Path) -> None:
    from features.snapshot import NO_PURCHASE_TABLE, OnlineSnapshot
    from serving.state import read_clients_without_purchase

    folder = write_snapshot_folder(tmp_path / "2026-07-01_x", ["C1"], ["B1"])
    snapshot = OnlineSnapshot.load(folder)
    assert read_clients_without_purchase(snapshot) == []  # an older snapshot: they stay unknown
    pl.DataFrame({"client_id": ["C7", "C8"]}).write_parquet(folder / f"{NO_PURCHASE_TABLE}.parquet")
    assert read_clients_without_purchase(snapshot) == ["C7", "C8"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("days", True), ("days", "2"), ("days", 2.0), ("n", True), ("horizon_days", "30")],
)
def test_integer_fields_refuse_booleans_strings_and_floats(field: str, value: object) -> None:
    from pydantic import ValidationError

    from serving.schemas import CallListRequest, FootfallRequest

    model_class = FootfallRequest if field == "days" else CallListRequest
    body = {"boutique_id": "B1", "start": "2026-07-02", field: value}
    if model_class is CallListRequest:
        body.pop("start")
    with pytest.raises(ValidationError) as error:
        model_class.model_validate_json(json.dumps(body))
    assert [e["loc"] for e in error.value.errors()] == [(field,)]
    assert model_class.model_validate_json(json.dumps({**body, field: 2}))
