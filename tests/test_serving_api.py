"""The BentoML service in-process: every endpoint, every error class, auth, reload, schemathesis.

One tiny trained set-up serves the whole module: a synthetic maison, its online snapshot, and
both champions registered in a temporary sqlite MLflow store, with the environment pointing
``clientcast`` at them. The service then runs through ``Clientcast.to_asgi()`` with its
start-up code (BentoML's lifespan) as under ``bentoml serve``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.snapshot import OnlineSnapshot, write_snapshot
from training.call_lists import reasons_by_client

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "test-token-5f1c"
NEXT_PURCHASE = "serving-test-next-purchase"
FOOTFALL = "serving-test-footfall"


class StandInFootfall:
    """A footfall bundle forecasting from the snapshot's own level features: the new champion
    the reload test promotes, whose numbers are easy to predict."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.metadata = {"as_of": "2026-07-01"}

    def save(self, directory: Path) -> None:
        (Path(directory) / "scale.json").write_text(json.dumps({"scale": self.scale}))

    @classmethod
    def load(cls, directory: Path) -> StandInFootfall:
        return cls(json.loads((Path(directory) / "scale.json").read_text())["scale"])

    def forecast(
        self, source: OnlineSnapshot, start: date, days: int, granularity: str = "daily"
    ) -> pl.DataFrame:
        if granularity == "daily":
            rows = source.boutique_daily
            level = pl.col("same_weekday_mean_4w").fill_null(pl.col("visitors_mean_28"))
            key = pl.col("target_date").alias("date")
        else:
            rows = source.boutique_hourly
            level = pl.col("hour_of_week_mean_4w")
            key = pl.col("target_hour").alias("hour_start")
        p50 = (level.fill_null(0.0) * self.scale).alias("p50")
        return rows.filter(pl.col("horizon") <= days).select(
            "boutique_id", key, (p50 * 0.8).alias("p10"), p50, (p50 * 1.2).alias("p90")
        )

    def predict_frame(self, frame: Any) -> Any:
        return frame


def train_tiny_champions() -> None:
    """The real training pipelines, cut down to a few rounds, cutoffs and origins."""
    from clientcast.settings import load_settings
    from training.footfall.pipeline import FootfallOptions, train_footfall
    from training.next_purchase.pipeline import RecipeOptions, train_next_purchase

    settings = load_settings()
    options = RecipeOptions(max_rounds=20, n_training=2, step_days=90, num_threads=1)
    train_next_purchase(settings, None, options=options)
    footfall = FootfallOptions(
        daily_origins=1,
        hourly_origins=1,
        warmup_origins=0,
        min_training_days=120,
        autoets=False,
        plot_boutiques=0,
        num_threads=1,
    )
    train_footfall(settings, None, options=footfall)


def register_champion(bundle: Any, name: str) -> str:
    """Log ``bundle``, register it and make it the champion whatever the current one scored."""
    from training import tracking

    with tracking.training_run("serving-tests", run_name=name):
        tracking.log_metrics({"backtest.mase": 0.5})
        version = tracking.log_bundle(bundle, name)
    metrics = {"backtest.mase": 0.5}
    tracking.promote(name, version, metrics, "backtest.mase", False, champion_value=float("inf"))
    return version


