"""What a payment provider plugs into: verify a delivery, parse it, say what it changes.

A provider turns its own event shapes into the few provider-neutral changes below; the
inbox (`billing.inbox`) and the subscription rules (`billing.subscriptions`) never look at a
provider's JSON. Adding a provider is one module here plus one line in `registry.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from pressroom.errors import AppError


class InvalidSignature(AppError):
    status, code, title = 400, "invalid_signature", "Invalid webhook signature"


class MalformedEvent(AppError):
    status, code, title = 400, "malformed_event", "Malformed webhook event"


class WebhookNotConfigured(AppError):
    status, code, title = 503, "webhook_not_configured", "Webhook not configured"


class EventError(Exception):
    """A verified event that cannot be applied (yet): it is kept with this message."""


@dataclass(frozen=True, slots=True)
class InboundEvent:
    provider_event_id: str
    type: str
    created_at: datetime | None
    payload: dict[str, Any]
    # The verified delivery's bytes, when the event comes from one: stored as the payload
    # (PostgreSQL parses it into jsonb) instead of serializing `payload` again.
    raw: bytes | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """The provider's full view of one subscription as of `as_of` (the event's time)."""

    subscription_id: str
    customer_id: str | None
    org_id: uuid.UUID | None
    price_ids: tuple[str, ...]
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    as_of: datetime


@dataclass(frozen=True, slots=True)
class CheckoutLink:
    """A completed checkout: this org owns this provider customer and subscription."""

    org_id: uuid.UUID
    customer_id: str | None
    subscription_id: str


Change = SubscriptionSnapshot | CheckoutLink


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    """Where a provider's subscription-state events name their subscription: the events'
    type prefix and the path to the id in the payload. Declared rather than computed, so
    the inbox can also look a subscription's stored events up in SQL."""

    event_prefix: str
    id_path: tuple[str, ...]

    def of(self, event: InboundEvent) -> str | None:
        """The subscription `event` is about, if it is a subscription-state event."""
        if not event.type.startswith(self.event_prefix):
            return None
        value: Any = event.payload
        for key in self.id_path:
            value = value.get(key) if isinstance(value, dict) else None
        return value if isinstance(value, str) and value else None


class WebhookProvider(Protocol):
    name: str
    subscription_ref: SubscriptionRef

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise InvalidSignature (or WebhookNotConfigured) unless the delivery is authentic
        and recent."""

    def parse(self, body: bytes) -> InboundEvent:
        """Raise MalformedEvent unless the body is one well-formed event."""

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        """The changes the event asks for (none for types we only record).
        Raise EventError when the event cannot be applied."""


def from_unix(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(f"expected a Unix timestamp, got {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def from_iso(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"expected an RFC 3339 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventError(f"expected an RFC 3339 timestamp, got {value!r}") from None
    if parsed.tzinfo is None:
        raise EventError(f"timestamp {value!r} has no time zone")
    return parsed.astimezone(UTC)


def org_id_from(value: Any, where: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise EventError(f"{where} is not an organization id: {value!r}") from None


def ref_id(value: Any) -> str | None:
    """An id that the provider may send bare or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def split_secrets(raw: str | None) -> list[str]:
    return [s.strip() for s in (raw or "").split(",") if s.strip()]


def signature_header(
    headers: Mapping[str, str], name: str, secrets: Sequence[str], setting: str
) -> str:
    """The delivery's signature header, once we know we can check it."""
    if not secrets:
        raise WebhookNotConfigured(f"{setting} is not set")
    header = headers.get(name.lower())
    if not header:
        raise InvalidSignature(f"missing {name} header")
    return header


def json_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedEvent("body is not JSON") from None
