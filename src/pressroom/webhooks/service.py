"""Webhook endpoints of an org: create, change, rotate the secret, test, inspect, replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pressroom.config import Settings
from pressroom.db.base import new_id
from pressroom.db.tenancy import OrgScope
from pressroom.errors import Conflict, InvalidInput, NotFound
from pressroom.orgs.access import OrgAccess
from pressroom.outbox import queue
from pressroom.outbox.models import Channel, OutboxMessage
from pressroom.outbox.service import enqueue
from pressroom.pagination import PageParams, cursor_id
from pressroom.webhooks import security, signing
from pressroom.webhooks.events import PING, Event
from pressroom.webhooks.models import WebhookAttempt, WebhookEndpoint
from pressroom.webhooks.schemas import DeliveryAttemptOut, EndpointCreate, EndpointUpdate

MAX_ENDPOINTS_PER_ORG = 20


class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class DeliveryInFlight(Conflict):
    code = "webhook_delivery_in_flight"


class TooManyEndpoints(Conflict):
    code = "too_many_webhook_endpoints"


def _check_url(url: str, settings: Settings) -> None:
    try:
        security.check_on_save(url, settings)
    except security.UnsafeTarget as exc:
        raise InvalidInput(
            f"url: {exc}", extra={"errors": [{"field": "url", "in": "body", "message": str(exc)}]}
        ) from None


def create_endpoint(
    session: Session, access: OrgAccess, settings: Settings, body: EndpointCreate
) -> WebhookEndpoint:
    _check_url(body.url, settings)
    count = session.scalar(
        select(WebhookEndpoint.id)
        .where(access.scope.where(WebhookEndpoint.org_id))
        .offset(MAX_ENDPOINTS_PER_ORG - 1)
    )
    if count is not None:
        raise TooManyEndpoints(f"An organization may have at most {MAX_ENDPOINTS_PER_ORG}.")
    endpoint = WebhookEndpoint(
        id=new_id(),
        org_id=access.org_id,
        url=body.url,
        description=body.description,
        event_types=sorted(set(body.event_types)),
        enabled=body.enabled,
        secret=signing.new_secret(),
    )
    session.add(endpoint)
    session.flush()
    session.refresh(endpoint)
    return endpoint


def get_endpoint(session: Session, scope: OrgScope, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, scope.where(WebhookEndpoint.org_id)
        )
    )
    if endpoint is None:
        raise EndpointNotFound("No webhook endpoint with that id.")
    return endpoint


def list_endpoints(session: Session, scope: OrgScope) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(scope.where(WebhookEndpoint.org_id))
            .order_by(WebhookEndpoint.id)
        )
    )


def update_endpoint(
    session: Session,
    access: OrgAccess,
    settings: Settings,
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
) -> WebhookEndpoint:
    endpoint = get_endpoint(session, access.scope, endpoint_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        _check_url(changes["url"], settings)
    for field in ("url", "enabled", "event_types"):
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field}: may not be null")
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    if changes.get("enabled"):
        # Re-enabled by a person: the failure clock starts again.
        changes.update(failing_since=None, disabled_reason=None)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    session.flush()
    session.refresh(endpoint)
    return endpoint


def delete_endpoint(session: Session, scope: OrgScope, endpoint_id: uuid.UUID) -> None:
    # Its pending deliveries and attempts go with it (ON DELETE CASCADE).
    session.delete(get_endpoint(session, scope, endpoint_id))
    session.flush()


def rotate_secret(
    session: Session, scope: OrgScope, settings: Settings, endpoint_id: uuid.UUID
) -> tuple[str, datetime]:
    """A new secret; the current one keeps signing (beside it) for the grace period."""
    endpoint = get_endpoint(session, scope, endpoint_id)
    expires = datetime.now(UTC) + timedelta(seconds=settings.webhook_secret_grace_seconds)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = expires
    endpoint.secret = signing.new_secret()
    session.flush()
    return endpoint.secret, expires


def send_test(
    session: Session, scope: OrgScope, endpoint_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """Queue a `ping` to this endpoint alone; returns (delivery id, event id)."""
    endpoint = get_endpoint(session, scope, endpoint_id)
    event = Event(scope.org_id, PING, {"endpoint_id": endpoint.id, "org_id": scope.org_id})
    delivery_id = enqueue(
        session,
        channel=Channel.WEBHOOK,
        event_type=PING,
        payload=event.envelope(),
        org_id=scope.org_id,
        endpoint_id=endpoint.id,
        event_id=event.id,
    )
    return delivery_id, event.id


def list_attempts(
    session: Session, scope: OrgScope, endpoint_id: uuid.UUID, page: PageParams
) -> tuple[list[DeliveryAttemptOut], uuid.UUID | None]:
    """Attempts to reach the endpoint, newest first (`after` = an attempt id: older ones)."""
    get_endpoint(session, scope, endpoint_id)
    query = (
        select(WebhookAttempt, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == WebhookAttempt.delivery_id)
        .where(WebhookAttempt.endpoint_id == endpoint_id, scope.where(WebhookAttempt.org_id))
        .order_by(WebhookAttempt.id.desc())
        .limit(page.limit + 1)
    )
    if page.after is not None:
        query = query.where(WebhookAttempt.id < cursor_id(page.after))
    rows = session.execute(query).all()
    items = [
        DeliveryAttemptOut(
            id=a.id,
            delivery_id=m.id,
            event_id=m.event_id,
            event_type=m.event_type,
            attempt=a.attempt,
            status_code=a.status_code,
            duration_ms=a.duration_ms,
            error=a.error,
            response_body=a.response_body,
            created_at=a.created_at,
            delivery_status=m.status,
            next_attempt_at=m.run_after if m.status == "pending" else None,
        )
        for a, m in rows[: page.limit]
    ]
    cursor = items[-1].id if len(rows) > page.limit else None
    return items, cursor


def retry_delivery(
    session: Session, scope: OrgScope, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> None:
    """Send a delivery again now (dead ones included), with the same event id."""
    get_endpoint(session, scope, endpoint_id)
    if queue.replay(session.connection(), delivery_id, endpoint_id):
        return
    exists = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.id == delivery_id, OutboxMessage.endpoint_id == endpoint_id
        )
    )
    if exists is None:
        raise DeliveryNotFound("No delivery with that id for this endpoint.")
    raise DeliveryInFlight("That delivery is being attempted right now; try again shortly.")