@pytest.fixture(scope="module")
def served_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Maison, snapshot and champions in a temporary folder; the environment pointing there."""
    from features.synthetic import MaisonConfig, generate_maison
    from training import tracking

    root = tmp_path_factory.mktemp("served")
    generate_maison(root / "maison", MaisonConfig(clients=600, boutiques=8, years=2.0, seed=3))
    write_snapshot(root / "maison", None, root / "snapshots")
    snapshot = OnlineSnapshot.load(root / "snapshots")
    (root / "prometheus").mkdir()
    environment = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlruns.db'}",
        "CLIENTCAST_MLFLOW_ARTIFACT_DIR": str(root / "mlartifacts"),
        "CLIENTCAST_SNAPSHOT_DIR": str(root / "snapshots"),
        "CLIENTCAST_DATA_DIR": str(root / "maison"),
        "CLIENTCAST_OPTUNA_STORAGE": f"sqlite:///{root / 'optuna.db'}",
        "CLIENTCAST_NEXT_PURCHASE_MODEL": NEXT_PURCHASE,
        "CLIENTCAST_FOOTFALL_MODEL": FOOTFALL,
        "PROMETHEUS_MULTIPROC_DIR": str(root / "prometheus"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        patch.delenv("CLIENTCAST_API_TOKEN", raising=False)
        tracking.configure_tracking(environment["MLFLOW_TRACKING_URI"], root / "mlartifacts")
        train_tiny_champions()
        bundle, _ = tracking.load_bundle(NEXT_PURCHASE)
        yield {"root": root, "snapshot": snapshot, "bundle": bundle, "patch": patch}


@pytest.fixture(scope="module")
def client(served_setup: dict[str, Any]) -> Iterator[TestClient]:
    """The service as deployed: ``CLIENTCAST_API_TOKEN`` set, so auth on; requests carry it."""
    from serving.service import Clientcast

    served_setup["patch"].setenv("CLIENTCAST_API_TOKEN", TOKEN)
    with TestClient(Clientcast.to_asgi()) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


@pytest.fixture(scope="module")
def open_client(served_setup: dict[str, Any], client: TestClient) -> Iterator[TestClient]:
    """A second instance started without a token: auth off.

    Two apps in one process share BentoML's process-wide state: Prometheus metrics (so this one
    runs with metrics off) and the *current service* the ``GET /model_info`` and
    ``POST /admin/reload`` routes resolve (so the tests using it come last in this module).
    """
    from serving.service import Clientcast

    patch = served_setup["patch"]
    patch.delenv("CLIENTCAST_API_TOKEN")
    patch.setitem(Clientcast.config, "metrics", {"enabled": False, "namespace": "unused"})
    try:
        with TestClient(Clientcast.to_asgi()) as test_client:
            yield test_client
    finally:
        patch.setenv("CLIENTCAST_API_TOKEN", TOKEN)


@pytest.fixture(scope="module")
def known_ids(served_setup: dict[str, Any]) -> list[str]:
    return served_setup["snapshot"].clients.get_column("client_id").to_list()


@pytest.fixture(scope="module")
def boutiques(served_setup: dict[str, Any]) -> list[str]:
    daily = served_setup["snapshot"].boutique_daily
    return daily.get_column("boutique_id").unique().sort().to_list()


# -- /next_purchase ---------------------------------------------------------------------------


def test_next_purchase_answers_the_models_numbers_per_client(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str]
) -> None:
    ids = known_ids[:40]
    answer = client.post("/next_purchase", json={"client_ids": ids})
    assert answer.status_code == 200
    items = answer.json()
    assert [item["client_id"] for item in items] == ids
    snapshot: OnlineSnapshot = served_setup["snapshot"]
    rows = snapshot.clients.filter(pl.col("client_id").is_in(ids))
    bundle = served_setup["bundle"]
    expected = bundle.predict(rows)
    by_id = {row["client_id"]: row for row in expected.to_dicts()}
    as_text = rows.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    reasons = reasons_by_client(bundle.explain(as_text, top_k=3)).collect()
    expected_reasons = dict(reasons.iter_rows())
    assert any(item["reasons"] for item in items)
    for item in items:
        assert item["reasons"] == expected_reasons.get(item["client_id"], [])
        truth = by_id[item["client_id"]]
        assert item["status"] == "ok"
        assert item["p_buy_30d"] == pytest.approx(truth["p_buy_30d"])
        assert item["p_buy_90d"] == pytest.approx(truth["p_buy_90d"])
        assert item["expected_spend_90d"] == pytest.approx(truth["expected_spend_90d"])
        assert item["days_to_next_purchase"]["p50"] == pytest.approx(truth["days_to_next_p50"])
        assert item["top_divisions"][0]["division"] == truth["next_division"]
        assert len(item["top_divisions"]) == 3
        assert len(item["reasons"]) <= 3
        assert item["currency"] == "EUR"
        assert item["snapshot_date"] == snapshot.as_of.isoformat()
        assert item["model_version"] == "1"


def test_an_unknown_id_gets_its_own_item_without_failing_the_batch(
    client: TestClient, known_ids: list[str]
) -> None:
    answer = client.post("/next_purchase", json={"client_ids": ["C-nobody", known_ids[0]]})
    assert answer.status_code == 200
    unknown, known = answer.json()
    assert unknown["status"] == "unknown_client" and unknown["p_buy_90d"] is None
    assert known["status"] == "ok"


def test_a_thousand_ids_are_answered_and_one_more_is_refused(
    client: TestClient, known_ids: list[str]
) -> None:
    ids = (known_ids * (1000 // len(known_ids) + 1))[:1000]
    assert len(client.post("/next_purchase", json={"client_ids": ids}).json()) == 1000
    answer = client.post("/next_purchase", json={"client_ids": [*ids, "one-more"]})
    assert answer.status_code == 400
    assert answer.json()["fields"] == ["client_ids"]
    assert "at most 1000" in answer.json()["error"]


def test_concurrent_single_client_calls_are_merged_into_batches(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str]
) -> None:
    from serving.service import Clientcast

    async def burst() -> list[httpx.Response]:
        app = client.app
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as http:
            calls = [http.post("/next_purchase", json={"client_ids": [i]}) for i in known_ids[:60]]
            return await asyncio.gather(*calls)

    answers = client.portal.call(burst)  # on the app's own event loop
    assert all(a.status_code == 200 for a in answers)
    assert [a.json()[0]["client_id"] for a in answers] == known_ids[:60]
    metrics = client.get("/metrics").text
    sizes = {
        float(m.group(1)): float(m.group(2))
        for m in re.finditer(
            r'adaptive_batch_size_bucket\{[^}]*le="([\d.e+]+)"[^}]*\} ([\d.e+]+)', metrics
        )
    }
    assert Clientcast.apis["next_purchase"].batchable
    assert sizes, "the batch-size histogram is missing from /metrics"
    assert sizes[1.0] < max(sizes.values()), "no batch held more than one request"


def test_a_body_over_the_size_limit_is_413_declared_or_chunked(
    client: TestClient, known_ids: list[str]
) -> None:
    from serving.body_limit import MAX_BODY_BYTES

    padded = b'{"client_ids": ["' + known_ids[0].encode() + b'"]' + b" " * MAX_BODY_BYTES + b"}"
    declared = client.post(
        "/next_purchase", content=padded, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["fields"] == ["body"]

    def chunked() -> Iterator[bytes]:
        yield padded[: MAX_BODY_BYTES // 2]
        yield padded[MAX_BODY_BYTES // 2 :]

    streamed = client.post(
        "/next_purchase", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    largest = {"client_ids": [f"{i:0128d}" for i in range(1000)]}  # ~140 KB, still served
    answer = client.post("/next_purchase", json=largest)
    assert answer.status_code == 200
    assert {item["status"] for item in answer.json()} == {"unknown_client"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{bad json", "body"),
        (b"", "client_ids"),
        (b"[1, 2]", "body"),
        (b'{"client_ids": "C1"}', "client_ids"),
        (b'{"client_ids": [1]}', "client_ids[0]"),
        (b'{"client_ids": []}', "client_ids"),
        (b'{"client_ids": ["C 1"]}', "client_ids[0]"),
        (b'{"client_ids": ["C1"], "extra": 1}', "extra"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(
    client: TestClient, body: bytes, field: str
) -> None:
    answer = client.post(
        "/next_purchase", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["fields"] == [field]
    assert answer.json()["error"].startswith(f"{field}: ")


# -- /footfall --------------------------------------------------------------------------------


def test_footfall_daily_and_hourly(
    client: TestClient, served_setup: dict[str, Any], boutiques: list[str]
) -> None:
    as_of: date = served_setup["snapshot"].as_of
    start = as_of + timedelta(days=3)
    body = {"boutique_id": boutiques[0], "start": start.isoformat(), "days": 10}
    daily = client.post("/footfall", json=body)
    assert daily.status_code == 200
    periods = daily.json()["periods"]
    assert [p["start"][:10] for p in periods] == [
        (start + timedelta(days=k)).isoformat() for k in range(10)
    ]
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in periods)
    assert daily.json()["model_version"] == "1"
    hourly = client.post("/footfall", json={**body, "days": 2, "granularity": "hourly"})
    assert hourly.status_code == 200
    assert len(hourly.json()["periods"]) == 48
    assert hourly.json()["periods"][1]["start"] == f"{start.isoformat()}T01:00:00"


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"boutique_id": "B-unknown"}, 404, "boutique_id"),
        ({"start": "2001-01-01"}, 400, "start"),
        ({"start": "not a date"}, 400, "start"),
        ({"days": 57}, 400, "days"),
        ({"days": 0}, 400, "days"),
        ({"days": "seven"}, 400, "days"),
        ({"days": True}, 400, "days"),  # not read as 1 day
        ({"days": "2"}, 400, "days"),
        ({"days": 2.0}, 400, "days"),
        ({"start": 1782950400}, 400, "start"),  # not read as a Unix timestamp
        ({"days": 15, "granularity": "hourly"}, 400, "days"),
        ({"granularity": "weekly"}, 400, "granularity"),
    ],
)
def test_footfall_errors_name_the_field(
    client: TestClient,
    served_setup: dict[str, Any],
    boutiques: list[str],
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    as_of: date = served_setup["snapshot"].as_of
    body = {"boutique_id": boutiques[0], "start": as_of.isoformat(), "days": 7, **change}
    answer = client.post("/footfall", json=body)
    assert answer.status_code == status
    assert answer.json()["fields"] == [field]


# -- /call_list -------------------------------------------------------------------------------


def test_call_list_holds_opted_in_home_clients_ranked_with_reasons_and_quiet_days(
    client: TestClient, served_setup: dict[str, Any], boutiques: list[str]
) -> None:
    clients = pl.read_parquet(served_setup["root"] / "maison" / "clients.parquet")
    boutique = clients.group_by("home_boutique_id").len().sort("len").row(-1)[0]
    answer = client.post("/call_list", json={"boutique_id": boutique, "n": 15, "horizon_days": 21})
    assert answer.status_code == 200
    body = answer.json()
    listed = body["clients"]
    assert 0 < len(listed) <= 15
    assert [entry["rank"] for entry in listed] == list(range(1, len(listed) + 1))
    scores = [entry["p_buy"] for entry in listed]
    assert scores == sorted(scores, reverse=True)
    home = clients.filter(pl.col("home_boutique_id") == boutique, pl.col("contact_opt_in"))
    assert {entry["client_id"] for entry in listed} <= set(home.get_column("client_id"))
    as_of: date = served_setup["snapshot"].as_of
    for entry in listed:
        assert set(entry) >= {"reasons", "invite_days", "division", "p_buy_90d"}
        assert "tier" not in entry and "age" not in entry
        for day in entry["invite_days"]:
            assert as_of <= date.fromisoformat(day) < as_of + timedelta(days=21)
    assert body["model_versions"] == {"next_purchase": "1", "footfall": "1"}
    watches = client.post(
        "/call_list", json={"boutique_id": boutique, "n": 5, "division": "watches"}
    )
    assert {entry["division"] for entry in watches.json()["clients"]} <= {"watches"}


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"n": 201}, 400, "n"),
        ({"n": 0}, 400, "n"),
        ({"n": "5"}, 400, "n"),
        ({"n": 5.0}, 400, "n"),
        ({"horizon_days": True}, 400, "horizon_days"),
        ({"horizon_days": 57}, 400, "horizon_days"),
        ({"division": "cars"}, 400, "division"),
        ({"boutique_id": "B-unknown"}, 404, "boutique_id"),
    ],
)
def test_call_list_errors_name_the_field(
    client: TestClient, boutiques: list[str], change: dict[str, Any], status: int, field: str
) -> None:
    answer = client.post("/call_list", json={"boutique_id": boutiques[0], **change})
    assert answer.status_code == status
    assert answer.json()["fields"] == [field]


def test_an_unknown_division_is_refused_naming_the_champions_divisions(
    client: TestClient, served_setup: dict[str, Any], boutiques: list[str]
) -> None:
    answer = client.post("/call_list", json={"boutique_id": boutiques[0], "division": "cars"})
    assert answer.status_code == 400
    for division in served_setup["bundle"].division_classes:
        assert repr(division) in answer.json()["error"]


# -- information, health, docs ----------------------------------------------------------------


def test_model_info_names_versions_dates_and_metrics(
    client: TestClient, served_setup: dict[str, Any]
) -> None:
    info = client.get("/model_info").json()
    models = {model["role"]: model for model in info["models"]}
    assert models["next_purchase"]["name"] == NEXT_PURCHASE
    assert models["footfall"]["version"] == "1"
    assert isinstance(models["next_purchase"]["backtest_metrics"]["backtest.log_loss"], float)
    assert models["footfall"]["backtest_metrics"]
    assert models["next_purchase"]["trained_as_of"] is not None
    assert models["next_purchase"]["registered_at"] is not None
    assert info["snapshot"]["as_of"] == served_setup["snapshot"].as_of.isoformat()
    assert info["snapshot"]["clients"] == served_setup["snapshot"].clients.height


def test_health_metrics_docs_and_swagger(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/livez", "/metrics", "/"):
        assert client.get(path).status_code == 200, path
    paths = client.get("/docs.json").json()["paths"]
    for path in ("/next_purchase", "/footfall", "/call_list", "/model_info", "/admin/reload"):
        assert path in paths


# -- the service's imports --------------------------------------------------------------------

WITHOUT_OPTUNA = """
import importlib.abc, sys

