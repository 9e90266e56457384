"""HTTP surface of an org's webhook endpoints (thin: parse, authorize, call the service)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import Conflict, InvalidInput, error_responses
from pressroom.orgs.access import OrgAccess, require
from pressroom.orgs.permissions import Permission
from pressroom.orgs.routes import ORG_ERRORS
from pressroom.pagination import Page, Pagination
from pressroom.webhooks import service
from pressroom.webhooks.schemas import (
    DeliveryAttemptOut,
    DeliveryRetried,
    EndpointCreate,
    EndpointCreated,
    EndpointOut,
    EndpointUpdate,
    SecretRotated,
    TestSent,
)

router = APIRouter(prefix="/orgs/{org_id}/webhook-endpoints", tags=["webhooks"])

Manager = Annotated[OrgAccess, require(Permission.WEBHOOKS_MANAGE)]
ERRORS = {**ORG_ERRORS, **error_responses(InvalidInput, Conflict)}


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def create_endpoint(
    body: EndpointCreate, access: Manager, session: DbSession, settings: AppSettings
) -> EndpointCreated:
    """Add an endpoint. Its signing `secret` is in this response only."""
    endpoint = service.create_endpoint(session, access, settings, body)
    return EndpointCreated(
        **EndpointOut.model_validate(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("", responses=ORG_ERRORS)
def list_endpoints(access: Manager, session: DbSession) -> list[EndpointOut]:
    return [EndpointOut.model_validate(e) for e in service.list_endpoints(session, access.scope)]


@router.get("/{endpoint_id}", responses=ORG_ERRORS)
def get_endpoint(endpoint_id: uuid.UUID, access: Manager, session: DbSession) -> EndpointOut:
    return EndpointOut.model_validate(service.get_endpoint(session, access.scope, endpoint_id))


@router.patch("/{endpoint_id}", responses=ERRORS)
def update_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
    access: Manager,
    session: DbSession,
    settings: AppSettings,
) -> EndpointOut:
    """Change the URL, event types, description; `enabled: true` re-enables a disabled one."""
    endpoint = service.update_endpoint(session, access, settings, endpoint_id, body)
    return EndpointOut.model_validate(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ORG_ERRORS)
def delete_endpoint(endpoint_id: uuid.UUID, access: Manager, session: DbSession) -> Response:
    """Delete it; its pending deliveries are dropped."""
    service.delete_endpoint(session, access.scope, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{endpoint_id}/rotate-secret", responses=ORG_ERRORS)
def rotate_secret(
    endpoint_id: uuid.UUID, access: Manager, session: DbSession, settings: AppSettings
) -> SecretRotated:
    """A new signing secret (shown once); the old one also signs until the grace ends."""
    secret, expires = service.rotate_secret(session, access.scope, settings, endpoint_id)
    return SecretRotated(secret=secret, previous_secret_expires_at=expires)


@router.post("/{endpoint_id}/test", status_code=status.HTTP_202_ACCEPTED, responses=ORG_ERRORS)
def send_test(endpoint_id: uuid.UUID, access: Manager, session: DbSession) -> TestSent:
    """Queue a `ping` event to this endpoint; see its attempt under .../deliveries."""
    delivery_id, event_id = service.send_test(session, access.scope, endpoint_id)
    return TestSent(delivery_id=delivery_id, event_id=event_id)


@router.get("/{endpoint_id}/deliveries", responses=ORG_ERRORS)
def list_deliveries(
    endpoint_id: uuid.UUID, access: Manager, session: DbSession, page: Pagination
) -> Page[DeliveryAttemptOut]:
    """Attempts to reach this endpoint, newest first."""
    items, cursor = service.list_attempts(session, access.scope, endpoint_id, page)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERRORS,
)
def retry_delivery(
    endpoint_id: uuid.UUID, delivery_id: uuid.UUID, access: Manager, session: DbSession
) -> DeliveryRetried:
    """Send a delivery again now (a dead one too), with the same event id."""
    service.retry_delivery(session, access.scope, endpoint_id, delivery_id)
    return DeliveryRetried(delivery_id=delivery_id, status="pending")
