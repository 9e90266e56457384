"""Webhook endpoints: the list and create form, an endpoint's page (edit, rotate the secret,
send a test ping, delete) and its delivery log with a retry per delivery.

Every action is the API's own `webhooks.service` call behind the same permission
(`webhooks:manage`), so the URL rules, the endpoint limit and what a retry may do are
written once, there.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from pressroom.errors import AppError
from pressroom.orgs.permissions import Permission
from pressroom.pagination import MAX_CURSOR_LENGTH, PageParams
from pressroom.web.core import (
    Form,
    Org,
    WebDb,
    WebRoute,
    form_error,
    org_page,
    redirect,
    render,
    settings_of,
)
from pressroom.webhooks import service
from pressroom.webhooks.events import EVENT_TYPES
from pressroom.webhooks.models import WebhookEndpoint
from pressroom.webhooks.schemas import EndpointCreate, EndpointUpdate

router = APIRouter(route_class=WebRoute)

Manager = Annotated[Org, org_page(Permission.WEBHOOKS_MANAGE)]

# Attempts a page of the delivery log shows; older ones follow the service's cursor.
LOG_LIMIT = 25


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _event_types(form: dict[str, Any]) -> list[str]:
    """The checked boxes (none checked: the field is absent, i.e. every event)."""
    chosen = form.get("event_types", [])
    return [str(v) for v in ([chosen] if isinstance(chosen, str) else chosen)]


def _posted(form: dict[str, Any]) -> dict[str, Any]:
    """The endpoint fields of a form as the API's JSON body would carry them."""
    return {
        "url": _text(form, "url"),
        "event_types": _event_types(form),
        "description": _text(form, "description") or None,
    }


def _list_page(
    request: Request, org: Org, session: WebDb, status: int = 200, **context: Any
) -> Response:
    context.setdefault("values", {})
    endpoints = service.list_endpoints(session, org.scope)
    return render(
        request, "webhooks.html", status, endpoints=endpoints, event_types=EVENT_TYPES, **context
    )


def _values(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description or "",
        "enabled": endpoint.enabled,
    }


def _endpoint_context(
    org: Org, session: WebDb, endpoint_id: uuid.UUID, after: str | None = None
) -> dict[str, Any]:
    endpoint = service.get_endpoint(session, org.scope, endpoint_id)
    page = PageParams(limit=LOG_LIMIT, after=after[:MAX_CURSOR_LENGTH] if after else None)
    attempts, cursor = service.list_attempts(session, org.scope, endpoint_id, page)
    path = f"/orgs/{org.id}/webhooks/{endpoint_id}"
    return {
        "endpoint": endpoint,
        "attempts": attempts,
        "event_types": EVENT_TYPES,
        "more": f"{path}?after={cursor}" if cursor else None,  # a UUID: nothing to quote
        "newest": path if after else None,
    }


def _endpoint_page(
    request: Request,
    org: Org,
    session: WebDb,
    endpoint_id: uuid.UUID,
    after: str | None = None,
    **context: Any,
) -> Response:
    found = _endpoint_context(org, session, endpoint_id, after)
    context.setdefault("values", _values(found["endpoint"]))
    return render(request, "webhook.html", **found, **context)


def _failed(
    request: Request,
    org: Org,
    session: WebDb,
    endpoint_id: uuid.UUID,
    exc: AppError | ValidationError,
    values: dict[str, Any] | None = None,
) -> Response:
    """The endpoint page again with the problem next to its field (nothing was changed)."""
    context = _endpoint_context(org, session, endpoint_id)
    shown = values if values is not None else _values(context["endpoint"])
    return form_error(request, session, "webhook.html", exc, shown, **context)


@router.get("/orgs/{org_id}/webhooks")
def endpoints(request: Request, org: Manager, session: WebDb) -> Response:
    return _list_page(request, org, session)


@router.post("/orgs/{org_id}/webhooks")
def create(request: Request, org: Manager, session: WebDb, form: Form) -> Response:
    values = _posted(form)
    try:
        body = EndpointCreate.model_validate(values)
        endpoint = service.create_endpoint(session, org.access, settings_of(request), body)
    except (AppError, ValidationError) as exc:
        listed = service.list_endpoints(session, org.scope)
        return form_error(
            request,
            session,
            "webhooks.html",
            exc,
            {**values, "description": values["description"] or ""},
            endpoints=listed,
            event_types=EVENT_TYPES,
        )
    # The secret is on this one page only (not a redirect target), as the API shows it once.
    return _endpoint_page(request, org, session, endpoint.id, secret=endpoint.secret, created=True)


@router.get("/orgs/{org_id}/webhooks/{endpoint_id}")
def endpoint_page(
    request: Request,
    endpoint_id: uuid.UUID,
    org: Manager,
    session: WebDb,
    after: str | None = None,
    pinged: uuid.UUID | None = None,
) -> Response:
    return _endpoint_page(request, org, session, endpoint_id, after, pinged=pinged)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}")
def update(
    request: Request, endpoint_id: uuid.UUID, org: Manager, session: WebDb, form: Form
) -> Response:
    # Every field is on the form: an unticked box is "off", a blank description is none.
    values = {**_posted(form), "enabled": form.get("enabled") == "on"}
    try:
        body = EndpointUpdate.model_validate(values)
        service.update_endpoint(session, org.access, settings_of(request), endpoint_id, body)
    except (AppError, ValidationError) as exc:
        shown = {**values, "description": values["description"] or ""}
        return _failed(request, org, session, endpoint_id, exc, shown)
    return redirect(f"/orgs/{org.id}/webhooks/{endpoint_id}")


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/rotate-secret")
def rotate_secret(
    request: Request, endpoint_id: uuid.UUID, org: Manager, session: WebDb, form: Form
) -> Response:
    secret, _ = service.rotate_secret(session, org.scope, settings_of(request), endpoint_id)
    return _endpoint_page(request, org, session, endpoint_id, secret=secret, rotated=True)


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/test")
def send_test(endpoint_id: uuid.UUID, org: Manager, session: WebDb, form: Form) -> Response:
    _, event_id = service.send_test(session, org.scope, endpoint_id)
    return redirect(f"/orgs/{org.id}/webhooks/{endpoint_id}?pinged={event_id}")


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/delete")
def delete(endpoint_id: uuid.UUID, org: Manager, session: WebDb, form: Form) -> Response:
    service.delete_endpoint(session, org.scope, endpoint_id)
    return redirect(f"/orgs/{org.id}/webhooks")


@router.post("/orgs/{org_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry")
def retry_delivery(
    request: Request,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    org: Manager,
    session: WebDb,
    form: Form,
) -> Response:
    try:
        service.retry_delivery(session, org.scope, endpoint_id, delivery_id)
    except service.DeliveryInFlight as exc:
        return _failed(request, org, session, endpoint_id, exc)
    return redirect(f"/orgs/{org.id}/webhooks/{endpoint_id}")