class NoOptuna(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("optuna", "optuna_integration"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoOptuna())
from clientcast.settings import load_settings
from serving.service import Clientcast
from serving.state import load_serving_state

state = load_serving_state(load_settings())
print(sorted(model.role + "=" + model.version for model in state.info.models))
print(sorted(name for name in sys.modules if name.startswith("optuna")))
"""


def test_the_service_imports_and_loads_its_champions_without_optuna(
    served_setup: dict[str, Any],
) -> None:
    """The Bento's image does not install Optuna (bentofile.yaml): the service must not need it."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPTUNA],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == ["['footfall=1', 'next_purchase=1']", "[]"]


# -- auth -------------------------------------------------------------------------------------


def test_with_a_token_every_endpoint_but_health_and_metrics_needs_it(
    client: TestClient, known_ids: list[str], boutiques: list[str]
) -> None:
    anonymous = {"Authorization": ""}
    calls = [
        ("POST", "/next_purchase", {"client_ids": known_ids[:1]}),
        ("POST", "/call_list", {"boutique_id": boutiques[0]}),
        ("POST", "/footfall", {"boutique_id": boutiques[0], "start": "2026-07-01"}),
        ("GET", "/model_info", None),
        ("POST", "/admin/reload", None),
        ("GET", "/docs.json", None),
    ]
    for method, path, body in calls:
        refused = client.request(method, path, json=body, headers=anonymous)
        assert refused.status_code == 401, path
        assert TOKEN not in refused.text
        wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401, path
    assert client.post("/next_purchase", json={"client_ids": known_ids[:1]}).status_code == 200
    for path in ("/healthz", "/readyz", "/livez", "/metrics"):
        assert client.get(path, headers=anonymous).status_code == 200, path


# -- reload -----------------------------------------------------------------------------------


def test_reload_swaps_in_a_new_champion_and_snapshot_without_failing_requests(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str], boutiques: list[str]
) -> None:
    root = served_setup["root"]
    snapshot: OnlineSnapshot = served_setup["snapshot"]
    body = {"boutique_id": boutiques[0], "start": snapshot.as_of.isoformat(), "days": 7}
    register_champion(StandInFootfall(scale=2.0), FOOTFALL)
    written = write_snapshot(root / "maison", None, root / "snapshots")
    new_snapshot = OnlineSnapshot.load(written.path)

    async def reload_under_load() -> tuple[httpx.Response, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=client.app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers, timeout=120
        ) as http:
            reload = asyncio.create_task(http.post("/admin/reload"))
            answers = []
            while not reload.done():
                answers.append(await http.post("/next_purchase", json={"client_ids": known_ids}))
                answers.append(await http.post("/footfall", json=body))
                await asyncio.sleep(0.02)
            return await reload, answers

    reloaded, during = client.portal.call(reload_under_load)
    assert reloaded.status_code == 200, reloaded.text
    report = reloaded.json()
    assert report["workers_notified"] is True
    versions = {m["role"]: m["version"] for m in report["current"]["models"]}
    assert versions == {"next_purchase": "1", "footfall": "2"}
    assert report["current"]["snapshot"]["name"] == new_snapshot.path.name
    assert report["previous"]["snapshot"]["name"] == snapshot.path.name
    assert during and all(answer.status_code == 200 for answer in during)
    served = [a.json()["model_version"] for a in during if a.request.url.path == "/footfall"]
    assert served == sorted(served)  # every answer from one state or the other, old then new
    after = client.post("/footfall", json=body).json()
    assert after["model_version"] == "2"
    expected = StandInFootfall(2.0).forecast(new_snapshot, new_snapshot.as_of, 7)
    expected = expected.filter(pl.col("boutique_id") == boutiques[0]).sort("date")
    assert [p["p50"] for p in after["periods"]] == pytest.approx(expected["p50"].to_list())
    info = client.get("/model_info").json()
    assert info["snapshot"]["name"] == new_snapshot.path.name


