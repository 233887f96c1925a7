"""Bearer-token authentication for the service, as an ASGI middleware.

Self-hosted BentoML has no built-in authentication. When ``CLIENTCAST_API_TOKEN`` is set, every
request except the health checks and the Prometheus metrics must carry
``Authorization: Bearer <token>``; anything else is answered 401 before it reaches the service.
The token is compared in constant time (:func:`hmac.compare_digest` on bytes), held as bytes
only, and never logged or echoed: the 401 body says what is missing, not what was sent.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from serving.errors import send_error

OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/livez", "/readyz", "/metrics"})
SCHEME = b"bearer "


def configured_token() -> bytes | None:
    """The token the settings hold (``CLIENTCAST_API_TOKEN``), as bytes; None when unset."""
    from clientcast.settings import load_settings

    secret = load_settings().api_token
    value = secret.get_secret_value() if secret is not None else ""
    return value.encode() or None


def presented_token(scope: Scope) -> bytes | None:
    """The bearer token of the request's ``Authorization`` header, if any."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            if value[: len(SCHEME)].lower() == SCHEME:
                return value[len(SCHEME) :].strip()
            return None
    return None


class BearerTokenAuth:
    """ASGI middleware: 401 unless the request presents the configured bearer token.

    ``token`` None means read the settings when the app starts; an empty token disables the
    check (the service is then open, as when ``CLIENTCAST_API_TOKEN`` is unset).
    """

    def __init__(self, app: ASGIApp, token: bytes | None = None) -> None:
        self.app = app
        self.token = token if token is not None else configured_token()

    @property
    def enabled(self) -> bool:
        """Whether requests must present a token."""
        return bool(self.token)

    def allows(self, scope: Scope) -> bool:
        """Whether the request may pass: open path, auth disabled, or the right token."""
        if not self.token or scope.get("path") in OPEN_PATHS:
            return True
        presented = presented_token(scope)
        return presented is not None and hmac.compare_digest(presented, self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allows(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_error(
            send,
            401,
            "authorization: a valid 'Authorization: Bearer <token>' header is required",
            ["authorization"],
            headers=[(b"www-authenticate", b'Bearer realm="clientcast"')],
        )
