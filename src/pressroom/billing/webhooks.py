"""Payment-provider webhooks: POST /v1/webhooks/{stripe,paddle}.

Per delivery: read the raw body (at most `webhook_max_body_bytes`, counted while reading),
verify the signature on exactly those bytes, then in one transaction store the event
(`ON CONFLICT DO NOTHING`) and apply it; if applying fails, that transaction rolls back
and a second one stores the event with its error. A verified delivery is always
acknowledged with 200 once stored, applied or not: an event that could not be applied
keeps its error in `billing_events` and is retried on redelivery, when its checkout
links the org, or by `pressroom billing reprocess` (docs/billing.md). A bad signature,
a stale timestamp or an oversized body answers 4xx and stores nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from pressroom.billing.inbox import Outcome, receive, record_failure
from pressroom.billing.plans import PlanCatalog, get_catalog
from pressroom.billing.providers.base import (
    InboundEvent,
    InvalidSignature,
    MalformedEvent,
    WebhookNotConfigured,
    WebhookProvider,
)
from pressroom.billing.providers.registry import webhook_providers
from pressroom.config import Settings, get_settings
from pressroom.db.session import unit_of_work
from pressroom.errors import AppError, error_responses

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/webhooks", tags=["billing"])


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class WebhookAck(BaseModel):
    received: bool = True
    event_id: str
    outcome: Outcome


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    body = bytearray()
    # Counted while streaming: a lying or absent Content-Length cannot make us buffer more.
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
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
            failure = exc
            break
    # Rolled back: keep the event with its error in a transaction of its own. If the
    # database itself is failing this raises too, and the 500 makes the provider retry.
    with unit_of_work(factory) as session:
        record_failure(session, provider.name, event, failure)
    return Outcome.FAILED


async def _handle(request: Request, provider_name: str) -> Response:
    state = request.app.state
    provider: WebhookProvider = state.webhook_providers[provider_name]
    body = await _read_body(request, state.webhook_max_body_bytes)
    provider.verify(body, request.headers)
    event = provider.parse(body)
    # The webhook executor has as many threads as the pool has connections: a delivery
    # beyond that waits in its queue, not in a thread blocked on the pool, and the pool
    # never opens and closes overflow connections under load. (An executor hand-off costs
    # a third of anyio.to_thread's; copying the context keeps the request id in logs.)
    outcome: Outcome = await asyncio.get_running_loop().run_in_executor(
        state.webhook_executor,
        contextvars.copy_context().run,
        _store_and_apply,
        state.sessionmaker,
        provider,
        event,
        state.plan_catalog,
    )
    # Rendered here rather than through response_model: the shape is WebhookAck (as
    # documented) and validating our own three fields on every delivery buys nothing.
    ack = {"received": True, "event_id": event.provider_event_id, "outcome": outcome.value}
    return Response(orjson.dumps(ack), media_type="application/json")


_RAW_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "The provider's event, byte for byte as signed.",
    }
}
_ERRORS = error_responses(InvalidSignature, MalformedEvent, PayloadTooLarge, WebhookNotConfigured)


@router.post(
    "/stripe",
    response_model=WebhookAck,
    responses=_ERRORS,
    openapi_extra=_RAW_JSON_BODY,
    summary="Stripe webhook (Stripe-Signature)",
)
async def stripe_webhook(request: Request) -> Response:
    return await _handle(request, "stripe")


@router.post(
    "/paddle",
    response_model=WebhookAck,
    responses=_ERRORS,
    openapi_extra=_RAW_JSON_BODY,
    summary="Paddle Billing webhook (Paddle-Signature)",
)
async def paddle_webhook(request: Request) -> Response:
    return await _handle(request, "paddle")


def install_billing(app: FastAPI, settings: Settings | None = None) -> None:
    """Webhook routes plus what they need; a bad plans file fails here, at start-up."""
    settings = settings or get_settings()
    app.state.plan_catalog = get_catalog()
    app.state.webhook_providers = webhook_providers(settings)
    app.state.webhook_max_body_bytes = settings.webhook_max_body_bytes
    pool_size = getattr(app.state.engine.pool, "size", lambda: settings.db_pool_size)()
    app.state.webhook_executor = ThreadPoolExecutor(
        max_workers=max(1, pool_size), thread_name_prefix="webhook"
    )
    app.include_router(router)
