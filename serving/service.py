"""The clientcast BentoML service: next purchases, footfall and call lists for clienteling apps.

``clientcast serve`` runs ``bentoml serve serving.service:Clientcast``. At start-up the service
loads the ``@champion`` models and the latest online snapshot and prepares everything the request
path needs (:mod:`serving.state`); requests then compute nothing heavy. The settings chosen below
and why are in ``docs/serving.md``.

Endpoints: ``POST /next_purchase`` (adaptive batching merges concurrent calls), ``POST /footfall``,
``POST /call_list``, ``GET /model_info``, ``POST /admin/reload``; BentoML adds ``/healthz``,
``/readyz``, ``/metrics``, the OpenAPI spec at ``/docs.json`` and the Swagger UI at ``/``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from datetime import date
from typing import Annotated, Any

import bentoml
from bentoml.validators import ContentType
from fastapi import FastAPI
from starlette.responses import JSONResponse

from clientcast.settings import load_settings
from serving.auth import BearerTokenAuth
from serving.body_limit import RequestBodyLimit
from serving.errors import (
    RequestRejected,
    ValidationErrorBodies,
    error_body,
    quiet_validation_logs,
)
from serving.reload import NOTICE_NAME, BackgroundReload, ReloadNotice, failure_summary
from serving.schemas import (
    MAX_CLIENT_IDS,
    CallListRequest,
    CallListResponse,
    ErrorBody,
    FootfallRequest,
    FootfallResponse,
    Granularity,
    ModelInfoResponse,
    NextPurchaseItem,
    NextPurchaseRequest,
    ReloadPending,
    ReloadResponse,
)
from serving.state import ServingState, StateSlot, load_serving_state

logger = logging.getLogger(__name__)

JSON = "application/json"
"""Declared as the media type of the list answer of ``/next_purchase``: without it BentoML
regenerates the answer's JSON schema on every response to find it out (about 1 ms each)."""

BATCH_MAX_LATENCY_MS = 250
"""The batcher's latency budget: a request that would wait longer is answered 503 (shed).

It also seeds the batcher's first cost estimates (budget / 15 per request), so a generous budget
makes the first batches wait for company. 250 ms sheds nothing below saturation on 2 cores and
costs nothing once the batcher has measured the real, sub-millisecond cost of a batch."""

NEXT_PURCHASE_API: dict[str, Any] = {
    "route": "/next_purchase",
    "input_spec": NextPurchaseRequest,
    "batchable": True,
    "max_batch_size": MAX_CLIENT_IDS,
    "max_latency_ms": BATCH_MAX_LATENCY_MS,
}
"""The ``/next_purchase`` endpoint's BentoML settings: adaptive batching of the client ids."""

TRACED_NOWHERE = ("/next_purchase", "/footfall", "/call_list", "/model_info", "/admin/reload")
"""Routes without OpenTelemetry spans: with no exporter configured they go nowhere and cost
about 0.3 ms per request. Override ``tracing.excluded_urls`` in a BentoML config to trace them."""

RELOAD_ANSWER_SECONDS = 20.0
"""How long ``/admin/reload`` waits for the new state before answering 202 (well inside the 60 s
``traffic.timeout``); a reload that must first explain every client carries on after it."""

RELOAD_EXPLAIN_THREADS = 1
"""Threads explaining the snapshot's clients during a reload when the new champion's cache is
missing: one, so that the request path keeps the other core."""