def test_a_failed_reload_keeps_serving_the_current_state(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str]
) -> None:
    pointer = served_setup["root"] / "snapshots" / "LATEST"
    kept = pointer.read_text()
    pointer.write_text("no-such-snapshot\n")
    try:
        answer = client.post("/admin/reload")
    finally:
        pointer.write_text(kept)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert "UserInputError" in error and "still serving the previous state" in error
    assert client.post("/next_purchase", json={"client_ids": known_ids[:2]}).status_code == 200


def test_a_snapshot_that_cannot_be_read_answers_409_naming_the_error(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str]
) -> None:
    import shutil

    root = served_setup["root"] / "snapshots"
    pointer = root / "LATEST"
    kept = pointer.read_text()
    broken = root / "2026-07-01_broken"
    shutil.copytree(root / kept.strip(), broken)
    (broken / "clients.parquet").write_bytes(b"not a parquet file")
    pointer.write_text(broken.name + "\n")
    try:
        answer = client.post("/admin/reload")
    finally:
        pointer.write_text(kept)
        shutil.rmtree(broken)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error.startswith("reload: ") and error.endswith("still serving the previous state")
    assert "Error" in error.split(":")[1]  # names the error class
    assert client.post("/next_purchase", json={"client_ids": known_ids[:2]}).status_code == 200


