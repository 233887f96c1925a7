"""4xx answers that name the field at fault, in one shape: ``{"error": ..., "fields": [...]}``.

BentoML answers a request that fails pydantic validation with 400 and
``{"error": "1 validation error for Input", "detail": [{"loc": [...], "msg": ...}, ...]}``, whose
message names no field and whose ``detail`` does not match the error schema BentoML itself
publishes (``detail`` a string). :class:`ValidationErrorBodies` rewrites those bodies into
:class:`serving.schemas.ErrorBody`, ``"client_ids: List should have at most 1000 items ..."``;
:class:`RequestRejected` is what the endpoints raise for checks that need the loaded state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY = "body"
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


def error_body(message: str, fields: Sequence[str]) -> dict[str, Any]:
    """The JSON body of a 4xx answer."""
    return {"error": message, "fields": list(fields)}


async def send_error(
    send: Send,
    status: int,
    message: str,
    fields: Sequence[str],
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer ``status`` with :func:`error_body` straight from an ASGI middleware, before any
    endpoint runs (authentication, the body limit)."""
    body = json.dumps(error_body(message, fields)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestRejected(Exception):
    """A well-formed request the loaded state cannot answer: unknown boutique, date out of range."""

    def __init__(self, field: str, message: str, status_code: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status_code = status_code

    def response(self) -> JSONResponse:
        """The 4xx answer naming the field."""
        return JSONResponse(error_body(str(self), [self.field]), status_code=self.status_code)


def field_name(location: Iterable[Any]) -> str:
    """``["client_ids", 3]`` -> ``client_ids[3]``; the empty location is the request body."""
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or BODY


def rewritten_validation_error(payload: Any) -> dict[str, Any] | None:
    """BentoML's validation error body as an :class:`ErrorBody`, or None if it is not one."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("detail"), list):
        return None
    problems = [item for item in payload["detail"] if isinstance(item, Mapping)]
    if not problems:
        return None
    fields = [field_name(item.get("loc", ())) for item in problems]
    messages = [
        f"{field}: {item.get('msg', 'invalid')}"
        for field, item in zip(fields, problems, strict=True)
    ]
    return error_body("; ".join(messages), list(dict.fromkeys(fields)))


class ValidationErrorBodies:
    """ASGI middleware: rewrite 400 validation bodies into messages that name the field."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewriting_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message
                return
            if start is None:
                await send(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _send_rewritten(send, start, b"".join(chunks))

        await self.app(scope, receive, rewriting_send)


async def _send_rewritten(send: Send, start: Message, body: bytes) -> None:
    try:
        replacement = rewritten_validation_error(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        replacement = None
    if replacement is not None:
        body = json.dumps(replacement).encode()
        headers = [
            (key, value)
            for key, value in start.get("headers", [])
            if key.lower() not in (b"content-length", b"content-type")
        ]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        start = {**start, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ValidationLogFilter(logging.Filter):
    """Shorten BentoML's log of a rejected request to one line without the request's values.

    BentoML logs every request that fails validation with a traceback whose pydantic message
    repeats the offending input. A client's mistake is not a server error, and a log must not
    carry request values: keep the path, the fields and the error types only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            fields = sorted({f"{loggable_field(e)} ({e['type']})" for e in error.errors()})
            record.msg = "rejected an invalid request on %s: %s"
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.args = (path, ", ".join(fields))
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def loggable_field(error: Mapping[str, Any]) -> str:
    """The field of a validation error as a log may hold it: a field the request invented (an
    unknown key) is not repeated, and anything outside printable ASCII is escaped."""
    if error.get("type") == "extra_forbidden":
        return "(unknown field)"
    name = field_name(error.get("loc", ()))
    return name.encode("ascii", "backslashreplace").decode()[:80]


def quiet_validation_logs(logger_name: str = BENTOML_REQUEST_LOGGER) -> None:
    """Install :class:`ValidationLogFilter` on BentoML's request error logger (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ValidationLogFilter) for f in logger.filters):
        logger.addFilter(ValidationLogFilter())