info_app = FastAPI(
    title="clientcast model information and administration",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


SERVICE_CONFIG: dict[str, Any] = {
    "workers": 1,
    "threads": 1,
    "traffic": {"timeout": 60},
    "logging": {"access": {"enabled": False}},
    "tracing": {"excluded_urls": list(TRACED_NOWHERE)},
}
"""BentoML settings of the service; ``docs/serving.md`` says why each one."""


def freeze_long_lived_objects() -> None:
    """Move everything alive now (models, snapshot, precomputed answers) out of the garbage
    collector's sight: a full collection then no longer walks the hundreds of thousands of
    objects of the state, which would otherwise stall a request now and then for tens of
    milliseconds. They are still freed by reference counting when a reload drops them."""
    gc.collect()
    gc.freeze()


@bentoml.service(**SERVICE_CONFIG)
@bentoml.asgi_app(info_app, path="/")
class Clientcast:
    """Next purchases, footfall and call lists from the champion models and the latest snapshot."""

    def __init__(self) -> None:
        quiet_validation_logs()
        self.settings = load_settings()
        self.slot = StateSlot(load_serving_state(self.settings))
        freeze_long_lived_objects()
        self.notice = ReloadNotice(self.settings.snapshot_dir / NOTICE_NAME)
        self.reloads = BackgroundReload(self.reload_and_notify)
        self.stop_watching = threading.Event()
        self.notice.watch(self.load_state, self.stop_watching)

    def load_state(self) -> tuple[ServingState, ServingState]:
        """Load the current champions and snapshot and swap them in; (previous, new).

        Runs outside the event loop (a reload thread or the notice watcher); a missing client
        explanation cache is filled on :data:`RELOAD_EXPLAIN_THREADS` threads.
        """
        swapped = self.slot.replace(
            lambda: load_serving_state(self.settings, explain_threads=RELOAD_EXPLAIN_THREADS)
        )
        freeze_long_lived_objects()
        return swapped

    def reload_and_notify(self) -> ReloadResponse:
        """Reload this worker, then tell the others through the reload notice."""
        started = time.perf_counter()
        previous, current = self.load_state()
        seconds = time.perf_counter() - started
        notified = self.notice.publish()
        logger.info("reloaded in %.1f s; other workers notified: %s", seconds, notified)
        return ReloadResponse(
            reloaded=True,
            workers_notified=notified,
            previous=previous.info,
            current=current.info,
            seconds=seconds,
        )

    @bentoml.on_shutdown
    def stop_reload_watch(self) -> None:
        """Stop watching the reload notice and accepting reloads."""
        self.stop_watching.set()
        self.reloads.shutdown()

    @bentoml.api(**NEXT_PURCHASE_API)
    async def next_purchase(
        self, client_ids: list[str]
    ) -> Annotated[list[NextPurchaseItem], ContentType(JSON)]:
        """Per client: purchase probabilities (30 and 90 days), expected spend, top divisions,
        days to the next purchase (P10/P50/P90), top reasons, snapshot date and model version.
        An id without features gets its own item with ``status: no_purchase_history`` (a client
        without a purchase before the snapshot date) or ``unknown_client``."""
        return self.slot.current.next_purchase.score(client_ids)

    @bentoml.api(route="/footfall", input_spec=FootfallRequest, output_spec=FootfallResponse)
    async def footfall(
        self, boutique_id: str, start: date, days: int, granularity: Granularity
    ) -> FootfallResponse | JSONResponse:
        """Visitors forecast (P10/P50/P90) per day or hour, boutique-local time."""
        try:
            return self.slot.current.footfall.window(boutique_id, start, days, granularity)
        except RequestRejected as rejected:
            return rejected.response()

    @bentoml.api(route="/call_list", input_spec=CallListRequest, output_spec=CallListResponse)
    def call_list(
        self, boutique_id: str, n: int, horizon_days: int, division: str | None
    ) -> CallListResponse | JSONResponse:
        """The boutique's opted-in clients most likely to buy within the horizon, with reasons
        and the boutique's quietest forecast days to invite them."""
        try:
            return self.slot.current.call_lists.call_list(boutique_id, n, horizon_days, division)
        except RequestRejected as rejected:
            return rejected.response()

    @info_app.get("/model_info", response_model=ModelInfoResponse, tags=["Service APIs"])
    def model_info(self) -> ModelInfoResponse:
        """Model names, versions, registration and training dates, backtest metrics; snapshot."""
        return self.slot.current.info

    @info_app.post(
        "/admin/reload",
        response_model=ReloadResponse,
        responses={
            202: {"model": ReloadPending},
            403: {"model": ErrorBody},
            409: {"model": ErrorBody},
        },
        tags=["Service APIs"],
    )
    async def reload(self) -> ReloadResponse | JSONResponse:
        """Load the current champions and the latest snapshot in the background, then swap them
        in; requests in flight finish on the previous ones. Answers once swapped (200), or 202
        when the new state is still being prepared after 20 s (it is swapped in when ready), or
        409 when it cannot be loaded. Needs the API token to be configured."""
        token = self.settings.api_token
        if token is None or not token.get_secret_value():
            message = "authorization: reload is disabled until CLIENTCAST_API_TOKEN is set"
            return JSONResponse(error_body(message, ["authorization"]), status_code=403)
        running = asyncio.wrap_future(self.reloads.start())
        try:
            return await asyncio.wait_for(asyncio.shield(running), RELOAD_ANSWER_SECONDS)
        except TimeoutError:
            pending = ReloadPending(
                message=f"still preparing the new state after {RELOAD_ANSWER_SECONDS:.0f} s "
                "(explaining every client for a new champion); it is swapped in when ready: "
                "GET /model_info shows it"
            )
            return JSONResponse(pending.model_dump(), status_code=202)
        except Exception as error:  # any load failure: the previous state keeps serving
            summary = failure_summary(error)
            body = error_body(f"reload: {summary}; still serving the previous state", ["reload"])
            return JSONResponse(body, status_code=409)


# Outermost first: the token, then the body size (a header check), then the 400 bodies.
Clientcast.add_asgi_middleware(BearerTokenAuth)
Clientcast.add_asgi_middleware(RequestBodyLimit)
Clientcast.add_asgi_middleware(ValidationErrorBodies)