def served_snapshot(served_setup: dict[str, Any]) -> Path:
    """The snapshot ``LATEST`` names (the one served, outside the tests changing it)."""
    root = served_setup["root"] / "snapshots"
    return root / (root / "LATEST").read_text().strip()


def served_copy(served_setup: dict[str, Any], name: str) -> Path:
    """A copy of the served snapshot under ``name``, beside it."""
    import shutil

    served = served_snapshot(served_setup)
    return Path(shutil.copytree(served, served.parent / name))


def reload_to(client: TestClient, snapshot: Path) -> httpx.Response:
    """Point ``LATEST`` at ``snapshot`` and reload."""
    (snapshot.parent / "LATEST").write_text(snapshot.name + "\n")
    return client.post("/admin/reload")


@pytest.mark.parametrize("case", ["duplicate clients", "no client"])
def test_a_snapshot_with_duplicate_or_no_clients_is_refused_with_409(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str], case: str
) -> None:
    import shutil

    served = served_snapshot(served_setup)
    bad = served_copy(served_setup, "2026-07-01_bad")
    clients = pl.read_parquet(bad / "clients.parquet")
    if case == "duplicate clients":
        clients = pl.concat([clients, clients.head(2)])
        expected = "clients.parquet lists 2 client_id value(s) on several rows"
    else:
        clients = clients.clear()
        expected = "clients.parquet holds no client"
    clients.write_parquet(bad / "clients.parquet")
    before = client.get("/model_info").json()["loaded_at"]
    try:
        answer = reload_to(client, bad)
    finally:
        (served.parent / "LATEST").write_text(served.name + "\n")
        shutil.rmtree(bad)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error.startswith("reload: UserInputError: cannot serve snapshot 2026-07-01_bad")
    assert expected in error and error.endswith("still serving the previous state")
    assert known_ids[0] not in error
    assert client.get("/model_info").json()["loaded_at"] == before
    assert client.post("/next_purchase", json={"client_ids": known_ids[:2]}).status_code == 200


