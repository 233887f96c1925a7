"""A size limit on request bodies, as an ASGI middleware: 413 before a large body is read.

Without it the server reads any body whole before validating it: a 200 MB body of spaces around
one id was answered 200 after holding hundreds of MB. The largest valid request is about 140 KB
(1,000 ids of 128 characters), so :data:`MAX_BODY_BYTES` (1 MiB) refuses nothing legitimate.

A request declaring its ``Content-Length`` is judged on that header alone, before a byte of the
body is read: this is the only work added to an ordinary request. A chunked body (no length) is
counted as it arrives and refused as soon as it passes the limit; a request with neither header
has no body and passes untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import BODY, send_error

MAX_BODY_BYTES = 1 << 20
"""Largest request body accepted, in bytes (1 MiB)."""
MAX_LENGTH_DIGITS = 18  # a longer Content-Length is huge anyway (and int() refuses 4,300 digits)


class BodyTooLarge(Exception):
    """Raised to the application when a chunked body passes the limit, to stop it reading."""


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, None when absent or not a number."""
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            if not value.isdigit():
                return None
            return int(value) if len(value) <= MAX_LENGTH_DIGITS else 10**MAX_LENGTH_DIGITS
    return None


def is_chunked(scope: Scope) -> bool:
    """Whether the request body comes without a declared length (``Transfer-Encoding``)."""
    return any(key == b"transfer-encoding" for key, _ in scope.get("headers", ()))


async def send_too_large(send: Send, max_bytes: int) -> None:
    """Answer 413 and close the connection (so the rest of the body is not read)."""
    message = f"{BODY}: the request body is larger than the service's limit of {max_bytes:,} bytes"
    await send_error(send, 413, message, [BODY], headers=[(b"connection", b"close")])


class RequestBodyLimit:
    """ASGI middleware: 413 for a request body above ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > self.max_bytes:
            await send_too_large(send, self.max_bytes)
            return
        if length is not None or not is_chunked(scope):
            await self.app(scope, receive, send)
            return
        await self.counted(scope, receive, send)

    async def counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application on a chunked body, cutting it off past the limit."""
        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:  # the application's answer to a body it never got whole
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await send_too_large(send, self.max_bytes)
