"""The service's ASGI middlewares on a tiny Starlette app: bearer-token auth, body size limit,
error bodies, logs."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():  # starlette asks for httpx2, which is not installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from serving.auth import BearerTokenAuth, presented_token
from serving.errors import (
    BENTOML_REQUEST_LOGGER,
    ValidationErrorBodies,
    field_name,
    quiet_validation_logs,
    rewritten_validation_error,
)

TOKEN = "s3cret-token"
BENTOML_BODY = {
    "error": "2 validation errors for Input",
    "detail": [
        {"type": "too_long", "loc": ["client_ids"], "msg": "List should have at most 1000 items"},
        {"type": "int_parsing", "loc": ["days"], "msg": "Input should be a valid integer"},
    ],
}


async def predict(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def rejected(request: Request) -> Response:
    return JSONResponse(BENTOML_BODY, status_code=400)


async def not_validation(request: Request) -> Response:
    return JSONResponse({"error": "other"}, status_code=400)


def app(token: bytes | None) -> Starlette:
    routes = [
        Route("/predict", predict, methods=["POST", "GET"]),
        Route("/rejected", rejected, methods=["POST"]),
        Route("/other", not_validation, methods=["POST"]),
        Route("/healthz", predict),
        Route("/metrics", predict),
    ]
    application = Starlette(routes=routes)
    application.add_middleware(ValidationErrorBodies)
    application.add_middleware(BearerTokenAuth, token=token)
    return application


@pytest.fixture
def secured() -> TestClient:
    return TestClient(app(TOKEN.encode()))


def test_without_a_token_configured_everything_is_open() -> None:
    client = TestClient(app(b""))
    assert client.post("/predict").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_a_missing_or_wrong_token_is_refused_with_401(
    secured: TestClient, headers: dict[str, str]
) -> None:
    answer = secured.post("/predict", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["fields"] == ["authorization"]
    assert TOKEN not in answer.text


def test_the_right_token_passes_whatever_the_scheme_case(secured: TestClient) -> None:
    assert secured.post("/predict", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert secured.get("/predict", headers={"authorization": f"bearer {TOKEN}"}).status_code == 200


def test_health_checks_and_metrics_stay_open(secured: TestClient) -> None:
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/metrics").status_code == 200


def test_the_token_is_read_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTCAST_API_TOKEN", TOKEN)
    client = TestClient(app(None))
    assert client.post("/predict").status_code == 401
    assert client.post("/predict", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    monkeypatch.delenv("CLIENTCAST_API_TOKEN")
    assert TestClient(app(None)).post("/predict").status_code == 200


def test_presented_token_reads_only_the_bearer_scheme() -> None:
    assert presented_token({"headers": [(b"authorization", b"Bearer abc ")]}) == b"abc"
    assert presented_token({"headers": [(b"authorization", b"Token abc")]}) is None
    assert presented_token({"headers": []}) is None


def test_validation_errors_are_rewritten_to_name_the_fields(secured: TestClient) -> None:
    answer = secured.post("/rejected", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["fields"] == ["client_ids", "days"]
    assert body["error"].startswith("client_ids: List should have at most 1000 items; days: ")
    assert int(answer.headers["content-length"]) == len(answer.content)


def test_other_400_bodies_pass_unchanged(secured: TestClient) -> None:
    answer = secured.post("/other", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.json() == {"error": "other"}


def test_field_names_follow_the_location() -> None:
    assert field_name(["client_ids", 3]) == "client_ids[3]"
    assert field_name(["a", "b"]) == "a.b"
    assert field_name([]) == "body"
    assert rewritten_validation_error({"error": "x"}) is None
    assert rewritten_validation_error([1, 2]) is None


class Days(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int


def test_rejected_requests_are_logged_in_one_line_without_their_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_validation_logs()
    quiet_validation_logs()  # idempotent
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    assert sum(type(f).__name__ == "ValidationLogFilter" for f in logger.filters) == 1
    try:
        Days.model_validate_json(json.dumps({"days": "C000123-secret"}))
    except ValidationError:
        with caplog.at_level(logging.INFO, logger=BENTOML_REQUEST_LOGGER):
            logger.error("Exception on %s [%s]", "/footfall", "POST", exc_info=True)
    (record,) = caplog.records
    assert record.getMessage() == "rejected an invalid request on /footfall: days (int_parsing)"
    assert "C000123-secret" not in caplog.text
    assert record.levelno == logging.INFO


def test_keys_a_request_invents_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    quiet_validation_logs()
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    try:
        Days.model_validate_json(json.dumps({"days": 3, "email=jane@example.com": 1}))
    except ValidationError:
        with caplog.at_level(logging.INFO, logger=BENTOML_REQUEST_LOGGER):
            logger.error("Exception on %s [%s]", "/footfall", "POST", exc_info=True)
    assert "jane" not in caplog.text
    assert "(unknown field) (extra_forbidden)" in caplog.text


def test_other_exceptions_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    quiet_validation_logs()
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        with caplog.at_level(logging.ERROR, logger=BENTOML_REQUEST_LOGGER):
            logger.error("Exception on %s [%s]", "/footfall", "POST", exc_info=True)
    assert "RuntimeError: boom" in caplog.text


# -- request body size ------------------------------------------------------------------------

LIMIT = 100


async def read_all(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"bytes": len(body)})


async def read_and_hide_errors(request: Request) -> Response:
    """Like a framework turning any exception into a 500 of its own."""
    try:
        await request.body()
    except Exception:
        return JSONResponse({"error": "internal"}, status_code=500)
    return JSONResponse({"ok": True})


def limited_app(max_bytes: int = LIMIT) -> Starlette:
    from serving.body_limit import RequestBodyLimit

    routes = [
        Route("/read", read_all, methods=["POST", "GET"]),
        Route("/hiding", read_and_hide_errors, methods=["POST"]),
    ]
    application = Starlette(routes=routes)
    application.add_middleware(RequestBodyLimit, max_bytes=max_bytes)
    return application


def chunks(total: int, size: int = 30) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), ``size`` bytes at a time."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_a_body_up_to_the_limit_passes_whole() -> None:
    client = TestClient(limited_app())
    assert client.post("/read", content=b"x" * LIMIT).json() == {"bytes": LIMIT}
    assert client.post("/read", content=chunks(LIMIT)).json() == {"bytes": LIMIT}
    assert client.get("/read").json() == {"bytes": 0}


@pytest.mark.parametrize("path", ["/read", "/hiding"])
def test_a_body_over_the_limit_is_413_declared_or_chunked(path: str) -> None:
    client = TestClient(limited_app())
    for content in (b"x" * (LIMIT + 1), chunks(10 * LIMIT)):
        answer = client.post(path, content=content)
        assert answer.status_code == 413, answer.text
        assert answer.json()["fields"] == ["body"]
        assert answer.json()["error"].startswith("body: the request body is larger than")
        assert f"{LIMIT:,} bytes" in answer.json()["error"]
        assert answer.headers["connection"] == "close"


def test_a_declared_length_over_the_limit_is_refused_before_reading_a_byte() -> None:
    import asyncio

    from serving.body_limit import MAX_BODY_BYTES, RequestBodyLimit

    reached: list[str] = []
    sent: list[dict] = []

    async def application(scope: dict, receive: object, send: object) -> None:
        reached.append(scope["path"])

    async def receive() -> dict:
        raise AssertionError("the body was read")

    async def send(message: dict) -> None:
        sent.append(message)

    for length in (b"200000016", b"9" * 5000):  # the audit's 200 MB body; absurd lengths too
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/next_purchase",
            "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
        }
        asyncio.run(RequestBodyLimit(application)(scope, receive, send))
        assert sent[-2]["status"] == 413
    assert reached == []
    # the largest valid request, 1,000 ids of 128 characters, is far below the limit
    largest = json.dumps({"client_ids": ["C" * 128] * 1000}).encode()
    assert len(largest) < MAX_BODY_BYTES / 5


def test_a_chunked_body_is_cut_off_once_past_the_limit() -> None:
    import asyncio

    from serving.body_limit import RequestBodyLimit

    delivered = 0

    async def receive() -> dict:
        nonlocal delivered
        delivered += 1
        return {"type": "http.request", "body": b"x" * 40, "more_body": delivered < 1000}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/read",
        "headers": [(b"transfer-encoding", b"chunked")],
    }
    asyncio.run(RequestBodyLimit(limited_app(), max_bytes=LIMIT)(scope, receive, send))
    assert delivered == 3  # 120 bytes read of 40,000, then 413
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3 * LIMIT), piece=st.integers(1, 2 * LIMIT), chunked=st.booleans())
def test_a_body_is_refused_exactly_when_it_passes_the_limit(
    size: int, piece: int, chunked: bool
) -> None:
    client = TestClient(limited_app())
    content = chunks(size, piece) if chunked else b"x" * size
    answer = client.post("/read", content=content)
    if size > LIMIT:
        assert answer.status_code == 413
    else:
        assert answer.json() == {"bytes": size}  # whole, never cut