def test_a_snapshot_far_from_the_champions_training_is_served_with_a_warning(
    client: TestClient, served_setup: dict[str, Any]
) -> None:
    from serving.snapshot_checks import MAX_SNAPSHOT_MODEL_GAP_DAYS

    root = served_setup["root"]
    served = served_snapshot(served_setup)
    assert client.get("/model_info").json()["warnings"] == []
    as_of = served_setup["snapshot"].as_of - timedelta(days=MAX_SNAPSHOT_MODEL_GAP_DAYS + 30)
    old = write_snapshot(root / "maison", as_of, root / "snapshots")  # not published: older
    try:
        answer = reload_to(client, old.path)
        assert answer.status_code == 200, answer.text
        info = client.get("/model_info").json()
    finally:
        reload_to(client, served)
    assert info["snapshot"]["as_of"] == as_of.isoformat()
    assert any(
        f"snapshot as of {as_of} is {MAX_SNAPSHOT_MODEL_GAP_DAYS + 30} days before the "
        "next_purchase champion" in warning
        for warning in info["warnings"]
    ), info["warnings"]
    assert answer.json()["current"]["warnings"] == info["warnings"]
    assert client.get("/model_info").json()["warnings"] == []


def test_a_client_without_a_purchase_is_told_apart_from_an_unknown_id(
    client: TestClient, served_setup: dict[str, Any], known_ids: list[str]
) -> None:
    from features.snapshot import NO_PURCHASE_TABLE

    served = served_snapshot(served_setup)
    maison = pl.read_parquet(served_setup["root"] / "maison" / "clients.parquet")
    listed = pl.read_parquet(served / f"{NO_PURCHASE_TABLE}.parquet")["client_id"].to_list()
    assert listed, "the synthetic maison lists clients without a purchase in its history"
    assert set(listed) <= set(maison["client_id"]) and not set(listed) & set(known_ids)
    ids = [listed[0], known_ids[0], "C-nobody"]
    items = client.post("/next_purchase", json={"client_ids": ids}).json()
    assert [item["status"] for item in items] == ["no_purchase_history", "ok", "unknown_client"]
    assert items[0]["p_buy_90d"] is None and items[0]["reasons"] == []

    older = served_copy(served_setup, "2026-07-01_older")  # written before the table existed
    (older / f"{NO_PURCHASE_TABLE}.parquet").unlink()
    try:
        assert reload_to(client, older).status_code == 200
        items = client.post("/next_purchase", json={"client_ids": ids}).json()
    finally:
        reload_to(client, served)
    assert [item["status"] for item in items] == ["unknown_client", "ok", "unknown_client"]


