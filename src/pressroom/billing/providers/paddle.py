"""Paddle Billing: `Paddle-Signature: ts=...;h1=...` (HMAC-SHA256 of `ts:body`), and its
subscription entity mapped onto the same snapshot as Stripe's.

The org comes from `custom_data.org_id`, which our checkout passes to Paddle; Paddle has
no separate "checkout completed" link to wait for.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pressroom.billing.providers.base import (
    Change,
    EventError,
    InboundEvent,
    InvalidSignature,
    MalformedEvent,
    SubscriptionRef,
    SubscriptionSnapshot,
    from_iso,
    json_body,
    org_id_from,
    ref_id,
    signature_header,
)

SUBSCRIPTION_EVENT_PREFIX = "subscription."
PADDLE_STATUSES = frozenset({"active", "canceled", "past_due", "paused", "trialing"})


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `h1` value Paddle sends for `body` at `timestamp` (also used by tests and bench)."""
    message = str(timestamp).encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class PaddleProvider:
    name = "paddle"
    subscription_ref = SubscriptionRef(SUBSCRIPTION_EVENT_PREFIX, ("data", "id"))

    def __init__(self, secrets: Sequence[str], tolerance_seconds: int = 300) -> None:
        self._secrets = list(secrets)
        self._tolerance = tolerance_seconds

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        header = signature_header(
            headers, "Paddle-Signature", self._secrets, "PRESSROOM_PADDLE_WEBHOOK_SECRET"
        )
        stamp: str | None = None
        signatures: list[str] = []
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == "ts":
                stamp = value
            elif key == "h1":
                signatures.append(value)
        if stamp is None or not stamp.isdigit() or not signatures:
            raise InvalidSignature("Paddle-Signature must carry ts=...;h1=...")
        matched = False
        for secret in self._secrets:
            expected = sign(body, secret, int(stamp))
            # Every comparison runs, so timing says nothing about which one matched.
            for candidate in signatures:
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise InvalidSignature("Paddle-Signature rejected: no signature matches")
        if abs(time.time() - int(stamp)) > self._tolerance:
            raise InvalidSignature("Paddle-Signature timestamp is outside the tolerance zone")

    def parse(self, body: bytes) -> InboundEvent:
        data = json_body(body)
        if not isinstance(data, dict):
            raise MalformedEvent("body is not a Paddle event")
        event_id, kind = data.get("event_id"), data.get("event_type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedEvent("event_id: missing")
        if not isinstance(kind, str) or not kind:
            raise MalformedEvent("event_type: missing")
        if not isinstance(data.get("data"), dict):
            raise MalformedEvent("data: missing")
        try:
            occurred = from_iso(data.get("occurred_at"))
        except EventError as exc:
            raise MalformedEvent(f"occurred_at: {exc}") from None
        if occurred is None:
            raise MalformedEvent("occurred_at: missing")
        return InboundEvent(event_id, kind, occurred, data, raw=body)

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        if not event.type.startswith(SUBSCRIPTION_EVENT_PREFIX):
            return []
        if event.created_at is None:
            raise EventError("event has no occurred_at")
        return [_snapshot(event.payload["data"], event)]


def _snapshot(sub: dict[str, Any], event: InboundEvent) -> SubscriptionSnapshot:
    subscription_id = ref_id(sub)
    if subscription_id is None:
        raise EventError("subscription has no id")
    status = sub.get("status")
    if status not in PADDLE_STATUSES:
        raise EventError(f"unknown Paddle subscription status {status!r}")
    period = sub.get("current_billing_period") or {}
    scheduled = sub.get("scheduled_change") or {}
    custom = sub.get("custom_data") or {}
    assert event.created_at is not None
    return SubscriptionSnapshot(
        subscription_id=subscription_id,
        customer_id=ref_id(sub.get("customer_id")),
        org_id=org_id_from(custom.get("org_id"), "custom_data.org_id"),
        price_ids=tuple(
            price_id
            for item in sub.get("items") or []
            if isinstance(item, dict) and (price_id := ref_id(item.get("price")))
        ),
        status=status,
        current_period_start=from_iso(period.get("starts_at")),
        current_period_end=from_iso(period.get("ends_at")),
        cancel_at_period_end=scheduled.get("action") == "cancel",
        canceled_at=from_iso(sub.get("canceled_at")),
        as_of=event.created_at,
    )
