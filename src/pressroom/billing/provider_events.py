"""Payment-provider webhooks: POST /v1/webhooks/{stripe,paddle}.

Per delivery: read the raw body (at most `webhook_max_body_bytes`, counted while reading),
verify the signature on exactly those bytes, then in one transaction store the event
(`ON CONFLICT DO NOTHING`) and apply it; if applying fails, that transaction rolls back
and a second one stores the event, then tries it once more under the subscription's lock,
keeping its error if it fails again. A verified delivery is always acknowledged with 200
once stored, applied or not: an event that could not be applied keeps its error in
`billing_events` and is retried on redelivery, when its checkout links the org, or by
`pressroom billing reprocess` (docs/billing.md). A bad signature, a stale timestamp or an
oversized body answers 4xx and stores nothing.

The two paths are served by `ProviderEventMiddleware`, an ASGI middleware just inside the one that
binds the request id and writes the access log, instead of by FastAPI's router: a
provider sends us thousands of deliveries a minute, and routing, dependency solving and
the request/response wrappers cost more CPU per delivery than storing it (docs/billing.md,
"Benchmark"). The operations are still documented: `openapi_routes()` declares them for
the OpenAPI document only.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from pressroom.billing.inbox import Outcome, receive, retry_after_rollback
from pressroom.billing.plans import PlanCatalog, get_catalog
from pressroom.billing.providers.base import (
    InboundEvent,
    InvalidSignature,
    MalformedEvent,
    WebhookNotConfigured,
    WebhookProvider,
)
from pressroom.billing.providers.registry import webhook_providers
from pressroom.config import Settings
from pressroom.db.session import unit_of_work
from pressroom.errors import AppError, error_responses, problem_for
from pressroom.http.body_limit import BodySizeLimitMiddleware, PayloadTooLarge

log = logging.getLogger(__name__)
PATH_PREFIX = "/v1/webhooks"
_JSON_HEADERS = [(b"content-type", b"application/json")]


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class WebhookAck(BaseModel):
    received: bool = True
    event_id: str
    outcome: Outcome


async def _read_body(receive: Receive) -> bytes:
    # Under BodySizeLimitMiddleware (ProviderEventMiddleware): already capped, and whole.
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


def _dropped_connection(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _store_and_apply(
    factory: sessionmaker[Session],
    provider: WebhookProvider,
    event: InboundEvent,
    catalog: PlanCatalog,
) -> Outcome:
    for attempt in (1, 2):
        try:
            with unit_of_work(factory) as session:
                return receive(session, provider, event, catalog)
        except Exception as exc:
            if attempt == 1 and _dropped_connection(exc):
                # The pool has no pre-ping (pressroom.db.session): a connection the server
                # dropped fails here once, and the pool is invalidated. The transaction
                # rolled back or committed whole; storing is idempotent, so run it again.
                log.warning("database connection lost; retrying the webhook transaction once")
                continue
            # The second try logs the error if it fails too.
            log.debug("billing event %s failed once: %r", event.provider_event_id, exc)
            break
    # Rolled back: store it, try again, else keep it with its error. If the database
    # itself is failing this raises too, and the 500 makes the provider redeliver.
    with unit_of_work(factory) as session:
        return retry_after_rollback(session, provider, event, catalog)


@dataclass(frozen=True)
class WebhookReceiver:
    """Everything a delivery needs, resolved once at start-up (a bad plans file fails then)."""

    factory: sessionmaker[Session]
    providers: dict[str, WebhookProvider]
    catalog: PlanCatalog
    max_body_bytes: int
    # At most as many threads as the pool has connections: a delivery beyond that waits
    # in the executor's queue, not in a thread blocked on the pool, and the pool never
    # opens and closes overflow connections under load.
    executor: ThreadPoolExecutor

    @classmethod
    def start(
        cls, factory: sessionmaker[Session], engine: Engine, settings: Settings
    ) -> WebhookReceiver:
        pool_size = getattr(engine.pool, "size", lambda: settings.db_pool_size)()
        threads = max(1, min(settings.webhook_concurrency, pool_size))
        return cls(
            factory=factory,
            providers=webhook_providers(settings),
            catalog=get_catalog(),
            max_body_bytes=settings.webhook_max_body_bytes,
            executor=ThreadPoolExecutor(threads, thread_name_prefix="webhook"),
        )

    async def deliver(self, provider_name: str, scope: Scope, receive: Receive) -> bytes:
        """Verify, store and apply one delivery; the acknowledgement's JSON (a WebhookAck)."""
        provider = self.providers[provider_name]
        body = await _read_body(receive)
        provider.verify(body, Headers(scope=scope))
        event = provider.parse(body)
        # An executor hand-off costs a third of anyio.to_thread's; copying the context
        # keeps the request id in the transaction's log lines.
        outcome: Outcome = await asyncio.get_running_loop().run_in_executor(
            self.executor,
            contextvars.copy_context().run,
            _store_and_apply,
            self.factory,
            provider,
            event,
            self.catalog,
        )
        # Our own three fields: rendered directly, not validated through WebhookAck.
        return orjson.dumps(
            {"received": True, "event_id": event.provider_event_id, "outcome": outcome.value}
        )


def _route_path(scope: Scope) -> str:
    # Mounted under a prefix (uvicorn --root-path, behind a proxy), `path` starts with it.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


class ProviderEventMiddleware:
    """ASGI middleware: serves `PATH_PREFIX/<provider>` itself, passes the rest on."""

    def __init__(self, app: ASGIApp, *, receiver: WebhookReceiver) -> None:
        self.app = app
        self.receiver = receiver
        self.paths = {f"{PATH_PREFIX}/{name}": name for name in receiver.providers}
        # The body cap every route has, at the webhooks' own (smaller) limit.
        self.serve = BodySizeLimitMiddleware(self.answer, max_body_bytes=receiver.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) not in self.paths:
            await self.app(scope, receive, send)
        elif scope["method"] != "POST":
            refusal = MethodNotAllowed("webhooks take POST only", headers={"Allow": "POST"})
            await problem_for(refusal)(scope, receive, send)
        else:
            await self.serve(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            ack = await self.receiver.deliver(self.paths[_route_path(scope)], scope, receive)
        except AppError as exc:
            await problem_for(exc)(scope, receive, send)
            return
        headers = [*_JSON_HEADERS, (b"content-length", str(len(ack)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ack})


_RAW_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "The provider's event, byte for byte as signed.",
    }
}
_ERRORS = error_responses(
    InvalidSignature, MalformedEvent, MethodNotAllowed, PayloadTooLarge, WebhookNotConfigured
)
_SUMMARIES = {
    "stripe": "Stripe webhook (Stripe-Signature)",
    "paddle": "Paddle Billing webhook (Paddle-Signature)",
}


def _served_by_webhook_routes() -> WebhookAck:
    raise AssertionError(
        "never routed: ProviderEventMiddleware answers these paths before the router"
    )


def openapi_routes() -> list[BaseRoute]:
    """The webhook operations as FastAPI would declare them, for the OpenAPI document."""
    router = APIRouter(prefix=PATH_PREFIX, tags=["billing"])
    for name, summary in _SUMMARIES.items():
        router.add_api_route(
            f"/{name}",
            _served_by_webhook_routes,
            methods=["POST"],
            name=f"{name}_webhook",
            summary=summary,
            response_model=WebhookAck,
            responses=_ERRORS,
            openapi_extra=_RAW_JSON_BODY,
        )
    return router.routes