def test_a_reload_that_must_explain_every_client_answers_202_and_swaps_in_when_ready(
    client: TestClient, served_setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Explaining a snapshot for a new champion is heavy: it runs in the background, not in the
    request, which answers 202 once its budget is spent; the state is swapped in when ready."""
    import shutil
    import time

    from serving import service
    from serving.client_scores import CACHE_FOLDER

    shutil.rmtree(served_setup["root"] / "snapshots" / CACHE_FOLDER)
    monkeypatch.setattr(service, "RELOAD_ANSWER_SECONDS", 0.0)
    before = client.get("/model_info").json()["loaded_at"]
    answer = client.post("/admin/reload")
    assert answer.status_code == 202, answer.text
    assert answer.json()["reloaded"] is False and "GET /model_info" in answer.json()["message"]
    deadline = time.monotonic() + 120
    while client.get("/model_info").json()["loaded_at"] == before:
        assert time.monotonic() < deadline, "the background reload never swapped the state in"
        time.sleep(0.1)
    cached = list((served_setup["root"] / "snapshots" / CACHE_FOLDER).rglob("*.parquet"))
    assert [path.name for path in cached] == [f"{NEXT_PURCHASE}-v1.parquet"]


# -- logs -------------------------------------------------------------------------------------


def test_logs_hold_no_client_attribute_or_prediction(
    client: TestClient,
    served_setup: dict[str, Any],
    known_ids: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = client.post("/next_purchase", json={"client_ids": known_ids[:3]}).json()
        client.post("/next_purchase", json={"client_ids": "tier=gold;age=44"})
        client.post("/call_list", json={"boutique_id": "B-unknown"})
    text = caplog.text
    assert "tier=gold" not in text and "age=44" not in text
    for item in answer:
        assert f"{item['p_buy_90d']}" not in text
        for reason in item["reasons"]:
            assert reason not in text


# -- schemathesis -----------------------------------------------------------------------------


def test_the_openapi_schema_holds_for_generated_requests(client: TestClient) -> None:
    """Schemathesis generates valid and invalid requests from ``/docs.json``: never a 5xx,
    every answer matches the schema, every invalid request is refused with a 4xx."""
    import schemathesis
    from schemathesis.checks import (
        negative_data_rejection,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_dict(client.get("/docs.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/next_purchase", "/footfall", "/call_list"}
    always = [not_a_server_error, response_schema_conformance, status_code_conformance]
    for operation in operations:
        run_generated(client, operation.as_strategy(), always)
        if "requestBody" in operation.definition.raw:  # nothing to get wrong otherwise
            negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
            run_generated(client, negative, [*always, negative_data_rejection])


def run_generated(client: TestClient, strategy: Any, checks: list[Any]) -> None:
    """Send generated cases through the test client (the app's own event loop) and check them."""

    @settings(
        max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        request = case.as_transport_kwargs(base_url=str(client.base_url))
        request.pop("timeout", None)
        body = request.pop("data", None)
        answer = client.request(content=body, **request)
        case.validate_response(answer, checks=checks)

    send()


# -- a property over the request path --------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=40), unknown=st.booleans())
def test_every_request_is_answered_item_for_item(
    client: TestClient, known_ids: list[str], picks: list[int], unknown: bool
) -> None:
    ids = [known_ids[p % len(known_ids)] for p in picks] + (["C-unknown"] if unknown else [])
    items = client.post("/next_purchase", json={"client_ids": ids}).json()
    assert [item["client_id"] for item in items] == ids
    assert all(
        (item["status"] == "ok") == (i in known_ids) for i, item in zip(ids, items, strict=True)
    )


# -- clientcast serve's preparation ----------------------------------------------------------


def test_serve_prepares_the_explanations_once_before_the_workers_start(
    served_setup: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from clientcast.settings import load_settings
    from serving.client_scores import CACHE_FOLDER
    from serving.startup import check_ready_to_serve

    shutil.rmtree(served_setup["root"] / "snapshots" / CACHE_FOLDER)
    snapshot = check_ready_to_serve(load_settings())
    assert "explaining every client" in capsys.readouterr().err
    cached = list((served_setup["root"] / "snapshots" / CACHE_FOLDER / snapshot.name).iterdir())
    assert [path.name for path in cached] == [f"{NEXT_PURCHASE}-v1.parquet"]
    check_ready_to_serve(load_settings())
    assert capsys.readouterr().err == ""


# -- auth off: last, because a second app in the process takes over BentoML's current service ---


def test_without_a_token_the_service_is_open_but_reload_is_disabled(
    open_client: TestClient, known_ids: list[str]
) -> None:
    assert "Authorization" not in open_client.headers
    answer = open_client.post("/next_purchase", json={"client_ids": known_ids[:2]})
    assert answer.status_code == 200
    assert open_client.get("/model_info").status_code == 200
    reload = open_client.post("/admin/reload")
    assert reload.status_code == 403
    assert reload.json()["fields"] == ["authorization"]
